//! The vocoder kernel: a log-mel spectrogram to audio, by a TorchScript
//! model from the repository (HiFi-GAN class) when one is installed and
//! this host can run it, otherwise by Griffin-Lim, which is always there.

use std::sync::Arc;

use anyhow::{Context as _, Result, ensure};
use kino_kernels::vocoder::{Mel, MelSpec, griffin_lim};
use kino_models::{Dim, Dtype, Format, Installed, Kind, Models};

use crate::device::ModelDevice;
use crate::script::{Script, Tensor};

/// The network a vocoder model's manifest signs: `[signatures.vocoder]`.
pub const NETWORK: &str = "vocoder";

/// Griffin-Lim's rounds when it stands in for a model.
pub const GRIFFIN_LIM_ROUNDS: usize = 32;

/// A vocoder and the spectrogram it takes.
#[derive(Debug)]
pub enum Vocoder {
    /// A TorchScript model: `mel [1, n_mels, frames]` → `audio [1, 1, frames × hop]`
    /// (or `[1, frames × hop]`).
    TorchScript {
        /// The model.
        script: Script,
        /// Its mels, from its manifest's `[parameters]`.
        spec: MelSpec,
    },
    /// Griffin-Lim.
    GriffinLim {
        /// The mels it inverts.
        spec: MelSpec,
        /// Its rounds.
        rounds: usize,
    },
}

impl Vocoder {
    /// Griffin-Lim for `spec`'s mels.
    pub fn griffin_lim(spec: MelSpec) -> Self {
        Vocoder::GriffinLim {
            spec,
            rounds: GRIFFIN_LIM_ROUNDS,
        }
    }

    /// The vocoder model `installed`: a `vocoder` in TorchScript whose
    /// parameters give its mel spec and whose signature takes one mel and
    /// returns one waveform.
    pub fn load(installed: &Installed) -> Result<Self> {
        Self::load_on(installed, ModelDevice::Cpu)
    }

    /// [`Vocoder::load`] with the network on `device` (`device::resolve`'s).
    pub fn load_on(installed: &Installed, device: ModelDevice) -> Result<Self> {
        let manifest = &installed.manifest;
        let id = installed.id();
        ensure!(
            manifest.kind == Kind::Vocoder,
            "model `{id}` is a {:?} model, not a vocoder",
            manifest.kind
        );
        ensure!(
            manifest.format == Format::Torchscript,
            "model `{id}`: vocoders are TorchScript here, not {:?}",
            manifest.format
        );
        let spec = mel_spec(&manifest.parameters).with_context(|| format!("model `{id}`"))?;
        if let Some(signature) = manifest.signatures.get(NETWORK) {
            let fits = matches!(
                (&signature.inputs[..], &signature.outputs[..]),
                ([mel], [audio])
                    if mel.dtype == Dtype::F32
                        && audio.dtype == Dtype::F32
                        && mel.shape.len() == 3
                        && mel.shape[1] == Dim::Fixed(spec.n_mels as u64)
                        && matches!(mel.shape[2], Dim::Named(_))
                        && (2..=3).contains(&audio.shape.len())
            );
            ensure!(
                fits,
                "model `{id}`: a vocoder's signature takes one f32 mel [1, {}, frames] and returns one f32 waveform [1, 1, samples]",
                spec.n_mels
            );
        }
        let script = Script::load_on(installed, NETWORK, device)?;
        Ok(Vocoder::TorchScript { script, spec })
    }

    /// The mels it takes.
    pub fn spec(&self) -> &MelSpec {
        match self {
            Vocoder::TorchScript { spec, .. } | Vocoder::GriffinLim { spec, .. } => spec,
        }
    }

    /// What it is, for logs and events: the model's `name@version`, or
    /// `Griffin-Lim`.
    pub fn describe(&self) -> String {
        match self {
            Vocoder::TorchScript { script, .. } => match script.device() {
                ModelDevice::Cpu => format!("{} (TorchScript)", script.model()),
                gpu => format!("{} (TorchScript on {gpu})", script.model()),
            },
            Vocoder::GriffinLim { rounds, .. } => format!("Griffin-Lim ({rounds} rounds)"),
        }
    }

    /// `mel.frames × hop` samples at the spec's rate.
    pub fn vocode(&self, mel: &Mel) -> Result<Vec<f32>> {
        let spec = self.spec();
        mel.check(spec)?;
        match self {
            Vocoder::GriffinLim { rounds, .. } => Ok(griffin_lim(mel, spec, *rounds)?),
            Vocoder::TorchScript { script, .. } => {
                let input = Tensor::f32(&[1, mel.n_mels, mel.frames], mel.data.clone());
                let audio = script
                    .run(vec![input])?
                    .pop()
                    .context("no output")?
                    .into_f32("the waveform")?;
                let want = mel.frames * spec.hop;
                ensure!(
                    audio.len() == want,
                    "model `{}` returned {} samples for {} frames; its hop ({}) says {want}",
                    script.model(),
                    audio.len(),
                    mel.frames,
                    spec.hop
                );
                Ok(audio)
            }
        }
    }
}

/// A vocoder's mel spec from its manifest's `[parameters]`.
fn mel_spec(parameters: &toml::Table) -> Result<MelSpec> {
    let int = |key: &str| -> Result<usize> {
        let value = parameters
            .get(key)
            .with_context(|| format!("[parameters] lacks `{key}`"))?;
        value
            .as_integer()
            .and_then(|v| usize::try_from(v).ok())
            .with_context(|| {
                format!("[parameters] `{key}` must be a non-negative integer, not {value}")
            })
    };
    let float = |key: &str| -> Result<f64> {
        let value = parameters
            .get(key)
            .with_context(|| format!("[parameters] lacks `{key}`"))?;
        value
            .as_float()
            .or_else(|| value.as_integer().map(|v| v as f64))
            .with_context(|| format!("[parameters] `{key}` must be a number, not {value}"))
    };
    let spec = MelSpec {
        sample_rate: u32::try_from(int("sample_rate")?).context("sample_rate")?,
        n_fft: int("n_fft")?,
        hop: int("hop")?,
        n_mels: int("n_mels")?,
        fmin: float("fmin")?,
        fmax: float("fmax")?,
    };
    spec.validate()?;
    Ok(spec)
}

/// The vocoder a stage uses, and why, when it is not the one asked for or
/// installed: the model `name` if given (its errors are the caller's);
/// otherwise the first TorchScript vocoder in the repository; otherwise, or
/// when that can't be loaded here, Griffin-Lim for HiFi-GAN's usual mels,
/// with a note saying why.
pub fn choose(models: &Models, name: Option<&str>) -> Result<(Arc<Vocoder>, Option<String>)> {
    choose_on(models, name, ModelDevice::Cpu)
}

/// [`choose`] with a model vocoder on `device` (`device::resolve`'s).
pub fn choose_on(
    models: &Models,
    name: Option<&str>,
    device: ModelDevice,
) -> Result<(Arc<Vocoder>, Option<String>)> {
    let load = |installed: &Installed| Vocoder::load_on(installed, device);
    if let Some(name) = name {
        let (vocoder, _) = models.load(name, load)?;
        return Ok((vocoder, None));
    }
    let fallback = |why: String| {
        tracing::info!("vocoder: {why}");
        Ok((
            Arc::new(Vocoder::griffin_lim(MelSpec::default())),
            Some(why),
        ))
    };
    let Some(name) = models
        .repository()
        .first_of(Kind::Vocoder, Format::Torchscript)
    else {
        return fallback("no vocoder model is installed: Griffin-Lim".into());
    };
    if !crate::ENABLED {
        return fallback(format!(
            "vocoder `{name}` is installed, but {}: Griffin-Lim",
            crate::NOT_BUILT
        ));
    }
    match models.load(&name, load) {
        Ok((vocoder, _)) => Ok((vocoder, None)),
        Err(e) => fallback(format!(
            "vocoder `{name}` could not be loaded ({e:#}): Griffin-Lim"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mel_spec_is_read_from_parameters_with_errors_naming_the_key() {
        let table = |text: &str| -> toml::Table { toml::from_str(text).expect("toml") };
        let whole =
            "sample_rate = 22050\nn_fft = 1024\nhop = 256\nn_mels = 80\nfmin = 0\nfmax = 8000.0";
        assert_eq!(mel_spec(&table(whole)).expect("whole"), MelSpec::default());
        let err = mel_spec(&table(&whole.replace("hop = 256\n", "")))
            .expect_err("no hop")
            .to_string();
        assert!(err.contains("lacks `hop`"), "{err}");
        let err = mel_spec(&table(&whole.replace("n_mels = 80", "n_mels = \"80\"")))
            .expect_err("a string")
            .to_string();
        assert!(
            err.contains("`n_mels` must be a non-negative integer"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            mel_spec(&table(&whole.replace("hop = 256", "hop = 4096"))).expect_err("hop too big")
        );
        assert!(err.contains("hop 4096"), "{err}");
    }
}
