"""The benchmark runs (a smoke test: tiny sizes; the speeds themselves are not checked)."""

import json
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_benchmark_pairs_each_system_with_torch_stft_and_reports_per_process_ratios(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from bench_dstft import main  # in this process: a fresh interpreter costs 1.5 s

    out = tmp_path / "bench.json"
    argv = ["--quick", "--modes", "constant", "--skip", "memory", "--skip", "accuracy"]
    threads = torch.get_num_threads()
    try:
        assert main([*argv, "--repeats", "3", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    stdout = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["settings"]["processes_per_case"] == 3
    assert [r["mode"] for r in report["timing"]] == ["constant", "constant"]
    for row in report["timing"]:
        ours, ref = row["results"]["adastft"], row["results"]["torch.stft"]
        for result in (ours, ref):
            assert result["runs"] >= 5 and result["iterations_per_run"] >= 1
            assert len(result["per_process_median_ms"]) == 3
            assert result["median_ms"] == sorted(result["per_process_median_ms"])[1]
        assert ours["baseline_ms"] > 0  # torch.stft's time in the pairing with adastft
        low, high = row["ratio_ranges"]["adastft/torch.stft"]
        assert low <= row["ratios"]["adastft/torch.stft"] <= high
        assert f"{row['ratios']['adastft/torch.stft']:.2f}× ({low:.2f}–{high:.2f})" in stdout
