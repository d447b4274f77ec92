//! Compiles the CUDA kernels (`../cuda/cu/*.cu`) as C++ for the CPU, under
//! `emu/shim.h`, with `emu/launch.cpp`'s launchers.
//!
//! Floating-point contraction is off, as `--fmad=false` is for NVRTC, so a
//! kernel computes the same f32 operations in the same order on either.

fn main() {
    let cu = std::path::Path::new("../cuda/cu");
    for entry in std::fs::read_dir(cu).expect("kernels/cuda/cu") {
        println!(
            "cargo::rerun-if-changed={}",
            entry.expect("a kernel source").path().display()
        );
    }
    println!("cargo::rerun-if-changed=emu");
    cc::Build::new()
        .cpp(true)
        .file("emu/launch.cpp")
        .include("emu")
        .include(cu)
        .flag("-std=c++17")
        .flag("-ffp-contract=off")
        .flag_if_supported("-fno-fast-math")
        .warnings(true)
        .compile("kino_cuda_emu");
}
