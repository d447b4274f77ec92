//! Where a model that stays loaded runs: on a GPU of the device pool that
//! has room for it and that the model's runtime can use (libtorch with
//! CUDA, ONNX Runtime with its CUDA provider), holding that room for as
//! long as the model cache keeps the model; else on the CPU, and where the
//! pool has a GPU, the job's notes say why not.

use std::sync::Arc;

use anyhow::Result;
use kino_cuda::Pool;
use kino_cuda::pool::Resident;
use kino_torch::device::ModelDevice;

/// A loaded model, and the GPU memory it holds in the pool.
pub(crate) struct Placed<T> {
    model: T,
    _room: Option<Resident>,
}

impl<T> std::ops::Deref for Placed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.model
    }
}

/// A model runtime, as placing a model asks it.
#[derive(Clone, Copy)]
pub(crate) struct Runtime {
    /// The GPU it can use when the pool offers GPU `n`, or why not.
    gpu: fn(usize) -> Result<usize, String>,
    /// Its name, where it keeps the device memory its unloaded models
    /// freed for its own later use: the pool counts that memory as its.
    keeps_freed: Option<&'static str>,
}

/// libtorch: on a GPU where it has CUDA (`kino_torch::device::resolve`).
/// Its caching allocator keeps what a dropped model freed, and tch cannot
/// empty it.
pub(crate) const LIBTORCH: Runtime = Runtime {
    gpu: |n| match kino_torch::device::resolve(Some(n)) {
        (ModelDevice::Cuda(d), _) => Ok(d),
        (ModelDevice::Cpu, why) => Err(why.unwrap_or_else(|| "libtorch has no GPU".into())),
    },
    keeps_freed: Some("libtorch"),
};

/// ONNX Runtime: on a GPU where it has its CUDA provider
/// (`kino_onnx::gpu_for`). A session's memory arena goes with the session.
pub(crate) const ONNX_RUNTIME: Runtime = Runtime {
    gpu: |n| match kino_onnx::gpu_for(Some(n)) {
        (Some(d), _) => Ok(d),
        (None, why) => Err(why.unwrap_or_else(|| "ONNX Runtime has no GPU".into())),
    },
    keeps_freed: None,
};

/// Loads a model of about `bytes` on the device (`what` names it in
/// notes): `load(Some(gpu))` on the pool's GPU with the most room that has
/// `bytes` free and that `runtime` can use, holding that room; else, or
/// when loading there fails, `load(None)` on the CPU, telling `note` why
/// where the pool has a GPU. Loading never waits for room: the thread
/// loading may hold some itself.
pub(crate) fn load<T>(
    devices: &Arc<Pool>,
    what: &str,
    bytes: u64,
    runtime: Runtime,
    note: &dyn Fn(String),
    load: impl Fn(Option<usize>) -> Result<T>,
) -> Result<Placed<T>> {
    let on_cpu = || {
        Ok(Placed {
            model: load(None)?,
            _room: None,
        })
    };
    let Some(roomiest) = devices.model_gpu() else {
        return on_cpu();
    };
    // The runtime first: holding room, even briefly, tells calls waiting
    // for room that less may ever come, and some then go to the CPU.
    if let Err(why) = (runtime.gpu)(roomiest) {
        note(format!("{what}: {why}"));
        return on_cpu();
    }
    let held = match runtime.keeps_freed {
        Some(name) => devices.hold_kept(name, bytes),
        None => devices.hold(bytes),
    };
    let Some(room) = held else {
        note(format!(
            "{what}: no GPU has the {} MiB it needs free: it runs on the CPU",
            bytes >> 20
        ));
        return on_cpu();
    };
    let gpu = match (runtime.gpu)(room.ordinal()) {
        Ok(gpu) => gpu,
        Err(why) => {
            // Nothing was loaded there: the runtime keeps none of it.
            room.unused();
            note(format!("{what}: {why}"));
            return on_cpu();
        }
    };
    match load(Some(gpu)) {
        Ok(model) => {
            tracing::info!("{what} on cuda:{gpu}");
            Ok(Placed {
                model,
                _room: Some(room),
            })
        }
        Err(e) => {
            note(format!(
                "{what}: loading it on cuda:{gpu} failed ({e:#}): it runs on the CPU"
            ));
            drop(room);
            on_cpu()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use kino_cuda::pool::{Choice, Gpu};

    use super::*;

    /// A pool that believes it has one GPU with 4 GiB to lend.
    fn one_gpu() -> Arc<Pool> {
        let gpus = [Gpu {
            ordinal: 0,
            free_memory: kino_cuda::pool::RESERVE_BYTES + (4 << 30),
        }];
        Arc::new(Pool::new(&gpus, Choice::Auto, None).expect("a pool"))
    }

    /// A runtime that can use any GPU, and gives back what it frees.
    const CAN: Runtime = Runtime {
        gpu: Ok,
        keeps_freed: None,
    };

    const CANNOT: Runtime = Runtime {
        gpu: |_| Err("no CUDA here".into()),
        keeps_freed: None,
    };

    /// Loads a "model" (where it was loaded) as `what`; the notes left.
    fn place(
        devices: &Arc<Pool>,
        bytes: u64,
        runtime: Runtime,
        fails_on_gpu: bool,
    ) -> (Placed<Option<usize>>, Vec<String>) {
        let notes = Mutex::new(Vec::new());
        let note = |n: String| notes.lock().expect("notes").push(n);
        let placed = load(devices, "the model `m@1`", bytes, runtime, &note, |gpu| {
            if fails_on_gpu && gpu.is_some() {
                anyhow::bail!("out of memory");
            }
            Ok(gpu)
        })
        .expect("loads");
        (placed, notes.into_inner().expect("notes"))
    }

    #[test]
    fn a_model_goes_to_a_gpu_with_room_its_runtime_can_use_and_says_why_not() {
        // No GPU: the CPU, nothing to say.
        let cpu = Arc::new(Pool::new(&[], Choice::Auto, None).expect("a pool"));
        let (placed, notes) = place(&cpu, 1 << 20, CAN, false);
        assert_eq!((*placed, notes.len()), (None, 0));

        // Room and a runtime that can: on the GPU, its room held until the
        // model drops.
        let gpu = one_gpu();
        let (placed, notes) = place(&gpu, 1 << 30, CAN, false);
        assert_eq!(*placed, Some(0));
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(gpu.resident(), vec![(0, 1 << 30)]);
        drop(placed);
        assert_eq!(gpu.resident(), vec![(0, 0)]);

        // A runtime that can't: the CPU, the runtime's reason, no room kept.
        let (placed, notes) = place(&gpu, 1 << 30, CANNOT, false);
        assert_eq!(*placed, None);
        assert_eq!(notes, vec!["the model `m@1`: no CUDA here".to_owned()]);
        assert_eq!(gpu.resident(), vec![(0, 0)]);

        // Too big for the room there is.
        let (placed, notes) = place(&gpu, 5 << 30, CAN, false);
        assert_eq!(*placed, None);
        assert_eq!(
            notes,
            vec![
                "the model `m@1`: no GPU has the 5120 MiB it needs free: it runs on the CPU"
                    .to_owned()
            ]
        );

        // Loading on the GPU fails: the CPU after all, saying why, and the
        // room given back.
        let (placed, notes) = place(&gpu, 1 << 30, CAN, true);
        assert_eq!(*placed, None);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("loading it on cuda:0 failed (out of memory)"),
            "{notes:?}"
        );
        assert_eq!(gpu.resident(), vec![(0, 0)]);
    }

    #[test]
    fn a_runtime_that_keeps_what_its_models_free_keeps_their_room() {
        let gpu = one_gpu();
        let caching = Runtime {
            gpu: Ok,
            keeps_freed: Some("caching"),
        };
        let (placed, _) = place(&gpu, 3 << 30, caching, false);
        assert_eq!(*placed, Some(0));
        drop(placed);
        // The runtime kept the 3 GiB: another runtime's model no longer fits...
        assert_eq!(gpu.resident(), vec![(0, 3 << 30)]);
        let (placed, notes) = place(&gpu, 2 << 30, CAN, false);
        assert_eq!(*placed, None, "{notes:?}");
        // ...but the same runtime's next model does, in what it kept.
        let (placed, notes) = place(&gpu, 4 << 30, caching, false);
        assert_eq!(*placed, Some(0), "{notes:?}");
        assert_eq!(gpu.resident(), vec![(0, 4 << 30)]);
    }

    #[test]
    fn room_held_on_a_gpu_the_runtime_then_refuses_is_not_counted_as_kept() {
        let mib = |n: u64| kino_cuda::pool::RESERVE_BYTES + (n << 20);
        let gpus = [
            Gpu {
                ordinal: 0,
                free_memory: mib(400),
            },
            Gpu {
                ordinal: 1,
                free_memory: mib(300),
            },
        ];
        let pool = Arc::new(Pool::new(&gpus, Choice::Auto, None).expect("a pool"));
        // The runtime keeps 200 MiB on cuda:0, so cuda:1 has the most room,
        // but cuda:0 the most for this runtime's next model...
        drop(pool.hold_kept("caching", 200 << 20).expect("room"));
        let only_cuda1 = Runtime {
            gpu: |n| match n {
                1 => Ok(1),
                _ => Err(format!("cuda:{n} is not this runtime's")),
            },
            keeps_freed: Some("caching"),
        };
        // ...where it then cannot load: the CPU, and cuda:0 holds what
        // the runtime kept before, not the 300 MiB it never allocated.
        let (placed, notes) = place(&pool, 300 << 20, only_cuda1, false);
        assert_eq!(*placed, None);
        assert_eq!(notes, ["the model `m@1`: cuda:0 is not this runtime's"]);
        assert_eq!(pool.resident(), vec![(0, 200 << 20), (1, 0)]);
    }
}
