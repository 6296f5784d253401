"""E1 (paper Sec. VI-A, Figs. 1-2): one window length for the three-component signal.

Entropy of the spectrogram against the constant window length (901 candidates, 100..1000
samples: is it convex?), and gradient descent on one window length from several starts,
against the grid search: optimum, entropy, number of forward/backward passes, wall time.

Run: ``python experiments/e1_constant_window.py [--quick] [--out results/e1]``
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from _common import environment, parser, pyplot, save_figure, write_json

import adastft as ad

FS = 8000.0


def main() -> None:
    args = parser(__doc__.splitlines()[0], "results/e1").parse_args()
    torch.manual_seed(args.seed)
    length, n_fft, hop = (2000, 256, 16) if args.quick else (8000, 1024, 16)
    low, high = (25, 250) if args.quick else (100, 1000)
    step = 5 if args.quick else 1
    x = ad.signals.three_component(length, sample_rate=FS)
    candidates = torch.arange(low, high + 1, step, dtype=torch.float32)

    start = time.perf_counter()
    grid = ad.grid_search(x, candidates, n_fft=n_fft, hop_length=hop)
    grid_seconds = time.perf_counter() - start
    curve = grid.losses
    second = curve[2:] - 2 * curve[1:-1] + curve[:-2]
    interior_minima = int(((curve[1:-1] < curve[:-2]) & (curve[1:-1] < curve[2:])).sum())

    runs = []
    for init in [float(low), float((low + high) // 2), float(high)]:
        trajectory = []
        result = ad.fit(
            x,
            n_fft=n_fft,
            hop_length=hop,
            win_length=init,
            steps=300,
            win_min=float(low),
            win_max=float(n_fft),
            callback=lambda step, value, layer, t=trajectory: t.append(
                float(layer.win_length.detach())
            ),
        )
        runs.append(
            {
                "init": init,
                "win_length": float(result.win_length),
                "entropy": result.criterion,
                "passes": result.steps,
                "seconds": result.seconds,
                "stopped": result.stopped,
                "trajectory": [init, *trajectory],
            }
        )

    summary = {
        "settings": {
            "length": length,
            "sample_rate": FS,
            "n_fft": n_fft,
            "hop_length": hop,
            "candidates": [low, high, step],
            "quick": args.quick,
        },
        "grid": {
            "best": grid.best,
            "entropy": grid.best_loss,
            "evaluations": grid.evaluations,
            "seconds": grid_seconds,
        },
        "convexity": {
            "interior_local_minima": interior_minima,
            "fraction_of_negative_second_differences": float((second < 0).float().mean()),
        },
        "gradient_descent": runs,
        "environment": environment(),
    }
    out = Path(args.out)
    write_json(out / "e1.json", summary)

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(candidates, curve, label=f"grid ({grid.evaluations} lengths)")
    for run in runs:
        lam = np.clip(np.array(run["trajectory"]), low, high)
        ax.plot(
            lam,
            np.interp(lam, candidates.numpy(), curve.numpy()),
            ".",
            ms=4,
            label=f"descent from {run['init']:.0f} ({run['passes']} steps)",
        )
    ax.set(
        xlabel="window length (samples)",
        ylabel="entropy (nats)",
        title="E1: entropy against a constant window length",
    )
    ax.legend()
    save_figure(fig, out / "e1_entropy.png")
    fig = ad.plot.compare(
        ad.spectrogram(x, float(low), n_fft=n_fft, hop_length=hop),
        ad.spectrogram(x, runs[0]["win_length"], n_fft=n_fft, hop_length=hop),
        n_fft=n_fft,
        hop_length=hop,
        sample_rate=FS,
        titles=(f"window {low}", f"optimum {runs[0]['win_length']:.1f}"),
    )
    save_figure(fig, out / "e1_spectrograms.png")
    print(
        f"grid: {grid.best:.1f} (entropy {grid.best_loss:.4f}, {grid.evaluations} "
        f"evaluations, {grid_seconds:.2f} s)"
    )
    for run in runs:
        print(
            f"descent from {run['init']:.0f}: {run['win_length']:.2f} (entropy "
            f"{run['entropy']:.4f}, {run['passes']} passes, {run['seconds']:.2f} s)"
        )
    print(f"wrote {out}/")


if __name__ == "__main__":
    main()
