//! kino-native's tests, one binary: the C example and hand-written C test
//! libraries (built with the system C compiler at test time), the Rust
//! example (built with a nested cargo), and install.
//!
//! Tests that compile C are ignored where there is no C compiler, except
//! under `CI` (see build.rs).

mod c_abi;
mod install;
mod rust_kernels;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The noise gate library, built once per test run into the test target's
/// scratch directory (kept between runs, so a rebuild is incremental).
pub fn noise_gate() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        kino_native::testing::build_noise_gate(
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join("noise-gate"),
        )
    });
    match built {
        Ok(path) => path,
        Err(e) => panic!("building the noise gate: {e}"),
    }
}

/// Builds the C source `source` (which includes kino_kernel.h) into
/// `dir/libNAME.so`.
pub fn build_c(dir: &Path, name: &str, source: &str) -> PathBuf {
    let file = dir.join(format!("{name}.c"));
    std::fs::write(&file, source).expect("writing the C source");
    let library = dir.join(kino_native::testing::library_file_name(name));
    kino_native::testing::build_c(&file, &library, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// The names in `dir` (none if it does not exist), sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
