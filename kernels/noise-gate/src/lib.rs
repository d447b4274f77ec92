//! `kino-noise-gate`: an example native kernel library written in Rust with
//! `kino-kernel-sdk`. One kernel, `noise-gate` (audio → audio): silences the
//! signal while it stays below a threshold, opening and closing smoothly.
//!
//! A peak detector (instant rise, 10 ms fall) follows the loudest channel;
//! the gate opens when it reaches `threshold-db` and closes when it falls
//! 6 dB below (hysteresis, so a level near the threshold does not chatter).
//! The gain, shared by all channels, moves towards 1 (open) with the
//! `attack-ms` time constant and towards 0 (closed) with `release-ms`.
//! State carries across consecutive blocks; a block that does not follow
//! the previous one (a seek) starts from a closed gate.
//!
//! Params: `threshold-db` (-120 to 0, default -40), `attack-ms` (0.1 to
//! 1000, default 5), `release-ms` (1 to 5000, default 80), and `panic`
//! (default false), a test hook: when true, processing panics, which the
//! host's tests use to check a panicking Rust kernel comes back as an error
//! with the host alive. Not for production pipelines.

use std::ffi::CStr;

use kino_kernel_sdk::{Format, Input, Kernel, Kind, Output, Params, export_kernels};

/// How fast the peak detector falls, in seconds.
const DETECTOR_FALL_S: f32 = 0.010;
/// How far below the threshold the gate closes, in dB.
const HYSTERESIS_DB: f32 = 6.0;
/// Gains and levels below this are zero (no subnormal arithmetic).
const FLOOR: f32 = 1e-9;

/// The `noise-gate` kernel: one per stream.
#[derive(Debug)]
pub struct NoiseGate {
    channels: usize,
    open_level: f32,
    close_level: f32,
    attack: f32,
    release: f32,
    detector_fall: f32,
    panic: bool,
    level: f32,
    gain: f32,
    open: bool,
    next_frame: Option<u64>,
}

/// `exp(-1 / (seconds * rate))`: the one-pole coefficient of a time constant.
fn coefficient(seconds: f32, sample_rate: u32) -> f32 {
    (-1.0 / (seconds * sample_rate as f32)).exp()
}

fn ranged(params: &Params, key: &str, default: f64, min: f64, max: f64) -> Result<f32, String> {
    let value = params
        .number(key, default)
        .map_err(|e| format!("noise-gate: {e}"))?;
    if (min..=max).contains(&value) {
        Ok(value as f32)
    } else {
        Err(format!(
            "noise-gate: param `{key}` must be from {min} to {max}, not {value}"
        ))
    }
}

impl NoiseGate {
    fn reset(&mut self) {
        self.level = 0.0;
        self.gain = 0.0;
        self.open = false;
    }
}

impl Kernel for NoiseGate {
    const NAME: &'static CStr = c"noise-gate";
    const DESCRIPTION: &'static CStr = c"noise gate with attack and release (params: threshold-db -40, attack-ms 5, release-ms 80)";
    const VERSION: u32 = 1;
    const INPUT: Kind = Kind::Audio;
    const OUTPUT: Kind = Kind::Audio;

    fn create(format: &Format, params: &str) -> Result<Self, String> {
        let Format::Audio {
            sample_rate,
            channels,
        } = *format
        else {
            return Err("noise-gate: expects an audio stream".to_owned());
        };
        let params = Params::parse(params).map_err(|e| format!("noise-gate: {e}"))?;
        params
            .deny_unknown(&["threshold-db", "attack-ms", "release-ms", "panic"])
            .map_err(|e| format!("noise-gate: {e}"))?;
        let threshold_db = ranged(&params, "threshold-db", -40.0, -120.0, 0.0)?;
        let attack_ms = ranged(&params, "attack-ms", 5.0, 0.1, 1000.0)?;
        let release_ms = ranged(&params, "release-ms", 80.0, 1.0, 5000.0)?;
        let panic = params
            .bool("panic", false)
            .map_err(|e| format!("noise-gate: {e}"))?;
        let level = |db: f32| 10f32.powf(db / 20.0);
        Ok(NoiseGate {
            channels: usize::from(channels),
            open_level: level(threshold_db),
            close_level: level(threshold_db - HYSTERESIS_DB),
            attack: coefficient(attack_ms / 1000.0, sample_rate),
            release: coefficient(release_ms / 1000.0, sample_rate),
            detector_fall: coefficient(DETECTOR_FALL_S, sample_rate),
            panic,
            level: 0.0,
            gain: 0.0,
            open: false,
            next_frame: None,
        })
    }

    fn process(&mut self, input: Input<'_>, output: Output<'_>) -> Result<(), String> {
        let (Input::Audio(block), Output::Audio(out)) = (input, output) else {
            return Err("noise-gate: expects audio blocks".to_owned());
        };
        if self.panic {
            panic!("asked to panic (the `panic` test param)");
        }
        if self
            .next_frame
            .is_some_and(|next| next != block.first_frame)
        {
            self.reset();
        }
        self.next_frame = Some(block.first_frame + block.frames() as u64);
        for (frame, gated) in block
            .samples
            .chunks_exact(self.channels)
            .zip(out.chunks_exact_mut(self.channels))
        {
            let peak = frame.iter().fold(0f32, |m, s| m.max(s.abs()));
            self.level = if peak >= self.level {
                peak
            } else {
                peak + (self.level - peak) * self.detector_fall
            };
            if self.level < FLOOR {
                self.level = 0.0;
            }
            self.open = self.level
                >= if self.open {
                    self.close_level
                } else {
                    self.open_level
                };
            let (target, coefficient) = if self.open {
                (1.0, self.attack)
            } else {
                (0.0, self.release)
            };
            self.gain = target + (self.gain - target) * coefficient;
            if self.gain < FLOOR {
                self.gain = 0.0;
            }
            for (o, s) in gated.iter_mut().zip(frame) {
                *o = s * self.gain;
            }
        }
        Ok(())
    }
}

export_kernels!(NoiseGate);

#[cfg(test)]
mod tests {
    use super::*;
    use kino_kernel_sdk::AudioBlock;

    const RATE: u32 = 48_000;

    fn gate(params: &str, channels: u16) -> NoiseGate {
        NoiseGate::create(
            &Format::Audio {
                sample_rate: RATE,
                channels,
            },
            params,
        )
        .expect("valid params")
    }

    /// Runs `signal` through `gate` in blocks of 4096 frames.
    fn run(gate: &mut NoiseGate, signal: &[f32], channels: usize) -> Vec<f32> {
        let mut out = vec![0.0; signal.len()];
        let block = 4096 * channels;
        for (i, (input, output)) in signal.chunks(block).zip(out.chunks_mut(block)).enumerate() {
            let block = AudioBlock {
                first_frame: (i * 4096) as u64,
                sample_rate: RATE,
                channels: channels as u16,
                samples: input,
            };
            gate.process(Input::Audio(block), Output::Audio(output))
                .expect("processed");
        }
        out
    }

    fn noise(len: usize, amplitude: f32) -> Vec<f32> {
        let mut state = 0x2545_f491_u32;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32 * 2.0 - 1.0) * amplitude
            })
            .collect()
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
    }

    #[test]
    fn quiet_noise_is_silenced_and_a_loud_tone_passes() {
        // 1 s of noise at -60 dBFS peak, then 1 s of a -6 dBFS tone, stereo.
        let quiet = noise(RATE as usize * 2, 0.001);
        let tone: Vec<f32> = (0..RATE as usize)
            .flat_map(|i| {
                let s = 0.5 * (i as f32 * 440.0 * std::f32::consts::TAU / RATE as f32).sin();
                [s, s]
            })
            .collect();
        let signal = [quiet.as_slice(), tone.as_slice()].concat();
        let out = run(&mut gate("{}", 2), &signal, 2);
        let (out_quiet, out_tone) = out.split_at(quiet.len());
        assert!(rms(&out_quiet[RATE as usize..]) < 1e-7, "noise through");
        // Fully open 50 ms after the tone starts: the tone is unchanged.
        let settled = 2 * RATE as usize / 20;
        for (o, i) in out_tone[settled..].iter().zip(&tone[settled..]) {
            assert!((o - i).abs() < 1e-4, "{o} vs {i}");
        }
        // And it opened smoothly: no jump to full level on the first frame.
        assert!(out_tone[0].abs() < 0.05);
    }

    #[test]
    fn the_gate_closes_with_the_release_time() {
        let mut gate = gate(r#"{"threshold-db": -30, "release-ms": 50}"#, 1);
        let mut signal = vec![0.5f32; RATE as usize / 2];
        signal.extend(vec![0.001f32; RATE as usize / 2]);
        let out = run(&mut gate, &signal, 1);
        // The detector falls from 0.5 to the closing level (-36 dBFS) in
        // ln(0.5 / 0.0158) * 10 ms = 35 ms; one release time constant
        // (50 ms) later the gain is about e^-1.
        let at = RATE as usize / 2 + (RATE as usize * 85 / 1000);
        let gain = out[at] / 0.001;
        assert!((0.3..0.45).contains(&gain), "gain {gain}");
        assert!(out.last().expect("samples").abs() < 1e-6);
    }

    #[test]
    fn params_are_checked_by_name() {
        let format = Format::Audio {
            sample_rate: RATE,
            channels: 1,
        };
        for (params, error) in [
            (
                r#"{"threshold-db": 3}"#,
                "noise-gate: param `threshold-db` must be from -120 to 0, not 3",
            ),
            (
                r#"{"attack-ms": "fast"}"#,
                "noise-gate: param `attack-ms` must be a number, not a string (\"fast\")",
            ),
            (
                r#"{"hold-ms": 3}"#,
                "noise-gate: unknown param `hold-ms` (expected threshold-db, attack-ms, release-ms, panic)",
            ),
        ] {
            assert_eq!(
                NoiseGate::create(&format, params).map(|_| ()),
                Err(error.to_owned())
            );
        }
        assert!(NoiseGate::create(&Format::Json, "{}").is_err());
    }
}
