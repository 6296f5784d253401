"""The ``adastft`` command: the optimal time-frequency representation of a signal.

``adastft demo`` runs the main job on the built-in three-component signal; ``adastft optimize
INPUT`` on a WAV/FLAC/OGG or ``.npy`` file. Both write pictures and ``result.json`` to ``--out``.

Every argument and the input are checked, and the output folder created, before the
optimisation starts. The signal is scaled by a power of two to a peak in ``[1/2, 1)`` (exact,
so any finite input fits in float32); neither the criteria nor the pictures (in dB relative
to their maximum) depend on its scale.

Outputs are written atomically: each file goes to a temporary name in the output folder and is
renamed when complete, and ``result.json`` is written last, so a folder never holds a
half-written file. Ctrl-C (in any stage: the grid, the constant fit, the varying fit) or a
loss that turns non-finite stops the optimisation cleanly; the best parameters found so far
are written, marked by ``"stopped"`` in ``result.json``.

Exit status: 0 on success, 1 when the run stopped early (interrupted or non-finite; results
written), 2 for bad input or arguments (one line on stderr, nothing written), 130 for Ctrl-C
outside the optimisation (while reading the input or writing the outputs: no ``result.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from . import __version__
from ._dstft import spectrogram
from .layers import HOP_MODES, WIN_MODES
from .optimize import CRITERIA, FitResult, GridResult, fit

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
EXIT_OK, EXIT_STOPPED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class InputError(Exception):
    """Bad input: reported as one line, exit status 2, nothing written."""


# ---------------------------------------------------------------------------------------------
# Checking arguments, reading signals


def check_arguments(args: argparse.Namespace) -> None:
    """The checks that need no input file (every option but ``--channel``, whose bound is the
    input's channel count); raise InputError."""
    if args.steps < 1:
        raise InputError(f"--steps must be >= 1; got {args.steps}")
    if args.n_fft is not None and (args.n_fft < 2 or args.n_fft % 2):
        raise InputError(f"--n-fft must be an even integer >= 2; got {args.n_fft}")
    if args.hop is not None and not (math.isfinite(args.hop) and args.hop >= 1):
        # Sub-sample hops multiply the frames (and the memory) for no finer picture.
        raise InputError(f"--hop must be >= 1 (one frame per sample at most); got {args.hop}")
    numbers = [
        ("--lr", args.lr, True),
        ("--smoothness", args.smoothness, False),
        ("--coverage", args.coverage, False),
        ("--sample-rate", getattr(args, "sample_rate", None), True),  # optimize only
    ]
    for option, value, positive in numbers:
        if value is None:
            continue
        if not (math.isfinite(value) and (value > 0 if positive else value >= 0)):
            raise InputError(
                f"{option} must be {'>' if positive else '>='} 0 and finite; got {value}"
            )
    try:
        torch.zeros(1, device=torch.device(args.device)).cpu()  # parses, allocates, reads
    except Exception as error:  # noqa: BLE001 - whatever torch says, the device is unusable
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f"--device {args.device!r} is not available: {reason}") from None


def make_out(out: Path) -> None:
    """Create the output folder (and its parents) and check it is writable; raise InputError."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"--out {str(out)!r} cannot be created: {error.strerror or error}"
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"--out {str(out)!r} is not writable")


def read_signal(path: str, sample_rate: float | None) -> tuple[np.ndarray, float]:
    """Read ``path`` as ``(channels, L)`` float64 and its sample rate; raise InputError."""
    file = Path(path)
    if not file.exists():
        raise InputError(f"INPUT {path!r} does not exist")
    if not file.is_file():
        raise InputError(f"INPUT {path!r} is not a file")
    if file.stat().st_size == 0:
        raise InputError(f"INPUT {path!r} is empty (0 bytes)")
    suffix = file.suffix.lower()
    if suffix == ".npy":
        if sample_rate is None:
            raise InputError(f"--sample-rate is required for a .npy INPUT ({path!r})")
        try:
            data = np.load(file, allow_pickle=False)
        except Exception as error:  # noqa: BLE001 - any reader failure is a corrupt file
            raise InputError(f"cannot read {path!r} as .npy: {error}") from None
        if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
            raise InputError(f"{path!r} must hold real numbers; got dtype {data.dtype}")
        if data.ndim not in (1, 2):
            raise InputError(f"{path!r} must be (L,) or (channels, L); got shape {data.shape}")
        signal, rate = np.atleast_2d(data.astype(np.float64)), sample_rate
    elif suffix in AUDIO_SUFFIXES:
        try:
            import soundfile
        except ImportError:
            raise InputError("reading audio needs soundfile: pip install 'adastft[cli]'") from None
        try:
            data, rate = soundfile.read(file, dtype="float64", always_2d=True)
        except Exception as error:  # noqa: BLE001 - any reader failure is a corrupt file
            raise InputError(f"cannot read {path!r} as audio: {error}") from None
        signal = data.T
        if sample_rate is not None and sample_rate != rate:
            raise InputError(f"--sample-rate {sample_rate:g} differs from the file's ({rate} Hz)")
    else:
        raise InputError(
            f"INPUT {path!r} has an unsupported type {suffix!r}; use "
            f"{', '.join(AUDIO_SUFFIXES)} or .npy"
        )
    if signal.shape[-1] == 0:
        raise InputError(f"INPUT {path!r} holds no samples")
    if not np.isfinite(signal).all():
        raise InputError(f"INPUT {path!r} contains NaN or infinite values")
    if not np.any(signal):
        raise InputError(f"INPUT {path!r} is all zeros: there is nothing to represent")
    return signal, float(rate)


def default_n_fft(sample_rate: float, length: int) -> int:
    """About 64 ms (a power of two in [128, 4096]), at most the signal's length."""
    n = 2 ** round(math.log2(max(1.0, 0.064 * sample_rate)))
    n = min(max(n, 128), 4096)
    while n > length and n > 2:
        n //= 2
    return n


# ---------------------------------------------------------------------------------------------
# Writing results


def _write_atomic(path: Path, write: Callable[[str], None]) -> None:
    """Write through ``write(tmp_path)`` to a temporary file next to ``path``, then rename."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _stats(values: torch.Tensor) -> dict:
    v = values.double()
    return {
        "min": float(v.min()),
        "max": float(v.max()),
        "mean": float(v.mean()),
        "median": float(v.median()),
    }


def write_outputs(
    out: Path,
    result: FitResult,
    before: tuple[torch.Tensor, torch.Tensor],
    settings: dict,
    sample_rate: float,
) -> Path:
    """Pictures, then ``result.json`` (last), each written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plot

    out.mkdir(parents=True, exist_ok=True)
    layer = result.layer
    n_fft = layer.n_fft
    positions = result.positions
    spec_after = result.spectrogram.reshape(-1, *result.spectrogram.shape[-2:])[0]
    spec_before = before[0].reshape(-1, *before[0].shape[-2:])[0]
    title = f"before: constant window length {settings['initial_win']:.1f}"
    figures = {
        "before.png": (spec_before, before[1], title),
        "after.png": (spec_after, positions, f"after: {settings['mode']} window lengths"),
    }
    for name, (spec, pos, title) in figures.items():
        fig, ax = plt.subplots(figsize=(8, 4.5))
        plot.spectrogram(
            spec, positions=pos, n_fft=n_fft, sample_rate=sample_rate, ax=ax, title=title
        )
        fig.tight_layout()
        _write_atomic(out / name, lambda tmp, fig=fig: fig.savefig(tmp, dpi=100, format="png"))
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4))
    plot.win_length_map(
        result.win_length,
        positions=positions,
        n_fft=n_fft,
        sample_rate=sample_rate,
        ax=ax,
        title="window length",
    )
    fig.tight_layout()
    _write_atomic(out / "win_length.png", lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)

    lam = result.win_length
    summary = {
        "adastft_version": __version__,
        "settings": settings,
        "stopped": result.stopped,
        "complete": result.stopped in ("converged", "max_steps"),
        "initial_loss": result.initial_loss,
        "final_loss": result.final_loss,
        "final_criterion": result.criterion,
        "steps": result.steps,
        "best_step": result.best_step,
        "win_length": {**_stats(lam), "shape": list(lam.shape), "values": lam.tolist()},
        "positions": positions.tolist(),
        "timings": {
            "descent_seconds": result.seconds,
            "seconds_per_step": result.seconds_per_step,
            "total_seconds": settings.pop("_total_seconds", None),
        },
        "loss_history": result.history,
    }
    path = out / "result.json"
    _write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=1)))
    return path


# ---------------------------------------------------------------------------------------------
# Commands


def run(
    signal: np.ndarray, sample_rate: float, args: argparse.Namespace, out: Path
) -> tuple[int, Path]:
    """Optimise ``signal`` ``(channels, L)`` as ``args`` (checked by :func:`check_arguments`)
    asks and write the outputs; the remaining input checks and the output folder come first."""
    start = time.perf_counter()
    device = torch.device(args.device)
    if args.channel is not None:
        if not 0 <= args.channel < signal.shape[0]:
            raise InputError(
                f"--channel must be in [0, {signal.shape[0]}) for this input; got {args.channel}"
            )
        signal = signal[args.channel : args.channel + 1]
    exponent = np.frexp(np.abs(signal).max())[1]  # peak = m 2**exponent, 1/2 <= m < 1
    x = torch.as_tensor(np.ldexp(signal, -exponent), dtype=torch.float32, device=device)
    x = x[0] if x.shape[0] == 1 else x
    length = x.shape[-1]
    n_fft = args.n_fft or default_n_fft(sample_rate, length)
    if length < n_fft:
        raise InputError(
            f"the signal has {length} samples, fewer than --n-fft {n_fft}; use a smaller --n-fft"
        )
    hop = args.hop if args.hop is not None else max(1, n_fft // 4)
    make_out(out)
    power = 1.0 if args.loss == "kurtosis" else 2.0
    common = dict(n_fft=n_fft, hop_length=hop, criterion=args.loss, progress=not args.quiet)
    constant = fit(x, **common, steps=args.steps, lr=args.lr)
    varying = not (args.mode == "constant" and args.hop_mode == "fixed")
    result = constant
    if varying and constant.stopped in ("converged", "max_steps"):
        result = fit(
            x,
            **common,
            win_mode=args.mode,
            hop_mode=args.hop_mode,
            win_length=float(constant.win_length),
            steps=args.steps,
            lr=args.lr,
            smoothness=args.smoothness,
            coverage=args.coverage,
        )
        result.init = constant
    if float(constant.win_length) >= n_fft and not args.quiet:
        print(
            f"adastft: note: the best constant window length is n_fft ({n_fft}), the upper "
            "bound; a larger --n-fft may concentrate the spectrogram further",
            file=sys.stderr,
        )
    # "before": the best constant window length of the coarse grid (constant mode) or of the
    # constant fit (varying modes, or a grid stopped by Ctrl-C), on the regular grid of frames.
    grid = constant.init if isinstance(constant.init, GridResult) else None
    initial = grid.best if grid is not None and not varying else float(constant.win_length)
    with torch.no_grad():
        before = spectrogram(x, initial, n_fft=n_fft, hop_length=hop, power=power)
    before_positions = torch.arange(before.shape[-1], dtype=torch.float64) * hop
    settings = {
        "input": getattr(args, "input", "demo"),
        "sample_rate": sample_rate,
        "channels": int(signal.shape[0]),
        "length": int(length),
        "mode": args.mode,
        "hop_mode": args.hop_mode,
        "loss": args.loss,
        "n_fft": n_fft,
        "hop_length": hop,
        "steps": args.steps,
        "lr": args.lr,
        "device": str(device),
        "initial_win": initial,
        "best_constant_win": float(constant.win_length),
        "best_constant_loss": constant.final_loss,
        "_total_seconds": time.perf_counter() - start,
    }
    path = write_outputs(out, result, (before, before_positions), settings, sample_rate)
    status = EXIT_OK if result.stopped in ("converged", "max_steps") else EXIT_STOPPED
    return status, path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adastft",
        description="Learn the window lengths (and frame positions) of a signal's short-time "
        "Fourier transform that make its spectrogram most concentrated.",
    )
    parser.add_argument("--version", action="version", version=f"adastft {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def options(p: argparse.ArgumentParser, *, demo: bool) -> None:
        p.add_argument(
            "--mode",
            choices=WIN_MODES,
            default="time" if demo else "constant",
            help="how the window length varies (default: %(default)s)",
        )
        p.add_argument(
            "--hop-mode",
            choices=HOP_MODES,
            default="fixed",
            help="how frame positions are learnt (default: %(default)s)",
        )
        p.add_argument(
            "--loss",
            choices=CRITERIA,
            default="entropy",
            help="criterion to minimise (kurtosis is maximised; default: entropy)",
        )
        p.add_argument(
            "--n-fft",
            type=int,
            default=None,
            help="DFT size (default: ~64 ms, a power of two in [128, 4096])",
        )
        p.add_argument(
            "--hop",
            type=float,
            default=None,
            help="hop in samples, >= 1 (default: n_fft // 4, at least 1)",
        )
        p.add_argument(
            "--steps",
            type=int,
            default=300,
            help="most Adam steps per stage (default: %(default)s)",
        )
        p.add_argument(
            "--lr",
            type=float,
            default=0.05,
            help="Adam learning rate on log window lengths (default: %(default)s)",
        )
        p.add_argument(
            "--smoothness",
            type=float,
            default=0.0,
            help="weight of the smoothness penalty on varying window lengths",
        )
        p.add_argument(
            "--coverage",
            type=float,
            default=0.0,
            help="weight of the coverage penalty (learnt hops)",
        )
        p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
        p.add_argument(
            "--channel",
            type=int,
            default=None,
            help="use one channel of a multi-channel input (default: all channels "
            "share one set of window lengths, the loss averaged over channels)",
        )
        p.add_argument(
            "--out",
            required=not demo,
            default="adastft-demo" if demo else None,
            help="output folder" + (" (default: %(default)s)" if demo else ""),
        )
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    epilog = (
        "Writes OUT/before.png, after.png, win_length.png and result.json (last; every file "
        "atomically). Exit status: 0 done; 1 stopped early by Ctrl-C or a non-finite loss "
        "(the best parameters found are written, marked by 'stopped' in result.json); 2 bad "
        "input or arguments (nothing written); 130 Ctrl-C while reading the input or writing "
        "the outputs (no result.json)."
    )
    demo = sub.add_parser(
        "demo",
        help="run on the built-in three-component signal",
        description="Optimise the built-in three-component test signal "
        "(a chirp, a tone close to it and a transient, 1 s at 8 kHz).",
        epilog=epilog,
    )
    options(demo, demo=True)
    optimize = sub.add_parser(
        "optimize",
        help="optimise a WAV/FLAC/OGG or .npy signal",
        description="Optimise the representation of INPUT. Example: "
        "adastft optimize speech.wav --mode time --out out/speech",
        epilog=epilog,
    )
    optimize.add_argument("input", metavar="INPUT", help="WAV, FLAC, OGG or .npy file")
    optimize.add_argument(
        "--sample-rate", type=float, default=None, help="samples per second (required for .npy)"
    )
    options(optimize, demo=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command of ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        args = _parser().parse_args(argv)
        check_arguments(args)
        if args.command == "demo":
            from .signals import three_component

            sample_rate = 8000.0
            signal = three_component(8000, sample_rate=sample_rate).double().numpy()[None]
        else:
            signal, sample_rate = read_signal(args.input, args.sample_rate)
        status, path = run(signal, sample_rate, args, Path(args.out))
    except InputError as error:
        print(f"adastft: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:  # fit handles its own; this one came before or after it
        print("adastft: interrupted; result.json was not written", file=sys.stderr)
        return EXIT_INTERRUPTED
    summary = json.loads(path.read_text())
    note = "" if summary["complete"] else f" (stopped early: {summary['stopped']})"
    print(
        f"loss {summary['initial_loss']:.5g} -> {summary['final_loss']:.5g} in "
        f"{summary['steps']} steps{note}; wrote {path.parent}/"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
