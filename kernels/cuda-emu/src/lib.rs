//! Kino's CUDA kernels (`kernels/cuda/cu/*.cu`) compiled as C++ for the
//! CPU, each launch run thread by thread over the same grid a GPU would
//! get. The parity tests in `kino-cuda` check these against the CPU
//! reference kernels on every machine, and against the GPU where there is
//! one: a kernel's arithmetic and indexing are tested in CI, which has no
//! GPU; what only a GPU can show (launch limits, memory, speed) is left to
//! `scripts/gpu-check.sh`.
//!
//! This is a test crate: nothing in a host depends on it.

#![deny(missing_docs)]

mod ffi {
    unsafe extern "C" {
        pub fn kino_emu_lut_rgb8(
            grid: *const u32,
            block: *const u32,
            frame: *mut u8,
            pixels: u32,
            offsets: *const u32,
            fracs: *const f32,
            lattice: *const [f32; 4],
            size: u32,
        );
        pub fn kino_emu_to_sdr_words() -> u32;
        pub fn kino_emu_to_sdr_rgb8(
            grid: *const u32,
            block: *const u32,
            y: *const u16,
            y_stride: u32,
            u: *const u16,
            u_stride: u32,
            v: *const u16,
            v_stride: u32,
            chroma_step: u32,
            shift: u32,
            light: *const f32,
            levels: *const u8,
            boundaries: *const f32,
            args: *const u32,
            rgb: *mut u8,
            width: u32,
            height: u32,
        );
        pub fn kino_emu_yuv420_to_rgb(
            grid: *const u32,
            block: *const u32,
            y: *const u8,
            y_stride: u32,
            u: *const u8,
            u_stride: u32,
            v: *const u8,
            v_stride: u32,
            chroma_step: u32,
            k: *const i32,
            rgb: *mut u8,
            width: u32,
            height: u32,
        );
        pub fn kino_emu_camera_rgb8(
            grid: *const u32,
            block: *const u32,
            level: *const u32,
            level_width: u32,
            level_height: u32,
            rows: *const [i32; 2],
            du: i32,
            dv: i32,
            rows_first: u32,
            out: *mut u8,
            width: u32,
            height: u32,
        );
        pub fn kino_emu_level_from_rgb8(
            grid: *const u32,
            block: *const u32,
            rgb: *const u8,
            width: u32,
            height: u32,
            level: *mut u32,
        );
        pub fn kino_emu_half_level(
            grid: *const u32,
            block: *const u32,
            src: *const u32,
            src_width: u32,
            src_height: u32,
            dst: *mut u32,
            width: u32,
            height: u32,
        );
        pub fn kino_emu_overlay_rgb8(
            grid: *const u32,
            block: *const u32,
            region: *mut u8,
            stride: u32,
            level: *const u32,
            level_width: u32,
            level_height: u32,
            ox: f32,
            oy: f32,
            step: f32,
            opacity: u32,
            x0: u32,
            y0: u32,
            x1: u32,
            y1: u32,
        );
        pub fn kino_emu_warp_rgb8(
            grid: *const u32,
            block: *const u32,
            a: *const u8,
            b: *const u8,
            taps: *const u32,
            blocks_x: u32,
            side: u32,
            out: *mut u8,
            width: u32,
            height: u32,
        );
        #[allow(clippy::too_many_arguments)]
        pub fn kino_emu_rgb_to_yuv420(
            grid: *const u32,
            block: *const u32,
            rgb: *const u8,
            width: u32,
            height: u32,
            y: *mut u8,
            y_stride: u32,
            u: *mut u8,
            u_stride: u32,
            v: *mut u8,
            v_stride: u32,
        );
        pub fn kino_emu_text_rgb8(
            grid: *const u32,
            block: *const u32,
            region: *mut u8,
            stride: u32,
            rect: *const u32,
            ox: i32,
            oy: i32,
            mask_width: u32,
            fill: *const u8,
            outline: *const u8,
            owner: *const u32,
            states: *const f32,
            state_count: u32,
            colours: *const f32,
            has_outline: u32,
            text_box: *const i32,
            to_linear: *const f32,
            to_srgb: *const u8,
        );
        pub fn kino_emu_half_luma(
            grid: *const u32,
            block: *const u32,
            rgb: *const u8,
            width: u32,
            height: u32,
            out: *mut f32,
            out_width: u32,
            out_height: u32,
        );
        pub fn kino_emu_down(
            grid: *const u32,
            block: *const u32,
            input: *const f32,
            width: u32,
            height: u32,
            out: *mut f32,
            out_width: u32,
            out_height: u32,
        );
        pub fn kino_emu_flow_cells(
            grid: *const u32,
            block: *const u32,
            src: *const f32,
            dst: *const f32,
            width: u32,
            height: u32,
            coarse: *const [f32; 2],
            coarse_cols: u32,
            coarse_rows: u32,
            cell: u32,
            cols: u32,
            rows: u32,
            radius: u32,
            iterations: u32,
            out: *mut [f32; 2],
        );
        pub fn kino_emu_median3(
            grid: *const u32,
            block: *const u32,
            input: *const [f32; 2],
            cols: u32,
            rows: u32,
            out: *mut [f32; 2],
        );
        pub fn kino_emu_luma_histogram(
            grid: *const u32,
            block: *const u32,
            plane: *const f32,
            pixels: u32,
            bins: *mut u32,
        );
        pub fn kino_emu_residual_rows(
            grid: *const u32,
            block: *const u32,
            p0: *const f32,
            p1: *const f32,
            width: u32,
            height: u32,
            flow: *const [f32; 2],
            cols: u32,
            rows: u32,
            cell: u32,
            sums: *mut f64,
        );
        pub fn kino_emu_warp_taps(
            grid: *const u32,
            block: *const u32,
            ab: *const [f32; 2],
            ba: *const [f32; 2],
            cols: u32,
            rows: u32,
            cell: u32,
            width: u32,
            height: u32,
            time: *const f32,
            taps: *mut u32,
        );
    }
}

fn n(x: usize) -> u32 {
    u32::try_from(x).expect("a size below 2³²")
}

/// Runs `kino_lut_rgb8` over a packed RGB24 frame, in place.
///
/// # Panics
/// When the tables could index outside the lattice (an offset past
/// `size - 2` cells), or the lattice is not `size³` points.
#[allow(clippy::too_many_arguments)]
pub fn lut_rgb8(
    grid: [u32; 3],
    block: [u32; 3],
    frame: &mut [u8],
    offsets: &[[u32; 256]; 3],
    fracs: &[[f32; 256]; 3],
    lattice: &[[f32; 4]],
    size: usize,
) {
    assert_eq!(
        lattice.len(),
        size * size * size,
        "the lattice is not size³ points"
    );
    let strides = [1, size, size * size];
    for (c, stride) in strides.into_iter().enumerate() {
        let last = (size - 2) * stride;
        assert!(
            offsets[c].iter().all(|&o| o as usize <= last),
            "channel {c}'s offsets leave the lattice"
        );
    }
    let pixels = u32::try_from(frame.len() / 3).expect("fewer than 2³² pixels");
    // SAFETY: the kernel touches the first `pixels` pixels of `frame`, the
    // 768 entries of each table and, by the checks above, lattice points
    // below size³ (an offset sum plus one step along each axis).
    unsafe {
        ffi::kino_emu_lut_rgb8(
            grid.as_ptr(),
            block.as_ptr(),
            frame.as_mut_ptr(),
            pixels,
            offsets.as_ptr().cast(),
            fracs.as_ptr().cast(),
            lattice.as_ptr(),
            size as u32,
        );
    }
}

/// Runs `kino_rgb_to_yuv420`: a `width × height` RGB24 picture into three
/// planes with the given strides.
///
/// # Panics
/// When `rgb` or a plane is too small for the picture.
#[allow(clippy::too_many_arguments)]
pub fn rgb_to_yuv420(
    grid: [u32; 3],
    block: [u32; 3],
    rgb: &[u8],
    width: usize,
    height: usize,
    (y, y_stride): (&mut [u8], usize),
    (u, u_stride): (&mut [u8], usize),
    (v, v_stride): (&mut [u8], usize),
) {
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    assert!(
        rgb.len() >= width * height * 3,
        "RGB24 input smaller than {width}×{height}"
    );
    assert!(
        y_stride >= width && y.len() >= y_stride * height,
        "Y plane too small"
    );
    assert!(
        u_stride >= cw && u.len() >= u_stride * ch,
        "U plane too small"
    );
    assert!(
        v_stride >= cw && v.len() >= v_stride * ch,
        "V plane too small"
    );
    // SAFETY: the kernel reads `width × height` pixels of `rgb` and writes
    // inside each plane's `stride × rows`, all checked above.
    unsafe {
        ffi::kino_emu_rgb_to_yuv420(
            grid.as_ptr(),
            block.as_ptr(),
            rgb.as_ptr(),
            n(width),
            n(height),
            y.as_mut_ptr(),
            n(y_stride),
            u.as_mut_ptr(),
            n(u_stride),
            v.as_mut_ptr(),
            n(v_stride),
        );
    }
}

/// Runs `kino_yuv420_to_rgb`: a `width × height` YUV 4:2:0 picture into
/// packed RGB24, U and V read every `chroma_step` bytes (1 for planar, 2
/// for NV12, `v` then being the interleaved plane from its second byte),
/// `k` the matrix's chroma terms (`Matrix::to_rgb`).
///
/// # Panics
/// When a plane or `rgb` is too small for the picture.
#[allow(clippy::too_many_arguments)]
pub fn yuv420_to_rgb(
    grid: [u32; 3],
    block: [u32; 3],
    (y, y_stride): (&[u8], usize),
    (u, u_stride): (&[u8], usize),
    (v, v_stride): (&[u8], usize),
    chroma_step: usize,
    k: [i32; 4],
    width: usize,
    height: usize,
    rgb: &mut [u8],
) {
    check_yuv420(
        [(y, y_stride), (u, u_stride), (v, v_stride)],
        chroma_step,
        (width, height),
        rgb,
    );
    // SAFETY: the kernel reads inside each plane's rows and writes the
    // `width × height` pixels of `rgb`, all checked above.
    unsafe {
        ffi::kino_emu_yuv420_to_rgb(
            grid.as_ptr(),
            block.as_ptr(),
            y.as_ptr(),
            n(y_stride),
            u.as_ptr(),
            n(u_stride),
            v.as_ptr(),
            n(v_stride),
            n(chroma_step),
            k.as_ptr(),
            rgb.as_mut_ptr(),
            n(width),
            n(height),
        );
    }
}

/// The tables `kino_to_sdr_rgb8` reads (`ToSdr::plan`'s).
#[derive(Debug, Clone, Copy)]
pub struct ToSdrTables<'a> {
    /// Light at each step of R'G'B'.
    pub light: &'a [f32],
    /// The output level at the start of each interval of light.
    pub levels: &'a [u8],
    /// Where each output level's successor starts.
    pub boundaries: &'a [f32; 256],
}

/// Runs `kino_to_sdr_rgb8`: a `width × height` 10-bit YUV 4:2:0 picture
/// (samples `shift` bits up their words; U and V read every `chroma_step`
/// samples: 1 planar, 2 P010, `v` then being the interleaved plane from
/// its second sample) into packed RGB24, with `args` the kernel's
/// constants by value (`kino_cuda::kernels::to_sdr_args`).
///
/// # Panics
/// When a plane or `rgb` is too small for the picture, or `args` is not
/// the kernel's size. The tables are trusted to be a plan's (the light
/// table's and level table's last indices are in `args`).
#[allow(clippy::too_many_arguments)]
pub fn to_sdr_rgb8(
    grid: [u32; 3],
    block: [u32; 3],
    (y, y_stride): (&[u16], usize),
    (u, u_stride): (&[u16], usize),
    (v, v_stride): (&[u16], usize),
    (chroma_step, shift): (usize, u32),
    tables: ToSdrTables<'_>,
    args: &[u32],
    (width, height): (usize, usize),
    rgb: &mut [u8],
) {
    check_yuv420(
        [(y, y_stride), (u, u_stride), (v, v_stride)],
        chroma_step,
        (width, height),
        rgb,
    );
    // SAFETY: reading the size of a C type.
    let words = unsafe { ffi::kino_emu_to_sdr_words() };
    assert_eq!(args.len(), words as usize, "KinoToSdr's words");
    // SAFETY: the kernel reads inside each plane's rows and the plan's
    // tables, and writes the `width × height` pixels of `rgb`, checked
    // above; `args` is the kernel's struct's size.
    unsafe {
        ffi::kino_emu_to_sdr_rgb8(
            grid.as_ptr(),
            block.as_ptr(),
            y.as_ptr(),
            n(y_stride),
            u.as_ptr(),
            n(u_stride),
            v.as_ptr(),
            n(v_stride),
            n(chroma_step),
            shift,
            tables.light.as_ptr(),
            tables.levels.as_ptr(),
            tables.boundaries.as_ptr(),
            args.as_ptr(),
            rgb.as_mut_ptr(),
            n(width),
            n(height),
        );
    }
}

/// Checks that a `width × height` YUV 4:2:0 picture's planes (`[y, u,
/// v]`, each with its stride in samples; U and V read every
/// `chroma_step` samples) and its RGB24 output hold it.
fn check_yuv420<T>(
    [(y, y_stride), (u, u_stride), (v, v_stride)]: [(&[T], usize); 3],
    chroma_step: usize,
    (width, height): (usize, usize),
    rgb: &[u8],
) {
    let fits = |plane: &[T], stride: usize, rows: usize, row: usize| {
        rows == 0 || row == 0 || plane.len() >= stride * (rows - 1) + row
    };
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    let chroma = if cw == 0 {
        0
    } else {
        chroma_step * (cw - 1) + 1
    };
    assert!(fits(y, y_stride, height, width), "Y plane too small");
    assert!(fits(u, u_stride, ch, chroma), "U plane too small");
    assert!(fits(v, v_stride, ch, chroma), "V plane too small");
    assert!(rgb.len() >= width * height * 3, "RGB24 output too small");
}

/// A mip level of an image: premultiplied RGBA words, row-major.
#[derive(Debug, Clone, Copy)]
pub struct Level<'a> {
    /// The pixels.
    pub px: &'a [u32],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// Runs `kino_camera_rgb8`: a `width × height` RGB24 frame (`out`) sampled
/// from `level`, row `y` starting at `rows[y]` and stepping `(du, dv)`.
///
/// # Panics
/// When the level or `out` is smaller than their sizes say, or `rows` does
/// not have one entry per output row.
#[allow(clippy::too_many_arguments)]
pub fn camera_rgb8(
    grid: [u32; 3],
    block: [u32; 3],
    level: Level<'_>,
    rows: &[[i32; 2]],
    (du, dv): (i32, i32),
    rows_first: bool,
    out: &mut [u8],
    (width, height): (usize, usize),
) {
    assert!(
        level.width > 0 && level.height > 0 && level.px.len() >= level.width * level.height,
        "level too small"
    );
    assert!(
        rows.len() >= height && out.len() >= width * height * 3,
        "output too small"
    );
    // SAFETY: every level read is clamped inside width × height, every
    // write inside `out`'s width × height pixels, and row starts are read
    // for the `height` rows checked above.
    unsafe {
        ffi::kino_emu_camera_rgb8(
            grid.as_ptr(),
            block.as_ptr(),
            level.px.as_ptr(),
            level.width as u32,
            level.height as u32,
            rows.as_ptr(),
            du,
            dv,
            u32::from(rows_first),
            out.as_mut_ptr(),
            width as u32,
            height as u32,
        );
    }
}

/// Runs `kino_level_from_rgb8`: a packed RGB24 picture `width × height`
/// as an opaque level, into `level`.
///
/// # Panics
/// When `rgb` or `level` is smaller than the size says.
pub fn level_from_rgb8(
    grid: [u32; 3],
    block: [u32; 3],
    rgb: &[u8],
    (width, height): (usize, usize),
    level: &mut [u32],
) {
    assert!(
        rgb.len() >= width * height * 3 && level.len() >= width * height,
        "buffers too small"
    );
    // SAFETY: the kernel reads and writes only the `width × height` pixels
    // checked above.
    unsafe {
        ffi::kino_emu_level_from_rgb8(
            grid.as_ptr(),
            block.as_ptr(),
            rgb.as_ptr(),
            width as u32,
            height as u32,
            level.as_mut_ptr(),
        );
    }
}

/// Runs `kino_half_level`: the next mip level of `src`, `width × height`
/// (the source halved, rounding up), into `dst`.
///
/// # Panics
/// When `src` or `dst` is smaller than its size says, or `src` is empty.
pub fn half_level(
    grid: [u32; 3],
    block: [u32; 3],
    src: Level<'_>,
    dst: &mut [u32],
    (width, height): (usize, usize),
) {
    assert!(
        src.width > 0 && src.height > 0 && src.px.len() >= src.width * src.height,
        "source level too small"
    );
    assert!(dst.len() >= width * height, "destination too small");
    // SAFETY: every read is clamped inside the source's width × height, every
    // write inside the destination's.
    unsafe {
        ffi::kino_emu_half_level(
            grid.as_ptr(),
            block.as_ptr(),
            src.px.as_ptr(),
            src.width as u32,
            src.height as u32,
            dst.as_mut_ptr(),
            width as u32,
            height as u32,
        );
    }
}

/// Runs `kino_overlay_rgb8`: `level` (top-left at `origin` on the frame,
/// `step` level pixels per frame pixel) composited at `opacity` / 256 over
/// the `region` `[x0, y0, x1, y1)` of a packed RGB24 frame `frame_width`
/// pixels wide.
///
/// # Panics
/// When the region is not inside the frame, or the level is smaller than
/// its size says.
#[allow(clippy::too_many_arguments)]
pub fn overlay_rgb8(
    grid: [u32; 3],
    block: [u32; 3],
    frame: &mut [u8],
    frame_width: usize,
    level: Level<'_>,
    origin: (f32, f32),
    step: f32,
    opacity: u32,
    region: [usize; 4],
) {
    let [x0, y0, x1, y1] = region;
    assert!(
        x0 <= x1 && y0 <= y1 && x1 <= frame_width && frame.len() >= y1 * frame_width * 3,
        "region off the frame"
    );
    assert!(
        level.px.len() >= level.width * level.height,
        "level too small"
    );
    // SAFETY: writes stay inside the region, checked to be on the frame;
    // level reads are bounds-checked by the kernel (outside is transparent).
    unsafe {
        ffi::kino_emu_overlay_rgb8(
            grid.as_ptr(),
            block.as_ptr(),
            frame.as_mut_ptr().add((y0 * frame_width + x0) * 3),
            frame_width as u32,
            level.px.as_ptr(),
            level.width as u32,
            level.height as u32,
            origin.0,
            origin.1,
            step,
            opacity,
            x0 as u32,
            y0 as u32,
            x1 as u32,
            y1 as u32,
        );
    }
}

/// One tap of a warp: `[ix, iy, w0, w1, w2, w3]` as the kernel's
/// `KinoWarpTap` lays it out (offsets as two's-complement words).
pub type WarpTap = [u32; 6];

/// Runs `kino_warp_rgb8`: `out` (`width × height` RGB24) blended from
/// frames `a` and `b` through each `side × side` block's two taps.
///
/// # Panics
/// When a frame is smaller than `width × height`, or `taps` lacks a pair
/// for some block.
#[allow(clippy::too_many_arguments)]
pub fn warp_rgb8(
    grid: [u32; 3],
    block: [u32; 3],
    (a, b): (&[u8], &[u8]),
    taps: &[[WarpTap; 2]],
    blocks_x: usize,
    side: usize,
    out: &mut [u8],
    (width, height): (usize, usize),
) {
    let bytes = width * height * 3;
    assert!(
        a.len() >= bytes && b.len() >= bytes && out.len() >= bytes,
        "frame too small"
    );
    assert!(
        side > 0 && blocks_x >= width.div_ceil(side),
        "too few blocks a row"
    );
    assert!(
        taps.len() >= blocks_x * height.div_ceil(side),
        "too few blocks"
    );
    // SAFETY: taps are read for every block of the frame (checked above);
    // source reads are clamped to the frame, writes are its pixels.
    unsafe {
        ffi::kino_emu_warp_rgb8(
            grid.as_ptr(),
            block.as_ptr(),
            a.as_ptr(),
            b.as_ptr(),
            taps.as_ptr().cast(),
            blocks_x as u32,
            side as u32,
            out.as_mut_ptr(),
            width as u32,
            height as u32,
        );
    }
}

/// A single-channel f32 plane, row-major and tight.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    /// The samples.
    pub d: &'a [f32],
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

impl Plane<'_> {
    fn check(&self) {
        assert!(
            self.width > 0 && self.height > 0 && self.d.len() >= self.width * self.height,
            "plane smaller than {}×{}",
            self.width,
            self.height
        );
    }
}

/// A flow grid: `cols × rows` cells `cell` pixels apart, a vector each.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    /// The vectors, row-major.
    pub v: &'a [[f32; 2]],
    /// Cells a row.
    pub cols: usize,
    /// Rows of cells.
    pub rows: usize,
    /// Cell spacing.
    pub cell: usize,
}

impl Field<'_> {
    fn check(&self) {
        assert!(
            self.cols > 0
                && self.rows > 0
                && self.cell > 0
                && self.v.len() >= self.cols * self.rows,
            "field smaller than {}×{}",
            self.cols,
            self.rows
        );
    }
}

/// Runs `kino_half_luma`: a `width × height` RGB24 frame's half-resolution
/// luma into `out` (`out_width × out_height`).
///
/// # Panics
/// When a buffer is smaller than its size, or the output is larger than
/// half the frame (rounded up).
pub fn half_luma(
    grid: [u32; 3],
    block: [u32; 3],
    rgb: &[u8],
    (width, height): (usize, usize),
    out: &mut [f32],
    (out_width, out_height): (usize, usize),
) {
    assert!(
        width > 0 && height > 0 && rgb.len() >= width * height * 3,
        "frame too small"
    );
    assert!(
        out_width <= width.div_ceil(2)
            && out_height <= height.div_ceil(2)
            && out.len() >= out_width * out_height,
        "plane does not fit"
    );
    // SAFETY: reads are clamped to the frame, writes are the plane's.
    unsafe {
        ffi::kino_emu_half_luma(
            grid.as_ptr(),
            block.as_ptr(),
            rgb.as_ptr(),
            n(width),
            n(height),
            out.as_mut_ptr(),
            n(out_width),
            n(out_height),
        );
    }
}

/// Runs `kino_down`: `input`'s 2×2 average into `out`.
///
/// # Panics
/// As [`half_luma`].
pub fn down(
    grid: [u32; 3],
    block: [u32; 3],
    input: Plane<'_>,
    out: &mut [f32],
    (out_width, out_height): (usize, usize),
) {
    input.check();
    assert!(
        out_width <= input.width.div_ceil(2)
            && out_height <= input.height.div_ceil(2)
            && out.len() >= out_width * out_height,
        "plane does not fit"
    );
    // SAFETY: reads are clamped to the input, writes are the output's.
    unsafe {
        ffi::kino_emu_down(
            grid.as_ptr(),
            block.as_ptr(),
            input.d.as_ptr(),
            n(input.width),
            n(input.height),
            out.as_mut_ptr(),
            n(out_width),
            n(out_height),
        );
    }
}

/// Runs `kino_flow_cells`: the flow of each cell of a `cols × rows` grid
/// over `src` into `dst` (same size), predicted from `coarse` if any.
///
/// # Panics
/// When a plane or field is smaller than its size.
#[allow(clippy::too_many_arguments)]
pub fn flow_cells(
    grid: [u32; 3],
    block: [u32; 3],
    (src, dst): (Plane<'_>, Plane<'_>),
    coarse: Option<Field<'_>>,
    cell: usize,
    (cols, rows): (usize, usize),
    (radius, iterations): (usize, usize),
    out: &mut [[f32; 2]],
) {
    src.check();
    dst.check();
    assert_eq!((src.width, src.height), (dst.width, dst.height));
    assert!(out.len() >= cols * rows, "field too small");
    if let Some(c) = coarse {
        c.check();
        assert_eq!(c.cell, cell, "the coarse field's cells differ");
    }
    let (coarse_ptr, cc, cr) = coarse.map_or((std::ptr::null(), 0, 0), |c| {
        (c.v.as_ptr(), n(c.cols), n(c.rows))
    });
    // SAFETY: plane reads are clamped to them, coarse reads to its grid,
    // and writes are the `cols × rows` cells of `out`.
    unsafe {
        ffi::kino_emu_flow_cells(
            grid.as_ptr(),
            block.as_ptr(),
            src.d.as_ptr(),
            dst.d.as_ptr(),
            n(src.width),
            n(src.height),
            coarse_ptr,
            cc,
            cr,
            n(cell),
            n(cols),
            n(rows),
            n(radius),
            n(iterations),
            out.as_mut_ptr(),
        );
    }
}

/// Runs `kino_median3` over a `cols × rows` field.
///
/// # Panics
/// When a field is smaller than its size.
pub fn median3(
    grid: [u32; 3],
    block: [u32; 3],
    input: &[[f32; 2]],
    (cols, rows): (usize, usize),
    out: &mut [[f32; 2]],
) {
    assert!(
        cols > 0 && rows > 0 && input.len() >= cols * rows && out.len() >= cols * rows,
        "field too small"
    );
    // SAFETY: reads are clamped to the grid, writes are its cells.
    unsafe {
        ffi::kino_emu_median3(
            grid.as_ptr(),
            block.as_ptr(),
            input.as_ptr(),
            n(cols),
            n(rows),
            out.as_mut_ptr(),
        );
    }
}

/// Runs `kino_luma_histogram` over a plane, adding into `bins`.
pub fn luma_histogram(grid: [u32; 3], block: [u32; 3], plane: &[f32], bins: &mut [u32; 32]) {
    // SAFETY: one read per sample, bins clamped to the 32 there are.
    unsafe {
        ffi::kino_emu_luma_histogram(
            grid.as_ptr(),
            block.as_ptr(),
            plane.as_ptr(),
            n(plane.len()),
            bins.as_mut_ptr(),
        );
    }
}

/// Runs `kino_residual_rows`: per sampled row of `p0`, the summed
/// difference to `p1` warped back by `flow`.
///
/// # Panics
/// When a plane or the field is smaller than its size, or `sums` has
/// fewer than one entry per other row.
pub fn residual_rows(
    grid: [u32; 3],
    block: [u32; 3],
    (p0, p1): (Plane<'_>, Plane<'_>),
    flow: Field<'_>,
    sums: &mut [f64],
) {
    p0.check();
    p1.check();
    flow.check();
    assert_eq!((p0.width, p0.height), (p1.width, p1.height));
    assert!(sums.len() >= p0.height.div_ceil(2), "too few row sums");
    // SAFETY: reads are clamped to the planes and the grid; one write per
    // sampled row.
    unsafe {
        ffi::kino_emu_residual_rows(
            grid.as_ptr(),
            block.as_ptr(),
            p0.d.as_ptr(),
            p1.d.as_ptr(),
            n(p0.width),
            n(p0.height),
            flow.v.as_ptr(),
            n(flow.cols),
            n(flow.rows),
            n(flow.cell),
            sums.as_mut_ptr(),
        );
    }
}

/// Runs `kino_warp_taps`: each 8×8 block's pair of taps for a
/// `width × height` frame at the warp's `time` (`t, s, c0a, c0b, c1a, c1b,
/// inv_sigma2`), from the two fields.
///
/// # Panics
/// When a field is smaller than its size, the two differ, or `taps` lacks
/// a pair for some block.
pub fn warp_taps(
    grid: [u32; 3],
    block: [u32; 3],
    (ab, ba): (Field<'_>, Field<'_>),
    (width, height): (usize, usize),
    time: [f32; 7],
    taps: &mut [[WarpTap; 2]],
) {
    ab.check();
    ba.check();
    assert_eq!((ab.cols, ab.rows, ab.cell), (ba.cols, ba.rows, ba.cell));
    assert!(
        taps.len() >= width.div_ceil(8) * height.div_ceil(8),
        "too few blocks"
    );
    // SAFETY: field reads are clamped to the grid; one pair of taps is
    // written per 8×8 block of the frame.
    unsafe {
        ffi::kino_emu_warp_taps(
            grid.as_ptr(),
            block.as_ptr(),
            ab.v.as_ptr(),
            ba.v.as_ptr(),
            n(ab.cols),
            n(ab.rows),
            n(ab.cell),
            n(width),
            n(height),
            time.as_ptr(),
            taps.as_mut_ptr().cast(),
        );
    }
}

/// Text to composite, as `kino_text_rgb8` takes it.
#[derive(Debug, Clone, Copy)]
pub struct Text<'a> {
    /// Where the masks' top-left corner falls on the frame.
    pub origin: (i32, i32),
    /// Width of the masks.
    pub mask_width: usize,
    /// Fill coverage, row-major.
    pub fill: &'a [u8],
    /// Outline coverage, if any.
    pub outline: Option<&'a [u8]>,
    /// The piece owning each mask pixel; `None`: every pixel is the last
    /// piece's.
    pub owner: Option<&'a [u32]>,
    /// The pieces' states, eight floats each: alpha, left and right fill
    /// colours (linear), edge.
    pub states: &'a [f32],
    /// Outline and box colours (linear), then the box's opacity.
    pub colours: [f32; 7],
    /// Whether the style has an outline colour.
    pub has_outline: bool,
    /// The box, `[x0, y0, x1, y1)` on the frame (empty for none).
    pub text_box: [i32; 4],
    /// sRGB level → linear light.
    pub to_linear: &'a [f32; 256],
    /// Linear light in 16384 steps → sRGB level.
    pub to_srgb: &'a [u8],
}

/// Runs `kino_text_rgb8` over the `region` `[x0, y0, x1, y1)` of a packed
/// RGB24 frame `frame_width` pixels wide.
///
/// # Panics
/// When the region is off the frame, a mask does not cover the region,
/// there is no state (or a partial one), or the sRGB table is not 16384
/// levels.
pub fn text_rgb8(
    grid: [u32; 3],
    block: [u32; 3],
    frame: &mut [u8],
    frame_width: usize,
    region: [usize; 4],
    text: &Text<'_>,
) {
    let [x0, y0, x1, y1] = region;
    assert!(
        x0 <= x1 && y0 <= y1 && x1 <= frame_width && frame.len() >= y1 * frame_width * 3,
        "region off the frame"
    );
    assert_eq!(text.to_srgb.len(), 16384, "the sRGB table");
    assert!(
        !text.states.is_empty() && text.states.len().is_multiple_of(8),
        "whole states, at least one"
    );
    if x0 < x1 && y0 < y1 {
        let (ox, oy) = text.origin;
        assert!(
            ox <= x0 as i32
                && oy <= y0 as i32
                && (x1 as i64 - i64::from(ox)) as usize <= text.mask_width,
            "the masks do not cover the region"
        );
        let last = (y1 as i64 - 1 - i64::from(oy)) as usize * text.mask_width
            + (x1 as i64 - 1 - i64::from(ox)) as usize;
        assert!(
            text.fill.len() > last,
            "the fill mask does not cover the region"
        );
        assert!(
            text.outline.is_none_or(|o| o.len() > last),
            "the outline mask does not cover the region"
        );
        assert!(
            text.owner.is_none_or(|o| o.len() > last),
            "the owner map does not cover the region"
        );
    }
    let rect = [x0, y0, x1, y1].map(n);
    // SAFETY: writes stay in the region, checked to be on the frame; mask
    // and owner reads are inside them (checked), state reads inside the
    // states (an owner past them reads the last), table reads inside the
    // tables.
    unsafe {
        ffi::kino_emu_text_rgb8(
            grid.as_ptr(),
            block.as_ptr(),
            frame.as_mut_ptr().add((y0 * frame_width + x0) * 3),
            n(frame_width),
            rect.as_ptr(),
            text.origin.0,
            text.origin.1,
            n(text.mask_width),
            text.fill.as_ptr(),
            text.outline.map_or(std::ptr::null(), <[u8]>::as_ptr),
            text.owner.map_or(std::ptr::null(), <[u32]>::as_ptr),
            text.states.as_ptr(),
            n(text.states.len() / 8),
            text.colours.as_ptr(),
            u32::from(text.has_outline),
            text.text_box.as_ptr(),
            text.to_linear.as_ptr(),
            text.to_srgb.as_ptr(),
        );
    }
}
