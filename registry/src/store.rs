//! The on-disk registry: a content-addressed blob store and an index of
//! installed plugin versions.
//!
//! Layout under the store's directory:
//!
//! ```text
//! blobs/sha256/ab/abcdef…   one file per blob, named by its sha256
//! index.json                 every installed version (see [`InstalledVersion`])
//! lock                       held (advisory file lock) while the index changes
//! ```
//!
//! Every write goes to a temporary file in the same directory and is renamed
//! into place, so readers never see a partial blob or index. Install writes the
//! blobs first and the index entry last: a failure leaves at most unreferenced
//! blobs, never a version that points at missing data.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::MANIFEST_FILE;
use crate::signing::{self, KeyId, SignaturePolicy, VerifyingKey};
use crate::{Manifest, Package, PluginName, RegistryError, WorldRef};

/// The sha256 of a blob, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobId(String);

impl BlobId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> BlobId {
        BlobId(hex::encode(Sha256::digest(bytes)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BlobId {
    type Error = RegistryError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(BlobId(s))
        } else {
            Err(RegistryError::InvalidBlobId { id: s })
        }
    }
}

impl FromStr for BlobId {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<BlobId> for String {
    fn from(b: BlobId) -> String {
        b.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One installed plugin version, as recorded in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalledVersion {
    /// The plugin's name.
    pub name: PluginName,
    /// Its version.
    pub version: Version,
    /// The world it implements.
    pub world: WorldRef,
    /// The blob of `plugin.wasm`.
    pub component: BlobId,
    /// The blob of `kino-plugin.toml`.
    pub manifest: BlobId,
    /// The other files, by relative path.
    pub assets: BTreeMap<String, BlobId>,
    /// The package digest (hex), see [`crate::PackageDigest`].
    pub package_digest: String,
    /// Who signed it, if it was signed.
    pub signer: Option<KeyId>,
    /// When it was installed, in seconds since the Unix epoch.
    pub installed_at: u64,
    /// Yanked versions are never picked by resolution but stay installed.
    pub yanked: bool,
    /// Disabled versions are never picked by resolution.
    pub enabled: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    format: u32,
    versions: Vec<InstalledVersion>,
}

/// A registry on disk. See the module docs for the layout.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(RegistryError::io(dir))?;
    tmp.write_all(bytes).map_err(RegistryError::io(path))?;
    tmp.as_file().sync_all().map_err(RegistryError::io(path))?;
    tmp.persist(path).map_err(|e| RegistryError::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// Parses `name@requirement` (`name` alone means any version).
pub fn parse_requirement(text: &str) -> Result<(PluginName, VersionReq), RegistryError> {
    let err = |reason: String| RegistryError::InvalidRequirement {
        requirement: text.to_owned(),
        reason,
    };
    let (name, req) = text.split_once('@').unwrap_or((text, "*"));
    let name: PluginName = name
        .parse()
        .map_err(|e: RegistryError| err(e.to_string()))?;
    let req = VersionReq::parse(req).map_err(|e| err(e.to_string()))?;
    Ok((name, req))
}

impl Store {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, RegistryError> {
        let dir = dir.into();
        let blobs = dir.join("blobs/sha256");
        fs::create_dir_all(&blobs).map_err(RegistryError::io(&blobs))?;
        Ok(Store { dir })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the blob `id` lives (whether or not it exists).
    pub fn path(&self, id: &BlobId) -> PathBuf {
        self.dir.join("blobs/sha256").join(&id.0[..2]).join(&id.0)
    }

    /// Stores `bytes`; returns their id. Idempotent; atomic.
    pub fn put(&self, bytes: &[u8]) -> Result<BlobId, RegistryError> {
        let id = BlobId::of(bytes);
        let path = self.path(&id);
        if path.is_file() {
            return Ok(id);
        }
        let parent = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent).map_err(RegistryError::io(parent))?;
        write_atomic(&path, bytes)?;
        Ok(id)
    }

    /// Reads the blob `id`, checking that its contents still hash to `id`.
    pub fn get(&self, id: &BlobId) -> Result<Vec<u8>, RegistryError> {
        let path = self.path(id);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RegistryError::BlobNotFound { id: id.to_string() });
            }
            Err(e) => return Err(RegistryError::Io { path, source: e }),
        };
        let actual = BlobId::of(&bytes);
        if &actual != id {
            return Err(RegistryError::CorruptBlob {
                id: id.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    fn read_index(&self) -> Result<Index, RegistryError> {
        let path = self.index_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| RegistryError::CorruptIndex {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index {
                format: 1,
                versions: Vec::new(),
            }),
            Err(e) => Err(RegistryError::Io { path, source: e }),
        }
    }

    fn write_index(&self, index: &Index) -> Result<(), RegistryError> {
        let path = self.index_path();
        let json = serde_json::to_vec_pretty(index).map_err(|e| RegistryError::CorruptIndex {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&path, &json)
    }

    /// Runs `f` on the index under the store's lock and writes it back if `f`
    /// succeeds.
    fn update<T>(
        &self,
        f: impl FnOnce(&mut Index) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let lock_path = self.dir.join("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(RegistryError::io(&lock_path))?;
        lock.lock().map_err(RegistryError::io(&lock_path))?;
        let mut index = self.read_index()?;
        let out = f(&mut index)?;
        self.write_index(&index)?;
        Ok(out)
        // The lock is released when `lock` is dropped.
    }

    /// Every installed version, sorted by name then version.
    pub fn list(&self) -> Result<Vec<InstalledVersion>, RegistryError> {
        let mut v = self.read_index()?.versions;
        v.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        Ok(v)
    }

    /// The record of `name@version`.
    pub fn get_version(
        &self,
        name: &PluginName,
        version: &Version,
    ) -> Result<InstalledVersion, RegistryError> {
        self.read_index()?
            .versions
            .into_iter()
            .find(|v| &v.name == name && &v.version == version)
            .ok_or_else(|| not_installed(name, version))
    }

    /// The manifest of an installed version.
    pub fn manifest(&self, installed: &InstalledVersion) -> Result<Manifest, RegistryError> {
        let bytes = self.get(&installed.manifest)?;
        let file = format!("{}@{}/{MANIFEST_FILE}", installed.name, installed.version);
        Manifest::parse(&String::from_utf8_lossy(&bytes), &file)
    }

    /// Installs `package`: checks its signature per `policy`, stores its files
    /// and records the version. See [`Store::install_with`].
    pub fn install(
        &self,
        package: &Package,
        policy: SignaturePolicy,
        trusted: &[VerifyingKey],
    ) -> Result<InstalledVersion, RegistryError> {
        self.install_with(package, policy, trusted, |_, _| Ok(()))
    }

    /// Installs `package` after `check` (the host's component checks: world
    /// imports/exports, supported package version) accepts its manifest and
    /// component bytes.
    ///
    /// Installing the same name@version again with the same contents returns
    /// the existing record; with different contents it is refused. Nothing is
    /// recorded unless every step succeeds.
    pub fn install_with(
        &self,
        package: &Package,
        policy: SignaturePolicy,
        trusted: &[VerifyingKey],
        check: impl FnOnce(&Manifest, &[u8]) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
    ) -> Result<InstalledVersion, RegistryError> {
        let m = package.manifest();
        let signer = signing::check(package, policy, trusted)?;
        let digest = package.digest().to_string();
        // Refuse a conflicting duplicate before running the (expensive) check.
        if let Ok(existing) = self.get_version(m.name(), m.version()) {
            return duplicate(existing, m, &digest);
        }
        check(m, package.component()).map_err(|reason| RegistryError::CheckFailed {
            name: m.name().to_string(),
            version: m.version().to_string(),
            reason,
        })?;
        self.update(|index| {
            if let Some(existing) = index
                .versions
                .iter()
                .find(|v| &v.name == m.name() && &v.version == m.version())
            {
                return duplicate(existing.clone(), m, &digest);
            }
            let component = self.put(package.component())?;
            let manifest = self.put(
                package
                    .files()
                    .get(MANIFEST_FILE)
                    .map_or(&[][..], Vec::as_slice),
            )?;
            let mut assets = BTreeMap::new();
            for (path, bytes) in package.assets() {
                assets.insert(path.to_owned(), self.put(bytes)?);
            }
            let record = InstalledVersion {
                name: m.name().clone(),
                version: m.version().clone(),
                world: m.world().clone(),
                component,
                manifest,
                assets,
                package_digest: digest.clone(),
                signer,
                installed_at: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                yanked: false,
                enabled: true,
            };
            index.versions.push(record.clone());
            Ok(record)
        })
    }

    /// The newest installed, enabled, non-yanked version matching `requirement`
    /// (`name@^1.2`, or a bare name for any version).
    pub fn resolve(&self, requirement: &str) -> Result<InstalledVersion, RegistryError> {
        let (name, req) = parse_requirement(requirement)?;
        self.resolve_req(&name, &req)
    }

    /// The newest installed, enabled, non-yanked version of `name` matching `req`.
    pub fn resolve_req(
        &self,
        name: &PluginName,
        req: &VersionReq,
    ) -> Result<InstalledVersion, RegistryError> {
        self.read_index()?
            .versions
            .into_iter()
            .filter(|v| &v.name == name && v.enabled && !v.yanked && req.matches(&v.version))
            .max_by(|a, b| a.version.cmp(&b.version))
            .ok_or_else(|| RegistryError::NoMatch {
                name: name.to_string(),
                requirement: req.to_string(),
            })
    }

    fn set(
        &self,
        name: &PluginName,
        version: &Version,
        f: impl FnOnce(&mut InstalledVersion),
    ) -> Result<(), RegistryError> {
        self.update(|index| {
            let v = index
                .versions
                .iter_mut()
                .find(|v| &v.name == name && &v.version == version)
                .ok_or_else(|| not_installed(name, version))?;
            f(v);
            Ok(())
        })
    }

    /// What an existing binding of `requirement` runs: the newest enabled,
    /// non-yanked version matching it, else the newest yanked one. A yank
    /// stops new uses of a version, not the bindings already made (as a
    /// lockfile keeps a yanked crate): they stay on it until rebound. Check
    /// [`InstalledVersion::yanked`] to say so.
    pub fn resolve_bound(&self, requirement: &str) -> Result<InstalledVersion, RegistryError> {
        let (name, req) = parse_requirement(requirement)?;
        match self.resolve_req(&name, &req) {
            Err(RegistryError::NoMatch { .. }) => self
                .read_index()?
                .versions
                .into_iter()
                .filter(|v| v.name == name && v.enabled && v.yanked && req.matches(&v.version))
                .max_by(|a, b| a.version.cmp(&b.version))
                .ok_or_else(|| RegistryError::NoMatch {
                    name: name.to_string(),
                    requirement: req.to_string(),
                }),
            other => other,
        }
    }

    /// Marks `name@version` yanked: new resolutions skip it; bindings made
    /// before keep it until rebound ([`Store::resolve_bound`]).
    pub fn yank(&self, name: &PluginName, version: &Version) -> Result<(), RegistryError> {
        self.set(name, version, |v| v.yanked = true)
    }

    /// Undoes [`Store::yank`].
    pub fn unyank(&self, name: &PluginName, version: &Version) -> Result<(), RegistryError> {
        self.set(name, version, |v| v.yanked = false)
    }

    /// Enables or disables `name@version`.
    pub fn set_enabled(
        &self,
        name: &PluginName,
        version: &Version,
        enabled: bool,
    ) -> Result<(), RegistryError> {
        self.set(name, version, |v| v.enabled = enabled)
    }

    /// Removes `name@version` unless `in_use(name, version)` says something
    /// still uses it; then deletes blobs no remaining version refers to.
    pub fn remove(
        &self,
        name: &PluginName,
        version: &Version,
        in_use: impl Fn(&str, &Version) -> bool,
    ) -> Result<(), RegistryError> {
        let live = self.update(|index| {
            let at = index
                .versions
                .iter()
                .position(|v| &v.name == name && &v.version == version)
                .ok_or_else(|| not_installed(name, version))?;
            if in_use(name.as_str(), version) {
                return Err(RegistryError::InUse {
                    name: name.to_string(),
                    version: version.to_string(),
                });
            }
            let removed = index.versions.remove(at);
            let live: Vec<BlobId> = index.versions.iter().flat_map(blobs_of).collect();
            Ok((removed, live))
        });
        let (removed, live) = live?;
        // The index no longer refers to these; a failure here only leaves garbage.
        for blob in blobs_of(&removed) {
            if !live.contains(&blob) {
                let _ = fs::remove_file(self.path(&blob));
            }
        }
        Ok(())
    }
}

fn blobs_of(v: &InstalledVersion) -> Vec<BlobId> {
    let mut b = vec![v.component.clone(), v.manifest.clone()];
    b.extend(v.assets.values().cloned());
    b
}

fn not_installed(name: &PluginName, version: &Version) -> RegistryError {
    RegistryError::NotInstalled {
        name: name.to_string(),
        version: version.to_string(),
    }
}

fn duplicate(
    existing: InstalledVersion,
    m: &Manifest,
    digest: &str,
) -> Result<InstalledVersion, RegistryError> {
    if existing.package_digest == digest {
        Ok(existing)
    } else {
        Err(RegistryError::DuplicateVersion {
            name: m.name().to_string(),
            version: m.version().to_string(),
            installed: existing.package_digest,
            new: digest.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_is_content_addressed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let id = store.put(b"hello").expect("put");
        assert_eq!(id, store.put(b"hello").expect("put again"));
        assert_eq!(store.get(&id).expect("get"), b"hello");
        assert!(store.path(&id).is_file());
        fs::write(store.path(&id), b"tampered").expect("write");
        assert!(matches!(
            store.get(&id),
            Err(RegistryError::CorruptBlob { .. })
        ));
        let missing = BlobId::of(b"nope");
        assert!(matches!(
            store.get(&missing),
            Err(RegistryError::BlobNotFound { .. })
        ));
        assert!("ABC".parse::<BlobId>().is_err());
    }

    #[test]
    fn requirements() {
        let (n, r) = parse_requirement("director-noir@^1.2").expect("valid");
        assert_eq!(n.as_str(), "director-noir");
        assert!(r.matches(&Version::new(1, 9, 0)));
        assert!(parse_requirement("director-noir").is_ok());
        assert!(parse_requirement("Bad@1").is_err());
        assert!(parse_requirement("ok@not-a-req").is_err());
    }
}
