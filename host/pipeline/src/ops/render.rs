//! Picture ops: burned-in captions, scene rendering (footage or a still
//! under a camera move, drawn at every frame -> grade -> text and logo), and
//! composition with transitions and the soundtrack, copying each scene's
//! frames between its transition windows instead of encoding them again.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use kino_cuda::node::{FrameError, Layers, Logo, NodeFrames};
use kino_cuda::{Picture, PictureError};
use kino_kernels::interpolate::Frame;
use kino_kernels::lut::CubeLut;
use kino_kernels::scene::{self, CameraMove, Corner, Image, Shot, ShotSize, Transition};
use kino_kernels::text::{
    self, CaptionKind, DynamicCaption, Font, Outline, Placement, RenderedText, TextStyle,
};
use serde::{Deserialize, Serialize};

use super::assets::{AssetFiles, Pick};
use super::captions::AnyCues;
use super::edit::{DirectedShot, ScenePlan};
use super::keyframes;
use super::write_json;
use super::{OpCx, read_json};
use crate::assets::{AssetCatalog, AssetKind};
use kino_media as media;
use kino_media::{Mp4Writer, RgbFrame, VideoReader};
use kino_runtime::types as wit;

/// A stretch of a long video, processed on its own: `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// The first frame at or after this time is the chunk's first.
    pub start_ms: u32,
    /// Frames from this time on belong to the next chunk.
    pub end_ms: u32,
}

/// Whether a frame at `pts_secs` belongs to `chunk`: every frame belongs to
/// exactly one chunk, whatever the rounding.
fn in_chunk(chunk: Chunk, pts_secs: f64) -> bool {
    let ms = (pts_secs * 1000.0).round();
    ms >= f64::from(chunk.start_ms) && ms < f64::from(chunk.end_ms)
}

pub(super) fn chunk_video(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let info = media::probe(cx.file(0)?).context("reading the video")?;
    if info.video().is_none() {
        bail!("the file has no video stream");
    }
    let chunk_ms =
        u32::try_from(cx.param::<u64>("chunk-ms", 20_000)?.clamp(1000, 600_000)).unwrap_or(20_000);
    let duration_ms = (info.duration_secs * 1000.0).ceil().max(1.0) as u32;
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < duration_ms {
        let end = start.saturating_add(chunk_ms);
        // The last chunk takes every frame to the end, whatever the
        // container says the duration is.
        let end = if end >= duration_ms { u32::MAX } else { end };
        chunks.push(Chunk {
            start_ms: start,
            end_ms: end,
        });
        start = end;
    }
    write_json(dir, "chunks.json", &chunks)
}

/// A cue ready to draw on every frame it shows: rasterised once.
enum Drawn {
    Still(RenderedText, Placement),
    Dynamic(Box<DynamicCaption>),
}

pub(super) fn burn_captions(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let (_, chunk): (usize, Chunk) = cx.item()?;
    let video = cx.file(0)?;
    let cues = AnyCues::read(cx, 1)?;
    let kind = match cx.inputs.get(2) {
        Some(super::Input::Text(s)) if s == "outlined" => CaptionKind::Outlined,
        Some(super::Input::Text(s)) if s == "boxed" => CaptionKind::Boxed,
        Some(super::Input::Text(s)) => {
            bail!("caption style must be `boxed` or `outlined`, not `{s}`")
        }
        _ => CaptionKind::Boxed,
    };
    let font = Font::system_bold()?;
    let mut reader = cx.video_reader(video)?;
    let (w, h) = (reader.width(), reader.height());
    let fps = if reader.fps() > 0.0 {
        reader.fps()
    } else {
        25.0
    };
    reader.seek(f64::from(chunk.start_ms) / 1000.0)?;
    let path = dir.join("captioned-piece.mp4");
    let mut writer = cx.piece_writer(&path, (w, h), fps)?;
    // Only the cues this chunk shows are rasterised, each once.
    let (w_px, h_px) = (w as usize, h as usize);
    let shows = |start: u32, end: u32| end > chunk.start_ms && start < chunk.end_ms;
    let shown: Vec<(u32, u32, Drawn)> = match &cues {
        AnyCues::Plain(segments) => segments
            .iter()
            .filter(|c| shows(c.start_ms, c.end_ms))
            .map(|c| {
                let still = text::render_caption(&font, &c.text, kind, w_px, h_px)?;
                let at = text::caption_placement(h_px);
                Ok((c.start_ms, c.end_ms, Drawn::Still(still, at)))
            })
            .collect::<Result<_>>()?,
        AnyCues::Words(word_cues) => word_cues
            .iter()
            .filter(|c| shows(c.start_ms, c.end_ms))
            .map(|c| {
                let drawn = match c.dynamic_look(kind) {
                    Some(look) => Drawn::Dynamic(Box::new(DynamicCaption::new(
                        &font,
                        &c.dynamic(),
                        &look,
                        w_px,
                        h_px,
                    )?)),
                    None => Drawn::Still(
                        text::render_caption(&font, &c.text, kind, w_px, h_px)?,
                        c.position().placement(h_px),
                    ),
                };
                Ok((c.start_ms, c.end_ms, drawn))
            })
            .collect::<Result<_>>()?,
    };
    let mut written = 0usize;
    while let Some(frame) = reader.next_frame()? {
        if !in_chunk(chunk, frame.pts_secs) {
            if written > 0 {
                break; // past the chunk
            }
            continue; // before it: the seek lands on an earlier key frame
        }
        let ms = (frame.pts_secs * 1000.0).round().max(0.0) as u32;
        let pts = frame.pts_secs;
        let mut f = frame.into_kernel();
        match shown
            .iter()
            .find(|(start, end, _)| *start <= ms && ms < *end)
        {
            Some((_, _, Drawn::Still(caption, at))) => {
                cx.draw_text(&mut f, caption, *at)?;
            }
            Some((_, _, Drawn::Dynamic(caption))) => {
                cx.draw_caption(&mut f, caption, ms)?;
            }
            None => {}
        }
        writer.write_video_frame(&RgbFrame::from_kernel(f, pts))?;
        written += 1;
    }
    if written == 0 {
        bail!(
            "no frames between {} ms and {} ms",
            chunk.start_ms,
            chunk.end_ms
        );
    }
    writer.finish()?;
    Ok(path)
}

pub(super) fn join_video(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let pieces = cx.files(0)?;
    let original = cx.file(1)?;
    let joined = dir.join("joined.mp4");
    media::concat_copy(&pieces, &joined)?;
    let info = media::probe(original).context("reading the original video")?;
    if info.audio().is_none() {
        return Ok(joined);
    }
    // The original's sound, under the joined picture.
    let path = dir.join("captioned.mp4");
    media::mux_audio(&joined, original, &path)?;
    Ok(path)
}

/// Render settings shared by `render-scene` and `compose`.
struct Format {
    width: u32,
    height: u32,
    fps: u32,
}

impl Format {
    fn from(cx: &OpCx) -> Result<Self> {
        let (width, height) = match cx.inputs.get(3) {
            Some(super::Input::Text(size)) => size
                .split_once('x')
                .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
                .with_context(|| {
                    format!("size must be WIDTHxHEIGHT, like 1920x1080, not `{size}`")
                })?,
            _ => (1920, 1080),
        };
        let f = Format {
            width,
            height,
            fps: cx.param("fps", 24)?,
        };
        // 4K at most: every render node holds a few frames of this size.
        if !f.width.is_multiple_of(2)
            || !f.height.is_multiple_of(2)
            || !(64..=3840).contains(&f.width)
            || !(64..=2160).contains(&f.height)
        {
            bail!(
                "the size must be even, from 64x64 to 3840x2160, not {}x{}",
                f.width,
                f.height
            );
        }
        if !(1..=120).contains(&f.fps) {
            bail!("fps must be from 1 to 120, not {}", f.fps);
        }
        Ok(f)
    }

    /// How many frames `ms` lasts.
    fn frames_in(&self, ms: u32) -> usize {
        ((u64::from(ms) * u64::from(self.fps) + 500) / 1000) as usize
    }
}

/// The frames of a transition window on each side of a cut: the director's
/// transition length, halved, at most half of either scene it joins (`0`
/// for a cut and after the last scene). [`compose`] blends these and copies
/// the frames between them.
fn transition_half(
    transition: wit::Transition,
    transition_ms: u32,
    fps: f64,
    scene_frames: usize,
    next_scene_frames: Option<usize>,
) -> usize {
    match next_scene_frames {
        Some(next) if transition != wit::Transition::Cut => {
            ((f64::from(transition_ms) / 1000.0 * fps / 2.0).round() as usize)
                .min(scene_frames / 2)
                .min(next / 2)
        }
        _ => 0,
    }
}

/// Whether frame `k` of a scene render of `frames` frames is an IDR picture:
/// where [`compose`] can start copying the scene's packets after the window
/// of the transition into it. A scene does not know its predecessor's
/// transition, so the windows' likely ends are covered: the start, powers of
/// two from 4 (a window of `w` frames costs at most `w` more re-encoded
/// frames) and where its own outgoing window starts if the next scene is no
/// shorter (so the frames after the copy decode from there).
fn is_join_point(k: usize, frames: usize, outgoing: usize) -> bool {
    k == 0
        || (k >= 4 && k.is_power_of_two() && k <= frames / 2)
        || (outgoing > 0 && k == frames.saturating_sub(outgoing))
}

fn camera(m: wit::CameraMove) -> CameraMove {
    match m {
        wit::CameraMove::Locked => CameraMove::Locked,
        wit::CameraMove::PushIn => CameraMove::PushIn,
        wit::CameraMove::PullOut => CameraMove::PullOut,
        wit::CameraMove::PanLeft => CameraMove::PanLeft,
        wit::CameraMove::PanRight => CameraMove::PanRight,
        wit::CameraMove::TiltUp => CameraMove::TiltUp,
        wit::CameraMove::Handheld => CameraMove::Handheld,
        wit::CameraMove::Orbit => CameraMove::Orbit,
    }
}

fn shot(s: wit::ShotSize) -> ShotSize {
    match s {
        wit::ShotSize::ExtremeWide => ShotSize::ExtremeWide,
        wit::ShotSize::Wide => ShotSize::Wide,
        wit::ShotSize::Medium => ShotSize::Medium,
        wit::ShotSize::CloseUp => ShotSize::CloseUp,
        wit::ShotSize::ExtremeCloseUp => ShotSize::ExtremeCloseUp,
    }
}

fn transition(t: wit::Transition) -> Transition {
    match t {
        wit::Transition::Cut => Transition::Cut,
        wit::Transition::Crossfade => Transition::Crossfade,
        wit::Transition::DipToBlack => Transition::DipToBlack,
        wit::Transition::WhipPan => Transition::WhipPan,
        wit::Transition::Wipe => Transition::Wipe,
    }
}

fn rgb8(c: &wit::Rgb) -> [u8; 3] {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    [q(c.r), q(c.g), q(c.b)]
}

/// The still a scene's camera moves over: the product on a backdrop of the
/// palette, larger than the frame so close shots stay sharp. Each new take
/// frames the product a little differently (a generative backend would
/// draw a new seed instead).
fn canvas(
    product: &Image,
    palette: &[[u8; 3]],
    width: u32,
    height: u32,
    take: u32,
) -> Result<Image> {
    let (w, h) = ((width as usize * 5) / 4, (height as usize * 5) / 4);
    let fill = [0.62, 0.54, 0.7][take as usize % 3];
    Ok(scene::product_plate(product, palette, w, h, fill)?)
}

/// The most a clip generator may write for one scene.
const MAX_CLIP_BYTES: u64 = 2 << 30;

/// The scene's clip from the tenant's clip generator: the director's styled
/// prompt at the scene's length and the output's size, the product image
/// as its reference, seeded from the node's key (the same work, the same
/// seed); a remote render's ticket is kept in the store. The clip is then
/// rendered as footage ([`render_scene_from`]): graded, titled and branded
/// like any scene.
pub(super) async fn generate_clip(cx: &OpCx, dir: &Path) -> Result<PathBuf, super::OpError> {
    let plugin = cx.plugin()?;
    let (_, planned): (usize, DirectedShot) = cx.item()?;
    let format = Format::from(cx)?;
    let product = cx.file(1)?;
    let content_type = match product.extension().and_then(|e| e.to_str()) {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        _ => "image/png",
    };
    let reference =
        kino_runtime::MediaFile::new(product, content_type).context("lending the product image")?;
    let request = kino_runtime::backend_types::ClipRequest {
        prompt: planned.directed.styled_prompt.clone(),
        negative_prompt: String::new(),
        duration_ms: planned.duration_ms,
        width: format.width,
        height: format.height,
        seed: seed_of(&cx.key),
    };
    let sink = kino_runtime::MediaSink::new(dir.join("generated"), MAX_CLIP_BYTES);
    let clips = cx
        .runtime
        .clip_generator(&plugin.plugin, &plugin.call)
        .map_err(anyhow::Error::from)?;
    let _ = cx
        .remote(
            async || {
                let references = [reference.clone()];
                clips.submit(&request, &references, &sink, &cx.key).await
            },
            |ticket| {
                let (clips, sink) = (&clips, &sink);
                async move { clips.check(&ticket, sink).await }
            },
        )
        .await?;
    let video = media::probe(sink.path())
        .ok()
        .filter(|info| info.video().is_some());
    if video.is_none() {
        return Err(super::OpError::bad_answer(format!(
            "{}: the clip for scene {} ({} bytes) is not a video",
            plugin.id,
            cx.stage,
            sink.written()
        )));
    }
    Ok(sink.path().to_path_buf())
}

/// A clip's seed from the node's cache key: stable for the same work.
fn seed_of(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub(super) fn render_scene(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    render_scene_from(cx, dir, None)
}

/// Renders a scene: `generated` (a clip generator's clip) as its footage
/// when given, else the director's first pick (footage, or a still with the
/// camera's move), else the product on the palette; graded, with the
/// scene's text and the logo.
pub(super) fn render_scene_from(
    cx: &OpCx,
    dir: &Path,
    generated: Option<&Path>,
) -> Result<PathBuf> {
    let (_, planned): (usize, DirectedShot) = cx.item()?;
    let lut = CubeLut::read(cx.file(0)?)?;
    let catalog = cx
        .optional_file(5)?
        .map(read_json::<AssetCatalog>)
        .transpose()?;
    let files = AssetFiles::new(
        catalog,
        cx.optional_file(4)?,
        cx.file(1)?,
        cx.optional_file(2)?,
    );
    let logo_image = cx
        .optional_file(2)?
        .map(|p| Image::load(p).context("reading the logo"))
        .transpose()?;
    let format = Format::from(cx)?;
    let directed = &planned.directed;

    let mut palette: Vec<[u8; 3]> = directed.grade.palette.iter().map(rgb8).collect();
    if palette.is_empty() {
        palette = files.catalog.palette.clone();
    }
    if palette.is_empty() {
        palette = vec![[22, 26, 38], [64, 74, 112]];
    }
    let shot = Shot::new(camera(directed.camera_move), shot(directed.shot_size));
    // The brand's font for the scene's text, when the folder has one.
    let font = match &files.catalog.font {
        Some(name) => {
            let (_, path) = files.file(name, dir)?;
            Font::load(&path).with_context(|| format!("the brand font `{name}`"))?
        }
        None => Font::system_bold()?,
    };
    let title = title(&font, &planned.on_screen_text, &format)?;
    let size = (format.width as usize, format.height as usize);
    let logo = match &logo_image {
        Some(image) => {
            let (x, y, scale) =
                scene::corner_placement(size.0, size.1, image, Corner::TopRight, 0.09, 0.04)?;
            Some(Logo {
                image,
                at: (x, y),
                scale,
                opacity: 0.9,
            })
        }
        None => None,
    };
    // Over every picture: the grade (unless the picture was graded
    // already: a still's, once for the whole scene), the text, the logo.
    let layers = Layers {
        lut: Some(&lut),
        title: title.as_ref().map(|t| {
            let margin_px = format.height as f32 * 0.1;
            (t, Placement::Bottom { margin_px })
        }),
        logo,
    };
    let path = dir.join("scene.mp4");
    // A piece (no B-frames) that compose copies between transition windows.
    let mut writer =
        cx.piece_writer(&path, (format.width, format.height), f64::from(format.fps))?;
    let frames = (format.frames_in(planned.duration_ms)).max(1);
    let outgoing = transition_half(
        directed.transition,
        directed.transition_ms,
        f64::from(format.fps),
        frames,
        Some(frames),
    );
    // Encodes frame `i`, finished, or `None` for the last one again.
    let mut write = |f: Option<Frame>, i: usize| -> Result<()> {
        let key = is_join_point(i, frames, outgoing);
        let Some(f) = f else {
            return writer.repeat_frame(key);
        };
        let f = RgbFrame::from_kernel(f, i as f64 / f64::from(format.fps));
        if key {
            writer.write_key_frame(&f)
        } else {
            writer.write_video_frame(&f)
        }
    };
    let picked = match planned.picks.first() {
        Some(pick) => Some((pick, files.file(&pick.name, dir)?)),
        None => None,
    };
    // Footage plays under the overlay: the clip generator's, else a picked clip.
    let generated = generated.map(|clip| {
        let pick = Pick {
            name: "the generated clip".into(),
            in_ms: 0,
            speed: [1.0, 1.0],
            contain: false,
            picked_by: cx.plugin.as_ref().map(|p| p.id.clone()),
        };
        (pick, clip.to_path_buf())
    });
    let played = generated
        .as_ref()
        .map(|(pick, clip)| (pick, clip))
        .or(match &picked {
            Some((pick, (asset, clip))) if asset.kind == AssetKind::Footage => Some((*pick, clip)),
            _ => None,
        });
    if let Some((pick, clip)) = played {
        footage(
            cx,
            (clip, pick),
            &palette,
            (shot, layers),
            &format,
            frames,
            &mut |f, i| write(Some(f), i),
        )?;
        writer.finish()?;
        return Ok(path);
    }
    let still = match &picked {
        Some((pick, (_, image))) => {
            let image = Image::load(image).with_context(|| format!("the asset `{}`", pick.name))?;
            fitted(
                &image,
                pick.contain || !image.is_opaque(),
                &palette,
                &format,
                planned.take,
            )?
        }
        None => {
            let product = Image::load(cx.file(1)?).context("reading the product image")?;
            canvas(
                &product,
                &palette,
                format.width,
                format.height,
                planned.take,
            )?
        }
    };
    // Pacing speeds the camera up or slows it down; the timing stays.
    let pacing = directed.pacing.clamp(0.25, 4.0);
    let move_at = |i: usize| {
        let ms = i as f32 * 1000.0 / format.fps as f32;
        planned.move_at(ms * pacing).min(1.0)
    };
    match keyframes::host_model(&cx.models) {
        // The model draws over the ungraded still; its pictures are graded.
        Some(model) => {
            let mut node = cx.node_frames(size, layers, &[]);
            let settings = keyframes::Settings::of(cx)?;
            let prompt = &directed.styled_prompt;
            let seed = seed_of(&cx.key);
            let drawn = keyframes::draw(
                cx,
                &model,
                &settings,
                prompt,
                seed,
                frames,
                |i| cx.camera(&still, shot, move_at(i), size),
                &mut |mut f, i| {
                    cx.finish_frame(&mut node, &mut f, false)?;
                    write(Some(f), i)
                },
            )?;
            cx.note(format!(
                "{drawn} keyframes drawn by the diffusion model {model} over the camera move, {} frames between them interpolated",
                frames - drawn
            ));
        }
        // A procedural camera move is drawn at every output frame:
        // resampling the still costs less than estimating optical flow
        // between keyframes.
        //
        // The grade is a per-pixel colour map, so it is applied to the still
        // once, not to every frame; a locked camera frames one picture, so
        // it is drawn and converted once and encoded again for every frame.
        None => {
            let mut graded = still.to_frame();
            cx.grade(&lut, &mut graded.data)?;
            let graded = Image::from_frame(&graded)?;
            // The still (its levels), the text and the logo stay on the
            // node's device; each frame comes back once.
            let mut node = cx.node_frames(size, layers, &[&graded]);
            let once = shot.camera_move.is_static();
            for i in 0..frames {
                let picture = (i == 0 || !once)
                    .then(|| cx.camera_frame(&mut node, &graded, shot, move_at(i)))
                    .transpose()?;
                write(picture, i)?;
            }
            let why = keyframes::unusable(&cx.models)
                .unwrap_or_else(|| "no diffusion model is installed".into());
            cx.note(format!(
                "{why}: the scene is its still with the camera's move"
            ));
        }
    }
    writer.finish()?;
    Ok(path)
}

/// The scene's on-screen text in `font`, outlined, wrapped to 80% of the
/// width; `None` for no text.
fn title(font: &Font, text: &str, format: &Format) -> Result<Option<RenderedText>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut style = TextStyle::new(format.height as f32 * 0.07);
    style.outline = Some(Outline {
        width_px: format.height as f32 * 0.005,
        color: [0, 0, 0],
    });
    style.max_width_px = Some(format.width as f32 * 0.8);
    Ok(Some(text::layout(font, text, &style)?.render()))
}

/// A picked still as the scene's canvas (a quarter larger than the frame,
/// for the camera to move over): shown whole on the palette's plate
/// (`contain`, and any image with transparency), else filling it.
fn fitted(
    image: &Image,
    contain: bool,
    palette: &[[u8; 3]],
    format: &Format,
    take: u32,
) -> Result<Image> {
    if contain {
        return canvas(image, palette, format.width, format.height, take);
    }
    Ok(image.clone())
}

/// A footage pick's frames: the clip from `in_ms`, its speed ramped
/// linearly from the pick's first speed to its last across the scene, each
/// output frame the clip's frame at that time (the last one held if the
/// clip ends first), framed by the shot's camera move (cover), or shown
/// whole on the palette's plate (contain), with `layers` over it. One
/// render node draws them all; its room holds a clip frame's picture.
fn footage<'a>(
    cx: &'a OpCx,
    (clip, pick): (&Path, &Pick),
    palette: &[[u8; 3]],
    (shot, layers): (Shot, Layers<'a>),
    format: &Format,
    frames: usize,
    write: &mut dyn FnMut(Frame, usize) -> Result<()>,
) -> Result<()> {
    let mut reader = cx
        .video_reader(clip)
        .with_context(|| format!("the clip `{}`", pick.name))?;
    let start = f64::from(pick.in_ms) / 1000.0;
    if start > 0.0 {
        reader.seek(start)?;
    }
    let [v0, v1] = pick.speed.map(|v| f64::from(v.clamp(0.25, 4.0)));
    let scene_secs = frames as f64 / f64::from(format.fps);
    let (w, h) = (format.width as usize, format.height as usize);
    // A clip frame stays where it was decoded (on the GPU, where NVDEC and
    // the node share one) until something on the CPU needs its pixels.
    let mut current: Option<Picture> = None;
    let mut next = reader.next_picture()?;
    // The pictures the camera frames: the clip's, or the plate's.
    let passing = match &next {
        Some(_) if pick.contain => (w, h),
        Some(f) => f.picture.size(),
        None => (0, 0),
    };
    let mut node = cx.node_frames((w, h), layers, &[]).with_passing(passing);
    let mut current_pts = 0.0;
    for i in 0..frames {
        let t = i as f64 / f64::from(format.fps);
        // Clip time: the integral of the ramped speed.
        let at = start + v0 * t + (v1 - v0) * t * t / (2.0 * scene_secs.max(1e-3));
        while let Some(f) = next.take_if(|f| f.pts_secs <= at + 1e-6 || current.is_none()) {
            (current, current_pts) = (Some(f.picture), f.pts_secs);
            next = reader.next_picture()?;
        }
        let t = (t / scene_secs.max(1e-3)) as f32;
        let picture = current.as_mut().context("the clip has no frames")?;
        let frame = match footage_frame(cx, &mut node, picture, (pick, palette, format), (shot, t))
        {
            // The GPU holding the picture failed and took it along: the
            // clip is read again from it on the CPU, and the node (on the
            // CPU now) frames that.
            Err(e) if lost_with_its_gpu(&e) => {
                reader.reread_on_cpu_from(current_pts, &format!("{e:#}"))?;
                let again = reader
                    .next_picture()?
                    .context("the clip's frame could not be read again")?;
                let picture = current.insert(again.picture);
                next = reader.next_picture()?;
                footage_frame(cx, &mut node, picture, (pick, palette, format), (shot, t))?
            }
            frame => frame?,
        };
        write(frame, i)?;
    }
    Ok(())
}

/// A footage frame over `picture`: framed by the shot's camera move
/// (cover), or shown whole on the palette's plate (contain).
fn footage_frame(
    cx: &OpCx,
    node: &mut NodeFrames<'_>,
    picture: &mut Picture,
    (pick, palette, format): (&Pick, &[[u8; 3]], &Format),
    (shot, t): (Shot, f32),
) -> Result<Frame> {
    if pick.contain {
        let plate = canvas(picture.image()?, palette, format.width, format.height, 0)?;
        let locked = Shot::new(CameraMove::Locked, ShotSize::Wide);
        cx.passing_frame(node, &mut Picture::from(plate), locked, 0.0)
    } else {
        cx.passing_frame(node, picture, shot, t)
    }
}

/// Whether `e` is a picture on a GPU that could not come down (its GPU
/// failed, and its context with it).
fn lost_with_its_gpu(e: &anyhow::Error) -> bool {
    let lost = |p: &PictureError| matches!(p, PictureError::Download(_));
    e.downcast_ref::<PictureError>().is_some_and(lost)
        || matches!(e.downcast_ref::<FrameError>(), Some(FrameError::Picture(p)) if lost(p))
}

pub(super) fn compose(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let scenes = cx.files(0)?;
    let directions: Vec<DirectedShot> = cx
        .files(1)?
        .iter()
        .map(|p| read_json(p))
        .collect::<Result<_>>()?;
    let plan: ScenePlan = cx.json(3)?;
    if plan.shots.len() != scenes.len() {
        bail!(
            "{} scene videos for {} planned scenes",
            scenes.len(),
            plan.shots.len()
        );
    }
    if scenes.is_empty() || scenes.len() != directions.len() {
        bail!(
            "{} scene videos for {} directions",
            scenes.len(),
            directions.len()
        );
    }
    let first = media::probe(scenes[0])?;
    let v = first.video().context("a scene video has no video stream")?;
    let (w, h, fps) = (v.width, v.height, v.fps);
    let path = dir.join("ad.mp4");
    let writer = Mp4Writer::options(w, h, fps)
        .on(cx.video_device())
        .joinable()
        .copying_aac(cx.file(2)?)
        .create(&path)?;
    cx.coded("encoded", writer.device(), writer.fallback());
    let mut out = Timeline {
        writer,
        fps,
        frames: 0,
        copied: 0,
    };

    // Scene boundaries are rounded to frames once, on the whole timeline, so
    // the piece is as long as the plan says to the frame.
    let frame_at = |ms: u32| (f64::from(ms) * fps / 1000.0).round() as usize;
    let targets: Vec<usize> = plan
        .shots
        .iter()
        .map(|shot| {
            let s = &shot.scene;
            frame_at(s.start_ms + s.duration_ms) - frame_at(s.start_ms)
        })
        .collect();
    let halves: Vec<usize> = (0..scenes.len())
        .map(|s| {
            let d = &directions[s].directed;
            transition_half(
                d.transition,
                d.transition_ms,
                fps,
                targets[s],
                targets.get(s + 1).copied(),
            )
        })
        .collect();

    // A transition spans the cut: the outgoing scene's last frames blend
    // toward the incoming scene's first frame, then the outgoing scene's
    // last frame toward the incoming scene's frames, so every scene keeps its
    // length on the timeline. Between the windows, a scene's frames are
    // copied as they were encoded from its first key frame after the
    // incoming window (decoded and encoded again up to there).
    let mut tail: VecDeque<Frame> = VecDeque::new();
    // (kind, half length in frames, the outgoing scene's held last frames)
    let mut incoming: Option<(Transition, usize, Vec<Frame>)> = None;
    for (s, scene_path) in scenes.iter().enumerate() {
        let target = targets[s];
        let half = halves[s];
        let in_half = incoming.as_ref().map_or(0, |(_, n, _)| *n);
        let mut copy = copy_run(cx, &out.writer, scene_path, in_half, target - half)?;
        let mut reader = SceneFrames::open(cx, scene_path)?;
        let mut k = 0usize;
        let mut last: Option<Frame> = None;
        while k < target {
            if let Some((mut piece, from, to)) = copy.take_if(|(_, from, _)| k == *from) {
                // The body's frames held back in case they were the tail.
                for f in tail.drain(..) {
                    out.encode(f)?;
                }
                piece.skip(from)?;
                for _ in from..to {
                    out.copy(&mut piece)?;
                }
                k = to;
                // The frames after the run: a new reader seeking to `to`
                // starts at the last key frame at or before it (the render
                // puts an IDR picture there, `is_join_point`), where this
                // one would decode the whole run first.
                let keys_in_run = piece.key_frames().iter().filter(|&&f| f > from && f <= to);
                let before = if keys_in_run.count() > 0 {
                    let (rest, before) =
                        SceneFrames::from_frame(cx, scene_path, to, piece.frames(), fps)?;
                    reader = rest;
                    before
                } else {
                    reader.skip(to - from)?
                };
                last = before.or(last);
                continue;
            }
            // A render a frame short of the grid repeats its last frame.
            let f = match reader.next()? {
                Some(frame) => frame,
                None => last
                    .clone()
                    .with_context(|| format!("scene {s}'s video is empty"))?,
            };
            if k + 2 >= target {
                last = Some(f.clone());
            }
            if f.width != w as usize || f.height != h as usize {
                bail!(
                    "scene {s} is {}x{}, the piece is {w}x{h}",
                    f.width,
                    f.height
                );
            }
            match &incoming {
                Some((kind, in_half, held)) if k < *in_half => {
                    let span = (2 * in_half) as f32;
                    if k == 0 {
                        for (n, from) in held.iter().enumerate() {
                            let t = (n as f32 + 0.5) / span;
                            out.encode(scene::transition(from, &f, *kind, t)?)?;
                        }
                    }
                    let from = held.last().expect("a transition holds frames");
                    let t = (*in_half + k) as f32 / span + 0.5 / span;
                    out.encode(scene::transition(from, &f, *kind, t)?)?;
                }
                _ => {
                    tail.push_back(f);
                    while tail.len() > half {
                        if let Some(f) = tail.pop_front() {
                            out.encode(f)?;
                        }
                    }
                }
            }
            k += 1;
        }
        incoming = None;
        if half > 0 && !tail.is_empty() {
            let held: Vec<Frame> = tail.drain(..).collect();
            let kind = transition(directions[s].directed.transition);
            incoming = Some((kind, held.len(), held));
        }
    }
    if let Some((_, _, held)) = incoming {
        for f in held {
            out.encode(f)?;
        }
    }
    for f in tail.drain(..) {
        out.encode(f)?;
    }
    let (frames, copied) = (out.frames, out.copied);
    out.finish()?;
    cx.note(format!(
        "{copied} of {frames} frames copied from the scenes as they were encoded"
    ));
    Ok(path)
}

/// The composed video as it is written: each frame followed by the
/// soundtrack's packets up to its end, so the file interleaves.
struct Timeline {
    writer: Mp4Writer,
    fps: f64,
    frames: usize,
    copied: usize,
}

impl Timeline {
    fn encode(&mut self, f: Frame) -> Result<()> {
        let pts = self.frames as f64 / self.fps;
        self.writer
            .write_video_frame(&RgbFrame::from_kernel(f, pts))?;
        self.next_frame()
    }

    fn copy(&mut self, piece: &mut media::Piece) -> Result<()> {
        if !self.writer.copy_frame(piece)? {
            bail!("a scene ended before the frames it listed");
        }
        self.copied += 1;
        self.next_frame()
    }

    fn next_frame(&mut self) -> Result<()> {
        self.frames += 1;
        self.writer.copy_audio_until(self.frames as f64 / self.fps)
    }

    fn finish(self) -> Result<()> {
        self.writer.finish()
    }
}

/// The frames of a scene `[from, to)` that compose can copy: from its first
/// key frame at or after `after` (the end of the incoming transition) to
/// `body_end` (the start of the outgoing one) or its last frame. `None`
/// when there are none, or when the scene was not encoded as the composed
/// video is (a lip-sync plugin's video, a render of an older version): then
/// every frame is decoded and encoded again, and the events say why.
fn copy_run(
    cx: &OpCx,
    writer: &Mp4Writer,
    scene: &Path,
    after: usize,
    body_end: usize,
) -> Result<Option<(media::Piece, usize, usize)>> {
    let piece = media::Piece::open(scene)?;
    if let Some(why) = writer.cannot_copy(&piece) {
        cx.note(format!("encoding the scene again: {why}"));
        return Ok(None);
    }
    let to = body_end.min(piece.frames());
    Ok(piece
        .key_frames()
        .iter()
        .copied()
        .find(|&k| k >= after)
        .filter(|&from| from < to)
        .map(|from| (piece, from, to)))
}

/// A scene's decoded frames, in order.
struct SceneFrames {
    reader: VideoReader,
    /// A frame read ahead while seeking, returned next.
    pending: Option<Frame>,
}

impl SceneFrames {
    fn open(cx: &OpCx, scene: &Path) -> Result<Self> {
        Ok(Self {
            reader: Self::reader(cx, scene)?,
            pending: None,
        })
    }

    /// A scene's reader, on the CPU whatever the node's video device: its
    /// frames are blended and encoded there, and a join reads a few from
    /// each scene. On the H200 host (16 cores) NVDEC with the frames made
    /// RGB and brought down decoded 1080p at 0.6× the software decoder's
    /// rate, and the join took 4.5 s through it against 2.1 s on the CPU.
    fn reader(cx: &OpCx, scene: &Path) -> Result<VideoReader> {
        cx.video_reader_on(kino_media::VideoDevice::Cpu, scene)
    }

    /// Reads past `n` frames; the last of them, if the scene had any.
    fn skip(&mut self, n: usize) -> Result<Option<Frame>> {
        let mut last = None;
        for _ in 0..n {
            match self.next()? {
                Some(f) => last = Some(f),
                None => break,
            }
        }
        Ok(last)
    }

    /// `scene`'s frames from frame `k` (of its `frames`), with the frame
    /// before `k` when it was decoded on the way: past the end, the next
    /// frame is `None` and that last frame is the one to repeat.
    fn from_frame(
        cx: &OpCx,
        scene: &Path,
        k: usize,
        frames: usize,
        fps: f64,
    ) -> Result<(Self, Option<Frame>)> {
        let mut reader = Self::reader(cx, scene)?;
        let want = k.min(frames.saturating_sub(1));
        // A quarter of a frame in, so the seek finds frame `want`'s key frame
        // however its time rounds.
        reader.seek((want as f64 + 0.25) / fps)?;
        let mut before = None;
        while let Some(f) = reader.next_frame()? {
            if (f.pts_secs * fps).round() as usize >= k {
                let pending = Some(f.into_kernel());
                return Ok((Self { reader, pending }, before));
            }
            before = Some(f.into_kernel());
        }
        Ok((
            Self {
                reader,
                pending: None,
            },
            before,
        ))
    }

    fn next(&mut self) -> Result<Option<Frame>> {
        match self.pending.take() {
            Some(f) => Ok(Some(f)),
            None => Ok(self.reader.next_frame()?.map(RgbFrame::into_kernel)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_picture_that_could_not_come_down_is_lost_with_its_gpu() {
        let download = || PictureError::Download("cuda:0: an illegal address".to_owned());
        assert!(lost_with_its_gpu(&anyhow::Error::from(download())));
        let framed = anyhow::Error::from(FrameError::Picture(download()));
        assert!(lost_with_its_gpu(&framed));
        assert!(lost_with_its_gpu(&framed.context("scene 2")));
        let size = FrameError::Size {
            expected: (4, 4),
            got: (2, 2),
        };
        assert!(!lost_with_its_gpu(&anyhow::Error::from(size)));
        let empty = scene::SceneError::Size {
            what: "image",
            width: 0,
            height: 0,
        };
        assert!(!lost_with_its_gpu(&anyhow::Error::from(
            FrameError::Picture(PictureError::Scene(empty))
        )));
        assert!(!lost_with_its_gpu(&anyhow::anyhow!("a clip that ends")));
    }
}
