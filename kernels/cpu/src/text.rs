//! Text rendering with a real font onto packed RGB24 frames: titles,
//! on-screen text and burned-in captions.
//!
//! # Pipeline
//!
//! 1. [`layout`] shapes a string with one [`Font`] at one [`TextStyle`]:
//!    glyphs are advanced with the font's horizontal metrics and its `kern`
//!    table, words are wrapped greedily to [`TextStyle::max_width_px`] (a word
//!    wider than the line is broken between characters, so no line is ever
//!    wider than the limit), explicit newlines break lines, and each line is
//!    aligned left, centred or right inside the block. The resulting
//!    [`TextLayout`] carries [`TextLayout::bounds`]: the box that holds every
//!    pixel drawing it can touch (glyph ink, outline, background box).
//! 2. [`TextLayout::render`] rasterises the glyphs once into an 8-bit
//!    coverage mask (anti-aliased, exact area coverage from `ab_glyph`) and,
//!    for an [`Outline`], a dilated copy of it: a disc of the outline's
//!    radius with an anti-aliased rim, so the outline is round at corners
//!    and its own edge is smooth. A [`RenderedText`] can be drawn on any
//!    number of frames, which is what a caption shown for two seconds wants.
//! 3. [`RenderedText::draw`] composites, in order: the background box (at its
//!    opacity), the outline, the glyph fill.
//!
//! # Blending in linear light
//!
//! Coverage is the fraction of a pixel's area that the glyph covers, so the
//! light a partly covered pixel emits is that fraction of the text colour
//! plus the rest of the background's: a mix of *linear* intensities. The
//! frame is sRGB-encoded, so compositing decodes both colours to linear light
//! (a 256-entry table), mixes, and encodes again (a 16384-entry table that
//! rounds to the nearest 8-bit level). Mixing the encoded values instead
//! darkens every edge pixel, which makes white-on-dark captions look thin
//! and dark-on-light text look heavy; in linear light the stroke weight is
//! the same whichever way round the colours are. The semi-transparent box is
//! mixed the same way. Pixels that nothing covers are not written at all, so
//! they stay bit-exact.
//!
//! # Fonts
//!
//! [`Font::system_default`] and [`Font::system_bold`] look for DejaVu Sans
//! (Debian's `fonts-dejavu-core`) in the usual places, after the
//! [`FONT_ENV`] / [`BOLD_FONT_ENV`] environment variables, and fail with an
//! error naming every path searched and the package to install.
//!
//! ```no_run
//! use kino_kernels::interpolate::Frame;
//! use kino_kernels::text::{CaptionKind, Font, draw_caption};
//!
//! let font = Font::system_bold()?;
//! let mut frame = Frame::new(1920, 1080, vec![0; 1920 * 1080 * 3])?;
//! draw_caption(&mut frame, &font, "Cold brew, ready when you are", CaptionKind::Boxed)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ab_glyph::{Font as _, FontArc, Glyph, GlyphId, PxScale, ScaleFont as _, point};
use rayon::prelude::*;

use crate::interpolate::{Frame, InterpolateError};

/// Environment variable naming the regular font file; when set it is used
/// instead of searching, and an unreadable file is an error.
pub const FONT_ENV: &str = "KINO_FONT";
/// Environment variable naming the bold font file (see [`FONT_ENV`]).
pub const BOLD_FONT_ENV: &str = "KINO_FONT_BOLD";
/// The Debian package that provides the default fonts.
pub const FONT_PACKAGE: &str = "fonts-dejavu-core";

/// Where DejaVu Sans lives on common distributions: Debian/Ubuntu, Arch,
/// Fedora, Alpine/openSUSE, and a local install.
const FONT_DIRS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/dejavu-sans-fonts",
    "/usr/share/fonts/dejavu",
    "/usr/local/share/fonts",
];

/// Why text could not be laid out or drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// A font file could not be read.
    #[error("cannot read font {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but is not a font this renderer can use.
    #[error("{} is not a usable TrueType/OpenType font: {reason}", path.display())]
    InvalidFont {
        /// The file (empty for fonts given as bytes).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No system font was found.
    #[error(
        "no {kind} font found: {env} is not set and none of these exists: {}; install Debian's {package} (apt-get install {package}) or set {env} to a .ttf file",
        join_paths(.searched)
    )]
    NoSystemFont {
        /// `regular` or `bold`.
        kind: &'static str,
        /// The environment variable that would name one.
        env: &'static str,
        /// Every path looked at.
        searched: Vec<PathBuf>,
        /// The package that provides it.
        package: &'static str,
    },
    /// A style field outside its allowed range.
    #[error("text style {name} = {value} is outside {allowed}")]
    Style {
        /// The field.
        name: &'static str,
        /// The value given.
        value: f32,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// The frame drawn on is malformed.
    #[error(transparent)]
    Frame(#[from] InterpolateError),
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A TrueType/OpenType font, cheap to clone (the data is shared).
#[derive(Clone, Debug)]
pub struct Font {
    inner: FontArc,
    path: Option<PathBuf>,
}

impl Font {
    /// Reads a `.ttf`/`.otf` file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TextError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| TextError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut font = Self::from_bytes(bytes).map_err(|e| match e {
            TextError::InvalidFont { reason, .. } => TextError::InvalidFont {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        })?;
        font.path = Some(path.to_path_buf());
        Ok(font)
    }

    /// Parses a font held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TextError> {
        let inner = FontArc::try_from_vec(bytes).map_err(|e| TextError::InvalidFont {
            path: PathBuf::new(),
            reason: e.to_string(),
        })?;
        // A font without units per em cannot be sized in em; reject it here
        // rather than in the middle of a render.
        if inner.units_per_em().is_none() {
            return Err(TextError::InvalidFont {
                path: PathBuf::new(),
                reason: "no valid units-per-em".into(),
            });
        }
        Ok(Self { inner, path: None })
    }

    /// DejaVu Sans: the file named by [`FONT_ENV`] if set, else the first of
    /// the usual install locations that exists.
    pub fn system_default() -> Result<Self, TextError> {
        Self::system("regular", FONT_ENV, "DejaVuSans.ttf")
    }

    /// DejaVu Sans Bold: the file named by [`BOLD_FONT_ENV`] if set, else the
    /// first of the usual install locations that exists.
    pub fn system_bold() -> Result<Self, TextError> {
        Self::system("bold", BOLD_FONT_ENV, "DejaVuSans-Bold.ttf")
    }

    fn system(kind: &'static str, env: &'static str, file: &str) -> Result<Self, TextError> {
        // An explicit choice is honoured or reported, never silently replaced.
        if let Some(path) = std::env::var_os(env).filter(|p| !p.is_empty()) {
            return Self::load(PathBuf::from(path));
        }
        let searched: Vec<PathBuf> = FONT_DIRS.iter().map(|d| Path::new(d).join(file)).collect();
        match searched.iter().find(|p| p.is_file()) {
            Some(path) => Self::load(path),
            None => Err(TextError::NoSystemFont {
                kind,
                env,
                searched,
                package: FONT_PACKAGE,
            }),
        }
    }

    /// The file the font was loaded from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The `ab_glyph` scale for an em size in pixels.
    fn scale(&self, size_px: f32) -> PxScale {
        // `from_bytes` checked that units per em exist.
        let upem = self.inner.units_per_em().unwrap_or(1000.0);
        PxScale::from(size_px * self.inner.height_unscaled() / upem)
    }
}

/// A stroke drawn around the glyphs, under them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outline {
    /// Stroke width outside the glyph edge, in pixels (0..=64).
    pub width_px: f32,
    /// Stroke colour (sRGB).
    pub color: [u8; 3],
}

/// A filled box behind the text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextBox {
    /// Box colour (sRGB).
    pub color: [u8; 3],
    /// Box opacity, 0 (invisible) ..= 1 (solid).
    pub opacity: f32,
    /// Space between the text and the box edge, in pixels (0..=1000).
    pub padding_px: f32,
}

/// Horizontal alignment of the lines inside a text block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Align {
    /// Lines start at the block's left edge.
    Left,
    /// Lines are centred in the block.
    #[default]
    Center,
    /// Lines end at the block's right edge.
    Right,
}

/// How text looks. [`TextStyle::new`] gives white, centred, unwrapped text
/// with no outline and no box, at single line spacing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextStyle {
    /// Font size: the em square in pixels, as CSS `font-size` or FFmpeg
    /// `drawtext`'s `fontsize` (1..=2000).
    pub size_px: f32,
    /// Glyph colour (sRGB).
    pub color: [u8; 3],
    /// Optional stroke around the glyphs.
    pub outline: Option<Outline>,
    /// Optional box behind the text.
    pub background: Option<TextBox>,
    /// Line pitch as a multiple of the font's own line height (0.5..=4).
    pub line_spacing: f32,
    /// Alignment of the lines in the block.
    pub align: Align,
    /// Wrap lines so that none is wider than this many pixels (advance
    /// width); `None` breaks only at newlines.
    pub max_width_px: Option<f32>,
}

impl TextStyle {
    /// White, centred text of `size_px` with no outline, no box, no wrapping.
    pub fn new(size_px: f32) -> Self {
        Self {
            size_px,
            color: [255, 255, 255],
            outline: None,
            background: None,
            line_spacing: 1.0,
            align: Align::Center,
            max_width_px: None,
        }
    }

    fn validate(&self) -> Result<(), TextError> {
        let check = |name, value: f32, ok: bool, allowed| {
            if value.is_finite() && ok {
                Ok(())
            } else {
                Err(TextError::Style {
                    name,
                    value,
                    allowed,
                })
            }
        };
        check(
            "size_px",
            self.size_px,
            (1.0..=2000.0).contains(&self.size_px),
            "1..=2000",
        )?;
        check(
            "line_spacing",
            self.line_spacing,
            (0.5..=4.0).contains(&self.line_spacing),
            "0.5..=4",
        )?;
        if let Some(w) = self.max_width_px {
            check("max_width_px", w, w >= 1.0, "1 or more")?;
        }
        if let Some(o) = self.outline {
            check(
                "outline.width_px",
                o.width_px,
                (0.0..=64.0).contains(&o.width_px),
                "0..=64",
            )?;
        }
        if let Some(b) = self.background {
            check(
                "background.opacity",
                b.opacity,
                (0.0..=1.0).contains(&b.opacity),
                "0..=1",
            )?;
            check(
                "background.padding_px",
                b.padding_px,
                (0.0..=1000.0).contains(&b.padding_px),
                "0..=1000",
            )?;
        }
        Ok(())
    }
}

impl Default for TextStyle {
    /// [`TextStyle::new`] at 48 px.
    fn default() -> Self {
        Self::new(48.0)
    }
}

/// An integer pixel rectangle. Coordinates may be negative (partly off a
/// frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PixelRect {
    /// Left edge (inclusive).
    pub x: i32,
    /// Top edge (inclusive).
    pub y: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl PixelRect {
    /// Whether the pixel `(x, y)` lies inside.
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x
            && y >= self.y
            && i64::from(x) < i64::from(self.x) + i64::from(self.width)
            && i64::from(y) < i64::from(self.y) + i64::from(self.height)
    }

    /// The smallest integer rectangle holding `[x0, x1) x [y0, y1)`.
    fn covering(x0: f32, y0: f32, x1: f32, y1: f32) -> Self {
        let (x0, y0) = (x0.floor() as i32, y0.floor() as i32);
        let (x1, y1) = (x1.ceil() as i32, y1.ceil() as i32);
        Self {
            x: x0,
            y: y0,
            width: (x1 - x0).max(0) as u32,
            height: (y1 - y0).max(0) as u32,
        }
    }

    fn translate(self, dx: i32, dy: i32) -> Self {
        Self {
            x: self.x + dx,
            y: self.y + dy,
            ..self
        }
    }

    /// The part inside a `width x height` frame.
    fn clip(self, width: usize, height: usize) -> Self {
        let x0 = i64::from(self.x).clamp(0, width as i64);
        let y0 = i64::from(self.y).clamp(0, height as i64);
        let x1 = (i64::from(self.x) + i64::from(self.width)).clamp(0, width as i64);
        let y1 = (i64::from(self.y) + i64::from(self.height)).clamp(0, height as i64);
        Self {
            x: x0 as i32,
            y: y0 as i32,
            width: (x1 - x0).max(0) as u32,
            height: (y1 - y0).max(0) as u32,
        }
    }
}

/// One laid-out line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The line's text, without the spaces it was broken at.
    pub text: String,
    /// Its advance width in pixels, kerning included.
    pub width: f32,
}

/// A string shaped with one font and style: lines, positioned glyphs, and the
/// boxes they occupy. Coordinates are relative to the block's top-left
/// corner: the left of the widest line, the top of the first line's ascent.
#[derive(Debug, Clone)]
pub struct TextLayout {
    /// The lines, top to bottom.
    pub lines: Vec<Line>,
    /// Advance width of the widest line.
    pub width: f32,
    /// Height from the first line's ascent to the last line's descent.
    pub height: f32,
    /// Every pixel drawing this layout may touch: glyph ink, the outline
    /// around it and the background box, relative to the block's origin.
    pub bounds: PixelRect,
    /// The background box (text block plus padding), relative to the
    /// block's origin, when the style has one.
    pub box_rect: Option<PixelRect>,
    glyphs: Vec<Glyph>,
    font: Font,
    style: TextStyle,
}

/// Lays out `text`: wraps it to [`TextStyle::max_width_px`], aligns the
/// lines and measures everything it will draw.
pub fn layout(font: &Font, text: &str, style: &TextStyle) -> Result<TextLayout, TextError> {
    style.validate()?;
    let scale = font.scale(style.size_px);
    let sf = font.inner.as_scaled(scale);
    let max_width = style.max_width_px.unwrap_or(f32::INFINITY);

    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        wrap_paragraph(
            font,
            scale,
            paragraph.trim_end_matches('\r'),
            max_width,
            &mut lines,
        );
    }

    let width = lines.iter().map(|l| l.width).fold(0.0f32, f32::max);
    let line_height = sf.ascent() - sf.descent();
    let pitch = (line_height + sf.line_gap()) * style.line_spacing;
    let height = line_height + pitch * (lines.len().saturating_sub(1)) as f32;

    // Position every glyph and collect the ink extents, which can reach past
    // the advance box (italic overhangs, accents above the ascent, 'j').
    let mut glyphs = Vec::new();
    let (mut x0, mut y0, mut x1, mut y1) = (0.0f32, 0.0f32, width, height);
    for (i, line) in lines.iter().enumerate() {
        let left = match style.align {
            Align::Left => 0.0,
            Align::Center => (width - line.width) / 2.0,
            Align::Right => width - line.width,
        };
        let baseline = sf.ascent() + pitch * i as f32;
        let mut pen = left;
        let mut prev: Option<GlyphId> = None;
        for c in line.text.chars() {
            let id = font.inner.glyph_id(c);
            if let Some(p) = prev {
                pen += sf.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, point(pen, baseline));
            pen += sf.h_advance(id);
            prev = Some(id);
            if let Some(outlined) = font.inner.outline_glyph(glyph.clone()) {
                let b = outlined.px_bounds();
                x0 = x0.min(b.min.x);
                y0 = y0.min(b.min.y);
                x1 = x1.max(b.max.x);
                y1 = y1.max(b.max.y);
                glyphs.push(glyph);
            }
        }
    }

    let mut bounds = PixelRect::covering(x0, y0, x1, y1);
    if let Some(o) = style.outline {
        // The dilation reaches ceil(width) pixels, plus one for its soft rim.
        let grow = o.width_px.ceil() as i32 + 1;
        bounds = grow_rect(bounds, grow);
    }
    // Blank text draws nothing, not an empty box.
    let blank = lines.iter().all(|l| l.text.trim().is_empty());
    let box_rect = style.background.filter(|_| !blank).map(|b| {
        let pad = b.padding_px;
        PixelRect::covering(x0 - pad, y0.min(0.0) - pad, x1 + pad, y1.max(height) + pad)
    });
    if let Some(b) = box_rect {
        bounds = union(bounds, b);
    }
    Ok(TextLayout {
        lines,
        width,
        height,
        bounds,
        box_rect,
        glyphs,
        font: font.clone(),
        style: *style,
    })
}

fn grow_rect(r: PixelRect, by: i32) -> PixelRect {
    PixelRect {
        x: r.x - by,
        y: r.y - by,
        width: r.width + 2 * by as u32,
        height: r.height + 2 * by as u32,
    }
}

fn union(a: PixelRect, b: PixelRect) -> PixelRect {
    let x0 = a.x.min(b.x);
    let y0 = a.y.min(b.y);
    let x1 = (a.x + a.width as i32).max(b.x + b.width as i32);
    let y1 = (a.y + a.height as i32).max(b.y + b.height as i32);
    PixelRect {
        x: x0,
        y: y0,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    }
}

/// Advance width of `s`, kerning included.
fn measure(font: &Font, scale: PxScale, s: &str) -> f32 {
    let sf = font.inner.as_scaled(scale);
    let mut w = 0.0;
    let mut prev: Option<GlyphId> = None;
    for c in s.chars() {
        let id = font.inner.glyph_id(c);
        if let Some(p) = prev {
            w += sf.kern(p, id);
        }
        w += sf.h_advance(id);
        prev = Some(id);
    }
    w
}

/// Greedy word wrap of one paragraph. Words are separated by whitespace; a
/// word wider than `max_width` on its own is split between characters.
fn wrap_paragraph(font: &Font, scale: PxScale, text: &str, max_width: f32, out: &mut Vec<Line>) {
    let mut current = String::new();
    let start = out.len();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        let w = measure(font, scale, &candidate);
        if w <= max_width {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            let width = measure(font, scale, &current);
            out.push(Line {
                text: std::mem::take(&mut current),
                width,
            });
        }
        if measure(font, scale, word) <= max_width {
            current = word.to_string();
            continue;
        }
        // Too long for any line: break it where it stops fitting (at least
        // one character per line, so narrow limits still terminate).
        for c in word.chars() {
            let mut next = current.clone();
            next.push(c);
            if !current.is_empty() && measure(font, scale, &next) > max_width {
                let width = measure(font, scale, &current);
                out.push(Line {
                    text: std::mem::take(&mut current),
                    width,
                });
                current.push(c);
            } else {
                current = next;
            }
        }
    }
    if !current.is_empty() || out.len() == start {
        let width = measure(font, scale, &current);
        out.push(Line {
            text: current,
            width,
        });
    }
}

impl TextLayout {
    /// Rasterises the glyphs (and the outline) once, for drawing on any
    /// number of frames.
    pub fn render(&self) -> RenderedText {
        let b = self.bounds;
        let (w, h) = (b.width as usize, b.height as usize);
        let mut fill = vec![0u8; w * h];
        for glyph in &self.glyphs {
            let Some(outlined) = self.font.inner.outline_glyph(glyph.clone()) else {
                continue;
            };
            let pb = outlined.px_bounds();
            let ox = pb.min.x as i32 - b.x;
            let oy = pb.min.y as i32 - b.y;
            outlined.draw(|gx, gy, c| {
                let (x, y) = (ox + gx as i32, oy + gy as i32);
                if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                    let i = y as usize * w + x as usize;
                    // Overlapping glyphs (tight kerning) add up, saturating.
                    let v = u16::from(fill[i]) + (c.clamp(0.0, 1.0) * 255.0).round() as u16;
                    fill[i] = v.min(255) as u8;
                }
            });
        }
        let outline = self
            .style
            .outline
            .filter(|o| o.width_px > 0.0)
            .map(|o| dilate(&fill, w, h, o.width_px));
        RenderedText {
            bounds: b,
            box_rect: self.box_rect,
            fill,
            outline,
            style: self.style,
        }
    }
}

/// Max-filter of the coverage over a disc of radius `r` whose rim is
/// anti-aliased: the outline mask.
fn dilate(cov: &[u8], w: usize, h: usize, r: f32) -> Vec<u8> {
    let reach = r.ceil() as i32 + 1;
    // For every row offset of the disc, its column offsets and weights
    // (0..=256, 256 inside the disc, less on the rim).
    let taps: Vec<(i32, Vec<(i32, u16)>)> = (-reach..=reach)
        .map(|dy| {
            let row = (-reach..=reach)
                .filter_map(|dx| {
                    let d = ((dx * dx + dy * dy) as f32).sqrt();
                    let weight = (r + 0.5 - d).clamp(0.0, 1.0);
                    (weight > 0.0).then(|| (dx, (weight * 256.0).round() as u16))
                })
                .collect();
            (dy, row)
        })
        .collect();
    let empty: Vec<bool> = cov
        .chunks(w.max(1))
        .map(|r| r.iter().all(|&c| c == 0))
        .collect();
    let mut out = vec![0u8; w * h];
    out.par_chunks_mut(w.max(1))
        .enumerate()
        .for_each(|(y, row)| {
            for (dy, row_taps) in &taps {
                let sy = y as i32 + dy;
                // Most rows of a caption box around the glyphs are empty.
                if sy < 0 || sy >= h as i32 || empty[sy as usize] {
                    continue;
                }
                let src = &cov[sy as usize * w..(sy as usize + 1) * w];
                for &(dx, weight) in row_taps {
                    let (lo, hi) = if dx >= 0 {
                        (0usize, w.saturating_sub(dx as usize))
                    } else {
                        (((-dx) as usize).min(w), w)
                    };
                    let shifted = &src[(lo as i32 + dx) as usize..(hi as i32 + dx) as usize];
                    // Branch-free so it vectorises; a weight of 256 is exact.
                    for (o, &c) in row[lo..hi].iter_mut().zip(shifted) {
                        let v = ((u16::from(c) * weight + 128) >> 8) as u8;
                        *o = (*o).max(v);
                    }
                }
            }
        });
    out
}

/// Text rasterised into coverage masks, ready to composite onto frames.
#[derive(Debug, Clone)]
pub struct RenderedText {
    /// The masks' rectangle, relative to the text block's origin; its size is
    /// the size of everything drawn.
    pub bounds: PixelRect,
    box_rect: Option<PixelRect>,
    fill: Vec<u8>,
    outline: Option<Vec<u8>>,
    style: TextStyle,
}

/// Where text goes in a frame. Anchored placements centre the text
/// horizontally; all of them position [`RenderedText::bounds`], the box of
/// everything drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Placement {
    /// Top edge `margin_px` below the frame's top.
    Top {
        /// Distance from the frame's top edge.
        margin_px: f32,
    },
    /// Centred vertically.
    Center,
    /// Bottom edge `margin_px` above the frame's bottom.
    Bottom {
        /// Distance from the frame's bottom edge.
        margin_px: f32,
    },
    /// Top-left corner at `(x, y)`.
    At {
        /// Left edge.
        x: i32,
        /// Top edge.
        y: i32,
    },
}

impl RenderedText {
    /// Size in pixels of everything drawn.
    pub fn size(&self) -> (u32, u32) {
        (self.bounds.width, self.bounds.height)
    }

    /// The top-left corner where `placement` puts the text in a frame.
    pub fn position(
        &self,
        frame_width: usize,
        frame_height: usize,
        placement: Placement,
    ) -> (i32, i32) {
        let (w, h) = (self.bounds.width as f32, self.bounds.height as f32);
        let centre_x = ((frame_width as f32 - w) / 2.0).round() as i32;
        match placement {
            Placement::Top { margin_px } => (centre_x, margin_px.round() as i32),
            Placement::Center => (centre_x, ((frame_height as f32 - h) / 2.0).round() as i32),
            Placement::Bottom { margin_px } => (
                centre_x,
                (frame_height as f32 - margin_px - h).round() as i32,
            ),
            Placement::At { x, y } => (x, y),
        }
    }

    /// Composites the text with its top-left corner at `(x, y)`; what falls
    /// outside the frame is clipped. Returns the frame rectangle written.
    pub fn draw(&self, frame: &mut Frame, x: i32, y: i32) -> Result<PixelRect, TextError> {
        frame.validate()?;
        let placed = PixelRect {
            x,
            y,
            ..self.bounds
        };
        let clip = placed.clip(frame.width, frame.height);
        if clip.width == 0 || clip.height == 0 {
            return Ok(clip);
        }
        let (to_lin, to_srgb) = tables();
        let lin = |c: [u8; 3]| c.map(|v| to_lin[v as usize]);
        let fill_c = lin(self.style.color);
        let outline_c = self.style.outline.map(|o| lin(o.color));
        let box_ = self.style.background.zip(self.box_rect).map(|(b, r)| {
            (
                lin(b.color),
                b.opacity,
                r.translate(x - self.bounds.x, y - self.bounds.y),
            )
        });
        // Most of a box has no glyph on it: there the result depends only on
        // the level underneath, so it is one table lookup per channel.
        let box_only: Option<[[u8; 256]; 3]> = box_.map(|(bc, op, _)| {
            let mut table = [[0u8; 256]; 3];
            for (k, t) in table.iter_mut().enumerate() {
                for (v, out) in t.iter_mut().enumerate() {
                    let l = to_lin[v] + (bc[k] - to_lin[v]) * op;
                    *out = to_srgb[(l * LIN_MAX as f32 + 0.5) as usize];
                }
            }
            table
        });
        let mask_w = self.bounds.width as usize;
        let stride = frame.width * 3;
        let (cx0, cx1) = (clip.x as usize, clip.x as usize + clip.width as usize);
        let rows = clip.y as usize..clip.y as usize + clip.height as usize;
        frame.data[rows.start * stride..rows.end * stride]
            .par_chunks_mut(stride)
            .enumerate()
            .for_each(|(i, row)| {
                let fy = (rows.start + i) as i32;
                let my = (fy - y) as usize;
                for fx in cx0..cx1 {
                    let mx = (fx as i32 - x) as usize;
                    let m = my * mask_w + mx;
                    let box_a = match box_ {
                        Some((_, op, r)) if r.contains(fx as i32, fy) => op,
                        _ => 0.0,
                    };
                    let out_a = self.outline.as_ref().map_or(0, |o| o[m]);
                    let fill_a = self.fill[m];
                    if box_a == 0.0 && out_a == 0 && fill_a == 0 {
                        continue;
                    }
                    let px = &mut row[fx * 3..fx * 3 + 3];
                    if let Some(table) = &box_only
                        && out_a == 0
                        && fill_a == 0
                    {
                        for (k, v) in px.iter_mut().enumerate() {
                            *v = table[k][*v as usize];
                        }
                        continue;
                    }
                    let mut c = [0.0f32; 3];
                    for k in 0..3 {
                        c[k] = to_lin[px[k] as usize];
                    }
                    if let Some((bc, _, _)) = box_ {
                        mix(&mut c, bc, box_a);
                    }
                    if let Some(oc) = outline_c {
                        mix(&mut c, oc, f32::from(out_a) / 255.0);
                    }
                    mix(&mut c, fill_c, f32::from(fill_a) / 255.0);
                    for k in 0..3 {
                        px[k] = to_srgb[(c[k] * LIN_MAX as f32 + 0.5) as usize];
                    }
                }
            });
        Ok(clip)
    }

    /// Composites the text where `placement` puts it; returns the frame
    /// rectangle written.
    pub fn draw_placed(
        &self,
        frame: &mut Frame,
        placement: Placement,
    ) -> Result<PixelRect, TextError> {
        let (x, y) = self.position(frame.width, frame.height, placement);
        self.draw(frame, x, y)
    }
}

fn mix(c: &mut [f32; 3], over: [f32; 3], a: f32) {
    if a > 0.0 {
        for k in 0..3 {
            c[k] += (over[k] - c[k]) * a;
        }
    }
}

/// Highest index of the linear-to-sRGB table.
const LIN_MAX: usize = 16383;

/// sRGB level -> linear light, and linear light (quantised to
/// `LIN_MAX + 1` steps) -> nearest sRGB level.
fn tables() -> &'static ([f32; 256], Vec<u8>) {
    static TABLES: OnceLock<([f32; 256], Vec<u8>)> = OnceLock::new();
    TABLES.get_or_init(|| {
        let decode = |v: f64| {
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        let mut to_lin = [0.0f32; 256];
        for (i, l) in to_lin.iter_mut().enumerate() {
            *l = decode(i as f64 / 255.0) as f32;
        }
        // Nearest level by comparing against the midpoints between levels in
        // linear light, so every level's own linear value maps back to it.
        let mids: Vec<f64> = (0..255)
            .map(|i| (decode(i as f64 / 255.0) + decode((i + 1) as f64 / 255.0)) / 2.0)
            .collect();
        let to_srgb = (0..=LIN_MAX)
            .map(|i| {
                let l = i as f64 / LIN_MAX as f64;
                mids.iter().take_while(|&&m| m < l).count() as u8
            })
            .collect();
        (to_lin, to_srgb)
    })
}

/// Lays out, renders and composites `text` in one call; returns the frame
/// rectangle written. Without [`TextStyle::max_width_px`] the text wraps at
/// 90% of the frame width (less the outline and box padding).
pub fn draw_text(
    frame: &mut Frame,
    font: &Font,
    text: &str,
    style: &TextStyle,
    placement: Placement,
) -> Result<PixelRect, TextError> {
    frame.validate()?;
    let mut style = *style;
    if style.max_width_px.is_none() {
        let extra = style.outline.map_or(0.0, |o| o.width_px)
            + style.background.map_or(0.0, |b| b.padding_px);
        style.max_width_px = Some((frame.width as f32 * 0.9 - 2.0 * extra).max(1.0));
    }
    layout(font, text, &style)?
        .render()
        .draw_placed(frame, placement)
}

/// The two caption looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CaptionKind {
    /// White text on a translucent black box (broadcast style).
    #[default]
    Boxed,
    /// White text with a black outline and no box (social-video style).
    Outlined,
}

impl CaptionKind {
    /// The style used for captions on a frame `frame_height` pixels tall: a
    /// font size of 5.5% of the height (59 px at 1080p), lines wrapped to
    /// 80% of `frame_width`, a box of 65% black with 0.25 em padding or a
    /// 0.09 em outline.
    pub fn style(self, frame_width: usize, frame_height: usize) -> TextStyle {
        let size = (frame_height as f32 * 0.055).max(8.0);
        let mut style = TextStyle::new(size);
        style.line_spacing = 1.0;
        style.max_width_px = Some((frame_width as f32 * 0.8).max(1.0));
        match self {
            CaptionKind::Boxed => {
                style.background = Some(TextBox {
                    color: [0, 0, 0],
                    opacity: 0.65,
                    padding_px: (size * 0.25).round(),
                });
            }
            CaptionKind::Outlined => {
                style.outline = Some(Outline {
                    width_px: (size * 0.09).max(1.0),
                    color: [0, 0, 0],
                });
            }
        }
        style
    }
}

/// Renders a caption for a `frame_width x frame_height` frame: the
/// [`CaptionKind::style`], lines balanced so a two-line caption has lines of
/// similar length, shrunk (down to 70%) when it would take more than two
/// lines. Text that needs more lines still gets them all: nothing is
/// dropped; keeping cues short is the caller's job. Draw it at
/// [`caption_placement`].
pub fn render_caption(
    font: &Font,
    text: &str,
    kind: CaptionKind,
    frame_width: usize,
    frame_height: usize,
) -> Result<RenderedText, TextError> {
    let base = kind.style(frame_width, frame_height);
    let mut style = base;
    let mut laid = layout(font, text, &style)?;
    for shrink in [0.9, 0.8, 0.7] {
        if laid.lines.len() <= 2 {
            break;
        }
        style.size_px = base.size_px * shrink;
        laid = layout(font, text, &style)?;
    }
    // Balance: the narrowest wrap width that keeps the same number of lines.
    let lines = laid.lines.len();
    if lines >= 2 && !text.contains('\n') {
        let (mut lo, mut hi) = (laid.width / lines as f32, laid.width);
        for _ in 0..12 {
            let mid = (lo + hi) / 2.0;
            let mut trial = style;
            trial.max_width_px = Some(mid);
            if layout(font, text, &trial)?.lines.len() == lines {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        style.max_width_px = Some(hi);
        laid = layout(font, text, &style)?;
    }
    Ok(laid.render())
}

/// Where captions sit: bottom-centred, 7% of the frame height above the
/// bottom edge (inside the title-safe area).
pub fn caption_placement(frame_height: usize) -> Placement {
    Placement::Bottom {
        margin_px: (frame_height as f32 * 0.07).round(),
    }
}

/// Draws a caption bottom-centred on `frame` (see [`render_caption`]);
/// returns the frame rectangle written.
pub fn draw_caption(
    frame: &mut Frame,
    font: &Font,
    text: &str,
    kind: CaptionKind,
) -> Result<PixelRect, TextError> {
    frame.validate()?;
    render_caption(font, text, kind, frame.width, frame.height)?
        .draw_placed(frame, caption_placement(frame.height))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn font() -> Font {
        Font::system_default().unwrap()
    }

    fn bold() -> Font {
        Font::system_bold().unwrap()
    }

    fn frame(w: usize, h: usize, fill: u8) -> Frame {
        Frame::new(w, h, vec![fill; w * h * 3]).unwrap()
    }

    fn changed(a: &Frame, b: &Frame) -> Vec<(i32, i32)> {
        let mut out = Vec::new();
        for (i, (pa, pb)) in a
            .data
            .chunks_exact(3)
            .zip(b.data.chunks_exact(3))
            .enumerate()
        {
            if pa != pb {
                out.push(((i % a.width) as i32, (i / a.width) as i32));
            }
        }
        out
    }

    #[test]
    fn pixels_drawn_stay_inside_the_measured_box() -> Result<(), TextError> {
        let font = font();
        let styles = [
            TextStyle::new(40.0),
            TextStyle {
                outline: Some(Outline {
                    width_px: 4.5,
                    color: [255, 0, 0],
                }),
                ..TextStyle::new(52.0)
            },
            TextStyle {
                background: Some(TextBox {
                    color: [0, 0, 255],
                    opacity: 0.5,
                    padding_px: 10.0,
                }),
                align: Align::Left,
                ..TextStyle::new(30.0)
            },
        ];
        for style in styles {
            let blank = frame(640, 360, 40);
            let mut f = blank.clone();
            // Accents above the ascent and descenders below it, and 'j' whose
            // ink starts left of its pen position.
            let rect = draw_text(
                &mut f,
                &font,
                "jÉgy Ångström, quick brown fox jumps",
                &style,
                Placement::Center,
            )?;
            let diff = changed(&blank, &f);
            assert!(diff.len() > 500, "text drew only {} pixels", diff.len());
            for (x, y) in diff {
                assert!(rect.contains(x, y), "pixel ({x}, {y}) outside {rect:?}");
            }
        }
        Ok(())
    }

    #[test]
    fn rendered_bounds_match_the_layout_and_are_tight() -> Result<(), TextError> {
        let font = font();
        let laid = layout(&font, "Hello", &TextStyle::new(50.0))?;
        let r = laid.render();
        assert_eq!(r.bounds, laid.bounds);
        // Ink reaches the bounds' left and top rows (no large slack).
        let w = r.bounds.width as usize;
        let top = laid.bounds.height as usize;
        let first_ink_row = (0..top).find(|&y| r.fill[y * w..(y + 1) * w].iter().any(|&c| c > 0));
        assert!(first_ink_row.is_some_and(|y| y < 15), "{first_ink_row:?}");
        assert!(
            laid.width > 100.0 && laid.width < 160.0,
            "width {}",
            laid.width
        );
        Ok(())
    }

    #[test]
    fn outline_colour_surrounds_the_glyphs() -> Result<(), TextError> {
        let font = bold();
        let mut f = frame(400, 160, 0);
        let style = TextStyle {
            color: [255, 255, 255],
            outline: Some(Outline {
                width_px: 4.0,
                color: [255, 0, 0],
            }),
            ..TextStyle::new(80.0)
        };
        draw_text(&mut f, &font, "I", &style, Placement::Center)?;
        // Walk the middle row: black, then red (outline), then white (glyph),
        // then red again, then black.
        let y = 80;
        let row: Vec<[u8; 3]> = (0..400)
            .map(|x| {
                let i = (y * 400 + x) * 3;
                [f.data[i], f.data[i + 1], f.data[i + 2]]
            })
            .collect();
        let is_red = |p: &[u8; 3]| p[0] > 200 && p[1] < 40 && p[2] < 40;
        let is_white = |p: &[u8; 3]| p.iter().all(|&c| c > 215);
        let first_red = row.iter().position(is_red).unwrap();
        let first_white = row.iter().position(is_white).unwrap();
        let last_white = row.iter().rposition(is_white).unwrap();
        let last_red = row.iter().rposition(is_red).unwrap();
        assert!(first_red < first_white, "{first_red} {first_white}");
        assert!(last_white < last_red, "{last_white} {last_red}");
        // The outline is about 4 px wide on each side.
        assert!(
            (3..=6).contains(&(first_white - first_red)),
            "{first_red}..{first_white}"
        );
        assert!(
            (3..=6).contains(&(last_red - last_white)),
            "{last_white}..{last_red}"
        );
        Ok(())
    }

    #[test]
    fn wrapping_respects_the_max_width() -> Result<(), TextError> {
        let font = font();
        let text = "Brightbrew cold brew concentrate brews in twelve hours and makes sixteen cups per bottle; supercalifragilisticexpialidocious";
        for max in [120.0f32, 300.0, 700.0] {
            let style = TextStyle {
                max_width_px: Some(max),
                ..TextStyle::new(32.0)
            };
            let laid = layout(&font, text, &style)?;
            assert!(laid.lines.len() > 1, "{max}: one line");
            for line in &laid.lines {
                assert!(
                    line.width <= max,
                    "{max}: {:?} is {} wide",
                    line.text,
                    line.width
                );
                assert!(!line.text.is_empty());
                assert_eq!(line.width, measure(&font, font.scale(32.0), &line.text));
            }
            // Nothing lost: the words come back in order.
            let joined: String = laid
                .lines
                .iter()
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let squashed = |s: &str| s.split_whitespace().collect::<String>();
            assert_eq!(squashed(&joined), squashed(text));
            assert!(laid.width <= max);
        }
        let laid = layout(&font, "one\ntwo", &TextStyle::new(20.0))?;
        assert_eq!(laid.lines.len(), 2);
        Ok(())
    }

    #[test]
    fn kerning_is_applied() {
        let font = font();
        let scale = font.scale(100.0);
        let pair = measure(&font, scale, "AV");
        let apart = measure(&font, scale, "A") + measure(&font, scale, "V");
        assert!(pair < apart - 1.0, "AV {pair} vs A+V {apart}");
    }

    #[test]
    fn missing_font_file_names_the_path() {
        let err = Font::load("/nonexistent/kino/NoSuchFont.ttf").map(|_| ());
        match err {
            Err(e @ TextError::Io { .. }) => {
                assert!(
                    e.to_string().contains("/nonexistent/kino/NoSuchFont.ttf"),
                    "{e}"
                );
            }
            other => panic!("expected an io error, got {other:?}"),
        }
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.ttf");
        std::fs::write(&bad, b"not a font").unwrap();
        match Font::load(&bad) {
            Err(e @ TextError::InvalidFont { .. }) => {
                assert!(e.to_string().contains("bad.ttf"), "{e}")
            }
            other => panic!("expected an invalid-font error, got {other:?}"),
        }
    }

    #[test]
    fn no_system_font_error_names_paths_and_package() {
        let e = TextError::NoSystemFont {
            kind: "regular",
            env: FONT_ENV,
            searched: FONT_DIRS
                .iter()
                .map(|d| Path::new(d).join("DejaVuSans.ttf"))
                .collect(),
            package: FONT_PACKAGE,
        };
        let msg = e.to_string();
        assert!(
            msg.contains("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
            "{msg}"
        );
        assert!(
            msg.contains("fonts-dejavu-core") && msg.contains("KINO_FONT"),
            "{msg}"
        );
    }

    #[test]
    fn boxed_caption_is_bottom_centred_and_darkens_the_box() -> Result<(), TextError> {
        let font = bold();
        let blank = frame(1280, 720, 200);
        let mut f = blank.clone();
        let rect = draw_caption(
            &mut f,
            &font,
            "Organic arabica beans, brewed slowly for twelve hours so you don't have to",
            CaptionKind::Boxed,
        )?;
        // Two balanced lines: about 2 line heights plus padding.
        assert!(rect.height > 80 && rect.height < 200, "{rect:?}");
        let bottom = rect.y + rect.height as i32;
        assert_eq!(bottom, 720 - (720.0f32 * 0.07).round() as i32);
        let centre = rect.x + rect.width as i32 / 2;
        assert!((centre - 640).abs() <= 1, "{rect:?}");
        assert!(rect.width < 1280 * 8 / 10 + 40, "{rect:?}");
        // A corner of the box is a 65% black over 200-grey in linear light.
        let i = ((rect.y as usize + 1) * 1280 + rect.x as usize + 1) * 3;
        let (to_lin, _) = tables();
        let expect = to_lin[200] * 0.35;
        let got = to_lin[f.data[i] as usize];
        assert!((got - expect).abs() < 0.01, "{} vs {expect}", got);
        for (x, y) in changed(&blank, &f) {
            assert!(rect.contains(x, y));
        }
        Ok(())
    }

    #[test]
    fn blank_text_draws_nothing() -> Result<(), TextError> {
        let font = font();
        let blank = frame(320, 180, 77);
        for text in ["", "   ", "\n"] {
            for kind in [CaptionKind::Boxed, CaptionKind::Outlined] {
                let mut f = blank.clone();
                draw_caption(&mut f, &font, text, kind)?;
                assert_eq!(f, blank, "{text:?} {kind:?}");
            }
        }
        Ok(())
    }

    #[test]
    fn linear_tables_round_trip_every_level() {
        let (to_lin, to_srgb) = tables();
        for (v, &l) in to_lin.iter().enumerate() {
            let i = (l * LIN_MAX as f32 + 0.5) as usize;
            assert_eq!(to_srgb[i] as usize, v);
        }
    }

    #[test]
    fn bad_style_is_rejected() {
        let font = font();
        let style = TextStyle {
            size_px: f32::NAN,
            ..TextStyle::new(10.0)
        };
        assert!(matches!(
            layout(&font, "x", &style),
            Err(TextError::Style {
                name: "size_px",
                ..
            })
        ));
    }
}
