//! The fuzzer in CI: every target for 20 000 inputs with a fixed
//! seed, and every input saved in `regressions/` replayed. Both assert that
//! nothing panics; neither depends on speed (slow inputs are `make fuzz`'s
//! concern).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use kino_fuzz::engine::{self, Config, Kind};
use kino_fuzz::targets;

/// Mutated inputs per target: the whole test stays under a minute in the
/// dev profile on two cores (18 s here).
const RUNS: u64 = 20_000;

/// The engine's panic capture and watchdog are per process: one test at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn every_target_survives_a_short_run() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let crashes = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config::new(0x5EED);
    config.runs = Some(RUNS);
    config.crash_dir = crashes.path().to_owned();
    // Speed is not this test's business.
    config.slow = Duration::from_secs(3600);
    config.hang = Duration::from_secs(600);
    let mut failures = Vec::new();
    for target in targets::ALL {
        let report = engine::fuzz(target, &config, |_| {});
        eprintln!(
            "{}: {} executions, {} seeds, corpus {}, {} outcomes",
            target.name, report.executions, report.seeds, report.corpus, report.outcomes
        );
        assert!(report.seeds > 0, "{} has seeds", target.name);
        assert!(
            report.outcomes > 1,
            "{} sees more than one outcome",
            target.name
        );
        for f in report.findings.iter().filter(|f| f.kind != Kind::Slow) {
            failures.push(format!(
                "{}: {} on {:?}:\n{}",
                target.name,
                f.kind,
                String::from_utf8_lossy(&f.input),
                f.message
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_saved_finding_stays_fixed() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fuzz/regressions exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_none())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let target = targets::ALL
            .iter()
            .find(|t| {
                name.strip_prefix(t.name)
                    .is_some_and(|r| r.starts_with('-'))
            })
            .unwrap_or_else(|| panic!("{name}: the name starts with a target's"));
        let input = std::fs::read(file).expect("readable");
        if let Err(panic) = engine::replay(target, &input) {
            failures.push(format!("{name}: {panic}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
