//! `kino-native`: the host's loader for operators' native kernel libraries,
//! shared libraries implementing the C ABI of
//! `kernels/native/include/kino_kernel.h` (version 1), and their signed
//! install.
//!
//! Native kernels are *trusted* code: installed by the operator (`kino
//! kernel install`), signed like plugins, never supplied by a tenant, and
//! run in the host's process. What is contained: the ABI version and every
//! descriptor are checked at load; each call gets host-owned buffers of the
//! checked size and its reported sizes are checked after; failures are
//! status codes with messages ([`KernelError`]); a panic in a Rust kernel
//! is caught by `kino-kernel-sdk` on the library's side. What is not: a
//! crash in a kernel (a bad pointer in C, `abort()`) ends the host process.
//!
//! ```no_run
//! use kino_native::{Format, NativeKernels};
//!
//! let kernels = NativeKernels::load_dir(".kino/kernels".as_ref())?;
//! let unsharp = kernels.get("unsharp-mask").expect("installed");
//! let mut instance = unsharp.start(
//!     &Format::Video { width: 2, height: 1, fps: 24.0 },
//!     r#"{"amount": 1.5}"#,
//! )?;
//! let mut output = [0u8; 6];
//! instance.video_frame(0, &[10, 20, 30, 40, 50, 60], &mut output)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod error;
mod install;
mod instance;
mod library;
#[doc(hidden)]
pub mod testing;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{KernelError, NativeError};
pub use install::{Installed, install, sign};
pub use instance::{AUDIO_BLOCK_FRAMES, Instance, JSON_OUTPUT_LIMIT, KernelHandle};
pub use kino_kernel_sdk::abi;
pub use kino_kernel_sdk::{Format, Kind};
pub use library::Library;

/// What a library says about one of its kernels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelInfo {
    /// The name pipelines use: `op = "native:NAME"`.
    pub name: String,
    /// One line from its author.
    pub description: String,
    /// Bumped by its author when its output changes.
    pub version: u32,
    /// The kind of stream it takes.
    pub input: Kind,
    /// The kind of stream it makes.
    pub output: Kind,
}

/// Whether `path` has a library's extension (`.so`, `.dylib`).
pub(crate) fn is_library_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("so" | "dylib")
    )
}

/// The library files of `dir` (its `*.so` and `*.dylib`, not hidden),
/// sorted; none when `dir` does not exist.
pub(crate) fn library_files(dir: &Path) -> Result<Vec<PathBuf>, NativeError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(NativeError::io(dir)(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(NativeError::io(dir))?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.starts_with('.'));
        if !hidden && is_library_file(&path) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Every kernel of a set of loaded libraries, by name. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct NativeKernels {
    kernels: Arc<BTreeMap<String, KernelHandle>>,
}

impl NativeKernels {
    /// No kernels.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Loads every library of `dir` (its `*.so` and `*.dylib` files, in
    /// file-name order; hidden files, such as an install's temporary ones,
    /// are skipped). A missing directory has no kernels; a library that
    /// fails to load, or two libraries exporting one name, is an error
    /// naming them. Signatures are checked by [`install`], not here.
    pub fn load_dir(dir: &Path) -> Result<NativeKernels, NativeError> {
        let mut libraries = Vec::new();
        for path in library_files(dir)? {
            libraries.push(Library::load(&path)?);
        }
        Self::from_libraries(libraries)
    }

    /// The kernels of `libraries`; two exporting one name is an error.
    pub fn from_libraries(
        libraries: impl IntoIterator<Item = Library>,
    ) -> Result<NativeKernels, NativeError> {
        let mut kernels: BTreeMap<String, KernelHandle> = BTreeMap::new();
        for library in libraries {
            for handle in library.handles() {
                let name = handle.info().name.clone();
                if let Some(first) = kernels.get(&name) {
                    return Err(NativeError::DuplicateKernel {
                        kernel: name,
                        first: first.library_path().to_owned(),
                        second: handle.library_path().to_owned(),
                    });
                }
                kernels.insert(name, handle);
            }
        }
        if !kernels.is_empty() {
            tracing::info!(kernels = kernels.len(), "native kernels loaded");
        }
        Ok(NativeKernels {
            kernels: Arc::new(kernels),
        })
    }

    /// The kernel named `name` (without the `native:` prefix).
    pub fn get(&self, name: &str) -> Option<KernelHandle> {
        self.kernels.get(name).cloned()
    }

    /// Every kernel with its library's path, by name.
    pub fn list(&self) -> Vec<(KernelInfo, PathBuf)> {
        self.kernels
            .values()
            .map(|h| (h.info().clone(), h.library_path().to_owned()))
            .collect()
    }

    /// How many kernels there are.
    pub fn len(&self) -> usize {
        self.kernels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.kernels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn handles_are_shareable_and_instances_movable() {
        assert_send_sync::<KernelHandle>();
        assert_send_sync::<NativeKernels>();
        assert_send_sync::<Library>();
        assert_send::<Instance>();
        assert_send_sync::<NativeError>();
    }

    #[test]
    fn a_missing_directory_has_no_kernels() {
        let dir = tempfile::tempdir().expect("temp dir");
        let kernels = NativeKernels::load_dir(&dir.path().join("absent")).expect("empty");
        assert!(kernels.is_empty());
        assert!(kernels.list().is_empty());
        assert!(kernels.get("unsharp-mask").is_none());
    }

    #[test]
    fn only_library_files_are_loaded() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in [
            "notes.txt",
            "lib.so.sig",
            ".kino-install-1-0.tmp",
            ".hidden.so",
        ] {
            std::fs::write(dir.path().join(name), b"not a library").expect("write");
        }
        assert!(library_files(dir.path()).expect("listed").is_empty());
        std::fs::write(dir.path().join("b.so"), b"x").expect("write");
        std::fs::write(dir.path().join("a.dylib"), b"x").expect("write");
        let files: Vec<_> = library_files(dir.path())
            .expect("listed")
            .into_iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(files, ["a.dylib", "b.so"]);
    }

    #[test]
    fn a_file_that_is_not_a_library_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("junk.so");
        std::fs::write(&path, b"not an ELF file").expect("write");
        let error = NativeKernels::load_dir(dir.path()).expect_err("refused");
        assert!(matches!(error, NativeError::Open { .. }), "{error}");
        assert!(error.to_string().contains("junk.so"), "{error}");
    }
}
