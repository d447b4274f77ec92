// 3D LUT on packed RGB24, tetrahedral: the GPU twin of the scalar 8-bit
// kernel in kino_kernels::lut, arithmetic for arithmetic, so that the two
// agree bit for bit when compiled without fused multiply-add (--fmad=false).
//
// The host folds the LUT's DOMAIN and shaper into per-channel tables of the
// 256 input levels (`CubeLut::rgb8_plan`): where each level lands in the
// lattice, as the cell's offset along that channel (in points) and the
// fraction within the cell. One thread per pixel.

extern "C" __global__ void kino_lut_rgb8(
    unsigned char* __restrict__ frame,
    unsigned int pixels,
    const unsigned int* __restrict__ offsets,  // [3][256]: red, green, blue
    const float* __restrict__ fracs,           // [3][256]
    const float4* __restrict__ lattice,        // size³ points, red fastest
    unsigned int size)
{
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= pixels) {
        return;
    }
    unsigned char* px = frame + 3 * (size_t)i;
    unsigned int r = px[0], g = px[1], b = px[2];
    unsigned int sr = 1, sg = size, sb = size * size;
    unsigned int base = offsets[r] + offsets[256 + g] + offsets[512 + b];
    float fr = fracs[r], fg = fracs[256 + g], fb = fracs[512 + b];

    // Sort the fractions a >= b >= c, keeping the strides of the axes of
    // the largest (s_a) and smallest (s_c): the tetrahedron's corners are the
    // origin, one step along a's axis, every step but c's, and the far corner.
    bool r_first = fr >= fg;
    float hi_rg = r_first ? fr : fg, lo_rg = r_first ? fg : fr;
    unsigned int s_hi = r_first ? sr : sg, s_lo = r_first ? sg : sr;
    float a = hi_rg >= fb ? hi_rg : fb;
    unsigned int s_a = hi_rg >= fb ? s_hi : sb;
    float c = lo_rg < fb ? lo_rg : fb;
    unsigned int s_c = lo_rg < fb ? s_lo : sb;
    float mid = fmaxf(lo_rg, fminf(hi_rg, fb));
    unsigned int all = sr + sg + sb;

    float4 p0 = lattice[base];
    float4 p1 = lattice[base + s_a];
    float4 p2 = lattice[base + all - s_c];
    float4 p3 = lattice[base + all];
    float w0 = 1.0f - a, w1 = a - mid, w2 = mid - c, w3 = c;
    float out[3] = {
        w0 * p0.x + w1 * p1.x + w2 * p2.x + w3 * p3.x,
        w0 * p0.y + w1 * p1.y + w2 * p2.y + w3 * p3.y,
        w0 * p0.z + w1 * p1.z + w2 * p2.z + w3 * p3.z,
    };
    for (int k = 0; k < 3; ++k) {
        // Round to nearest, saturating, NaN to 0 (as Rust's `as u8`).
        float v = out[k] * 255.0f + 0.5f;
        v = v >= 0.0f ? fminf(v, 255.0f) : 0.0f;
        px[k] = (unsigned char)v;
    }
}
