//! Shared helpers for Kino's end-to-end tests: the plugins built by
//! `build.rs`, a shared runtime, and small fixtures.

use std::path::PathBuf;
use std::sync::OnceLock;

pub mod cluster;

use kino_runtime::types::{Brief, BriefMode, Scene};
use kino_runtime::{Limits, Plugin, Runtime, RuntimeConfig, World};

/// Where `build.rs` put the plugins, built for wasm32-wasip2.
pub const PLUGIN_DIR: &str = env!("KINO_PLUGIN_DIR");

/// The built component of plugin package `package` (e.g. `kino-director-styles`).
pub fn plugin_path(package: &str) -> PathBuf {
    PathBuf::from(PLUGIN_DIR).join(format!("{}.wasm", package.replace('-', "_")))
}

/// The bytes of plugin package `package`'s component.
pub fn plugin_wasm(package: &str) -> Vec<u8> {
    let path = plugin_path(package);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// One runtime shared by the tests of a test binary (no disk cache).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("building the runtime"))
}

/// Loads plugin package `package` as `world` with default limits.
pub fn load(package: &str, world: World) -> Plugin {
    load_with(package, world, Limits::default())
}

/// Loads plugin package `package` as `world` with `limits`.
pub fn load_with(package: &str, world: World, limits: Limits) -> Plugin {
    runtime()
        .load(
            &format!("{package}@0.1.0"),
            &plugin_wasm(package),
            world,
            limits,
        )
        .unwrap_or_else(|e| panic!("loading {package}: {e}"))
}

/// A typical ad-creative brief.
pub fn brief(target_length_s: u32) -> Brief {
    Brief {
        brand: "Brightbrew".into(),
        product: "Brightbrew cold brew concentrate".into(),
        audience: "busy young professionals who commute".into(),
        tone: "warm".into(),
        objective: "drive first purchases".into(),
        facts: vec![
            "brews in 12 hours".into(),
            "makes 16 cups per bottle".into(),
            "organic arabica beans".into(),
        ],
        call_to_action: "Order at brightbrew.example today".into(),
        target_length_s,
        mode: BriefMode::AdCreative,
    }
}

/// A scene from the middle of a script.
pub fn scene() -> Scene {
    Scene {
        index: 2,
        start_ms: 6000,
        duration_ms: 5000,
        visual: "a bottle of cold brew on a sunlit kitchen counter".into(),
        camera: "slow push-in on the bottle".into(),
        narration: "Sixteen cups in every bottle.".into(),
        on_screen_text: "16 cups".into(),
    }
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// The notes a job's stages left in its events, as `stage: note`.
pub async fn stage_notes(
    store: &kino_store::Store,
    tenant: &kino_store::TenantId,
    job: &kino_store::JobId,
) -> Vec<String> {
    store
        .events_since(tenant, job, 0, 1000)
        .await
        .expect("the job's events")
        .iter()
        .filter_map(|e| match e.job_event() {
            Ok(kino_store::JobEvent::StageNote { stage, note }) => Some(format!("{stage}: {note}")),
            _ => None,
        })
        .collect()
}

/// Where the bundled plugins come from: the components `build.rs` built.
pub fn bundled_plugins() -> kino_pipeline::local::BundledPlugins {
    kino_pipeline::local::BundledPlugins {
        components: PathBuf::from(PLUGIN_DIR),
    }
}

/// A job's inputs as `submit_local` takes them: files and texts by name.
pub fn job_inputs(
    files: &[(&str, &std::path::Path)],
    texts: &[(&str, &str)],
) -> (
    std::collections::BTreeMap<String, PathBuf>,
    std::collections::BTreeMap<String, String>,
) {
    let files = files
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_path_buf()))
        .collect();
    let texts = texts
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    (files, texts)
}

/// Runs the `ffmpeg` CLI to make a fixture, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("running ffmpeg (install it: apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The MD5 of a file's video packets (`ffmpeg -c copy -f md5`): equal
/// digests mean the video stream was copied, not re-encoded.
pub fn video_md5(path: &std::path::Path) -> String {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-map", "0:v", "-c", "copy", "-f", "md5", "-"])
        .output()
        .expect("running ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg could not read {}",
        path.display()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A test video: `secs` seconds of testsrc2 at 24 fps, `size` (`320x240`),
/// with a quiet pink-noise-and-tone background track unless `audio` is false.
pub fn test_video(path: &std::path::Path, secs: u32, size: &str, audio: bool) {
    let video = format!("testsrc2=size={size}:rate=24:duration={secs}");
    let background = format!(
        "anoisesrc=color=pink:amplitude=0.05:sample_rate=48000:duration={secs},volume=1[n];\
         sine=frequency=220:sample_rate=48000:duration={secs},volume=0.1[s];[n][s]amix=inputs=2"
    );
    let path = path.to_str().expect("utf-8 path");
    let mut args = vec!["-f", "lavfi", "-i", &video];
    if audio {
        args.extend(["-f", "lavfi", "-i", &background, "-c:a", "aac", "-ac", "2"]);
    }
    args.extend([
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-preset",
        "ultrafast",
        path,
    ]);
    ffmpeg(&args);
}

/// The repository `make models` filled.
pub fn models_dir() -> PathBuf {
    kino_tool_probe::models_dir(&workspace_root())
}

/// A model repository at `dir/models` with ONNX Runtime (from `make
/// models`) and each of `models` — `(name, kind, folder)`: every file under
/// the folder (a test fixture), installed as an operator would, with a
/// `model.toml` listing each by its path and hash.
pub fn onnx_repository(
    dir: &std::path::Path,
    models: &[(&str, &str, &std::path::Path)],
) -> kino_models::Repository {
    fn files_under(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let entry = entry.expect("entry");
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.path().is_dir() {
                files_under(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }
    let repo = kino_models::Repository::new(dir.join("models"));
    let runtime = kino_models::Repository::new(models_dir())
        .get("onnxruntime")
        .expect("onnxruntime installed (make models)");
    repo.add(&runtime.dir).expect("adding onnxruntime");
    for (name, kind, folder) in models {
        let source = dir.join(name);
        let mut names = Vec::new();
        files_under(folder, "", &mut names);
        let mut files = String::new();
        for file in &names {
            let to = source.join(file);
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            std::fs::copy(folder.join(file), &to).expect("copy");
            let hash = kino_models::repository::sha256_file(&to).expect("hash");
            files.push_str(&format!("\"{file}\" = \"{hash}\"\n"));
        }
        std::fs::write(
            source.join("model.toml"),
            format!(
                "name = \"{name}\"\nversion = \"1\"\nkind = \"{kind}\"\nformat = \"onnx\"\n\
                 licence = \"test fixture\"\n[files]\n{files}"
            ),
        )
        .expect("manifest");
        repo.add(&source)
            .unwrap_or_else(|e| panic!("adding the model {name}: {e}"));
    }
    repo
}

/// Speaks `text` into a mono WAV: the Piper voice for English, espeak-ng
/// for anything else.
pub fn speak(text: &str, language: &str, out: &std::path::Path) {
    if language == "en" {
        let models = kino_models::Models::new(
            kino_models::Repository::new(models_dir()),
            kino_models::DEFAULT_BUDGET,
        );
        let (voice, _) = kino_pipeline::ops::speech::voice(&models, "en")
            .expect("loading the voice")
            .expect("the Piper voice is installed");
        let samples = voice.synthesize(text, 1.0).expect("speaking");
        let pcm = kino_kernels::wav::Pcm {
            sample_rate: voice.sample_rate(),
            channels: 1,
            samples,
        };
        kino_kernels::wav::write_wav(out, &pcm).expect("writing speech");
    } else {
        let status = std::process::Command::new("espeak-ng")
            .args(["-v", language, "-w"])
            .arg(out)
            .arg(text)
            .status()
            .expect("running espeak-ng");
        assert!(status.success(), "espeak-ng failed");
    }
}

/// A 320x240 video of `secs` seconds whose sound is `sentences` spoken at
/// their start times (seconds), dry in the centre, over music: two tones
/// panned to either side (`stereo`), or everything in mono.
pub fn speech_video(
    dir: &std::path::Path,
    name: &str,
    sentences: &[(&str, f32)],
    language: &str,
    secs: u32,
    stereo: bool,
) -> PathBuf {
    let mut args: Vec<String> = vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("testsrc2=size=320x240:rate=24:duration={secs}"),
    ];
    let mut graph = String::new();
    for (i, (text, at)) in sentences.iter().enumerate() {
        let wav = dir.join(format!("{name}-{i}.wav"));
        speak(text, language, &wav);
        args.extend(["-i".into(), wav.display().to_string()]);
        let ms = (at * 1000.0) as u32;
        graph.push_str(&format!(
            "[{}:a]aresample=48000,aformat=channel_layouts=mono,adelay={ms},apad[s{i}];",
            i + 1
        ));
    }
    let n = sentences.len();
    let inputs: String = (0..n).map(|i| format!("[s{i}]")).collect();
    graph.push_str(&format!(
        "{inputs}amix=inputs={n}:normalize=0:duration=longest,atrim=0:{secs}[voice];\
         sine=f=330:r=48000:d={secs},volume=0.06[m1];sine=f=523:r=48000:d={secs},volume=0.06[m2];"
    ));
    if stereo {
        graph.push_str(
            "[voice]pan=stereo|c0=c0|c1=c0[v];[m1]pan=stereo|c0=c0|c1=0.15*c0[l];\
             [m2]pan=stereo|c0=0.15*c0|c1=c0[r];[v][l][r]amix=inputs=3:normalize=0[a]",
        );
    } else {
        graph.push_str("[voice][m1][m2]amix=inputs=3:normalize=0[a]");
    }
    let out = dir.join(format!("{name}.mp4"));
    args.extend(
        [
            "-filter_complex",
            &graph,
            "-map",
            "0:v",
            "-map",
            "[a]",
            "-t",
            &secs.to_string(),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            if stereo { "2" } else { "1" },
        ]
        .map(str::to_owned),
    );
    args.push(out.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ffmpeg(&args);
    out
}

/// Installs the reference plugin `plugin_dir` (under `plugins/`), built as
/// `package`, into the registry of the data directory `data`, packaged as an
/// operator would for a self-hosted endpoint: its manifest's outbound hosts
/// (`hosts`, as the manifest writes them) replaced by `origins`. `work`
/// holds the package.
pub fn install_for_endpoint(
    data: &std::path::Path,
    work: &std::path::Path,
    plugin_dir: &str,
    package: &str,
    hosts: &str,
    origins: &[&str],
) {
    let dir = work.join(plugin_dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let source = workspace_root()
        .join("plugins")
        .join(plugin_dir)
        .join("kino-plugin.toml");
    let manifest = std::fs::read_to_string(source).expect("manifest");
    let from = format!("outbound-hosts = {hosts}");
    assert!(manifest.contains(&from), "{plugin_dir} asks for {hosts}");
    let manifest = manifest.replace(&from, &format!("outbound-hosts = {origins:?}"));
    std::fs::write(dir.join("kino-plugin.toml"), manifest).expect("write");
    let packed = work.join(format!("{plugin_dir}.tar.gz"));
    kino_runtime::plugins::pack(&dir, Some(&plugin_path(package)), &packed).expect("pack");
    let registry = kino_registry::Store::open(data.join("registry")).expect("registry");
    kino_runtime::plugins::install(
        runtime(),
        &registry,
        &packed,
        kino_registry::SignaturePolicy::Optional,
        &[],
    )
    .expect("install");
}

/// The example brief (`examples/brief.toml`) at `length_s` seconds in
/// `mode` (`ad-creative`, `music-video`), written to `path`.
pub fn write_brief(path: &std::path::Path, length_s: u32, mode: &str) {
    let text = std::fs::read_to_string(workspace_root().join("examples/brief.toml"))
        .expect("example brief")
        .replace(
            "target-length-s = 30",
            &format!("target-length-s = {length_s}"),
        )
        .replace("mode = \"ad-creative\"", &format!("mode = \"{mode}\""));
    std::fs::write(path, text).expect("write brief");
}
