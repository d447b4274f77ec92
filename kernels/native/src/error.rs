//! The crate's errors: [`NativeError`] for loading and installing libraries,
//! [`KernelError`] for one kernel's calls.

use std::path::PathBuf;

use crate::Kind;

/// Loading, checking or installing a native kernel library failed.
///
/// Every variant names the library (or directory) and what was expected;
/// messages are lowercase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NativeError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The dynamic loader refused the file.
    #[error("{}: cannot load it as a shared library: {source}", library.display())]
    Open {
        /// The library.
        library: PathBuf,
        /// The loader's error.
        #[source]
        source: libloading::Error,
    },
    /// A symbol every kernel library exports is missing.
    #[error(
        "{}: missing symbol `{symbol}`: a kernel library exports `kino_kernel_abi_version` and `kino_kernel_table` (see kino_kernel.h)",
        library.display()
    )]
    MissingSymbol {
        /// The library.
        library: PathBuf,
        /// The missing symbol.
        symbol: &'static str,
    },
    /// The library implements another version of the ABI.
    #[error(
        "{}: kernel ABI version {found}, expected {expected} (rebuild it against this host's kino_kernel.h)",
        library.display()
    )]
    AbiVersion {
        /// The library.
        library: PathBuf,
        /// The version it returned.
        found: u32,
        /// The version this host implements.
        expected: u32,
    },
    /// The library's table is missing or malformed.
    #[error("{}: bad kernel table: {reason}", library.display())]
    BadTable {
        /// The library.
        library: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// One descriptor of the table is malformed.
    #[error("{}: kernel #{index}{}: {reason}", library.display(), name.as_ref().map(|n| format!(" `{n}`")).unwrap_or_default())]
    BadDescriptor {
        /// The library.
        library: PathBuf,
        /// The descriptor's index in the table.
        index: usize,
        /// The kernel's name, when it could be read.
        name: Option<String>,
        /// What is wrong, and what was expected.
        reason: String,
    },
    /// A kernel's name breaks the naming rule.
    #[error(
        "{}: kernel name `{name}` is not valid: expected 1 to 64 lowercase ASCII letters, digits or '-'",
        library.display()
    )]
    InvalidName {
        /// The library.
        library: PathBuf,
        /// The name (lossily decoded).
        name: String,
    },
    /// A kernel goes from one kind to another ABI 1 does not support.
    #[error(
        "{}: kernel `{kernel}` is {input}→{output}, which ABI 1 does not support: it supports {}",
        library.display(),
        kino_kernel_sdk::SUPPORTED_PAIRS
    )]
    UnsupportedKinds {
        /// The library.
        library: PathBuf,
        /// The kernel.
        kernel: String,
        /// Its input kind.
        input: Kind,
        /// Its output kind.
        output: Kind,
    },
    /// One library exports two kernels with the same name.
    #[error("{}: exports kernel `{kernel}` twice", library.display())]
    DuplicateInLibrary {
        /// The library.
        library: PathBuf,
        /// The repeated name.
        kernel: String,
    },
    /// Two libraries of a directory export the same kernel name.
    #[error(
        "kernel `{kernel}` is exported by both {} and {}: names must be unique",
        first.display(),
        second.display()
    )]
    DuplicateKernel {
        /// The name.
        kernel: String,
        /// The library loaded first.
        first: PathBuf,
        /// The other library.
        second: PathBuf,
    },
    /// Installing would give a kernel name to a second library.
    #[error(
        "{}: kernel `{kernel}` is already provided by {}: remove that library first, or install under its file name to replace it",
        library.display(),
        installed.display()
    )]
    AlreadyProvided {
        /// The library being installed.
        library: PathBuf,
        /// The name.
        kernel: String,
        /// The installed library that provides it.
        installed: PathBuf,
    },
    /// The library's file name would not be loaded from the kernel directory.
    #[error("{}: a kernel library's file name must end in .so or .dylib", library.display())]
    BadFileName {
        /// The library.
        library: PathBuf,
    },
    /// A signature was required and none was given.
    #[error(
        "{} is not signed and the policy requires a signature (sign it with `kino kernel sign`)",
        library.display()
    )]
    Unsigned {
        /// The library.
        library: PathBuf,
    },
    /// The signature is malformed, untrusted or does not match the library.
    #[error("{}: signature refused: {source}", library.display())]
    Signature {
        /// The library.
        library: PathBuf,
        /// Why.
        #[source]
        source: kino_registry::RegistryError,
    },
    /// The library's file changed between its checks and its copy.
    #[error(
        "{}: the file changed while it was being installed (sha256 {checked}, then {copied})",
        library.display()
    )]
    Changed {
        /// The library.
        library: PathBuf,
        /// The hash of what was loaded and checked.
        checked: String,
        /// The hash of what was read to copy.
        copied: String,
    },
}

impl NativeError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| NativeError::Io { path, source }
    }
}

/// A kernel call failed: the kernel's own status code and message, or the
/// host's refusal of a call before it reached the kernel (code
/// [`KINO_ERR_INVALID`](kino_kernel_sdk::abi::KINO_ERR_INVALID), e.g. a frame
/// of the wrong size).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("native kernel `{kernel}` failed (code {code}): {message}")]
pub struct KernelError {
    /// The kernel's name.
    pub kernel: String,
    /// The status code (`KINO_ERR_*`).
    pub code: i32,
    /// What went wrong.
    pub message: String,
}
