//! Whisper on libtorch: the network of `kino_whisper::model`, operation for
//! operation, on tch tensors, so that speech recognition runs wherever
//! libtorch does — on a GPU when [`crate::device::resolve`] finds one.
//! Decoding (the timestamp rules, language detection, word times) is
//! kino-whisper's, over [`kino_whisper::network::Network`]; only the
//! tensors differ. The weights stay f32 on every device and nothing runs
//! in TF32, so a GPU's logits differ from the CPU's only by the order of
//! their sums.
//!
//! A GPU runs one window at a time per model: concurrent windows would
//! each hold an encoder's attention scores (`heads × 1500 × 1500` f32 a
//! layer) and gain little, sharing one stream.
//!
//! candle's CUDA backend would need nvcc when Kino is built; libtorch's
//! comes with a CUDA libtorch at run time, as the diffusion models' does.

use anyhow::Result;
use kino_models::Installed;
use kino_whisper::Transcriber;
use kino_whisper::ct2::Variables;
use kino_whisper::network::Network;

use crate::device::ModelDevice;

/// Loads an installed Whisper model with its network on `device`.
pub fn load_on(installed: &Installed, device: ModelDevice) -> Result<Transcriber> {
    Transcriber::load_with(installed, |v| network(v, device))
}

/// Builds the network of `variables` on `device`.
pub fn network(variables: &Variables, device: ModelDevice) -> Result<Box<dyn Network>> {
    #[cfg(feature = "torch")]
    {
        Ok(Box::new(on_torch::Whisper::new(variables, device)?))
    }
    #[cfg(not(feature = "torch"))]
    {
        let _ = (variables, device);
        anyhow::bail!("Whisper on libtorch: {}", crate::NOT_BUILT)
    }
}

#[cfg(feature = "torch")]
mod on_torch {
    use std::sync::{Mutex, MutexGuard, PoisonError};

    use anyhow::{Context as _, Result};
    use kino_whisper::ct2::Variables;
    use kino_whisper::network::{self, Attention, Dims, Listening, Network};
    use tch::{Device, Kind, Tensor};

    use crate::device::ModelDevice;

    /// The network's weights on one device.
    pub(super) struct Whisper {
        dims: Dims,
        device: ModelDevice,
        encoder: Encoder,
        decoder: Decoder,
        /// Held by a GPU's session for its window (the CPU's run side by side).
        one_window: Mutex<()>,
    }

    // SAFETY: `tch::Tensor` is not `Sync` only because libtorch's tensors
    // may be changed in place. These weights never are after loading:
    // every use reads them as the inputs of out-of-place operations, which
    // libtorch allows from many threads at once (as tch allows for a
    // `CModule`'s parameters).
    unsafe impl Sync for Whisper {}

    impl Whisper {
        pub(super) fn new(v: &Variables, device: ModelDevice) -> Result<Self> {
            let dims = Dims::of(v)?;
            let on = Device::from(device);
            let w = |name: &str| -> Result<Tensor> {
                let a = v.array(name)?;
                let shape: Vec<i64> = a.dims.iter().map(|&d| d as i64).collect();
                Ok(Tensor::f_from_slice(&a.values)?
                    .f_reshape(shape.as_slice())?
                    .f_to_device(on)?)
            };
            let linear = |p: &str| -> Result<Linear> {
                Ok(Linear {
                    weight: w(&format!("{p}/weight"))?,
                    bias: w(&format!("{p}/bias"))?,
                })
            };
            let norm = |p: &str| -> Result<Norm> {
                Ok(Norm {
                    gain: w(&format!("{p}/gamma"))?,
                    bias: w(&format!("{p}/beta"))?,
                    width: dims.d_model as i64,
                })
            };
            let heads = dims.n_heads as i64;
            let self_attention = |p: &str| -> Result<SelfAttention> {
                Ok(SelfAttention {
                    norm: norm(&format!("{p}/self_attention/layer_norm"))?,
                    qkv: linear(&format!("{p}/self_attention/linear_0"))?,
                    out: linear(&format!("{p}/self_attention/linear_1"))?,
                    heads,
                })
            };
            let ffn = |p: &str| -> Result<Ffn> {
                Ok(Ffn {
                    norm: norm(&format!("{p}/ffn/layer_norm"))?,
                    up: linear(&format!("{p}/ffn/linear_0"))?,
                    down: linear(&format!("{p}/ffn/linear_1"))?,
                })
            };
            let encoder = Encoder {
                conv1: linear("encoder/conv1")?,
                conv2: linear("encoder/conv2")?,
                positions: w("encoder/position_encodings/encodings")?,
                layers: (0..dims.encoder_layers)
                    .map(|i| {
                        let p = format!("encoder/layer_{i}");
                        Ok((self_attention(&p)?, ffn(&p)?))
                    })
                    .collect::<Result<_>>()?,
                norm: norm("encoder/layer_norm")?,
            };
            let decoder = Decoder {
                embeddings: w("decoder/embeddings/weight")?,
                positions: w("decoder/position_encodings/encodings")?,
                layers: (0..dims.decoder_layers)
                    .map(|i| {
                        let p = format!("decoder/layer_{i}");
                        Ok(DecoderLayer {
                            attention: self_attention(&p)?,
                            cross: CrossAttention {
                                norm: norm(&format!("{p}/attention/layer_norm"))?,
                                q: linear(&format!("{p}/attention/linear_0"))?,
                                kv: linear(&format!("{p}/attention/linear_1"))?,
                                out: linear(&format!("{p}/attention/linear_2"))?,
                                heads,
                            },
                            ffn: ffn(&p)?,
                        })
                    })
                    .collect::<Result<_>>()?,
                norm: norm("decoder/layer_norm")?,
            };
            Ok(Self {
                dims,
                device,
                encoder,
                decoder,
                one_window: Mutex::new(()),
            })
        }

        fn device(&self) -> Device {
            self.device.into()
        }
    }

    impl Network for Whisper {
        fn dims(&self) -> Dims {
            self.dims
        }

        fn runs_on(&self) -> String {
            format!("{} (libtorch)", self.device)
        }

        fn listen<'a>(&'a self, mel: &[f32]) -> Result<Box<dyn Listening + 'a>> {
            let turn = match self.device {
                ModelDevice::Cuda(_) => Some(
                    self.one_window
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                ),
                ModelDevice::Cpu => None,
            };
            let _no_grad = tch::no_grad_guard();
            let frames = network::frames(mel, &self.dims)?;
            let mel = Tensor::f_from_slice(mel)?
                .f_reshape([1, self.dims.n_mels as i64, frames as i64])?
                .f_to_device(self.device())?;
            let audio = self.encoder.forward(&mel).context("encoding")?;
            let cross = self
                .decoder
                .layers
                .iter()
                .map(|l| l.cross.keys_values(&audio))
                .collect::<Result<_>>()?;
            Ok(Box::new(Session {
                model: self,
                _turn: turn,
                cross,
                cache: (0..self.dims.decoder_layers).map(|_| None).collect(),
                len: 0,
            }))
        }
    }

    /// The decoder over one window: the encoder's keys and values for
    /// cross-attention, and the self-attention cache of the tokens seen.
    struct Session<'m> {
        model: &'m Whisper,
        /// On a GPU, this window's turn.
        _turn: Option<MutexGuard<'m, ()>>,
        cross: Vec<(Tensor, Tensor)>,
        cache: Vec<Option<(Tensor, Tensor)>>,
        len: usize,
    }

    impl Listening for Session<'_> {
        fn next_logits(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
            let _no_grad = tch::no_grad_guard();
            let x = self.run(tokens, None)?;
            let last = x.f_narrow(1, tokens.len() as i64 - 1, 1)?;
            let logits = self.model.decoder.logits(&last)?;
            to_vec(&logits)
        }

        fn cross_attention(
            &mut self,
            tokens: &[u32],
            heads: &[(usize, usize)],
        ) -> Result<Vec<Attention>> {
            let _no_grad = tch::no_grad_guard();
            self.cache = (0..self.model.dims.decoder_layers).map(|_| None).collect();
            self.len = 0;
            let mut weights = Vec::new();
            let _ = self.run(tokens, Some((heads, &mut weights)))?;
            weights
                .iter()
                .map(|w| {
                    let (tokens, frames) = w.size2()?;
                    Ok(Attention {
                        tokens: tokens as usize,
                        frames: frames as usize,
                        weights: to_vec(w)?,
                    })
                })
                .collect()
        }
    }

    /// Which (layer, head) cross-attention weights to keep, and where.
    type Capture<'a> = (&'a [(usize, usize)], &'a mut Vec<Tensor>);

    impl Session<'_> {
        fn run(&mut self, tokens: &[u32], mut capture: Option<Capture<'_>>) -> Result<Tensor> {
            let m = self.model;
            let d = &m.decoder;
            let n = tokens.len();
            anyhow::ensure!(
                n > 0 && self.len + n <= m.dims.n_text_ctx,
                "the decoder's context ({} tokens) is full",
                m.dims.n_text_ctx
            );
            let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
            let ids = Tensor::f_from_slice(&ids)?.f_to_device(m.device())?;
            let mut x = d
                .embeddings
                .f_index_select(0, &ids)?
                .f_add(&d.positions.f_narrow(0, self.len as i64, n as i64)?)?
                .f_unsqueeze(0)?;
            let mask = causal_mask(n, self.len, m.device())?;
            for (i, layer) in d.layers.iter().enumerate() {
                let h = layer.attention.norm.forward(&x)?;
                let (attended, k, v) =
                    layer
                        .attention
                        .forward_cached(&h, self.cache[i].as_ref(), mask.as_ref())?;
                self.cache[i] = Some((k, v));
                x = x.f_add(&attended)?;
                let h = layer.cross.norm.forward(&x)?;
                let (k, v) = &self.cross[i];
                let wanted: Vec<usize> = capture
                    .as_ref()
                    .map(|(heads, _)| {
                        heads
                            .iter()
                            .filter(|(l, _)| *l == i)
                            .map(|(_, h)| *h)
                            .collect()
                    })
                    .unwrap_or_default();
                let (attended, weights) = layer.cross.forward(&h, k, v, !wanted.is_empty())?;
                if let (Some((_, out)), Some(w)) = (capture.as_mut(), weights) {
                    for head in wanted {
                        out.push(w.f_select(0, 0)?.f_select(0, head as i64)?);
                    }
                }
                x = x.f_add(&attended)?;
                x = x.f_add(&layer.ffn.forward(&x)?)?;
            }
            self.len += n;
            Ok(x)
        }
    }

    /// The causal mask of `n` new tokens after `past`, on `device`.
    fn causal_mask(n: usize, past: usize, device: Device) -> Result<Option<Tensor>> {
        network::causal_mask(n, past)
            .map(|values| {
                Ok(Tensor::f_from_slice(&values)?
                    .f_reshape([n as i64, (past + n) as i64])?
                    .f_to_device(device)?)
            })
            .transpose()
    }

    /// A tensor's values, flattened, on the CPU.
    fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
        let flat = t.f_to_device(Device::Cpu)?.f_contiguous()?.f_view([-1])?;
        Ok(Vec::<f32>::try_from(&flat)?)
    }

    /// A weight and a bias: a linear layer, or a convolution's kernel.
    struct Linear {
        weight: Tensor,
        bias: Tensor,
    }

    impl Linear {
        fn forward(&self, x: &Tensor) -> Result<Tensor> {
            Ok(x.f_linear(&self.weight, Some(&self.bias))?)
        }

        /// As a 1-D convolution of width 3, padded by 1. Never in TF32:
        /// cuDNN may use it for convolutions by default, which would put
        /// ~1e-3 of error into everything the encoder hears.
        fn conv(&self, x: &Tensor, stride: i64) -> Result<Tensor> {
            let (transposed, output_padding, groups) = (false, [0], 1);
            let (benchmark, deterministic, cudnn, tf32) = (false, false, true, false);
            Ok(x.f_internal_convolution(
                &self.weight,
                Some(&self.bias),
                [stride],
                [1],
                [1],
                transposed,
                output_padding,
                groups,
                benchmark,
                deterministic,
                cudnn,
                tf32,
            )?)
        }
    }

    struct Norm {
        gain: Tensor,
        bias: Tensor,
        width: i64,
    }

    impl Norm {
        fn forward(&self, x: &Tensor) -> Result<Tensor> {
            Ok(x.f_layer_norm([self.width], Some(&self.gain), Some(&self.bias), 1e-5, true)?)
        }
    }

    struct Encoder {
        conv1: Linear,
        conv2: Linear,
        positions: Tensor,
        layers: Vec<(SelfAttention, Ffn)>,
        norm: Norm,
    }

    impl Encoder {
        fn forward(&self, mel: &Tensor) -> Result<Tensor> {
            let x = self.conv1.conv(mel, 1)?.f_gelu("none")?;
            let x = self.conv2.conv(&x, 2)?.f_gelu("none")?;
            let x = x.f_transpose(1, 2)?;
            let frames = x.size3()?.1;
            let mut x = x.f_add(&self.positions.f_narrow(0, 0, frames)?)?;
            for (attention, ffn) in &self.layers {
                let h = attention.norm.forward(&x)?;
                let (attended, _, _) = attention.forward_cached(&h, None, None)?;
                x = x.f_add(&attended)?;
                x = x.f_add(&ffn.forward(&x)?)?;
            }
            self.norm.forward(&x)
        }
    }

    struct Decoder {
        embeddings: Tensor,
        positions: Tensor,
        layers: Vec<DecoderLayer>,
        norm: Norm,
    }

    impl Decoder {
        /// Logits of one position (`x` is `[1, 1, d]`), over the vocabulary.
        fn logits(&self, x: &Tensor) -> Result<Tensor> {
            let x = self.norm.forward(x)?;
            Ok(x.f_matmul(&self.embeddings.f_tr()?)?)
        }
    }

    struct DecoderLayer {
        attention: SelfAttention,
        cross: CrossAttention,
        ffn: Ffn,
    }

    /// Self-attention with q, k, v in one projection.
    struct SelfAttention {
        norm: Norm,
        qkv: Linear,
        out: Linear,
        heads: i64,
    }

    impl SelfAttention {
        /// Attends `x` (already normalised) to itself and to `past` keys
        /// and values; returns the output and the keys and values
        /// including `x`'s.
        fn forward_cached(
            &self,
            x: &Tensor,
            past: Option<&(Tensor, Tensor)>,
            mask: Option<&Tensor>,
        ) -> Result<(Tensor, Tensor, Tensor)> {
            let qkv = self.qkv.forward(x)?;
            let parts = qkv.f_chunk(3, -1)?;
            let q = split_heads(&parts[0], self.heads)?;
            let mut k = split_heads(&parts[1], self.heads)?;
            let mut v = split_heads(&parts[2], self.heads)?;
            if let Some((pk, pv)) = past {
                k = Tensor::f_cat(&[pk, &k], 2)?;
                v = Tensor::f_cat(&[pv, &v], 2)?;
            }
            let (out, _) = attend(&q, &k.f_transpose(-2, -1)?, &v, mask, false)?;
            Ok((self.out.forward(&merge_heads(&out)?)?, k, v))
        }
    }

    /// Cross-attention: q from the decoder, k and v from the encoder's
    /// output in one projection.
    struct CrossAttention {
        norm: Norm,
        q: Linear,
        kv: Linear,
        out: Linear,
        heads: i64,
    }

    impl CrossAttention {
        /// The encoder's keys (transposed, once per window) and values.
        fn keys_values(&self, audio: &Tensor) -> Result<(Tensor, Tensor)> {
            let kv = self.kv.forward(audio)?;
            let parts = kv.f_chunk(2, -1)?;
            Ok((
                split_heads(&parts[0], self.heads)?
                    .f_transpose(-2, -1)?
                    .f_contiguous()?,
                split_heads(&parts[1], self.heads)?,
            ))
        }

        fn forward(
            &self,
            x: &Tensor,
            k_t: &Tensor,
            v: &Tensor,
            want_weights: bool,
        ) -> Result<(Tensor, Option<Tensor>)> {
            let q = split_heads(&self.q.forward(x)?, self.heads)?;
            let (out, weights) = attend(&q, k_t, v, None, want_weights)?;
            Ok((self.out.forward(&merge_heads(&out)?)?, weights))
        }
    }

    /// Scaled dot-product attention over `[batch, heads, time, width]`,
    /// the keys given transposed.
    fn attend(
        q: &Tensor,
        k_t: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
        want_weights: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let width = q.size().last().copied().unwrap_or(1);
        let scale = 1.0 / (width as f64).sqrt();
        let mut scores = q.f_matmul(k_t)?.f_mul_scalar(scale)?;
        if let Some(mask) = mask {
            scores = scores.f_add(mask)?;
        }
        let weights = scores.f_softmax(-1, Kind::Float)?;
        let out = weights.f_matmul(v)?;
        Ok((out, want_weights.then_some(weights)))
    }

    struct Ffn {
        norm: Norm,
        up: Linear,
        down: Linear,
    }

    impl Ffn {
        fn forward(&self, x: &Tensor) -> Result<Tensor> {
            let h = self.norm.forward(x)?;
            self.down.forward(&self.up.forward(&h)?.f_gelu("none")?)
        }
    }

    fn split_heads(x: &Tensor, heads: i64) -> Result<Tensor> {
        let (b, t, d) = x.size3()?;
        Ok(x.f_reshape([b, t, heads, d / heads])?.f_transpose(1, 2)?)
    }

    fn merge_heads(x: &Tensor) -> Result<Tensor> {
        let (b, h, t, w) = x.size4()?;
        Ok(x.f_transpose(1, 2)?.f_reshape([b, t, h * w])?)
    }
}
