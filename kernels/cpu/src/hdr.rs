//! HDR and wide-gamut video to SDR: BT.2020 pictures (PQ, HLG or SDR, 10
//! bits) to BT.709 RGB24, which is what every other kernel, and the
//! encoder, takes. Phones record HDR (HLG or PQ in BT.2020) by default;
//! read as BT.709 those pictures come out grey and washed out.
//!
//! Each pixel goes the way the ffmpeg CLI's usual HDR-to-SDR chain takes
//! it (`zscale=t=linear:npl=100, zscale=p=bt709, tonemap=hable:desat=0,
//! zscale=t=bt709`), so the two agree within a few levels (the media tests
//! and the codecs bench compare them on the same clips):
//!
//! 1. 10-bit limited-range Y'CbCr (BT.2020, non-constant luminance) to
//!    R'G'B', the chroma upsampled bilinearly from where 4:2:0 sites it
//!    (with the left pixel of each pair across, between the two rows down:
//!    H.264's and HEVC's default);
//! 2. the transfer undone, to light where 1.0 is 100 nits: PQ's absolute
//!    nits; HLG on a 1000-nit display, its system gamma (1.2) per channel
//!    as zimg applies it; BT.1886's 2.4 gamma for SDR BT.2020;
//! 3. BT.2020 primaries to BT.709 (one 3×3 matrix in linear light:
//!    colours outside BT.709 get negative channels, clipped in step 5);
//! 4. HDR only: Hable's filmic curve on the brightest channel, scaled so
//!    the content's peak is white, and every channel by the same factor,
//!    which keeps the hue;
//! 5. clipped to [0, 1], encoded for a BT.1886 display (1/2.4) and
//!    rounded to 8 bits.
//!
//! Step 2 is a table (4096 steps to 1.0, interpolated; saturated colours
//! reach past 1.0, and the curves go on there as zimg's do) and step 5 a
//! search among
//! the 255 boundaries between output levels (a table on the light's
//! floating-point bits finds the level, one comparison settles it), so no
//! pixel calls `powf`.
//! Rows run in parallel on the current rayon pool.

use rayon::prelude::*;

use crate::yuv::{Chroma, check_420};

/// How a picture's R'G'B' values stand for light.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// SMPTE ST 2084 (HDR10, Dolby Vision's base layer): absolute, up to
    /// 10 000 nits.
    Pq,
    /// ARIB STD-B67 (hybrid log-gamma): relative, shown on a 1000-nit
    /// display.
    Hlg,
    /// SDR in BT.2020 (`bt2020-10`, `bt2020-12`, or BT.709's curve): only
    /// the primaries change.
    Sdr,
}

impl Transfer {
    /// Whether the picture is HDR (and is tone mapped).
    pub fn is_hdr(self) -> bool {
        !matches!(self, Transfer::Sdr)
    }
}

/// The peak taken for HDR content that does not say its own: what most
/// HDR10 masters and every HLG display assume.
pub const DEFAULT_PEAK_NITS: f32 = 1000.0;

/// Nits of SDR white: light 1.0 in the kernel's scale.
const SDR_WHITE_NITS: f32 = 100.0;

/// A 10-bit YUV 4:2:0 picture, as a decoder leaves it: each sample in a
/// 16-bit word, `shift` bits up (0 for `yuv420p10le`, 6 for `p010le`),
/// strides in samples.
#[derive(Debug, Clone, Copy)]
pub struct Yuv420View10<'a> {
    /// Luma, full size.
    pub y: &'a [u16],
    /// Samples from one luma row to the next.
    pub y_stride: usize,
    /// The chroma samples.
    pub chroma: Chroma<'a, u16>,
    /// How far up the word the 10 bits sit.
    pub shift: u32,
}

/// The conversion for one stream: its transfer and peak, and the tables
/// made from them.
#[derive(Debug, Clone)]
pub struct ToSdr {
    transfer: Transfer,
    peak_nits: f32,
    /// Light (1.0 = 100 nits) at R'G'B' values `i / STEPS`, up to
    /// [`TOP`].
    light: Box<[f32; TOP * STEPS + 1]>,
    /// `hable(peak)`, what the brightest channel's curve is divided by.
    hable_peak: f32,
    /// The light where output level `k + 1` starts (level `k` below it;
    /// none above 255).
    boundaries: [f32; 256],
    /// The level at the start of each of the [`Levels`] intervals.
    levels: Box<[u8; Levels::COUNT]>,
}

/// What [`ToSdr::convert`] computes with, for a twin of it that is to agree
/// bit for bit. Per pixel, in f32 and in this order:
///
/// - chroma: each row's chroma at its chroma columns, `0.75 · near + 0.25
///   · far` of the two chroma rows about it; across, `0.5 · (left +
///   right)` of the columns about the pixel (as `convert` says);
/// - `y = (Y − to_rgb[0]) · to_rgb[1]`, `cb = (Cb − to_rgb[2]) ·
///   to_rgb[3]` (and `cr`), then `r = y + to_rgb[4] · cr`, `g = y −
///   to_rgb[5] · cr − to_rgb[6] · cb`, `b = y + to_rgb[7] · cb`;
/// - each channel's light: `pos = min(e, top) · steps` (0 for `e ≤ 0`),
///   `i = min(⌊pos⌋, top · steps − 1)`, `light[i] + (pos − i) ·
///   (light[i + 1] − light[i])`; then `gamut` (rows: `m0 · r + m1 · g +
///   m2 · b`);
/// - HDR (`tone_map`): `x = max(max(r, g), b, 1e-6)`, the scale `(x ·
///   s[0] + s[1]) / ((x · (x · s[2] + s[3]) + s[4]) · hable_peak)` with `s
///   = tone_scale`, every channel times it;
/// - each channel's level: light clipped to [0, 1] (0 for `≤ 0`), its
///   bits less `levels_floor` (0 below) shifted down `levels_shift`,
///   at most the last index, name a level in `levels`, one more where the
///   light is at or past that level's entry in `boundaries`.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// Light (1.0 = 100 nits) at R'G'B' value `i / steps`.
    pub light: &'a [f32],
    /// Entries in `light` for each 1.0 of R'G'B'.
    pub steps: f32,
    /// The R'G'B' value of `light`'s last entry.
    pub top: f32,
    /// Y'CbCr codes to R'G'B': black, luma's scale, neutral chroma,
    /// chroma's scale, red from Cr, green from Cr, green from Cb, blue
    /// from Cb.
    pub to_rgb: [f32; 8],
    /// Linear BT.2020 to linear BT.709, by rows.
    pub gamut: [[f32; 3]; 3],
    /// Whether the tone curve applies (HDR).
    pub tone_map: bool,
    /// The tone curve's terms.
    pub tone_scale: [f32; 5],
    /// Hable's curve at the content's peak.
    pub hable_peak: f32,
    /// The output level at the start of each interval of light.
    pub levels: &'a [u8],
    /// The bits of the light the first interval starts at.
    pub levels_floor: u32,
    /// How far the bits above the floor shift down to an interval.
    pub levels_shift: u32,
    /// The light at which each output level's successor starts (∞ for
    /// 255).
    pub boundaries: &'a [f32; 256],
}

/// The intervals light in [0, 1] is cut into to find its output level:
/// [`Levels::OCTAVES`] octaves below 1.0, each in 2^[`Levels::BITS`] equal
/// steps (adjacent values of the f32's top bits). A step is at most 1/512
/// of its light, and the boundaries between output levels are at least
/// 0.9% apart (levels 254 and 255), so no step holds two.
struct Levels;

impl Levels {
    const OCTAVES: u32 = 24;
    const BITS: u32 = 9;
    /// Intervals, and 1.0.
    const COUNT: usize = (Self::OCTAVES << Self::BITS) as usize + 1;
    /// The first light the table covers (2^-24: level 1 starts at
    /// 2^-21.6).
    const FLOOR: u32 = (127 - Self::OCTAVES) << 23;

    /// The interval `light` (in [0, 1]) falls in.
    fn index(light: f32) -> usize {
        let i = (light.to_bits().saturating_sub(Self::FLOOR) >> (23 - Self::BITS)) as usize;
        i.min(Self::COUNT - 1)
    }

    /// The light each interval starts at, the last being 1.0.
    fn starts() -> impl Iterator<Item = f32> {
        (0..=Self::OCTAVES << Self::BITS)
            .map(|i| f32::from_bits(Self::FLOOR + (i << (23 - Self::BITS))))
    }
}

/// Intervals in the transfer table for each 1.0 of R'G'B'.
const STEPS: usize = 4096;
/// The table's last R'G'B' value: Y'CbCr in range makes at most 1.74
/// (full red), and a value past this takes the light at it.
const TOP: usize = 2;
/// Light past which the table does not go (a million nits: PQ runs to
/// infinity just short of R'G'B' 2.0), far above any peak.
const MAX_LIGHT: f64 = 10_000.0;

/// BT.2020's luma weights (red, blue).
const KR: f32 = 0.2627;
const KB: f32 = 0.0593;
const KG: f32 = 1.0 - KR - KB;

/// 10-bit limited-range Y'CbCr to R'G'B': black's and neutral chroma's
/// codes, each one's scale, and the chroma terms: red from Cr, green from
/// Cr and Cb, blue from Cb.
const BLACK: f32 = 64.0;
const LUMA_SCALE: f32 = 1.0 / 876.0;
const NEUTRAL: f32 = 512.0;
const CHROMA_SCALE: f32 = 1.0 / 896.0;
const R_CR: f32 = 2.0 * (1.0 - KR);
const G_CR: f32 = 2.0 * KR * (1.0 - KR) / KG;
const G_CB: f32 = 2.0 * KB * (1.0 - KB) / KG;
const B_CB: f32 = 2.0 * (1.0 - KB);

/// Linear BT.2020 RGB to linear BT.709 RGB, both D65 (from the primaries'
/// chromaticities through XYZ; each row sums to 1, so white stays white).
const BT2020_TO_BT709: [[f32; 3]; 3] = [
    [1.660_491, -0.587_641_1, -0.072_849_86],
    [-0.124_550_47, 1.132_899_9, -0.008_349_423],
    [-0.018_150_763, -0.100_578_9, 1.118_729_7],
];

impl ToSdr {
    /// The conversion for `transfer` content whose brightest pixel is
    /// `peak_nits` (ignored for SDR; kept within 100–10 000 nits).
    pub fn new(transfer: Transfer, peak_nits: f32) -> Self {
        let peak_nits = if peak_nits.is_finite() {
            peak_nits.clamp(SDR_WHITE_NITS, 10_000.0)
        } else {
            DEFAULT_PEAK_NITS
        };
        let light = (0..=TOP * STEPS)
            .map(|i| to_light(transfer, i as f64 / STEPS as f64) as f32)
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or_else(|_| unreachable!("one light per step"));
        let boundaries: [f32; 256] = std::array::from_fn(|k| match k {
            255 => f32::INFINITY,
            _ => ((k as f64 + 0.5) / 255.0).powf(2.4) as f32,
        });
        let levels = Levels::starts()
            .map(|start| boundaries.partition_point(|&b| b <= start) as u8)
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or_else(|_| unreachable!("one level per interval"));
        Self {
            transfer,
            peak_nits,
            light,
            hable_peak: hable(peak_nits / SDR_WHITE_NITS),
            boundaries,
            levels,
        }
    }

    /// The content's transfer.
    pub fn transfer(&self) -> Transfer {
        self.transfer
    }

    /// The peak mapped to white, in nits.
    pub fn peak_nits(&self) -> f32 {
        self.peak_nits
    }

    /// The tables and constants the conversion computes with, for a twin
    /// of [`Self::convert`] elsewhere (the GPU's) that is to agree with it
    /// bit for bit.
    pub fn plan(&self) -> Plan<'_> {
        Plan {
            light: &self.light[..],
            steps: STEPS as f32,
            top: TOP as f32,
            to_rgb: [
                BLACK,
                LUMA_SCALE,
                NEUTRAL,
                CHROMA_SCALE,
                R_CR,
                G_CR,
                G_CB,
                B_CB,
            ],
            gamut: BT2020_TO_BT709,
            tone_map: self.transfer.is_hdr(),
            tone_scale: TONE_SCALE,
            hable_peak: self.hable_peak,
            levels: &self.levels[..],
            levels_floor: Levels::FLOOR,
            levels_shift: 23 - Levels::BITS,
            boundaries: &self.boundaries,
        }
    }

    /// Converts a `width × height` picture into packed RGB24 (`rgb`, rows
    /// of exactly `3 * width` bytes).
    ///
    /// # Panics
    /// When `rgb` or a plane is too small for the size: the caller (a
    /// decoder's frame) sizes them for it.
    pub fn convert(&self, yuv: Yuv420View10<'_>, width: usize, height: usize, rgb: &mut [u8]) {
        let (u, u_stride, v, v_stride, step) = yuv.chroma.strided();
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        check_420(yuv.y, yuv.y_stride, yuv.chroma, (width, height), rgb);
        if width == 0 {
            return;
        }
        let sample = |word: u16| f32::from((word >> yuv.shift) & 0x3ff);
        rgb[..width * height * 3]
            .par_chunks_mut(3 * width)
            .enumerate()
            .for_each_init(
                || Row::new(width, cw),
                |buf, (row, out)| {
                    // This row's chroma: between the chroma rows above and
                    // below its site, a quarter and three quarters away.
                    let near = row / 2;
                    let far = if row % 2 == 0 {
                        near.saturating_sub(1)
                    } else {
                        (near + 1).min(ch - 1)
                    };
                    for (plane, stride, line) in
                        [(u, u_stride, &mut buf.cb), (v, v_stride, &mut buf.cr)]
                    {
                        let (a, b) = (&plane[near * stride..], &plane[far * stride..]);
                        for (j, c) in line.iter_mut().enumerate() {
                            *c = 0.75 * sample(a[j * step]) + 0.25 * sample(b[j * step]);
                        }
                    }
                    // In three passes, so the tone curve's division runs
                    // over many pixels at once: each pixel's light, the
                    // curve's factor for it, its output levels.
                    let y_row = &yuv.y[row * yuv.y_stride..][..width];
                    for (x, (light, &luma)) in buf.light.iter_mut().zip(y_row).enumerate() {
                        // Across: on a chroma site, or halfway between two.
                        let (j, k) = (x / 2, (x / 2 + x % 2).min(cw - 1));
                        let cb = 0.5 * (buf.cb[j] + buf.cb[k]);
                        let cr = 0.5 * (buf.cr[j] + buf.cr[k]);
                        *light = self.light_of(sample(luma), cb, cr);
                    }
                    if self.transfer.is_hdr() {
                        for (scale, light) in buf.scale.iter_mut().zip(&buf.light) {
                            *scale = self.tone_scale(light[0].max(light[1]).max(light[2]));
                        }
                    }
                    for ((px, light), &scale) in
                        out.chunks_exact_mut(3).zip(&buf.light).zip(&buf.scale)
                    {
                        px.copy_from_slice(&light.map(|c| self.level(c * scale)));
                    }
                },
            );
    }

    /// A pixel's light in BT.709 primaries (1.0 = 100 nits), from its
    /// 10-bit luma and (upsampled) chroma codes.
    fn light_of(&self, y: f32, cb: f32, cr: f32) -> [f32; 3] {
        let y = (y - BLACK) * LUMA_SCALE;
        let (cb, cr) = ((cb - NEUTRAL) * CHROMA_SCALE, (cr - NEUTRAL) * CHROMA_SCALE);
        let r = y + R_CR * cr;
        let b = y + B_CB * cb;
        let g = y - G_CR * cr - G_CB * cb;
        let lin = [self.light(r), self.light(g), self.light(b)];
        BT2020_TO_BT709.map(|m| m[0] * lin[0] + m[1] * lin[1] + m[2] * lin[2])
    }

    /// What the tone curve multiplies a pixel by whose brightest channel
    /// is `x`: `hable(x) / (hable(peak) · x)`, which is one division once
    /// `hable`'s constant term, `x`'s factor of it, cancel.
    fn tone_scale(&self, x: f32) -> f32 {
        let [num_x, num_1, den_xx, den_x, den_1] = TONE_SCALE;
        let x = x.max(1e-6);
        let num = x * num_x + num_1;
        let den = (x * (x * den_xx + den_x) + den_1) * self.hable_peak;
        num / den
    }

    /// The output level of `light`: round(light^(1/2.4) × 255), clipped.
    fn level(&self, light: f32) -> u8 {
        // Not `clamp`, which keeps -0.0 (whose bits index the top level)
        // and NaN.
        let light = if light > 0.0 { light.min(1.0) } else { 0.0 };
        let level = self.levels[Levels::index(light)];
        level + u8::from(light >= self.boundaries[usize::from(level)])
    }

    /// The light at R'G'B' value `e`, from the table (none below 0).
    fn light(&self, e: f32) -> f32 {
        let pos = if e > 0.0 { e.min(TOP as f32) } else { 0.0 } * STEPS as f32;
        let i = (pos as usize).min(TOP * STEPS - 1);
        let f = pos - i as f32;
        self.light[i] + f * (self.light[i + 1] - self.light[i])
    }
}

/// Light (1.0 = 100 nits) for R'G'B' value `e` (≥ 0), at most
/// [`MAX_LIGHT`].
fn to_light(transfer: Transfer, e: f64) -> f64 {
    let light = match transfer {
        Transfer::Pq => {
            const M1: f64 = 2610.0 / 16384.0;
            const M2: f64 = 2523.0 / 4096.0 * 128.0;
            const C1: f64 = 3424.0 / 4096.0;
            const C2: f64 = 2413.0 / 4096.0 * 32.0;
            const C3: f64 = 2392.0 / 4096.0 * 32.0;
            let p = e.powf(1.0 / M2);
            let nits = ((p - C1).max(0.0) / (C2 - C3 * p).max(f64::MIN_POSITIVE)).powf(1.0 / M1)
                * 10_000.0;
            nits / f64::from(SDR_WHITE_NITS)
        }
        Transfer::Hlg => {
            const A: f64 = 0.178_832_77;
            const B: f64 = 0.284_668_92;
            const C: f64 = 0.559_910_73;
            let scene = if e <= 0.5 {
                e * e / 3.0
            } else {
                (((e - C) / A).exp() + B) / 12.0
            };
            scene.powf(1.2) * f64::from(DEFAULT_PEAK_NITS / SDR_WHITE_NITS)
        }
        Transfer::Sdr => e.powf(2.4),
    };
    light.min(MAX_LIGHT)
}

/// The constants of John Hable's filmic curve (Uncharted 2's), as
/// FFmpeg's `tonemap` filter has them.
const HABLE: (f32, f32, f32, f32, f32, f32) = (0.15, 0.50, 0.10, 0.20, 0.02, 0.30);

/// `tone_scale`'s terms: its numerator `x · [0] + [1]` (`hable`'s less its
/// constant term, over `x`), its denominator `x · (x · [2] + [3]) + [4]`
/// (`hable`'s) before the peak's factor.
const TONE_SCALE: [f32; 5] = {
    let (a, b, c, d, e, f) = HABLE;
    [a * (1.0 - e / f), b * (c - e / f), a, b, d * f]
};

/// Hable's curve.
fn hable(x: f32) -> f32 {
    let (a, b, c, d, e, f) = HABLE;
    (x * (x * a + b * c) + d * e) / (x * (x * a + b) + d * f) - e / f
}

/// A row's working space.
struct Row {
    /// The row's chroma, at the chroma sites across.
    cb: Vec<f32>,
    cr: Vec<f32>,
    /// Each pixel's light, in BT.709 primaries.
    light: Vec<[f32; 3]>,
    /// What the tone curve multiplies each pixel by (1 for SDR).
    scale: Vec<f32>,
}

impl Row {
    fn new(width: usize, chroma: usize) -> Self {
        Self {
            cb: vec![0.0; chroma],
            cr: vec![0.0; chroma],
            light: vec![[0.0; 3]; width],
            scale: vec![1.0; width],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The picture as `(y, u, v)` planes of 10-bit codes, tight.
    struct Picture {
        width: usize,
        height: usize,
        y: Vec<u16>,
        u: Vec<u16>,
        v: Vec<u16>,
    }

    impl Picture {
        fn view(&self) -> Yuv420View10<'_> {
            let cw = self.width.div_ceil(2);
            Yuv420View10 {
                y: &self.y,
                y_stride: self.width,
                chroma: Chroma::Planar {
                    u: &self.u,
                    u_stride: cw,
                    v: &self.v,
                    v_stride: cw,
                },
                shift: 0,
            }
        }

        fn convert(&self, to: &ToSdr) -> Vec<u8> {
            let mut rgb = vec![0; self.width * self.height * 3];
            to.convert(self.view(), self.width, self.height, &mut rgb);
            rgb
        }
    }

    /// Codes from a small deterministic generator, within `lo..=hi`.
    fn noise(n: usize, seed: u64, lo: u16, hi: u16) -> Vec<u16> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                lo + ((state >> 33) % u64::from(hi - lo + 1)) as u16
            })
            .collect()
    }

    fn random_picture(width: usize, height: usize, seed: u64) -> Picture {
        let chroma = width.div_ceil(2) * height.div_ceil(2);
        Picture {
            width,
            height,
            y: noise(width * height, seed, 64, 940),
            u: noise(chroma, seed + 1, 64, 960),
            v: noise(chroma, seed + 2, 64, 960),
        }
    }

    /// The steps in f64 straight from their definitions: the chroma at
    /// each pixel's position between its sites, `powf` for the transfers,
    /// the gamut matrix and the curve, the output rounded.
    fn reference(p: &Picture, transfer: Transfer, peak_nits: f64) -> Vec<u8> {
        let (cw, ch) = (p.width.div_ceil(2), p.height.div_ceil(2));
        let at = |plane: &[u16], x: usize, y: usize| {
            // Sites: x / 2 across, (y + 0.5) / 2 - 0.5 down, edges clamped.
            let fy = (y as f64 + 0.5) / 2.0 - 0.5;
            let fx = x as f64 / 2.0;
            let pick = |cx: f64, cy: f64| {
                let cx = (cx.max(0.0) as usize).min(cw - 1);
                let cy = (cy.max(0.0) as usize).min(ch - 1);
                f64::from(plane[cy * cw + cx])
            };
            let lerp_y = |cx: f64| {
                let y0 = fy.floor();
                let t = fy - y0;
                pick(cx, y0) * (1.0 - t) + pick(cx, y0 + 1.0) * t
            };
            let x0 = fx.floor();
            let t = fx - x0;
            lerp_y(x0) * (1.0 - t) + lerp_y(x0 + 1.0) * t
        };
        let hable = |x: f64| {
            let (a, b, c, d, e, f) = (0.15, 0.50, 0.10, 0.20, 0.02, 0.30);
            (x * (x * a + b * c) + d * e) / (x * (x * a + b) + d * f) - e / f
        };
        let (kr, kb) = (0.2627, 0.0593);
        let kg = 1.0 - kr - kb;
        let mut out = Vec::with_capacity(p.width * p.height * 3);
        for y in 0..p.height {
            for x in 0..p.width {
                let luma = (f64::from(p.y[y * p.width + x]) - 64.0) / 876.0;
                let cb = (at(&p.u, x, y) - 512.0) / 896.0;
                let cr = (at(&p.v, x, y) - 512.0) / 896.0;
                let r = luma + 2.0 * (1.0 - kr) * cr;
                let b = luma + 2.0 * (1.0 - kb) * cb;
                let g = (luma - kr * r - kb * b) / kg;
                let lin = [r, g, b].map(|e| to_light(transfer, e.clamp(0.0, 2.0)));
                let mut c = BT2020_TO_BT709.map(|m| {
                    f64::from(m[0]) * lin[0] + f64::from(m[1]) * lin[1] + f64::from(m[2]) * lin[2]
                });
                if transfer.is_hdr() {
                    let s = c[0].max(c[1]).max(c[2]).max(1e-6);
                    let k = hable(s) / hable(peak_nits / 100.0) / s;
                    c = c.map(|v| v * k);
                }
                out.extend(c.map(|v| (v.clamp(0.0, 1.0).powf(1.0 / 2.4) * 255.0).round() as u8));
            }
        }
        out
    }

    #[test]
    fn every_pixel_is_what_the_definitions_make_of_it_within_a_level() {
        // Odd sizes: the last column and row have a chroma site alone.
        for (transfer, peak) in [
            (Transfer::Pq, 1000.0),
            (Transfer::Pq, 4000.0),
            (Transfer::Hlg, 1000.0),
            (Transfer::Sdr, 1000.0),
        ] {
            let p = random_picture(37, 23, 7);
            let ours = p.convert(&ToSdr::new(transfer, peak as f32));
            let want = reference(&p, transfer, peak);
            let worst = ours.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max();
            assert!(
                worst <= Some(1),
                "{transfer:?} at {peak} nits: off by {worst:?}"
            );
        }
    }

    #[test]
    fn the_transfers_meet_the_standards_anchor_points() {
        let nits = |transfer, e| to_light(transfer, e) * 100.0;
        // BT.2408: HDR reference white is 203 nits, at PQ 58% and HLG 75%
        // (on HLG's 1000-nit display).
        assert!(
            (nits(Transfer::Hlg, 0.75) - 203.0).abs() < 1.5,
            "{}",
            nits(Transfer::Hlg, 0.75)
        );
        assert!(
            (nits(Transfer::Pq, 0.58) - 203.0).abs() < 3.0,
            "{}",
            nits(Transfer::Pq, 0.58)
        );
        // ST 2084's ends and SDR white's code (0.508).
        assert!((nits(Transfer::Pq, 1.0) - 10_000.0).abs() < 1e-6);
        assert!((nits(Transfer::Pq, 0.508) - 100.0).abs() < 0.5);
        assert!((nits(Transfer::Hlg, 1.0) - 1000.0).abs() < 0.5);
        assert_eq!(nits(Transfer::Pq, 0.0), 0.0);
        assert!((nits(Transfer::Sdr, 0.5) - 100.0 * 0.5f64.powf(2.4)).abs() < 1e-9);
    }

    #[test]
    fn light_gets_the_level_its_rounded_gamma_says_on_both_sides_of_every_boundary() {
        let to = ToSdr::new(Transfer::Sdr, DEFAULT_PEAK_NITS);
        let searched = |light: f32| to.boundaries.partition_point(|&x| x <= light) as u8;
        let exact = |light: f32| (f64::from(light).powf(1.0 / 2.4) * 255.0).round() as u8;
        for &b in &to.boundaries[..255] {
            for light in [
                b,
                f32::from_bits(b.to_bits() - 1),
                f32::from_bits(b.to_bits() + 1),
            ] {
                assert_eq!(to.level(light), searched(light), "{light}");
                assert!(to.level(light).abs_diff(exact(light)) <= 1, "{light}");
            }
        }
        for (light, level) in [
            (0.0, 0),
            (-0.0, 0),
            (f32::NAN, 0),
            (-1.0, 0),
            (1e-30, 0),
            (1.0, 255),
            (7.0, 255),
            (0.5, 191),
        ] {
            assert_eq!(to.level(light), level, "{light}");
        }
        for i in 0..=100_000 {
            let light = i as f32 / 100_000.0;
            assert_eq!(to.level(light), searched(light), "{light}");
        }
    }

    #[test]
    fn sdr_bt2020_grey_keeps_its_level_and_black_is_black() {
        // Grey has no chroma: only the gamut matrix touches it, and its rows
        // sum to one.
        let to = ToSdr::new(Transfer::Sdr, DEFAULT_PEAK_NITS);
        for code in (64u16..=940).step_by(7) {
            let p = Picture {
                width: 2,
                height: 2,
                y: vec![code; 4],
                u: vec![512],
                v: vec![512],
            };
            let want = (f32::from(code - 64) / 876.0 * 255.0).round() as u8;
            for px in p.convert(&to).chunks(3) {
                assert_eq!(px, [want; 3], "luma code {code}");
            }
        }
        for transfer in [Transfer::Pq, Transfer::Hlg] {
            let black = Picture {
                width: 2,
                height: 2,
                y: vec![64; 4],
                u: vec![512],
                v: vec![512],
            };
            assert_eq!(black.convert(&ToSdr::new(transfer, 1000.0)), [0; 12]);
        }
    }

    #[test]
    fn the_peak_is_white_and_greys_below_it_keep_their_order() {
        // PQ codes for 1000 and 4000 nits, and every code between black
        // and the top.
        let pq_code = |nits: f64| {
            let y = nits / 10_000.0;
            let (m1, m2) = (2610.0 / 16384.0, 2523.0 / 4096.0 * 128.0);
            let (c1, c2, c3) = (3424.0 / 4096.0, 2413.0 / 128.0, 2392.0 / 128.0);
            let e = ((c1 + c2 * y.powf(m1)) / (1.0 + c3 * y.powf(m1))).powf(m2);
            (64.0 + e * 876.0).round() as u16
        };
        let grey = |code: u16, to: &ToSdr| {
            let p = Picture {
                width: 1,
                height: 1,
                y: vec![code],
                u: vec![512],
                v: vec![512],
            };
            p.convert(to)[0]
        };
        let at_1000 = ToSdr::new(Transfer::Pq, 1000.0);
        let at_4000 = ToSdr::new(Transfer::Pq, 4000.0);
        assert_eq!(grey(pq_code(1000.0), &at_1000), 255);
        assert!(
            grey(pq_code(1000.0), &at_4000) < 240,
            "a 4000-nit master keeps room above 1000"
        );
        assert_eq!(grey(pq_code(4000.0), &at_4000), 255);
        assert_eq!(grey(940, &at_1000), 255, "brighter than the peak clips");
        // SDR white (100 nits) lands in the midtones, not at the top.
        let white = grey(pq_code(100.0), &at_1000);
        assert!((90..200).contains(&white), "100 nits → {white}");
        for to in [&at_1000, &at_4000, &ToSdr::new(Transfer::Hlg, 1000.0)] {
            let levels: Vec<u8> = (64..=940).map(|code| grey(code, to)).collect();
            assert!(
                levels.windows(2).all(|w| w[0] <= w[1]),
                "{:?}",
                to.transfer()
            );
        }
    }

    #[test]
    fn bt2020_green_outside_bt709_keeps_its_hue_and_clips() {
        // BT.2020's pure green primary: no BT.709 colour has it, so red and
        // blue go below zero and clip; green stays the brightest.
        let kg = 1.0 - f64::from(KR) - f64::from(KB);
        let y = (64.0 + kg * 876.0 * 0.75).round() as u16;
        let cb = (512.0 - f64::from(y - 64) / 876.0 / (2.0 * (1.0 - f64::from(KB))) * 896.0).round()
            as u16;
        let cr = (512.0 - f64::from(y - 64) / 876.0 / (2.0 * (1.0 - f64::from(KR))) * 896.0).round()
            as u16;
        let p = Picture {
            width: 2,
            height: 2,
            y: vec![y; 4],
            u: vec![cb],
            v: vec![cr],
        };
        for transfer in [Transfer::Sdr, Transfer::Hlg, Transfer::Pq] {
            let px = p.convert(&ToSdr::new(transfer, 1000.0));
            let [r, g, b] = [px[0], px[1], px[2]];
            assert!(r == 0 && b == 0 && g > 100, "{transfer:?}: {r} {g} {b}");
        }
    }

    #[test]
    fn p010_is_the_same_picture_as_yuv420p10() {
        let p = random_picture(16, 10, 3);
        let (cw, ch) = (8, 5);
        let shifted = |plane: &[u16]| plane.iter().map(|c| c << 6).collect::<Vec<_>>();
        let uv: Vec<u16> = (0..cw * ch)
            .flat_map(|i| [p.u[i] << 6, p.v[i] << 6])
            .collect();
        // Padded rows, as decoders lay planes out.
        let pad = |plane: &[u16], row: usize, stride: usize| {
            plane
                .chunks(row)
                .flat_map(|r| {
                    r.iter()
                        .copied()
                        .chain(std::iter::repeat_n(0xffff, stride - row))
                })
                .collect::<Vec<_>>()
        };
        let y = pad(&shifted(&p.y), 16, 24);
        let uv = pad(&uv, 16, 20);
        let to = ToSdr::new(Transfer::Hlg, 1000.0);
        let mut p010 = vec![0; 16 * 10 * 3];
        to.convert(
            Yuv420View10 {
                y: &y,
                y_stride: 24,
                chroma: Chroma::Interleaved {
                    uv: &uv,
                    stride: 20,
                },
                shift: 6,
            },
            16,
            10,
            &mut p010,
        );
        assert_eq!(p010, p.convert(&to));
    }

    #[test]
    #[should_panic(expected = "smaller than 8×8")]
    fn a_short_plane_is_refused() {
        let p = random_picture(8, 6, 1);
        let mut rgb = vec![0; 8 * 8 * 3];
        ToSdr::new(Transfer::Pq, 1000.0).convert(p.view(), 8, 8, &mut rgb);
    }
}
