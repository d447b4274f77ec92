// The scene renderer's two sampling kernels: a camera move over a still and
// the alpha composite of an image (a plate's product, a logo) onto a frame.
// GPU twins of kino_kernels::scene's `ken_burns_into` and `overlay`, integer
// for integer: the host works out the positions (`camera_plan`,
// `overlay_plan`) and these do what the CPU does with them.
//
// Images are premultiplied RGBA, one little-endian 32-bit word a pixel
// (R | G << 8 | B << 16 | A << 24); frames packed RGB24.

// `a` toward `b` by `f / 256`, per 8-bit channel, two channels at a time
// (each 16-bit lane holds at most 255 * 256 + 128: no carry between lanes).
__device__ __forceinline__ unsigned int kino_lerp2(unsigned int a, unsigned int b, unsigned int f)
{
    const unsigned int mask = 0x00FF00FFu, round = 0x00800080u;
    unsigned int rb = ((((a & mask) * (256 - f) + (b & mask) * f + round) >> 8) & mask);
    unsigned int ga = (((((a >> 8) & mask) * (256 - f) + ((b >> 8) & mask) * f + round) >> 8) & mask);
    return rb | (ga << 8);
}

__device__ __forceinline__ int kino_clamp(int v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

// One thread per output pixel. Row y's first pixel samples the level at
// rows[y] (16.16); pixel x at rows[y] + x * (du, dv), clamped to the level.
// `rows_first`: blend the two source rows, then across (the CPU's path for
// a window that is not rotated); else across, then down.
extern "C" __global__ void kino_camera_rgb8(
    const unsigned int* __restrict__ level, unsigned int level_width, unsigned int level_height,
    const int* __restrict__ rows,  // [height][2]: u, v
    int du, int dv, unsigned int rows_first,
    unsigned char* __restrict__ out, unsigned int width, unsigned int height)
{
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) {
        return;
    }
    int w = (int)level_width, h = (int)level_height;
    // Wrapping 32-bit steps, as the CPU's running sums.
    int uf = (int)((unsigned int)rows[2 * y] + x * (unsigned int)du);
    int vf = (int)((unsigned int)rows[2 * y + 1] + x * (unsigned int)dv);
    int cu = kino_clamp(uf, 0, (w - 1) << 16);
    int cv = kino_clamp(vf, 0, (h - 1) << 16);
    int ix = cu >> 16, iy = cv >> 16;
    unsigned int fx = (cu >> 8) & 0xFF, fy = (cv >> 8) & 0xFF;
    int x1 = ix + 1 < w ? ix + 1 : w - 1;
    int y1 = iy + 1 < h ? iy + 1 : h - 1;
    const unsigned int* r0 = level + (size_t)iy * level_width;
    const unsigned int* r1 = level + (size_t)y1 * level_width;
    unsigned int p;
    if (rows_first) {
        p = kino_lerp2(kino_lerp2(r0[ix], r1[ix], fy), kino_lerp2(r0[x1], r1[x1], fy), fx);
    } else {
        p = kino_lerp2(kino_lerp2(r0[ix], r0[x1], fx), kino_lerp2(r1[ix], r1[x1], fx), fy);
    }
    unsigned char* px = out + 3 * ((size_t)y * width + x);
    px[0] = (unsigned char)p;
    px[1] = (unsigned char)(p >> 8);
    px[2] = (unsigned char)(p >> 16);
}

// Level pixel (x, y), transparent outside the level.
__device__ __forceinline__ unsigned int kino_tap(
    const unsigned int* level, long long w, long long h, long long x, long long y)
{
    return x >= 0 && y >= 0 && x < w && y < h ? level[y * w + x] : 0u;
}

// One thread per frame pixel of the region [x0, x1) × [y0, y1): the image
// (top-left at (ox, oy) on the frame, `step` level pixels per frame pixel)
// sampled bilinearly and composited over the frame at `opacity` / 256.
// `region` points at pixel (x0, y0), rows `stride` pixels apart: the whole
// frame, or only the region's pixels (positions stay in frame coordinates,
// so the arithmetic is the CPU's either way).
extern "C" __global__ void kino_overlay_rgb8(
    unsigned char* __restrict__ region, unsigned int stride,
    const unsigned int* __restrict__ level, unsigned int level_width, unsigned int level_height,
    float ox, float oy, float step, unsigned int opacity,
    unsigned int x0, unsigned int y0, unsigned int x1, unsigned int y1)
{
    unsigned int fx = x0 + blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int fy = y0 + blockIdx.y * blockDim.y + threadIdx.y;
    if (fx >= x1 || fy >= y1) {
        return;
    }
    float v = ((float)fy + 0.5f - oy) * step - 0.5f;
    float u = ((float)fx + 0.5f - ox) * step - 0.5f;
    // Round half away from zero, as Rust's `round`.
    long long vf = (long long)roundf(v * 65536.0f);
    long long uf = (long long)roundf(u * 65536.0f);
    long long ix = uf >> 16, iy = vf >> 16;
    unsigned int fx8 = (unsigned int)((uf >> 8) & 0xFF), fy8 = (unsigned int)((vf >> 8) & 0xFF);
    long long w = level_width, h = level_height;
    unsigned int p = kino_lerp2(
        kino_lerp2(kino_tap(level, w, h, ix, iy), kino_tap(level, w, h, ix + 1, iy), fx8),
        kino_lerp2(kino_tap(level, w, h, ix, iy + 1), kino_tap(level, w, h, ix + 1, iy + 1), fx8),
        fy8);
    if (p == 0) {
        return;
    }
    unsigned int a = (p >> 24) * opacity;
    unsigned char* px = region + 3 * ((size_t)(fy - y0) * stride + (fx - x0));
    for (int c = 0; c < 3; ++c) {
        unsigned int s = ((p >> (8 * c)) & 0xFF) * opacity;
        // d * (1 - a) + s, in 1/(255 * 256) units.
        unsigned int out = (unsigned int)px[c] * (255 * 256 - a) / 255 + s;
        out = (out + 128) >> 8;
        px[c] = (unsigned char)(out < 255 ? out : 255);
    }
}

// One thread per pixel: a packed RGB24 picture (a decoded frame) as the
// level an opaque image is, alpha 255, as kino_kernels::scene's
// `Image::from_frame`.
extern "C" __global__ void kino_level_from_rgb8(
    const unsigned char* __restrict__ rgb, unsigned int width, unsigned int height,
    unsigned int* __restrict__ level)
{
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) {
        return;
    }
    size_t i = (size_t)y * width + x;
    const unsigned char* p = rgb + 3 * i;
    level[i] = (unsigned int)p[0] | (unsigned int)p[1] << 8 | (unsigned int)p[2] << 16 | 0xFF000000u;
}

// One thread per pixel of the next mip level (`width × height`, the source
// halved rounding up): the rounded mean of a 2×2 block per channel, the
// source's last row or column repeated where its size is odd, as
// kino_kernels::scene's `Level::half`.
extern "C" __global__ void kino_half_level(
    const unsigned int* __restrict__ src, unsigned int src_width, unsigned int src_height,
    unsigned int* __restrict__ dst, unsigned int width, unsigned int height)
{
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) {
        return;
    }
    unsigned int last_x = src_width - 1, last_y = src_height - 1;
    unsigned int x0 = 2 * x < last_x ? 2 * x : last_x, x1 = 2 * x + 1 < last_x ? 2 * x + 1 : last_x;
    unsigned int y0 = 2 * y < last_y ? 2 * y : last_y, y1 = 2 * y + 1 < last_y ? 2 * y + 1 : last_y;
    const unsigned int* r0 = src + (size_t)y0 * src_width;
    const unsigned int* r1 = src + (size_t)y1 * src_width;
    unsigned int taps[4] = {r0[x0], r0[x1], r1[x0], r1[x1]};
    unsigned int v = 0;
    for (int c = 0; c < 4; ++c) {
        unsigned int sum = 0;
        for (int k = 0; k < 4; ++k) {
            sum += (taps[k] >> (8 * c)) & 0xFF;
        }
        v |= ((sum + 2) / 4) << (8 * c);
    }
    dst[(size_t)y * width + x] = v;
}
