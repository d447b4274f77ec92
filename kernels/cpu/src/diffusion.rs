//! The host's diffusion samplers: noise schedules, DDIM and
//! DPM-Solver++(2M), classifier-free guidance and seeded noise.
//!
//! The network (a UNet) is the caller's: [`sample`] asks it for its output
//! at each timestep and does the rest. Latents are `f32` (what the networks
//! take); each step's arithmetic is done in `f64`.
//!
//! Notation: `ᾱ_t` is the schedule's cumulative product of `1 - β`, and
//! `α_t = √ᾱ_t`, `σ_t = √(1 - ᾱ_t)`, `λ_t = ln(α_t / σ_t)`. A noisy latent is
//! `x_t = α_t·x₀ + σ_t·ε`.
//!
//! - **DDIM** (η = 0): `x₀ = (x_t - σ_t·ε) / α_t`, then
//!   `x_next = α_next·x₀ + σ_next·ε`. After the last timestep it lands on
//!   `ᾱ = 1` or on `ᾱ_0`, as the schedule's `set_alpha_to_one` says
//!   (Stable Diffusion 1.x says `ᾱ_0`).
//! - **DPM-Solver++(2M)** (Lu et al. 2022, multistep, data prediction): with
//!   `h = λ_next - λ_t`, the first-order step is
//!   `x_next = (σ_next/σ_t)·x_t - α_next·(e^(-h) - 1)·D` with `D = x₀`; the
//!   second-order step takes `D = x₀ + (x₀ - x₀_prev) / (2r)`, where
//!   `r = (λ_t - λ_prev) / h`. The first step is first order; the step after
//!   the last timestep lands on `σ = 0`, which is `x₀` itself.
//!
//! [`noise`] is a generator of this module's own (SplitMix64 and
//! Box-Muller), so that a seed draws the same latents in every version of
//! Kino and in the reference script its tests compare against.

use std::f64::consts::PI;

/// How the training betas grow from `beta_start` to `beta_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BetaSchedule {
    /// Evenly spaced betas.
    Linear,
    /// Evenly spaced square roots of the betas (Stable Diffusion's).
    ScaledLinear,
}

/// Where the sampling timesteps fall among the training timesteps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    /// `0, k, 2k, …` plus the offset, from the top down (`k = T / steps`).
    Leading,
    /// `T - 1, T - 1 - k, …`: the first step is at the noisiest timestep.
    Trailing,
    /// `steps` points rounded from `0 ..= T - 1`, from the top down.
    Linspace,
}

/// What the network predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// The noise `ε` (Stable Diffusion 1.x, 2.x base).
    Epsilon,
    /// The velocity `v = α_t·ε - σ_t·x₀` (Stable Diffusion 2.x at 768).
    Velocity,
}

/// A sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampler {
    /// DDIM, deterministic (η = 0).
    Ddim,
    /// DPM-Solver++(2M).
    DpmSolverPlusPlus2M,
}

impl std::str::FromStr for Sampler {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ddim" => Ok(Sampler::Ddim),
            "dpm++2m" | "dpmpp2m" | "dpm-solver++" => Ok(Sampler::DpmSolverPlusPlus2M),
            other => Err(format!(
                "unknown sampler `{other}`: expected `ddim` or `dpm++2m`"
            )),
        }
    }
}

/// A trained noise schedule and how to step through it.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// `ᾱ_t` for each training timestep.
    alphas_cumprod: Vec<f64>,
    /// Where the sampling timesteps fall.
    pub spacing: Spacing,
    /// Added to `Leading` timesteps (Stable Diffusion: 1).
    pub steps_offset: usize,
    /// What the network predicts.
    pub prediction: Prediction,
    /// Whether DDIM's last step lands on `ᾱ = 1` (else on `ᾱ_0`).
    pub set_alpha_to_one: bool,
}

impl Schedule {
    /// A schedule of `train_steps` betas from `beta_start` to `beta_end`.
    ///
    /// # Panics
    /// If `train_steps` is under 2 or a beta is outside `(0, 1)`.
    pub fn new(kind: BetaSchedule, beta_start: f64, beta_end: f64, train_steps: usize) -> Self {
        assert!(train_steps >= 2, "a schedule needs at least 2 timesteps");
        let at = |i: usize| i as f64 / (train_steps - 1) as f64;
        let betas = (0..train_steps).map(|i| match kind {
            BetaSchedule::Linear => beta_start + (beta_end - beta_start) * at(i),
            BetaSchedule::ScaledLinear => {
                let (a, b) = (beta_start.sqrt(), beta_end.sqrt());
                (a + (b - a) * at(i)).powi(2)
            }
        });
        let mut product = 1.0;
        let alphas_cumprod = betas
            .map(|beta| {
                assert!(beta > 0.0 && beta < 1.0, "beta {beta} is outside (0, 1)");
                product *= 1.0 - beta;
                product
            })
            .collect();
        Self {
            alphas_cumprod,
            spacing: Spacing::Leading,
            steps_offset: 0,
            prediction: Prediction::Epsilon,
            set_alpha_to_one: true,
        }
    }

    /// Stable Diffusion 1.x's: scaled-linear betas from 0.00085 to 0.012
    /// over 1000 timesteps, leading spacing with offset 1, ε-prediction,
    /// DDIM ending on `ᾱ_0`.
    pub fn stable_diffusion() -> Self {
        Self {
            spacing: Spacing::Leading,
            steps_offset: 1,
            set_alpha_to_one: false,
            ..Self::new(BetaSchedule::ScaledLinear, 0.00085, 0.012, 1000)
        }
    }

    /// How many training timesteps there are.
    pub fn train_steps(&self) -> usize {
        self.alphas_cumprod.len()
    }

    /// `ᾱ_t`.
    pub fn alpha_cumprod(&self, t: usize) -> f64 {
        self.alphas_cumprod[t]
    }

    /// The `steps` timesteps to sample at, noisiest first (each below
    /// [`Schedule::train_steps`], strictly decreasing).
    ///
    /// # Panics
    /// If `steps` is 0 or more than the training timesteps.
    pub fn timesteps(&self, steps: usize) -> Vec<usize> {
        let total = self.train_steps();
        assert!(
            (1..=total).contains(&steps),
            "{steps} steps: expected 1 to {total}"
        );
        let mut out: Vec<usize> = match self.spacing {
            Spacing::Leading => {
                let k = total / steps;
                (0..steps)
                    .rev()
                    .map(|i| (i * k + self.steps_offset).min(total - 1))
                    .collect()
            }
            Spacing::Trailing => {
                let k = total as f64 / steps as f64;
                (0..steps)
                    .map(|i| ((total as f64 - i as f64 * k).round() as usize).saturating_sub(1))
                    .collect()
            }
            Spacing::Linspace => (0..steps)
                .rev()
                .map(|i| {
                    let at = if steps == 1 {
                        0.0
                    } else {
                        i as f64 * (total - 1) as f64 / (steps - 1) as f64
                    };
                    at.round() as usize
                })
                .collect(),
        };
        out.dedup();
        out
    }

    /// `x₀` noised to timestep `t`: `α_t·x₀ + σ_t·ε` (where an
    /// image-to-image run starts).
    pub fn add_noise(&self, clean: &[f32], noise: &[f32], t: usize) -> Vec<f32> {
        let (alpha, sigma) = alpha_sigma(self.alphas_cumprod[t]);
        clean
            .iter()
            .zip(noise)
            .map(|(&x, &e)| (alpha * f64::from(x) + sigma * f64::from(e)) as f32)
            .collect()
    }

    /// The network's output at `t` as the clean latent `x₀` and the noise `ε`.
    fn split(&self, x: f64, output: f64, alpha: f64, sigma: f64) -> (f64, f64) {
        match self.prediction {
            Prediction::Epsilon => ((x - sigma * output) / alpha, output),
            Prediction::Velocity => (alpha * x - sigma * output, sigma * x + alpha * output),
        }
    }
}

fn alpha_sigma(alpha_cumprod: f64) -> (f64, f64) {
    (alpha_cumprod.sqrt(), (1.0 - alpha_cumprod).sqrt())
}

/// Runs `sampler` from `latents` (noise at `timesteps[0]`) down through
/// `timesteps` (noisiest first, as [`Schedule::timesteps`] gives them, or
/// its tail for image-to-image), asking `model` for the network's output at
/// each one. Returns the denoised latents.
///
/// `model` is called once per timestep, in order; its output must be as
/// long as the latents.
///
/// # Panics
/// If `model` answers with another length.
pub fn sample<E>(
    schedule: &Schedule,
    sampler: Sampler,
    timesteps: &[usize],
    mut latents: Vec<f32>,
    mut model: impl FnMut(&[f32], usize) -> Result<Vec<f32>, E>,
) -> Result<Vec<f32>, E> {
    // DPM-Solver++'s previous data prediction and its λ.
    let mut previous: Option<(Vec<f64>, f64)> = None;
    for (i, &t) in timesteps.iter().enumerate() {
        let output = model(&latents, t)?;
        assert_eq!(
            output.len(),
            latents.len(),
            "the network answered {} values for {} latents",
            output.len(),
            latents.len()
        );
        let now = schedule.alphas_cumprod[t];
        let (alpha, sigma) = alpha_sigma(now);
        let next = timesteps.get(i + 1).map(|&n| schedule.alphas_cumprod[n]);
        match sampler {
            Sampler::Ddim => {
                let end = if schedule.set_alpha_to_one {
                    1.0
                } else {
                    schedule.alphas_cumprod[0]
                };
                let (alpha_next, sigma_next) = alpha_sigma(next.unwrap_or(end));
                for (x, &out) in latents.iter_mut().zip(&output) {
                    let (x0, eps) = schedule.split(f64::from(*x), f64::from(out), alpha, sigma);
                    *x = (alpha_next * x0 + sigma_next * eps) as f32;
                }
            }
            Sampler::DpmSolverPlusPlus2M => {
                let x0: Vec<f64> = latents
                    .iter()
                    .zip(&output)
                    .map(|(&x, &out)| schedule.split(f64::from(x), f64::from(out), alpha, sigma).0)
                    .collect();
                let lambda = (alpha / sigma).ln();
                match next {
                    // After the last timestep: σ = 0, where the step is x₀.
                    None => {
                        for (x, &d) in latents.iter_mut().zip(&x0) {
                            *x = d as f32;
                        }
                    }
                    Some(next) => {
                        let (alpha_next, sigma_next) = alpha_sigma(next);
                        let h = (alpha_next / sigma_next).ln() - lambda;
                        let keep = sigma_next / sigma;
                        let push = -alpha_next * ((-h).exp() - 1.0);
                        let slope = previous.as_ref().map(|(before, lambda_before)| {
                            let r = (lambda - lambda_before) / h;
                            (before, 1.0 / (2.0 * r))
                        });
                        for (j, x) in latents.iter_mut().enumerate() {
                            let d = match slope {
                                Some((before, k)) => x0[j] + k * (x0[j] - before[j]),
                                None => x0[j],
                            };
                            *x = (keep * f64::from(*x) + push * d) as f32;
                        }
                    }
                }
                previous = Some((x0, lambda));
            }
        }
    }
    Ok(latents)
}

/// Classifier-free guidance: `unconditional + scale·(conditional -
/// unconditional)`.
pub fn guide(conditional: &[f32], unconditional: &[f32], scale: f32) -> Vec<f32> {
    conditional
        .iter()
        .zip(unconditional)
        .map(|(&c, &u)| u + scale * (c - u))
        .collect()
}

/// `n` standard normal values drawn from `seed`: SplitMix64 gives two
/// uniforms in (0, 1] from the top 53 bits of two outputs, and Box-Muller
/// turns each pair into two normals (cosine first).
pub fn noise(seed: u64, n: usize) -> Vec<f32> {
    let mut state = seed;
    let mut uniform = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let (u1, u2) = (uniform(), uniform());
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * PI * u2;
        out.push((r * theta.cos()) as f32);
        out.push((r * theta.sin()) as f32);
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_diffusions_schedule_ends_where_it_was_trained() {
        let s = Schedule::stable_diffusion();
        // ᾱ at both ends of SD 1.x's published schedule.
        assert!((s.alpha_cumprod(0) - 0.99915).abs() < 1e-6);
        assert!((s.alpha_cumprod(999) - 0.004_660_5).abs() < 1e-6);
        assert_eq!(
            s.timesteps(10),
            [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]
        );
        let trailing = Schedule {
            spacing: Spacing::Trailing,
            ..s.clone()
        };
        assert_eq!(trailing.timesteps(4), [999, 749, 499, 249]);
        let linspace = Schedule {
            spacing: Spacing::Linspace,
            ..s
        };
        assert_eq!(linspace.timesteps(4), [999, 666, 333, 0]);
    }

    #[test]
    fn noise_is_seeded_and_standard() {
        let a = noise(7, 100_001);
        assert_eq!(a, noise(7, 100_001));
        assert_ne!(a[..8], noise(8, 8)[..]);
        assert_eq!(noise(7, 3)[..], a[..3]);
        let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64;
        let var = a
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / a.len() as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }

    /// A network that knows the clean latent: DPM-Solver++ lands on it,
    /// DDIM on it noised to its last `ᾱ_0` with the same noise.
    #[test]
    fn an_oracle_network_is_sampled_to_its_clean_latent() {
        let s = Schedule::stable_diffusion();
        let clean = [0.5f32, -1.25, 2.0, 0.0];
        let eps = noise(1, 4);
        for sampler in [Sampler::Ddim, Sampler::DpmSolverPlusPlus2M] {
            let timesteps = s.timesteps(12);
            let start = s.add_noise(&clean, &eps, timesteps[0]);
            let out = sample(&s, sampler, &timesteps, start, |x, t| {
                let (a, sg) = alpha_sigma(s.alpha_cumprod(t));
                let eps = x
                    .iter()
                    .zip(&clean)
                    .map(|(&x, &c)| ((f64::from(x) - a * f64::from(c)) / sg) as f32)
                    .collect();
                Ok::<_, ()>(eps)
            })
            .expect("sample");
            let expected = match sampler {
                Sampler::Ddim => s.add_noise(&clean, &eps, 0),
                Sampler::DpmSolverPlusPlus2M => clean.to_vec(),
            };
            for (o, e) in out.iter().zip(&expected) {
                assert!(
                    (o - e).abs() < 1e-4,
                    "{sampler:?}: {out:?}, not {expected:?}"
                );
            }
        }
    }

    #[test]
    fn guidance_scales_the_difference() {
        assert_eq!(guide(&[2.0, 1.0], &[1.0, 1.0], 7.5), [8.5, 1.0]);
        assert_eq!(guide(&[2.0], &[1.0], 1.0), [2.0]);
    }
}
