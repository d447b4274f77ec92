//! `kino-registry`: Kino's plugin packages, manifests, ed25519 signatures,
//! content-addressed storage and semver resolution.
//!
//! A pure library: it knows nothing of wasmtime. The host opens a package,
//! installs it (running its own component checks through
//! [`Store::install_with`]) and later resolves requirements such as
//! `director-noir@^1.2` to an installed version.
//!
//! ```
//! use kino_registry::Manifest;
//!
//! let manifest = Manifest::parse(r#"
//! format = 1
//! [plugin]
//! name = "director-noir"
//! version = "1.2.0"
//! world = "kino:stage/director-style@0.1.0"
//! description = "Hard shadows, low angles"
//! "#, "kino-plugin.toml")?;
//! assert_eq!(manifest.name().as_str(), "director-noir");
//! # Ok::<(), kino_registry::RegistryError>(())
//! ```
#![deny(missing_docs)]

mod error;
pub mod manifest;
mod name;
pub mod package;
pub mod signing;
pub mod store;
mod world;

pub use error::{ManifestError, RegistryError};
pub use manifest::{DEFAULT_FUEL, Manifest, Origin};
pub use name::PluginName;
pub use package::{Package, PackageDigest, pack};
pub use signing::{
    KeyId, Signature, SignaturePolicy, SigningKey, VerifyingKey, keygen, sign, sign_native, verify,
    verify_native,
};
pub use store::{BlobId, InstalledVersion, Store, parse_requirement};
pub use world::{PACKAGE, World, WorldRef};

/// The README's example, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
