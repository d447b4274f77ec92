//! Kino's kernels as PTX for one architecture: compiled by NVRTC, or read
//! back from a cache on disk where an earlier process compiled them.
//!
//! NVRTC takes about 1.6 s over the whole program (measured on the H200
//! host), and every process pays it before its first GPU call: every
//! `kino run`, every worker restart. The PTX only depends on the program
//! text, NVRTC's options, the architecture and NVRTC's version, so a file
//! named by a hash of those is the same PTX. (The driver keeps its own
//! cache of the machine code it makes from PTX.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cudarc::nvrtc::Ptx;
use sha2::{Digest, Sha256};

use super::GpuError;
use crate::kernels;

/// `KINO_KERNEL_CACHE`: the folder compiled kernels are kept in; set but
/// empty, no cache.
pub const CACHE_ENV: &str = "KINO_KERNEL_CACHE";

/// Where the PTX came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// NVRTC compiled it in this process (and kept it here, if anywhere).
    Compiled(Option<PathBuf>),
    /// Read from this cache file.
    Cached(PathBuf),
}

/// The kernels for one architecture, and how long getting them took.
#[derive(Debug)]
pub struct Kernels {
    /// The module's PTX.
    pub ptx: Ptx,
    /// Compiled now, or read from the cache.
    pub origin: Origin,
    /// Time spent compiling or reading.
    pub took: Duration,
}

/// The cache folder: `$KINO_KERNEL_CACHE`, else `$XDG_CACHE_HOME/kino/cuda`,
/// else `$HOME/.cache/kino/cuda`; `None` where none is set (or the first
/// is set empty, to turn the cache off).
pub fn cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
    if let Some(dir) = var(CACHE_ENV) {
        return (!dir.as_os_str().is_empty()).then_some(dir);
    }
    let non_empty = |p: PathBuf| (!p.as_os_str().is_empty()).then_some(p);
    var("XDG_CACHE_HOME")
        .and_then(non_empty)
        .or_else(|| var("HOME").and_then(non_empty).map(|h| h.join(".cache")))
        .map(|cache| cache.join("kino").join("cuda"))
}

/// The kernels for `arch` (e.g. `compute_90`): from `cache` where an
/// earlier process left them, else compiled and left there. A cache that
/// cannot be read or written costs a compile, never the call.
pub fn kernels_for(arch: &str, cache: Option<&Path>) -> Result<Kernels, GpuError> {
    let started = Instant::now();
    let file = match cache {
        Some(dir) => Some(dir.join(format!("kino-{arch}-{}.ptx", key(arch)?))),
        None => None,
    };
    if let Some(file) = &file
        && let Ok(ptx) = std::fs::read_to_string(file)
        && whole(&ptx)
    {
        return Ok(Kernels {
            ptx: Ptx::from_src(ptx),
            origin: Origin::Cached(file.clone()),
            took: started.elapsed(),
        });
    }
    let ptx = super::compile(arch)?;
    let kept = file.filter(|file| keep(file, &ptx.to_src()).is_ok());
    Ok(Kernels {
        ptx,
        origin: Origin::Compiled(kept),
        took: started.elapsed(),
    })
}

/// Removes a cached file the driver would not load, so the next process
/// compiles afresh.
pub fn forget(origin: &Origin) {
    if let Origin::Cached(file) = origin {
        let _ = std::fs::remove_file(file);
    }
}

/// What the PTX depends on, hashed: the program, NVRTC's options, the
/// architecture and NVRTC's version.
fn key(arch: &str) -> Result<String, GpuError> {
    let (major, minor) = nvrtc_version()?;
    let mut hash = Sha256::new();
    hash.update(kernels::program());
    for option in kernels::NVRTC_OPTIONS {
        hash.update([0]);
        hash.update(option);
    }
    hash.update(format!("\0{arch}\0nvrtc {major}.{minor}"));
    Ok(hash.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn nvrtc_version() -> Result<(i32, i32), GpuError> {
    // SAFETY: only tries to dlopen the NVRTC library.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(GpuError(super::NO_NVRTC.to_owned()));
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: the library is present; NVRTC writes two ints.
    unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(|e| GpuError(format!("asking NVRTC its version: {e:?}")))?;
    Ok((major, minor))
}

/// Whether `ptx` defines every entry point: a file cut short (a full disk,
/// a process killed mid-write on a file system without atomic renames) is
/// compiled again rather than handed to the driver.
fn whole(ptx: &str) -> bool {
    kernels::SOURCES
        .iter()
        .flat_map(|s| s.entries)
        .all(|entry| ptx.contains(&format!(".entry {entry}(")))
}

/// Writes the PTX beside its name and renames it into place, so a process
/// reading it at the same moment sees the whole file or none.
fn keep(file: &Path, ptx: &str) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let part = dir.join(format!(
        ".{}.{}",
        file.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&part, ptx)?;
    std::fs::rename(&part, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&part);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NVRTC's library is here (`make nvrtc`), or the test says so and
    /// stops; CI, which has it, fails without it.
    fn nvrtc_here() -> bool {
        match nvrtc_version() {
            Ok(_) => true,
            Err(why) if std::env::var_os("CI").is_none_or(|v| v.is_empty()) => {
                println!("skipped: {why}");
                false
            }
            Err(why) => panic!("{why}"),
        }
    }

    #[test]
    fn the_second_process_reads_what_the_first_compiled() {
        if !nvrtc_here() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let first = kernels_for("compute_90", Some(dir.path())).expect("compile");
        let Origin::Compiled(Some(file)) = &first.origin else {
            panic!("not kept: {:?}", first.origin);
        };
        let second = kernels_for("compute_90", Some(dir.path())).expect("cached");
        assert_eq!(second.origin, Origin::Cached(file.clone()));
        assert_eq!(second.ptx.to_src(), first.ptx.to_src());
        // Another architecture is another file.
        let other = kernels_for("compute_80", Some(dir.path())).expect("compile");
        assert!(matches!(other.origin, Origin::Compiled(Some(ref f)) if f != file));
        // Nothing but the kept files: no part left behind.
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 2);
    }

    #[test]
    fn a_file_cut_short_or_forgotten_is_compiled_again() {
        if !nvrtc_here() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let first = kernels_for("compute_90", Some(dir.path())).expect("compile");
        let Origin::Compiled(Some(file)) = first.origin else {
            panic!("not kept");
        };
        let ptx = first.ptx.to_src();
        std::fs::write(&file, &ptx[..ptx.len() / 2]).expect("cut");
        let again = kernels_for("compute_90", Some(dir.path())).expect("compile");
        assert_eq!(again.origin, Origin::Compiled(Some(file.clone())));
        assert_eq!(std::fs::read_to_string(&file).expect("read"), ptx);

        forget(&Origin::Cached(file.clone()));
        assert!(!file.exists());
    }

    #[test]
    fn a_cache_that_cannot_be_written_costs_only_the_compile() {
        if !nvrtc_here() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let blocked = dir.path().join("a-file");
        std::fs::write(&blocked, "not a folder").expect("write");
        let got = kernels_for("compute_90", Some(&blocked)).expect("compile");
        assert_eq!(got.origin, Origin::Compiled(None));
        assert!(whole(&got.ptx.to_src()));
    }
}
