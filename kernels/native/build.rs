//! Marks the tests that compile C (the example and the test libraries) as
//! ignored where there is no C compiler, unless `CI` is set: CI must have
//! one, so there they run and fail instead. (`kino-tool-probe` does the same
//! for ffmpeg and espeak-ng.)

use std::process::{Command, Stdio};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(missing, values(\"cc\"))");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=CC");
    println!("cargo::rerun-if-env-changed=PATH");
    let cc = std::env::var("CC")
        .ok()
        .filter(|cc| !cc.trim().is_empty())
        .unwrap_or_else(|| "cc".to_owned());
    let present = Command::new(&cc)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if present {
        return;
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        println!(
            "cargo::warning=no C compiler (`{cc}`) and CI is set: the tests that build C kernels will fail (apt-get install gcc)"
        );
    } else {
        println!("cargo::rustc-cfg=missing=\"cc\"");
        println!(
            "cargo::warning=no C compiler (`{cc}`): the tests that build C kernels are ignored (apt-get install gcc)"
        );
    }
}
