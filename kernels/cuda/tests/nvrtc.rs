//! Every CUDA kernel compiles with NVRTC, for the architectures Kino's GPUs
//! have (A100: sm_80, H100/H200: sm_90). Compiling needs only the NVRTC
//! library, not a GPU: `make test` installs one (`make nvrtc`) and puts it
//! on LD_LIBRARY_PATH, and CI (where `CI` is set) fails without it.
#![cfg(feature = "cuda")]

use kino_cuda::kernels::SOURCES;

#[test]
fn every_kernel_compiles_to_ptx_with_nvrtc() {
    for arch in ["compute_80", "compute_90"] {
        let ptx = match kino_cuda::gpu::compile(arch) {
            Ok(ptx) => ptx.to_src(),
            Err(why) if std::env::var_os("CI").is_none_or(|v| v.is_empty()) => {
                println!("skipped: {why}");
                return;
            }
            Err(why) => panic!("{why}"),
        };
        for entry in SOURCES.iter().flat_map(|s| s.entries) {
            assert!(
                ptx.contains(&format!(".entry {entry}(")),
                "{arch}: no {entry} in the PTX"
            );
        }
        // Without --fmad=false the LUT's weighted sums would fuse and drift
        // from the CPU's; the PTX must multiply and add separately.
        assert!(
            !ptx.contains("fma.rn.f32"),
            "{arch}: fused multiply-adds in the PTX"
        );
        println!(
            "{arch}: {} bytes of PTX, every entry point present",
            ptx.len()
        );
    }
}
