//! A soak of `kino serve`: a real server process under a mixed load from a
//! bounded local client for `KINO_SOAK_SECONDS` (default 600), reporting the
//! server's memory over time, latency percentiles per kind of request,
//! errors, and whether every submitted job completed. Run with
//! `cargo bench -p kino-tests --bench soak` (`make soak`).
//!
//! The load, on threads of plain HTTP/1.1 over `std::net` (one connection
//! per request, so nothing in a client library hides a server problem):
//! - 2 uploaders: `POST /inputs` of 256 KiB to 8 MiB of random bytes (8
//!   files each, sent in turn);
//! - 1 submitter: a short caption job (a 2 s clip and its SRT) every 3 s;
//! - 2 watchers: `GET /jobs/{id}/events` of the newest job, read to its end,
//!   then its `captioned.mp4` downloaded;
//! - 2 listers: `GET /jobs`, `/pipelines`, `/healthz`, `/metrics`;
//! - 1 bad client: malformed JSON, a wrong key, an unknown job, a declared
//!   3 GiB upload, an unknown pipeline.
//!
//! Any 5xx or transport error is an error; 4xx are expected of the bad client.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN: &str = "soak-admin-token";

/// One HTTP answer.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A request on a fresh connection; the whole answer is read.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // A server may answer (a 413) before it has read a body it refuses.
    let _ = stream.write_all(body);
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "content-length" {
                length = value.parse::<usize>().ok();
            } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok(Answer { status, body })
}

/// Latencies and errors per kind of request.
#[derive(Default)]
struct Tally {
    latencies: BTreeMap<&'static str, Vec<f64>>,
    errors: BTreeMap<&'static str, Vec<String>>,
}

type Shared = Arc<Mutex<Tally>>;

/// Records one request of `kind`: its time, and an error when the answer
/// is a 5xx, a transport failure, or not the `expect`ed class.
fn record(
    tally: &Shared,
    kind: &'static str,
    started: Instant,
    answer: &std::io::Result<Answer>,
    expect: fn(u16) -> bool,
) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut t = tally.lock().expect("tally");
    t.latencies.entry(kind).or_default().push(ms);
    let problem = match answer {
        Ok(a) if a.status >= 500 => Some(format!(
            "{}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        )),
        Ok(a) if !expect(a.status) => Some(format!(
            "unexpected {}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        )),
        Ok(_) => None,
        Err(e) => Some(format!("transport: {e}")),
    };
    if let Some(p) = problem {
        t.errors.entry(kind).or_default().push(p);
    }
}

fn ok(status: u16) -> bool {
    (200..300).contains(&status)
}

fn client_error(status: u16) -> bool {
    (400..500).contains(&status)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// A tiny deterministic generator for upload sizes and bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let config = dir.join("kino-serve.toml");
    std::fs::write(
        &config,
        format!("listen = \"{addr}\"\ndata-dir = \"data\"\nsignature-policy = \"optional\"\n"),
    )
    .expect("config");
    let child = Command::new(env!("CARGO_BIN_EXE_kino-cli"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("KINO_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kino serve");
    let server = Server { child, addr };
    let deadline = Instant::now() + Duration::from_secs(60);
    while request(addr, "GET", "/healthz", None, &[], b"").map_or(true, |a| a.status != 200) {
        assert!(Instant::now() < deadline, "kino serve did not come up");
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

fn main() {
    let seconds: u64 = std::env::var("KINO_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(dir.path());
    let (addr, pid) = (server.addr, server.child.id());

    // A tenant and its key.
    let tenant = request(
        addr,
        "POST",
        "/admin/tenants",
        Some(ADMIN),
        &[("Content-Type", "application/json".into())],
        br#"{"name":"soak"}"#,
    )
    .expect("tenant")
    .json();
    let id = tenant["id"].as_str().expect("tenant id").to_owned();
    let key = request(
        addr,
        "POST",
        &format!("/admin/tenants/{id}/keys"),
        Some(ADMIN),
        &[],
        b"",
    )
    .expect("key")
    .json()["key"]
        .as_str()
        .expect("key")
        .to_owned();

    // The caption job's inputs, uploaded once.
    let clip = dir.path().join("clip.mp4");
    kino_tests::test_video(&clip, 2, "160x120", true);
    let upload = |bytes: &[u8], name: &str| -> serde_json::Value {
        let a = request(addr, "POST", "/inputs", Some(&key), &[], bytes).expect("upload");
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
        serde_json::json!({ "sha256": a.json()["sha256"], "name": name })
    };
    let video = upload(&std::fs::read(&clip).expect("clip"), "clip.mp4");
    let srt = upload(
        b"1\n00:00:00,200 --> 00:00:01,800\nA soak of the host.\n",
        "clip.srt",
    );
    let job_body = serde_json::json!({
        "pipeline": "caption",
        "inputs": { "video": video, "transcript": srt },
    })
    .to_string();

    let tally: Shared = Arc::default();
    let jobs: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    // (seconds, server RSS KiB, SQLite's share in KiB as /metrics says)
    let memory: Arc<Mutex<Vec<(f64, u64, u64)>>> = Arc::default();
    let started = Instant::now();
    let mut threads = Vec::new();

    for seed in 1..=2u64 {
        let (tally, stop, key) = (tally.clone(), stop.clone(), key.clone());
        threads.push(std::thread::spawn(move || {
            // A pool of files sent over and over: each upload is streamed
            // and hashed in full, but the store keeps one copy of each (a
            // fresh file per upload filled 26 GB of disk in 6 minutes:
            // uploads no job uses are never reclaimed, see the README).
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed);
            let pool: Vec<Vec<u8>> = (0..8)
                .map(|_| {
                    let size = 256 * 1024 + (rng.next() % (8 * 1024 * 1024 - 256 * 1024)) as usize;
                    (0..size).map(|_| rng.next() as u8).collect()
                })
                .collect();
            while !stop.load(Ordering::Relaxed) {
                let bytes = &pool[(rng.next() % pool.len() as u64) as usize];
                let t = Instant::now();
                let a = request(addr, "POST", "/inputs", Some(&key), &[], bytes);
                record(&tally, "upload", t, &a, ok);
            }
        }));
    }
    {
        let (tally, stop, key, jobs) = (tally.clone(), stop.clone(), key.clone(), jobs.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let a = request(
                    addr,
                    "POST",
                    "/jobs",
                    Some(&key),
                    &[("Content-Type", "application/json".into())],
                    job_body.as_bytes(),
                );
                record(&tally, "submit", t, &a, ok);
                if let Ok(a) = a
                    && let Some(id) = a.json()["id"].as_str()
                {
                    jobs.lock().expect("jobs").push(id.to_owned());
                }
                std::thread::sleep(Duration::from_secs(3));
            }
        }));
    }
    for _ in 0..2 {
        let (tally, stop, key, jobs) = (tally.clone(), stop.clone(), key.clone(), jobs.clone());
        threads.push(std::thread::spawn(move || {
            let mut watched = None;
            while !stop.load(Ordering::Relaxed) {
                let newest = jobs.lock().expect("jobs").last().cloned();
                if newest.is_none() || newest == watched {
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
                let job = newest.clone().unwrap_or_default();
                watched = newest;
                let t = Instant::now();
                let a = request(
                    addr,
                    "GET",
                    &format!("/jobs/{job}/events"),
                    Some(&key),
                    &[],
                    b"",
                );
                record(&tally, "events (to the job's end)", t, &a, ok);
                // Then its captioned video, streamed from disk.
                let t = Instant::now();
                let a = request(
                    addr,
                    "GET",
                    &format!("/jobs/{job}/outputs/captioned.mp4"),
                    Some(&key),
                    &[],
                    b"",
                );
                record(&tally, "download output", t, &a, ok);
            }
        }));
    }
    for _ in 0..2 {
        let (tally, stop, key) = (tally.clone(), stop.clone(), key.clone());
        threads.push(std::thread::spawn(move || {
            let paths = ["/jobs?limit=50", "/pipelines", "/healthz", "/metrics"];
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let path = paths[i % paths.len()];
                i += 1;
                let t = Instant::now();
                let a = request(addr, "GET", path, Some(&key), &[], b"");
                record(&tally, "list", t, &a, ok);
                std::thread::sleep(Duration::from_millis(50));
            }
        }));
    }
    {
        let (tally, stop, key) = (tally.clone(), stop.clone(), key.clone());
        threads.push(std::thread::spawn(move || {
            let json = || vec![("Content-Type", "application/json".to_owned())];
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let a = match i % 5 {
                    0 => request(
                        addr,
                        "POST",
                        "/jobs",
                        Some(&key),
                        &json(),
                        b"{\"pipeline\": ",
                    ),
                    1 => request(addr, "GET", "/jobs", Some("not-a-key"), &[], b""),
                    2 => request(
                        addr,
                        "GET",
                        "/jobs/00000000000000000000000000000000",
                        Some(&key),
                        &[],
                        b"",
                    ),
                    3 => request(
                        addr,
                        "POST",
                        "/inputs",
                        Some(&key),
                        &[("Content-Length", (3u64 << 30).to_string())],
                        b"",
                    ),
                    _ => request(
                        addr,
                        "POST",
                        "/jobs",
                        Some(&key),
                        &json(),
                        br#"{"pipeline":"remix","inputs":{}}"#,
                    ),
                };
                record(&tally, "bad request", t, &a, client_error);
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
    }
    {
        let (stop, memory) = (stop.clone(), memory.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let sqlite = request(addr, "GET", "/metrics", None, &[], b"")
                    .ok()
                    .and_then(|a| {
                        String::from_utf8_lossy(&a.body)
                            .lines()
                            .find_map(|l| l.strip_prefix("kino_sqlite_memory_bytes "))
                            .and_then(|v| v.trim().parse::<u64>().ok())
                    })
                    .unwrap_or(0);
                memory.lock().expect("memory").push((
                    started.elapsed().as_secs_f64(),
                    rss_kib(pid),
                    sqlite / 1024,
                ));
                std::thread::sleep(Duration::from_secs(5));
            }
        }));
    }

    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }

    // Every submitted job must finish, and complete.
    let submitted = jobs.lock().expect("jobs").clone();
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    for job in &submitted {
        loop {
            let state = request(addr, "GET", &format!("/jobs/{job}"), Some(&key), &[], b"")
                .map(|a| a.json()["state"].as_str().unwrap_or("?").to_owned())
                .unwrap_or_else(|e| format!("transport: {e}"));
            if state == "completed" || state == "failed" || Instant::now() > deadline {
                *states.entry(state).or_default() += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    println!("soak of kino serve: {seconds} s of mixed load");
    let tally = tally.lock().expect("tally");
    println!(
        "{:<28} {:>7} {:>9} {:>9} {:>9} {:>7}",
        "requests", "count", "p50 ms", "p99 ms", "max ms", "errors"
    );
    for (kind, latencies) in &tally.latencies {
        let mut sorted = latencies.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "{kind:<28} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>7}",
            sorted.len(),
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.99),
            sorted.last().copied().unwrap_or(0.0),
            tally.errors.get(kind).map_or(0, Vec::len)
        );
    }
    for (kind, errors) in &tally.errors {
        for e in errors.iter().take(3) {
            println!(
                "  error ({kind}): {}",
                e.chars().take(200).collect::<String>()
            );
        }
    }
    println!("jobs: {} submitted, {states:?}", submitted.len());
    let memory = memory.lock().expect("memory");
    println!("server memory over time (MiB): RSS, SQLite's share, the rest");
    let step = (memory.len() / 20).max(1);
    for (t, kib, sqlite) in memory.iter().step_by(step) {
        println!(
            "  {t:>6.0} s  {:>7.1}  {:>7.1}  {:>7.1}",
            *kib as f64 / 1024.0,
            *sqlite as f64 / 1024.0,
            kib.saturating_sub(*sqlite) as f64 / 1024.0
        );
    }
    let mean_of = |from: f64, to: f64, of: fn(&(f64, u64, u64)) -> u64| {
        let v: Vec<f64> = memory
            .iter()
            .filter(|m| m.0 >= from && m.0 < to)
            .map(|m| of(m) as f64 / 1024.0)
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let mean = |from: f64, to: f64| mean_of(from, to, |m| m.1);
    let rest = |from: f64, to: f64| mean_of(from, to, |m| m.1.saturating_sub(m.2));
    // After a warm-up, the first quarter of the run against the last.
    let total = seconds as f64;
    let warm = (total / 10.0).min(60.0);
    let quarter = (total - warm) / 4.0;
    println!(
        "mean RSS: {:.1} MiB from {warm:.0} s to {:.0} s, {:.1} MiB in the last {quarter:.0} s; peak {:.1} MiB",
        mean(warm, warm + quarter),
        warm + quarter,
        mean(total - quarter, total),
        memory.iter().map(|m| m.1).max().unwrap_or(0) as f64 / 1024.0
    );
    println!(
        "mean RSS less SQLite: {:.1} MiB from {warm:.0} s to {:.0} s, {:.1} MiB in the last {quarter:.0} s",
        rest(warm, warm + quarter),
        warm + quarter,
        rest(total - quarter, total),
    );
}
