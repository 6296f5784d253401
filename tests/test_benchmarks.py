"""The benchmark runs (a smoke test: tiny sizes; the speeds themselves are not checked)."""

import json
import re
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


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_dstft

    return bench_dstft


def test_every_timed_call_and_block_ends_with_the_device_synchronisation(bench):
    """On a GPU the steps only queue work: a time without the wait would be that of queueing."""
    events = []
    steps = {name: (lambda name=name: events.append(name)) for name in ("a", "b")}
    out = bench.time_interleaved(steps, 1e-4, 1.0, sync=lambda: events.append("sync"))
    runs = out["a"]["runs"]
    assert out["b"]["runs"] == runs >= 5
    # Two warm-up calls per system, then one block per system and round, each call of a
    # warm-up and each block followed by the wait.
    blocks = [e for e in events[8:] if e == "sync"]
    assert events[:8] == ["a", "sync", "a", "sync", "b", "sync", "b", "sync"]
    assert len(blocks) == 2 * runs
    assert events[-1] == "sync"


def test_synchronizer_waits_on_cuda_only(bench):
    assert bench.synchronizer("cuda") is torch.cuda.synchronize
    assert bench.synchronizer("cuda:1") is torch.cuda.synchronize
    assert bench.synchronizer("cpu")() is None


def test_signal_is_seeded_and_made_on_the_device_asked_for(bench):
    x = bench.make_signal(2, 50, torch.float64, seed=3, device="meta")
    assert (x.device.type, x.shape, x.dtype) == ("meta", (2, 50), torch.float64)
    torch.testing.assert_close(bench.make_signal(2, 50, seed=3), bench.make_signal(2, 50, seed=3))


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("meta", r'--device must be "cpu" or a CUDA device \("cuda:0"\); got \'meta\''),
        ("gpu0", r'--device must be "cpu" or a CUDA device \("cuda:0"\); got \'gpu0\''),
        pytest.param(
            "cuda",
            r"--device 'cuda': torch.cuda.is_available\(\) is False here",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present"),
        ),
    ],
)
def test_bad_device_is_a_usage_error(bench, capsys, device, message):
    with pytest.raises(SystemExit) as info:
        bench.main(["--quick", "--device", device])
    assert info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
