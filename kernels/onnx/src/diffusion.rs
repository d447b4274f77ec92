//! Stable-Diffusion-class text(+image)-to-image from an ONNX export, with
//! the host's own samplers ([`kino_kernels::diffusion`]).
//!
//! The model is a folder in the layout `optimum-cli export onnx` writes for
//! a diffusers pipeline:
//! - `tokenizer/vocab.json`, `tokenizer/merges.txt`: CLIP's BPE ([`ClipTokenizer`]);
//! - `text_encoder/model.onnx`: `input_ids [B, L]` (int32 or int64) → first
//!   output `[B, L, D]`;
//! - `unet/model.onnx`: inputs named `sample [B, C, h, w]`, `timestep`
//!   (`[1]` or a scalar, float or int64) and `encoder_hidden_states [B, L, D]`
//!   → first output `[B, C, h, w]`;
//! - `vae_decoder/model.onnx`: `latent_sample [1, C, h, w]` → `[1, 3, 8h, 8w]`
//!   in [-1, 1];
//! - optionally `vae_encoder/model.onnx` (image-to-image): `[1, 3, 8h, 8w]`
//!   → `[1, C, h, w]` (or `[1, 2C, h, w]`: mean then log-variance);
//! - optionally `scheduler/scheduler_config.json` (diffusers' keys) and
//!   `vae_decoder/config.json` (`scaling_factor`); without them, Stable
//!   Diffusion 1.x's values.
//!
//! Guidance runs the UNet on the unconditional and conditional halves as
//! one batch of two where its batch is dynamic, else as two runs.
//!
//! The networks sit behind [`Networks`], so the same tokenizer, schedule,
//! samplers and pixel conversion serve another runtime's export of them
//! (`kino-torch` implements it for TorchScript).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kino_kernels::diffusion::{
    BetaSchedule, Prediction, Sampler, Schedule, Spacing, guide, noise, sample,
};
use kino_kernels::interpolate::Frame;
use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType};

use crate::clip::ClipTokenizer;
use crate::error::{Error, Result};
use crate::runtime::{SessionOptions, session};

/// Stable Diffusion's VAE latent scale, where the export does not say.
const DEFAULT_SCALE: f32 = 0.18215;

/// What to draw.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The prompt.
    pub prompt: &'a str,
    /// What to steer away from (the unconditional half of guidance).
    pub negative: &'a str,
    /// Output width, a multiple of 8.
    pub width: usize,
    /// Output height, a multiple of 8.
    pub height: usize,
    /// Sampling steps (network evaluations).
    pub steps: usize,
    /// Classifier-free guidance scale (1 turns guidance off).
    pub guidance: f32,
    /// The seed of the starting noise.
    pub seed: u64,
    /// The sampler.
    pub sampler: Sampler,
    /// Image-to-image: the starting image (resized to the output) and how
    /// much of the schedule to run over it (0 keeps it, 1 ignores it).
    pub init: Option<(&'a Frame, f32)>,
}

/// The networks of a latent diffusion model, in whichever runtime holds
/// them: ONNX here ([`Diffusion::load`]), TorchScript in `kino-torch`.
/// [`Diffusion`] does the rest — tokens, schedule, sampling, guidance,
/// pixels — so every runtime draws the same picture from the same weights.
pub trait Networks: Send + Sync {
    /// Tokens per prompt (L).
    fn text_len(&self) -> usize;
    /// Latent channels (C).
    fn channels(&self) -> usize;
    /// Whether the UNet takes guidance's two halves as one batch of two.
    fn batch_two(&self) -> bool;
    /// `L` token ids → `[L, D]` hidden states (row-major) and `D`.
    fn encode_text(&self, ids: Vec<i64>) -> Result<(Vec<f32>, usize)>;
    /// The UNet's output for `batch` latents `[batch, C, h, w]` at timestep
    /// `t` under hidden states `[batch, L, dim]`: the same shape.
    fn unet(
        &self,
        latents: Vec<f32>,
        batch: usize,
        t: usize,
        hw: [usize; 2],
        states: Vec<f32>,
        dim: usize,
    ) -> Result<Vec<f32>>;
    /// The VAE decoder: latents `[1, C, h, w]` (already divided by the
    /// scale) → an image `[1, 3, 8h, 8w]` in [-1, 1].
    fn decode(&self, latents: Vec<f32>, hw: [usize; 2]) -> Result<Vec<f32>>;
    /// The VAE encoder: an image `[1, 3, H, W]` in [-1, 1] → latents
    /// `[1, C, H/8, W/8]` (a distribution's mean and log-variance,
    /// `[1, 2C, …]`, also do: the mean comes first); `None` where the model
    /// has no encoder.
    fn encode(&self, image: Vec<f32>, size: [usize; 2]) -> Option<Result<Vec<f32>>>;
}

/// A loaded diffusion model.
pub struct Diffusion {
    tokenizer: ClipTokenizer,
    networks: Box<dyn Networks>,
    schedule: Schedule,
    scale: f32,
    dir: PathBuf,
}

/// The networks of an ONNX export.
struct OnnxNetworks {
    text_encoder: Mutex<Session>,
    /// Whether the text encoder takes int32 ids (else int64).
    ids_i32: bool,
    /// Token sequence length L.
    text_len: usize,
    unet: Mutex<Session>,
    /// Whether the UNet's timestep is an int64 (else f32).
    timestep_i64: bool,
    /// Whether the UNet's timestep is a scalar (else `[1]`).
    timestep_scalar: bool,
    /// Whether the UNet takes a batch of two.
    batch_two: bool,
    /// Latent channels C.
    channels: usize,
    decoder: Mutex<Session>,
    encoder: Option<Mutex<Session>>,
}

impl std::fmt::Debug for Diffusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diffusion")
            .field("dir", &self.dir)
            .field("channels", &self.networks.channels())
            .field("text_len", &self.networks.text_len())
            .finish_non_exhaustive()
    }
}

/// One input's shape (negative for dynamic dims) and element type.
fn input(session: &Session, name: &str) -> Option<(Vec<i64>, Option<TensorElementType>)> {
    session.inputs().iter().find(|i| i.name() == name).map(|i| {
        let shape = i
            .dtype()
            .tensor_shape()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        (shape, i.dtype().tensor_type())
    })
}

impl Diffusion {
    /// Loads the ONNX export in `dir`, checking each network's inputs
    /// against the layout above.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_on(dir, None)
    }

    /// [`Diffusion::load`], with the networks on CUDA GPU `gpu` (`None`:
    /// the CPU); see [`crate::gpu_for`].
    pub fn load_on(dir: &Path, gpu: Option<usize>) -> Result<Self> {
        Self::with_networks(dir, Box::new(OnnxNetworks::load(dir, gpu)?))
    }

    /// A model whose networks are `networks`, its tokenizer, schedule and
    /// VAE scale in `dir` as in an ONNX export (`tokenizer/`,
    /// `scheduler/scheduler_config.json`, `vae_decoder/config.json`).
    pub fn with_networks(dir: &Path, networks: Box<dyn Networks>) -> Result<Self> {
        Ok(Self {
            tokenizer: ClipTokenizer::load(&dir.join("tokenizer"))?,
            networks,
            schedule: read_schedule(&dir.join("scheduler/scheduler_config.json"))?,
            scale: read_scale(&dir.join("vae_decoder/config.json"))?,
            dir: dir.to_path_buf(),
        })
    }
}

impl OnnxNetworks {
    fn load(dir: &Path, gpu: Option<usize>) -> Result<Self> {
        let opts = SessionOptions {
            gpu,
            ..SessionOptions::default()
        };
        let part = |name: &str| {
            let path = dir.join(name).join("model.onnx");
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error::ModelMissing { path })
            }
        };
        let signature = |path: &Path, reason: String| Error::ModelSignature {
            path: path.to_path_buf(),
            reason,
        };
        let text_path = part("text_encoder")?;
        let text_encoder = session(&text_path, &opts)?;
        let (ids_shape, ids_type) = input(&text_encoder, "input_ids")
            .ok_or_else(|| signature(&text_path, "it has no `input_ids` input".into()))?;
        let ids_i32 = match ids_type {
            Some(TensorElementType::Int32) => true,
            Some(TensorElementType::Int64) => false,
            other => {
                return Err(signature(
                    &text_path,
                    format!("`input_ids` must be int32 or int64, not {other:?}"),
                ));
            }
        };
        let text_len = match ids_shape.as_slice() {
            [_, l] if *l > 0 => *l as usize,
            [_, _] => 77,
            other => {
                return Err(signature(
                    &text_path,
                    format!("`input_ids` must be [B, L], not {other:?}"),
                ));
            }
        };

        let unet_path = part("unet")?;
        let unet = session(&unet_path, &opts)?;
        let need = |name: &str| {
            input(&unet, name).ok_or_else(|| {
                signature(
                    &unet_path,
                    format!("it has no `{name}` input (expected sample, timestep, encoder_hidden_states)"),
                )
            })
        };
        let (sample_shape, _) = need("sample")?;
        let (t_shape, t_type) = need("timestep")?;
        need("encoder_hidden_states")?;
        let channels = match sample_shape.as_slice() {
            [_, c, _, _] if *c > 0 => *c as usize,
            other => {
                return Err(signature(
                    &unet_path,
                    format!("`sample` must be [B, C, h, w] with C fixed, not {other:?}"),
                ));
            }
        };
        let batch_two = sample_shape[0] < 0 || sample_shape[0] == 2;
        let timestep_i64 = match t_type {
            Some(TensorElementType::Int64) => true,
            Some(TensorElementType::Float32) => false,
            other => {
                return Err(signature(
                    &unet_path,
                    format!("`timestep` must be float or int64, not {other:?}"),
                ));
            }
        };
        let timestep_scalar = t_shape.is_empty();

        let decoder = session(&part("vae_decoder")?, &opts)?;
        let encoder = match part("vae_encoder") {
            Ok(path) => Some(Mutex::new(session(&path, &opts)?)),
            Err(_) => None,
        };
        Ok(Self {
            text_encoder: Mutex::new(text_encoder),
            ids_i32,
            text_len,
            unet: Mutex::new(unet),
            timestep_i64,
            timestep_scalar,
            batch_two,
            channels,
            decoder: Mutex::new(decoder),
            encoder,
        })
    }
}

impl Diffusion {
    /// The noise schedule the model was trained with.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Draws `request`, calling `progress(step, steps)` after each step.
    pub fn generate(
        &self,
        request: &Request<'_>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Frame> {
        let invalid =
            |name: &'static str, value: String, reason: &'static str| Error::InvalidArgument {
                name,
                value,
                reason,
            };
        let (w, h) = (request.width, request.height);
        if w == 0 || h == 0 || w % 8 != 0 || h % 8 != 0 {
            return Err(invalid(
                "size",
                format!("{w}x{h}"),
                "width and height must be positive multiples of 8",
            ));
        }
        let total = self.schedule.train_steps();
        if request.steps == 0 || request.steps > total {
            return Err(invalid(
                "steps",
                request.steps.to_string(),
                "must be between 1 and the schedule's training steps",
            ));
        }
        let (lh, lw) = (h / 8, w / 8);
        let channels = self.networks.channels();
        let shape = [1, channels, lh, lw];
        let n = channels * lh * lw;

        let guided = request.guidance != 1.0;
        let conditional = self.encode_text(request.prompt)?;
        let unconditional = if guided {
            Some(self.encode_text(request.negative)?)
        } else {
            None
        };

        let mut timesteps = self.schedule.timesteps(request.steps);
        let start = noise(request.seed, n);
        let latents = match request.init {
            None => start,
            Some((image, strength)) => {
                if !(0.0..=1.0).contains(&strength) {
                    return Err(invalid(
                        "strength",
                        strength.to_string(),
                        "must be between 0 and 1",
                    ));
                }
                let clean = self.encode_image(image, w, h)?;
                let keep =
                    ((request.steps as f32 * strength).round() as usize).min(timesteps.len());
                timesteps.drain(..timesteps.len() - keep);
                match timesteps.first() {
                    Some(&t) => self.schedule.add_noise(&clean, &start, t),
                    None => clean,
                }
            }
        };

        let steps = timesteps.len();
        let mut done = 0;
        let latents = sample(
            &self.schedule,
            request.sampler,
            &timesteps,
            latents,
            |x, t| {
                let out = match &unconditional {
                    Some(uncond) => {
                        let (u, c) = self.unet_pair(x, t, shape, uncond, &conditional)?;
                        guide(&c, &u, request.guidance)
                    }
                    None => self.unet_one(x, t, shape, &conditional)?,
                };
                done += 1;
                progress(done, steps);
                Ok(out)
            },
        )?;
        self.decode(&latents, shape)
    }

    /// The text encoder's hidden states for `text`: `[L, D]` flattened.
    fn encode_text(&self, text: &str) -> Result<(Vec<f32>, usize)> {
        let ids = self.tokenizer.encode(text, self.networks.text_len())?;
        self.networks.encode_text(ids)
    }

    /// The UNet on one latent.
    fn unet_one(
        &self,
        x: &[f32],
        t: usize,
        shape: [usize; 4],
        text: &(Vec<f32>, usize),
    ) -> Result<Vec<f32>> {
        self.unet_run(x.to_vec(), 1, t, shape, text.0.clone(), text.1)
    }

    /// The UNet on the unconditional and conditional halves: (u, c).
    fn unet_pair(
        &self,
        x: &[f32],
        t: usize,
        shape: [usize; 4],
        uncond: &(Vec<f32>, usize),
        cond: &(Vec<f32>, usize),
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        if !self.networks.batch_two() {
            return Ok((
                self.unet_one(x, t, shape, uncond)?,
                self.unet_one(x, t, shape, cond)?,
            ));
        }
        let latents = [x, x].concat();
        let states = [uncond.0.as_slice(), cond.0.as_slice()].concat();
        let mut out = self.unet_run(latents, 2, t, shape, states, cond.1)?;
        let c = out.split_off(x.len());
        Ok((out, c))
    }

    fn unet_run(
        &self,
        latents: Vec<f32>,
        batch: usize,
        t: usize,
        [_, _, h, w]: [usize; 4],
        states: Vec<f32>,
        dim: usize,
    ) -> Result<Vec<f32>> {
        let n = latents.len();
        let out = self.networks.unet(latents, batch, t, [h, w], states, dim)?;
        if out.len() != n {
            return Err(Error::Inference {
                model: "unet",
                reason: format!("returned {} values for {n} latents", out.len()),
            });
        }
        Ok(out)
    }

    /// The VAE decoder's image of `latents`.
    fn decode(&self, latents: &[f32], [_, _, h, w]: [usize; 4]) -> Result<Frame> {
        let scaled: Vec<f32> = latents.iter().map(|v| v / self.scale).collect();
        let image = self.networks.decode(scaled, [h, w])?;
        let (oh, ow) = (8 * h, 8 * w);
        let plane = oh * ow;
        if image.len() != 3 * plane {
            return Err(Error::Inference {
                model: "vae decoder",
                reason: format!("returned {} values for a {ow}x{oh} image", image.len()),
            });
        }
        let mut data = vec![0u8; 3 * plane];
        for p in 0..plane {
            for ch in 0..3 {
                let v = (image[ch * plane + p].clamp(-1.0, 1.0) + 1.0) * 127.5;
                data[3 * p + ch] = v.round() as u8;
            }
        }
        Ok(Frame {
            width: ow,
            height: oh,
            data,
        })
    }

    /// The VAE encoder's latents of `image` resized to `w × h`, scaled.
    fn encode_image(&self, image: &Frame, w: usize, h: usize) -> Result<Vec<f32>> {
        let resized = image.resized(w, h);
        let plane = w * h;
        let mut planar = vec![0f32; 3 * plane];
        for p in 0..plane {
            for ch in 0..3 {
                planar[ch * plane + p] = f32::from(resized.data[3 * p + ch]) / 127.5 - 1.0;
            }
        }
        let latents =
            self.networks
                .encode(planar, [h, w])
                .ok_or_else(|| Error::ModelMissing {
                    path: self.dir.join("vae_encoder"),
                })??;
        let n = self.networks.channels() * (h / 8) * (w / 8);
        if latents.len() < n {
            return Err(Error::Inference {
                model: "vae encoder",
                reason: format!("returned {} values for {n} latents", latents.len()),
            });
        }
        Ok(latents[..n].iter().map(|v| v * self.scale).collect())
    }
}

impl Networks for OnnxNetworks {
    fn text_len(&self) -> usize {
        self.text_len
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn batch_two(&self) -> bool {
        self.batch_two
    }

    fn encode_text(&self, ids: Vec<i64>) -> Result<(Vec<f32>, usize)> {
        let err = inference("text encoder");
        let shape = [1usize, self.text_len];
        let value: SessionInputValue<'_> = if self.ids_i32 {
            let ids: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
            Tensor::from_array((shape, ids)).map_err(err)?.into()
        } else {
            Tensor::from_array((shape, ids)).map_err(err)?.into()
        };
        let mut session = self.text_encoder.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session
            .run(vec![(std::borrow::Cow::from("input_ids"), value)])
            .map_err(err)?;
        let (shape, states) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        match **shape {
            [1, l, d] if l as usize == self.text_len && d > 0 => Ok((states.to_vec(), d as usize)),
            _ => Err(Error::Inference {
                model: "text encoder",
                reason: format!(
                    "expected [1, {}, D] hidden states, got {:?}",
                    self.text_len, &**shape
                ),
            }),
        }
    }

    fn unet(
        &self,
        latents: Vec<f32>,
        batch: usize,
        t: usize,
        [h, w]: [usize; 2],
        states: Vec<f32>,
        dim: usize,
    ) -> Result<Vec<f32>> {
        let err = inference("unet");
        let c = self.channels;
        let sample = Tensor::from_array(([batch, c, h, w], latents)).map_err(err)?;
        let t_shape: Vec<usize> = if self.timestep_scalar {
            vec![]
        } else {
            vec![1]
        };
        let timestep: SessionInputValue<'_> = if self.timestep_i64 {
            Tensor::from_array((t_shape, vec![t as i64]))
                .map_err(err)?
                .into()
        } else {
            Tensor::from_array((t_shape, vec![t as f32]))
                .map_err(err)?
                .into()
        };
        let states = Tensor::from_array(([batch, self.text_len, dim], states)).map_err(err)?;
        let mut session = self.unet.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session
            .run(ort::inputs![
                "sample" => sample,
                "timestep" => timestep,
                "encoder_hidden_states" => states,
            ])
            .map_err(err)?;
        let (shape, out) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        let want = [batch as i64, c as i64, h as i64, w as i64];
        if **shape != want {
            return Err(Error::Inference {
                model: "unet",
                reason: format!("expected {want:?}, got {:?}", &**shape),
            });
        }
        Ok(out.to_vec())
    }

    fn decode(&self, latents: Vec<f32>, [h, w]: [usize; 2]) -> Result<Vec<f32>> {
        let err = inference("vae decoder");
        let input = Tensor::from_array(([1, self.channels, h, w], latents)).map_err(err)?;
        let mut session = self.decoder.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session.run(ort::inputs![input]).map_err(err)?;
        let (shape, image) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        let (oh, ow) = (8 * h, 8 * w);
        if **shape != [1, 3, oh as i64, ow as i64] {
            return Err(Error::Inference {
                model: "vae decoder",
                reason: format!("expected [1, 3, {oh}, {ow}], got {:?}", &**shape),
            });
        }
        Ok(image.to_vec())
    }

    fn encode(&self, image: Vec<f32>, [h, w]: [usize; 2]) -> Option<Result<Vec<f32>>> {
        let encoder = self.encoder.as_ref()?;
        let run = || {
            let err = inference("vae encoder");
            let input = Tensor::from_array(([1, 3, h, w], image)).map_err(err)?;
            let mut session = encoder.lock().unwrap_or_else(|e| e.into_inner());
            let outputs = session.run(ort::inputs![input]).map_err(err)?;
            let (shape, latents) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
            let (c, lh, lw) = (self.channels as i64, (h / 8) as i64, (w / 8) as i64);
            // A distribution's parameters (mean, then log-variance): the mean.
            if **shape != [1, c, lh, lw] && **shape != [1, 2 * c, lh, lw] {
                return Err(Error::Inference {
                    model: "vae encoder",
                    reason: format!("expected [1, {c}, {lh}, {lw}] latents, got {:?}", &**shape),
                });
            }
            Ok(latents.to_vec())
        };
        Some(run())
    }
}

fn inference(model: &'static str) -> impl Fn(ort::Error) -> Error + Copy {
    move |e| Error::Inference {
        model,
        reason: e.to_string(),
    }
}

/// diffusers' `scheduler_config.json`, the keys the samplers use; Stable
/// Diffusion 1.x's schedule where the file is absent.
fn read_schedule(path: &Path) -> Result<Schedule> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Schedule::stable_diffusion());
    };
    let bad = |reason: String| Error::Config {
        path: path.to_path_buf(),
        reason,
    };
    let config: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let number = |key: &str, default: f64| {
        config
            .get(key)
            .map_or(Some(default), serde_json::Value::as_f64)
            .ok_or_else(|| bad(format!("`{key}` must be a number")))
    };
    let text_of = |key: &str, default: &'static str| -> Result<String> {
        match config.get(key) {
            None | Some(serde_json::Value::Null) => Ok(default.to_owned()),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(bad(format!("`{key}` must be a string"))),
        }
    };
    let kind = match text_of("beta_schedule", "scaled_linear")?.as_str() {
        "scaled_linear" => BetaSchedule::ScaledLinear,
        "linear" => BetaSchedule::Linear,
        other => {
            return Err(bad(format!(
                "beta_schedule `{other}` is not supported (scaled_linear, linear)"
            )));
        }
    };
    let (start, end) = (number("beta_start", 0.00085)?, number("beta_end", 0.012)?);
    let train = number("num_train_timesteps", 1000.0)?;
    let in_unit = |beta: f64| beta > 0.0 && beta < 1.0;
    if !in_unit(start) || !in_unit(end) || !(2.0..=100_000.0).contains(&train) {
        return Err(bad(format!(
            "beta_start {start}, beta_end {end} and num_train_timesteps {train} are out of range"
        )));
    }
    let spacing = match text_of("timestep_spacing", "leading")?.as_str() {
        "leading" => Spacing::Leading,
        "trailing" => Spacing::Trailing,
        "linspace" => Spacing::Linspace,
        other => return Err(bad(format!("timestep_spacing `{other}` is not supported"))),
    };
    let prediction = match text_of("prediction_type", "epsilon")?.as_str() {
        "epsilon" => Prediction::Epsilon,
        "v_prediction" => Prediction::Velocity,
        other => return Err(bad(format!("prediction_type `{other}` is not supported"))),
    };
    let mut schedule = Schedule::new(kind, start, end, train as usize);
    schedule.spacing = spacing;
    schedule.steps_offset = number("steps_offset", 1.0)? as usize;
    schedule.prediction = prediction;
    schedule.set_alpha_to_one = config
        .get("set_alpha_to_one")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    Ok(schedule)
}

/// The VAE's `scaling_factor`, where its config gives one.
fn read_scale(path: &Path) -> Result<f32> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(DEFAULT_SCALE);
    };
    let config: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(config
        .get("scaling_factor")
        .and_then(serde_json::Value::as_f64)
        .map_or(DEFAULT_SCALE, |s| s as f32))
}
