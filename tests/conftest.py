"""Shared test settings: Hypothesis profiles, seeded generators, the data-parallel run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A numpy generator with a fixed seed."""
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """Make every test's torch randomness reproducible."""
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def data_parallel_runs(tmp_path_factory) -> Path:
    """Run ``tests/ddp_worker.py`` once on 2 CPU processes (gloo, one thread each).

    Returns its output folder: ``layer/rank{r}.pt`` and ``fit/rank{r}.pt`` per rank.
    """
    out = tmp_path_factory.mktemp("data_parallel")
    (out / "layer").mkdir()
    (out / "fit").mkdir()
    worker = Path(__file__).with_name("ddp_worker.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node=2", str(worker), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return out
