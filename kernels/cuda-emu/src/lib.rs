//! Kino's CUDA kernels (`kernels/cuda/cu/*.cu`) compiled as C++ for the
//! CPU, each launch run thread by thread over the same grid a GPU would
//! get. The parity tests in `kino-cuda` check these against the CPU
//! reference kernels on every machine, and against the GPU where there is
//! one: a kernel's arithmetic and indexing are tested in CI, which has no
//! GPU; what only a GPU can show (launch limits, memory, speed) is left to
//! `scripts/gpu-check.sh`.
//!
//! This is a test crate: nothing in a host depends on it.

#![deny(missing_docs)]

mod ffi {
    unsafe extern "C" {
        pub fn kino_emu_lut_rgb8(
            grid: *const u32,
            block: *const u32,
            frame: *mut u8,
            pixels: u32,
            offsets: *const u32,
            fracs: *const f32,
            lattice: *const [f32; 4],
            size: u32,
        );
        #[allow(clippy::too_many_arguments)]
        pub fn kino_emu_rgb_to_yuv420(
            grid: *const u32,
            block: *const u32,
            rgb: *const u8,
            width: u32,
            height: u32,
            y: *mut u8,
            y_stride: u32,
            u: *mut u8,
            u_stride: u32,
            v: *mut u8,
            v_stride: u32,
        );
    }
}

/// Runs `kino_lut_rgb8` over a packed RGB24 frame, in place.
///
/// # Panics
/// When the tables could index outside the lattice (an offset past
/// `size - 2` cells), or the lattice is not `size³` points.
#[allow(clippy::too_many_arguments)]
pub fn lut_rgb8(
    grid: [u32; 3],
    block: [u32; 3],
    frame: &mut [u8],
    offsets: &[[u32; 256]; 3],
    fracs: &[[f32; 256]; 3],
    lattice: &[[f32; 4]],
    size: usize,
) {
    assert_eq!(
        lattice.len(),
        size * size * size,
        "the lattice is not size³ points"
    );
    let strides = [1, size, size * size];
    for (c, stride) in strides.into_iter().enumerate() {
        let last = (size - 2) * stride;
        assert!(
            offsets[c].iter().all(|&o| o as usize <= last),
            "channel {c}'s offsets leave the lattice"
        );
    }
    let pixels = u32::try_from(frame.len() / 3).expect("fewer than 2³² pixels");
    // SAFETY: the kernel touches the first `pixels` pixels of `frame`, the
    // 768 entries of each table and, by the checks above, lattice points
    // below size³ (an offset sum plus one step along each axis).
    unsafe {
        ffi::kino_emu_lut_rgb8(
            grid.as_ptr(),
            block.as_ptr(),
            frame.as_mut_ptr(),
            pixels,
            offsets.as_ptr().cast(),
            fracs.as_ptr().cast(),
            lattice.as_ptr(),
            size as u32,
        );
    }
}

/// Runs `kino_rgb_to_yuv420`: a `width × height` RGB24 picture into three
/// planes with the given strides.
///
/// # Panics
/// When `rgb` or a plane is too small for the picture.
#[allow(clippy::too_many_arguments)]
pub fn rgb_to_yuv420(
    grid: [u32; 3],
    block: [u32; 3],
    rgb: &[u8],
    width: usize,
    height: usize,
    (y, y_stride): (&mut [u8], usize),
    (u, u_stride): (&mut [u8], usize),
    (v, v_stride): (&mut [u8], usize),
) {
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    assert!(
        rgb.len() >= width * height * 3,
        "RGB24 input smaller than {width}×{height}"
    );
    assert!(
        y_stride >= width && y.len() >= y_stride * height,
        "Y plane too small"
    );
    assert!(
        u_stride >= cw && u.len() >= u_stride * ch,
        "U plane too small"
    );
    assert!(
        v_stride >= cw && v.len() >= v_stride * ch,
        "V plane too small"
    );
    let n = |x: usize| u32::try_from(x).expect("a size below 2³²");
    // SAFETY: the kernel reads `width × height` pixels of `rgb` and writes
    // inside each plane's `stride × rows`, all checked above.
    unsafe {
        ffi::kino_emu_rgb_to_yuv420(
            grid.as_ptr(),
            block.as_ptr(),
            rgb.as_ptr(),
            n(width),
            n(height),
            y.as_mut_ptr(),
            n(y_stride),
            u.as_mut_ptr(),
            n(u_stride),
            v.as_mut_ptr(),
            n(v_stride),
        );
    }
}
