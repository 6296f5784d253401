"""Training loop for the task experiments: atomic checkpoints, resume, clean Ctrl-C, seeds.

``fit_classifier`` trains a model with Adam and cross-entropy, evaluates it on the validation
split after every epoch, keeps the state with the lowest validation loss (model selection on
validation only), and writes a checkpoint after every epoch (atomically: a temporary file, then
a rename). With ``resume=True`` it continues from the checkpoint. Ctrl-C stops after saving;
the run can be resumed. Under ``torch.distributed`` (launched by ``torchrun``) the model is
wrapped in ``DistributedDataParallel``, each rank reads its shard of the training set, and
only rank 0 writes.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch (the only source of randomness here); returns a generator for the loaders."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def save_atomic(state: dict, path: Path) -> None:
    """``torch.save`` to a temporary file next to ``path``, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


@dataclass
class TrainResult:
    """The best model (by validation loss) and the run's record."""

    model: nn.Module
    best_epoch: int
    val_loss: float
    val_acc: float
    epochs: int
    seconds: float
    interrupted: bool = False
    history: list[dict] = field(default_factory=list)


@torch.no_grad()
def evaluate(model: nn.Module, data: TensorDataset, batch_size: int = 256) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``data``."""
    model.eval()
    loss, correct, count = 0.0, 0, 0
    for x, y in DataLoader(data, batch_size=batch_size):
        logits = model(x)
        loss += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(-1) == y).sum())
        count += len(y)
    return loss / count, correct / count


def fit_classifier(
    model: nn.Module,
    train: TensorDataset,
    val: TensorDataset,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    checkpoint: Path | None = None,
    resume: bool = False,
    progress: bool = False,
    param_groups: list[dict] | None = None,
) -> TrainResult:
    """Train ``model`` on ``train``; select the epoch with the lowest loss on ``val``."""
    generator = seed_everything(seed)
    distributed = dist.is_available() and dist.is_initialized()
    net = nn.parallel.DistributedDataParallel(model) if distributed else model
    sampler = DistributedSampler(train, seed=seed) if distributed else None
    loader = DataLoader(
        train,
        batch_size=batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator,
        drop_last=False,
    )
    optimiser = torch.optim.Adam(param_groups or model.parameters(), lr=lr)
    start_epoch, history = 0, []
    best = {"val_loss": math.inf, "val_acc": 0.0, "epoch": -1, "state": None}
    if resume and checkpoint is not None and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        generator.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        start_epoch, history, best = saved["epoch"], saved["history"], saved["best"]
    bar = None
    if progress and _rank() == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, initial=start_epoch, desc="epochs", leave=False)
    start = time.perf_counter()
    interrupted = False
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, epochs):
            if sampler is not None:
                sampler.set_epoch(epoch)
            net.train()
            total, count = 0.0, 0
            for x, y in loader:
                optimiser.zero_grad()
                loss = nn.functional.cross_entropy(net(x), y)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite training loss at epoch {epoch}")
                loss.backward()
                optimiser.step()
                total, count = total + float(loss.detach()) * len(y), count + len(y)
            val_loss, val_acc = evaluate(model, val)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": total / count,
                    "val_loss": val_loss,
                    "val_acc": val_acc,
                }
            )
            if val_loss < best["val_loss"]:
                best = {
                    "val_loss": val_loss,
                    "val_acc": val_acc,
                    "epoch": epoch,
                    "state": copy.deepcopy(model.state_dict()),
                }
            if checkpoint is not None and _rank() == 0:
                save_atomic(
                    {
                        "epoch": epoch + 1,
                        "model": model.state_dict(),
                        "optimiser": optimiser.state_dict(),
                        "generator": generator.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        "history": history,
                        "best": best,
                    },
                    checkpoint,
                )
            if bar is not None:
                bar.update(1)
                bar.set_postfix(val_loss=f"{val_loss:.3f}", val_acc=f"{val_acc:.3f}")
        epoch = epochs
    except KeyboardInterrupt:
        interrupted = True  # the last complete epoch is in the checkpoint: --resume goes on
    finally:
        if bar is not None:
            bar.close()
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    return TrainResult(
        model,
        best["epoch"],
        best["val_loss"],
        best["val_acc"],
        epoch,
        time.perf_counter() - start,
        interrupted,
        history,
    )
