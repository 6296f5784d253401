"""Quick start: learn a time-varying window length for a built-in signal and draw it.

Minimises the Shannon entropy of the normalised spectrogram (paper Eq. 26) over one window
length per frame, starting from a constant 256 samples, then saves ``out/quickstart.png``:
the spectrogram before and after, and the learnt window lengths.

Run: ``python examples/quickstart.py [--steps 150] [--out out]``
"""

from __future__ import annotations

import argparse
import os
import time

import torch

import adastft as ad


def entropy(spec: torch.Tensor) -> torch.Tensor:
    """Shannon entropy of ``spec`` normalised to a distribution (paper Eq. 26)."""
    p = spec / spec.sum()
    return -(p * torch.log(p + torch.finfo(p.dtype).tiny)).sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="Adam steps (default 150)")
    parser.add_argument("--out", default="out", help="output folder (default out/)")
    args = parser.parse_args()

    torch.manual_seed(0)
    fs, n_fft, hop = 8000.0, 512, 64
    x = ad.signals.three_component(8000, sample_rate=fs)
    # One learnable window length per frame, from 256 samples, kept in [4, n_fft].
    layer = ad.Spectrogram(
        n_fft, 256.0, hop, win_mode="time", signal_length=x.shape[-1], win_min=4.0
    )
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)

    with torch.no_grad():
        before = layer(x)
    start = time.perf_counter()
    for _ in range(args.steps):
        opt.zero_grad()
        loss = entropy(layer(x))
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        after = layer(x)
    lam = layer.dstft.win_length.detach()
    print(
        f"entropy {entropy(before):.4f} -> {entropy(after):.4f} in {args.steps} steps "
        f"({seconds:.1f} s); window lengths {lam.min():.0f}..{lam.max():.0f} samples"
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    positions = layer.dstft.positions
    for ax, spec, title in ((axes[0], before, "constant 256"), (axes[1], after, "learnt")):
        ad.plot.spectrogram(
            spec,
            positions=positions,
            n_fft=n_fft,
            sample_rate=fs,
            dynamic_range=60.0,
            ax=ax,
            title=f"window length: {title}",
        )
    ad.plot.win_length_map(lam, positions=positions, n_fft=n_fft, sample_rate=fs, ax=axes[2])
    fig.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "quickstart.png")
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
