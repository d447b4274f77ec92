// Just enough of CUDA C++ for Kino's kernels to compile as host C++: the
// qualifiers vanish, the vector types are plain structs, and the thread
// indices are thread-locals that `launch` (launch.cpp) sets before calling
// the kernel once per thread. Thread-locals, so tests on several threads
// each emulate their own launch.
#pragma once

#include <math.h>
#include <stddef.h>
#include <string.h>

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
};
struct float4 {
    float x, y, z, w;
};

namespace kino_emu {
extern thread_local uint3 thread_idx;
extern thread_local uint3 block_idx;
extern thread_local dim3 block_dim;
extern thread_local dim3 grid_dim;
}  // namespace kino_emu

#define threadIdx kino_emu::thread_idx
#define blockIdx kino_emu::block_idx
#define blockDim kino_emu::block_dim
#define gridDim kino_emu::grid_dim

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict

// The emulator runs one thread at a time, so an atomic add is a plain one.
inline unsigned int atomicAdd(unsigned int* address, unsigned int value)
{
    unsigned int old = *address;
    *address = old + value;
    return old;
}

inline int __float_as_int(float v)
{
    int bits;
    memcpy(&bits, &v, sizeof bits);
    return bits;
}

inline float __int_as_float(int bits)
{
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
