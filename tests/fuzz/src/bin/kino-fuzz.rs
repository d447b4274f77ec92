//! `kino-fuzz [TARGET...] [--seconds N] [--runs N] [--seed S]`: fuzzes each
//! target (all by default) and prints, per target, the executions, their
//! rate, the corpus, the distinct outcomes and the findings. Exits 1 when
//! anything was found.
//!
//! Each target runs in a child process (this binary with `--worker`), so an
//! abort or a hang is a finding with its input saved, not the end of the
//! run; `--in-process` runs them here instead.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use kino_fuzz::engine::{self, Config, Finding, Kind, Report};
use kino_fuzz::targets::{self, Target};

const USAGE: &str = "\
usage: kino-fuzz [TARGET...] [--seconds N] [--runs N] [--seed S] [--verbose]
                 [--in-process] [--corpus DIR] [--crashes DIR]
       kino-fuzz --replay FILE...   (a saved input; its target is the name's prefix)
       kino-fuzz --list

Runs each TARGET (default: all) for N seconds (default 10) or N mutated
inputs, whichever ends first; prints executions, exec/s, corpus, distinct
outcomes and findings per target. Findings are saved under --crashes
(default tests/fuzz/crashes) as TARGET-HASH with TARGET-HASH.txt.";

/// How many times a target's worker is restarted after it dies.
const RESTARTS: u32 = 5;

struct Options {
    targets: Vec<&'static Target>,
    config: Config,
    in_process: bool,
    worker: bool,
    replay: Vec<PathBuf>,
    list: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut config = Config::new(1);
    let mut names = Vec::new();
    let mut options = Options {
        targets: Vec::new(),
        config: Config::new(1),
        in_process: false,
        worker: false,
        replay: Vec::new(),
        list: false,
    };
    let mut time_given = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => {
                let v = value("--seconds")?;
                config.seconds = Some(
                    v.parse()
                        .map_err(|_| format!("--seconds {v}: not a number"))?,
                );
                time_given = true;
            }
            "--runs" => {
                let v = value("--runs")?;
                config.runs = Some(v.parse().map_err(|_| format!("--runs {v}: not a count"))?);
            }
            "--seed" => {
                let v = value("--seed")?;
                config.seed = v.parse().map_err(|_| format!("--seed {v}: not a number"))?;
            }
            "--corpus" => config.corpus_dir = value("--corpus")?.into(),
            "--crashes" => config.crash_dir = value("--crashes")?.into(),
            "--verbose" => config.verbose = true,
            "--in-process" => options.in_process = true,
            "--worker" => options.worker = true,
            "--list" => options.list = true,
            "--replay" => {
                options.replay.extend(args.by_ref().map(PathBuf::from));
            }
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            name => names.push(name.to_owned()),
        }
    }
    if config.runs.is_none() && !time_given {
        config.seconds = Some(10.0);
    }
    for name in names {
        let target = targets::by_name(&name).ok_or_else(|| {
            let known: Vec<_> = targets::ALL.iter().map(|t| t.name).collect();
            format!("no target {name}; the targets are {}", known.join(", "))
        })?;
        options.targets.push(target);
    }
    if options.targets.is_empty() {
        options.targets = targets::ALL.iter().collect();
    }
    options.config = config;
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("kino-fuzz: {e}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if options.list {
        for t in targets::ALL {
            println!("{:<10} {}", t.name, t.about);
        }
        return ExitCode::SUCCESS;
    }
    if !options.replay.is_empty() {
        return replay(&options.replay);
    }
    if options.worker {
        return worker(options.targets[0], &options.config);
    }
    let mut reports = Vec::new();
    for target in &options.targets {
        eprintln!("fuzzing {} ({})", target.name, target.about);
        let report = if options.in_process {
            engine::fuzz(target, &options.config, |_| {})
        } else {
            supervise(target, &options.config)
        };
        reports.push(report);
    }
    print_table(&reports);
    if reports.iter().any(|r| !r.findings.is_empty()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_table(reports: &[Report]) {
    println!();
    println!("| target | executions | exec/s | seeds | corpus | outcomes | slowest | findings |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in reports {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {:.1?} | {} |",
            r.target,
            r.executions,
            r.rate(),
            r.seeds,
            r.corpus,
            r.outcomes,
            r.slowest,
            r.findings.len()
        );
    }
    for r in reports {
        for f in &r.findings {
            println!(
                "\n{}: {} (x{}): {}\n  input: {}",
                r.target,
                f.kind,
                f.count,
                f.message.lines().next().unwrap_or(""),
                f.saved.as_ref().map_or_else(
                    || format!("{:?}", String::from_utf8_lossy(&f.input)),
                    |p| p.display().to_string()
                )
            );
        }
    }
}

/// Replays saved inputs: each through the target its file name starts with.
fn replay(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(target) = targets::ALL.iter().find(|t| {
            name.strip_prefix(t.name)
                .is_some_and(|rest| rest.starts_with('-'))
        }) else {
            eprintln!(
                "{}: the name does not start with a target's (`lut-...`)",
                file.display()
            );
            failed = true;
            continue;
        };
        let input = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                failed = true;
                continue;
            }
        };
        let started = Instant::now();
        match engine::replay(target, &input) {
            Ok(outcome) => println!(
                "{}: {} in {:.2?}: {}",
                file.display(),
                target.name,
                started.elapsed(),
                outcome.as_str()
            ),
            Err(panic) => {
                println!("{}: {} panicked: {panic}", file.display(), target.name);
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The child side: fuzz one target, writing progress and the report to
/// stdout, one `key value...` line each.
fn worker(target: &Target, config: &Config) -> ExitCode {
    let line = |tag: &str, r: &Report| {
        println!(
            "{tag} {} {} {} {} {} {}",
            r.executions,
            r.elapsed.as_secs_f64(),
            r.seeds,
            r.corpus,
            r.outcomes,
            r.slowest.as_secs_f64()
        );
    };
    let report = engine::fuzz(target, config, |r| line("progress", r));
    for f in &report.findings {
        println!(
            "finding {} {}\t{}\t{}",
            f.kind,
            f.count,
            f.saved
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
            f.message.lines().next().unwrap_or("")
        );
    }
    line("done", &report);
    ExitCode::SUCCESS
}

/// The parent side: runs `target` in workers, restarting one that dies
/// (after saving its in-flight input as an abort or a hang), until the time
/// or the runs are spent.
fn supervise(target: &'static Target, config: &Config) -> Report {
    let started = Instant::now();
    let mut total = Report::empty(target.name);
    let exe = std::env::current_exe().expect("the path of this program");
    for attempt in 0..=RESTARTS {
        let seconds = config.seconds.map(|s| s - started.elapsed().as_secs_f64());
        let runs = config.runs.map(|r| r.saturating_sub(total.executions));
        if attempt > 0 && (seconds.is_some_and(|s| s < 1.0) || runs == Some(0)) {
            break;
        }
        let mut command = Command::new(&exe);
        command
            .args(["--worker", target.name, "--seed"])
            .arg((config.seed + u64::from(attempt)).to_string())
            .arg("--corpus")
            .arg(&config.corpus_dir)
            .arg("--crashes")
            .arg(&config.crash_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(s) = seconds {
            command.args(["--seconds", &s.to_string()]);
        }
        if let Some(r) = runs {
            command.args(["--runs", &r.to_string()]);
        }
        if config.verbose {
            command.arg("--verbose");
        }
        let mut child = command.spawn().expect("starting a worker");
        let stderr = child.stderr.take().expect("piped stderr");
        let tail = std::thread::spawn(move || {
            let mut tail: Vec<String> = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                tail.push(line);
                if tail.len() > 8 {
                    tail.remove(0);
                }
            }
            tail
        });
        let mut last: Option<Report> = None;
        let mut done = false;
        let mut findings = Vec::new();
        for line in BufReader::new(child.stdout.take().expect("piped stdout"))
            .lines()
            .map_while(Result::ok)
        {
            let mut words = line.split(' ');
            match words.next() {
                Some(tag @ ("progress" | "done")) => {
                    let n: Vec<f64> = words.filter_map(|w| w.parse().ok()).collect();
                    if let [executions, elapsed, seeds, corpus, outcomes, slowest] = n[..] {
                        last = Some(Report {
                            target: target.name,
                            executions: executions as u64,
                            elapsed: Duration::from_secs_f64(elapsed),
                            seeds: seeds as usize,
                            corpus: corpus as usize,
                            outcomes: outcomes as usize,
                            slowest: Duration::from_secs_f64(slowest),
                            findings: Vec::new(),
                        });
                        done = tag == "done";
                    }
                }
                Some("finding") => findings.push(parse_finding(&line)),
                _ => eprintln!("{}: {line}", target.name),
            }
        }
        let status = child.wait().expect("waiting for a worker");
        let tail = tail.join().unwrap_or_default();
        if let Some(r) = &last {
            total.executions += r.executions;
            total.seeds = total.seeds.max(r.seeds);
            total.corpus = total.corpus.max(r.corpus);
            total.outcomes = total.outcomes.max(r.outcomes);
            total.slowest = total.slowest.max(r.slowest);
        }
        total.findings.extend(findings);
        if status.success() && done {
            break;
        }
        let (kind, message) = if status.code() == Some(engine::HANG_EXIT) {
            (
                Kind::Hang,
                format!("one input ran for more than {:.0?}", config.hang),
            )
        } else {
            (
                Kind::Abort,
                format!("the worker died ({status}): {}", tail.join(" / ")),
            )
        };
        let input = engine::read_inflight(&config.inflight(target.name)).unwrap_or_default();
        let saved = if kind == Kind::Hang {
            // The watchdog saved it.
            Some(
                config
                    .crash_dir
                    .join(format!("{}-{:016x}", target.name, engine::fnv(&input))),
            )
        } else {
            engine::save(&config.crash_dir, target.name, kind, &message, &input)
        };
        eprintln!("{}: {kind}: {message}", target.name);
        total.findings.push(Finding {
            kind,
            message,
            input,
            saved,
            count: 1,
        });
    }
    let _ = std::fs::remove_file(config.inflight(target.name));
    total.elapsed = started.elapsed();
    total
}

/// A worker's `finding KIND COUNT\tPATH\tMESSAGE` line.
fn parse_finding(line: &str) -> Finding {
    let mut fields = line.splitn(3, '\t');
    let head = fields.next().unwrap_or("");
    let path = fields.next().unwrap_or("");
    let message = fields.next().unwrap_or("");
    let mut words = head.split(' ').skip(1);
    let kind = match words.next() {
        Some("panic") => Kind::Panic,
        Some("slow") => Kind::Slow,
        Some("hang") => Kind::Hang,
        _ => Kind::Abort,
    };
    let count = words.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    let saved = (!path.is_empty()).then(|| PathBuf::from(path));
    let input = saved
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .unwrap_or_default();
    Finding {
        kind,
        message: message.to_owned(),
        input,
        saved,
        count,
    }
}
