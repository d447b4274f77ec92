//! A picture's mip levels made on a device, as the camera samples them:
//! its opaque base level, then each level halved from the one above,
//! back and forth between two buffers (even levels in the first, odd in
//! the second, so no launch reads the buffer it writes). The order is
//! written once over any [`LevelKernels`] — the GPU (`gpu/node.rs`) and, in
//! the tests, the emulator — so the sequence CI checks against the CPU's
//! mipmap is the one the GPU runs.

use kino_kernels::scene::mip_size;

/// One of the two buffers a picture's levels are made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffer {
    /// The base level and every even level below it.
    Even,
    /// The odd levels.
    Odd,
}

impl Buffer {
    fn other(self) -> Self {
        match self {
            Buffer::Even => Buffer::Odd,
            Buffer::Odd => Buffer::Even,
        }
    }
}

/// The level kernels on some device, over a picture it holds and two
/// buffers of at least [`room`] pixels.
pub trait LevelKernels {
    /// Why a launch failed.
    type Error;

    /// `kino_level_from_rgb8`: the picture's base level into
    /// [`Buffer::Even`].
    fn base(&mut self) -> Result<(), Self::Error>;

    /// `kino_half_level`: the `width × height` level in `from` halved into
    /// the other buffer.
    fn half(&mut self, from: Buffer, size: (usize, usize)) -> Result<(), Self::Error>;
}

/// The pixels each buffer holds for a `width × height` picture's levels:
/// the base level's, and the first level's below it.
pub fn room((width, height): (usize, usize)) -> [usize; 2] {
    let (half_width, half_height) = mip_size(width, height, 1);
    [width * height, half_width * half_height]
}

/// Makes level `level` of a `width × height` picture (0 is the base) and
/// answers which buffer holds it, in its first pixels.
pub fn make<K: LevelKernels>(
    kernels: &mut K,
    (width, height): (usize, usize),
    level: usize,
) -> Result<Buffer, K::Error> {
    kernels.base()?;
    let mut at = Buffer::Even;
    for k in 0..level {
        kernels.half(at, mip_size(width, height, k))?;
        at = at.other();
    }
    Ok(at)
}
