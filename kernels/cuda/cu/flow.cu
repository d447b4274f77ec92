// Optical-flow estimation and the warp plan: the GPU twins of
// kino_kernels::interpolate's `FlowPair::estimate` and `FlowPair::warp_plan`,
// f32 operation for f32 operation (NVRTC runs with --fmad=false), so the
// fields, the scene-cut evidence and the taps agree with the CPU's bit for
// bit. The host runs the steps in the order `kernels::flow_steps` gives.
//
// Planes are single-channel f32, row-major and tight. A flow grid is
// `cols × rows` cells of `block` level pixels, each an interleaved (dx, dy).

#define KINO_FLOW_PATCH 8
#define KINO_CUT_BINS 32
#define KINO_WARP_BLOCK 8
#define KINO_FIX_BITS 14
#define KINO_INFINITY __int_as_float(0x7f800000)

struct KinoPlane {
    const float* d;
    int w, h;
};

struct KinoGrid {
    const float* v;
    int cols, rows, block;
};

// Rust's `f32::clamp`: a NaN passes through.
__device__ __forceinline__ float kino_clampf(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

// Rust's saturating `as i32` / `as u32` of an f32: NaN is 0.
__device__ __forceinline__ int kino_to_int(float v)
{
    if (!(v == v)) return 0;
    if (v >= 2147483647.0f) return 2147483647;
    if (v <= -2147483648.0f) return -2147483647 - 1;
    return (int)v;
}

__device__ __forceinline__ unsigned int kino_to_uint(float v)
{
    if (!(v > 0.0f)) return 0;
    if (v >= 4294967295.0f) return 4294967295u;
    return (unsigned int)v;
}

__device__ __forceinline__ float kino_plane_at(KinoPlane p, int x, int y)
{
    x = x < 0 ? 0 : (x > p.w - 1 ? p.w - 1 : x);
    y = y < 0 ? 0 : (y > p.h - 1 ? p.h - 1 : y);
    return p.d[(size_t)y * p.w + x];
}

// `Plane::sample`: bilinear, clamped to the plane.
__device__ float kino_plane_sample(KinoPlane p, float x, float y)
{
    x = kino_clampf(x, 0.0f, (float)(p.w - 1));
    y = kino_clampf(y, 0.0f, (float)(p.h - 1));
    int x0 = kino_to_int(x), y0 = kino_to_int(y);
    int x1 = x0 + 1 < p.w - 1 ? x0 + 1 : p.w - 1;
    int y1 = y0 + 1 < p.h - 1 ? y0 + 1 : p.h - 1;
    float fx = x - (float)x0, fy = y - (float)y0;
    const float* r0 = p.d + (size_t)y0 * p.w;
    const float* r1 = p.d + (size_t)y1 * p.w;
    float top = r0[x0] + (r0[x1] - r0[x0]) * fx;
    float bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
    return top + (bottom - top) * fy;
}

// `FlowGrid::centre`.
__device__ __forceinline__ float kino_grid_centre(int block, int g)
{
    return (float)(g * block) + ((float)block - 1.0f) * 0.5f;
}

// `FlowGrid::sample`: the field at level pixel (x, y), bilinear.
__device__ void kino_grid_sample(KinoGrid g, float x, float y, float out[2])
{
    float inv = 1.0f / (float)g.block;
    float half = ((float)g.block - 1.0f) * 0.5f;
    float u = kino_clampf((x - half) * inv, 0.0f, (float)(g.cols - 1));
    float v = kino_clampf((y - half) * inv, 0.0f, (float)(g.rows - 1));
    int u0 = kino_to_int(u), v0 = kino_to_int(v);
    int u1 = u0 + 1 < g.cols - 1 ? u0 + 1 : g.cols - 1;
    int v1 = v0 + 1 < g.rows - 1 ? v0 + 1 : g.rows - 1;
    float fu = u - (float)u0, fv = v - (float)v0;
    const float* a = g.v + 2 * ((size_t)v0 * g.cols + u0);
    const float* b = g.v + 2 * ((size_t)v0 * g.cols + u1);
    const float* c = g.v + 2 * ((size_t)v1 * g.cols + u0);
    const float* d = g.v + 2 * ((size_t)v1 * g.cols + u1);
    for (int k = 0; k < 2; ++k) {
        float top = a[k] + (b[k] - a[k]) * fu;
        float bottom = c[k] + (d[k] - c[k]) * fu;
        out[k] = top + (bottom - top) * fv;
    }
}

// `FlowGrid::sample_full`: a base-level field read at a full-resolution
// pixel, in full-resolution pixels.
__device__ void kino_grid_sample_full(KinoGrid g, float x, float y, float out[2])
{
    kino_grid_sample(g, (x + 0.5f) * 0.5f - 0.5f, (y + 0.5f) * 0.5f - 0.5f, out);
    out[0] = out[0] * 2.0f;
    out[1] = out[1] * 2.0f;
}

// `Plane::half_luma`: one thread per pixel of the half-resolution plane.
extern "C" __global__ void kino_half_luma(const unsigned char* __restrict__ rgb, unsigned int width,
                                          unsigned int height, float* __restrict__ out, unsigned int out_width,
                                          unsigned int out_height)
{
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_width || y >= out_height) {
        return;
    }
    unsigned int sx[2] = {2 * x, 2 * x + 1 < width - 1 ? 2 * x + 1 : width - 1};
    unsigned int sy[2] = {2 * y, 2 * y + 1 < height - 1 ? 2 * y + 1 : height - 1};
    float acc = 0.0f;
    for (int k = 0; k < 4; ++k) {
        const unsigned char* p = rgb + 3 * ((size_t)sy[k / 2] * width + sx[k % 2]);
        acc += 0.299f * (float)p[0] + 0.587f * (float)p[1] + 0.114f * (float)p[2];
    }
    out[(size_t)y * out_width + x] = acc * 0.25f;
}

// `Plane::down`: the 2×2 average, one thread per output pixel.
extern "C" __global__ void kino_down(const float* __restrict__ in, unsigned int width, unsigned int height,
                                     float* __restrict__ out, unsigned int out_width, unsigned int out_height)
{
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_width || y >= out_height) {
        return;
    }
    size_t x0 = 2 * x, x1 = 2 * x + 1 < width - 1 ? 2 * x + 1 : width - 1;
    size_t r0 = (size_t)(2 * y) * width;
    size_t r1 = (size_t)(2 * y + 1 < height - 1 ? 2 * y + 1 : height - 1) * width;
    out[(size_t)y * out_width + x] = 0.25f * (in[r0 + x0] + in[r0 + x1] + in[r1 + x0] + in[r1 + x1]);
}

// A cell's prediction from the coarser level's (median-filtered) field.
__device__ void kino_predict(const float* coarse, int coarse_cols, int coarse_rows, int block, int gx, int gy,
                             float out[2])
{
    if (coarse == 0) {
        out[0] = 0.0f;
        out[1] = 0.0f;
        return;
    }
    KinoGrid c = {coarse, coarse_cols, coarse_rows, block};
    float x = kino_grid_centre(block, gx), y = kino_grid_centre(block, gy);
    kino_grid_sample(c, (x + 0.5f) * 0.5f - 0.5f, (y + 0.5f) * 0.5f - 0.5f, out);
    out[0] = out[0] * 2.0f;
    out[1] = out[1] * 2.0f;
}

// The sum of absolute differences of the source patch `s` and `dst`'s patch
// at (x0 + ox, y0 + oy), given up on once a row brings it to `limit`.
__device__ float kino_sad(const float* s, KinoPlane dst, int x0, int y0, int ox, int oy, float limit)
{
    float cost = 0.0f;
    for (int j = 0; j < KINO_FLOW_PATCH; ++j) {
        for (int i = 0; i < KINO_FLOW_PATCH; ++i) {
            float p = kino_plane_at(dst, x0 + ox + i, y0 + oy + j);
            cost += fabsf(p - s[j * KINO_FLOW_PATCH + i]);
        }
        if (cost >= limit) {
            return cost;
        }
    }
    return cost;
}

// `patch_flow`: the best vector for the patch at (x0, y0) of `src` in `dst`.
__device__ void kino_patch_flow(KinoPlane src, KinoPlane dst, int x0, int y0, const float (*cands)[2], int count,
                                int radius, int iterations, float out[2])
{
    const int P = KINO_FLOW_PATCH, N = KINO_FLOW_PATCH * KINO_FLOW_PATCH;
    float s[N], gx[N], gy[N];
    for (int j = 0; j < P; ++j) {
        for (int i = 0; i < P; ++i) {
            int x = x0 + i, y = y0 + j, k = j * P + i;
            s[k] = kino_plane_at(src, x, y);
            gx[k] = 0.5f * (kino_plane_at(src, x + 1, y) - kino_plane_at(src, x - 1, y));
            gy[k] = 0.5f * (kino_plane_at(src, x, y + 1) - kino_plane_at(src, x, y - 1));
        }
    }
    // Candidates, compared at integer precision.
    float best[2] = {cands[0][0], cands[0][1]};
    int bix = kino_to_int(roundf(best[0])), biy = kino_to_int(roundf(best[1]));
    float best_cost = kino_sad(s, dst, x0, y0, bix, biy, KINO_INFINITY);
    for (int c = 1; c < count; ++c) {
        int cx = kino_to_int(roundf(cands[c][0])), cy = kino_to_int(roundf(cands[c][1]));
        if (cx == bix && cy == biy) {
            continue;
        }
        float cost = kino_sad(s, dst, x0, y0, cx, cy, best_cost);
        if (cost < best_cost) {
            best_cost = cost;
            best[0] = cands[c][0];
            best[1] = cands[c][1];
            bix = cx;
            biy = cy;
        }
    }
    // Integer search around the best candidate.
    int ccx = bix, ccy = biy;
    for (int oy = -radius; oy <= radius; ++oy) {
        for (int ox = -radius; ox <= radius; ++ox) {
            if (ox == 0 && oy == 0) {
                continue;
            }
            float cost = kino_sad(s, dst, x0, y0, ccx + ox, ccy + oy, best_cost);
            if (cost < best_cost) {
                best_cost = cost;
                best[0] = (float)(ccx + ox);
                best[1] = (float)(ccy + oy);
            }
        }
    }
    out[0] = best[0];
    out[1] = best[1];
    if (iterations == 0) {
        return;
    }
    // Inverse-compositional Lucas-Kanade from the best start.
    float hxx = 0.0f, hxy = 0.0f, hyy = 0.0f;
    for (int k = 0; k < N; ++k) {
        hxx += gx[k] * gx[k];
        hxy += gx[k] * gy[k];
        hyy += gy[k] * gy[k];
    }
    float reg = (float)N * 0.5f;
    hxx += reg;
    hyy += reg;
    float det = hxx * hyy - hxy * hxy;
    if (det <= 1.1920929e-7f) {  // f32::EPSILON
        return;
    }
    float inv_det = 1.0f / det;
    float v[2] = {best[0], best[1]};
    float best_ssd = KINO_INFINITY;
    for (int it = 0; it <= iterations; ++it) {
        float bx = 0.0f, by = 0.0f, ssd = 0.0f;
        float fx = floorf(v[0]), fy = floorf(v[1]);
        int ox = kino_to_int(fx), oy = kino_to_int(fy);
        if (x0 + ox >= 0 && y0 + oy >= 0 && x0 + ox + P < dst.w && y0 + oy + P < dst.h) {
            // One set of bilinear weights for the whole patch, as the CPU's
            // unclamped path computes it.
            float ax = v[0] - fx, ay = v[1] - fy;
            float w00 = (1.0f - ax) * (1.0f - ay);
            float w01 = ax * (1.0f - ay);
            float w10 = (1.0f - ax) * ay;
            float w11 = ax * ay;
            for (int j = 0; j < P; ++j) {
                const float* r0 = dst.d + (size_t)(y0 + oy + j) * dst.w + (x0 + ox);
                const float* r1 = r0 + dst.w;
                for (int i = 0; i < P; ++i) {
                    int k = j * P + i;
                    float q = w00 * r0[i] + w01 * r0[i + 1] + w10 * r1[i] + w11 * r1[i + 1];
                    float r = q - s[k];
                    ssd += r * r;
                    bx += gx[k] * r;
                    by += gy[k] * r;
                }
            }
        } else {
            for (int j = 0; j < P; ++j) {
                float y = (float)(y0 + j) + v[1];
                for (int i = 0; i < P; ++i) {
                    float x = (float)(x0 + i) + v[0];
                    int k = j * P + i;
                    float r = kino_plane_sample(dst, x, y) - s[k];
                    ssd += r * r;
                    bx += gx[k] * r;
                    by += gy[k] * r;
                }
            }
        }
        if (ssd < best_ssd) {
            best_ssd = ssd;
            out[0] = v[0];
            out[1] = v[1];
        } else {
            break;
        }
        if (it == iterations) {
            break;
        }
        float dx = kino_clampf((hyy * bx - hxy * by) * inv_det, -2.0f, 2.0f);
        float dy = kino_clampf((hxx * by - hxy * bx) * inv_det, -2.0f, 2.0f);
        v[0] = v[0] - dx;
        v[1] = v[1] - dy;
        if (fabsf(dx) + fabsf(dy) < 0.01f) {
            break;
        }
    }
}

// One level of `estimate_flow`: one thread per cell of the `cols × rows`
// grid over `src`, its candidates being its own and its four neighbours'
// predictions from `coarse` (a null pointer at the coarsest level), and zero.
extern "C" __global__ void kino_flow_cells(const float* __restrict__ src, const float* __restrict__ dst,
                                           unsigned int width, unsigned int height,
                                           const float* __restrict__ coarse, unsigned int coarse_cols,
                                           unsigned int coarse_rows, unsigned int block, unsigned int cols,
                                           unsigned int rows, unsigned int radius, unsigned int iterations,
                                           float* __restrict__ out)
{
    unsigned int gx = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int gy = blockIdx.y * blockDim.y + threadIdx.y;
    if (gx >= cols || gy >= rows) {
        return;
    }
    int b = (int)block, cc = (int)coarse_cols, cr = (int)coarse_rows;
    float cands[6][2];
    int n = 0;
    kino_predict(coarse, cc, cr, b, gx, gy, cands[n++]);
    if (gx > 0) kino_predict(coarse, cc, cr, b, gx - 1, gy, cands[n++]);
    if (gx + 1 < cols) kino_predict(coarse, cc, cr, b, gx + 1, gy, cands[n++]);
    if (gy > 0) kino_predict(coarse, cc, cr, b, gx, gy - 1, cands[n++]);
    if (gy + 1 < rows) kino_predict(coarse, cc, cr, b, gx, gy + 1, cands[n++]);
    cands[n][0] = 0.0f;
    cands[n][1] = 0.0f;
    ++n;
    int half = b / 2 - KINO_FLOW_PATCH / 2;
    KinoPlane s = {src, (int)width, (int)height}, d = {dst, (int)width, (int)height};
    float* o = out + 2 * ((size_t)gy * cols + gx);
    kino_patch_flow(s, d, (int)gx * b + half, (int)gy * b + half, cands, n, (int)radius, (int)iterations, o);
}

// `f32::total_cmp`'s order as a signed integer key.
__device__ __forceinline__ int kino_total_order(float v)
{
    int bits = __float_as_int(v);
    return bits ^ (int)((unsigned int)(bits >> 31) >> 1);
}

// `FlowGrid::median3`: each component's median over the 3×3 neighbourhood
// (clamped at the edges), one thread per cell.
extern "C" __global__ void kino_median3(const float* __restrict__ in, unsigned int cols, unsigned int rows,
                                        float* __restrict__ out)
{
    unsigned int gx = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int gy = blockIdx.y * blockDim.y + threadIdx.y;
    if (gx >= cols || gy >= rows) {
        return;
    }
    for (int k = 0; k < 2; ++k) {
        float vals[9];
        int n = 0;
        for (int dy = -1; dy <= 1; ++dy) {
            for (int dx = -1; dx <= 1; ++dx) {
                int x = (int)gx + dx, y = (int)gy + dy;
                x = x < 0 ? 0 : (x > (int)cols - 1 ? (int)cols - 1 : x);
                y = y < 0 ? 0 : (y > (int)rows - 1 ? (int)rows - 1 : y);
                vals[n++] = in[2 * ((size_t)y * cols + x) + k];
            }
        }
        // Insertion sort: nine values.
        for (int i = 1; i < 9; ++i) {
            float v = vals[i];
            int key = kino_total_order(v), j = i;
            while (j > 0 && kino_total_order(vals[j - 1]) > key) {
                vals[j] = vals[j - 1];
                --j;
            }
            vals[j] = v;
        }
        out[2 * ((size_t)gy * cols + gx) + k] = vals[4];
    }
}

// The scene-cut test's luma histogram of a plane: one thread per pixel.
extern "C" __global__ void kino_luma_histogram(const float* __restrict__ plane, unsigned int pixels,
                                               unsigned int* __restrict__ bins)
{
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= pixels) {
        return;
    }
    unsigned int bin = kino_to_uint(plane[i] * (float)KINO_CUT_BINS / 256.0f);
    atomicAdd(&bins[bin < KINO_CUT_BINS - 1 ? bin : KINO_CUT_BINS - 1], 1u);
}

// The scene-cut test's motion-compensated residual: one thread per sampled
// row (every other row, every other pixel), summing |p1(p + flow) - p0(p)|.
extern "C" __global__ void kino_residual_rows(const float* __restrict__ p0, const float* __restrict__ p1,
                                              unsigned int width, unsigned int height,
                                              const float* __restrict__ flow, unsigned int cols,
                                              unsigned int rows, unsigned int block,
                                              double* __restrict__ sums)
{
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = 2 * i;
    if (y >= height) {
        return;
    }
    KinoGrid g = {flow, (int)cols, (int)rows, (int)block};
    KinoPlane b = {p1, (int)width, (int)height};
    double s = 0.0;
    for (unsigned int x = 0; x < width; x += 2) {
        float f[2];
        kino_grid_sample(g, (float)x, (float)y, f);
        float q = kino_plane_sample(b, (float)x + f[0], (float)y + f[1]);
        s += (double)fabsf(q - p0[(size_t)y * width + x]);
    }
    sums[i] = s;
}

// `WarpTap::float`.
__device__ void kino_tap_float(const float d[2], float weight, int* ix, int* iy, float w[4])
{
    float fx = floorf(d[0]), fy = floorf(d[1]);
    float ax = d[0] - fx, ay = d[1] - fy;
    *ix = kino_to_int(fx);
    *iy = kino_to_int(fy);
    w[0] = (1.0f - ax) * (1.0f - ay) * weight;
    w[1] = ax * (1.0f - ay) * weight;
    w[2] = (1.0f - ax) * ay * weight;
    w[3] = ax * ay * weight;
}

// `FlowPair::warp_plan`: one thread per 8×8 block of the `width × height`
// frame, writing its tap into A then its tap into B as `kino_warp_rgb8`
// reads them (`ix, iy, w0..w3`, 32-bit words). `s`, `t` and the `c`s are
// `WarpTime`'s, worked out by the host.
extern "C" __global__ void kino_warp_taps(const float* __restrict__ ab, const float* __restrict__ ba,
                                          unsigned int cols, unsigned int rows, unsigned int block,
                                          unsigned int width, unsigned int height, float t, float s, float c0a,
                                          float c0b, float c1a, float c1b, float inv_sigma2,
                                          unsigned int* __restrict__ taps)
{
    unsigned int qx = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int qy = blockIdx.y * blockDim.y + threadIdx.y;
    unsigned int blocks_x = (width + KINO_WARP_BLOCK - 1) / KINO_WARP_BLOCK;
    unsigned int blocks_y = (height + KINO_WARP_BLOCK - 1) / KINO_WARP_BLOCK;
    if (qx >= blocks_x || qy >= blocks_y) {
        return;
    }
    KinoGrid gab = {ab, (int)cols, (int)rows, (int)block};
    KinoGrid gba = {ba, (int)cols, (int)rows, (int)block};
    float centre = ((float)KINO_WARP_BLOCK - 1.0f) * 0.5f;
    float yc = (float)(KINO_WARP_BLOCK * qy) + centre;
    float xc = (float)(KINO_WARP_BLOCK * qx) + centre;
    float fab[2], fba[2];
    kino_grid_sample_full(gab, xc, yc, fab);
    kino_grid_sample_full(gba, xc, yc, fba);
    float d0[2] = {c0a * fab[0] + c0b * fba[0], c0a * fab[1] + c0b * fba[1]};
    float d1[2] = {c1a * fab[0] + c1b * fba[0], c1a * fab[1] + c1b * fba[1]};
    float pax = xc + d0[0], pay = yc + d0[1];
    float pbx = xc + d1[0], pby = yc + d1[1];
    float fa[2], fb[2];
    kino_grid_sample_full(gab, pax, pay, fa);
    kino_grid_sample_full(gba, pbx, pby, fb);
    float eax = pax + fa[0] - pbx, eay = pay + fa[1] - pby;
    float ebx = pbx + fb[0] - pax, eby = pby + fb[1] - pay;
    float ea = eax * eax + eay * eay;
    float eb = ebx * ebx + eby * eby;
    float wa = s / (1.0f + ea * inv_sigma2) + 1e-6f;
    float wb = t / (1.0f + eb * inv_sigma2) + 1e-6f;
    float norm = 1.0f / (wa + wb);
    // `WarpTap::pair`: eight weights in fixed point summing to one.
    int ix[2], iy[2];
    float f[8];
    kino_tap_float(d0, wa * norm, &ix[0], &iy[0], f);
    kino_tap_float(d1, wb * norm, &ix[1], &iy[1], f + 4);
    const float one = (float)(1u << KINO_FIX_BITS);
    unsigned int w[8], sum = 0;
    for (int k = 0; k < 8; ++k) {
        w[k] = kino_to_uint(fmaxf(f[k] * one + 0.5f, 0.0f));
        sum += w[k];
    }
    int big = 0;
    for (int k = 1; k < 8; ++k) {
        if (w[k] > w[big]) big = k;
    }
    unsigned int raised = w[big] + (1u << KINO_FIX_BITS);
    w[big] = raised > sum ? raised - sum : 0;
    unsigned int* o = taps + 12 * ((size_t)qy * blocks_x + qx);
    for (int side = 0; side < 2; ++side) {
        o[6 * side + 0] = (unsigned int)ix[side];
        o[6 * side + 1] = (unsigned int)iy[side];
        for (int k = 0; k < 4; ++k) {
            o[6 * side + 2 + k] = w[4 * side + k];
        }
    }
}
