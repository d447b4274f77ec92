//! Pictures a decoder left in this GPU's memory (NVDEC's, through FFmpeg)
//! converted to RGB24 where they are: the YUV kernel for 8-bit NV12, the
//! tone map for 10-bit P010, so only the RGB frame comes down and the CPU
//! converts nothing.
//!
//! The decoder must share this GPU's context (FFmpeg's CUDA device opened
//! on the primary context, which is the one cudarc opens), and its copy
//! into the frame may still be running on its own stream: each call first
//! waits for that stream.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream, DriverError, LaunchArgs, PushKernelArg};
use kino_kernels::yuv::Matrix;

use super::{DeviceRgb, Gpu, GpuError, ToneMapTables, config, driver};
use crate::kernels;

/// A decoded 4:2:0 picture in a GPU's memory: luma, then U and V
/// interleaved (NV12 with a byte a sample, P010 with two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedPicture {
    /// Pixels across.
    pub width: usize,
    /// Pixels down.
    pub height: usize,
    /// The luma plane's device address.
    pub luma: u64,
    /// Bytes from one luma row to the next.
    pub luma_pitch: usize,
    /// The interleaved chroma plane's device address.
    pub chroma: u64,
    /// Bytes from one chroma row to the next.
    pub chroma_pitch: usize,
    /// The CUDA stream the decoder wrote the picture on (0: the legacy
    /// default stream), waited for before the picture is read.
    pub stream: u64,
}

impl DecodedPicture {
    /// The picture less `top` rows and `left` columns, which a decoder
    /// leaves on a GPU frame (FFmpeg crops its right and bottom by size
    /// alone, but cannot move a device frame's planes for the top and
    /// left): the planes' addresses moved to the first shown sample. 4:2:0
    /// chroma comes in 2×2 blocks, so the crop must be even, as H.264 and
    /// HEVC crop 4:2:0; `sample` is 1 byte (NV12) or 2 (P010).
    pub fn cropped(self, top: usize, left: usize, sample: usize) -> Result<Self, GpuError> {
        if top == 0 && left == 0 {
            return Ok(self);
        }
        if top % 2 == 1 || left % 2 == 1 || top >= self.height || left >= self.width {
            return Err(GpuError(format!(
                "a {}×{} picture cropped by {top} rows and {left} columns: 4:2:0 crops by \
                 even rows and columns within the picture",
                self.width, self.height
            )));
        }
        let offset = |rows: usize, pitch: usize| (rows * pitch + left * sample) as u64;
        Ok(Self {
            width: self.width - left,
            height: self.height - top,
            luma: self.luma + offset(top, self.luma_pitch),
            // A chroma row per two luma rows; a U and V pair per two columns.
            chroma: self.chroma + offset(top / 2, self.chroma_pitch),
            ..self
        })
    }
}

/// A conversion's device state: the stream it runs on, the picture's
/// planes as the kernels take them.
struct Conversion {
    stream: Arc<CudaStream>,
    layout: Layout,
}

/// A decoded picture's planes as the kernels take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    /// Y, U and V's addresses (V is U's plane a sample on).
    planes: [u64; 3],
    /// Samples from row to row: Y, U, V.
    strides: [u32; 3],
    /// Samples from one U (or V) to the next: interleaved, 2.
    step: u32,
    /// Width and height.
    size: [u32; 2],
}

impl Layout {
    /// `picture`'s layout, with samples of `sample` bytes, or why the
    /// kernels cannot read it so (no pixels, or pitches that do not hold
    /// a row or split a sample).
    fn of(picture: &DecodedPicture, sample: usize) -> Result<Self, GpuError> {
        let p = picture;
        let n = |x: usize| u32::try_from(x).map_err(|_| GpuError("picture too large".to_owned()));
        if p.width == 0 || p.height == 0 || p.luma == 0 || p.chroma == 0 {
            return Err(GpuError(format!(
                "a decoded picture without pixels ({}×{})",
                p.width, p.height
            )));
        }
        let row = p.width * sample;
        let chroma_row = p.width.div_ceil(2) * 2 * sample;
        if p.luma_pitch < row
            || p.chroma_pitch < chroma_row
            || !p.luma_pitch.is_multiple_of(sample)
            || !p.chroma_pitch.is_multiple_of(sample)
        {
            return Err(GpuError(format!(
                "a decoded {}×{} picture's pitches ({}, {}) do not hold its rows",
                p.width, p.height, p.luma_pitch, p.chroma_pitch
            )));
        }
        let chroma_stride = n(p.chroma_pitch / sample)?;
        Ok(Self {
            planes: [p.luma, p.chroma, p.chroma + sample as u64],
            strides: [n(p.luma_pitch / sample)?, chroma_stride, chroma_stride],
            step: 2,
            size: [n(p.width)?, n(p.height)?],
        })
    }

    /// The planes' arguments, which both kernels take first: each plane's
    /// address and stride, then the chroma step.
    fn push_planes<'a>(&'a self, launch: &mut LaunchArgs<'a>) {
        for (plane, stride) in self.planes.iter().zip(&self.strides) {
            launch.arg(plane).arg(stride);
        }
        launch.arg(&self.step);
    }
}

impl Gpu {
    /// An 8-bit NV12 picture on this GPU to packed RGB24 in `matrix`, as
    /// `kino_kernels::yuv::yuv420_to_rgb24` does on the CPU.
    ///
    /// # Safety
    /// `picture`'s planes must be device memory in this GPU's primary
    /// context holding the picture (`height` rows of at least `width`
    /// samples of luma; `height / 2`, rounded up, of `width / 2`, rounded
    /// up, U and V pairs), left unchanged until this returns.
    pub unsafe fn nv12_to_rgb_at(
        &self,
        picture: &DecodedPicture,
        matrix: Matrix,
    ) -> Result<Vec<u8>, GpuError> {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.nv12_to_rgb_on_device(picture, matrix) }?
            .download()
            .map(|frame| frame.data)
    }

    /// [`Gpu::nv12_to_rgb_at`], the RGB24 picture left on this GPU.
    ///
    /// # Safety
    /// As [`Gpu::nv12_to_rgb_at`].
    pub unsafe fn nv12_to_rgb_on_device(
        &self,
        picture: &DecodedPicture,
        matrix: Matrix,
    ) -> Result<DeviceRgb, GpuError> {
        let (c, mut rgb) = self.begin(picture, 1)?;
        let [r_cr, g_cb, g_cr, b_cb] = matrix.to_rgb();
        let mut launch = c.stream.launch_builder(&self.yuv420_to_rgb);
        c.layout.push_planes(&mut launch);
        launch
            .arg(&r_cr)
            .arg(&g_cb)
            .arg(&g_cr)
            .arg(&b_cb)
            .arg(&mut rgb)
            .arg(&c.layout.size[0])
            .arg(&c.layout.size[1]);
        // SAFETY: the arguments match `kino_yuv420_to_rgb`'s parameters in
        // order and type (a device address for each plane pointer); the
        // caller vouches for the planes, and the kernel writes only the
        // `width × height` pixels of `rgb`.
        let launched = unsafe {
            launch.launch(config(kernels::yuv420_blocks(
                picture.width,
                picture.height,
            )))
        };
        c.launched(launched, "running kino_yuv420_to_rgb")?;
        c.finish(self, rgb, picture)
    }

    /// A 10-bit P010 BT.2020 picture on this GPU to BT.709 RGB24, tone
    /// mapped by `tables` (a `ToSdr`'s, [`Gpu::tone_map_tables`]), as
    /// `ToSdr::convert` does on the CPU.
    ///
    /// # Safety
    /// As [`Gpu::nv12_to_rgb_at`], with two bytes a sample.
    pub unsafe fn p010_to_sdr_at(
        &self,
        picture: &DecodedPicture,
        tables: &ToneMapTables,
    ) -> Result<Vec<u8>, GpuError> {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.p010_to_sdr_on_device(picture, tables) }?
            .download()
            .map(|frame| frame.data)
    }

    /// [`Gpu::p010_to_sdr_at`], the RGB24 picture left on this GPU.
    ///
    /// # Safety
    /// As [`Gpu::nv12_to_rgb_at`], with two bytes a sample.
    pub unsafe fn p010_to_sdr_on_device(
        &self,
        picture: &DecodedPicture,
        tables: &ToneMapTables,
    ) -> Result<DeviceRgb, GpuError> {
        let (c, mut rgb) = self.begin(picture, 2)?;
        // P010's 10 bits sit at the top of each word.
        let shift = 6u32;
        let mut launch = c.stream.launch_builder(&self.to_sdr_rgb8);
        c.layout.push_planes(&mut launch);
        launch
            .arg(&shift)
            .arg(&tables.light)
            .arg(&tables.levels)
            .arg(&tables.boundaries)
            .arg(&tables.args)
            .arg(&mut rgb)
            .arg(&c.layout.size[0])
            .arg(&c.layout.size[1]);
        // SAFETY: the arguments match `kino_to_sdr_rgb8`'s parameters in
        // order and type (a device address for each plane pointer,
        // `KinoToSdr`'s words by value); the caller vouches for the planes,
        // the tables went up whole, and the kernel writes only the `width ×
        // height` pixels of `rgb`.
        let launched =
            unsafe { launch.launch(config(kernels::to_sdr_rgb8(picture.width, picture.height))) };
        c.launched(launched, "running kino_to_sdr_rgb8")?;
        c.finish(self, rgb, picture)
    }

    /// Checks `picture` (samples of `sample` bytes), waits for its
    /// decoder's stream, and makes the frame the conversion writes.
    fn begin(
        &self,
        picture: &DecodedPicture,
        sample: usize,
    ) -> Result<(Conversion, CudaSlice<u8>), GpuError> {
        let layout = Layout::of(picture, sample)?;
        self.context
            .bind_to_thread()
            .map_err(driver("binding the context"))?;
        // SAFETY: the stream is the decoder's, in this context (the
        // caller's promise); waiting on it reads nothing.
        unsafe { cudarc::driver::result::stream::synchronize(picture.stream as _) }
            .map_err(driver("waiting for the decoder"))?;
        let stream = self.stream()?;
        let rgb = stream
            .alloc_zeros::<u8>(picture.width * picture.height * 3)
            .map_err(driver("allocating the frame"))?;
        Ok((Conversion { stream, layout }, rgb))
    }
}

impl Conversion {
    /// A launch's outcome. A launch can fail after its kernel is queued
    /// (cudarc records the buffers' events after queueing it), and the
    /// decoder may reuse the planes the kernel reads once the conversion
    /// returns: on failure the stream is waited for first.
    fn launched<T>(&self, launch: Result<T, DriverError>, what: &str) -> Result<(), GpuError> {
        launch.map(drop).map_err(|e| {
            // (its own failure says no more than the launch's)
            let _ = self.stream.synchronize();
            driver(what)(e)
        })
    }

    /// The picture, once the kernel is done: the decoder may reuse its
    /// planes when this returns.
    fn finish(
        self,
        gpu: &Gpu,
        rgb: CudaSlice<u8>,
        picture: &DecodedPicture,
    ) -> Result<DeviceRgb, GpuError> {
        DeviceRgb::finished(gpu, self.stream, rgb, (picture.width, picture.height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NV12_1080P: DecodedPicture = DecodedPicture {
        width: 1920,
        height: 1080,
        luma: 0x7000_0000,
        luma_pitch: 2048,
        chroma: 0x7021_0000,
        chroma_pitch: 2048,
        stream: 0,
    };

    #[test]
    fn v_is_the_interleaved_plane_one_sample_on_and_strides_count_samples() {
        let nv12 = Layout::of(&NV12_1080P, 1).expect("NV12");
        assert_eq!(nv12.planes, [0x7000_0000, 0x7021_0000, 0x7021_0001]);
        assert_eq!(nv12.strides, [2048, 2048, 2048]);
        assert_eq!((nv12.step, nv12.size), (2, [1920, 1080]));
        let p010 = DecodedPicture {
            luma_pitch: 4096,
            chroma_pitch: 4096,
            ..NV12_1080P
        };
        let ten = Layout::of(&p010, 2).expect("P010");
        assert_eq!(ten.planes, [0x7000_0000, 0x7021_0000, 0x7021_0002]);
        assert_eq!(ten.strides, [2048, 2048, 2048]);
    }

    #[test]
    fn a_crop_moves_each_plane_to_its_first_shown_sample() {
        let p010 = DecodedPicture {
            luma_pitch: 4096,
            chroma_pitch: 4096,
            ..NV12_1080P
        };
        assert_eq!(p010.cropped(0, 0, 2).expect("uncropped"), p010);
        // 8 rows and 16 columns off the top left: 4 chroma rows, 8 pairs.
        let cropped = p010.cropped(8, 16, 2).expect("even");
        assert_eq!((cropped.width, cropped.height), (1904, 1072));
        assert_eq!(cropped.luma, 0x7000_0000 + 8 * 4096 + 16 * 2);
        assert_eq!(cropped.chroma, 0x7021_0000 + 4 * 4096 + 16 * 2);
        assert_eq!(
            (cropped.luma_pitch, cropped.chroma_pitch, cropped.stream),
            (4096, 4096, 0)
        );
        let nv12 = NV12_1080P.cropped(2, 0, 1).expect("even");
        assert_eq!(nv12.chroma, 0x7021_0000 + 2048);
        let layout = Layout::of(&nv12, 1).expect("a cropped picture's layout");
        assert_eq!(layout.planes[2], nv12.chroma + 1, "V beside U");
        for (top, left) in [(1, 0), (0, 3), (1080, 0), (0, 1920)] {
            assert!(
                NV12_1080P.cropped(top, left, 1).is_err(),
                "{top} rows, {left} columns"
            );
        }
    }

    #[test]
    fn pictures_the_kernels_cannot_read_are_refused() {
        let odd = DecodedPicture {
            width: 1919,
            luma_pitch: 1919,
            chroma_pitch: 1920,
            ..NV12_1080P
        };
        assert!(Layout::of(&odd, 1).is_ok(), "an odd width's last pair");
        for (what, picture, sample) in [
            (
                "no pixels",
                DecodedPicture {
                    height: 0,
                    ..NV12_1080P
                },
                1,
            ),
            (
                "no plane",
                DecodedPicture {
                    chroma: 0,
                    ..NV12_1080P
                },
                1,
            ),
            (
                "a luma row past its pitch",
                DecodedPicture {
                    luma_pitch: 1918,
                    ..NV12_1080P
                },
                1,
            ),
            (
                "a chroma pair past its pitch",
                DecodedPicture {
                    chroma_pitch: 1918,
                    ..odd
                },
                1,
            ),
            ("P010 rows of bytes", NV12_1080P, 2),
            (
                "a pitch that splits a sample",
                DecodedPicture {
                    luma_pitch: 4097,
                    chroma_pitch: 4096,
                    ..NV12_1080P
                },
                2,
            ),
        ] {
            assert!(Layout::of(&picture, sample).is_err(), "{what}");
        }
    }
}
