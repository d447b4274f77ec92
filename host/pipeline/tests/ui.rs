//! Golden tests for pipeline spec errors: every `tests/ui/*.toml` must fail
//! to load with exactly the message in the `.err` file beside it
//! (`file:line:column: what is wrong`), against a host offering three
//! native kernels and the built-in pipelines' slots.
//!
//! `KINO_BLESS=1 cargo test -p kino-pipeline --test ui` rewrites the `.err` files.

use std::path::Path;

use kino_pipeline::ops::DataKind;
use kino_pipeline::spec::{HostOffer, PipelineSpec};

fn host() -> HostOffer {
    HostOffer {
        kernels: [
            ("unsharp-mask", DataKind::Video, DataKind::Video),
            ("noise-gate", DataKind::Audio, DataKind::Audio),
            ("tag-lines", DataKind::Json, DataKind::Json),
        ]
        .into_iter()
        .map(|(name, reads, writes)| (name.to_owned(), (reads, writes)))
        .collect(),
        slots: Some(kino_pipeline::slots::known_slots()),
    }
}

#[test]
fn ui() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let bless = std::env::var_os("KINO_BLESS").is_some_and(|v| v == "1");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/ui exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "expected at least 15 ui cases");
    let host = host();
    let mut failures = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).expect("readable");
        let file = case
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let actual = match PipelineSpec::parse_for(file, &text, &host) {
            Ok(_) => format!("unexpectedly valid: {file}\n"),
            Err(e) => format!("{e:#}\n"),
        };
        let expected_path = case.with_extension("err");
        if bless {
            std::fs::write(&expected_path, &actual).expect("writable");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{file}:\n  expected: {}\n  actual:   {}",
                expected.trim_end(),
                actual.trim_end()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} ui case(s) differ (rerun with KINO_BLESS=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The example pipeline in `examples/` loads against the same host.
#[test]
fn the_example_pipeline_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pipelines/polish.toml");
    let text = std::fs::read_to_string(&path).expect("the example exists");
    let spec = PipelineSpec::parse_for("polish.toml", &text, &host()).expect("valid");
    assert_eq!(spec.name, "polish");
    assert_eq!(
        spec.native_kernels().collect::<Vec<_>>(),
        ["unsharp-mask", "noise-gate"]
    );
}
