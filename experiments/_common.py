"""Shared plumbing of the experiments: arguments, atomic outputs, figures."""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

import adastft


def parser(description: str, default_out: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test (seconds)")
    p.add_argument("--out", default=default_out, help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return p


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as f:
        json.dump(data, f, indent=1)
    _publish(tmp, path)


def save_figure(fig, path: Path) -> None:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(handle)
    fig.savefig(tmp, dpi=100, format="png")
    _publish(tmp, path)
    plt.close(fig)


def _publish(tmp: str, path: Path) -> None:
    """Give ``tmp`` the usual permissions (mkstemp makes 0600) and rename it to ``path``."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, path)


def environment() -> dict:
    return {
        "adastft": adastft.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
