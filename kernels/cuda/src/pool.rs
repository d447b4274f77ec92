//! The device pool: which device each kernel call runs on.
//!
//! Every GPU has a memory budget (its free memory when the pool was made,
//! less a reserve for the driver's own allocations). A call asks for the
//! bytes it will hold on the device; the pool hands it the GPU with the most
//! room that fits, and takes the bytes back when the call's [`Lease`] drops.
//! Concurrent calls therefore share GPUs without oversubscribing them: one
//! that does not fit anywhere *now* waits for a lease to end, one that could
//! never fit (larger than every budget) runs on the CPU. Without a GPU, or
//! when the operator says `KINO_DEVICE=cpu`, everything runs on the CPU.
//!
//! A model that stays loaded on a GPU holds its room for as long as it is
//! loaded ([`Pool::hold`], a [`Resident`]): calls then fit in what is left,
//! and one that no longer could runs on the CPU rather than wait for room
//! that only an unloaded model would give back. A render node holds its
//! frames' room for the whole node ([`Pool::hold_node`]); a node that finds
//! none free waits for calls and other nodes to end, as a call waits for
//! calls, and runs on the CPU only when loaded models leave it too little.
//!
//! [`Pool::run`] wraps that in the policy every GPU kernel follows: run on
//! the leased GPU, and if the GPU fails (out of memory, a launch error), run
//! the CPU twin instead and say why in the returned [`Ran`]. A GPU error is
//! never fatal to a job.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::Device;

/// Memory kept back on every GPU for the driver, the CUDA context and
/// compiled modules, which the pool does not see allocated.
pub const RESERVE_BYTES: u64 = 512 << 20;

/// Where a kernel call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placement {
    /// The host CPU.
    Cpu,
    /// The CUDA GPU with this ordinal.
    Cuda(usize),
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::Cpu => f.write_str("cpu"),
            Placement::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// What the operator asked for (`KINO_DEVICE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Any GPU with room, else the CPU (the default).
    Auto,
    /// The CPU only.
    Cpu,
    /// This GPU only (calls that could never fit in it run on the CPU).
    Cuda(usize),
}

impl Choice {
    /// Parses `cpu`, `cuda`, `cuda:N` or `auto` (`KINO_DEVICE`'s values).
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "" | "auto" => Ok(Choice::Auto),
            "cpu" => Ok(Choice::Cpu),
            "cuda" => Ok(Choice::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Choice::Cuda)
                .ok_or_else(|| {
                    format!("KINO_DEVICE={other:?} is not a device: say cpu, cuda, cuda:N or auto")
                }),
        }
    }
}

/// One GPU's budget and what is leased of it.
#[derive(Debug)]
struct Budget {
    ordinal: usize,
    capacity: u64,
    /// Held by resident models, for as long as they stay loaded.
    models: u64,
    /// Held by render nodes in flight, until each node ends.
    nodes: u64,
    /// Leased to kernel calls in flight.
    leased: u64,
    /// Kept by runtimes that keep what their unloaded models freed for
    /// their own later use (libtorch's caching allocator), by runtime.
    kept: Vec<(&'static str, u64)>,
}

impl Budget {
    /// What is free now.
    fn room(&self) -> u64 {
        self.capacity
            .saturating_sub(self.models + self.nodes + self.leased + self.kept())
    }

    /// What runtimes keep, in all.
    fn kept(&self) -> u64 {
        self.kept.iter().map(|(_, bytes)| bytes).sum()
    }

    /// What `runtime` keeps here.
    fn kept_by(&mut self, runtime: &'static str) -> &mut u64 {
        let at = match self.kept.iter().position(|(r, _)| *r == runtime) {
            Some(at) => at,
            None => {
                self.kept.push((runtime, 0));
                self.kept.len() - 1
            }
        };
        &mut self.kept[at].1
    }

    /// What is free now for a model of `runtime` (`None`: one that gives
    /// back what it frees): the room, and what that runtime keeps.
    fn room_for(&self, runtime: Option<&'static str>) -> u64 {
        let kept = runtime.map_or(0, |runtime| {
            self.kept
                .iter()
                .filter(|(r, _)| *r == runtime)
                .map(|(_, bytes)| bytes)
                .sum()
        });
        self.room() + kept
    }
}

/// What a request for room waits for: the room it could have once that
/// much is given back.
#[derive(Clone, Copy)]
enum Waits {
    /// For calls' leases to end (a call: the node it runs in may hold the
    /// rest, so waiting for nodes could be waiting for itself).
    Calls,
    /// For calls and other nodes to end (a node, which holds nothing else
    /// while it waits).
    CallsAndNodes,
}

impl Waits {
    /// The room `budget` would have once what this waits for ends.
    fn eventually(self, budget: &Budget) -> u64 {
        let lasting = budget.kept()
            + match self {
                Waits::Calls => budget.models + budget.nodes,
                Waits::CallsAndNodes => budget.models,
            };
        budget.capacity.saturating_sub(lasting)
    }
}

/// Who holds a [`Resident`]'s room.
#[derive(Debug, Clone, Copy)]
enum Holder {
    /// A model, and the runtime that keeps its memory once it is unloaded,
    /// where its runtime does.
    Model(Option<Kept>),
    Node,
}

/// A model's runtime that keeps the memory its models free, and how much
/// of the model's room came from what it kept.
#[derive(Debug, Clone, Copy)]
struct Kept {
    runtime: &'static str,
    drawn: u64,
}

/// Hands kernel calls a device with room for them.
#[derive(Debug)]
pub struct Pool {
    budgets: Mutex<Vec<Budget>>,
    freed: Condvar,
    /// Why there is no GPU to lease, when there is none.
    no_gpu: Option<String>,
    counters: Counters,
}

/// Calls per device and fallbacks, for `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    cpu: AtomicU64,
    gpu: AtomicU64,
    fallbacks: AtomicU64,
    waits: AtomicU64,
}

/// A snapshot of the pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Calls that ran on the CPU (including fallbacks).
    pub cpu_calls: u64,
    /// Calls that ran on a GPU to the end.
    pub gpu_calls: u64,
    /// Calls whose GPU failed and that ran on the CPU instead.
    pub fallbacks: u64,
    /// Calls and render nodes that waited for GPU memory to free up.
    pub waits: u64,
}

/// A GPU the pool may lease: its ordinal and the memory free on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gpu {
    /// The device ordinal.
    pub ordinal: usize,
    /// Free memory, in bytes, when the pool was made.
    pub free_memory: u64,
}

impl Pool {
    /// A pool over these GPUs, as the operator chose. `no_gpu` says why
    /// there are none, for the log, when `gpus` is empty.
    pub fn new(gpus: &[Gpu], choice: Choice, no_gpu: Option<String>) -> Result<Self, String> {
        let budget = |gpu: &Gpu| Budget {
            ordinal: gpu.ordinal,
            capacity: gpu.free_memory.saturating_sub(RESERVE_BYTES),
            models: 0,
            nodes: 0,
            leased: 0,
            kept: Vec::new(),
        };
        let (budgets, no_gpu) = match choice {
            Choice::Cpu => (Vec::new(), Some("KINO_DEVICE=cpu".to_owned())),
            Choice::Auto if gpus.is_empty() => (
                Vec::new(),
                Some(no_gpu.unwrap_or_else(|| "no GPU".to_owned())),
            ),
            Choice::Auto => (gpus.iter().map(budget).collect(), None),
            Choice::Cuda(n) => match gpus.iter().find(|g| g.ordinal == n) {
                Some(gpu) => (vec![budget(gpu)], None),
                None if gpus.is_empty() => {
                    return Err(format!(
                        "KINO_DEVICE=cuda:{n}, but this host has no GPU: {}",
                        no_gpu.unwrap_or_else(|| "none found".to_owned())
                    ));
                }
                None => {
                    let have: Vec<_> = gpus.iter().map(|g| format!("cuda:{}", g.ordinal)).collect();
                    return Err(format!(
                        "KINO_DEVICE=cuda:{n}, but this host has {}",
                        have.join(", ")
                    ));
                }
            },
        };
        Ok(Self {
            budgets: Mutex::new(budgets),
            freed: Condvar::new(),
            no_gpu,
            counters: Counters::default(),
        })
    }

    /// A pool over the GPUs this host has, as `KINO_DEVICE` says.
    pub fn from_env() -> Result<Self, String> {
        let choice = Choice::parse(&std::env::var("KINO_DEVICE").unwrap_or_default())?;
        if choice == Choice::Cpu {
            return Self::new(&[], choice, None);
        }
        let found = crate::detect();
        let gpus: Vec<Gpu> = found
            .devices
            .iter()
            .filter_map(|d| match d {
                Device::Cuda {
                    ordinal,
                    free_memory,
                    ..
                } => Some(Gpu {
                    ordinal: *ordinal,
                    free_memory: *free_memory as u64,
                }),
                Device::Cpu { .. } => None,
            })
            .collect();
        Self::new(&gpus, choice, found.cuda_unavailable)
    }

    /// Why every call runs on the CPU, when the pool has no GPU.
    pub fn no_gpu(&self) -> Option<&str> {
        self.no_gpu.as_deref()
    }

    /// The GPU a model that stays resident should go on: the one with the
    /// most room now, or `None` where calls run on the CPU. Nothing is held:
    /// for a model the process keeps, [`Pool::hold`] its room.
    pub fn model_gpu(&self) -> Option<usize> {
        self.roomiest()
    }

    /// The GPU whose NVENC and NVDEC a node's video should go through: the
    /// one with the most room now, or `None` where calls run on the CPU
    /// (libx264 and software decoding). A codec session's few hundred MB
    /// are not leased either.
    pub fn video_gpu(&self) -> Option<usize> {
        self.roomiest()
    }

    fn roomiest(&self) -> Option<usize> {
        self.lock()
            .iter()
            .max_by_key(|b| b.room())
            .map(|b| b.ordinal)
    }

    /// Holds `bytes` for a model that stays loaded, on the GPU with the
    /// most room that has them free now, until the [`Resident`] drops;
    /// `None` where none has (the model then belongs on the CPU: loading
    /// never waits, since the thread loading it may hold room itself).
    pub fn hold(self: &Arc<Self>, bytes: u64) -> Option<Resident> {
        self.hold_model(bytes, None)
    }

    /// Holds `bytes` for a model of a runtime that keeps the device memory
    /// its models free, for its own later use (`runtime` names it:
    /// libtorch, whose caching allocator tch cannot empty), as
    /// [`Pool::hold`] does, but what that runtime keeps on a GPU counts as
    /// free for it, and when the [`Resident`] drops, its room stays held
    /// as the runtime's instead of coming back to the pool.
    pub fn hold_kept(self: &Arc<Self>, runtime: &'static str, bytes: u64) -> Option<Resident> {
        self.hold_model(bytes, Some(runtime))
    }

    fn hold_model(self: &Arc<Self>, bytes: u64, runtime: Option<&'static str>) -> Option<Resident> {
        let mut budgets = self.lock();
        let budget = budgets
            .iter_mut()
            .filter(|b| b.room_for(runtime) >= bytes)
            .max_by_key(|b| b.room_for(runtime))?;
        let kept = runtime.map(|runtime| {
            let kept = budget.kept_by(runtime);
            let drawn = bytes.min(*kept);
            *kept -= drawn;
            Kept { runtime, drawn }
        });
        budget.models += bytes;
        let ordinal = budget.ordinal;
        drop(budgets);
        Some(self.held_for(ordinal, bytes, Holder::Model(kept)))
    }

    /// Holds `bytes` for a render node's frames and inputs, kept on the GPU
    /// from frame to frame, until the [`Resident`] drops: on the GPU with
    /// the most room, waiting while calls and other nodes hold it; `None`
    /// when loaded models leave no GPU room enough (the node then runs on
    /// the CPU). The calling thread must hold no other node's room.
    pub fn hold_node(self: &Arc<Self>, bytes: u64) -> Option<Resident> {
        let ordinal = self.take_room(bytes, Waits::CallsAndNodes, |b| b.nodes += bytes)?;
        Some(self.held_for(ordinal, bytes, Holder::Node))
    }

    fn held_for(self: &Arc<Self>, ordinal: usize, bytes: u64, holder: Holder) -> Resident {
        // Calls waiting for room that can now never come go to the CPU.
        self.freed.notify_all();
        Resident {
            pool: Arc::clone(self),
            ordinal,
            bytes,
            holder,
        }
    }

    /// Takes `bytes` on the GPU with the most room (`take` says for
    /// whom), waiting while every GPU that could have them free once
    /// `waits` ends is short of them now; `None` when none could.
    fn take_room(&self, bytes: u64, waits: Waits, take: impl FnOnce(&mut Budget)) -> Option<usize> {
        let mut budgets = self.lock();
        let mut waited = false;
        loop {
            // (checked on every wake: a model loaded meanwhile may have
            // left no GPU that could ever have the room)
            if !budgets.iter().any(|b| waits.eventually(b) >= bytes) {
                return None;
            }
            let roomiest = budgets
                .iter_mut()
                .filter(|b| b.room() >= bytes)
                .max_by_key(|b| b.room());
            if let Some(budget) = roomiest {
                take(budget);
                if waited {
                    self.counters.waits.fetch_add(1, Ordering::Relaxed);
                }
                return Some(budget.ordinal);
            }
            waited = true;
            budgets = self
                .freed
                .wait(budgets)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// The bytes resident models and nodes hold on each GPU, and runtimes
    /// keep after unloading theirs ([`Pool::hold_kept`]).
    pub fn resident(&self) -> Vec<(usize, u64)> {
        self.lock()
            .iter()
            .map(|b| (b.ordinal, b.models + b.nodes + b.kept()))
            .collect()
    }

    /// The GPUs the pool leases, with their budgets in bytes.
    pub fn budgets(&self) -> Vec<(usize, u64)> {
        self.lock()
            .iter()
            .map(|b| (b.ordinal, b.capacity))
            .collect()
    }

    /// Opens each of the pool's GPUs on a thread of its own, compiling
    /// Kino's kernels for it (or reading them from the cache), so that a
    /// job's first kernel call, which would wait for that, finds them
    /// ready: a job's early stages (script, narration, grading plans) run
    /// meanwhile. A GPU that fails to open here fails again at its first
    /// call, which falls back to the CPU and says why.
    pub fn warm_up(&self) {
        #[cfg(feature = "cuda")]
        {
            let ordinals: Vec<usize> = self.lock().iter().map(|b| b.ordinal).collect();
            if !ordinals.is_empty() {
                std::thread::spawn(move || {
                    for ordinal in ordinals {
                        let _ = crate::gpu::Gpu::get(ordinal);
                    }
                });
            }
        }
    }

    /// Leases room for `bytes` on the GPU with the most room, waiting while
    /// every GPU that could hold it is busy; the CPU when none ever could.
    pub fn acquire(&self, bytes: u64) -> Lease<'_> {
        match self.take_room(bytes, Waits::Calls, |b| b.leased += bytes) {
            Some(ordinal) => Lease {
                pool: self,
                placement: Placement::Cuda(ordinal),
                bytes,
            },
            None => Lease {
                pool: self,
                placement: Placement::Cpu,
                bytes: 0,
            },
        }
    }

    /// Runs one kernel call: `gpu` on a leased GPU when the pool has one
    /// with room for `bytes`, `cpu` otherwise or when `gpu` fails.
    pub fn run<T, E: fmt::Display>(
        &self,
        bytes: u64,
        gpu: impl FnOnce(usize) -> Result<T, E>,
        cpu: impl FnOnce() -> T,
    ) -> (T, Ran) {
        match self.on_gpu(bytes, gpu) {
            Ok(done) => done,
            Err(ran) => (cpu(), ran),
        }
    }

    /// The GPU half of [`Pool::run`], for callers whose CPU half needs what
    /// `gpu` borrows: `Err` says the caller must run the call on the CPU,
    /// and why (it is counted as a CPU call).
    pub fn on_gpu<T, E: fmt::Display>(
        &self,
        bytes: u64,
        gpu: impl FnOnce(usize) -> Result<T, E>,
    ) -> Result<(T, Ran), Ran> {
        let lease = self.acquire(bytes);
        let ordinal = match lease.placement {
            Placement::Cuda(n) => n,
            Placement::Cpu => {
                drop(lease);
                let why = self.no_gpu.clone().unwrap_or_else(|| {
                    format!("needs {} MiB, more than any GPU's budget", bytes >> 20)
                });
                return Err(self.on_cpu(why));
            }
        };
        let outcome = gpu(ordinal);
        drop(lease);
        self.settle(ordinal, outcome)
    }

    /// [`Pool::on_gpu`] on the GPU where `resident` already holds the
    /// call's room (a render node's frames and inputs, kept there from frame
    /// to frame), counted the same way.
    pub fn on_resident<T, E: fmt::Display>(
        &self,
        resident: &Resident,
        gpu: impl FnOnce(usize) -> Result<T, E>,
    ) -> Result<(T, Ran), Ran> {
        self.settle(resident.ordinal, gpu(resident.ordinal))
    }

    /// Counts a call its caller runs on the CPU from the start, and says
    /// why.
    pub fn on_cpu(&self, why: String) -> Ran {
        self.counters.cpu.fetch_add(1, Ordering::Relaxed);
        Ran {
            placement: Placement::Cpu,
            fallback: None,
            cpu_because: Some(why),
        }
    }

    /// Counts a GPU call's outcome: `Err` when the CPU must stand in.
    fn settle<T, E: fmt::Display>(
        &self,
        ordinal: usize,
        outcome: Result<T, E>,
    ) -> Result<(T, Ran), Ran> {
        match outcome {
            Ok(value) => {
                self.counters.gpu.fetch_add(1, Ordering::Relaxed);
                Ok((
                    value,
                    Ran {
                        placement: Placement::Cuda(ordinal),
                        fallback: None,
                        cpu_because: None,
                    },
                ))
            }
            Err(error) => Err(self.gpu_failed(ordinal, error)),
        }
    }

    /// Counts a call the CPU runs because GPU `ordinal` failed it with
    /// `error` (a caller that opens its own GPU state: a run's), and says so.
    pub fn gpu_failed(&self, ordinal: usize, error: impl fmt::Display) -> Ran {
        self.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.counters.cpu.fetch_add(1, Ordering::Relaxed);
        Ran {
            placement: Placement::Cpu,
            fallback: Some(format!("cuda:{ordinal} failed: {error}")),
            cpu_because: None,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            cpu_calls: c.cpu.load(Ordering::Relaxed),
            gpu_calls: c.gpu.load(Ordering::Relaxed),
            fallbacks: c.fallbacks.load(Ordering::Relaxed),
            waits: c.waits.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Budget>> {
        // A panic while holding the lock leaves the numbers consistent
        // (they change in single statements), so carry on.
        self.budgets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release(&self, placement: Placement, bytes: u64) {
        if let Placement::Cuda(ordinal) = placement {
            self.give_back(ordinal, |b| b.leased -= bytes);
        }
    }

    fn give_back(&self, ordinal: usize, take: impl FnOnce(&mut Budget)) {
        let mut budgets = self.lock();
        if let Some(b) = budgets.iter_mut().find(|b| b.ordinal == ordinal) {
            take(b);
        }
        drop(budgets);
        self.freed.notify_all();
    }
}

/// A resident model's room on a GPU, held until dropped (when the model is
/// unloaded), or a render node's, until the node ends.
#[derive(Debug)]
pub struct Resident {
    pool: Arc<Pool>,
    ordinal: usize,
    bytes: u64,
    holder: Holder,
}

impl Resident {
    /// The GPU holding the room.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// The bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Gives the room back for a model that was never loaded, so its
    /// runtime allocated none of it: what the room drew from the memory
    /// its runtime keeps goes back to that runtime, and the rest to the
    /// pool. (Dropping it instead would count all of it as kept by a
    /// runtime that keeps what its models free.)
    pub fn unused(mut self) {
        if let Holder::Model(kept) = &mut self.holder {
            let bytes = self.bytes;
            let kept = kept.take();
            self.pool.give_back(self.ordinal, |b| {
                b.models -= bytes;
                if let Some(Kept { runtime, drawn }) = kept {
                    *b.kept_by(runtime) += drawn;
                }
            });
            self.bytes = 0;
        }
    }
}

impl Drop for Resident {
    fn drop(&mut self) {
        let bytes = self.bytes;
        self.pool.give_back(self.ordinal, |b| match self.holder {
            Holder::Model(None) => b.models -= bytes,
            Holder::Model(Some(Kept { runtime, .. })) => {
                b.models -= bytes;
                *b.kept_by(runtime) += bytes;
            }
            Holder::Node => b.nodes -= bytes,
        });
    }
}

/// Room on a device, held until dropped.
#[derive(Debug)]
pub struct Lease<'a> {
    pool: &'a Pool,
    placement: Placement,
    bytes: u64,
}

impl Lease<'_> {
    /// The device leased.
    pub fn placement(&self) -> Placement {
        self.placement
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.pool.release(self.placement, self.bytes);
    }
}

/// Where a call ran, and why not on a GPU when it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// The device that produced the result.
    pub placement: Placement,
    /// The GPU error the CPU stood in for.
    pub fallback: Option<String>,
    /// Why the call went to the CPU in the first place.
    pub cpu_because: Option<String>,
}

impl fmt::Display for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.placement)?;
        if let Some(error) = &self.fallback {
            write!(f, " (fell back: {error})")?;
        } else if let Some(why) = &self.cpu_because {
            write!(f, " ({why})")?;
        }
        Ok(())
    }
}

/// A node's (or a command's) placed kernel calls: how many ran on each
/// device, and why any that should have run on a GPU did not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    calls: BTreeMap<String, u64>,
    fallbacks: BTreeSet<String>,
}

impl Tally {
    /// Counts one call.
    pub fn record(&mut self, ran: &Ran) {
        *self.calls.entry(ran.placement.to_string()).or_default() += 1;
        if let Some(error) = &ran.fallback {
            self.fallbacks.insert(error.clone());
        }
    }

    /// `cuda:0` or `cpu` where every call ran on one device, else each
    /// device with its count (`cuda:0 ×700, cpu ×20`); `None` for no calls.
    pub fn summary(&self) -> Option<String> {
        match self.calls.len() {
            0 => None,
            1 => self.calls.keys().next().cloned(),
            _ => Some(
                self.calls
                    .iter()
                    .map(|(device, n)| format!("{device} ×{n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        }
    }

    /// The distinct GPU errors the CPU stood in for.
    pub fn fallbacks(&self) -> impl Iterator<Item = &str> {
        self.fallbacks.iter().map(String::as_str)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    const MIB: u64 = 1 << 20;

    fn gpu(ordinal: usize, mib: u64) -> Gpu {
        Gpu {
            ordinal,
            free_memory: RESERVE_BYTES + mib * MIB,
        }
    }

    #[test]
    fn kino_device_values_parse_and_a_bad_one_is_named() {
        assert_eq!(Choice::parse("cpu"), Ok(Choice::Cpu));
        assert_eq!(Choice::parse(""), Ok(Choice::Auto));
        assert_eq!(Choice::parse("auto"), Ok(Choice::Auto));
        assert_eq!(Choice::parse("cuda"), Ok(Choice::Cuda(0)));
        assert_eq!(Choice::parse("cuda:3"), Ok(Choice::Cuda(3)));
        let error = Choice::parse("gpu0").unwrap_err();
        assert!(
            error.contains("\"gpu0\"") && error.contains("cuda:N"),
            "{error}"
        );
        assert!(Choice::parse("cuda:x").is_err());
    }

    #[test]
    fn without_a_gpu_every_call_runs_on_the_cpu_and_says_why() {
        let pool = Pool::new(&[], Choice::Auto, Some("no libcuda".to_owned())).unwrap();
        let (value, ran) = pool.run(MIB, |_| Ok::<_, String>("gpu"), || "cpu");
        assert_eq!(value, "cpu");
        assert_eq!(ran.placement, Placement::Cpu);
        assert_eq!(ran.to_string(), "cpu (no libcuda)");
        assert_eq!(pool.stats().cpu_calls, 1);
    }

    #[test]
    fn a_resident_model_holds_its_room_until_it_is_unloaded() {
        let pool = Arc::new(Pool::new(&[gpu(0, 100), gpu(1, 60)], Choice::Auto, None).unwrap());
        // The model goes where there is most room, and calls fit around it.
        let model = pool.hold(70 * MIB).unwrap();
        assert_eq!((model.ordinal(), model.bytes()), (0, 70 * MIB));
        assert_eq!(pool.resident(), [(0, 70 * MIB), (1, 0)]);
        assert_eq!(pool.model_gpu(), Some(1));
        assert_eq!(pool.acquire(50 * MIB).placement(), Placement::Cuda(1));
        {
            let on_1 = pool.acquire(60 * MIB);
            assert_eq!(on_1.placement(), Placement::Cuda(1));
            assert_eq!(pool.acquire(30 * MIB).placement(), Placement::Cuda(0));
            // Only what is free now can be held: not 40 MiB on either.
            assert!(pool.hold(40 * MIB).is_none());
        }
        // A call that fits no GPU beside the model runs on the CPU rather
        // than wait: nothing but unloading the model would make room.
        let second = pool.hold(60 * MIB).unwrap();
        assert_eq!(second.ordinal(), 1);
        assert_eq!(pool.acquire(40 * MIB).placement(), Placement::Cpu);
        drop(model);
        assert_eq!(pool.acquire(40 * MIB).placement(), Placement::Cuda(0));
        drop(second);
        assert_eq!(pool.resident(), [(0, 0), (1, 0)]);
    }

    #[test]
    fn a_runtime_that_keeps_freed_memory_keeps_its_room_for_its_own_models() {
        let pool = Arc::new(Pool::new(&[gpu(0, 100), gpu(1, 60)], Choice::Auto, None).unwrap());
        let model = pool.hold_kept("libtorch", 70 * MIB).unwrap();
        assert_eq!(model.ordinal(), 0);
        drop(model);
        // libtorch keeps the 70 MiB: still held on cuda:0, and no call or
        // other runtime's model fits there beside it...
        assert_eq!(pool.resident(), [(0, 70 * MIB), (1, 0)]);
        assert_eq!(pool.acquire(40 * MIB).placement(), Placement::Cuda(1));
        assert_eq!(pool.acquire(61 * MIB).placement(), Placement::Cpu);
        assert_eq!(pool.hold(40 * MIB).unwrap().ordinal(), 1);
        // ...but libtorch's next model there is held from what it kept,
        // with 20 MiB more of the room.
        let next = pool.hold_kept("libtorch", 90 * MIB).unwrap();
        assert_eq!(next.ordinal(), 0);
        assert_eq!(pool.resident(), [(0, 90 * MIB), (1, 0)]);
        assert_eq!(pool.acquire(11 * MIB).placement(), Placement::Cuda(1));
        drop(next);
        assert_eq!(pool.resident(), [(0, 90 * MIB), (1, 0)]);
        // Another runtime keeps its own.
        let other = pool.hold_kept("another", 50 * MIB).unwrap();
        assert_eq!(other.ordinal(), 1);
        drop(other);
        assert_eq!(pool.resident(), [(0, 90 * MIB), (1, 50 * MIB)]);
        assert!(
            pool.hold_kept("another", 61 * MIB).is_none(),
            "short on both"
        );
        assert_eq!(pool.hold_kept("another", 60 * MIB).unwrap().ordinal(), 1);
    }

    #[test]
    fn room_held_for_a_model_never_loaded_is_given_back_as_it_was() {
        let pool = Arc::new(Pool::new(&[gpu(0, 100)], Choice::Auto, None).unwrap());
        drop(pool.hold_kept("libtorch", 30 * MIB).unwrap());
        assert_eq!(pool.resident(), [(0, 30 * MIB)]);
        // A model drawing the 30 MiB libtorch keeps and 20 more, whose
        // runtime then fails before loading: libtorch still keeps its 30,
        // and the 20 it never allocated are free for anyone.
        pool.hold_kept("libtorch", 50 * MIB).unwrap().unused();
        assert_eq!(pool.resident(), [(0, 30 * MIB)]);
        assert_eq!(pool.acquire(70 * MIB).placement(), Placement::Cuda(0));
        assert_eq!(pool.acquire(71 * MIB).placement(), Placement::Cpu);
        // A model of a runtime that gives back what it frees.
        pool.hold(60 * MIB).unwrap().unused();
        assert_eq!(pool.resident(), [(0, 30 * MIB)]);
        // A node's room is a node's: it is given back whole either way.
        pool.hold_node(40 * MIB).unwrap().unused();
        assert_eq!(pool.resident(), [(0, 30 * MIB)]);
    }

    /// A render node's calls on the room it holds: counted as leased calls
    /// are, a failure as a fallback naming the GPU.
    #[test]
    fn calls_on_held_room_are_counted_and_a_failure_falls_back() {
        let pool = Arc::new(Pool::new(&[gpu(2, 100)], Choice::Auto, None).unwrap());
        let node = pool.hold(30 * MIB).unwrap();
        let (value, ran) = pool
            .on_resident(&node, |ordinal| Ok::<_, String>(ordinal * 10))
            .unwrap();
        assert_eq!((value, ran.placement), (20, Placement::Cuda(2)));
        let ran = pool
            .on_resident(&node, |_| Err::<(), _>("launch failed"))
            .unwrap_err();
        assert_eq!(ran.placement, Placement::Cpu);
        assert_eq!(
            ran.fallback.as_deref(),
            Some("cuda:2 failed: launch failed")
        );
        let ran = pool.on_cpu("the node's GPU failed".into());
        assert_eq!(ran.cpu_because.as_deref(), Some("the node's GPU failed"));
        let stats = pool.stats();
        assert_eq!(
            (stats.gpu_calls, stats.cpu_calls, stats.fallbacks),
            (1, 2, 1)
        );
        assert_eq!(pool.resident(), [(2, 30 * MIB)], "held until the node ends");
        drop(node);
        assert_eq!(pool.resident(), [(2, 0)]);
    }

    #[test]
    fn a_call_waiting_for_room_runs_on_the_cpu_once_a_model_takes_it() {
        let pool = Arc::new(Pool::new(&[gpu(0, 100)], Choice::Auto, None).unwrap());
        let busy = pool.acquire(80 * MIB);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| pool.acquire(60 * MIB).placement());
            std::thread::sleep(Duration::from_millis(50));
            // 20 MiB are free: a model takes them, leaving 80 usable.
            let model = pool.hold(20 * MIB).unwrap();
            drop(busy);
            assert_eq!(waiter.join().unwrap(), Placement::Cuda(0));
            drop(model);
        });
        let busy = pool.acquire(80 * MIB);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| pool.acquire(90 * MIB).placement());
            std::thread::sleep(Duration::from_millis(50));
            // Now nothing could ever hold 90 MiB beside the model: the
            // waiter is woken and goes to the CPU while `busy` still runs.
            let model = pool.hold(20 * MIB).unwrap();
            assert_eq!(waiter.join().unwrap(), Placement::Cpu);
            drop((busy, model));
        });
    }

    #[test]
    fn more_concurrent_nodes_than_memory_allows_queue_rather_than_fail() {
        // Room for two 40 MiB nodes at a time; six start at once.
        let pool = Arc::new(Pool::new(&[gpu(0, 100)], Choice::Auto, None).unwrap());
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        std::thread::scope(|s| {
            let nodes: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        let node = pool.hold_node(40 * MIB)?;
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Some(node.ordinal())
                    })
                })
                .collect();
            for node in nodes {
                assert_eq!(node.join().unwrap(), Some(0), "every node ran on the GPU");
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2, "{peak:?} nodes at once");
        assert!(pool.stats().waits >= 1, "{:?}", pool.stats());
        assert_eq!(pool.resident(), [(0, 0)]);
    }

    #[test]
    fn a_node_waits_for_calls_and_nodes_but_not_for_models() {
        let pool = Arc::new(Pool::new(&[gpu(0, 100)], Choice::Auto, None).unwrap());
        // A call and a node in flight: a second node waits for both.
        let call = pool.acquire(30 * MIB);
        let first = pool.hold_node(50 * MIB).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| pool.hold_node(60 * MIB).map(|n| n.ordinal()));
            std::thread::sleep(Duration::from_millis(50));
            assert!(!waiter.is_finished(), "60 MiB are not free yet");
            drop(call);
            std::thread::sleep(Duration::from_millis(50));
            assert!(!waiter.is_finished(), "the first node still holds 50");
            drop(first);
            assert_eq!(waiter.join().unwrap(), Some(0));
        });
        // A call never waits for a node: the node it runs in may be the
        // one holding the room.
        let node = pool.hold_node(70 * MIB).unwrap();
        assert_eq!(pool.acquire(40 * MIB).placement(), Placement::Cpu);
        drop(node);
        // A model stays: a node that fits only without it runs on the CPU
        // at once, and so does one waiting when a model takes the room.
        let model = pool.hold(50 * MIB).unwrap();
        assert!(pool.hold_node(60 * MIB).is_none());
        drop(model);
        let call = pool.acquire(50 * MIB);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| pool.hold_node(60 * MIB).is_some());
            std::thread::sleep(Duration::from_millis(50));
            let model = pool.hold(50 * MIB).unwrap();
            assert!(!waiter.join().unwrap());
            drop((call, model));
        });
        assert_eq!(pool.resident(), [(0, 0)]);
    }

    #[test]
    fn kino_device_cpu_keeps_work_off_the_gpus() {
        let pool = Pool::new(&[gpu(0, 1024)], Choice::Cpu, None).unwrap();
        let (value, ran) = pool.run(MIB, |_| Ok::<_, String>("gpu"), || "cpu");
        assert_eq!((value, ran.placement), ("cpu", Placement::Cpu));
        assert_eq!(pool.no_gpu(), Some("KINO_DEVICE=cpu"));
        assert_eq!(pool.model_gpu(), None);
        assert_eq!(pool.video_gpu(), None);
    }

    #[test]
    fn kino_device_naming_a_missing_gpu_is_an_error() {
        let error = Pool::new(&[gpu(0, 64)], Choice::Cuda(2), None).unwrap_err();
        assert!(
            error.contains("cuda:2") && error.contains("cuda:0"),
            "{error}"
        );
        let error = Pool::new(&[], Choice::Cuda(0), Some("no libcuda".into())).unwrap_err();
        assert!(error.contains("no libcuda"), "{error}");
        let pool = Pool::new(&[gpu(0, 64), gpu(1, 64)], Choice::Cuda(1), None).unwrap();
        assert_eq!(pool.model_gpu(), Some(1));
        assert_eq!(pool.video_gpu(), Some(1));
        assert_eq!(pool.acquire(MIB).placement(), Placement::Cuda(1));
    }

    #[test]
    fn a_call_goes_to_the_gpu_with_most_room_and_gives_it_back() {
        let pool = Pool::new(&[gpu(0, 100), gpu(1, 300)], Choice::Auto, None).unwrap();
        let a = pool.acquire(250 * MIB);
        assert_eq!(a.placement(), Placement::Cuda(1));
        let b = pool.acquire(60 * MIB);
        assert_eq!(b.placement(), Placement::Cuda(0));
        drop(a);
        assert_eq!(pool.acquire(250 * MIB).placement(), Placement::Cuda(1));
    }

    #[test]
    fn a_call_larger_than_any_gpu_runs_on_the_cpu() {
        let pool = Pool::new(&[gpu(0, 100)], Choice::Auto, None).unwrap();
        let (_, ran) = pool.run(101 * MIB, |_| Ok::<_, String>(()), || ());
        assert_eq!(ran.placement, Placement::Cpu);
        assert!(ran.to_string().contains("needs 101 MiB"), "{ran}");
    }

    #[test]
    fn more_concurrent_calls_than_memory_allows_queue_rather_than_fail() {
        // Room for two 40 MiB calls at a time; eight threads ask at once.
        let pool = Arc::new(Pool::new(&[gpu(0, 100)], Choice::Auto, None).unwrap());
        let resident = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (pool, resident, peak) = (pool.clone(), resident.clone(), peak.clone());
                std::thread::spawn(move || {
                    let (_, ran) = pool.run(
                        40 * MIB,
                        |_| {
                            let now = resident.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            resident.fetch_sub(1, Ordering::SeqCst);
                            Ok::<_, String>(())
                        },
                        || panic!("no call may leave the GPU"),
                    );
                    ran.placement
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), Placement::Cuda(0));
        }
        assert!(
            peak.load(Ordering::SeqCst) <= 2,
            "{peak:?} calls were resident at once"
        );
        let stats = pool.stats();
        assert_eq!(stats.gpu_calls, 8);
        assert!(stats.waits >= 1, "{stats:?}");
        assert_eq!(pool.acquire(100 * MIB).placement(), Placement::Cuda(0));
    }

    #[test]
    fn a_gpu_error_falls_back_to_the_cpu_and_is_reported() {
        let pool = Pool::new(&[gpu(0, 100)], Choice::Auto, None).unwrap();
        let (value, ran) = pool.run(MIB, |_| Err("out of memory"), || 7);
        assert_eq!(value, 7);
        assert_eq!(ran.placement, Placement::Cpu);
        assert_eq!(
            ran.fallback.as_deref(),
            Some("cuda:0 failed: out of memory")
        );
        assert_eq!(pool.stats().fallbacks, 1);
        // The failed call's memory came back.
        assert_eq!(pool.acquire(100 * MIB).placement(), Placement::Cuda(0));
    }

    #[test]
    fn a_tally_names_one_device_alone_and_counts_a_mix() {
        let mut tally = Tally::default();
        assert_eq!(tally.summary(), None);
        let on = |placement, fallback: Option<&str>| Ran {
            placement,
            fallback: fallback.map(str::to_owned),
            cpu_because: None,
        };
        tally.record(&on(Placement::Cuda(0), None));
        tally.record(&on(Placement::Cuda(0), None));
        assert_eq!(tally.summary().as_deref(), Some("cuda:0"));
        tally.record(&on(Placement::Cpu, Some("cuda:0 failed: out of memory")));
        tally.record(&on(Placement::Cpu, Some("cuda:0 failed: out of memory")));
        assert_eq!(tally.summary().as_deref(), Some("cpu ×2, cuda:0 ×2"));
        assert_eq!(
            tally.fallbacks().collect::<Vec<_>>(),
            ["cuda:0 failed: out of memory"]
        );
    }
}
