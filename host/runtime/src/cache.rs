//! Compiled components on disk, keyed by component hash and engine configuration.
//!
//! Compiling a component with Cranelift takes tens to hundreds of
//! milliseconds; loading a precompiled one is a memory map. The key holds the
//! component's sha256 and a hash of everything in the engine that affects
//! code generation, so a changed configuration or wasmtime version never
//! loads stale code.

use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded precompiled from the cache.
    Hit,
    /// Compiled now (and written to the cache, if there is one).
    Compiled,
}

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
    engine_key: String,
}

/// Feeds `std::hash::Hash` output into sha256, so the engine's compatibility
/// hash gives the same key in every process (std's `DefaultHasher` does not promise that).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        unreachable!("only the full digest is used")
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The sha256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl ComponentCache {
    /// A cache in `dir` (created if missing) for components compiled by `engine`.
    pub fn new(dir: impl Into<PathBuf>, engine: &Engine) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the component cache {}", dir.display()))?;
        let mut hasher = Sha256Hasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..8]);
        Ok(Self { dir, engine_key })
    }

    /// The directory the cache lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, component_sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{component_sha256}-{}.cwasm", self.engine_key))
    }

    /// Loads the compiled form of `wasm` from the cache, or compiles it and stores it.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> Result<(Component, CacheOutcome)> {
        let path = self.path_for(&sha256_hex(wasm));
        // Read the file rather than map it: a mapped file that someone
        // truncates under a running host would crash it with SIGBUS.
        if let Ok(bytes) = std::fs::read(&path) {
            // SAFETY: files in the cache directory are written only by
            // `precompile_component` below (atomically, via rename), and the
            // key includes the engine's compatibility hash. wasmtime still
            // checks the header and version, and refuses a mismatch.
            match unsafe { Component::deserialize(engine, &bytes) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(error) => tracing::warn!(
                    path = %path.display(),
                    "ignoring unusable cached component, recompiling: {error:#}"
                ),
            }
        }
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        // A name of this call's own: two threads compiling the same plugin
        // at once must not share (and rename away) one scratch file.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let tmp = path.with_extension(format!(
            "tmp{}-{}",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&tmp, &compiled)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .with_context(|| format!("writing compiled component {}", path.display()))?;
        // SAFETY: `compiled` was produced by this engine just now.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        Ok((component, CacheOutcome::Compiled))
    }
}
