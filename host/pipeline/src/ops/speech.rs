//! Model ops: what the host hears and says. Speech audio out of the video,
//! voice activity into ≤30 s windows, Whisper per window (each window a
//! cached node, run in parallel), the windows' segments joined into the
//! transcript the other ops read, the spoken language, and the background
//! of a stereo source with the voice taken out.
//!
//! Every op that uses a model names it in its cache key
//! ([`model_identity`]): a different model or version never reuses an
//! output of another.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use anyhow::{Context as _, Result, bail};
use kino_kernels::separate;
use kino_kernels::wav::{self, Pcm};
use kino_models::{Installed, Kind, Models};
use kino_onnx::{PiperVoice, SileroVad, VadOptions};
use kino_whisper::windows::{self, Window};
use kino_whisper::{Options, Transcriber};
use serde::{Deserialize, Serialize};

use super::placed::{self, Placed};
use super::transcript::read_transcript;
use super::{Input, Op, OpCx, write_json};
use kino_media as media;
use kino_runtime::types::Segment;
use kino_torch::device::ModelDevice;

/// The rate models hear at.
const SPEECH_RATE: u32 = 16_000;
/// Windows are at most what Whisper takes.
const WINDOW: usize = 30 * SPEECH_RATE as usize;
/// The voice-activity detector.
const VAD_MODEL: &str = "silero-vad";
/// The ONNX Runtime library in the repository.
const ONNX_RUNTIME: &str = "onnxruntime";

/// The Whisper model for a spoken language: English-only tiny for English,
/// multilingual base for anything else or for detection (`auto`); a stage's
/// `model` param overrides.
pub fn asr_model(language: &str, param: Option<&str>) -> String {
    match param {
        Some(m) => m.to_owned(),
        None if language == "en" => "whisper-tiny.en".to_owned(),
        None => "whisper-base".to_owned(),
    }
}

/// What identifies the models a node of `op` will use, for its cache key:
/// `name@version#manifest-sha256`, or `absent` (an op that falls back, like
/// speech without a neural voice, produces a different output then).
pub(crate) fn model_identity(
    op: Op,
    params: &serde_json::Map<String, serde_json::Value>,
    inputs: &[Input],
    models: &Models,
) -> Option<serde_json::Value> {
    let text = |i: usize| match inputs.get(i) {
        Some(Input::Text(t)) => Some(t.as_str()),
        _ => None,
    };
    let names: Vec<String> = match op {
        Op::FindSpeech => vec![VAD_MODEL.to_owned()],
        Op::Transcribe => {
            let param = params.get("model").and_then(|m| m.as_str());
            vec![asr_model(text(1).unwrap_or("en"), param)]
        }
        Op::SpeakLine => match voice_name(models, text(0).unwrap_or("")) {
            Some(name) => vec![name],
            None => vec!["espeak-ng".to_owned()],
        },
        Op::Lipsync | Op::LipsyncScene => {
            vec![super::lipsync::host_model(models).unwrap_or_else(|| "lipsync".to_owned())]
        }
        // Without a diffusion model the render is the camera's move, as it
        // was before there were any: its key stays as it was.
        Op::RenderScene => vec![super::keyframes::host_model(models)?],
        _ => return None,
    };
    let ids = names
        .into_iter()
        .map(|name| match models.repository().get(&name) {
            Ok(m) => format!("{}#{}", m.id(), m.digest).into(),
            Err(_) => format!("{name}#absent").into(),
        })
        .collect();
    Some(serde_json::Value::Array(ids))
}

/// One window's transcript, in the job's time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heard {
    /// The language heard.
    pub language: String,
    /// The model that heard it (`name@version`).
    pub model: String,
    /// Its segments.
    pub segments: Vec<HeardSegment>,
}

/// A segment heard, with its words, in ms from the start of the media.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeardSegment {
    /// Start, ms.
    pub start_ms: u32,
    /// End, ms.
    pub end_ms: u32,
    /// Its text.
    pub text: String,
    /// Its words.
    pub words: Vec<HeardWord>,
}

/// A word heard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeardWord {
    /// Start, ms.
    pub start_ms: u32,
    /// End, ms.
    pub end_ms: u32,
    /// The word.
    pub text: String,
}

/// The video's sound as 16 kHz mono, or nothing when the job gave a
/// transcript (nothing is heard then).
pub(super) fn speech_audio(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let path = dir.join("speech.wav");
    let pcm = if cx.optional_file(1)?.is_some() {
        Pcm {
            sample_rate: SPEECH_RATE,
            channels: 1,
            samples: Vec::new(),
        }
    } else {
        let video = cx.file(0)?;
        let info = media::probe(video).context("reading the video")?;
        if info.audio().is_none() {
            bail!("the video has no audio track to transcribe");
        }
        media::decode_audio(video, SPEECH_RATE, 1)?
    };
    wav::write_wav(&path, &pcm)?;
    Ok(path)
}

/// Speech regions (Silero VAD) grouped into windows of at most 30 s, cut
/// at silences: a JSON list of `{start, end}` in samples.
pub(super) fn find_speech(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let pcm = wav::read_wav(cx.file(0)?)?;
    let windows = if pcm.samples.is_empty() {
        Vec::new()
    } else {
        let vad = vad(&cx.models)?;
        let regions = vad.speech_regions(&pcm.samples, &VadOptions::default())?;
        let regions: Vec<(usize, usize)> = regions.iter().map(|r| (r.start, r.end)).collect();
        let windows = windows::plan(&regions, pcm.samples.len(), WINDOW);
        cx.note(format!(
            "{} speech regions in {:.1} s of audio, heard in {} windows",
            regions.len(),
            pcm.samples.len() as f32 / SPEECH_RATE as f32,
            windows.len()
        ));
        windows
    };
    write_json(dir, "windows.json", &windows)
}

/// One window heard by Whisper: its segments and words, in the media's time.
pub(super) fn transcribe(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let (index, window): (usize, Window) = cx.item()?;
    let language = cx.text(1)?;
    let model = asr_model(language, cx.params.get("model").and_then(|m| m.as_str()));
    // Only this window's samples: a long recording isn't read per window.
    let pcm = wav::read_wav_range(
        cx.file(0)?,
        window.start,
        window.end.saturating_sub(window.start),
    )?;
    let samples = &pcm.samples;
    let (whisper, installed) = load_whisper(&cx.models, &cx.devices, &model, &|n| cx.note(n))?;
    let options = Options {
        language: (language != "auto").then(|| language.to_owned()),
        word_times: true,
    };
    let mut heard = whisper
        .transcribe(samples, &options)
        .with_context(|| format!("hearing window {index}"))?;
    heard.snap_to_speech(&speech_in(&window));
    let at = |seconds: f32| {
        let ms = window.start as f64 * 1000.0 / SPEECH_RATE as f64 + seconds as f64 * 1000.0;
        ms.round() as u32
    };
    let out = Heard {
        language: heard.language,
        model: installed.id(),
        segments: heard
            .segments
            .iter()
            .map(|s| HeardSegment {
                start_ms: at(s.start),
                end_ms: at(s.end),
                text: s.text.clone(),
                words: s
                    .words
                    .iter()
                    .map(|w| HeardWord {
                        start_ms: at(w.start),
                        end_ms: at(w.end),
                        text: w.text.clone(),
                    })
                    .collect(),
            })
            .collect(),
    };
    write_json(dir, "heard.json", &out)
}

/// One window heard by the tenant's transcriber plugin: the window's audio
/// (16 kHz mono WAV) lent to it as a stream, its answer (at once or as a
/// remote job, whose ticket the store keeps) put in the media's time.
pub(super) async fn transcribe_remote(cx: &OpCx, dir: &Path) -> Result<PathBuf, super::OpError> {
    let plugin = cx
        .plugin
        .as_ref()
        .context("transcribe_remote runs with a transcriber plugin")?;
    let (index, window): (usize, Window) = cx.item()?;
    let language = cx.text(1)?.to_owned();
    let pcm = wav::read_wav_range(
        cx.file(0)?,
        window.start,
        window.end.saturating_sub(window.start),
    )
    .context("reading the window's audio")?;
    let audio_path = dir.join(format!("window-{index}.wav"));
    wav::write_wav_pcm16(&audio_path, &pcm).context("writing the window's audio")?;
    let audio = kino_runtime::MediaFile::new(&audio_path, "audio/wav")
        .context("lending the window's audio")?;
    let request = kino_runtime::backend_types::TranscribeRequest {
        language: (language != "auto").then(|| language.clone()),
        diarize: false,
    };
    let transcriber = cx
        .runtime
        .transcriber(&plugin.plugin, &plugin.call)
        .map_err(anyhow::Error::from)?;
    let transcript = cx
        .remote(
            async || transcriber.submit(&audio, &request, &cx.key).await,
            |ticket| {
                let transcriber = &transcriber;
                async move { transcriber.check(&ticket).await }
            },
        )
        .await?;
    let heard = heard_from_plugin(&plugin.id, &window, transcript)
        .map_err(|e| super::OpError::bad_answer(format!("{}: {e}", plugin.id)))?;
    Ok(write_json(dir, "heard.json", &heard)?)
}

/// A transcriber plugin's answer for `window`, checked and moved into the
/// media's time: every time inside the window, segments in order, words
/// inside their segment.
fn heard_from_plugin(
    plugin: &str,
    window: &Window,
    transcript: kino_runtime::backend_types::Transcript,
) -> Result<Heard> {
    let length_ms =
        (window.end.saturating_sub(window.start) as u64 * 1000 / u64::from(SPEECH_RATE)) as u32;
    let offset_ms = (window.start as u64 * 1000 / u64::from(SPEECH_RATE)) as u32;
    // A backend's rounding may overshoot the window's end a little.
    let slack = 250;
    let mut last_start = 0;
    for (i, s) in transcript.segments.iter().enumerate() {
        if s.start_ms > s.end_ms || s.end_ms > length_ms + slack || s.start_ms < last_start {
            bail!(
                "segment {i} spans {}..{} ms, outside the {length_ms} ms window or out of order",
                s.start_ms,
                s.end_ms
            );
        }
        last_start = s.start_ms;
        for w in &s.words {
            if w.start_ms > w.end_ms
                || w.start_ms + slack < s.start_ms
                || w.end_ms > s.end_ms + slack
            {
                bail!(
                    "word {:?} spans {}..{} ms, outside its segment ({}..{} ms)",
                    w.text,
                    w.start_ms,
                    w.end_ms,
                    s.start_ms,
                    s.end_ms
                );
            }
        }
    }
    let at = |ms: u32| offset_ms + ms.min(length_ms);
    Ok(Heard {
        language: transcript.language,
        model: plugin.to_owned(),
        segments: transcript
            .segments
            .into_iter()
            .filter(|s| !s.text.trim().is_empty())
            .map(|s| HeardSegment {
                start_ms: at(s.start_ms),
                end_ms: at(s.end_ms),
                text: s.text.trim().to_owned(),
                words: s
                    .words
                    .into_iter()
                    .map(|w| HeardWord {
                        start_ms: at(w.start_ms),
                        end_ms: at(w.end_ms),
                        text: w.text,
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// A window's speech regions in seconds from its start.
fn speech_in(window: &Window) -> Vec<(f32, f32)> {
    let secs = |x: usize| x.saturating_sub(window.start) as f32 / SPEECH_RATE as f32;
    window
        .speech
        .iter()
        .map(|&(s, e)| (secs(s), secs(e)))
        .collect()
}

/// The transcript's segments: the job's transcript when it gave one, else
/// what was heard, in order and numbered from 1.
pub(super) fn transcript_segments(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let segments = match cx.optional_file(0)? {
        Some(transcript) => read_transcript(transcript)?,
        None => heard(cx, 1)?
            .into_iter()
            .flat_map(|h| h.segments)
            .enumerate()
            .map(|(i, s)| Segment {
                id: (i + 1).to_string(),
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                speaker: String::new(),
                text: s.text,
            })
            .collect(),
    };
    write_json(dir, "segments.json", &segments)
}

/// The source language: the one the job names, else the one most windows
/// were heard in (English when nothing was heard, e.g. with a transcript).
pub(super) fn spoken_language(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let named = cx.text(0)?;
    let language = if named != "auto" {
        named.to_owned()
    } else {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for h in heard(cx, 1)? {
            if h.segments.is_empty() {
                continue;
            }
            match counts.iter_mut().find(|(l, _)| *l == h.language) {
                Some((_, n)) => *n += 1,
                None => counts.push((h.language, 1)),
            }
        }
        let detected = counts.into_iter().max_by_key(|(_, n)| *n).map(|(l, _)| l);
        match detected {
            Some(l) => {
                cx.note(format!("source language detected: {l}"));
                l
            }
            None => {
                cx.note("no speech heard to detect the language from: assuming English".into());
                "en".to_owned()
            }
        }
    };
    write_json(dir, "language.json", &language)
}

fn heard(cx: &OpCx, input: usize) -> Result<Vec<Heard>> {
    cx.files(input)?
        .into_iter()
        .map(super::read_json::<Heard>)
        .collect()
}

/// The source's sound without its voice, for the dub to mix under the new
/// one: a stereo source has its centre (the dialogue) taken out of the
/// speech band; a mono one can't be separated and is returned as it is (the
/// mix ducks it instead).
pub(super) fn separate_background(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let original = wav::read_wav(cx.file(0)?)?;
    let path = dir.join("background.wav");
    if original.channels != 2 {
        cx.note("mono source: the original voice can't be separated, it is ducked".into());
        wav::write_wav(&path, &original)?;
        return Ok(path);
    }
    let (left, right): (Vec<f32>, Vec<f32>) = original
        .samples
        .chunks_exact(2)
        .map(|f| (f[0], f[1]))
        .unzip();
    if separate::is_effectively_mono(&left, &right) {
        cx.note("the source's channels are the same: the original voice can't be separated, it is ducked".into());
        wav::write_wav(&path, &original)?;
        return Ok(path);
    }
    let (l, r) = separate::background_stereo(&left, &right, original.sample_rate);
    cx.note("stereo source: the original voice separated out (centre extraction)".into());
    let samples = l.iter().zip(&r).flat_map(|(a, b)| [*a, *b]).collect();
    wav::write_wav(
        &path,
        &Pcm {
            sample_rate: original.sample_rate,
            channels: 2,
            samples,
        },
    )?;
    Ok(path)
}

/// The neural voice installed for `language`, by name (the first in the
/// repository's order), if any.
pub fn voice_name(models: &Models, language: &str) -> Option<String> {
    let primary = language.split(['-', '_']).next().unwrap_or(language);
    models
        .repository()
        .list()
        .ok()?
        .into_iter()
        .find(|m| {
            m.manifest.kind == Kind::TtsVoice && m.manifest.languages.iter().any(|l| l == primary)
        })
        .map(|m| m.manifest.name)
}

/// The neural voice for `language`, loaded (without its sampling noise),
/// if one is installed.
pub fn voice(models: &Models, language: &str) -> Result<Option<(Arc<PiperVoice>, Installed)>> {
    let Some(name) = voice_name(models, language) else {
        return Ok(None);
    };
    runtime(models)?;
    // Without the model's sampling noise: the same line always sounds the
    // same, so a re-run after a crash gives the same dub.
    let loaded = models.load(&name, |m| {
        Ok(
            PiperVoice::load(&m.file("voice.onnx")?, &m.file("voice.onnx.json")?)?
                .with_noise(0.0, 0.0)?,
        )
    })?;
    Ok(Some(loaded))
}

fn vad(models: &Models) -> Result<Arc<SileroVad>> {
    runtime(models)?;
    let (vad, _) = models.load(VAD_MODEL, |m| {
        Ok(SileroVad::load(&m.file("silero_vad.onnx")?)?)
    })?;
    Ok(vad)
}

/// Loads ONNX Runtime from the repository, once per process.
pub(super) fn runtime(models: &Models) -> Result<()> {
    /// The sha256 of the library loaded, as the manifest that loaded it says.
    static LOADED_RUNTIME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    struct Loaded;
    models.load(ONNX_RUNTIME, |m| {
        let library = m.file("libonnxruntime.so")?;
        // The library is process-wide: another repository (a test's, an
        // operator's second) may use it if it is the same file.
        let digest = m.manifest.files.get("libonnxruntime.so");
        if let Some(loaded) = kino_onnx::runtime_library()
            && loaded != library
        {
            // By the digest it was loaded with: that file may be gone since
            // (a test's repository, removed when the test ended).
            let same = match LOADED_RUNTIME.get() {
                Some(loaded) => Some(loaded) == digest,
                None => {
                    kino_models::repository::sha256_file(loaded).is_ok_and(|h| Some(&h) == digest)
                }
            };
            if !same {
                bail!(
                    "ONNX Runtime is already loaded from {}, a different library than {}",
                    loaded.display(),
                    library.display()
                );
            }
            return Ok(Loaded);
        }
        kino_onnx::init_runtime(&library)?;
        if let Some(digest) = digest {
            let _ = LOADED_RUNTIME.set(digest.clone());
        }
        Ok(Loaded)
    })?;
    Ok(())
}

/// What a Whisper model is taken to hold on a GPU: its weights as f32
/// (twice the f16 file), as much again for a window's activations and
/// libtorch's caching allocator (an estimate: libtorch does not say ahead).
fn whisper_vram(installed: &Installed) -> u64 {
    installed.size().saturating_mul(4)
}

/// Loads Whisper model `name` (once; the model cache shares it) where the
/// device pool would run it: on a GPU with room through libtorch, holding
/// that room while the model stays loaded, where this host was built with
/// TorchScript support and its libtorch has CUDA; else on the CPU through
/// candle (the faster of the two there). `note` hears why a pool with a
/// GPU left the model on the CPU.
fn load_whisper(
    models: &Models,
    devices: &Arc<kino_cuda::Pool>,
    name: &str,
    note: &dyn Fn(String),
) -> Result<(Arc<Placed<Transcriber>>, Installed)> {
    models.load(name, |installed| {
        let what = format!("Whisper `{}`", installed.id());
        let bytes = whisper_vram(installed);
        placed::load(
            devices,
            &what,
            bytes,
            placed::LIBTORCH,
            note,
            |gpu| match gpu {
                Some(n) => kino_torch::whisper::load_on(installed, ModelDevice::Cuda(n)),
                None => Transcriber::load(installed),
            },
        )
    })
}

/// Transcribes a media file's speech outside any job (`kino transcribe`):
/// voice activity, windows, each window heard on its own thread (as many as
/// the machine has cores), Whisper on a GPU of `devices` where it can be
/// (`note` hears why not, where there is one); `on_window` is told as each
/// finishes. Returns the detected (or given) language and the segments,
/// numbered from 1.
pub fn transcribe_media(
    models: &Models,
    devices: &Arc<kino_cuda::Pool>,
    media_path: &Path,
    language: &str,
    model: Option<&str>,
    note: &dyn Fn(String),
    on_window: &(dyn Fn(usize, usize) + Sync),
) -> Result<(String, Vec<Segment>)> {
    let info = media::probe(media_path)?;
    if info.audio().is_none() {
        bail!("{} has no audio track to transcribe", media_path.display());
    }
    let pcm = media::decode_audio(media_path, SPEECH_RATE, 1)?;
    let regions = vad(models)?.speech_regions(&pcm.samples, &VadOptions::default())?;
    let regions: Vec<(usize, usize)> = regions.iter().map(|r| (r.start, r.end)).collect();
    let windows = windows::plan(&regions, pcm.samples.len(), WINDOW);
    let name = asr_model(language, model);
    let (whisper, _) = load_whisper(models, devices, &name, note)?;
    whisper.check_language((language != "auto").then_some(language))?;
    let options = Options {
        language: (language != "auto").then(|| language.to_owned()),
        word_times: true,
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut heard: Vec<Option<Result<kino_whisper::Transcript>>> = Vec::new();
    heard.resize_with(windows.len(), || None);
    let results = std::sync::Mutex::new(heard);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(windows.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(w) = windows.get(i) else { break };
                    let out = whisper
                        .transcribe(&pcm.samples[w.start..w.end], &options)
                        .map(|mut t| {
                            t.snap_to_speech(&speech_in(w));
                            t
                        });
                    results.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(out);
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    on_window(n, windows.len());
                }
            });
        }
    });
    let mut language_heard = None;
    let mut segments = Vec::new();
    let results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    for (w, out) in windows.iter().zip(results) {
        let Some(out) = out else { continue };
        let out = out?;
        let offset = w.start as f64 * 1000.0 / SPEECH_RATE as f64;
        let ms = |s: f32| (offset + s as f64 * 1000.0).round() as u32;
        if !out.segments.is_empty() {
            language_heard.get_or_insert(out.language.clone());
        }
        for s in out.segments {
            segments.push(Segment {
                id: (segments.len() + 1).to_string(),
                start_ms: ms(s.start),
                end_ms: ms(s.end),
                speaker: String::new(),
                text: s.text,
            });
        }
    }
    let language = language_heard.unwrap_or_else(|| language.to_owned());
    Ok((language, segments))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use kino_cuda::pool::{Choice, Gpu, Pool};
    use kino_models::Repository;
    use kino_torch::device;

    use super::*;

    /// The model repository (`make models`); fails, never skips, without it.
    fn models() -> Models {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        Models::new(
            Repository::new(kino_tool_probe::models_dir(&root)),
            kino_models::DEFAULT_BUDGET,
        )
    }

    /// Loads tiny.en as a stage would with `pool`; what it ran on, the
    /// notes, and the room left held once loaded.
    fn load_with(pool: Pool) -> (String, Vec<String>, Vec<(usize, u64)>) {
        let pool = Arc::new(pool);
        let notes = Mutex::new(Vec::new());
        let note = |n: String| notes.lock().expect("notes").push(n);
        let (whisper, installed) = load_whisper(&models(), &pool, "whisper-tiny.en", &note)
            .unwrap_or_else(|e| panic!("{e:#}: run `make models`"));
        assert!(installed.id().starts_with("whisper-tiny.en@"));
        let held = pool.resident();
        (whisper.runs_on(), notes.into_inner().expect("notes"), held)
    }

    #[test]
    fn whisper_goes_where_the_pool_and_libtorch_let_it_and_says_why_not() {
        // No GPU: candle, nothing to say.
        let cpu = Pool::new(&[], Choice::Auto, Some("no GPU".into())).expect("a CPU pool");
        assert_eq!(load_with(cpu), ("cpu (candle)".into(), vec![], vec![]));

        // A GPU with room (as the pool sees it): libtorch's network on it
        // where libtorch has CUDA, holding its room; else candle, holding
        // nothing, and the note says why.
        let gpu = || {
            let gpus = [Gpu {
                ordinal: 0,
                free_memory: 16 << 30,
            }];
            Pool::new(&gpus, Choice::Auto, None).expect("a GPU pool")
        };
        let (runs_on, notes, held) = load_with(gpu());
        match device::resolve(Some(0)) {
            (ModelDevice::Cuda(0), _) if kino_torch::ENABLED => {
                assert_eq!(runs_on, "cuda:0 (libtorch)");
                assert!(notes.is_empty(), "{notes:?}");
                assert!(held[0].1 > 0, "{held:?}");
            }
            _ => {
                assert_eq!(runs_on, "cpu (candle)");
                assert_eq!(notes.len(), 1, "{notes:?}");
                let why = if kino_torch::ENABLED {
                    "libtorch"
                } else {
                    "--features torch"
                };
                assert!(
                    notes[0].starts_with("Whisper `whisper-tiny.en@"),
                    "{notes:?}"
                );
                assert!(notes[0].contains(why), "{notes:?}");
                assert_eq!(held, vec![(0, 0)]);
            }
        }

        // A GPU too full for it: candle, and where libtorch could have
        // used the GPU, the note gives the size (else the runtime's reason
        // comes first, as above).
        let full = [Gpu {
            ordinal: 0,
            free_memory: kino_cuda::pool::RESERVE_BYTES + (1 << 20),
        }];
        let (runs_on, notes, _) =
            load_with(Pool::new(&full, Choice::Auto, None).expect("a full pool"));
        assert_eq!(runs_on, "cpu (candle)");
        assert_eq!(notes.len(), 1, "{notes:?}");
        if kino_torch::ENABLED && device::resolve(Some(0)).0 != ModelDevice::Cpu {
            assert!(
                notes.iter().any(|n| n.contains("MiB it needs free")),
                "{notes:?}"
            );
        }
    }
}
