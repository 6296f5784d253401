"""E3 (paper Sec. VI-B, Figs. 4-5): transient shocks in noise, time-varying hops and window
lengths by kurtosis plus coverage, against uniform frames.

The signal: five decaying shocks (damped sinusoids of different centre frequencies and decay
times, at irregular times) in white Gaussian noise at 20 dB SNR, the SNR taken over the whole
signal: ``10 log10(mean(clean ** 2) / mean(noise ** 2)) = 20`` exactly for every noise seed.

- Uniform frames (the baseline): a constant hop and the best constant window length by the mean
  frame kurtosis of ``|S|`` (paper Eq. 29), by ``adastft.fit(criterion="kurtosis")`` (a coarse
  grid, then gradient descent).
- Adaptive frames: one window length per frame (``win_mode="time"``) and ``T - 1`` learnable
  hops (``hop_mode="time"``, the same number of frames ``T``), started from the baseline,
  maximising the mean frame kurtosis minus the coverage penalty (Eqs. 30-32) weighted so that
  the frames cover the signal at the end (uncovered samples = 0).

Reports, over several noise seeds, the mean frame kurtosis of both (the gain), the coverage
penalty and the samples outside every window, the frame positions (hop statistics, frames on
the shocks), steps and wall time; on the first seed also a sweep of the coverage weight and a
lower bound on the hops. Figures: spectrograms at the true frame positions, frames and their
extents, window lengths and hops over time.

Run: ``python experiments/e3_shocks.py [--quick] [--out results/e3] [--seed 0]``
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from _common import environment, parser, pyplot, save_figure, write_json

import adastft as ad
from adastft import losses

FS = 8000.0
SNR_DB = 20.0
# (onset s, centre frequency Hz, decay time constant tau s, amplitude): irregular onsets,
# frequencies 600-3000 Hz, decays 2-20 ms (supports [onset, onset + 5 tau]: 10-100 ms).
SHOCKS = (
    (0.080, 600.0, 0.020, 1.0),
    (0.270, 1400.0, 0.004, 1.0),
    (0.410, 2200.0, 0.010, 0.8),
    (0.660, 3000.0, 0.002, 1.2),
    (0.830, 1000.0, 0.008, 0.9),
)
SUPPORT_TAUS = 5.0  # a shock's support: [onset, onset + 5 tau] (all but e^-10 of its energy)
N_FFT, HOP = 256, 64
# Pinned (fit's default is "energy"): the frame kurtosis is scale-invariant per frame, so the
# normalisation changes the pictures and, through rounding only, the descent's path.
NORMALIZATION = "amplitude"
COVERAGE = 100.0  # weight of the coverage penalty per uncovered fraction of the signal
VARIANTS = (  # on the first seed: (name, coverage weight, extra layer options)
    ("coverage 0", 0.0, {}),
    ("coverage 1", 1.0, {}),
    ("coverage 10", 10.0, {}),
    ("coverage 100, hop_min 16", COVERAGE, {"hop_min": 16.0}),
)


def shocks(length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(noisy, clean)``, float32 ``(length,)``: the shocks of ``SHOCKS`` plus white noise
    scaled to ``SNR_DB`` over the whole signal (``seed`` draws the noise only)."""
    s = torch.arange(length, dtype=torch.float64) / FS
    clean = torch.zeros(length, dtype=torch.float64)
    for onset, freq, tau, amp in SHOCKS:
        u = s - onset
        decay = torch.exp(-u.clamp(min=0) / tau) * (u >= 0)
        clean += amp * decay * torch.sin(2 * math.pi * freq * u)
    noise = torch.randn(length, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    noise *= (clean.square().mean() / noise.square().mean() / 10 ** (SNR_DB / 10)).sqrt()
    return (clean + noise).float(), clean.float()


def supports(length: int) -> list[tuple[float, float]]:
    """Each shock's support ``[onset, onset + 5 tau]`` in samples, clipped to the signal."""
    return [
        (onset * FS, min(length - 1.0, (onset + SUPPORT_TAUS * tau) * FS))
        for onset, _, tau, _ in SHOCKS
    ]


def on_shocks(positions: torch.Tensor, length: int) -> int:
    """Number of frames whose centre lies on a shock's support."""
    t = positions.detach()
    return int(sum(((t >= a) & (t <= b)).sum() for a, b in supports(length)))


def uncovered_samples(positions: torch.Tensor, win_length: torch.Tensor, length: int) -> int:
    """Samples ``0 <= s < L`` outside every window support ``[t_n - lam_n / 2, t_n + lam_n / 2]``
    (a direct count; the coverage penalty measures the same gaps in real units)."""
    s = torch.arange(length, dtype=torch.float64)[:, None]
    t = positions.detach().double()[None]
    half = 0.5 * win_length.detach().double().reshape(-1)[None]
    return int((~((s - t).abs() <= half).any(dim=1)).sum())


def best_per_shock(
    x: torch.Tensor, positions: torch.Tensor, win_length: torch.Tensor
) -> list[float]:
    """For each shock, the highest frame kurtosis among the frames whose window support meets
    the shock's support: how well the best-placed frame resolves it, whatever the number of
    frames spent on it."""
    t = positions.detach()
    lam = win_length.detach().reshape(-1).expand(t.numel())
    with torch.no_grad():
        spec = ad.spectrogram(
            x, lam[None], n_fft=N_FFT, positions=t, power=1.0, normalization=NORMALIZATION
        )
        k = losses.kurtosis(spec, reduction="none")
    best = []
    for a, b in supports(x.shape[-1]):
        meets = (t + lam / 2 >= a) & (t - lam / 2 <= b)
        best.append(float(k[meets].max()) if bool(meets.any()) else float("nan"))
    return best


def frame_stats(result: ad.FitResult, length: int, hop_min: float) -> dict:
    """Positions, hops and window lengths of a fit, and their coverage of the signal."""
    t = result.positions
    hops = torch.diff(t)
    lam = result.win_length.reshape(-1)
    return {
        "mean_kurtosis": -result.criterion,
        "coverage_penalty": float(
            losses.coverage_penalty(t, result.win_length, signal_length=length)
        ),
        "uncovered_samples": uncovered_samples(t, result.win_length, length),
        "frames_meeting_signal": int(result.layer.frame_mask().sum()),
        "frames_on_shocks": on_shocks(t, length),
        "hop": {
            "min": float(hops.min()),
            "median": float(hops.median()),
            "max": float(hops.max()),
            "coefficient_of_variation": float(hops.std() / hops.mean()),
            "fraction_within_1_of_hop_min": float((hops <= hop_min + 1.0).float().mean()),
        },
        "win_length": {
            "min": float(lam.min()),
            "median": float(lam.median()),
            "max": float(lam.max()),
            "fraction_at_n_fft": float((lam >= N_FFT - 0.5).float().mean()),
        },
        "steps": result.steps,
        "stopped": result.stopped,
        # How much the objective still fell over the last 100 steps (0 if it had stopped).
        "objective_drop_last_100_steps": (
            result.history[-101] - result.final_loss if len(result.history) > 100 else None
        ),
        "seconds": result.seconds,
    }


def run_seed(x: torch.Tensor, seed: int, steps: int) -> tuple[dict, ad.FitResult, ad.FitResult]:
    length = x.shape[-1]
    baseline = ad.fit(
        x,
        n_fft=N_FFT,
        hop_length=HOP,
        criterion="kurtosis",
        steps=steps,
        seed=seed,
        normalization=NORMALIZATION,
    )
    adaptive = ad.fit(
        x,
        n_fft=N_FFT,
        hop_length=HOP,
        win_mode="time",
        hop_mode="time",
        criterion="kurtosis",
        coverage=COVERAGE,
        win_length=float(baseline.win_length),
        steps=steps,
        seed=seed,
        normalization=NORMALIZATION,
    )
    # The adaptive positions with the baseline's constant window: how much of the gain the
    # frame positions alone give.
    with torch.no_grad():
        spec = ad.spectrogram(
            x,
            float(baseline.win_length),
            n_fft=N_FFT,
            positions=adaptive.positions,
            power=1.0,
            normalization=NORMALIZATION,
        )
        positions_only = float(losses.kurtosis(spec))
    record = {
        "seed": seed,
        "baseline": {
            "win_length": float(baseline.win_length),
            "mean_kurtosis": -baseline.criterion,
            "frames_on_shocks": on_shocks(baseline.positions, length),
            "uncovered_samples": uncovered_samples(baseline.positions, baseline.win_length, length),
            "steps": baseline.steps,
            "grid_evaluations": baseline.init.evaluations,
            "seconds": baseline.seconds + baseline.init.seconds,
            "best_kurtosis_per_shock": best_per_shock(x, baseline.positions, baseline.win_length),
        },
        "adaptive": {
            **frame_stats(adaptive, length, hop_min=1.0),
            "best_kurtosis_per_shock": best_per_shock(x, adaptive.positions, adaptive.win_length),
        },
        "adaptive_positions_constant_window": positions_only,
    }
    record["gain"] = record["adaptive"]["mean_kurtosis"] - record["baseline"]["mean_kurtosis"]
    return record, baseline, adaptive


def mean_std(values: list[float]) -> dict:
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0}


def main() -> None:
    args = parser(__doc__.splitlines()[0], "results/e3").parse_args()
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    length = 8000
    steps, n_seeds = (20, 1) if args.quick else (2000, 5)
    seeds = [args.seed + i for i in range(n_seeds)]
    variants_run = VARIANTS[:1] if args.quick else VARIANTS

    records, first = [], None
    for seed in seeds:
        x, clean = shocks(length, seed)
        record, baseline, adaptive = run_seed(x, seed, steps)
        records.append(record)
        if first is None:
            first = (x, clean, baseline, adaptive)

    x, clean, baseline, adaptive = first
    variants = {}
    for name, weight, options in variants_run:
        r = ad.fit(
            x,
            n_fft=N_FFT,
            hop_length=HOP,
            win_mode="time",
            hop_mode="time",
            criterion="kurtosis",
            coverage=weight,
            win_length=float(baseline.win_length),
            steps=steps,
            seed=seeds[0],
            normalization=NORMALIZATION,
            **options,
        )
        variants[name] = {
            "coverage": weight,
            **options,
            **frame_stats(r, length, hop_min=options.get("hop_min", 1.0)),
        }
    seconds = time.perf_counter() - start

    summary = {
        "settings": {
            "length": length,
            "sample_rate": FS,
            "snr_db": SNR_DB,
            "snr_definition": "10 log10(mean(clean^2) / mean(noise^2)) over the whole signal",
            "shocks": [
                {"onset_s": o, "frequency_hz": f, "tau_s": tau, "amplitude": a}
                for o, f, tau, a in SHOCKS
            ],
            "support_taus": SUPPORT_TAUS,
            "n_fft": N_FFT,
            "hop_length": HOP,
            "n_frames": int(adaptive.positions.numel()),
            "window": "hann",
            "normalization": NORMALIZATION,
            "criterion": "mean frame kurtosis of |S| (Eq. 29), maximised",
            "coverage": COVERAGE,
            "coverage_units": "weight per uncovered fraction of the signal (fit divides by L)",
            "steps": steps,
            "lr": 0.05,
            "seeds": seeds,
            "quick": args.quick,
        },
        "runs": records,
        "aggregate": {
            "baseline_kurtosis": mean_std([r["baseline"]["mean_kurtosis"] for r in records]),
            "adaptive_kurtosis": mean_std([r["adaptive"]["mean_kurtosis"] for r in records]),
            "gain": mean_std([r["gain"] for r in records]),
            "adaptive_positions_constant_window": mean_std(
                [r["adaptive_positions_constant_window"] for r in records]
            ),
            "coverage_penalty_max": max(r["adaptive"]["coverage_penalty"] for r in records),
            "uncovered_samples_max": max(r["adaptive"]["uncovered_samples"] for r in records),
            "best_kurtosis_per_shock": {
                side: [
                    mean_std([r[side]["best_kurtosis_per_shock"][i] for r in records])
                    for i in range(len(SHOCKS))
                ]
                for side in ("baseline", "adaptive")
            },
            "adaptive_seconds": mean_std([r["adaptive"]["seconds"] for r in records]),
            "adaptive_steps": mean_std([r["adaptive"]["steps"] for r in records]),
        },
        "variants_first_seed": variants,
        "baseline_grid_first_seed": {
            "win_length": baseline.init.candidates.tolist(),
            "mean_kurtosis": (-baseline.init.losses).tolist(),
        },
        "first_seed_frames": {
            "baseline_positions": baseline.positions.tolist(),
            "adaptive_positions": adaptive.positions.tolist(),
            "adaptive_win_length": adaptive.win_length.reshape(-1).tolist(),
        },
        "seconds": seconds,
        "environment": environment(),
    }
    out = Path(args.out)
    write_json(out / "e3.json", summary)
    draw(out, x, clean, baseline, adaptive, records[0])

    agg = summary["aggregate"]
    k0, k1, g = agg["baseline_kurtosis"], agg["adaptive_kurtosis"], agg["gain"]
    print(f"seeds {seeds}, {steps} steps at most, coverage weight {COVERAGE:g}")
    print(
        f"mean frame kurtosis: uniform {k0['mean']:.2f} +- {k0['std']:.2f}, adaptive "
        f"{k1['mean']:.2f} +- {k1['std']:.2f} (gain {g['mean']:.2f} +- {g['std']:.2f})"
    )
    for r in records:
        a = r["adaptive"]
        print(
            f"  seed {r['seed']}: uniform {r['baseline']['mean_kurtosis']:.2f} (window "
            f"{r['baseline']['win_length']:.1f}), adaptive {a['mean_kurtosis']:.2f}; coverage "
            f"penalty {a['coverage_penalty']:.3g}, uncovered {a['uncovered_samples']} samples; "
            f"frames on shocks {r['baseline']['frames_on_shocks']} -> {a['frames_on_shocks']}; "
            f"hops {a['hop']['min']:.1f}..{a['hop']['max']:.1f}; {a['steps']} steps "
            f"({a['stopped']}), {a['seconds']:.1f} s"
        )
    per_shock = agg["best_kurtosis_per_shock"]
    print(
        "best frame kurtosis per shock (uniform -> adaptive): "
        + ", ".join(
            f"{b['mean']:.1f} -> {a['mean']:.1f}"
            for b, a in zip(per_shock["baseline"], per_shock["adaptive"], strict=True)
        )
    )
    for name, v in variants.items():
        print(
            f"  {name}: kurtosis {v['mean_kurtosis']:.2f}, uncovered "
            f"{v['uncovered_samples']} samples, hops {v['hop']['min']:.1f}..{v['hop']['max']:.1f}"
        )
    print(f"wall time {seconds:.1f} s; wrote {out}/")


def draw(out: Path, x, clean, baseline: ad.FitResult, adaptive: ad.FitResult, record) -> None:
    plt = pyplot()
    length = x.shape[-1]
    time_s = np.arange(length) / FS
    spans = [(a / FS, b / FS) for a, b in supports(length)]

    def shade(ax):
        for a, b in spans:
            ax.axvspan(a, b, color="tab:red", alpha=0.12, lw=0)

    ref = float(max(baseline.spectrogram.max(), adaptive.spectrogram.max()))
    fig, axes = plt.subplots(3, 1, figsize=(10, 10), sharex=True, layout="constrained")
    axes[0].plot(time_s, x.numpy(), lw=0.5, color="0.5", label="noisy (20 dB SNR)")
    axes[0].plot(time_s, clean.numpy(), lw=0.6, color="k", label="shocks")
    shade(axes[0])
    axes[0].set(ylabel="amplitude", title="signal (shaded: shock supports, onset + 5 tau)")
    axes[0].legend(loc="upper right")
    b, a = record["baseline"], record["adaptive"]
    ad.plot.spectrogram(
        baseline.spectrogram,
        positions=baseline.positions,
        n_fft=N_FFT,
        sample_rate=FS,
        power=1.0,
        ref=ref,
        dynamic_range=60.0,
        ax=axes[1],
        title=f"uniform frames: hop {HOP}, window {b['win_length']:.0f}; "
        f"mean kurtosis {b['mean_kurtosis']:.2f}",
    )
    ad.plot.spectrogram(
        adaptive.spectrogram,
        positions=adaptive.positions,
        n_fft=N_FFT,
        sample_rate=FS,
        power=1.0,
        ref=ref,
        dynamic_range=60.0,
        ax=axes[2],
        title=f"adaptive frames (learnt hops and window lengths, at their positions); "
        f"mean kurtosis {a['mean_kurtosis']:.2f}",
    )
    save_figure(fig, out / "e3_spectrograms.png")

    fig, axes = plt.subplots(2, 2, figsize=(13, 8), sharex=True, layout="constrained")
    for ax, r, name in ((axes[0, 0], baseline, "uniform"), (axes[0, 1], adaptive, "adaptive")):
        ad.plot.positions(
            r.positions,
            r.win_length.reshape(-1).expand(r.positions.numel()),
            sample_rate=FS,
            ax=ax,
            title=f"{name} frames: centres and window supports "
            f"({on_shocks(r.positions, length)} of {r.positions.numel()} on shocks)",
        )
        shade(ax)
    ad.plot.win_length_map(
        adaptive.win_length,
        positions=adaptive.positions,
        n_fft=N_FFT,
        sample_rate=FS,
        ax=axes[1, 0],
        title="window length per frame (adaptive; dashed: uniform)",
    )
    axes[1, 0].axhline(1000 * b["win_length"] / FS, ls="--", color="k", lw=1)
    shade(axes[1, 0])
    t = adaptive.positions.numpy()
    axes[1, 1].semilogy(0.5 * (t[1:] + t[:-1]) / FS, np.diff(t), ".", ms=4)
    axes[1, 1].axhline(HOP, ls="--", color="k", lw=1)
    axes[1, 1].set(
        xlabel="time (s)",
        ylabel="hop t_(n+1) - t_n (samples)",
        title=f"hops (adaptive; dashed: uniform {HOP})",
    )
    shade(axes[1, 1])
    save_figure(fig, out / "e3_frames.png")


if __name__ == "__main__":
    main()
