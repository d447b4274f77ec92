// HDR and wide-gamut video to SDR: 10-bit BT.2020 YUV 4:2:0 (PQ, HLG or
// SDR; planar, or P010 as NVDEC decodes it) to BT.709 RGB24, tone mapped.
// The GPU twin of kino_kernels::hdr::ToSdr::convert, operation for
// operation in f32, so that the two agree bit for bit when compiled without
// fused multiply-add (--fmad=false).
//
// The host passes the conversion's tables and constants (`ToSdr::plan`,
// whose documentation gives each step): the transfer as a table of light,
// and the output level as a table on the light's float bits plus one
// comparison, so no thread calls powf. One thread per pixel; each computes
// the two chroma columns about it from the two chroma rows about it (the
// CPU kernel computes a row's chroma once; the arithmetic is the same).

// The plan's scalars, as `kernels::ToSdrArgs` lays them out.
struct KinoToSdr {
    // Black, luma's scale, neutral chroma, chroma's scale, red from Cr,
    // green from Cr, green from Cb, blue from Cb.
    float to_rgb[8];
    // Linear BT.2020 to linear BT.709, by rows.
    float gamut[9];
    // The tone curve's terms, then Hable's curve at the content's peak.
    float tone_scale[6];
    // Light table entries per 1.0 of R'G'B', and its last R'G'B' value.
    float steps;
    float top;
    // The light table's last interval (top · steps − 1).
    unsigned int last;
    // Whether the tone curve applies (HDR).
    unsigned int tone_map;
    // The level table: the bits its first interval starts at, the shift
    // from bits to interval, and its last index.
    unsigned int levels_floor;
    unsigned int levels_shift;
    unsigned int levels_last;
};

__device__ __forceinline__ float kino_code10(unsigned short word, unsigned int shift)
{
    return (float)((word >> shift) & 0x3ffu);
}

// The light at R'G'B' value `e`, interpolated in the table (none below 0).
__device__ __forceinline__ float kino_hdr_light(const float* __restrict__ light, const KinoToSdr& k, float e)
{
    float pos = (e > 0.0f ? fminf(e, k.top) : 0.0f) * k.steps;
    unsigned int i = (unsigned int)pos;
    i = i < k.last ? i : k.last;
    float f = pos - (float)i;
    return light[i] + f * (light[i + 1] - light[i]);
}

// The output level of `light`: round(light^(1/2.4) × 255), clipped.
__device__ __forceinline__ unsigned char kino_hdr_level(const unsigned char* __restrict__ levels,
                                                        const float* __restrict__ boundaries,
                                                        const KinoToSdr& k,
                                                        float light)
{
    light = light > 0.0f ? fminf(light, 1.0f) : 0.0f;
    unsigned int bits = (unsigned int)__float_as_int(light);
    unsigned int i = bits > k.levels_floor ? (bits - k.levels_floor) >> k.levels_shift : 0u;
    i = i < k.levels_last ? i : k.levels_last;
    unsigned int level = levels[i];
    return (unsigned char)(level + (light >= boundaries[level] ? 1u : 0u));
}

// A chroma plane's value for luma row `row` at chroma column `j`: three
// quarters of the nearer chroma row, a quarter of the farther.
__device__ __forceinline__ float kino_chroma_at(const unsigned short* __restrict__ plane,
                                                unsigned int stride,
                                                unsigned int step,
                                                unsigned int near,
                                                unsigned int far,
                                                unsigned int j,
                                                unsigned int shift)
{
    return 0.75f * kino_code10(plane[(size_t)near * stride + (size_t)j * step], shift)
         + 0.25f * kino_code10(plane[(size_t)far * stride + (size_t)j * step], shift);
}

extern "C" __global__ void kino_to_sdr_rgb8(
    const unsigned short* __restrict__ y_plane, unsigned int y_stride,
    const unsigned short* __restrict__ u_plane, unsigned int u_stride,
    const unsigned short* __restrict__ v_plane, unsigned int v_stride,
    unsigned int chroma_step,
    unsigned int shift,
    const float* __restrict__ light,
    const unsigned char* __restrict__ levels,
    const float* __restrict__ boundaries,
    KinoToSdr k,
    unsigned char* __restrict__ rgb,
    unsigned int width,
    unsigned int height)
{
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) {
        return;
    }
    unsigned int cw = (width + 1) / 2, ch = (height + 1) / 2;
    // Down: between the chroma rows above and below the row's site.
    unsigned int near = y / 2;
    unsigned int far = y % 2 == 0 ? (near > 0 ? near - 1 : 0) : (near + 1 < ch ? near + 1 : ch - 1);
    // Across: on a chroma site, or halfway between two.
    unsigned int j = x / 2;
    unsigned int j2 = x / 2 + x % 2 < cw ? x / 2 + x % 2 : cw - 1;
    float cb = 0.5f * (kino_chroma_at(u_plane, u_stride, chroma_step, near, far, j, shift)
                       + kino_chroma_at(u_plane, u_stride, chroma_step, near, far, j2, shift));
    float cr = 0.5f * (kino_chroma_at(v_plane, v_stride, chroma_step, near, far, j, shift)
                       + kino_chroma_at(v_plane, v_stride, chroma_step, near, far, j2, shift));

    float luma = (kino_code10(y_plane[(size_t)y * y_stride + x], shift) - k.to_rgb[0]) * k.to_rgb[1];
    cb = (cb - k.to_rgb[2]) * k.to_rgb[3];
    cr = (cr - k.to_rgb[2]) * k.to_rgb[3];
    float r = luma + k.to_rgb[4] * cr;
    float g = luma - k.to_rgb[5] * cr - k.to_rgb[6] * cb;
    float b = luma + k.to_rgb[7] * cb;
    float lin[3] = {kino_hdr_light(light, k, r), kino_hdr_light(light, k, g), kino_hdr_light(light, k, b)};
    float c[3];
    for (int i = 0; i < 3; ++i) {
        const float* m = k.gamut + 3 * i;
        c[i] = m[0] * lin[0] + m[1] * lin[1] + m[2] * lin[2];
    }

    float scale = 1.0f;
    if (k.tone_map) {
        // Hable's curve on the brightest channel, every channel scaled alike.
        float top = fmaxf(fmaxf(fmaxf(c[0], c[1]), c[2]), 1e-6f);
        const float* s = k.tone_scale;
        scale = (top * s[0] + s[1]) / ((top * (top * s[2] + s[3]) + s[4]) * s[5]);
    }
    unsigned char* px = rgb + 3 * ((size_t)y * width + x);
    for (int i = 0; i < 3; ++i) {
        px[i] = kino_hdr_level(levels, boundaries, k, c[i] * scale);
    }
}
