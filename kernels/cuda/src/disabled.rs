//! The twin of `enabled.rs` for builds without the `cuda` feature: there is
//! no CUDA code in this binary, and detection says so.

use crate::Device;

/// Never any GPU: this build has no CUDA.
pub(crate) fn cuda_devices() -> Result<Vec<Device>, String> {
    Err("this kino was built without CUDA (build with `--features cuda`)".to_owned())
}
