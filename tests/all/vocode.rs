//! `kino vocode` on a real media file: decoded, resampled to the
//! vocoder's rate, analysed and resynthesised; with no vocoder model
//! installed, by Griffin-Lim.

use kino_kernels::vocoder::MelSpec;
use kino_kernels::wav::read_wav;
use kino_models::{Models, Repository};
use kino_tests::ffmpeg;

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn vocode_resynthesises_a_stereo_file_at_the_vocoders_rate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("chord.m4a");
    // 1.5 s of two tones, 48 kHz stereo AAC: the tool resamples and downmixes.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:sample_rate=48000:duration=1.5",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1250:sample_rate=48000:duration=1.5",
        "-filter_complex",
        "[0][1]amerge=inputs=2",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        input.to_str().expect("utf-8"),
    ]);
    let models = Models::new(Repository::new(dir.path().join("models")), 1 << 30);
    let output = dir.path().join("vocoded.wav");
    let (vocoder, secs) =
        kino::models::vocode_file(&models, &input, &output, None).expect("vocode");
    assert!(vocoder.starts_with("Griffin-Lim"), "{vocoder}");
    assert!((secs - 1.5).abs() < 0.05, "{secs} s");

    let spec = MelSpec::default();
    let pcm = read_wav(&output).expect("read the output");
    assert_eq!((pcm.sample_rate, pcm.channels), (spec.sample_rate, 1));
    // Its spectrogram is the input's: compare the mels of the two, away
    // from the edges (AAC's priming and the tones' onsets).
    let source = kino_media::decode_audio(&input, spec.sample_rate, 1).expect("decode");
    let (a, b) = (
        spec.analyse(&source.samples).expect("mel"),
        spec.analyse(&pcm.samples).expect("mel"),
    );
    let (mut diff, mut size) = (0f32, 0f32);
    for band in 0..spec.n_mels {
        for t in 10..a.frames.min(b.frames) - 10 {
            let (x, y) = (
                a.data[band * a.frames + t].exp(),
                b.data[band * b.frames + t].exp(),
            );
            diff += (x - y).powi(2);
            size += x * x;
        }
    }
    let distance = (diff / size).sqrt();
    assert!(distance < 0.3, "spectral distance {distance}");

    // Something that isn't audio is an error naming the file.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not audio").expect("write");
    let err = format!(
        "{:#}",
        kino::models::vocode_file(&models, &text, &output, None).expect_err("not audio")
    );
    assert!(err.contains("notes.txt"), "{err}");
}
