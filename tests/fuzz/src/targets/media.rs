//! `.cube` LUTs, SRT and WebVTT transcripts, WAV audio (`kino-kernels`).

use kino_kernels::captions::{CaptionRules, caption_cues};
use kino_kernels::lut::parse_cube;
use kino_kernels::subtitle::{self, Cue};
use kino_kernels::wav::{self, Pcm};

use super::{Outcome, Target, bucket, no_seeds, text};

/// A `.cube` LUT, as the ad pipeline reads a grader's LUT, then applied to
/// a frame both ways; what `to_cube_string` writes must read back the same.
pub const LUT: Target = Target {
    name: "lut",
    about: ".cube: parse_cube, apply_rgb8/apply_rgb_f32, write and re-read",
    run: lut,
    dictionary: &[LUT_TOKENS],
    max_len: 64 << 10,
    generated_seeds: no_seeds,
};

const LUT_TOKENS: &[&[u8]] = &[
    b"TITLE ",
    b"TITLE \"",
    b"LUT_3D_SIZE ",
    b"LUT_1D_SIZE ",
    b"DOMAIN_MIN ",
    b"DOMAIN_MAX ",
    b"LUT_1D_INPUT_RANGE ",
    b"LUT_3D_INPUT_RANGE ",
    b"lut_3d_size",
    b"#",
    b"\n",
    b"\r\n",
    b"\r",
    b"\"",
    b" ",
    b"\t",
    b"0 0 0\n",
    b"1 1 1\n",
    b"0.5 0.5 0.5\n",
    b"-1",
    b"1e-45",
    b"3.4028235e38",
    b"1e39",
    b"2",
    b"129",
    b"130",
    b"65536",
    b"\xef\xbb\xbf",
];

fn lut(bytes: &[u8]) -> Outcome {
    let text = text(bytes);
    let lut = match parse_cube(&text) {
        Ok(lut) => lut,
        Err(e) => return Outcome::err(e),
    };
    // Every 8-bit level on each channel, and floats around and outside the domain.
    let mut frame: Vec<u8> = (0..=255u8).flat_map(|v| [v, 255 - v, v / 2]).collect();
    lut.apply_rgb8(&mut frame)
        .expect("an 8-bit frame of whole pixels");
    let mut floats: Vec<f32> = [
        -1.0,
        0.0,
        0.25,
        0.5,
        0.999,
        1.0,
        2.0,
        -0.0,
        f32::MAX,
        f32::MIN,
    ]
    .iter()
    .flat_map(|&v| [v, 1.0 - v, v * 0.5])
    .collect();
    lut.apply_rgb_f32(&mut floats).expect("float pixels");
    let written = lut.to_cube_string();
    let back = parse_cube(&written).unwrap_or_else(|e| {
        panic!("property: a LUT the host writes must read back: {e}\n{written}")
    });
    assert!(
        back == lut,
        "property: a written LUT reads back the same\n{written}"
    );
    Outcome::ok(format!(
        "size={} shaper={} title={}",
        bucket(lut.size()),
        lut.shaper().is_some(),
        lut.title().is_some()
    ))
}

/// A transcript (SRT or WebVTT) as the dub and caption pipelines read an
/// uploaded one: `subtitle::parse` (and each format's parser directly),
/// segments into caption cues, and the SRT and WebVTT files the host writes.
pub const SUBTITLES: Target = Target {
    name: "subtitles",
    about: "SRT/WebVTT: parse, parse_srt, parse_vtt, captions, write and re-read",
    run: subtitles,
    dictionary: &[SUBTITLE_TOKENS],
    max_len: 64 << 10,
    generated_seeds: no_seeds,
};

const SUBTITLE_TOKENS: &[&[u8]] = &[
    b"-->",
    b" --> ",
    b"WEBVTT",
    b"WEBVTT\n\n",
    b"\n\n",
    b"\r\n",
    b"\r",
    b"00:00:01,000",
    b"00:00:02.500",
    b"00:01.000",
    b"99:59:59,999",
    b"4294967:00:00,000",
    b",",
    b".",
    b":",
    b"<v Ann>",
    b"<v.loud Mary Jane>",
    b"</v>",
    b"<i>",
    b"</i>",
    b"<b>",
    b"<c.yellow>",
    b"<00:00:02.000>",
    b"<",
    b">",
    b"{\\an8}",
    b"{",
    b"}",
    b"&amp;",
    b"&lt;",
    b"&nbsp;",
    b"&#65;",
    b"&#x10FFFF;",
    b"&#xD800;",
    b"&#99999999999;",
    b"&",
    b";",
    b"NOTE ",
    b"STYLE\n",
    b"REGION\n",
    b"align:start position:10%",
    b"\xef\xbb\xbf",
    b"\xc2\xa0",
    b"\t",
    b"1\n",
];

fn subtitles(bytes: &[u8]) -> Outcome {
    let text = text(bytes);
    let srt = subtitle::parse_srt(&text);
    let vtt = subtitle::parse_vtt(&text);
    // A cue's text never holds a line its own format reads as a timing
    // line: a cue that follows without a blank line starts there. (Only
    // without markup or references: `00:01,000<b> --> ...` is text, and
    // reads as a timing line once the tag is stripped.)
    let plain = !text.contains(['<', '{', '&']);
    for (cues, wrap) in [(&srt, "1\n{}\nx\n"), (&vtt, "WEBVTT\n\n{}\nx\n")] {
        if !plain {
            break;
        }
        for line in cues.iter().flatten().flat_map(|c| c.text.lines()) {
            if line.contains("-->") {
                let alone = wrap.replace("{}", line);
                assert!(
                    subtitle::parse(&alone).is_err(),
                    "property: a cue's text holds no timing line: {line:?}"
                );
            }
        }
    }
    let outcome = Outcome::all([shape(&srt), shape(&vtt)]);
    let Ok(cues) = subtitle::parse(&text) else {
        return outcome;
    };
    written_files_read_back(&cues);
    // What the caption pipeline does with an uploaded transcript: its line
    // breaks are layout, not speech; then cues under the reading rules.
    let segments: Vec<Cue> = cues
        .iter()
        .map(|c| Cue {
            text: c.text.replace('\n', " "),
            ..c.clone()
        })
        .collect();
    let plan = caption_cues(&segments, &CaptionRules::default());
    if segments.len() <= 256 {
        for cue in &plan.cues {
            assert!(
                segments
                    .iter()
                    .any(|s| s.start_ms <= cue.start_ms && cue.end_ms <= s.end_ms),
                "property: every caption lies inside its segment: {cue:?}"
            );
        }
    }
    // Every cue has a duration (a segment with fewer milliseconds than
    // cues shares them out), so the caption files read back whole.
    assert!(
        plan.cues.iter().all(|c| c.end_ms > c.start_ms),
        "property: every caption lasts a millisecond at least"
    );
    written_files_read_back(&plan.cues);
    Outcome::all([
        outcome,
        Outcome::ok(format!(
            "captions={} warnings={}",
            bucket(plan.cues.len()),
            bucket(plan.warnings.len())
        )),
    ])
}

fn shape(cues: &Result<Vec<Cue>, subtitle::SubtitleError>) -> Outcome {
    match cues {
        Ok(cues) => Outcome::ok(format!(
            "cues={} speakers={}",
            bucket(cues.len()),
            cues.iter().any(|c| c.speaker.is_some())
        )),
        Err(e) => Outcome::err(e),
    }
}

/// The SRT and WebVTT files the host writes of `cues` read back as them
/// (SRT has no speakers).
fn written_files_read_back(cues: &[Cue]) {
    if cues.is_empty() {
        return;
    }
    let vtt = subtitle::to_vtt(cues);
    match subtitle::parse(&vtt) {
        Ok(back) => assert!(
            back == cues,
            "property: the WebVTT the host writes reads back the same\n{cues:?}\n{vtt}\n{back:?}"
        ),
        Err(e) => {
            panic!("property: the WebVTT the host writes must read back: {e}\n{cues:?}\n{vtt}")
        }
    }
    // SRT has no escapes: text with tags, SSA overrides or arrows cannot
    // survive it (the subtitle module's own round-trip test leaves them out).
    let srt_safe =
        |c: &Cue| !(c.text.contains('<') || c.text.contains("{\\") || c.text.contains("-->"));
    if !cues.iter().all(srt_safe) {
        return;
    }
    let srt = subtitle::to_srt(cues);
    let unvoiced: Vec<Cue> = cues
        .iter()
        .map(|c| Cue {
            speaker: None,
            ..c.clone()
        })
        .collect();
    match subtitle::parse(&srt) {
        Ok(back) => {
            let back: Vec<Cue> = back
                .into_iter()
                .map(|c| Cue { speaker: None, ..c })
                .collect();
            assert!(
                back == unvoiced,
                "property: the SRT the host writes reads back the same\n{cues:?}\n{srt}\n{back:?}"
            );
        }
        Err(e) => panic!("property: the SRT the host writes must read back: {e}\n{cues:?}\n{srt}"),
    }
}

/// WAV bytes, through the decoder `read_wav` uses for every audio file the
/// pipelines read (`decode_wav_bytes` is the same decoder over memory).
pub const WAV: Target = Target {
    name: "wav",
    about: "WAV: decode_wav_bytes, validate, to_mono",
    run: wav,
    dictionary: &[WAV_TOKENS],
    max_len: 64 << 10,
    generated_seeds: wav_seeds,
};

const WAV_TOKENS: &[&[u8]] = &[
    b"RIFF",
    b"RIFX",
    b"RF64",
    b"WAVE",
    b"fmt ",
    b"data",
    b"LIST",
    b"fact",
    b"JUNK",
    b"\x10\x00\x00\x00",
    b"\x12\x00\x00\x00",
    b"\x28\x00\x00\x00",
    b"\x01\x00",
    b"\x03\x00",
    b"\xfe\xff",
    b"\x55\x00",
    b"\x00\x00\x00\x00",
    b"\xff\xff\xff\xff",
    b"\x00\x00\xff\x7f",
    b"\x44\xac\x00\x00",
    b"\x80\x3e\x00\x00",
    b"\x08\x00",
    b"\x10\x00",
    b"\x18\x00",
    b"\x20\x00",
    b"\x40\x00",
    b"\x0c\x00",
    b"\x00\x00\x80\x7f",
    b"\x00\x00\xc0\x7f",
    b"\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71",
];

fn wav(bytes: &[u8]) -> Outcome {
    match wav::decode_wav_bytes(bytes) {
        Ok(pcm) => {
            pcm.validate()
                .unwrap_or_else(|e| panic!("property: decoded audio is consistent: {e}"));
            let mono = pcm.to_mono();
            assert_eq!(
                mono.frames(),
                pcm.frames(),
                "property: a downmix keeps the frames"
            );
            let _ = pcm.duration_secs();
            Outcome::ok(format!(
                "channels={} frames={} rate={}",
                bucket(usize::from(pcm.channels)),
                bucket(pcm.frames()),
                bucket(pcm.sample_rate as usize)
            ))
        }
        // `JUNK chunk of 12 bytes runs past the end`: the chunk's id is the input's.
        Err(e) => Outcome::err(match e.to_string().split_once(" chunk of ") {
            Some((head, tail)) => {
                let head = head.rsplit_once(' ').map_or("", |(h, _)| h);
                format!("{head} _ chunk of {tail}")
            }
            None => e.to_string(),
        }),
    }
}

/// WAV files of each sample format the decoder takes: written by the
/// crate's own writers (32-bit float, 16-bit PCM) and laid out by hand
/// (8/24/32-bit PCM, 64-bit float, `WAVE_FORMAT_EXTENSIBLE`, an odd-sized
/// chunk before the data, a streaming placeholder length).
fn wav_seeds() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pcm = Pcm {
        sample_rate: 16_000,
        channels: 2,
        samples: (0..32).map(|i| (i as f32 / 16.0) - 1.0).collect(),
    };
    let mut seeds = Vec::new();
    let float = dir.path().join("float.wav");
    wav::write_wav(&float, &pcm).expect("writing a seed wav");
    seeds.push(std::fs::read(&float).expect("reading a seed wav"));
    let int16 = dir.path().join("int16.wav");
    wav::write_wav_pcm16(&int16, &pcm).expect("writing a seed wav");
    seeds.push(std::fs::read(&int16).expect("reading a seed wav"));
    let data: Vec<u8> = (0..48u8).map(|b| b.wrapping_mul(37)).collect();
    seeds.push(riff(1, 1, 8, 8000, &[], &data, None));
    seeds.push(riff(1, 2, 24, 48_000, &[], &data, None));
    seeds.push(riff(1, 1, 32, 44_100, &[(*b"LIST", b"INFOx")], &data, None));
    seeds.push(riff(3, 1, 64, 22_050, &[], &data, None));
    seeds.push(riff(0xfffe, 2, 16, 16_000, &[], &data, None));
    seeds.push(riff(1, 1, 16, 16_000, &[], &data, Some(0xffff_ffff)));
    seeds
}

/// A RIFF/WAVE file: `fmt ` (extensible when `tag` is 0xfffe), `extra`
/// chunks, then `data` (its declared length `data_len` or the real one).
fn riff(
    tag: u16,
    channels: u16,
    bits: u16,
    rate: u32,
    extra: &[([u8; 4], &[u8])],
    data: &[u8],
    data_len: Option<u32>,
) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if tag == 0xfffe {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&3u32.to_le_bytes());
        // KSDATAFORMAT_SUBTYPE_PCM
        fmt.extend_from_slice(&[
            1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71,
        ]);
    }
    let mut body = b"WAVE".to_vec();
    let mut chunk = |id: &[u8], bytes: &[u8], len: u32| {
        body.extend_from_slice(id);
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(bytes);
        if bytes.len() % 2 == 1 {
            body.push(0);
        }
    };
    chunk(b"fmt ", &fmt, fmt.len() as u32);
    for (id, bytes) in extra {
        chunk(id, bytes, bytes.len() as u32);
    }
    chunk(b"data", data, data_len.unwrap_or(data.len() as u32));
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}
