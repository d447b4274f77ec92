//! The ONNX kernels on the real models of the model repository
//! (`python3 models/install.py`), with espeak-ng and ffmpeg for test audio.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use kino_onnx::{Error, PiperVoice, Region, SileroVad, VadOptions, init_runtime};

const ORT: &str = "onnxruntime/1.31.1/libonnxruntime.so";
const PIPER: &str = "piper-en_US-joe-medium/1/voice.onnx";
const SILERO: &str = "silero-vad/6.2.3/silero_vad.onnx";
const PANGRAM: &str = "The quick brown fox jumps over the lazy dog.";

/// The model repository: `KINO_MODELS`, else the workspace's `.kino/models`.
fn models() -> PathBuf {
    kino_tool_probe::models_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// A file of the model repository; fails (never skips) when it is absent.
fn model(rel: &str) -> PathBuf {
    let path = models().join(rel);
    assert!(
        path.is_file(),
        "{} is missing: run `make models` (or set KINO_MODELS)",
        path.display()
    );
    path
}

fn runtime() {
    init_runtime(&model(ORT)).expect("loading onnx runtime");
}

fn voice() -> &'static PiperVoice {
    static VOICE: OnceLock<PiperVoice> = OnceLock::new();
    VOICE.get_or_init(|| {
        runtime();
        let onnx = model(PIPER);
        PiperVoice::load(&onnx, &onnx.with_extension("onnx.json")).expect("loading piper voice")
    })
}

fn vad() -> &'static SileroVad {
    static VAD: OnceLock<SileroVad> = OnceLock::new();
    VAD.get_or_init(|| {
        runtime();
        SileroVad::load(&model(SILERO)).expect("loading silero vad")
    })
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (install it: `make setup`)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_wav(path: &Path) -> (u32, Vec<f32>) {
    let mut reader = hound::WavReader::open(path).expect("reading wav");
    let spec = reader.spec();
    assert_eq!(spec.channels, 1, "{}", path.display());
    let samples = match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.expect("sample") as f32 / scale)
                .collect()
        }
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.expect("sample"))
            .collect(),
    };
    (spec.sample_rate, samples)
}

fn write_wav(path: &Path, rate: u32, pcm: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("creating wav");
    for &s in pcm {
        w.write_sample(s).expect("writing wav");
    }
    w.finalize().expect("finishing wav");
}

/// Resamples a mono wav file to 16 kHz with ffmpeg.
fn to_16k(dir: &Path, input: &Path) -> Vec<f32> {
    let out = dir.join(format!(
        "{}-16k.wav",
        input.file_stem().and_then(|s| s.to_str()).unwrap_or("x")
    ));
    run(Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(input)
        .args(["-ar", "16000", "-ac", "1", "-c:a", "pcm_f32le"])
        .arg(&out));
    let (rate, pcm) = read_wav(&out);
    assert_eq!(rate, 16_000);
    pcm
}

/// First and last sample of the span whose 10 ms windows are above 1% of
/// the peak: where the speech in a clean recording starts and ends.
fn active_span(pcm: &[f32], rate: usize) -> (usize, usize) {
    let win = rate / 100;
    let peak = pcm.iter().fold(0f32, |m, s| m.max(s.abs()));
    let loud: Vec<usize> = pcm
        .chunks(win)
        .enumerate()
        .filter(|(_, w)| rms(w) > 0.01 * peak)
        .map(|(i, _)| i)
        .collect();
    let first = *loud.first().expect("some speech");
    let last = *loud.last().expect("some speech");
    (first * win, ((last + 1) * win).min(pcm.len()))
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn piper_speaks_a_pangram() {
    let voice = voice();
    assert_eq!(voice.sample_rate(), 22_050);
    assert_eq!(voice.espeak_voice(), "en-us");
    let pcm = voice.synthesize(PANGRAM, 1.0).expect("synthesis");
    let secs = pcm.len() as f32 / voice.sample_rate() as f32;
    assert!((1.5..=5.0).contains(&secs), "{secs} s");
    assert!(pcm.iter().all(|s| s.is_finite()));
    let level = rms(&pcm);
    assert!(level > 0.02, "rms {level}");

    let fast = voice.synthesize(PANGRAM, 2.0).expect("synthesis");
    let ratio = fast.len() as f32 / pcm.len() as f32;
    // Not 0.5: each phoneme lasts a whole number of frames, rounded up, and
    // the pads between phonemes are one or two frames long at any rate.
    assert!(
        (0.45..=0.75).contains(&ratio),
        "rate 2 gives {ratio} of the length"
    );

    // VITS draws noise inside the graph: the length and level stay close
    // from run to run, the samples do not (see the README).
    let again = voice.synthesize(PANGRAM, 1.0).expect("synthesis");
    let drift = again.len().abs_diff(pcm.len()) as f32 / pcm.len() as f32;
    assert!(drift < 0.15, "length drifts by {drift}");
}

#[test]
fn piper_is_deterministic_without_noise() {
    runtime();
    let onnx = model(PIPER);
    let voice = PiperVoice::load(&onnx, &onnx.with_extension("onnx.json"))
        .expect("loading piper voice")
        .with_noise(0.0, 0.0)
        .expect("noise");
    let a = voice
        .synthesize("Same words, same samples.", 1.0)
        .expect("synthesis");
    let b = voice
        .synthesize("Same words, same samples.", 1.0)
        .expect("synthesis");
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

/// The ids piper-phonemize 1.1.0 (`phonemize_espeak` + the voice's map)
/// gives for the same text.
#[test]
fn piper_phoneme_ids_match_piper_phonemize() {
    let voice = voice();
    let pangram: Vec<i64> = vec![
        1, 0, 41, 0, 59, 0, 3, 0, 23, 0, 35, 0, 120, 0, 74, 0, 23, 0, 3, 0, 15, 0, 88, 0, 120, 0,
        14, 0, 100, 0, 26, 0, 3, 0, 19, 0, 120, 0, 51, 0, 122, 0, 23, 0, 31, 0, 3, 0, 17, 0, 108,
        0, 120, 0, 102, 0, 25, 0, 28, 0, 31, 0, 3, 0, 121, 0, 27, 0, 100, 0, 34, 0, 60, 0, 3, 0,
        41, 0, 59, 0, 3, 0, 24, 0, 120, 0, 18, 0, 74, 0, 38, 0, 21, 0, 3, 0, 17, 0, 120, 0, 51, 0,
        122, 0, 66, 0, 10, 0, 2,
    ];
    assert_eq!(voice.phoneme_ids(PANGRAM).expect("ids"), vec![pangram]);
    let clauses: Vec<Vec<i64>> = vec![
        vec![
            1, 0, 20, 0, 59, 0, 24, 0, 120, 0, 27, 0, 100, 0, 8, 0, 3, 0, 35, 0, 120, 0, 62, 0,
            122, 0, 24, 0, 17, 0, 12, 0, 3, 0, 20, 0, 120, 0, 14, 0, 100, 0, 3, 0, 51, 0, 122, 0,
            88, 0, 3, 0, 22, 0, 33, 0, 122, 0, 13, 0, 2,
        ],
        vec![1, 0, 19, 0, 120, 0, 14, 0, 74, 0, 26, 0, 4, 0, 2],
    ];
    assert_eq!(
        voice
            .phoneme_ids("Hello, world; how are you? Fine!")
            .expect("ids"),
        clauses
    );
}

#[test]
fn piper_handles_empty_and_bad_arguments() {
    let voice = voice();
    assert!(voice.synthesize("", 1.0).expect("empty").is_empty());
    assert!(voice.synthesize(" ... ", 1.0).expect("no words").is_empty());
    for rate in [0.0, -1.0, f32::NAN, 10.0] {
        let err = voice.synthesize("Hi.", rate).expect_err("bad rate");
        assert!(
            matches!(err, Error::InvalidArgument { name: "rate", .. }),
            "{err}"
        );
    }
}

#[test]
fn silero_finds_espeak_speech_between_silences() {
    let dir = tempdir();
    let wav = dir.path().join("espeak.wav");
    run(Command::new("espeak-ng")
        .args(["-v", "en-us", "-w"])
        .arg(&wav)
        .arg("The quick brown fox jumps over the lazy dog"));
    let speech = to_16k(dir.path(), &wav);
    let (s0, e0) = active_span(&speech, 16_000);
    let second = 16_000;
    let mut pcm = vec![0f32; second];
    pcm.extend(&speech);
    pcm.extend(vec![0f32; second]);

    let regions = vad()
        .speech_regions(&pcm, &VadOptions::default())
        .expect("vad");
    let (start, end) = (second + s0, second + e0);
    assert_eq!(regions.len(), 1, "{regions:?} (speech {start}..{end})");
    let r = regions[0];
    let ms = |d: usize| d as f32 / 16.0;
    eprintln!(
        "speech {start}..{end}, region {}..{}: start {:+} ms, end {:+} ms",
        r.start,
        r.end,
        (r.start as f32 - start as f32) / 16.0,
        (r.end as f32 - end as f32) / 16.0
    );
    assert!(
        r.start.abs_diff(start) <= 150 * 16,
        "starts {} ms from the speech",
        ms(r.start.abs_diff(start))
    );
    assert!(
        r.end.abs_diff(end) <= 250 * 16,
        "ends {} ms from the speech",
        ms(r.end.abs_diff(end))
    );
}

#[test]
fn silero_finds_nothing_in_silence_or_faint_noise() {
    let vad = vad();
    let silence = vec![0f32; 3 * 16_000];
    let probs = vad.probabilities(&silence).expect("vad");
    assert_eq!(probs.len(), silence.len().div_ceil(512));
    assert!(
        vad.speech_regions(&silence, &VadOptions::default())
            .expect("vad")
            .is_empty()
    );

    // White noise at -46 dBFS RMS, from a fixed LCG.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<f32> = (0..3 * 16_000)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.017
        })
        .collect();
    let regions = vad
        .speech_regions(&noise, &VadOptions::default())
        .expect("vad");
    assert!(regions.is_empty(), "{regions:?}");
}

#[test]
fn silero_is_shareable_between_threads() {
    let vad = vad();
    let dir = tempdir();
    let wav = dir.path().join("hello.wav");
    run(Command::new("espeak-ng")
        .args(["-v", "en-us", "-w"])
        .arg(&wav)
        .arg("Hello from two threads at once"));
    let pcm = to_16k(dir.path(), &wav);
    let serial = vad.probabilities(&pcm).expect("vad");
    let parallel: Vec<Vec<f32>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| s.spawn(|| vad.probabilities(&pcm).expect("vad")))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for p in parallel {
        assert_eq!(p, serial);
    }
}

#[test]
fn piper_speech_is_speech_to_silero() {
    let voice = voice();
    let pcm = voice
        .synthesize("Kino speaks with a neural voice today.", 1.0)
        .expect("synthesis");
    let dir = tempdir();
    let wav = dir.path().join("piper.wav");
    write_wav(&wav, voice.sample_rate(), &pcm);
    let pcm16 = to_16k(dir.path(), &wav);
    let (s0, e0) = active_span(&pcm16, 16_000);
    let regions = vad()
        .speech_regions(&pcm16, &VadOptions::default())
        .expect("vad");
    assert!(!regions.is_empty(), "no speech found");
    let covered: usize = regions
        .iter()
        .map(|r: &Region| r.end.min(e0).saturating_sub(r.start.max(s0)))
        .sum();
    let frac = covered as f32 / (e0 - s0) as f32;
    assert!(
        frac > 0.8,
        "only {frac} of the speech detected: {regions:?}"
    );
}

#[test]
fn missing_and_garbage_models_are_errors() {
    runtime();
    let dir = tempdir();
    let missing = dir.path().join("absent.onnx");
    let err = SileroVad::load(&missing).expect_err("missing model");
    assert!(matches!(err, Error::ModelMissing { .. }), "{err}");
    assert!(err.to_string().contains("absent.onnx"), "{err}");
    let config = model(PIPER).with_extension("onnx.json");
    let err = PiperVoice::load(&missing, &config).expect_err("missing model");
    assert!(err.to_string().contains("absent.onnx"), "{err}");

    let garbage = dir.path().join("garbage.onnx");
    let mut x = 7u32;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(&garbage, bytes).expect("write");
    let err = SileroVad::load(&garbage).expect_err("garbage model");
    assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
    assert!(err.to_string().contains("garbage.onnx"), "{err}");
    let err = PiperVoice::load(&garbage, &config).expect_err("garbage model");
    assert!(matches!(err, Error::ModelLoad { .. }), "{err}");

    let bad_json = dir.path().join("voice.onnx.json");
    std::fs::write(&bad_json, "{\"audio\": 1}").expect("write");
    let err = PiperVoice::load(&model(PIPER), &bad_json).expect_err("bad config");
    assert!(matches!(err, Error::Config { .. }), "{err}");

    // The Piper model is not a VAD.
    let err = SileroVad::load(&model(PIPER)).expect_err("wrong model");
    assert!(matches!(err, Error::ModelSignature { .. }), "{err}");
}

#[test]
fn a_second_runtime_is_refused() {
    runtime();
    let dir = tempdir();
    let other = dir.path().join("libonnxruntime.so");
    std::fs::write(&other, b"not a library").expect("write");
    let err = init_runtime(&other).expect_err("second runtime");
    assert!(matches!(err, Error::RuntimeMismatch { .. }), "{err}");
    assert!(err.to_string().contains("already initialised"), "{err}");
    let err = init_runtime(&dir.path().join("absent.so")).expect_err("missing library");
    assert!(err.to_string().contains("absent.so"), "{err}");
    // The same library again is fine.
    runtime();
}

#[test]
fn kernels_are_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<PiperVoice>();
    shareable::<SileroVad>();
}
