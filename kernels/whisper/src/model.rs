//! The Whisper network (an encoder over the log-mel spectrogram, a decoder
//! over tokens attending to it), on candle tensors on the CPU, with the
//! weights named as CTranslate2 stores them. The decoder keeps a key/value cache so each
//! greedy step costs one token, and can hand back its cross-attention
//! weights, which word timing needs.

use anyhow::{Context as _, Result};
use candle_core::{D, DType, Device, Module as _, Tensor};
use candle_nn::ops::softmax_last_dim;
use candle_nn::{Conv1d, Conv1dConfig, LayerNorm, Linear};

use crate::ct2::Variables;
use crate::network::{self, Attention, Dims, Listening, Network};

/// The network.
pub struct Whisper {
    /// Its dimensions.
    pub dims: Dims,
    encoder: Encoder,
    decoder: Decoder,
    device: Device,
}

impl Whisper {
    /// Builds the network from CTranslate2 variables.
    pub fn new(v: &Variables) -> Result<Self> {
        let dims = Dims::of(v)?;
        let n_heads = dims.n_heads;
        let encoder = Encoder {
            conv1: conv(v, "encoder/conv1", 1)?,
            conv2: conv(v, "encoder/conv2", 2)?,
            positions: v.tensor("encoder/position_encodings/encodings")?,
            layers: (0..dims.encoder_layers)
                .map(|i| {
                    let p = format!("encoder/layer_{i}");
                    Ok(EncoderLayer {
                        attention: SelfAttention::new(v, &format!("{p}/self_attention"), n_heads)?,
                        ffn: Ffn::new(v, &format!("{p}/ffn"))?,
                    })
                })
                .collect::<Result<_>>()?,
            norm: layer_norm(v, "encoder/layer_norm")?,
        };
        let decoder = Decoder {
            embeddings: v.tensor("decoder/embeddings/weight")?,
            positions: v.tensor("decoder/position_encodings/encodings")?,
            layers: (0..dims.decoder_layers)
                .map(|i| {
                    let p = format!("decoder/layer_{i}");
                    Ok(DecoderLayer {
                        attention: SelfAttention::new(v, &format!("{p}/self_attention"), n_heads)?,
                        cross: CrossAttention::new(v, &format!("{p}/attention"), n_heads)?,
                        ffn: Ffn::new(v, &format!("{p}/ffn"))?,
                    })
                })
                .collect::<Result<_>>()?,
            norm: layer_norm(v, "decoder/layer_norm")?,
        };
        Ok(Self {
            dims,
            encoder,
            decoder,
            device: Device::Cpu,
        })
    }

    /// Encodes one 30 s window of log-mel features (`n_mels × 3000`).
    pub fn encode(&self, mel: &[f32]) -> Result<Tensor> {
        let frames = mel.len() / self.dims.n_mels;
        let mel = Tensor::from_slice(mel, (1, self.dims.n_mels, frames), &self.device)?;
        self.encoder.forward(&mel)
    }

    /// A decoding session over one encoded window.
    pub fn session(&self, audio: &Tensor) -> Result<Session<'_>> {
        let cross = self
            .decoder
            .layers
            .iter()
            .map(|l| l.cross.keys_values(audio))
            .collect::<Result<_>>()?;
        Ok(Session {
            model: self,
            cross,
            cache: vec![None; self.dims.decoder_layers],
            len: 0,
        })
    }
}

impl Network for Whisper {
    fn dims(&self) -> Dims {
        self.dims
    }

    fn runs_on(&self) -> String {
        "cpu (candle)".to_owned()
    }

    fn listen<'a>(&'a self, mel: &[f32]) -> Result<Box<dyn Listening + 'a>> {
        network::frames(mel, &self.dims)?;
        let audio = self.encode(mel)?;
        Ok(Box::new(self.session(&audio)?))
    }
}

impl Listening for Session<'_> {
    fn next_logits(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        Session::next_logits(self, tokens)
    }

    fn cross_attention(
        &mut self,
        tokens: &[u32],
        heads: &[(usize, usize)],
    ) -> Result<Vec<Attention>> {
        Session::cross_attention(self, tokens, heads)?
            .into_iter()
            .map(|w| {
                let (tokens, frames) = w.dims2()?;
                let weights = w.flatten_all()?.to_vec1()?;
                Ok(Attention {
                    tokens,
                    frames,
                    weights,
                })
            })
            .collect()
    }
}

/// The decoder's state over one window: the encoder's keys and values for
/// cross-attention, and the tokens seen so far.
pub struct Session<'m> {
    model: &'m Whisper,
    cross: Vec<(Tensor, Tensor)>,
    cache: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl Session<'_> {
    /// Feeds `tokens` after those already seen and returns the logits of the
    /// next token, as f32 over the vocabulary.
    pub fn next_logits(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let x = self.run(tokens, None)?;
        let last = x.narrow(1, tokens.len() - 1, 1)?;
        let logits = self.model.decoder.logits(&last)?;
        Ok(logits.flatten_all()?.to_vec1()?)
    }

    /// Runs `tokens` from the start (no cache) and returns, for each
    /// requested (layer, head), its cross-attention weights as a
    /// `tokens × frames` tensor.
    pub fn cross_attention(
        &mut self,
        tokens: &[u32],
        heads: &[(usize, usize)],
    ) -> Result<Vec<Tensor>> {
        self.cache = vec![None; self.model.dims.decoder_layers];
        self.len = 0;
        let mut weights = Vec::new();
        self.run(tokens, Some((heads, &mut weights)))?;
        Ok(weights)
    }

    fn run(&mut self, tokens: &[u32], mut capture: Option<Capture<'_>>) -> Result<Tensor> {
        let d = &self.model.decoder;
        let device = &self.model.device;
        let n = tokens.len();
        anyhow::ensure!(
            self.len + n <= self.model.dims.n_text_ctx,
            "the decoder's context ({} tokens) is full",
            self.model.dims.n_text_ctx
        );
        let ids = Tensor::from_slice(tokens, n, device)?;
        let mut x = (d.embeddings.index_select(&ids, 0)? + d.positions.narrow(0, self.len, n)?)?
            .unsqueeze(0)?;
        let mask = causal_mask(n, self.len, device)?;
        for (i, layer) in d.layers.iter().enumerate() {
            let h = layer.attention.norm.forward(&x)?;
            let (attended, k, v) =
                layer
                    .attention
                    .forward_cached(&h, self.cache[i].as_ref(), mask.as_ref())?;
            self.cache[i] = Some((k, v));
            x = (x + attended)?;
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
                    out.push(w.get(0)?.get(head)?);
                }
            }
            x = (x + attended)?;
            x = (&x + layer.ffn.forward(&x)?)?;
        }
        self.len += n;
        Ok(x)
    }
}

/// Which (layer, head) cross-attention weights to keep, and where.
type Capture<'a> = (&'a [(usize, usize)], &'a mut Vec<Tensor>);

fn causal_mask(n: usize, past: usize, device: &Device) -> Result<Option<Tensor>> {
    network::causal_mask(n, past)
        .map(|values| Ok(Tensor::from_vec(values, (n, past + n), device)?))
        .transpose()
}

struct Encoder {
    conv1: Conv1d,
    conv2: Conv1d,
    positions: Tensor,
    layers: Vec<EncoderLayer>,
    norm: LayerNorm,
}

impl Encoder {
    fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let x = self.conv1.forward(mel)?.gelu_erf()?;
        let x = self.conv2.forward(&x)?.gelu_erf()?;
        let x = x.transpose(1, 2)?;
        let frames = x.dim(1)?;
        let mut x = x.broadcast_add(&self.positions.narrow(0, 0, frames)?)?;
        for layer in &self.layers {
            let h = layer.attention.norm.forward(&x)?;
            let (attended, _, _) = layer.attention.forward_cached(&h, None, None)?;
            x = (x + attended)?;
            x = (&x + layer.ffn.forward(&x)?)?;
        }
        Ok(self.norm.forward(&x)?)
    }
}

struct EncoderLayer {
    attention: SelfAttention,
    ffn: Ffn,
}

struct Decoder {
    embeddings: Tensor,
    positions: Tensor,
    layers: Vec<DecoderLayer>,
    norm: LayerNorm,
}

impl Decoder {
    /// Logits of one position (`x` is `[1, 1, d]`), as `[vocab, 1]`: the
    /// embedding matrix times the column, so the 51k × d matrix is read in
    /// place rather than transposed per token.
    fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.norm.forward(x)?;
        let d = x.dim(D::Minus1)?;
        let column = x.reshape((d, 1))?;
        Ok(self.embeddings.matmul(&column)?)
    }
}

struct DecoderLayer {
    attention: SelfAttention,
    cross: CrossAttention,
    ffn: Ffn,
}

/// Self-attention with q, k, v in one projection (`linear_0`).
struct SelfAttention {
    norm: LayerNorm,
    qkv: Linear,
    out: Linear,
    heads: usize,
}

impl SelfAttention {
    fn new(v: &Variables, p: &str, heads: usize) -> Result<Self> {
        Ok(Self {
            norm: layer_norm(v, &format!("{p}/layer_norm"))?,
            qkv: linear(v, &format!("{p}/linear_0"))?,
            out: linear(v, &format!("{p}/linear_1"))?,
            heads,
        })
    }

    /// Attends `x` (already normalised) to itself and to `past` keys and
    /// values; returns the output and the keys and values including `x`'s.
    fn forward_cached(
        &self,
        x: &Tensor,
        past: Option<&(Tensor, Tensor)>,
        mask: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let qkv = self.qkv.forward(x)?;
        let d = qkv.dim(D::Minus1)? / 3;
        let q = split_heads(&qkv.narrow(D::Minus1, 0, d)?, self.heads)?;
        let mut k = split_heads(&qkv.narrow(D::Minus1, d, d)?, self.heads)?;
        let mut v = split_heads(&qkv.narrow(D::Minus1, 2 * d, d)?, self.heads)?;
        if let Some((pk, pv)) = past {
            k = Tensor::cat(&[pk, &k], 2)?;
            v = Tensor::cat(&[pv, &v], 2)?;
        }
        let (out, _) = attend(&q, &k.t()?.contiguous()?, &v, mask, false)?;
        Ok((self.out.forward(&merge_heads(&out)?)?, k, v))
    }
}

/// Cross-attention: q from the decoder (`linear_0`), k and v from the
/// encoder's output in one projection (`linear_1`).
struct CrossAttention {
    norm: LayerNorm,
    q: Linear,
    kv: Linear,
    out: Linear,
    heads: usize,
}

impl CrossAttention {
    fn new(v: &Variables, p: &str, heads: usize) -> Result<Self> {
        Ok(Self {
            norm: layer_norm(v, &format!("{p}/layer_norm"))?,
            q: linear(v, &format!("{p}/linear_0"))?,
            kv: linear(v, &format!("{p}/linear_1"))?,
            out: linear(v, &format!("{p}/linear_2"))?,
            heads,
        })
    }

    /// The encoder's keys (transposed, `[b, h, width, frames]`, once per
    /// window rather than per token) and values.
    fn keys_values(&self, audio: &Tensor) -> Result<(Tensor, Tensor)> {
        let kv = self.kv.forward(audio)?;
        let d = kv.dim(D::Minus1)? / 2;
        Ok((
            split_heads(&kv.narrow(D::Minus1, 0, d)?, self.heads)?
                .t()?
                .contiguous()?,
            split_heads(&kv.narrow(D::Minus1, d, d)?, self.heads)?,
        ))
    }

    fn forward(
        &self,
        x: &Tensor,
        k: &Tensor,
        v: &Tensor,
        want_weights: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let q = split_heads(&self.q.forward(x)?, self.heads)?;
        let (out, weights) = attend(&q, k, v, None, want_weights)?;
        Ok((self.out.forward(&merge_heads(&out)?)?, weights))
    }
}

/// Scaled dot-product attention over `[batch, heads, time, width]`, the
/// keys given transposed (`[batch, heads, width, time]`).
fn attend(
    q: &Tensor,
    k_t: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    want_weights: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let scale = 1.0 / (q.dim(D::Minus1)? as f64).sqrt();
    let mut scores = (q.matmul(k_t)? * scale)?;
    if let Some(mask) = mask {
        scores = scores.broadcast_add(mask)?;
    }
    let weights = softmax_last_dim(&scores)?;
    let out = weights.matmul(v)?;
    Ok((out, want_weights.then_some(weights)))
}

struct Ffn {
    norm: LayerNorm,
    up: Linear,
    down: Linear,
}

impl Ffn {
    fn new(v: &Variables, p: &str) -> Result<Self> {
        Ok(Self {
            norm: layer_norm(v, &format!("{p}/layer_norm"))?,
            up: linear(v, &format!("{p}/linear_0"))?,
            down: linear(v, &format!("{p}/linear_1"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.norm.forward(x)?;
        Ok(self.down.forward(&self.up.forward(&h)?.gelu_erf()?)?)
    }
}

fn split_heads(x: &Tensor, heads: usize) -> Result<Tensor> {
    let (b, t, d) = x.dims3()?;
    Ok(x.reshape((b, t, heads, d / heads))?
        .transpose(1, 2)?
        .contiguous()?)
}

fn merge_heads(x: &Tensor) -> Result<Tensor> {
    let (b, h, t, w) = x.dims4()?;
    Ok(x.transpose(1, 2)?.reshape((b, t, h * w))?)
}

fn linear(v: &Variables, p: &str) -> Result<Linear> {
    Ok(Linear::new(
        v.tensor(&format!("{p}/weight"))?,
        Some(v.tensor(&format!("{p}/bias"))?),
    ))
}

fn layer_norm(v: &Variables, p: &str) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        v.tensor(&format!("{p}/gamma"))?,
        v.tensor(&format!("{p}/beta"))?,
        1e-5,
    ))
}

fn conv(v: &Variables, p: &str, stride: usize) -> Result<Conv1d> {
    let config = Conv1dConfig {
        padding: 1,
        stride,
        ..Default::default()
    };
    let weight = v.tensor(&format!("{p}/weight"))?;
    anyhow::ensure!(
        weight.dtype() == DType::F32,
        "{p}: weights must be f32 here"
    );
    Ok(Conv1d::new(
        weight,
        Some(v.tensor(&format!("{p}/bias")).context("conv bias")?),
        config,
    ))
}
