// Rasterised text composited in linear light: the GPU twin of
// kino_kernels::text's `RenderedText::draw`, f32 operation for f32
// operation. The host lays the text out and rasterises its masks once
// (`RenderedText::draw_plan`); every pixel of the region under a glyph or
// the box is decoded to linear light, mixed towards the box, outline and
// fill colours in that order, and encoded back to the nearest sRGB level.

#define KINO_LIN_MAX 16383

// `mix` in text.rs: a zero (or negative) weight leaves the colour.
__device__ __forceinline__ void kino_mix(float c[3], const float* over, float a)
{
    if (a > 0.0f) {
        for (int k = 0; k < 3; ++k) {
            c[k] += (over[k] - c[k]) * a;
        }
    }
}

// One thread per pixel of the region `[x0, x1) × [y0, y1)` of the frame,
// which `region` holds tight (`stride` = x1 - x0 pixels a row). The masks'
// top-left corner is at (ox, oy) on the frame. `colours` holds the fill,
// outline and box colours (linear) and the box's opacity; `outline` is
// null when the text has no outline mask, `has_outline` says whether the
// style has an outline colour, and the box is `[bx0, bx1) × [by0, by1)`
// (empty when there is none).
extern "C" __global__ void kino_text_rgb8(unsigned char* __restrict__ region, unsigned int stride,
                                          unsigned int x0, unsigned int y0, unsigned int x1, unsigned int y1,
                                          int ox, int oy, unsigned int mask_width,
                                          const unsigned char* __restrict__ fill,
                                          const unsigned char* __restrict__ outline,
                                          const float* __restrict__ colours, unsigned int has_outline,
                                          int bx0, int by0, int bx1, int by1,
                                          const float* __restrict__ to_linear,
                                          const unsigned char* __restrict__ to_srgb)
{
    unsigned int x = x0 + blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = y0 + blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= x1 || y >= y1) {
        return;
    }
    int fx = (int)x, fy = (int)y;
    size_t m = (size_t)(fy - oy) * mask_width + (size_t)(fx - ox);
    bool in_box = fx >= bx0 && fx < bx1 && fy >= by0 && fy < by1;
    float box_a = in_box ? colours[9] : 0.0f;
    unsigned int out_a = outline ? outline[m] : 0;
    unsigned int fill_a = fill[m];
    if (box_a == 0.0f && out_a == 0 && fill_a == 0) {
        return;
    }
    unsigned char* px = region + 3 * ((size_t)(y - y0) * stride + (x - x0));
    float c[3];
    for (int k = 0; k < 3; ++k) {
        c[k] = to_linear[px[k]];
    }
    kino_mix(c, colours + 6, box_a);
    if (has_outline) {
        kino_mix(c, colours + 3, (float)out_a / 255.0f);
    }
    kino_mix(c, colours, (float)fill_a / 255.0f);
    for (int k = 0; k < 3; ++k) {
        float q = c[k] * (float)KINO_LIN_MAX + 0.5f;
        unsigned int i = q > 0.0f ? (unsigned int)q : 0;
        px[k] = to_srgb[i < KINO_LIN_MAX ? i : KINO_LIN_MAX];
    }
}
