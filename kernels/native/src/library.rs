//! One loaded library: its symbols checked, its descriptors read and checked
//! once, the loader's handle kept alive for as long as a kernel or an
//! instance of it exists.

use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kino_kernel_sdk::abi::{self, KinoKernel, KinoKernelTable};
use sha2::{Digest, Sha256};

use crate::{KernelHandle, KernelInfo, Kind, NativeError};

/// The most kernels one library may export.
const MAX_KERNELS: u32 = 1024;
/// The longest description read, in bytes.
const MAX_DESCRIPTION: usize = 1024;

/// The entry points of one kernel, checked to be non-NULL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) create: abi::CreateFn,
    pub(crate) process: abi::ProcessFn,
    pub(crate) destroy: abi::DestroyFn,
}

/// What every handle and instance of a library shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
    pub(crate) digest: [u8; 32],
    pub(crate) kernels: Vec<KernelInfo>,
    pub(crate) entries: Vec<Entry>,
    // Dropped last (fields drop in order): unloads the library once no
    // kernel, handle or instance needs it.
    _library: libloading::Library,
}

/// A native kernel library, loaded and checked.
///
/// Loading runs the library's initialisers in this process: load only
/// libraries the operator trusts (see the crate docs).
#[derive(Debug, Clone)]
pub struct Library {
    pub(crate) shared: Arc<Shared>,
}

impl Library {
    /// Loads the library at `path` and checks it: both symbols, the ABI
    /// version, and every descriptor (non-NULL entry points, a valid and
    /// unique name, a supported pair of kinds).
    pub fn load(path: &Path) -> Result<Library, NativeError> {
        let bytes = std::fs::read(path).map_err(NativeError::io(path))?;
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        drop(bytes);
        // A path without a slash would make the loader search the system's
        // library path instead of opening this file.
        let absolute = std::path::absolute(path).map_err(NativeError::io(path))?;
        let library = open(&absolute).map_err(|source| NativeError::Open {
            library: path.to_owned(),
            source,
        })?;
        let (kernels, entries) = read_table(path, &library)?;
        tracing::debug!(
            library = %path.display(),
            kernels = kernels.len(),
            "loaded a native kernel library"
        );
        Ok(Library {
            shared: Arc::new(Shared {
                path: path.to_owned(),
                sha256: hex::encode(digest),
                digest,
                kernels,
                entries,
                _library: library,
            }),
        })
    }

    /// The path it was loaded from.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The sha256 of the file's bytes, in hex.
    pub fn sha256(&self) -> &str {
        &self.shared.sha256
    }

    /// The sha256 of the file's bytes.
    pub fn digest(&self) -> &[u8; 32] {
        &self.shared.digest
    }

    /// Its kernels, in the library's order.
    pub fn kernels(&self) -> &[KernelInfo] {
        &self.shared.kernels
    }

    /// A handle on each of its kernels, in the library's order.
    pub fn handles(&self) -> impl Iterator<Item = KernelHandle> + '_ {
        (0..self.shared.kernels.len()).map(|index| KernelHandle {
            shared: Arc::clone(&self.shared),
            index,
        })
    }
}

#[cfg(unix)]
fn open(path: &Path) -> Result<libloading::Library, libloading::Error> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // RTLD_NOW: a library with an unresolved symbol is refused here, not
    // when a pipeline first reaches the code that needs it.
    // SAFETY: loading runs the library's initialisers; kernel libraries are
    // trusted, operator-installed code (the crate's trust model).
    unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }.map(Into::into)
}

#[cfg(not(unix))]
fn open(path: &Path) -> Result<libloading::Library, libloading::Error> {
    // SAFETY: as above.
    unsafe { libloading::Library::new(path) }
}

fn missing(path: &Path, symbol: &'static str) -> NativeError {
    NativeError::MissingSymbol {
        library: path.to_owned(),
        symbol,
    }
}

fn symbol_name(symbol: &'static [u8]) -> &'static str {
    std::str::from_utf8(&symbol[..symbol.len() - 1]).unwrap_or("?")
}

fn read_table(
    path: &Path,
    library: &libloading::Library,
) -> Result<(Vec<KernelInfo>, Vec<Entry>), NativeError> {
    // SAFETY: the header declares this symbol's type; a library exporting it
    // with another type breaks the ABI it claims (trusted code).
    let version = unsafe { library.get::<abi::AbiVersionFn>(abi::ABI_VERSION_SYMBOL) }
        .map_err(|_| missing(path, symbol_name(abi::ABI_VERSION_SYMBOL)))?;
    // SAFETY: as above.
    let table = unsafe { library.get::<abi::TableFn>(abi::TABLE_SYMBOL) }
        .map_err(|_| missing(path, symbol_name(abi::TABLE_SYMBOL)))?;
    // SAFETY: a C function of no arguments returning a u32.
    let found = unsafe { version() };
    if found != abi::KINO_KERNEL_ABI_VERSION {
        return Err(NativeError::AbiVersion {
            library: path.to_owned(),
            found,
            expected: abi::KINO_KERNEL_ABI_VERSION,
        });
    }
    // SAFETY: a C function of no arguments returning a pointer.
    let table: *const KinoKernelTable = unsafe { table() };
    let bad_table = |reason: String| NativeError::BadTable {
        library: path.to_owned(),
        reason,
    };
    // SAFETY: ABI 1 says the table is NULL or valid for the library's life.
    let table = unsafe { table.as_ref() }
        .ok_or_else(|| bad_table("kino_kernel_table() returned NULL".to_owned()))?;
    if table.count == 0 {
        return Err(bad_table("it lists no kernels".to_owned()));
    }
    if table.count > MAX_KERNELS {
        return Err(bad_table(format!(
            "it lists {} kernels, more than {MAX_KERNELS}",
            table.count
        )));
    }
    if table.kernels.is_null() {
        return Err(bad_table(format!(
            "it lists {} kernels at a NULL address",
            table.count
        )));
    }
    // SAFETY: the table promises `count` descriptors at `kernels`.
    let descriptors = unsafe { std::slice::from_raw_parts(table.kernels, table.count as usize) };
    let mut kernels: Vec<KernelInfo> = Vec::with_capacity(descriptors.len());
    let mut entries = Vec::with_capacity(descriptors.len());
    for (index, descriptor) in descriptors.iter().enumerate() {
        let (info, entry) = read_descriptor(path, index, descriptor)?;
        if kernels.iter().any(|k| k.name == info.name) {
            return Err(NativeError::DuplicateInLibrary {
                library: path.to_owned(),
                kernel: info.name,
            });
        }
        kernels.push(info);
        entries.push(entry);
    }
    Ok((kernels, entries))
}

/// The bytes of a NUL-terminated string, reading at most `max + 1` bytes;
/// `None` if there is no NUL within them.
///
/// # Safety
/// `text` is non-NULL and readable up to its NUL or `max + 1` bytes.
unsafe fn bounded_c_str<'a>(text: *const c_char, max: usize) -> Option<&'a [u8]> {
    let bytes = text.cast::<u8>();
    for len in 0..=max {
        // SAFETY: within the readable prefix, by the caller.
        if unsafe { *bytes.add(len) } == 0 {
            // SAFETY: the `len` bytes before the NUL were just read.
            return Some(unsafe { std::slice::from_raw_parts(bytes, len) });
        }
    }
    None
}

fn read_descriptor(
    path: &Path,
    index: usize,
    descriptor: &KinoKernel,
) -> Result<(KernelInfo, Entry), NativeError> {
    let bad = |name: Option<&str>, reason: String| NativeError::BadDescriptor {
        library: path.to_owned(),
        index,
        name: name.map(str::to_owned),
        reason,
    };
    if descriptor.name.is_null() {
        return Err(bad(None, "its name is NULL".to_owned()));
    }
    // SAFETY: a non-NULL C string, read no further than the longest name.
    let raw = unsafe { bounded_c_str(descriptor.name, abi::KINO_KERNEL_NAME_MAX) };
    let name = match raw {
        Some(raw) if kino_kernel_sdk::is_valid_kernel_name(raw) => {
            String::from_utf8_lossy(raw).into_owned()
        }
        _ => {
            // SAFETY: as above; only for the message.
            let shown = unsafe { bounded_c_str(descriptor.name, abi::KINO_KERNEL_NAME_MAX * 2) }
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_else(|| "(more than 128 bytes)".to_owned());
            return Err(NativeError::InvalidName {
                library: path.to_owned(),
                name: shown,
            });
        }
    };
    let description = if descriptor.description.is_null() {
        String::new()
    } else {
        // SAFETY: a non-NULL C string, read no further than the limit.
        let raw =
            unsafe { bounded_c_str(descriptor.description, MAX_DESCRIPTION) }.ok_or_else(|| {
                bad(
                    Some(&name),
                    format!("its description is longer than {MAX_DESCRIPTION} bytes"),
                )
            })?;
        String::from_utf8_lossy(raw).into_owned()
    };
    let kind = |raw: u32, field: &str| {
        Kind::from_raw(raw).ok_or_else(|| {
            bad(
                Some(&name),
                format!(
                    "its {field} kind is {raw}, expected KINO_KIND_VIDEO (1), KINO_KIND_AUDIO (2) or KINO_KIND_JSON (3)"
                ),
            )
        })
    };
    let input = kind(descriptor.input_kind, "input")?;
    let output = kind(descriptor.output_kind, "output")?;
    if !kino_kernel_sdk::is_supported_pair(input, output) {
        return Err(NativeError::UnsupportedKinds {
            library: path.to_owned(),
            kernel: name,
            input,
            output,
        });
    }
    let (Some(create), Some(process), Some(destroy)) =
        (descriptor.create, descriptor.process, descriptor.destroy)
    else {
        let nulls: Vec<&str> = [
            ("create", descriptor.create.is_none()),
            ("process", descriptor.process.is_none()),
            ("destroy", descriptor.destroy.is_none()),
        ]
        .into_iter()
        .filter_map(|(f, null)| null.then_some(f))
        .collect();
        let reason = match nulls.as_slice() {
            [one] => format!("`{one}` is NULL, expected a function"),
            many => format!("`{}` are NULL, expected functions", many.join("`, `")),
        };
        return Err(bad(Some(&name), reason));
    };
    Ok((
        KernelInfo {
            name,
            description,
            version: descriptor.version,
            input,
            output,
        },
        Entry {
            create,
            process,
            destroy,
        },
    ))
}
