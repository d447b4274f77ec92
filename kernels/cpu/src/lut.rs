//! `.cube` 3D LUTs: parsing, writing, and tetrahedral application to packed
//! RGB frames, 8-bit and float.
//!
//! # The `.cube` format as read here
//!
//! - `TITLE "..."`, `#` comments (whole-line or trailing), blank lines, LF or
//!   CRLF line endings, an optional UTF-8 byte-order mark.
//! - `LUT_3D_SIZE n` with `n` in [`MIN_SIZE`]`..=`[`MAX_SIZE`].
//! - `LUT_1D_SIZE m` (`m` in `2..=`[`MAX_1D_SIZE`]): a per-channel *shaper*
//!   applied before the 3D table, as in Resolve-style files that carry both.
//!   Its `m` entries come first in the file, then the `n³` 3D entries. A file
//!   with only `LUT_1D_SIZE` is read as that 1D LUT followed by a 2-point
//!   identity lattice, which is exact.
//! - `DOMAIN_MIN r g b` / `DOMAIN_MAX r g b`: the input domain of the file,
//!   per channel. An input `x` maps to `(x - min) / (max - min)` of the first
//!   stage (the shaper if there is one, else the lattice), so the minimum is
//!   honoured, not just the maximum. Inputs outside the domain clamp to it.
//! - `LUT_1D_INPUT_RANGE lo hi` / `LUT_3D_INPUT_RANGE lo hi`: the domain of the
//!   shaper and of the lattice, the same on every channel. An input range is
//!   more specific than `DOMAIN_MIN`/`DOMAIN_MAX` and wins over them; a 1D
//!   range with no shaper is ignored.
//! - Table entries are three numbers per line, red index varying fastest, then
//!   green, then blue.
//!
//! Keywords are matched without regard to case, must come before the table,
//! and may appear once each. Errors name the line and quote the offending
//! text.
//!
//! # Application
//!
//! [`CubeLut::apply_rgb8`] and [`CubeLut::apply_rgb_f32`] interpolate
//! tetrahedrally and split the frame over the current rayon pool; inputs
//! outside the domain clamp to its edge. The float path does not clamp its
//! output.
//!
//! The 8-bit path folds the domain and the shaper into one 256-entry table
//! per channel (lattice cell and fraction for every input level) and rounds
//! to the nearest output level: an identity LUT returns its input exactly,
//! and any LUT lands within one level of a float64 evaluation. On x86-64 CPUs
//! with AVX-512F it runs sixteen pixels at a time, gathering the corners from
//! a 16-bit copy of the lattice (a quarter of the `f32` traffic, at most
//! 0.03 of a level of error) when the LUT's values span a range of 16 or
//! less, else from the `f32` lattice; elsewhere a portable kernel does one
//! pixel at a time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rayon::prelude::*;

/// The smallest `LUT_3D_SIZE` accepted.
pub const MIN_SIZE: usize = 2;
/// The largest `LUT_3D_SIZE` accepted.
pub const MAX_SIZE: usize = 129;
/// The largest `LUT_1D_SIZE` accepted (the smallest is 2).
pub const MAX_1D_SIZE: usize = 65536;

/// Pixels per parallel work item: large enough that scheduling costs
/// nothing, small enough that two threads stay balanced on small frames.
const RGB8_CHUNK_PIXELS: usize = 8192;
const F32_CHUNK_PIXELS: usize = 4096;

/// Why a LUT could not be read, built or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LutError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A token that should be a finite number is not one.
    #[error("line {line}: bad number {token:?} in {text:?}")]
    BadNumber {
        /// 1-based line number.
        line: usize,
        /// The token that failed to parse.
        token: String,
        /// The whole line.
        text: String,
    },
    /// A line carries the wrong number of values.
    #[error("line {line}: expected {expected} values, found {found} in {text:?}")]
    ValueCount {
        /// 1-based line number.
        line: usize,
        /// Values the line should carry.
        expected: usize,
        /// Values it carries.
        found: usize,
        /// The whole line.
        text: String,
    },
    /// The table has too many or too few entries for its declared sizes.
    #[error("line {line}: expected {expected} table entries, found {found} (at {text:?})")]
    EntryCount {
        /// 1-based line number: the first surplus entry, or the last line of
        /// the file when entries are missing.
        line: usize,
        /// `LUT_1D_SIZE + LUT_3D_SIZE³`.
        expected: usize,
        /// Entries in the file.
        found: usize,
        /// The text of that line.
        text: String,
    },
    /// A size keyword is outside its accepted range.
    #[error("line {line}: {keyword} must be in {min}..={max}, found {text:?}")]
    SizeOutOfRange {
        /// 1-based line number.
        line: usize,
        /// `LUT_3D_SIZE` or `LUT_1D_SIZE`.
        keyword: &'static str,
        /// Smallest accepted size.
        min: usize,
        /// Largest accepted size.
        max: usize,
        /// The whole line.
        text: String,
    },
    /// A keyword this parser does not know.
    #[error("line {line}: unknown keyword {keyword:?} in {text:?}")]
    UnknownKeyword {
        /// 1-based line number.
        line: usize,
        /// The keyword.
        keyword: String,
        /// The whole line.
        text: String,
    },
    /// A keyword given twice.
    #[error("line {line}: duplicate {keyword} in {text:?}")]
    DuplicateKeyword {
        /// 1-based line number of the second occurrence.
        line: usize,
        /// The keyword.
        keyword: &'static str,
        /// The whole line.
        text: String,
    },
    /// A keyword after the table data started.
    #[error("line {line}: keyword after the table data: {text:?}")]
    KeywordAfterData {
        /// 1-based line number.
        line: usize,
        /// The whole line.
        text: String,
    },
    /// Table data with no `LUT_3D_SIZE` (or `LUT_1D_SIZE`) before it, or no
    /// size at all.
    #[error("line {line}: missing LUT_3D_SIZE before {text:?}")]
    MissingSize {
        /// 1-based line number of the first entry (or the last line).
        line: usize,
        /// The text of that line (empty at the end of the file).
        text: String,
    },
    /// A domain or input range whose minimum is not below its maximum.
    #[error("line {line}: domain min {min} is not below max {max} in {text:?}")]
    DomainOrder {
        /// 1-based line number.
        line: usize,
        /// The minimum.
        min: f32,
        /// The maximum.
        max: f32,
        /// The whole line.
        text: String,
    },
    /// A size passed to a constructor is outside its accepted range.
    #[error("lut size {size} out of range {min}..={max}")]
    BadSize {
        /// The size asked for.
        size: usize,
        /// Smallest accepted size.
        min: usize,
        /// Largest accepted size.
        max: usize,
    },
    /// A packed RGB buffer whose length is not a whole number of pixels.
    #[error("buffer length {len} is not a multiple of 3")]
    BufferLength {
        /// The length, in samples.
        len: usize,
    },
}

/// A per-channel 1D LUT applied before the 3D lattice, linearly interpolated.
#[derive(Debug, Clone, PartialEq)]
pub struct Shaper {
    entries: Vec<[f32; 3]>,
    domain_min: [f32; 3],
    domain_max: [f32; 3],
}

impl Shaper {
    /// Number of entries per channel.
    pub fn size(&self) -> usize {
        self.entries.len()
    }

    /// The entries, one `[r, g, b]` per input step.
    pub fn entries(&self) -> &[[f32; 3]] {
        &self.entries
    }

    /// The input domain's minimum, per channel.
    pub fn domain_min(&self) -> [f32; 3] {
        self.domain_min
    }

    /// The input domain's maximum, per channel.
    pub fn domain_max(&self) -> [f32; 3] {
        self.domain_max
    }

    /// Evaluates channel `c` at `x` (in f64, for table building).
    fn eval(&self, c: usize, x: f64) -> f64 {
        let m = self.entries.len();
        let t = normalise(x, self.domain_min[c], self.domain_max[c]) * (m - 1) as f64;
        let i = (t as usize).min(m - 2);
        let f = t - i as f64;
        let a = f64::from(self.entries[i][c]);
        let b = f64::from(self.entries[i + 1][c]);
        a + (b - a) * f
    }

    /// Evaluates channel `c` at `x` in f32, for the float path.
    #[inline]
    fn eval_f32(&self, c: usize, x: f32) -> f32 {
        let m = self.entries.len();
        let lo = self.domain_min[c];
        let t = unit_f32((x - lo) / (self.domain_max[c] - lo)) * (m - 1) as f32;
        let i = (t as usize).min(m - 2);
        let f = t - i as f32;
        let a = self.entries[i][c];
        let b = self.entries[i + 1][c];
        a + (b - a) * f
    }
}

/// A 3D LUT, optionally preceded by a 1D shaper, as read from a `.cube` file.
#[derive(Clone)]
pub struct CubeLut {
    title: Option<String>,
    size: usize,
    /// `size³` points, red fastest; the fourth lane is padding so a point is
    /// one aligned 16-byte load.
    lattice: Vec<[f32; 4]>,
    domain_min: [f32; 3],
    domain_max: [f32; 3],
    shaper: Option<Shaper>,
    /// The lattice in 16 bits for the SIMD 8-bit kernel (`None` inside when
    /// its values span too wide a range); built on first use.
    packed: OnceLock<Option<Packed>>,
}

impl PartialEq for CubeLut {
    fn eq(&self, other: &Self) -> bool {
        // `packed` is derived from the lattice.
        self.title == other.title
            && self.size == other.size
            && self.lattice == other.lattice
            && self.domain_min == other.domain_min
            && self.domain_max == other.domain_max
            && self.shaper == other.shaper
    }
}

impl std::fmt::Debug for CubeLut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CubeLut")
            .field("title", &self.title)
            .field("size", &self.size)
            .field("domain_min", &self.domain_min)
            .field("domain_max", &self.domain_max)
            .field("shaper_size", &self.shaper.as_ref().map(Shaper::size))
            .finish_non_exhaustive()
    }
}

/// Maps `x` into `[0, 1]` over `[lo, hi]`, clamping (NaN maps to 0).
fn normalise(x: f64, lo: f32, hi: f32) -> f64 {
    let lo = f64::from(lo);
    let hi = f64::from(hi);
    let u = (x - lo) / (hi - lo);
    // Not `clamp`: that keeps NaN, and NaN must land somewhere.
    if u >= 0.0 { u.min(1.0) } else { 0.0 }
}

/// Clamps to `[0, 1]`, NaN to 0.
fn unit_f32(u: f32) -> f32 {
    if u >= 0.0 { u.min(1.0) } else { 0.0 }
}

impl CubeLut {
    /// The identity LUT of the given lattice size.
    pub fn identity(size: usize) -> Result<Self, LutError> {
        Self::from_fn(size, |rgb| rgb)
    }

    /// Builds a LUT of the given lattice size by sampling `f` at every lattice
    /// point; `f` receives the point's coordinates in `[0, 1]` (red, green,
    /// blue) and returns the output colour. The domain is `[0, 1]`.
    pub fn from_fn(size: usize, mut f: impl FnMut([f32; 3]) -> [f32; 3]) -> Result<Self, LutError> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(LutError::BadSize {
                size,
                min: MIN_SIZE,
                max: MAX_SIZE,
            });
        }
        let scale = 1.0 / (size - 1) as f64;
        let coord = |i: usize| (i as f64 * scale) as f32;
        let mut lattice = Vec::with_capacity(size * size * size);
        for b in 0..size {
            for g in 0..size {
                for r in 0..size {
                    let [x, y, z] = f([coord(r), coord(g), coord(b)]);
                    lattice.push([x, y, z, 0.0]);
                }
            }
        }
        Ok(Self {
            title: None,
            size,
            lattice,
            domain_min: [0.0; 3],
            domain_max: [1.0; 3],
            shaper: None,
            packed: OnceLock::new(),
        })
    }

    /// Reads a `.cube` file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, LutError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| LutError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        parse_cube(&text)
    }

    /// The `TITLE`, if the file had one.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The lattice size (`LUT_3D_SIZE`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The lattice point at red index `r`, green `g`, blue `b`.
    ///
    /// # Panics
    ///
    /// If an index is not below [`CubeLut::size`].
    pub fn entry(&self, r: usize, g: usize, b: usize) -> [f32; 3] {
        let n = self.size;
        assert!(r < n && g < n && b < n, "lattice index out of range");
        let [x, y, z, _] = self.lattice[r + n * (g + n * b)];
        [x, y, z]
    }

    /// The lattice's input domain minimum, per channel (after the shaper, if
    /// any).
    pub fn domain_min(&self) -> [f32; 3] {
        self.domain_min
    }

    /// The lattice's input domain maximum, per channel.
    pub fn domain_max(&self) -> [f32; 3] {
        self.domain_max
    }

    /// The 1D shaper applied before the lattice, if any.
    pub fn shaper(&self) -> Option<&Shaper> {
        self.shaper.as_ref()
    }

    /// Writes the LUT as `.cube` text that [`parse_cube`] reads back to an
    /// equal LUT (numbers are written in their shortest exact form).
    pub fn to_cube_string(&self) -> String {
        let n = self.size;
        let mut out = String::with_capacity(n * n * n * 30 + 256);
        // `write!` into a String cannot fail.
        if let Some(title) = &self.title {
            // A title read from an unquoted `TITLE` line may hold quotes:
            // written unquoted it reads back whole (it is trimmed and does
            // not start with a quote).
            if title.contains('"') {
                let _ = writeln!(out, "TITLE {title}");
            } else {
                let _ = writeln!(out, "TITLE \"{title}\"");
            }
        }
        let default_domain = |lo: [f32; 3], hi: [f32; 3]| lo == [0.0; 3] && hi == [1.0; 3];
        let write_domain = |out: &mut String, lo: [f32; 3], hi: [f32; 3]| {
            let _ = writeln!(out, "DOMAIN_MIN {} {} {}", lo[0], lo[1], lo[2]);
            let _ = writeln!(out, "DOMAIN_MAX {} {} {}", hi[0], hi[1], hi[2]);
        };
        if let Some(shaper) = &self.shaper {
            let _ = writeln!(out, "LUT_1D_SIZE {}", shaper.size());
            if !default_domain(shaper.domain_min, shaper.domain_max) {
                write_domain(&mut out, shaper.domain_min, shaper.domain_max);
            }
            let _ = writeln!(out, "LUT_3D_SIZE {n}");
            if !default_domain(self.domain_min, self.domain_max) {
                // Only LUT_3D_INPUT_RANGE can give a lattice domain behind a
                // shaper, so it is the same on every channel.
                let _ = writeln!(
                    out,
                    "LUT_3D_INPUT_RANGE {} {}",
                    self.domain_min[0], self.domain_max[0]
                );
            }
        } else {
            let _ = writeln!(out, "LUT_3D_SIZE {n}");
            if !default_domain(self.domain_min, self.domain_max) {
                write_domain(&mut out, self.domain_min, self.domain_max);
            }
        }
        out.push('\n');
        if let Some(shaper) = &self.shaper {
            for [r, g, b] in &shaper.entries {
                let _ = writeln!(out, "{r} {g} {b}");
            }
        }
        for [r, g, b, _] in &self.lattice {
            let _ = writeln!(out, "{r} {g} {b}");
        }
        out
    }

    /// Applies the LUT in place to a packed RGB24 frame (any number of rows;
    /// only the pixel count matters), in parallel on the current rayon pool.
    pub fn apply_rgb8(&self, frame: &mut [u8]) -> Result<(), LutError> {
        self.apply_rgb8_with(frame, Rgb8Path::detect())
    }

    /// [`CubeLut::apply_rgb8`] through the portable kernel only, one pixel at
    /// a time without SIMD: the exact reference for the CUDA twin, which
    /// computes the same f32 operations (the AVX-512 kernel fuses
    /// multiply-adds and may land one level away).
    pub fn apply_rgb8_portable(&self, frame: &mut [u8]) -> Result<(), LutError> {
        self.apply_rgb8_with(frame, Rgb8Path::Scalar)
    }

    /// [`CubeLut::apply_rgb8`] with the kernel chosen by the caller.
    pub(crate) fn apply_rgb8_with(&self, frame: &mut [u8], path: Rgb8Path) -> Result<(), LutError> {
        if !frame.len().is_multiple_of(3) {
            return Err(LutError::BufferLength { len: frame.len() });
        }
        let tables = self.rgb8_tables();
        let kernel = Rgb8Kernel {
            tables: &tables,
            lattice: &self.lattice,
            packed: self.packed(),
            size: self.size,
        };
        frame
            .par_chunks_mut(RGB8_CHUNK_PIXELS * 3)
            .for_each(|chunk| kernel.run(chunk, path));
        Ok(())
    }

    /// Applies the LUT in place to packed float RGB (`[r, g, b, r, g, b, ...]`),
    /// in parallel on the current rayon pool. Inputs outside the domain clamp;
    /// outputs are not clamped.
    pub fn apply_rgb_f32(&self, pixels: &mut [f32]) -> Result<(), LutError> {
        if !pixels.len().is_multiple_of(3) {
            return Err(LutError::BufferLength { len: pixels.len() });
        }
        let n1 = (self.size - 1) as f32;
        let mut lo = [0f32; 3];
        let mut scale = [0f32; 3];
        for c in 0..3 {
            lo[c] = self.domain_min[c];
            scale[c] = n1 / (self.domain_max[c] - self.domain_min[c]);
        }
        let strides = self.strides();
        let max_index = self.size - 2;
        pixels
            .par_chunks_mut(F32_CHUNK_PIXELS * 3)
            .for_each(|chunk| {
                for px in chunk.chunks_exact_mut(3) {
                    let mut base = 0usize;
                    let mut frac = [0f32; 3];
                    for c in 0..3 {
                        let mut x = px[c];
                        if let Some(shaper) = &self.shaper {
                            x = shaper.eval_f32(c, x);
                        }
                        // `max`/`min` rather than `clamp`: NaN becomes 0.
                        let t = ((x - lo[c]) * scale[c]).max(0.0).min(n1);
                        let i = (t as usize).min(max_index);
                        frac[c] = t - i as f32;
                        base += i * strides[c];
                    }
                    let out = tetrahedral(&self.lattice, base, frac, strides);
                    px.copy_from_slice(&out[..3]);
                }
            });
        Ok(())
    }

    /// What the 8-bit kernel looks up, for its GPU twin: for each channel
    /// and input level, the lattice cell's offset along that channel and the
    /// fraction within it (the domain and the shaper folded in), and the
    /// lattice itself. A kernel that interpolates these tetrahedrally, as
    /// [`CubeLut::apply_rgb8`]'s scalar path does, gives its results.
    pub fn rgb8_plan(&self) -> Rgb8Plan<'_> {
        let tables = self.rgb8_tables();
        let mut plan = Rgb8Plan {
            offsets: [[0; 256]; 3],
            fracs: [[0.0; 256]; 3],
            lattice: &self.lattice,
            size: self.size,
        };
        for c in 0..3 {
            for (v, axis) in tables.axes[c].iter().enumerate() {
                plan.offsets[c][v] = axis.offset;
                plan.fracs[c][v] = axis.frac;
            }
        }
        plan
    }

    /// Lattice strides of the red, green and blue indices, in points.
    fn strides(&self) -> [usize; 3] {
        [1, self.size, self.size * self.size]
    }

    /// The 16-bit copy of the lattice, built on first use.
    fn packed(&self) -> Option<&Packed> {
        self.packed
            .get_or_init(|| Packed::new(&self.lattice))
            .as_ref()
    }

    /// For each channel and each 8-bit input level, where it lands in the
    /// lattice, with the domain and the shaper folded in.
    fn rgb8_tables(&self) -> Box<Rgb8Tables> {
        let n1 = (self.size - 1) as f64;
        // Without a shaper the map is affine: t = level * scale + offset.
        // The tables then hold exactly what the SIMD kernel computes (the
        // same f32 fused multiply-add), so the two kernels agree bit for bit.
        let affine = self.shaper.is_none().then(|| {
            let mut scale = [0f32; 3];
            let mut offset = [0f32; 3];
            for c in 0..3 {
                let lo = f64::from(self.domain_min[c]);
                let width = f64::from(self.domain_max[c]) - lo;
                scale[c] = (n1 / (255.0 * width)) as f32;
                offset[c] = (-lo * n1 / width) as f32;
            }
            Affine { scale, offset }
        });
        let mut tables = Box::new(Rgb8Tables {
            coords: [[0.0; 256]; 3],
            axes: [[Axis {
                offset: 0,
                frac: 0.0,
            }; 256]; 3],
            affine,
        });
        let top = n1 as f32;
        let affine = tables.affine;
        let coordinate = |c: usize, v: usize| -> f32 {
            let t = match &affine {
                Some(a) => (v as f32).mul_add(a.scale[c], a.offset[c]),
                None => {
                    let mut x = v as f64 / 255.0;
                    if let Some(shaper) = &self.shaper {
                        x = shaper.eval(c, x);
                    }
                    (normalise(x, self.domain_min[c], self.domain_max[c]) * n1) as f32
                }
            };
            t.max(0.0).min(top)
        };
        let Rgb8Tables { coords, axes, .. } = &mut *tables;
        for (c, stride) in self.strides().into_iter().enumerate() {
            for (v, (coord, axis)) in coords[c].iter_mut().zip(&mut axes[c]).enumerate() {
                let t = coordinate(c, v);
                // t - i is exact in f32 (t is in [i, 2i], or i is 0), so the
                // kernels that split t themselves see the same fraction.
                let i = (t as usize).min(self.size - 2);
                *coord = t;
                *axis = Axis {
                    // At most 128 * 129², well within u32.
                    offset: (i * stride) as u32,
                    frac: t - i as f32,
                };
            }
        }
        tables
    }
}

/// The 8-bit kernel's inputs ([`CubeLut::rgb8_plan`]).
#[derive(Debug, Clone)]
pub struct Rgb8Plan<'a> {
    /// Per channel (red, green, blue) and input level: the offset, in
    /// lattice points, of the cell's origin along that channel (at most
    /// `size - 2` steps, so the far corner is always inside the lattice).
    pub offsets: [[u32; 256]; 3],
    /// Per channel and input level: the fraction within the cell, in `[0, 1]`.
    pub fracs: [[f32; 256]; 3],
    /// `size³` points, red fastest, each `[r, g, b, 0]`.
    pub lattice: &'a [[f32; 4]],
    /// Points along each axis.
    pub size: usize,
}

/// The 8-bit kernel's per-level tables, for each channel.
struct Rgb8Tables {
    /// Lattice coordinate in `[0, size - 1]`.
    coords: [[f32; 256]; 3],
    /// The same, split into the cell's offset along the channel and the
    /// fraction within it.
    axes: [[Axis; 256]; 3],
    /// When the level-to-coordinate map is affine (no shaper), its
    /// coefficients, so the SIMD kernel can compute instead of look up.
    affine: Option<Affine>,
}

/// `t = level * scale + offset` (then clamped to the lattice), per channel.
#[derive(Debug, Clone, Copy)]
struct Affine {
    scale: [f32; 3],
    offset: [f32; 3],
}

/// One channel's position in the lattice for one input level.
#[derive(Debug, Clone, Copy)]
struct Axis {
    /// Lattice offset (in points) of the cell origin along this channel.
    offset: u32,
    /// Fraction within the cell, in `[0, 1]`.
    frac: f32,
}

/// The lattice quantised to 16 bits a channel, one `u64` a point (red in the
/// low bits, then green, then blue), for the SIMD 8-bit kernel: a quarter of
/// the memory traffic of `f32` points. A value is `lo + q * step`.
#[derive(Clone)]
struct Packed {
    points: Vec<u64>,
    lo: f32,
    step: f32,
}

/// The widest value range [`Packed`] is used for: a quantisation step of at
/// most 16 / 65535, so at most 0.03 of an output level of error.
const PACKED_MAX_RANGE: f64 = 16.0;

impl Packed {
    fn new(lattice: &[[f32; 4]]) -> Option<Self> {
        let values = || lattice.iter().flat_map(|p| &p[..3]).map(|&v| f64::from(v));
        let lo = values().fold(f64::INFINITY, f64::min);
        let hi = values().fold(f64::NEG_INFINITY, f64::max);
        if !(lo.is_finite() && hi.is_finite() && hi - lo <= PACKED_MAX_RANGE) {
            return None;
        }
        // Quantise against the f32 values the kernel will reconstruct with.
        let lo32 = lo as f32;
        let step32 = ((hi - lo) / 65535.0) as f32;
        let (lo, step) = (f64::from(lo32), f64::from(step32));
        let quantise = |v: f32| -> u64 {
            if step == 0.0 {
                return 0;
            }
            ((f64::from(v) - lo) / step).round().clamp(0.0, 65535.0) as u64
        };
        let points = lattice
            .iter()
            .map(|&[r, g, b, _]| quantise(r) | quantise(g) << 16 | quantise(b) << 32)
            .collect();
        Some(Self {
            points,
            lo: lo32,
            step: step32,
        })
    }
}

/// Which 8-bit kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rgb8Path {
    /// Portable code, one pixel at a time.
    Scalar,
    /// AVX-512F, sixteen pixels at a time (the tail goes through the scalar
    /// kernel).
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Rgb8Path {
    /// The fastest kernel this CPU runs.
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Self::Avx512;
        }
        Self::Scalar
    }
}

/// Tetrahedral interpolation in the cell whose origin is `lattice[base]`, at
/// fractions `f` (red, green, blue) in `[0, 1]`.
///
/// The cell is split along its main diagonal into six tetrahedra; sorting
/// the fractions as `a >= b >= c` picks the one holding the point: its corners
/// are the origin, one step along the largest fraction's axis, one more along
/// the middle one's, and the far corner, with weights `1 - a`, `a - b`,
/// `b - c` and `c`. Written as selects, not six cases: ties give zero
/// weights to corners that are still inside the cell.
#[inline(always)]
fn tetrahedral(lattice: &[[f32; 4]], base: usize, f: [f32; 3], strides: [usize; 3]) -> [f32; 4] {
    let [fr, fg, fb] = f;
    let [sr, sg, sb] = strides;
    let (hi_rg, s_hi_rg) = if fr >= fg { (fr, sr) } else { (fg, sg) };
    let (lo_rg, s_lo_rg) = if fr >= fg { (fg, sg) } else { (fr, sr) };
    let (a, s_a) = if hi_rg >= fb {
        (hi_rg, s_hi_rg)
    } else {
        (fb, sb)
    };
    let (c, s_c) = if lo_rg < fb {
        (lo_rg, s_lo_rg)
    } else {
        (fb, sb)
    };
    let b = lo_rg.max(hi_rg.min(fb));
    let all = sr + sg + sb;
    let p0 = lattice[base];
    let p1 = lattice[base + s_a];
    let p2 = lattice[base + all - s_c];
    let p3 = lattice[base + all];
    let (w0, w1, w2, w3) = (1.0 - a, a - b, b - c, c);
    let mut out = [0f32; 4];
    for k in 0..4 {
        out[k] = w0 * p0[k] + w1 * p1[k] + w2 * p2[k] + w3 * p3[k];
    }
    out
}

/// The 8-bit kernel's per-call state.
struct Rgb8Kernel<'a> {
    tables: &'a Rgb8Tables,
    /// `size³` points; every index the kernels form is inside it because the
    /// tables keep each cell origin at most `size - 2` along each channel.
    lattice: &'a [[f32; 4]],
    /// The same points, 16-bit, when their range allows.
    packed: Option<&'a Packed>,
    size: usize,
}

impl Rgb8Kernel<'_> {
    fn run(&self, chunk: &mut [u8], path: Rgb8Path) {
        match path {
            Rgb8Path::Scalar => self.run_scalar(chunk),
            #[cfg(target_arch = "x86_64")]
            Rgb8Path::Avx512 => {
                // Checked here, where it guards the call (a cached load).
                if !std::arch::is_x86_feature_detected!("avx512f") {
                    return self.run_scalar(chunk);
                }
                let split = chunk.len() / avx512::BLOCK_BYTES * avx512::BLOCK_BYTES;
                let (head, tail) = chunk.split_at_mut(split);
                // SAFETY: the CPU supports AVX-512F, checked just above.
                unsafe { avx512::run(self, head) };
                self.run_scalar(tail);
            }
        }
    }

    fn run_scalar(&self, chunk: &mut [u8]) {
        let [tr, tg, tb] = &self.tables.axes;
        let strides = [1, self.size, self.size * self.size];
        for px in chunk.chunks_exact_mut(3) {
            let r = tr[usize::from(px[0])];
            let g = tg[usize::from(px[1])];
            let b = tb[usize::from(px[2])];
            let base = (r.offset + g.offset + b.offset) as usize;
            let out = tetrahedral(self.lattice, base, [r.frac, g.frac, b.frac], strides);
            for k in 0..3 {
                // Round to nearest; `as u8` saturates (and maps NaN to 0).
                px[k] = (out[k] * 255.0 + 0.5) as u8;
            }
        }
    }
}

/// The AVX-512 8-bit kernel: sixteen pixels per step, lattice corners read
/// with gathers.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Packed, Rgb8Kernel};

    /// Sixteen RGB24 pixels.
    pub(super) const BLOCK_BYTES: usize = 48;

    /// Indices for `_mm512_permutex2var_epi32` that pull one channel out of
    /// 48 zero-extended bytes held in three vectors `a | b | c`: first from
    /// `a | b`, then from `(that) | c`.
    const fn deinterleave(channel: usize) -> [[i32; 16]; 2] {
        let mut idx = [[0; 16]; 2];
        let mut j = 0;
        while j < 16 {
            let e = 3 * j + channel;
            if e < 32 {
                idx[0][j] = e as i32;
                idx[1][j] = j as i32;
            } else {
                idx[1][j] = (e - 32 + 16) as i32;
            }
            j += 1;
        }
        idx
    }

    /// Indices that build the `q`-th sixteen values of the interleaved output
    /// from the channel vectors: first from `r | g`, then from `(that) | b`.
    const fn interleave(q: usize) -> [[i32; 16]; 2] {
        let mut idx = [[0; 16]; 2];
        let mut k = 0;
        while k < 16 {
            let e = 16 * q + k;
            let pixel = (e / 3) as i32;
            match e % 3 {
                0 => {
                    idx[0][k] = pixel;
                    idx[1][k] = k as i32;
                }
                1 => {
                    idx[0][k] = 16 + pixel;
                    idx[1][k] = k as i32;
                }
                _ => idx[1][k] = 16 + pixel,
            }
            k += 1;
        }
        idx
    }

    /// Even (low) and odd (high) dwords of two vectors of eight qwords.
    const fn halves(odd: bool) -> [i32; 16] {
        let mut idx = [0; 16];
        let mut k = 0;
        while k < 16 {
            idx[k] = (2 * k + odd as usize) as i32;
            k += 1;
        }
        idx
    }

    const DEINTERLEAVE: [[[i32; 16]; 2]; 3] = [deinterleave(0), deinterleave(1), deinterleave(2)];
    const INTERLEAVE: [[[i32; 16]; 2]; 3] = [interleave(0), interleave(1), interleave(2)];
    const LOW_DWORDS: [i32; 16] = halves(false);
    const HIGH_DWORDS: [i32; 16] = halves(true);

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn vector(values: &[i32; 16]) -> __m512i {
        // SAFETY: reads exactly the 64 bytes of `values`.
        unsafe { _mm512_loadu_si512(values.as_ptr().cast()) }
    }

    /// Grades `frame`, whose length must be a multiple of [`BLOCK_BYTES`]
    /// (any remainder is left alone).
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run(kernel: &Rgb8Kernel<'_>, frame: &mut [u8]) {
        match (kernel.tables.affine.is_some(), kernel.packed) {
            (true, Some(packed)) => run_with::<true, true>(kernel, Some(packed), frame),
            (false, Some(packed)) => run_with::<false, true>(kernel, Some(packed), frame),
            (true, None) => run_with::<true, false>(kernel, None, frame),
            (false, None) => run_with::<false, false>(kernel, None, frame),
        }
    }

    /// The loop, specialised on whether input levels map to the lattice by
    /// arithmetic (`AFFINE`) or through the tables, and on whether the
    /// lattice is read from `packed` (`PACKED`, which `packed` must then be)
    /// or from the `f32` points.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn run_with<const AFFINE: bool, const PACKED: bool>(
        kernel: &Rgb8Kernel<'_>,
        packed: Option<&Packed>,
        frame: &mut [u8],
    ) {
        if PACKED != packed.is_some() {
            // Unreachable through `run`; refusing keeps the gathers below
            // away from a null table.
            return;
        }
        let n = kernel.size;
        let tables = kernel.tables;
        let affine = tables.affine.unwrap_or(super::Affine {
            scale: [0.0; 3],
            offset: [0.0; 3],
        });
        let level_scale = affine.scale.map(|v| _mm512_set1_ps(v));
        let level_offset = affine.offset.map(|v| _mm512_set1_ps(v));
        let coords = tables.coords.each_ref().map(|t| t.as_ptr());
        let top = _mm512_set1_ps((n - 1) as f32);
        let max_cell = _mm512_set1_ps((n - 2) as f32);
        // Indices count points for the packed lattice, floats (four per
        // point) for the f32 one.
        let unit = if PACKED { 1 } else { 4 };
        let stride = [unit, unit * n, unit * n * n].map(|s| s as i32);
        let stride_v = stride.map(|s| _mm512_set1_epi32(s));
        let stride_f = stride.map(|s| _mm512_set1_ps(s as f32));
        let far = _mm512_set1_epi32(stride[0] + stride[1] + stride[2]);
        let one = _mm512_set1_ps(1.0);
        let zero = _mm512_setzero_ps();
        let max_level = _mm512_set1_ps(255.0);
        // Output level = value * 255 + 0.5, truncated; for the packed
        // lattice value = lo + q * step (the weights sum to one).
        let (out_scale, out_offset) = match packed {
            Some(p) => (p.step * 255.0, p.lo.mul_add(255.0, 0.5)),
            None => (255.0, 0.5),
        };
        let out_scale = _mm512_set1_ps(out_scale);
        let out_offset = _mm512_set1_ps(out_offset);
        let low16 = _mm512_set1_epi32(0xffff);
        let de = DEINTERLEAVE.map(|[a, b]| [vector(&a), vector(&b)]);
        let inter = INTERLEAVE.map(|[a, b]| [vector(&a), vector(&b)]);
        let low_dwords = vector(&LOW_DWORDS);
        let high_dwords = vector(&HIGH_DWORDS);
        let lattice: *const f32 = kernel.lattice.as_ptr().cast();
        let points: *const u64 = packed.map_or(std::ptr::null(), |p| p.points.as_ptr());

        for block in frame.chunks_exact_mut(BLOCK_BYTES) {
            let p = block.as_mut_ptr();
            // SAFETY: three 16-byte loads inside the 48-byte block.
            let (a, b, c) = unsafe {
                (
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(p.cast())),
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(p.add(16).cast())),
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(p.add(32).cast())),
                )
            };
            let level = |[first, second]: [__m512i; 2]| {
                _mm512_permutex2var_epi32(_mm512_permutex2var_epi32(a, first, b), second, c)
            };
            let levels = [level(de[0]), level(de[1]), level(de[2])];
            let t: [__m512; 3] = if AFFINE {
                [0, 1, 2].map(|ch| {
                    let t = _mm512_fmadd_ps(
                        _mm512_cvtepi32_ps(levels[ch]),
                        level_scale[ch],
                        level_offset[ch],
                    );
                    _mm512_min_ps(_mm512_max_ps(t, zero), top)
                })
            } else {
                // SAFETY: every lane is a byte value, 0..=255, and each table
                // has 256 entries.
                unsafe {
                    [
                        _mm512_i32gather_ps::<4>(levels[0], coords[0]),
                        _mm512_i32gather_ps::<4>(levels[1], coords[1]),
                        _mm512_i32gather_ps::<4>(levels[2], coords[2]),
                    ]
                }
            };
            // Coordinates are in [0, n - 1]; the cell origin stops at n - 2.
            let cell = t.map(|t| {
                _mm512_min_ps(
                    _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(t),
                    max_cell,
                )
            });
            let [fr, fg, fb] = [0, 1, 2].map(|k| _mm512_sub_ps(t[k], cell[k]));
            // Exact: at most 4 * 129³ < 2^24.
            let base = _mm512_cvtps_epi32(_mm512_fmadd_ps(
                cell[2],
                stride_f[2],
                _mm512_fmadd_ps(cell[1], stride_f[1], _mm512_mul_ps(cell[0], stride_f[0])),
            ));

            // Sort the fractions a >= b >= c, keeping the strides of the
            // largest and the smallest (see `tetrahedral`).
            let r_ge_g = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(fr, fg);
            let hi_rg = _mm512_mask_blend_ps(r_ge_g, fg, fr);
            let s_hi_rg = _mm512_mask_blend_epi32(r_ge_g, stride_v[1], stride_v[0]);
            let lo_rg = _mm512_mask_blend_ps(r_ge_g, fr, fg);
            let s_lo_rg = _mm512_mask_blend_epi32(r_ge_g, stride_v[0], stride_v[1]);
            let hi_ge_b = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(hi_rg, fb);
            let fa = _mm512_mask_blend_ps(hi_ge_b, fb, hi_rg);
            let s_a = _mm512_mask_blend_epi32(hi_ge_b, stride_v[2], s_hi_rg);
            let lo_lt_b = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(lo_rg, fb);
            let fc = _mm512_mask_blend_ps(lo_lt_b, fb, lo_rg);
            let s_c = _mm512_mask_blend_epi32(lo_lt_b, stride_v[2], s_lo_rg);
            let fm = _mm512_max_ps(lo_rg, _mm512_min_ps(hi_rg, fb));
            let w = [
                _mm512_sub_ps(one, fa),
                _mm512_sub_ps(fa, fm),
                _mm512_sub_ps(fm, fc),
                fc,
            ];
            let i3 = _mm512_add_epi32(base, far);
            let corners = [
                base,
                _mm512_add_epi32(base, s_a),
                _mm512_sub_epi32(i3, s_c),
                i3,
            ];

            // Weighted sums of the four corners, per channel.
            let sums: [__m512; 3] = if PACKED {
                let mut sum = [zero; 3];
                for (k, &corner) in corners.iter().enumerate() {
                    // SAFETY: each corner index is a lattice point's index:
                    // the cell origin (at most n - 2 along every channel)
                    // plus at most one step along each; `points` has n³.
                    let (low, high) = unsafe {
                        (
                            _mm512_i32gather_epi64::<8>(
                                _mm512_castsi512_si256(corner),
                                points.cast(),
                            ),
                            _mm512_i32gather_epi64::<8>(
                                _mm512_extracti64x4_epi64::<1>(corner),
                                points.cast(),
                            ),
                        )
                    };
                    let rg = _mm512_permutex2var_epi32(low, low_dwords, high);
                    let b = _mm512_permutex2var_epi32(low, high_dwords, high);
                    let q = [_mm512_and_si512(rg, low16), _mm512_srli_epi32::<16>(rg), b];
                    for ch in 0..3 {
                        sum[ch] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q[ch]), w[k], sum[ch]);
                    }
                }
                sum
            } else {
                [0usize, 1, 2].map(|ch| {
                    // SAFETY: as above, with four floats per point; `ch` < 3
                    // stays inside the point.
                    let p = unsafe {
                        let base = lattice.add(ch);
                        [
                            _mm512_i32gather_ps::<4>(corners[0], base),
                            _mm512_i32gather_ps::<4>(corners[1], base),
                            _mm512_i32gather_ps::<4>(corners[2], base),
                            _mm512_i32gather_ps::<4>(corners[3], base),
                        ]
                    };
                    let v = _mm512_mul_ps(p[0], w[0]);
                    let v = _mm512_fmadd_ps(p[1], w[1], v);
                    let v = _mm512_fmadd_ps(p[2], w[2], v);
                    _mm512_fmadd_ps(p[3], w[3], v)
                })
            };
            // Round to nearest and clamp to 0..=255 (max_ps turns NaN into
            // 0: it returns its second operand when unordered).
            let out = sums.map(|s| {
                let v = _mm512_fmadd_ps(s, out_scale, out_offset);
                _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(v, zero), max_level))
            });
            let packed_out = inter.map(|[first, second]| {
                _mm512_cvtepi32_epi8(_mm512_permutex2var_epi32(
                    _mm512_permutex2var_epi32(out[0], first, out[1]),
                    second,
                    out[2],
                ))
            });
            // SAFETY: three 16-byte stores inside the 48-byte block.
            unsafe {
                _mm_storeu_si128(p.cast(), packed_out[0]);
                _mm_storeu_si128(p.add(16).cast(), packed_out[1]);
                _mm_storeu_si128(p.add(32).cast(), packed_out[2]);
            }
        }
    }
}

/// Parses `.cube` text; see the [module documentation](self) for the
/// accepted syntax.
pub fn parse_cube(text: &str) -> Result<CubeLut, LutError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut title = None;
    let mut size3: Option<usize> = None;
    let mut size1: Option<usize> = None;
    let mut domain_min: Option<Located<[f32; 3]>> = None;
    let mut domain_max: Option<Located<[f32; 3]>> = None;
    let mut range1: Option<[f32; 2]> = None;
    let mut range3: Option<[f32; 2]> = None;
    let mut expected: Option<usize> = None;
    let mut values: Vec<[f32; 3]> = Vec::new();
    let mut found = 0usize;
    let mut surplus: Option<(usize, String)> = None;
    let mut last_line = (0usize, String::new());

    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        last_line = (line, trimmed.to_string());
        let keyword = trimmed.split_ascii_whitespace().next().unwrap_or_default();
        if keyword.eq_ignore_ascii_case("TITLE") {
            if expected.is_some() {
                return Err(LutError::KeywordAfterData {
                    line,
                    text: trimmed.to_string(),
                });
            }
            title = Some(parse_title(&trimmed[keyword.len()..]));
            continue;
        }
        let body = trimmed.split('#').next().unwrap_or_default().trim_end();
        let mut tokens = body.split_ascii_whitespace();
        let first = tokens.next().unwrap_or_default();
        let is_keyword =
            first.starts_with(|ch: char| ch.is_ascii_alphabetic()) && first.parse::<f32>().is_err();
        if is_keyword {
            if expected.is_some() {
                return Err(LutError::KeywordAfterData {
                    line,
                    text: trimmed.to_string(),
                });
            }
            let args: Vec<&str> = tokens.collect();
            let ctx = Ctx {
                line,
                text: trimmed,
            };
            match first.to_ascii_uppercase().as_str() {
                "LUT_3D_SIZE" => {
                    let size = ctx.size(&args, "LUT_3D_SIZE", MIN_SIZE, MAX_SIZE)?;
                    ctx.set_once(&mut size3, size, "LUT_3D_SIZE")?;
                }
                "LUT_1D_SIZE" => {
                    let size = ctx.size(&args, "LUT_1D_SIZE", 2, MAX_1D_SIZE)?;
                    ctx.set_once(&mut size1, size, "LUT_1D_SIZE")?;
                }
                "DOMAIN_MIN" => {
                    let v = ctx.numbers::<3>(&args)?;
                    ctx.set_once(&mut domain_min, ctx.locate(v), "DOMAIN_MIN")?;
                }
                "DOMAIN_MAX" => {
                    let v = ctx.numbers::<3>(&args)?;
                    ctx.set_once(&mut domain_max, ctx.locate(v), "DOMAIN_MAX")?;
                }
                "LUT_1D_INPUT_RANGE" => {
                    let v = ctx.range(&args)?;
                    ctx.set_once(&mut range1, v, "LUT_1D_INPUT_RANGE")?;
                }
                "LUT_3D_INPUT_RANGE" => {
                    let v = ctx.range(&args)?;
                    ctx.set_once(&mut range3, v, "LUT_3D_INPUT_RANGE")?;
                }
                _ => {
                    return Err(LutError::UnknownKeyword {
                        line,
                        keyword: first.to_string(),
                        text: trimmed.to_string(),
                    });
                }
            }
            continue;
        }

        // A table entry.
        let expected = match expected {
            Some(e) => e,
            None => {
                let e = match (size1, size3) {
                    (None, None) => {
                        return Err(LutError::MissingSize {
                            line,
                            text: trimmed.to_string(),
                        });
                    }
                    (m, n) => m.unwrap_or(0) + n.map_or(0, |n| n.pow(3)),
                };
                values.reserve_exact(e);
                *expected.insert(e)
            }
        };
        let ctx = Ctx {
            line,
            text: trimmed,
        };
        let entry = ctx.numbers::<3>(&body.split_ascii_whitespace().collect::<Vec<_>>())?;
        found += 1;
        if found <= expected {
            values.push(entry);
        } else if surplus.is_none() {
            surplus = Some((line, trimmed.to_string()));
        }
    }

    let Some(expected) = expected else {
        return Err(LutError::MissingSize {
            line: last_line.0,
            text: String::new(),
        });
    };
    if found != expected {
        let (line, text) = surplus.unwrap_or(last_line);
        return Err(LutError::EntryCount {
            line,
            expected,
            found,
            text,
        });
    }

    // Domains: DOMAIN_MIN/MAX describe the file's input, so the first stage's;
    // an input range names its stage and wins.
    let file_domain = check_domain(domain_min, domain_max)?;
    let uniform = |r: [f32; 2]| ([r[0]; 3], [r[1]; 3]);
    let default = ([0.0; 3], [1.0; 3]);
    let (shaper, lattice_values) = match size1 {
        Some(m) => {
            let (lo, hi) = range1.map(uniform).or(file_domain).unwrap_or(default);
            let shaper = Shaper {
                entries: values[..m].to_vec(),
                domain_min: lo,
                domain_max: hi,
            };
            (Some(shaper), &values[m..])
        }
        None => (None, &values[..]),
    };
    let (domain_min, domain_max) = match (&shaper, range3) {
        (_, Some(r)) => uniform(r),
        (Some(_), None) => default,
        (None, None) => file_domain.unwrap_or(default),
    };
    let size = size3.unwrap_or(MIN_SIZE);
    let lattice = if size3.is_some() {
        lattice_values
            .iter()
            .map(|&[r, g, b]| [r, g, b, 0.0])
            .collect()
    } else {
        // 1D-only file: an identity lattice of two points is exact.
        let mut id = Vec::with_capacity(8);
        for b in 0..2u8 {
            for g in 0..2u8 {
                for r in 0..2u8 {
                    id.push([f32::from(r), f32::from(g), f32::from(b), 0.0]);
                }
            }
        }
        id
    };
    Ok(CubeLut {
        title,
        size,
        lattice,
        domain_min,
        domain_max,
        shaper,
        packed: OnceLock::new(),
    })
}

/// A per-channel domain: minimum and maximum.
type Domain = ([f32; 3], [f32; 3]);

/// A value with the line it came from.
#[derive(Clone)]
struct Located<T> {
    value: T,
    line: usize,
    text: String,
}

/// Checks that `DOMAIN_MIN < DOMAIN_MAX` on every channel; the error names
/// whichever of the two lines came later.
fn check_domain(
    min: Option<Located<[f32; 3]>>,
    max: Option<Located<[f32; 3]>>,
) -> Result<Option<Domain>, LutError> {
    if min.is_none() && max.is_none() {
        return Ok(None);
    }
    let lo = min.as_ref().map_or([0.0; 3], |l| l.value);
    let hi = max.as_ref().map_or([1.0; 3], |l| l.value);
    for c in 0..3 {
        if lo[c] >= hi[c] {
            // The later of the two lines is the one that breaks the order.
            let at = [min.as_ref(), max.as_ref()]
                .into_iter()
                .flatten()
                .max_by_key(|l| l.line);
            let (line, text) = at.map_or((0, String::new()), |l| (l.line, l.text.clone()));
            return Err(LutError::DomainOrder {
                line,
                min: lo[c],
                max: hi[c],
                text,
            });
        }
    }
    Ok(Some((lo, hi)))
}

/// The title after `TITLE`: the text between the quotes, or the rest of the
/// line if it is not quoted.
fn parse_title(rest: &str) -> String {
    let rest = rest.trim();
    match rest.strip_prefix('"') {
        Some(inner) => inner.split('"').next().unwrap_or_default().to_string(),
        None => rest.to_string(),
    }
}

/// Where a keyword's arguments came from, for errors.
struct Ctx<'a> {
    line: usize,
    text: &'a str,
}

impl Ctx<'_> {
    fn numbers<const N: usize>(&self, args: &[&str]) -> Result<[f32; N], LutError> {
        if args.len() != N {
            return Err(LutError::ValueCount {
                line: self.line,
                expected: N,
                found: args.len(),
                text: self.text.to_string(),
            });
        }
        let mut out = [0f32; N];
        for (o, token) in out.iter_mut().zip(args) {
            *o = token
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| LutError::BadNumber {
                    line: self.line,
                    token: (*token).to_string(),
                    text: self.text.to_string(),
                })?;
        }
        Ok(out)
    }

    fn range(&self, args: &[&str]) -> Result<[f32; 2], LutError> {
        let [lo, hi] = self.numbers::<2>(args)?;
        if lo >= hi {
            return Err(LutError::DomainOrder {
                line: self.line,
                min: lo,
                max: hi,
                text: self.text.to_string(),
            });
        }
        Ok([lo, hi])
    }

    fn size(
        &self,
        args: &[&str],
        keyword: &'static str,
        min: usize,
        max: usize,
    ) -> Result<usize, LutError> {
        if args.len() != 1 {
            return Err(LutError::ValueCount {
                line: self.line,
                expected: 1,
                found: args.len(),
                text: self.text.to_string(),
            });
        }
        let token = args[0];
        let digits = token.strip_prefix('-').unwrap_or(token);
        let out_of_range = || LutError::SizeOutOfRange {
            line: self.line,
            keyword,
            min,
            max,
            text: self.text.to_string(),
        };
        match token.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            Ok(_) => Err(out_of_range()),
            // Negative or too long to parse: still a number, just out of range.
            Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Err(out_of_range())
            }
            Err(_) => Err(LutError::BadNumber {
                line: self.line,
                token: token.to_string(),
                text: self.text.to_string(),
            }),
        }
    }

    fn locate<T>(&self, value: T) -> Located<T> {
        Located {
            value,
            line: self.line,
            text: self.text.to_string(),
        }
    }

    fn set_once<T>(
        &self,
        slot: &mut Option<T>,
        value: T,
        keyword: &'static str,
    ) -> Result<(), LutError> {
        if slot.is_some() {
            return Err(LutError::DuplicateKeyword {
                line: self.line,
                keyword,
                text: self.text.to_string(),
            });
        }
        *slot = Some(value);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// SplitMix64: deterministic, good enough for test data.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// Uniform in `[lo, hi)`.
        fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
            let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
            lo + (hi - lo) * u
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next_u64() as u8).collect()
        }
    }

    /// Every 8-bit kernel this machine can run.
    fn paths() -> Vec<Rgb8Path> {
        let mut paths = vec![Rgb8Path::Scalar];
        if Rgb8Path::detect() != Rgb8Path::Scalar {
            paths.push(Rgb8Path::detect());
        }
        paths
    }

    fn random_lut(size: usize, rng: &mut Rng, lo: f32, hi: f32) -> CubeLut {
        CubeLut::from_fn(size, |_| {
            [
                rng.uniform(lo, hi),
                rng.uniform(lo, hi),
                rng.uniform(lo, hi),
            ]
        })
        .unwrap()
    }

    /// An independent float64 implementation: shaper, domain, then the
    /// textbook six-case tetrahedral interpolation.
    fn reference(lut: &CubeLut, rgb: [f64; 3]) -> [f64; 3] {
        let mut x = rgb;
        if let Some(shaper) = lut.shaper() {
            let m = shaper.size();
            for c in 0..3 {
                let lo = f64::from(shaper.domain_min()[c]);
                let hi = f64::from(shaper.domain_max()[c]);
                let t = ((x[c] - lo) / (hi - lo)).clamp(0.0, 1.0) * (m - 1) as f64;
                let i = (t.floor() as usize).min(m - 2);
                let f = t - i as f64;
                let e = shaper.entries();
                x[c] = f64::from(e[i][c]) * (1.0 - f) + f64::from(e[i + 1][c]) * f;
            }
        }
        let n = lut.size();
        let mut i = [0usize; 3];
        let mut f = [0f64; 3];
        for c in 0..3 {
            let lo = f64::from(lut.domain_min()[c]);
            let hi = f64::from(lut.domain_max()[c]);
            let t = ((x[c] - lo) / (hi - lo)).clamp(0.0, 1.0) * (n - 1) as f64;
            i[c] = (t.floor() as usize).min(n - 2);
            f[c] = t - i[c] as f64;
        }
        let p = |dr: usize, dg: usize, db: usize| -> [f64; 3] {
            lut.entry(i[0] + dr, i[1] + dg, i[2] + db).map(f64::from)
        };
        let (c000, c111) = (p(0, 0, 0), p(1, 1, 1));
        let [fr, fg, fb] = f;
        let mut out = [0f64; 3];
        for k in 0..3 {
            let d = |a: [f64; 3], b: [f64; 3]| a[k] - b[k];
            out[k] = if fr > fg {
                if fg > fb {
                    let (c100, c110) = (p(1, 0, 0), p(1, 1, 0));
                    c000[k] + fr * d(c100, c000) + fg * d(c110, c100) + fb * d(c111, c110)
                } else if fr > fb {
                    let (c100, c101) = (p(1, 0, 0), p(1, 0, 1));
                    c000[k] + fr * d(c100, c000) + fb * d(c101, c100) + fg * d(c111, c101)
                } else {
                    let (c001, c101) = (p(0, 0, 1), p(1, 0, 1));
                    c000[k] + fb * d(c001, c000) + fr * d(c101, c001) + fg * d(c111, c101)
                }
            } else if fb > fg {
                let (c001, c011) = (p(0, 0, 1), p(0, 1, 1));
                c000[k] + fb * d(c001, c000) + fg * d(c011, c001) + fr * d(c111, c011)
            } else if fb > fr {
                let (c010, c011) = (p(0, 1, 0), p(0, 1, 1));
                c000[k] + fg * d(c010, c000) + fb * d(c011, c010) + fr * d(c111, c011)
            } else {
                let (c010, c110) = (p(0, 1, 0), p(1, 1, 0));
                c000[k] + fg * d(c010, c000) + fr * d(c110, c010) + fb * d(c111, c110)
            };
        }
        out
    }

    fn reference_rgb8(lut: &CubeLut, px: &[u8]) -> [u8; 3] {
        let out = reference(lut, [0, 1, 2].map(|c| f64::from(px[c]) / 255.0));
        out.map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
    }

    /// Grades `input` with `path` and returns the largest difference from the
    /// reference, in levels, and how many samples differ at all.
    fn compare_rgb8(lut: &CubeLut, input: &[u8], path: Rgb8Path) -> (u8, usize) {
        let mut frame = input.to_vec();
        lut.apply_rgb8_with(&mut frame, path).unwrap();
        let mut worst = 0;
        let mut differing = 0;
        for (src, got) in input.chunks_exact(3).zip(frame.chunks_exact(3)) {
            let want = reference_rgb8(lut, src);
            for k in 0..3 {
                let d = got[k].abs_diff(want[k]);
                worst = worst.max(d);
                differing += usize::from(d != 0);
            }
        }
        (worst, differing)
    }

    /// All 256 greys, then random pixels; an odd pixel count so the SIMD
    /// kernel's scalar tail runs too.
    fn test_pixels(rng: &mut Rng, random: usize) -> Vec<u8> {
        let mut px: Vec<u8> = (0..=255u8).flat_map(|v| [v, v, v]).collect();
        px.extend(rng.bytes(random * 3));
        px.extend([0, 255, 128, 255, 0, 1, 7]);
        px.truncate(px.len() / 3 * 3);
        px
    }

    #[test]
    fn identity_rgb8_is_exact_on_every_colour() {
        // All 2^24 colours through a 33-point identity.
        let lut = CubeLut::identity(33).unwrap();
        let all: Vec<u8> = (0..1u32 << 24)
            .flat_map(|v| [v as u8, (v >> 8) as u8, (v >> 16) as u8])
            .collect();
        for path in paths() {
            let mut frame = all.clone();
            lut.apply_rgb8_with(&mut frame, path).unwrap();
            assert!(frame == all, "{path:?}: identity changed a colour");
        }
    }

    #[test]
    fn identity_rgb8_is_exact_at_every_size() {
        let mut rng = Rng(1);
        // A dense lattice of colours (every 5th level per channel, plus 255),
        // the greys, and random pixels.
        let levels: Vec<u8> = (0..=255u8).step_by(5).chain([255]).collect();
        let mut input = test_pixels(&mut rng, 20_000);
        for &b in &levels {
            for &g in &levels {
                for &r in &levels {
                    input.extend([r, g, b]);
                }
            }
        }
        for size in [2, 3, 5, 17, 25, 33, 64, 65, 129] {
            let lut = CubeLut::identity(size).unwrap();
            for path in paths() {
                let mut frame = input.clone();
                lut.apply_rgb8_with(&mut frame, path).unwrap();
                assert!(
                    frame == input,
                    "size {size}, {path:?}: identity changed a colour"
                );
            }
        }
    }

    #[test]
    fn identity_f32_is_close() {
        let mut rng = Rng(2);
        let input: Vec<f32> = (0..30_000).map(|_| rng.uniform(0.0, 1.0)).collect();
        for size in [2, 17, 33] {
            let lut = CubeLut::identity(size).unwrap();
            let mut px = input.clone();
            lut.apply_rgb_f32(&mut px).unwrap();
            for (a, b) in px.iter().zip(&input) {
                assert!((a - b).abs() < 1e-6, "size {size}: {b} became {a}");
            }
        }
    }

    #[test]
    fn random_luts_rgb8_within_one_level_of_f64() {
        let mut rng = Rng(3);
        let input = test_pixels(&mut rng, 40_000);
        for size in [2, 17, 33, 65] {
            // Values a little outside [0, 1] exercise the output clamp; the
            // wide range takes the SIMD kernel's f32 lattice instead of the
            // 16-bit one.
            for (lo, hi) in [(0.0, 1.0), (-0.1, 1.1), (-3.0, 20.0)] {
                let lut = random_lut(size, &mut rng, lo, hi);
                for path in paths() {
                    let (worst, differing) = compare_rgb8(&lut, &input, path);
                    assert!(
                        worst <= 1,
                        "size {size}, [{lo}, {hi}], {path:?}: off by {worst}"
                    );
                    // Off by one only where the exact value is a hair from a
                    // rounding boundary.
                    assert!(
                        differing * 1000 < input.len(),
                        "size {size}, [{lo}, {hi}], {path:?}: {differing} of {} samples differ",
                        input.len()
                    );
                }
            }
        }
    }

    #[test]
    fn random_luts_f32_match_f64() {
        let mut rng = Rng(4);
        // Inputs a little outside [0, 1] exercise the input clamp.
        let input: Vec<f32> = (0..60_000).map(|_| rng.uniform(-0.2, 1.2)).collect();
        for size in [2, 17, 33, 65] {
            let lut = random_lut(size, &mut rng, -0.1, 1.1);
            let mut px = input.clone();
            lut.apply_rgb_f32(&mut px).unwrap();
            for (src, got) in input.chunks_exact(3).zip(px.chunks_exact(3)) {
                let want = reference(&lut, [0, 1, 2].map(|c| f64::from(src[c])));
                for k in 0..3 {
                    let err = (f64::from(got[k]) - want[k]).abs();
                    assert!(
                        err < 2e-6,
                        "size {size}: {src:?} gave {got:?}, want {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn simd_and_scalar_kernels_agree() {
        let mut rng = Rng(5);
        let lut = random_lut(33, &mut rng, 0.0, 1.0);
        for len in [0, 1, 15, 16, 17, 47, 5000, RGB8_CHUNK_PIXELS + 3] {
            let input = rng.bytes(len * 3);
            let mut outputs = paths().into_iter().map(|path| {
                let mut frame = input.clone();
                lut.apply_rgb8_with(&mut frame, path).unwrap();
                frame
            });
            let first = outputs.next().unwrap();
            for other in outputs {
                let worst = first.iter().zip(&other).map(|(a, b)| a.abs_diff(*b)).max();
                assert!(
                    worst.unwrap_or(0) <= 1,
                    "{len} pixels: kernels differ by {worst:?}"
                );
            }
        }
    }

    /// A 2-point LUT whose corners are all different.
    fn corners_cube(header: &str) -> String {
        let mut text = String::from(header);
        for b in 0..2 {
            for g in 0..2 {
                for r in 0..2 {
                    let _ = writeln!(
                        text,
                        "{} {} {}",
                        0.1 + 0.5 * r as f32,
                        0.2 + 0.3 * g as f32 + 0.1 * b as f32,
                        0.05 + 0.8 * b as f32
                    );
                }
            }
        }
        text
    }

    #[test]
    fn domain_min_is_honoured() {
        let lut = parse_cube(&corners_cube(
            "LUT_3D_SIZE 2\nDOMAIN_MIN 0.5 0.5 0.5\nDOMAIN_MAX 1 1 1\n",
        ))
        .unwrap();
        assert_eq!(lut.domain_min(), [0.5; 3]);
        let c000 = lut.entry(0, 0, 0);
        let c100 = lut.entry(1, 0, 0);
        let c111 = lut.entry(1, 1, 1);
        let check = |input: [f32; 3], want: [f32; 3]| {
            let mut px = input.to_vec();
            lut.apply_rgb_f32(&mut px).unwrap();
            for k in 0..3 {
                assert!(
                    (px[k] - want[k]).abs() < 1e-6,
                    "{input:?} gave {px:?}, want {want:?}"
                );
            }
        };
        // Below the domain: the first lattice point.
        check([0.2, 0.3, 0.49], c000);
        check([-1.0, 0.0, 0.5], c000);
        // 0.75 is halfway across a [0.5, 1] domain.
        let half = |a: [f32; 3], b: [f32; 3]| [0, 1, 2].map(|k| (a[k] + b[k]) / 2.0);
        check([0.75, 0.5, 0.5], half(c000, c100));
        check([0.75, 0.75, 0.75], half(c000, c111));
        // Above: the last point.
        check([1.0, 1.0, 1.0], c111);
        check([3.0, 2.0, 1.5], c111);

        // 8-bit: levels below 128 sit on the first point; the rest match
        // the reference, which honours the domain.
        let mut rng = Rng(6);
        let input = test_pixels(&mut rng, 10_000);
        for path in paths() {
            let mut frame = [100, 20, 127].to_vec();
            lut.apply_rgb8_with(&mut frame, path).unwrap();
            assert_eq!(frame, c000.map(|v| (v * 255.0).round() as u8));
            let (worst, _) = compare_rgb8(&lut, &input, path);
            assert!(worst <= 1, "{path:?}: off by {worst}");
        }

        // Per channel.
        let lut = parse_cube(&corners_cube(
            "LUT_3D_SIZE 2\nDOMAIN_MIN 0 0.5 -1\nDOMAIN_MAX 2 1 1\n",
        ))
        .unwrap();
        let mut px = vec![1.0, 0.75, 0.0];
        lut.apply_rgb_f32(&mut px).unwrap();
        let want = reference(&lut, [1.0, 0.75, 0.0]);
        for k in 0..3 {
            assert!((f64::from(px[k]) - want[k]).abs() < 1e-6);
        }
        for path in paths() {
            let (worst, _) = compare_rgb8(&lut, &input, path);
            assert!(worst <= 1, "{path:?}: off by {worst}");
        }
    }

    #[test]
    fn shaper_is_applied_before_the_lattice() {
        let mut text = String::from("TITLE \"shaped\"\nLUT_1D_SIZE 3\nLUT_3D_SIZE 2\n");
        text.push_str("0 0 0\n0.25 0.5 0.1\n1 1 1\n");
        text.push_str(
            &CubeLut::identity(2)
                .unwrap()
                .to_cube_string()
                .replace("LUT_3D_SIZE 2\n", ""),
        );
        let lut = parse_cube(&text).unwrap();
        assert_eq!(lut.title(), Some("shaped"));
        assert_eq!(lut.shaper().map(Shaper::size), Some(3));
        let mut px = vec![0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 1.0, 0.0, 0.75];
        lut.apply_rgb_f32(&mut px).unwrap();
        let want = [0.25, 0.5, 0.1, 0.125, 0.25, 0.05, 1.0, 0.0, 0.55];
        for (got, want) in px.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{px:?}");
        }

        // A shaper in front of a random lattice, 8-bit, against the reference.
        let mut rng = Rng(7);
        let mut text = String::from("LUT_1D_SIZE 16\nLUT_1D_INPUT_RANGE 0 1\nLUT_3D_SIZE 17\n");
        for i in 0..16 {
            let x = i as f32 / 15.0;
            let _ = writeln!(text, "{} {} {}", x * x, x.sqrt(), x);
        }
        let lattice = random_lut(17, &mut rng, 0.0, 1.0).to_cube_string();
        text.push_str(lattice.split_once("\n\n").unwrap().1);
        let lut = parse_cube(&text).unwrap();
        let input = test_pixels(&mut rng, 20_000);
        for path in paths() {
            let (worst, _) = compare_rgb8(&lut, &input, path);
            assert!(worst <= 1, "{path:?}: off by {worst}");
        }

        // A 1D-only file.
        let lut = parse_cube("LUT_1D_SIZE 2\nDOMAIN_MIN 0 0 0\nDOMAIN_MAX 2 2 2\n1 1 1\n0 0 0\n")
            .unwrap();
        let mut px = vec![0.0, 1.0, 2.0];
        lut.apply_rgb_f32(&mut px).unwrap();
        assert_eq!(px, [1.0, 0.5, 0.0]);
        let mut frame = vec![0, 255, 51];
        lut.apply_rgb8_with(&mut frame, Rgb8Path::Scalar).unwrap();
        assert_eq!(frame, [255, 128, 230]);
    }

    #[test]
    fn input_ranges_name_their_stage() {
        let lut = parse_cube(&corners_cube("LUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE -0.5 2\n")).unwrap();
        assert_eq!((lut.domain_min(), lut.domain_max()), ([-0.5; 3], [2.0; 3]));
        // With a shaper, DOMAIN_* is the file's input: the shaper's domain.
        let text = corners_cube("LUT_1D_SIZE 2\nDOMAIN_MIN 0 0 0\nDOMAIN_MAX 4 4 4\nLUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE 0 0.5\n")
            .replacen("LUT_3D_INPUT_RANGE 0 0.5\n", "LUT_3D_INPUT_RANGE 0 0.5\n0 0 0\n1 1 1\n", 1);
        let lut = parse_cube(&text).unwrap();
        let shaper = lut.shaper().unwrap();
        assert_eq!(
            (shaper.domain_min(), shaper.domain_max()),
            ([0.0; 3], [4.0; 3])
        );
        assert_eq!((lut.domain_min(), lut.domain_max()), ([0.0; 3], [0.5; 3]));
        assert_eq!(parse_cube(&lut.to_cube_string()).unwrap(), lut);
    }

    #[test]
    fn crlf_comments_and_blank_lines_are_accepted() {
        let lf = corners_cube("TITLE \"warm # not a comment\"\nLUT_3D_SIZE 2\n");
        let reference = parse_cube(&lf).unwrap();
        assert_eq!(reference.title(), Some("warm # not a comment"));
        let mut messy = String::from("\u{feff}# exported by a tool\r\n\r\n");
        for (i, line) in lf.lines().enumerate() {
            messy.push_str("  ");
            messy.push_str(line);
            if i % 3 == 0 {
                messy.push_str("   # trailing comment");
            }
            messy.push_str("\r\n\t\r\n# between\r\n");
        }
        let lut = parse_cube(&messy).unwrap();
        assert_eq!(lut, reference);
    }

    #[test]
    fn titles_with_quotes_round_trip() {
        // Found by kino-fuzz: an unquoted title holding a quote was written
        // inside quotes, and read back cut at it.
        for (line, title) in [
            ("TITLE entity\"", "entity\""),
            ("TITLE ITLE \"ity\"", "ITLE \"ity\""),
            ("TITLE \"plain\"", "plain"),
            ("TITLE", ""),
        ] {
            let lut = parse_cube(&corners_cube(&format!("{line}\nLUT_3D_SIZE 2\n"))).unwrap();
            assert_eq!(lut.title(), Some(title), "{line}");
            assert_eq!(parse_cube(&lut.to_cube_string()).unwrap(), lut, "{line}");
        }
    }

    #[test]
    fn round_trips_through_text() {
        let mut rng = Rng(8);
        let lut = random_lut(9, &mut rng, -0.25, 1.5);
        assert_eq!(parse_cube(&lut.to_cube_string()).unwrap(), lut);
        let lut = parse_cube(&corners_cube(
            "TITLE \"t\"\nLUT_3D_SIZE 2\nDOMAIN_MIN 0.1 0 -2\nDOMAIN_MAX 1 3 1\n",
        ))
        .unwrap();
        let text = lut.to_cube_string();
        assert!(
            text.starts_with("TITLE \"t\"\nLUT_3D_SIZE 2\nDOMAIN_MIN 0.1 0 -2\nDOMAIN_MAX 1 3 1\n"),
            "{text}"
        );
        assert_eq!(parse_cube(&text).unwrap(), lut);
    }

    #[test]
    fn size_129_is_accepted_and_130_refused() {
        let lut = CubeLut::identity(129).unwrap();
        let parsed = parse_cube(&lut.to_cube_string()).unwrap();
        assert_eq!(parsed.size(), 129);
        assert_eq!(parsed, lut);
        let err = parse_cube("# big\nLUT_3D_SIZE 130\n").unwrap_err();
        assert!(
            matches!(
                err,
                LutError::SizeOutOfRange {
                    line: 2,
                    keyword: "LUT_3D_SIZE",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "line 2: LUT_3D_SIZE must be in 2..=129, found \"LUT_3D_SIZE 130\""
        );
        for bad in [
            "LUT_3D_SIZE 1",
            "LUT_3D_SIZE 0",
            "LUT_3D_SIZE -4",
            "LUT_3D_SIZE 99999999999999999999999",
        ] {
            let err = parse_cube(bad).unwrap_err();
            assert!(
                matches!(err, LutError::SizeOutOfRange { line: 1, .. }),
                "{bad}: {err:?}"
            );
        }
        assert!(matches!(
            CubeLut::identity(130),
            Err(LutError::BadSize { size: 130, .. })
        ));
        assert!(matches!(
            CubeLut::identity(1),
            Err(LutError::BadSize { size: 1, .. })
        ));
    }

    #[test]
    fn parse_errors_name_the_line() {
        let body = "0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1\n";
        let with = |header: &str| format!("{header}{body}");

        let err = parse_cube(&with("LUT_3D_SIZE 2\n").replace("1 1 0\n", "1 x 0\n")).unwrap_err();
        assert!(
            matches!(&err, LutError::BadNumber { line: 5, token, .. } if token == "x"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "line 5: bad number \"x\" in \"1 x 0\"");

        let err = parse_cube(&with("LUT_3D_SIZE 2\n").replace("0 1 1\n", "0 1 nan\n")).unwrap_err();
        assert!(
            matches!(err, LutError::BadNumber { line: 8, .. }),
            "{err:?}"
        );

        let err =
            parse_cube(&with("# c\nLUT_3D_SIZE 2\n").replace("0 1 0\n", "0 1\n")).unwrap_err();
        assert!(
            matches!(
                err,
                LutError::ValueCount {
                    line: 5,
                    expected: 3,
                    found: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse_cube(&with("LUT_3D_SIZE 2\n").replace("0 0 1\n", "0 0 1 1\n")).unwrap_err();
        assert!(
            matches!(
                err,
                LutError::ValueCount {
                    line: 6,
                    found: 4,
                    ..
                }
            ),
            "{err:?}"
        );

        let err = parse_cube(&with("LUT_3D_SIZE 2\n").replace("1 1 1\n", "")).unwrap_err();
        assert!(
            matches!(
                err,
                LutError::EntryCount {
                    line: 8,
                    expected: 8,
                    found: 7,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("expected 8 table entries, found 7"),
            "{err}"
        );
        let err = parse_cube(&format!("{}\n0.5 0.5 0.5\n", with("LUT_3D_SIZE 2\n"))).unwrap_err();
        assert!(
            matches!(&err, LutError::EntryCount { line: 11, expected: 8, found: 9, text } if text == "0.5 0.5 0.5"),
            "{err:?}"
        );

        let err = parse_cube(&with("LUT_3D_SIZE 2\nLUT_3D_SHAPE 4\n")).unwrap_err();
        assert!(
            matches!(&err, LutError::UnknownKeyword { line: 2, keyword, .. } if keyword == "LUT_3D_SHAPE"),
            "{err:?}"
        );

        let err = parse_cube(&with("TITLE \"no size\"\n")).unwrap_err();
        assert!(
            matches!(err, LutError::MissingSize { line: 2, .. }),
            "{err:?}"
        );
        let err = parse_cube("# nothing\n\nTITLE \"x\"\n").unwrap_err();
        assert!(
            matches!(err, LutError::MissingSize { line: 3, .. }),
            "{err:?}"
        );

        let err =
            parse_cube(&with("LUT_3D_SIZE 2\nDOMAIN_MIN 0 0 1\nDOMAIN_MAX 1 1 1\n")).unwrap_err();
        assert!(
            matches!(&err, LutError::DomainOrder { line: 3, text, .. } if text == "DOMAIN_MAX 1 1 1"),
            "{err:?}"
        );
        let err = parse_cube(&with(
            "DOMAIN_MAX 1 0.5 1\nLUT_3D_SIZE 2\nDOMAIN_MIN 0 0.6 0\n",
        ))
        .unwrap_err();
        assert!(
            matches!(err, LutError::DomainOrder { line: 3, .. }),
            "{err:?}"
        );
        let err = parse_cube(&with("LUT_3D_SIZE 2\nDOMAIN_MIN 2 2 2\n")).unwrap_err();
        assert!(
            matches!(err, LutError::DomainOrder { line: 2, .. }),
            "{err:?}"
        );
        let err = parse_cube(&with("LUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE 1 1\n")).unwrap_err();
        assert!(
            matches!(err, LutError::DomainOrder { line: 2, .. }),
            "{err:?}"
        );
        let err = parse_cube(&with("LUT_3D_SIZE 2\nDOMAIN_MIN 0 0\n")).unwrap_err();
        assert!(
            matches!(
                err,
                LutError::ValueCount {
                    line: 2,
                    expected: 3,
                    found: 2,
                    ..
                }
            ),
            "{err:?}"
        );

        let err = parse_cube(&with("LUT_3D_SIZE 2\nLUT_3D_SIZE 2\n")).unwrap_err();
        assert!(
            matches!(err, LutError::DuplicateKeyword { line: 2, .. }),
            "{err:?}"
        );
        let err =
            parse_cube(&format!("{}DOMAIN_MIN 0 0 0\n", with("LUT_3D_SIZE 2\n"))).unwrap_err();
        assert!(
            matches!(err, LutError::KeywordAfterData { line: 10, .. }),
            "{err:?}"
        );
        let err = parse_cube(&with("LUT_3D_SIZE 2.5\n")).unwrap_err();
        assert!(
            matches!(err, LutError::BadNumber { line: 1, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn read_reports_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grade.cube");
        std::fs::write(&path, CubeLut::identity(3).unwrap().to_cube_string()).unwrap();
        assert_eq!(CubeLut::read(&path).unwrap(), CubeLut::identity(3).unwrap());
        let missing = dir.path().join("missing.cube");
        let err = CubeLut::read(&missing).unwrap_err();
        assert!(matches!(err, LutError::Io { .. }));
        assert!(err.to_string().contains("missing.cube"), "{err}");
    }

    #[test]
    fn buffers_must_hold_whole_pixels() {
        let lut = CubeLut::identity(2).unwrap();
        let err = lut.apply_rgb8(&mut [0; 4]).unwrap_err();
        assert!(matches!(err, LutError::BufferLength { len: 4 }));
        assert_eq!(err.to_string(), "buffer length 4 is not a multiple of 3");
        assert!(matches!(
            lut.apply_rgb_f32(&mut [0.0; 5]),
            Err(LutError::BufferLength { len: 5 })
        ));
        lut.apply_rgb8(&mut []).unwrap();
    }

    #[test]
    fn nan_input_clamps_to_the_first_point() {
        let mut rng = Rng(9);
        let lut = random_lut(5, &mut rng, 0.0, 1.0);
        let mut px = vec![f32::NAN, 0.0, f32::NEG_INFINITY];
        lut.apply_rgb_f32(&mut px).unwrap();
        assert_eq!(px, lut.entry(0, 0, 0));
    }
}
