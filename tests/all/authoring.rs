//! Plugin authors outside the repository: `kino plugin new` in a temporary
//! directory -> `cargo test` -> `kino plugin test` -> pack, sign, install ->
//! a real ad job with `kino run --bind` shows the plugin's direction. And
//! answers that break their world's rules are blamed on their plugin.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kino_tests::{plugin_path, workspace_root};

use super::kino_local;

fn kino() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kino-cli"))
}

fn ok(mut cmd: Command) -> String {
    let out = cmd.output().expect("spawn");
    let text = both(&out);
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Where plugin projects made by tests build: shared between runs so only
/// the first builds wit-bindgen.
fn authoring_target() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authoring")
}

/// Where the backend template projects build: their own, so their builds
/// do not race the other tests' in one target directory.
fn backend_target() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authoring-backends")
}

/// Every file under `dir`, as sorted paths relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(next) = dirs.pop() {
        for entry in std::fs::read_dir(&next).expect("a readable directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// The SDK's WIT (which `kino plugin new` copies into every Rust project)
/// is the repository's: the current package, its wasi:io, and the frozen
/// 0.1.0.
#[test]
fn the_sdk_carries_the_repositorys_wit() {
    let root = workspace_root();
    let files = files_under(&root.join("wit"));
    for file in [
        "worlds.wit",
        "media.wit",
        "deps/io/io.wit",
        "since_v0.1.0/worlds.wit",
    ] {
        assert!(files.contains(&PathBuf::from(file)), "wit/{file}");
    }
    assert_eq!(
        files,
        files_under(&root.join("plugin-sdk/wit")),
        "plugin-sdk/wit/ has other files than wit/"
    );
    for file in files {
        let canonical = std::fs::read_to_string(root.join("wit").join(&file)).expect("wit/");
        let copy = std::fs::read_to_string(root.join("plugin-sdk/wit").join(&file))
            .expect("plugin-sdk/wit/");
        assert_eq!(
            canonical,
            copy,
            "plugin-sdk/wit/{0} differs from wit/{0}: copy it over",
            file.display()
        );
    }
}

/// A caption style from the Rust template: its own tests pass, and `kino
/// plugin test` calls `style-cues` on the sample fixture and checks it.
/// The reference plugins, the director and the script strategy (which have
/// the asset capabilities), pass `kino plugin test` with their `pick-assets`
/// and `generate-with-assets` answers checked too.
#[test]
fn caption_style_and_asset_plugins_pass_kino_plugin_test() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut new = kino();
    new.args([
        "plugin",
        "new",
        "my-captions",
        "--world",
        "caption-style",
        "--dir",
    ])
    .arg(tmp.path());
    ok(new);
    let project = tmp.path().join("my-captions");
    let mut cargo_test = Command::new("cargo");
    cargo_test
        .args(["test", "--quiet"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", authoring_target());
    ok(cargo_test);
    let mut test = kino();
    test.args(["plugin", "test"])
        .arg(&project)
        .args(["--config", "animation=pop"])
        .env("CARGO_TARGET_DIR", authoring_target());
    let shown = ok(test);
    assert!(shown.contains("style-cues: answered"), "{shown}");
    assert!(shown.contains("\"Pop\""), "{shown}");
    assert!(shown.contains("checks: ok"), "{shown}");
    // The manifest's `values` refuse an animation the template does not know.
    let mut test = kino();
    test.args(["plugin", "test"])
        .arg(&project)
        .args(["--config", "animation=wiggle"])
        .env("CARGO_TARGET_DIR", authoring_target());
    let out = test.output().expect("spawn");
    assert!(!out.status.success(), "{}", both(&out));
    assert!(both(&out).contains("is not one of"), "{}", both(&out));

    for (dir, package, function) in [
        ("director-styles", "kino-director-styles", "pick-assets"),
        ("script-arc", "kino-script-arc", "generate-with-assets"),
    ] {
        let mut test = kino();
        test.args(["plugin", "test"])
            .arg(workspace_root().join("plugins").join(dir))
            .arg("--wasm")
            .arg(plugin_path(package));
        let shown = ok(test);
        assert!(
            shown.contains(&format!(
                "also exports kino:stage/{}@{}",
                match function {
                    "pick-assets" => "asset-picker",
                    _ => "asset-scripts",
                },
                kino_runtime::PACKAGE_VERSION
            )),
            "{shown}"
        );
        assert!(shown.contains(&format!("{function}: answered")), "{shown}");
        assert!(!shown.contains("checks: `"), "{shown}");
    }
    // A plugin without the capability says so and passes.
    let mut test = kino();
    test.args(["plugin", "test"])
        .arg(workspace_root().join("tests/plugins/frozen-director"))
        .arg("--wasm")
        .arg(plugin_path("kino-test-frozen-director"))
        .arg("--fixture")
        .arg(workspace_root().join("host/cli/templates/fixtures/director-style.json"));
    let shown = ok(test);
    assert!(shown.contains("pick-assets: not exported"), "{shown}");
}

/// A backend plugin from the Rust template, for `world`: its own tests
/// pass, and `kino plugin test` drives it on the sample fixture (media made
/// up by the test) through submit and check to a checked `done`. Answers
/// what `kino plugin test` printed.
fn backend_template_passes(root: &Path, world: &str) -> String {
    let name = format!("my-{world}");
    ok({
        let mut c = kino();
        c.args(["plugin", "new", &name, "--world", world, "--dir"])
            .arg(root);
        c
    });
    let project = root.join(&name);
    let manifest = std::fs::read_to_string(project.join("kino-plugin.toml")).expect("manifest");
    assert!(
        manifest.contains(&format!("world = \"kino:stage/{world}@0.2.0\"")),
        "{manifest}"
    );
    let mut cargo_test = Command::new("cargo");
    cargo_test
        .args(["test", "--quiet"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", backend_target());
    ok(cargo_test);
    let shown = ok({
        let mut c = kino();
        c.args(["plugin", "test"])
            .arg(&project)
            .env("CARGO_TARGET_DIR", backend_target());
        c
    });
    assert!(shown.contains(&format!("kino:stage/{world},")), "{shown}");
    assert!(shown.contains("\"Done\""), "{shown}");
    assert!(!shown.contains("checks: `"), "{shown}");
    assert!(shown.contains("ok: 1 fixture(s)"), "{shown}");
    shown
}

/// The backend worlds' Rust templates pass `kino plugin test`: a
/// transcript checked segment by segment, speech and video written to the
/// call's output, a pending clip checked until it is done; a fixture's
/// media can be a file beside it, and one that is missing is named.
#[test]
fn backend_plugins_from_the_templates_pass_kino_plugin_test() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();

    let shown = backend_template_passes(root, "transcriber");
    // The sample: one second of 16 kHz 16-bit mono WAV.
    assert!(shown.contains("32044 bytes of audio/wav"), "{shown}");
    assert!(shown.contains("\"end_ms\": 1000"), "{shown}");
    // A fixture naming its own audio, beside it: two seconds of silence.
    let media = root.join("media");
    std::fs::create_dir_all(&media).expect("mkdir");
    let mut wav = Vec::new();
    for (chunk, value) in [
        (&b"RIFF"[..], 36 + 64_000u32),
        (b"WAVEfmt ", 16),
        (b"", 0x0001_0001), // PCM, mono
        (b"", 16_000),
        (b"", 32_000),
        (b"", 0x0010_0002), // 2 bytes a frame, 16 bits
        (b"data", 64_000),
    ] {
        wav.extend_from_slice(chunk);
        wav.extend_from_slice(&value.to_le_bytes());
    }
    wav.resize(44 + 64_000, 0);
    std::fs::write(media.join("two-seconds.wav"), &wav).expect("write wav");
    let fixture = root.join("own-audio.json");
    std::fs::write(
        &fixture,
        r#"{"audio": {"path": "media/two-seconds.wav", "content_type": "audio/wav"},
            "request": {"language": null, "diarize": true}}"#,
    )
    .expect("write fixture");
    let shown = ok({
        let mut c = kino();
        c.args(["plugin", "test"])
            .arg(root.join("my-transcriber"))
            .arg("--fixture")
            .arg(&fixture)
            .env("CARGO_TARGET_DIR", backend_target());
        c
    });
    assert!(shown.contains("64044 bytes of audio/wav"), "{shown}");
    assert!(shown.contains("\"end_ms\": 2000"), "{shown}");
    assert!(shown.contains("\"speaker-0\""), "{shown}");
    // A fixture naming a file that is not there fails, naming it.
    std::fs::write(
        &fixture,
        r#"{"audio": {"path": "media/missing.wav", "content_type": "audio/wav"},
            "request": {"language": "en", "diarize": false}}"#,
    )
    .expect("write fixture");
    let out = {
        let mut c = kino();
        c.args(["plugin", "test"])
            .arg(root.join("my-transcriber"))
            .arg("--fixture")
            .arg(&fixture)
            .env("CARGO_TARGET_DIR", backend_target());
        c.output().expect("spawn")
    };
    assert!(!out.status.success(), "{}", both(&out));
    assert!(both(&out).contains("missing.wav"), "{}", both(&out));

    let shown = backend_template_passes(root, "speech");
    assert!(shown.contains("voices: answered"), "{shown}");
    assert!(shown.contains("bytes of audio/wav"), "{shown}");

    // The clip generator answers `pending` first; the test checks the job.
    let shown = backend_template_passes(root, "clip-generator");
    assert!(shown.contains("\"Pending\""), "{shown}");
    assert!(shown.contains("check [1]: answered"), "{shown}");
    assert!(shown.contains("bytes of video/x-yuv4mpeg"), "{shown}");

    // The lipsync stand-in passes the sample video (4 KiB and a header) through.
    let shown = backend_template_passes(root, "lipsync");
    assert!(shown.contains("output: 4128 bytes of video/mp4"), "{shown}");
}

fn write_brief(path: &Path) {
    let text = std::fs::read_to_string(workspace_root().join("examples/brief.toml"))
        .expect("example brief")
        .replace("target-length-s = 30", "target-length-s = 6");
    std::fs::write(path, text).expect("write brief");
}

#[test]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
fn a_rust_plugin_written_outside_the_repository_ships_and_runs() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    let mut new = kino();
    new.args([
        "plugin",
        "new",
        "my-director",
        "--world",
        "director-style",
        "--dir",
    ])
    .arg(root);
    ok(new);
    let project = root.join("my-director");
    // The author picks their own default style.
    let manifest = project.join("kino-plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        text.replace("default = \"calm\"", "default = \"dreamy\""),
    )
    .expect("edit manifest");

    let mut cargo_test = Command::new("cargo");
    cargo_test
        .args(["test", "--quiet"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", authoring_target());
    ok(cargo_test);

    let mut test = kino();
    test.args(["plugin", "test"])
        .arg(&project)
        .args(["--config", "style=gritty"])
        .env("CARGO_TARGET_DIR", authoring_target());
    let shown = ok(test);
    assert!(shown.contains("gritty"), "{shown}");
    assert!(
        shown.contains("fuel") && shown.contains("checks: ok"),
        "{shown}"
    );

    // A fixture the plugin refuses fails the test, saying so.
    let bad = root.join("bad.json");
    let mut fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.join("fixture.json")).expect("fixture"),
    )
    .expect("json");
    fixture["scene"]["visual"] = "".into();
    std::fs::write(&bad, fixture.to_string()).expect("write");
    let mut test = kino();
    test.args(["plugin", "test"])
        .arg(&project)
        .arg("--fixture")
        .arg(&bad)
        .env("CARGO_TARGET_DIR", authoring_target());
    let out = test.output().expect("spawn");
    assert!(!out.status.success(), "{}", both(&out));
    assert!(both(&out).contains("refused"), "{}", both(&out));

    // Pack, sign, install.
    let wasm = authoring_target().join("wasm32-wasip2/release/my_director.wasm");
    let package = root.join("dist/my-director.tar.gz");
    let key = root.join("operator");
    let data = root.join("data");
    ok({
        let mut c = kino();
        c.args(["plugin", "keygen"]).arg(&key);
        c
    });
    ok({
        let mut c = kino();
        c.args(["plugin", "pack"])
            .arg(&project)
            .arg("--wasm")
            .arg(&wasm)
            .arg("--out")
            .arg(&package);
        c
    });
    ok({
        let mut c = kino();
        c.args(["plugin", "sign"])
            .arg(&package)
            .arg("--key")
            .arg(key.with_extension("secret"));
        c
    });
    ok({
        let mut c = kino();
        c.args(["plugin", "install", "--require-signature", "--trusted-key"])
            .arg(key.with_extension("pub"))
            .arg(&package)
            .arg("--data-dir")
            .arg(&data);
        c
    });

    // A job with it: an unknown slot is refused, naming the slots; the
    // bound plugin directs every scene with its manifest's default.
    let brief = root.join("brief.toml");
    write_brief(&brief);
    let product = workspace_root().join("examples/assets/product.png");
    let out_dir = root.join("out");
    let inputs = [
        "ad-creative".to_owned(),
        format!("brief={}", brief.display()),
        format!("product={}", product.display()),
        "size=160x90".to_owned(),
    ];
    let mut wrong = kino_local(&data, &out_dir, &["run"]);
    wrong
        .args(&inputs)
        .args(["--bind", "director=my-director@^0.1"]);
    let out = wrong.output().expect("spawn");
    assert!(!out.status.success());
    assert!(
        both(&out)
            .contains("has no slot `director`; its slots are: clip-generator, clip-generator-backup, director-style"),
        "{}",
        both(&out)
    );
    let mut run = kino_local(&data, &out_dir, &["run"]);
    run.args(&inputs)
        .args(["--bind", "director-style=my-director@^0.1"]);
    ok(run);
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("plan.json")).expect("plan.json"))
            .expect("json");
    let shots = plan["shots"].as_array().expect("shots");
    assert!(!shots.is_empty());
    for shot in shots {
        let direction = &shot["direction"];
        assert_eq!(direction["directed_by"], "my-director@0.1.0", "{shot}");
        let prompt = direction["styled_prompt"].as_str().expect("a prompt");
        assert!(prompt.contains("dreamy"), "the manifest default: {prompt}");
    }
}

/// Packs the test plugin in `tests/plugins/DIR` (built as `package`) into
/// `scratch/DIR.tar.gz` and installs it into `data`.
fn install_test_plugin(dir: &str, package_name: &str, data: &Path, scratch: &Path) {
    let package = scratch.join(format!("{dir}.tar.gz"));
    ok({
        let mut c = kino();
        c.args(["plugin", "pack"])
            .arg(workspace_root().join("tests/plugins").join(dir))
            .arg("--wasm")
            .arg(plugin_path(package_name))
            .arg("--out")
            .arg(&package);
        c
    });
    ok({
        let mut c = kino();
        c.args(["plugin", "install"])
            .arg(&package)
            .arg("--data-dir")
            .arg(data);
        c
    });
}

#[test]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
fn answers_that_break_the_rules_are_blamed_on_their_plugin() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    install_test_plugin("hostile", "kino-test-hostile", &data, tmp.path());
    // `kino plugin test` shows the verdict before anything is installed.
    let mut test = kino();
    test.args(["plugin", "test"])
        .arg(tmp.path().join("hostile.tar.gz"))
        .args(["--config", "mode=out-of-range"]);
    let out = test.output().expect("spawn");
    assert!(!out.status.success());
    assert!(
        both(&out).contains("`grade.warmth` is 7, outside -1..=1"),
        "{}",
        both(&out)
    );

    let brief = tmp.path().join("brief.toml");
    write_brief(&brief);
    let product = workspace_root().join("examples/assets/product.png");
    let mut run = kino_local(&data, &tmp.path().join("out"), &["run"]);
    run.args([
        "ad-creative",
        &format!("brief={}", brief.display()),
        &format!("product={}", product.display()),
        "size=160x90",
        "--bind",
        "director-style=kino-test-hostile@^0.1",
        "--config",
        "director-style.mode=nan",
    ]);
    let out = run.output().expect("spawn");
    let text = both(&out);
    // The director's node fails as its own error, not the grader's; the
    // fallback policy then decides (the bundled one degrades the direction).
    assert!(
        text.contains("FAILED  direct[0]: directing scene 0: kino-test-hostile@0.1.0 answered badly: `pacing` is NaN"),
        "{text}"
    );
    assert!(!text.contains("FAILED  grade"), "{text}");
}

#[test]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
fn a_translator_that_changes_ids_is_blamed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    install_test_plugin("echo", "kino-test-echo", &data, tmp.path());
    let video = tmp.path().join("clip.mp4");
    kino_tests::test_video(&video, 4, "160x120", true);
    let srt = tmp.path().join("clip.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:02,000\nGood morning.\n").expect("srt");
    let mut run = kino_local(&data, &tmp.path().join("out"), &["run"]);
    run.args([
        "dub",
        &format!("video={}", video.display()),
        &format!("transcript={}", srt.display()),
        "language=es",
        "--bind",
        "translator=kino-test-echo@^0.1",
        "--config",
        "translator.mode=change-ids",
    ]);
    let text = both(&run.output().expect("spawn"));
    assert!(
        text.contains(
            "FAILED  translate: translating en -> es: kino-test-echo@0.1.0 answered badly: \
             `[0].segment.id` is \"1-changed\"; the input's is \"1\" (ids are kept)"
        ),
        "{text}"
    );
}

/// Runs `program args` in `dir`, panicking with its output on failure.
fn in_dir(dir: &Path, program: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    ok(cmd)
}

/// Builds a project `kino plugin new` wrote in JavaScript or Python with the
/// tools its README names, then puts it through what the Rust plugins go
/// through: `kino plugin test` (the world's checks on the fixture), pack and
/// install (the registry's component checks, no wasi:http).
fn script_plugin_conforms(lang: &str, world: &str, build: impl FnOnce(&Path)) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let name = format!("{lang}-{world}");
    ok({
        let mut c = kino();
        c.args([
            "plugin", "new", &name, "--world", world, "--lang", lang, "--dir",
        ])
        .arg(tmp.path());
        c
    });
    let project = tmp.path().join(&name);
    build(&project);
    let shown = ok({
        let mut c = kino();
        c.args(["plugin", "test"]).arg(&project);
        c
    });
    assert!(
        shown.contains("checks: ok") && shown.contains("fuel"),
        "{shown}"
    );
    let package = tmp.path().join("plugin.tar.gz");
    ok({
        let mut c = kino();
        c.args(["plugin", "pack"])
            .arg(&project)
            .arg("--out")
            .arg(&package);
        c
    });
    let installed = ok({
        let mut c = kino();
        c.args(["plugin", "install"])
            .arg(&package)
            .arg("--data-dir")
            .arg(tmp.path().join("data"));
        c
    });
    assert!(installed.contains(&name), "{installed}");
}

#[test]
#[cfg_attr(missing = "npm", ignore = "needs Node.js 20+ and npm")]
fn a_javascript_plugin_from_the_template_conforms() {
    script_plugin_conforms("js", "translator", |project| {
        in_dir(project, "npm", &["install", "--no-audit", "--no-fund"]);
        in_dir(project, "npm", &["run", "build"]);
    });
}

#[test]
fn a_python_plugin_from_the_template_conforms() {
    script_plugin_conforms("python", "director-style", |project| {
        in_dir(project, "python3", &["-m", "venv", ".venv"]);
        in_dir(
            project,
            ".venv/bin/pip",
            &[
                "install",
                "--quiet",
                "--require-hashes",
                "-r",
                "requirements.txt",
            ],
        );
        in_dir(
            project,
            ".venv/bin/componentize-py",
            &[
                "-d",
                "wit",
                "-w",
                "kino:stage/director-style@0.1.0",
                "componentize",
                "app",
                "-o",
                "plugin.wasm",
            ],
        );
    });
}
