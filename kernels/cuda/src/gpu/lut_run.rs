//! A LUT over a run of frames of one size, several frames in flight: while
//! one frame is graded, the next goes up and the one before comes down,
//! each on its own stream, through page-locked host memory (which the
//! copies read and write directly, and which lets them overlap the
//! kernels). The tables go up once for the run.
//!
//! One frame at a time ([`Gpu::lut_rgb8`]) the copies and the kernel take
//! turns and pageable memory is staged by the driver, so the GPU idles
//! while the bus works; at 4K the copies are most of the time.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream, PinnedHostSlice};
use kino_kernels::lut::Rgb8Plan;

use super::{Gpu, GpuError, Tables, driver};
use crate::grading::copy_into;

/// A run of frames of one size graded by one LUT on one GPU. Its host
/// memory (two page-locked frames a slot) is not the pool's to count: the
/// pool budgets device memory.
pub struct LutRun {
    gpu: Arc<Gpu>,
    tables: Tables,
    frame_bytes: usize,
    slots: Vec<Slot>,
    /// Frames queued and not yet handed back, oldest in `next`'s slot
    /// once every slot is full.
    in_flight: usize,
    /// The slot the next frame goes in.
    next: usize,
}

/// A frame's place in the run: its stream, its page-locked copies and
/// its device buffer.
struct Slot {
    stream: Arc<CudaStream>,
    /// Written by the CPU, read by the copy up: write-combined.
    input: PinnedHostSlice<u8>,
    /// Written by the copy down, read by the CPU: cached.
    output: PinnedHostSlice<u8>,
    frame: CudaSlice<u8>,
}

impl LutRun {
    /// A run on `gpu` of packed RGB24 frames of `frame_bytes` each, graded
    /// by `plan`, with `depth` frames in flight (at least one).
    pub fn new(
        gpu: Arc<Gpu>,
        plan: &Rgb8Plan<'_>,
        frame_bytes: usize,
        depth: usize,
    ) -> Result<Self, GpuError> {
        if frame_bytes == 0 || !frame_bytes.is_multiple_of(3) {
            return Err(GpuError(format!(
                "{frame_bytes} bytes is not a packed RGB24 frame"
            )));
        }
        let upload = gpu.stream()?;
        let tables = Tables::upload(&upload, plan)?;
        let context = &gpu.context;
        let slots = (0..depth.max(1))
            .map(|_| {
                let stream = gpu.stream()?;
                // SAFETY (both): page-locked memory is unset until written;
                // `input` is read only after the CPU fills it, `output`
                // only after the copy down writes it.
                let input = unsafe { context.alloc_pinned::<u8>(frame_bytes) }
                    .map_err(driver("allocating page-locked memory"))?;
                let output = unsafe { context.alloc_pinned_with_flags::<u8>(frame_bytes, 0) }
                    .map_err(driver("allocating page-locked memory"))?;
                // SAFETY: the device frame is unset until the copy up
                // writes all of it, before the kernel reads it.
                let frame = unsafe { stream.alloc::<u8>(frame_bytes) }
                    .map_err(driver("allocating the frame"))?;
                Ok(Slot {
                    stream,
                    input,
                    output,
                    frame,
                })
            })
            .collect::<Result<Vec<_>, GpuError>>()?;
        // The slots' streams wait for the tables through their events.
        Ok(Self {
            gpu,
            tables,
            frame_bytes,
            slots,
            in_flight: 0,
            next: 0,
        })
    }

    /// Bytes a frame.
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    /// Frames queued and not yet handed back.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Queues `frame` (copied into page-locked memory, in parallel); when
    /// every slot is full, first hands the oldest frame, graded, to
    /// `graded`. After an error the frames in flight may not come back (a
    /// lost context loses them: the caller keeps its own copies); a frame
    /// handed back before it stays handed back.
    pub fn push(&mut self, frame: &[u8], graded: impl FnOnce(&[u8])) -> Result<(), GpuError> {
        if frame.len() != self.frame_bytes {
            return Err(GpuError(format!(
                "a frame of {} bytes in a run of {}",
                frame.len(),
                self.frame_bytes
            )));
        }
        self.push_with(|input| copy_into(input, frame), graded)
    }

    /// [`LutRun::push`] with the frame written by `fill` straight into the
    /// page-locked memory it goes up from (a producer that can write there
    /// saves a copy; what `fill` does not write is the slot's last frame).
    /// That memory is write-combined: `fill` should write it in order and
    /// never read it, which is very slow.
    pub fn push_with(
        &mut self,
        fill: impl FnOnce(&mut [u8]),
        graded: impl FnOnce(&[u8]),
    ) -> Result<(), GpuError> {
        if self.in_flight == self.slots.len() {
            self.hand_back(graded)?;
        }
        let slot = &mut self.slots[self.next];
        // (waits for the slot's last copy up, which read it)
        fill(
            slot.input
                .as_mut_slice()
                .map_err(driver("waiting for a copy up"))?,
        );
        slot.stream
            .memcpy_htod(&slot.input, &mut slot.frame)
            .map_err(driver("copying a frame up"))?;
        self.gpu.launch_lut(
            &slot.stream,
            &self.tables,
            &mut slot.frame,
            self.frame_bytes / 3,
        )?;
        slot.stream
            .memcpy_dtoh(&slot.frame, &mut slot.output)
            .map_err(driver("copying a frame down"))?;
        self.next = (self.next + 1) % self.slots.len();
        self.in_flight += 1;
        Ok(())
    }

    /// Hands back every frame in flight, oldest first.
    pub fn finish(&mut self, mut graded: impl FnMut(&[u8])) -> Result<(), GpuError> {
        while self.in_flight > 0 {
            self.hand_back(&mut graded)?;
        }
        Ok(())
    }

    /// Waits for the oldest frame in flight and hands it to `graded`.
    fn hand_back(&mut self, graded: impl FnOnce(&[u8])) -> Result<(), GpuError> {
        let oldest = (self.next + self.slots.len() - self.in_flight) % self.slots.len();
        let out = self.slots[oldest]
            .output
            .as_slice()
            .map_err(driver("waiting for a graded frame"))?;
        graded(out);
        self.in_flight -= 1;
        Ok(())
    }
}

impl Drop for LutRun {
    /// Waits for the frames in flight: each slot's kernel reads the tables,
    /// which are freed first (cudarc orders their free after the last
    /// kernel to read them only, not every slot's).
    fn drop(&mut self) {
        for slot in &self.slots {
            // (a failure here is the context's, and said by what failed)
            let _ = slot.stream.synchronize();
        }
    }
}
