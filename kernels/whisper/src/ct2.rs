//! Reads a CTranslate2 `model.bin`: the flat binary CTranslate2 converters
//! write. Layout (little-endian): u32 format version, the spec name, u32
//! spec revision, u32 variable count, then per variable its name, u8 rank,
//! rank × u32 dims, u8 dtype, u32 byte count and the bytes; then u32 alias
//! count and (alias, target) name pairs. Strings are u16-length-prefixed and
//! NUL-terminated. Weights become f32 arrays (every runtime computes in
//! f32), which each network turns into its own tensors.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail, ensure};
use candle_core::{Device, Tensor};

use crate::network::Dims;

/// The variables of a model: f32 arrays, and the scalars the spec stores
/// (`decoder/num_heads`, flags).
pub struct Variables {
    arrays: HashMap<String, Array>,
    scalars: HashMap<String, i64>,
}

/// One weight: its shape and its values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The shape.
    pub dims: Vec<usize>,
    /// The values, `dims.iter().product()` of them.
    pub values: std::sync::Arc<[f32]>,
}

impl Variables {
    /// Reads `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&bytes).with_context(|| format!("reading {}", path.display()))
    }

    fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.u32()?;
        ensure!(
            (5..=6).contains(&version),
            "CTranslate2 format version {version} is not supported (5 or 6 are)"
        );
        let spec = r.string()?;
        ensure!(
            spec == "WhisperSpec",
            "this is a `{spec}` model, not Whisper"
        );
        let _revision = r.u32()?;
        let count = r.u32()?;
        let mut arrays = HashMap::new();
        let mut scalars = HashMap::new();
        for _ in 0..count {
            let name = r.string()?;
            let rank = r.u8()? as usize;
            let dims: Vec<usize> = (0..rank)
                .map(|_| r.u32().map(|d| d as usize))
                .collect::<Result<_>>()?;
            let dtype = r.u8()?;
            let len = r.u32()? as usize;
            let data = r.take(len)?;
            let elements: usize = dims.iter().product();
            let width = match dtype {
                0 | 3 => 4,
                1 => 1,
                2 | 4 => 2,
                other => bail!("variable `{name}` has an unknown dtype {other}"),
            };
            ensure!(
                elements * width == len,
                "variable `{name}`: {len} bytes for shape {dims:?} of dtype {dtype}"
            );
            if rank == 0 {
                let value = match dtype {
                    1 => data[0] as i8 as i64,
                    2 => i16::from_le_bytes([data[0], data[1]]) as i64,
                    3 => i32::from_le_bytes([data[0], data[1], data[2], data[3]]) as i64,
                    _ => continue,
                };
                scalars.insert(name, value);
                continue;
            }
            let values: Vec<f32> = match dtype {
                0 => data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                4 => data
                    .chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
                _ => bail!(
                    "variable `{name}`: quantized weights (dtype {dtype}) are not supported; convert the model with float16 or float32 weights"
                ),
            };
            let values = values.into();
            arrays.insert(name, Array { dims, values });
        }
        if r.at < bytes.len() {
            let aliases = r.u32()?;
            for _ in 0..aliases {
                let alias = r.string()?;
                let target = r.string()?;
                if let Some(a) = arrays.get(&target).cloned() {
                    arrays.insert(alias, a);
                }
            }
        }
        Ok(Self { arrays, scalars })
    }

    /// A weight by name.
    pub fn array(&self, name: &str) -> Result<&Array> {
        self.arrays
            .get(name)
            .with_context(|| format!("the model has no variable `{name}`"))
    }

    /// A weight by name as a candle tensor on the CPU.
    pub fn tensor(&self, name: &str) -> Result<Tensor> {
        let a = self.array(name)?;
        Ok(Tensor::from_slice(
            &a.values,
            a.dims.as_slice(),
            &Device::Cpu,
        )?)
    }

    /// A scalar by name.
    pub fn scalar(&self, name: &str) -> Option<i64> {
        self.scalars.get(name).copied()
    }

    /// Whether a variable exists.
    pub fn has(&self, name: &str) -> bool {
        self.arrays.contains_key(name)
    }

    /// A Whisper of these dimensions with random weights (seeded, so the
    /// same every time), named as a converted model's are: for tests and
    /// benchmarks of the networks, which no real weights may reach.
    /// Weights are small (±0.1 around 0, layer-norm gains around 1), so
    /// activations stay in the range a trained model's do.
    pub fn random(dims: &Dims, seed: u64) -> Self {
        let d = dims.d_model;
        let mut m = RandomWeights {
            random: Random(seed),
            arrays: HashMap::new(),
            d,
        };
        m.add("encoder/conv1/weight", &[d, dims.n_mels, 3], 0.0);
        m.add("encoder/conv1/bias", &[d], 0.0);
        m.add("encoder/conv2/weight", &[d, d, 3], 0.0);
        m.add("encoder/conv2/bias", &[d], 0.0);
        m.add("encoder/position_encodings/encodings", &[1500, d], 0.0);
        for i in 0..dims.encoder_layers {
            let p = format!("encoder/layer_{i}");
            m.self_attention(&p);
            m.ffn(&p);
        }
        m.norm("encoder/layer_norm");
        m.add("decoder/embeddings/weight", &[dims.n_vocab, d], 0.0);
        m.add(
            "decoder/position_encodings/encodings",
            &[dims.n_text_ctx, d],
            0.0,
        );
        for i in 0..dims.decoder_layers {
            let p = format!("decoder/layer_{i}");
            m.self_attention(&p);
            m.norm(&format!("{p}/attention/layer_norm"));
            m.linear(&format!("{p}/attention/linear_0"), d, d);
            m.linear(&format!("{p}/attention/linear_1"), 2 * d, d);
            m.linear(&format!("{p}/attention/linear_2"), d, d);
            m.ffn(&p);
        }
        m.norm("decoder/layer_norm");
        let scalars = HashMap::from([("decoder/num_heads".to_owned(), dims.n_heads as i64)]);
        Self {
            arrays: m.arrays,
            scalars,
        }
    }
}

/// Makes [`Variables::random`]'s weights.
struct RandomWeights {
    random: Random,
    arrays: HashMap<String, Array>,
    d: usize,
}

impl RandomWeights {
    fn add(&mut self, name: &str, shape: &[usize], centre: f32) {
        let n = shape.iter().product();
        let values = (0..n).map(|_| centre + 0.1 * self.random.next()).collect();
        let dims = shape.to_vec();
        self.arrays.insert(name.to_owned(), Array { dims, values });
    }

    fn linear(&mut self, p: &str, out: usize, inp: usize) {
        self.add(&format!("{p}/weight"), &[out, inp], 0.0);
        self.add(&format!("{p}/bias"), &[out], 0.0);
    }

    fn norm(&mut self, p: &str) {
        self.add(&format!("{p}/gamma"), &[self.d], 1.0);
        self.add(&format!("{p}/beta"), &[self.d], 0.0);
    }

    fn self_attention(&mut self, layer: &str) {
        let d = self.d;
        self.norm(&format!("{layer}/self_attention/layer_norm"));
        self.linear(&format!("{layer}/self_attention/linear_0"), 3 * d, d);
        self.linear(&format!("{layer}/self_attention/linear_1"), d, d);
    }

    fn ffn(&mut self, layer: &str) {
        let d = self.d;
        self.norm(&format!("{layer}/ffn/layer_norm"));
        self.linear(&format!("{layer}/ffn/linear_0"), 4 * d, d);
        self.linear(&format!("{layer}/ffn/linear_1"), d, 4 * d);
    }
}

/// splitmix64, as uniform floats in [-1, 1).
struct Random(u64);

impl Random {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            bail!("truncated at byte {} (wanted {n} more)", self.at);
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<String> {
        let b = self.take(2)?;
        let n = u16::from_le_bytes([b[0], b[1]]) as usize;
        let raw = self.take(n)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        Ok(String::from_utf8(raw.to_vec())?)
    }
}
