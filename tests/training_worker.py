"""Trains a tiny DSTFT classifier with the experiments' training loop (for test_training).

:func:`main` runs in the test's process, or on every rank under ``torchrun``
(``tests/ddp_worker.py``) for data-parallel training: each rank saves its final parameters to
``OUT/rank{r}.pt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
from _training import fit_classifier  # noqa: E402

import adastft as ad  # noqa: E402

LENGTH = 512


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        ad.Spectrogram(32, 20.0, 8, power=1.0),
        nn.Flatten(),
        nn.Linear(17 * (1 + LENGTH // 8), 3),
    )


def data() -> tuple[TensorDataset, TensorDataset]:
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(48, LENGTH, generator=g), torch.randint(0, 3, (48,), generator=g)
    return TensorDataset(x[:40], y[:40]), TensorDataset(x[40:], y[40:])


def main(out: Path, epochs: int, resume: bool) -> None:
    """Train (or resume) for ``epochs`` epochs, data-parallel if a process group is set up."""
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    net = model()
    train, val = data()
    result = fit_classifier(
        net,
        train,
        val,
        epochs=epochs,
        lr=0.01,
        batch_size=8,
        seed=1,
        checkpoint=Path(out) / "checkpoint.pt",
        resume=resume,
    )
    torch.save(
        {"state": net.state_dict(), "epochs": result.epochs, "history": result.history},
        Path(out) / f"rank{rank}.pt",
    )
