"""Real signals: ``adastft optimize`` in every window-length mode on every signal of the shared
data folder (ECG, gravitational-wave strain, humpback whale song, robin song).

For each signal and mode it reports the entropy of the classical spectrogram (window length =
``n_fft``, the command's default ``n_fft`` and hop), of the best constant window length, and of
the optimised representation, with the wall time of the command. Each run's pictures and
``result.json`` go to ``OUT/<signal>/<mode>/`` (not kept in the repository); the table to
``OUT/real_signals.json``. The humpback song (65 s) is
cut to its first ``--max-seconds`` seconds (default 10) to bound the cost of the frequency modes.

Run: ``python experiments/real_signals.py [--quick] [--out results/real_signals]``
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import environment, parser, write_json

import adastft as ad
from adastft import cli

MODES = ("constant", "time", "frequency", "time-frequency")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "signals"


def main() -> None:
    p = parser(__doc__.splitlines()[0], "results/real_signals")
    p.add_argument("--data", default=str(DATA), help="folder of the signals (default: %(default)s)")
    p.add_argument("--steps", type=int, default=200, help="most Adam steps per stage")
    p.add_argument("--max-seconds", type=float, default=10.0, help="excerpt of long recordings")
    args = p.parse_args()
    data, out = Path(args.data), Path(args.out)
    meta = json.loads((data / "signals.json").read_text())
    steps = 5 if args.quick else args.steps
    max_seconds = 1.0 if args.quick else args.max_seconds
    modes = MODES[:2] if args.quick else MODES
    rows = []
    scratch = tempfile.mkdtemp(prefix="adastft-signals-")
    for name in sorted(meta):
        signal, rate = cli.read_signal(str(data / name), meta[name]["sample_rate_hz"])
        keep = int(max_seconds * rate)
        excerpt = signal.shape[-1] > keep and (args.quick or name.startswith("humpback"))
        if excerpt:
            signal = signal[..., :keep]
        path = Path(scratch) / f"{Path(name).stem}.npy"  # the data stays out of the repository
        np.save(path, signal)
        x = torch.as_tensor(signal, dtype=torch.float32)[0]
        n_fft = cli.default_n_fft(rate, x.shape[-1])
        hop = n_fft // 4
        classical = float(
            ad.losses.entropy(ad.spectrogram(x, float(n_fft), n_fft=n_fft, hop_length=hop))
        )
        for mode in modes:
            folder = out / Path(name).stem / mode
            start = time.perf_counter()
            status = cli.main(
                [
                    "optimize",
                    str(path),
                    "--sample-rate",
                    str(rate),
                    "--mode",
                    mode,
                    "--steps",
                    str(steps),
                    "--quiet",
                    "--out",
                    str(folder),
                ]
            )
            seconds = time.perf_counter() - start
            summary = json.loads((folder / "result.json").read_text())
            rows.append(
                {
                    "signal": name,
                    "kind": meta[name]["kind"],
                    "sample_rate": rate,
                    "samples": int(x.shape[-1]),
                    "excerpt": bool(excerpt),
                    "mode": mode,
                    "n_fft": n_fft,
                    "hop_length": hop,
                    "status": status,
                    "entropy_classical": classical,
                    "entropy_best_constant": summary["settings"]["best_constant_loss"],
                    "best_constant_win": summary["settings"]["best_constant_win"],
                    "entropy_optimised": summary["final_criterion"],
                    "steps": summary["steps"],
                    "stopped": summary["stopped"],
                    "win_length": {k: summary["win_length"][k] for k in ("min", "max", "median")},
                    "seconds": seconds,
                }
            )
            print(
                f"{name:28s} {mode:15s} classical {classical:.4f}  best constant "
                f"{rows[-1]['entropy_best_constant']:.4f}  optimised "
                f"{rows[-1]['entropy_optimised']:.4f}  ({seconds:.1f} s)"
            )
    shutil.rmtree(scratch)
    write_json(
        out / "real_signals.json",
        {
            "settings": {"steps": steps, "max_seconds": max_seconds, "quick": args.quick},
            "runs": rows,
            "environment": environment(),
        },
    )
    print(f"wrote {out}/")


if __name__ == "__main__":
    main()
