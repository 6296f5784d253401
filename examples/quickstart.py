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
    n_t = ad.n_frames(x.shape[-1], n_fft, hop)
    options = dict(n_fft=n_fft, hop_length=hop, power=2.0)

    # Optimise log(lam) so the step size is relative; clamp keeps 0 < lam <= n_fft.
    log_lam = torch.full((1, n_t), float(torch.log(torch.tensor(256.0))), requires_grad=True)
    opt = torch.optim.Adam([log_lam], lr=0.05)

    def window_lengths() -> torch.Tensor:
        return log_lam.exp().clamp(4.0, n_fft)

    before = ad.spectrogram(x, window_lengths().detach(), **options)
    start = time.perf_counter()
    for _ in range(args.steps):
        opt.zero_grad()
        loss = entropy(ad.spectrogram(x, window_lengths(), **options))
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    lam = window_lengths().detach()
    after = ad.spectrogram(x, lam, **options)
    print(
        f"entropy {entropy(before):.4f} -> {entropy(after):.4f} in {args.steps} steps "
        f"({seconds:.1f} s); window lengths {lam.min():.0f}..{lam.max():.0f} samples"
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = torch.arange(n_t) * hop / fs
    freqs = torch.arange(n_fft // 2 + 1) * fs / n_fft
    fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    for ax, spec, title in ((axes[0], before, "constant 256"), (axes[1], after, "learnt")):
        db = 10 * torch.log10(spec / spec.max() + 1e-8)
        ax.pcolormesh(times, freqs, db, shading="nearest", vmin=-60, cmap="magma")
        ax.set(ylabel="frequency (Hz)", title=f"window length: {title}")
    axes[2].plot(times, lam[0])
    axes[2].set(xlabel="time (s)", ylabel="window length (samples)")
    fig.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "quickstart.png")
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
