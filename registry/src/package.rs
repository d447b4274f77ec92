//! Plugin packages: a directory or a `.tar.gz` of one.
//!
//! A package holds `kino-plugin.toml`, `plugin.wasm`, optional assets (such as
//! `.cube` LUTs) and optionally `kino-plugin.sig`, its signature. Archives are
//! read into memory with strict limits: no absolute paths, no `..`, no links
//! or devices, at most [`MAX_ENTRIES`] entries, [`MAX_ENTRY_BYTES`] per file
//! and [`MAX_TOTAL_BYTES`] in all. Directories obey the same rules.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::manifest::MANIFEST_FILE;
use crate::signing::{SIGNATURE_FILE, Signature};
use crate::{Manifest, RegistryError};

/// The component's file name inside a package.
pub const COMPONENT_FILE: &str = "plugin.wasm";
/// The most entries (files and directories) a package may have.
pub const MAX_ENTRIES: usize = 256;
/// The largest single file in a package (32 MiB).
pub const MAX_ENTRY_BYTES: u64 = 32 << 20;
/// The most bytes all files of a package may add up to (64 MiB).
pub const MAX_TOTAL_BYTES: u64 = 64 << 20;

/// The sha256 digest of a package's contents (everything but the signature).
///
/// It is computed over a canonical encoding of the files sorted by relative
/// path — `b"kino-package-v1\0"`, then for each file the path's length (u64
/// big-endian), the path, the contents' length (u64 big-endian) and the
/// contents — so a directory and its archive have the same digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackageDigest(pub [u8; 32]);

impl fmt::Display for PackageDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// An opened, validated package, held in memory.
#[derive(Debug, Clone)]
pub struct Package {
    source: PathBuf,
    manifest: Manifest,
    files: BTreeMap<String, Vec<u8>>,
    signature: Option<Signature>,
}

/// Collects entries while enforcing the limits.
struct Collector<'a> {
    package: &'a Path,
    entries: usize,
    total: u64,
    files: BTreeMap<String, Vec<u8>>,
}

impl Collector<'_> {
    fn refuse(&self, entry: &str, reason: &'static str) -> RegistryError {
        RegistryError::UnsafeEntry {
            package: self.package.to_owned(),
            entry: entry.to_owned(),
            reason,
        }
    }

    fn count(&mut self) -> Result<(), RegistryError> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(RegistryError::TooManyEntries {
                package: self.package.to_owned(),
                limit: MAX_ENTRIES,
            });
        }
        Ok(())
    }

    /// Checks a declared size before reading anything.
    fn check_size(&self, entry: &str, size: u64) -> Result<(), RegistryError> {
        if size > MAX_ENTRY_BYTES {
            return Err(RegistryError::EntryTooLarge {
                package: self.package.to_owned(),
                entry: entry.to_owned(),
                size,
                limit: MAX_ENTRY_BYTES,
            });
        }
        if self.total + size > MAX_TOTAL_BYTES {
            return Err(RegistryError::PackageTooLarge {
                package: self.package.to_owned(),
                entry: entry.to_owned(),
                limit: MAX_TOTAL_BYTES,
            });
        }
        Ok(())
    }

    /// Reads at most the limits from `reader`, whatever its header claimed.
    fn add(
        &mut self,
        entry: String,
        declared: u64,
        reader: impl Read,
    ) -> Result<(), RegistryError> {
        self.check_size(&entry, declared)?;
        let mut bytes = Vec::new();
        reader
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(RegistryError::io(self.package.join(&entry)))?;
        let size = bytes.len() as u64;
        self.check_size(&entry, size)?;
        self.total += size;
        if self.files.insert(entry.clone(), bytes).is_some() {
            return Err(self.refuse(&entry, "duplicate entry"));
        }
        Ok(())
    }
}

/// Normalises an entry path: relative, `/`-separated, no `.`/`..`/empty
/// components (a leading `./` is dropped), no backslashes, valid UTF-8.
fn normalise(raw: &[u8], collector: &Collector<'_>) -> Result<String, RegistryError> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    let text =
        std::str::from_utf8(raw).map_err(|_| collector.refuse(&shown, "path is not utf-8"))?;
    if text.starts_with('/') {
        return Err(collector.refuse(&shown, "absolute path"));
    }
    if text.contains('\\') || text.contains('\0') {
        return Err(collector.refuse(&shown, "backslash or nul in path"));
    }
    let text = text.strip_prefix("./").unwrap_or(text);
    let text = text.strip_suffix('/').unwrap_or(text);
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            ".." => return Err(collector.refuse(&shown, "`..` in path")),
            "" | "." => return Err(collector.refuse(&shown, "empty or `.` path component")),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

impl Package {
    /// Opens a package directory or `.tar.gz` (`.tgz`) archive, enforcing the
    /// limits, and validates its manifest.
    pub fn open(path: impl AsRef<Path>) -> Result<Package, RegistryError> {
        let path = path.as_ref();
        let meta = fs::metadata(path).map_err(RegistryError::io(path))?;
        let mut c = Collector {
            package: path,
            entries: 0,
            total: 0,
            files: BTreeMap::new(),
        };
        if meta.is_dir() {
            read_dir(&mut c, path, "")?;
        } else {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !(name.ends_with(".tar.gz") || name.ends_with(".tgz")) {
                return Err(RegistryError::NotAPackage {
                    path: path.to_owned(),
                });
            }
            let file = fs::File::open(path).map_err(RegistryError::io(path))?;
            read_archive(&mut c, flate2::read::GzDecoder::new(file))?;
        }
        let files = c.files;
        Package::build(path.to_owned(), files)
    }

    /// Builds a package from in-memory files keyed by relative `/`-separated
    /// path, under the same rules and limits as [`Package::open`]. `source`
    /// only names the package in errors.
    pub fn from_files(
        source: impl Into<PathBuf>,
        files: BTreeMap<String, Vec<u8>>,
    ) -> Result<Package, RegistryError> {
        let source = source.into();
        let mut c = Collector {
            package: &source,
            entries: 0,
            total: 0,
            files: BTreeMap::new(),
        };
        for (path, bytes) in files {
            c.count()?;
            let rel = normalise(path.as_bytes(), &c)?;
            c.add(rel, bytes.len() as u64, bytes.as_slice())?;
        }
        let files = c.files;
        Package::build(source, files)
    }

    fn build(
        source: PathBuf,
        mut files: BTreeMap<String, Vec<u8>>,
    ) -> Result<Package, RegistryError> {
        let manifest_text = files
            .get(MANIFEST_FILE)
            .ok_or_else(|| RegistryError::MissingFile {
                package: source.clone(),
                file: MANIFEST_FILE,
            })?;
        if !files.contains_key(COMPONENT_FILE) {
            return Err(RegistryError::MissingFile {
                package: source.clone(),
                file: COMPONENT_FILE,
            });
        }
        let shown = source.join(MANIFEST_FILE).display().to_string();
        let text = std::str::from_utf8(manifest_text).map_err(|_| {
            RegistryError::from(crate::ManifestError {
                file: shown.clone(),
                line: 0,
                column: 0,
                field: None,
                message: "not utf-8".to_owned(),
            })
        })?;
        let manifest = Manifest::parse(text, &shown)?;
        let signature = match files.remove(SIGNATURE_FILE) {
            None => None,
            Some(bytes) => Some(Signature::parse(&String::from_utf8_lossy(&bytes))?),
        };
        Ok(Package {
            source,
            manifest,
            files,
            signature,
        })
    }

    /// Where the package was opened from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Its validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The component's bytes (`plugin.wasm`).
    pub fn component(&self) -> &[u8] {
        self.files.get(COMPONENT_FILE).map_or(&[], Vec::as_slice)
    }

    /// Every file but the signature, by relative path.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    /// The files other than the manifest and the component.
    pub fn assets(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files
            .iter()
            .filter(|(p, _)| *p != MANIFEST_FILE && *p != COMPONENT_FILE)
            .map(|(p, b)| (p.as_str(), b.as_slice()))
    }

    /// The package's signature, if it carries one.
    pub fn signature(&self) -> Option<&Signature> {
        self.signature.as_ref()
    }

    /// Replaces the package's signature (in memory).
    pub fn set_signature(&mut self, signature: Option<Signature>) {
        self.signature = signature;
    }

    /// The digest of the package's files (the signature excluded).
    pub fn digest(&self) -> PackageDigest {
        let mut h = Sha256::new();
        h.update(b"kino-package-v1\0");
        for (path, bytes) in &self.files {
            h.update((path.len() as u64).to_be_bytes());
            h.update(path.as_bytes());
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        }
        PackageDigest(h.finalize().into())
    }

    /// Writes the package (signature included) as a deterministic `.tar.gz`:
    /// entries sorted by path, mode 0644, zero mtime/uid/gid, no user names.
    /// Written to a temporary file beside `out`, then renamed into place.
    pub fn write_archive(&self, out: impl AsRef<Path>) -> Result<(), RegistryError> {
        let out = out.as_ref();
        let mut entries: Vec<(&str, &[u8])> = self
            .files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        let sig = self.signature.as_ref().map(|s| s.to_text().into_bytes());
        if let Some(sig) = &sig {
            entries.push((SIGNATURE_FILE, sig));
        }
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(RegistryError::io(dir))?;
        let gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(tmp, flate2::Compression::best());
        let mut tar = tar::Builder::new(gz);
        tar.mode(tar::HeaderMode::Deterministic);
        for (path, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            tar.append_data(&mut header, path, bytes)
                .map_err(RegistryError::io(out))?;
        }
        let gz = tar.into_inner().map_err(RegistryError::io(out))?;
        let mut tmp = gz.finish().map_err(RegistryError::io(out))?;
        tmp.flush().map_err(RegistryError::io(out))?;
        tmp.as_file().sync_all().map_err(RegistryError::io(out))?;
        tmp.persist(out).map_err(|e| RegistryError::Io {
            path: out.to_owned(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// Packs the package directory `dir` into the archive `out`; returns its digest.
pub fn pack(dir: impl AsRef<Path>, out: impl AsRef<Path>) -> Result<PackageDigest, RegistryError> {
    let package = Package::open(dir)?;
    package.write_archive(out)?;
    Ok(package.digest())
}

fn read_dir(c: &mut Collector<'_>, dir: &Path, prefix: &str) -> Result<(), RegistryError> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(RegistryError::io(dir))?
        .collect::<Result<_, _>>()
        .map_err(RegistryError::io(dir))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        c.count()?;
        let name = entry.file_name();
        let rel = format!("{prefix}{}", name.to_string_lossy());
        let rel = normalise(rel.as_bytes(), c)?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(RegistryError::io(&path))?;
        let ty = meta.file_type();
        if ty.is_symlink() {
            return Err(c.refuse(&rel, "symbolic links are not allowed"));
        } else if ty.is_dir() {
            read_dir(c, &path, &format!("{rel}/"))?;
        } else if ty.is_file() {
            let file = fs::File::open(&path).map_err(RegistryError::io(&path))?;
            c.add(rel, meta.len(), file)?;
        } else {
            return Err(c.refuse(&rel, "only regular files and directories are allowed"));
        }
    }
    Ok(())
}

fn read_archive(c: &mut Collector<'_>, reader: impl Read) -> Result<(), RegistryError> {
    let mut archive = tar::Archive::new(reader);
    let package = c.package.to_owned();
    let entries = archive.entries().map_err(RegistryError::io(&package))?;
    for entry in entries {
        let entry = entry.map_err(RegistryError::io(&package))?;
        c.count()?;
        let raw = entry.path_bytes().into_owned();
        let rel = normalise(&raw, c)?;
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size().map_err(RegistryError::io(&package))?;
                c.add(rel, size, entry)?;
            }
            tar::EntryType::Directory => {}
            tar::EntryType::Symlink => return Err(c.refuse(&rel, "symbolic links are not allowed")),
            tar::EntryType::Link => return Err(c.refuse(&rel, "hard links are not allowed")),
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                return Err(c.refuse(&rel, "devices and fifos are not allowed"));
            }
            _ => return Err(c.refuse(&rel, "unsupported tar entry type")),
        }
    }
    Ok(())
}
