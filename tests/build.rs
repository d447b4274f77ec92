//! Builds every plugin crate (the reference plugins in `plugins/` and the
//! test-only ones in `tests/plugins/`) for wasm32-wasip2, so tests load
//! components built from the current source, never a hand-built file.
//!
//! The nested cargo uses its own target directory: the outer build holds the
//! lock on the usual one.

use std::path::{Path, PathBuf};
use std::process::Command;

fn package_names(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return names;
    };
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text.lines().find_map(|line| {
            let value = line.trim().strip_prefix("name")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_owned())
        });
        names.extend(name);
    }
    names.sort();
    names
}

/// The reference plugins also built against `kino:stage@0.1.0`.
const FROZEN: [&str; 3] = [
    "kino-director-styles",
    "kino-translator-phrasebook",
    "kino-grader-palette",
];

/// Builds `packages` for wasm32-wasip2 into `target_dir`, with `features`.
fn build_plugins(
    root: &Path,
    target_dir: &Path,
    packages: &[impl AsRef<str>],
    features: Option<&str>,
) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--target", "wasm32-wasip2", "--profile", "plugin"])
        .args(packages.iter().flat_map(|p| ["-p", p.as_ref()]))
        .env("CARGO_TARGET_DIR", target_dir);
    if let Some(features) = features {
        command.args(["--features", features]);
    }
    // Settings meant for the outer (host) build must not leak into the wasm one.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC_WRAPPER",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .expect("running cargo to build the plugins");
    assert!(
        status.success(),
        "building the plugins for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );
}

fn main() {
    // Tests that run ffmpeg, espeak-ng or a browser are ignored where it is
    // missing (not in CI).
    kino_tool_probe::probe(&[
        kino_tool_probe::FFMPEG,
        kino_tool_probe::ESPEAK_NG,
        kino_tool_probe::NPM,
        kino_tool_probe::CHROMIUM,
        kino_tool_probe::CHROMEDRIVER,
    ]);
    let tests_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = tests_dir
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf();
    // Tests that run models are ignored where `make models` hasn't run (not in CI).
    kino_tool_probe::probe_models(&kino_tool_probe::models_dir(&root));
    for watched in [
        "plugins",
        "plugin-sdk",
        "wit",
        "tests/plugins",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("wasm-plugins");

    let mut packages = package_names(&root.join("plugins"));
    packages.extend(package_names(&tests_dir.join("plugins")));

    build_plugins(&root, &target_dir, &packages, None);
    // The reference plugins as a plugin author built them before 0.2.0:
    // against the frozen kino:stage@0.1.0, which hosts keep running.
    let frozen_dir = target_dir.join("stage-0-1");
    build_plugins(
        &root,
        &frozen_dir,
        &FROZEN,
        Some("kino-plugin-sdk/stage-0-1"),
    );
    println!(
        "cargo:rustc-env=KINO_PLUGIN_DIR_0_1={}",
        frozen_dir.join("wasm32-wasip2").join("plugin").display()
    );
    let out = target_dir.join("wasm32-wasip2").join("plugin");
    println!("cargo:rustc-env=KINO_PLUGIN_DIR={}", out.display());
}
