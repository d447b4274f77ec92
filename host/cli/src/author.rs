//! `kino plugin new`: a plugin project for any world that builds anywhere —
//! it carries its own copy of the SDK and the `kino:stage` WIT, written from
//! what this binary embeds — and passes `kino plugin test` unchanged.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use kino_registry::{PluginName, World};

/// The language a new plugin is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with the SDK (every world).
    Rust,
    /// JavaScript, built with componentize-js (director-style, translator).
    Js,
    /// Python, built with componentize-py (director-style, translator).
    Python,
}

/// The wit-bindgen requirement of the SDK copy; kept equal to the
/// workspace's by a test.
const WIT_BINDGEN: &str = "0.63";

/// The wasip2 requirement of the SDK copy; kept equal to the workspace's
/// by a test.
const WASIP2: &str = "2";

/// The kino:stage WIT, as the SDK carries it: the current package, the
/// wasi:io it uses, and the frozen 0.1.0 (the SDK's `stage-0-1` feature).
const WIT: &[(&str, &str)] = &[
    (
        "types.wit",
        include_str!("../../../plugin-sdk/wit/types.wit"),
    ),
    ("host.wit", include_str!("../../../plugin-sdk/wit/host.wit")),
    (
        "media.wit",
        include_str!("../../../plugin-sdk/wit/media.wit"),
    ),
    (
        "backends.wit",
        include_str!("../../../plugin-sdk/wit/backends.wit"),
    ),
    (
        "worlds.wit",
        include_str!("../../../plugin-sdk/wit/worlds.wit"),
    ),
    (
        "deps/io/io.wit",
        include_str!("../../../plugin-sdk/wit/deps/io/io.wit"),
    ),
    (
        "since_v0.1.0/types.wit",
        include_str!("../../../plugin-sdk/wit/since_v0.1.0/types.wit"),
    ),
    (
        "since_v0.1.0/host.wit",
        include_str!("../../../plugin-sdk/wit/since_v0.1.0/host.wit"),
    ),
    (
        "since_v0.1.0/worlds.wit",
        include_str!("../../../plugin-sdk/wit/since_v0.1.0/worlds.wit"),
    ),
];

/// The version of `kino:stage` the JavaScript and Python templates target:
/// the frozen 0.1.0, whose WIT (`since_v0.1.0/`) their projects carry as `wit/`.
const SCRIPT_STAGE: &str = "since_v0.1.0/";

/// The SDK's sources (its Cargo.toml is written from a template).
const SDK: &[(&str, &str)] = &[
    ("build.rs", include_str!("../../../plugin-sdk/build.rs")),
    ("README.md", include_str!("../../../plugin-sdk/README.md")),
    ("src/lib.rs", include_str!("../../../plugin-sdk/src/lib.rs")),
    (
        "src/backends.rs",
        include_str!("../../../plugin-sdk/src/backends.rs"),
    ),
    (
        "src/helpers.rs",
        include_str!("../../../plugin-sdk/src/helpers.rs"),
    ),
    (
        "src/http.rs",
        include_str!("../../../plugin-sdk/src/http.rs"),
    ),
    ("src/log.rs", include_str!("../../../plugin-sdk/src/log.rs")),
    (
        "src/testing.rs",
        include_str!("../../../plugin-sdk/src/testing.rs"),
    ),
];

/// The Rust code of each world's template.
fn rust_code(world: World) -> &'static str {
    match world {
        World::ScriptStrategy => include_str!("../templates/rust/script-strategy.rs"),
        World::DirectorStyle => include_str!("../templates/rust/director-style.rs"),
        World::Translator => include_str!("../templates/rust/translator.rs"),
        World::Grader => include_str!("../templates/rust/grader.rs"),
        World::FallbackPolicy => include_str!("../templates/rust/fallback-policy.rs"),
        World::CaptionStyle => include_str!("../templates/rust/caption-style.rs"),
        World::Transcriber => include_str!("../templates/rust/transcriber.rs"),
        World::Speech => include_str!("../templates/rust/speech.rs"),
        World::ClipGenerator => include_str!("../templates/rust/clip-generator.rs"),
        World::Lipsync => include_str!("../templates/rust/lipsync.rs"),
    }
}

/// What a new plugin says about itself, and the config schema its template reads.
fn world_manifest(world: World) -> (&'static str, &'static str) {
    match world {
        World::ScriptStrategy => ("Writes four-scene scripts for a brief and scores them", ""),
        World::DirectorStyle => (
            "Directs each scene in a configured style",
            "\n[[config]]\nkey = \"style\"\ntype = \"string\"\ndefault = \"calm\"\n\
             description = \"calm, or any other word for a handheld, faster look\"\n",
        ),
        World::Translator => ("Translates Spanish to English from a small glossary", ""),
        World::Grader => (
            "Turns a grade intent into a LUT",
            "\n[[config]]\nkey = \"size\"\ntype = \"integer\"\ndefault = 17\n\
             description = \"LUT points per axis, 2..=65\"\n",
        ),
        World::FallbackPolicy => (
            "Retries retryable failures with a growing delay, then degrades",
            "\n[[config]]\nkey = \"retries\"\ntype = \"integer\"\ndefault = 2\n\
             description = \"How many times to retry a retryable failure\"\n",
        ),
        World::CaptionStyle => (
            "Word-by-word captions with the numbers in the brand's colour",
            "\n[[config]]\nkey = \"animation\"\ntype = \"string\"\ndefault = \"highlight\"\n\
             values = [\"still\", \"highlight\", \"pop\", \"karaoke\"]\n\
             description = \"How each cue's words animate\"\n",
        ),
        World::Transcriber => (
            "Transcribes audio (an offline stand-in for a real backend)",
            "",
        ),
        World::Speech => ("Speaks text (an offline stand-in: a tone per word)", ""),
        World::ClipGenerator => ("Generates clips (an offline stand-in for a remote job)", ""),
        World::Lipsync => (
            "Lip-syncs video (an offline stand-in: the video unchanged)",
            "",
        ),
    }
}

/// Writes a new plugin project `NAME/` under `parent`; answers its directory.
pub fn new_plugin(name: &str, world: World, lang: Lang, parent: &Path) -> Result<PathBuf> {
    let name: PluginName = name.parse()?;
    let dir = parent.join(name.as_str());
    if dir.exists() {
        bail!("{} already exists; not overwriting it", dir.display());
    }
    let files = match lang {
        Lang::Rust => rust_project(&name, world),
        Lang::Js | Lang::Python => script_project(&name, world, lang)?,
    };
    // Write into a sibling temporary directory and rename it into place, so
    // a failure leaves nothing half-written behind.
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".kino-plugin-new")
        .tempdir_in(parent)
        .with_context(|| format!("writing in {}", parent.display()))?;
    for (path, text) in &files {
        let path = staging.path().join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::rename(staging.keep(), &dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}"), value)
        })
}

fn manifest(name: &PluginName, world: World, limits: (&str, u32, u64)) -> String {
    let (description, config) = world_manifest(world);
    let (memory, timeout_ms, fuel) = limits;
    fill(
        include_str!("../templates/rust/kino-plugin.toml.in"),
        &[
            ("name", name.as_str()),
            ("world", &world.to_string()),
            ("stage_version", kino_runtime::PACKAGE_VERSION),
            ("description", description),
            ("author", "you <you@example.com>"),
            ("memory", memory),
            ("timeout_ms", &timeout_ms.to_string()),
            ("fuel", &fuel.to_string()),
            ("config", config),
        ],
    )
}

fn wit_files(prefix: &str) -> Vec<(String, String)> {
    WIT.iter()
        .map(|(file, text)| (format!("{prefix}/{file}"), (*text).to_owned()))
        .collect()
}

/// The frozen `kino:stage@0.1.0` WIT, under `prefix`.
fn frozen_wit_files(prefix: &str) -> Vec<(String, String)> {
    WIT.iter()
        .filter_map(|(file, text)| {
            let file = file.strip_prefix(SCRIPT_STAGE)?;
            Some((format!("{prefix}/{file}"), (*text).to_owned()))
        })
        .collect()
}

fn rust_project(name: &PluginName, world: World) -> Vec<(String, String)> {
    let crate_name = name.as_str().replace('-', "_");
    let values = [
        ("name", name.as_str()),
        ("world", &world.to_string()),
        ("crate", crate_name.as_str()),
    ];
    let mut files = vec![
        (
            "Cargo.toml".to_owned(),
            fill(include_str!("../templates/rust/Cargo.toml.in"), &values),
        ),
        ("src/lib.rs".to_owned(), fill(rust_code(world), &values)),
        (
            "kino-plugin.toml".to_owned(),
            // A backend waits on a remote service: a minute, as the
            // reference backends have.
            manifest(
                name,
                world,
                (
                    "16MiB",
                    if world.is_backend() { 60_000 } else { 1000 },
                    1_000_000_000,
                ),
            ),
        ),
        (
            "fixture.json".to_owned(),
            crate::plugin_test::sample_fixture(world).to_owned(),
        ),
        (
            "README.md".to_owned(),
            fill(include_str!("../templates/rust/README.md.in"), &values),
        ),
        (
            ".gitignore".to_owned(),
            include_str!("../templates/rust/gitignore").to_owned(),
        ),
        (
            "vendor/kino-plugin-sdk/Cargo.toml".to_owned(),
            fill(
                include_str!("../templates/rust/sdk-Cargo.toml.in"),
                &[
                    ("sdk_version", env!("CARGO_PKG_VERSION")),
                    ("wit_bindgen", WIT_BINDGEN),
                    ("wasip2", WASIP2),
                ],
            ),
        ),
    ];
    files.extend(
        SDK.iter()
            .map(|(file, text)| (format!("vendor/kino-plugin-sdk/{file}"), (*text).to_owned())),
    );
    files.extend(wit_files("vendor/kino-plugin-sdk/wit"));
    files
}

/// The files of a JavaScript or Python template, as (path, text).
fn script_template(world: World, lang: Lang) -> Option<&'static [(&'static str, &'static str)]> {
    macro_rules! files {
        ($dir:literal: $($file:literal),*) => {
            &[$(($file, include_str!(concat!("../templates/", $dir, "/", $file)))),*]
        };
    }
    Some(match (lang, world) {
        (Lang::Js, World::DirectorStyle) => files!("js/director-style":
            "package.json", "src/plugin.js", "kino-plugin.toml", "README.md"),
        (Lang::Js, World::Translator) => files!("js/translator":
            "package.json", "src/plugin.js", "kino-plugin.toml", "README.md"),
        (Lang::Python, World::DirectorStyle) => files!("python/director-style":
            "app.py", "requirements.txt", "kino-plugin.toml", "README.md"),
        (Lang::Python, World::Translator) => files!("python/translator":
            "app.py", "requirements.txt", "kino-plugin.toml", "README.md"),
        _ => return None,
    })
}

fn script_project(name: &PluginName, world: World, lang: Lang) -> Result<Vec<(String, String)>> {
    let Some(template) = script_template(world, lang) else {
        bail!(
            "there is no {lang:?} template for {world} yet (JavaScript and Python have \
             director-style and translator; Rust has every world)"
        );
    };
    let values = [("name", name.as_str())];
    let mut files: Vec<(String, String)> = template
        .iter()
        .map(|(path, text)| ((*path).to_owned(), fill(text, &values)))
        .collect();
    files.push((
        "fixture.json".to_owned(),
        crate::plugin_test::sample_fixture(world).to_owned(),
    ));
    files.push((
        ".gitignore".to_owned(),
        "node_modules/\n.venv/\nplugin.wasm\n*.tar.gz\nwit_world/\ncomponentize_py_*\npoll_loop.py\n__pycache__/\n"
            .to_owned(),
    ));
    files.extend(frozen_wit_files("wit"));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_copy_uses_the_workspace_wit_bindgen() {
        let workspace =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"))
                .expect("the workspace manifest");
        let line = workspace
            .lines()
            .find(|l| l.starts_with("wit-bindgen ="))
            .expect("wit-bindgen in the workspace");
        assert!(
            line.contains(&format!("version = \"{WIT_BINDGEN}\"")),
            "{line}: update WIT_BINDGEN"
        );
    }

    #[test]
    fn the_sdk_copy_uses_the_workspace_wasip2() {
        let workspace =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"))
                .expect("the workspace manifest");
        let line = workspace
            .lines()
            .find(|l| l.starts_with("wasip2 ="))
            .expect("wasip2 in the workspace");
        assert_eq!(line, format!("wasip2 = \"{WASIP2}\""), "update WASIP2");
    }

    /// Every file under `dir`, as paths relative to it.
    fn files_under(dir: &Path) -> Vec<String> {
        let mut files = Vec::new();
        let mut dirs = vec![dir.to_path_buf()];
        while let Some(next) = dirs.pop() {
            for entry in std::fs::read_dir(&next).expect("readable") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let relative = path.strip_prefix(dir).expect("under dir");
                    files.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        files.sort();
        files
    }

    /// The embedded copy holds every file of the SDK's WIT and sources (a
    /// file added to the SDK must be added here too, or a new project
    /// would not build).
    #[test]
    fn the_sdk_copy_is_whole() {
        let sdk = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugin-sdk"));
        let mut wit: Vec<String> = WIT.iter().map(|(f, _)| (*f).to_owned()).collect();
        wit.sort();
        assert_eq!(wit, files_under(&sdk.join("wit")), "update WIT");
        let mut src: Vec<String> = SDK
            .iter()
            .filter_map(|(f, _)| f.strip_prefix("src/").map(str::to_owned))
            .collect();
        src.sort();
        assert_eq!(src, files_under(&sdk.join("src")), "update SDK");
        let wit_files = WIT.iter().map(|(f, text)| (format!("wit/{f}"), text));
        let sdk_files = SDK.iter().map(|(f, text)| ((*f).to_owned(), text));
        for (file, text) in wit_files.chain(sdk_files) {
            let on_disk = std::fs::read_to_string(sdk.join(&file)).expect("the SDK's file");
            assert_eq!(**text, on_disk, "{file}");
        }
    }

    #[test]
    fn a_project_is_written_whole_or_not_at_all() -> Result<()> {
        let parent = tempfile::tempdir()?;
        let dir = new_plugin(
            "my-director",
            World::DirectorStyle,
            Lang::Rust,
            parent.path(),
        )?;
        let manifest = std::fs::read_to_string(dir.join("kino-plugin.toml"))?;
        let parsed = kino_registry::Manifest::parse(&manifest, "kino-plugin.toml")?;
        assert_eq!(parsed.world().world, World::DirectorStyle);
        assert!(manifest.contains(&format!(
            "\"kino:stage/director-style@{}\"",
            kino_runtime::PACKAGE_VERSION
        )));
        assert_eq!(parsed.config()[0].key, "style");
        assert!(dir.join("vendor/kino-plugin-sdk/wit/worlds.wit").is_file());
        assert!(!std::fs::read_to_string(dir.join("src/lib.rs"))?.contains("{{"));
        let again = new_plugin(
            "my-director",
            World::DirectorStyle,
            Lang::Rust,
            parent.path(),
        );
        assert!(
            again
                .expect_err("refused")
                .to_string()
                .contains("already exists")
        );
        assert!(new_plugin("Bad Name", World::Grader, Lang::Rust, parent.path()).is_err());
        // Nothing but the one project is left in the parent.
        assert_eq!(std::fs::read_dir(parent.path())?.count(), 1);
        for lang in [Lang::Js, Lang::Python] {
            let dir = new_plugin(
                &format!("{lang:?}-tr").to_lowercase(),
                World::Translator,
                lang,
                parent.path(),
            )?;
            let manifest = std::fs::read_to_string(dir.join("kino-plugin.toml"))?;
            let parsed = kino_registry::Manifest::parse(&manifest, "kino-plugin.toml")?;
            assert_eq!(parsed.world().world, World::Translator);
            // The script templates target the frozen 0.1.0, and carry its WIT.
            assert!(manifest.contains("\"kino:stage/translator@0.1.0\""));
            let worlds = std::fs::read_to_string(dir.join("wit/worlds.wit"))?;
            assert!(worlds.starts_with("package kino:stage@0.1.0;"));
        }
        for world in World::ALL {
            let dir = new_plugin(&format!("rust-{world}"), world, Lang::Rust, parent.path())?;
            let manifest = std::fs::read_to_string(dir.join("kino-plugin.toml"))?;
            let parsed = kino_registry::Manifest::parse(&manifest, "kino-plugin.toml")?;
            assert_eq!(parsed.world().world, world);
            assert!(
                parsed.validate_config(&Default::default()).is_ok(),
                "{world}"
            );
        }
        let none = new_plugin("js-grader", World::Grader, Lang::Js, parent.path());
        assert!(
            none.expect_err("refused")
                .to_string()
                .contains("no Js template for grader")
        );
        let none = new_plugin("py-speech", World::Speech, Lang::Python, parent.path());
        assert!(
            none.expect_err("refused")
                .to_string()
                .contains("no Python template for speech")
        );
        Ok(())
    }
}
