//! CUDA devices through cudarc, with the driver library loaded at run time.

use std::sync::Arc;

use cudarc::driver::sys::{self, CUctx_flags_enum};
use cudarc::driver::{CudaContext, DriverError};

use crate::Device;

/// The scheduling FFmpeg's CUDA device asks of the primary context it
/// shares: a thread waiting for the GPU sleeps rather than spins.
const SHARED_FLAGS: u32 = CUctx_flags_enum::CU_CTX_SCHED_BLOCKING_SYNC as u32;

/// CUDA device `ordinal`'s primary context: the one the kernels run in,
/// and the one kino-media opens FFmpeg's device on, so that NVDEC's frames
/// are addresses the kernels can read. FFmpeg takes the primary context
/// only with blocking-sync scheduling, and whoever activates it first sets
/// its flags: so this asks for that scheduling too, where the context is
/// not active yet. (Active with other flags, as another library may leave
/// it, FFmpeg opens a context of its own and kino-media says so.)
pub(crate) fn primary_context(ordinal: usize) -> Result<Arc<CudaContext>, DriverError> {
    cudarc::driver::result::init()?;
    let ordinal_c = i32::try_from(ordinal).unwrap_or(i32::MAX);
    let device = cudarc::driver::result::device::get(ordinal_c)?;
    let (mut flags, mut active) = (0u32, 0i32);
    // SAFETY: the driver is initialised and `device` is one of its
    // devices; the state is read into two locals.
    unsafe {
        sys::cuDevicePrimaryCtxGetState(device, &mut flags, &mut active).result()?;
        if active == 0 && flags != SHARED_FLAGS {
            sys::cuDevicePrimaryCtxSetFlags_v2(device, SHARED_FLAGS).result()?;
        }
    }
    CudaContext::new(ordinal)
}

/// The CUDA GPUs the driver reports, or why there are none.
pub(crate) fn cuda_devices() -> Result<Vec<Device>, String> {
    // SAFETY: only tries to dlopen the driver library; loads nothing else.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("no CUDA driver library (libcuda) on this machine".to_owned());
    }
    let count = CudaContext::device_count()
        .map_err(|e| format!("the CUDA driver failed to start: {e:?}"))?;
    let mut gpus = Vec::new();
    for ordinal in 0..usize::try_from(count).unwrap_or(0) {
        let context = primary_context(ordinal)
            .map_err(|e| format!("cuda:{ordinal} failed to open: {e:?}"))?;
        let (free_memory, _) = context.mem_get_info().unwrap_or((0, 0));
        gpus.push(Device::Cuda {
            ordinal,
            name: context.name().unwrap_or_else(|_| "unknown".to_owned()),
            total_memory: context.total_mem().unwrap_or(0),
            free_memory,
            compute_capability: context.compute_capability().unwrap_or((0, 0)),
        });
    }
    Ok(gpus)
}
