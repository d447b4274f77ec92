//! The CUDA kernels' sources and launch geometry, shared by the GPU path
//! (`gpu.rs`, feature `cuda`) and the CPU emulation the tests check them
//! with (`kino-cuda-emu`), so both run the same grid over the same code.
//!
//! The sources (`cu/*.cu`) compile at run time with NVRTC into one module,
//! without fused multiply-add, so each kernel computes the f32 operations
//! of its CPU twin in the same order and agrees with it bit for bit.

use kino_kernels::hdr;
use kino_kernels::text::{CaptionPlan, PieceState, TextPlan};

/// One kernel source file.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// Its name under `kernels/cuda/cu/`.
    pub file: &'static str,
    /// Its text.
    pub text: &'static str,
    /// The `extern "C" __global__` functions it defines.
    pub entries: &'static [&'static str],
}

/// Every kernel source, in the order they are compiled.
pub const SOURCES: &[Source] = &[
    Source {
        file: "flow.cu",
        text: include_str!("../cu/flow.cu"),
        entries: &[
            "kino_half_luma",
            "kino_down",
            "kino_flow_cells",
            "kino_median3",
            "kino_luma_histogram",
            "kino_residual_rows",
            "kino_warp_taps",
        ],
    },
    Source {
        file: "hdr.cu",
        text: include_str!("../cu/hdr.cu"),
        entries: &["kino_to_sdr_rgb8"],
    },
    Source {
        file: "lut.cu",
        text: include_str!("../cu/lut.cu"),
        entries: &["kino_lut_rgb8"],
    },
    Source {
        file: "scene.cu",
        text: include_str!("../cu/scene.cu"),
        entries: &[
            "kino_camera_rgb8",
            "kino_overlay_rgb8",
            "kino_level_from_rgb8",
            "kino_half_level",
        ],
    },
    Source {
        file: "text.cu",
        text: include_str!("../cu/text.cu"),
        entries: &["kino_text_rgb8"],
    },
    Source {
        file: "warp.cu",
        text: include_str!("../cu/warp.cu"),
        entries: &["kino_warp_rgb8"],
    },
    Source {
        file: "yuv.cu",
        text: include_str!("../cu/yuv.cu"),
        entries: &["kino_rgb_to_yuv420", "kino_yuv420_to_rgb"],
    },
];

/// NVRTC's options for the module, besides the target architecture.
/// `--fmad=false` keeps `a * b + c` two roundings, as on the CPU.
pub const NVRTC_OPTIONS: &[&str] = &["--fmad=false", "--std=c++17"];

/// The whole module: every source, one after another.
pub fn program() -> String {
    let mut program = String::new();
    for source in SOURCES {
        program.push_str(&format!("// ---- {} ----\n", source.file));
        program.push_str(source.text);
        program.push('\n');
    }
    program
}

/// A launch's grid (in blocks) and block (in threads), x, y, z.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    /// Blocks along x, y and z.
    pub grid: [u32; 3],
    /// Threads per block along x, y and z.
    pub block: [u32; 3],
}

impl Launch {
    /// One thread per item, `block` threads a block.
    pub fn linear(items: usize, block: u32) -> Self {
        let blocks = u32::try_from(items.div_ceil(block as usize)).expect("fewer than 2³² blocks");
        Self {
            grid: [blocks.max(1), 1, 1],
            block: [block, 1, 1],
        }
    }

    /// One thread per cell of a `width × height` grid, in `block` tiles.
    pub fn planar(width: usize, height: usize, block: [u32; 2]) -> Self {
        let blocks = |n: usize, b: u32| {
            u32::try_from(n.div_ceil(b as usize).max(1)).expect("fewer than 2³² blocks")
        };
        Self {
            grid: [blocks(width, block[0]), blocks(height, block[1]), 1],
            block: [block[0], block[1], 1],
        }
    }
}

/// `kino_lut_rgb8` over `pixels` pixels: one thread each.
pub fn lut_rgb8(pixels: usize) -> Launch {
    Launch::linear(pixels, 256)
}

/// `kino_camera_rgb8` over a `width × height` frame: one thread a pixel.
pub fn camera_rgb8(width: usize, height: usize) -> Launch {
    Launch::planar(width, height, [32, 8])
}

/// `kino_level_from_rgb8` and `kino_half_level` making a `width × height`
/// level: one thread a pixel of it.
pub fn level(width: usize, height: usize) -> Launch {
    Launch::planar(width, height, [32, 8])
}

/// `kino_overlay_rgb8` over the region `[x0, y0, x1, y1)`: one thread a
/// pixel of it.
pub fn overlay_rgb8([x0, y0, x1, y1]: [usize; 4]) -> Launch {
    Launch::planar(x1 - x0, y1 - y0, [32, 8])
}

/// A warp plan's taps as `kino_warp_rgb8` reads them: per block, the tap
/// into A then the tap into B, each `ix, iy, w0..w3` as 32-bit words.
pub fn warp_taps(plan: &kino_kernels::interpolate::WarpPlan) -> Vec<u32> {
    plan.taps
        .iter()
        .flatten()
        .flat_map(|t| [t.ix as u32, t.iy as u32, t.w[0], t.w[1], t.w[2], t.w[3]])
        .collect()
}

/// `kino_warp_rgb8` over a `width × height` frame: one thread a pixel.
pub fn warp_rgb8(width: usize, height: usize) -> Launch {
    Launch::planar(width, height, [32, 8])
}

/// A text plan's scalars and pieces as `kino_text_rgb8` takes them.
#[derive(Debug, Clone, PartialEq)]
pub struct TextArgs {
    /// The frame region written, `[x0, y0, x1, y1)`.
    pub region: [usize; 4],
    /// Outline and box colours (linear), then the box's opacity.
    pub colours: [f32; 7],
    /// Whether the style has an outline colour.
    pub has_outline: bool,
    /// The box on the frame, `[x0, y0, x1, y1)`; empty for none.
    pub text_box: [i32; 4],
    /// The pieces' states, eight floats each: alpha, left and right fill
    /// colours, edge. At least one; the last is for pixels no piece owns.
    pub states: Vec<f32>,
}

impl TextArgs {
    /// The arguments for static text: one piece, in its fill colour.
    pub fn of(plan: &TextPlan<'_>) -> Self {
        Self::with_states(plan, &[PieceState::solid(plan.fill_linear)])
    }

    /// The arguments for a dynamic caption at one time.
    pub fn of_caption(plan: &CaptionPlan<'_>) -> Self {
        Self::with_states(&plan.text, &plan.states)
    }

    fn with_states(plan: &TextPlan<'_>, states: &[PieceState]) -> Self {
        let r = plan.region;
        let (x0, y0) = (r.x.max(0) as usize, r.y.max(0) as usize);
        let outline = plan.outline_linear.unwrap_or_default();
        let (box_colour, opacity, text_box) = match plan.text_box {
            Some(b) => {
                let x1 = i64::from(b.rect.x) + i64::from(b.rect.width);
                let y1 = i64::from(b.rect.y) + i64::from(b.rect.height);
                let edge = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
                (
                    b.linear,
                    b.opacity,
                    [b.rect.x, b.rect.y, edge(x1), edge(y1)],
                )
            }
            None => ([0.0; 3], 0.0, [0; 4]),
        };
        Self {
            region: [x0, y0, x0 + r.width as usize, y0 + r.height as usize],
            colours: [
                outline[0],
                outline[1],
                outline[2],
                box_colour[0],
                box_colour[1],
                box_colour[2],
                opacity,
            ],
            has_outline: plan.outline_linear.is_some(),
            text_box,
            states: states
                .iter()
                .flat_map(|s| {
                    let [l, r] = [s.left, s.right];
                    [s.alpha, l[0], l[1], l[2], r[0], r[1], r[2], s.edge]
                })
                .collect(),
        }
    }
}

/// `kino_text_rgb8` over the region `[x0, y0, x1, y1)`: one thread a pixel
/// of it.
pub fn text_rgb8([x0, y0, x1, y1]: [usize; 4]) -> Launch {
    Launch::planar(x1 - x0, y1 - y0, [32, 8])
}

/// `kino_half_luma` or `kino_down` into a `width × height` plane: one
/// thread a sample.
pub fn plane(width: usize, height: usize) -> Launch {
    Launch::planar(width, height, [32, 8])
}

/// `kino_flow_cells` over a `cols × rows` grid: one thread a cell, each a
/// patch search and a few Lucas–Kanade steps, so small blocks.
pub fn flow_cells(cols: usize, rows: usize) -> Launch {
    Launch::planar(cols, rows, [16, 8])
}

/// `kino_median3` over a `cols × rows` grid: one thread a cell.
pub fn median3(cols: usize, rows: usize) -> Launch {
    Launch::planar(cols, rows, [32, 8])
}

/// `kino_luma_histogram` over `samples` samples: one thread each.
pub fn luma_histogram(samples: usize) -> Launch {
    Launch::linear(samples, 256)
}

/// `kino_residual_rows` over a plane `height` rows high: one thread per
/// other row.
pub fn residual_rows(height: usize) -> Launch {
    Launch::linear(height.div_ceil(2), 64)
}

/// `kino_warp_taps` for a `width × height` frame: one thread per 8×8
/// block.
pub fn warp_plan(width: usize, height: usize) -> Launch {
    Launch::planar(
        width.div_ceil(kino_kernels::interpolate::WARP_BLOCK),
        height.div_ceil(kino_kernels::interpolate::WARP_BLOCK),
        [32, 8],
    )
}

/// `kino_rgb_to_yuv420` and `kino_yuv420_to_rgb` over a `width × height`
/// picture: one thread per 2×2 block.
pub fn yuv420_blocks(width: usize, height: usize) -> Launch {
    Launch::planar(width.div_ceil(2), height.div_ceil(2), [32, 8])
}

/// 32-bit words in `hdr.cu`'s `KinoToSdr`.
pub const TO_SDR_WORDS: usize = 30;

/// `kino_to_sdr_rgb8`'s constants, `hdr.cu`'s `KinoToSdr` by value: the
/// words both the GPU and the emulator are handed, in its field order.
pub fn to_sdr_args(plan: &hdr::Plan<'_>) -> [u32; TO_SDR_WORDS] {
    let count = |n: usize| u32::try_from(n).expect("a table below 2³² entries");
    let scalars = [plan.hable_peak, plan.steps, plan.top];
    let floats = plan
        .to_rgb
        .iter()
        .chain(plan.gamut.as_flattened())
        .chain(&plan.tone_scale)
        .chain(&scalars)
        .map(|f| f.to_bits());
    let words = [
        // The light table's last interval, at `top · steps − 1`.
        count(plan.light.len() - 2),
        u32::from(plan.tone_map),
        plan.levels_floor,
        plan.levels_shift,
        count(plan.levels.len() - 1),
    ];
    let all: Vec<u32> = floats.chain(words).collect();
    all.try_into().unwrap_or_else(|all: Vec<u32>| {
        panic!("KinoToSdr is {TO_SDR_WORDS} words, not {}", all.len())
    })
}

/// `kino_to_sdr_rgb8` over a `width × height` picture: one thread a pixel.
pub fn to_sdr_rgb8(width: usize, height: usize) -> Launch {
    Launch::planar(width, height, [32, 8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_point_is_defined_in_its_source() {
        for source in SOURCES {
            for entry in source.entries {
                let definition = format!("extern \"C\" __global__ void {entry}(");
                assert!(
                    source.text.contains(&definition),
                    "{} lacks {entry}",
                    source.file
                );
            }
        }
        let program = program();
        assert!(SOURCES.iter().all(|s| program.contains(s.text)));
    }

    /// The constants `flow.cu` hard-codes are the CPU kernel's.
    #[test]
    fn the_flow_kernels_share_the_cpu_constants() {
        use kino_kernels::interpolate::{CUT_HISTOGRAM_BINS, FLOW_PATCH, WARP_BLOCK};
        let flow = SOURCES
            .iter()
            .find(|s| s.file == "flow.cu")
            .expect("flow.cu");
        for define in [
            format!("#define KINO_FLOW_PATCH {FLOW_PATCH}\n"),
            format!("#define KINO_CUT_BINS {CUT_HISTOGRAM_BINS}\n"),
            format!("#define KINO_WARP_BLOCK {WARP_BLOCK}\n"),
        ] {
            assert!(flow.text.contains(&define), "flow.cu lacks {define}");
        }
    }

    #[test]
    fn launches_cover_every_item_and_never_an_empty_grid() {
        let launch = lut_rgb8(3840 * 2160);
        assert_eq!(launch.grid[0] * launch.block[0], 3840 * 2160);
        assert_eq!(lut_rgb8(1).grid, [1, 1, 1]);
        assert_eq!(lut_rgb8(257).grid, [2, 1, 1]);
        let yuv = yuv420_blocks(1919, 1081);
        assert!(yuv.grid[0] * yuv.block[0] >= 960 && yuv.grid[1] * yuv.block[1] >= 541);
        assert_eq!(yuv420_blocks(0, 0).grid, [1, 1, 1]);
    }
}
