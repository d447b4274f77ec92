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
//! # Dynamic captions
//!
//! [`DynamicCaption`] draws a [`DynamicCue`] (a cue with word times, from
//! [`crate::words`]) word by word: the current word highlighted, words
//! popping in as they are said, or a karaoke fill ([`DynamicStyle`]). It
//! lays the cue out once, exactly as [`render_caption`] would, and keeps,
//! beside the coverage masks, which word owns each pixel; a frame only
//! picks each word's colour and composites, so nothing moves between
//! frames and a frame costs about what [`RenderedText::draw`] does.
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
use crate::words::{DynamicCue, TimedWord};

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
    /// A frame of another size than the one a caption was laid out for.
    #[error(
        "frame is {width}x{height} but the caption was laid out for {expected_width}x{expected_height}"
    )]
    FrameSize {
        /// The width laid out for.
        expected_width: usize,
        /// The height laid out for.
        expected_height: usize,
        /// The frame's width.
        width: usize,
        /// The frame's height.
        height: usize,
    },
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
    /// For each glyph, where it came from.
    sources: Vec<GlyphSource>,
    font: Font,
    style: TextStyle,
}

/// Where a laid-out glyph came from: its line, and which of the text's
/// non-whitespace characters it draws ([`NOT_INK`] for a whitespace
/// character that has an outline). Wrapping drops and adds only
/// whitespace, so the non-whitespace characters of the lines are the text's,
/// in order: this is how a glyph is traced back to its word.
#[derive(Debug, Clone, Copy)]
struct GlyphSource {
    line: usize,
    ink: usize,
}

/// [`GlyphSource::ink`] of a whitespace glyph.
const NOT_INK: usize = usize::MAX;

/// Lays out `text`: wraps it to [`TextStyle::max_width_px`], aligns the
/// lines and measures everything it will draw.
pub fn layout(font: &Font, text: &str, style: &TextStyle) -> Result<TextLayout, TextError> {
    let lines = wrap(font, text, style)?;
    let scale = font.scale(style.size_px);
    let sf = font.inner.as_scaled(scale);

    let width = lines.iter().map(|l| l.width).fold(0.0f32, f32::max);
    let line_height = sf.ascent() - sf.descent();
    let pitch = (line_height + sf.line_gap()) * style.line_spacing;
    let height = line_height + pitch * (lines.len().saturating_sub(1)) as f32;

    // Position every glyph and collect the ink extents, which can reach past
    // the advance box (italic overhangs, accents above the ascent, 'j').
    let mut glyphs = Vec::new();
    let mut sources = Vec::new();
    let mut ink = 0usize;
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
            let source = GlyphSource {
                line: i,
                ink: if c.is_whitespace() {
                    NOT_INK
                } else {
                    ink += 1;
                    ink - 1
                },
            };
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
                sources.push(source);
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
        sources,
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

/// The lines [`layout`] breaks `text` into, without placing any glyph.
fn wrap(font: &Font, text: &str, style: &TextStyle) -> Result<Vec<Line>, TextError> {
    style.validate()?;
    let scale = font.scale(style.size_px);
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
    Ok(lines)
}

/// Advance width of `s`, kerning included.
#[cfg(test)]
fn measure(font: &Font, scale: PxScale, s: &str) -> f32 {
    extend(font, scale, (0.0, None), s).0
}

/// The advance width of a run of text after `s` is appended, given the
/// run's width and last glyph: what [`measure`] gives for the whole run,
/// bit for bit (the same additions in the same order), without measuring
/// the run again.
fn extend(
    font: &Font,
    scale: PxScale,
    (mut w, mut prev): (f32, Option<GlyphId>),
    s: &str,
) -> (f32, Option<GlyphId>) {
    let sf = font.inner.as_scaled(scale);
    for c in s.chars() {
        let id = font.inner.glyph_id(c);
        if let Some(p) = prev {
            w += sf.kern(p, id);
        }
        w += sf.h_advance(id);
        prev = Some(id);
    }
    (w, prev)
}

/// Greedy word wrap of one paragraph. Words are separated by whitespace; a
/// word wider than `max_width` on its own is split between characters.
/// Each line's width is kept as it grows, so wrapping is linear in the
/// text's length.
fn wrap_paragraph(font: &Font, scale: PxScale, text: &str, max_width: f32, out: &mut Vec<Line>) {
    let empty = (0.0f32, None);
    let mut current = String::new();
    // The current line's width and last glyph.
    let mut run = empty;
    let start = out.len();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() {
            extend(font, scale, empty, word)
        } else {
            extend(font, scale, extend(font, scale, run, " "), word)
        };
        if candidate.0 <= max_width {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
            run = candidate;
            continue;
        }
        if !current.is_empty() {
            out.push(Line {
                text: std::mem::take(&mut current),
                width: run.0,
            });
            run = empty;
        }
        let alone = extend(font, scale, empty, word);
        if alone.0 <= max_width {
            current = word.to_string();
            run = alone;
            continue;
        }
        // Too long for any line: break it where it stops fitting (at least
        // one character per line, so narrow limits still terminate).
        let mut buf = [0u8; 4];
        for c in word.chars() {
            let c_str: &str = c.encode_utf8(&mut buf);
            let next = extend(font, scale, run, c_str);
            if !current.is_empty() && next.0 > max_width {
                out.push(Line {
                    text: std::mem::take(&mut current),
                    width: run.0,
                });
                current.push(c);
                run = extend(font, scale, empty, c_str);
            } else {
                current.push(c);
                run = next;
            }
        }
    }
    if !current.is_empty() || out.len() == start {
        out.push(Line {
            text: current,
            width: run.0,
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

/// How [`RenderedText::draw`] composites text onto a frame
/// ([`RenderedText::draw_plan`]). Each pixel of `region` under a glyph or
/// the box is decoded to linear light (`to_linear`), mixed towards the box
/// colour by its opacity (inside `text_box.rect`), the outline colour by
/// `outline / 255` and the fill colour by `fill / 255`, in that order (a
/// zero weight leaves it), and encoded back through `to_srgb` at
/// `(c · 16383 + 0.5)`; pixels under nothing are left as they are.
#[derive(Debug, Clone, Copy)]
pub struct TextPlan<'a> {
    /// The frame rectangle written: the masks' placement clipped to the
    /// frame (possibly empty).
    pub region: PixelRect,
    /// Where the masks' top-left corner falls on the frame.
    pub origin: (i32, i32),
    /// Width of the masks, in pixels.
    pub mask_width: usize,
    /// Fill coverage, 0..=255, row-major.
    pub fill: &'a [u8],
    /// Outline coverage, when the text has an outline mask.
    pub outline: Option<&'a [u8]>,
    /// The fill colour, linear.
    pub fill_linear: [f32; 3],
    /// The outline colour, linear, when the style has one.
    pub outline_linear: Option<[f32; 3]>,
    /// The background box, when the style has one.
    pub text_box: Option<PlannedBox>,
    /// sRGB level → linear light.
    pub to_linear: &'static [f32; 256],
    /// Linear light in 16384 steps → the nearest sRGB level.
    pub to_srgb: &'static [u8],
}

/// The box behind text, as a [`TextPlan`] composites it.
#[derive(Debug, Clone, Copy)]
pub struct PlannedBox {
    /// Its rectangle on the frame.
    pub rect: PixelRect,
    /// Its colour, linear.
    pub linear: [f32; 3],
    /// Its opacity, 0..=1.
    pub opacity: f32,
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
        place(self.bounds, frame_width, frame_height, placement)
    }

    /// How [`RenderedText::draw`] composites the text with its top-left
    /// corner at `(x, y)` on a `frame_width × frame_height` frame, for its
    /// GPU twin: the frame rectangle written, the masks, the colours in
    /// linear light and the tables between sRGB levels and linear light.
    pub fn draw_plan(
        &self,
        frame_width: usize,
        frame_height: usize,
        x: i32,
        y: i32,
    ) -> TextPlan<'_> {
        let (to_linear, to_srgb) = tables();
        let lin = |c: [u8; 3]| c.map(|v| to_linear[v as usize]);
        let region = PixelRect {
            x,
            y,
            ..self.bounds
        }
        .clip(frame_width, frame_height);
        TextPlan {
            region,
            origin: (x, y),
            mask_width: self.bounds.width as usize,
            fill: &self.fill,
            outline: self.outline.as_deref(),
            fill_linear: lin(self.style.color),
            outline_linear: self.style.outline.map(|o| lin(o.color)),
            text_box: self
                .style
                .background
                .zip(self.box_rect)
                .map(|(b, r)| PlannedBox {
                    rect: r.translate(x - self.bounds.x, y - self.bounds.y),
                    linear: lin(b.color),
                    opacity: b.opacity,
                }),
            to_linear,
            to_srgb,
        }
    }

    /// Composites the text with its top-left corner at `(x, y)`; what falls
    /// outside the frame is clipped. Returns the frame rectangle written.
    pub fn draw(&self, frame: &mut Frame, x: i32, y: i32) -> Result<PixelRect, TextError> {
        frame.validate()?;
        let plan = self.draw_plan(frame.width, frame.height, x, y);
        composite(frame, &plan, None, &[PieceState::solid(plan.fill_linear)]);
        Ok(plan.region)
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

/// The top-left corner where `placement` puts a block of `bounds`' size.
fn place(
    bounds: PixelRect,
    frame_width: usize,
    frame_height: usize,
    placement: Placement,
) -> (i32, i32) {
    let (w, h) = (bounds.width as f32, bounds.height as f32);
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

/// Composites `plan` onto `frame` (checked to be the size it was planned
/// for): each mask pixel is drawn in the state of the piece `owner` gives
/// it, the last state where there is no owner map or the index is past
/// the pieces. `RenderedText` is one piece; the CUDA twin is
/// `kino_text_rgb8`.
fn composite(frame: &mut Frame, plan: &TextPlan<'_>, owner: Option<&[u32]>, states: &[PieceState]) {
    let clip = plan.region;
    let Some(last) = states.last() else { return };
    if clip.width == 0 || clip.height == 0 {
        return;
    }
    let (to_lin, to_srgb) = (plan.to_linear, plan.to_srgb);
    let (x, y) = plan.origin;
    // Most of a box has no glyph on it: there the result depends only on
    // the level underneath, so it is one table lookup per channel.
    let box_only: Option<[[u8; 256]; 3]> = plan.text_box.map(|b| {
        let mut table = [[0u8; 256]; 3];
        for (k, t) in table.iter_mut().enumerate() {
            for (v, out) in t.iter_mut().enumerate() {
                let l = to_lin[v] + (b.linear[k] - to_lin[v]) * b.opacity;
                *out = to_srgb[(l * LIN_MAX as f32 + 0.5) as usize];
            }
        }
        table
    });
    let mask_w = plan.mask_width;
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
                let box_a = match plan.text_box {
                    Some(b) if b.rect.contains(fx as i32, fy) => b.opacity,
                    _ => 0.0,
                };
                let st = owner
                    .and_then(|o| states.get(o[m] as usize))
                    .unwrap_or(last);
                let (out_a, fill_a) = if st.alpha > 0.0 {
                    (plan.outline.map_or(0, |o| o[m]), plan.fill[m])
                } else {
                    (0, 0)
                };
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
                if let Some(b) = plan.text_box {
                    mix(&mut c, b.linear, box_a);
                }
                let scale = |a: u8| {
                    let a = f32::from(a) / 255.0;
                    if st.alpha == 1.0 { a } else { a * st.alpha }
                };
                if let Some(oc) = plan.outline_linear {
                    mix(&mut c, oc, scale(out_a));
                }
                if fill_a > 0 {
                    // The share of this pixel left of the fill edge.
                    let left = (st.edge - mx as f32).clamp(0.0, 1.0);
                    let fill_c = if left >= 1.0 {
                        st.left
                    } else if left <= 0.0 {
                        st.right
                    } else {
                        let mut fc = st.right;
                        mix(&mut fc, st.left, left);
                        fc
                    };
                    mix(&mut c, fill_c, scale(fill_a));
                }
                for k in 0..3 {
                    px[k] = to_srgb[(c[k] * LIN_MAX as f32 + 0.5) as usize];
                }
            }
        });
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
fn tables() -> (&'static [f32; 256], &'static [u8]) {
    static TABLES: OnceLock<([f32; 256], Vec<u8>)> = OnceLock::new();
    let (to_linear, to_srgb) = TABLES.get_or_init(|| {
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
    });
    (to_linear, to_srgb)
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
/// [`caption_placement`]. This is [`caption_layout`], rendered.
pub fn render_caption(
    font: &Font,
    text: &str,
    kind: CaptionKind,
    frame_width: usize,
    frame_height: usize,
) -> Result<RenderedText, TextError> {
    Ok(caption_layout(font, text, kind, frame_width, frame_height)?.render())
}

/// The layout [`render_caption`] renders: the [`CaptionKind::style`],
/// shrunk to fit two lines where 70% of the size can, lines balanced.
pub fn caption_layout(
    font: &Font,
    text: &str,
    kind: CaptionKind,
    frame_width: usize,
    frame_height: usize,
) -> Result<TextLayout, TextError> {
    let base = kind.style(frame_width, frame_height);
    let mut style = base;
    // Trials only wrap: placing glyphs is for the chosen style alone.
    let mut wrapped = wrap(font, text, &style)?;
    for shrink in [0.9, 0.8, 0.7] {
        if wrapped.len() <= 2 {
            break;
        }
        style.size_px = base.size_px * shrink;
        wrapped = wrap(font, text, &style)?;
    }
    // Balance: the narrowest wrap width that keeps the same number of lines.
    let lines = wrapped.len();
    if lines >= 2 && !text.contains('\n') {
        let width = wrapped.iter().map(|l| l.width).fold(0.0f32, f32::max);
        let (mut lo, mut hi) = (width / lines as f32, width);
        for _ in 0..12 {
            let mid = (lo + hi) / 2.0;
            let mut trial = style;
            trial.max_width_px = Some(mid);
            if wrap(font, text, &trial)?.len() == lines {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        style.max_width_px = Some(hi);
    }
    layout(font, text, &style)
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

/// How the words of a dynamic caption change as they are said (see
/// [`DynamicCaption`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DynamicStyle {
    /// Every word is shown for the whole cue; the word being said is in the
    /// highlight colour, the others in their own colour. Between two words
    /// the one said last stays highlighted (no flicker in short pauses),
    /// and after the last word it stays highlighted to the cue's end;
    /// before the first word starts none is.
    #[default]
    Highlight,
    /// Words appear as they are said: a word is invisible (glyph and
    /// outline; a box is there from the cue's start) before its start, and
    /// appears in the highlight colour, fading to its own colour over
    /// [`POP_MS`] milliseconds (in linear light), so the newest word is the
    /// brightest.
    Pop,
    /// Karaoke: every word is shown; each fills with the highlight colour
    /// from left to right as it is said, its fill edge moving with the time
    /// elapsed in the word (anti-aliased across the edge pixel), and stays
    /// filled once said. A word broken over two lines fills the first
    /// piece, then the second.
    Karaoke,
}

/// How long a word stays brighter after it appears in [`DynamicStyle::Pop`],
/// in milliseconds.
pub const POP_MS: u32 = 150;

/// The look of a dynamic caption: the animation, the caption kind (box or
/// outline, sized as [`CaptionKind::style`]) and the word colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DynamicLook {
    /// How words change as they are said.
    pub style: DynamicStyle,
    /// Boxed or outlined, laid out exactly as [`render_caption`] does.
    pub kind: CaptionKind,
    /// A word's colour when it is not highlighted (sRGB).
    pub base: [u8; 3],
    /// The highlight colour: the current word, a popping word, the filled
    /// part in karaoke (sRGB).
    pub highlight: [u8; 3],
    /// An emphasised word's colour where another would be in `base`;
    /// highlighting still applies to it (sRGB).
    pub emphasis: [u8; 3],
    /// Where the cue sits in the frame.
    pub position: CaptionPosition,
}

/// Where a caption sits in the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CaptionPosition {
    /// Above the bottom edge, as [`caption_placement`] puts it.
    #[default]
    Bottom,
    /// Centred vertically.
    Middle,
    /// Below the top edge, the same margin as at the bottom.
    Top,
}

impl CaptionPosition {
    /// The placement in a frame `frame_height` pixels tall.
    pub fn placement(self, frame_height: usize) -> Placement {
        match self {
            CaptionPosition::Bottom => caption_placement(frame_height),
            CaptionPosition::Middle => Placement::Center,
            CaptionPosition::Top => Placement::Top {
                margin_px: (frame_height as f32 * 0.07).round(),
            },
        }
    }
}

impl DynamicLook {
    /// The default highlight colour: a warm yellow.
    pub const HIGHLIGHT: [u8; 3] = [255, 214, 10];
    /// The default emphasis colour: a light blue.
    pub const EMPHASIS: [u8; 3] = [90, 200, 255];

    /// `style` and `kind` with white words, a [`DynamicLook::HIGHLIGHT`]
    /// highlight and [`DynamicLook::EMPHASIS`] emphasis.
    pub fn new(style: DynamicStyle, kind: CaptionKind) -> Self {
        Self {
            style,
            kind,
            base: [255, 255, 255],
            highlight: Self::HIGHLIGHT,
            emphasis: Self::EMPHASIS,
            position: CaptionPosition::Bottom,
        }
    }
}

impl Default for DynamicLook {
    /// [`DynamicLook::new`] with [`DynamicStyle::Highlight`] and
    /// [`CaptionKind::Boxed`].
    fn default() -> Self {
        Self::new(DynamicStyle::Highlight, CaptionKind::Boxed)
    }
}

/// Where a word (or the part of it on one line) is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WordBox {
    /// The word's index in the cue.
    pub word: usize,
    /// The line it is on, from 0.
    pub line: usize,
    /// The glyphs' ink on that line, in frame coordinates (the outline,
    /// if any, reaches beyond it).
    pub rect: PixelRect,
}

/// A piece of a word: its glyphs on one line.
#[derive(Debug, Clone)]
struct Piece {
    word: usize,
    /// Ink extent, in mask columns.
    x0: f32,
    x1: f32,
    /// Ink width of the same word's pieces before this one.
    before: f32,
}

/// How one piece (a word's glyphs on one line) is drawn on one frame:
/// pixels left of `edge` (a mask column, fractional) get `left`, the rest
/// `right`; glyph and outline coverage are scaled by `alpha`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PieceState {
    /// Coverage scale, 0..=1 (0: not shown yet).
    pub alpha: f32,
    /// Fill colour left of the edge, linear.
    pub left: [f32; 3],
    /// Fill colour right of the edge, linear.
    pub right: [f32; 3],
    /// The fill edge in mask columns (±∞: all one side).
    pub edge: f32,
}

impl PieceState {
    /// One colour all over, fully shown: static text, and caption pixels no
    /// word owns.
    pub fn solid(linear: [f32; 3]) -> Self {
        Self {
            alpha: 1.0,
            left: linear,
            right: linear,
            edge: f32::INFINITY,
        }
    }
}

/// How [`DynamicCaption::draw`] composites a caption at one time
/// ([`DynamicCaption::draw_plan`]), for its GPU twin: `text` as
/// [`TextPlan`] has it, except that each pixel's fill colour and the
/// scale of its coverage come from the piece owning it.
///
/// A pixel under the box, the outline or a glyph is decoded to linear
/// light, mixed towards the box colour by its opacity, the outline colour
/// by `outline / 255` (× `alpha` when that is not 1) and the fill colour by
/// `fill / 255` (likewise), in that order, and encoded back; its fill
/// colour is the piece's `left` and `right` mixed by the share of the
/// pixel left of `edge`, `(edge − column)` clamped to 0..=1. A piece whose
/// `alpha` is 0 hides its glyphs and outline, not the box.
#[derive(Debug, Clone)]
pub struct CaptionPlan<'a> {
    /// The region, masks, outline colour, box and tables (`fill_linear` is
    /// unused: the pieces give the fill).
    pub text: TextPlan<'a>,
    /// The piece owning each mask pixel; any index past the pieces means
    /// no word (the last state).
    pub owner: &'a [u32],
    /// Each piece's state, then the state of pixels no word owns.
    pub states: Vec<PieceState>,
    /// The frame size the caption was laid out for.
    pub frame_size: (usize, usize),
}

impl CaptionPlan<'_> {
    /// Composites the plan onto `frame`, which must be the size the
    /// caption was laid out for; returns the frame rectangle written.
    pub fn draw(&self, frame: &mut Frame) -> Result<PixelRect, TextError> {
        self.check_frame(frame)?;
        composite(frame, &self.text, Some(self.owner), &self.states);
        Ok(self.text.region)
    }

    /// Whether `frame` is one the caption was laid out for.
    pub fn check_frame(&self, frame: &Frame) -> Result<(), TextError> {
        frame.validate()?;
        if (frame.width, frame.height) != self.frame_size {
            return Err(TextError::FrameSize {
                expected_width: self.frame_size.0,
                expected_height: self.frame_size.1,
                width: frame.width,
                height: frame.height,
            });
        }
        Ok(())
    }
}

/// A piece index for pixels no word owns.
const NO_OWNER: u32 = u32::MAX;

/// A [`DynamicCue`] laid out and rasterised once for a frame size, drawn at
/// any time in the cue with [`DynamicCaption::draw`].
///
/// The layout is [`caption_layout`]'s for the cue's text, placed as
/// [`draw_caption`] places it ([`caption_placement`]): the same line breaks,
/// size and position as the plain caption, and the same at every time, so
/// words never move; only their colours and, in [`DynamicStyle::Pop`], their
/// visibility change. With every colour equal the frame is bit-identical to
/// [`draw_caption`]'s.
///
/// Construction rasterises the glyphs and the outline into coverage masks
/// with, for every pixel, the word piece that owns it (the glyph that covers
/// it most; for outline pixels, the glyph the outline grew from). Drawing a
/// frame works out each word's colour and visibility (one small table) and
/// composites the masks, as [`RenderedText::draw`] does, in linear light:
/// no layout or rasterising per frame.
///
/// Emphasised words ([`DynamicCue::emphasis`]) use the
/// [`DynamicLook::emphasis`] colour where another word uses the base colour;
/// they are not bolder or larger (that would change the layout). Words are
/// timed by [`DynamicCue::word_times`].
///
/// ```no_run
/// use kino_kernels::interpolate::Frame;
/// use kino_kernels::subtitle::Cue;
/// use kino_kernels::text::{CaptionKind, DynamicCaption, DynamicLook, DynamicStyle, Font};
/// use kino_kernels::words::DynamicCue;
///
/// let font = Font::system_bold()?;
/// let cue = DynamicCue::proportional(&Cue::new(0, 2000, "Cold brew, ready when you are"));
/// let look = DynamicLook::new(DynamicStyle::Karaoke, CaptionKind::Outlined);
/// let caption = DynamicCaption::new(&font, &cue, &look, 1920, 1080)?;
/// let mut frame = Frame::new(1920, 1080, vec![0; 1920 * 1080 * 3])?;
/// for t in (0..2000).step_by(40) {
///     caption.draw(&mut frame, t)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DynamicCaption {
    look: DynamicLook,
    frame_size: (usize, usize),
    /// Frame position of the masks' top-left corner.
    origin: (i32, i32),
    /// The masks, their rectangle relative to the text block, the box and
    /// the style, as `render_caption` would make them.
    text: RenderedText,
    /// The piece owning each mask pixel, or [`NO_OWNER`].
    owner: Vec<u32>,
    pieces: Vec<Piece>,
    /// Each word's ink width, all its pieces together.
    word_widths: Vec<f32>,
    boxes: Vec<WordBox>,
    words: Vec<TimedWord>,
    emphasis: Vec<bool>,
}

impl DynamicCaption {
    /// Lays out and rasterises `cue` for a `frame_width x frame_height`
    /// frame.
    pub fn new(
        font: &Font,
        cue: &DynamicCue,
        look: &DynamicLook,
        frame_width: usize,
        frame_height: usize,
    ) -> Result<Self, TextError> {
        let laid = caption_layout(font, &cue.text, look.kind, frame_width, frame_height)?;
        let words = cue.word_times();
        // The word of each of the text's non-whitespace characters.
        let mut ink_word = Vec::new();
        for (k, w) in cue.text.split_whitespace().enumerate() {
            ink_word.extend(w.chars().map(|_| k));
        }

        let b = laid.bounds;
        let (w, h) = (b.width as usize, b.height as usize);
        let mut fill = vec![0u8; w * h];
        let mut owner = vec![NO_OWNER; w * h];
        // The largest single glyph's coverage so far, per pixel.
        let mut best = vec![0u8; w * h];
        let mut pieces: Vec<Piece> = Vec::new();
        // Ink rectangles of the pieces, relative to the block.
        let mut piece_ink: Vec<(f32, f32, f32, f32, usize)> = Vec::new();
        let mut last: Option<(usize, usize)> = None;
        for (glyph, src) in laid.glyphs.iter().zip(&laid.sources) {
            let Some(outlined) = laid.font.inner.outline_glyph(glyph.clone()) else {
                continue;
            };
            let pb = outlined.px_bounds();
            let piece = match ink_word.get(src.ink) {
                None => NO_OWNER,
                Some(&k) => {
                    if last != Some((k, src.line)) {
                        last = Some((k, src.line));
                        pieces.push(Piece {
                            word: k,
                            x0: f32::INFINITY,
                            x1: f32::NEG_INFINITY,
                            before: 0.0,
                        });
                        piece_ink.push((
                            f32::INFINITY,
                            f32::INFINITY,
                            f32::NEG_INFINITY,
                            f32::NEG_INFINITY,
                            src.line,
                        ));
                    }
                    let i = pieces.len() - 1;
                    let ink = &mut piece_ink[i];
                    ink.0 = ink.0.min(pb.min.x);
                    ink.1 = ink.1.min(pb.min.y);
                    ink.2 = ink.2.max(pb.max.x);
                    ink.3 = ink.3.max(pb.max.y);
                    i as u32
                }
            };
            // As `TextLayout::render` does, so the masks are the same.
            let ox = pb.min.x as i32 - b.x;
            let oy = pb.min.y as i32 - b.y;
            outlined.draw(|gx, gy, c| {
                let (x, y) = (ox + gx as i32, oy + gy as i32);
                if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                    let i = y as usize * w + x as usize;
                    let v = (c.clamp(0.0, 1.0) * 255.0).round() as u16;
                    fill[i] = (u16::from(fill[i]) + v).min(255) as u8;
                    if v as u8 > best[i] {
                        best[i] = v as u8;
                        owner[i] = piece;
                    }
                }
            });
        }
        drop(best);
        let style = laid.style;
        let outline = style.outline.filter(|o| o.width_px > 0.0).map(|o| {
            let mask = dilate(&fill, w, h, o.width_px);
            outline_owners(&fill, &mask, &mut owner, w, h, o.width_px);
            mask
        });

        let origin = place(
            b,
            frame_width,
            frame_height,
            look.position.placement(frame_height),
        );
        let mut word_widths = vec![0.0f32; ink_word.last().map_or(0, |k| k + 1)];
        let mut boxes = Vec::with_capacity(pieces.len());
        for (piece, &(x0, y0, x1, y1, line)) in pieces.iter_mut().zip(&piece_ink) {
            piece.x0 = x0 - b.x as f32;
            piece.x1 = x1 - b.x as f32;
            piece.before = word_widths[piece.word];
            word_widths[piece.word] += x1 - x0;
            boxes.push(WordBox {
                word: piece.word,
                line,
                rect: PixelRect::covering(x0, y0, x1, y1).translate(origin.0 - b.x, origin.1 - b.y),
            });
        }
        Ok(Self {
            look: *look,
            frame_size: (frame_width, frame_height),
            origin,
            text: RenderedText {
                bounds: b,
                box_rect: laid.box_rect,
                fill,
                outline,
                style,
            },
            owner,
            pieces,
            word_widths,
            boxes,
            words,
            emphasis: cue.emphasis.clone(),
        })
    }

    /// Where each word is drawn, in frame coordinates: one box per word per
    /// line it is on (a word too long for a line is broken over two), in
    /// reading order. A word with no ink (none of its characters has a
    /// glyph) has none.
    pub fn word_boxes(&self) -> &[WordBox] {
        &self.boxes
    }

    /// The frame rectangle the caption may touch (not clipped to the frame).
    pub fn rect(&self) -> PixelRect {
        PixelRect {
            x: self.origin.0,
            y: self.origin.1,
            ..self.text.bounds
        }
    }

    /// The words and the times they are drawn by.
    pub fn words(&self) -> &[TimedWord] {
        &self.words
    }

    /// The look it draws with.
    pub fn look(&self) -> &DynamicLook {
        &self.look
    }

    /// A word's resting colour, in linear light.
    fn resting(&self, k: usize, lin: impl Fn([u8; 3]) -> [f32; 3]) -> [f32; 3] {
        if self.emphasis.get(k).copied().unwrap_or(false) {
            lin(self.look.emphasis)
        } else {
            lin(self.look.base)
        }
    }

    /// Each piece's colours, fill edge and visibility at `t_ms`.
    fn piece_states(&self, t_ms: u32) -> Vec<PieceState> {
        let (to_lin, _) = tables();
        let lin = |c: [u8; 3]| c.map(|v| to_lin[v as usize]);
        let high = lin(self.look.highlight);
        // The word being said (or said last): the last to have started.
        let current = self
            .words
            .partition_point(|w| w.start_ms <= t_ms)
            .checked_sub(1);
        self.pieces
            .iter()
            .map(|p| {
                let k = p.word;
                let rest = self.resting(k, lin);
                let solid = |alpha: f32, c: [f32; 3]| PieceState {
                    alpha,
                    left: c,
                    right: c,
                    edge: f32::INFINITY,
                };
                let Some(word) = self.words.get(k) else {
                    return solid(1.0, rest);
                };
                match self.look.style {
                    DynamicStyle::Highlight => {
                        solid(1.0, if current == Some(k) { high } else { rest })
                    }
                    DynamicStyle::Pop => {
                        if t_ms < word.start_ms {
                            return solid(0.0, rest);
                        }
                        let age = t_ms - word.start_ms;
                        if age >= POP_MS {
                            return solid(1.0, rest);
                        }
                        let f = age as f32 / POP_MS as f32;
                        let mut c = high;
                        mix(&mut c, rest, f);
                        solid(1.0, c)
                    }
                    DynamicStyle::Karaoke => {
                        let progress = if t_ms >= word.end_ms {
                            1.0
                        } else if t_ms < word.start_ms {
                            0.0
                        } else {
                            (t_ms - word.start_ms) as f32 / word.duration_ms() as f32
                        };
                        let edge = if progress >= 1.0 {
                            f32::INFINITY
                        } else if progress <= 0.0 {
                            f32::NEG_INFINITY
                        } else {
                            let filled = progress * self.word_widths[k] - p.before;
                            p.x0 + filled.clamp(0.0, p.x1 - p.x0)
                        };
                        PieceState {
                            alpha: 1.0,
                            left: high,
                            right: rest,
                            edge,
                        }
                    }
                }
            })
            .collect()
    }

    /// Composites the caption as it is at `t_ms` (media time, as the cue's
    /// and words' times) onto `frame`, which must be the size it was laid
    /// out for. Drawing does not check that `t_ms` is inside the cue:
    /// showing the cue only while it is on is the caller's job. Returns the
    /// frame rectangle written.
    pub fn draw(&self, frame: &mut Frame, t_ms: u32) -> Result<PixelRect, TextError> {
        self.draw_plan(t_ms).draw(frame)
    }

    /// How [`DynamicCaption::draw`] composites the caption at `t_ms` on a
    /// frame of the size it was laid out for, for its GPU twin.
    pub fn draw_plan(&self, t_ms: u32) -> CaptionPlan<'_> {
        let (x, y) = self.origin;
        let (width, height) = self.frame_size;
        let mut text = self.text.draw_plan(width, height, x, y);
        let base = text.to_linear;
        text.fill_linear = self.look.base.map(|v| base[v as usize]);
        let mut states = self.piece_states(t_ms);
        states.push(PieceState::solid(text.fill_linear));
        CaptionPlan {
            text,
            owner: &self.owner,
            states,
            frame_size: self.frame_size,
        }
    }
}

/// Lays out, rasterises and draws a dynamic caption at `t_ms` in one call
/// (see [`DynamicCaption`]); returns the frame rectangle written. For more
/// than one frame of a cue, make a [`DynamicCaption`] once and draw it.
pub fn draw_dynamic_caption(
    frame: &mut Frame,
    font: &Font,
    cue: &DynamicCue,
    look: &DynamicLook,
    t_ms: u32,
) -> Result<PixelRect, TextError> {
    frame.validate()?;
    DynamicCaption::new(font, cue, look, frame.width, frame.height)?.draw(frame, t_ms)
}

/// Gives each outline pixel outside the glyphs (`fill` 0, `outline` not)
/// the owner of a glyph pixel its outline value came from: the nearest
/// source that [`dilate`]'s disc of radius `r` takes the maximum from.
fn outline_owners(fill: &[u8], outline: &[u8], owner: &mut [u32], w: usize, h: usize, r: f32) {
    let reach = r.ceil() as i32 + 1;
    // The disc's taps as `dilate` weighs them, nearest first.
    let mut taps: Vec<(i32, i32, u16, i32)> = Vec::new();
    for dy in -reach..=reach {
        for dx in -reach..=reach {
            let d = ((dx * dx + dy * dy) as f32).sqrt();
            let weight = (r + 0.5 - d).clamp(0.0, 1.0);
            if weight > 0.0 {
                taps.push((dx, dy, (weight * 256.0).round() as u16, dx * dx + dy * dy));
            }
        }
    }
    taps.sort_by_key(|t| t.3);
    let sources: &[u32] = owner;
    let ring: Vec<(usize, u32)> = (0..h)
        .into_par_iter()
        .flat_map_iter(|y| {
            let taps = &taps;
            (0..w).filter_map(move |x| {
                let i = y * w + x;
                if fill[i] != 0 || outline[i] == 0 {
                    return None;
                }
                taps.iter().find_map(|&(dx, dy, weight, _)| {
                    let (sx, sy) = (x as i32 + dx, y as i32 + dy);
                    if sx < 0 || sy < 0 || sx >= w as i32 || sy >= h as i32 {
                        return None;
                    }
                    let s = sy as usize * w + sx as usize;
                    let v = ((u16::from(fill[s]) * weight + 128) >> 8) as u8;
                    (v == outline[i]).then_some((i, sources[s]))
                })
            })
        })
        .collect();
    for (i, o) in ring {
        owner[i] = o;
    }
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
