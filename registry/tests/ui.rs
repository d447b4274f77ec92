//! Golden tests for manifest errors: every `tests/ui/*.toml` must fail to
//! parse with exactly the message in the `.err` file beside it.
//!
//! `KINO_BLESS=1 cargo test -p kino-registry --test ui` rewrites the `.err` files.

use std::path::Path;

use kino_registry::Manifest;

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
    assert!(cases.len() >= 10, "expected at least 10 ui cases");
    let mut failures = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).expect("readable");
        let file = case
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let actual = match Manifest::parse(&text, file) {
            Ok(_) => format!("unexpectedly valid: {file}"),
            Err(e) => format!("{e}\n"),
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
