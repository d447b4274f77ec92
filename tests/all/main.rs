//! Kino's end-to-end tests, as one test binary: each module links the same
//! host crates (wasmtime, FFmpeg, sqlx), so one binary is linked instead of
//! one per file.

mod api;
mod http;
mod install;
mod media;
mod pipelines;
mod reference_plugins;
mod sandbox;
mod speech;
mod video_tools;
