"""Analytic gradients (the paper's Sec. IV, in ``adastft.dstft``) against autograd through the
operations (``adastft._reference.dstft_autograd``): time and peak memory of one forward +
backward step, and the agreement of the gradients.

Each measurement runs in a fresh subprocess; peak memory is the increase of the peak resident
set size during the second step over the resident set before it (``peak_memory.py``: the
kernel's high-water mark reset through ``/proc/self/clear_refs``).

Run: ``python benchmarks/bench_gradients.py [--quick] [--out FILE.json] [--markdown FILE.md]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import peak_memory
import torch
from torch.utils.benchmark import Timer

import adastft
from adastft._reference import dstft_autograd

THREADS = 2
CASES = {
    # mode: (B, L, N, hop)
    "constant": (2, 8000, 512, 128),
    "time": (2, 8000, 512, 128),
    "frequency": (2, 4000, 256, 64),
    "time-frequency": (2, 4000, 256, 64),
}
QUICK = {mode: (1, 1000, 64, 16) for mode in CASES}


def make_inputs(mode: str, batch: int, length: int, n_fft: int, hop: int):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, length, generator=gen)
    n_frames = adastft.n_frames(length, n_fft, hop)
    shape = {
        "constant": (1, 1),
        "time": (1, n_frames),
        "frequency": (n_fft // 2 + 1, 1),
        "time-frequency": (n_fft // 2 + 1, n_frames),
    }[mode]
    lam = n_fft * (0.3 + 0.6 * torch.rand(shape, generator=gen))
    positions = (torch.arange(n_frames) * (hop + 0.25)).float()
    return x, lam, positions


def step(fn, x, lam, positions, n_fft):
    lam = lam.detach().requires_grad_()
    positions = positions.detach().requires_grad_()
    loss = fn(x, lam, n_fft=n_fft, positions=positions).abs().sum()
    return torch.autograd.grad(loss, (lam, positions))


SYSTEMS = {"analytic": adastft.dstft, "autograd": dstft_autograd}


def child(system: str, mode: str, case: tuple) -> dict:
    """In a fresh process: time and peak memory of one step of ``system``."""
    torch.set_num_threads(THREADS)
    batch, length, n_fft, hop = case
    x, lam, positions = make_inputs(mode, batch, length, n_fft, hop)
    fn = SYSTEMS[system]
    step(fn, x, lam, positions, n_fft)  # first-call costs, outside the memory figure
    reset, base = peak_memory.baseline()
    if not (reset and base is not None):
        raise RuntimeError("cannot reset the peak-RSS mark (/proc/self/clear_refs)")
    step(fn, x, lam, positions, n_fft)
    peak = peak_memory.proc_status_kib("VmHWM")
    timer = Timer(
        "step(fn, x, lam, p, n)", globals=dict(step=step, fn=fn, x=x, lam=lam, p=positions, n=n_fft)
    )
    median = timer.blocked_autorange(min_run_time=1.0).median
    return {"ms": 1e3 * median, "peak_mib": (peak - base) / 1024}


def agreement(mode: str, case: tuple) -> float:
    """Max relative difference of the gradients (float64)."""
    batch, length, n_fft, hop = case
    x, lam, positions = (t.double() for t in make_inputs(mode, batch, length, n_fft, hop))
    a = step(adastft.dstft, x, lam, positions, n_fft)
    b = step(dstft_autograd, x, lam, positions, n_fft)
    return max(float((p - q).abs().max() / q.abs().max()) for p, q in zip(a, b, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    parser.add_argument("--markdown", type=Path, help="write the markdown table")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cases = QUICK if args.quick else CASES
    if args.child:
        system, mode = args.child
        print(json.dumps(child(system, mode, cases[mode])))
        return
    rows = []
    for mode, case in cases.items():
        row = {"mode": mode, "B": case[0], "L": case[1], "N": case[2], "hop": case[3]}
        for system in SYSTEMS:
            cmd = [sys.executable, __file__, "--child", system, mode] + (
                ["--quick"] if args.quick else []
            )
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            row[system] = json.loads(out.strip().splitlines()[-1])
        row["grad_rel_diff"] = agreement(mode, case)
        rows.append(row)
        a, g = row["analytic"], row["autograd"]
        print(
            f"{mode:15s} analytic {a['ms']:8.2f} ms {a['peak_mib']:7.1f} MiB | autograd "
            f"{g['ms']:8.2f} ms {g['peak_mib']:7.1f} MiB | grad diff {row['grad_rel_diff']:.1e}",
            flush=True,
        )
    table = [
        "| mode | B | L | N | hop | analytic (ms) | autograd (ms) | speed-up "
        "| analytic peak (MiB) | autograd peak (MiB) | gradient rel. diff (float64) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        a, g = r["analytic"], r["autograd"]
        table.append(
            f"| {r['mode']} | {r['B']} | {r['L']} | {r['N']} | {r['hop']} | {a['ms']:.2f} "
            f"| {g['ms']:.2f} | {g['ms'] / a['ms']:.1f}x | {a['peak_mib']:.1f} "
            f"| {g['peak_mib']:.1f} | {r['grad_rel_diff']:.1e} |"
        )
    if args.out:
        args.out.write_text(
            json.dumps({"threads": THREADS, "torch": torch.__version__, "rows": rows}, indent=2)
        )
    if args.markdown:
        args.markdown.write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
