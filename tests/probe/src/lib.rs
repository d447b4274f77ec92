//! For build scripts of crates whose tests run external tools: finds which
//! tools are missing and sets `cfg(missing = "<tool>")` for each, so a test
//! that needs one is *ignored*, not silently passed:
//!
//! ```text
//! #[test]
//! #[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
//! fn decodes_a_real_file() { /* runs ffmpeg */ }
//! ```
//!
//! When the `CI` environment variable is set, nothing is ignored: CI must
//! have every tool, so a missing one makes its tests fail, loudly, instead of
//! shrinking the suite. Either way the build prints a warning naming what is
//! missing.
//!
//! A build script calls it with the tools its crate's tests run:
//!
//! ```no_run
//! kino_tool_probe::probe(&[kino_tool_probe::FFMPEG, kino_tool_probe::ESPEAK_NG]);
//! ```

use std::process::{Command, Stdio};

/// An external program some tests run.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The program name, also the `missing` cfg value.
    pub name: &'static str,
    /// Arguments that make it print its version and exit successfully.
    pub version_args: &'static [&'static str],
    /// How to install it, for the warning.
    pub install: &'static str,
}

/// The FFmpeg command line.
pub const FFMPEG: Tool = Tool {
    name: "ffmpeg",
    version_args: &["-version"],
    install: "apt-get install ffmpeg",
};

/// espeak-ng, the fallback speech synthesiser.
pub const ESPEAK_NG: Tool = Tool {
    name: "espeak-ng",
    version_args: &["--version"],
    install: "apt-get install espeak-ng",
};

/// npm (with Node.js), for plugins written in JavaScript (componentize-js).
pub const NPM: Tool = Tool {
    name: "npm",
    version_args: &["--version"],
    install: "install Node.js 20+ with npm",
};

/// Chromium, the browser the console's tests drive.
pub const CHROMIUM: Tool = Tool {
    name: "chromium",
    version_args: &["--version"],
    install: "apt-get install chromium",
};

/// chromedriver, the WebDriver server that drives Chromium.
pub const CHROMEDRIVER: Tool = Tool {
    name: "chromedriver",
    version_args: &["--version"],
    install: "apt-get install chromium-driver",
};

/// Every tool a `missing` cfg may name.
pub const ALL: [Tool; 5] = [FFMPEG, ESPEAK_NG, NPM, CHROMIUM, CHROMEDRIVER];

/// Whether `tool` runs here.
pub fn present(tool: &Tool) -> bool {
    Command::new(tool.name)
        .args(tool.version_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The default models (`make models`): tests that run them are ignored
/// where they aren't installed, as tools are.
pub const MODELS: &str = "models";

/// The models `make models` installs, by name.
pub const DEFAULT_MODELS: [&str; 5] = [
    "whisper-tiny.en",
    "whisper-base",
    "piper-en_US-joe-medium",
    "silero-vad",
    "onnxruntime",
];

/// The model repository tests use: `$KINO_MODELS`, else the workspace's
/// `.kino/models` (where `make models` installs), given the workspace root.
pub fn models_dir(workspace: &std::path::Path) -> std::path::PathBuf {
    std::env::var_os("KINO_MODELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace.join(".kino/models"))
}

/// Sets `cfg(missing = "models")` when a default model isn't installed in
/// `repo` (never in CI, which must have them), with a warning either way.
pub fn probe_models(repo: &std::path::Path) {
    println!("cargo::rerun-if-env-changed=KINO_MODELS");
    println!("cargo::rerun-if-changed={}", repo.display());
    let absent: Vec<&str> = DEFAULT_MODELS
        .iter()
        .copied()
        .filter(|m| {
            std::fs::read_dir(repo.join(m)).map_or(true, |versions| {
                !versions
                    .flatten()
                    .any(|v| v.path().join("model.toml").is_file())
            })
        })
        .collect();
    if absent.is_empty() {
        return;
    }
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    let what = format!("models {} are not in {}", absent.join(", "), repo.display());
    if in_ci {
        println!(
            "cargo::warning={what} and CI is set: the tests that run them will fail (`make models`)"
        );
    } else {
        println!("cargo::rustc-cfg=missing=\"{MODELS}\"");
        println!("cargo::warning={what}: the tests that run them are ignored (`make models`)");
    }
}

/// Prints the cargo directives for `tools` (see the crate docs).
pub fn probe(tools: &[Tool]) {
    let values: Vec<String> = ALL
        .iter()
        .map(|t| t.name)
        .chain([MODELS])
        .map(|name| format!("\"{name}\""))
        .collect();
    println!(
        "cargo::rustc-check-cfg=cfg(missing, values({}))",
        values.join(", ")
    );
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=PATH");
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    for tool in tools.iter().filter(|t| !present(t)) {
        let name = tool.name;
        if in_ci {
            println!(
                "cargo::warning={name} is missing and CI is set: the tests that need it will fail ({})",
                tool.install
            );
        } else {
            println!("cargo::rustc-cfg=missing=\"{name}\"");
            println!(
                "cargo::warning={name} is missing: the tests that need it are ignored ({})",
                tool.install
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_is_not_there_is_missing() {
        let ghost = Tool {
            name: "kino-no-such-tool-7f3a",
            version_args: &["--version"],
            install: "nowhere",
        };
        assert!(!present(&ghost));
    }

    #[test]
    fn a_program_that_runs_is_present() {
        // cargo runs this test, so it is on the PATH.
        let cargo = Tool {
            name: "cargo",
            version_args: &["--version"],
            install: "rustup",
        };
        assert!(present(&cargo));
    }
}
