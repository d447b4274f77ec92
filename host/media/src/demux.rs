//! Opening a media file and reading its packets, checked against what its
//! container lists, so a file cut short is an error wherever it is read or
//! copied, not only where a decoder trips over the cut.
//!
//! An MP4 lists every sample of every track, with its size and byte offset,
//! in its index (moov). When the index is at the front (faststart) and the
//! file is cut short, libavformat (5.1) still opens it and reads it as if
//! it were whole: it returns the samples that are there, the one at the cut
//! short and flagged corrupt, then a plain end of file. [`Demuxer`] turns
//! that into an error naming the file:
//!
//! - on opening: a stream whose index lists samples past the file's end;
//! - per packet: a packet read short (`AV_PKT_FLAG_CORRUPT`) in a stream
//!   whose index gives sample sizes;
//! - at the end (or at a read error): again the index against the file's
//!   end (the index of a fragmented MP4 grows while it is read), and a
//!   stream whose index lists more samples than were read (counted from the
//!   start: not after a seek).
//!
//! Streams whose container lists no sample sizes (Matroska and WebM cues,
//! WAV, MPEG-TS, raw streams) are read as before. Nothing is decoded: the
//! checks walk the index on opening and at the end, and count packets.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use ff::{Packet, format, media};
use ffmpeg_next as ff;

/// An opened media file whose packets are read through [`Demuxer::read`].
pub(crate) struct Demuxer {
    path: PathBuf,
    input: format::context::Input,
    /// Non-empty packets read per stream since opening.
    read: Vec<u64>,
    /// Whether a seek has made `read` meaningless as a count from the start.
    seeked: bool,
}

/// What a stream's index lists: its samples with a size and a place in the
/// file, and how many of them lie whole inside the file.
struct Listing {
    listed: u64,
    held: u64,
    /// The byte just past the last listed sample.
    end: i64,
}

impl Demuxer {
    /// Opens `path`, with a clear error for missing, empty, non-media and
    /// truncated files.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        crate::init()?;
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if !meta.is_file() {
            bail!("{}: not a regular file", path.display());
        }
        if meta.len() == 0 {
            bail!("{}: empty file (0 bytes), not a media file", path.display());
        }
        let input = format::input(&path).map_err(|e| {
            if looks_like_iso_bmff(path) {
                anyhow!(
                    "{}: truncated or corrupt MP4/MOV ({e}): it has an MP4 header but no \
                     readable index (an MP4 whose moov atom is at the end is unreadable when cut short)",
                    path.display()
                )
            } else {
                anyhow!(
                    "{}: not a media file, or a corrupt one (ffmpeg: {e})",
                    path.display()
                )
            }
        })?;
        let demuxer = Self {
            path: path.to_path_buf(),
            read: vec![0; input.nb_streams() as usize],
            input,
            seeked: false,
        };
        demuxer.check_index()?;
        Ok(demuxer)
    }

    /// The opened container: its format and streams.
    pub(crate) fn input(&self) -> &format::context::Input {
        &self.input
    }

    /// Reads the next packet of any stream into `packet`: `false` at the end
    /// of the file, an error if the file turns out to be cut short.
    pub(crate) fn read(&mut self, packet: &mut Packet) -> Result<bool> {
        match packet.read(&mut self.input) {
            Ok(()) => {
                self.count(packet)?;
                Ok(true)
            }
            Err(ff::Error::Eof) => {
                self.check_index()?;
                self.check_count()?;
                Ok(false)
            }
            Err(e) => {
                // A read error mid-file is not proof of a cut; the index
                // against the file's length is.
                if let Err(cut) = self.check_index() {
                    bail!("{cut:#} (reading stopped with: {e})");
                }
                bail!(
                    "{}: cannot read (truncated or corrupt?): {e}",
                    self.path.display()
                )
            }
        }
    }

    /// Moves to the key frame at or before `ts` (in `AV_TIME_BASE` units).
    pub(crate) fn seek_back_to(&mut self, ts: i64) -> Result<(), ff::Error> {
        self.seeked = true;
        self.input.seek(ts, ..ts)
    }

    fn count(&mut self, packet: &Packet) -> Result<()> {
        let index = packet.stream();
        if index >= self.read.len() {
            self.read.resize(index + 1, 0);
        }
        if packet.size() > 0 {
            self.read[index] += 1;
        }
        if !packet.is_corrupt() {
            return Ok(());
        }
        // libavformat flags a packet it read short of the size it asked for;
        // where the index gives that size, the file ends inside the sample.
        let Some(stream) = self.input.stream(index) else {
            return Ok(());
        };
        let listing = listing(&stream, u64::MAX);
        if listing.listed == 0 {
            return Ok(()); // e.g. a WAV whose header gives no data size
        }
        let kind = kind_name(&stream);
        if self.seeked {
            bail!(
                "{}: truncated: the {kind} packet at byte {} is cut short ({} bytes read)",
                self.path.display(),
                packet.position(),
                packet.size()
            );
        }
        bail!(
            "{}: truncated: the file ends inside {kind} packet {} of the {} the container lists \
             ({} bytes of it read)",
            self.path.display(),
            self.read[index],
            listing.listed,
            packet.size()
        )
    }

    /// Fails when a stream's index lists samples past the file's end.
    fn check_index(&self) -> Result<()> {
        let len = std::fs::metadata(&self.path)
            .with_context(|| format!("cannot read {}", self.path.display()))?
            .len();
        for stream in self.input.streams() {
            let listing = listing(&stream, len);
            if listing.held < listing.listed {
                bail!(
                    "{}: truncated: the container lists {} {} packets, the file holds {} \
                     (it ends at byte {len}, its index reaches byte {})",
                    self.path.display(),
                    listing.listed,
                    kind_name(&stream),
                    listing.held,
                    listing.end
                );
            }
        }
        Ok(())
    }

    /// At the end of the file: fails when an audio or video stream's index
    /// lists more samples than were read.
    fn check_count(&self) -> Result<()> {
        if self.seeked {
            return Ok(());
        }
        for stream in self.input.streams() {
            if !matches!(
                stream.parameters().medium(),
                media::Type::Video | media::Type::Audio
            ) {
                continue;
            }
            let listed = listing(&stream, u64::MAX).listed;
            let read = self.read.get(stream.index()).copied().unwrap_or(0);
            if read < listed {
                bail!(
                    "{}: truncated: the container lists {listed} {} packets, the file holds {read}",
                    self.path.display(),
                    kind_name(&stream)
                );
            }
        }
        Ok(())
    }
}

/// The samples `stream`'s index lists with a size and a place (an MP4's
/// sample table, an AVI's idx1; not Matroska's cues, which give neither),
/// and how many lie whole within the first `file_len` bytes.
fn listing(stream: &format::stream::Stream<'_>, file_len: u64) -> Listing {
    let file_len = i64::try_from(file_len).unwrap_or(i64::MAX);
    let mut listing = Listing {
        listed: 0,
        held: 0,
        end: 0,
    };
    // SAFETY: the stream belongs to an open input context, borrowed for the
    // whole walk; `avformat_index_get_entry` only reads the stream's index
    // (its pointer is not const for historical reasons) and returns null or
    // an entry valid until the index changes, which nothing here does.
    unsafe {
        let st = stream.as_ptr().cast_mut();
        let n = ff::ffi::avformat_index_get_entries_count(st);
        for i in 0..n {
            let Some(entry) = ff::ffi::avformat_index_get_entry(st, i).as_ref() else {
                continue;
            };
            let size = i64::from(entry.size());
            if entry.pos < 0 || size <= 0 {
                continue;
            }
            let end = entry.pos.saturating_add(size);
            listing.listed += 1;
            if end <= file_len {
                listing.held += 1;
            }
            listing.end = listing.end.max(end);
        }
    }
    listing
}

fn kind_name(stream: &format::stream::Stream<'_>) -> &'static str {
    match stream.parameters().medium() {
        media::Type::Video => "video",
        media::Type::Audio => "audio",
        media::Type::Subtitle => "subtitle",
        _ => "data",
    }
}

/// Whether the file starts with an ISO base media `ftyp` box (MP4, MOV, M4A).
fn looks_like_iso_bmff(path: &Path) -> bool {
    use std::io::Read as _;
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head[4..8] == b"ftyp"
}

#[cfg(test)]
mod tests {
    //! Fixtures are made here through libav* itself (encoded by
    //! [`Mp4Writer`], remuxed with the mp4 muxer's own options), so these
    //! tests need no ffmpeg CLI; `tests/all/truncated_media.rs` covers
    //! files made by the CLI.

    use std::path::{Path, PathBuf};

    use ff::{Dictionary, Packet, codec, encoder, format};

    use super::*;
    use crate::{Mp4Writer, Pcm, VideoReader};

    use crate::fixtures::{FPS, H, Scratch, W, frame};

    const FRAMES: usize = 48;
    const RATE: u32 = 48_000;

    fn tone(secs: f64) -> Pcm {
        let n = (secs * f64::from(RATE)) as usize;
        Pcm {
            sample_rate: RATE,
            channels: 1,
            samples: (0..n)
                .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / RATE as f32).sin() * 0.5)
                .collect(),
        }
    }

    /// 2 s of H.264 + AAC as [`Mp4Writer`] writes it: the index at the end.
    fn clip(dir: &Scratch) -> PathBuf {
        let path = dir.join("plain.mp4");
        let mut w = Mp4Writer::create(&path, W, H, FPS, Some((RATE, 1))).expect("writer");
        for i in 0..FRAMES {
            w.write_video_frame(&frame(i)).expect("frame");
        }
        w.write_audio(&tone(FRAMES as f64 / FPS).samples)
            .expect("audio");
        w.finish().expect("finish");
        path
    }

    /// Copies every stream of `src` into `dst` as container `format_name`
    /// with the muxer options `options` (e.g. `movflags=+faststart`).
    fn remux(src: &Path, dst: &Path, format_name: &str, options: &[(&str, &str)]) {
        let mut input = format::input(&src).expect("open the source");
        let mut output = format::output_as(&dst, format_name).expect("create the copy");
        let mut map = Vec::new();
        for s in input.streams() {
            let mut o = output
                .add_stream(encoder::find(codec::Id::None))
                .expect("add a stream");
            o.set_parameters(s.parameters());
            // SAFETY: the stream's parameters were just allocated and set;
            // a tag of 0 lets the muxer pick its own for the codec.
            unsafe { (*(*o.as_mut_ptr()).codecpar).codec_tag = 0 };
            map.push((o.index(), s.time_base()));
        }
        let mut opts = Dictionary::new();
        for (k, v) in options {
            opts.set(k, v);
        }
        output.write_header_with(opts).expect("write the header");
        let mut packet = Packet::empty();
        while packet.read(&mut input).is_ok() {
            let (index, tb) = map[packet.stream()];
            let out_tb = output.stream(index).expect("output stream").time_base();
            packet.rescale_ts(tb, out_tb);
            packet.set_position(-1);
            packet.set_stream(index);
            packet
                .write_interleaved(&mut output)
                .expect("write a packet");
        }
        output.write_trailer().expect("write the trailer");
    }

    /// A copy of `src` at `dst` cut to `len` bytes.
    fn cut_to(src: &Path, dst: &Path, len: u64) -> PathBuf {
        std::fs::copy(src, dst).expect("copy");
        set_len(dst, len);
        dst.to_path_buf()
    }

    fn set_len(path: &Path, len: u64) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(len))
            .expect("truncate");
    }

    fn len(path: &Path) -> u64 {
        std::fs::metadata(path).expect("metadata").len()
    }

    /// Every frame of a file's video stream, or the first error.
    fn read_video(path: &Path) -> Result<usize> {
        let mut r = VideoReader::open(path)?;
        let mut n = 0;
        while r.next_frame()?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    #[track_caller]
    fn assert_truncated<T: std::fmt::Debug>(what: &str, result: Result<T>, name: &str) {
        let err = format!("{:#}", result.expect_err(what));
        assert!(
            err.contains("truncated") && err.contains(name),
            "{what}: {err}"
        );
    }

    #[test]
    fn a_cut_faststart_mp4_is_truncated_wherever_it_is_read() {
        let dir = Scratch::new("faststart");
        let plain = clip(&dir);
        let whole = dir.join("whole.mp4");
        remux(&plain, &whole, "mp4", &[("movflags", "+faststart")]);
        let cut = cut_to(&whole, &dir.join("cut.mp4"), len(&whole) * 6 / 10);
        let pcm = tone(2.0);
        let out = |name: &str| dir.join(name);

        // The whole file: everything works.
        crate::probe(&whole).expect("probe");
        assert_eq!(read_video(&whole).expect("video"), FRAMES);
        let audio = crate::decode_audio(&whole, RATE, 1).expect("audio");
        assert!((audio.duration_secs() - 2.0).abs() < 0.05);
        crate::mux_audio(&whole, &whole, out("a.mp4")).expect("mux_audio");
        crate::mux_audio_pcm(&whole, &pcm, out("b.mp4")).expect("mux_audio_pcm");
        crate::concat_copy(&[&whole, &whole], out("c.mp4")).expect("concat_copy");
        crate::cut(&whole, 0.0, 1.0, out("d.mp4")).expect("cut");
        crate::concat(&[&whole, &whole], out("e.mp4")).expect("concat");
        assert_eq!(read_video(&out("a.mp4")).expect("muxed"), FRAMES);
        assert_eq!(read_video(&out("c.mp4")).expect("joined"), 2 * FRAMES);

        // Cut short: every reader and copier says so, naming the file, and
        // a copier writes nothing.
        assert_truncated("probe", crate::probe(&cut), "cut.mp4");
        assert_truncated("video", read_video(&cut), "cut.mp4");
        assert_truncated("audio", crate::decode_audio(&cut, RATE, 1), "cut.mp4");
        assert_truncated(
            "mux_audio (video)",
            crate::mux_audio(&cut, &whole, out("f.mp4")),
            "cut.mp4",
        );
        assert_truncated(
            "mux_audio (audio)",
            crate::mux_audio(&whole, &cut, out("g.mp4")),
            "cut.mp4",
        );
        assert_truncated(
            "mux_audio_pcm",
            crate::mux_audio_pcm(&cut, &pcm, out("h.mp4")),
            "cut.mp4",
        );
        assert!(!out("h.mp4").exists(), "the dub wrote a file");
        assert_truncated(
            "concat_copy",
            crate::concat_copy(&[&whole, &cut], out("i.mp4")),
            "cut.mp4",
        );
        // Even a range that lies before the cut.
        assert_truncated("cut", crate::cut(&cut, 0.0, 0.5, out("j.mp4")), "cut.mp4");
        assert_truncated(
            "concat",
            crate::concat(&[&whole, &cut], out("k.mp4")),
            "cut.mp4",
        );
        let err = format!("{:#}", crate::probe(&cut).expect_err("probe"));
        assert!(
            err.contains(&format!("the container lists {FRAMES} video packets")),
            "{err}"
        );
    }

    #[test]
    fn a_cut_mp4_indexed_at_the_end_keeps_its_clear_error() {
        let dir = Scratch::new("moov-at-end");
        let plain = clip(&dir);
        let cut = cut_to(&plain, &dir.join("cut.mp4"), len(&plain) * 6 / 10);
        for result in [
            crate::probe(&cut).map(|_| ()),
            read_video(&cut).map(|_| ()),
            crate::mux_audio_pcm(&cut, &tone(1.0), dir.join("out.mp4")),
        ] {
            let err = format!("{:#}", result.expect_err("cut"));
            assert!(
                err.contains("cut.mp4: truncated or corrupt MP4/MOV")
                    && err.contains("no readable index"),
                "{err}"
            );
        }
    }

    /// Where the `k`th video sample of `path` starts and how long it is.
    fn video_sample(path: &Path, k: i32) -> (u64, u64) {
        let demuxer = Demuxer::open(path).expect("open");
        let stream = demuxer
            .input()
            .streams()
            .best(media::Type::Video)
            .expect("video");
        // SAFETY: as in `listing`.
        let entry = unsafe {
            *ff::ffi::avformat_index_get_entry(stream.as_ptr().cast_mut(), k)
                .as_ref()
                .expect("an index entry")
        };
        (entry.pos as u64, entry.size() as u64)
    }

    fn read_all(demuxer: &mut Demuxer) -> Result<usize> {
        let mut packet = Packet::empty();
        let mut n = 0;
        while demuxer.read(&mut packet)? {
            n += 1;
        }
        Ok(n)
    }

    #[test]
    fn a_file_cut_while_it_is_read_is_an_error() {
        let dir = Scratch::new("cut-while-read");
        let plain = clip(&dir);
        let whole = dir.join("whole.mp4");
        remux(&plain, &whole, "mp4", &[("movflags", "+faststart")]);

        // The cut falls inside a sample: libavformat returns it short and
        // flagged corrupt.
        let path = cut_to(&whole, &dir.join("inside.mp4"), len(&whole));
        let (pos, size) = video_sample(&path, 30);
        let mut demuxer = Demuxer::open(&path).expect("open");
        set_len(&path, pos + size / 2);
        let err = format!("{:#}", read_all(&mut demuxer).expect_err("cut"));
        assert!(
            err.contains("inside.mp4: truncated: the file ends inside video packet 31 of the 48"),
            "{err}"
        );

        // The cut falls between samples: the end comes early.
        let path = cut_to(&whole, &dir.join("between.mp4"), len(&whole));
        let (pos, _) = video_sample(&path, 30);
        let mut demuxer = Demuxer::open(&path).expect("open");
        set_len(&path, pos);
        let err = format!("{:#}", read_all(&mut demuxer).expect_err("cut"));
        assert!(
            err.contains("between.mp4: truncated: the container lists 48 video packets"),
            "{err}"
        );

        // After a seek.
        let path = cut_to(&whole, &dir.join("seeked.mp4"), len(&whole));
        let mut reader = VideoReader::open(&path).expect("open");
        reader.seek(0.5).expect("seek");
        set_len(&path, len(&path) * 6 / 10);
        let result = (|| {
            while reader.next_frame()?.is_some() {}
            Ok(())
        })();
        assert_truncated("after a seek", result, "seeked.mp4");
    }

    #[test]
    fn packets_are_counted_against_the_index() {
        let dir = Scratch::new("count");
        let plain = clip(&dir);
        let mut demuxer = Demuxer::open(&plain).expect("open");
        let mut packet = Packet::empty();
        for _ in 0..20 {
            assert!(demuxer.read(&mut packet).expect("read"));
        }
        // As if the end came now (an I/O error libavformat reports as the end).
        let err = format!("{:#}", demuxer.check_count().expect_err("early end"));
        assert!(
            err.contains(
                "plain.mp4: truncated: the container lists 48 video packets, the file holds"
            ),
            "{err}"
        );
        let rest = read_all(&mut demuxer).expect("the rest");
        assert!(rest > 0);
        demuxer.check_count().expect("all read");
    }

    #[test]
    fn files_whose_index_is_elsewhere_or_absent_read_as_before() {
        let dir = Scratch::new("others");
        let plain = clip(&dir);

        // Fragmented MP4: the index comes fragment by fragment.
        let frag = dir.join("frag.mp4");
        let frag_options = [
            ("movflags", "+frag_keyframe+empty_moov+default_base_moof"),
            ("frag_duration", "250000"),
        ];
        remux(&plain, &frag, "mp4", &frag_options);
        assert_eq!(read_video(&frag).expect("fragmented"), FRAMES);
        crate::decode_audio(&frag, RATE, 1).expect("fragmented audio");
        let cut = cut_to(&frag, &dir.join("frag-cut.mp4"), len(&frag) * 6 / 10);
        assert_truncated("fragmented", read_video(&cut), "frag-cut.mp4");
        assert_truncated(
            "fragmented audio",
            crate::decode_audio(&cut, RATE, 1),
            "frag-cut.mp4",
        );

        // Matroska: its cues list key frames, not samples.
        let mkv = dir.join("clip.mkv");
        remux(&plain, &mkv, "matroska", &[]);
        assert_eq!(read_video(&mkv).expect("matroska"), FRAMES);
        crate::decode_audio(&mkv, RATE, 1).expect("matroska audio");
        crate::mux_audio_pcm(&mkv, &tone(2.0), dir.join("mkv-dub.mp4")).expect("dub");

        // A WAV whose header gives no sizes (as one written to a pipe):
        // libavformat flags its last packet short, yet nothing is missing.
        let wav = dir.join("pipe.wav");
        let pcm = tone(1.0);
        kino_kernels::wav::write_wav(&wav, &pcm).expect("wav");
        let mut bytes = std::fs::read(&wav).expect("read wav");
        bytes[4..8].copy_from_slice(&[0xff; 4]);
        let data = bytes
            .windows(4)
            .position(|w| w == b"data")
            .expect("data chunk");
        bytes[data + 4..data + 8].copy_from_slice(&[0xff; 4]);
        std::fs::write(&wav, &bytes).expect("write wav");
        let back = crate::decode_audio(&wav, RATE, 1).expect("wav without sizes");
        assert_eq!(back.samples.len(), pcm.samples.len());

        // Pieces Kino writes and joins by copying.
        let pieces: Vec<PathBuf> = (0..2)
            .map(|p| {
                let path = dir.join(&format!("piece{p}.mp4"));
                let mut w = Mp4Writer::options(W, H, FPS)
                    .joinable()
                    .create(&path)
                    .expect("piece");
                for i in 0..FRAMES / 2 {
                    w.write_video_frame(&frame(i)).expect("frame");
                }
                w.finish().expect("finish");
                path
            })
            .collect();
        let joined = dir.join("joined.mp4");
        crate::concat_copy(&pieces, &joined).expect("join");
        assert_eq!(read_video(&joined).expect("joined"), FRAMES);
        crate::mux_audio(&joined, &plain, dir.join("dubbed.mp4")).expect("mux");
        assert_eq!(read_video(&dir.join("dubbed.mp4")).expect("dubbed"), FRAMES);
    }
}
