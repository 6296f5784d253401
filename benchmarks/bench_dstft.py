"""Speed, peak memory and agreement of adastft against torch.stft and dstft 3.0.0.

Every timed step is one training step of a spectrogram front end: forward transform,
``loss = sum of magnitudes``, backward pass to the learnable parameters (the window
length of adastft and dstft, the window tensor of torch.stft). float32, on the CPU (2 threads)
or, with ``--device cuda``, on a GPU (each block of steps ends with a synchronisation, and peak
memory is the allocator's peak on the device).

Run inside the benchmark environment (``bash benchmarks/setup.sh``)::

    .venv-bench/bin/python benchmarks/bench_dstft.py --out bench.json --markdown bench.md
    .venv-bench/bin/python benchmarks/bench_dstft.py --quick            # smoke test, seconds
    .venv-bench/bin/python benchmarks/bench_dstft.py --render bench.json  # tables only
    python3 benchmarks/bench_dstft.py --device cuda --out gpu.json   # on a GPU machine

See docs/benchmarks.md for the method and the latest results.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import peak_memory
import torch

NUM_THREADS = 2
DTYPE = torch.float32
REPO_ROOT = Path(__file__).resolve().parent.parent

BASELINE = "torch.stft"  # the reference of the ratios (constant and time-varying modes)
SYSTEMS_FT = (BASELINE, "adastft", "dstft")  # constant and time-varying modes
# Time-varying windows: engine="compiled" also fuses the FFT path's window evaluation (opt-in;
# the default stays eager there), so it is measured as a system of its own.
SYSTEMS_TIME_ENGINES = (BASELINE, "adastft", "adastft-compiled", "dstft")
# Time-frequency mode (torch.stft cannot do it): adastft's direct sum has two engines,
# engine="eager" (chunked matrix products) and engine="compiled" (torch.compile'd fused
# sums); both are measured, and "adastft" (the default, engine="auto") is whichever of the
# two adastft picks for the size. Versions without the option are measured as "adastft".
SYSTEMS_TF_ENGINES = ("adastft-eager", "adastft-compiled", "dstft")
SYSTEMS_TF_PLAIN = ("adastft", "dstft")

# (B, L, N, hop) per case. The constant and time-varying window-length init is WIN_INIT_FT
# (or about 0.68 N in quick mode). Time-frequency cases also name the init: a number, or
# None for dstft's default (win_length=None: N, which its sigmoid bounds turn into
# N - 1e-4 (N - hop)); adastft always starts from dstft's effective values.
FULL = {
    "constant": [(1, 16000, 1024, 256), (16, 16000, 1024, 256), (16, 160000, 1024, 256)],
    "time": [(1, 16000, 1024, 256), (16, 16000, 1024, 256), (16, 160000, 1024, 256)],
    "time-frequency": [
        (1, 4000, 256, 64, 128.0),
        (16, 4000, 256, 64, 128.0),
        (1, 16000, 1024, 256, 512.0),
        (16, 4000, 256, 64, None),
    ],
    "memory": [(16, 4000, 1024, 256, 512.0)],
}
QUICK = {
    "constant": [(1, 2000, 256, 64), (4, 4000, 256, 64)],
    "time": [(1, 2000, 256, 64), (4, 4000, 256, 64)],
    "time-frequency": [(1, 1000, 64, 16, 32.0), (2, 2000, 128, 32, None)],
    "memory": [(2, 2000, 256, 64, 128.0)],
}
BUSY_THRESHOLD = 0.05  # share of the CPUs used by other processes above which a case is flagged
WIN_INIT_FT = 700.0  # for N = 1024: integer, N - W even, so comparable with torch.stft


def ft_win_init(n_fft: int) -> float:
    """Window-length init of the constant and time-varying cases (700 for N = 1024)."""
    if n_fft == 1024:
        return WIN_INIT_FT
    w = round(0.68 * n_fft)
    return float(w + (n_fft - w) % 2)  # keep N - W even


# --------------------------------------------------------------------------------------
# The three systems


def have_adastft() -> str | None:
    """None if adastft.dstft is importable, else the reason it is not."""
    try:
        import adastft
    except Exception as exc:  # pragma: no cover - depends on the environment
        return f"import adastft failed: {exc!r}"
    if not hasattr(adastft, "dstft"):
        return "adastft.dstft is not available in this version"
    return None


def adastft_has_engine() -> bool:
    import inspect

    import adastft

    return "engine" in inspect.signature(adastft.dstft).parameters


def our_kwargs(system: str) -> dict:
    return {"engine": system.split("-", 1)[1]} if "-" in system else {}


def tf_systems(missing: str | None) -> tuple[str, ...]:
    return SYSTEMS_TF_ENGINES if not missing and adastft_has_engine() else SYSTEMS_TF_PLAIN


def _check_compiled() -> None:
    """adastft falls back to eager (with a warning) if torch.compile fails: do not time that."""
    from adastft import _fused

    if getattr(_fused, "_BROKEN", None):
        raise RuntimeError(f"torch.compile failed, adastft fell back to eager: {_fused._BROKEN[0]}")


def n_frames(length: int, hop: int) -> int:
    return 1 + length // hop


def make_signal(
    batch: int, length: int, dtype: torch.dtype = DTYPE, seed: int = 0, device: str = "cpu"
) -> torch.Tensor:
    """The same random signal on every device (drawn on the CPU, then moved)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, length, generator=gen, dtype=dtype).to(device)


def synchronizer(device: str) -> Callable[[], None]:
    """What waits for the device's queued work: a no-op on the CPU, whose work is done when
    the call returns."""
    if torch.device(device).type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def make_dstft_module(mode: str, x: torch.Tensor, n_fft: int, hop: int, win_init: float | None):
    """dstft 3.0.0: DSTFT(n_fft, win_length, hop_length, window_mode), then initialize(x)."""
    import dstft

    module = dstft.DSTFT(
        n_fft=n_fft,
        win_length=win_init,
        hop_length=hop,
        window_mode=mode,  # "constant" | "time" | "time-frequency"
        hop_mode="fixed",
    )
    module.initialize(x)  # allocates the (1, 1), (1, T) or (F, T) parameter for len(x)
    return module


def our_win_tensor(
    mode: str, x: torch.Tensor, n_fft: int, hop: int, win_init: float | None
) -> torch.Tensor:
    """The learnable window lengths of adastft: (1, 1), (1, T) or (F, T).

    In the time-frequency mode they start from dstft's effective values (its sigmoid bounds
    move the init slightly), so both sum over the same windows.
    """
    f, t = n_fft // 2 + 1, n_frames(x.shape[-1], hop)
    if mode == "time-frequency":
        try:
            lam = make_dstft_module(mode, x, n_fft, hop, win_init).win_length.detach()
            return lam.to(x.dtype).expand(f, t).clone().requires_grad_(True)
        except ImportError:
            win_init = n_fft if win_init is None else win_init
    shape = {"constant": (1, 1), "time": (1, t), "time-frequency": (f, t)}[mode]
    return torch.full(shape, float(win_init), dtype=x.dtype, device=x.device, requires_grad=True)


def build_step(
    system: str, mode: str, x: torch.Tensor, n_fft: int, hop: int, win_init: float | None
):
    """A closure running forward + loss (sum of magnitudes) + backward once."""
    if system == "torch.stft":
        window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device).requires_grad_(True)

        def step():
            window.grad = None
            spec = torch.stft(
                x,
                n_fft,
                hop,
                window=window,
                center=True,
                pad_mode="constant",
                return_complex=True,
            )
            spec.abs().sum().backward()

        return step

    if system.startswith("adastft"):
        import adastft

        win = our_win_tensor(mode, x, n_fft, hop, win_init)
        kwargs = our_kwargs(system)
        if system == "adastft-compiled":

            def step():
                win.grad = None
                spec = adastft.dstft(
                    x, win, n_fft=n_fft, hop_length=hop, normalization=None, **kwargs
                )
                spec.abs().sum().backward()
                _check_compiled()

            return step

        def step():
            win.grad = None
            spec = adastft.dstft(x, win, n_fft=n_fft, hop_length=hop, normalization=None, **kwargs)
            spec.abs().sum().backward()

        return step

    if system == "dstft":
        module = make_dstft_module(mode, x, n_fft, hop, win_init)

        def step():
            module.zero_grad(set_to_none=True)
            mag, _ = module(x)  # mag = |stft| ** 1 + 1e-12, stft complex (B, F, T)
            mag.sum().backward()

        return step

    raise ValueError(system)


# --------------------------------------------------------------------------------------
# Timing


class CpuMonitor:
    """Share of the machine's CPU time used by other processes while a case ran.

    Timings on a shared machine are only trustworthy when this stays near 0.
    """

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError:  # psutil is in benchmarks/requirements.txt; degrade gracefully
            self._psutil = None
            return
        self._psutil = psutil
        self._proc = psutil.Process()
        self._start = self._snapshot()

    def _snapshot(self):
        cpu = self._psutil.cpu_times()
        busy = sum(cpu) - cpu.idle - getattr(cpu, "iowait", 0.0)
        own = self._proc.cpu_times()  # with the measurement subprocesses, once they ended
        own_s = own.user + own.system + own.children_user + own.children_system
        return time.perf_counter(), busy, own_s

    def other_share(self) -> float | None:
        if self._psutil is None:
            return None
        t1, busy1, own1 = self._snapshot()
        t0, busy0, own0 = self._start
        wall = (t1 - t0) * (os.cpu_count() or 1)
        return max(0.0, ((busy1 - busy0) - (own1 - own0)) / wall) if wall > 0 else None


def wait_for_idle_cpu(max_wait: float, threshold: float = 0.05, log=None) -> None:
    """Wait (at most max_wait seconds) until other processes use < threshold of the CPUs."""
    if max_wait <= 0:
        return
    deadline = time.perf_counter() + max_wait
    warned = False
    while time.perf_counter() < deadline:
        mon = CpuMonitor()
        time.sleep(0.5)
        share = mon.other_share()
        if share is None or share < threshold:
            return
        if log and not warned:
            log(f"  waiting for the machine to go idle (other processes use {share:.0%})")
            warned = True


def time_interleaved(
    steps: dict[str, Callable[[], None]],
    min_run_time: float,
    max_case_time: float,
    sync: Callable[[], None] = lambda: None,
) -> dict[str, dict]:
    """Median time of one step of each system, the systems' blocks of steps interleaved.

    A fresh process on this machine lands in one of several speed modes (the same torch.stft
    step measures 0.58 or 0.79 ms from one process to the next), so systems timed in separate
    processes compare modes as much as code. Here every system runs in the same process, in
    rounds: each round times one block of ``number`` steps of every system (the order rotates
    from round to round), and a system's time is the median over rounds of its block time per
    step. Two warm-up calls come first; the first pays the one-time costs (allocations,
    torch.compile) and is reported as first_call_ms. ``sync`` waits for the device
    (:func:`synchronizer`): it ends every timed call and block, so that a block's time is that
    of its work done, not queued.

    Rounds: enough for ``min_run_time`` seconds of the slowest step (at least 5, at most 200),
    but no more than ``max_case_time`` seconds of it; a faster system's block is as many steps
    as fill ``min_run_time / rounds`` seconds.
    """
    out: dict[str, dict] = {}
    warm: dict[str, float] = {}
    for name, step in steps.items():
        t0 = time.perf_counter()
        step()
        sync()
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        step()
        sync()
        warm[name] = time.perf_counter() - t0
        out[name] = {"first_call_ms": first * 1e3, "warmup_ms": warm[name] * 1e3}
    slowest = max(warm.values())
    rounds = min(200, max(5, math.ceil(min_run_time / slowest)))
    rounds = min(rounds, max(5, math.floor(max_case_time / slowest)))
    number = {name: max(1, round(min_run_time / rounds / t)) for name, t in warm.items()}
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            step, n = steps[name], number[name]
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            sync()
            times[name].append((time.perf_counter() - t0) / n)
    for name, values in times.items():
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        out[name].update(
            median_ms=median * 1e3,
            iqr_ms=(q3 - q1) * 1e3,
            mean_ms=statistics.fmean(values) * 1e3,
            runs=rounds,
            iterations_per_run=number[name],
        )
    return out


@functools.cache  # once per process
def settle_allocator() -> None:
    """Allocate and free 1.2 GB, as a long training run will have done.

    A fresh process's allocator hands freed memory back to the OS early, and ``torch.stft``'s
    step then pays page faults that it no longer pays after the process has freed a large
    block (glibc raises its thresholds; see docs/benchmarks.md). Settling first times every
    system in that later state, whatever runs before it in the process.
    """
    torch.ones(300 * 2**20).sum()  # 300 Mi float32 values, written and read once


def timing_child(
    systems: list[str],
    mode: str,
    batch: int,
    length: int,
    n_fft: int,
    hop: int,
    win_init: float | None,
    min_run_time: float,
    max_case_time: float,
    device: str = "cpu",
) -> dict[str, dict]:
    """Run in a fresh process: the time of one step of every system (of one case).

    With the baseline (torch.stft) among the systems, each other system is timed interleaved
    with the baseline alone, and its result holds the baseline's time of that pairing
    (``baseline_ms``), from which its ratio is taken: a third system's steps (dstft's take
    gigabytes at some sizes, and fill caches and the allocator with its own) then never sit
    between the two steps compared. Without it, all systems are interleaved together.
    """
    torch.set_num_threads(NUM_THREADS)
    settle_allocator()
    x = make_signal(batch, length, device=device)
    limits = (min_run_time, max_case_time, synchronizer(device))
    steps, out = {}, {}
    for system in systems:
        try:
            steps[system] = build_step(system, mode, x, n_fft, hop, win_init)
        except Exception as exc:  # record it and time the other systems
            out[system] = {"error": f"{type(exc).__name__}: {exc}"}
    if BASELINE in steps:
        base = {BASELINE: steps.pop(BASELINE)}
        for system, step in steps.items():
            pair = time_interleaved({**base, system: step}, *limits)
            out[system] = dict(pair[system], baseline_ms=pair[BASELINE]["median_ms"])
            out.setdefault(BASELINE, pair[BASELINE])  # the first pairing's time of its own
        if not steps:
            out.update(time_interleaved(base, *limits))
    elif steps:
        out.update(time_interleaved(steps, *limits))
    return {system: out[system] for system in systems}


def run_child(flag: str, spec: list, env: dict | None = None) -> dict:
    """Run this script with ``flag JSON(spec)`` in a fresh interpreter; its last line is JSON."""
    cmd = [sys.executable, str(Path(__file__).resolve()), flag, json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode == 0:
        try:
            return json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            pass
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
    return {"error": f"exit {proc.returncode}: {tail[0]}"}


def new_row(
    mode: str, batch: int, length: int, n_fft: int, hop: int, win_init, missing: str | None
) -> dict:
    """The description of one case, with an empty ``results`` to fill per system."""
    return {
        "mode": mode,
        "B": batch,
        "L": length,
        "N": n_fft,
        "hop": hop,
        "F": n_fft // 2 + 1,
        "T": n_frames(length, hop),
        "win_init": win_init,
        "results": {},
        "adastft_engine": None if missing else our_engine(mode, batch, length, n_fft, hop),
    }


def measure_case(spec: list, isolate: bool, wait_idle: float, retries: int, log) -> dict:
    """One process timing every system of a case: ``{system: result}`` or ``{"error": ...}``.

    Measured again (up to ``retries`` times) when other processes used the CPUs meanwhile; the
    least disturbed measurement is kept, with that share and the attempt number in each result.
    """
    res, busy, kept = None, None, 0
    for attempt in range(1 + retries):
        wait_for_idle_cpu(wait_idle, log=log)
        monitor = CpuMonitor()
        if isolate:
            new = run_child("--timing-child", spec)
        else:
            try:
                new = timing_child(*spec)
            except Exception as exc:  # record and go on with the other cases
                new = {"error": f"{type(exc).__name__}: {exc}"}
        share = monitor.other_share()
        gc.collect()
        if res is None or (share or 0) < (busy or 0):
            res, busy, kept = new, share, attempt + 1
        if "error" in new or (share or 0) <= BUSY_THRESHOLD:
            break
        log(f"  {spec[1]} B={spec[2]} L={spec[3]}: other processes were busy, again")
    if "error" in res:
        return res
    return {name: dict(r, other_cpu_share=busy, attempts=kept) for name, r in res.items()}


def run_timing(
    cases: dict,
    min_run_time: float,
    max_case_time: float,
    log,
    wait_idle: float = 0.0,
    retries: int = 0,
    isolate: bool = True,
    modes: tuple[str, ...] = ("constant", "time", "time-frequency"),
    repeats: int = 1,
    device: str = "cpu",
) -> list[dict]:
    """Time every case in ``repeats`` processes, its systems interleaved in each (each with
    torch.stft alone where it is the baseline, see :func:`timing_child`).

    A row's result per system is that of the process with the median time; its ratios are the
    medians over processes of the ratios measured within one process, with their range.
    """
    missing = have_adastft()
    rows = []
    for mode in modes:
        systems = tf_systems(missing) if mode == "time-frequency" else SYSTEMS_FT
        if mode == "time" and not missing and adastft_has_engine():
            systems = SYSTEMS_TIME_ENGINES
        for case in cases[mode]:
            batch, length, n_fft, hop = case[:4]
            win_init = case[4] if mode == "time-frequency" else ft_win_init(n_fft)
            timed = [s for s in systems if not (s.startswith("adastft") and missing)]
            spec = [timed, mode, batch, length, n_fft, hop, win_init, min_run_time, max_case_time]
            spec.append(device)
            runs = []
            for _ in range(repeats):
                res = measure_case(spec, isolate, wait_idle, retries, log)
                run = new_row(mode, batch, length, n_fft, hop, win_init, missing)
                for system in systems:
                    if system in timed:  # its result, or the whole child's error
                        run["results"][system] = dict(res.get(system, res))
                    else:
                        run["results"][system] = {"error": missing}
                _alias_default_engine(run)
                run["ratios"] = ratios(run)
                runs.append(run)
            row = combine_runs(runs)
            for system, result in row["results"].items():
                log_result(row, system, result, log)
            rows.append(row)
    return rows


def combine_runs(runs: list[dict]) -> dict:
    """One row from the same case measured in several processes (see run_timing)."""
    row = dict(runs[0], results={}, ratios={}, ratio_ranges={})
    for system in runs[0]["results"]:
        timed = [r["results"][system] for r in runs if "median_ms" in r["results"][system]]
        if not timed:
            row["results"][system] = runs[0]["results"][system]
            continue
        timed.sort(key=lambda res: res["median_ms"])
        median = dict(timed[(len(timed) - 1) // 2])
        if len(runs) > 1:
            median["per_process_median_ms"] = [res["median_ms"] for res in timed]
        row["results"][system] = median
    for key in runs[0]["ratios"]:
        values = [r["ratios"][key] for r in runs if key in r["ratios"]]
        row["ratios"][key] = statistics.median(values)
        if len(runs) > 1:
            row["ratio_ranges"][key] = [min(values), max(values)]
    return row


def log_result(row: dict, system: str, result: dict, log) -> None:
    busy = result.get("other_cpu_share")
    log(
        f"  {row['mode']:15s} B={row['B']:<3d} L={row['L']:<7d} N={row['N']:<5d} "
        f"hop={row['hop']:<4d} {system:17s} "
        + (
            f"{result['median_ms']:10.3f} ms (rounds {result['runs']} x "
            f"{result['iterations_per_run']} steps)"
            if "median_ms" in result
            else result["error"]
        )
        + (
            f"  [other processes used {busy:.0%} of the CPUs]"
            if busy is not None and busy > BUSY_THRESHOLD
            else ""
        )
    )


def _alias_default_engine(row: dict) -> None:
    """results["adastft"] := the result of the engine that adastft's default picks."""
    engine = row.get("adastft_engine")
    key = f"adastft-{engine}"
    if "adastft" not in row["results"] and key in row["results"]:
        row["results"]["adastft"] = dict(row["results"][key], same_as=key)


def eager_differs(batch: int, length: int, n_fft: int, hop: int) -> bool:
    """Whether adastft's default engine would not be the eager one for this size."""
    if not adastft_has_engine():
        return False
    try:
        from adastft import _dstft
    except ImportError:
        return True
    limit = getattr(_dstft, "AUTO_COMPILE_SIZE", 0)
    return batch * (n_fft // 2 + 1) * n_frames(length, hop) * n_fft >= limit


def our_engine(mode: str, batch: int, length: int, n_fft: int, hop: int) -> str:
    """The path adastft's defaults take: "fft", or the direct sum's "eager" or "compiled"."""
    if mode != "time-frequency":
        return "fft"
    if not eager_differs(batch, length, n_fft, hop):
        return "eager"
    try:
        from adastft import _fused

        return "compiled" if _fused.available() else "eager"
    except ImportError:
        return "compiled"


def _median(row: dict, system: str) -> float | None:
    return row["results"].get(system, {}).get("median_ms")


def _to_baseline(row: dict, system: str) -> float | None:
    """``system``'s time over the baseline's, the latter from their pairing if there was one."""
    result = row["results"].get(system, {})
    ref = result.get("baseline_ms") or _median(row, BASELINE)
    return result["median_ms"] / ref if ref and "median_ms" in result else None


def ratios(row: dict) -> dict:
    out = {}
    ours, theirs = _median(row, "adastft"), _median(row, "dstft")
    if _median(row, BASELINE):
        for system in ("adastft", "adastft-compiled", "dstft"):
            if row["mode"] == "time-frequency" and system == "adastft-compiled":
                continue
            if (ratio := _to_baseline(row, system)) is not None:
                out[f"{system}/{BASELINE}"] = ratio
    if ours and theirs:
        out["dstft/adastft"] = theirs / ours  # speed-up of adastft over dstft
    for engine in ("eager", "compiled"):
        value = _median(row, f"adastft-{engine}")
        if value and theirs:
            out[f"dstft/adastft-{engine}"] = theirs / value
    return out


# --------------------------------------------------------------------------------------
# Peak memory (each measurement in a fresh interpreter)


def memory_child(
    system: str,
    mode: str,
    batch: int,
    length: int,
    n_fft: int,
    hop: int,
    win_init: float | None,
    device: str = "cpu",
) -> dict:
    """Run in a fresh process: peak memory increase of one forward + backward step, of the
    process's resident memory (CPU) or of the device's allocator (GPU).

    One warm-up step first (same shapes), so that one-time costs (library initialisation,
    torch.compile, caches) are not counted; the caches it leaves count in the baseline.
    """
    import resource

    torch.set_num_threads(NUM_THREADS)
    x = make_signal(batch, length, device=device)
    step = build_step(system, mode, x, n_fft, hop, win_init)
    sync = synchronizer(device)
    t0 = time.perf_counter()
    step()
    sync()
    first = time.perf_counter() - t0
    if torch.device(device).type == "cuda":
        gc.collect()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        step()
        sync()
        elapsed = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated(device)
        return {
            "peak_increase_mib": (peak - base) / 2**20,
            "baseline_rss_mib": base / 2**20,
            "peak_rss_mib": peak / 2**20,
            "step_s": elapsed,
            "first_step_s": first,
            "method": "torch.cuda.max_memory_allocated during the step minus "
            "torch.cuda.memory_allocated before it",
        }
    reset, base_rss = peak_memory.baseline()
    base_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    t0 = time.perf_counter()
    step()
    elapsed = time.perf_counter() - t0
    if reset and base_rss is not None:
        peak = peak_memory.proc_status_kib("VmHWM")
        method = "VmHWM after reset via /proc/self/clear_refs, minus VmRSS at baseline"
        increase = peak - base_rss
        base = base_rss
    else:  # fallback: ru_maxrss cannot be reset, so it is only right if the step sets the peak
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = "ru_maxrss after the step minus ru_maxrss at baseline"
        increase = peak - base_maxrss
        base = base_maxrss
    return {
        "peak_increase_mib": increase / 1024.0,
        "baseline_rss_mib": base / 1024.0,
        "peak_rss_mib": peak / 1024.0,
        "step_s": elapsed,
        "first_step_s": first,
        "method": method,
    }


def run_memory(cases: dict, log, cold_cache: bool = True, device: str = "cpu") -> list[dict]:
    """Peak memory per system, each in a fresh process (with an empty torch.compile cache
    when cold_cache, so that its first step shows the full compilation time)."""
    missing = have_adastft()
    rows = []
    for batch, length, n_fft, hop, win_init in cases["memory"]:
        mode = "time-frequency"
        row = new_row(mode, batch, length, n_fft, hop, win_init, missing)
        for system in tf_systems(missing):
            if system.startswith("adastft") and missing:
                row["results"][system] = {"error": missing}
                continue
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache) if cold_cache else None
                spec = [system, mode, batch, length, n_fft, hop, win_init, device]
                res = run_child("--memory-child", spec, env)
            row["results"][system] = res
            log(
                f"  memory {mode} B={batch} L={length} N={n_fft} hop={hop} {system:10s} "
                + (
                    f"{res['peak_increase_mib']:9.1f} MiB"
                    if "peak_increase_mib" in res
                    else res["error"]
                )
            )
        _alias_default_engine(row)
        theirs = row["results"].get("dstft", {}).get("peak_increase_mib")
        for system, res in row["results"].items():
            value = res.get("peak_increase_mib")
            if system != "dstft":
                row[f"ratio_dstft/{system}"] = theirs / value if theirs and value else None
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------
# Agreement between the systems


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _dstft_phase_to_ours(spec: torch.Tensor, positions: torch.Tensor, n_fft: int) -> torch.Tensor:
    """dstft measures the phase from absolute sample -N/2 (exp(-2 pi i k (s + N/2) / N)),
    adastft from the frame start t_n - N/2: multiply by exp(+2 pi i k t_n / N), in float64."""
    k = torch.arange(spec.shape[-2], dtype=torch.float64, device=spec.device)
    t = positions.detach().to(torch.float64)
    phase = torch.exp(2j * math.pi * ((k[:, None] * t[None, :]) % n_fft) / n_fft)
    return (spec.to(torch.complex128) * phase).to(spec.dtype)


def _dstft_grad_lam(module) -> torch.Tensor:
    """d loss / d (effective window length) of a dstft module after backward, in float64.

    dstft learns a raw parameter r with lam = lo + (N - lo) sigmoid(r): divide by dlam/dr.
    """
    raw = module._raw_win_length.detach().to(torch.float64)
    lo, hi = float(module._default_win_length_min), float(module.n_fft)
    sig = torch.sigmoid(raw)
    return module._raw_win_length.grad.to(torch.float64) / ((hi - lo) * sig * (1 - sig))


def _ours_step(x, lam, positions, n_fft, **kwargs):
    """adastft output and d sum|S| / d lam for the given window lengths and frame centres."""
    import adastft

    lam = lam.detach().to(x.dtype).clone().requires_grad_(True)
    spec = adastft.dstft(
        x, lam, n_fft=n_fft, positions=positions.to(x.dtype), normalization=None, **kwargs
    )
    spec.abs().sum().backward()
    return spec.detach(), lam.grad.to(torch.float64)


def run_accuracy(quick: bool, log, device: str = "cpu") -> list[dict]:
    """How far torch.stft and dstft are from adastft, and how far each is from exact in float32.

    float64: the systems against each other (dstft given its own effective window lengths and
    frame centres, since its sigmoid parameterisations do not return the init exactly).
    float32: each system against adastft in float64 at the same parameters, for |S| and for
    d sum|S| / d win_length (the quantity that training uses).
    """
    missing = have_adastft()
    if missing:
        return [{"error": missing}]
    import adastft

    out = []
    ft = [(1, 4000, 256, 64)] if quick else [(2, 16000, 1024, 256)]
    # The second full-size time-frequency case is large enough for the compiled engine.
    tf = (
        [(1, 1000, 64, 16, 32.0)]
        if quick
        else [(1, 4000, 256, 64, 128.0), (1, 16000, 1024, 256, 512.0)]
    )
    cases = [("constant", c) for c in ft] + [("time", c) for c in ft]
    cases += [("time-frequency", c) for c in tf]
    f64, f32 = torch.float64, torch.float32
    for mode, case in cases:
        batch, length, n_fft, hop = case[:4]
        win_init = case[4] if mode == "time-frequency" else ft_win_init(n_fft)
        engine = our_engine(mode, batch, length, n_fft, hop)
        row = {
            "mode": mode,
            "engine": engine,
            "B": batch,
            "L": length,
            "N": n_fft,
            "hop": hop,
            "win_init": win_init,
        }
        try:
            x64 = make_signal(batch, length, f64, seed=1, device=device)
            x32 = x64.to(f32)
            if mode == "constant":  # torch.stft at integer parameters (SPEC: equal)
                w = int(win_init)
                exact = adastft.dstft(
                    x64, float(w), n_fft=n_fft, hop_length=hop, normalization=None
                )
                for name, dtype, x in (("float64", f64, x64), ("float32", f32, x32)):
                    ref = torch.stft(
                        x,
                        n_fft,
                        hop,
                        w,
                        torch.hann_window(w, dtype=dtype, device=device),
                        center=True,
                        pad_mode="constant",
                        return_complex=True,
                    )
                    row[f"{name}_torch.stft_S"] = _rel(ref.to(exact.dtype), exact)

            # float64: dstft against adastft at dstft's own parameters.
            module = make_dstft_module(mode, x64, n_fft, hop, win_init)
            positions = module.frame_centers(dtype=f64).detach()
            mag, spec = module(x64)
            mag.sum().backward()
            ours, g_ours = _ours_step(x64, module.win_length, positions, n_fft)
            aligned = _dstft_phase_to_ours(spec.detach(), positions, n_fft)
            row["float64_dstft_S"] = _rel(aligned, ours)
            row["float64_dstft_absS"] = _rel(spec.detach().abs(), ours.abs())
            row["float64_dstft_grad"] = _rel(_dstft_grad_lam(module), g_ours)

            # float32: each system against adastft float64 at dstft's float32 parameters.
            module = make_dstft_module(mode, x32, n_fft, hop, win_init)
            positions = module.frame_centers(dtype=f32).detach()
            lam = module.win_length.detach()
            exact, g_exact = _ours_step(x64, lam.to(f64), positions.to(f64), n_fft)
            mag, spec = module(x32)
            mag.sum().backward()
            row["float32_dstft_absS"] = _rel(spec.detach().abs().to(f64), exact.abs())
            row["float32_dstft_grad"] = _rel(_dstft_grad_lam(module), g_exact)
            ours, g_ours = _ours_step(x32, lam, positions, n_fft)
            row["float32_adastft_absS"] = _rel(ours.abs().to(f64), exact.abs())
            row["float32_adastft_S"] = _rel(ours.to(exact.dtype), exact)
            row["float32_adastft_grad"] = _rel(g_ours, g_exact)
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
        out.append(row)
        log(
            "  accuracy "
            + ", ".join(
                f"{k}={v:.2e}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
            )
        )
    return out


# --------------------------------------------------------------------------------------
# Environment and report


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    """The installed version of ``dist``; for a package imported from a source tree (on the
    path, not installed), its ``__version__``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        try:
            return getattr(importlib.import_module(dist), "__version__", None)
        except ImportError:
            return None


def _git_commit() -> str | None:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "src"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def device_name(device: str) -> str:
    """``device`` in words: "cpu", or the GPU's name and CUDA version."""
    if torch.device(device).type != "cuda":
        return "cpu"
    return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"


def environment(device: str = "cpu") -> dict:
    return {
        "torch": torch.__version__,
        "adastft": _version("adastft"),
        "adastft_git": _git_commit(),
        "dstft": _version("dstft"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device_name(device),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "num_threads": torch.get_num_threads(),
        "dtype": str(DTYPE).replace("torch.", ""),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }


def _fmt_ms(res: dict | None) -> str:
    if not res:
        return "—"
    if "median_ms" not in res:
        return "n/a"

    def num(v: float) -> str:
        return f"{v:.3g}" if v < 100 else f"{v:.0f}"

    iqr = res.get("iqr_ms")
    if iqr is None:
        return num(res["median_ms"])
    return (
        f"{num(res['median_ms'])} ({iqr:.2g})"
        if iqr < 10
        else f"{num(res['median_ms'])} ({iqr:.0f})"
    )


def _fmt_s(v: float | None) -> str:
    return "—" if v is None else f"{v:.2g}" if v < 10 else f"{v:.0f}"


def _fmt_init(v: float | None) -> str:
    return "dstft default (≈ N)" if v is None else f"{v:g}"


def _fmt_x(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}×"


def _fmt_ratio(row: dict, key: str) -> str:
    """A row's ratio, with its range over processes when it was measured in several."""
    span = row.get("ratio_ranges", {}).get(key)
    text = _fmt_x(row["ratios"].get(key))
    return f"{text} ({span[0]:.2f}–{span[1]:.2f})" if span else text


def to_markdown(report: dict) -> str:
    env = report["environment"]
    lines = [
        f"Environment: torch {env['torch']}, adastft {env['adastft']}"
        + (f" ({env['adastft_git']})" if env.get("adastft_git") else "")
        + f", dstft {env['dstft']}, Python {env['python']}; {env['cpu_model']}, "
        f"{env['num_threads']} threads, {env['device']}, {env['dtype']}; {env['date_utc']} UTC."
        + (" **Quick mode (smoke-test sizes).**" if report["settings"]["quick"] else ""),
        "",
    ]
    titles = {
        "constant": "Constant window length (win_length shape (1, 1))",
        "time": "Time-varying window length (win_length shape (1, T))",
        "time-frequency": "Time-frequency-varying window length (win_length shape (F, T))",
    }
    for mode in ("constant", "time", "time-frequency"):
        rows = [r for r in report["timing"] if r["mode"] == mode]
        if not rows:
            continue
        lines += [f"#### {titles[mode]}", ""]
        if mode != "time-frequency":
            compiled = any("adastft-compiled" in r["results"] for r in rows)
            extra = ' | adastft, engine="compiled", ms (IQR)' if compiled else ""
            extra_ratio = ' | adastft engine="compiled" / torch.stft' if compiled else ""
            lines += [
                "| B | L | N | hop | T | torch.stft, ms (IQR) | adastft, ms (IQR)"
                + extra
                + " | dstft 3.0.0, ms (IQR) | adastft / torch.stft"
                + extra_ratio
                + " | dstft / torch.stft |",
                "|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * (5 if compiled else 3),
            ]
            for r in rows:
                res = r["results"]
                cells = [r["B"], r["L"], r["N"], r["hop"], r["T"]]
                cells += [_fmt_ms(res.get("torch.stft")), _fmt_ms(res.get("adastft"))]
                cells += [_fmt_ms(res.get("adastft-compiled"))] if compiled else []
                cells += [_fmt_ms(res.get("dstft")), _fmt_ratio(r, "adastft/torch.stft")]
                cells += [_fmt_ratio(r, "adastft-compiled/torch.stft")] if compiled else []
                cells += [_fmt_ratio(r, "dstft/torch.stft")]
                lines.append("| " + " | ".join(str(c) for c in cells) + " |")
            if any("baseline_ms" in res for r in rows for res in r["results"].values()):
                lines += [
                    "",
                    "Each system was timed interleaved with torch.stft alone, and its ratio is "
                    "to that torch.stft time; the torch.stft column is its time beside adastft.",
                ]
        else:
            lines += [
                "| B | L | N | hop | F × T | win_length init "
                '| adastft, engine="eager", ms (IQR) | adastft, engine="compiled", ms (IQR) '
                "| dstft 3.0.0, ms (IQR) | adastft default engine "
                "| speed-up, default (dstft / adastft) | speed-up, eager | speed-up, compiled |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
            ]
            for r in rows:
                res = r["results"]
                eager = res.get("adastft-eager", res.get("adastft"))  # versions without engines
                lines.append(
                    f"| {r['B']} | {r['L']} | {r['N']} | {r['hop']} | {r['F']} × {r['T']} "
                    f"| {_fmt_init(r['win_init'])} | {_fmt_ms(eager)} "
                    f"| {_fmt_ms(res.get('adastft-compiled'))} | {_fmt_ms(res.get('dstft'))} "
                    f"| {r.get('adastft_engine') or '—'} | {_fmt_ratio(r, 'dstft/adastft')} "
                    f"| {_fmt_ratio(r, 'dstft/adastft-eager')} "
                    f"| {_fmt_ratio(r, 'dstft/adastft-compiled')} |"
                )
        lines.append("")
    if report.get("memory"):
        lines += [
            "#### Peak memory of one forward + backward step (time-frequency mode)",
            "",
            "| B | L | N | hop | F × T | win_length init | system | "
            + ("peak RSS increase" if env["device"] == "cpu" else "peak GPU memory increase")
            + " (MiB) | dstft / system | first step, fresh process (s) | second step (s) |",
            "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
        ]
        names = {
            "adastft-eager": 'adastft, engine="eager"',
            "adastft-compiled": 'adastft, engine="compiled"',
            "dstft": "dstft 3.0.0",
        }
        for r in report["memory"]:
            theirs = r["results"].get("dstft", {}).get("peak_increase_mib")
            default = f"adastft-{r.get('adastft_engine')}"
            for system, res in r["results"].items():
                if "same_as" in res:
                    continue
                value = res.get("peak_increase_mib")
                ratio = theirs / value if theirs and value else None
                name = names.get(system, system) + (" (default)" if system == default else "")
                lines.append(
                    f"| {r['B']} | {r['L']} | {r['N']} | {r['hop']} | {r['F']} × {r['T']} "
                    f"| {_fmt_init(r['win_init'])} | {name} "
                    f"| {f'{value:.0f}' if value is not None else 'n/a'} | {_fmt_x(ratio)} "
                    f"| {_fmt_s(res.get('first_step_s'))} | {_fmt_s(res.get('step_s'))} |"
                )
        lines.append("")
    acc = [r for r in report.get("accuracy", []) if "mode" in r]
    if acc:

        def e(r, key):
            return f"{r[key]:.1e}" if isinstance(r.get(key), float) else "—"

        lines += [
            "#### Agreement in float64 (max |difference| / max |adastft|)",
            "",
            "| mode | adastft engine | B | L | N | hop | torch.stft, S | dstft, S "
            "(phase aligned) | dstft, abs(S) | dstft, d loss / d win_length |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in acc:
            lines.append(
                f"| {r['mode']} | {r['engine']} | {r['B']} | {r['L']} | {r['N']} | {r['hop']} "
                f"| {e(r, 'float64_torch.stft_S')} | {e(r, 'float64_dstft_S')} "
                f"| {e(r, 'float64_dstft_absS')} | {e(r, 'float64_dstft_grad')} |"
            )
        lines += [
            "",
            "#### Error in float32 (max |float32 - exact| / max |exact|, exact = adastft in "
            "float64 at the same parameters)",
            "",
            "| mode | adastft engine | B | L | N | hop | torch.stft, S | adastft, S "
            "| adastft, abs(S) | dstft, abs(S) | adastft, d loss / d win_length "
            "| dstft, d loss / d win_length |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in acc:
            lines.append(
                f"| {r['mode']} | {r['engine']} | {r['B']} | {r['L']} | {r['N']} | {r['hop']} "
                f"| {e(r, 'float32_torch.stft_S')} | {e(r, 'float32_adastft_S')} "
                f"| {e(r, 'float32_adastft_absS')} | {e(r, 'float32_dstft_absS')} "
                f"| {e(r, 'float32_adastft_grad')} | {e(r, 'float32_dstft_grad')} |"
            )
        lines.append("")
    errors: dict[str, list[str]] = {}
    for r in report["timing"] + report.get("memory", []):
        for system, res in r["results"].items():
            if "error" in res and "same_as" not in res:
                errors.setdefault(f"{system}: {res['error']}", []).append(
                    f"{r['mode']} B={r['B']} L={r['L']}"
                )
    for what, where in errors.items():
        lines += [f"Not measured — {what} ({'; '.join(where)})", ""]
    busy = [
        (r["mode"], r["B"], r["L"], s, v["other_cpu_share"])
        for r in report["timing"]
        for s, v in r["results"].items()
        if (v.get("other_cpu_share") or 0) > BUSY_THRESHOLD
    ]
    if busy:
        lines += [
            "Warning: other processes were using the CPUs during: "
            + "; ".join(f"{s} ({m}, B={b}, L={n}): {share:.0%}" for m, b, n, s, share in busy),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, runs in seconds")
    parser.add_argument("--out", type=Path, help="write all numbers to this JSON file")
    parser.add_argument("--markdown", type=Path, help="write the markdown tables to this file")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="print the markdown tables of an existing JSON report and exit",
    )
    parser.add_argument(
        "--min-run-time",
        type=float,
        default=None,
        help="seconds of timed runs per case (default 1.5, quick 0.05)",
    )
    parser.add_argument(
        "--max-case-time",
        type=float,
        default=None,
        help="cap on timed seconds per case for slow steps (default 15)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["timing", "memory", "accuracy"],
        help="skip a part",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each case, wait up to S seconds for other processes to leave the CPUs idle",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="measure a case again (up to this many times) when other processes used the "
        "CPUs while it ran; the least disturbed measurement is kept (default 2)",
    )
    parser.add_argument(
        "--isolate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time every case in a fresh process (default: yes, but not with --quick)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="processes per case; ratios are their median, with the range (default 3, quick 1)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["constant", "time", "time-frequency"],
        choices=["constant", "time", "time-frequency"],
        help="the window-length modes to time (default: all)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help='where the steps run: "cpu" (default) or a CUDA device ("cuda", "cuda:1"); the '
        "signal is the same on both",
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--timing-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_child:
        print(json.dumps(memory_child(*json.loads(args.memory_child))))
        return 0
    if args.timing_child:
        try:
            print(json.dumps(timing_child(*json.loads(args.timing_child))))
        except Exception as exc:  # reported as this case's error
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 0
    if args.render:
        print(to_markdown(json.loads(args.render.read_text())))
        return 0

    try:
        device_type = torch.device(args.device).type
    except RuntimeError:  # not a device string
        device_type = None
    if device_type not in ("cpu", "cuda"):
        parser.error(f'--device must be "cpu" or a CUDA device ("cuda:0"); got {args.device!r}')
    if device_type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device!r}: torch.cuda.is_available() is False here")

    torch.set_num_threads(NUM_THREADS)
    cases = QUICK if args.quick else FULL
    isolate = args.isolate if args.isolate is not None else not args.quick
    min_run_time = args.min_run_time or (0.05 if args.quick else 1.5)
    max_case_time = args.max_case_time or (1.0 if args.quick else 15.0)
    repeats = args.repeats or (1 if args.quick else 3)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    report = {
        "environment": environment(args.device),
        "settings": {
            "quick": args.quick,
            "device": args.device,
            "min_run_time_s": min_run_time,
            "max_case_time_s": max_case_time,
            "loss": "sum of magnitudes",
            "step": "forward + loss + backward to the learnable window parameters",
            "isolated_processes": isolate,
            "interleaved": True,
            "processes_per_case": repeats,
            "memory_cold_compile_cache": not args.quick,
            "center": True,
            "pad_mode": "constant",
            "adastft_normalization": None,
            "cases": cases,
        },
        "timing": [],
        "memory": [],
        "accuracy": [],
    }
    log(
        f"adastft {report['environment']['adastft']}, dstft {report['environment']['dstft']}, "
        f"torch {torch.__version__}, {NUM_THREADS} threads"
    )
    t0 = time.perf_counter()
    if "timing" not in args.skip:
        report["timing"] = run_timing(
            cases,
            min_run_time,
            max_case_time,
            log,
            args.wait_idle,
            args.retries,
            isolate,
            tuple(args.modes),
            repeats,
            args.device,
        )
    if "memory" not in args.skip:
        report["memory"] = run_memory(cases, log, not args.quick, args.device)
    if "accuracy" not in args.skip:
        report["accuracy"] = run_accuracy(args.quick, log, args.device)
    report["environment"]["total_s"] = time.perf_counter() - t0

    for path in (args.out, args.markdown):
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    markdown = to_markdown(report)
    if args.markdown:
        args.markdown.write_text(markdown + "\n")
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
