// The kernels, and a launcher for each that runs every thread of the grid
// in turn (block by block, thread by thread, x fastest), as the GPU would
// in some order. The kernels have no shared memory or barriers, so any order
// computes the same result.
#include "shim.h"

#include "lut.cu"
#include "scene.cu"
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

extern "C" void kino_emu_rgb_to_yuv420(const unsigned int grid[3], const unsigned int block[3],
                                       const unsigned char* rgb, unsigned int width, unsigned int height,
                                       unsigned char* y, unsigned int y_stride, unsigned char* u,
                                       unsigned int u_stride, unsigned char* v, unsigned int v_stride)
{
    kino_emu::launch(kino_rgb_to_yuv420, grid, block, rgb, width, height, y, y_stride, u, u_stride, v,
                     v_stride);
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
