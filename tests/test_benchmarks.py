"""The benchmark helpers run (a smoke test: tiny sizes; the numbers are not checked)."""

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_interleaved_comparison_prints_both_medians_and_their_ratio():
    command = [sys.executable, str(BENCHMARKS / "interleaved.py"), "--mode", "time"]
    command += ["--length", "2000", "--n-fft", "128", "--hop", "32", "--win-length", "90"]
    command += ["--blocks", "2", "--steps", "2", "--engine", "eager", "--threads", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r"adastft ([\d.]+) ms, torch.stft ([\d.]+) ms, ratio ([\d.]+)", done.stdout)
    assert found, done.stdout
    ours, theirs, ratio = map(float, found.groups())
    assert abs(ratio - ours / theirs) < 0.01 + 0.01 * ratio
