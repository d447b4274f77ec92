//! What the decoder needs of a Whisper network, whichever runtime runs it:
//! candle's on the CPU ([`crate::model::Whisper`]), or libtorch's on the CPU
//! or a GPU (`kino_torch::whisper`). Decoding, word timing and the
//! timestamp rules are the same code over either; the networks are checked
//! against each other on the same weights.

use anyhow::Result;

use crate::ct2::Variables;

/// The model's dimensions, read from its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// Mel bands it hears (80; 128 for large-v3).
    pub n_mels: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Vocabulary size.
    pub n_vocab: usize,
    /// Longest token sequence.
    pub n_text_ctx: usize,
    /// Encoder layers.
    pub encoder_layers: usize,
    /// Decoder layers.
    pub decoder_layers: usize,
}

impl Dims {
    /// Whisper tiny.en's dimensions.
    pub const TINY_EN: Dims = Dims {
        n_mels: 80,
        d_model: 384,
        n_heads: 6,
        n_vocab: 51_864,
        n_text_ctx: 448,
        encoder_layers: 4,
        decoder_layers: 4,
    };

    /// The dimensions of the network `v` holds.
    pub fn of(v: &Variables) -> Result<Self> {
        let conv1 = v.array("encoder/conv1/weight")?;
        let embeddings = v.array("decoder/embeddings/weight")?;
        let positions = v.array("decoder/position_encodings/encodings")?;
        let ([_, n_mels, _], [n_vocab, d_model], [n_text_ctx, _]) = (
            conv1.dims.as_slice(),
            embeddings.dims.as_slice(),
            positions.dims.as_slice(),
        ) else {
            anyhow::bail!(
                "the convolution, embeddings or positions have the wrong rank ({:?}, {:?}, {:?})",
                conv1.dims,
                embeddings.dims,
                positions.dims
            );
        };
        let count = |prefix: &str| {
            (0..)
                .take_while(|i| v.has(&format!("{prefix}/layer_{i}/ffn/linear_0/weight")))
                .count()
        };
        // Whisper's heads are 64 wide; the spec stores the count too.
        let n_heads = v
            .scalar("decoder/num_heads")
            .map_or(d_model / 64, |h| h as usize);
        anyhow::ensure!(
            n_heads > 0 && d_model.is_multiple_of(n_heads),
            "{n_heads} heads do not divide the width {d_model}"
        );
        Ok(Dims {
            n_mels: *n_mels,
            d_model: *d_model,
            n_heads,
            n_vocab: *n_vocab,
            n_text_ctx: *n_text_ctx,
            encoder_layers: count("encoder"),
            decoder_layers: count("decoder"),
        })
    }
}

/// A Whisper network, loaded on some device.
pub trait Network: Send + Sync {
    /// Its dimensions.
    fn dims(&self) -> Dims;

    /// Where it runs, for logs and notes (`cpu (candle)`, `cuda:0 (libtorch)`).
    fn runs_on(&self) -> String;

    /// Encodes one window of log-mel features (`n_mels × frames`, at most
    /// 3000 frames) and opens a decoding session over it.
    fn listen<'a>(&'a self, mel: &[f32]) -> Result<Box<dyn Listening + 'a>>;
}

/// A decoder over one encoded window: the tokens seen so far, cached.
pub trait Listening {
    /// Feeds `tokens` after those already seen and returns the logits of
    /// the next token, as f32 over the vocabulary.
    fn next_logits(&mut self, tokens: &[u32]) -> Result<Vec<f32>>;

    /// Runs `tokens` from the start (forgetting those seen) and returns,
    /// for each requested (layer, head), its cross-attention weights.
    fn cross_attention(
        &mut self,
        tokens: &[u32],
        heads: &[(usize, usize)],
    ) -> Result<Vec<Attention>>;
}

/// One head's cross-attention: for each token, its weights over the
/// encoder's frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    /// Rows: the tokens.
    pub tokens: usize,
    /// Columns: the encoder's frames (20 ms each).
    pub frames: usize,
    /// `tokens × frames` weights, row-major.
    pub weights: Vec<f32>,
}

impl Attention {
    /// Token `row`'s weights.
    pub fn row(&self, row: usize) -> &[f32] {
        &self.weights[row * self.frames..(row + 1) * self.frames]
    }
}

/// A log-mel window's frames, checked against the network's bands.
pub fn frames(mel: &[f32], dims: &Dims) -> Result<usize> {
    let frames = mel.len() / dims.n_mels;
    anyhow::ensure!(
        frames > 0 && frames * dims.n_mels == mel.len() && frames <= 3000,
        "{} log-mel values are not 1 to 3000 frames of {} bands",
        mel.len(),
        dims.n_mels
    );
    Ok(frames)
}

/// The decoder's causal mask for `n` new tokens after `past` seen ones:
/// `n × (past + n)` additive scores, `-inf` where a token would see one
/// after it; `None` for a single token, which sees everything before it.
pub fn causal_mask(n: usize, past: usize) -> Option<Vec<f32>> {
    (n > 1).then(|| {
        (0..n)
            .flat_map(|i| {
                (0..past + n).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })
            })
            .collect()
    })
}
