//! Optical-flow estimation as the CUDA kernels (`cu/flow.cu`) compute it:
//! the order of the launches and what each reads, written once over any
//! [`FlowKernels`] — the GPU (`gpu.rs`) and, in the tests, the emulator —
//! so the sequence CI checks against `FlowPair::estimate` is the one the
//! GPU runs.
//!
//! Per pair: both frames' half-resolution luma and pyramid, their
//! histograms, then for each direction the levels coarse to fine (patch
//! search and Lucas–Kanade per cell, then the 3×3 median), and the residual
//! of A against B warped back by the A→B field.

use kino_kernels::interpolate::{CUT_HISTOGRAM_BINS, CutEvidence, FlowGrid, FlowLevel, Params};

/// One frame of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The earlier frame (t = 0).
    A,
    /// The later frame (t = 1).
    B,
}

/// The flow kernels on some device, over a pair of frames it holds.
pub trait FlowKernels {
    /// A single-channel f32 plane on the device.
    type Plane;
    /// A flow field on the device: interleaved `(dx, dy)`, row-major.
    type Field;
    /// Why a launch failed.
    type Error;

    /// `kino_half_luma` of one frame: the base level's plane.
    fn half_luma(&mut self, frame: Side, base: &FlowLevel) -> Result<Self::Plane, Self::Error>;

    /// `kino_down`: the next level's plane from this one.
    fn down(
        &mut self,
        plane: &Self::Plane,
        from: &FlowLevel,
        to: &FlowLevel,
    ) -> Result<Self::Plane, Self::Error>;

    /// `kino_luma_histogram` of a base plane, read back.
    fn histogram(
        &mut self,
        plane: &Self::Plane,
        base: &FlowLevel,
    ) -> Result<[u32; CUT_HISTOGRAM_BINS], Self::Error>;

    /// `kino_flow_cells` at `level`: each cell's vector from `src` into
    /// `dst`, predicted from the next coarser level's field if there is one.
    fn cells(
        &mut self,
        planes: (&Self::Plane, &Self::Plane),
        coarse: Option<(&Self::Field, &FlowLevel)>,
        level: &FlowLevel,
        params: &Params,
    ) -> Result<Self::Field, Self::Error>;

    /// `kino_median3` of a level's field.
    fn median(&mut self, raw: &Self::Field, level: &FlowLevel) -> Result<Self::Field, Self::Error>;

    /// `kino_residual_rows` of the base planes through the A→B field, read
    /// back.
    fn residual(
        &mut self,
        planes: (&Self::Plane, &Self::Plane),
        ab: &Self::Field,
        base: &FlowLevel,
        block: usize,
    ) -> Result<Vec<f64>, Self::Error>;
}

/// The two fields over the base level, on the device, and what the
/// scene-cut test reads.
#[derive(Debug)]
pub struct Estimate<F> {
    /// A → B.
    pub ab: F,
    /// B → A.
    pub ba: F,
    /// Histograms and residual, as `FlowPair::estimate` gathers them.
    pub evidence: CutEvidence,
}

/// Runs the estimate on `kernels` over `levels` (`flow_levels` of the
/// frames, never empty).
pub fn estimate<K: FlowKernels>(
    kernels: &mut K,
    levels: &[FlowLevel],
    params: &Params,
) -> Result<Estimate<K::Field>, K::Error> {
    let base = &levels[0];
    let pyramid = |k: &mut K, side| -> Result<Vec<K::Plane>, K::Error> {
        let mut planes = vec![k.half_luma(side, base)?];
        for pair in levels.windows(2) {
            let next = k.down(&planes[planes.len() - 1], &pair[0], &pair[1])?;
            planes.push(next);
        }
        Ok(planes)
    };
    let pa = pyramid(kernels, Side::A)?;
    let pb = pyramid(kernels, Side::B)?;
    let histogram_a = kernels.histogram(&pa[0], base)?;
    let histogram_b = kernels.histogram(&pb[0], base)?;
    let field = |k: &mut K, from: &[K::Plane], to: &[K::Plane]| -> Result<K::Field, K::Error> {
        let mut coarse: Option<K::Field> = None;
        for (l, level) in levels.iter().enumerate().rev() {
            let prior = coarse.as_ref().map(|c| (c, &levels[l + 1]));
            let raw = k.cells((&from[l], &to[l]), prior, level, params)?;
            coarse = Some(k.median(&raw, level)?);
        }
        // `levels` is never empty, so the loop ran.
        Ok(coarse.expect("at least one level"))
    };
    let ab = field(kernels, &pa, &pb)?;
    let ba = field(kernels, &pb, &pa)?;
    let residual_rows = kernels.residual((&pa[0], &pb[0]), &ab, base, params.block)?;
    Ok(Estimate {
        ab,
        ba,
        evidence: CutEvidence {
            histogram_a,
            histogram_b,
            residual_rows,
            samples_per_row: base.width.div_ceil(2),
        },
    })
}

/// A field read back from the device (interleaved `(dx, dy)`) as the CPU's
/// grid over `base`.
pub fn grid(vectors: &[f32], base: &FlowLevel, block: usize) -> FlowGrid {
    FlowGrid {
        cols: base.cols,
        rows: base.rows,
        block,
        vectors: vectors.chunks_exact(2).map(|v| [v[0], v[1]]).collect(),
    }
}

/// The warp's coefficients as `kino_warp_taps` takes them, in its order:
/// `t, s, c0a, c0b, c1a, c1b, inv_sigma2`.
pub fn warp_time_args(time: &kino_kernels::interpolate::WarpTime) -> [f32; 7] {
    [
        time.t,
        time.s,
        time.c0a,
        time.c0b,
        time.c1a,
        time.c1b,
        time.inv_sigma2,
    ]
}
