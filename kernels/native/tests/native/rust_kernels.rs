//! The Rust side: the noise gate example, built as a `cdylib` with
//! kino-kernel-sdk and loaded like any other library.

use kino_native::abi;
use kino_native::{AUDIO_BLOCK_FRAMES, Format, Instance, Kind, Library};

use crate::noise_gate;

const RATE: u32 = 48_000;

fn gate(params: &str) -> Instance {
    let library = Library::load(noise_gate()).expect("the noise gate loads");
    let handle = library.handles().next().expect("one kernel");
    handle
        .start(
            &Format::Audio {
                sample_rate: RATE,
                channels: 2,
            },
            params,
        )
        .expect("created")
}

/// Runs interleaved stereo `signal` through `gate` in blocks of 4096 frames.
fn run(gate: &mut Instance, signal: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; signal.len()];
    let block = AUDIO_BLOCK_FRAMES * 2;
    for (i, (input, output)) in signal.chunks(block).zip(out.chunks_mut(block)).enumerate() {
        gate.audio_block((i * AUDIO_BLOCK_FRAMES) as u64, input, output)
            .expect("processed");
    }
    out
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
}

#[test]
fn the_noise_gate_describes_itself() {
    let library = Library::load(noise_gate()).expect("loads");
    let [info] = library.kernels() else {
        panic!("one kernel: {:?}", library.kernels());
    };
    assert_eq!(info.name, "noise-gate");
    assert_eq!((info.input, info.output), (Kind::Audio, Kind::Audio));
    assert_eq!(info.version, 1);
    assert!(info.description.starts_with("noise gate"));
}

#[test]
fn the_noise_gate_silences_quiet_noise_and_passes_a_loud_tone() {
    let mut gate = gate(r#"{"threshold-db": -40, "attack-ms": 5, "release-ms": 80}"#);
    // 1 s of hiss peaking at -60 dBFS, then 1 s of a 440 Hz tone at -6 dBFS.
    let mut state = 0x9e37_79b9_u32;
    let hiss: Vec<f32> = (0..2 * RATE as usize)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state as f32 / u32::MAX as f32 * 2.0 - 1.0) * 0.001
        })
        .collect();
    let tone: Vec<f32> = (0..RATE as usize)
        .flat_map(|i| {
            let s = 0.5 * (i as f32 * 440.0 * std::f32::consts::TAU / RATE as f32).sin();
            [s, s]
        })
        .collect();
    let signal = [hiss.as_slice(), tone.as_slice()].concat();
    let out = run(&mut gate, &signal);
    let (gated_hiss, gated_tone) = out.split_at(hiss.len());
    assert!(rms(&hiss) > 5e-4);
    assert!(rms(&gated_hiss[RATE as usize..]) < 1e-7, "the hiss is gone");
    let settled = 2 * RATE as usize / 20; // 50 ms
    let worst = gated_tone[settled..]
        .iter()
        .zip(&tone[settled..])
        .map(|(o, i)| (o - i).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-4, "the tone passes unchanged (off by {worst})");
}

#[test]
fn a_panicking_rust_kernel_is_an_error_and_the_host_lives_on() {
    let mut panicking = gate(r#"{"panic": true}"#);
    let input = vec![0.1f32; 64];
    let mut output = vec![0f32; 64];
    let error = panicking
        .audio_block(0, &input, &mut output)
        .expect_err("panicked");
    assert_eq!(error.kernel, "noise-gate");
    assert_eq!(error.code, abi::KINO_ERR_PANIC);
    assert!(
        error
            .message
            .starts_with("kernel `noise-gate` panicked: asked to panic"),
        "{error}"
    );
    // That instance is done; the library and new instances are not.
    let again = panicking
        .audio_block(32, &input, &mut output)
        .expect_err("poisoned");
    assert!(again.message.contains("panicked earlier"), "{again}");
    drop(panicking);
    let mut fine = gate("{}");
    fine.audio_block(0, &input, &mut output).expect("works");
}

#[test]
fn the_sdk_checks_params_and_reports_them() {
    let library = Library::load(noise_gate()).expect("loads");
    let handle = library.handles().next().expect("one kernel");
    let stereo = Format::Audio {
        sample_rate: RATE,
        channels: 2,
    };
    let error = handle
        .start(&stereo, r#"{"threshold-db": 6}"#)
        .expect_err("refused");
    assert_eq!(
        error.message,
        "noise-gate: param `threshold-db` must be from -120 to 0, not 6"
    );
    let error = handle.start(&stereo, "{not json").expect_err("refused");
    assert!(error.message.starts_with("noise-gate: params: "), "{error}");
    // The host refuses another kind before the kernel sees it.
    let error = handle.start(&Format::Json, "{}").expect_err("refused");
    assert_eq!(error.code, abi::KINO_ERR_INVALID);
}

#[test]
fn instances_move_between_threads() {
    let mut gate = gate("{}");
    let handle = std::thread::spawn(move || {
        let mut out = vec![0f32; 8];
        gate.audio_block(0, &[0.5; 8], &mut out).map(|()| out)
    });
    let out = handle.join().expect("thread").expect("processed");
    assert_eq!(out.len(), 8);
}
