//! How `kino` shows progress. A job's [`JobEvent`]s become indicatif bars on a
//! terminal — one bar of finished nodes whose length grows as stages fan out,
//! and a spinner per running node (each scene, chunk or line) — and the plain
//! `[done/known]` lines everywhere else (logs, pipes, CI). The kernel tools get
//! a frame bar ([`frames`]) or a spinner ([`spinner`]) on a terminal and a
//! plain line every few seconds elsewhere ([`with_bar`]).

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use kino_pipeline::Reporter;
use kino_store::{JobEvent, JobId};

/// Renders a job's events: bars on a terminal, lines otherwise.
pub struct JobProgress {
    started: Instant,
    state: Mutex<State>,
}

struct State {
    /// Nodes finished (run, cached or degraded) and nodes known so far.
    done: u64,
    known: u64,
    /// The last job ended (completed or failed).
    closed: bool,
    bars: Option<Bars>,
}

/// The terminal view.
struct Bars {
    multi: MultiProgress,
    /// Finished nodes of the job; drawn once the job is planned.
    overall: Option<ProgressBar>,
    running: HashMap<String, ProgressBar>,
}

impl JobProgress {
    /// Bars when stderr is a terminal, lines otherwise.
    pub fn new() -> Self {
        Self::with_bars(std::io::stderr().is_terminal())
    }

    fn with_bars(bars: bool) -> Self {
        let bars = bars.then(|| Bars {
            multi: MultiProgress::new(),
            overall: None,
            running: HashMap::new(),
        });
        Self {
            started: Instant::now(),
            state: Mutex::new(State {
                done: 0,
                known: 0,
                closed: false,
                bars,
            }),
        }
    }
}

/// The bar of finished nodes, at the top of `multi`.
fn nodes_bar(multi: &MultiProgress) -> ProgressBar {
    let overall = multi.insert(0, ProgressBar::new(0));
    overall.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise:.dim} [{bar:30.cyan/blue}] {pos}/{len} nodes {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    overall.enable_steady_tick(Duration::from_millis(200));
    overall
}

/// A job that ends without its last event (the host failed to record it)
/// still takes its bars off the screen.
impl Drop for JobProgress {
    fn drop(&mut self) {
        let state = match self.state.get_mut() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.close();
    }
}

impl Default for JobProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for JobProgress {
    fn report(&self, _job: &JobId, event: &JobEvent) {
        let at = self.started.elapsed().as_secs_f64();
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.apply(at, event);
    }
}

impl State {
    fn apply(&mut self, at: f64, event: &JobEvent) {
        match event {
            JobEvent::Planned { stages } => {
                // A later job through the same executor counts from zero.
                if self.closed {
                    self.closed = false;
                    self.done = 0;
                }
                if let Some(bars) = &mut self.bars
                    && bars.overall.as_ref().is_none_or(ProgressBar::is_finished)
                {
                    bars.overall = Some(nodes_bar(&bars.multi));
                }
                self.set_known(*stages);
            }
            // A fanned-out stage is `nodes` nodes instead of one; with none it
            // is simply done.
            JobEvent::FannedOut { nodes, .. } => {
                self.set_known(self.known + nodes.saturating_sub(1));
                if *nodes == 0 {
                    self.finished(None);
                }
            }
            JobEvent::StageStarted { stage, .. } => self.started(stage),
            JobEvent::StageFinished {
                stage, ms, device, ..
            } => {
                let secs = *ms as f64 / 1000.0;
                let line = match device {
                    Some(device) => format!("done    {stage} ({secs:.2} s, {device})"),
                    None => format!("done    {stage} ({secs:.2} s)"),
                };
                self.node_line(at, stage, line);
            }
            JobEvent::StageCached { stage } => {
                self.node_line(at, stage, format!("cached  {stage}"));
            }
            JobEvent::StageDegraded { stage, reason } => {
                // The reason as JSON, as these lines have always shown it.
                let reason = serde_json::Value::from(reason.as_str());
                self.node_line(at, stage, format!("degraded {stage}: {reason}"));
            }
            JobEvent::StageNote { stage, note } => {
                self.print(format!("[{at:7.2}s] note    {stage}: {note}"));
            }
            JobEvent::StageFailed { stage, error, .. } => {
                self.stopped(stage);
                self.print(format!("[{at:7.2}s] FAILED  {stage}: {error}"));
            }
            JobEvent::Fallback { .. } | JobEvent::Resumed { .. } => {
                let (kind, data) = (event.kind(), event.data());
                self.print(format!("[{at:7.2}s] {kind} {data}"));
            }
            JobEvent::Completed { .. } | JobEvent::Failed { .. } => self.close(),
            JobEvent::Created { .. } => {}
        }
    }

    fn overall(&self) -> Option<&ProgressBar> {
        self.bars.as_ref()?.overall.as_ref()
    }

    fn set_known(&mut self, known: u64) {
        self.known = known;
        if let Some(overall) = self.overall() {
            overall.set_length(known.max(self.done));
        }
    }

    fn started(&mut self, stage: &str) {
        // A node that reports after its job ended gets no spinner to leave behind.
        if self.closed {
            return;
        }
        let Some(bars) = &mut self.bars else { return };
        let spinner = bars.multi.add(ProgressBar::new_spinner());
        spinner.set_style(
            ProgressStyle::with_template("  {spinner} {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        spinner.set_message(stage.to_owned());
        spinner.enable_steady_tick(Duration::from_millis(120));
        if let Some(old) = bars.running.insert(stage.to_owned(), spinner) {
            old.finish_and_clear();
        }
    }

    fn stopped(&mut self, stage: &str) {
        if let Some(bars) = &mut self.bars
            && let Some(spinner) = bars.running.remove(stage)
        {
            spinner.finish_and_clear();
            bars.multi.remove(&spinner);
        }
    }

    fn finished(&mut self, stage: Option<&str>) -> (u64, u64) {
        if let Some(stage) = stage {
            self.stopped(stage);
        }
        self.done += 1;
        let known = self.known.max(self.done);
        if let Some(overall) = self.overall() {
            overall.set_length(known);
            overall.set_position(self.done);
        }
        (self.done, known)
    }

    /// A node is done: one numbered line.
    fn node_line(&mut self, at: f64, stage: &str, what: String) {
        let (done, known) = self.finished(Some(stage));
        self.print(format!("[{at:7.2}s] [{done:>3}/{known:<3}] {what}"));
    }

    fn print(&self, line: String) {
        match &self.bars {
            // Above the bars, so they keep their place at the bottom.
            Some(bars) => bars.multi.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn close(&mut self) {
        self.closed = true;
        if let Some(bars) = &mut self.bars {
            for (_, spinner) in bars.running.drain() {
                spinner.finish_and_clear();
            }
            if let Some(overall) = &bars.overall {
                overall.finish_and_clear();
            }
        }
    }
}

/// A bar over about `total` frames for a kernel tool.
pub fn frames(total: u64) -> ProgressBar {
    counted(total, "frames")
}

/// A bar over `total` things of `unit` for a tool.
pub fn counted(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise:.dim} [{bar:30.cyan/blue}] {pos}/{len} {prefix} ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    // The unit goes in the prefix so the plain lines can say it too.
    bar.set_prefix(unit.to_owned());
    bar
}

/// How often a tool off a terminal prints where it is.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// Runs a kernel tool with `bar`: drawn on a terminal; anywhere else (a
/// log, a pipe, CI) indicatif draws nothing, so a plain line says where the
/// tool is every [`LINE_EVERY`] (`KINO_PROGRESS_EVERY_MS` overrides) and
/// once at the end. The bar is taken off the screen however the tool ends,
/// so an error prints on a clean line.
pub fn with_bar<T>(bar: ProgressBar, tool: impl FnOnce(&ProgressBar) -> T) -> T {
    let lines = (!std::io::stderr().is_terminal()).then(|| {
        let every = std::env::var("KINO_PROGRESS_EVERY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(LINE_EVERY, Duration::from_millis);
        PlainLines::start(bar.clone(), every)
    });
    let result = tool(&bar);
    if let Some(lines) = lines {
        lines.finish();
    }
    bar.finish_and_clear();
    result
}

/// The plain-line view of a tool's bar: a thread that prints it now and then.
struct PlainLines {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl PlainLines {
    fn start(bar: ProgressBar, every: Duration) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every)
            {
                eprintln!("progress: {}", plain_line(&bar, started.elapsed()));
            }
            eprintln!("done: {}", plain_line(&bar, started.elapsed()));
        });
        Self { stop, thread }
    }

    fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// `120/300 frames (40%), 25.1/s, 4.8 s, writing the audio`; a spinner's
/// is its message and the time.
fn plain_line(bar: &ProgressBar, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let mut parts = Vec::new();
    if let Some(len) = bar.length().filter(|&len| len > 0) {
        let pos = bar.position();
        parts.push(format!(
            "{pos}/{len} {} ({:.0}%)",
            bar.prefix(),
            100.0 * pos as f64 / len as f64
        ));
        if secs > 0.0 {
            parts.push(format!("{:.1}/s", pos as f64 / secs));
        }
    }
    parts.push(format!("{secs:.1} s"));
    let message = bar.message();
    if !message.is_empty() {
        parts.push(message);
    }
    parts.join(", ")
}

/// A spinner with a message for a kernel tool's phases.
pub fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_line_says_how_far_how_fast_and_what() {
        let bar = counted(300, "frames");
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        bar.set_position(120);
        assert_eq!(
            plain_line(&bar, Duration::from_secs(4)),
            "120/300 frames (40%), 30.0/s, 4.0 s"
        );
        bar.set_message("writing the audio");
        assert!(plain_line(&bar, Duration::from_secs(4)).ends_with(", writing the audio"));
        let spinner = ProgressBar::hidden();
        spinner.set_message("measuring");
        assert_eq!(
            plain_line(&spinner, Duration::from_millis(2500)),
            "2.5 s, measuring"
        );
    }

    fn node(stage: &str) -> JobEvent {
        JobEvent::StageFinished {
            stage: stage.into(),
            ms: 10,
            plugin: None,
            device: None,
        }
    }

    #[test]
    fn the_known_total_grows_as_stages_fan_out() {
        let progress = JobProgress::with_bars(false);
        let mut state = progress.state.lock().expect("lock");
        state.apply(0.0, &JobEvent::Planned { stages: 3 });
        assert_eq!((state.done, state.known), (0, 3));
        state.apply(
            0.1,
            &JobEvent::FannedOut {
                stage: "shots".into(),
                nodes: 4,
            },
        );
        assert_eq!(state.known, 6);
        for i in 0..4 {
            state.apply(0.2, &node(&format!("shots[{i}]")));
        }
        state.apply(
            0.3,
            &JobEvent::StageCached {
                stage: "plan".into(),
            },
        );
        // A failed attempt is not a finished node.
        state.apply(
            0.4,
            &JobEvent::StageFailed {
                stage: "mix".into(),
                attempt: 1,
                error: "boom".into(),
                plugin: None,
                plugin_outcome: None,
            },
        );
        assert_eq!((state.done, state.known), (5, 6));
        // A stage fanned out over nothing is done at once.
        state.apply(
            0.5,
            &JobEvent::FannedOut {
                stage: "lines".into(),
                nodes: 0,
            },
        );
        assert_eq!((state.done, state.known), (6, 6));
    }

    #[test]
    fn bars_track_running_nodes_and_clear_at_the_end() {
        let progress = JobProgress::with_bars(true);
        let mut state = progress.state.lock().expect("lock");
        assert!(
            state.overall().is_none(),
            "no bar before the job is planned"
        );
        state.apply(0.0, &JobEvent::Planned { stages: 2 });
        for stage in ["a", "b"] {
            state.apply(
                0.0,
                &JobEvent::StageStarted {
                    stage: stage.into(),
                    attempt: 1,
                    plugin: None,
                },
            );
        }
        let overall = state.overall().expect("a bar once planned");
        assert_eq!(overall.length(), Some(2));
        let bars = state.bars.as_ref().expect("bars");
        assert_eq!(bars.running.len(), 2);
        state.apply(0.1, &node("a"));
        let bars = state.bars.as_ref().expect("bars");
        assert_eq!(bars.running.len(), 1);
        assert_eq!(state.overall().expect("bar").position(), 1);
        state.apply(
            0.2,
            &JobEvent::Failed {
                error: "b broke".into(),
            },
        );
        let bars = state.bars.as_ref().expect("bars");
        assert!(bars.running.is_empty());
        assert!(state.overall().expect("bar").is_finished());
        // The next job gets a fresh bar, counted from zero.
        state.apply(1.0, &JobEvent::Planned { stages: 4 });
        let overall = state.overall().expect("bar");
        assert!(!overall.is_finished());
        assert_eq!(overall.position(), 0);
        assert_eq!((state.done, state.known), (0, 4));
    }
}
