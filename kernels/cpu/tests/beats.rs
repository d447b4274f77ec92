//! Tempo and beat tracking (`kino_kernels::beats`) on signals synthesised
//! here with known beats: click tracks, a drum loop with a bass and chord
//! pad, and song-like mixes (chords, bass, melody, swing, tempo drift, noise,
//! a section of sparse drums).
//!
//! `benches/beats.rs` includes this file for [`signals`] (its `#[test]`s
//! are compiled out there).

use kino_kernels::beats::{self, BeatError, TrackOptions, snap, track, track_pcm, track_with};
use kino_kernels::wav::Pcm;
use signals::{Signal, f_measure};

/// The synthetic signals, their ground truth and the beat F-measure.
pub mod signals {
    #![allow(dead_code)]

    use std::f64::consts::TAU;

    /// A small deterministic noise source (xorshift64*).
    pub struct Noise(u64);

    impl Noise {
        pub fn new(seed: u64) -> Self {
            Self(seed.max(1))
        }

        /// Uniform in [-1, 1).
        pub fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
            (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    /// A mono signal with its ground truth.
    pub struct Signal {
        /// A short name for tables.
        pub name: String,
        /// Samples per second.
        pub sample_rate: u32,
        /// Mono samples, peak about 0.9.
        pub samples: Vec<f32>,
        /// Beat times in seconds.
        pub beats: Vec<f64>,
        /// Downbeat (bar start) times in seconds.
        pub downbeats: Vec<f64>,
        /// The nominal tempo.
        pub tempo_bpm: f64,
    }

    /// How a [`song`] or [`drums`] signal is played.
    #[derive(Clone, Copy, Debug)]
    pub struct Style {
        /// Delay of the off-beat eighths, as a fraction of a beat past the
        /// half (0 straight, 1/6 for a 2:1 swing).
        pub swing: f64,
        /// Tempo drift: the tempo is `bpm · (1 + drift · sin(2πt / 40 s))`.
        pub drift: f64,
        /// White noise RMS relative to full scale.
        pub noise: f64,
        /// Bars (from, to) where the drums play only a soft kick on 1.
        pub sparse: Option<(usize, usize)>,
        /// Chords, bass and melody (a drum loop has chords and bass only).
        pub melody: bool,
    }

    impl Style {
        /// A plain drum loop: straight, steady, clean, with bass and pad.
        pub const LOOP: Style = Style {
            swing: 0.0,
            drift: 0.0,
            noise: 0.0,
            sparse: None,
            melody: false,
        };
    }

    /// Adds `f(t)` (t in seconds since the event) from `at` for `dur` s.
    fn add(buf: &mut [f32], sr: u32, at: f64, dur: f64, f: impl Fn(f64, usize) -> f64) {
        let sr_f = f64::from(sr);
        let start = (at * sr_f).round().max(0.0) as usize;
        let len = (dur * sr_f) as usize;
        for i in 0..len {
            let Some(v) = buf.get_mut(start + i) else {
                break;
            };
            *v += f(i as f64 / sr_f, i) as f32;
        }
    }

    fn normalise(buf: &mut [f32], peak: f32) {
        let max = buf.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-9);
        buf.iter_mut().for_each(|v| *v *= peak / max);
    }

    fn midi_hz(note: f64) -> f64 {
        440.0 * 2f64.powf((note - 69.0) / 12.0)
    }

    /// Beat times from `first` for `secs` at `bpm`, drifting by `drift`.
    fn beat_times(first: f64, secs: f64, bpm: f64, drift: f64) -> Vec<f64> {
        let mut beats = Vec::new();
        let mut t = first;
        while t < secs - 0.05 {
            beats.push(t);
            let local = bpm * (1.0 + drift * (TAU * t / 40.0).sin());
            t += 60.0 / local;
        }
        beats
    }

    /// A click track: a 1.5 kHz blip (30 ms, 5 ms decay) on every beat.
    pub fn clicks(sr: u32, bpm: f64, secs: f64) -> Signal {
        let mut buf = vec![0.0f32; (secs * f64::from(sr)) as usize];
        let beats = beat_times(0.25, secs, bpm, 0.0);
        for &b in &beats {
            add(&mut buf, sr, b, 0.03, |t, _| {
                (TAU * 1500.0 * t).sin() * (-t / 0.005).exp()
            });
        }
        normalise(&mut buf, 0.9);
        Signal {
            name: format!("clicks {bpm:.0}"),
            sample_rate: sr,
            samples: buf,
            downbeats: beats.iter().step_by(4).copied().collect(),
            beats,
            tempo_bpm: bpm,
        }
    }

    /// Drums: kick on 1 (accented) and 3, snare on 2 and 4, hats on the
    /// eighths, a bass on 1 and 3 and a chord pad changing every bar, in the
    /// given style ([`Style::LOOP`] for a plain loop).
    pub fn drums(sr: u32, bpm: f64, secs: f64, seed: u64, style: Style) -> Signal {
        let n = (secs * f64::from(sr)) as usize;
        let mut buf = vec![0.0f32; n];
        let mut rng = Noise::new(seed);
        let noise: Vec<f64> = (0..(0.4 * f64::from(sr)) as usize)
            .map(|_| rng.uniform())
            .collect();
        let hat_noise: Vec<f64> = noise.windows(2).map(|w| w[1] - w[0]).collect();
        let beats = beat_times(0.3, secs, bpm, style.drift);
        // Chord roots and triads (MIDI notes): I V vi IV in C.
        let chords: [[f64; 3]; 4] = [
            [60.0, 64.0, 67.0],
            [55.0, 59.0, 62.0],
            [57.0, 60.0, 64.0],
            [53.0, 57.0, 60.0],
        ];
        let scale = [60.0, 62.0, 64.0, 67.0, 69.0, 72.0, 74.0, 76.0];
        for (k, &b) in beats.iter().enumerate() {
            let beat_len = beats.get(k + 1).map_or(60.0 / bpm, |n| n - b);
            let bar = k / 4;
            let pos = k % 4;
            let sparse = style.sparse.is_some_and(|(a, z)| (a..z).contains(&bar));
            let chord = chords[bar % 4];
            // Kick.
            if pos == 0 || (pos == 2 && !sparse) {
                let gain = match (pos, sparse) {
                    (0, false) => 1.0,
                    (0, true) => 0.5,
                    _ => 0.7,
                };
                add(&mut buf, sr, b, 0.35, |t, _| {
                    let phase = TAU * (50.0 * t + 70.0 * 0.03 * (1.0 - (-t / 0.03).exp()));
                    gain * phase.sin() * (-t / 0.12).exp()
                });
            }
            if !sparse {
                // Snare.
                if pos == 1 || pos == 3 {
                    add(&mut buf, sr, b, 0.25, |t, i| {
                        0.5 * noise[i] * (-t / 0.07).exp()
                            + 0.3 * (TAU * 185.0 * t).sin() * (-t / 0.04).exp()
                    });
                }
                // Hats on the eighths; the off-beat one swung.
                let off = b + beat_len * (0.5 + style.swing);
                for (at, gain) in [(b, 0.25), (off, 0.18)] {
                    add(&mut buf, sr, at, 0.08, |t, i| {
                        gain * hat_noise[i] * (-t / 0.02).exp()
                    });
                }
            }
            // Bass on 1 and 3: the chord's root two octaves down.
            if pos == 0 || pos == 2 {
                let f = midi_hz(chord[0] - 24.0);
                let dur = 1.9 * beat_len;
                add(&mut buf, sr, b, dur, |t, _| {
                    let env = (t / 0.01).min(1.0) * (-t / 0.6).exp() * ((dur - t) / 0.02).min(1.0);
                    0.35 * env * ((TAU * f * t).sin() + 0.3 * (2.0 * TAU * f * t).sin())
                });
            }
            // Chord pad: the whole bar, soft attack.
            if pos == 0 {
                let dur = beats.get(k + 4).map_or(4.0 * 60.0 / bpm, |n| n - b);
                for &note in &chord {
                    let f = midi_hz(note - 12.0);
                    add(&mut buf, sr, b, dur, |t, _| {
                        let env = (t / 0.04).min(1.0) * ((dur - t) / 0.05).min(1.0);
                        0.06 * env
                            * ((TAU * f * t).sin()
                                + 0.5 * (2.0 * TAU * f * t).sin()
                                + 0.25 * (3.0 * TAU * f * t).sin())
                    });
                }
            }
            // Melody: a note on some eighths, with vibrato.
            if style.melody {
                for half in 0..2 {
                    if rng.uniform() < -0.1 {
                        continue;
                    }
                    let at = if half == 0 {
                        b
                    } else {
                        b + beat_len * (0.5 + style.swing)
                    };
                    let idx = ((rng.uniform() + 1.0) * 4.0) as usize % scale.len();
                    let f = midi_hz(scale[idx]);
                    let dur = beat_len * if rng.uniform() > 0.3 { 1.0 } else { 0.5 };
                    add(&mut buf, sr, at, dur, |t, _| {
                        let env =
                            (t / 0.015).min(1.0) * (-t / 0.5).exp() * ((dur - t) / 0.02).min(1.0);
                        let vib = 0.004 * (TAU * 5.5 * t).sin();
                        0.12 * env
                            * ((TAU * f * t * (1.0 + vib)).sin()
                                + 0.3 * (2.0 * TAU * f * t * (1.0 + vib)).sin())
                    });
                }
            }
        }
        if style.noise > 0.0 {
            let peak = buf.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-9);
            for v in &mut buf {
                *v += (style.noise * 1.7 * rng.uniform()) as f32 * peak / 0.9;
            }
        }
        normalise(&mut buf, 0.9);
        let kind = if style.melody { "song" } else { "drums" };
        Signal {
            name: format!("{kind} {bpm:.0}"),
            sample_rate: sr,
            samples: buf,
            downbeats: beats.iter().step_by(4).copied().collect(),
            beats,
            tempo_bpm: bpm,
        }
    }

    /// A song-like mix: chords, bass, melody and drums, with swing, tempo
    /// drift, noise and a sparse-drum section.
    pub fn song(sr: u32, bpm: f64, secs: f64, seed: u64) -> Signal {
        let style = Style {
            swing: 1.0 / 6.0,
            drift: 0.02,
            noise: 0.02,
            sparse: Some((3, 6)),
            melody: true,
        };
        drums(sr, bpm, secs, seed, style)
    }

    /// Beat F-measure as `mir_eval.beat.f_measure` computes it: estimated
    /// beats matched one-to-one to reference beats within `window` seconds
    /// (sorted greedy matching, which is maximal in one dimension), then
    /// `2PR / (P + R)`; 0 when either list is empty.
    pub fn f_measure(reference: &[f64], estimated: &[f64], window: f64) -> f64 {
        if reference.is_empty() || estimated.is_empty() {
            return 0.0;
        }
        let (mut i, mut j, mut hits) = (0, 0, 0usize);
        while i < reference.len() && j < estimated.len() {
            let d = estimated[j] - reference[i];
            if d.abs() <= window {
                hits += 1;
                i += 1;
                j += 1;
            } else if d < 0.0 {
                j += 1;
            } else {
                i += 1;
            }
        }
        if hits == 0 {
            return 0.0;
        }
        let p = hits as f64 / estimated.len() as f64;
        let r = hits as f64 / reference.len() as f64;
        2.0 * p * r / (p + r)
    }

    /// Times from `from` to `to` seconds only.
    pub fn between(times: &[f64], from: f64, to: f64) -> Vec<f64> {
        times
            .iter()
            .copied()
            .filter(|&t| t >= from && t <= to)
            .collect()
    }

    /// Milliseconds to seconds.
    pub fn seconds(ms: &[u32]) -> Vec<f64> {
        ms.iter().map(|&m| f64::from(m) / 1000.0).collect()
    }
}

const SR: u32 = 44_100;

/// Largest distance from each of `times` to the nearest of `reference`.
fn worst_miss(times: &[f64], reference: &[f64]) -> f64 {
    times
        .iter()
        .map(|t| {
            reference
                .iter()
                .map(|r| (r - t).abs())
                .fold(f64::INFINITY, f64::min)
        })
        .fold(0.0, f64::max)
}

/// Checks the tempo within 2%, every beat away from the ends within
/// `max_miss` s of a true beat and the F-measure (±70 ms) at 0.95 or more.
fn assert_tracks(sig: &Signal, max_miss: f64) -> beats::Beats {
    let found = track(&sig.samples, sig.sample_rate).expect("tracking a valid signal");
    let secs = sig.samples.len() as f64 / f64::from(sig.sample_rate);
    let est = signals::seconds(&found.beats_ms);
    let inner = signals::between(&est, 1.0, secs - 1.0);
    let ratio = found.tempo_bpm / sig.tempo_bpm;
    assert!(
        (ratio - 1.0).abs() <= 0.02,
        "{}: tempo {:.2} bpm",
        sig.name,
        found.tempo_bpm
    );
    let miss = worst_miss(&inner, &sig.beats);
    assert!(
        miss <= max_miss,
        "{}: a beat {:.1} ms off",
        sig.name,
        miss * 1e3
    );
    let f = f_measure(&sig.beats, &est, 0.07);
    assert!(f >= 0.95, "{}: f-measure {f:.3}", sig.name);
    assert!(found.confidence > 0.0 && found.confidence <= 1.0);
    found
}

#[test]
fn click_track_at_120_bpm() {
    assert_tracks(&signals::clicks(SR, 120.0, 20.0), 0.020);
}

#[test]
fn click_track_at_97_bpm() {
    assert_tracks(&signals::clicks(SR, 97.0, 20.0), 0.020);
}

#[test]
fn click_tracks_at_the_extreme_sample_rates() {
    for sr in [8_000, 22_050, 48_000, 96_000, 192_000] {
        assert_tracks(&signals::clicks(sr, 97.0, 12.0), 0.020);
    }
}

#[test]
fn drum_loop_beats_on_kicks_and_snares_downbeats_on_bars() {
    // 150 BPM: kick on 1 and snare on 2 must not pass for 75 BPM and its
    // off-beat.
    for (bpm, seed) in [(100.0, 1), (128.0, 2), (150.0, 3)] {
        let sig = signals::drums(SR, bpm, 20.0, seed, signals::Style::LOOP);
        let found = assert_tracks(&sig, 0.030);
        let downbeats = signals::seconds(&found.downbeats_ms);
        assert!(
            downbeats.len() >= 4,
            "{}: {} downbeats",
            sig.name,
            downbeats.len()
        );
        let miss = worst_miss(&downbeats, &sig.downbeats);
        assert!(
            miss <= 0.030,
            "{}: a downbeat {:.0} ms from a bar start (phase {})",
            sig.name,
            miss * 1e3,
            found.first_downbeat
        );
        assert_eq!(found.beats_per_bar, 4);
        assert!(found.first_downbeat < 4);
    }
}

#[test]
fn song_with_swing_drift_and_sparse_drums() {
    let sig = signals::song(SR, 96.0, 24.0, 7);
    let found = track(&sig.samples, SR).expect("tracking a valid signal");
    let f = f_measure(&sig.beats, &signals::seconds(&found.beats_ms), 0.07);
    assert!(f >= 0.95, "f-measure {f:.3}, tempo {:.1}", found.tempo_bpm);
    assert!(
        (found.tempo_bpm / 96.0 - 1.0).abs() <= 0.02,
        "tempo {:.1}",
        found.tempo_bpm
    );
}

#[test]
fn three_beats_to_the_bar() {
    let sig = signals::drums(SR, 120.0, 12.0, 3, signals::Style::LOOP);
    let options = TrackOptions {
        beats_per_bar: 3,
        ..TrackOptions::default()
    };
    let found = track_with(&sig.samples, SR, &options).expect("tracking a valid signal");
    assert_eq!(found.beats_per_bar, 3);
    let expected: Vec<u32> = found
        .beats_ms
        .iter()
        .skip(found.first_downbeat)
        .step_by(3)
        .copied()
        .collect();
    assert_eq!(found.downbeats_ms, expected);
}

#[test]
fn silence_has_no_beats() {
    for samples in [
        vec![0.0f32; SR as usize * 5],
        vec![1e-5f32; SR as usize * 5],
    ] {
        let found = track(&samples, SR).expect("silence is not an error");
        assert!(found.is_empty());
        assert_eq!(found.tempo_bpm, 0.0);
        assert_eq!(found.confidence, 0.0);
        assert!(found.downbeats_ms.is_empty());
    }
}

#[test]
fn silence_around_the_music_has_no_beats() {
    let music = signals::clicks(SR, 97.0, 15.0);
    let pad = vec![0.0f32; SR as usize * 5];
    let samples = [pad.as_slice(), &music.samples, &pad].concat();
    let found = track(&samples, SR).expect("tracking");
    let first = f64::from(found.beats_ms[0]) / 1000.0;
    let last = f64::from(found.beats_ms[found.beats_ms.len() - 1]) / 1000.0;
    assert!(
        first >= 5.0 && last <= 20.0,
        "beats from {first} s to {last} s"
    );
    let shifted: Vec<f64> = music.beats.iter().map(|b| b + 5.0).collect();
    let f = f_measure(&shifted, &signals::seconds(&found.beats_ms), 0.07);
    assert!(f >= 0.95, "f-measure {f:.3}");
}

#[test]
fn a_steady_tone_has_no_beats() {
    let samples: Vec<f32> = (0..SR as usize * 5)
        .map(|i| 0.5 * (std::f32::consts::TAU * 440.0 * i as f32 / SR as f32).sin())
        .collect();
    let found = track(&samples, SR).expect("a tone is not an error");
    // Only the very start rises; nothing is periodic.
    assert!(found.is_empty(), "{:?}", found.beats_ms);
    assert_eq!(found.tempo_bpm, 0.0);
}

#[test]
fn noise_has_no_beats() {
    let mut rng = signals::Noise::new(3);
    let noise: Vec<f32> = (0..SR as usize * 10)
        .map(|_| 0.3 * rng.uniform() as f32)
        .collect();
    let found = track(&noise, SR).expect("noise is not an error");
    assert!(found.is_empty(), "{:?}", found.beats_ms);
}

#[test]
fn clicks_in_noise() {
    let mut sig = signals::clicks(SR, 110.0, 20.0);
    let mut rng = signals::Noise::new(4);
    for v in &mut sig.samples {
        *v = 0.9 * *v + 0.1 * rng.uniform() as f32;
    }
    assert_tracks(&sig, 0.020);
}

#[test]
fn weak_off_beats_do_not_double_the_tempo() {
    // Loud clicks at 60 BPM with clicks at 15% between them.
    let mut sig = signals::clicks(SR, 120.0, 20.0);
    for &b in sig.beats.iter().skip(1).step_by(2) {
        let i = (b * f64::from(SR)) as usize;
        sig.samples[i..i + 1400].iter_mut().for_each(|v| *v *= 0.15);
    }
    sig.beats = sig.beats.iter().step_by(2).copied().collect();
    sig.tempo_bpm = 60.0;
    assert_tracks(&sig, 0.020);
}

#[test]
fn half_a_second_is_too_short() {
    let sig = signals::clicks(SR, 120.0, 0.5);
    match track(&sig.samples, SR) {
        Err(BeatError::TooShort {
            seconds,
            min_seconds,
        }) => {
            assert!((seconds - 0.5).abs() < 1e-9);
            assert_eq!(min_seconds, beats::MIN_SECONDS);
        }
        other => panic!("expected TooShort, got {other:?}"),
    }
    assert!(matches!(track(&[], SR), Err(BeatError::TooShort { .. })));
}

#[test]
fn bad_input_is_named() {
    let mut sig = signals::clicks(SR, 120.0, 4.0);
    sig.samples[1234] = f32::NAN;
    let err = track(&sig.samples, SR).expect_err("a NaN sample");
    assert!(
        matches!(err, BeatError::NonFinite { index: 1234, .. }),
        "{err}"
    );
    assert_eq!(err.to_string(), "sample 1234 is not finite (NaN)");
    sig.samples[1234] = f32::INFINITY;
    assert!(matches!(
        track(&sig.samples, SR),
        Err(BeatError::NonFinite { index: 1234, .. })
    ));
    for sr in [0, 7_999, 192_001] {
        assert_eq!(
            track(&sig.samples[..100], sr),
            Err(BeatError::InvalidSampleRate(sr))
        );
    }
    let options = TrackOptions {
        min_bpm: 200.0,
        max_bpm: 100.0,
        ..TrackOptions::default()
    };
    assert!(matches!(
        track_with(&sig.samples, SR, &options),
        Err(BeatError::InvalidOption {
            name: "max_bpm",
            ..
        })
    ));
}

#[test]
fn stereo_is_mixed_down() {
    let sig = signals::clicks(SR, 120.0, 8.0);
    let samples = sig.samples.iter().flat_map(|&v| [v, -0.5 * v]).collect();
    let pcm = Pcm {
        sample_rate: SR,
        channels: 2,
        samples,
    };
    let stereo = track_pcm(&pcm).expect("tracking stereo");
    let mono = track(&sig.samples, SR).expect("tracking mono");
    assert_eq!(stereo.beats_ms, mono.beats_ms);
    let ragged = Pcm {
        samples: vec![0.0; 5],
        ..pcm
    };
    assert!(matches!(
        track_pcm(&ragged),
        Err(BeatError::BadChannels {
            len: 5,
            channels: 2
        })
    ));
}

#[test]
fn thread_count_does_not_change_the_result() {
    let sig = signals::drums(SR, 110.0, 10.0, 5, signals::Style::LOOP);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let one = pool.install(|| track(&sig.samples, SR)).expect("tracking");
    let many = track(&sig.samples, SR).expect("tracking");
    assert_eq!(one, many);
}

#[test]
fn snap_moves_within_tolerance_only() {
    let beats = [1000, 1500, 2000, 2500];
    assert_eq!(
        snap(&[1040, 1700, 2470], &beats, 50),
        vec![1000, 1700, 2500]
    );
    assert_eq!(snap(&[1040], &beats, 39), vec![1040]);
    assert_eq!(snap(&[1040], &beats, 40), vec![1000]);
    // Equally near: the earlier beat.
    assert_eq!(snap(&[1250], &beats, 250), vec![1000]);
    assert_eq!(snap(&[], &beats, 50), Vec::<u32>::new());
    assert_eq!(snap(&[10, 20], &[], 50), vec![10, 20]);
}

#[test]
fn snap_never_merges_or_reorders() {
    let beats = [1000, 2000];
    // Both nearest 1000: the first takes it, the second stays.
    assert_eq!(snap(&[980, 1010], &beats, 50), vec![1000, 1010]);
    // The first would jump past the second: it stays, the second snaps.
    assert_eq!(snap(&[990, 995], &beats, 50), vec![990, 1000]);
    // A boundary already on a beat keeps it; the next cannot take it.
    assert_eq!(snap(&[1000, 1020], &beats, 50), vec![1000, 1020]);
    // Snapping backwards onto the previous boundary is refused.
    assert_eq!(
        snap(&[1000, 1001, 1030], &beats, 50),
        vec![1000, 1001, 1030]
    );
    // Order and distinctness hold on a dense random case.
    let mut rng = signals::Noise::new(9);
    let beats: Vec<u32> = (0..200).map(|k| 500 * k + 17).collect();
    let mut cuts: Vec<u32> = (0..300)
        .map(|_| ((rng.uniform() + 1.0) * 50_000.0) as u32)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let snapped = snap(&cuts, &beats, 120);
    assert_eq!(snapped.len(), cuts.len());
    assert!(snapped.windows(2).all(|w| w[0] < w[1]));
    for (c, s) in cuts.iter().zip(&snapped) {
        assert!(c.abs_diff(*s) <= 120);
        assert!(s == c || beats.contains(s));
    }
}

#[test]
fn f_measure_matches_one_to_one() {
    let reference = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(f_measure(&reference, &reference, 0.07), 1.0);
    assert_eq!(f_measure(&reference, &[], 0.07), 0.0);
    // Two estimates near one reference count once.
    let f = f_measure(&reference, &[1.0, 1.05, 2.0, 3.0, 4.0], 0.07);
    assert!((f - 2.0 * 0.8 / 1.8).abs() < 1e-12);
    // Double tempo: precision halves.
    let double: Vec<f64> = (2..=8).map(|k| f64::from(k) * 0.5).collect();
    assert!(
        (f_measure(&reference, &double, 0.07) - 2.0 * (4.0 / 7.0) / (1.0 + 4.0 / 7.0)).abs()
            < 1e-12
    );
}
