"""The package's declared requirements."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # the standard library from Python 3.11

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _names(requirements: list[str]) -> set[str]:
    return {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements}


def test_torch_and_numpy_are_the_only_required_dependencies():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert _names(project["dependencies"]) == {"torch", "numpy"}


def test_the_cli_extra_holds_what_the_cli_imports():
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    assert _names(extras["cli"]) == {"matplotlib", "soundfile", "tqdm"}
    assert _names(extras["progress"]) == {"tqdm"}
    assert _names(extras["cli"]) <= _names(extras["dev"])
