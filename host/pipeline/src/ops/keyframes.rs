//! Diffusion keyframes: when the model repository has a diffusion model,
//! a still's scene is redrawn by it every few frames and optical flow
//! fills the frames between (the seed's "one keyframe per 5–10 frames,
//! interpolated").
//!
//! Each keyframe is image-to-image from the camera move's frame at that
//! time: the product on the brand palette's plate, framed by the camera,
//! is what the model starts from, and the director's styled prompt says
//! what to make of it. One seed (from the node's cache key) serves every
//! keyframe of a scene, so neighbouring keyframes start from the same
//! noise and the flow between them stays short.

use anyhow::{Context as _, Result, bail};
use kino_kernels::diffusion::Sampler;
use kino_kernels::interpolate::Frame;
use kino_models::{Format, Installed, Kind, Models};
use kino_onnx::{Diffusion, DiffusionRequest};

use super::OpCx;
use super::placed::{self, Placed};
use kino_torch::device::ModelDevice;

/// Whether this host can run a diffusion model stored as `format`: an
/// ONNX export always (`kino_onnx::Diffusion`), a TorchScript one when it
/// was built with the `torch` feature (`kino_torch::diffusion`).
fn runs(format: Format) -> bool {
    format == Format::Onnx || (format == Format::Torchscript && kino_torch::ENABLED)
}

/// The diffusion models installed, by name.
fn installed(models: &Models) -> Vec<Installed> {
    let mut all: Vec<Installed> = models
        .repository()
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.manifest.kind == Kind::Diffusion)
        .collect();
    all.sort_by(|a, b| a.manifest.name.cmp(&b.manifest.name));
    all
}

/// The host's diffusion model: the first `diffusion` model of the
/// repository by name that this host can run, if there is one.
pub(crate) fn host_model(models: &Models) -> Option<String> {
    installed(models)
        .into_iter()
        .find(|m| runs(m.manifest.format))
        .map(|m| m.manifest.name)
}

/// Why the diffusion models installed can't draw here, when there are some
/// and none can: for the job's events.
pub(crate) fn unusable(models: &Models) -> Option<String> {
    let names: Vec<String> = installed(models)
        .into_iter()
        .filter(|m| !runs(m.manifest.format))
        .map(|m| format!("`{}`", m.manifest.name))
        .collect();
    (!names.is_empty()).then(|| {
        format!(
            "the diffusion model {} is TorchScript, and {}",
            names.join(", "),
            kino_torch::NOT_BUILT
        )
    })
}

/// What a diffusion model is taken to hold on a GPU: its weights, and as
/// much again for a 512² sample's activations and the runtime's caching
/// allocator (an estimate: neither runtime says ahead).
fn vram_estimate(installed: &Installed) -> u64 {
    installed.size().saturating_mul(2)
}

/// Loads the diffusion model `installed` in the runtime of its format, on
/// the pool's GPU where one has room for it and the runtime can use it
/// (held until the model is unloaded); the job's notes say why not, where
/// the pool has a GPU.
fn load(cx: &OpCx, installed: &Installed) -> Result<Placed<Diffusion>> {
    let what = format!("the diffusion model `{}`", installed.id());
    let bytes = vram_estimate(installed);
    let note = |n| cx.note(n);
    match installed.manifest.format {
        Format::Torchscript => {
            placed::load(&cx.devices, &what, bytes, placed::LIBTORCH, &note, |gpu| {
                let device = gpu.map_or(ModelDevice::Cpu, ModelDevice::Cuda);
                kino_torch::diffusion::load_on(installed, device)
            })
        }
        _ => {
            super::speech::runtime(&cx.models)?;
            placed::load(
                &cx.devices,
                &what,
                bytes,
                placed::ONNX_RUNTIME,
                &note,
                |gpu| Ok(Diffusion::load_on(&installed.dir, gpu)?),
            )
        }
    }
}

/// How a scene's keyframes are drawn: the render stage's params
/// `keyframe-every` (frames, default 8), `diffusion-steps` (20),
/// `diffusion-strength` (0.6: how far from the camera's frame the model may
/// go), `guidance` (7.5), `sampler` (`dpm++2m` or `ddim`) and
/// `diffusion-size` (the longer side the model draws at, default 512; the
/// keyframe is then scaled to the output).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Settings {
    every: usize,
    steps: usize,
    strength: f32,
    guidance: f32,
    sampler: Sampler,
    size: usize,
}

impl Settings {
    pub(super) fn of(cx: &OpCx) -> Result<Self> {
        let number = |key: &str, default: f64, range: std::ops::RangeInclusive<f64>| {
            let value = match cx.params.get(key) {
                None => default,
                Some(v) => v
                    .as_f64()
                    .with_context(|| format!("param `{key}` must be a number, not {v}"))?,
            };
            if !range.contains(&value) {
                bail!(
                    "param `{key}` is {value}: expected {} to {}",
                    range.start(),
                    range.end()
                );
            }
            Ok(value)
        };
        let sampler = match cx.params.get("sampler") {
            None => Sampler::DpmSolverPlusPlus2M,
            Some(v) => v
                .as_str()
                .context("param `sampler` must be a string")?
                .parse()
                .map_err(anyhow::Error::msg)?,
        };
        Ok(Self {
            every: number("keyframe-every", 8.0, 1.0..=240.0)? as usize,
            steps: number("diffusion-steps", 20.0, 1.0..=1000.0)? as usize,
            strength: number("diffusion-strength", 0.6, 0.0..=1.0)? as f32,
            guidance: number("guidance", 7.5, 1.0..=30.0)? as f32,
            sampler,
            size: number("diffusion-size", 512.0, 64.0..=2048.0)? as usize,
        })
    }

    /// The size the model draws at: the output's shape with its longer side
    /// at most `size`, each side a multiple of 8.
    fn model_size(&self, width: usize, height: usize) -> (usize, usize) {
        let scale = (self.size as f64 / width.max(height) as f64).min(1.0);
        let side = |v: usize| ((v as f64 * scale / 8.0).round() as usize).max(1) * 8;
        (side(width), side(height))
    }
}

/// The frames that are keyframes among `frames`: every `every`-th and the last.
fn keyframe_indices(frames: usize, every: usize) -> Vec<usize> {
    let mut at: Vec<usize> = (0..frames).step_by(every.max(1)).collect();
    if at.last() != Some(&(frames - 1)) {
        at.push(frames - 1);
    }
    at
}

/// Draws a scene of `frames` frames through `write`, in order: keyframes
/// by the diffusion model `name` from `camera(i)` (the camera move's frame
/// i), the frames between interpolated by optical flow. Answers how many
/// keyframes were drawn.
#[allow(clippy::too_many_arguments)]
pub(super) fn draw(
    cx: &OpCx,
    name: &str,
    settings: &Settings,
    prompt: &str,
    seed: u64,
    frames: usize,
    camera: impl Fn(usize) -> Result<Frame>,
    write: &mut impl FnMut(Frame, usize) -> Result<()>,
) -> Result<usize> {
    let (model, _) = cx
        .models
        .load(name, |m| load(cx, m))
        .with_context(|| format!("loading the diffusion model `{name}`"))?;
    let keyframe = |i: usize| -> Result<Frame> {
        let base = camera(i)?;
        let (w, h) = settings.model_size(base.width, base.height);
        let init = base.resized(w, h);
        let request = DiffusionRequest {
            prompt,
            negative: "",
            width: w,
            height: h,
            steps: settings.steps,
            guidance: settings.guidance,
            seed,
            sampler: settings.sampler,
            init: Some((&init, settings.strength)),
        };
        let drawn = model
            .generate(&request, |_, _| {})
            .with_context(|| format!("drawing keyframe {i}"))?;
        Ok(drawn.resized(base.width, base.height))
    };
    let at = keyframe_indices(frames, settings.every);
    let mut previous = (at[0], keyframe(at[0])?);
    for &next_at in &at[1..] {
        let next = keyframe(next_at)?;
        let (from_at, from) = &previous;
        write(from.clone(), *from_at)?;
        let span = next_at - from_at;
        if span > 1 {
            let times: Vec<f32> = (1..span).map(|k| k as f32 / span as f32).collect();
            for (frame, i) in cx
                .interpolate((from, &next), &times)?
                .into_iter()
                .zip(from_at + 1..)
            {
                write(frame, i)?;
            }
        }
        previous = (next_at, next);
    }
    write(previous.1, previous.0)?;
    Ok(at.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_fall_every_few_frames_and_on_the_last() {
        assert_eq!(keyframe_indices(1, 8), [0]);
        assert_eq!(keyframe_indices(9, 8), [0, 8]);
        assert_eq!(keyframe_indices(20, 8), [0, 8, 16, 19]);
        assert_eq!(keyframe_indices(3, 1), [0, 1, 2]);
    }

    #[test]
    fn the_model_draws_at_most_its_size_in_multiples_of_8() {
        let s = Settings {
            every: 8,
            steps: 20,
            strength: 0.6,
            guidance: 7.5,
            sampler: Sampler::DpmSolverPlusPlus2M,
            size: 512,
        };
        assert_eq!(s.model_size(1920, 1080), (512, 288));
        assert_eq!(s.model_size(320, 180), (320, 184));
        assert_eq!(s.model_size(1080, 1920), (288, 512));
    }
}
