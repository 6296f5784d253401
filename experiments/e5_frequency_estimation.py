"""E5 (paper Sec. VII-A, Fig. 7): one window length for a dataset, learnt on a task.

A training set of sine waves whose frequency varies periodically, in white noise; the
differentiable frequency estimate of Eq. 34, the spectrogram-weighted mean of the bin
frequencies in each frame::

    f_hat[n] = sum_k f_k |S[k, n]|^2 / sum_k |S[k, n]|^2

and gradient descent on one window length minimising the mean squared error against the true
instantaneous frequency at the frame centres, over the whole training set (Eq. 33). The loss
against the window length on a grid (training set) shows whether descent found its minimum;
the chosen length is then evaluated once on a held-out set.

Run: ``python experiments/e5_frequency_estimation.py [--quick] [--out results/e5]``
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from _common import environment, parser, pyplot, save_figure, write_json

import adastft as ad

FS = 1000.0  # Hz
N_FFT, HOP = 256, 16


def make_set(n: int, length: int, generator: torch.Generator):
    """``n`` signals ``(n, L)`` and their instantaneous frequency ``(n, L)`` in Hz.

    ``f(t) = f_c + A sin(2 pi t / P + phi)`` with ``f_c`` in [100, 300] Hz, ``A`` in [10, 60] Hz,
    ``P`` in [0.2, 1] s; unit amplitude; white noise of standard deviation 0.5 (SNR 3 dB).
    """

    def uniform(low, high):
        return low + (high - low) * torch.rand(n, 1, generator=generator, dtype=torch.float64)

    t = torch.arange(length, dtype=torch.float64) / FS
    centre, depth, period = uniform(100, 300), uniform(10, 60), uniform(0.2, 1.0)
    offset = uniform(0, 2 * math.pi)
    freq = centre + depth * torch.sin(2 * math.pi * t / period + offset)
    phase = 2 * math.pi * torch.cumsum(freq, dim=-1) / FS
    noise = 0.5 * torch.randn(n, length, generator=generator, dtype=torch.float64)
    return (torch.sin(phase) + noise).float(), freq.float()


def estimate(layer: ad.DSTFT, x: torch.Tensor) -> torch.Tensor:
    """Eq. 34: the power-weighted mean bin frequency of every frame, ``(n, T)`` in Hz."""
    power = ad.transforms.power_spectrum(layer(x))
    freqs = layer.frequencies(FS)[:, None]
    return (freqs * power).sum(-2) / power.sum(-2).clamp(min=1e-12)


def mse(layer: ad.DSTFT, x: torch.Tensor, freq: torch.Tensor) -> torch.Tensor:
    """Eq. 33: mean squared error at the frame centres inside the signal."""
    positions = layer.positions.round().long()
    inside = (positions >= 0) & (positions < x.shape[-1])
    truth = freq[:, positions[inside]]
    return ((estimate(layer, x)[:, inside] - truth) ** 2).mean()


def main() -> None:
    args = parser(__doc__.splitlines()[0], "results/e5").parse_args()
    generator = torch.Generator().manual_seed(args.seed)
    n_train, n_test, length = (16, 16, 1000) if args.quick else (128, 128, 2000)
    x_train, f_train = make_set(n_train, length, generator)
    x_test, f_test = make_set(n_test, length, generator)

    def layer_at(win_length: float) -> ad.DSTFT:
        return ad.DSTFT(N_FFT, win_length, HOP, signal_length=length, win_min=8.0)

    grid = torch.linspace(8, N_FFT, 32 if args.quick else 125)
    start = time.perf_counter()
    with torch.no_grad():
        curve = torch.stack([mse(layer_at(float(w)), x_train, f_train) for w in grid])
    grid_seconds = time.perf_counter() - start

    layer = layer_at(64.0)  # a deliberately short start
    optimiser = torch.optim.Adam(layer.parameters(), lr=0.05)
    history, lengths = [], []
    steps = 30 if args.quick else 150
    start = time.perf_counter()
    for _ in range(steps):
        optimiser.zero_grad()
        loss = mse(layer, x_train, f_train)
        loss.backward()
        optimiser.step()
        history.append(float(loss.detach()))
        lengths.append(float(layer.win_length.detach()))
    descent_seconds = time.perf_counter() - start
    learnt = float(layer.win_length.detach())
    best = float(grid[torch.argmin(curve)])
    with torch.no_grad():
        train_mse = float(mse(layer, x_train, f_train))
        test_mse = float(mse(layer, x_test, f_test))
        test_grid = float(mse(layer_at(best), x_test, f_test))
    summary = {
        "settings": {
            "sample_rate": FS,
            "n_fft": N_FFT,
            "hop_length": HOP,
            "length": length,
            "train": n_train,
            "test": n_test,
            "steps": steps,
            "seed": args.seed,
            "quick": args.quick,
        },
        "descent": {
            "win_length": learnt,
            "train_mse": train_mse,
            "test_mse": test_mse,
            "seconds": descent_seconds,
            "history": history,
            "lengths": lengths,
        },
        "grid": {
            "best": best,
            "train_mse": float(curve.min()),
            "test_mse": test_grid,
            "evaluations": len(grid),
            "seconds": grid_seconds,
        },
        "environment": environment(),
    }
    out = Path(args.out)
    write_json(out / "e5.json", summary)

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(grid, curve, label=f"training MSE on a grid ({len(grid)} lengths)")
    ax.plot(lengths, history, ".", ms=3, alpha=0.5, label="gradient descent (from 64)")
    ax.plot([learnt], [train_mse], "o", color="C3", label=f"descent end: {learnt:.1f}")
    ax.set(
        xlabel="window length (samples)",
        ylabel="MSE (Hz^2)",
        yscale="log",
        title="E5: frequency-estimation error against the window length",
    )
    ax.legend()
    save_figure(fig, out / "e5_loss.png")
    print(f"grid: best {best:.1f} (train MSE {float(curve.min()):.2f}, test {test_grid:.2f})")
    print(
        f"descent: {learnt:.1f} (train MSE {train_mse:.2f}, test {test_mse:.2f}) in {steps} "
        f"steps, {descent_seconds:.1f} s"
    )
    print(f"wrote {out}/")


if __name__ == "__main__":
    main()
