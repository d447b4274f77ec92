//! The pipelines end to end on generated media: dub, caption and ad creative
//! (and music-video mode), the artifact cache, fallback policies, bad inputs,
//! and a job resumed after its host was killed.

use std::path::{Path, PathBuf};

use kino_kernels::{mix, subtitle};
use kino_media as media;
use kino_pipeline::local::LocalHost;
use kino_pipeline::{Executor, JobReport};
use kino_store::{JobEvent, JobState, NewBinding, StageState};
use kino_tests::{bundled_plugins, ffmpeg, test_video, video_md5, workspace_root, write_brief};

const FRAME_24: f64 = 1.0 / 24.0;

const TRANSCRIPT: &str = "1
00:00:00,500 --> 00:00:02,800
Good morning, my friend.

2
00:00:03,200 --> 00:00:05,600
Thank you very much.

3
00:00:06,400 --> 00:00:09,000
See you tomorrow at the house.
";

struct Fixture {
    dir: tempfile::TempDir,
    host: LocalHost,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = LocalHost::open(&dir.path().join("data"), &bundled_plugins(), None)
            .await
            .expect("opening a local host");
        Fixture { dir, host }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn executor(&self) -> &Executor {
        &self.host.executor
    }

    async fn run(
        &self,
        pipeline: &str,
        files: &[(&str, &Path)],
        texts: &[(&str, &str)],
    ) -> anyhow::Result<JobReport> {
        let job = self.submit(pipeline, files, texts).await?;
        self.executor().run(&job).await
    }

    async fn submit(
        &self,
        pipeline: &str,
        files: &[(&str, &Path)],
        texts: &[(&str, &str)],
    ) -> anyhow::Result<kino_store::Job> {
        let (files, texts) = kino_tests::job_inputs(files, texts);
        let pipeline = self.executor().catalog().get(&self.host.tenant, pipeline)?;
        self.executor()
            .submit_local(&self.host.tenant, &pipeline, &files, &texts)
            .await
    }

    /// The job as the store has it now.
    async fn job(&self, id: &kino_store::JobId) -> kino_store::Job {
        self.executor()
            .store()
            .get_job(&self.host.tenant, id)
            .await
            .expect("reading the job")
            .expect("the job exists")
    }

    /// The notes the job's stages left in its events, as `stage: note`.
    async fn notes(&self, job: &kino_store::JobId) -> Vec<String> {
        kino_tests::stage_notes(self.executor().store(), &self.host.tenant, job).await
    }

    /// The output artifact of a completed stage node.
    async fn node_output(&self, job: &kino_store::JobId, node: &str) -> PathBuf {
        let stages = self
            .executor()
            .store()
            .list_stages(&self.host.tenant, job)
            .await
            .expect("stages");
        let key = stages
            .iter()
            .find(|s| s.name == node && s.state == StageState::Completed)
            .and_then(|s| s.output_artifact.clone())
            .unwrap_or_else(|| panic!("no completed stage {node}"));
        let artifact = self
            .executor()
            .store()
            .artifact_by_key(&key)
            .await
            .expect("artifact")
            .expect("recorded");
        PathBuf::from(artifact.path)
    }
}

fn duration(path: &Path) -> f64 {
    media::probe(path).expect("probe").duration_secs
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn dub_end_to_end() {
    let fx = Fixture::new().await;
    let video = fx.path("clip.mp4");
    test_video(&video, 10, "320x240", true);
    let srt = fx.path("clip.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("write srt");

    let report = fx
        .run(
            "dub",
            &[("video", &video), ("transcript", &srt)],
            &[("language", "es")],
        )
        .await
        .expect("the dub completes");
    let dubbed = &report.outputs["dubbed.mp4"];
    let info = media::probe(dubbed).expect("probe");
    assert!(info.video().is_some() && info.audio().is_some());
    assert!((info.duration_secs - duration(&video)).abs() <= FRAME_24 + 0.03);
    // The video is muxed, not re-encoded.
    assert_eq!(video_md5(dubbed), video_md5(&video));
    let pcm = media::decode_audio(dubbed, 48_000, 2).expect("decode");
    let lufs = mix::integrated_loudness(&pcm).expect("loudness");
    assert!((lufs + 16.0).abs() <= 1.0, "loudness {lufs} LUFS");

    // Subtitles: translated, same timing.
    let source = subtitle::parse(TRANSCRIPT).expect("source");
    let text = std::fs::read_to_string(&report.outputs["subtitles.srt"]).expect("srt");
    let translated = subtitle::parse(&text).expect("translated srt parses");
    assert_eq!(translated.len(), source.len());
    for (t, s) in translated.iter().zip(&source) {
        assert_eq!((t.start_ms, t.end_ms), (s.start_ms, s.end_ms));
    }
    assert!(
        translated[0].text.to_lowercase().contains("buenos"),
        "{:?}",
        translated[0].text
    );
    // Dynamic captions of the dubbed speech: every word timed inside its
    // line's window, the same times in the WebVTT and the ASS.
    let vtt = subtitle::parse_vtt_words(
        &std::fs::read_to_string(&report.outputs["captions.vtt"]).expect("vtt"),
    )
    .expect("word vtt");
    let ass = kino_kernels::ass::parse_ass(
        &std::fs::read_to_string(&report.outputs["captions.ass"]).expect("ass"),
    )
    .expect("ass");
    assert_eq!(vtt.len(), ass.cues.len());
    for (v, a) in vtt.iter().zip(&ass.cues) {
        assert!(
            source
                .iter()
                .any(|s| s.start_ms <= v.start_ms && v.end_ms <= s.end_ms)
        );
        let (vw, aw) = (v.word_times(), a.word_times());
        assert_eq!(vw.len(), aw.len());
        for (x, y) in vw.iter().zip(&aw) {
            assert!(x.start_ms.abs_diff(y.start_ms) <= 10, "{x:?} vs {y:?}");
        }
    }

    // Each spoken line fits its segment's window.
    for (i, s) in source.iter().enumerate() {
        let line = fx.node_output(&report.job, &format!("lines[{i}]")).await;
        let pcm = kino_kernels::wav::read_wav(&line).expect("line wav");
        let window = f64::from(s.end_ms - s.start_ms) / 1000.0;
        assert!(
            pcm.duration_secs() <= window + 0.002,
            "line {i}: {} s in a {window} s window",
            pcm.duration_secs()
        );
        let peak = pcm.samples.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.05, "line {i} is silent");
    }
    // No neural voice is installed for Spanish here: each line says it fell
    // back to espeak-ng; with a transcript, nothing was heard or detected.
    let notes = fx.notes(&report.job).await;
    for i in 0..source.len() {
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with(&format!("lines[{i}]: "))
                    && n.contains("spoken with espeak-ng")),
            "{notes:?}"
        );
    }
    assert!(!notes.iter().any(|n| n.starts_with("heard")), "{notes:?}");

    // The same job again is served entirely from the artifact cache.
    let again = fx
        .run(
            "dub",
            &[("video", &video), ("transcript", &srt)],
            &[("language", "es")],
        )
        .await
        .expect("the second dub completes");
    assert!(again.nodes.iter().all(|n| n.cached), "{:?}", again.nodes);
    assert_eq!(
        std::fs::read(&again.outputs["dubbed.mp4"]).expect("read"),
        std::fs::read(dubbed).expect("read")
    );
}

/// Mean absolute difference of the bottom fifth of two frames.
fn bottom_diff(a: &media::RgbFrame, b: &media::RgbFrame) -> f64 {
    let row = a.width as usize * 3;
    let from = (a.height as usize * 4 / 5) * row;
    let (x, y) = (&a.data[from..], &b.data[from..]);
    x.iter()
        .zip(y)
        .map(|(p, q)| f64::from(p.abs_diff(*q)))
        .sum::<f64>()
        / x.len() as f64
}

fn frame_at(path: &Path, secs: f64) -> media::RgbFrame {
    let mut reader = media::VideoReader::open(path).expect("open");
    while let Some(f) = reader.next_frame().expect("decode") {
        if f.pts_secs + 1e-6 >= secs {
            return f;
        }
    }
    panic!("no frame at {secs} s in {}", path.display());
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
async fn caption_end_to_end() {
    let fx = Fixture::new().await;
    // 25 s: two 20 s chunks, burned in parallel and joined.
    let video = fx.path("clip.mp4");
    test_video(&video, 25, "320x180", true);
    let transcript =
        format!("{TRANSCRIPT}\n4\n00:00:19,500 --> 00:00:22,000\nA line across the chunks.\n");
    let srt = fx.path("clip.srt");
    std::fs::write(&srt, &transcript).expect("write srt");
    let report = fx
        .run("caption", &[("video", &video), ("transcript", &srt)], &[])
        .await
        .expect("captioning completes");
    assert_eq!(
        report
            .nodes
            .iter()
            .filter(|n| n.node.starts_with("burned["))
            .count(),
        2
    );
    let captioned = &report.outputs["captioned.mp4"];
    let info = media::probe(captioned).expect("probe");
    assert!(info.video().is_some() && info.audio().is_some());
    assert!((info.duration_secs - duration(&video)).abs() <= FRAME_24 + 0.03);
    let count = |path: &Path| {
        let mut reader = media::VideoReader::open(path).expect("open");
        std::iter::from_fn(|| reader.next_frame().expect("decode")).count()
    };
    assert_eq!(count(captioned), count(&video), "every frame, once");

    // Every cue is timed inside a transcript segment.
    let segments = subtitle::parse(&transcript).expect("parse");
    for file in ["captions.srt", "captions.vtt"] {
        let cues = subtitle::parse(&std::fs::read_to_string(&report.outputs[file]).expect("read"))
            .expect("captions parse");
        assert!(cues.len() >= segments.len());
        for cue in &cues {
            assert!(
                segments
                    .iter()
                    .any(|s| s.start_ms <= cue.start_ms && cue.end_ms <= s.end_ms),
                "{file}: cue {cue:?} is outside every segment"
            );
            for line in cue.text.lines() {
                assert!(
                    line.chars().count() <= 42,
                    "{file}: line too long: {line:?}"
                );
            }
        }
    }

    // Burned in during a cue (on both sides of the chunk boundary), absent
    // between cues.
    for at in [1.5, 19.8, 20.2] {
        let during = bottom_diff(&frame_at(captioned, at), &frame_at(&video, at));
        assert!(
            during > 8.0,
            "no caption burned in at {at} s (diff {during})"
        );
    }
    let between = bottom_diff(&frame_at(captioned, 3.0), &frame_at(&video, 3.0));
    assert!(
        between < 4.0,
        "something burned in between cues (diff {between})"
    );
}

/// Pixels of `rect` in `frame` that are the highlight's warm yellow (after
/// H.264's 4:2:0, so loosely).
fn yellow_pixels(frame: &media::RgbFrame, rect: kino_kernels::text::PixelRect) -> usize {
    let width = frame.width as i32;
    let mut count = 0;
    for y in rect.y.max(0)..(rect.y + rect.height as i32).min(frame.height as i32) {
        for x in rect.x.max(0)..(rect.x + rect.width as i32).min(width) {
            let i = (y * width + x) as usize * 3;
            let [r, g, b] = [frame.data[i], frame.data[i + 1], frame.data[i + 2]];
            if r > 170 && g > 140 && b < 100 {
                count += 1;
            }
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
async fn dynamic_captions_highlight_each_word_at_its_time() {
    use kino_kernels::text::{CaptionKind, DynamicCaption, DynamicLook, DynamicStyle, Font};
    let fx = Fixture::new().await;
    let video = fx.path("grey.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=0x303030:s=1280x720:r=24:d=5",
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=48000:cl=stereo",
        "-t",
        "5",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        video.to_str().expect("utf-8"),
    ]);
    let srt = fx.path("words.srt");
    std::fs::write(
        &srt,
        "1\n00:00:00,500 --> 00:00:04,500\nBright mornings start cold\n",
    )
    .expect("write srt");
    let report = fx
        .run("caption", &[("video", &video), ("transcript", &srt)], &[])
        .await
        .expect("captioning completes");
    let read = |name: &str| std::fs::read_to_string(&report.outputs[name]).expect(name);

    // The WebVTT carries each word's time; ASS the same times as karaoke.
    let vtt = subtitle::parse_vtt_words(&read("captions.vtt")).expect("vtt words");
    assert_eq!(vtt.len(), 1);
    let cue = &vtt[0];
    let words = cue.word_times();
    assert_eq!(words.len(), 4);
    assert_eq!((words[0].start_ms, words[3].end_ms), (500, 4500));
    let ass = kino_kernels::ass::parse_ass(&read("captions.ass")).expect("ass");
    assert_eq!(ass.cues.len(), 1);
    for (a, v) in ass.cues[0].word_times().iter().zip(&words) {
        assert!(a.start_ms.abs_diff(v.start_ms) <= 10, "{a:?} vs {v:?}");
    }
    // A plain reader still reads the WebVTT.
    assert_eq!(
        subtitle::parse(&read("captions.vtt")).expect("plain")[0].text,
        "Bright mornings start cold"
    );

    // The caption-style plugin emphasised some words (the WebVTT says
    // which), never all.
    let emphasised = (0..words.len()).filter(|&k| cue.is_emphasized(k)).count();
    assert!(
        emphasised < words.len(),
        "{emphasised} of {} emphasised",
        words.len()
    );
    // On the frames: word k is the yellow one from its start (within a
    // frame) to the next word's start; where each word sits is the
    // kernel's own layout of that cue.
    let font = Font::system_bold().expect("font");
    let look = DynamicLook::new(DynamicStyle::Highlight, CaptionKind::Boxed);
    let laid = DynamicCaption::new(&font, cue, &look, 1280, 720).expect("layout");
    let boxes = laid.word_boxes();
    let captioned = &report.outputs["captioned.mp4"];
    for (k, word) in words.iter().enumerate() {
        let after = frame_at(captioned, f64::from(word.start_ms) / 1000.0 + FRAME_24);
        for (j, b) in boxes.iter().enumerate() {
            let yellow = yellow_pixels(&after, b.rect);
            if b.word != k && cue.is_emphasized(b.word) {
                continue; // tinted at rest: the caption-style plugin's emphasis
            }
            if b.word == k {
                assert!(
                    yellow > 20,
                    "word {k} not highlighted just after {} ms ({yellow})",
                    word.start_ms
                );
            } else {
                assert!(
                    yellow < 5,
                    "word {j} highlighted while word {k} is said ({yellow})"
                );
            }
        }
        if k > 0 && !cue.is_emphasized(k) {
            let before = frame_at(
                captioned,
                f64::from(word.start_ms) / 1000.0 - 2.0 * FRAME_24,
            );
            let mine: usize = boxes
                .iter()
                .filter(|b| b.word == k)
                .map(|b| yellow_pixels(&before, b.rect))
                .sum();
            assert!(
                mine < 5,
                "word {k} highlighted before {} ms ({mine})",
                word.start_ms
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn an_ads_cuts_land_on_the_beats_of_its_music() {
    let fx = Fixture::new().await;
    let brief = fx.path("brief.toml");
    write_brief(&brief, 12, "ad-creative");
    // A click track at 100 bpm: a click every 600 ms from 0.
    let music = fx.path("clicks.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "aevalsrc='if(lt(mod(t,0.6),0.012),0.8*sin(2*PI*1500*t),0)':s=44100:d=20",
        music.to_str().expect("utf-8"),
    ]);
    let product = workspace_root().join("examples/assets/product.png");
    let report = fx
        .run(
            "ad-creative",
            &[("brief", &brief), ("product", &product), ("music", &music)],
            &[("size", "320x180")],
        )
        .await
        .expect("the ad completes");
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report.outputs["plan.json"]).expect("plan"))
            .expect("json");
    let sync = &plan["beat_sync"];
    assert_eq!(sync["source"], "tracked", "{sync}");
    let tempo = sync["tempo_bpm"].as_f64().expect("tempo");
    assert!((tempo - 100.0).abs() < 2.0, "tempo {tempo}");
    let cuts = sync["cuts"].as_array().expect("cuts");
    assert!(cuts.len() >= 2, "{sync}");
    for cut in cuts {
        let at = cut[1].as_u64().expect("cut") as f64;
        let off = (at / 600.0).round() * 600.0 - at;
        assert!(
            off.abs() <= 1000.0 * FRAME_24,
            "cut at {at} ms is {off} ms off the clicks"
        );
    }
    // The scenes as played start on those cuts.
    let shots = plan["shots"].as_array().expect("shots");
    for (shot, cut) in shots.iter().skip(1).zip(cuts) {
        assert_eq!(shot["scene"]["start_ms"], cut[1]);
    }
}

/// An asset folder: three product shots of distinct colours (alpha around
/// them), a lifestyle still, two clips, a brand font and its manifest.
fn asset_folder(dir: &Path) -> PathBuf {
    let folder = dir.join("brand-assets");
    std::fs::create_dir_all(&folder).expect("folder");
    let out = |name: &str| folder.join(name).to_str().expect("utf-8").to_owned();
    for (name, colour) in [
        ("bottle-front", "red"),
        ("bottle-side", "lime"),
        ("bottle-top", "blue"),
    ] {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &format!("color=c={colour}:s=200x320,format=rgba"),
            "-frames:v",
            "1",
            "-vf",
            "geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='255*lt(abs(X-100),70)'",
            &out(&format!("{name}.png")),
        ]);
    }
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=yellow:s=640x360",
        "-frames:v",
        "1",
        &out("kitchen.png"),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=24:d=4",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        &out("pouring.mp4"),
    ]);
    // Shot on a phone: HDR (HLG, 10-bit HEVC), as phones record.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=magenta:s=640x360:r=24:d=6",
        "-vf",
        "format=yuv420p10le",
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
        "-color_primaries",
        "bt2020",
        "-color_trc",
        "arib-std-b67",
        "-colorspace",
        "bt2020nc",
        &out("commute.mp4"),
    ]);
    std::fs::copy(
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
        folder.join("brand-serif.ttf"),
    )
    .expect("font");
    std::fs::write(
        folder.join("kino-assets.toml"),
        r##"palette = ["#10233f", "#f2a541"]
font = "brand-serif"

[[asset]]
file = "bottle-front.png"
tags = ["product", "front"]
description = "the bottle from the front"

[[asset]]
file = "pouring.mp4"
tags = ["in-use", "pour"]
description = "concentrate poured over ice, in use"

[[asset]]
file = "commute.mp4"
tags = ["lifestyle", "commute", "people"]
description = "busy young professionals on the morning commute"

[[asset]]
file = "kitchen.png"
tags = ["lifestyle", "kitchen"]
description = "a sunny kitchen counter"
"##,
    )
    .expect("manifest");
    folder
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn an_ad_from_an_asset_folder_shows_its_assets_as_directed() {
    use kino_kernels::interpolate::Frame;
    use kino_kernels::text::{self, Font, Outline, Placement, TextStyle};
    let fx = Fixture::new().await;
    let brief = fx.path("brief.toml");
    write_brief(&brief, 20, "ad-creative");
    let folder = asset_folder(fx.dir.path());
    let archive = fx.path("assets.tar");
    kino_pipeline::assets::pack_folder(&folder, &archive).expect("pack");
    let product = workspace_root().join("examples/assets/product.png");
    let report = fx
        .run(
            "ad-creative",
            &[
                ("brief", &brief),
                ("product", &product),
                ("assets", &archive),
            ],
            &[("size", "640x360")],
        )
        .await
        .expect("the ad completes");
    let plan = fx
        .executor()
        .scenes(&fx.job(&report.job).await)
        .expect("scenes");
    let mut shown = std::collections::BTreeSet::new();
    let mut previous: Option<String> = None;
    for shot in &plan.shots {
        let direction = shot.direction.as_ref().expect("direction");
        let pick = direction.picks.first().expect("every scene shows an asset");
        assert_eq!(
            pick.picked_by.as_deref(),
            Some("kino-director-styles@0.1.0")
        );
        assert_ne!(
            previous.as_deref(),
            Some(pick.name.as_str()),
            "two scenes in a row show {}",
            pick.name
        );
        previous = Some(pick.name.clone());
        shown.insert(pick.name.clone());
    }
    assert!(shown.len() >= 3, "{shown:?}");
    assert!(
        shown.contains("pouring") || shown.contains("commute"),
        "no footage: {shown:?}"
    );
    let notes = fx.notes(&report.job).await;
    if shown.contains("commute") {
        assert!(
            notes
                .iter()
                .any(|n| n.contains("commute.mp4: HDR (HLG, BT.2020) tone mapped to SDR BT.709")),
            "the HDR clip's tone map is noted: {notes:#?}"
        );
    }

    // On the frames: a scene showing the yellow kitchen is yellow, one
    // showing the magenta clip is magenta (graded, so loosely), each at
    // its middle.
    let ad = &report.outputs["ad.mp4"];
    let mean = |f: &media::RgbFrame, c: usize| {
        f.data
            .iter()
            .skip(c)
            .step_by(3)
            .map(|&v| f64::from(v))
            .sum::<f64>()
            / f64::from(f.width * f.height)
    };
    let mut checked = 0;
    for shot in &plan.shots {
        let name = &shot.direction.as_ref().expect("direction").picks[0].name;
        let middle = f64::from(shot.scene.start_ms + shot.scene.duration_ms / 2) / 1000.0;
        let f = frame_at(ad, middle);
        let (r, g, b) = (mean(&f, 0), mean(&f, 1), mean(&f, 2));
        match name.as_str() {
            "kitchen" => {
                assert!(
                    r > b + 40.0 && g > b + 40.0,
                    "kitchen scene at {middle} s: {r:.0} {g:.0} {b:.0}"
                );
                checked += 1;
            }
            "commute" => {
                assert!(
                    r > g + 40.0 && b > g + 40.0,
                    "commute scene at {middle} s: {r:.0} {g:.0} {b:.0}"
                );
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(
        checked > 0,
        "no scene showed the kitchen or the commute: {shown:?}"
    );

    // The scenes' text is in the brand's serif: where the serif would put
    // ink, the frame is white far more often than where the host's sans
    // would.
    let serif = Font::load(folder.join("brand-serif.ttf")).expect("serif");
    let sans = Font::system_bold().expect("sans");
    let probe = media::probe(ad).expect("probe");
    let video = probe.video().expect("video");
    let (w, h) = (video.width as usize, video.height as usize);
    let ink = |font: &Font, text: &str| -> Vec<bool> {
        let mut style = TextStyle::new(h as f32 * 0.07);
        style.outline = Some(Outline {
            width_px: h as f32 * 0.005,
            color: [0, 0, 0],
        });
        style.max_width_px = Some(w as f32 * 0.8);
        let title = text::layout(font, text, &style).expect("layout").render();
        let mut grey = Frame::new(w, h, vec![128; w * h * 3]).expect("frame");
        title
            .draw_placed(
                &mut grey,
                Placement::Bottom {
                    margin_px: h as f32 * 0.1,
                },
            )
            .expect("draw");
        grey.data
            .chunks_exact(3)
            .map(|p| p.iter().all(|&v| v > 200))
            .collect()
    };
    let white_where = |mask: &[bool], f: &media::RgbFrame| {
        let (mut white, mut all) = (0usize, 0usize);
        for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
            all += 1;
            if f.data[i * 3..i * 3 + 3].iter().all(|&v| v > 170) {
                white += 1;
            }
        }
        white as f64 / all.max(1) as f64
    };
    let mut serif_wins = 0;
    let mut titled = 0;
    for shot in &plan.shots {
        let text = &shot.scene.on_screen_text;
        if text.trim().is_empty() {
            continue;
        }
        titled += 1;
        let middle = f64::from(shot.scene.start_ms + shot.scene.duration_ms / 2) / 1000.0;
        let f = frame_at(ad, middle);
        let (as_serif, as_sans) = (
            white_where(&ink(&serif, text), &f),
            white_where(&ink(&sans, text), &f),
        );
        if as_serif > as_sans + 0.1 {
            serif_wins += 1;
        }
    }
    assert!(
        titled > 0 && serif_wins == titled,
        "{serif_wins} of {titled} titles in the brand font"
    );
}
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn ad_creative_end_to_end() {
    let fx = Fixture::new().await;
    let brief = fx.path("brief.toml");
    write_brief(&brief, 12, "ad-creative");
    let assets = workspace_root().join("examples/assets");
    let (product, logo) = (assets.join("product.png"), assets.join("logo.png"));
    let report = fx
        .run(
            "ad-creative",
            &[("brief", &brief), ("product", &product), ("logo", &logo)],
            &[("size", "480x270")],
        )
        .await
        .expect("the ad completes");
    let ad = &report.outputs["ad.mp4"];
    let info = media::probe(ad).expect("probe");
    let v = info.video().expect("video");
    assert_eq!((v.width, v.height), (480, 270));
    assert!((v.fps - 24.0).abs() < 0.01);
    assert!(info.audio().is_some());
    let script: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report.outputs["script.json"]).expect("read"))
            .expect("json");
    assert!(script["variations"].as_array().expect("variations").len() >= 2);
    let total = script["total_ms"].as_f64().expect("total") / 1000.0;
    assert!((total - 12.0).abs() < 0.5, "script length {total}");
    assert!(
        (info.duration_secs - total).abs() <= FRAME_24 + 0.03,
        "{} vs {total}",
        info.duration_secs
    );
    let pcm = media::decode_audio(ad, 48_000, 2).expect("audio");
    let lufs = mix::integrated_loudness(&pcm).expect("loudness");
    assert!((lufs + 16.0).abs() <= 1.0, "loudness {lufs} LUFS");
    // Every scene's grade went through the device pool, and each render
    // node says where it ran: the CPU, as this test binary has no CUDA.
    let events = fx
        .executor()
        .store()
        .events_since(&fx.host.tenant, &report.job, 0, 10_000)
        .await
        .expect("events");
    let rendered: Vec<Option<String>> = events
        .iter()
        .filter_map(|e| e.job_event().ok())
        .filter_map(|e| match e {
            JobEvent::StageFinished { stage, device, .. } if stage.starts_with("render[") => {
                Some(device)
            }
            _ => None,
        })
        .collect();
    assert!(
        !rendered.is_empty() && rendered.iter().all(|d| d.as_deref() == Some("cpu")),
        "{rendered:?}"
    );
    let stats = fx.executor().devices().stats();
    assert!(
        stats.cpu_calls >= rendered.len() as u64 && stats.gpu_calls == 0,
        "{stats:?}"
    );
    // Without a track, the cuts sit on the generated bed's beats.
    let played = fx
        .executor()
        .scenes(&fx.job(&report.job).await)
        .expect("scenes");
    let sync = played.beat_sync.as_ref().expect("beat sync");
    let beat_ms = 60_000.0 / sync.tempo_bpm;
    for [_, cut] in &sync.cuts {
        let beats = f64::from(*cut) / beat_ms;
        assert!(
            (beats - beats.round()).abs() * beat_ms <= 1.0,
            "cut {cut} off the beat"
        );
    }

    // Each scene is copied into the ad as it was encoded between its
    // transition windows: most frames were not encoded twice, and scene 1's
    // middle frame decodes to the same pixels in both.
    let notes = fx.notes(&report.job).await;
    let (copied, frames) = notes
        .iter()
        .find_map(|n| {
            let (copied, rest) = n.strip_prefix("ad: ")?.split_once(" of ")?;
            let (frames, _) = rest.split_once(" frames copied")?;
            Some((copied.parse::<usize>().ok()?, frames.parse::<usize>().ok()?))
        })
        .unwrap_or_else(|| panic!("compose says what it copied: {notes:#?}"));
    assert_eq!(frames, (info.duration_secs * 24.0).round() as usize);
    assert!(copied * 4 > frames * 3, "{copied} of {frames} copied");
    let played_plan = fx
        .executor()
        .scenes(&fx.job(&report.job).await)
        .expect("scenes");
    let scene = &played_plan.shots[1].scene;
    let first = (f64::from(scene.start_ms) * 24.0 / 1000.0).round() as usize;
    let middle = (f64::from(scene.duration_ms) * 24.0 / 1000.0 / 2.0).round() as usize;
    let nth = |path: &Path, n: usize| {
        let mut reader = media::VideoReader::open(path).expect("open");
        for _ in 0..n {
            reader.next_frame().expect("decodes").expect("a frame");
        }
        reader.next_frame().expect("decodes").expect("a frame")
    };
    let rendered = fx.node_output(&report.job, "synced[1]").await;
    assert!(
        nth(ad, first + middle).data == nth(&rendered, middle).data,
        "scene 1's frame {middle} was encoded again"
    );

    // Scene editing: trim scene 0 and retitle scene 1. Only those two are
    // rendered again; the original render stays as it was.
    let original_bytes = std::fs::read(ad).expect("read");
    let job = fx.job(&report.job).await;
    let plan = fx.executor().scenes(&job).expect("scenes");
    let scenes = plan.shots.len();
    assert!(scenes >= 3, "{scenes} scenes");
    // The delivered plan says how each scene was directed, and by whom.
    for shot in &plan.shots {
        let direction = shot.direction.as_ref().expect("a direction");
        assert_eq!(
            direction.directed_by.as_deref(),
            Some("kino-director-styles@0.1.0")
        );
        assert_eq!(direction.directed.scene_index, shot.id);
    }
    let first = &plan.shots[0].scene;
    let edits: kino_pipeline::Edits = serde_json::from_value(serde_json::json!({
        "scenes": {
            "0": { "trim": [0, first.duration_ms - 500] },
            "1": { "on-screen-text": "Now with oat milk", "style": "noir-high-contrast" }
        }
    }))
    .expect("edits");
    let edited = fx.executor().edit(&job, &edits).await.expect("edit");
    let edited_report = fx.executor().run(&edited).await.expect("the edit renders");
    let renders: Vec<&str> = edited_report
        .nodes
        .iter()
        .filter(|n| n.node.starts_with("render[") && !n.cached)
        .map(|n| n.node.as_str())
        .collect();
    assert_eq!(
        renders,
        ["render[0]", "render[1]"],
        "{:?}",
        edited_report.nodes
    );
    let new_plan = fx
        .executor()
        .scenes(&fx.job(&edited.id).await)
        .expect("scenes");
    assert_eq!(new_plan.total_ms, plan.total_ms - 500);
    assert_eq!(new_plan.shots[1].scene.on_screen_text, "Now with oat milk");
    let got = duration(&edited_report.outputs["ad.mp4"]);
    assert!(
        (got - f64::from(new_plan.total_ms) / 1000.0).abs() <= FRAME_24 + 0.03,
        "{got}"
    );
    assert_eq!(
        std::fs::read(ad).expect("read"),
        original_bytes,
        "the original render changed"
    );

    // Text alone: the plan changed, so the soundtrack is mixed again, but to
    // the same samples, so its encoding comes from the cache.
    let text_only: kino_pipeline::Edits = serde_json::from_value(serde_json::json!({
        "scenes": { "1": { "on-screen-text": "Brewed for twelve hours" } }
    }))
    .expect("edits");
    let retitled = fx.executor().edit(&job, &text_only).await.expect("edit");
    let retitled_report = fx
        .executor()
        .run(&retitled)
        .await
        .expect("the edit renders");
    let cached = |name: &str| {
        retitled_report
            .nodes
            .iter()
            .find(|n| n.node == name)
            .unwrap_or_else(|| panic!("no node {name}: {:?}", retitled_report.nodes))
            .cached
    };
    assert!(
        !cached("soundtrack"),
        "the plan changed: the soundtrack is mixed again"
    );
    assert!(
        cached("soundtrack-aac"),
        "the same soundtrack was encoded again"
    );

    // Edits that do not fit the scenes are refused, naming the scene.
    let bad: kino_pipeline::Edits =
        serde_json::from_value(serde_json::json!({ "scenes": { "42": { "narration": "x" } } }))
            .expect("edits");
    let err = fx
        .executor()
        .edit(&job, &bad)
        .await
        .expect_err("no scene 42");
    assert!(format!("{err:#}").contains("scene 42"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn music_video_follows_its_track() {
    let fx = Fixture::new().await;
    let brief = fx.path("brief.toml");
    write_brief(&brief, 30, "music-video");
    let product = workspace_root().join("examples/assets/product.png");

    let err = fx
        .run(
            "ad-creative",
            &[("brief", &brief), ("product", &product)],
            &[("size", "320x180")],
        )
        .await
        .expect_err("a music video without music");
    assert!(
        format!("{err:#}").contains("needs a music track"),
        "{err:#}"
    );

    let music = fx.path("track.m4a");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:sample_rate=48000:duration=9",
        "-c:a",
        "aac",
        music.to_str().expect("utf-8"),
    ]);
    let report = fx
        .run(
            "ad-creative",
            &[("brief", &brief), ("product", &product), ("music", &music)],
            &[("size", "320x180")],
        )
        .await
        .expect("the music video completes");
    let got = duration(&report.outputs["ad.mp4"]);
    assert!(
        (got - 9.0).abs() <= FRAME_24 + 0.05,
        "{got} s for a 9 s track"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn bad_inputs_fail_the_job_cleanly() {
    let fx = Fixture::new().await;
    let srt = fx.path("clip.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("write");

    let silent = fx.path("silent.mp4");
    test_video(&silent, 4, "160x120", false);
    let err = fx
        .run("dub", &[("video", &silent), ("transcript", &srt)], &[])
        .await
        .expect_err("no audio track");
    assert!(format!("{err:#}").contains("no audio track"), "{err:#}");

    let video = fx.path("clip.mp4");
    test_video(&video, 4, "160x120", true);
    let bad = fx.path("bad.srt");
    std::fs::write(&bad, "1\n00:00:01,000 --> banana\nhello\n").expect("write");
    let job = fx
        .submit("caption", &[("video", &video), ("transcript", &bad)], &[])
        .await
        .expect("submitted");
    let err = fx.executor().run(&job).await.expect_err("malformed srt");
    assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    let recorded = fx.job(&job.id).await;
    assert_eq!(recorded.state, JobState::Failed);
    assert!(recorded.error.as_deref().unwrap_or("").contains("line 2"));

    // A cut video: the error names it as the user named it, never a path
    // of the host's artifact store.
    let cut = fx.path("talk.mp4");
    let bytes = std::fs::read(&video).expect("read");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let job = fx
        .submit("caption", &[("video", &cut), ("transcript", &srt)], &[])
        .await
        .expect("submitted");
    fx.executor().run(&job).await.expect_err("a cut video");
    let error = fx.job(&job.id).await.error.unwrap_or_default();
    assert!(
        error.contains("talk.mp4") && !error.contains("artifacts"),
        "{error}"
    );

    // An image the host cannot decode fails the ad as the host's error about
    // that image: not the grader plugin's, and no fallback policy is asked.
    let brief = fx.path("brief.toml");
    write_brief(&brief, 6, "ad-creative");
    let broken = fx.path("broken.png");
    std::fs::write(&broken, b"not a png at all").expect("write");
    let job = fx
        .submit(
            "ad-creative",
            &[("brief", &brief), ("product", &broken)],
            &[("size", "320x180")],
        )
        .await
        .expect("submitted");
    fx.executor()
        .run(&job)
        .await
        .expect_err("an undecodable image");
    let error = fx.job(&job.id).await.error.unwrap_or_default();
    assert!(
        error.contains("broken.png") && !error.contains("artifacts"),
        "{error}"
    );
    let events = fx
        .executor()
        .store()
        .events_since(&fx.host.tenant, &job.id, 0, 1000)
        .await
        .expect("events");
    let kinds: Vec<String> = events
        .iter()
        .filter_map(|e| e.job_event().ok())
        .map(|e| e.kind().to_owned())
        .collect();
    assert!(!kinds.iter().any(|k| k == "fallback"), "{kinds:?}");

    // A brief far too large fails at once, saying so: no plugin sees it, so
    // there is nothing to retry.
    write_brief(&brief, 6, "ad-creative");
    let huge = std::fs::read_to_string(&brief).expect("read").replace(
        "facts = [",
        &format!("facts = [{}", "\"A fact.\", ".repeat(5_000)),
    );
    std::fs::write(&brief, huge).expect("write");
    let product = workspace_root().join("examples/assets/product.png");
    let job = fx
        .submit(
            "ad-creative",
            &[("brief", &brief), ("product", &product)],
            &[],
        )
        .await
        .expect("submitted");
    fx.executor().run(&job).await.expect_err("a huge brief");
    let error = fx.job(&job.id).await.error.unwrap_or_default();
    assert!(error.contains("the brief has 50"), "{error}");
    let stages = fx
        .executor()
        .store()
        .list_stages(&fx.host.tenant, &job.id)
        .await
        .expect("stages");
    let script: Vec<_> = stages.iter().filter(|s| s.name == "script").collect();
    assert_eq!(script.len(), 1, "one attempt, no retries");

    // A text input longer than any language tag is refused at submission.
    let err = fx
        .submit(
            "caption",
            &[("video", &video), ("transcript", &srt)],
            &[("language", &"x".repeat(70_000))],
        )
        .await
        .expect_err("too long");
    assert!(
        format!("{err:#}").contains("input `language` is 70000 bytes long"),
        "{err:#}"
    );

    let missing = fx.path("nope.png");
    let err = fx
        .submit("caption", &[("video", &missing), ("transcript", &srt)], &[])
        .await
        .expect_err("missing file");
    assert!(format!("{err:#}").contains("nope.png"), "{err:#}");

    // Other jobs are unaffected.
    fx.run("caption", &[("video", &video), ("transcript", &srt)], &[])
        .await
        .expect("a good job still runs");
}

async fn install_down_plugin(fx: &Fixture) {
    let dir = workspace_root().join("tests/plugins/down");
    let wasm = kino_tests::plugin_path("kino-test-down");
    let package = fx.path("down.tar.gz");
    kino_runtime::plugins::pack(&dir, Some(&wasm), &package).expect("pack");
    let registry = kino_registry::Store::open(fx.path("data/registry")).expect("registry");
    kino_runtime::plugins::install(
        kino_tests::runtime(),
        &registry,
        &package,
        kino_registry::SignaturePolicy::Optional,
        &[],
    )
    .expect("install");
}

async fn bind(fx: &Fixture, slot: &str, plugin: &str, config: serde_json::Value) {
    fx.executor()
        .store()
        .set_binding(
            &fx.host.tenant,
            &NewBinding {
                slot: slot.into(),
                plugin_name: plugin.into(),
                requirement: "*".into(),
                config,
                grants: serde_json::json!([]),
            },
        )
        .await
        .expect("bind");
}

/// Binds the reference fallback policy with `config`.
async fn policy(fx: &Fixture, config: serde_json::Value) {
    bind(fx, "fallback-policy", "kino-fallback-backoff", config).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn a_failing_plugin_goes_through_the_fallback_policy() {
    let fx = Fixture::new().await;
    install_down_plugin(&fx).await;
    let video = fx.path("clip.mp4");
    test_video(&video, 10, "160x120", true);
    let srt = fx.path("clip.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("write");
    bind(&fx, "translator", "kino-test-down", serde_json::json!({})).await;

    // Retry once, then switch to the phrasebook: the job completes.
    policy(
        &fx,
        serde_json::json!({ "max-retries": "1", "base-delay-ms": "10",
                            "alternative": "kino-translator-phrasebook" }),
    )
    .await;
    let report = fx
        .run(
            "dub",
            &[("video", &video), ("transcript", &srt)],
            &[("language", "es")],
        )
        .await
        .expect("the alternative finishes the job");
    let stages = fx
        .executor()
        .store()
        .list_stages(&fx.host.tenant, &report.job)
        .await
        .expect("stages");
    let translate: Vec<_> = stages.iter().filter(|s| s.name == "translate").collect();
    let summary: Vec<_> = translate
        .iter()
        .map(|s| (s.attempt, s.state, s.plugin.clone().unwrap_or_default()))
        .collect();
    assert_eq!(translate.len(), 3, "{summary:?}");
    assert!(
        translate[..2].iter().all(|s| s.state == StageState::Failed
            && s.plugin.as_deref() == Some("kino-test-down@0.1.0")
            && s.error.as_deref().unwrap_or("").contains("backend is down")),
        "{summary:?}"
    );
    assert_eq!(translate[2].state, StageState::Completed);
    assert_eq!(
        translate[2].plugin.as_deref(),
        Some("kino-translator-phrasebook@0.1.0")
    );

    // No alternative and `fail`: the job fails with the recorded reason.
    policy(
        &fx,
        serde_json::json!({ "max-retries": "0", "on-exhausted": "fail" }),
    )
    .await;
    let job = fx
        .submit(
            "dub",
            &[("video", &video), ("transcript", &srt)],
            &[("language", "fr")],
        )
        .await
        .expect("submit");
    let err = fx
        .executor()
        .run(&job)
        .await
        .expect_err("the policy fails the job");
    let recorded = fx.job(&job.id).await;
    assert_eq!(recorded.state, JobState::Failed);
    let reason = recorded.error.unwrap_or_default();
    assert!(
        reason.contains("backend is down") && reason.contains("fallback policy"),
        "{reason} / {err:#}"
    );

    // `degrade`: the job completes with the untranslated text.
    policy(
        &fx,
        serde_json::json!({ "max-retries": "0", "on-exhausted": "degrade" }),
    )
    .await;
    let report = fx
        .run(
            "dub",
            &[("video", &video), ("transcript", &srt)],
            &[("language", "de")],
        )
        .await
        .expect("a degraded job completes");
    let text = std::fs::read_to_string(&report.outputs["subtitles.srt"]).expect("srt");
    assert!(text.contains("Good morning, my friend."), "{text}");
}

#[test]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
fn a_killed_host_resumes_without_recomputing_finished_stages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = dir.path().join("clip.mp4");
    test_video(&video, 10, "320x240", true);
    let srt = dir.path().join("clip.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("write");
    let data = dir.path().join("data");
    let kino = |args: &[&str]| crate::kino_local(&data, &dir.path().join("out"), args);
    let video_arg = format!("video={}", video.display());
    let srt_arg = format!("transcript={}", srt.display());
    // Kill the host as soon as the first spoken line is finished.
    let (job, _) = crate::kill_at(
        kino(&["run", "dub", &video_arg, &srt_arg]),
        "done    lines[",
    );

    let out = kino(&["resume", &job]).output().expect("resume");
    assert!(
        out.status.success(),
        "resume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("cached  segments"), "{log}");

    // The killed run's temporaries went with the next run's start.
    let left = crate::leftover_temporaries(&data);
    assert!(left.is_empty(), "{left:?}");
    let (got, completed) = crate::completed_nodes(&data, &job);
    assert_eq!(got.state, JobState::Completed);
    // Every node ran to completion exactly once across both hosts.
    assert!(completed.values().all(|&n| n == 1), "{completed:?}");
    assert!(completed.contains_key("dubbed"));
    assert!(completed.contains_key("lines[0]"));
}
