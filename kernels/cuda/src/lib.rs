//! Kino's CUDA layer: which compute devices this host has — the CPU always,
//! CUDA GPUs where the host was built with CUDA and the driver is present.
//!
//! CUDA is behind the `cuda` cargo feature, off by default, so the default
//! build never compiles cudarc. Without the feature, the disabled twin
//! (`disabled.rs`) answers that this build has no CUDA; with it, `enabled.rs`
//! loads the driver dynamically. cudarc panics when its calls reach a missing
//! driver library, so detection checks for the library first and reports its
//! absence as a plain fact. Either way the CPU is there and kernels run on it.

#![deny(missing_docs)]

#[cfg_attr(feature = "cuda", path = "enabled.rs")]
#[cfg_attr(not(feature = "cuda"), path = "disabled.rs")]
mod driver;
pub mod flow;
#[cfg(feature = "cuda")]
pub mod gpu;
pub mod grading;
pub mod kernels;
pub mod mips;
pub mod node;
mod picture;
pub mod placed;
pub mod pool;

use std::fmt;

pub use picture::{Picture, PictureError};
pub use pool::{Choice, Placement, Pool, Ran};

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
        /// Device memory free when it was detected, in bytes.
        free_memory: usize,
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
                free_memory,
                compute_capability: (major, minor),
            } => write!(
                f,
                "cuda:{ordinal} {name} ({} MiB, {} MiB free, sm_{major}{minor})",
                total_memory >> 20,
                free_memory >> 20
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
    let cuda_unavailable = match driver::cuda_devices() {
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

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_build_without_cuda_says_so() {
        let found = detect();
        assert_eq!(found.devices.len(), 1, "{found:?}");
        let why = found.cuda_unavailable.expect("a reason");
        assert!(why.contains("built without CUDA"), "{why}");
    }
}
