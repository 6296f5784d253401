"""A tiny model with a learnable DSTFT front end, trained data-parallel (for test_distributed).

Under ``torchrun`` (``tests/ddp_worker.py``), :func:`run_rank` trains on the rank's own batches
under DistributedDataParallel and saves its final parameters to ``OUT_DIR/rank{r}.pt``.
:func:`train` on every rank's batches in one process is the reference.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import adastft as ad

LENGTH, STEPS, BATCH = 256, 4, 3


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        ad.Spectrogram(
            64, 40.0, 16, win_mode="time", hop_mode="constant", signal_length=LENGTH, power=1.0
        ),
        nn.Flatten(),
        nn.LazyLinear(2),
    )


def batches(rank: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(100 + rank)
    return [
        (torch.randn(BATCH, LENGTH, generator=g), torch.randint(0, 2, (BATCH,), generator=g))
        for _ in range(STEPS)
    ]


def train(model: nn.Module, data: list[list[tuple[torch.Tensor, torch.Tensor]]]) -> nn.Module:
    """Adam on the cross-entropy; ``data[step]`` is the list of batches seen at that step."""
    model(data[0][0][0])  # materialise the lazy layer before the optimiser sees it
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for step_batches in data:
        opt.zero_grad()
        losses = [nn.functional.cross_entropy(model(x), y) for x, y in step_batches]
        torch.stack(losses).mean().backward()
        opt.step()
    return model


def run_rank(out_dir: Path) -> None:
    """Train this rank's replica under DDP (the process group is initialised by the caller)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    rank = dist.get_rank()
    model = make_model()
    model(batches(rank)[0][0])
    ddp = DistributedDataParallel(model)
    train(ddp, [[b] for b in batches(rank)])
    torch.save(dict(model.state_dict()), out_dir / f"rank{rank}.pt")
