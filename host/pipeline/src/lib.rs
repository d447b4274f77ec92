//! Pipelines end to end: specs (TOML), the planner that turns a spec, a
//! tenant's bindings and a job's inputs into stages, and the executor that
//! runs them with a content-addressed artifact cache.
//!
//! - [`spec`]: the pipeline spec format and the built-in pipelines (`host/pipeline/pipelines/*.toml`).
//! - [`catalog`]: the pipelines a host runs: the built-ins and the operator's spec files.
//! - [`ops`]: what a stage can run: native kernels and plugin calls.
//! - [`exec`]: the executor: concurrency, cache keys, resume, fallback policies, events;
//!   scene editing of finished ad-creative jobs (`Executor::scenes`, `Executor::edit`).
//! - [`editing`]: which jobs have scenes to edit.
//! - [`slots`]: which plugin serves a slot for a tenant.
//! - [`artifacts`]: content-addressed artifact files.
//! - [`owner`]: which process owns a lease or a temporary file, and whether it is gone.
//! - [`local`]: the embedded set-up `kino run` uses.
//! - [`worker`]: the job queue `kino serve` runs.
//! - [`brief`]: creative briefs (TOML) for the ad-creative pipeline.
//! - [`assets`]: a brief's asset folder (product shots, logos, footage, fonts, palette).

pub mod artifacts;
pub mod assets;
pub mod brief;
pub mod catalog;
pub mod editing;
pub mod exec;
pub mod local;
pub mod nodes;
pub mod ops;
pub mod owner;
pub mod remote;
pub mod slots;
pub mod spec;
pub mod voices;
pub mod worker;

pub use catalog::{Catalog, Pipeline, PipelineSource};
pub use exec::{Dispatch, Executor, JobInput, JobReport, NodeReport, Observer, Reporter};
pub use nodes::NodeWorker;
pub use ops::edit::{Edits, SceneEdit, ScenePlan};
pub use spec::PipelineSpec;
