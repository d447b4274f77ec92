// The bidirectional warp of optical-flow interpolation: the GPU twin of the
// blend in kino_kernels::interpolate's `FlowPair::render`, integer for
// integer. The host estimates the flow and works out each 8×8 block's two
// taps (`FlowPair::warp_plan`); every output pixel then blends four
// bilinear taps of frame A and four of frame B in 14-bit fixed point.

struct KinoWarpTap {
    int ix, iy;          // offset of the top-left tap from the pixel
    unsigned int w[4];   // top-left, top-right, bottom-left, bottom-right
};

// One thread per output pixel of a `width × height` frame.
extern "C" __global__ void kino_warp_rgb8(
    const unsigned char* __restrict__ a, const unsigned char* __restrict__ b,
    const KinoWarpTap* __restrict__ taps,  // [blocks][2]: into A, into B
    unsigned int blocks_x, unsigned int block,
    unsigned char* __restrict__ out, unsigned int width, unsigned int height)
{
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) {
        return;
    }
    const KinoWarpTap* pair = taps + 2 * ((size_t)(y / block) * blocks_x + x / block);
    int last_x = (int)width - 1, last_y = (int)height - 1;
    unsigned int v[3] = {1u << 13, 1u << 13, 1u << 13};
    for (int f = 0; f < 2; ++f) {
        const KinoWarpTap t = pair[f];
        const unsigned char* src = f == 0 ? a : b;
        int x0 = (int)x + t.ix, y0 = (int)y + t.iy;
        int cx[2] = {x0 < 0 ? 0 : (x0 > last_x ? last_x : x0),
                     x0 + 1 < 0 ? 0 : (x0 + 1 > last_x ? last_x : x0 + 1)};
        int cy[2] = {y0 < 0 ? 0 : (y0 > last_y ? last_y : y0),
                     y0 + 1 < 0 ? 0 : (y0 + 1 > last_y ? last_y : y0 + 1)};
        for (int k = 0; k < 4; ++k) {
            const unsigned char* p = src + 3 * ((size_t)cy[k / 2] * width + cx[k % 2]);
            for (int c = 0; c < 3; ++c) {
                v[c] += t.w[k] * p[c];
            }
        }
    }
    unsigned char* o = out + 3 * ((size_t)y * width + x);
    for (int c = 0; c < 3; ++c) {
        unsigned int q = v[c] >> 14;
        o[c] = (unsigned char)(q < 255 ? q : 255);
    }
}
