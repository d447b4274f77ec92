//! `kino plugin test`: build a plugin (or open a package), call its world's
//! functions on fixture inputs, and show each answer with what it cost and
//! whether it keeps the world's rules — before anything is installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, Result, bail};
use kino_registry::{Manifest, Package, World};
use kino_runtime::answers::{self, BadAnswer};
use kino_runtime::plugins::{check_component, runtime_limits, runtime_world};
use kino_runtime::types::{
    Asset, BrandLook, Brief, Failure, FrameStats, GradeIntent, PluginError, Scene, Segment, WordCue,
};
use kino_runtime::{
    CallCtx, CallReport, Grant, LogLevel, LogLine, LogSink, Plugin, Runtime, RuntimeConfig, Trap,
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
        println!("  also exports {}", capability.export_name());
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
    for (name, fixture) in &fixtures {
        println!("\nfixture {name}");
        let tester = Tester::new(&runtime, &plugin, &config);
        let answer = tokio.block_on(tester.call_world(world, fixture));
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

fn fixtures(options: &TestOptions, world: World) -> Result<Vec<(String, Value)>> {
    if !options.fixtures.is_empty() {
        return options
            .fixtures
            .iter()
            .map(|path| Ok((path.display().to_string(), read_json(path)?)))
            .collect();
    }
    let own = options.target.join("fixture.json");
    if options.target.is_dir() && own.is_file() {
        return Ok(vec![(own.display().to_string(), read_json(&own)?)]);
    }
    let sample = serde_json::from_str(sample_fixture(world)).expect("the sample fixtures parse");
    Ok(vec![(format!("the {world} sample"), sample)])
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
    async fn call_world(&self, world: World, fixture: &Value) -> Result<Value, String> {
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
        }
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
    }
}
