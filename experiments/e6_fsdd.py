"""E6 (paper Sec. VII-B, Tables II-III): spoken digits with a learnable window length.

A DSTFT magnitude spectrogram (constant window length, fixed or learnt) feeds a small CNN (two
depthwise-separable convolutions with 16 filters, ReLU, dropout, a dense layer to 10 classes),
trained with Adam on the cross-entropy. Fixed window lengths 10..50 samples against a learnable
one, on the paper's random 80/10/10 split and on the dataset's official split (recordings with
index 0-4 are the test set; 5-9 the validation set; the rest the training set), several seeds.
Model selection on the validation split only; the test split is evaluated once, at the end.

Length policy: every recording is brought to 1 s (8000 samples): shorter ones (99 %) are
zero-padded at the end, longer ones cut to their central second.

``--beyond`` runs, with the same statistics, the learnable front ends beyond the paper: a
learnable hop, time-varying and frequency-varying window lengths, and a learnable
``MelSpectrogram`` (16 bands), each started from the learnable run's initial length.

Every run is appended to ``OUT/fsdd.json`` (atomically) as soon as it ends, with a checkpoint
per epoch in ``OUT/fsdd_checkpoints/``: an interrupted sweep restarts where it stopped with
``--resume`` (finished runs are skipped, an unfinished one goes on from its last epoch).

Run: ``python experiments/e6_fsdd.py [--quick] [--resume] [--beyond] [--out results]``, or
data-parallel: ``torchrun --nproc_per_node=2 experiments/e6_fsdd.py ...``.

Data loading: the 3000 recordings are read once (under a second) into one ``(3000, 8000)``
tensor (96 MB); batches are slices of it, so no loader workers are needed and both cores run
the model's own arithmetic (torch's intra-op threads; about 190 % CPU on this 2-core machine).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from _common import environment, parser, write_json
from _training import evaluate, fit_classifier, seed_everything
from torch import nn
from torch.utils.data import TensorDataset

import adastft as ad

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"
SAMPLE_RATE, LENGTH = 8000, 8000
N_FFT, HOP = 64, 16
FIXED = (10.0, 20.0, 30.0, 40.0, 50.0)
LEARNABLE_INIT = 30.0  # the middle of the fixed grid
WINDOW_LR = 0.01  # Adam on the log window length (the network's weights use --lr)
N_MELS = 16
# Beyond the paper (--beyond): other learnable front ends, all started from LEARNABLE_INIT.
FRONT_ENDS = {
    "learnable-hop": dict(hop_mode="constant", hop_min=4.0, hop_max=32.0),
    "time": dict(win_mode="time"),
    "frequency": dict(win_mode="frequency"),
    "mel": dict(),
}


def load(data: Path, subset: bool = False):
    """Recordings ``(n, 8000)`` float32, digits ``(n,)``, speakers and indices (file names)."""
    import soundfile

    files = sorted(data.glob("*.wav"))
    if not files:
        raise SystemExit(f"no recordings in {data}")
    if subset:  # 6 recordings of every speaker and digit: 1 test, 1 validation, 4 training
        files = [f for f in files if int(f.stem.split("_")[2]) in (0, 5, 10, 15, 20, 25)]
    x = np.zeros((len(files), LENGTH), dtype=np.float32)
    digits, speakers, indices = [], [], []
    for i, file in enumerate(files):
        audio, rate = soundfile.read(file, dtype="float32")
        assert rate == SAMPLE_RATE, file
        if len(audio) > LENGTH:
            cut = (len(audio) - LENGTH) // 2
            audio = audio[cut : cut + LENGTH]
        x[i, : len(audio)] = audio
        digit, speaker, index = file.stem.split("_")
        digits.append(int(digit))
        speakers.append(speaker)
        indices.append(int(index))
    return torch.from_numpy(x), torch.tensor(digits), speakers, torch.tensor(indices)


def split(kind: str, indices: torch.Tensor, seed: int):
    """Train, validation and test row numbers of the ``"random"`` or ``"official"`` split."""
    n = len(indices)
    if kind == "official":
        test = torch.nonzero(indices < 5).flatten()
        val = torch.nonzero((indices >= 5) & (indices < 10)).flatten()
        train = torch.nonzero(indices >= 10).flatten()
        return train, val, test
    order = torch.randperm(n, generator=torch.Generator().manual_seed(1000 + seed))
    n_test = n_val = n // 10
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


def separable(c_in: int, c_out: int, kernel: int = 5) -> nn.Sequential:
    """Depthwise convolution over time, then pointwise to ``c_out`` channels, then ReLU."""
    return nn.Sequential(
        nn.Conv1d(c_in, c_in, kernel, padding=kernel // 2, groups=c_in),
        nn.Conv1d(c_in, c_out, 1),
        nn.ReLU(),
    )


class DigitNet(nn.Module):
    """DSTFT magnitude (log, batch-normalised) -> 2 separable convolutions -> dense.

    The frequency bins are the input channels of convolutions along time (a 1-D CNN over the
    spectrogram's frames): two depthwise-separable layers of 16 filters, max pooling, dropout,
    and a dense layer to the 10 digits. 2-D convolutions over the whole (F, T) plane cost about
    40 times more here for the same number of filters.
    """

    def __init__(self, win_length: float, approach: str, filters: int = 16, p: float = 0.3):
        super().__init__()
        options = dict(learn_win=approach != "fixed", win_min=2.0, **FRONT_ENDS.get(approach, {}))
        if approach == "mel":
            self.spectrogram = ad.MelSpectrogram(
                SAMPLE_RATE,
                N_FFT,
                win_length,
                HOP,
                n_mels=N_MELS,
                power=1.0,
                pad_mode="constant",
                normalization="amplitude",
                **options,
            )
            bins = N_MELS
        else:
            self.spectrogram = ad.Spectrogram(
                N_FFT, win_length, HOP, power=1.0, signal_length=LENGTH, **options
            )
            bins = N_FFT // 2 + 1
        self.norm = nn.BatchNorm1d(bins)
        self.features = nn.Sequential(
            separable(bins, filters),
            nn.MaxPool1d(4),
            separable(filters, filters),
            nn.AdaptiveMaxPool1d(8),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(p), nn.Linear(filters * 8, 10))

    def forward(self, x):
        spec = torch.log(self.spectrogram(x) + 1e-5)  # (B, F, T)
        return self.head(self.features(self.norm(spec)))

    @property
    def win_length(self) -> float:
        """The (mean) learnt window length."""
        return float(self.spectrogram.dstft.win_length.detach().mean())

    def front_end(self) -> dict:
        """What the front end learnt: the window lengths' spread and the (mean) hop."""
        dstft = self.spectrogram.dstft
        lam = dstft.win_length.detach()
        hop = dstft.hop_lengths.detach().mean() if dstft.hop_mode != "fixed" else HOP
        return {
            "win_length_min": float(lam.min()),
            "win_length_max": float(lam.max()),
            "hop_final": float(hop),
        }


def run_one(data, kind, approach, win_length, seed, args, checkpoints: Path) -> dict:
    x, y, _, indices = data
    x, y = x.to(args.device), y.to(args.device)
    train, val, test = split(kind, indices, seed)
    seed_everything(seed)
    model = DigitNet(win_length, approach).to(args.device)
    window = [p for n, p in model.named_parameters() if n.startswith("spectrogram.")]
    others = [p for n, p in model.named_parameters() if not n.startswith("spectrogram.")]
    groups = [{"params": others}] + ([{"params": window, "lr": WINDOW_LR}] if window else [])
    name = f"{kind}-{approach}-{win_length:g}-seed{seed}"
    result = fit_classifier(
        model,
        TensorDataset(x[train], y[train]),
        TensorDataset(x[val], y[val]),
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=seed,
        checkpoint=checkpoints / f"{name}.pt",
        resume=args.resume,
        progress=not args.quiet,
        param_groups=groups,
    )
    test_loss, test_acc = evaluate(result.model, TensorDataset(x[test], y[test]))
    return {
        "split": kind,
        "approach": approach,
        "win_length_init": win_length,
        "win_length_final": model.win_length,
        **model.front_end(),
        "seed": seed,
        "test_acc": test_acc,
        "test_loss": test_loss,
        "val_acc": result.val_acc,
        "val_loss": result.val_loss,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
        "seconds": result.seconds,
        "interrupted": result.interrupted,
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0], "results")
    p.add_argument("--data", default=str(DATA), help="folder of the WAVs (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=5, help="seeds per configuration")
    p.add_argument("--epochs", type=int, default=30, help="epochs per run")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of the network")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--splits", nargs="+", default=["random", "official"])
    p.add_argument("--resume", action="store_true", help="go on with an interrupted sweep")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--beyond",
        action="store_true",
        help="the other learnable front ends: hop, time, frequency, mel",
    )
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default: cpu)")
    args = p.parse_args()
    if "RANK" in os.environ:
        cuda = args.device.startswith("cuda")
        if cuda:  # one GPU per process
            args.device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    if args.quick:
        args.seeds, args.epochs = 1, 2
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = Path(args.out)
    record = out / "fsdd.json"
    data = load(Path(args.data), subset=args.quick)
    runs = json.loads(record.read_text())["runs"] if args.resume and record.exists() else []
    done = {(r["split"], r["approach"], r["win_length_init"], r["seed"]) for r in runs}
    configs = [("fixed", w) for w in FIXED] + [("learnable", LEARNABLE_INIT)]
    if args.quick:
        configs = [("fixed", 20.0), ("learnable", LEARNABLE_INIT)]
    if args.beyond:
        configs = [(name, LEARNABLE_INIT) for name in FRONT_ENDS]
    start = time.perf_counter()
    for kind in args.splits:
        for seed in range(args.seeds):
            for approach, win in configs:
                if (kind, approach, win, seed) in done:
                    continue
                row = run_one(data, kind, approach, win, seed, args, out / "fsdd_checkpoints")
                if row["interrupted"]:
                    print("interrupted: the sweep resumes from here with --resume")
                    return
                runs.append(row)
                if rank == 0:
                    write_json(
                        record, {"runs": runs, "environment": environment(), "settings": vars(args)}
                    )
                    print(
                        f"{kind:8s} {approach:9s} {win:4.0f} -> {row['win_length_final']:6.2f} "
                        f"seed {seed}: test acc {row['test_acc']:.3f} loss "
                        f"{row['test_loss']:.3f} ({row['seconds']:.0f} s)"
                    )
    if rank == 0:
        print(f"{len(runs)} runs in {time.perf_counter() - start:.0f} s; wrote {record}")
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
