//! CUDA devices through cudarc, with the driver library loaded at run time.

use crate::Device;

/// The CUDA GPUs the driver reports, or why there are none.
pub(crate) fn cuda_devices() -> Result<Vec<Device>, String> {
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
