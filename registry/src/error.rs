//! The one error type of this crate.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in `kino-registry`.
///
/// Every variant carries the offending value; messages are lowercase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A manifest is malformed or invalid; points at the file, line and field.
    #[error("{0}")]
    Manifest(Box<ManifestError>),
    /// A plugin name is not valid.
    #[error("invalid plugin name `{name}`: {reason}")]
    InvalidPluginName {
        /// The rejected name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A world reference is not valid.
    #[error("invalid world `{world}`: {reason}")]
    InvalidWorld {
        /// The rejected reference.
        world: String,
        /// Why.
        reason: String,
    },
    /// An outbound host is not a valid origin.
    #[error("invalid outbound host `{origin}`: {reason}")]
    InvalidOrigin {
        /// The rejected origin.
        origin: String,
        /// Why.
        reason: String,
    },
    /// A requirement such as `name@^1.2` is not valid.
    #[error("invalid requirement `{requirement}`: {reason}")]
    InvalidRequirement {
        /// The rejected requirement.
        requirement: String,
        /// Why.
        reason: String,
    },
    /// A config key is not declared by the plugin's manifest.
    #[error("{plugin}: unknown config key `{key}`")]
    UnknownConfigKey {
        /// The plugin.
        plugin: String,
        /// The key.
        key: String,
    },
    /// A required config key has no value.
    #[error("{plugin}: missing required config key `{key}`")]
    MissingConfig {
        /// The plugin.
        plugin: String,
        /// The key.
        key: String,
    },
    /// A config value does not have the declared type.
    #[error("{plugin}: config key `{key}` = `{value}` is not a valid {expected}")]
    InvalidConfigValue {
        /// The plugin.
        plugin: String,
        /// The key.
        key: String,
        /// The rejected value.
        value: String,
        /// The declared type.
        expected: &'static str,
    },
    /// A config value is not one of the values its key allows.
    #[error("{plugin}: config key `{key}` = `{value}` is not one of {}", .allowed.join(", "))]
    ConfigValueNotAllowed {
        /// The plugin.
        plugin: String,
        /// The key.
        key: String,
        /// The rejected value.
        value: String,
        /// The values the key allows (boxed: the error stays small).
        allowed: Box<[String]>,
    },
    /// A path is neither a package directory nor a `.tar.gz` package.
    #[error("{}: not a package: expected a directory or a .tar.gz archive", path.display())]
    NotAPackage {
        /// The path.
        path: PathBuf,
    },
    /// A package lacks a file every package must have.
    #[error("{}: missing `{file}`", package.display())]
    MissingFile {
        /// The package.
        package: PathBuf,
        /// The missing file.
        file: &'static str,
    },
    /// An entry of a package is refused (unsafe path, link, device, duplicate...).
    #[error("{}: entry `{entry}` refused: {reason}", package.display())]
    UnsafeEntry {
        /// The package.
        package: PathBuf,
        /// The entry's path as written in the package.
        entry: String,
        /// Why.
        reason: &'static str,
    },
    /// A package has more entries than allowed.
    #[error("{}: more than {limit} entries", package.display())]
    TooManyEntries {
        /// The package.
        package: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// One entry of a package is larger than allowed.
    #[error("{}: entry `{entry}` is {size} bytes, more than the limit of {limit}", package.display())]
    EntryTooLarge {
        /// The package.
        package: PathBuf,
        /// The entry.
        entry: String,
        /// Its size (at least).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A package's files add up to more than allowed.
    #[error("{}: files add up to more than {limit} bytes (at entry `{entry}`)", package.display())]
    PackageTooLarge {
        /// The package.
        package: PathBuf,
        /// The entry that went over.
        entry: String,
        /// The limit.
        limit: u64,
    },
    /// A key file or key text is not valid.
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// Why.
        reason: String,
    },
    /// A signature file is not valid.
    #[error("invalid signature `{text}`: {reason}")]
    InvalidSignature {
        /// The signature text (truncated).
        text: String,
        /// Why.
        reason: String,
    },
    /// A signature was required but the package has none.
    #[error("{name}@{version} is not signed and the policy requires a signature")]
    Unsigned {
        /// The plugin.
        name: String,
        /// Its version.
        version: String,
    },
    /// The package is signed by a key that is not trusted.
    #[error("{name}@{version} is signed by untrusted key {key_id}")]
    UntrustedKey {
        /// The plugin.
        name: String,
        /// Its version.
        version: String,
        /// The signer's key id.
        key_id: String,
    },
    /// The signature does not match the package's contents.
    #[error(
        "{name}@{version}: bad signature from key {key_id}: the package was modified or the signature is forged"
    )]
    BadSignature {
        /// The plugin.
        name: String,
        /// Its version.
        version: String,
        /// The claimed signer's key id.
        key_id: String,
    },
    /// A blob id is not 64 lowercase hex digits.
    #[error("invalid blob id `{id}`: expected 64 lowercase hex digits")]
    InvalidBlobId {
        /// The rejected id.
        id: String,
    },
    /// A blob is not in the store.
    #[error("blob {id} is not in the store")]
    BlobNotFound {
        /// The blob id.
        id: String,
    },
    /// A blob's bytes do not hash to its id.
    #[error("blob {id} is corrupt: its contents hash to {actual}")]
    CorruptBlob {
        /// The blob id.
        id: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// The store's index cannot be read.
    #[error("{}: corrupt index: {reason}", path.display())]
    CorruptIndex {
        /// The index file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The same name@version is already installed with different contents.
    #[error(
        "{name}@{version} is already installed with different contents (package digest {installed}, new {new}); bump the version"
    )]
    DuplicateVersion {
        /// The plugin.
        name: String,
        /// Its version.
        version: String,
        /// The installed package digest.
        installed: String,
        /// The new package digest.
        new: String,
    },
    /// The host's check refused the component.
    #[error("{name}@{version} refused: {reason}")]
    CheckFailed {
        /// The plugin.
        name: String,
        /// Its version.
        version: String,
        /// The host's reason (in the message, so not also a `source`).
        reason: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No such name@version is installed.
    #[error("{name}@{version} is not installed")]
    NotInstalled {
        /// The plugin.
        name: String,
        /// The version.
        version: String,
    },
    /// No installed, enabled, non-yanked version matches a requirement.
    #[error("no installed, enabled, non-yanked version of {name} matches `{requirement}`")]
    NoMatch {
        /// The plugin.
        name: String,
        /// The requirement.
        requirement: String,
    },
    /// A version cannot be removed while something uses it.
    #[error("{name}@{version} is in use; unbind it before removing it")]
    InUse {
        /// The plugin.
        name: String,
        /// The version.
        version: String,
    },
}

impl RegistryError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| RegistryError::Io { path, source }
    }
}

/// Where in a manifest something is wrong, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The manifest file, as given to the parser.
    pub file: String,
    /// 1-based line (0 when the position is unknown).
    pub line: usize,
    /// 1-based column in characters (0 when unknown).
    pub column: usize,
    /// The field, such as `plugin.name` or `config[1].default`, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        match &self.field {
            Some(field) => write!(f, ": `{field}`: {}", self.message),
            None => write!(f, ": {}", self.message),
        }
    }
}

impl std::error::Error for ManifestError {}

impl From<ManifestError> for RegistryError {
    fn from(e: ManifestError) -> Self {
        RegistryError::Manifest(Box::new(e))
    }
}
