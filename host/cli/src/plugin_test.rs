//! `kino plugin test`: build a plugin (or open a package), call its world's
//! functions on fixture inputs, and show each answer with what it cost and
//! whether it keeps the world's rules — before anything is installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use kino_registry::{Manifest, Package, World};
use kino_runtime::answers::{self, BadAnswer};
use kino_runtime::backend_types::{
    ClipRequest, Pending, SpeechProgress, SpeechRequest, TranscribeProgress, TranscribeRequest,
    Transcript, VideoProgress, Voice,
};
use kino_runtime::plugins::{check_component, runtime_limits, runtime_world};
use kino_runtime::types::{
    Asset, BrandLook, Brief, Failure, FrameStats, GradeIntent, PluginError, Scene, Segment, WordCue,
};
use kino_runtime::{
    CallCtx, CallReport, CallResult, Grant, LogLevel, LogLine, LogSink, MediaFile, MediaSink,
    Plugin, Runtime, RuntimeConfig, Trap,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What to test, and how.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// A plugin project (built first), an unpacked package, or a `.tar.gz`.
    pub target: PathBuf,
    /// The component, instead of building or reading it from the target.
    pub wasm: Option<PathBuf>,
    /// Fixture files (the world's inputs, JSON); default `TARGET/fixture.json`,
    /// else the world's sample inputs.
    pub fixtures: Vec<PathBuf>,
    /// Config values as `key=value`, checked against the manifest (its
    /// defaults fill the rest).
    pub config: Vec<String>,
    /// The answer the main call must give (JSON, as printed).
    pub expect: Option<PathBuf>,
}

/// The sample inputs of each world, the same a new project's `fixture.json` starts from.
pub fn sample_fixture(world: World) -> &'static str {
    match world {
        World::ScriptStrategy => include_str!("../templates/fixtures/script-strategy.json"),
        World::DirectorStyle => include_str!("../templates/fixtures/director-style.json"),
        World::Translator => include_str!("../templates/fixtures/translator.json"),
        World::Grader => include_str!("../templates/fixtures/grader.json"),
        World::FallbackPolicy => include_str!("../templates/fixtures/fallback-policy.json"),
        World::CaptionStyle => include_str!("../templates/fixtures/caption-style.json"),
        World::Transcriber => include_str!("../templates/fixtures/transcriber.json"),
        World::Speech => include_str!("../templates/fixtures/speech.json"),
        World::ClipGenerator => include_str!("../templates/fixtures/clip-generator.json"),
        World::Lipsync => include_str!("../templates/fixtures/lipsync.json"),
    }
}

/// Runs the test; prints as it goes. Fails when the plugin traps, refuses,
/// breaks its world's rules, or answers other than `--expect` says.
pub fn run(options: &TestOptions) -> Result<()> {
    let (manifest, wasm) = load_target(options)?;
    let id = format!("{}@{}", manifest.name(), manifest.version());
    let world = runtime_world(&manifest)?;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    check_component(&runtime, &manifest, &wasm).with_context(|| format!("checking {id}"))?;
    let plugin = runtime.load_granted(
        &id,
        &wasm,
        world,
        runtime_limits(&manifest),
        Grant::all_requested(manifest.outbound_hosts()),
    )?;
    let limits = plugin.limits();
    println!(
        "{id}: kino:stage/{world}, limits {} MiB, {} ms, {} fuel per call",
        limits.memory_bytes >> 20,
        limits.timeout.as_millis(),
        limits.fuel
    );
    for capability in plugin.capabilities() {
        println!(
            "  also exports {}",
            capability.export_names().next().unwrap_or_default()
        );
    }
    let config = parse_config(&manifest, &options.config)?;
    let fixtures = fixtures(options, world)?;
    let expected = options
        .expect
        .as_ref()
        .map(|path| read_json::<Value>(path))
        .transpose()?;
    let tokio = tokio::runtime::Runtime::new().context("starting tokio")?;
    let mut failures = Vec::new();
    for Fixture { name, value, dir } in &fixtures {
        println!("\nfixture {name}");
        let tester = Tester::new(&runtime, &plugin, &config);
        let answer = tokio.block_on(tester.call_world(world, value, dir));
        match answer {
            Ok(main) => {
                if let Some(expected) = &expected
                    && let Some(path) = first_difference(expected, &main, String::new())
                {
                    println!("  expect: differs at `{path}`");
                    failures.push(format!(
                        "{name}: the answer differs from --expect at `{path}`"
                    ));
                } else if expected.is_some() {
                    println!("  expect: matches");
                }
            }
            Err(why) => failures.push(format!("{name}: {why}")),
        }
    }
    if failures.is_empty() {
        println!("\nok: {} fixture(s)", fixtures.len());
        Ok(())
    } else {
        bail!("{id} failed:\n  {}", failures.join("\n  "))
    }
}

/// The manifest and component of the target: built from a project, or read from a package.
fn load_target(options: &TestOptions) -> Result<(Manifest, Vec<u8>)> {
    let target = &options.target;
    // A project (its sources beside the manifest) is read as it is; anything
    // else is a package, checked as the registry will check it.
    let is_project = ["Cargo.toml", "package.json", "app.py"]
        .iter()
        .any(|f| target.join(f).is_file());
    if !is_project {
        let package = Package::open(target)
            .with_context(|| format!("opening package {}", target.display()))?;
        let wasm = match &options.wasm {
            Some(path) => read(path)?,
            None => package.component().to_vec(),
        };
        return Ok((package.manifest().clone(), wasm));
    }
    let manifest_path = target.join(kino_registry::manifest::MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let manifest = Manifest::parse(&text, &manifest_path.display().to_string())?;
    let wasm = match &options.wasm {
        Some(path) => read(path)?,
        None if target.join("Cargo.toml").is_file() => read(&cargo_build(target)?)?,
        None => {
            let built = target.join("plugin.wasm");
            if !built.is_file() {
                bail!(
                    "{} has no plugin.wasm: build the component first (`npm run build` for \
                     JavaScript, `componentize-py ... -o plugin.wasm` for Python; see its \
                     README) or pass --wasm",
                    target.display()
                );
            }
            read(&built)?
        }
    };
    Ok((manifest, wasm))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    serde_json::from_slice(&read(path)?).with_context(|| format!("parsing {}", path.display()))
}

/// Builds a Rust plugin project for `wasm32-wasip2` (release) and answers
/// where cargo put the component.
fn cargo_build(dir: &Path) -> Result<PathBuf> {
    println!(
        "building {} (cargo build --target wasm32-wasip2 --release)",
        dir.display()
    );
    let output = Command::new("cargo")
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running cargo (is the Rust toolchain installed?)")?;
    if !output.status.success() {
        bail!(
            "cargo build failed in {} (run `rustup target add wasm32-wasip2` if the target is missing)",
            dir.display()
        );
    }
    let mut wasm = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && message["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
            && let Some(files) = message["filenames"].as_array()
        {
            wasm = files
                .iter()
                .filter_map(Value::as_str)
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from);
        }
    }
    wasm.with_context(|| {
        format!(
            "cargo built no .wasm in {}: is the crate a cdylib (`crate-type = [\"cdylib\"]`)?",
            dir.display()
        )
    })
}

fn parse_config(manifest: &Manifest, given: &[String]) -> Result<Vec<(String, String)>> {
    let mut map = std::collections::BTreeMap::new();
    for item in given {
        let Some((key, value)) = item.split_once('=') else {
            bail!("--config takes KEY=VALUE, not `{item}`");
        };
        map.insert(key.to_owned(), value.to_owned());
    }
    Ok(manifest.validate_config(&map)?.into_iter().collect())
}

/// One fixture: its name, its inputs, and the directory its media paths
/// are relative to.
struct Fixture {
    name: String,
    value: Value,
    dir: PathBuf,
}

fn fixtures(options: &TestOptions, world: World) -> Result<Vec<Fixture>> {
    let from_file = |path: &PathBuf| -> Result<Fixture> {
        Ok(Fixture {
            name: path.display().to_string(),
            value: read_json(path)?,
            dir: path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        })
    };
    if !options.fixtures.is_empty() {
        return options.fixtures.iter().map(from_file).collect();
    }
    let own = options.target.join("fixture.json");
    if options.target.is_dir() && own.is_file() {
        return Ok(vec![from_file(&own)?]);
    }
    let sample = serde_json::from_str(sample_fixture(world)).expect("the sample fixtures parse");
    Ok(vec![Fixture {
        name: format!("the {world} sample"),
        value: sample,
        dir: PathBuf::from("."),
    }])
}

/// Prints the plugin's log lines as they come.
struct PrintSink;

impl LogSink for PrintSink {
    fn log(&self, line: LogLine) {
        let level = match line.level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        println!("  log [{level}] {}", line.message);
    }
}

/// Calls one fixture's functions and reports each.
struct Tester<'a> {
    runtime: &'a Runtime,
    plugin: &'a Plugin,
    call: CallCtx,
    reports: Arc<Mutex<Vec<CallReport>>>,
}

impl<'a> Tester<'a> {
    fn new(runtime: &'a Runtime, plugin: &'a Plugin, config: &[(String, String)]) -> Self {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = reports.clone();
        let call = CallCtx::new("plugin-test")
            .with_config(config.iter().cloned())
            .with_log_sink(Arc::new(PrintSink))
            .with_call_observer(move |r| {
                seen.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(r.clone());
            });
        Self {
            runtime,
            plugin,
            call,
            reports,
        }
    }

    /// Prints one call's answer, cost and checks; answers the answer as JSON,
    /// or why the call failed.
    fn report<T: Serialize>(
        &self,
        function: &str,
        outcome: Result<Result<T, PluginError>, Trap>,
        check: impl FnOnce(&T) -> Result<(), BadAnswer>,
    ) -> Result<(T, Value), String> {
        let cost = self
            .reports
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .map(|r| {
                format!(
                    "{:.1} ms, fuel {}, peak memory {:.1} MiB",
                    r.wall.as_secs_f64() * 1000.0,
                    r.fuel,
                    r.peak_memory_bytes as f64 / f64::from(1 << 20)
                )
            })
            .unwrap_or_default();
        let value = match outcome {
            Err(trap) => {
                println!(
                    "  {function}: trapped ({}) after {cost}: {trap}",
                    trap.kind()
                );
                return Err(format!("{function} trapped: {trap}"));
            }
            Ok(Err(error)) => {
                println!("  {function}: the plugin refused ({cost}): {error:?}");
                return Err(format!("{function} refused: {error:?}"));
            }
            Ok(Ok(value)) => value,
        };
        // Through text, so f32 fields read as written (0.1, not 0.10000000149).
        let json = serde_json::to_string(&value)
            .and_then(|text| serde_json::from_str(&text))
            .map_err(|e| e.to_string())?;
        println!("  {function}: answered in {cost}");
        println!("{}", indent(&shown(&json)));
        match check(&value) {
            Ok(()) => println!("  checks: ok"),
            Err(bad) => {
                println!("  checks: {bad}");
                return Err(format!("{function} answered badly: {bad}"));
            }
        }
        Ok((value, json))
    }

    /// Calls the world's functions on `fixture`; answers the main call's answer.
    async fn call_world(&self, world: World, fixture: &Value, dir: &Path) -> Result<Value, String> {
        let rt = self.runtime;
        let wrong = |e| format!("{e}");
        match world {
            World::DirectorStyle => {
                let (scene, brief): (Scene, Brief) =
                    (field(fixture, "scene")?, field(fixture, "brief")?);
                let director = rt.director(self.plugin, &self.call).map_err(wrong)?;
                let outcome = director.direct(&scene, &brief).await;
                let (_, json) = self.report("direct", outcome, |d| answers::directed(&scene, d))?;
                if let Some(assets) = assets(fixture)? {
                    if director.picks_assets() {
                        let outcome = director.pick_assets(&scene, &brief, &assets).await;
                        self.report("pick-assets", optional(outcome), |p| {
                            answers::asset_picks(&assets, p)
                        })?;
                    } else {
                        println!("  pick-assets: not exported (optional: asset-picker)");
                    }
                }
                Ok(json)
            }
            World::ScriptStrategy => {
                let brief: Brief = field(fixture, "brief")?;
                let count: u32 = field(fixture, "count").unwrap_or(3);
                let strategy = rt.script_strategy(self.plugin, &self.call).map_err(wrong)?;
                let outcome = strategy.generate(&brief, count).await;
                let (scripts, json) =
                    self.report("generate", outcome, |s| answers::scripts(&brief, count, s))?;
                for (i, script) in scripts.iter().enumerate() {
                    let outcome = strategy.score(&brief, script).await;
                    self.report(&format!("score [{i}]"), outcome, answers::score_card)?;
                }
                if let Some(assets) = assets(fixture)? {
                    if strategy.writes_with_assets() {
                        let outcome = strategy.generate_with_assets(&brief, &assets, count).await;
                        self.report("generate-with-assets", optional(outcome), |s| {
                            answers::scripts(&brief, count, s)
                        })?;
                    } else {
                        println!("  generate-with-assets: not exported (optional: asset-scripts)");
                    }
                }
                Ok(json)
            }
            World::CaptionStyle => {
                let cues: Vec<WordCue> = field(fixture, "cues")?;
                let brand: BrandLook = field(fixture, "brand")?;
                let captions = rt.caption_style(self.plugin, &self.call).map_err(wrong)?;
                let outcome = captions.style_cues(&cues, &brand).await;
                let (_, json) =
                    self.report("style-cues", outcome, |s| answers::cue_styles(&cues, s))?;
                Ok(json)
            }
            World::Translator => {
                let source: String = field(fixture, "source")?;
                let target: String = field(fixture, "target")?;
                let segments: Vec<Segment> = field(fixture, "segments")?;
                let translator = rt.translator(self.plugin, &self.call).map_err(wrong)?;
                let pairs = translator.supported_pairs().await.map(Ok);
                self.report("supported-pairs", pairs, |p| answers::language_pairs(p))?;
                let batch = translator.max_batch_size().await.map(Ok);
                self.report("max-batch-size", batch, |n| answers::max_batch_size(*n))?;
                let outcome = translator.translate(&source, &target, &segments).await;
                let (_, json) =
                    self.report("translate", outcome, |t| answers::translation(&segments, t))?;
                Ok(json)
            }
            World::Grader => {
                let stats: FrameStats = field(fixture, "stats")?;
                let intent: GradeIntent = field(fixture, "intent")?;
                let grader = rt.grader(self.plugin, &self.call).map_err(wrong)?;
                let outcome = grader.grade(&stats, &intent).await;
                let (_, json) = self.report("grade", outcome, answers::lut)?;
                Ok(json)
            }
            World::FallbackPolicy => {
                let failure: Failure = field(fixture, "failure")?;
                let policy = rt.fallback(self.plugin, &self.call).map_err(wrong)?;
                let outcome = policy.decide(&failure).await.map(Ok);
                let (_, json) = self.report("decide", outcome, answers::decision)?;
                Ok(json)
            }
            World::Transcriber | World::Speech | World::ClipGenerator | World::Lipsync => {
                self.call_backend(world, fixture, dir).await
            }
        }
    }
}

/// The most bytes a backend may write in a plugin test.
const MAX_OUTPUT_BYTES: u64 = 1 << 30;
/// How many times a pending job is checked before the test gives up.
const MAX_CHECKS: u32 = 30;
/// The wait before a check when the backend leaves it to the host.
const DEFAULT_CHECK_WAIT: Duration = Duration::from_millis(500);
/// The longest wait before a check (a pending answer's `check-after-ms`, capped).
const MAX_CHECK_WAIT: Duration = Duration::from_secs(2);
/// The key a backend call is made with, unless the fixture gives one.
const TEST_KEY: &str = "kino-plugin-test";

/// A backend answer that may be a pending job.
trait Progress: Serialize {
    fn pending(&self) -> Option<&Pending>;
}

impl Progress for TranscribeProgress {
    fn pending(&self) -> Option<&Pending> {
        match self {
            Self::Pending(pending) => Some(pending),
            Self::Done(_) => None,
        }
    }
}

impl Progress for SpeechProgress {
    fn pending(&self) -> Option<&Pending> {
        match self {
            Self::Pending(pending) => Some(pending),
            Self::Done(_) => None,
        }
    }
}

impl Progress for VideoProgress {
    fn pending(&self) -> Option<&Pending> {
        match self {
            Self::Pending(pending) => Some(pending),
            Self::Done(_) => None,
        }
    }
}

impl Tester<'_> {
    /// Calls a backend world's functions on `fixture`, its media named
    /// relative to `dir`; answers the main call's last answer.
    async fn call_backend(
        &self,
        world: World,
        fixture: &Value,
        dir: &Path,
    ) -> Result<Value, String> {
        let rt = self.runtime;
        let wrong = |e| format!("{e}");
        let temp = tempfile::tempdir().map_err(|e| format!("making a temporary directory: {e}"))?;
        let media = |name: &str| media_file(fixture, name, dir, temp.path());
        let key: String = field(fixture, "key").unwrap_or_else(|_| TEST_KEY.to_owned());
        let out = MediaSink::new(temp.path().join("output"), MAX_OUTPUT_BYTES);
        match world {
            World::Transcriber => {
                let audio = media("audio")?;
                let request: TranscribeRequest = field(fixture, "request")?;
                let transcriber = rt.transcriber(self.plugin, &self.call).map_err(wrong)?;
                let first = transcriber.submit(&audio, &request, &key).await;
                let check = async |ticket: &str| transcriber.check(ticket).await;
                let (_, json) = self
                    .drive("submit", first, check, |answer| match answer {
                        TranscribeProgress::Done(transcript) => transcript_checks(transcript),
                        TranscribeProgress::Pending(_) => Ok(()),
                    })
                    .await?;
                Ok(json)
            }
            World::Speech => {
                let request: SpeechRequest = field(fixture, "request")?;
                let speech = rt.speech(self.plugin, &self.call).map_err(wrong)?;
                let voices = speech.voices().await;
                self.report("voices", voices, |v| voice_checks(v))?;
                // Voice cloning, when the fixture asks for it:
                // `"clone": {"name": ..., "samples": [media...]}`.
                if let Some(clone) = fixture.get("clone") {
                    let name: String = field(clone, "name")?;
                    let samples = media_files(clone, "samples", dir, temp.path())?;
                    let voice = speech.create_voice(&name, &samples).await;
                    self.report("create-voice", voice, |v| {
                        voice_checks(std::slice::from_ref(v))
                    })?;
                }
                let first = speech.synthesize(&request, &out, &key).await;
                let check = async |ticket: &str| speech.check(ticket, &out).await;
                let (_, json) = self
                    .drive("synthesize", first, check, |_| output_written(&out))
                    .await?;
                Ok(json)
            }
            World::ClipGenerator => {
                let request: ClipRequest = field(fixture, "request")?;
                let references = media_files(fixture, "references", dir, temp.path())?;
                let clips = rt.clip_generator(self.plugin, &self.call).map_err(wrong)?;
                let first = clips.submit(&request, &references, &out, &key).await;
                let check = async |ticket: &str| clips.check(ticket, &out).await;
                let (_, json) = self
                    .drive("submit", first, check, |_| output_written(&out))
                    .await?;
                Ok(json)
            }
            World::Lipsync => {
                let (video, audio) = (media("video")?, media("audio")?);
                let lipsync = rt.lipsync(self.plugin, &self.call).map_err(wrong)?;
                let first = lipsync.submit(&video, &audio, &out, &key).await;
                let check = async |ticket: &str| lipsync.check(ticket, &out).await;
                let (_, json) = self
                    .drive("submit", first, check, |_| output_written(&out))
                    .await?;
                Ok(json)
            }
            _ => Err(format!("{world} is not a backend world")),
        }
    }

    /// Reports `first`, then checks its job while it is pending (waiting
    /// as it asks, at most [`MAX_CHECK_WAIT`]); answers the last answer.
    /// `done` checks a finished answer.
    async fn drive<T: Progress>(
        &self,
        function: &str,
        first: CallResult<T>,
        check: impl AsyncFn(&str) -> CallResult<T>,
        done: impl Fn(&T) -> Result<(), BadAnswer>,
    ) -> Result<(T, Value), String> {
        let checks = |answer: &T| match answer.pending() {
            Some(pending) => pending_checks(pending),
            None => done(answer),
        };
        let mut answer = self.report(function, first, checks)?;
        for n in 1..=MAX_CHECKS {
            let Some(pending) = answer.0.pending() else {
                return Ok(answer);
            };
            let wait = match pending.check_after_ms {
                0 => DEFAULT_CHECK_WAIT,
                ms => Duration::from_millis(ms.into()).min(MAX_CHECK_WAIT),
            };
            let ticket = pending.ticket.clone();
            println!("  waiting {} ms to check {ticket:?}", wait.as_millis());
            tokio::time::sleep(wait).await;
            answer = self.report(&format!("check [{n}]"), check(&ticket).await, checks)?;
        }
        if answer.0.pending().is_some() {
            println!("  still pending after {MAX_CHECKS} checks: giving up");
            return Err(format!(
                "{function}: the job was still pending after {MAX_CHECKS} checks"
            ));
        }
        Ok(answer)
    }
}

/// A media input of a fixture: a file (its path relative to the fixture),
/// or, without a `path`, a small sample the test writes.
#[derive(Debug, serde::Deserialize)]
struct MediaInput {
    path: Option<PathBuf>,
    content_type: String,
}

/// The media `name` of `fixture`, lent as a file.
fn media_file(fixture: &Value, name: &str, dir: &Path, temp: &Path) -> Result<MediaFile, String> {
    media_input(&field(fixture, name)?, name, dir, temp)
}

/// The media list `name` of `fixture` (none if it has no `name`), lent as files.
fn media_files(
    fixture: &Value,
    name: &str,
    dir: &Path,
    temp: &Path,
) -> Result<Vec<MediaFile>, String> {
    if fixture.get(name).is_none() {
        return Ok(Vec::new());
    }
    let inputs: Vec<MediaInput> = field(fixture, name)?;
    inputs
        .iter()
        .enumerate()
        .map(|(i, input)| media_input(input, &format!("{name}-{i}"), dir, temp))
        .collect()
}

/// `input` as a file: read from `dir`, or a sample written to `temp`.
fn media_input(
    input: &MediaInput,
    name: &str,
    dir: &Path,
    temp: &Path,
) -> Result<MediaFile, String> {
    let path = match &input.path {
        Some(path) => dir.join(path),
        None => {
            let Some((extension, bytes)) = sample_media(&input.content_type) else {
                return Err(format!(
                    "the fixture's `{name}` has no `path`, and there is no sample {} to make \
                     (there are audio/wav, video/mp4 and image/png): name a file",
                    input.content_type
                ));
            };
            let path = temp.join(format!("{name}.{extension}"));
            std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
            path
        }
    };
    MediaFile::new(&path, &input.content_type)
        .map_err(|e| format!("the fixture's `{name}`: {}: {e}", path.display()))
}

/// A sample of `content_type` for fixtures that name no file: one second
/// of a 440 Hz tone (16 kHz mono 16-bit WAV), a 2x2 PNG, or, for video, an
/// MP4 file-type box and filler: bytes a backend can read and upload, not
/// a playable video (a plugin test checks the plugin's contract, not its
/// media).
fn sample_media(content_type: &str) -> Option<(&'static str, Vec<u8>)> {
    match content_type {
        "audio/wav" | "audio/wave" | "audio/x-wav" => Some(("wav", sine_wav(16_000, 440.0))),
        "image/png" => Some(("png", SAMPLE_PNG.to_vec())),
        "video/mp4" => {
            let mut mp4 = vec![0, 0, 0, 24];
            mp4.extend_from_slice(b"ftypisom\0\0\x02\0isommp41");
            mp4.extend_from_slice(&(8u32 + 4096).to_be_bytes());
            mp4.extend_from_slice(b"free");
            mp4.resize(mp4.len() + 4096, 0);
            Some(("mp4", mp4))
        }
        _ => None,
    }
}

/// A 2x2 orange PNG.
const SAMPLE_PNG: [u8; 73] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0,
    0, 0, 253, 212, 154, 115, 0, 0, 0, 16, 73, 68, 65, 84, 120, 218, 99, 56, 81, 161, 1, 68, 12,
    16, 10, 0, 41, 238, 5, 161, 100, 8, 97, 7, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// One second of a `hz` sine at `rate` samples a second, as a mono 16-bit WAV.
fn sine_wav(rate: u32, hz: f32) -> Vec<u8> {
    let data_len = rate * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..rate {
        let t = i as f32 / rate as f32;
        let sample = ((t * hz * std::f32::consts::TAU).sin() * 0.25 * f32::from(i16::MAX)) as i16;
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> BadAnswer {
    BadAnswer {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A pending job: a ticket to check it by, and progress in 0..=1.
fn pending_checks(pending: &Pending) -> Result<(), BadAnswer> {
    if pending.ticket.is_empty() {
        return Err(bad(
            "pending.ticket",
            "is empty: the host checks the job by it",
        ));
    }
    if pending.ticket.len() > answers::MAX_TEXT_BYTES {
        return Err(bad("pending.ticket", "is too long"));
    }
    if let Some(progress) = pending.progress
        && !(0.0..=1.0).contains(&progress)
    {
        return Err(bad(
            "pending.progress",
            format!("is {progress}, outside 0..=1"),
        ));
    }
    Ok(())
}

/// A transcript: a language; segments in time order, each starting no
/// later than it ends, with its words inside it and in order.
fn transcript_checks(transcript: &Transcript) -> Result<(), BadAnswer> {
    if transcript.language.trim().is_empty() {
        return Err(bad("language", "is empty"));
    }
    let mut previous_start = 0;
    for (i, segment) in transcript.segments.iter().enumerate() {
        let at = format!("segments[{i}]");
        if segment.start_ms > segment.end_ms {
            return Err(bad(
                at,
                format!(
                    "ends ({} ms) before it starts ({} ms)",
                    segment.end_ms, segment.start_ms
                ),
            ));
        }
        if segment.start_ms < previous_start {
            return Err(bad(
                at,
                format!(
                    "starts ({} ms) before the segment before it ({previous_start} ms)",
                    segment.start_ms
                ),
            ));
        }
        if segment.text.len() > answers::MAX_TEXT_BYTES {
            return Err(bad(format!("{at}.text"), "is too long"));
        }
        previous_start = segment.start_ms;
        let mut previous_word = segment.start_ms;
        for (j, word) in segment.words.iter().enumerate() {
            let at = format!("{at}.words[{j}]");
            if word.start_ms > word.end_ms {
                return Err(bad(
                    at,
                    format!(
                        "ends ({} ms) before it starts ({} ms)",
                        word.end_ms, word.start_ms
                    ),
                ));
            }
            if word.start_ms < segment.start_ms || word.end_ms > segment.end_ms {
                return Err(bad(
                    at,
                    format!(
                        "({}..{} ms) is outside its segment ({}..{} ms)",
                        word.start_ms, word.end_ms, segment.start_ms, segment.end_ms
                    ),
                ));
            }
            if word.start_ms < previous_word {
                return Err(bad(at, "starts before the word before it"));
            }
            previous_word = word.start_ms;
        }
    }
    Ok(())
}

/// Voices: each with an id, no id twice.
fn voice_checks(voices: &[Voice]) -> Result<(), BadAnswer> {
    let mut seen = std::collections::HashSet::new();
    for (i, voice) in voices.iter().enumerate() {
        if voice.id.is_empty() {
            return Err(bad(format!("[{i}].id"), "is empty"));
        }
        if !seen.insert(voice.id.as_str()) {
            return Err(bad(
                format!("[{i}].id"),
                format!("{:?} is given twice", voice.id),
            ));
        }
    }
    Ok(())
}

/// A `done` answer's media: written, with a content type. Prints it.
fn output_written(out: &MediaSink) -> Result<(), BadAnswer> {
    let written = out.written();
    match out.content_type() {
        Some(content_type) if written > 0 => {
            println!("  output: {written} bytes of {content_type}");
            Ok(())
        }
        _ => Err(bad(
            "out",
            "is empty: a `done` answer must have written its media",
        )),
    }
}

/// The fixture's `assets`, if it has any: a brief's assets, for the
/// optional asset capabilities.
fn assets(fixture: &Value) -> Result<Option<Vec<Asset>>, String> {
    if fixture.get("assets").is_none() {
        return Ok(None);
    }
    let assets: Vec<Asset> = field(fixture, "assets")?;
    Ok((!assets.is_empty()).then_some(assets))
}

/// An optional capability's answer, called because the plugin has it.
fn optional<T>(
    outcome: Result<Result<Option<T>, PluginError>, Trap>,
) -> Result<Result<T, PluginError>, Trap> {
    outcome.map(|answer| {
        answer.and_then(|value| {
            value.ok_or_else(|| PluginError::Internal("the capability vanished".to_owned()))
        })
    })
}

fn field<T: DeserializeOwned>(fixture: &Value, name: &str) -> Result<T, String> {
    let value = fixture
        .get(name)
        .ok_or_else(|| format!("the fixture has no `{name}`"))?;
    serde_json::from_value(value.clone()).map_err(|e| format!("the fixture's `{name}`: {e}"))
}

/// The answer as printed: long number lists (a LUT's table) cut to their start.
fn shown(value: &Value) -> String {
    fn cut(value: &Value) -> Value {
        match value {
            Value::Array(items) if items.len() > 24 && items.iter().all(Value::is_number) => {
                let mut head: Vec<Value> = items[..12].to_vec();
                head.push(Value::String(format!("... {} numbers in all", items.len())));
                Value::Array(head)
            }
            Value::Array(items) => Value::Array(items.iter().map(cut).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), cut(v))).collect())
            }
            other => other.clone(),
        }
    }
    serde_json::to_string_pretty(&cut(value)).unwrap_or_default()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path where `actual` differs from `expected`, if any.
fn first_difference(expected: &Value, actual: &Value, at: String) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().chain(a.keys()) {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match (e.get(key), a.get(key)) {
                    (Some(e), Some(a)) => {
                        if let Some(d) = first_difference(e, a, path) {
                            return Some(d);
                        }
                    }
                    _ => return Some(path),
                }
            }
            None
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!("{at} (length {} vs {})", e.len(), a.len()));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (e, a))| first_difference(e, a, format!("{at}[{i}]")))
        }
        (Value::Number(e), Value::Number(a)) => {
            let (e, a) = (
                e.as_f64().unwrap_or(f64::NAN),
                a.as_f64().unwrap_or(f64::NAN),
            );
            // f32 answers printed through f64: compare to f32 precision.
            ((e - a).abs() > 1e-6 * e.abs().max(1.0)).then_some(at)
        }
        (e, a) => (e != a).then_some(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_are_found_by_path() {
        let a = json!({"scene_index": 1, "grade": {"warmth": 0.2, "palette": [1, 2]}});
        assert_eq!(first_difference(&a, &a, String::new()), None);
        let b = json!({"scene_index": 1, "grade": {"warmth": 0.3, "palette": [1, 2]}});
        assert_eq!(
            first_difference(&a, &b, String::new()).as_deref(),
            Some("grade.warmth")
        );
        let c = json!({"scene_index": 1, "grade": {"warmth": 0.2, "palette": [1]}});
        assert_eq!(
            first_difference(&a, &c, String::new()).as_deref(),
            Some("grade.palette (length 2 vs 1)")
        );
    }

    #[test]
    fn every_sample_fixture_parses() {
        for world in World::ALL {
            let value: Value = serde_json::from_str(sample_fixture(world)).expect("JSON");
            assert!(value.is_object(), "{world}");
        }
        let captions: Value =
            serde_json::from_str(sample_fixture(World::CaptionStyle)).expect("JSON");
        let cues: Vec<WordCue> = field(&captions, "cues").expect("cues");
        assert!(
            cues.iter()
                .all(|c| c.words.len() == c.text.split_whitespace().count())
        );
        let _: BrandLook = field(&captions, "brand").expect("a brand");
        for world in [World::DirectorStyle, World::ScriptStrategy] {
            let value: Value = serde_json::from_str(sample_fixture(world)).expect("JSON");
            let assets = assets(&value).expect("assets parse").expect("assets");
            assert!(
                assets
                    .iter()
                    .any(|a| a.kind == kino_runtime::types::AssetKind::Footage)
            );
        }
        let director: Value =
            serde_json::from_str(sample_fixture(World::DirectorStyle)).expect("JSON");
        let _: Scene = field(&director, "scene").expect("a scene");
        let _: Brief = field(&director, "brief").expect("a brief");
        let grader: Value = serde_json::from_str(sample_fixture(World::Grader)).expect("JSON");
        let _: FrameStats = field(&grader, "stats").expect("stats");
        let _: GradeIntent = field(&grader, "intent").expect("an intent");
        let policy: Value =
            serde_json::from_str(sample_fixture(World::FallbackPolicy)).expect("JSON");
        let _: Failure = field(&policy, "failure").expect("a failure");
        let translator: Value =
            serde_json::from_str(sample_fixture(World::Translator)).expect("JSON");
        let _: Vec<Segment> = field(&translator, "segments").expect("segments");
        // The backend samples: requests, and media the test can make.
        let temp = tempfile::tempdir().expect("a temp dir");
        let sample =
            |world| -> Value { serde_json::from_str(sample_fixture(world)).expect("JSON") };
        let media = |fixture: &Value, name| {
            media_file(fixture, name, Path::new("."), temp.path()).expect("sample media")
        };
        let transcriber = sample(World::Transcriber);
        let _: TranscribeRequest = field(&transcriber, "request").expect("a request");
        assert_eq!(media(&transcriber, "audio").size(), 44 + 32_000);
        let _: SpeechRequest = field(&sample(World::Speech), "request").expect("a request");
        let clips = sample(World::ClipGenerator);
        let _: ClipRequest = field(&clips, "request").expect("a request");
        let references = media_files(&clips, "references", Path::new("."), temp.path());
        assert_eq!(references.expect("references").len(), 1);
        let lipsync = sample(World::Lipsync);
        assert!(media(&lipsync, "video").size() > 0);
        assert!(media(&lipsync, "audio").size() > 0);
    }

    #[test]
    fn media_without_a_path_or_a_sample_is_refused() {
        let temp = tempfile::tempdir().expect("a temp dir");
        let fixture = json!({"audio": {"content_type": "audio/mpeg"}});
        let err =
            media_file(&fixture, "audio", Path::new("."), temp.path()).expect_err("no sample");
        assert!(err.contains("no sample audio/mpeg"), "{err}");
        let fixture = json!({"audio": {"path": "nowhere.wav", "content_type": "audio/wav"}});
        let err = media_file(&fixture, "audio", temp.path(), temp.path()).expect_err("no file");
        assert!(err.contains("nowhere.wav"), "{err}");
    }

    #[test]
    fn transcripts_keep_time_order() {
        use kino_runtime::backend_types::TranscriptSegment;
        use kino_runtime::types::TimedWord;
        let word = |text: &str, start_ms, end_ms| TimedWord {
            text: text.to_owned(),
            start_ms,
            end_ms,
        };
        let segment = |start_ms, end_ms, words| TranscriptSegment {
            start_ms,
            end_ms,
            text: "hello there".to_owned(),
            speaker: None,
            words,
        };
        let transcript = |segments| Transcript {
            language: "en".to_owned(),
            segments,
        };
        let good = transcript(vec![
            segment(0, 900, vec![word("hello", 0, 400), word("there", 450, 900)]),
            segment(1000, 1500, vec![]),
        ]);
        assert_eq!(transcript_checks(&good), Ok(()));
        let backwards = transcript(vec![segment(900, 100, vec![])]);
        assert_eq!(
            transcript_checks(&backwards).expect_err("bad").field,
            "segments[0]"
        );
        let unordered = transcript(vec![segment(1000, 1500, vec![]), segment(0, 900, vec![])]);
        assert_eq!(
            transcript_checks(&unordered).expect_err("bad").field,
            "segments[1]"
        );
        let outside = transcript(vec![segment(0, 900, vec![word("hello", 800, 1200)])]);
        assert_eq!(
            transcript_checks(&outside).expect_err("bad").field,
            "segments[0].words[0]"
        );
        let pending = Pending {
            ticket: String::new(),
            progress: None,
            check_after_ms: 0,
        };
        assert!(pending_checks(&pending).is_err());
    }
}
