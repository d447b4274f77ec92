//! Stable-Diffusion-class models exported as TorchScript: the same
//! pipeline as the ONNX export's (`kino_onnx::Diffusion`: CLIP tokens, the
//! host's schedule and samplers, guidance, pixels), with the networks run
//! by libtorch.
//!
//! The model's folder keeps the ONNX export's layout for what isn't a
//! network (`tokenizer/vocab.json`, `tokenizer/merges.txt`, optionally
//! `scheduler/scheduler_config.json` and `vae_decoder/config.json`), and its
//! manifest signs each network, its tensors in `forward`'s order:
//!
//! - `[signatures.text_encoder]`: `input_ids` i64 `[1, L]` → `[1, L, D]` first;
//! - `[signatures.unet]`: `sample` f32 `[B, C, h, w]`, `timestep` f32 or
//!   i64 `[1]`, `encoder_hidden_states` f32 `[B, L, D]` → `[B, C, h, w]`
//!   (`B` a name or 2 runs guidance as one batch);
//! - `[signatures.vae_decoder]`: `[1, C, h, w]` → `[1, 3, 8h, 8w]` in [-1, 1];
//! - optionally `[signatures.vae_encoder]` (image-to-image): `[1, 3, H, W]`
//!   → `[1, C, H/8, W/8]` (or `[1, 2C, …]`, mean first).

use anyhow::{Context as _, Result, bail, ensure};
use kino_models::{Dim, Dtype, Format, Installed, Kind, Signature};
use kino_onnx::{Diffusion, DiffusionNetworks};

use crate::device::ModelDevice;
use crate::script::{Data, Script, Tensor};

/// Loads `installed`, a TorchScript `diffusion` model, on the CPU; without
/// the `torch` feature, an error saying how to get a host that runs it.
pub fn load(installed: &Installed) -> Result<Diffusion> {
    load_on(installed, ModelDevice::Cpu)
}

/// [`load`] with the networks on `device` (`device::resolve`'s).
pub fn load_on(installed: &Installed, device: ModelDevice) -> Result<Diffusion> {
    let manifest = &installed.manifest;
    let id = installed.id();
    ensure!(
        manifest.kind == Kind::Diffusion && manifest.format == Format::Torchscript,
        "model `{id}` is not a TorchScript diffusion model ({:?}, {:?})",
        manifest.kind,
        manifest.format
    );
    let networks =
        TorchNetworks::load(installed, device).with_context(|| format!("model `{id}`"))?;
    Ok(Diffusion::with_networks(
        &installed.dir,
        Box::new(networks),
    )?)
}

/// The networks, and what their signatures say about them.
#[derive(Debug)]
struct TorchNetworks {
    text_encoder: Script,
    unet: Script,
    decoder: Script,
    encoder: Option<Script>,
    text_len: usize,
    channels: usize,
    batch_two: bool,
    timestep: Dtype,
}

/// The signature of network `name`, its inputs named `inputs` in order.
fn signed<'a>(installed: &'a Installed, name: &str, inputs: &[&str]) -> Result<&'a Signature> {
    let signature = installed
        .manifest
        .signatures
        .get(name)
        .with_context(|| format!("its manifest has no [signatures.{name}]"))?;
    let got: Vec<&str> = signature.inputs.iter().map(|t| t.name.as_str()).collect();
    if !inputs.is_empty() && got != inputs {
        bail!(
            "[signatures.{name}] takes {got:?}; a diffusion {name} takes {inputs:?}, in that order"
        );
    }
    Ok(signature)
}

fn fixed(dim: Option<&Dim>) -> Option<usize> {
    match dim {
        Some(Dim::Fixed(n)) => Some(*n as usize),
        _ => None,
    }
}

impl TorchNetworks {
    fn load(installed: &Installed, device: ModelDevice) -> Result<Self> {
        let text = signed(installed, "text_encoder", &["input_ids"])?;
        let ids = &text.inputs[0];
        let text_len = match (ids.dtype, ids.shape.as_slice()) {
            (Dtype::I64, [_, Dim::Fixed(l)]) => *l as usize,
            _ => bail!("[signatures.text_encoder]: `input_ids` must be i64 [1, L] with L a number"),
        };
        let unet = signed(
            installed,
            "unet",
            &["sample", "timestep", "encoder_hidden_states"],
        )?;
        let sample = &unet.inputs[0].shape;
        let channels = fixed(sample.get(1))
            .filter(|_| sample.len() == 4)
            .context("[signatures.unet]: `sample` must be [B, C, h, w] with C a number")?;
        let batch_two = matches!(sample[0], Dim::Named(_) | Dim::Fixed(2));
        let timestep = unet.inputs[1].dtype;
        signed(installed, "vae_decoder", &[])?;
        let encoder = match installed.manifest.signatures.contains_key("vae_encoder") {
            true => Some(Script::load_on(installed, "vae_encoder", device)?),
            false => None,
        };
        Ok(Self {
            text_encoder: Script::load_on(installed, "text_encoder", device)?,
            unet: Script::load_on(installed, "unet", device)?,
            decoder: Script::load_on(installed, "vae_decoder", device)?,
            encoder,
            text_len,
            channels,
            batch_two,
            timestep,
        })
    }
}

/// The first output of `script` on `inputs`, as floats.
fn first(script: &Script, inputs: Vec<Tensor>, model: &'static str) -> kino_onnx::Result<Vec<f32>> {
    let failed = |e: anyhow::Error| kino_onnx::Error::Inference {
        model,
        reason: format!("{e:#}"),
    };
    let outputs = script.run(inputs).map_err(failed)?;
    outputs
        .into_iter()
        .next()
        .context("no output")
        .and_then(|t| t.into_f32("its first output"))
        .map_err(failed)
}

impl DiffusionNetworks for TorchNetworks {
    fn text_len(&self) -> usize {
        self.text_len
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn batch_two(&self) -> bool {
        self.batch_two
    }

    fn encode_text(&self, ids: Vec<i64>) -> kino_onnx::Result<(Vec<f32>, usize)> {
        let ids = Tensor {
            shape: vec![1, self.text_len],
            data: Data::I64(ids),
        };
        let states = first(&self.text_encoder, vec![ids], "text encoder")?;
        let dim = states.len() / self.text_len;
        if dim == 0 || states.len() != self.text_len * dim {
            return Err(kino_onnx::Error::Inference {
                model: "text encoder",
                reason: format!("{} values are not [1, {}, D]", states.len(), self.text_len),
            });
        }
        Ok((states, dim))
    }

    fn unet(
        &self,
        latents: Vec<f32>,
        batch: usize,
        t: usize,
        [h, w]: [usize; 2],
        states: Vec<f32>,
        dim: usize,
    ) -> kino_onnx::Result<Vec<f32>> {
        let timestep = Tensor {
            shape: vec![1],
            data: match self.timestep {
                Dtype::I64 => Data::I64(vec![t as i64]),
                Dtype::F32 => Data::F32(vec![t as f32]),
            },
        };
        let inputs = vec![
            Tensor::f32(&[batch, self.channels, h, w], latents),
            timestep,
            Tensor::f32(&[batch, self.text_len, dim], states),
        ];
        first(&self.unet, inputs, "unet")
    }

    fn decode(&self, latents: Vec<f32>, [h, w]: [usize; 2]) -> kino_onnx::Result<Vec<f32>> {
        let input = Tensor::f32(&[1, self.channels, h, w], latents);
        first(&self.decoder, vec![input], "vae decoder")
    }

    fn encode(&self, image: Vec<f32>, [h, w]: [usize; 2]) -> Option<kino_onnx::Result<Vec<f32>>> {
        let encoder = self.encoder.as_ref()?;
        Some(first(
            encoder,
            vec![Tensor::f32(&[1, 3, h, w], image)],
            "vae encoder",
        ))
    }
}
