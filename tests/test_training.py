"""The experiments' training loop: resume equals an uninterrupted run; data-parallel ranks agree."""

from __future__ import annotations

import pytest
import torch


def test_resume_continues_exactly_where_the_checkpoint_stopped(tmp_path):
    from training_worker import main  # in this process: a fresh interpreter costs 1.5 s

    straight, split = tmp_path / "straight", tmp_path / "split"
    straight.mkdir(), split.mkdir()
    with torch.random.fork_rng():
        main(straight, 4, resume=False)
        main(split, 2, resume=False)
        main(split, 4, resume=True)
    a, b = torch.load(straight / "rank0.pt"), torch.load(split / "rank0.pt")
    assert a["epochs"] == b["epochs"] == 4
    assert a["history"] == b["history"]
    for name, value in a["state"].items():
        assert torch.equal(value, b["state"][name]), name


@pytest.mark.slow  # a torchrun launch of two processes
def test_data_parallel_ranks_agree(data_parallel_runs):
    ranks = [torch.load(data_parallel_runs / "fit" / f"rank{r}.pt") for r in range(2)]
    for name, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][name]), name
    assert ranks[0]["state"]["0.dstft.win.log_ratio"].abs().item() > 0  # the window was learnt
