"""Data-parallel training of a model with a learnable DSTFT: 2 CPU processes, gloo backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from ddp_train import batches, make_model, train


def test_two_ranks_end_with_identical_parameters_equal_to_one_process(tmp_path):
    script = Path(__file__).with_name("ddp_train.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node=2", str(script), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert ranks[0].keys() == ranks[1].keys()
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), name
    # DDP averages the ranks' gradients: one process on both ranks' batches at every step.
    reference = train(
        make_model(), [list(step) for step in zip(batches(0), batches(1), strict=True)]
    )
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(ranks[0][name], value, rtol=1e-5, atol=1e-6, msg=name)
    start = make_model()[0].dstft.win.log_ratio
    assert not torch.equal(ranks[0]["0.dstft.win.log_ratio"], start)  # the windows were learnt
