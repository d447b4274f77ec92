"""Reference for Kino's diffusion samplers (kino_kernels::diffusion).

Plain Python (floats are doubles), written from the papers' equations in
another parameterisation than the Rust: the samplers step the
variance-exploding latent x / alpha with sigma = sqrt((1 - abar) / abar),
as k-diffusion does, where the Rust steps the variance-preserving one.
DDIM (eta = 0) is then an Euler step of the probability-flow ODE and
DPM-Solver++(2M) is its multistep form over t = -log(sigma).

Reads one JSON request on stdin, writes the final latents as JSON:
  {"seed", "n", "steps", "sampler": "ddim"|"dpm++2m",
   "spacing": "leading"|"trailing"|"linspace", "prediction": "epsilon"|"v",
   "guidance"}
The network is the test's analytic stand-in (network() below), the same
function the Rust test defines.
"""

import json
import math
import struct
import sys

MASK = (1 << 64) - 1


def noise(seed, n):
    state = seed
    out = []

    def uniform():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        return ((z >> 11) + 1) / float(1 << 53)

    while len(out) < n:
        u1, u2 = uniform(), uniform()
        r = math.sqrt(-2.0 * math.log(u1))
        out += [r * math.cos(2 * math.pi * u2), r * math.sin(2 * math.pi * u2)]
    return [f32(v) for v in out[:n]]


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


def alphas_cumprod():
    # Stable Diffusion 1.x: scaled-linear betas, 0.00085 to 0.012, 1000 steps.
    a, b = math.sqrt(0.00085), math.sqrt(0.012)
    out, prod = [], 1.0
    for i in range(1000):
        beta = (a + (b - a) * i / 999) ** 2
        prod *= 1.0 - beta
        out.append(prod)
    return out


def timesteps(spacing, steps, total=1000):
    if spacing == "leading":
        k = total // steps
        ts = [i * k + 1 for i in range(steps)][::-1]
    elif spacing == "trailing":
        ts = [round(total - i * total / steps) - 1 for i in range(steps)]
    else:
        ts = [round(i * (total - 1) / (steps - 1)) if steps > 1 else 0 for i in range(steps)][::-1]
    return ts


def network(x, t, abar, conditional):
    """The test's stand-in for a UNet: a denoiser that knows a target
    (sin(0.37 j), half of it when unconditional), perturbed nonlinearly."""
    a, s = math.sqrt(abar[t]), math.sqrt(1 - abar[t])
    out = []
    for j, v in enumerate(x):
        target = math.sin(0.37 * j)
        if conditional:
            out.append((v - a * target) / s + 0.1 * math.tanh(v) * math.sin(0.011 * t))
        else:
            out.append((v - a * 0.5 * target) / s - 0.05 * math.cos(0.21 * j - 0.007 * t))
    return [f32(o) for o in out]


def run(req):
    abar = alphas_cumprod()
    ts = timesteps(req["spacing"], req["steps"])
    g = req["guidance"]

    def alpha(t):
        return math.sqrt(abar[t])

    def sigma_ve(a):
        return math.sqrt((1 - a) / a)

    def eps_of(x_vp, t):
        c, u = network(x_vp, t, abar, True), network(x_vp, t, abar, False)
        out = [f32(ui + f32(g) * (ci - ui)) for ci, ui in zip(c, u)]
        if req["prediction"] == "v":
            a, s = alpha(t), math.sqrt(1 - abar[t])
            out = [s * xv + a * ov for xv, ov in zip(x_vp, out)]
        return out

    # Start: pure noise as the VP latent at the first timestep.
    x = [v / alpha(ts[0]) for v in noise(req["seed"], req["n"])]
    sigmas = [sigma_ve(abar[t]) for t in ts]
    if req["sampler"] == "ddim":
        sigmas.append(sigma_ve(abar[0]))  # SD 1.x's DDIM ends on abar_0
        for i, t in enumerate(ts):
            eps = eps_of([v * alpha(t) for v in x], t)
            x = [xv + (sigmas[i + 1] - sigmas[i]) * e for xv, e in zip(x, eps)]
        return [v * math.sqrt(abar[0]) for v in x]

    sigmas.append(0.0)
    old = None
    for i, t in enumerate(ts):
        eps = eps_of([v * alpha(t) for v in x], t)
        denoised = [xv - sigmas[i] * e for xv, e in zip(x, eps)]
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            tf = -math.log(sigmas[i])
            h = -math.log(sigmas[i + 1]) - tf
            if old is None:
                d = denoised
            else:
                h_last = tf + math.log(sigmas[i - 1])
                k = 1 / (2 * (h_last / h))
                d = [(1 + k) * dn - k * o for dn, o in zip(denoised, old)]
            x = [(sigmas[i + 1] / sigmas[i]) * xv - math.expm1(-h) * dv for xv, dv in zip(x, d)]
        old = denoised
    return x


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
