"""Data-parallel training of a model with a learnable DSTFT: 2 CPU processes, gloo backend."""

from __future__ import annotations

import pytest
import torch
from ddp_train import batches, make_model, train

pytestmark = pytest.mark.slow  # a torchrun launch of two processes


def test_two_ranks_end_with_identical_parameters_equal_to_one_process(data_parallel_runs):
    ranks = [torch.load(data_parallel_runs / "layer" / f"rank{r}.pt") for r in range(2)]
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
