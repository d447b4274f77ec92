//! Signing a library and installing it into a kernel directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use kino_registry::{KeyId, Signature, SignaturePolicy, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::{KernelInfo, Library, NativeError, is_library_file};

/// What [`install`] put in the kernel directory.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The library's file name in the directory.
    pub file_name: String,
    /// Its path in the directory.
    pub path: PathBuf,
    /// The sha256 (hex) of its bytes.
    pub sha256: String,
    /// Its kernels.
    pub kernels: Vec<KernelInfo>,
    /// Who signed it, when it was signed (`FILE.sig` beside it).
    pub signer: Option<KeyId>,
    /// Whether it replaced a library of the same file name.
    pub replaced: bool,
}

/// Signs the library at `library` (after loading and checking it): the
/// signature covers the sha256 of its bytes. Write [`Signature::to_text`]
/// to `LIBRARY.sig`.
pub fn sign(library: &Path, key: &SigningKey) -> Result<Signature, NativeError> {
    let loaded = Library::load(library)?;
    Ok(kino_registry::sign_native(loaded.digest(), key))
}

/// Installs the library at `library` into the kernel directory `dir`.
///
/// In order, refusing at the first problem and leaving `dir` untouched:
/// loads and checks the library from where it is; checks `signature` (a
/// file holding [`Signature::to_text`]) against `trusted` per `policy` (under
/// [`SignaturePolicy::Optional`] an absent signature is accepted, a present
/// one must verify); refuses a kernel name that another library in `dir`
/// already provides (a library of the same file name is replaced). Then
/// writes the library (and `FILE.sig`, or removes a stale one) through a
/// temporary file renamed into place, so a host loading `dir` meanwhile
/// sees the old file or the new one, never a partial one.
pub fn install(
    library: &Path,
    dir: &Path,
    signature: Option<&Path>,
    policy: SignaturePolicy,
    trusted: &[VerifyingKey],
) -> Result<Installed, NativeError> {
    let file_name = library
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| is_library_file(Path::new(n)) && !n.starts_with('.'))
        .ok_or_else(|| NativeError::BadFileName {
            library: library.to_owned(),
        })?
        .to_owned();
    let loaded = Library::load(library)?;

    let signer = match signature {
        Some(sig_path) => {
            let text = std::fs::read_to_string(sig_path).map_err(NativeError::io(sig_path))?;
            let refused = |source| NativeError::Signature {
                library: library.to_owned(),
                source,
            };
            let signature = Signature::parse(&text).map_err(refused)?;
            let signer = kino_registry::verify_native(loaded.digest(), &signature, trusted)
                .map_err(refused)?;
            Some((signer, signature))
        }
        None if policy == SignaturePolicy::Required => {
            return Err(NativeError::Unsigned {
                library: library.to_owned(),
            });
        }
        None => None,
    };

    let target = dir.join(&file_name);
    check_conflicts(library, &loaded, dir, &file_name)?;

    // Copy exactly the bytes that were checked and signed.
    let bytes = std::fs::read(library).map_err(NativeError::io(library))?;
    let copied: [u8; 32] = Sha256::digest(&bytes).into();
    if &copied != loaded.digest() {
        return Err(NativeError::Changed {
            library: library.to_owned(),
            checked: loaded.sha256().to_owned(),
            copied: hex::encode(copied),
        });
    }

    std::fs::create_dir_all(dir).map_err(NativeError::io(dir))?;
    let replaced = target.exists();
    let sig_target = dir.join(format!("{file_name}.sig"));
    // Both files are written in full before either is renamed into place.
    let staged_library = Staged::write(dir, &bytes, true)?;
    let staged_signature = match &signer {
        Some((_, signature)) => Some(Staged::write(dir, signature.to_text().as_bytes(), false)?),
        None => None,
    };
    staged_library.commit(&target)?;
    match staged_signature {
        Some(staged) => staged.commit(&sig_target)?,
        // A signature left from a replaced library would not match it.
        None => match std::fs::remove_file(&sig_target) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(NativeError::io(&sig_target)(e));
            }
            _ => {}
        },
    }
    let signer = signer.map(|(key, _)| key);
    tracing::info!(
        library = %target.display(),
        sha256 = loaded.sha256(),
        signer = signer.as_ref().map(KeyId::as_str),
        "installed a native kernel library"
    );
    Ok(Installed {
        file_name,
        path: target,
        sha256: loaded.sha256().to_owned(),
        kernels: loaded.kernels().to_vec(),
        signer,
        replaced,
    })
}

/// Refuses a kernel name provided by another library of `dir`.
fn check_conflicts(
    library: &Path,
    loaded: &Library,
    dir: &Path,
    file_name: &str,
) -> Result<(), NativeError> {
    for other in crate::library_files(dir)? {
        if other.file_name().and_then(|n| n.to_str()) == Some(file_name) {
            continue;
        }
        let installed = Library::load(&other)?;
        if let Some(kernel) = loaded
            .kernels()
            .iter()
            .find(|k| installed.kernels().iter().any(|i| i.name == k.name))
        {
            return Err(NativeError::AlreadyProvided {
                library: library.to_owned(),
                kernel: kernel.name.clone(),
                installed: other,
            });
        }
    }
    Ok(())
}

/// A temporary file in the kernel directory, removed unless committed.
struct Staged {
    path: PathBuf,
    committed: bool,
}

impl Staged {
    /// Writes `bytes` to a new temporary file in `dir`.
    fn write(dir: &Path, bytes: &[u8], executable: bool) -> Result<Staged, NativeError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        // Not a library's name, so a concurrent `load_dir` never picks it up.
        let path = dir.join(format!(
            ".kino-install-{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(NativeError::io(&path))?;
        // From here on, dropping `staged` removes the file.
        let staged = Staged {
            path,
            committed: false,
        };
        let written = (|| {
            file.write_all(bytes)?;
            #[cfg(unix)]
            if executable {
                use std::os::unix::fs::PermissionsExt as _;
                file.set_permissions(std::fs::Permissions::from_mode(0o755))?;
            }
            #[cfg(not(unix))]
            let _ = executable;
            file.sync_all()
        })();
        written.map_err(NativeError::io(&staged.path))?;
        Ok(staged)
    }

    /// Renames it to `target`, replacing what was there.
    fn commit(mut self, target: &Path) -> Result<(), NativeError> {
        std::fs::rename(&self.path, target).map_err(NativeError::io(target))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
