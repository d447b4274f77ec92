// Rasterised text composited in linear light: the GPU twin of
// kino_kernels::text's `composite` (behind `RenderedText::draw` and
// `DynamicCaption::draw`), f32 operation for f32 operation. The host lays
// the text out and rasterises its masks once (`draw_plan`); every pixel of
// the region under a glyph or the box is decoded to linear light, mixed
// towards the box, outline and fill colours in that order, and encoded back
// to the nearest sRGB level. A caption's words are pieces, each with its own
// state on this frame (shown or not, fill colours either side of an edge).

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

// A mask coverage as a mix weight, scaled by the piece's alpha unless that
// is 1 (so static text is one rounding, as on the CPU).
__device__ __forceinline__ float kino_coverage(unsigned int a, float alpha)
{
    float w = (float)a / 255.0f;
    return alpha == 1.0f ? w : w * alpha;
}

// One thread per pixel of the region `[x0, x1) × [y0, y1)` of the frame,
// which `region` holds tight (`stride` = x1 - x0 pixels a row). The masks'
// top-left corner is at (ox, oy) on the frame. `owner` gives each mask
// pixel's piece (null: every pixel is the last piece's); `states` holds
// `state_count` (≥ 1) pieces of eight floats: alpha, left colour, right
// colour (linear), edge (a mask column); an owner past them means the last.
// `colours` holds the outline and box colours (linear) and the box's
// opacity; `outline` is null when the text has no outline mask,
// `has_outline` says whether the style has an outline colour, and the box
// is `[bx0, bx1) × [by0, by1)` (empty when there is none).
extern "C" __global__ void kino_text_rgb8(unsigned char* __restrict__ region, unsigned int stride,
                                          unsigned int x0, unsigned int y0, unsigned int x1, unsigned int y1,
                                          int ox, int oy, unsigned int mask_width,
                                          const unsigned char* __restrict__ fill,
                                          const unsigned char* __restrict__ outline,
                                          const unsigned int* __restrict__ owner,
                                          const float* __restrict__ states, unsigned int state_count,
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
    unsigned int mx = (unsigned int)(fx - ox);
    size_t m = (size_t)(fy - oy) * mask_width + mx;
    unsigned int piece = owner ? owner[m] : state_count - 1;
    const float* st = states + 8 * (size_t)(piece < state_count ? piece : state_count - 1);
    float alpha = st[0];
    bool in_box = fx >= bx0 && fx < bx1 && fy >= by0 && fy < by1;
    float box_a = in_box ? colours[6] : 0.0f;
    unsigned int out_a = alpha > 0.0f && outline ? outline[m] : 0;
    unsigned int fill_a = alpha > 0.0f ? fill[m] : 0;
    if (box_a == 0.0f && out_a == 0 && fill_a == 0) {
        return;
    }
    unsigned char* px = region + 3 * ((size_t)(y - y0) * stride + (x - x0));
    float c[3];
    for (int k = 0; k < 3; ++k) {
        c[k] = to_linear[px[k]];
    }
    kino_mix(c, colours + 3, box_a);
    if (has_outline) {
        kino_mix(c, colours, kino_coverage(out_a, alpha));
    }
    // The share of this pixel left of the fill edge (±inf: all one side).
    float left = fminf(fmaxf(st[7] - (float)mx, 0.0f), 1.0f);
    float fill_c[3];
    for (int k = 0; k < 3; ++k) {
        fill_c[k] = left >= 1.0f ? st[1 + k] : st[4 + k];
    }
    if (left > 0.0f && left < 1.0f) {
        kino_mix(fill_c, st + 1, left);
    }
    kino_mix(c, fill_c, kino_coverage(fill_a, alpha));
    for (int k = 0; k < 3; ++k) {
        float q = c[k] * (float)KINO_LIN_MAX + 0.5f;
        unsigned int i = q > 0.0f ? (unsigned int)q : 0;
        px[k] = to_srgb[i < KINO_LIN_MAX ? i : KINO_LIN_MAX];
    }
}
