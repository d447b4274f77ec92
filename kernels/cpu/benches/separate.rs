//! Dialogue removal (`kino_kernels::separate`): speed on 60 s of 48 kHz
//! stereo, and how much voice it leaves and music it keeps beside the two
//! trivial baselines (L−R cancellation, doing nothing).
//!
//! Run with `cargo bench -p kino-kernels --bench separate`. Needs nothing
//! installed: the mixes are synthetic, made by `tests/separate.rs`'s
//! [`mixes`] module (a dry centred speech-like voice over chords panned 70%
//! left, a melody 70% right, a decorrelated reverb bed and a centred bass
//! below 100 Hz). Figures come from applying the gains decided on the mix to
//! each known stem (`background_of_stems`).

mod common;

#[allow(dead_code, unused_imports)]
#[path = "../tests/separate.rs"]
mod separate_tests;

use std::time::{Duration, Instant};

use kino_kernels::separate::background_stereo;
use separate_tests::mixes::{self, Stereo, add, centre, compare, pan};

const SR: u32 = 48_000;
const SECS: f64 = 60.0;
const RUNS: usize = 3;

fn scaled(x: &Stereo, gain: f32) -> Stereo {
    (
        x.0.iter().map(|v| v * gain).collect(),
        x.1.iter().map(|v| v * gain).collect(),
    )
}

fn main() {
    common::print_load();
    println!("rayon threads: {}", rayon::current_num_threads());

    let voice_mono = mixes::voice(SR, SECS, 0.1);
    let voice = centre(&voice_mono);
    let music = mixes::music(SR, SECS, true);
    let mix = add(&voice, &music);

    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let out = background_stereo(&mix.0, &mix.1, SR);
            let t = start.elapsed();
            std::hint::black_box(out);
            t
        })
        .collect();
    times.sort();
    let median = times[RUNS / 2];
    println!(
        "background_stereo, {SECS:.0} s of {SR} Hz stereo: {:.3} s median of {RUNS} ({:.0}x real time; runs {})",
        median.as_secs_f64(),
        SECS / median.as_secs_f64(),
        times
            .iter()
            .map(|t| format!("{:.3}", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" ")
    );

    println!();
    println!("voice and music at equal RMS, {SECS:.0} s:");
    let (ours, side, nothing) = compare(&voice, &music, SR);
    println!("  {}", ours.row("centre extraction (this)"));
    println!("  {}", side.row("L-R cancellation"));
    println!("  {}", nothing.row("nothing"));

    // A shorter excerpt for the sweeps.
    let secs = 20.0;
    let voice = centre(&mixes::voice(SR, secs, 0.1));
    let music = mixes::music(SR, secs, true);

    println!();
    println!("voice level over the music (this method), {secs:.0} s:");
    for db in [-10.0f32, 0.0, 10.0, 20.0] {
        let v = scaled(&voice, 10f32.powf(db / 20.0));
        let (ours, _, _) = compare(&v, &music, SR);
        println!("  {}", ours.row(&format!("voice {db:+.0} dB")));
    }

    println!();
    println!("pan of the two instruments (this method; no bed, no bass), {secs:.0} s:");
    for p in [0.2f64, 0.4, 0.6, 0.7, 0.8, 1.0] {
        let chords = pan(&mixes::chords(SR, secs, 0.1), -p);
        let melody = pan(&mixes::melody(SR, secs, 0.08), p);
        let music = add(&chords, &melody);
        let (ours, side, _) = compare(&voice, &music, SR);
        println!(
            "  {}   (L-R keeps {:.1} dB)",
            ours.row(&format!("instruments at pan +/-{p:.1}")),
            side.music_kept_db
        );
    }

    println!();
    println!("limits, {secs:.0} s:");
    let melody = centre(&mixes::melody(SR, secs, 0.08));
    let (ours, _, _) = compare(&voice, &melody, SR);
    println!("  {}", ours.row("centred melody (in band)"));
    let silent: Stereo = (vec![0.0; voice.0.len()], vec![0.0; voice.1.len()]);
    let (ours, _, _) = compare(&silent, &music, SR);
    println!(
        "  music alone, no voice: music kept {:.1} dB, music error {:.1} dB",
        ours.music_kept_db, ours.music_error_db
    );
}
