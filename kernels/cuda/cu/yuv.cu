// Packed RGB24 to planar YUV 4:2:0, BT.601 limited range: the GPU twin of
// kino_kernels::yuv::rgb24_to_yuv420p, integer for integer (bit-exact).
//
// One thread per 2×2 block: its four luma samples and the one chroma pair
// (the mean of the block; an odd last row or column repeats itself).

__device__ __forceinline__ unsigned char kino_luma(const unsigned char* p)
{
    int r = p[0], g = p[1], b = p[2];
    return (unsigned char)(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
}

extern "C" __global__ void kino_rgb_to_yuv420(
    const unsigned char* __restrict__ rgb,
    unsigned int width,
    unsigned int height,
    unsigned char* __restrict__ y_plane, unsigned int y_stride,
    unsigned char* __restrict__ u_plane, unsigned int u_stride,
    unsigned char* __restrict__ v_plane, unsigned int v_stride)
{
    unsigned int cx = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int cy = blockIdx.y * blockDim.y + threadIdx.y;
    unsigned int x0 = 2 * cx, y0 = 2 * cy;
    if (x0 >= width || y0 >= height) {
        return;
    }
    unsigned int x1 = x0 + 1 < width ? x0 + 1 : x0;
    unsigned int y1 = y0 + 1 < height ? y0 + 1 : y0;
    const unsigned char* t0 = rgb + 3 * ((size_t)y0 * width + x0);
    const unsigned char* t1 = rgb + 3 * ((size_t)y0 * width + x1);
    const unsigned char* b0 = rgb + 3 * ((size_t)y1 * width + x0);
    const unsigned char* b1 = rgb + 3 * ((size_t)y1 * width + x1);

    y_plane[(size_t)y0 * y_stride + x0] = kino_luma(t0);
    if (x1 != x0) {
        y_plane[(size_t)y0 * y_stride + x1] = kino_luma(t1);
    }
    if (y1 != y0) {
        y_plane[(size_t)y1 * y_stride + x0] = kino_luma(b0);
        if (x1 != x0) {
            y_plane[(size_t)y1 * y_stride + x1] = kino_luma(b1);
        }
    }
    int sum[3];
    for (int c = 0; c < 3; ++c) {
        sum[c] = (t0[c] + t1[c] + b0[c] + b1[c] + 2) >> 2;
    }
    int r = sum[0], g = sum[1], b = sum[2];
    u_plane[(size_t)cy * u_stride + cx] = (unsigned char)(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
    v_plane[(size_t)cy * v_stride + cx] = (unsigned char)(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
}

// YUV 4:2:0 to packed RGB24, BT.601 or BT.709 limited range to full: the GPU twin of
// kino_kernels::yuv::yuv420_to_rgb24, integer for integer (bit-exact).
// U and V are read every `chroma_step` bytes: 1 for planar (yuv420p), 2 for
// NV12, where `v` is the interleaved plane one byte on from `u`.
//
// One thread per 2×2 block: its one chroma pair colours its four pixels.

// `k`: the matrix's chroma terms in 16.16 (`Matrix::to_rgb`): red from Cr,
// green from Cb and Cr, blue from Cb.
__device__ __forceinline__ void kino_rgb_of(int y, int cb, int cr, const int k[4], unsigned char* out)
{
    int luma = 76309 * (y - 16) + 32768;
    cb -= 128;
    cr -= 128;
    int c[3] = {luma + k[0] * cr, luma - k[1] * cb - k[2] * cr, luma + k[3] * cb};
    for (int i = 0; i < 3; ++i) {
        int v = c[i] >> 16;
        out[i] = (unsigned char)(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
}

extern "C" __global__ void kino_yuv420_to_rgb(
    const unsigned char* __restrict__ y_plane, unsigned int y_stride,
    const unsigned char* __restrict__ u_plane, unsigned int u_stride,
    const unsigned char* __restrict__ v_plane, unsigned int v_stride,
    unsigned int chroma_step,
    int r_cr, int g_cb, int g_cr, int b_cb,
    unsigned char* __restrict__ rgb,
    unsigned int width,
    unsigned int height)
{
    const int k[4] = {r_cr, g_cb, g_cr, b_cb};
    unsigned int cx = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int cy = blockIdx.y * blockDim.y + threadIdx.y;
    unsigned int x0 = 2 * cx, y0 = 2 * cy;
    if (x0 >= width || y0 >= height) {
        return;
    }
    int cb = u_plane[(size_t)cy * u_stride + (size_t)cx * chroma_step];
    int cr = v_plane[(size_t)cy * v_stride + (size_t)cx * chroma_step];
    for (unsigned int y = y0; y < y0 + 2 && y < height; ++y) {
        for (unsigned int x = x0; x < x0 + 2 && x < width; ++x) {
            kino_rgb_of(y_plane[(size_t)y * y_stride + x], cb, cr, k, rgb + 3 * ((size_t)y * width + x));
        }
    }
}
