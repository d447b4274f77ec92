//! A LUT over a run of frames of one size (a whole video's), on the
//! device the pool gives the run.
//!
//! On a GPU the run holds its room for as long as it lasts
//! ([`Pool::hold_node`]) and keeps several frames in flight
//! ([`crate::gpu::LutRun`]: the tables go up once, and a frame's copies
//! overlap its neighbours' kernels), so frames come back a few pushes
//! after they go in. Frame by frame ([`crate::placed::lut_rgb8`]) each
//! call would upload the tables and wait for its copies. The caller's
//! frames are kept until they come back graded, so a GPU that fails
//! midway leaves them for the CPU: that frame and the rest of the run are
//! graded there, and nothing is lost or repeated. Either way a frame is
//! what `CubeLut::apply_rgb8` makes of it, within the parity tests' bound.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use kino_kernels::lut::{CubeLut, LutError};

use crate::pool::{Pool, Ran, Resident};

/// A graded frame and where it was graded.
pub type Graded = (Vec<u8>, Ran);

/// A run of packed RGB24 frames of one size graded by one LUT.
pub struct Grading<'a> {
    pool: &'a Arc<Pool>,
    lut: &'a CubeLut,
    frame_bytes: usize,
    device: Device<'a>,
    /// The frames on the GPU, oldest first, as the caller gave them.
    queued: VecDeque<Vec<u8>>,
    /// Where the frames on the GPU are graded (each push counted one call).
    on_gpu: Option<Ran>,
    /// Opens the GPU half (a test stands in a failing one).
    open: Opener<'a>,
}

type Opener<'a> = fn(usize, &'a CubeLut, usize) -> Result<Box<dyn Run + 'a>, String>;

/// The GPU half of a run: frames go in, and come back graded, in order, a
/// few pushes later.
trait Run {
    /// Queues `frame`, first handing back the oldest, graded, when the run
    /// is full.
    fn push(&mut self, frame: &[u8], graded: &mut dyn FnMut(&[u8])) -> Result<(), String>;
    /// Hands back every frame in flight.
    fn finish(&mut self, graded: &mut dyn FnMut(&[u8])) -> Result<(), String>;
}

/// Where the run's frames are graded.
enum Device<'a> {
    /// Not asked yet (the first frame asks).
    Unplaced,
    /// A GPU, with the room held (the run first: its memory is freed
    /// before the room goes back).
    Gpu(Box<dyn Run + 'a>, Resident),
    /// The CPU, and why.
    Cpu(String),
}

impl fmt::Debug for Grading<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let device = match &self.device {
            Device::Unplaced => "unplaced".to_owned(),
            Device::Gpu(_, resident) => format!("cuda:{}", resident.ordinal()),
            Device::Cpu(why) => format!("cpu ({why})"),
        };
        f.debug_struct("Grading")
            .field("frame_bytes", &self.frame_bytes)
            .field("in_flight", &self.queued.len())
            .field("device", &device)
            .finish_non_exhaustive()
    }
}

impl<'a> Grading<'a> {
    /// A run of frames of `frame_bytes` (packed RGB24) graded by `lut`. No
    /// device is asked until the first frame.
    pub fn new(pool: &'a Arc<Pool>, lut: &'a CubeLut, frame_bytes: usize) -> Self {
        Self {
            pool,
            lut,
            frame_bytes,
            device: Device::Unplaced,
            queued: VecDeque::new(),
            on_gpu: None,
            open: gpu::open,
        }
    }

    /// Bytes a frame of the run.
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    /// Queues `frame` for grading, and returns the frames graded by now,
    /// oldest first (on the CPU, `frame` itself; on a GPU, the one a few
    /// pushes back, or none yet), each in the buffer it came in. A frame
    /// that is not the run's size is refused before any device is asked,
    /// and the run goes on. Each push the GPU takes counts as a GPU call
    /// in the pool's figures, even where the frame then comes back from
    /// the CPU (the GPU failed before handing it back).
    pub fn push(&mut self, frame: Vec<u8>) -> Result<Vec<Graded>, LutError> {
        if frame.len() != self.frame_bytes || !frame.len().is_multiple_of(3) {
            return Err(LutError::BufferLength { len: frame.len() });
        }
        let failed = self.place();
        let mut ready = Vec::new();
        let Device::Gpu(run, resident) = &mut self.device else {
            let why = match &self.device {
                Device::Cpu(why) => why.clone(),
                Device::Unplaced | Device::Gpu(..) => String::new(),
            };
            let ran = failed.unwrap_or_else(|| self.pool.on_cpu(why));
            let mut frame = frame;
            self.lut.apply_rgb8(&mut frame)?;
            return Ok(vec![(frame, ran)]);
        };
        let queued = &mut self.queued;
        let pushed = self.pool.on_resident(resident, |_| {
            run.push(&frame, &mut |graded| hand_back(queued, graded, &mut ready))
        });
        match pushed {
            Ok(((), ran)) => {
                self.queued.push_back(frame);
                // (each push counts as a call; the frames it hands back say
                // where they ran)
                let ran = self.on_gpu.insert(ran).clone();
                Ok(ready.into_iter().map(|f| (f, ran.clone())).collect())
            }
            Err(ran) => self.fell_back(Some(frame), ran, ready),
        }
    }

    /// The frames still in flight, graded, oldest first.
    pub fn finish(mut self) -> Result<Vec<Graded>, LutError> {
        let mut ready = Vec::new();
        let Device::Gpu(run, resident) = &mut self.device else {
            return Ok(Vec::new());
        };
        let queued = &mut self.queued;
        // The finish is no call of its own: its frames were counted when
        // they were pushed (a run with none has none to give).
        match run.finish(&mut |graded| hand_back(queued, graded, &mut ready)) {
            Ok(()) => {
                let Some(ran) = self.on_gpu.take() else {
                    return Ok(Vec::new());
                };
                Ok(ready.into_iter().map(|f| (f, ran.clone())).collect())
            }
            Err(why) => {
                let ran = self.pool.gpu_failed(resident.ordinal(), why);
                self.fell_back(None, ran, ready)
            }
        }
    }

    /// Asks the pool for the run's device, the first time. A GPU the pool
    /// gives that then fails to open is the first frame's fallback (the
    /// run's `Ran`, counted once), and the CPU grades the run.
    fn place(&mut self) -> Option<Ran> {
        if !matches!(self.device, Device::Unplaced) {
            return None;
        }
        let bytes = run_device_bytes(self.frame_bytes, self.lut.size());
        let Some(resident) = self.pool.hold_node(bytes) else {
            self.device = Device::Cpu(self.pool.no_gpu().map_or_else(
                || format!("no GPU has {} MiB for the run", bytes >> 20),
                str::to_owned,
            ));
            return None;
        };
        let ordinal = resident.ordinal();
        match (self.open)(ordinal, self.lut, self.frame_bytes) {
            Ok(run) => {
                self.device = Device::Gpu(run, resident);
                None
            }
            Err(why) => {
                self.device = Device::Cpu(format!("cuda:{ordinal} failed: {why}"));
                Some(self.pool.gpu_failed(ordinal, why))
            }
        }
    }

    /// The GPU failed (`ran` says how): the frames it had not handed back,
    /// and `frame` if it was being pushed, are graded on the CPU after
    /// those it had, and so is the rest of the run; its room goes back.
    fn fell_back(
        &mut self,
        frame: Option<Vec<u8>>,
        ran: Ran,
        ready: Vec<Vec<u8>>,
    ) -> Result<Vec<Graded>, LutError> {
        let why = ran.fallback.clone().unwrap_or_default();
        self.device = Device::Cpu(format!("an earlier frame's GPU failed: {why}"));
        let ran_before = self.on_gpu.take().unwrap_or_else(|| ran.clone());
        let mut graded: Vec<Graded> = ready.into_iter().map(|f| (f, ran_before.clone())).collect();
        // The failed call is the first frame's; the rest are CPU calls.
        for (i, mut frame) in self.queued.drain(..).chain(frame).enumerate() {
            let ran = if i == 0 {
                ran.clone()
            } else {
                self.pool
                    .on_cpu(format!("an earlier frame's GPU failed: {why}"))
            };
            self.lut.apply_rgb8(&mut frame)?;
            graded.push((frame, ran));
        }
        Ok(graded)
    }
}

/// The oldest queued frame, its pixels replaced by `graded`, onto `ready`.
fn hand_back(queued: &mut VecDeque<Vec<u8>>, graded: &[u8], ready: &mut Vec<Vec<u8>>) {
    if let Some(mut frame) = queued.pop_front() {
        copy_into(&mut frame, graded);
        ready.push(frame);
    }
}

/// Copies `src` over `dst` (the same length) on every core: one thread
/// copies a 4K frame at a fraction of what the bus to a GPU carries.
pub fn copy_into(dst: &mut [u8], src: &[u8]) {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 20;
    dst.par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

/// The frames a run keeps in flight on a GPU: one going up, one graded,
/// one coming down.
pub const DEPTH: usize = 3;

/// Device memory a run holds: [`DEPTH`] frames in flight and the tables.
fn run_device_bytes(frame_bytes: usize, size: usize) -> u64 {
    (frame_bytes * DEPTH + size.pow(3) * 16 + 3 * 256 * 8) as u64
}

#[cfg(feature = "cuda")]
mod gpu {
    use kino_kernels::lut::CubeLut;

    use super::{DEPTH, Run};
    use crate::gpu::{Gpu, LutRun};

    pub(super) fn open<'a>(
        ordinal: usize,
        lut: &'a CubeLut,
        frame_bytes: usize,
    ) -> Result<Box<dyn Run + 'a>, String> {
        let gpu = Gpu::get(ordinal).map_err(|e| e.0)?;
        let run = LutRun::new(gpu, &lut.rgb8_plan(), frame_bytes, DEPTH).map_err(|e| e.0)?;
        Ok(Box::new(run))
    }

    impl Run for LutRun {
        fn push(&mut self, frame: &[u8], graded: &mut dyn FnMut(&[u8])) -> Result<(), String> {
            LutRun::push(self, frame, graded).map_err(|e| e.0)
        }

        fn finish(&mut self, graded: &mut dyn FnMut(&[u8])) -> Result<(), String> {
            LutRun::finish(self, graded).map_err(|e| e.0)
        }
    }
}

/// A build without CUDA: the pool never holds a GPU for a run (detection
/// finds none), and a pool made with one anyway is answered with an error.
#[cfg(not(feature = "cuda"))]
mod gpu {
    use kino_kernels::lut::CubeLut;

    use super::Run;

    pub(super) fn open<'a>(
        _: usize,
        _: &'a CubeLut,
        _: usize,
    ) -> Result<Box<dyn Run + 'a>, String> {
        Err("this build has no CUDA".to_owned())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pool::{Choice, Gpu, Placement, RESERVE_BYTES};

    const BYTES: usize = 48 * 27 * 3;

    fn lut() -> CubeLut {
        CubeLut::from_fn(9, |[r, g, b]| [g, b * 0.8, 1.0 - r]).unwrap()
    }

    fn frame(i: usize) -> Vec<u8> {
        (0..BYTES).map(|j| ((j * 7 + i * 31) % 256) as u8).collect()
    }

    fn graded(lut: &CubeLut, i: usize) -> Vec<u8> {
        let mut f = frame(i);
        lut.apply_rgb8(&mut f).unwrap();
        f
    }

    fn pool_with_gpu() -> Arc<Pool> {
        let gpu = Gpu {
            ordinal: 7,
            free_memory: RESERVE_BYTES + (64 << 20),
        };
        Arc::new(Pool::new(&[gpu], Choice::Auto, None).unwrap())
    }

    /// A GPU half that grades on the CPU, `DEPTH` frames behind, and fails
    /// where it is told to: on a push (after handing back the oldest, as a
    /// failed copy up would) or on the finish.
    struct Injected<'a> {
        lut: &'a CubeLut,
        queue: VecDeque<Vec<u8>>,
        pushes: usize,
        fail: Fail,
    }

    /// Where an injected GPU half fails.
    #[derive(Clone, Copy, PartialEq)]
    enum Fail {
        Never,
        OnPush(usize),
        OnFinish,
    }

    impl Run for Injected<'_> {
        fn push(&mut self, frame: &[u8], graded: &mut dyn FnMut(&[u8])) -> Result<(), String> {
            self.pushes += 1;
            if self.queue.len() == DEPTH {
                let mut oldest = self.queue.pop_front().unwrap();
                self.lut.apply_rgb8(&mut oldest).unwrap();
                graded(&oldest);
            }
            if self.fail == Fail::OnPush(self.pushes) {
                return Err("an injected launch failure".to_owned());
            }
            self.queue.push_back(frame.to_vec());
            Ok(())
        }

        fn finish(&mut self, graded: &mut dyn FnMut(&[u8])) -> Result<(), String> {
            if self.fail == Fail::OnFinish {
                return Err("an injected failure waiting for the last frames".to_owned());
            }
            while let Some(mut oldest) = self.queue.pop_front() {
                self.lut.apply_rgb8(&mut oldest).unwrap();
                graded(&oldest);
            }
            Ok(())
        }
    }

    fn injected(lut: &CubeLut, fail: Fail) -> Box<dyn Run + '_> {
        Box::new(Injected {
            lut,
            queue: VecDeque::new(),
            pushes: 0,
            fail,
        })
    }

    fn failing_on_fifth_push<'a>(
        _: usize,
        lut: &'a CubeLut,
        _: usize,
    ) -> Result<Box<dyn Run + 'a>, String> {
        Ok(injected(lut, Fail::OnPush(5)))
    }

    fn failing_on_finish<'a>(
        _: usize,
        lut: &'a CubeLut,
        _: usize,
    ) -> Result<Box<dyn Run + 'a>, String> {
        Ok(injected(lut, Fail::OnFinish))
    }

    fn never_failing<'a>(
        _: usize,
        lut: &'a CubeLut,
        _: usize,
    ) -> Result<Box<dyn Run + 'a>, String> {
        Ok(injected(lut, Fail::Never))
    }

    /// GPU calls, fallbacks and CPU calls so far.
    fn calls(pool: &Pool) -> (u64, u64, u64) {
        let stats = pool.stats();
        (stats.gpu_calls, stats.fallbacks, stats.cpu_calls)
    }

    /// Pushes `frames` frames and finishes: everything that came back, in
    /// the order it came.
    fn run(grading: &mut Option<Grading<'_>>, frames: usize) -> Vec<Graded> {
        let mut out = Vec::new();
        for i in 0..frames {
            out.extend(grading.as_mut().unwrap().push(frame(i)).unwrap());
        }
        out.extend(grading.take().unwrap().finish().unwrap());
        out
    }

    #[test]
    fn on_the_cpu_each_frame_comes_back_graded_as_it_goes_in() {
        let pool = Arc::new(Pool::new(&[], Choice::Auto, Some("no libcuda".into())).unwrap());
        let lut = lut();
        let mut grading = Grading::new(&pool, &lut, BYTES);
        for i in 0..4 {
            let back = grading.push(frame(i)).unwrap();
            assert_eq!(back.len(), 1, "frame {i} at once");
            assert_eq!(back[0].0, graded(&lut, i));
            assert_eq!(back[0].1.cpu_because.as_deref(), Some("no libcuda"));
        }
        assert!(grading.finish().unwrap().is_empty());
        assert_eq!(pool.stats().cpu_calls, 4);
    }

    #[test]
    fn a_gpu_that_cannot_open_leaves_the_run_on_the_cpu_and_gives_its_room_back() {
        let pool = pool_with_gpu();
        let lut = lut();
        let mut grading = Some(Grading::new(&pool, &lut, BYTES));
        let out = run(&mut grading, 3);
        assert_eq!(out.len(), 3);
        for (i, (f, ran)) in out.iter().enumerate() {
            assert_eq!(*f, graded(&lut, i), "frame {i}");
            assert_eq!(ran.placement, Placement::Cpu);
            // This build has no CUDA, or the host no cuda:7: the first
            // frame says it fell back, the rest why they are on the CPU.
            let why = if i == 0 {
                &ran.fallback
            } else {
                &ran.cpu_because
            };
            assert!(why.as_ref().unwrap().starts_with("cuda:7 failed"), "{ran}");
        }
        assert_eq!(pool.resident(), [(7, 0)]);
        assert_eq!(calls(&pool), (0, 1, 3));
    }

    #[test]
    fn a_frame_of_another_size_is_refused_and_the_run_goes_on() {
        let pool = pool_with_gpu();
        let lut = lut();
        let mut grading = Grading::new(&pool, &lut, BYTES);
        for len in [BYTES - 3, BYTES + 1, 0] {
            assert!(matches!(
                grading.push(vec![0; len]),
                Err(LutError::BufferLength { len: l }) if l == len
            ));
        }
        assert_eq!(pool.stats(), Default::default(), "nothing ran");
        assert_eq!(pool.resident(), [(7, 0)], "no device was asked");
        assert_eq!(grading.push(frame(0)).unwrap()[0].0, graded(&lut, 0));
    }

    #[test]
    fn on_a_gpu_frames_come_back_late_in_order_each_counted_once() {
        let pool = pool_with_gpu();
        let lut = lut();
        let mut grading = Grading::new(&pool, &lut, BYTES);
        grading.open = never_failing;
        let mut grading = Some(grading);
        let out = run(&mut grading, 5);
        assert_eq!(out.len(), 5);
        for (i, (f, ran)) in out.iter().enumerate() {
            assert_eq!(*f, graded(&lut, i), "frame {i}");
            assert_eq!(ran.placement, Placement::Cuda(7), "frame {i}");
        }
        assert_eq!(calls(&pool), (5, 0, 0));
        assert_eq!(pool.resident(), [(7, 0)], "the run's room went back");
    }

    #[test]
    fn a_gpu_failing_midway_leaves_its_frames_for_the_cpu_none_lost_or_repeated() {
        let pool = pool_with_gpu();
        let lut = lut();
        let mut grading = Grading::new(&pool, &lut, BYTES);
        grading.open = failing_on_fifth_push;
        // Frames come back DEPTH pushes late while the GPU holds them.
        let mut out = Vec::new();
        for i in 0..4 {
            let back = grading.push(frame(i)).unwrap();
            assert_eq!(back.len(), usize::from(i >= DEPTH), "after frame {i}");
            assert_eq!(pool.resident(), [(7, run_device_bytes(BYTES, 9))]);
            out.extend(back);
        }
        // The fifth push hands back frame 1, then fails: frames 2 to 4 are
        // graded on the CPU, and so is the rest.
        let back = grading.push(frame(4)).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(pool.resident(), [(7, 0)], "the run's room went back");
        out.extend(back);
        for i in 5..7 {
            out.extend(grading.push(frame(i)).unwrap());
        }
        out.extend(grading.finish().unwrap());
        assert_eq!(out.len(), 7);
        for (i, (f, ran)) in out.iter().enumerate() {
            assert_eq!(*f, graded(&lut, i), "frame {i}");
            let expected = if i < 2 {
                Placement::Cuda(7)
            } else {
                Placement::Cpu
            };
            assert_eq!(ran.placement, expected, "frame {i}");
        }
        let failed = out[2].1.fallback.as_deref().unwrap();
        assert!(failed.contains("an injected launch failure"), "{failed}");
        assert!(
            out[3]
                .1
                .cpu_because
                .as_deref()
                .unwrap()
                .contains("injected")
        );
        // Four pushes the GPU took (two of whose frames the CPU then
        // graded again), and five frames the CPU graded, the first for the
        // failed push.
        assert_eq!(calls(&pool), (4, 1, 5));
    }

    #[test]
    fn a_gpu_failing_at_the_end_leaves_its_last_frames_for_the_cpu() {
        let pool = pool_with_gpu();
        let lut = lut();
        let mut grading = Grading::new(&pool, &lut, BYTES);
        grading.open = failing_on_finish;
        let mut grading = Some(grading);
        let out = run(&mut grading, 5);
        assert_eq!(out.len(), 5);
        for (i, (f, ran)) in out.iter().enumerate() {
            assert_eq!(*f, graded(&lut, i), "frame {i}");
            assert_eq!(ran.placement == Placement::Cuda(7), i < 2, "frame {i}");
        }
        assert!(out[2].1.fallback.is_some());
        assert_eq!(pool.resident(), [(7, 0)]);
    }
}
