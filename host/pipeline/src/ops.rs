//! The operations a stage can run: native kernels (on the host's threads)
//! and plugin calls (in the sandbox). Each reads its inputs, writes one
//! output file, and is deterministic in its inputs, params and plugin, which
//! is what makes its output cacheable.

pub mod ad;
pub mod assets;
pub mod beats;
pub mod captions;
mod clone;
mod dub;
pub mod edit;
mod keyframes;
mod lipsync;
mod native;
mod placed;
mod render;
pub mod speech;
mod transcript;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::artifacts::{ArtifactRef, Artifacts};
use super::slots::SlotPlugin;
use kino_runtime::types::PluginError;
use kino_runtime::{Runtime, Trap, World};

/// A stage's input value.
#[derive(Debug, Clone)]
pub enum Input {
    /// One file.
    File(ArtifactRef),
    /// The outputs of a fanned-out stage, in element order.
    Files(Vec<ArtifactRef>),
    /// A text value.
    Text(String),
    /// An optional input the job left out.
    Absent,
}

impl Input {
    /// The same input with its files here: fetched from the shared
    /// artifact store where this host does not have them.
    pub async fn fetched(&self, artifacts: &Artifacts) -> anyhow::Result<Input> {
        let fetch = |hash: String| async move {
            artifacts
                .fetch(&hash)
                .await?
                .ok_or_else(|| anyhow::anyhow!("{hash} is in no artifact store"))
        };
        Ok(match self {
            Input::File(a) => Input::File(fetch(a.hash.clone()).await?),
            Input::Files(all) => {
                let mut files = Vec::with_capacity(all.len());
                for a in all {
                    files.push(fetch(a.hash.clone()).await?);
                }
                Input::Files(files)
            }
            other => other.clone(),
        })
    }

    /// What identifies the value in a cache key.
    pub fn identity(&self) -> Value {
        match self {
            Input::File(a) => Value::String(a.hash.clone()),
            Input::Files(all) => all.iter().map(|a| Value::String(a.hash.clone())).collect(),
            Input::Text(t) => serde_json::json!({ "text": t }),
            Input::Absent => Value::Null,
        }
    }
}

/// Why an op failed.
#[derive(Debug, Clone)]
pub struct OpError {
    /// What went wrong, for the job's record.
    pub message: String,
    /// Whether trying again may succeed (a plugin's backend was down, a deadline).
    pub retryable: bool,
    /// For a plugin's failure: `plugin_error` (it refused or answered
    /// nonsense) or `trap` (the sandbox stopped it); `None` for the host's own.
    pub plugin_outcome: Option<&'static str>,
}

impl OpError {
    /// The plugin answered, but the answer is unusable.
    pub fn bad_answer(message: String) -> Self {
        OpError {
            message,
            retryable: false,
            plugin_outcome: Some("plugin_error"),
        }
    }
}

/// Everything an op sees.
pub struct OpCx {
    /// The node's name (`voice[3]`), for messages.
    pub stage: String,
    /// The stage's params.
    pub params: serde_json::Map<String, Value>,
    /// For a fanned-out stage: the element's index and value.
    pub item: Option<(usize, Value)>,
    /// The stage's inputs, in declared order.
    pub inputs: Arc<Vec<Input>>,
    /// The plugin of the stage's slot, for plugin ops.
    pub plugin: Option<SlotPlugin>,
    /// The kernel of a native op.
    pub native: Option<kino_native::KernelHandle>,
    /// The plugin runtime.
    pub runtime: Runtime,
    /// Where outputs are stored.
    pub artifacts: Artifacts,
    /// The model repository and the models loaded from it.
    pub models: Arc<kino_models::Models>,
    /// What the op wants the job's events to say (a fallback it took, the
    /// model it used).
    pub notes: Notes,
    /// The host's device pool, which places the node's kernel calls.
    pub devices: Arc<kino_cuda::Pool>,
    /// Where the node's placed kernel calls ran.
    pub placements: Placements,
    /// The job store: where remote jobs' tickets are kept.
    pub store: kino_store::Store,
    /// The job's tenant (whose voices a speech stage may name).
    pub tenant: kino_store::TenantId,
    /// The job (whose events a long remote job's progress goes to).
    pub job: kino_store::JobId,
    /// The node's cache key: names its work to backends (idempotency) and
    /// to the store (remote jobs).
    pub key: String,
}

/// Notes an op leaves for the job's events.
pub type Notes = Arc<Mutex<Vec<String>>>;

/// Leaves `note` in a node's `notes` (and the log) unless it is there.
fn note_once_to(notes: &Notes, stage: &str, note: &str) {
    let mut notes = notes.lock().unwrap_or_else(PoisonError::into_inner);
    if !notes.iter().any(|seen| seen == note) {
        tracing::info!(stage = %stage, "{note}");
        notes.push(note.to_owned());
    }
}

/// Where a node's placed kernel calls ran.
pub type Placements = Arc<Mutex<kino_cuda::pool::Tally>>;

impl OpCx {
    /// Input `i` as one file.
    pub fn file(&self, i: usize) -> Result<&Path> {
        match self.inputs.get(i) {
            Some(Input::File(a)) => Ok(&a.path),
            Some(Input::Absent) => bail!("input {} is required here", i + 1),
            _ => bail!("input {} must be a single file", i + 1),
        }
    }

    /// Input `i` as one file, or `None` if the job left it out.
    pub fn optional_file(&self, i: usize) -> Result<Option<&Path>> {
        match self.inputs.get(i) {
            Some(Input::Absent) | None => Ok(None),
            _ => self.file(i).map(Some),
        }
    }

    /// Input `i` as the files of a fanned-out stage.
    pub fn files(&self, i: usize) -> Result<Vec<&Path>> {
        match self.inputs.get(i) {
            Some(Input::Files(all)) => Ok(all.iter().map(|a| a.path.as_path()).collect()),
            _ => bail!("input {} must be a fanned-out stage's outputs", i + 1),
        }
    }

    /// Input `i` as text.
    pub fn text(&self, i: usize) -> Result<&str> {
        match self.inputs.get(i) {
            Some(Input::Text(t)) => Ok(t),
            _ => bail!("input {} must be text", i + 1),
        }
    }

    /// Input `i` parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self, i: usize) -> Result<T> {
        read_json(self.file(i)?)
    }

    /// The element of a fanned-out stage, parsed.
    pub fn item<T: serde::de::DeserializeOwned>(&self) -> Result<(usize, T)> {
        let (i, value) = self.item.as_ref().context("this op runs per element")?;
        let parsed = serde_json::from_value(value.clone())
            .with_context(|| format!("reading element {i}"))?;
        Ok((*i, parsed))
    }

    /// A param, or its default.
    pub fn param<T: serde::de::DeserializeOwned>(&self, name: &str, default: T) -> Result<T> {
        match self.params.get(name) {
            None => Ok(default),
            Some(v) => serde_json::from_value(v.clone())
                .with_context(|| format!("param `{name}` has the wrong type")),
        }
    }

    /// Applies a LUT to a packed RGB24 frame on the device the pool gives
    /// (the CPU when there is no GPU, or the GPU fails), counting where.
    pub fn grade(&self, lut: &kino_kernels::lut::CubeLut, frame: &mut Vec<u8>) -> Result<()> {
        let ran = kino_cuda::placed::lut_rgb8(&self.devices, lut, frame)?;
        self.placed(&ran);
        Ok(())
    }

    /// Frame `t` of `shot` over `still` at `width × height`, drawn on the
    /// device the pool gives (`scene::ken_burns`).
    pub fn camera(
        &self,
        still: &kino_kernels::scene::Image,
        shot: kino_kernels::scene::Shot,
        t: f32,
        (width, height): (usize, usize),
    ) -> Result<kino_kernels::interpolate::Frame> {
        let mut frame = kino_kernels::interpolate::Frame {
            width,
            height,
            data: vec![0; width * height * 3],
        };
        let ran = kino_cuda::placed::camera(&self.devices, still, shot, t, &mut frame)?;
        self.placed(&ran);
        Ok(frame)
    }

    /// A render node's frames of `size` with `layers` over them, on one
    /// device for the whole node (`stills`: the images camera moves will be
    /// drawn over, kept there too).
    pub fn node_frames<'a>(
        &'a self,
        size: (usize, usize),
        layers: kino_cuda::node::Layers<'a>,
        stills: &[&kino_kernels::scene::Image],
    ) -> kino_cuda::node::NodeFrames<'a> {
        kino_cuda::node::NodeFrames::new(&self.devices, size, layers, stills)
    }

    /// Frame `t` of `shot` over `still` (one of the node's stills, graded)
    /// with the node's layers, counting where it was made.
    pub fn camera_frame<'a>(
        &self,
        node: &mut kino_cuda::node::NodeFrames<'a>,
        still: &'a kino_kernels::scene::Image,
        shot: kino_kernels::scene::Shot,
        t: f32,
    ) -> Result<kino_kernels::interpolate::Frame> {
        let (frame, ran) = node.camera(still, shot, t, true)?;
        self.placed(&ran);
        Ok(frame)
    }

    /// Frame `t` of `shot` over `picture`, a picture of this frame alone (a
    /// clip's frame), graded, with the node's layers, counting where it was
    /// made.
    pub fn passing_frame(
        &self,
        node: &mut kino_cuda::node::NodeFrames<'_>,
        picture: &mut kino_cuda::Picture,
        shot: kino_kernels::scene::Shot,
        t: f32,
    ) -> Result<kino_kernels::interpolate::Frame> {
        let (frame, ran) = node.camera_over(picture, shot, t, false)?;
        self.placed(&ran);
        Ok(frame)
    }

    /// `frame` with the node's layers (graded first unless `graded`),
    /// counting where it was made.
    pub fn finish_frame(
        &self,
        node: &mut kino_cuda::node::NodeFrames<'_>,
        frame: &mut kino_kernels::interpolate::Frame,
        graded: bool,
    ) -> Result<()> {
        let ran = node.finish(frame, graded)?;
        self.placed(&ran);
        Ok(())
    }

    /// Composites rasterised text onto `frame` where `placement` puts it,
    /// on the device the pool gives.
    pub fn draw_text(
        &self,
        frame: &mut kino_kernels::interpolate::Frame,
        text: &kino_kernels::text::RenderedText,
        placement: kino_kernels::text::Placement,
    ) -> Result<()> {
        let (_, ran) = kino_cuda::placed::text(&self.devices, frame, text, placement)?;
        if let Some(ran) = ran {
            self.placed(&ran);
        }
        Ok(())
    }

    /// Composites a dynamic caption as it is at `t_ms` onto `frame`, on
    /// the device the pool gives.
    pub fn draw_caption(
        &self,
        frame: &mut kino_kernels::interpolate::Frame,
        caption: &kino_kernels::text::DynamicCaption,
        t_ms: u32,
    ) -> Result<()> {
        let (_, ran) = kino_cuda::placed::dynamic_caption(&self.devices, frame, caption, t_ms)?;
        if let Some(ran) = ran {
            self.placed(&ran);
        }
        Ok(())
    }

    /// The frames at `times` between `a` and `b`: the flow estimated and
    /// each frame warped and blended on the device the pool gives.
    pub fn interpolate(
        &self,
        (a, b): (
            &kino_kernels::interpolate::Frame,
            &kino_kernels::interpolate::Frame,
        ),
        times: &[f32],
    ) -> Result<Vec<kino_kernels::interpolate::Frame>> {
        let params = kino_kernels::interpolate::Params::default();
        let (frames, ran) = kino_cuda::placed::interpolate(&self.devices, (a, b), &params, times)?;
        if let Some(ran) = ran {
            self.placed(&ran);
        }
        Ok(frames)
    }

    /// Where the node's video is encoded and decoded: NVENC and NVDEC on
    /// the pool's GPU, libx264 and software decoding where it has none.
    pub fn video_device(&self) -> kino_media::VideoDevice {
        self.devices
            .video_gpu()
            .map_or(kino_media::VideoDevice::Cpu, kino_media::VideoDevice::Cuda)
    }

    /// A writer of a piece (joinable: `Mp4Options::joinable`) on the node's
    /// video device.
    pub fn piece_writer(
        &self,
        path: &Path,
        (width, height): (u32, u32),
        fps: f64,
    ) -> Result<kino_media::Mp4Writer> {
        let writer = kino_media::Mp4Writer::options(width, height, fps)
            .on(self.video_device())
            .joinable()
            .create(path)?;
        self.coded("encoded", writer.device(), writer.fallback());
        Ok(writer)
    }

    /// A reader of `path`'s video on the node's video device.
    pub fn video_reader(&self, path: &Path) -> Result<kino_media::VideoReader> {
        self.video_reader_on(self.video_device(), path)
    }

    /// A reader of `path`'s video on `device` (the CPU, for a node whose
    /// frames are all wanted on the CPU).
    pub fn video_reader_on(
        &self,
        device: kino_media::VideoDevice,
        path: &Path,
    ) -> Result<kino_media::VideoReader> {
        let mut reader = kino_media::VideoReader::open_on(device, path)?;
        self.coded("decoded", reader.device(), reader.fallback());
        if let Some(why) = reader.conversion_fallback() {
            self.note_once(why.to_owned());
        }
        // What goes wrong on the GPU after the first frames: the node goes
        // on on the CPU, and its events say why.
        let (notes, stage) = (self.notes.clone(), self.stage.clone());
        reader.on_fallback(move |why| note_once_to(&notes, &stage, why));
        if let Some(colour) = reader.colour_note() {
            let name = path.file_name().unwrap_or(path.as_os_str());
            self.note_once(format!("{}: {colour}", name.to_string_lossy()));
        }
        Ok(reader)
    }

    /// Notes, once per node, that its video was `what` on a GPU, or why
    /// the GPU asked for could not; nothing where the CPU was asked for.
    pub fn coded(&self, what: &str, device: kino_media::VideoDevice, fallback: Option<&str>) {
        let note = match fallback {
            Some(why) => format!("{why}; video {what} on the CPU"),
            None if device != kino_media::VideoDevice::Cpu => format!("video {what} on {device}"),
            None => return,
        };
        self.note_once(note);
    }

    /// Leaves a note for the job's events unless the node has left it.
    pub fn note_once(&self, note: String) {
        note_once_to(&self.notes, &self.stage, &note);
    }

    /// Counts where a placed kernel call ran, for the node's events.
    fn placed(&self, ran: &kino_cuda::Ran) {
        self.placements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(ran);
    }

    /// Leaves a note for the job's events.
    pub fn note(&self, note: String) {
        tracing::info!(stage = %self.stage, "{note}");
        self.notes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(note);
    }

    /// Runs this node's work on its backend plugin ([`crate::remote::drive`]
    /// with the default backoff): a pending remote job of an earlier attempt
    /// resumed, else submitted; checked until done, its progress said in the
    /// job's events as it goes and how it went in this node's notes.
    pub async fn remote<T, P, S, C, F>(&self, submit: S, check: C) -> Result<T, OpError>
    where
        P: Into<crate::remote::Progress<T>>,
        S: AsyncFnOnce() -> kino_runtime::CallResult<P>,
        C: FnMut(String) -> F,
        F: std::future::Future<Output = kino_runtime::CallResult<P>>,
    {
        let plugin = self.plugin()?;
        let watch = crate::remote::Watch {
            job: &self.job,
            stage: &self.stage,
        };
        let (value, driven) = crate::remote::drive(
            &self.store,
            &plugin.id,
            &self.key,
            crate::remote::Backoff::default(),
            Some(watch),
            submit,
            check,
        )
        .await?;
        if let Some(note) = driven.note(&plugin.id) {
            self.note(note);
        }
        Ok(value)
    }

    /// The stage's plugin.
    pub fn plugin(&self) -> Result<&SlotPlugin> {
        self.plugin.as_ref().context("this op needs a plugin")
    }
}

/// Reads a JSON artifact.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// Writes `value` as JSON into `dir/name`.
pub fn write_json(dir: &Path, name: &str, value: &impl Serialize) -> Result<PathBuf> {
    let path = dir.join(name);
    let bytes = serde_json::to_vec_pretty(value).context("encoding JSON")?;
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Checks a plugin's answer against its world's rules
/// ([`kino_runtime::answers`]): a bad answer fails the node as that plugin's
/// error, naming the plugin and the field, and goes to the fallback policy.
pub fn checked<T>(
    plugin: &SlotPlugin,
    what: &str,
    answer: T,
    check: impl FnOnce(&T) -> Result<(), kino_runtime::answers::BadAnswer>,
) -> Result<T, OpError> {
    check(&answer)
        .map_err(|e| OpError::bad_answer(format!("{what}: {} answered badly: {e}", plugin.id)))?;
    Ok(answer)
}

/// Turns a plugin call's outcome into an op result.
pub fn plugin_answer<T>(
    what: &str,
    outcome: Result<Result<T, PluginError>, Trap>,
) -> Result<T, OpError> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(OpError {
            retryable: matches!(
                error,
                PluginError::Unavailable(_) | PluginError::RateLimited(_)
            ),
            message: format!("{what}: the plugin refused: {error}"),
            plugin_outcome: Some("plugin_error"),
        }),
        Err(trap) => Err(OpError {
            retryable: trap.is_retryable(),
            message: format!("{what}: {trap}"),
            plugin_outcome: Some("trap"),
        }),
    }
}

macro_rules! ops {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $name:literal, inputs $min:literal..=$max:literal,
        world $world:expr, each $each:literal, out $out:ident, version $version:literal;
    )*) => {
        /// An operation a stage runs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Op { $( $(#[$doc])* $variant, )* }

        impl Op {
            /// Its name in pipeline specs.
            pub fn name(self) -> &'static str {
                match self { $( Op::$variant => $name, )* }
            }

            /// How many inputs it takes (least, most).
            pub fn arity(self) -> (usize, usize) {
                match self { $( Op::$variant => ($min, $max), )* }
            }

            /// The plugin world it calls, for plugin ops.
            pub fn world(self) -> Option<World> {
                match self { $( Op::$variant => $world, )* }
            }

            /// Whether it runs per element (`each`).
            pub fn needs_each(self) -> bool {
                match self { $( Op::$variant => $each, )* }
            }

            /// What its output is (checked where a later stage fans out over it).
            pub fn output(self) -> DataKind {
                match self { $( Op::$variant => DataKind::$out, )* }
            }

            /// Bumped when the op's output changes for the same inputs, so
            /// cached outputs of the old code are not reused.
            pub fn version(self) -> u32 {
                match self { $( Op::$variant => $version, )* }
            }

            const ALL: &'static [Op] = &[ $( Op::$variant, )* ];
        }
    };
}

ops! {
    /// A transcript (SRT or WebVTT) -> segments JSON.
    ParseSubtitles = "parse-subtitles", inputs 1..=1, world None, each false, out List, version 1;
    /// A video (+ a transcript) -> its sound as 16 kHz mono, or nothing when the transcript is given.
    SpeechAudio = "speech-audio", inputs 1..=2, world None, each false, out Audio, version 1;
    /// Speech audio -> windows of at most 30 s cut at silences (voice activity, Silero VAD).
    FindSpeech = "find-speech", inputs 1..=1, world None, each false, out List, version 1;
    /// A window of speech audio + its language (`auto` detects) -> its segments and words
    /// (transcriber plugin; the host's Whisper when the slot is unbound).
    Transcribe = "transcribe", inputs 2..=2, world Some(World::Transcriber), each true, out Json, version 1;
    /// A transcript (optional) + heard windows -> segments JSON: the transcript's, else what was heard.
    TranscriptSegments = "transcript-segments", inputs 2..=2, world None, each false, out List, version 1;
    /// A language (`auto`) + heard windows -> the source language, detected when `auto`.
    SpokenLanguage = "spoken-language", inputs 2..=2, world None, each false, out Json, version 1;
    /// The original audio -> its background without the voice (stereo), or as it is (mono).
    SeparateBackground = "separate-background", inputs 1..=1, world None, each false, out Audio, version 1;
    /// Segments or caption cues -> an SRT, WebVTT or ASS file (`params.format`); word times kept.
    WriteSubtitles = "write-subtitles", inputs 1..=1, world None, each false, out File, version 2;
    /// A video -> its audio as WAV; fails when it has none.
    ExtractAudio = "extract-audio", inputs 1..=1, world None, each false, out Audio, version 1;
    /// Segments + target (+ source) language -> translated segments, batched (translator plugin).
    Translate = "translate", inputs 2..=3, world Some(World::Translator), each false, out List, version 1;
    /// Segments + the original audio + the voice -> with `voice=clone`, each speaker's voice
    /// cloned from their speech (speech plugin); otherwise, or unbound, no clones.
    CloneVoices = "clone-voices", inputs 3..=3, world Some(World::Speech), each false, out Json, version 1;
    /// A translated segment + language (+ a voice, + the cloned voices) -> its speech, fitted to
    /// the segment's window (speech plugin; the host's Piper or espeak-ng voice when unbound).
    SpeakLine = "speak-line", inputs 1..=3, world Some(World::Speech), each true, out Audio, version 2;
    /// Original audio + spoken lines + their segments -> the voice-over mix.
    VoiceOver = "voice-over", inputs 3..=3, world None, each false, out Audio, version 1;
    /// A video + audio -> the video with that audio, video packets copied.
    MuxAudio = "mux-audio", inputs 2..=2, world None, each false, out Video, version 1;
    /// A video + the audio its speakers should mouth -> the video lip-synced, under that audio
    /// (lipsync plugin; unbound, the video as it is, said in the job's events).
    Lipsync = "lipsync", inputs 2..=2, world Some(World::Lipsync), each false, out Video, version 1;
    /// Segments -> caption cues within line-length and reading-speed limits.
    CaptionCues = "caption-cues", inputs 1..=1, world None, each false, out List, version 1;
    /// Segments (+ heard windows) -> caption cues with a time for every word (heard, else by word length).
    CaptionWords = "caption-words", inputs 1..=2, world None, each false, out List, version 1;
    /// Word cues + the animation -> each cue's look: emphasis, colours, animation (caption-style plugin).
    StyleCaptions = "style-captions", inputs 2..=2, world Some(World::CaptionStyle), each false, out List, version 1;
    /// A video -> fixed-length chunks of it, so long media is processed in parallel.
    ChunkVideo = "chunk-video", inputs 1..=1, world None, each false, out List, version 1;
    /// A chunk of a video + caption cues (+ style) -> that chunk with the captions burned in.
    BurnCaptions = "burn-captions", inputs 2..=3, world None, each true, out Video, version 3;
    /// Video pieces + the original -> the pieces joined (copied) under the original's sound.
    JoinVideo = "join-video", inputs 2..=2, world None, each false, out Video, version 1;
    /// A brief (+ music, + the asset catalog) -> scored script variations, best first (script-strategy plugin).
    WriteScript = "write-script", inputs 1..=3, world Some(World::ScriptStrategy), each false, out Record, version 2;
    /// Script + scene edits (+ the music's beats) -> the scenes as played (reordered, trimmed, edited, cut on the beat).
    EditScenes = "edit-scenes", inputs 2..=3, world None, each false, out Record, version 2;
    /// Script (+ a music track) -> where the music's beats and bars fall: tracked in the track, else the generated bed's grid.
    TrackBeats = "track-beats", inputs 1..=2, world None, each false, out Record, version 1;
    /// A shot (scene + brief) (+ the asset catalog) -> its direction and what it shows (director-style plugin).
    DirectScene = "direct-scene", inputs 0..=1, world Some(World::DirectorStyle), each true, out Record, version 3;
    /// The asset folder (+ the product image and logo) -> the catalog of assets plugins see.
    ReadAssets = "read-assets", inputs 0..=3, world None, each false, out Record, version 1;
    /// Scene plan + directions -> the plan as delivered, each shot with its direction.
    PlayedPlan = "played-plan", inputs 2..=2, world None, each false, out Record, version 1;
    /// A directed scene + the product image -> its grading LUT (grader plugin).
    GradeScene = "grade-scene", inputs 1..=1, world Some(World::Grader), each true, out File, version 1;
    /// A directed shot + its LUT, the product, logo, size (+ the asset folder and catalog) -> the scene's video
    /// (its footage from the clip-generator plugin when one is bound; else the host's camera moves on the assets).
    RenderScene = "render-scene", inputs 4..=6, world Some(World::ClipGenerator), each true, out Video, version 4;
    /// A rendered scene + the music bed + the plan -> a music video's scene lip-synced to the
    /// bed's span under it (lipsync plugin); an ad's scene, or any when unbound, as it is.
    LipsyncScene = "lipsync-scene", inputs 3..=3, world Some(World::Lipsync), each true, out Video, version 1;
    /// A scene's line -> its narration, exactly the scene's length.
    Narrate = "narrate", inputs 0..=1, world None, each true, out Audio, version 1;
    /// The scene plan (+ a music track) -> the music bed, as long as the piece.
    MusicBed = "music-bed", inputs 1..=2, world None, each false, out Audio, version 1;
    /// Music bed + narration lines + scene plan -> the mixed, loudness-normalised soundtrack.
    MixNarration = "mix-narration", inputs 3..=3, world None, each false, out Audio, version 1;
    /// A soundtrack -> the same as AAC, for compose to copy (encoded beside the scenes'
    /// renders; an edit that mixes the same soundtrack again finds it in the cache).
    EncodeAac = "encode-aac", inputs 1..=1, world None, each false, out Audio, version 1;
    /// Scene videos + directions + soundtrack (AAC) + scene plan -> the finished piece.
    Compose = "compose", inputs 4..=4, world None, each false, out Video, version 3;
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Op {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        Op::ALL
            .iter()
            .copied()
            .find(|op| op.name() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Op::ALL.iter().map(|op| op.name()).collect();
                anyhow!("unknown op `{s}`; the ops are {}", known.join(", "))
            })
    }
}

/// What a stage's output is, as far as a pipeline spec can know: enough to
/// refuse a fan-out over something that is not a list, or a native kernel
/// fed the wrong kind of data, when the spec is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// A JSON array: a stage can fan out over it.
    List,
    /// A JSON object: a stage can fan out over one of its array fields.
    Record,
    /// JSON of a shape the spec cannot know (a list or an object).
    Json,
    /// A video file (with or without sound).
    Video,
    /// An audio file.
    Audio,
    /// Another file (subtitles, a LUT).
    File,
    /// Anything: a job's file input.
    Any,
}

impl DataKind {
    /// Whether it is JSON (so a stage can fan out over it, or read it as JSON).
    pub fn is_json(self) -> bool {
        matches!(self, DataKind::List | DataKind::Record | DataKind::Json)
    }

    /// Whether a value of this kind can be fanned out over as a whole
    /// (`each = "stage"`): a list, or JSON that may be one.
    pub fn is_list(self) -> bool {
        matches!(self, DataKind::List | DataKind::Json | DataKind::Any)
    }

    /// Whether a value of this kind can have a list under a field
    /// (`each = "stage.field"`).
    pub fn is_record(self) -> bool {
        matches!(self, DataKind::Record | DataKind::Json | DataKind::Any)
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DataKind::List => "a JSON list",
            DataKind::Record => "a JSON object",
            DataKind::Json => "JSON",
            DataKind::Video => "a video",
            DataKind::Audio => "audio",
            DataKind::File => "a file",
            DataKind::Any => "a file",
        })
    }
}

/// The prefix of a native kernel's op name in pipeline specs.
pub const NATIVE_PREFIX: &str = "native:";

/// What a stage runs: one of the host's ops, or a native kernel an operator
/// installed (`op = "native:unsharp-mask"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StageOp {
    /// A built-in op.
    Builtin(Op),
    /// An operator's native kernel, by name.
    Native(String),
}

impl StageOp {
    /// Whether its slot may be left unbound: the op then makes its output
    /// the host's way (its degraded form), said in the job's events.
    pub fn plugin_optional(&self) -> bool {
        matches!(
            self,
            StageOp::Builtin(
                Op::StyleCaptions
                    | Op::Transcribe
                    | Op::CloneVoices
                    | Op::SpeakLine
                    | Op::Lipsync
                    | Op::LipsyncScene
                    | Op::RenderScene
            )
        )
    }

    /// Whether the executor leaves an unbound slot unremarked: the host's
    /// form is the default (the host's Whisper is how speech is heard, its
    /// Piper voices how lines are spoken, and its camera moves on the
    /// assets how scenes are filmed, unless a tenant binds a backend), or
    /// the op says itself what it skipped (an unbound lipsync passes the
    /// video through). An unbound caption-style slot is said in
    /// the job's events by the executor.
    pub fn host_form_is_default(&self) -> bool {
        matches!(
            self,
            StageOp::Builtin(
                Op::Transcribe
                    | Op::CloneVoices
                    | Op::SpeakLine
                    | Op::Lipsync
                    | Op::LipsyncScene
                    | Op::RenderScene
            )
        )
    }

    /// The plugin world it calls, for plugin ops.
    pub fn world(&self) -> Option<World> {
        match self {
            StageOp::Builtin(op) => op.world(),
            StageOp::Native(_) => None,
        }
    }

    /// How many inputs it takes (least, most): a native kernel reads one.
    pub fn arity(&self) -> (usize, usize) {
        match self {
            StageOp::Builtin(op) => op.arity(),
            StageOp::Native(_) => (1, 1),
        }
    }

    /// Whether it runs per element (`each`).
    pub fn needs_each(&self) -> bool {
        match self {
            StageOp::Builtin(op) => op.needs_each(),
            StageOp::Native(_) => false,
        }
    }

    /// The built-in op, if it is one.
    pub fn builtin(&self) -> Option<Op> {
        match self {
            StageOp::Builtin(op) => Some(*op),
            StageOp::Native(_) => None,
        }
    }
}

impl fmt::Display for StageOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageOp::Builtin(op) => f.write_str(op.name()),
            StageOp::Native(name) => write!(f, "{NATIVE_PREFIX}{name}"),
        }
    }
}

impl FromStr for StageOp {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.strip_prefix(NATIVE_PREFIX) {
            Some("") => bail!("`{s}` names no kernel: write `{NATIVE_PREFIX}KERNEL`"),
            Some(name) => Ok(StageOp::Native(name.to_owned())),
            None => s.parse().map(StageOp::Builtin).map_err(|e: anyhow::Error| {
                anyhow!("{e}; or `{NATIVE_PREFIX}KERNEL` for an installed native kernel")
            }),
        }
    }
}

impl<'de> Deserialize<'de> for StageOp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for StageOp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

type Kernel = fn(&OpCx, &Path) -> Result<PathBuf>;

/// Runs `op`, storing its output as an artifact.
pub async fn run(op: &StageOp, cx: OpCx) -> Result<ArtifactRef, OpError> {
    let scratch = cx.artifacts.scratch()?;
    let dir = scratch.path().to_path_buf();
    let op = match op {
        StageOp::Builtin(op) => *op,
        StageOp::Native(_) => {
            return blocking(move || {
                let out = native::run(&cx, &dir)?;
                let stored = store(&cx, out);
                drop(scratch);
                stored
            })
            .await;
        }
    };
    let kernel: Kernel = match op {
        Op::Translate => return store(&cx, dub::translate(&cx, &dir).await?),
        Op::WriteScript => return store(&cx, ad::write_script(&cx, &dir).await?),
        Op::DirectScene => return store(&cx, ad::direct_scene(&cx, &dir).await?),
        Op::GradeScene => return store(&cx, ad::grade_scene(&cx, &dir).await?),
        Op::StyleCaptions => return store(&cx, captions::style_captions(&cx, &dir).await?),
        Op::ParseSubtitles => transcript::parse_subtitles,
        Op::SpeechAudio => speech::speech_audio,
        Op::FindSpeech => speech::find_speech,
        Op::Transcribe if cx.plugin.is_some() => {
            return store(&cx, speech::transcribe_remote(&cx, &dir).await?);
        }
        Op::Transcribe => speech::transcribe,
        Op::TranscriptSegments => speech::transcript_segments,
        Op::SpokenLanguage => speech::spoken_language,
        Op::SeparateBackground => speech::separate_background,
        Op::EditScenes => edit::edit_scenes,
        Op::ReadAssets => assets::read_assets,
        Op::TrackBeats => beats::track_beats,
        Op::PlayedPlan => edit::played_plan,
        Op::WriteSubtitles => transcript::write_subtitles,
        Op::CaptionCues => transcript::caption_cues,
        Op::CaptionWords => captions::caption_words,
        Op::ExtractAudio => dub::extract_audio,
        Op::CloneVoices if cx.plugin.is_some() => {
            return store(&cx, clone::clone_voices_remote(&cx, &dir).await?);
        }
        Op::CloneVoices => clone::no_clones,
        Op::SpeakLine if cx.plugin.is_some() => {
            return store(&cx, dub::speak_line_remote(&cx, &dir).await?);
        }
        Op::SpeakLine => dub::speak_line,
        Op::VoiceOver => dub::voice_over,
        Op::MuxAudio => dub::mux_audio,
        Op::Lipsync if cx.plugin.is_some() => {
            return store(&cx, lipsync::lipsync_remote(&cx, &dir).await?);
        }
        Op::Lipsync => lipsync::unsynced,
        Op::LipsyncScene if cx.plugin.is_some() => {
            return store(&cx, lipsync::lipsync_scene_remote(&cx, &dir).await?);
        }
        Op::LipsyncScene => lipsync::scene_as_is,
        Op::ChunkVideo => render::chunk_video,
        Op::BurnCaptions => render::burn_captions,
        Op::JoinVideo => render::join_video,
        Op::RenderScene if cx.plugin.is_some() => {
            let clip = render::generate_clip(&cx, &dir).await?;
            return blocking(move || {
                let out = render::render_scene_from(&cx, &dir, Some(&clip))
                    .with_context(|| format!("stage `{}`", cx.stage))?;
                let stored = cx.artifacts.put_file(&out)?;
                drop(scratch);
                Ok(stored)
            })
            .await;
        }
        Op::RenderScene => render::render_scene,
        Op::Narrate => ad::narrate,
        Op::MusicBed => ad::music_bed,
        Op::MixNarration => ad::mix_narration,
        Op::EncodeAac => ad::encode_aac,
        Op::Compose => render::compose,
    };
    blocking(move || {
        let out = kernel(&cx, &dir).with_context(|| format!("stage `{}`", cx.stage))?;
        let stored = cx.artifacts.put_file(&out)?;
        drop(scratch);
        Ok(stored)
    })
    .await
}

/// Runs a kernel off the async workers (kernels are CPU-bound).
async fn blocking(
    f: impl FnOnce() -> Result<ArtifactRef, OpError> + Send + 'static,
) -> Result<ArtifactRef, OpError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| OpError {
        message: format!("the stage panicked: {e}"),
        retryable: false,
        plugin_outcome: None,
    })?
}

fn store(cx: &OpCx, out: PathBuf) -> Result<ArtifactRef, OpError> {
    Ok(cx.artifacts.put_file(&out)?)
}

/// The degraded output of `op` when a fallback policy gives up on its
/// plugin (or native kernel), or `None` if the op has no degraded form.
pub async fn degrade(op: &StageOp, cx: OpCx) -> Option<Result<ArtifactRef, OpError>> {
    let scratch = match cx.artifacts.scratch() {
        Ok(s) => s,
        Err(e) => return Some(Err(e.into())),
    };
    let op = match op {
        StageOp::Builtin(op) => *op,
        StageOp::Native(_) => {
            return Some(
                native::passed_through(&cx)
                    .map_err(OpError::from)
                    .and_then(|p| store(&cx, p)),
            );
        }
    };
    let kernel: Kernel = match op {
        Op::Translate => dub::untranslated,
        Op::DirectScene => ad::undirected,
        Op::GradeScene => ad::ungraded,
        Op::StyleCaptions => captions::unstyled,
        // The host's own forms: what an unbound backend slot does.
        Op::CloneVoices => clone::no_clones,
        Op::SpeakLine => dub::speak_line,
        Op::Lipsync => lipsync::unsynced,
        Op::LipsyncScene => lipsync::scene_as_is,
        Op::RenderScene => render::render_scene,
        Op::Transcribe => speech::transcribe,
        _ => return None,
    };
    Some(
        blocking(move || {
            let out = kernel(&cx, scratch.path())?;
            let stored = store(&cx, out);
            drop(scratch);
            stored
        })
        .await,
    )
}
