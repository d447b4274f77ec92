//! The Kino host: the library behind the `kino` binary.
//!
//! - [`runtime`]: loads `kino:stage` plugin components and runs each call in a
//!   fresh, capped, deadline-bound wasmtime sandbox.

pub mod runtime;
