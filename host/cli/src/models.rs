//! `kino models`, `kino transcribe`, `kino vocode` and the neural side of
//! `kino speak`: the model repository from the command line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use kino_kernels::subtitle::{self, Cue};
use kino_kernels::wav::{Pcm, SampleFormat, write_wav_as};
use kino_models::{Models, Repository};
use kino_pipeline::ops::speech;

use crate::progress;

/// Where the model repository is: `--models`, else `$KINO_MODELS`, else
/// `.kino/models` (where `make models` installs the defaults).
#[derive(clap::Args, Clone)]
pub struct ModelsArg {
    /// The model repository.
    #[arg(long, env = "KINO_MODELS", default_value = ".kino/models")]
    pub models: PathBuf,
}

impl ModelsArg {
    /// The repository, with the default memory budget for loaded models.
    pub fn open(&self) -> Models {
        Models::new(Repository::new(&self.models), kino_models::DEFAULT_BUDGET)
    }
}

/// `kino models ...`.
#[derive(Subcommand)]
pub enum ModelsCommand {
    /// List the installed models: kind, format, languages, size, licence.
    List {
        #[command(flatten)]
        repo: ModelsArg,
    },
    /// Install a model from a folder holding its `model.toml` and files (hashes checked).
    Add {
        /// The folder.
        source: PathBuf,
        #[command(flatten)]
        repo: ModelsArg,
    },
    /// Check every file of the installed models (or of one) against its hash.
    Verify {
        /// Only this model.
        name: Option<String>,
        #[command(flatten)]
        repo: ModelsArg,
    },
    /// Remove a model: `NAME` (every version) or `NAME@VERSION`.
    Remove {
        /// The model.
        model: String,
        #[command(flatten)]
        repo: ModelsArg,
    },
}

/// Runs a `kino models` command.
pub fn run(command: ModelsCommand) -> Result<()> {
    match command {
        ModelsCommand::List { repo } => {
            let all = Repository::new(&repo.models).list()?;
            if all.is_empty() {
                println!(
                    "no models in {}; {}",
                    repo.models.display(),
                    kino_models::INSTALL_HINT
                );
            }
            for m in all {
                let langs = match m.manifest.languages.len() {
                    0 => "-".to_owned(),
                    n if n > 6 => format!("{n} languages"),
                    _ => m.manifest.languages.join(","),
                };
                println!(
                    "{:<28} {:<11} {:<14} {:<12} {:>6.1} MB  {}",
                    m.id(),
                    kind_name(&m),
                    format_name(&m),
                    langs,
                    m.size() as f64 / 1e6,
                    m.manifest.licence
                );
            }
            Ok(())
        }
        ModelsCommand::Add { source, repo } => {
            let m = Repository::new(&repo.models).add(&source)?;
            println!("installed {} in {}", m.id(), m.dir.display());
            Ok(())
        }
        ModelsCommand::Verify { name, repo } => {
            let repository = Repository::new(&repo.models);
            let all = match name {
                Some(n) => vec![repository.get(&n)?],
                None => repository.list()?,
            };
            let mut bad = 0;
            for m in &all {
                match m.verify() {
                    Ok(()) => println!("ok      {}", m.id()),
                    Err(e) => {
                        bad += 1;
                        println!("FAILED  {e}");
                    }
                }
            }
            if bad > 0 {
                bail!("{bad} of {} models failed verification", all.len());
            }
            Ok(())
        }
        ModelsCommand::Remove { model, repo } => {
            let (name, version) = match model.split_once('@') {
                Some((n, v)) => (n, Some(v)),
                None => (model.as_str(), None),
            };
            for id in Repository::new(&repo.models).remove(name, version)? {
                println!("removed {id}");
            }
            Ok(())
        }
    }
}

fn kind_name(m: &kino_models::Installed) -> String {
    serde_json::to_value(m.manifest.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn format_name(m: &kino_models::Installed) -> String {
    serde_json::to_value(m.manifest.format)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// For `kino devices`: the models installed and their total size. (A
/// one-shot command has none loaded; `/metrics` of `kino serve` shows what a
/// host holds in memory, `kino_model_loaded_bytes`.)
pub fn summary(repo: &ModelsArg) -> Result<()> {
    let all = Repository::new(&repo.models).list()?;
    let bytes: u64 = all.iter().map(|m| m.size()).sum();
    let names: Vec<String> = all.iter().map(|m| m.id()).collect();
    match names.len() {
        0 => println!(
            "models: none in {}; {}",
            repo.models.display(),
            kino_models::INSTALL_HINT
        ),
        n => println!(
            "models: {n} in {} ({:.0} MB): {}",
            repo.models.display(),
            bytes as f64 / 1e6,
            names.join(", ")
        ),
    }
    Ok(())
}

/// `kino transcribe`: a media file's speech to SRT or WebVTT (by the
/// output's extension); returns the language and the number of segments.
pub fn transcribe_file(
    models: &Models,
    input: &Path,
    output: &Path,
    language: &str,
    model: Option<&str>,
) -> Result<(String, usize)> {
    // Whisper goes on the GPU the device pool would use, where libtorch can.
    let devices = Arc::new(kino_cuda::Pool::from_env().map_err(anyhow::Error::msg)?);
    let note = |note: String| eprintln!("kino transcribe: {note}");
    let (language, segments) = progress::with_bar(progress::counted(0, "windows"), |bar| {
        speech::transcribe_media(
            models,
            &devices,
            input,
            language,
            model,
            &note,
            &|done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            },
        )
    })?;
    let cues: Vec<Cue> = segments
        .iter()
        .map(|s| Cue::new(s.start_ms, s.end_ms, s.text.clone()))
        .collect();
    let text = match output.extension().and_then(|e| e.to_str()) {
        Some("vtt") => subtitle::to_vtt(&cues),
        _ => subtitle::to_srt(&cues),
    };
    std::fs::write(output, text).with_context(|| format!("writing {}", output.display()))?;
    Ok((language, segments.len()))
}

/// Speaks `text` with the neural voice installed for `language` into a WAV
/// file; `None` when no voice is installed for it.
pub fn speak_neural(
    models: &Models,
    text: &str,
    language: &str,
    (output, format): (&Path, SampleFormat),
) -> Result<Option<(String, f64)>> {
    let Some((voice, installed)) = speech::voice(models, language)? else {
        return Ok(None);
    };
    let samples = voice.synthesize(text, 1.0)?;
    let pcm = Pcm {
        sample_rate: voice.sample_rate(),
        channels: 1,
        samples,
    };
    write_wav_as(output, &pcm, format).with_context(|| format!("writing {}", output.display()))?;
    Ok(Some((installed.id(), pcm.duration_secs())))
}

/// `kino vocode`: `input`'s audio (mono, at the vocoder's rate) to its mel
/// spectrogram and back through the vocoder into a WAV file; returns what
/// vocoded it and the output's length in seconds.
pub fn vocode_file(
    models: &Models,
    input: &Path,
    output: &Path,
    model: Option<&str>,
) -> Result<(String, f64)> {
    // A model vocoder goes on the GPU the device pool would use, where
    // libtorch can.
    let pool = kino_cuda::Pool::from_env().map_err(anyhow::Error::msg)?;
    let (device, why) = kino_torch::device::resolve(pool.model_gpu());
    let (vocoder, note) = kino_torch::vocoder::choose_on(models, model, device)?;
    for note in why.iter().chain(&note) {
        eprintln!("kino vocode: {note}");
    }
    let spec = vocoder.spec();
    let pcm = kino_media::decode_audio(input, spec.sample_rate, 1)?;
    if pcm.samples.is_empty() {
        bail!("{}: no audio to vocode", input.display());
    }
    let mel = spec.analyse(&pcm.samples)?;
    let samples = progress::with_bar(progress::spinner(), |bar| {
        bar.set_message(format!("vocoding with {}", vocoder.describe()));
        vocoder.vocode(&mel)
    })?;
    let out = Pcm {
        sample_rate: spec.sample_rate,
        channels: 1,
        samples,
    };
    write_wav_as(output, &out, SampleFormat::PCM16)
        .with_context(|| format!("writing {}", output.display()))?;
    Ok((vocoder.describe(), out.duration_secs()))
}
