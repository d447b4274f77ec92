//! Dynamic (word-by-word) captions: word timing (`kino_kernels::words`),
//! drawing (`text::DynamicCaption`) and the WebVTT and ASS exports, on real
//! text drawn with the system font (DejaVu, Debian's `fonts-dejavu-core`).

#![allow(clippy::unwrap_used)]

use kino_kernels::ass::{AssError, AssStyle, parse_ass, to_ass};
use kino_kernels::captions::{CaptionRules, caption_cues, caption_cues_with_words};
use kino_kernels::interpolate::Frame;
use kino_kernels::subtitle::{Cue, parse_vtt, parse_vtt_words, to_vtt, to_vtt_words};
use kino_kernels::text::{
    CaptionKind, CaptionPosition, DynamicCaption, DynamicLook, DynamicStyle, Font, PixelRect,
    TextError, draw_caption,
};
use kino_kernels::words::{DynamicCue, TimedWord, WordTiming, assign_words, estimate_words};

const W: usize = 1280;
const H: usize = 720;

fn font() -> Font {
    Font::system_bold().unwrap()
}

fn frame(fill: u8) -> Frame {
    Frame::new(W, H, vec![fill; W * H * 3]).unwrap()
}

fn pixel(f: &Frame, x: i32, y: i32) -> [u8; 3] {
    let i = (y as usize * f.width + x as usize) * 3;
    [f.data[i], f.data[i + 1], f.data[i + 2]]
}

/// The pixels of `rect` (clipped to the frame).
fn pixels(f: &Frame, rect: PixelRect) -> Vec<(i32, [u8; 3])> {
    let mut out = Vec::new();
    for y in rect.y.max(0)..(rect.y + rect.height as i32).min(f.height as i32) {
        for x in rect.x.max(0)..(rect.x + rect.width as i32).min(f.width as i32) {
            out.push((x, pixel(f, x, y)));
        }
    }
    out
}

/// Yellow: the default highlight, mixed over something dark.
fn is_yellow(p: [u8; 3]) -> bool {
    p[0] > 80 && u16::from(p[2]) * 2 < u16::from(p[0])
}

/// White (or grey from white over dark): no colour cast.
fn is_white(p: [u8; 3]) -> bool {
    p[0] > 80 && u16::from(p[2]) * 10 >= u16::from(p[0]) * 9
}

/// The union of a word's boxes.
fn word_rects(caption: &DynamicCaption, word: usize) -> Vec<PixelRect> {
    caption
        .word_boxes()
        .iter()
        .filter(|b| b.word == word)
        .map(|b| b.rect)
        .collect()
}

fn count(f: &Frame, rects: &[PixelRect], test: impl Fn([u8; 3]) -> bool) -> usize {
    rects
        .iter()
        .flat_map(|r| pixels(f, *r))
        .filter(|(_, p)| test(*p))
        .count()
}

/// A transcript-timed cue: "Brew it cold, serve it bright", one word per
/// 400 ms from 1000 ms, with 40 ms pauses.
fn brew_cue() -> DynamicCue {
    let cue = Cue::new(1000, 3400, "Brew it cold, serve it bright");
    let words: Vec<TimedWord> = cue
        .text
        .split_whitespace()
        .enumerate()
        .map(|(k, w)| {
            let start = 1000 + 400 * k as u32;
            TimedWord::new(w, start, start + 360)
        })
        .collect();
    let dynamic = DynamicCue::with_times(&cue, &words);
    assert_eq!(dynamic.timing, WordTiming::Transcript);
    dynamic
}

#[test]
fn proportional_estimate_tiles_the_cue() {
    let texts = [
        "Hello",
        "Hello there, my friend.",
        "a extraordinarily b",
        "Cold brew — ready when you are!\nNo waiting",
        "日本語 のテキスト",
    ];
    for text in texts {
        for (start, end) in [(0, 5000), (1234, 2345), (10_000, 10_017)] {
            let cue = Cue::new(start, end, text);
            let words = estimate_words(&cue);
            let said: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(
                words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(),
                said
            );
            assert_eq!(words[0].start_ms, start, "{text:?}");
            assert_eq!(words.last().unwrap().end_ms, end, "{text:?}");
            for pair in words.windows(2) {
                assert_eq!(pair[0].end_ms, pair[1].start_ms, "{text:?} {words:?}");
            }
            for w in &words {
                assert!(w.end_ms > w.start_ms, "{text:?} {words:?}");
            }
        }
    }
    // Longer words take longer; a clause's end adds a pause; short words
    // get a floor.
    let words = estimate_words(&Cue::new(0, 10_000, "a extraordinarily b, c"));
    let d: Vec<u32> = words.iter().map(TimedWord::duration_ms).collect();
    assert!(d[1] > 4 * d[0], "{d:?}");
    assert!(d[2] > d[3], "{d:?}");
    assert_eq!(d[0], d[3], "{d:?}");
    // The same cue always gets the same times.
    assert_eq!(
        words,
        estimate_words(&Cue::new(0, 10_000, "a extraordinarily b, c"))
    );
}

#[test]
fn transcript_words_go_to_their_cues() {
    let text = "The first sentence is here and it is fairly long indeed. \
                Then a second one follows, which is also quite long, and a third.";
    let rules = CaptionRules {
        gap_ms: 80,
        max_lines: 1,
        ..CaptionRules::default()
    };
    let plan = caption_cues(&[Cue::new(2000, 12_000, text)], &rules);
    assert!(plan.cues.len() >= 3, "{:?}", plan.cues);
    // The recogniser's words: inside each cue, not where the estimate puts
    // them, and the last word of each cue runs into the gap after it.
    let mut heard = Vec::new();
    for cue in &plan.cues {
        let mut words = estimate_words(cue);
        for w in &mut words {
            w.text = w.text.to_uppercase();
            w.start_ms += 7;
        }
        if let Some(last) = words.last_mut() {
            last.end_ms = cue.end_ms + 60;
        }
        heard.extend(words);
    }
    let assigned = assign_words(&plan.cues, &heard);
    assert!(assigned.warnings.is_empty(), "{:?}", assigned.warnings);
    let mut k = 0;
    for (cue, dynamic) in plan.cues.iter().zip(&assigned.cues) {
        assert_eq!(dynamic.timing, WordTiming::Transcript);
        assert_eq!(dynamic.cue(), *cue);
        for (word, shown) in dynamic.words.iter().zip(cue.text.split_whitespace()) {
            // The cue's spelling, the transcript's times (fitted into the cue).
            assert_eq!(word.text, shown);
            assert_eq!(word.start_ms, heard[k].start_ms);
            assert_eq!(word.end_ms, heard[k].end_ms.min(cue.end_ms));
            k += 1;
        }
        assert_eq!(dynamic.emphasis, vec![false; dynamic.words.len()]);
    }
    assert_eq!(k, heard.len());

    // A word whose midpoint is in the gap between two cues goes where most
    // of it is; times running out of a cue are clamped to it.
    let cues = [Cue::new(0, 1000, "one two"), Cue::new(1400, 2000, "three")];
    let heard = [
        TimedWord::new("one", 0, 400),
        TimedWord::new("two", 700, 1500),
        TimedWord::new("three", 1350, 1900),
    ];
    let assigned = assign_words(&cues, &heard);
    assert!(assigned.warnings.is_empty(), "{:?}", assigned.warnings);
    assert_eq!(assigned.cues[0].words[1].end_ms, 1000);
    assert_eq!(assigned.cues[1].words[0].start_ms, 1400);
}

#[test]
fn mismatch_falls_back_and_says_so() {
    let cues = [
        Cue::new(0, 1000, "one two"),
        Cue::new(1000, 3000, "three four five"),
        Cue::new(5000, 6000, "six"),
    ];
    let heard = [
        TimedWord::new("one", 0, 400),
        TimedWord::new("two", 500, 900),
        TimedWord::new("three", 1100, 1500),
        TimedWord::new("four-five", 1600, 2900),
        TimedWord::new("six", 5100, 5900),
        TimedWord::new("lost", 8000, 8500),
    ];
    let plan = assign_words(&cues, &heard);
    let timings: Vec<WordTiming> = plan.cues.iter().map(|c| c.timing).collect();
    assert_eq!(
        timings,
        [
            WordTiming::Transcript,
            WordTiming::Proportional,
            WordTiming::Transcript
        ]
    );
    assert_eq!(plan.cues[1].words, estimate_words(&cues[1]));
    assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0]
            .starts_with("cue 2 (0:00:01.000–0:00:03.000): 3 words in the text but 2 timed words"),
        "{:?}",
        plan.warnings
    );
    assert!(
        plan.warnings[1].contains("1 timed word fell in no cue"),
        "{:?}",
        plan.warnings
    );
    // Without any timed words everything is estimated, without warnings.
    let plan = assign_words(&cues, &[]);
    assert!(plan.warnings.is_empty());
    assert!(
        plan.cues
            .iter()
            .all(|c| c.timing == WordTiming::Proportional)
    );
}

#[test]
fn highlight_colours_the_current_word_only() -> Result<(), TextError> {
    let font = font();
    let cue = brew_cue();
    let look = DynamicLook::new(DynamicStyle::Highlight, CaptionKind::Boxed);
    let caption = DynamicCaption::new(&font, &cue, &look, W, H)?;
    let n = cue.words.len();
    // Every word has ink, in reading order, inside the caption.
    let words: Vec<usize> = caption.word_boxes().iter().map(|b| b.word).collect();
    assert_eq!(words, (0..n).collect::<Vec<_>>());
    for b in caption.word_boxes() {
        assert!(b.rect.width > 3 && b.rect.height > 10, "{b:?}");
    }
    for k in 0..n {
        let t = cue.words[k].start_ms + 200;
        let mut f = frame(30);
        caption.draw(&mut f, t)?;
        for j in 0..n {
            let rects = word_rects(&caption, j);
            let (yellow, white) = (count(&f, &rects, is_yellow), count(&f, &rects, is_white));
            if j == k {
                assert!(yellow > 50, "t {t}: word {j} has {yellow} highlight pixels");
                assert_eq!(white, 0, "t {t}: word {j} has white pixels");
            } else {
                assert_eq!(yellow, 0, "t {t}: word {j} is highlighted too");
                assert!(white > 50, "t {t}: word {j} has {white} white pixels");
            }
        }
    }
    // Before the first word starts, nothing is highlighted.
    let mut f = frame(30);
    caption.draw(&mut f, 500)?;
    assert_eq!(count(&f, &[caption.rect()], is_yellow), 0);
    Ok(())
}

#[test]
fn layout_is_the_same_at_every_time() -> Result<(), TextError> {
    let font = font();
    let cue = DynamicCue::proportional(&Cue::new(
        0,
        4000,
        "Organic arabica beans, brewed slowly for twelve hours so you don't have to",
    ));
    for kind in [CaptionKind::Boxed, CaptionKind::Outlined] {
        for style in [DynamicStyle::Highlight, DynamicStyle::Karaoke] {
            // Highlight and base differ only in green and blue: the red
            // channel shows coverage alone, so it must not change.
            let look = DynamicLook {
                highlight: [255, 120, 0],
                ..DynamicLook::new(style, kind)
            };
            let caption = DynamicCaption::new(&font, &cue, &look, W, H)?;
            let mut first: Option<Vec<u8>> = None;
            let mut distinct = std::collections::HashSet::new();
            for t in (0..4000).step_by(97) {
                let mut f = frame(0);
                caption.draw(&mut f, t)?;
                let red: Vec<u8> = f.data.iter().step_by(3).copied().collect();
                distinct.insert(f.data.clone());
                match &first {
                    None => first = Some(red),
                    Some(r) => assert!(*r == red, "{kind:?} {style:?}: red moved at {t} ms"),
                }
            }
            // ...while the colours did change.
            assert!(distinct.len() > 10, "{kind:?} {style:?}");
        }
        // With every colour the same it is the plain caption, bit for bit.
        let look = DynamicLook {
            highlight: [255, 255, 255],
            emphasis: [255, 255, 255],
            ..DynamicLook::new(DynamicStyle::Karaoke, kind)
        };
        let caption = DynamicCaption::new(&font, &cue, &look, W, H)?;
        let mut plain = frame(90);
        let rect = draw_caption(&mut plain, &font, &cue.text, kind)?;
        for t in [0, 1234, 4000] {
            let mut f = frame(90);
            assert_eq!(caption.draw(&mut f, t)?, rect);
            assert!(f == plain, "{kind:?} at {t} ms differs from draw_caption");
        }
        // Two lines, as draw_caption breaks them.
        assert_eq!(
            caption.word_boxes().iter().map(|b| b.line).max(),
            Some(1),
            "{kind:?}"
        );
    }
    Ok(())
}

#[test]
fn pop_shows_words_as_they_are_said() -> Result<(), TextError> {
    let font = font();
    let cue = brew_cue();
    let look = DynamicLook::new(DynamicStyle::Pop, CaptionKind::Outlined);
    let caption = DynamicCaption::new(&font, &cue, &look, W, H)?;
    // Grey shows the black outline; black does not pass for white.
    let grey = frame(128);
    let blank = frame(0);
    for k in 0..cue.words.len() {
        let start = cue.words[k].start_ms;
        let rects = word_rects(&caption, k);
        // Just before: nothing of the word is drawn, glyph or outline.
        let mut f = grey.clone();
        caption.draw(&mut f, start - 1)?;
        for r in &rects {
            assert!(
                pixels(&f, *r) == pixels(&grey, *r),
                "word {k} drawn before it starts"
            );
        }
        // The words before it are there.
        let mut f = blank.clone();
        caption.draw(&mut f, start - 1)?;
        assert_eq!(count(&f, &rects, is_white), 0);
        for j in 0..k {
            assert!(count(&f, &word_rects(&caption, j), is_white) > 50);
        }
        // At its start: there, in the highlight colour.
        let mut f = blank.clone();
        caption.draw(&mut f, start)?;
        assert!(count(&f, &rects, is_yellow) > 50, "word {k} at its start");
        // 150 ms later it has settled to white.
        let mut f = blank.clone();
        caption.draw(&mut f, start + 150)?;
        assert_eq!(count(&f, &rects, is_yellow), 0, "word {k} after the pop");
        assert!(count(&f, &rects, is_white) > 50, "word {k} after the pop");
    }
    Ok(())
}

#[test]
fn karaoke_fills_each_word_left_to_right() -> Result<(), TextError> {
    let font = font();
    let cue = brew_cue();
    let look = DynamicLook::new(DynamicStyle::Karaoke, CaptionKind::Outlined);
    let caption = DynamicCaption::new(&font, &cue, &look, W, H)?;
    for k in [0, 3, 5] {
        let word = &cue.words[k];
        let rects = word_rects(&caption, k);
        let mut last = 0;
        for step in 0..=10 {
            let t = word.start_ms + word.duration_ms() * step / 10;
            let mut f = frame(0);
            caption.draw(&mut f, t)?;
            let px: Vec<(i32, [u8; 3])> = rects.iter().flat_map(|r| pixels(&f, *r)).collect();
            let yellow: Vec<i32> = px.iter().filter(|p| is_yellow(p.1)).map(|p| p.0).collect();
            let white: Vec<i32> = px.iter().filter(|p| is_white(p.1)).map(|p| p.0).collect();
            match step {
                0 => assert!(yellow.is_empty(), "word {k} filled before it starts"),
                10 => assert!(white.is_empty(), "word {k} not filled at its end"),
                _ => {
                    assert!(yellow.len() > last, "word {k} step {step}: fill shrank");
                    // Filled on the left, not yet on the right.
                    let edge = *yellow.iter().max().unwrap();
                    let rest = *white.iter().min().unwrap();
                    assert!(edge <= rest + 1, "word {k} step {step}: {edge} vs {rest}");
                }
            }
            last = yellow.len();
        }
        // Words before it are filled, words after it are not.
        let mut f = frame(0);
        caption.draw(&mut f, word.start_ms + word.duration_ms() / 2)?;
        for j in 0..cue.words.len() {
            let rects = word_rects(&caption, j);
            if j < k {
                assert_eq!(count(&f, &rects, is_white), 0, "word {j} at word {k}");
            } else if j > k {
                assert_eq!(count(&f, &rects, is_yellow), 0, "word {j} at word {k}");
            }
        }
    }
    Ok(())
}

#[test]
fn emphasised_words_use_the_emphasis_colour() -> Result<(), TextError> {
    let font = font();
    let mut cue = brew_cue();
    cue.emphasis = vec![false, false, true];
    let look = DynamicLook::new(DynamicStyle::Highlight, CaptionKind::Boxed);
    let caption = DynamicCaption::new(&font, &cue, &look, W, H)?;
    let blue = |p: [u8; 3]| p[2] > 150 && p[0] < 150;
    // While another word is highlighted: word 2 is blue, the others not.
    let mut f = frame(30);
    caption.draw(&mut f, cue.words[0].start_ms + 10)?;
    assert!(count(&f, &word_rects(&caption, 2), blue) > 50);
    assert_eq!(count(&f, &word_rects(&caption, 3), blue), 0);
    // While it is said it is highlighted like any other.
    let mut f = frame(30);
    caption.draw(&mut f, cue.words[2].start_ms + 10)?;
    assert_eq!(count(&f, &word_rects(&caption, 2), blue), 0);
    assert!(count(&f, &word_rects(&caption, 2), is_yellow) > 50);
    Ok(())
}

#[test]
fn a_frame_of_another_size_is_refused() -> Result<(), TextError> {
    let caption = DynamicCaption::new(&font(), &brew_cue(), &DynamicLook::default(), W, H)?;
    let mut f = Frame::new(640, 360, vec![0; 640 * 360 * 3]).unwrap();
    let e = caption.draw(&mut f, 1500).unwrap_err();
    assert_eq!(
        e.to_string(),
        "frame is 640x360 but the caption was laid out for 1280x720"
    );
    Ok(())
}

/// Cues with gaps between words, a late first word, an early last word,
/// a speaker, emphasis, two lines and text that needs escaping.
fn export_cues() -> Vec<DynamicCue> {
    let mut a = DynamicCue::with_times(
        &Cue {
            speaker: Some("Ann".into()),
            ..Cue::new(1000, 3000, "Hello there,\nmy friend")
        },
        &[
            TimedWord::new("Hello", 1000, 1400),
            TimedWord::new("there,", 1400, 1900),
            TimedWord::new("my", 2000, 2300),
            TimedWord::new("friend", 2300, 2800),
        ],
    );
    a.emphasis = vec![false, true, false, false];
    let b = DynamicCue::with_times(
        &Cue::new(3000, 4500, "a <b> & {c}  \\N d"),
        &[
            TimedWord::new("a", 3100, 3200),
            TimedWord::new("<b>", 3200, 3600),
            TimedWord::new("&", 3600, 3700),
            TimedWord::new("{c}", 3700, 4000),
            TimedWord::new("\\N", 4000, 4200),
            TimedWord::new("d", 4200, 4500),
        ],
    );
    let mut c = DynamicCue::with_times(
        &Cue::new(3_600_000, 3_601_000, "late"),
        &[TimedWord::new("late", 3_600_500, 3_600_900)],
    );
    c.emphasis = vec![true];
    vec![a, b, c]
}

#[test]
fn webvtt_word_timestamps_round_trip() {
    let cues = export_cues();
    let vtt = to_vtt_words(&cues);
    assert!(
        vtt.contains(
            "00:00:01.000 --> 00:00:03.000\n<v Ann>Hello <00:00:01.400><c.emphasis>there,</c><00:00:01.900>\n\
             <00:00:02.000>my <00:00:02.300>friend<00:00:02.800>\n\n"
        ),
        "{vtt}"
    );
    assert!(
        vtt.contains("<00:00:03.100>a <00:00:03.200>&lt;b&gt; <00:00:03.600>&amp;"),
        "{vtt}"
    );
    assert_eq!(parse_vtt_words(&vtt).unwrap(), cues);
    // Plain parsing strips the tags, as before.
    let plain: Vec<Cue> = cues.iter().map(DynamicCue::cue).collect();
    assert_eq!(parse_vtt(&vtt).unwrap(), plain);
    assert_eq!(to_vtt(&plain), to_vtt(&parse_vtt(&vtt).unwrap()));

    // Estimated cues come back with the same times (but as given ones).
    let estimated = DynamicCue::proportional(&Cue::new(0, 1777, "one two, three"));
    let back = parse_vtt_words(&to_vtt_words(std::slice::from_ref(&estimated))).unwrap();
    assert_eq!(back[0].words, estimated.words);
    assert_eq!(back[0].timing, WordTiming::Transcript);

    // A file from elsewhere: timestamps out of order and outside the cue are
    // fitted, a timestamp inside a word does not split it, a cue without
    // timestamps is estimated.
    let vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\nfirst <00:00:09.000>se<00:00:01.700>cond \
               <00:00:00.500>third\n\n00:03.000 --> 00:04.000\nno times here\n";
    let cues = parse_vtt_words(vtt).unwrap();
    let spans: Vec<(u32, u32)> = cues[0]
        .words
        .iter()
        .map(|w| (w.start_ms, w.end_ms))
        .collect();
    assert_eq!(spans, [(1000, 2000), (2000, 2000), (2000, 2000)]);
    assert_eq!(cues[0].timing, WordTiming::Transcript);
    assert_eq!(cues[1].timing, WordTiming::Proportional);
    assert_eq!(cues[1].words, estimate_words(&cues[1].cue()));
}

#[test]
fn ass_karaoke_round_trips() {
    let cues = export_cues();
    let look = DynamicLook::new(DynamicStyle::Karaoke, CaptionKind::Boxed);
    let style = AssStyle::new(&look, 1920, 1080);
    let ass = to_ass(&cues, &style);
    for expected in [
        "[Script Info]\n",
        "PlayResX: 1920\nPlayResY: 1080\n",
        "Style: Kino,DejaVu Sans,69,&H000AD6FF,&H00FFFFFF,&H59000000,&H59000000,-1,0,0,0,\
         100,100,0,0,3,15,0,2,192,192,76,1\n",
        "Dialogue: 0,0:00:01.00,0:00:03.00,Kino,Ann,0,0,0,,{\\kf40}Hello \
         {\\kf50\\2c&HFFC85A&}there,\\N{\\k10}{\\kf30\\2c&HFFFFFF&}my {\\kf50}friend{\\k20}\n",
        "Dialogue: 0,1:00:00.00,1:00:01.00,Kino,,0,0,0,,{\\k50}{\\kf40\\2c&HFFC85A&}late{\\k10}\n",
    ] {
        assert!(ass.contains(expected), "{expected}\nnot in\n{ass}");
    }
    let script = parse_ass(&ass).unwrap();
    assert_eq!(script.play_res_x, Some(1920));
    assert_eq!(script.play_res_y, Some(1080));
    assert_eq!(script.cues, cues);

    // Times that are not whole centiseconds come back within 5 ms.
    let cue = DynamicCue::proportional(&Cue::new(1234, 5678, "one two, three four."));
    let back = parse_ass(&to_ass(std::slice::from_ref(&cue), &style)).unwrap();
    let back = &back.cues[0];
    assert_eq!((back.start_ms, back.end_ms), (1230, 5680));
    for (a, b) in cue.words.iter().zip(&back.words) {
        assert_eq!(a.text, b.text);
        assert!(a.start_ms.abs_diff(b.start_ms) <= 5, "{a:?} {b:?}");
        assert!(a.end_ms.abs_diff(b.end_ms) <= 5, "{a:?} {b:?}");
    }
    // Outlined captions are border style 1.
    let outlined = AssStyle::new(
        &DynamicLook::new(DynamicStyle::Karaoke, CaptionKind::Outlined),
        1280,
        720,
    );
    assert!(to_ass(&[], &outlined).contains(",1,3.56,0,2,128,128,50,1\n"));
}

#[test]
fn ass_errors_name_the_line() {
    let head = "[Script Info]\nPlayResX: 640\n\n[Events]\n\
                Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n";
    let cases: [(String, AssError); 5] = [
        (
            "WEBVTT\n".into(),
            AssError::NotAss {
                line: 1,
                found: "WEBVTT".into(),
            },
        ),
        (
            format!("{head}Dialogue: 0,0:00:01.00,0:0x:02.00,Default,,0,0,0,,Hi\n"),
            AssError::BadTime {
                line: 6,
                value: "0:0x:02.00".into(),
            },
        ),
        (
            format!("{head}\nDialogue: 0,0:00:03.00,0:00:02.00,Default,,0,0,0,,Hi\n"),
            AssError::EndBeforeStart {
                line: 7,
                start: "0:00:03.00".into(),
                end: "0:00:02.00".into(),
            },
        ),
        (
            format!("{head}Dialogue: 0,0:00:01.00\n"),
            AssError::Syntax {
                line: 6,
                reason: "dialogue has 2 fields, the format line names 10".into(),
            },
        ),
        (
            "[Script Info]\nPlayResY: tall\n".into(),
            AssError::Syntax {
                line: 2,
                reason: "playresy must be a whole number of pixels, not \"tall\"".into(),
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_ass(&input).unwrap_err(), expected, "{input}");
    }
    assert_eq!(
        AssError::BadTime {
            line: 6,
            value: "x".into()
        }
        .to_string(),
        "line 6: bad time \"x\": expected H:MM:SS.cc"
    );
    // A script from elsewhere: CRLF, other tags, \k syllables inside words,
    // no karaoke at all on a line.
    let ass = "\u{feff}[Script Info]\r\nTitle: x\r\n\r\n[Events]\r\n\
               Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\r\n\
               Comment: 0,0:00:00.00,0:00:09.00,Default,,0,0,0,,ignored\r\n\
               Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\an8\\k20}ka{\\K30}ra {\\b1\\kf50}oke, yes\r\n\
               Dialogue: 0,0:00:02.00,0:00:03.00,Default,,0,0,0,,plain, text\r\n";
    let script = parse_ass(ass).unwrap();
    assert_eq!(script.cues.len(), 2);
    let karaoke = &script.cues[0];
    assert_eq!(karaoke.text, "kara oke, yes");
    let spans: Vec<(&str, u32, u32)> = karaoke
        .words
        .iter()
        .map(|w| (w.text.as_str(), w.start_ms, w.end_ms))
        .collect();
    assert_eq!(
        spans,
        // "oke, yes" is one syllable: both words start with it.
        [
            ("kara", 1000, 1500),
            ("oke,", 1500, 1500),
            ("yes", 1500, 2000)
        ]
    );
    assert_eq!(script.cues[1].text, "plain, text");
    assert_eq!(script.cues[1].timing, WordTiming::Proportional);
}

#[test]
fn hostile_inputs_do_not_panic() -> Result<(), TextError> {
    let font = font();
    let looks = [
        DynamicLook::new(DynamicStyle::Highlight, CaptionKind::Boxed),
        DynamicLook::new(DynamicStyle::Pop, CaptionKind::Outlined),
        DynamicLook::new(DynamicStyle::Karaoke, CaptionKind::Outlined),
    ];
    let style = AssStyle::new(&looks[0], 1280, 720);

    // Empty text: no words, nothing drawn (a blank caption has no box).
    for text in ["", "   ", "\n\n"] {
        let cue = DynamicCue::proportional(&Cue::new(0, 1000, text));
        assert!(cue.words.is_empty());
        assert!(estimate_words(&cue.cue()).is_empty());
        for look in &looks {
            let caption = DynamicCaption::new(&font, &cue, look, W, H)?;
            let mut f = frame(40);
            caption.draw(&mut f, 500)?;
            assert!(f == frame(40), "{text:?} drew something");
        }
        let _ = to_vtt_words(std::slice::from_ref(&cue));
        let back = parse_ass(&to_ass(std::slice::from_ref(&cue), &style)).unwrap();
        assert_eq!(back.cues[0].text, "");
    }
    let plan = assign_words(&[Cue::new(0, 1000, "")], &[TimedWord::new("x", 0, 10)]);
    assert_eq!(plan.cues.len(), 1);

    // Zero-length and inverted cues, and words with no duration.
    for (start, end) in [(500, 500), (500, 400), (0, 2)] {
        let cue = Cue::new(start, end, "three little words");
        let words = estimate_words(&cue);
        assert_eq!(words.len(), 3);
        assert!(words.iter().all(|w| w.start_ms <= w.end_ms));
        let dynamic = DynamicCue::proportional(&cue);
        for look in &looks {
            let caption = DynamicCaption::new(&font, &dynamic, look, W, H)?;
            for t in [0, start, end, u32::MAX] {
                caption.draw(&mut frame(0), t)?;
            }
        }
        let _ = parse_vtt_words(&to_vtt_words(std::slice::from_ref(&dynamic)));
        let back = parse_ass(&to_ass(std::slice::from_ref(&dynamic), &style)).unwrap();
        assert_eq!(back.cues[0].text, "three little words");
    }
    // Word lists that do not fit their cue are re-estimated or fitted.
    let mut odd = DynamicCue::proportional(&Cue::new(1000, 2000, "a b c"));
    odd.words.pop();
    odd.emphasis = vec![true; 10];
    assert_eq!(odd.word_times(), estimate_words(&odd.cue()));
    odd.words = vec![
        TimedWord::new("x", 5000, 100),
        TimedWord::new("y", 0, 0),
        TimedWord::new("z", 1500, 9000),
    ];
    let fitted = odd.word_times();
    assert!(fitted.iter().all(|w| (1000..=2000).contains(&w.start_ms)
        && w.start_ms <= w.end_ms
        && w.end_ms <= 2000));
    DynamicCaption::new(&font, &odd, &looks[2], W, H)?.draw(&mut frame(0), 1500)?;

    // 10,000 words.
    let text: String = (0..10_000)
        .map(|i| format!("w{}", i % 97))
        .collect::<Vec<_>>()
        .join(" ");
    let cue = Cue::new(0, 600_000, text.as_str());
    let words = estimate_words(&cue);
    assert_eq!(words.len(), 10_000);
    assert_eq!(words.last().unwrap().end_ms, 600_000);
    let plan = caption_cues(std::slice::from_ref(&cue), &CaptionRules::default());
    let assigned = assign_words(&plan.cues, &words);
    assert_eq!(assigned.cues.len(), plan.cues.len());
    let dynamic = DynamicCue::proportional(&cue);
    let back = parse_vtt_words(&to_vtt_words(std::slice::from_ref(&dynamic))).unwrap();
    assert_eq!(back[0].words, dynamic.words);
    let back = parse_ass(&to_ass(std::slice::from_ref(&dynamic), &style)).unwrap();
    assert_eq!(back.cues[0].words.len(), 10_000);
    let (w, h) = (320, 180);
    let caption = DynamicCaption::new(&font, &dynamic, &looks[2], w, h)?;
    assert_eq!(caption.word_boxes().last().map(|b| b.word), Some(9_999));
    let mut f = Frame::new(w, h, vec![0; w * h * 3]).unwrap();
    caption.draw(&mut f, 300_000)?;
    Ok(())
}

/// Deterministic generator for the round-trip property.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn exports_round_trip_over_generated_cues() {
    const WORDS: [&str; 14] = [
        "the",
        "caption",
        "über",
        "日本語",
        "R&D",
        "<b>",
        "a<b",
        "{x}",
        "\\N",
        "50%",
        "don't",
        "—",
        "&amp;",
        "x\u{a0}y",
    ];
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let style = AssStyle::new(&DynamicLook::default(), 1920, 1080);
    for round in 0..300 {
        let mut cues = Vec::new();
        let mut t = 10 * rng.below(500) as u32;
        for _ in 0..1 + rng.below(4) {
            let n = 1 + rng.below(12) as usize;
            let span = 10 * (2 * n as u32 + rng.below(400) as u32);
            let (start, end) = (t, t + span);
            // 2n sorted points in the cue, in whole centiseconds.
            let mut points: Vec<u32> = (0..2 * n)
                .map(|_| start + 10 * rng.below(u64::from(span / 10) + 1) as u32)
                .collect();
            points.sort_unstable();
            let mut text = String::new();
            let mut timed = Vec::new();
            for k in 0..n {
                let word = WORDS[rng.below(WORDS.len() as u64) as usize];
                if k > 0 {
                    text.push_str(["\n", " ", "  "][(rng.below(6) as usize).min(2)]);
                }
                text.push_str(word);
                timed.push(TimedWord::new(word, points[2 * k], points[2 * k + 1]));
            }
            let speaker = ["Ann", "Dr. Lee"][rng.below(2) as usize];
            let mut cue = DynamicCue::with_times(
                &Cue {
                    speaker: (rng.below(3) == 0).then(|| speaker.to_string()),
                    ..Cue::new(start, end, text.as_str())
                },
                &timed,
            );
            cue.emphasis = (0..cue.words.len()).map(|_| rng.below(4) == 0).collect();
            cues.push(cue);
            t = end + 10 * rng.below(100) as u32;
        }
        // Word lists split at no-break spaces too: re-time those cues.
        for cue in &mut cues {
            if cue.timing != WordTiming::Transcript {
                let fresh = DynamicCue::proportional(&cue.cue());
                cue.words = fresh.words;
                cue.emphasis = vec![false; cue.words.len()];
                cue.timing = WordTiming::Transcript;
            }
        }
        let vtt = to_vtt_words(&cues);
        assert_eq!(parse_vtt_words(&vtt).unwrap(), cues, "round {round}\n{vtt}");
        let ass = to_ass(&cues, &style);
        let centis = |c: &DynamicCue| {
            c.words
                .iter()
                .all(|w| w.start_ms % 10 == 0 && w.end_ms % 10 == 0)
        };
        let back = parse_ass(&ass).unwrap().cues;
        for (a, b) in cues.iter().zip(&back) {
            if centis(a) {
                assert_eq!(a, b, "round {round}\n{ass}");
            } else {
                assert_eq!(
                    (&a.text, &a.emphasis),
                    (&b.text, &b.emphasis),
                    "round {round}"
                );
            }
        }
        assert_eq!(back.len(), cues.len());
    }
}

/// Words said one after another from `start`, each `said` ms long with
/// `silence` ms between, and a longer silence (`pause` ms) before word
/// `pause_before`.
fn say(text: &str, start: u32, said: u32, silence: u32, pause: (usize, u32)) -> Vec<TimedWord> {
    let mut t = start;
    text.split_whitespace()
        .enumerate()
        .map(|(k, w)| {
            if k > 0 {
                t += if k == pause.0 { pause.1 } else { silence };
            }
            let word = TimedWord::new(w.to_uppercase(), t, t + said);
            t += said;
            word
        })
        .collect()
}

/// Checks the words of a word-timed cue: one per word of its text, in
/// order, inside the cue, not overlapping.
fn check_words(cue: &DynamicCue, ctx: &str) {
    let texts: Vec<&str> = cue.text.split_whitespace().collect();
    assert_eq!(cue.words.len(), texts.len(), "{ctx}");
    let mut at = cue.start_ms;
    for (w, t) in cue.words.iter().zip(&texts) {
        assert_eq!(w.text, *t, "{ctx}");
        assert!(at <= w.start_ms && w.start_ms <= w.end_ms, "{ctx}");
        assert!(w.end_ms <= cue.end_ms, "{ctx}");
        at = w.end_ms;
    }
    assert!(cue.start_ms < cue.end_ms, "{ctx}");
}

#[test]
fn word_timed_cues_are_cut_at_the_pause() {
    // 15 words, no punctuation: too long for one cue of two 42-character
    // lines. Said briskly, with a 1.5 s silence before "when".
    let text = "we walked along the old river path for most of the afternoon \
                when the rain finally started to fall";
    let pause_at = text.split_whitespace().position(|w| w == "when").unwrap();
    let heard = say(text, 2000, 220, 20, (pause_at, 1500));
    let seg = Cue::new(1900, heard.last().unwrap().end_ms + 1000, text);
    let rules = CaptionRules::default();

    let plan = caption_cues_with_words(std::slice::from_ref(&seg), &heard, &rules);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let texts: Vec<&str> = plan.cues.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "we walked along the old river\npath for most of the afternoon",
            "when the rain finally started to fall"
        ]
    );
    let (first, second) = (&plan.cues[0], &plan.cues[1]);
    // The second cue appears with its first word; the first stays up after
    // its last word (it needs 800 ms at least, and time to read), but not
    // into the second.
    let before = &heard[pause_at - 1];
    let after = &heard[pause_at];
    assert_eq!(first.start_ms, heard[0].start_ms);
    assert!(first.end_ms >= before.end_ms && first.end_ms <= after.start_ms);
    assert_eq!(second.start_ms, after.start_ms);
    assert!(second.end_ms >= heard.last().unwrap().end_ms && second.end_ms <= seg.end_ms);
    // Without room after its words a cue starts earlier, before its first
    // word, to be readable.
    let short = Cue::new(1900, heard.last().unwrap().end_ms + 100, text);
    let plan2 = caption_cues_with_words(std::slice::from_ref(&short), &heard, &rules);
    assert!(plan2.warnings.is_empty(), "{:?}", plan2.warnings);
    assert_eq!(plan2.cues[1].end_ms, short.end_ms);
    assert_eq!(plan2.cues[1].end_ms - plan2.cues[1].start_ms, 2177);
    assert!(plan2.cues[1].start_ms < after.start_ms);
    // Reading speed: 60 characters at 17 per second need 3,530 ms; its 12
    // words take 2,860 ms, so the cue runs on into the silence.
    assert_eq!(before.end_ms - first.start_ms, 2860);
    assert_eq!(first.end_ms - first.start_ms, 3530);
    // Every word keeps the recogniser's time, in its own cue.
    let mut k = 0;
    for cue in &plan.cues {
        assert_eq!(cue.timing, WordTiming::Transcript);
        check_words(cue, "");
        for w in &cue.words {
            assert_eq!((w.start_ms, w.end_ms), (heard[k].start_ms, heard[k].end_ms));
            k += 1;
        }
    }
    assert_eq!(k, heard.len());

    // The same words through `caption_cues` and `assign_words`: the cut is
    // made by characters and the time shared by characters, so words end
    // up in the wrong cue and both cues fall back to estimates.
    let old = caption_cues(std::slice::from_ref(&seg), &rules);
    assert_eq!(old.cues.len(), 2);
    // (By characters alone the cut is elsewhere: the silence is unseen.)
    assert_eq!(old.cues[0].text, "we walked along the old");
    assert_ne!(old.cues[1].start_ms, after.start_ms);
    let assigned = assign_words(&old.cues, &heard);
    assert!(
        assigned
            .cues
            .iter()
            .all(|c| c.timing == WordTiming::Proportional),
        "{:?}",
        assigned.cues
    );
    assert_eq!(assigned.warnings.len(), 2, "{:?}", assigned.warnings);
}

#[test]
fn word_timed_cues_keep_the_gap_and_close_short_blanks() {
    // Three sentences, one line per cue: 120 ms and 900 ms silences.
    let text = "First part is here. Second part follows. Third part ends it.";
    let mut heard = say(text, 0, 200, 20, (4, 120));
    for w in &mut heard[7..] {
        w.start_ms += 900;
        w.end_ms += 900;
    }
    let seg = Cue::new(0, 10_000, text);
    let rules = CaptionRules {
        max_lines: 1,
        max_chars_per_line: 20,
        min_cue_ms: 0,
        max_chars_per_second: f64::NAN,
        gap_ms: 80,
    };
    let plan = caption_cues_with_words(&[seg], &heard, &rules);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let spans: Vec<(u32, u32, &str)> = plan
        .cues
        .iter()
        .map(|c| (c.start_ms, c.end_ms, c.text.as_str()))
        .collect();
    // The 120 ms silence is closed down to the 80 ms gap (the first cue
    // stays up 40 ms after its last word); the 900 ms one is kept.
    assert_eq!(
        spans,
        [
            (0, heard[4].start_ms - 80, "First part is here."),
            (heard[4].start_ms, heard[6].end_ms, "Second part follows."),
            (heard[7].start_ms, heard[10].end_ms, "Third part ends it."),
        ]
    );
    for cue in &plan.cues {
        check_words(cue, "");
        assert_eq!(cue.timing, WordTiming::Transcript);
    }
}

#[test]
fn word_timing_mismatch_falls_back_per_segment() {
    let segments = [
        Cue::new(0, 2000, "one two three"),
        Cue::new(2000, 4000, "four five six"),
        Cue::new(5000, 7000, "seven eight"),
    ];
    let heard = [
        TimedWord::new("one", 100, 500),
        TimedWord::new("two", 600, 1000),
        TimedWord::new("three", 1100, 1900),
        TimedWord::new("four", 2100, 2500),
        TimedWord::new("five-six", 2600, 3900),
        TimedWord::new("lost", 4300, 4700),
    ];
    let rules = CaptionRules::default();
    let plan = caption_cues_with_words(&segments, &heard, &rules);
    let old = caption_cues(&segments, &rules);
    assert_eq!(plan.cues.len(), 3);
    assert_eq!(plan.cues[0].timing, WordTiming::Transcript);
    assert_eq!((plan.cues[0].start_ms, plan.cues[0].end_ms), (100, 1900));
    // The other two fall back to `caption_cues`'s cues and estimated words.
    for k in [1, 2] {
        assert_eq!(plan.cues[k].timing, WordTiming::Proportional);
        assert_eq!(plan.cues[k].cue(), old.cues[k]);
        assert_eq!(plan.cues[k].words, estimate_words(&old.cues[k]));
    }
    assert_eq!(plan.warnings.len(), 3, "{:?}", plan.warnings);
    assert!(plan.warnings[0].starts_with(
        "segment 2 (0:00:02.000–0:00:04.000): 3 words in the text but 2 timed words; \
         captions timed by characters"
    ));
    assert!(
        plan.warnings[1].starts_with(
            "segment 3 (0:00:05.000–0:00:07.000): 2 words in the text but 0 timed words"
        )
    );
    assert_eq!(
        plan.warnings[2],
        "1 timed word fell in no segment and is not shown"
    );

    // Without timed words: exactly `caption_cues`, with its warnings only.
    let segments = [
        Cue::new(
            0,
            3000,
            "This is far too much text to read in three seconds, really.",
        ),
        Cue::new(3000, 3000, "No time"),
        Cue::new(4000, 9000, "Fine."),
    ];
    let plan = caption_cues_with_words(&segments, &[], &rules);
    let old = caption_cues(&segments, &rules);
    let cues: Vec<Cue> = plan.cues.iter().map(DynamicCue::cue).collect();
    assert_eq!(cues, old.cues);
    assert_eq!(plan.warnings, old.warnings);
    assert!(!old.warnings.is_empty());
    assert!(
        plan.cues
            .iter()
            .all(|c| c.timing == WordTiming::Proportional)
    );
}

#[test]
fn word_timed_captions_hold_over_a_generated_transcript() {
    const WORDS: [&str; 16] = [
        "the",
        "a",
        "caption",
        "reads",
        "quickly",
        "über",
        "naïve",
        "日本語の",
        "I",
        "well,",
        "extraordinarily",
        "(quoted)",
        "\"yes\"",
        "—",
        "ok.",
        "river",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut transcript_cues = 0;
    let mut old_estimated = 0;
    let (mut clean, mut total) = (0usize, 0usize);
    for round in 0..6 {
        let rules = CaptionRules {
            max_chars_per_line: [42, 32, 20, 12, 42, 37][round],
            max_lines: [2, 1, 3, 2, 1, 2][round],
            max_chars_per_second: [17.0, 20.0, 12.0, f64::INFINITY, 17.0, 15.0][round],
            min_cue_ms: [800, 1000, 0, 800, 1200, 500][round],
            gap_ms: [0, 0, 40, 83, 0, 120][round],
        };
        // 200 segments of 1 to 30 words, said at speaking pace with short
        // and long silences, each segment a little wider than its words.
        let mut segments = Vec::new();
        let mut heard = Vec::new();
        let mut t = 500 + rng.below(5000) as u32;
        for _ in 0..200 {
            let n = 1 + rng.below(30) as usize;
            let mut text = Vec::new();
            let first = heard.len();
            for k in 0..n {
                let w = if rng.below(60) == 0 {
                    "Pneumonoultramicroscopicsilicovolcanoconiosis"
                } else {
                    WORDS[rng.below(WORDS.len() as u64) as usize]
                };
                text.push(w);
                if k > 0 {
                    t += match rng.below(10) {
                        0 => 300 + rng.below(1700) as u32,
                        1 | 2 => 0,
                        _ => rng.below(150) as u32,
                    };
                }
                let said = 150 + rng.below(450) as u32;
                heard.push(TimedWord::new(w, t, t + said));
                t += said;
            }
            let start = heard[first].start_ms - rng.below(300) as u32;
            let end = t + rng.below(400) as u32;
            segments.push(Cue::new(start, end, text.join(" ").as_str()));
            // The next segment starts at 0 to 300 ms before its first word.
            t = end + 300 + [0, 0, 50, 400, 2000][rng.below(5) as usize] as u32;
        }
        let plan = caption_cues_with_words(&segments, &heard, &rules);
        let ctx = format!("round {round}: {rules:?}\n{:?}", plan.warnings);

        // In order, never overlapping, the gap kept between segments.
        for pair in plan.cues.windows(2) {
            assert!(pair[0].end_ms <= pair[1].start_ms, "{ctx}");
        }
        let mut next_cue = 0;
        let mut next_word = 0;
        for (i, s) in segments.iter().enumerate() {
            let name = format!("segment {} ", i + 1);
            let warned = plan.warnings.iter().any(|w| w.starts_with(&name));
            total += 1;
            clean += usize::from(!warned);
            let mine: Vec<&DynamicCue> = plan.cues[next_cue..]
                .iter()
                .take_while(|c| c.start_ms >= s.start_ms && c.end_ms <= s.end_ms)
                .collect();
            next_cue += mine.len();
            assert!(!mine.is_empty(), "{i} {ctx}");
            if let Some(next) = plan.cues.get(next_cue) {
                assert!(
                    mine[mine.len() - 1].end_ms + rules.gap_ms <= next.start_ms,
                    "{ctx}"
                );
            }
            for pair in mine.windows(2) {
                assert!(pair[0].end_ms + rules.gap_ms <= pair[1].start_ms, "{ctx}");
            }
            // All the segment's words, in order, nothing added or lost.
            let shown: String = mine
                .iter()
                .flat_map(|c| c.text.split_whitespace())
                .collect();
            assert_eq!(
                shown,
                s.text.split_whitespace().collect::<String>(),
                "{ctx}"
            );
            for c in &mine {
                transcript_cues += 1;
                assert_eq!(c.timing, WordTiming::Transcript, "{i} {ctx}");
                check_words(c, &ctx);
                let lines: Vec<&str> = c.text.split('\n').collect();
                assert!(lines.len() <= rules.max_lines, "{ctx}");
                assert!(
                    lines
                        .iter()
                        .all(|l| l.chars().count() <= rules.max_chars_per_line),
                    "{ctx}"
                );
                if !warned {
                    assert!(c.end_ms - c.start_ms >= rules.min_cue_ms, "{i} {ctx}");
                    let cps =
                        c.text.chars().count() as f64 * 1000.0 / f64::from(c.end_ms - c.start_ms);
                    assert!(cps <= rules.max_chars_per_second + 1e-6, "{i} {ctx}");
                }
                // Whole words keep the recogniser's times where no gap
                // pushed them; none is moved out of its cue.
                for w in &c.words {
                    let said = &heard[next_word];
                    if w.text == said.text {
                        if rules.gap_ms == 0 {
                            assert_eq!(
                                (w.start_ms, w.end_ms),
                                (said.start_ms, said.end_ms),
                                "{ctx}"
                            );
                        }
                        next_word += 1;
                    } else {
                        // A piece of a hard-broken word, inside its time.
                        assert!(said.text.contains(&w.text), "{ctx}");
                        if rules.gap_ms == 0 {
                            assert!(w.start_ms >= said.start_ms && w.end_ms <= said.end_ms);
                        }
                        next_word += usize::from(said.text.ends_with(&w.text));
                    }
                }
            }
        }
        assert_eq!(next_cue, plan.cues.len(), "{ctx}");

        // The old way loses words to the wrong cues.
        let old = caption_cues(&segments, &rules);
        old_estimated += assign_words(&old.cues, &heard)
            .cues
            .iter()
            .filter(|c| c.timing == WordTiming::Proportional)
            .count();
    }
    assert!(transcript_cues > 1000, "{transcript_cues}");
    // Both sides of the rules are exercised.
    assert!(
        clean * 4 > total && clean * 4 < total * 3,
        "{clean} of {total}"
    );
    assert!(old_estimated > 100, "{old_estimated}");
}

#[test]
fn word_timed_captions_survive_hostile_input() {
    let rules = CaptionRules::default();
    let check = |segments: &[Cue], heard: &[TimedWord], rules: &CaptionRules| {
        let plan = caption_cues_with_words(segments, heard, rules);
        for c in &plan.cues {
            let ctx = format!("{segments:?}\n{heard:?}\n{c:?}");
            assert!(c.start_ms < c.end_ms, "{ctx}");
            if c.timing == WordTiming::Transcript {
                check_words(c, &ctx);
            }
            let times = c.word_times();
            assert_eq!(times.len(), c.text.split_whitespace().count(), "{ctx}");
        }
        plan
    };
    let seg = Cue::new(1000, 4000, "one two three four");
    // Words out of order: taken in time order.
    let heard = [
        TimedWord::new("three", 2500, 2900),
        TimedWord::new("one", 1000, 1400),
        TimedWord::new("four", 3000, 3900),
        TimedWord::new("two", 1500, 1900),
    ];
    let plan = check(std::slice::from_ref(&seg), &heard, &rules);
    assert_eq!(plan.cues[0].timing, WordTiming::Transcript);
    assert_eq!(plan.cues[0].words[1].start_ms, 1500);
    // Zero-length and inverted words, all at one instant, and at the edges.
    for heard in [
        vec![TimedWord::new("x", 2000, 2000); 4],
        vec![TimedWord::new("x", 3000, 1000); 4],
        vec![TimedWord::new("x", 1000, 1000); 4],
        vec![TimedWord::new("x", 3999, 3999); 4],
        vec![TimedWord::new("x", 3999, 4001); 4],
    ] {
        let plan = check(std::slice::from_ref(&seg), &heard, &rules);
        assert_eq!(plan.cues.len(), 1);
    }
    // Many cues in a segment whose words are squeezed together, and a
    // window shorter than its cues (falls back, with a warning).
    let text: String = (0..60).map(|i| format!("word{i} ")).collect();
    let squeezed = vec![TimedWord::new("x", 5000, 5000); 60];
    let tight = CaptionRules {
        max_chars_per_line: 6,
        max_lines: 1,
        gap_ms: 500,
        ..CaptionRules::default()
    };
    for (start, end) in [(5000, 5100), (5000, 5020), (4990, 5010)] {
        let plan = check(&[Cue::new(start, end, text.as_str())], &squeezed, &tight);
        assert!(!plan.cues.is_empty());
    }
    // Overlapping segments, segments starting together, unsorted, empty,
    // without duration; words outside every segment; times near u32::MAX.
    let segments = [
        Cue::new(5000, 9000, "late overlapping one"),
        Cue::new(1000, 6000, "early long one here"),
        Cue::new(1000, 2000, "same start"),
        Cue::new(3000, 3000, "no time"),
        Cue::new(7000, 8000, "  \n "),
        Cue::new(u32::MAX - 100, u32::MAX, "at the very end"),
        Cue::new(u32::MAX - 5, u32::MAX, "a b c d e f g h i j"),
    ];
    let mut heard = Vec::new();
    for (k, w) in "late overlapping one early long one here same start no time"
        .split_whitespace()
        .enumerate()
    {
        let t = 900 + 700 * k as u32;
        heard.push(TimedWord::new(w, t, t + 650));
    }
    heard.push(TimedWord::new("far", 100_000, 100_500));
    heard.extend(
        ["at", "the", "very", "end"]
            .iter()
            .enumerate()
            .map(|(k, w)| TimedWord::new(*w, u32::MAX - 90 + 20 * k as u32, u32::MAX)),
    );
    for gap_ms in [0, 100, 5000] {
        for max_chars_per_line in [0, 1, 5, 42] {
            let rules = CaptionRules {
                gap_ms,
                max_chars_per_line,
                max_chars_per_second: if gap_ms == 0 { f64::NAN } else { -1.0 },
                ..CaptionRules::default()
            };
            check(&segments, &heard, &rules);
            check(&segments, &[], &rules);
            let mut shuffled = heard.clone();
            shuffled.reverse();
            check(&segments, &shuffled, &rules);
        }
    }
    check(&[], &heard, &rules);
    // 10,000 words in one segment.
    let text: String = (0..10_000).map(|i| format!("w{} ", i % 97)).collect();
    let cue = Cue::new(0, 600_000, text.as_str());
    let words = estimate_words(&cue);
    let plan = check(std::slice::from_ref(&cue), &words, &rules);
    assert!(plan.cues.iter().all(|c| c.timing == WordTiming::Transcript));
}

#[test]
fn a_cue_sits_where_its_position_says_with_the_same_line_breaks() {
    let cue = DynamicCue::proportional(&Cue::new(0, 2000, "Top, middle or bottom"));
    let at = |position| {
        let look = DynamicLook {
            position,
            ..DynamicLook::default()
        };
        DynamicCaption::new(&font(), &cue, &look, W, H).unwrap()
    };
    let (top, middle, bottom) = (
        at(CaptionPosition::Top).rect(),
        at(CaptionPosition::Middle).rect(),
        at(CaptionPosition::Bottom).rect(),
    );
    assert!(top.y + (top.height as i32) < H as i32 / 4, "{top:?}");
    let centre = middle.y + middle.height as i32 / 2;
    assert!((centre - H as i32 / 2).abs() <= 2, "{middle:?}");
    assert!(bottom.y > 3 * H as i32 / 4, "{bottom:?}");
    // Only the place changes.
    assert_eq!(
        (top.x, top.width, top.height),
        (bottom.x, bottom.width, bottom.height)
    );
    let mut drawn = frame(0);
    let rect = at(CaptionPosition::Top).draw(&mut drawn, 500).unwrap();
    assert_eq!(rect, top);
}
