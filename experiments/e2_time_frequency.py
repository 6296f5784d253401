"""E2 (paper Sec. VI-A, Fig. 3): time-frequency-varying window lengths for the three-component
signal, with and without the smoothness penalty, started from E1's best constant length.

Reports the entropy of each map against the best constant window length and draws the maps.

Run: ``python experiments/e2_time_frequency.py [--quick] [--out results/e2]``
"""

from __future__ import annotations

from pathlib import Path

import torch
from _common import environment, parser, pyplot, save_figure, write_json

import adastft as ad

FS = 8000.0


def main() -> None:
    args = parser(__doc__.splitlines()[0], "results/e2").parse_args()
    torch.manual_seed(args.seed)
    length, n_fft, hop, steps = (2000, 256, 32, 15) if args.quick else (8000, 1024, 64, 300)
    x = ad.signals.three_component(length, sample_rate=FS)
    constant = ad.fit(x, n_fft=n_fft, hop_length=hop, steps=300)
    runs = {}
    for name, smoothness in (("no penalty", 0.0), ("smoothness 10", 10.0)):
        result = ad.fit(
            x,
            n_fft=n_fft,
            hop_length=hop,
            win_mode="time-frequency",
            win_length=float(constant.win_length),
            smoothness=smoothness,
            steps=steps,
            seed=args.seed,
        )
        runs[name] = result
    summary = {
        "settings": {
            "length": length,
            "sample_rate": FS,
            "n_fft": n_fft,
            "hop_length": hop,
            "steps": steps,
            "quick": args.quick,
            "seed": args.seed,
        },
        "best_constant": {"win_length": float(constant.win_length), "entropy": constant.criterion},
        "time_frequency": {
            name: {
                "smoothness": smoothness,
                "entropy": r.criterion,
                "objective": r.final_loss,
                "steps": r.steps,
                "stopped": r.stopped,
                "seconds": r.seconds,
                "seconds_per_step": r.seconds_per_step,
                "win_length_range": [float(r.win_length.min()), float(r.win_length.max())],
            }
            for (name, r), smoothness in zip(runs.items(), (0.0, 10.0), strict=True)
        },
        "environment": environment(),
    }
    out = Path(args.out)
    write_json(out / "e2.json", summary)

    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    best = ad.spectrogram(x, float(constant.win_length), n_fft=n_fft, hop_length=hop)
    ad.plot.spectrogram(
        best,
        hop_length=hop,
        n_fft=n_fft,
        sample_rate=FS,
        ax=axes[0, 0],
        title=f"constant {float(constant.win_length):.0f}: H = {constant.criterion:.3f}",
    )
    axes[1, 0].axis("off")
    for column, (name, r) in enumerate(runs.items(), start=1):
        ad.plot.spectrogram(
            r.spectrogram,
            positions=r.positions,
            n_fft=n_fft,
            sample_rate=FS,
            ax=axes[0, column],
            title=f"{name}: H = {r.criterion:.3f}",
        )
        ad.plot.win_length_map(
            r.win_length,
            positions=r.positions,
            n_fft=n_fft,
            sample_rate=FS,
            ax=axes[1, column],
            title=f"window lengths ({name})",
        )
    fig.tight_layout()
    save_figure(fig, out / "e2_maps.png")
    print(f"best constant {float(constant.win_length):.1f}: entropy {constant.criterion:.4f}")
    for name, r in runs.items():
        print(
            f"time-frequency, {name}: entropy {r.criterion:.4f} ({r.steps} steps, "
            f"{r.seconds:.1f} s)"
        )
    print(f"wrote {out}/")


if __name__ == "__main__":
    main()
