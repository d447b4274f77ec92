//! Kino's end-to-end tests, as one test binary: each module links the same
//! host crates (wasmtime, FFmpeg, sqlx), so one binary is linked instead of
//! one per file.

mod api;
mod assets_and_captions;
mod authoring;
mod backends;
mod console;
mod diffusion;
mod distributed;
mod first_use;
mod hardening_api;
mod http;
mod install;
mod lipsync;
mod media;
mod media_streams;
mod operator;
mod pipelines;
mod reference_plugins;
mod sandbox;
mod speech;
mod stage_versions;
mod truncated_media;
mod video_tools;
mod vocode;
mod voices;

use std::path::Path;
use std::process::{Command, Stdio};

/// `kino ARGS` as a local user runs it: the test copy of the binary, the
/// bundled plugins, the data directory `data` and outputs in `out`.
pub(crate) fn kino_local(data: &Path, out: &Path, args: &[&str]) -> Command {
    let bundled = kino_tests::bundled_plugins();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kino-cli"));
    cmd.args(args)
        .arg("--data-dir")
        .arg(data)
        .arg("--plugins")
        .arg(&bundled.components)
        .arg("--out")
        .arg(out);
    cmd
}

/// Runs a `kino run` and kills it (SIGKILL) at the first line of its
/// progress containing `at`: returns the job's id and that line.
pub(crate) fn kill_at(mut cmd: Command, at: &str) -> (String, String) {
    use std::io::BufRead as _;
    let mut child = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn kino");
    let stderr = child.stderr.take().expect("stderr");
    let (mut job, mut killed_at) = (None, None);
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.expect("stderr line");
        if let Some(rest) = line.strip_prefix("job ") {
            job = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.contains(at) {
            child.kill().expect("SIGKILL");
            killed_at = Some(line);
            break;
        }
    }
    child.wait().expect("wait");
    (
        job.expect("kino printed the job id"),
        killed_at.unwrap_or_else(|| panic!("kino finished without printing `{at}`")),
    )
}

/// A local job as the store in `data` has it, and how many times each of
/// its nodes completed (across every process that ran it).
pub(crate) fn completed_nodes(
    data: &Path,
    job: &str,
) -> (kino_store::Job, std::collections::BTreeMap<String, usize>) {
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    rt.block_on(async {
        let store = kino_store::Store::open_sqlite(data.join("kino.db"))
            .await
            .expect("store");
        let tenant = store
            .tenant_by_name("local")
            .await
            .expect("tenant")
            .expect("local")
            .id;
        let id: kino_store::JobId = job.parse().expect("id");
        let got = store
            .get_job(&tenant, &id)
            .await
            .expect("job")
            .expect("job");
        let mut completed = std::collections::BTreeMap::new();
        for s in store.list_stages(&tenant, &id).await.expect("stages") {
            if s.state == kino_store::StageState::Completed {
                *completed.entry(s.name).or_default() += 1;
            }
        }
        (got, completed)
    })
}

/// What is left in a data directory's artifact temporaries (nothing, once
/// no run is in progress: a killed run's are swept when the next starts).
pub(crate) fn leftover_temporaries(data: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(data.join("artifacts/tmp"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}
