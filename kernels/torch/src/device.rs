//! Where TorchScript models run: the CPU, or a CUDA GPU when the libtorch
//! this process loaded has CUDA.
//!
//! Kino builds against a CPU libtorch (`make libtorch` keeps only its CPU
//! libraries), so CUDA comes from a CUDA libtorch of the same version put
//! on the library path (PyTorch 2.11's `torch/lib`, for one): its
//! `libtorch_cuda.so` is loaded on first use, which registers CUDA with the
//! libtorch already loaded. Where it is absent, models run on the CPU, and
//! the reason is given for the job's notes.

/// Where a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelDevice {
    /// The host CPU.
    Cpu,
    /// The CUDA GPU with this ordinal.
    Cuda(usize),
}

impl std::fmt::Display for ModelDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelDevice::Cpu => f.write_str("cpu"),
            ModelDevice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// The device for models when the host would put work on GPU `gpu`
/// (`None`: the CPU), and why it is the CPU when a GPU was wanted.
pub fn resolve(gpu: Option<usize>) -> (ModelDevice, Option<String>) {
    let Some(ordinal) = gpu else {
        return (ModelDevice::Cpu, None);
    };
    match cuda_devices() {
        Ok(count) if ordinal < count => (ModelDevice::Cuda(ordinal), None),
        Ok(count) => (
            ModelDevice::Cpu,
            Some(format!(
                "libtorch sees {count} CUDA device(s), not cuda:{ordinal}: models run on the CPU"
            )),
        ),
        Err(why) => (
            ModelDevice::Cpu,
            Some(format!("{why}: models run on the CPU")),
        ),
    }
}

/// How many CUDA devices libtorch sees, once `libtorch_cuda.so` is loaded.
#[cfg(feature = "torch")]
fn cuda_devices() -> Result<usize, String> {
    use std::sync::OnceLock;
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            // SAFETY: loading libtorch's own CUDA library runs its static
            // initialisers, which register CUDA with the libtorch already
            // loaded (the same version: a CUDA libtorch's lib directory is
            // on the library path, ahead of the CPU one); it stays loaded
            // for the life of the process.
            let library = unsafe {
                libloading::os::unix::Library::open(
                    Some("libtorch_cuda.so"),
                    libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL,
                )
            };
            match library {
                Ok(library) => {
                    std::mem::forget(library);
                    Ok(())
                }
                Err(e) => Err(format!(
                    "this libtorch has no CUDA ({e}; put a CUDA libtorch 2.11's lib directory on LD_LIBRARY_PATH)"
                )),
            }
        })
        .clone()?;
    if !tch::Cuda::is_available() {
        return Err("libtorch_cuda.so is loaded, but libtorch finds no CUDA device".to_owned());
    }
    Ok(tch::Cuda::device_count().max(0) as usize)
}

#[cfg(not(feature = "torch"))]
fn cuda_devices() -> Result<usize, String> {
    Err(crate::NOT_BUILT.to_owned())
}

#[cfg(feature = "torch")]
impl From<ModelDevice> for tch::Device {
    fn from(device: ModelDevice) -> Self {
        match device {
            ModelDevice::Cpu => tch::Device::Cpu,
            ModelDevice::Cuda(n) => tch::Device::Cuda(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_asks_nothing_and_a_gpu_that_cannot_be_had_says_why() {
        assert_eq!(resolve(None), (ModelDevice::Cpu, None));
        match resolve(Some(0)) {
            // A machine with a CUDA libtorch on its library path, and a GPU.
            (ModelDevice::Cuda(0), None) => {}
            (ModelDevice::Cpu, Some(why)) => {
                assert!(why.ends_with("models run on the CPU"), "{why}");
                if crate::ENABLED {
                    assert!(why.contains("libtorch"), "{why}");
                } else {
                    assert!(why.contains("without TorchScript support"), "{why}");
                }
            }
            other => panic!("{other:?}"),
        }
        // No machine has this many.
        assert_eq!(resolve(Some(4096)).0, ModelDevice::Cpu);
    }
}
