//! Two `kino:stage` versions side by side: plugins built against the frozen
//! 0.1.0 install and run beside 0.2.0 ones, and the host refuses versions
//! and worlds it cannot run, saying which.

use std::path::{Path, PathBuf};

use kino_registry::{Manifest, SignaturePolicy, Store};
use kino_runtime::plugins::{self, CheckError};
use kino_runtime::types::{ChannelStats, FrameStats, GradeIntent, Segment};
use kino_runtime::{CallCtx, Plugin, World};
use kino_tests::{brief, plugin_path, runtime, scene, workspace_root};

use crate::assets_and_captions::assets;

/// Where `build.rs` put the reference plugins built against kino:stage@0.1.0.
const FROZEN_DIR: &str = env!("KINO_PLUGIN_DIR_0_1");

fn frozen_path(package: &str) -> PathBuf {
    Path::new(FROZEN_DIR).join(format!("{}.wasm", package.replace('-', "_")))
}

/// The `kino:stage` imports of a component.
fn stage_imports(wasm: &Path) -> Vec<String> {
    let bytes = std::fs::read(wasm).expect("component");
    let (component, _) = runtime().compile(&bytes).expect("compiles");
    component
        .component_type()
        .imports(runtime().engine())
        .map(|(name, _)| name.to_owned())
        .filter(|name| name.starts_with("kino:stage/"))
        .collect()
}

/// A copy of plugin directory `dir`'s manifest declaring `version`, ready to pack.
fn manifest_dir(tmp: &Path, dir: &str, version: &str) -> PathBuf {
    let out = tmp.join(format!("{dir}-{version}"));
    std::fs::create_dir_all(&out).expect("dir");
    let text = std::fs::read_to_string(
        workspace_root()
            .join("plugins")
            .join(dir)
            .join("kino-plugin.toml"),
    )
    .expect("manifest");
    let text = text.replace("@0.2.0\"", &format!("@{version}\""));
    std::fs::write(out.join("kino-plugin.toml"), text).expect("write manifest");
    out
}

fn install(
    registry: &Store,
    tmp: &Path,
    dir: &str,
    version: &str,
    wasm: &Path,
) -> anyhow::Result<()> {
    let archive = tmp.join(format!("{dir}-{version}.tar.gz"));
    plugins::pack(&manifest_dir(tmp, dir, version), Some(wasm), &archive)?;
    plugins::install(
        runtime(),
        registry,
        &archive,
        SignaturePolicy::Optional,
        &[],
    )
    .map(drop)
}

fn load(registry: &Store, requirement: &str) -> Plugin {
    plugins::load_installed(runtime(), registry, requirement)
        .unwrap_or_else(|e| panic!("loading {requirement}: {e:#}"))
        .1
}

fn segments() -> Vec<Segment> {
    vec![Segment {
        id: "s1".into(),
        start_ms: 0,
        end_ms: 1800,
        speaker: "ana".into(),
        text: "Good morning, family!".into(),
    }]
}

fn stats() -> FrameStats {
    let channel = |m: f32| ChannelStats {
        mean: m,
        p01: 0.0,
        p50: m,
        p99: 1.0,
    };
    FrameStats {
        red: channel(0.42),
        green: channel(0.45),
        blue: channel(0.62),
        luma_histogram: vec![0; 256],
    }
}

#[tokio::test]
async fn reference_plugins_built_against_0_1_install_and_answer_as_their_0_2_builds() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let old = Store::open(tmp.path().join("old")).expect("registry");
    let new = Store::open(tmp.path().join("new")).expect("registry");
    for (dir, package) in [
        ("director-styles", "kino-director-styles"),
        ("translator-phrasebook", "kino-translator-phrasebook"),
        ("grader-palette", "kino-grader-palette"),
    ] {
        // The builds really are of the two versions.
        let imports = stage_imports(&frozen_path(package));
        assert!(
            imports.iter().all(|i| i.ends_with("@0.1.0")) && !imports.is_empty(),
            "{package} (0.1 build) imports {imports:?}"
        );
        let imports = stage_imports(&plugin_path(package));
        assert!(
            imports.iter().all(|i| i.ends_with("@0.2.0")),
            "{package} (0.2 build) imports {imports:?}"
        );
        install(&old, tmp.path(), dir, "0.1.0", &frozen_path(package))
            .unwrap_or_else(|e| panic!("installing {package} built against 0.1: {e:#}"));
        install(&new, tmp.path(), dir, "0.2.0", &plugin_path(package))
            .unwrap_or_else(|e| panic!("installing {package} built against 0.2: {e:#}"));

        // A manifest that names the other version is refused, naming the import.
        for (version, wasm) in [
            ("0.2.0", frozen_path(package)),
            ("0.1.0", plugin_path(package)),
        ] {
            let scratch = Store::open(tmp.path().join(format!("scratch-{package}-{version}")))
                .expect("registry");
            let error = install(&scratch, tmp.path(), dir, version, &wasm)
                .expect_err("a manifest of the other version");
            let text = format!("{error:#}");
            assert!(
                text.contains(&format!("declares kino:stage@{version}"))
                    && text.contains("the component imports kino:stage/"),
                "{text}"
            );
            assert!(scratch.list().expect("list").is_empty());
        }
    }

    let call = CallCtx::new("acme").with_config([("style", "noir-high-contrast")]);
    let (old_director, new_director) = (
        load(&old, "kino-director-styles@^0.1"),
        load(&new, "kino-director-styles@^0.1"),
    );
    let (a, b) = (
        runtime().director(&old_director, &call).expect("director"),
        runtime().director(&new_director, &call).expect("director"),
    );
    let directed = a
        .direct(&scene(), &brief(30))
        .await
        .expect("no trap")
        .expect("answer");
    assert_eq!(directed.grade.look, "noir-high-contrast");
    assert_eq!(
        Ok(Ok(directed)),
        b.direct(&scene(), &brief(30)).await,
        "the 0.1 and 0.2 builds direct alike"
    );
    // The optional asset-picker export is found at 0.1.0 too.
    assert!(a.picks_assets() && b.picks_assets());
    let picks = a
        .pick_assets(&scene(), &brief(30), &assets())
        .await
        .expect("no trap")
        .expect("answer")
        .expect("the capability is there");
    assert!(!picks.is_empty());
    assert_eq!(
        Ok(Ok(Some(picks))),
        b.pick_assets(&scene(), &brief(30), &assets()).await
    );

    let plain = CallCtx::new("acme");
    let (old_translator, new_translator) = (
        load(&old, "kino-translator-phrasebook@^0.1"),
        load(&new, "kino-translator-phrasebook@^0.1"),
    );
    let translated = runtime()
        .translator(&old_translator, &plain)
        .expect("translator")
        .translate("en", "es", &segments())
        .await
        .expect("no trap")
        .expect("answer");
    assert_eq!(translated[0].segment.id, "s1");
    assert_ne!(translated[0].segment.text, segments()[0].text);
    assert_eq!(
        Ok(Ok(translated)),
        runtime()
            .translator(&new_translator, &plain)
            .expect("translator")
            .translate("en", "es", &segments())
            .await
    );

    let intent = GradeIntent {
        warmth: 0.5,
        contrast: 0.2,
        saturation: 0.1,
        palette: Vec::new(),
        palette_strength: 0.0,
        look: "neutral".into(),
    };
    let (old_grader, new_grader) = (
        load(&old, "kino-grader-palette@^0.1"),
        load(&new, "kino-grader-palette@^0.1"),
    );
    let lut = runtime()
        .grader(&old_grader, &plain)
        .expect("grader")
        .grade(&stats(), &intent)
        .await
        .expect("no trap")
        .expect("answer");
    assert!(lut.size >= 2);
    assert_eq!(
        Ok(Ok(lut)),
        runtime()
            .grader(&new_grader, &plain)
            .expect("grader")
            .grade(&stats(), &intent)
            .await
    );
}

fn manifest(world: &str) -> Manifest {
    let text = format!(
        "format = 1\n[plugin]\nname = \"acme-x\"\nversion = \"1.0.0\"\nworld = \"{world}\"\n\
         description = \"x\"\n[capabilities]\noutbound-hosts = [\"https://api.openai.com\"]\n"
    );
    Manifest::parse(&text, "kino-plugin.toml").expect("a valid manifest")
}

#[test]
fn versions_and_worlds_the_host_cannot_run_are_refused_by_name() {
    let wasm = std::fs::read(plugin_path("kino-transcriber-openai")).expect("component");
    let error =
        plugins::check_component(runtime(), &manifest("kino:stage/transcriber@0.1.0"), &wasm)
            .expect_err("transcriber is not a 0.1 world");
    assert!(matches!(
        error,
        CheckError::WorldTooNew {
            world: World::Transcriber,
            ..
        }
    ));
    assert!(
        error
            .to_string()
            .contains("declare kino:stage/transcriber@0.2.0"),
        "{error}"
    );

    for version in ["0.3.0", "1.0.0", "0.2.9", "0.0.1"] {
        let error = plugins::check_component(
            runtime(),
            &manifest(&format!("kino:stage/grader@{version}")),
            &wasm,
        )
        .expect_err("a version this host does not run");
        assert_eq!(
            error.to_string(),
            format!("targets kino:stage@{version}, but this host runs kino:stage@0.1.0 and @0.2.0")
        );
    }

    // The declared world must be what the component exports.
    let error = plugins::check_component(runtime(), &manifest("kino:stage/speech@0.2.0"), &wasm)
        .expect_err("a transcriber is not a speech plugin");
    assert!(matches!(error, CheckError::Load(_)), "{error}");
    plugins::check_component(runtime(), &manifest("kino:stage/transcriber@0.2.0"), &wasm)
        .expect("what it is, at the version it was built against");
}
