//! Beat tracking (`kino_kernels::beats`) against librosa's
//! `beat.beat_track`: F-measure, tempo and speed on the same WAV files.
//!
//! Run with `cargo bench -p kino-kernels --bench beats`. The signals are
//! synthesised by `tests/beats.rs`'s [`signals`] module with their true
//! beats, 30 s each at 44.1 kHz: click tracks, drum loops (kick, snare,
//! eighth hats, bass, chord pad) at several tempi, and song-like mixes
//! (chords, bass, a melody with vibrato, drums with a 2:1 swing, ±2% tempo
//! drift, noise at −34 dB, three bars of sparse drums). They are written as
//! 32-bit float WAV files into a temporary folder.
//!
//! librosa runs in `.kino/beats-venv` (made on first run from
//! `benches/beats/requirements.txt`, pinned by hash): `benches/beats/
//! reference.py` reads every file first and then times `beat_track` alone,
//! after one untimed call that compiles its numba kernels. Where the venv
//! cannot be made (no `python3`, no network on first run) the bench says why
//! and reports ours alone.
//!
//! F-measure as `mir_eval.beat.evaluate` reports it: beats before 5 s are
//! dropped from both lists, then ±70 ms one-to-one matching; "F bars" is
//! the same for our downbeats against the bar starts. Ours is timed as the
//! median of a few runs on samples in memory, on every core and on one;
//! last, ours alone on a 5-minute song-like mix.

mod common;

#[allow(dead_code, unused_imports)]
#[path = "../tests/beats.rs"]
mod beats_tests;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use beats_tests::signals::{self, Signal, Style};
use common::BenchResult;
use kino_kernels::beats::{Beats, track};
use kino_kernels::wav::{Pcm, write_wav};

const SR: u32 = 44_100;
const SECS: f64 = 30.0;
const RUNS: usize = 5;
/// mir_eval's evaluation skips the first seconds.
const SKIP_SECS: f64 = 5.0;
const WINDOW: f64 = 0.07;

/// What librosa found on one file.
struct Reference {
    tempo_bpm: f64,
    beats: Vec<f64>,
    time: Duration,
}

fn main() -> BenchResult<()> {
    common::print_load();
    println!("rayon threads: {}", rayon::current_num_threads());

    let mut sigs: Vec<Signal> = vec![
        signals::clicks(SR, 120.0, SECS),
        signals::clicks(SR, 97.0, SECS),
    ];
    for (i, bpm) in [70.0, 96.0, 120.0, 128.0, 150.0].into_iter().enumerate() {
        sigs.push(signals::drums(SR, bpm, SECS, 100 + i as u64, Style::LOOP));
    }
    for (i, bpm) in [76.0, 92.0, 108.0, 124.0, 140.0, 160.0]
        .into_iter()
        .enumerate()
    {
        sigs.push(signals::song(SR, bpm, SECS, 200 + i as u64));
    }

    let dir = tempfile::tempdir()?;
    let mut paths = Vec::new();
    for (i, sig) in sigs.iter().enumerate() {
        let path = dir.path().join(format!("{i:02}.wav"));
        let pcm = Pcm {
            sample_rate: sig.sample_rate,
            channels: 1,
            samples: sig.samples.clone(),
        };
        write_wav(&path, &pcm)?;
        paths.push(path);
    }

    // Ours, on every core and on one.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let mut ours: Vec<(Beats, Duration, Duration)> = Vec::new();
    for sig in &sigs {
        let (found, all) = timed(|| track(&sig.samples, sig.sample_rate))?;
        let (_, single) = one.install(|| timed(|| track(&sig.samples, sig.sample_rate)))?;
        ours.push((found, all, single));
    }

    let librosa = match reference(&paths) {
        Ok((version, warmup, found)) => {
            println!(
                "librosa {version}: beat_track's first call (numba compiling) took {:.2} s, not counted",
                warmup.as_secs_f64()
            );
            Some(found)
        }
        Err(e) => {
            println!("librosa not run: {e}");
            None
        }
    };

    println!();
    println!(
        "{:<13} {:>5} | {:>7} {:>7} | {:>6} {:>6} | {:>6} | {:>7} {:>7} {:>8}",
        "signal",
        "bpm",
        "ours",
        "librosa",
        "F ours",
        "F lib",
        "F bars",
        "ms ours",
        "1 core",
        "ms lib"
    );
    let mut totals = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut f_sums = (0.0, 0.0);
    for (i, (sig, (found, all, single))) in sigs.iter().zip(&ours).enumerate() {
        let est = signals::seconds(&found.beats_ms);
        let f_ours = score(&sig.beats, &est);
        // A click track has no bars.
        let f_bars = if sig.name.starts_with("clicks") {
            "-".to_string()
        } else {
            format!(
                "{:.3}",
                score(&sig.downbeats, &signals::seconds(&found.downbeats_ms))
            )
        };
        totals.0 += *all;
        totals.1 += *single;
        f_sums.0 += f_ours;
        let (lib_bpm, lib_f, lib_ms) = match librosa.as_ref().and_then(|r| r.get(i)) {
            Some(r) => {
                totals.2 += r.time;
                let f = score(&sig.beats, &r.beats);
                f_sums.1 += f;
                (
                    format!("{:.1}", r.tempo_bpm),
                    format!("{f:.3}"),
                    format!("{:.1}", ms(r.time)),
                )
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<13} {:>5.0} | {:>7.1} {:>7} | {:>6.3} {:>6} | {:>6} | {:>7.1} {:>7.1} {:>8}",
            sig.name,
            sig.tempo_bpm,
            found.tempo_bpm,
            lib_bpm,
            f_ours,
            lib_f,
            f_bars,
            ms(*all),
            ms(*single),
            lib_ms
        );
    }
    let n = sigs.len() as f64;
    let (lib_f, lib_ms) = if librosa.is_some() {
        (
            format!("{:.3}", f_sums.1 / n),
            format!("{:.1}", ms(totals.2)),
        )
    } else {
        ("-".into(), "-".into())
    };
    println!(
        "{:<13} {:>5} | {:>7} {:>7} | {:>6.3} {:>6} | {:>6} | {:>7.1} {:>7.1} {:>8}",
        "mean / total",
        "",
        "",
        "",
        f_sums.0 / n,
        lib_f,
        "",
        ms(totals.0),
        ms(totals.1),
        lib_ms
    );
    println!(
        "({} signals of {SECS:.0} s at {SR} Hz; F-measure ±{:.0} ms after {SKIP_SECS:.0} s; ours the median of {RUNS} runs)",
        sigs.len(),
        WINDOW * 1e3
    );

    // A whole song's worth, ours only.
    let long_secs = 300.0;
    let long = signals::song(SR, 112.0, long_secs, 999);
    let (found, all) = timed(|| track(&long.samples, SR))?;
    let (_, single) = one.install(|| timed(|| track(&long.samples, SR)))?;
    println!(
        "{long_secs:.0} s song-like mix: {:.1} ms on {} threads, {:.1} ms on one ({:.0}x real time); F {:.3}",
        ms(all),
        rayon::current_num_threads(),
        ms(single),
        long_secs / all.as_secs_f64(),
        score(&long.beats, &signals::seconds(&found.beats_ms))
    );
    Ok(())
}

fn score(reference: &[f64], estimated: &[f64]) -> f64 {
    signals::f_measure(
        &signals::between(reference, SKIP_SECS, f64::INFINITY),
        &signals::between(estimated, SKIP_SECS, f64::INFINITY),
        WINDOW,
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The result of `f` and its median time over [`RUNS`] runs.
fn timed<T, E>(f: impl Fn() -> Result<T, E>) -> Result<(T, Duration), E> {
    let start = Instant::now();
    let out = f()?;
    let mut times = vec![start.elapsed()];
    for _ in 1..RUNS {
        let start = Instant::now();
        std::hint::black_box(f()?);
        times.push(start.elapsed());
    }
    times.sort();
    Ok((out, times[times.len() / 2]))
}

/// The repository root (two folders above this crate).
fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Makes `.kino/beats-venv` with librosa if it is not there yet and returns
/// its Python.
fn venv_python() -> BenchResult<PathBuf> {
    let root = repo_root();
    let venv = root.join(".kino/beats-venv");
    let python = venv.join("bin/python");
    let marker = venv.join(".installed");
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/beats/requirements.txt");
    if marker.exists() {
        return Ok(python);
    }
    println!("making {} (librosa, pinned by hash; once)", venv.display());
    let made = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .output();
    match made {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Err(format!(
                "python3 -m venv failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Err(e) => return Err(format!("cannot run python3: {e}").into()),
    }
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--require-hashes", "-r"])
        .arg(&requirements)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "pip install --require-hashes -r {} failed: {}",
            requirements.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    std::fs::write(&marker, "")?;
    Ok(python)
}

/// Runs `reference.py` on `paths`: librosa's version, its warm-up time and
/// one [`Reference`] per path.
fn reference(paths: &[PathBuf]) -> BenchResult<(String, Duration, Vec<Reference>)> {
    let python = venv_python()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/beats/reference.py");
    let out = Command::new(&python).arg(&script).args(paths).output()?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let version = json["librosa"].as_str().unwrap_or("?").to_string();
    let secs = |v: &serde_json::Value| Duration::from_secs_f64(v.as_f64().unwrap_or(0.0));
    let results = json["results"]
        .as_array()
        .ok_or("reference.py printed no results")?
        .iter()
        .map(|r| Reference {
            tempo_bpm: r["tempo_bpm"].as_f64().unwrap_or(0.0),
            beats: r["beats"]
                .as_array()
                .map(|b| b.iter().filter_map(|t| t.as_f64()).collect())
                .unwrap_or_default(),
            time: secs(&r["seconds"]),
        })
        .collect::<Vec<_>>();
    if results.len() != paths.len() {
        return Err(format!(
            "reference.py gave {} results for {} files",
            results.len(),
            paths.len()
        )
        .into());
    }
    Ok((version, secs(&json["warmup_seconds"]), results))
}
