"""One training step of adastft against torch.stft, interleaved in one process.

The B = 1 steps take well under a millisecond, and a fresh process on this machine lands in one
of two speed modes (the same torch.stft step measures about 0.58 or 0.79 ms). Alternating
blocks of steps of the two systems in one process compares them under the same mode: the ratio
of the medians over ``--blocks`` blocks of ``--steps`` steps each, after a warm-up.

Run: ``python benchmarks/interleaved.py --mode time --engine compiled`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import adastft


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["constant", "time"], default="constant")
    p.add_argument("--engine", choices=["auto", "eager", "compiled"], default="auto")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--length", type=int, default=16000)
    p.add_argument("--n-fft", type=int, default=1024)
    p.add_argument("--hop", type=int, default=256)
    p.add_argument("--win-length", type=float, default=700.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--blocks", type=int, default=30)
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.randn(args.batch, args.length)
    n_t = 1 + args.length // args.hop
    shape = (1, 1) if args.mode == "constant" else (1, n_t)
    lam = torch.full(shape, args.win_length, requires_grad=True)
    window = torch.hann_window(args.n_fft).requires_grad_()

    def ours():
        spec = adastft.dstft(
            x, lam, n_fft=args.n_fft, hop_length=args.hop, normalization=None, engine=args.engine
        )
        spec.abs().sum().backward()

    def baseline():
        spec = torch.stft(x, args.n_fft, args.hop, window=window, center=True, return_complex=True)
        spec.abs().sum().backward()

    def block(step) -> float:
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        return (time.perf_counter() - start) / args.steps

    block(ours), block(baseline)  # warm-up (and compilation)
    times = {"adastft": [], "torch.stft": []}
    for _ in range(args.blocks):
        times["adastft"].append(block(ours))
        times["torch.stft"].append(block(baseline))
    a, b = (statistics.median(times[k]) for k in ("adastft", "torch.stft"))
    print(
        f"{args.mode} B={args.batch} L={args.length} N={args.n_fft} hop={args.hop} "
        f"engine={args.engine}: adastft {a * 1e3:.3f} ms, torch.stft {b * 1e3:.3f} ms, "
        f"ratio {a / b:.2f}"
    )


if __name__ == "__main__":
    main()
