//! `kino-fuzz`: a mutation fuzzer for every parser that takes outside input,
//! on the stable toolchain (see `tests/fuzz/README.md` for why this engine
//! and what it does not do).
//!
//! - [`targets`]: what is fuzzed — manifests, package archives, `.cube`
//!   LUTs, SRT/WebVTT, briefs, pipeline specs, scene edits, the API's JSON
//!   bodies, WAV — each calling the parser the host runs.
//! - [`engine`]: the loop — seeds, mutation, `catch_unwind`, outcome
//!   signatures as a stand-in for coverage, findings saved to disk.
//! - [`mutate`]: the mutations; [`rng`]: the seeded generator.
//!
//! ```no_run
//! use kino_fuzz::{engine, targets};
//!
//! let mut config = engine::Config::new(1);
//! config.runs = Some(1000);
//! let target = targets::by_name("subtitles").expect("a target");
//! let report = engine::fuzz(target, &config, |_| {});
//! assert!(report.findings.is_empty());
//! ```

pub mod engine;
pub mod mutate;
pub mod rng;
pub mod targets;
