//! The Kino host: the library behind the `kino` binary.
//!
//! - [`api`]: the admin and tenant HTTP API (axum) served by `kino serve`.
//! - [`brief`]: creative briefs (TOML) for the ad-creative pipeline.
//! - [`cli`]: the `kino` command line.
//! - [`runtime`]: loads `kino:stage` plugin components and runs each call in a
//!   fresh, capped, deadline-bound wasmtime sandbox.
//! - [`media`]: media I/O through FFmpeg (probe, decode to RGB/PCM, H.264 +
//!   AAC MP4 encode, cut, concat, audio replacement).
//! - [`pipeline`]: pipeline specs, the planner and the executor (artifact
//!   cache, resume, fallback policies), and the dub, caption and ad-creative ops.
//! - [`plugins`]: packing, signing and installing plugins into the registry,
//!   with the host's component checks; loading installed versions.
//! - [`store`]: the job/metadata store (sqlx; SQLite embedded, one WAL file):
//!   tenants, API keys, plugin versions, bindings, secrets, jobs, stages,
//!   artifacts, events.
//! - [`tools`]: the kernels on plain files (stretch, loudness, speech).

pub mod api;
pub mod brief;
pub mod cli;
pub mod media;
pub mod pipeline;
pub mod plugins;
pub mod runtime;
pub mod store;
pub mod tools;
