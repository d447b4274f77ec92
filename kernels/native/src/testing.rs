//! For tests (this crate's and the host's end-to-end ones): builds the
//! example kernel libraries from their source, so no test uses a hand-built
//! file. Not part of the API.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// This crate's directory (`kernels/native`).
fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory of `kino_kernel.h`.
pub fn include_dir() -> PathBuf {
    manifest_dir().join("include")
}

/// The C compiler: `$CC`, else `cc`.
pub fn c_compiler() -> String {
    std::env::var("CC")
        .ok()
        .filter(|cc| !cc.trim().is_empty())
        .unwrap_or_else(|| "cc".to_owned())
}

/// The file name of a shared library named `name` on this platform
/// (`libNAME.so`, `libNAME.dylib`).
pub fn library_file_name(name: &str) -> String {
    if cfg!(target_os = "macos") {
        format!("lib{name}.dylib")
    } else {
        format!("lib{name}.so")
    }
}

/// A unique temporary name beside `path`, not ending in a library extension.
fn temp_beside(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut name = path.as_os_str().to_owned();
    name.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    PathBuf::from(name)
}

/// Moves `from` to `to` by renaming: a library already loaded from `to`
/// keeps its old mapping instead of seeing its file rewritten under it.
fn replace(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::rename(from, to)
        .map_err(|e| format!("moving {} to {}: {e}", from.display(), to.display()))
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("{what}: cannot run {:?}: {e}", command.get_program()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Compiles the C source `source` against `kino_kernel.h` into the shared
/// library `output`, with `extra` arguments (`-D...`).
pub fn build_c(source: &Path, output: &Path, extra: &[&str]) -> Result<PathBuf, String> {
    let temp = temp_beside(output);
    let mut command = Command::new(c_compiler());
    command
        .args(["-std=c99", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra"])
        .arg("-I")
        .arg(include_dir())
        .args(extra)
        .arg(source)
        .arg("-o")
        .arg(&temp);
    run(&mut command, &format!("compiling {}", source.display()))?;
    replace(&temp, output)?;
    Ok(output.to_owned())
}

/// Builds `examples/unsharp.c` into `out_dir` (created if missing);
/// returns the library's path (`libunsharp.so`).
pub fn build_c_example(out_dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out_dir).map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    build_c(
        &manifest_dir().join("examples/unsharp.c"),
        &out_dir.join(library_file_name("unsharp")),
        &[],
    )
}

/// Builds the Rust example `kernels/noise-gate` (`cargo build --release -p
/// kino-noise-gate`, with its own target directory `out_dir/target`, so it
/// never waits on the lock of an outer build) and copies the library into
/// `out_dir`; returns its path (`libkino_noise_gate.so`).
pub fn build_noise_gate(out_dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out_dir).map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    let workspace = manifest_dir()
        .parent()
        .and_then(Path::parent)
        .ok_or("kernels/native sits two levels below the workspace root")?;
    let target_dir = out_dir.join("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--release", "--quiet", "-p", "kino-noise-gate"])
        .arg("--target-dir")
        .arg(&target_dir);
    // Settings of the outer build (or the test run) must not leak in: a
    // different target, wrapper or flags would rebuild or misbuild it.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        command.env_remove(var);
    }
    run(&mut command, "building kino-noise-gate")?;
    let name = library_file_name("kino_noise_gate");
    let built = target_dir.join("release").join(&name);
    let output = out_dir.join(&name);
    let temp = temp_beside(&output);
    std::fs::copy(&built, &temp)
        .map_err(|e| format!("copying {} to {}: {e}", built.display(), temp.display()))?;
    replace(&temp, &output)?;
    Ok(output)
}
