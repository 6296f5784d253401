"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


# Example 0 sums (F, T) window lengths with engine="auto", which compiles them (seconds on an
# empty compile cache): it runs with the other torch.compile checks (pytest -m compile).
COMPILING = {0}


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(i, marks=pytest.mark.compile) if i in COMPILING else i
        for i in range(len(BLOCKS))
    ],
)
def test_readme_example_runs(index, capsys):
    exec(compile(BLOCKS[index], f"README.md example {index}", "exec"), {})
