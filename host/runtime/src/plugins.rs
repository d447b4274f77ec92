//! The operator's side of plugins: packing, signing and installing them into
//! the registry, with the host's own component checks, and loading installed
//! versions into the runtime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use kino_registry::{
    InstalledVersion, Manifest, Origin, Package, SignaturePolicy, Store, VerifyingKey, signing,
};

use crate::{Grant, Limits, LoadError, Plugin, Runtime, SUPPORTED_VERSIONS, World};

/// The limits a manifest asks for, as the runtime applies them.
pub fn runtime_limits(manifest: &Manifest) -> Limits {
    let limits = manifest.limits();
    Limits::default()
        .with_memory_bytes(usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX))
        .with_timeout(Duration::from_millis(u64::from(limits.timeout_ms)))
        .with_fuel(limits.fuel)
}

/// Why the host refuses a plugin's component at install.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The manifest targets a `kino:stage` version this host does not run.
    #[error(
        "targets kino:stage@{declared}, but this host runs kino:stage@{}",
        SUPPORTED_VERSIONS.join(" and @")
    )]
    UnsupportedVersion {
        /// The version the manifest declares.
        declared: semver::Version,
    },
    /// The manifest declares a world at a package version older than the world.
    #[error(
        "declares kino:stage/{world}@{declared}, but {world} is a world of kino:stage@{since} \
         and later: declare kino:stage/{world}@{since}"
    )]
    WorldTooNew {
        /// The world.
        world: World,
        /// The version the manifest declares.
        declared: semver::Version,
        /// The version that introduced the world.
        since: semver::Version,
    },
    /// The component was built against another `kino:stage` version than its
    /// manifest declares.
    #[error(
        "{plugin}: its manifest declares kino:stage@{declared}, but the component imports \
         {import}: build it against the declared version or fix the manifest's `world`"
    )]
    VersionMismatch {
        /// The plugin, as `name@version`.
        plugin: String,
        /// The version the manifest declares.
        declared: semver::Version,
        /// The `kino:stage` import of another version.
        import: String,
    },
    /// The component imports `wasi:http` but its manifest requests no hosts.
    #[error(
        "{plugin}: imports {import}, but its manifest requests no outbound hosts; \
         list the origins it calls in [capabilities] outbound-hosts, or, if it calls none, \
         build it without HTTP (componentize-js links it by default: add \
         `--disable http fetch-event`)"
    )]
    UndeclaredHttp {
        /// The plugin, as `name@version`.
        plugin: String,
        /// The `wasi:http/...` interface it imports.
        import: String,
    },
    /// The component does not load as its declared world: it does not
    /// compile, imports what the host does not provide, or lacks exports.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Whether this host runs plugins built against `kino:stage@version`: one
/// of [`SUPPORTED_VERSIONS`], or a later patch of one.
pub fn runs_version(version: &semver::Version) -> bool {
    SUPPORTED_VERSIONS.iter().any(|supported| {
        let supported =
            semver::Version::parse(supported).expect("SUPPORTED_VERSIONS are semver versions");
        // Within 0.x, a minor bump may break: each minor is its own package.
        version.major == 0
            && version.minor == supported.minor
            && version.patch <= supported.patch
            && version.pre.is_empty()
    })
}

/// The runtime world a manifest declares, if this host can run it.
pub fn runtime_world(manifest: &Manifest) -> Result<World, CheckError> {
    let declared = manifest.world();
    if !runs_version(&declared.version) {
        return Err(CheckError::UnsupportedVersion {
            declared: declared.version.clone(),
        });
    }
    let since = declared.world.since();
    if declared.version < since {
        return Err(CheckError::WorldTooNew {
            world: declared.world,
            declared: declared.version.clone(),
            since,
        });
    }
    Ok(declared.world)
}

/// The first `kino:stage` import of `wasm` whose version is not `declared`'s
/// minor (the one a 0.1 manifest on a 0.2 component would show).
fn mismatched_import(runtime: &Runtime, wasm: &[u8], declared: &semver::Version) -> Option<String> {
    let (component, _) = runtime.compile(wasm).ok()?;
    let engine = runtime.engine();
    let ty = component.component_type();
    ty.imports(engine)
        .map(|(name, _)| name.to_owned())
        .find(|name| {
            let Some(version) = name
                .strip_prefix("kino:stage/")
                .and_then(|rest| rest.split_once('@'))
                .and_then(|(_, v)| semver::Version::parse(v).ok())
            else {
                return false;
            };
            (version.major, version.minor) != (declared.major, declared.minor)
        })
}

/// The host's checks on a package before the registry records it: the world
/// is one this host runs, and the component compiles, imports only what the
/// host provides and exports the declared world. `wasi:http` counts as
/// provided only when the manifest requests outbound hosts (whether the
/// operator grants them is decided later, per plugin). Compiling also fills
/// the compiled-component cache, so the first call after install loads fast.
pub fn check_component(
    runtime: &Runtime,
    manifest: &Manifest,
    wasm: &[u8],
) -> Result<(), CheckError> {
    let world = runtime_world(manifest)?;
    let id = format!("{}@{}", manifest.name(), manifest.version());
    let requested = Grant::all_requested(manifest.outbound_hosts());
    runtime
        .load_granted(&id, wasm, world, runtime_limits(manifest), requested)
        .map_err(|e| match e {
            LoadError::HttpNotGranted { plugin, import } => {
                CheckError::UndeclaredHttp { plugin, import }
            }
            other => CheckError::Load(other),
        })?;
    let declared = &manifest.world().version;
    if let Some(import) = mismatched_import(runtime, wasm, declared) {
        return Err(CheckError::VersionMismatch {
            plugin: id,
            declared: declared.clone(),
            import,
        });
    }
    Ok(())
}

/// Reads trusted public keys (`kino-ed25519-public:...` files).
pub fn read_trusted_keys(paths: &[PathBuf]) -> Result<Vec<VerifyingKey>> {
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading trusted key {}", path.display()))?;
            text.trim()
                .parse::<VerifyingKey>()
                .with_context(|| format!("parsing trusted key {}", path.display()))
        })
        .collect()
}

/// Installs the package at `path` into `registry` after the host's checks.
pub fn install(
    runtime: &Runtime,
    registry: &Store,
    path: &Path,
    policy: SignaturePolicy,
    trusted: &[VerifyingKey],
) -> Result<InstalledVersion> {
    let package =
        Package::open(path).with_context(|| format!("opening package {}", path.display()))?;
    registry
        .install_with(&package, policy, trusted, |manifest, wasm| {
            check_component(runtime, manifest, wasm).map_err(Into::into)
        })
        .with_context(|| format!("installing {}", path.display()))
}

/// Loads the newest installed version matching `requirement` (`name@^1.2`),
/// with no outbound HTTP.
pub fn load_installed(
    runtime: &Runtime,
    registry: &Store,
    requirement: &str,
) -> Result<(InstalledVersion, Plugin)> {
    load_installed_granted(runtime, registry, requirement, &[])
}

/// [`load_installed`], granting the plugin outbound HTTP to `granted`, which
/// must be a subset of the origins its manifest requests (the operator's
/// per-plugin grant; narrow it per tenant with
/// [`CallCtx::with_outbound`](crate::CallCtx::with_outbound)).
pub fn load_installed_granted(
    runtime: &Runtime,
    registry: &Store,
    requirement: &str,
    granted: &[Origin],
) -> Result<(InstalledVersion, Plugin)> {
    let installed = registry
        .resolve(requirement)
        .with_context(|| format!("resolving {requirement}"))?;
    let plugin = load_version(runtime, registry, &installed, granted)?;
    Ok((installed, plugin))
}

/// Loads exactly `installed`, yanked or not (whoever resolved it decided),
/// granted the outbound hosts in `granted` that its manifest requests.
pub fn load_version(
    runtime: &Runtime,
    registry: &Store,
    installed: &InstalledVersion,
    granted: &[Origin],
) -> Result<Plugin> {
    let manifest = registry.manifest(installed)?;
    let wasm = registry.get(&installed.component)?;
    let world = runtime_world(&manifest)?;
    let id = format!("{}@{}", installed.name, installed.version);
    let grant = Grant::new(manifest.outbound_hosts(), granted.iter().cloned())
        .with_context(|| format!("granting {id} outbound hosts"))?;
    Ok(runtime.load_granted(&id, &wasm, world, runtime_limits(&manifest), grant)?)
}

/// Builds a package from a plugin directory holding `kino-plugin.toml`,
/// taking the component from `wasm` (or `DIR/plugin.wasm`) and the assets
/// from the top level of `DIR/luts/` and `DIR/assets/` (a plugin's source
/// directory also holds `src/` and `Cargo.toml`, which must not ship), and
/// writes it as a deterministic `.tar.gz` to `out`.
pub fn pack(dir: &Path, wasm: Option<&Path>, out: &Path) -> Result<String> {
    let mut files = BTreeMap::new();
    let manifest = dir.join("kino-plugin.toml");
    files.insert(
        "kino-plugin.toml".to_owned(),
        std::fs::read(&manifest).with_context(|| format!("reading {}", manifest.display()))?,
    );
    let wasm = wasm.map_or_else(|| dir.join("plugin.wasm"), Path::to_owned);
    files.insert(
        "plugin.wasm".to_owned(),
        std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?,
    );
    for asset in ["luts", "assets"] {
        let sub = dir.join(asset);
        if sub.is_dir() {
            for entry in std::fs::read_dir(&sub)? {
                let path = entry?.path();
                if path.is_file() {
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .with_context(|| format!("asset name {}", path.display()))?;
                    files.insert(format!("{asset}/{name}"), std::fs::read(&path)?);
                }
            }
        }
    }
    let package = Package::from_files(dir, files)?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    package.write_archive(out)?;
    Ok(hex::encode(package.digest().0))
}

/// Signs the package at `path` (a directory or a `.tar.gz`) in place with the
/// secret key in `key`; returns the signing key's id.
pub fn sign(path: &Path, key: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(key).with_context(|| format!("reading key {}", key.display()))?;
    let key: signing::SigningKey = text
        .trim()
        .parse()
        .with_context(|| format!("parsing key {}", key.display()))?;
    let mut package =
        Package::open(path).with_context(|| format!("opening package {}", path.display()))?;
    let signature = signing::sign(&package, &key);
    let id = signature.key_id().to_string();
    if path.is_dir() {
        std::fs::write(path.join("kino-plugin.sig"), signature.to_text())?;
    } else {
        package.set_signature(Some(signature));
        package.write_archive(path)?;
    }
    Ok(id)
}

/// Generates a key pair and writes `NAME.secret` and `NAME.pub` at `base`.
pub fn keygen(base: &Path) -> Result<(PathBuf, PathBuf)> {
    let (secret, public) = signing::keygen()?;
    let secret_path = base.with_extension("secret");
    let public_path = base.with_extension("pub");
    for path in [&secret_path, &public_path] {
        if path.exists() {
            bail!("{} already exists; not overwriting a key", path.display());
        }
    }
    if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    write_private(&secret_path, &secret.to_text())?;
    std::fs::write(&public_path, public.to_text() + "\n")?;
    Ok((secret_path, public_path))
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}
