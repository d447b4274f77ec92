//! Reads a CTranslate2 `model.bin`: the flat binary CTranslate2 converters
//! write. Layout (little-endian): u32 format version, the spec name, u32
//! spec revision, u32 variable count, then per variable its name, u8 rank,
//! rank × u32 dims, u8 dtype, u32 byte count and the bytes; then u32 alias
//! count and (alias, target) name pairs. Strings are u16-length-prefixed and
//! NUL-terminated. Weights become f32 tensors (the CPU computes in f32).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail, ensure};
use candle_core::{Device, Tensor};

/// The variables of a model: tensors, and the scalars the spec stores
/// (`decoder/num_heads`, flags).
pub struct Variables {
    tensors: HashMap<String, Tensor>,
    scalars: HashMap<String, i64>,
}

impl Variables {
    /// Reads `path` onto `device`.
    pub fn read(path: &Path, device: &Device) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&bytes, device).with_context(|| format!("reading {}", path.display()))
    }

    fn parse(bytes: &[u8], device: &Device) -> Result<Self> {
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
        let mut tensors = HashMap::new();
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
            tensors.insert(name, Tensor::from_vec(values, dims, device)?);
        }
        if r.at < bytes.len() {
            let aliases = r.u32()?;
            for _ in 0..aliases {
                let alias = r.string()?;
                let target = r.string()?;
                if let Some(t) = tensors.get(&target).cloned() {
                    tensors.insert(alias, t);
                }
            }
        }
        Ok(Self { tensors, scalars })
    }

    /// A tensor by name.
    pub fn tensor(&self, name: &str) -> Result<Tensor> {
        self.tensors
            .get(name)
            .cloned()
            .with_context(|| format!("the model has no variable `{name}`"))
    }

    /// A scalar by name.
    pub fn scalar(&self, name: &str) -> Option<i64> {
        self.scalars.get(name).copied()
    }

    /// Whether a variable exists.
    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
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
