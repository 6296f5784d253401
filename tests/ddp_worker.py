"""Both data-parallel checks in one ``torchrun`` launch (a launch costs seconds).

``torchrun --standalone --nproc_per_node=2 tests/ddp_worker.py OUT``: every rank trains the
layer model of :mod:`ddp_train` into ``OUT/layer`` and the classifier of
:mod:`training_worker` (the experiments' training loop) into ``OUT/fit``.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import torch.distributed as dist
from ddp_train import run_rank
from training_worker import main as fit

if __name__ == "__main__":
    out = Path(sys.argv[1])
    dist.init_process_group("gloo")
    run_rank(out / "layer")
    gc.collect()  # the first DDP wrapper is gone before the second one starts
    dist.barrier()
    fit(out / "fit", 3, resume=False)
    dist.barrier()  # no rank tears the group down while the other still uses it
    dist.destroy_process_group()
