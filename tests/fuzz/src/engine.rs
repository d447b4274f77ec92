//! The fuzzing loop.
//!
//! For one target: load the seeds (the corpus folder's files and the
//! target's generated ones), run each, then until the time or the run
//! budget is spent: pick a corpus entry, mutate it ([`Mutator`]), run it
//! under `catch_unwind`, and keep it in the corpus when its [`Outcome`] is
//! one not seen before. A panic is a finding; so is an input slower than
//! [`Config::slow`]. Before each run the input is written to an in-flight
//! file, so what a panic cannot report — an abort (stack overflow, failed
//! allocation) or a hang the watchdog ends — is still on disk for the
//! supervisor (`kino-fuzz` without `--in-process`) to save.
//!
//! The panic capture and the watchdog are per process: fuzz one target at
//! a time.

use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::FileExt as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use crate::mutate::Mutator;
use crate::rng::Rng;
use crate::targets::{Outcome, Target};

/// The exit status of a process the watchdog ends because one input ran
/// longer than [`Config::hang`].
pub const HANG_EXIT: i32 = 86;

/// How to fuzz.
#[derive(Debug, Clone)]
pub struct Config {
    /// Stop after this long (seeds included). `None`: no time limit.
    pub seconds: Option<f64>,
    /// Stop after this many mutated inputs. `None`: no limit.
    pub runs: Option<u64>,
    /// The random seed; with a run limit and no time limit, a run is
    /// reproducible.
    pub seed: u64,
    /// Where the seeds are: `corpus_dir/TARGET/*`. Default: `tests/fuzz/corpus`.
    pub corpus_dir: PathBuf,
    /// Where findings are saved: `crash_dir/TARGET-HASH` (the input) and
    /// `TARGET-HASH.txt` (what happened). Default: `tests/fuzz/crashes`.
    pub crash_dir: PathBuf,
    /// An input slower than this is a finding. Default 1 s.
    pub slow: Duration,
    /// An input running longer than this ends the process (a hang). Default 30 s.
    pub hang: Duration,
    /// The most entries the corpus grows to. Default 4096.
    pub max_corpus: usize,
    /// Print each new outcome as it is found.
    pub verbose: bool,
}

impl Config {
    /// The defaults, with `seed`, no limits and the crate's folders.
    pub fn new(seed: u64) -> Config {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        Config {
            seconds: None,
            runs: None,
            seed,
            corpus_dir: dir.join("corpus"),
            crash_dir: dir.join("crashes"),
            slow: Duration::from_secs(1),
            hang: Duration::from_secs(30),
            max_corpus: 4096,
            verbose: false,
        }
    }

    /// The in-flight file of `target` (the input being run, length-prefixed).
    pub fn inflight(&self, target: &str) -> PathBuf {
        self.crash_dir.join(format!(".inflight-{target}"))
    }
}

/// What kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The target panicked (a bug, or a broken property).
    Panic,
    /// One input took longer than [`Config::slow`].
    Slow,
    /// The process died: an abort (stack overflow, failed allocation) or a signal.
    Abort,
    /// One input ran longer than [`Config::hang`].
    Hang,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Panic => "panic",
            Kind::Slow => "slow",
            Kind::Abort => "abort",
            Kind::Hang => "hang",
        })
    }
}

/// One finding: the first input that showed it, and how often it was seen.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What happened.
    pub kind: Kind,
    /// The panic message and where it was raised, the time taken, or the
    /// end of the dead process's error output.
    pub message: String,
    /// The input.
    pub input: Vec<u8>,
    /// Where the input was saved, if it was.
    pub saved: Option<PathBuf>,
    /// How many inputs showed it (same kind, same place).
    pub count: u64,
}

/// What fuzzing one target did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target's name.
    pub target: &'static str,
    /// Inputs run, seeds included.
    pub executions: u64,
    /// Time taken.
    pub elapsed: Duration,
    /// Seeds loaded.
    pub seeds: usize,
    /// Corpus entries at the end (seeds and kept mutants).
    pub corpus: usize,
    /// Distinct outcome signatures seen.
    pub outcomes: usize,
    /// The slowest input's time.
    pub slowest: Duration,
    /// The findings, first seen first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// A report of nothing run yet.
    pub fn empty(target: &'static str) -> Report {
        Report {
            target,
            executions: 0,
            elapsed: Duration::ZERO,
            seeds: 0,
            corpus: 0,
            outcomes: 0,
            slowest: Duration::ZERO,
            findings: Vec::new(),
        }
    }

    /// Executions per second.
    pub fn rate(&self) -> f64 {
        self.executions as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// FNV-1a, 64-bit: stable across runs and Rust versions, for file names
/// and outcome sets.
pub fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The seeds of `target`: the files of `corpus_dir/TARGET/` (sorted by
/// name), then its generated seeds; each cut to the target's size cap,
/// duplicates dropped.
pub fn seeds(target: &Target, corpus_dir: &Path) -> Vec<Vec<u8>> {
    let dir = corpus_dir.join(target.name);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut seen = HashSet::new();
    files
        .iter()
        .filter_map(|p| fs::read(p).ok())
        .chain((target.generated_seeds)())
        .map(|mut s| {
            s.truncate(target.max_len);
            s
        })
        .filter(|s| seen.insert(s.clone()))
        .collect()
}

/// Fuzzes `target` under `config`; `progress` is called about once a second.
pub fn fuzz(target: &Target, config: &Config, mut progress: impl FnMut(&Report)) -> Report {
    install_panic_hook();
    let started = Instant::now();
    let deadline = config
        .seconds
        .map(|s| started + Duration::from_secs_f64(s.max(0.0)));
    let mut rng = Rng::new(config.seed ^ fnv(target.name.as_bytes()));
    let mutator = Mutator::new(
        target
            .dictionary
            .iter()
            .flat_map(|list| list.iter().copied()),
        target.max_len,
    );
    let mut run = Run {
        target,
        config,
        inflight: InFlight::open(&config.inflight(target.name)),
        seen: HashSet::new(),
        found: HashMap::new(),
        report: Report::empty(target.name),
    };
    watch(target.name, config);
    let mut corpus = Vec::new();
    for seed in seeds(target, &config.corpus_dir) {
        run.report.seeds += 1;
        if run.execute(&seed).is_some() {
            corpus.push(seed);
        }
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mut mutated = 0u64;
    let mut next_progress = Instant::now() + Duration::from_secs(1);
    let mut input = Vec::with_capacity(target.max_len);
    loop {
        let now = Instant::now();
        if config.runs.is_some_and(|r| mutated >= r) || deadline.is_some_and(|d| now >= d) {
            break;
        }
        if now >= next_progress {
            next_progress = now + Duration::from_secs(1);
            run.report.corpus = corpus.len();
            run.report.elapsed = started.elapsed();
            progress(&run.report);
        }
        let other = &corpus[rng.below(corpus.len())];
        input.clear();
        input.extend_from_slice(&corpus[rng.below(corpus.len())]);
        mutator.mutate(&mut rng, &mut input, other);
        mutated += 1;
        if run.execute(&input) == Some(true) && corpus.len() < config.max_corpus {
            corpus.push(input.clone());
        }
    }
    unwatch();
    run.inflight.remove();
    run.report.corpus = corpus.len();
    run.report.elapsed = started.elapsed();
    run.report
}

/// One target's run in progress.
struct Run<'a> {
    target: &'a Target,
    config: &'a Config,
    inflight: InFlight,
    /// Outcome signatures seen (hashed).
    seen: HashSet<u64>,
    /// Findings by (kind, where): their index in the report.
    found: HashMap<(Kind, String), usize>,
    report: Report,
}

impl Run<'_> {
    /// Runs one input: `Some(new outcome?)`, or `None` when it panicked.
    fn execute(&mut self, input: &[u8]) -> Option<bool> {
        self.inflight.record(input);
        let target = self.target;
        CAPTURING.set(true);
        STARTED.store(now_ms(), Ordering::SeqCst);
        let started = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
        let took = started.elapsed();
        STARTED.store(0, Ordering::SeqCst);
        CAPTURING.set(false);
        self.report.executions += 1;
        self.report.slowest = self.report.slowest.max(took);
        match result {
            Ok(outcome) => {
                if took > self.config.slow {
                    self.finding(
                        Kind::Slow,
                        outcome.as_str().to_owned(),
                        format!("took {took:.2?}; outcome: {}", outcome.as_str()),
                        input,
                    );
                }
                Some(self.new_outcome(&outcome))
            }
            Err(payload) => {
                let (message, at, backtrace) = take_panic(&*payload);
                self.finding(
                    Kind::Panic,
                    at.clone(),
                    format!("{message}\n  at {at}\n{backtrace}"),
                    input,
                );
                None
            }
        }
    }

    fn new_outcome(&mut self, outcome: &Outcome) -> bool {
        let new = self.seen.insert(fnv(outcome.as_str().as_bytes()));
        if new {
            self.report.outcomes = self.seen.len();
            if self.config.verbose {
                eprintln!("{}: new outcome: {}", self.target.name, outcome.as_str());
            }
        }
        new
    }

    fn finding(&mut self, kind: Kind, key: String, message: String, input: &[u8]) {
        if let Some(&i) = self.found.get(&(kind, key.clone())) {
            self.report.findings[i].count += 1;
            return;
        }
        let saved = save(
            &self.config.crash_dir,
            self.target.name,
            kind,
            &message,
            input,
        );
        eprintln!(
            "{}: {kind}: {}",
            self.target.name,
            message.lines().next().unwrap_or("")
        );
        self.found.insert((kind, key), self.report.findings.len());
        self.report.findings.push(Finding {
            kind,
            message,
            input: input.to_vec(),
            saved,
            count: 1,
        });
    }
}

/// Saves a finding: `dir/TARGET-HASH` holds the input, `TARGET-HASH.txt`
/// what happened. Answers the input's path, or `None` when it cannot be
/// written (the finding is still reported).
pub fn save(dir: &Path, target: &str, kind: Kind, message: &str, input: &[u8]) -> Option<PathBuf> {
    fs::create_dir_all(dir).ok()?;
    let path = dir.join(format!("{target}-{:016x}", fnv(input)));
    fs::write(&path, input).ok()?;
    let note = format!(
        "target: {target}\nkind: {kind}\nreplay: cargo run --release -p kino-fuzz -- --replay {}\n\n{message}\n",
        path.display()
    );
    fs::write(path.with_extension("txt"), note).ok()?;
    Some(path)
}

/// Runs one input through `target` once: its outcome, or the panic's
/// message, location and backtrace.
pub fn replay(target: &Target, input: &[u8]) -> Result<Outcome, String> {
    install_panic_hook();
    CAPTURING.set(true);
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    CAPTURING.set(false);
    result.map_err(|payload| {
        let (message, at, backtrace) = take_panic(&*payload);
        format!("{message}\n  at {at}\n{backtrace}")
    })
}

/// The input being run, written before each run so that a process that
/// dies leaves it behind: an 8-byte little-endian length, then the bytes.
struct InFlight {
    path: PathBuf,
    file: Option<fs::File>,
    buf: Vec<u8>,
}

impl InFlight {
    fn open(path: &Path) -> InFlight {
        let file = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| {
                fs::OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .read(true)
                    .write(true)
                    .open(path)
            })
            .map_err(|e| {
                eprintln!(
                    "cannot write {}: {e}; aborts will not be saved",
                    path.display()
                )
            })
            .ok();
        InFlight {
            path: path.to_owned(),
            file,
            buf: Vec::new(),
        }
    }

    fn record(&mut self, input: &[u8]) {
        if let Some(file) = &self.file {
            self.buf.clear();
            self.buf
                .extend_from_slice(&(input.len() as u64).to_le_bytes());
            self.buf.extend_from_slice(input);
            // Best effort: a failed write only loses what an abort would save.
            let _ = file.write_at(&self.buf, 0);
        }
    }

    fn remove(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The input an in-flight file holds, if any.
pub fn read_inflight(path: &Path) -> Option<Vec<u8>> {
    let bytes = fs::read(path).ok()?;
    let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let len = usize::try_from(len).ok()?;
    bytes.get(8..8 + len).map(<[u8]>::to_vec)
}

thread_local! {
    /// Whether this thread is running an input: the panic hook records its
    /// panics instead of printing them. (A panic on another thread, such as
    /// a rayon worker's, is printed there and reaches the run as its payload.)
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
}

/// The last panic during a run: message, location, backtrace.
static LAST_PANIC: Mutex<Option<(String, String, String)>> = Mutex::new(None);

/// Where panics have been raised (their backtraces are taken once).
static PANIC_PLACES: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Installs (once) a panic hook that, during a run, records the panic
/// instead of printing it, and otherwise defers to the previous hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CAPTURING.get() {
                previous(info);
                return;
            }
            let message = info
                .payload_as_str()
                .unwrap_or("(a panic without a message)")
                .to_owned();
            let at = info
                .location()
                .map_or_else(|| "an unknown place".to_owned(), ToString::to_string);
            // A backtrace costs milliseconds: only the first time a place panics.
            let first = PANIC_PLACES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(HashSet::new)
                .insert(at.clone());
            let backtrace = if first {
                Backtrace::force_capture().to_string()
            } else {
                String::new()
            };
            let mut last = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
            *last = Some((message, at, backtrace));
        }));
    });
}

fn take_panic(payload: &(dyn Any + Send)) -> (String, String, String) {
    let recorded = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
    recorded.unwrap_or_else(|| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a panic without a message)".to_owned());
        (message, "an unknown place".to_owned(), String::new())
    })
}

/// When the current run started (ms since [`epoch`], plus 1); 0 when idle.
static STARTED: AtomicU64 = AtomicU64::new(0);

/// What the watchdog saves when a run hangs.
struct Watched {
    target: &'static str,
    inflight: PathBuf,
    crash_dir: PathBuf,
    hang: Duration,
}

static WATCHED: Mutex<Option<Watched>> = Mutex::new(None);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

/// Starts watching `target`'s runs (the watchdog thread starts once): a run
/// longer than `config.hang` is saved as a hang and ends the process with
/// [`HANG_EXIT`] — the input cannot be stopped any other way.
fn watch(target: &'static str, config: &Config) {
    *WATCHED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Watched {
        target,
        inflight: config.inflight(target),
        crash_dir: config.crash_dir.clone(),
        hang: config.hang,
    });
    static THREAD: Once = Once::new();
    THREAD.call_once(|| {
        epoch();
        std::thread::Builder::new()
            .name("kino-fuzz-watchdog".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(Duration::from_millis(200));
                    let started = STARTED.load(Ordering::SeqCst);
                    if started == 0 {
                        continue;
                    }
                    let watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
                    let Some(w) = watched.as_ref() else { continue };
                    let ran = Duration::from_millis(now_ms().saturating_sub(started));
                    if ran > w.hang {
                        let message = format!("one input ran for more than {:.0?}", w.hang);
                        let input = read_inflight(&w.inflight).unwrap_or_default();
                        let saved = save(&w.crash_dir, w.target, Kind::Hang, &message, &input);
                        eprintln!(
                            "{}: hang: {message}; input saved as {}",
                            w.target,
                            saved.map_or_else(|| "(not saved)".into(), |p| p.display().to_string())
                        );
                        std::process::exit(HANG_EXIT);
                    }
                }
            })
            .expect("starting the watchdog thread");
    });
}

fn unwatch() {
    *WATCHED.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The panic capture and the watchdog are per process: one run at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    fn flaky(bytes: &[u8]) -> Outcome {
        if bytes.windows(4).any(|w| w == b"boom") {
            panic!("boom in the input");
        }
        if bytes.starts_with(b"zzz") {
            std::thread::sleep(Duration::from_millis(30));
        }
        Outcome::ok(crate::targets::bucket(bytes.len()))
    }

    const FLAKY: Target = Target {
        name: "flaky",
        about: "panics on `boom`, sleeps on `zzz`",
        run: flaky,
        dictionary: &[&[b"boom"]],
        max_len: 64,
        generated_seeds: || vec![b"zzz".to_vec(), b"hello".to_vec()],
    };

    #[test]
    fn panics_and_slow_inputs_are_findings_saved_with_their_input() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::new(3);
        config.runs = Some(2000);
        config.corpus_dir = dir.path().join("corpus");
        config.crash_dir = dir.path().join("crashes");
        config.slow = Duration::from_millis(10);
        let report = fuzz(&FLAKY, &config, |_| {});
        assert_eq!(report.seeds, 2);
        assert_eq!(report.executions, 2002);
        assert!(report.corpus > 2 && report.outcomes > 2, "{report:?}");
        let panic = report
            .findings
            .iter()
            .find(|f| f.kind == Kind::Panic)
            .expect("the panic is found");
        assert!(
            panic.message.starts_with("boom in the input\n  at "),
            "{}",
            panic.message
        );
        assert!(panic.count > 1, "found once, counted each time");
        let saved = panic.saved.as_ref().expect("saved");
        assert_eq!(fs::read(saved).expect("the input"), panic.input);
        assert!(
            fs::read_to_string(saved.with_extension("txt"))
                .expect("the note")
                .contains("boom")
        );
        let slow = report
            .findings
            .iter()
            .find(|f| f.kind == Kind::Slow)
            .expect("the slow seed is found");
        assert!(slow.input.starts_with(b"zzz"));
        assert!(replay(&FLAKY, b"a boom").is_err_and(|e| e.contains("boom in the input")));
        assert!(replay(&FLAKY, b"calm").is_ok());
        assert!(
            !config.inflight("flaky").exists(),
            "the in-flight file is removed"
        );
    }

    #[test]
    fn a_run_is_reproducible_for_a_seed_and_a_run_count() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::new(9);
        config.runs = Some(500);
        config.corpus_dir = dir.path().join("corpus");
        config.crash_dir = dir.path().join("crashes");
        config.slow = Duration::from_secs(60);
        let a = fuzz(&FLAKY, &config, |_| {});
        let b = fuzz(&FLAKY, &config, |_| {});
        assert_eq!((a.corpus, a.outcomes), (b.corpus, b.outcomes));
        let inputs = |r: &Report| {
            r.findings
                .iter()
                .map(|f| f.input.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(inputs(&a), inputs(&b));
    }

    #[test]
    fn the_inflight_file_holds_the_last_input() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("inflight");
        let mut inflight = InFlight::open(&path);
        inflight.record(b"a longer first input");
        inflight.record(b"short");
        assert_eq!(read_inflight(&path).as_deref(), Some(&b"short"[..]));
    }
}
