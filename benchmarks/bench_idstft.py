"""Inverse DSTFT (``adastft.idstft``): reconstruction error and time of ``idstft(dstft(x))``.

For each window-length mode, one random signal of ``L = 16000`` samples, ``N = 512``, hop 128
(or fractional frame positions), in float32 and float64: the relative error
``||x - idstft(dstft(x))|| / ||x||``, the median time of one ``idstft`` call
(``torch.utils.benchmark``, 2 threads), the time of the first call in a fresh process (it
includes ``torch.compile`` of the direct sum where ``engine="auto"`` picks it) and, for
frequency-dependent window lengths, the number of conjugate-gradient iterations at the default
tolerance (``1e-6`` float32, ``1e-10`` float64). Window lengths are drawn uniformly in
``[0.3 N, 0.9 N]``; the fractional positions are ``t_n = 0.5 + n (hop + 0.25)``.

Each case runs in a fresh process; the share of the CPUs used by other processes during the
case is recorded (``psutil``: run in the benchmark environment, ``bash benchmarks/setup.sh``)::

    .venv-bench/bin/python benchmarks/bench_idstft.py --wait-idle 120 --out R.json --markdown T.md
    .venv-bench/bin/python benchmarks/bench_idstft.py --quick   # smoke test, half a minute
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from bench_dstft import BUSY_THRESHOLD, CpuMonitor, environment, wait_for_idle_cpu
from torch.utils.benchmark import Timer

import adastft
from adastft import _inverse
from adastft._inverse import idstft

THREADS = 2
SIZE = (1, 16000, 512, 128)  # (B, L, N, hop)
QUICK = (1, 2000, 64, 16)
CASES = {  # name: (window-length mode, fractional positions)
    "constant": ("constant", False),
    "time": ("time", False),
    "frequency": ("frequency", False),
    "time-frequency": ("time-frequency", False),
    "constant, fractional positions": ("constant", True),
    "time-frequency, fractional positions": ("time-frequency", True),
}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def make_inputs(case: str, dtype: torch.dtype, size: tuple):
    """The signal, the window lengths and the keyword options of the transform."""
    batch, length, n_fft, hop = size
    mode, fractional = CASES[case]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, length, generator=gen, dtype=dtype)
    n_frames = adastft.n_frames(length, n_fft, hop)
    f = n_fft // 2 + 1
    shapes = {"constant": (1, 1), "time": (1, n_frames), "frequency": (f, 1)}
    shape = shapes.get(mode, (f, n_frames))
    lam = n_fft * (0.3 + 0.6 * torch.rand(shape, generator=gen, dtype=dtype))
    kwargs = {"n_fft": n_fft, "length": length}
    if fractional:
        kwargs["positions"] = 0.5 + torch.arange(n_frames, dtype=dtype) * (hop + 0.25)
    else:
        kwargs["hop_length"] = hop
    return x, lam, kwargs


def child(case: str, dtype_name: str, size: tuple, min_run_time: float) -> dict:
    """In a fresh process: error, iterations, first-call and median time of one case.

    Timed runs last ``min_run_time`` seconds, or at least about three calls.
    """
    torch.set_num_threads(THREADS)
    x, lam, kwargs = make_inputs(case, DTYPES[dtype_name], size)
    spec = adastft.dstft(x, lam, **{k: v for k, v in kwargs.items() if k != "length"})
    calls = []  # products M p of the conjugate gradient: one per iteration, one for r_0
    normal = _inverse._Problem.normal

    def counted(*args):
        calls.append(1)
        return normal(*args)

    _inverse._Problem.normal = counted
    t0 = time.perf_counter()
    y = idstft(spec, lam, **kwargs)
    first = time.perf_counter() - t0
    _inverse._Problem.normal = normal
    t0 = time.perf_counter()
    idstft(spec, lam, **kwargs)
    warm = time.perf_counter() - t0
    timer = Timer(
        "idstft(spec, lam, **kwargs)",
        globals={"idstft": idstft, "spec": spec, "lam": lam, "kwargs": kwargs},
        num_threads=THREADS,
    )
    m = timer.blocked_autorange(min_run_time=max(min_run_time, 3 * warm))
    return {
        "rel_error": float((y - x).norm() / x.norm()),
        "cg_iterations": len(calls) - 1 if calls else None,
        "median_ms": 1e3 * m.median,
        "iqr_ms": 1e3 * m.iqr,
        "runs": len(m.times),
        "first_call_ms": 1e3 * first,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    parser.add_argument("--markdown", type=Path, help="write the markdown table")
    parser.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait for idle")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = QUICK if args.quick else SIZE
    if args.child:
        print(json.dumps(child(*args.child, size, 0.2 if args.quick else 1.0)))
        return
    rows = []
    for case in CASES:
        for dtype_name in DTYPES:
            wait_for_idle_cpu(args.wait_idle, log=print)
            monitor = CpuMonitor()
            cmd = [sys.executable, __file__, "--child", case, dtype_name]
            out = subprocess.run(cmd + ["--quick"] * args.quick, capture_output=True, text=True)
            if out.returncode:
                raise RuntimeError(f"{case} {dtype_name}: {out.stderr.strip()[-2000:]}")
            row = {"case": case, "dtype": dtype_name, **json.loads(out.stdout.splitlines()[-1])}
            row["other_cpu_share"] = monitor.other_share()
            rows.append(row)
            print(
                f"{case:38s} {dtype_name}  error {row['rel_error']:.1e}  iterations "
                f"{row['cg_iterations']}  {row['median_ms']:9.2f} ms  first "
                f"{row['first_call_ms']:9.1f} ms  other CPU {row['other_cpu_share'] or 0:.0%}",
                flush=True,
            )
    batch, length, n_fft, hop = size
    table = [
        f"B = {batch}, L = {length}, N = {n_fft}, hop = {hop}; time of one `idstft` call.",
        "",
        "| case | dtype | rel. error | CG iterations | median (ms) | IQR (ms) | first call (ms) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        its = "—" if r["cg_iterations"] is None else str(r["cg_iterations"])
        busy = (r["other_cpu_share"] or 0) > BUSY_THRESHOLD
        table.append(
            f"| {r['case']} | {r['dtype']} | {r['rel_error']:.1e} | {its} "
            f"| {r['median_ms']:.3g}{' *' if busy else ''} | {r['iqr_ms']:.2g} "
            f"| {r['first_call_ms']:.4g} |"
        )
    if any((r["other_cpu_share"] or 0) > BUSY_THRESHOLD for r in rows):
        table += ["", f"\\* other processes used more than {BUSY_THRESHOLD:.0%} of the CPUs."]
    env = {**environment(), "dtype": list(DTYPES), "num_threads": THREADS}
    if args.out:
        args.out.write_text(json.dumps({"environment": env, "size": size, "rows": rows}, indent=2))
    if args.markdown:
        args.markdown.write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
