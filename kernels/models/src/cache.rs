//! Loaded models, shared by every stage of the process and bounded in
//! memory: a model loads once (its files verified against the manifest
//! first), concurrent stages wanting it wait for that one load, and when the
//! loaded models exceed the budget the least recently used are dropped (a
//! stage still using one keeps it alive until it finishes).

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::repository::{Installed, Kind, Repository};

type Shared = Arc<dyn Any + Send + Sync>;

/// The default memory budget for loaded models: 4 GiB.
pub const DEFAULT_BUDGET: u64 = 4 << 30;

/// The repository and the models loaded from it.
pub struct Models {
    repository: Repository,
    budget: u64,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    clock: AtomicU64,
}

#[derive(Default)]
struct Slot {
    last_used: AtomicU64,
    loaded: Mutex<Option<Loaded>>,
}

struct Loaded {
    value: Shared,
    bytes: u64,
    kind: Kind,
}

/// One loaded model, for `kino devices` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedModel {
    /// `name@version`.
    pub id: String,
    /// What it does.
    pub kind: Kind,
    /// Its size in memory, estimated as the size of its files.
    pub bytes: u64,
}

impl Models {
    /// Models from `repository`, keeping at most `budget` bytes loaded
    /// (one model larger than the budget still loads, alone).
    pub fn new(repository: Repository, budget: u64) -> Self {
        Self {
            repository,
            budget,
            slots: Mutex::default(),
            clock: AtomicU64::new(0),
        }
    }

    /// The models of a host whose data lives in `data_dir`: the repository
    /// is `$KINO_MODELS` or `data_dir/models`, the budget
    /// `$KINO_MODEL_MEMORY_MB` or [`DEFAULT_BUDGET`].
    pub fn for_data_dir(data_dir: &std::path::Path) -> Self {
        let dir = std::env::var_os("KINO_MODELS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| data_dir.join("models"));
        let budget = std::env::var("KINO_MODEL_MEMORY_MB")
            .ok()
            .and_then(|mb| mb.parse::<u64>().ok())
            .map_or(DEFAULT_BUDGET, |mb| mb << 20);
        Self::new(Repository::new(dir), budget)
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The memory budget in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// The newest installed version of `name`, loaded as `T` by `load` the
    /// first time (after its files are verified) and shared afterwards.
    pub fn load<T: Send + Sync + 'static>(
        &self,
        name: &str,
        load: impl FnOnce(&Installed) -> anyhow::Result<T>,
    ) -> anyhow::Result<(Arc<T>, Installed)> {
        let installed = self.repository.get(name)?;
        let slot = {
            let mut slots = lock(&self.slots);
            slots.entry(installed.id()).or_default().clone()
        };
        slot.last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let mut loaded = lock(&slot.loaded);
        if let Some(hit) = loaded.as_ref() {
            let value = hit.value.clone().downcast::<T>().map_err(|_| {
                anyhow::anyhow!("model `{}` is loaded as another type", installed.id())
            })?;
            return Ok((value, installed));
        }
        installed.verify()?;
        let started = std::time::Instant::now();
        let value = Arc::new(load(&installed).map_err(|e| {
            e.context(format!(
                "loading model `{}` from {}",
                installed.id(),
                installed.dir.display()
            ))
        })?);
        let bytes = installed.size();
        tracing::info!(
            model = %installed.id(),
            mb = bytes / 1_000_000,
            ms = started.elapsed().as_millis() as u64,
            "model loaded"
        );
        *loaded = Some(Loaded {
            value: value.clone(),
            bytes,
            kind: installed.manifest.kind,
        });
        drop(loaded);
        self.evict_beyond_budget(&installed.id());
        Ok((value, installed))
    }

    /// What is loaded now, most recently used first.
    pub fn loaded(&self) -> Vec<LoadedModel> {
        let slots: Vec<(String, Arc<Slot>)> = lock(&self.slots)
            .iter()
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect();
        let mut out: Vec<(u64, LoadedModel)> = slots
            .into_iter()
            .filter_map(|(id, slot)| {
                let loaded = slot.loaded.try_lock().ok()?;
                let l = loaded.as_ref()?;
                Some((
                    slot.last_used.load(Ordering::Relaxed),
                    LoadedModel {
                        id,
                        kind: l.kind,
                        bytes: l.bytes,
                    },
                ))
            })
            .collect();
        out.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        out.into_iter().map(|(_, m)| m).collect()
    }

    /// Drops least recently used models (never `keep`) until the loaded
    /// ones fit the budget. A model being loaded right now is skipped.
    fn evict_beyond_budget(&self, keep: &str) {
        let mut slots: Vec<(String, Arc<Slot>)> = lock(&self.slots)
            .iter()
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect();
        slots.sort_by_key(|(_, s)| s.last_used.load(Ordering::Relaxed));
        let size = |s: &Slot| {
            s.loaded
                .try_lock()
                .ok()
                .and_then(|l| l.as_ref().map(|l| l.bytes))
                .unwrap_or(0)
        };
        let mut total: u64 = slots.iter().map(|(_, s)| size(s)).sum();
        for (id, slot) in &slots {
            if total <= self.budget {
                break;
            }
            if id == keep {
                continue;
            }
            if let Ok(mut loaded) = slot.loaded.try_lock()
                && let Some(gone) = loaded.take()
            {
                total -= gone.bytes;
                tracing::info!(model = %id, mb = gone.bytes / 1_000_000, "model unloaded (memory budget)");
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
