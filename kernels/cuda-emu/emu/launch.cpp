// The kernels, and a launcher for each that runs every thread of the grid
// in turn (block by block, thread by thread, x fastest), as the GPU would
// in some order. The kernels have no shared memory or barriers, so any order
// computes the same result.
#include "shim.h"

#include "flow.cu"
#include "hdr.cu"
#include "lut.cu"
#include "scene.cu"
#include "text.cu"
#include "warp.cu"
#include "yuv.cu"

namespace kino_emu {
thread_local uint3 thread_idx;
thread_local uint3 block_idx;
thread_local dim3 block_dim;
thread_local dim3 grid_dim;

template <typename... Params, typename... Args>
static void launch(void (*kernel)(Params...), const unsigned int grid[3], const unsigned int block[3],
                   Args... args)
{
    grid_dim = dim3{grid[0], grid[1], grid[2]};
    block_dim = dim3{block[0], block[1], block[2]};
    for (unsigned int bz = 0; bz < grid[2]; ++bz)
        for (unsigned int by = 0; by < grid[1]; ++by)
            for (unsigned int bx = 0; bx < grid[0]; ++bx)
                for (unsigned int tz = 0; tz < block[2]; ++tz)
                    for (unsigned int ty = 0; ty < block[1]; ++ty)
                        for (unsigned int tx = 0; tx < block[0]; ++tx) {
                            block_idx = uint3{bx, by, bz};
                            thread_idx = uint3{tx, ty, tz};
                            kernel(args...);
                        }
}
}  // namespace kino_emu

extern "C" void kino_emu_lut_rgb8(const unsigned int grid[3], const unsigned int block[3],
                                  unsigned char* frame, unsigned int pixels, const unsigned int* offsets,
                                  const float* fracs, const float4* lattice, unsigned int size)
{
    kino_emu::launch(kino_lut_rgb8, grid, block, frame, pixels, offsets, fracs, lattice, size);
}

static_assert(sizeof(KinoToSdr) == 30 * sizeof(unsigned int), "KinoToSdr is 30 words");

extern "C" unsigned int kino_emu_to_sdr_words()
{
    return sizeof(KinoToSdr) / sizeof(unsigned int);
}

extern "C" void kino_emu_to_sdr_rgb8(const unsigned int grid[3], const unsigned int block[3],
                                     const unsigned short* y, unsigned int y_stride, const unsigned short* u,
                                     unsigned int u_stride, const unsigned short* v, unsigned int v_stride,
                                     unsigned int chroma_step, unsigned int shift, const float* light,
                                     const unsigned char* levels, const float* boundaries,
                                     const unsigned int* args, unsigned char* rgb, unsigned int width,
                                     unsigned int height)
{
    // The words as the GPU gets them, by value.
    KinoToSdr k;
    memcpy(&k, args, sizeof k);
    kino_emu::launch(kino_to_sdr_rgb8, grid, block, y, y_stride, u, u_stride, v, v_stride, chroma_step, shift,
                     light, levels, boundaries, k, rgb, width, height);
}

extern "C" void kino_emu_rgb_to_yuv420(const unsigned int grid[3], const unsigned int block[3],
                                       const unsigned char* rgb, unsigned int width, unsigned int height,
                                       unsigned char* y, unsigned int y_stride, unsigned char* u,
                                       unsigned int u_stride, unsigned char* v, unsigned int v_stride)
{
    kino_emu::launch(kino_rgb_to_yuv420, grid, block, rgb, width, height, y, y_stride, u, u_stride, v,
                     v_stride);
}

extern "C" void kino_emu_yuv420_to_rgb(const unsigned int grid[3], const unsigned int block[3],
                                       const unsigned char* y, unsigned int y_stride, const unsigned char* u,
                                       unsigned int u_stride, const unsigned char* v, unsigned int v_stride,
                                       unsigned int chroma_step, const int k[4], unsigned char* rgb,
                                       unsigned int width, unsigned int height)
{
    kino_emu::launch(kino_yuv420_to_rgb, grid, block, y, y_stride, u, u_stride, v, v_stride, chroma_step, k[0],
                     k[1], k[2], k[3], rgb, width, height);
}

extern "C" void kino_emu_camera_rgb8(const unsigned int grid[3], const unsigned int block[3],
                                     const unsigned int* level, unsigned int level_width,
                                     unsigned int level_height, const int* rows, int du, int dv,
                                     unsigned int rows_first, unsigned char* out, unsigned int width,
                                     unsigned int height)
{
    kino_emu::launch(kino_camera_rgb8, grid, block, level, level_width, level_height, rows, du, dv, rows_first,
                     out, width, height);
}

extern "C" void kino_emu_level_from_rgb8(const unsigned int grid[3], const unsigned int block[3],
                                        const unsigned char* rgb, unsigned int width, unsigned int height,
                                        unsigned int* level)
{
    kino_emu::launch(kino_level_from_rgb8, grid, block, rgb, width, height, level);
}

extern "C" void kino_emu_half_level(const unsigned int grid[3], const unsigned int block[3],
                                    const unsigned int* src, unsigned int src_width, unsigned int src_height,
                                    unsigned int* dst, unsigned int width, unsigned int height)
{
    kino_emu::launch(kino_half_level, grid, block, src, src_width, src_height, dst, width, height);
}

extern "C" void kino_emu_overlay_rgb8(const unsigned int grid[3], const unsigned int block[3],
                                      unsigned char* region, unsigned int stride, const unsigned int* level,
                                      unsigned int level_width, unsigned int level_height, float ox, float oy,
                                      float step, unsigned int opacity, unsigned int x0, unsigned int y0,
                                      unsigned int x1, unsigned int y1)
{
    kino_emu::launch(kino_overlay_rgb8, grid, block, region, stride, level, level_width, level_height, ox, oy,
                     step, opacity, x0, y0, x1, y1);
}

extern "C" void kino_emu_warp_rgb8(const unsigned int grid[3], const unsigned int block[3], const unsigned char* a,
                                   const unsigned char* b, const KinoWarpTap* taps, unsigned int blocks_x,
                                   unsigned int side, unsigned char* out, unsigned int width, unsigned int height)
{
    kino_emu::launch(kino_warp_rgb8, grid, block, a, b, taps, blocks_x, side, out, width, height);
}

extern "C" void kino_emu_half_luma(const unsigned int grid[3], const unsigned int block[3], const unsigned char* rgb,
                                   unsigned int width, unsigned int height, float* out, unsigned int out_width,
                                   unsigned int out_height)
{
    kino_emu::launch(kino_half_luma, grid, block, rgb, width, height, out, out_width, out_height);
}

extern "C" void kino_emu_down(const unsigned int grid[3], const unsigned int block[3], const float* in,
                              unsigned int width, unsigned int height, float* out, unsigned int out_width,
                              unsigned int out_height)
{
    kino_emu::launch(kino_down, grid, block, in, width, height, out, out_width, out_height);
}

extern "C" void kino_emu_flow_cells(const unsigned int grid[3], const unsigned int block[3], const float* src,
                                    const float* dst, unsigned int width, unsigned int height, const float* coarse,
                                    unsigned int coarse_cols, unsigned int coarse_rows, unsigned int cell,
                                    unsigned int cols, unsigned int rows, unsigned int radius,
                                    unsigned int iterations, float* out)
{
    kino_emu::launch(kino_flow_cells, grid, block, src, dst, width, height, coarse, coarse_cols, coarse_rows, cell,
                     cols, rows, radius, iterations, out);
}

extern "C" void kino_emu_median3(const unsigned int grid[3], const unsigned int block[3], const float* in,
                                 unsigned int cols, unsigned int rows, float* out)
{
    kino_emu::launch(kino_median3, grid, block, in, cols, rows, out);
}

extern "C" void kino_emu_luma_histogram(const unsigned int grid[3], const unsigned int block[3],
                                        const float* plane, unsigned int pixels, unsigned int* bins)
{
    kino_emu::launch(kino_luma_histogram, grid, block, plane, pixels, bins);
}

extern "C" void kino_emu_residual_rows(const unsigned int grid[3], const unsigned int block[3], const float* p0,
                                       const float* p1, unsigned int width, unsigned int height, const float* flow,
                                       unsigned int cols, unsigned int rows, unsigned int cell, double* sums)
{
    kino_emu::launch(kino_residual_rows, grid, block, p0, p1, width, height, flow, cols, rows, cell, sums);
}

extern "C" void kino_emu_warp_taps(const unsigned int grid[3], const unsigned int block[3], const float* ab,
                                   const float* ba, unsigned int cols, unsigned int rows, unsigned int cell,
                                   unsigned int width, unsigned int height, const float* time, unsigned int* taps)
{
    kino_emu::launch(kino_warp_taps, grid, block, ab, ba, cols, rows, cell, width, height, time[0], time[1],
                     time[2], time[3], time[4], time[5], time[6], taps);
}

extern "C" void kino_emu_text_rgb8(const unsigned int grid[3], const unsigned int block[3], unsigned char* region,
                                   unsigned int stride, const unsigned int rect[4], int ox, int oy,
                                   unsigned int mask_width, const unsigned char* fill,
                                   const unsigned char* outline, const unsigned int* owner, const float* states,
                                   unsigned int state_count, const float* colours, unsigned int has_outline,
                                   const int box[4], const float* to_linear, const unsigned char* to_srgb)
{
    kino_emu::launch(kino_text_rgb8, grid, block, region, stride, rect[0], rect[1], rect[2], rect[3], ox, oy,
                     mask_width, fill, outline, owner, states, state_count, colours, has_outline, box[0], box[1],
                     box[2], box[3], to_linear, to_srgb);
}
