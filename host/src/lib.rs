//! The Kino host: the library behind the `kino` binary.
//!
//! - [`runtime`]: loads `kino:stage` plugin components and runs each call in a
//!   fresh, capped, deadline-bound wasmtime sandbox.
//! - [`plan`]: the planning half of the ad-creative pipeline (script,
//!   direction, grade), run entirely by plugins.
//! - [`tools`]: the kernels on plain files (stretch, loudness, speech).

pub mod plan;
pub mod runtime;
pub mod tools;
