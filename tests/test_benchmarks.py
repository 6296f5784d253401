"""The benchmark runs (a smoke test: tiny sizes; the speeds themselves are not checked)."""

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_benchmark_interleaves_the_systems_and_reports_per_process_ratios(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, str(BENCHMARKS / "bench_dstft.py"), "--quick", "--modes"]
    command += ["constant", "--skip", "memory", "--skip", "accuracy", "--repeats", "3"]
    command += ["--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["settings"]["processes_per_case"] == 3
    assert [r["mode"] for r in report["timing"]] == ["constant", "constant"]
    for row in report["timing"]:
        ours, ref = row["results"]["adastft"], row["results"]["torch.stft"]
        for result in (ours, ref):
            assert result["runs"] >= 5 and result["iterations_per_run"] >= 1
            assert len(result["per_process_median_ms"]) == 3
            assert result["median_ms"] == sorted(result["per_process_median_ms"])[1]
        low, high = row["ratio_ranges"]["adastft/torch.stft"]
        assert low <= row["ratios"]["adastft/torch.stft"] <= high
        assert f"{row['ratios']['adastft/torch.stft']:.2f}× ({low:.2f}–{high:.2f})" in done.stdout
