//! Which compute devices this host has: the CPU always, CUDA GPUs where the
//! driver library is present.
//!
//! Kernels take a [`Device`] so that CUDA implementations can slot in behind
//! the same API; until one exists for a kernel, its CPU path runs. cudarc
//! panics when its calls reach a missing driver library, so detection checks
//! for the library first and reports its absence as a plain fact.

use std::fmt;

/// A device a kernel can run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// The host CPU, with this many worker threads.
    Cpu {
        /// Threads available to kernels (rayon's pool).
        threads: usize,
    },
    /// A CUDA GPU.
    Cuda {
        /// The device ordinal.
        ordinal: usize,
        /// The device name, as the driver reports it.
        name: String,
        /// Total device memory, in bytes.
        total_memory: usize,
        /// Compute capability (major, minor).
        compute_capability: (i32, i32),
    },
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu { threads } => write!(f, "cpu ({threads} threads)"),
            Device::Cuda {
                ordinal,
                name,
                total_memory,
                compute_capability: (major, minor),
            } => write!(
                f,
                "cuda:{ordinal} {name} ({} MiB, sm_{major}{minor})",
                total_memory >> 20
            ),
        }
    }
}

/// What detection found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devices {
    /// Every usable device; the CPU is always first.
    pub devices: Vec<Device>,
    /// Why there is no CUDA device, when there is none.
    pub cuda_unavailable: Option<String>,
}

/// Finds the CPU and any CUDA GPUs.
pub fn detect() -> Devices {
    let mut devices = vec![Device::Cpu {
        threads: rayon::current_num_threads(),
    }];
    let cuda_unavailable = match cuda_devices() {
        Ok(gpus) if gpus.is_empty() => Some("the CUDA driver reports no devices".to_owned()),
        Ok(gpus) => {
            devices.extend(gpus);
            None
        }
        Err(why) => Some(why),
    };
    Devices {
        devices,
        cuda_unavailable,
    }
}

fn cuda_devices() -> Result<Vec<Device>, String> {
    // SAFETY: only tries to dlopen the driver library; loads nothing else.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("no CUDA driver library (libcuda) on this machine".to_owned());
    }
    let count = cudarc::driver::CudaContext::device_count()
        .map_err(|e| format!("the CUDA driver failed to start: {e:?}"))?;
    let mut gpus = Vec::new();
    for ordinal in 0..usize::try_from(count).unwrap_or(0) {
        let context = cudarc::driver::CudaContext::new(ordinal)
            .map_err(|e| format!("cuda:{ordinal} failed to open: {e:?}"))?;
        gpus.push(Device::Cuda {
            ordinal,
            name: context.name().unwrap_or_else(|_| "unknown".to_owned()),
            total_memory: context.total_mem().unwrap_or(0),
            compute_capability: context.compute_capability().unwrap_or((0, 0)),
        });
    }
    Ok(gpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_is_always_there_and_a_missing_gpu_is_explained() {
        let found = detect();
        assert!(matches!(found.devices[0], Device::Cpu { threads } if threads >= 1));
        let gpus = found.devices.len() - 1;
        // Either GPUs were found, or there is a reason why not — never both, never neither.
        assert_eq!(gpus == 0, found.cuda_unavailable.is_some(), "{found:?}");
        for device in &found.devices {
            assert!(!device.to_string().is_empty());
        }
    }
}
