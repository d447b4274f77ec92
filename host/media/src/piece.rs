//! A finished H.264 video read as packets, to be copied frame by frame into
//! a longer video ([`crate::Mp4Writer::copy_frame`]) instead of being
//! decoded and encoded again.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use ff::{Packet, Rational, codec, media};
use ffmpeg_next as ff;

use crate::demux::Demuxer;

/// The best video stream of a file, its packets in order: one per frame,
/// with where its key frames are.
pub struct Piece {
    path: PathBuf,
    demuxer: Demuxer,
    index: usize,
    params: codec::Parameters,
    rate: Rational,
    frames: usize,
    key_frames: Vec<usize>,
    /// Whether every packet's timestamp follows the one before (no frame is
    /// stored ahead of its turn, as B-frames are).
    in_order: bool,
}

impl Piece {
    /// Opens `path` and reads through its video packets once (nothing is
    /// decoded) to count its frames and find its key frames.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut scan = Demuxer::open(path)?;
        let (index, params, rate) = {
            let stream = scan
                .input()
                .streams()
                .best(media::Type::Video)
                .ok_or_else(|| anyhow!("{}: no video stream", path.display()))?;
            let rate = stream.avg_frame_rate();
            (stream.index(), stream.parameters(), rate)
        };
        let mut frames = 0;
        let mut key_frames = Vec::new();
        let mut in_order = true;
        let mut last_pts = None;
        let mut packet = Packet::empty();
        while scan.read(&mut packet)? {
            if packet.stream() != index || packet.size() == 0 {
                continue;
            }
            if packet.is_key() {
                key_frames.push(frames);
            }
            let pts = packet.pts();
            in_order &= pts.is_some() && pts > last_pts && packet.dts() == pts;
            last_pts = pts;
            frames += 1;
        }
        Ok(Self {
            path: path.to_path_buf(),
            demuxer: Demuxer::open(path)?,
            index,
            params,
            rate,
            frames,
            key_frames,
            in_order,
        })
    }

    /// How many frames (packets) the video has.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The frames a decoder can start at, in order.
    pub fn key_frames(&self) -> &[usize] {
        &self.key_frames
    }

    /// Passes over the next `n` frames without copying them.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        for _ in 0..n {
            if self.next_annex_b()?.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// The next frame's packet, untimed, its NAL units after start codes
    /// (Annex B), as an encoder writes them: the MP4 muxer turns those into
    /// its own length-prefixed form, and would mangle units already in it.
    pub(crate) fn next_annex_b(&mut self) -> Result<Option<Packet>> {
        let mut packet = Packet::empty();
        while self.demuxer.read(&mut packet)? {
            if packet.stream() != self.index || packet.size() == 0 {
                continue;
            }
            let mut data = packet.data().unwrap_or_default().to_vec();
            let mut at = 0;
            while at < data.len() {
                let len = data
                    .get(at..at + 4)
                    .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
                    .filter(|len| at + 4 + len <= data.len())
                    .ok_or_else(|| {
                        anyhow!(
                            "{}: a video packet's NAL units overrun it (corrupt?)",
                            self.path.display()
                        )
                    })?;
                data[at..at + 4].copy_from_slice(&[0, 0, 0, 1]);
                at += 4 + len;
            }
            let mut copy = Packet::copy(&data);
            copy.set_flags(packet.flags());
            return Ok(Some(copy));
        }
        Ok(None)
    }

    /// Why this piece's packets would not decode as part of a video whose
    /// stream has `ours` parameters at `rate` frames per second.
    pub(crate) fn incompatibility(
        &self,
        ours: &codec::Parameters,
        rate: Rational,
    ) -> Option<String> {
        let name = self.path.display();
        let (theirs, ours) = (Params::of(&self.params), Params::of(ours));
        if theirs.codec != ours.codec || theirs.size != ours.size {
            return Some(format!(
                "{name}: {:?} {}x{} where the video is {:?} {}x{}",
                theirs.codec, theirs.size.0, theirs.size.1, ours.codec, ours.size.0, ours.size.1
            ));
        }
        if self.rate.reduce() != rate.reduce() {
            return Some(format!(
                "{name}: {} fps where the video is {} fps",
                self.rate, rate
            ));
        }
        if !self.in_order || theirs.reorders {
            return Some(format!("{name}: has B-frames (frames stored out of order)"));
        }
        if parameter_sets(theirs.headers) != parameter_sets(ours.headers) {
            return Some(format!(
                "{name}: encoded with other parameter sets (SPS/PPS) than the video's"
            ));
        }
        // next_annex_b reads NAL units after 4-byte lengths, as libx264 in
        // an MP4 has them, into an encoder's stream (Annex B headers).
        if self.params.id() == codec::Id::H264
            && (theirs.headers.get(4).map(|b| b & 3) != Some(3) || ours.headers.first() == Some(&1))
        {
            return Some(format!(
                "{name}: H.264 stored other than with 4-byte NAL lengths"
            ));
        }
        if self.key_frames.first() != Some(&0) {
            return Some(format!("{name}: does not start with a key frame"));
        }
        None
    }
}

/// The NAL units of H.264 out-of-band headers, as an encoder writes them
/// (Annex B: each after a start code) or as an MP4 holds them (an `avcC`
/// record: SPS and PPS each after its length), so the two compare.
fn parameter_sets(headers: &[u8]) -> Vec<&[u8]> {
    if headers.first() == Some(&1) && headers.len() > 6 {
        let mut units = Vec::new();
        let mut at = 5;
        // The SPS count is in the low 5 bits; the PPS count a whole byte.
        for mask in [0x1f, 0xff] {
            let Some(&count) = headers.get(at) else {
                return units;
            };
            at += 1;
            for _ in 0..(count & mask) {
                let Some(len) = headers.get(at..at + 2) else {
                    return units;
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let Some(unit) = headers.get(at + 2..at + 2 + len) else {
                    return units;
                };
                units.push(unit);
                at += 2 + len;
            }
        }
        return units;
    }
    let starts: Vec<usize> = headers
        .windows(3)
        .enumerate()
        .filter(|(_, w)| *w == [0, 0, 1])
        .map(|(i, _)| i + 3)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            // A unit ends where the next start code (00 00 01, or the
            // four-byte 00 00 00 01) begins.
            let end = starts.get(n + 1).map_or(headers.len(), |next| next - 3);
            let unit = &headers[start..end.max(start)];
            match starts.get(n + 1) {
                Some(_) => unit.strip_suffix(&[0]).unwrap_or(unit),
                None => unit,
            }
        })
        .collect()
}

/// What must match for packets to be copied from one stream into another.
struct Params<'a> {
    codec: codec::Id,
    size: (i32, i32),
    reorders: bool,
    /// The codec's out-of-band headers (for H.264 in MP4: SPS and PPS).
    headers: &'a [u8],
}

impl<'a> Params<'a> {
    fn of(params: &'a codec::Parameters) -> Self {
        // SAFETY: `params` wraps a valid AVCodecParameters for as long as it
        // is borrowed; `extradata` holds `extradata_size` bytes when not null.
        unsafe {
            let p = &*params.as_ptr();
            let headers = if p.extradata.is_null() || p.extradata_size <= 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(p.extradata, p.extradata_size as usize)
            };
            Self {
                codec: params.id(),
                size: (p.width, p.height),
                reorders: p.video_delay > 0,
                headers,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::fixtures::{FPS, H, Scratch, W, frame};
    use crate::{Mp4Writer, Piece, RgbFrame, VideoReader};

    /// A writer at the tests' size and rate that pieces join (no
    /// B-frames).
    fn joinable(path: impl AsRef<Path>) -> Mp4Writer {
        Mp4Writer::options(W, H, FPS)
            .joinable()
            .create(path)
            .expect("joinable")
    }

    /// A piece of `n` frames from frame `first` of the pattern, with IDRs at
    /// `keys`.
    fn piece(path: &Path, first: usize, n: usize, keys: &[usize]) -> PathBuf {
        let mut w = joinable(path);
        for i in 0..n {
            let f = frame(first + i);
            if keys.contains(&i) {
                w.write_key_frame(&f).expect("key frame");
            } else {
                w.write_video_frame(&f).expect("frame");
            }
        }
        w.finish().expect("finish");
        path.to_path_buf()
    }

    fn decoded(path: &Path) -> Vec<RgbFrame> {
        let mut r = VideoReader::open(path).expect("open");
        std::iter::from_fn(|| r.next_frame().expect("decodes")).collect()
    }

    #[test]
    fn a_repeated_frame_encodes_as_the_same_frame_written_again() {
        let dir = Scratch::new("piece-repeat");
        // The same picture six times (a key frame at 4), then another one:
        // repeated, and written in full each time.
        let write = |name: &str, repeat: bool| {
            let path = dir.join(name);
            let mut w = joinable(&path);
            assert!(w.repeat_frame(false).is_err(), "nothing to repeat yet");
            w.write_key_frame(&frame(3)).expect("key frame");
            for i in 1..6 {
                match (repeat, i == 4) {
                    (true, key) => w.repeat_frame(key).expect("repeat"),
                    (false, true) => w.write_key_frame(&frame(3)).expect("key frame"),
                    (false, false) => w.write_video_frame(&frame(3)).expect("frame"),
                }
            }
            w.write_video_frame(&frame(9)).expect("frame");
            w.finish().expect("finish");
            path
        };
        let repeated = write("repeated.mp4", true);
        let written = write("written.mp4", false);
        let frames = decoded(&repeated);
        assert_eq!(frames.len(), 7);
        assert!(
            frames == decoded(&written),
            "repeating differs from writing again"
        );
        let keys = Piece::open(&repeated).expect("open").key_frames().to_vec();
        assert!(keys.starts_with(&[0, 4]), "{keys:?}");
    }

    #[test]
    fn an_aac_track_is_copied_in_as_the_video_is_written() {
        let dir = Scratch::new("piece-aac");
        let (rate, secs) = (48_000u32, 1.5f64);
        let n = (f64::from(rate) * secs) as usize;
        let samples = (0..n)
            .flat_map(|i| {
                let t = i as f32 / rate as f32;
                [
                    (t * 440.0 * std::f32::consts::TAU).sin() * 0.3,
                    (t * 660.0 * std::f32::consts::TAU).sin() * 0.2,
                ]
            })
            .collect();
        let pcm = crate::Pcm {
            sample_rate: rate,
            channels: 2,
            samples,
        };
        let aac = dir.join("soundtrack.m4a");
        crate::write_aac(&pcm, &aac).expect("aac");

        let out = dir.join("joined.mp4");
        let mut w = Mp4Writer::options(W, H, FPS)
            .joinable()
            .copying_aac(&aac)
            .create(&out)
            .expect("joinable");
        let frames = (secs * FPS) as usize;
        for i in 0..frames {
            w.write_video_frame(&frame(i)).expect("frame");
            w.copy_audio_until((i + 1) as f64 / FPS).expect("audio");
        }
        w.finish().expect("finish");

        assert_eq!(decoded(&out).len(), frames);
        let copied = crate::decode_audio(&out, rate, 2).expect("the video's audio");
        let encoded = crate::decode_audio(&aac, rate, 2).expect("the aac's audio");
        assert!(copied.samples.len() >= pcm.samples.len());
        assert_eq!(
            copied.samples, encoded.samples,
            "the packets were not copied as they were"
        );

        let plain = dir.join("plain.mp4");
        assert!(
            Mp4Writer::options(W, H, FPS)
                .joinable()
                .copying_aac(&out)
                .create(&plain)
                .is_ok(),
            "any file with an AAC track will do"
        );
        let wav = dir.join("soundtrack.wav");
        kino_kernels::wav::write_wav(&wav, &pcm).expect("wav");
        let err = Mp4Writer::options(W, H, FPS)
            .joinable()
            .copying_aac(&wav)
            .create(&plain)
            .err()
            .expect("a WAV is refused");
        assert!(format!("{err:#}").contains("not AAC"), "{err:#}");
    }

    #[test]
    fn copied_frames_decode_as_they_did_in_their_piece() {
        let dir = Scratch::new("piece-copy");
        let a = piece(&dir.join("a.mp4"), 0, 20, &[0, 8, 13]);
        let b = piece(&dir.join("b.mp4"), 100, 12, &[0]);
        let mut scan = Piece::open(&a).expect("open a");
        assert_eq!(scan.frames(), 20);
        assert_eq!(scan.key_frames(), &[0, 8, 13]);

        // 3 encoded, a's frames 8..20 copied, 2 encoded, b's 0..12 copied.
        let out = dir.join("joined.mp4");
        let mut w = joinable(&out);
        let mut b_piece = Piece::open(&b).expect("open b");
        assert_eq!(w.cannot_copy(&scan), None);
        assert_eq!(w.cannot_copy(&b_piece), None);
        for i in 0..3 {
            w.write_video_frame(&frame(50 + i)).expect("frame");
        }
        scan.skip(8).expect("skip");
        while w.copy_frame(&mut scan).expect("copy") {}
        for i in 0..2 {
            w.write_video_frame(&frame(60 + i)).expect("frame");
        }
        while w.copy_frame(&mut b_piece).expect("copy") {}
        w.finish().expect("finish");

        let joined = decoded(&out);
        assert_eq!(joined.len(), 3 + 12 + 2 + 12);
        let (from_a, from_b) = (decoded(&a), decoded(&b));
        // Byte-identical: the same packets decode to the same pictures.
        for (k, f) in joined[3..15].iter().enumerate() {
            assert!(f.data == from_a[8 + k].data, "a's frame {}", 8 + k);
        }
        for (k, f) in joined[17..].iter().enumerate() {
            assert!(f.data == from_b[k].data, "b's frame {k}");
        }
        for (k, f) in joined.iter().enumerate() {
            assert!(
                (f.pts_secs - k as f64 / FPS).abs() < 1e-6,
                "frame {k} on time"
            );
        }
        // The frames encoded between the copies are theirs, not a neighbour's.
        let error = |a: &RgbFrame, b: &RgbFrame| {
            a.data
                .iter()
                .zip(&b.data)
                .map(|(a, b)| f64::from(a.abs_diff(*b)))
                .sum::<f64>()
                / a.data.len() as f64
        };
        let (own, other) = (
            error(&joined[15], &frame(60)),
            error(&joined[15], &frame(61)),
        );
        assert!(
            own * 1.4 < other,
            "{own} to its own frame, {other} to the next"
        );
    }

    #[test]
    fn pieces_that_would_not_decode_in_the_video_are_refused_saying_why() {
        let dir = Scratch::new("piece-refused");
        let out = dir.join("out.mp4");
        let w = joinable(&out);
        let mut bframes = Mp4Writer::create(dir.join("b.mp4"), W, H, FPS, None).expect("writer");
        for i in 0..24 {
            bframes.write_video_frame(&frame(i)).expect("frame");
        }
        bframes.finish().expect("finish");
        let why = w
            .cannot_copy(&Piece::open(dir.join("b.mp4")).expect("open"))
            .expect("B-frames refused");
        assert!(why.contains("B-frames"), "{why}");

        let mut small = Mp4Writer::options(W / 2, H / 2, FPS)
            .joinable()
            .create(dir.join("s.mp4"))
            .expect("w");
        let f = frame(0);
        let half: Vec<u8> = f
            .data
            .chunks(W as usize * 3)
            .take(H as usize / 2)
            .flat_map(|row| row[..W as usize * 3 / 2].to_vec())
            .collect();
        small
            .write_video_frame(&RgbFrame {
                width: W / 2,
                height: H / 2,
                pts_secs: 0.0,
                data: half,
            })
            .expect("frame");
        small.finish().expect("finish");
        let why = w
            .cannot_copy(&Piece::open(dir.join("s.mp4")).expect("open"))
            .expect("another size refused");
        assert!(why.contains("80x60") && why.contains("160x120"), "{why}");

        piece(&dir.join("r.mp4"), 0, 4, &[0]);
        let w30 = Mp4Writer::options(W, H, 30.0)
            .joinable()
            .create(dir.join("o30.mp4"))
            .expect("w");
        let why = w30
            .cannot_copy(&Piece::open(dir.join("r.mp4")).expect("open"))
            .expect("another rate refused");
        assert!(why.contains("fps"), "{why}");
        drop(w);
        drop(w30);
    }
}
