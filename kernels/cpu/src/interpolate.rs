//! Optical-flow frame interpolation of packed RGB24 frames.
//!
//! # Method
//!
//! 1. Both frames are reduced to a half-resolution luma plane and a pyramid
//!    of up to [`Params::levels`] levels is built from it by 2x2 averaging;
//!    full-resolution flow is not needed to synthesise an in-between frame.
//! 2. Flow is estimated in both directions (A->B and B->A), coarse to fine,
//!    on a grid of overlapping 8x8 patches spaced [`Params::block`] pixels
//!    apart. At the coarsest level each patch runs an integer search of
//!    [`Params::search_radius`]; at finer levels it picks the best of the
//!    upsampled coarser vectors (its own and its four neighbours') and zero,
//!    searches +-1 around it (not at the base level), then refines to
//!    sub-pixel precision with
//!    inverse-compositional Lucas-Kanade iterations. Each level's vector
//!    field is smoothed with a 3x3 median. Vectors are read back at any pixel
//!    by bilinear interpolation of the grid.
//! 3. A frame at time `t` is synthesised by backward warping: the flow from
//!    the intermediate frame to A and to B is approximated from the two
//!    estimated fields (`F_t0 = -(1-t) t F_ab + t^2 F_ba`,
//!    `F_t1 = (1-t)^2 F_ab - t (1-t) F_ba`), A and B are sampled bilinearly
//!    there, and the two samples are blended with weights `(1-t)` and `t`,
//!    each scaled down by how badly a forward-backward consistency check
//!    fails at its sample point. A pixel that is occluded in one frame
//!    therefore comes mostly from the frame where it is visible. The warp
//!    and weights are computed once per 8x8 pixel block (the flow grid is
//!    coarser than that) and applied in 14-bit fixed point.
//! 4. A scene cut (luma-histogram distance or motion-compensated mean
//!    absolute difference above [`Params::cut_histogram`] /
//!    [`Params::cut_residual`]) disables morphing: the nearer source frame is
//!    returned unchanged.
//!
//! [`FlowPair`] holds the estimated fields of one pair of frames so that any
//! number of intermediate times can be rendered from one estimate;
//! [`raise_frame_rate`] and [`retime`] do that over a sequence.
//!
//! All work is split over the current rayon pool.

use rayon::prelude::*;
use thiserror::Error;

/// Side of the square patch matched for each grid vector, in pixels of the
/// pyramid level.
pub const FLOW_PATCH: usize = 8;
const PATCH: usize = FLOW_PATCH;
/// Luma histogram bins of the scene-cut test.
pub const CUT_HISTOGRAM_BINS: usize = 32;
/// Side of the pixel blocks that share one warp when rendering (even; the
/// flow grid is coarser than this at full resolution).
const QUAD: usize = 8;

/// Errors from frame interpolation.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InterpolateError {
    /// A frame has zero width or height.
    #[error("empty frame: {width}x{height}")]
    Empty {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// A frame's buffer is not `width * height * 3` bytes long.
    #[error("frame buffer holds {len} bytes, expected {expected} for {width}x{height} rgb24")]
    BufferLength {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
        /// Bytes in the buffer.
        len: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// The two frames differ in size.
    #[error("frame sizes differ: {a_width}x{a_height} and {b_width}x{b_height}")]
    SizeMismatch {
        /// Width of the first frame.
        a_width: usize,
        /// Height of the first frame.
        a_height: usize,
        /// Width of the second frame.
        b_width: usize,
        /// Height of the second frame.
        b_height: usize,
    },
    /// The interpolation time is not in `[0, 1]`.
    #[error("interpolation time {t} is outside [0, 1]")]
    Time {
        /// The time given.
        t: f32,
    },
    /// A frame-rate factor below 1.
    #[error("frame rate factor must be at least 1, got {factor}")]
    Factor {
        /// The factor given.
        factor: u32,
    },
    /// A frame rate that is not finite and positive.
    #[error("frame rate must be finite and positive, got {fps}")]
    FrameRate {
        /// The rate given.
        fps: f64,
    },
    /// A flow field that does not fit the frames it is for.
    #[error(
        "flow field of {cols}x{rows} cells of {block} px ({vectors} vectors) does not fit: expected {expected_cols}x{expected_rows} cells of {expected_block} px"
    )]
    Field {
        /// Cells a row.
        cols: usize,
        /// Rows of cells.
        rows: usize,
        /// Cell spacing.
        block: usize,
        /// Vectors given.
        vectors: usize,
        /// Cells a row expected.
        expected_cols: usize,
        /// Rows expected.
        expected_rows: usize,
        /// Cell spacing expected.
        expected_block: usize,
    },
    /// A parameter outside its allowed range.
    #[error("parameter {name} = {value} is outside {allowed}")]
    Param {
        /// Parameter name.
        name: &'static str,
        /// The value given.
        value: f32,
        /// The allowed range, in words.
        allowed: &'static str,
    },
}

/// A packed RGB24 frame: `data` holds `width * height * 3` bytes, row-major,
/// no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Packed RGB bytes.
    pub data: Vec<u8>,
}

impl Frame {
    /// Makes a frame, checking that the buffer matches the size.
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Result<Self, InterpolateError> {
        let frame = Self {
            width,
            height,
            data,
        };
        frame.validate()?;
        Ok(frame)
    }

    /// Checks that the frame is non-empty and its buffer length matches.
    pub fn validate(&self) -> Result<(), InterpolateError> {
        if self.width == 0 || self.height == 0 {
            return Err(InterpolateError::Empty {
                width: self.width,
                height: self.height,
            });
        }
        let expected = self.width * self.height * 3;
        if self.data.len() != expected {
            return Err(InterpolateError::BufferLength {
                width: self.width,
                height: self.height,
                len: self.data.len(),
                expected,
            });
        }
        Ok(())
    }

    /// The frame resampled to `width × height` (bilinear, pixel centres
    /// aligned); itself when the size is already that. A zero size is
    /// taken as 1.
    pub fn resized(&self, width: usize, height: usize) -> Frame {
        let (w, h) = (width.max(1), height.max(1));
        if self.width == w && self.height == h {
            return self.clone();
        }
        let mut data = vec![0u8; 3 * w * h];
        let (sx, sy) = (self.width as f32 / w as f32, self.height as f32 / h as f32);
        let at = |x: usize, y: usize, c: usize| f32::from(self.data[3 * (y * self.width + x) + c]);
        for (y, row) in data.chunks_exact_mut(3 * w).enumerate() {
            let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (self.height - 1) as f32);
            let (y0, ty) = (fy as usize, fy.fract());
            let y1 = (y0 + 1).min(self.height - 1);
            for (x, px) in row.chunks_exact_mut(3).enumerate() {
                let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (self.width - 1) as f32);
                let (x0, tx) = (fx as usize, fx.fract());
                let x1 = (x0 + 1).min(self.width - 1);
                for (c, v) in px.iter_mut().enumerate() {
                    let top = at(x0, y0, c) * (1.0 - tx) + at(x1, y0, c) * tx;
                    let bottom = at(x0, y1, c) * (1.0 - tx) + at(x1, y1, c) * tx;
                    *v = (top * (1.0 - ty) + bottom * ty).round() as u8;
                }
            }
        }
        Frame {
            width: w,
            height: h,
            data,
        }
    }
}

/// Tuning of the flow estimate and the scene-cut test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Most pyramid levels, counting the half-resolution base (1..=8).
    pub levels: usize,
    /// Spacing of the flow grid in pixels of each level (2..=8).
    pub block: usize,
    /// Integer search radius at the coarsest level, in its pixels (0..=16).
    pub search_radius: usize,
    /// Lucas-Kanade iterations per patch and level (0..=16).
    pub iterations: usize,
    /// Luma-histogram L1 distance (0..=2) above which the pair is a cut.
    pub cut_histogram: f32,
    /// Motion-compensated mean absolute luma difference (0..=255) above which
    /// the pair is a cut.
    pub cut_residual: f32,
    /// Forward-backward inconsistency, in full-resolution pixels, at which a
    /// sample's blend weight is halved.
    pub consistency_px: f32,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            levels: 4,
            block: 5,
            search_radius: 4,
            iterations: 3,
            cut_histogram: 0.8,
            cut_residual: 40.0,
            consistency_px: 1.5,
        }
    }
}

impl Params {
    /// Checks every parameter is in its range.
    pub fn validate(&self) -> Result<(), InterpolateError> {
        let check = |name, value: f32, ok: bool, allowed| {
            if ok {
                Ok(())
            } else {
                Err(InterpolateError::Param {
                    name,
                    value,
                    allowed,
                })
            }
        };
        check(
            "levels",
            self.levels as f32,
            (1..=8).contains(&self.levels),
            "1..=8",
        )?;
        check(
            "block",
            self.block as f32,
            (2..=8).contains(&self.block),
            "2..=8",
        )?;
        check(
            "search_radius",
            self.search_radius as f32,
            self.search_radius <= 16,
            "0..=16",
        )?;
        check(
            "iterations",
            self.iterations as f32,
            self.iterations <= 16,
            "0..=16",
        )?;
        check(
            "cut_histogram",
            self.cut_histogram,
            self.cut_histogram >= 0.0,
            "a value >= 0",
        )?;
        check(
            "cut_residual",
            self.cut_residual,
            self.cut_residual >= 0.0,
            "a value >= 0",
        )?;
        check(
            "consistency_px",
            self.consistency_px,
            self.consistency_px > 0.0,
            "a value > 0",
        )
    }
}

/// A single-channel float plane.
#[derive(Debug, Clone)]
struct Plane {
    w: usize,
    h: usize,
    d: Vec<f32>,
}

impl Plane {
    #[inline]
    fn at(&self, x: isize, y: isize) -> f32 {
        let x = x.clamp(0, self.w as isize - 1) as usize;
        let y = y.clamp(0, self.h as isize - 1) as usize;
        self.d[y * self.w + x]
    }

    #[inline]
    fn sample(&self, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.w - 1) as f32);
        let y = y.clamp(0.0, (self.h - 1) as f32);
        let x0 = x as usize;
        let y0 = y as usize;
        let x1 = (x0 + 1).min(self.w - 1);
        let y1 = (y0 + 1).min(self.h - 1);
        let fx = x - x0 as f32;
        let fy = y - y0 as f32;
        let r0 = y0 * self.w;
        let r1 = y1 * self.w;
        let top = self.d[r0 + x0] + (self.d[r0 + x1] - self.d[r0 + x0]) * fx;
        let bottom = self.d[r1 + x0] + (self.d[r1 + x1] - self.d[r1 + x0]) * fx;
        top + (bottom - top) * fy
    }

    /// Half-resolution luma of an RGB frame (2x2 box average).
    fn half_luma(f: &Frame) -> Self {
        let w = f.width.div_ceil(2);
        let h = f.height.div_ceil(2);
        let mut d = vec![0.0f32; w * h];
        d.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let sy0 = 2 * y;
            let sy1 = (2 * y + 1).min(f.height - 1);
            for (x, o) in row.iter_mut().enumerate() {
                let sx0 = 2 * x;
                let sx1 = (2 * x + 1).min(f.width - 1);
                let mut acc = 0.0;
                for (sx, sy) in [(sx0, sy0), (sx1, sy0), (sx0, sy1), (sx1, sy1)] {
                    let i = (sy * f.width + sx) * 3;
                    acc += 0.299 * f32::from(f.data[i])
                        + 0.587 * f32::from(f.data[i + 1])
                        + 0.114 * f32::from(f.data[i + 2]);
                }
                *o = acc * 0.25;
            }
        });
        Self { w, h, d }
    }

    /// 2x2 box downsample.
    fn down(&self) -> Self {
        let w = self.w.div_ceil(2);
        let h = self.h.div_ceil(2);
        let mut d = vec![0.0f32; w * h];
        d.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let sy0 = 2 * y;
            let sy1 = (2 * y + 1).min(self.h - 1);
            for (x, o) in row.iter_mut().enumerate() {
                let sx0 = 2 * x;
                let sx1 = (2 * x + 1).min(self.w - 1);
                *o = 0.25
                    * (self.d[sy0 * self.w + sx0]
                        + self.d[sy0 * self.w + sx1]
                        + self.d[sy1 * self.w + sx0]
                        + self.d[sy1 * self.w + sx1]);
            }
        });
        Self { w, h, d }
    }
}

/// One level of the pyramid the flow is estimated on: its plane and the
/// flow grid over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowLevel {
    /// Plane width, in level pixels.
    pub width: usize,
    /// Plane height, in level pixels.
    pub height: usize,
    /// Flow-grid cells a row.
    pub cols: usize,
    /// Rows of flow-grid cells.
    pub rows: usize,
    /// Integer search radius around the best candidate, in level pixels.
    pub radius: usize,
}

/// The levels [`FlowPair::estimate`] works on for `width × height` frames,
/// finest first: the half-resolution base, then each 2×2 average of the one
/// before while it is at least four patches across, up to
/// [`Params::levels`]. The coarsest level searches
/// [`Params::search_radius`], those in between ±1 around their best
/// candidate, and the base none (Lucas–Kanade refines it). The GPU twin
/// runs on the same levels.
pub fn flow_levels(width: usize, height: usize, params: &Params) -> Vec<FlowLevel> {
    let mut sizes = vec![(width.div_ceil(2), height.div_ceil(2))];
    while sizes.len() < params.levels {
        let (w, h) = sizes[sizes.len() - 1];
        if w.min(h) < 2 * 2 * FLOW_PATCH {
            break;
        }
        sizes.push((w.div_ceil(2), h.div_ceil(2)));
    }
    let coarsest = sizes.len() - 1;
    sizes
        .iter()
        .enumerate()
        .map(|(level, &(width, height))| FlowLevel {
            width,
            height,
            cols: width.div_ceil(params.block),
            rows: height.div_ceil(params.block),
            radius: if level == coarsest {
                params.search_radius
            } else if level > 0 {
                1
            } else {
                0
            },
        })
        .collect()
}

/// The pyramid over `base` with `levels` levels (`flow_levels`' count).
fn pyramid(base: Plane, levels: usize) -> Vec<Plane> {
    let mut planes = vec![base];
    while planes.len() < levels {
        let next = planes[planes.len() - 1].down();
        planes.push(next);
    }
    planes
}

/// A flow field: one vector per cell of a regular grid over a pyramid
/// level, in that level's pixels. A [`FlowPair`]'s fields are over the
/// half-resolution base level.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowGrid {
    /// Cells a row.
    pub cols: usize,
    /// Rows of cells.
    pub rows: usize,
    /// Cell spacing, in level pixels ([`Params::block`]).
    pub block: usize,
    /// The vectors, row-major: `(dx, dy)`.
    pub vectors: Vec<[f32; 2]>,
}

impl FlowGrid {
    /// Centre of cell `g` along one axis, in level pixels.
    #[inline]
    fn centre(&self, g: usize) -> f32 {
        (g * self.block) as f32 + (self.block as f32 - 1.0) * 0.5
    }

    /// Bilinear read of the field at level-pixel position `(x, y)`.
    #[inline(always)]
    fn sample(&self, x: f32, y: f32) -> [f32; 2] {
        let inv = 1.0 / self.block as f32;
        let half = (self.block as f32 - 1.0) * 0.5;
        let u = ((x - half) * inv).clamp(0.0, (self.cols - 1) as f32);
        let v = ((y - half) * inv).clamp(0.0, (self.rows - 1) as f32);
        let u0 = u as usize;
        let v0 = v as usize;
        let u1 = (u0 + 1).min(self.cols - 1);
        let v1 = (v0 + 1).min(self.rows - 1);
        let fu = u - u0 as f32;
        let fv = v - v0 as f32;
        let a = self.vectors[v0 * self.cols + u0];
        let b = self.vectors[v0 * self.cols + u1];
        let c = self.vectors[v1 * self.cols + u0];
        let d = self.vectors[v1 * self.cols + u1];
        let mut out = [0.0; 2];
        for (k, o) in out.iter_mut().enumerate() {
            let top = a[k] + (b[k] - a[k]) * fu;
            let bottom = c[k] + (d[k] - c[k]) * fu;
            *o = top + (bottom - top) * fv;
        }
        out
    }

    /// The field at full-resolution pixel `(x, y)`, in full-resolution pixels,
    /// for a grid over the half-resolution base level.
    #[inline]
    fn sample_full(&self, x: f32, y: f32) -> [f32; 2] {
        let f = self.sample((x + 0.5) * 0.5 - 0.5, (y + 0.5) * 0.5 - 0.5);
        [f[0] * 2.0, f[1] * 2.0]
    }

    /// 3x3 median of each component.
    fn median3(&self) -> Self {
        let mut v = vec![[0.0f32; 2]; self.vectors.len()];
        v.par_chunks_mut(self.cols)
            .enumerate()
            .for_each(|(gy, row)| {
                for (gx, o) in row.iter_mut().enumerate() {
                    for (k, ok) in o.iter_mut().enumerate() {
                        let mut vals = [0.0f32; 9];
                        let mut n = 0;
                        for dy in -1isize..=1 {
                            for dx in -1isize..=1 {
                                let x =
                                    (gx as isize + dx).clamp(0, self.cols as isize - 1) as usize;
                                let y =
                                    (gy as isize + dy).clamp(0, self.rows as isize - 1) as usize;
                                vals[n] = self.vectors[y * self.cols + x][k];
                                n += 1;
                            }
                        }
                        vals.sort_unstable_by(f32::total_cmp);
                        *ok = vals[4];
                    }
                }
            });
        Self {
            vectors: v,
            ..*self
        }
    }
}

/// Best vector for the patch with top-left `(x0, y0)` of `src` in `dst`.
fn patch_flow(
    src: &Plane,
    dst: &Plane,
    x0: isize,
    y0: isize,
    cands: &[[f32; 2]],
    radius: isize,
    iterations: usize,
) -> [f32; 2] {
    const N: usize = PATCH * PATCH;
    let mut s = [0.0f32; N];
    let mut gx = [0.0f32; N];
    let mut gy = [0.0f32; N];
    let p = PATCH as isize;
    if x0 >= 1 && y0 >= 1 && x0 + p < src.w as isize && y0 + p < src.h as isize {
        let sw = src.w;
        for j in 0..PATCH {
            let base = (y0 as usize + j) * sw + x0 as usize;
            for i in 0..PATCH {
                let k = j * PATCH + i;
                let c = base + i;
                s[k] = src.d[c];
                gx[k] = 0.5 * (src.d[c + 1] - src.d[c - 1]);
                gy[k] = 0.5 * (src.d[c + sw] - src.d[c - sw]);
            }
        }
    } else {
        for j in 0..PATCH {
            for i in 0..PATCH {
                let x = x0 + i as isize;
                let y = y0 + j as isize;
                let k = j * PATCH + i;
                s[k] = src.at(x, y);
                gx[k] = 0.5 * (src.at(x + 1, y) - src.at(x - 1, y));
                gy[k] = 0.5 * (src.at(x, y + 1) - src.at(x, y - 1));
            }
        }
    }
    let inside = |ox: isize, oy: isize| {
        x0 + ox >= 0
            && y0 + oy >= 0
            && x0 + ox + PATCH as isize <= dst.w as isize
            && y0 + oy + PATCH as isize <= dst.h as isize
    };
    let sad = |ox: isize, oy: isize, limit: f32| -> f32 {
        let mut cost = 0.0;
        if inside(ox, oy) {
            for j in 0..PATCH {
                let base = (y0 + oy + j as isize) as usize * dst.w + (x0 + ox) as usize;
                let row = &dst.d[base..base + PATCH];
                for (i, &p) in row.iter().enumerate() {
                    cost += (p - s[j * PATCH + i]).abs();
                }
                if cost >= limit {
                    return cost;
                }
            }
        } else {
            for j in 0..PATCH {
                for i in 0..PATCH {
                    let p = dst.at(x0 + ox + i as isize, y0 + oy + j as isize);
                    cost += (p - s[j * PATCH + i]).abs();
                }
                if cost >= limit {
                    return cost;
                }
            }
        }
        cost
    };

    // Candidates, compared at integer precision.
    let mut best = cands[0];
    let mut best_int = (best[0].round() as isize, best[1].round() as isize);
    let mut best_cost = sad(best_int.0, best_int.1, f32::INFINITY);
    for &c in &cands[1..] {
        let ci = (c[0].round() as isize, c[1].round() as isize);
        if ci == best_int {
            continue;
        }
        let cost = sad(ci.0, ci.1, best_cost);
        if cost < best_cost {
            best_cost = cost;
            best = c;
            best_int = ci;
        }
    }
    // Integer search around the best candidate.
    let centre = best_int;
    for oy in -radius..=radius {
        for ox in -radius..=radius {
            if ox == 0 && oy == 0 {
                continue;
            }
            let ci = (centre.0 + ox, centre.1 + oy);
            let cost = sad(ci.0, ci.1, best_cost);
            if cost < best_cost {
                best_cost = cost;
                best = [ci.0 as f32, ci.1 as f32];
            }
        }
    }
    if iterations == 0 {
        return best;
    }

    // Inverse-compositional Lucas-Kanade from the best start.
    let (mut hxx, mut hxy, mut hyy) = (0.0f32, 0.0f32, 0.0f32);
    for k in 0..N {
        hxx += gx[k] * gx[k];
        hxy += gx[k] * gy[k];
        hyy += gy[k] * gy[k];
    }
    let reg = N as f32 * 0.5;
    hxx += reg;
    hyy += reg;
    let det = hxx * hyy - hxy * hxy;
    if det <= f32::EPSILON {
        return best;
    }
    let inv_det = 1.0 / det;
    let mut v = best;
    let mut best_v = best;
    let mut best_ssd = f32::INFINITY;
    for it in 0..=iterations {
        let (mut bx, mut by, mut ssd) = (0.0f32, 0.0f32, 0.0f32);
        let fx = v[0].floor();
        let fy = v[1].floor();
        let (ox, oy) = (fx as isize, fy as isize);
        if x0 + ox >= 0
            && y0 + oy >= 0
            && x0 + ox + p < dst.w as isize
            && y0 + oy + p < dst.h as isize
        {
            // The offset is the same for the whole patch: one set of
            // bilinear weights, no clamping.
            let (ax, ay) = (v[0] - fx, v[1] - fy);
            let w00 = (1.0 - ax) * (1.0 - ay);
            let w01 = ax * (1.0 - ay);
            let w10 = (1.0 - ax) * ay;
            let w11 = ax * ay;
            let dw = dst.w;
            for j in 0..PATCH {
                let base = (y0 + oy) as usize * dw + j * dw + (x0 + ox) as usize;
                let r0 = &dst.d[base..base + PATCH + 1];
                let r1 = &dst.d[base + dw..base + dw + PATCH + 1];
                for i in 0..PATCH {
                    let k = j * PATCH + i;
                    let q = w00 * r0[i] + w01 * r0[i + 1] + w10 * r1[i] + w11 * r1[i + 1];
                    let r = q - s[k];
                    ssd += r * r;
                    bx += gx[k] * r;
                    by += gy[k] * r;
                }
            }
        } else {
            for j in 0..PATCH {
                let y = (y0 + j as isize) as f32 + v[1];
                for i in 0..PATCH {
                    let x = (x0 + i as isize) as f32 + v[0];
                    let k = j * PATCH + i;
                    let r = dst.sample(x, y) - s[k];
                    ssd += r * r;
                    bx += gx[k] * r;
                    by += gy[k] * r;
                }
            }
        }
        if ssd < best_ssd {
            best_ssd = ssd;
            best_v = v;
        } else {
            break;
        }
        if it == iterations {
            break;
        }
        let dx = (hyy * bx - hxy * by) * inv_det;
        let dy = (hxx * by - hxy * bx) * inv_det;
        let dx = dx.clamp(-2.0, 2.0);
        let dy = dy.clamp(-2.0, 2.0);
        v = [v[0] - dx, v[1] - dy];
        if dx.abs() + dy.abs() < 0.01 {
            break;
        }
    }
    best_v
}

/// Flow from `p0` to `p1`, coarse to fine; the grid is over level 0.
fn estimate_flow(p0: &[Plane], p1: &[Plane], levels: &[FlowLevel], params: &Params) -> FlowGrid {
    let block = params.block;
    let mut coarse: Option<FlowGrid> = None;
    for (lvl, level) in levels.iter().enumerate().rev() {
        let src = &p0[lvl];
        let dst = &p1[lvl];
        let (gw, gh) = (level.cols, level.rows);
        let mut grid = FlowGrid {
            cols: gw,
            rows: gh,
            block,
            vectors: vec![[0.0; 2]; gw * gh],
        };
        let pred: Vec<[f32; 2]> = match &coarse {
            Some(c) => (0..gw * gh)
                .map(|i| {
                    let x = grid.centre(i % gw);
                    let y = grid.centre(i / gw);
                    let f = c.sample((x + 0.5) * 0.5 - 0.5, (y + 0.5) * 0.5 - 0.5);
                    [f[0] * 2.0, f[1] * 2.0]
                })
                .collect(),
            None => vec![[0.0; 2]; gw * gh],
        };
        let radius = level.radius as isize;
        let half = (block / 2) as isize - (FLOW_PATCH / 2) as isize;
        grid.vectors
            .par_chunks_mut(gw)
            .enumerate()
            .for_each(|(gy, row)| {
                for (gx, out) in row.iter_mut().enumerate() {
                    let i = gy * gw + gx;
                    let mut cands = [[0.0f32; 2]; 6];
                    let mut n = 0;
                    cands[n] = pred[i];
                    n += 1;
                    if gx > 0 {
                        cands[n] = pred[i - 1];
                        n += 1;
                    }
                    if gx + 1 < gw {
                        cands[n] = pred[i + 1];
                        n += 1;
                    }
                    if gy > 0 {
                        cands[n] = pred[i - gw];
                        n += 1;
                    }
                    if gy + 1 < gh {
                        cands[n] = pred[i + gw];
                        n += 1;
                    }
                    cands[n] = [0.0; 2];
                    n += 1;
                    let x0 = (gx * block) as isize + half;
                    let y0 = (gy * block) as isize + half;
                    *out = patch_flow(src, dst, x0, y0, &cands[..n], radius, params.iterations);
                }
            });
        coarse = Some(grid.median3());
    }
    // `levels >= 1`, so the loop ran at least once.
    coarse.unwrap_or(FlowGrid {
        cols: 1,
        rows: 1,
        block,
        vectors: vec![[0.0; 2]],
    })
}

/// What the scene-cut test reads: the two frames' luma histograms and the
/// motion-compensated luma difference of A against B, as sums, so the GPU
/// twin can gather them and the verdict is worked out the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct CutEvidence {
    /// A's half-resolution luma in [`CUT_HISTOGRAM_BINS`] bins of 256 / bins.
    pub histogram_a: [u32; CUT_HISTOGRAM_BINS],
    /// B's, likewise.
    pub histogram_b: [u32; CUT_HISTOGRAM_BINS],
    /// Per sampled row (every other row of the base level, every other
    /// pixel along it), the sum of `|B(p + F_ab(p)) - A(p)|`.
    pub residual_rows: Vec<f64>,
    /// Pixels sampled along each of those rows.
    pub samples_per_row: usize,
}

impl CutEvidence {
    /// Whether the evidence says the pair straddles a cut: the histograms'
    /// L1 distance or the mean residual is over its limit in `params`.
    pub fn is_cut(&self, params: &Params) -> bool {
        let (na, nb) = (bins_total(&self.histogram_a), bins_total(&self.histogram_b));
        let distance: f32 = self
            .histogram_a
            .iter()
            .zip(&self.histogram_b)
            .map(|(&x, &y)| (x as f32 / na - y as f32 / nb).abs())
            .sum();
        // Summed in row order, so the verdict does not hang on how threads
        // split the rows.
        let sum: f64 = self.residual_rows.iter().sum();
        let samples = (self.residual_rows.len() * self.samples_per_row).max(1);
        let residual = (sum / samples as f64) as f32;
        distance > params.cut_histogram || residual > params.cut_residual
    }
}

fn bins_total(bins: &[u32]) -> f32 {
    bins.iter().sum::<u32>().max(1) as f32
}

fn histogram(p: &Plane) -> [u32; CUT_HISTOGRAM_BINS] {
    let mut h = [0u32; CUT_HISTOGRAM_BINS];
    for &v in &p.d {
        h[histogram_bin(v)] += 1;
    }
    h
}

/// The bin of a luma value.
#[inline]
fn histogram_bin(v: f32) -> usize {
    ((v * CUT_HISTOGRAM_BINS as f32 / 256.0) as usize).min(CUT_HISTOGRAM_BINS - 1)
}

/// Per sampled row, the absolute difference of `p0` and `p1` warped back by
/// `flow`, summed.
fn residual_rows(p0: &Plane, p1: &Plane, flow: &FlowGrid) -> Vec<f64> {
    (0..p0.h)
        .into_par_iter()
        .step_by(2)
        .map(|y| {
            let mut s = 0.0f64;
            for x in (0..p0.w).step_by(2) {
                let f = flow.sample(x as f32, y as f32);
                let q = p1.sample(x as f32 + f[0], y as f32 + f[1]);
                s += f64::from((q - p0.d[y * p0.w + x]).abs());
            }
            s
        })
        .collect()
}

fn check_pair(a: &Frame, b: &Frame) -> Result<(), InterpolateError> {
    a.validate()?;
    b.validate()?;
    if a.width != b.width || a.height != b.height {
        return Err(InterpolateError::SizeMismatch {
            a_width: a.width,
            a_height: a.height,
            b_width: b.width,
            b_height: b.height,
        });
    }
    Ok(())
}

/// Fixed-point precision of the warp weights.
const FIX_BITS: u32 = 14;

/// A bilinear tap at a constant offset from the output pixel, its four
/// weights (top-left, top-right, bottom-left, bottom-right) premultiplied by
/// a blend weight, in 14-bit fixed point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct WarpTap {
    /// Column offset of the top-left tap.
    pub ix: i32,
    /// Row offset of the top-left tap.
    pub iy: i32,
    /// The four weights; with the other frame's four they sum to 2¹⁴.
    pub w: [u32; 4],
}

/// How [`FlowPair::render`] draws one frame, for its GPU twin: the frame is
/// cut into 8×8 blocks (row-major, `blocks_x` a row) and every pixel of a
/// block blends its two taps, one into each source frame: each channel is
/// `(2¹³ + Σ wᵢ·aᵢ + Σ wᵢ·bᵢ) >> 14`, at most 255, with the taps' positions
/// clamped to the frame.
#[derive(Debug, Clone)]
pub struct WarpPlan {
    /// Blocks per row.
    pub blocks_x: usize,
    /// Per block, its taps into A and into B.
    pub taps: Vec<[WarpTap; 2]>,
}

/// The coefficients of the warp at time `t`: the flow from the in-between
/// frame to A is `c0a·F_ab + c0b·F_ba`, to B `c1a·F_ab + c1b·F_ba`; A's
/// blend weight is `s / (1 + e_a·inv_sigma2)`, B's `t / (1 + e_b·inv_sigma2)`,
/// with `e` the squared forward-backward inconsistency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarpTime {
    /// The time, in (0, 1).
    pub t: f32,
    /// `1 - t`.
    pub s: f32,
    /// Weight of F_ab in the flow to A.
    pub c0a: f32,
    /// Weight of F_ba in the flow to A.
    pub c0b: f32,
    /// Weight of F_ab in the flow to B.
    pub c1a: f32,
    /// Weight of F_ba in the flow to B.
    pub c1b: f32,
    /// `1 / consistency_px²`.
    pub inv_sigma2: f32,
}

/// The side of a [`WarpPlan`]'s blocks.
pub const WARP_BLOCK: usize = QUAD;

impl WarpTap {
    fn float(d: [f32; 2], weight: f32) -> (isize, isize, [f32; 4]) {
        let fx = d[0].floor();
        let fy = d[1].floor();
        let ax = d[0] - fx;
        let ay = d[1] - fy;
        (
            fx as isize,
            fy as isize,
            [
                (1.0 - ax) * (1.0 - ay) * weight,
                ax * (1.0 - ay) * weight,
                (1.0 - ax) * ay * weight,
                ax * ay * weight,
            ],
        )
    }

    /// Taps into A and B whose eight weights sum to exactly one in fixed
    /// point (`wa + wb` must be one).
    fn pair(da: [f32; 2], wa: f32, db: [f32; 2], wb: f32) -> (Self, Self) {
        let one = (1u32 << FIX_BITS) as f32;
        let (ax, ay, fa) = Self::float(da, wa);
        let (bx, by, fb) = Self::float(db, wb);
        let mut w = [0u32; 8];
        for (o, f) in w.iter_mut().zip(fa.iter().chain(fb.iter())) {
            *o = (f * one + 0.5).max(0.0) as u32;
        }
        // Put the rounding remainder on the largest weight.
        let sum: u32 = w.iter().sum();
        let mut big = 0;
        for k in 1..8 {
            if w[k] > w[big] {
                big = k;
            }
        }
        w[big] = (w[big] + (1 << FIX_BITS)).saturating_sub(sum);
        (
            Self {
                ix: ax as i32,
                iy: ay as i32,
                w: [w[0], w[1], w[2], w[3]],
            },
            Self {
                ix: bx as i32,
                iy: by as i32,
                w: [w[4], w[5], w[6], w[7]],
            },
        )
    }

    /// Pixel offsets of the two source rows for output row `y`.
    #[inline]
    fn rows(&self, y: usize, h: usize, w: usize) -> (usize, usize) {
        let y0 = y as isize + self.iy as isize;
        let last = h as isize - 1;
        (
            y0.clamp(0, last) as usize * w,
            (y0 + 1).clamp(0, last) as usize * w,
        )
    }

    /// The two source columns for output column `x`.
    #[inline]
    fn cols(&self, x: usize, w: usize) -> (usize, usize) {
        let x0 = x as isize + self.ix as isize;
        let last = w as isize - 1;
        (x0.clamp(0, last) as usize, (x0 + 1).clamp(0, last) as usize)
    }
}

/// The flow fields between two frames, estimated once and usable for any
/// number of intermediate times.
#[derive(Debug, Clone)]
pub struct FlowPair {
    width: usize,
    height: usize,
    ab: FlowGrid,
    ba: FlowGrid,
    cut: bool,
    consistency_px: f32,
}

impl FlowPair {
    /// Estimates the flow from `a` to `b` and from `b` to `a`, and whether the
    /// pair straddles a scene cut.
    pub fn estimate(a: &Frame, b: &Frame, params: &Params) -> Result<Self, InterpolateError> {
        check_pair(a, b)?;
        params.validate()?;
        let levels = flow_levels(a.width, a.height, params);
        let (la, lb) = rayon::join(|| Plane::half_luma(a), || Plane::half_luma(b));
        let (histogram_a, histogram_b) = (histogram(&la), histogram(&lb));
        let pa = pyramid(la, levels.len());
        let pb = pyramid(lb, levels.len());
        let (ab, ba) = rayon::join(
            || estimate_flow(&pa, &pb, &levels, params),
            || estimate_flow(&pb, &pa, &levels, params),
        );
        let evidence = CutEvidence {
            histogram_a,
            histogram_b,
            residual_rows: residual_rows(&pa[0], &pb[0], &ab),
            samples_per_row: pa[0].w.div_ceil(2),
        };
        Ok(Self {
            width: a.width,
            height: a.height,
            ab,
            ba,
            cut: evidence.is_cut(params),
            consistency_px: params.consistency_px,
        })
    }

    /// A pair from fields estimated elsewhere (the GPU twin of
    /// [`FlowPair::estimate`]) for `width × height` frames, checked against
    /// the grid [`flow_levels`] gives the base level.
    pub fn from_fields(
        (width, height): (usize, usize),
        ab: FlowGrid,
        ba: FlowGrid,
        evidence: &CutEvidence,
        params: &Params,
    ) -> Result<Self, InterpolateError> {
        params.validate()?;
        if width == 0 || height == 0 {
            return Err(InterpolateError::Empty { width, height });
        }
        let base = flow_levels(width, height, params)[0];
        for field in [&ab, &ba] {
            if (field.cols, field.rows, field.block) != (base.cols, base.rows, params.block)
                || field.vectors.len() != base.cols * base.rows
            {
                return Err(InterpolateError::Field {
                    cols: field.cols,
                    rows: field.rows,
                    block: field.block,
                    vectors: field.vectors.len(),
                    expected_cols: base.cols,
                    expected_rows: base.rows,
                    expected_block: params.block,
                });
            }
        }
        Ok(Self {
            width,
            height,
            ab,
            ba,
            cut: evidence.is_cut(params),
            consistency_px: params.consistency_px,
        })
    }

    /// The flow from A to B, over the half-resolution base level.
    pub fn ab(&self) -> &FlowGrid {
        &self.ab
    }

    /// The flow from B to A, over the half-resolution base level.
    pub fn ba(&self) -> &FlowGrid {
        &self.ba
    }

    /// The warp [`FlowPair::render`] draws the frame at time `t` with,
    /// for its GPU twin; `None` where it returns a source frame instead (at
    /// `t` 0 or 1, on a cut, or for a `t` outside `[0, 1]`).
    pub fn warp_plan(&self, t: f32) -> Option<WarpPlan> {
        (t > 0.0 && t < 1.0 && !self.cut).then(|| self.warp(t))
    }

    /// Each block's taps at time `t` (in (0, 1), no cut): the warp is
    /// worked out once per block (the flow grid is coarser than that) and
    /// applied to all its pixels.
    fn warp(&self, t: f32) -> WarpPlan {
        let (w, h) = (self.width, self.height);
        let WarpTime {
            s,
            c0a,
            c0b,
            c1a,
            c1b,
            inv_sigma2,
            ..
        } = self.warp_time(t);
        let centre = (QUAD as f32 - 1.0) * 0.5;
        let blocks_x = w.div_ceil(QUAD);
        let taps = (0..h.div_ceil(QUAD) * blocks_x)
            .into_par_iter()
            .map(|block| {
                let (qx, qy) = (block % blocks_x, block / blocks_x);
                let yc = (QUAD * qy) as f32 + centre;
                let xc = (QUAD * qx) as f32 + centre;
                let fab = self.ab.sample_full(xc, yc);
                let fba = self.ba.sample_full(xc, yc);
                let d0 = [c0a * fab[0] + c0b * fba[0], c0a * fab[1] + c0b * fba[1]];
                let d1 = [c1a * fab[0] + c1b * fba[0], c1a * fab[1] + c1b * fba[1]];
                let (pax, pay) = (xc + d0[0], yc + d0[1]);
                let (pbx, pby) = (xc + d1[0], yc + d1[1]);
                let fa = self.ab.sample_full(pax, pay);
                let fb = self.ba.sample_full(pbx, pby);
                let ea = (pax + fa[0] - pbx).powi(2) + (pay + fa[1] - pby).powi(2);
                let eb = (pbx + fb[0] - pax).powi(2) + (pby + fb[1] - pay).powi(2);
                let wa = s / (1.0 + ea * inv_sigma2) + 1e-6;
                let wb = t / (1.0 + eb * inv_sigma2) + 1e-6;
                let norm = 1.0 / (wa + wb);
                let (ta, tb) = WarpTap::pair(d0, wa * norm, d1, wb * norm);
                [ta, tb]
            })
            .collect();
        WarpPlan { blocks_x, taps }
    }

    /// The coefficients of the warp at time `t`, for the GPU twin.
    pub fn warp_time(&self, t: f32) -> WarpTime {
        let s = 1.0 - t;
        WarpTime {
            t,
            s,
            c0a: -s * t,
            c0b: t * t,
            c1a: s * s,
            c1b: -t * s,
            inv_sigma2: 1.0 / (self.consistency_px * self.consistency_px),
        }
    }

    /// Whether the pair was judged to straddle a scene cut.
    pub fn is_cut(&self) -> bool {
        self.cut
    }

    /// Renders the frame at time `t` in `[0, 1]` between `a` (t = 0) and `b`
    /// (t = 1), the frames this pair was estimated from.
    pub fn render(&self, a: &Frame, b: &Frame, t: f32) -> Result<Frame, InterpolateError> {
        check_pair(a, b)?;
        if a.width != self.width || a.height != self.height {
            return Err(InterpolateError::SizeMismatch {
                a_width: self.width,
                a_height: self.height,
                b_width: a.width,
                b_height: a.height,
            });
        }
        if !(0.0..=1.0).contains(&t) {
            return Err(InterpolateError::Time { t });
        }
        if t == 0.0 {
            return Ok(a.clone());
        }
        if t == 1.0 {
            return Ok(b.clone());
        }
        if self.cut {
            return Ok(if t < 0.5 { a.clone() } else { b.clone() });
        }
        let plan = self.warp(t);
        let (w, h) = (self.width, self.height);
        let mut data = vec![0u8; w * h * 3];
        let blocks_x = plan.blocks_x;
        data.par_chunks_mut(w * 3 * QUAD)
            .enumerate()
            .for_each(|(qy, rows)| {
                let row_count = rows.len() / (w * 3);
                for qx in 0..blocks_x {
                    let [ta, tb] = plan.taps[qy * blocks_x + qx];
                    for dy in 0..row_count {
                        let y = QUAD * qy + dy;
                        let (ra0, ra1) = ta.rows(y, h, w);
                        let (rb0, rb1) = tb.rows(y, h, w);
                        let row = &mut rows[dy * w * 3..(dy + 1) * w * 3];
                        for px in (QUAD * qx..(QUAD * qx + QUAD).min(w)).step_by(2) {
                            let xa = px as isize + ta.ix as isize;
                            let xb = px as isize + tb.ix as isize;
                            if px + 2 <= w
                                && xa >= 0
                                && xb >= 0
                                && xa + 3 <= w as isize
                                && xb + 3 <= w as isize
                            {
                                // Interior: both output pixels read three
                                // neighbouring source pixels on each row.
                                let sa0 = (ra0 + xa as usize) * 3;
                                let sa1 = (ra1 + xa as usize) * 3;
                                let sb0 = (rb0 + xb as usize) * 3;
                                let sb1 = (rb1 + xb as usize) * 3;
                                let a0 = &a.data[sa0..sa0 + 9];
                                let a1 = &a.data[sa1..sa1 + 9];
                                let b0 = &b.data[sb0..sb0 + 9];
                                let b1 = &b.data[sb1..sb1 + 9];
                                let o = &mut row[3 * px..3 * px + 6];
                                for k in 0..6 {
                                    let v = (1u32 << (FIX_BITS - 1))
                                        + ta.w[0] * u32::from(a0[k])
                                        + ta.w[1] * u32::from(a0[k + 3])
                                        + ta.w[2] * u32::from(a1[k])
                                        + ta.w[3] * u32::from(a1[k + 3])
                                        + tb.w[0] * u32::from(b0[k])
                                        + tb.w[1] * u32::from(b0[k + 3])
                                        + tb.w[2] * u32::from(b1[k])
                                        + tb.w[3] * u32::from(b1[k + 3]);
                                    o[k] = (v >> FIX_BITS).min(255) as u8;
                                }
                                continue;
                            }
                            for x in px..(px + 2).min(w) {
                                let (xa0, xa1) = ta.cols(x, w);
                                let (xb0, xb1) = tb.cols(x, w);
                                let pa = [
                                    &a.data[(ra0 + xa0) * 3..(ra0 + xa0) * 3 + 3],
                                    &a.data[(ra0 + xa1) * 3..(ra0 + xa1) * 3 + 3],
                                    &a.data[(ra1 + xa0) * 3..(ra1 + xa0) * 3 + 3],
                                    &a.data[(ra1 + xa1) * 3..(ra1 + xa1) * 3 + 3],
                                ];
                                let pb = [
                                    &b.data[(rb0 + xb0) * 3..(rb0 + xb0) * 3 + 3],
                                    &b.data[(rb0 + xb1) * 3..(rb0 + xb1) * 3 + 3],
                                    &b.data[(rb1 + xb0) * 3..(rb1 + xb0) * 3 + 3],
                                    &b.data[(rb1 + xb1) * 3..(rb1 + xb1) * 3 + 3],
                                ];
                                let o = &mut row[x * 3..x * 3 + 3];
                                for (c, oc) in o.iter_mut().enumerate() {
                                    let mut v = 1u32 << (FIX_BITS - 1);
                                    for k in 0..4 {
                                        v += ta.w[k] * u32::from(pa[k][c]);
                                        v += tb.w[k] * u32::from(pb[k][c]);
                                    }
                                    *oc = (v >> FIX_BITS).min(255) as u8;
                                }
                            }
                        }
                    }
                }
            });
        Ok(Frame {
            width: w,
            height: h,
            data,
        })
    }
}

/// Synthesises the frame at time `t` in `[0, 1]` between `a` (t = 0) and `b`
/// (t = 1). On a scene cut the nearer frame is returned unchanged.
pub fn interpolate(
    a: &Frame,
    b: &Frame,
    t: f32,
    params: &Params,
) -> Result<Frame, InterpolateError> {
    check_pair(a, b)?;
    if !(0.0..=1.0).contains(&t) {
        return Err(InterpolateError::Time { t });
    }
    if t == 0.0 {
        return Ok(a.clone());
    }
    if t == 1.0 {
        return Ok(b.clone());
    }
    FlowPair::estimate(a, b, params)?.render(a, b, t)
}

/// Multiplies the frame rate by `factor`: each source frame is followed by
/// `factor - 1` frames interpolated evenly towards the next, and the last
/// source frame ends the output, so `n` frames become `(n - 1) * factor + 1`.
/// One flow estimate serves all the frames between two source frames.
pub fn raise_frame_rate(
    frames: impl IntoIterator<Item = Frame>,
    factor: u32,
    params: &Params,
) -> Result<Vec<Frame>, InterpolateError> {
    if factor == 0 {
        return Err(InterpolateError::Factor { factor });
    }
    params.validate()?;
    let mut out = Vec::new();
    let mut prev: Option<Frame> = None;
    for next in frames {
        next.validate()?;
        if let Some(p) = prev.take() {
            check_pair(&p, &next)?;
            if factor > 1 {
                let pair = FlowPair::estimate(&p, &next, params)?;
                out.push(p.clone());
                for k in 1..factor {
                    out.push(pair.render(&p, &next, k as f32 / factor as f32)?);
                }
            } else {
                out.push(p);
            }
        }
        prev = Some(next);
    }
    if let Some(p) = prev {
        out.push(p);
    }
    Ok(out)
}

/// Resamples a sequence shot at `from_fps` to `to_fps`: output frame `n` is
/// the picture at time `n / to_fps`, for every such time up to the last
/// source frame's. Times that fall on a source frame copy it; the others are
/// interpolated, with one flow estimate per pair of source frames.
pub fn retime(
    frames: &[Frame],
    from_fps: f64,
    to_fps: f64,
    params: &Params,
) -> Result<Vec<Frame>, InterpolateError> {
    for fps in [from_fps, to_fps] {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(InterpolateError::FrameRate { fps });
        }
    }
    params.validate()?;
    let Some(first) = frames.first() else {
        return Ok(Vec::new());
    };
    for f in frames {
        check_pair(first, f)?;
    }
    let last = (frames.len() - 1) as f64;
    let mut out = Vec::new();
    let mut cache: Option<(usize, FlowPair)> = None;
    for n in 0usize.. {
        let pos = n as f64 * from_fps / to_fps;
        if pos > last + 1e-9 {
            break;
        }
        let i = (pos.floor() as usize).min(frames.len() - 1);
        let frac = pos - i as f64;
        if frac < 1e-6 || i + 1 >= frames.len() {
            out.push(frames[i].clone());
            continue;
        }
        if frac > 1.0 - 1e-6 {
            out.push(frames[i + 1].clone());
            continue;
        }
        if cache.as_ref().is_none_or(|(k, _)| *k != i) {
            cache = Some((i, FlowPair::estimate(&frames[i], &frames[i + 1], params)?));
        }
        if let Some((_, pair)) = &cache {
            out.push(pair.render(&frames[i], &frames[i + 1], frac as f32)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    #[test]
    fn resizing_keeps_flat_areas_and_blends_between() {
        // Left half black, right half white.
        let src = Frame::new(4, 2, [[0u8; 6], [255; 6]].concat().repeat(2)).expect("frame");
        assert_eq!(src.resized(4, 2), src);
        let big = src.resized(8, 4);
        assert_eq!((big.width, big.height, big.data.len()), (8, 4, 96));
        for row in big.data.chunks_exact(24) {
            assert_eq!(row[..3], [0, 0, 0]);
            assert_eq!(row[21..], [255, 255, 255]);
            let middle = row[3 * 3];
            assert!(middle > 0 && middle < 255, "{row:?}");
        }
        assert_eq!(src.resized(0, 0).data.len(), 3);
    }

    fn ffmpeg_frames(dir: &Path, lavfi: &str, frames: usize, w: usize, h: usize) -> Vec<Frame> {
        let out = dir.join("out.rgb");
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", lavfi, "-frames:v"])
            .arg(frames.to_string())
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        let raw = std::fs::read(&out).unwrap();
        raw.chunks_exact(w * h * 3)
            .map(|c| Frame::new(w, h, c.to_vec()).unwrap())
            .collect()
    }

    fn psnr(a: &Frame, b: &Frame) -> f64 {
        let mse: f64 = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum::<f64>()
            / a.data.len() as f64;
        if mse == 0.0 {
            99.0
        } else {
            10.0 * (255.0f64 * 255.0 / mse).log10()
        }
    }

    fn blend(a: &Frame, b: &Frame) -> Frame {
        Frame {
            width: a.width,
            height: a.height,
            data: a
                .data
                .iter()
                .zip(&b.data)
                .map(|(&x, &y)| (u16::from(x) + u16::from(y)).div_ceil(2) as u8)
                .collect(),
        }
    }

    /// Mean PSNR of ours and of a blend over the odd frames rebuilt from
    /// their even neighbours.
    fn drop_and_rebuild(frames: &[Frame]) -> (f64, f64) {
        let p = Params::default();
        let (mut ours, mut bl, mut n) = (0.0, 0.0, 0);
        for k in (1..frames.len() - 1).step_by(2) {
            let mid = interpolate(&frames[k - 1], &frames[k + 1], 0.5, &p).unwrap();
            ours += psnr(&mid, &frames[k]);
            bl += psnr(&blend(&frames[k - 1], &frames[k + 1]), &frames[k]);
            n += 1;
        }
        (ours / n as f64, bl / n as f64)
    }

    #[test]
    #[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
    fn interpolate_testsrc2_beats_blend() {
        let dir = tempfile::tempdir().unwrap();
        let frames = ffmpeg_frames(dir.path(), "testsrc2=size=320x240:rate=30", 20, 320, 240);
        assert_eq!(frames.len(), 20);
        let (ours, bl) = drop_and_rebuild(&frames);
        eprintln!("testsrc2: ours {ours:.2} dB, blend {bl:.2} dB");
        assert!(ours > bl + 1.0, "ours {ours:.2} dB, blend {bl:.2} dB");
    }

    #[test]
    #[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
    fn interpolate_pan_beats_blend() {
        let dir = tempfile::tempdir().unwrap();
        let (sw, sh) = (640, 400);
        let still = ffmpeg_frames(dir.path(), "testsrc2=size=640x400:rate=1", 1, sw, sh)
            .pop()
            .unwrap();
        let (w, h) = (320, 240);
        let frames: Vec<Frame> = (0..13)
            .map(|k| {
                let (ox, oy) = (10 + 5 * k, 8 + 3 * k);
                let mut data = Vec::with_capacity(w * h * 3);
                for y in 0..h {
                    let start = ((oy + y) * sw + ox) * 3;
                    data.extend_from_slice(&still.data[start..start + w * 3]);
                }
                Frame::new(w, h, data).unwrap()
            })
            .collect();
        let (ours, bl) = drop_and_rebuild(&frames);
        eprintln!("pan: ours {ours:.2} dB, blend {bl:.2} dB");
        assert!(ours > bl + 3.0, "ours {ours:.2} dB, blend {bl:.2} dB");
    }

    #[test]
    fn interpolate_identical_frames_unchanged() {
        let (w, h) = (96, 64);
        let data: Vec<u8> = (0..w * h * 3).map(|i| ((i * 37) % 251) as u8).collect();
        let f = Frame::new(w, h, data).unwrap();
        for t in [0.25, 0.5, 0.9] {
            assert_eq!(interpolate(&f, &f, t, &Params::default()).unwrap(), f);
        }
    }

    #[test]
    #[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
    fn interpolate_cut_returns_nearer_frame() {
        let dir = tempfile::tempdir().unwrap();
        let a = ffmpeg_frames(dir.path(), "testsrc2=size=320x240:rate=30", 1, 320, 240)
            .pop()
            .unwrap();
        let b = Frame::new(320, 240, [200u8, 40, 90].repeat(320 * 240)).unwrap();
        let p = Params::default();
        assert!(FlowPair::estimate(&a, &b, &p).unwrap().is_cut());
        assert_eq!(interpolate(&a, &b, 0.3, &p).unwrap(), a);
        assert_eq!(interpolate(&a, &b, 0.7, &p).unwrap(), b);
    }

    #[test]
    fn interpolate_errors() {
        let p = Params::default();
        let a = Frame::new(8, 8, vec![0; 8 * 8 * 3]).unwrap();
        let b = Frame::new(8, 6, vec![0; 8 * 6 * 3]).unwrap();
        assert!(matches!(
            interpolate(&a, &b, 0.5, &p),
            Err(InterpolateError::SizeMismatch { .. })
        ));
        assert!(matches!(
            Frame::new(0, 8, vec![]),
            Err(InterpolateError::Empty { .. })
        ));
        assert!(matches!(
            Frame::new(8, 8, vec![0; 8 * 8 * 3 - 1]),
            Err(InterpolateError::BufferLength { .. })
        ));
        assert!(matches!(
            interpolate(&a, &a, 1.5, &p),
            Err(InterpolateError::Time { .. })
        ));
        assert!(matches!(
            raise_frame_rate(vec![a.clone()], 0, &p),
            Err(InterpolateError::Factor { .. })
        ));
    }

    #[test]
    fn interpolate_sequence_helpers_count_frames() {
        let p = Params::default();
        let frames: Vec<Frame> = (0..4u8)
            .map(|k| Frame::new(16, 12, vec![k * 10; 16 * 12 * 3]).unwrap())
            .collect();
        let up = raise_frame_rate(frames.clone(), 3, &p).unwrap();
        assert_eq!(up.len(), 10);
        assert_eq!(up[3], frames[1]);
        let re = retime(&frames, 24.0, 60.0, &p).unwrap();
        // Times 0, 1/60, ... up to 3/24 s: 3 * 60 / 24 = 7.5, so 8 frames.
        assert_eq!(re.len(), 8);
        assert_eq!(re[0], frames[0]);
        assert_eq!(re[5], frames[2]);
    }
}
