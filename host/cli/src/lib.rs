//! The `kino` command: argument parsing and the wiring of Kino's crates.
//!
//! - [`cli`]: the subcommands (`run`, `serve`, `plugin ...`, `scenes ...`, the
//!   kernel tools), each a few lines calling into a library crate.
//! - [`author`]: `kino plugin new`, a plugin project with its own SDK copy.
//! - [`plugin_test`]: `kino plugin test`, a plugin called on fixtures.
//! - [`operator`]: the operator's pipelines (spec files) and native kernels.
//! - [`bind`]: `kino run --bind/--config/--bindings`, a job's own plugins.
//! - [`progress`]: job events and kernel tools as progress bars on a terminal,
//!   plain lines otherwise.
//! - [`tools`]: the kernels on plain files (stretch, loudness, speech, LUTs,
//!   interpolation).
//!
//! The work lives in the crates beside this one: `kino-runtime` (the plugin
//! sandbox and plugin install), `kino-store` (SQLite), `kino-media` (FFmpeg),
//! `kino-pipeline` (specs, executor, ops) and `kino-api` (the HTTP API).

pub mod author;
pub mod bind;
pub mod cli;
pub mod models;
pub mod operator;
pub mod plugin_test;
pub mod progress;
pub mod tools;
