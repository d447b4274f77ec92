//! The samplers against a reference of the same equations written apart
//! (`diffusion_reference.py`, plain Python, in the variance-exploding
//! parameterisation): from the same seed, every sampler, spacing,
//! prediction type and guidance scale lands on the same latents within
//! 1e-4. Needs `python3` (which `make setup` installs).

use std::io::Write as _;
use std::process::{Command, Stdio};

use kino_kernels::diffusion::{Prediction, Sampler, Schedule, Spacing, guide, noise, sample};

/// The reference's `network`: a denoiser that knows a target pattern (half
/// of it when unconditional), perturbed nonlinearly.
fn network(schedule: &Schedule, x: &[f32], t: usize, conditional: bool) -> Vec<f32> {
    let abar = schedule.alpha_cumprod(t);
    let (a, s) = (abar.sqrt(), (1.0 - abar).sqrt());
    let t = t as f64;
    x.iter()
        .enumerate()
        .map(|(j, &v)| {
            let (v, j) = (f64::from(v), j as f64);
            let target = (0.37 * j).sin();
            let out = if conditional {
                (v - a * target) / s + 0.1 * v.tanh() * (0.011 * t).sin()
            } else {
                (v - a * 0.5 * target) / s - 0.05 * (0.21 * j - 0.007 * t).cos()
            };
            out as f32
        })
        .collect()
}

fn reference(request: &serde_json::Value) -> Vec<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/diffusion_reference.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the reference (make setup installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("request");
    let out = child.wait_with_output().expect("reference");
    assert!(out.status.success(), "the reference failed on {request}");
    serde_json::from_slice(&out.stdout).expect("latents as JSON")
}

#[test]
fn samplers_match_the_reference() {
    let n = 64;
    let mut checked = 0;
    for (sampler, name) in [
        (Sampler::Ddim, "ddim"),
        (Sampler::DpmSolverPlusPlus2M, "dpm++2m"),
    ] {
        for (spacing, spacing_name) in [
            (Spacing::Leading, "leading"),
            (Spacing::Trailing, "trailing"),
            (Spacing::Linspace, "linspace"),
        ] {
            for (prediction, prediction_name) in [
                (Prediction::Epsilon, "epsilon"),
                (Prediction::Velocity, "v"),
            ] {
                for (steps, guidance) in [(1, 1.0f32), (8, 7.5), (25, 3.0)] {
                    let mut schedule = Schedule::stable_diffusion();
                    schedule.spacing = spacing;
                    schedule.prediction = prediction;
                    let seed = 40 + steps as u64;
                    let timesteps = schedule.timesteps(steps);
                    let ours = sample(&schedule, sampler, &timesteps, noise(seed, n), |x, t| {
                        // Read as ε or as v, whichever the schedule says
                        // the network predicts (the reference does the same).
                        Ok::<_, ()>(guide(
                            &network(&schedule, x, t, true),
                            &network(&schedule, x, t, false),
                            guidance,
                        ))
                    })
                    .expect("sample");
                    let request = serde_json::json!({
                        "seed": seed, "n": n, "steps": steps, "sampler": name,
                        "spacing": spacing_name, "prediction": prediction_name,
                        "guidance": guidance,
                    });
                    let theirs = reference(&request);
                    assert_eq!(theirs.len(), n);
                    let worst = ours
                        .iter()
                        .zip(&theirs)
                        .map(|(&o, &r)| (f64::from(o) - r).abs())
                        .fold(0.0, f64::max);
                    assert!(
                        worst < 1e-4,
                        "{request}: latents differ by up to {worst}\nours   {:?}\ntheirs {:?}",
                        &ours[..4],
                        &theirs[..4]
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 36);
}
