"""Every experiment runs end to end in its --quick mode and writes its figures and numbers."""

from __future__ import annotations

import json
import math
import runpy
import sys
from pathlib import Path

import pytest
import torch

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
CASES = {
    "e1_constant_window.py": ("e1.json", ["e1_entropy.png", "e1_spectrograms.png"]),
    "e2_time_frequency.py": ("e2.json", ["e2_maps.png"]),
    "e3_shocks.py": ("e3.json", ["e3_spectrograms.png", "e3_frames.png"]),
    "e4_tracking.py": (
        "e4.json",
        ["e4_spectrograms.png", "e4_windows.png", "e4_tracking.png", "e4_mse_vs_window.png"],
    ),
    "e5_frequency_estimation.py": ("e5.json", ["e5_loss.png"]),
}


def run_script(script: str, *args: str, monkeypatch) -> None:
    """Run ``experiments/script`` as ``python script args`` in this process.

    In-process runs share the interpreter's imports (a fresh one costs 1.5 s of them); what a
    script changes for the whole process (threads, the global seed) is restored afterwards.
    """
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    monkeypatch.setattr(sys, "argv", [script, *args])
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng():
            runpy.run_path(str(EXPERIMENTS / script), run_name="__main__")
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(CASES))
def test_quick_mode(script, tmp_path, monkeypatch):
    run_script(script, "--quick", "--out", str(tmp_path), monkeypatch=monkeypatch)
    summary_name, figures = CASES[script]
    summary = json.loads((tmp_path / summary_name).read_text())
    assert summary["settings"]["quick"] is True
    for name in figures:
        assert (tmp_path / name).stat().st_size > 5000
    if script.startswith("e1"):
        grid = summary["grid"]["entropy"]
        for run in summary["gradient_descent"]:
            assert run["entropy"] <= grid + 1e-3  # descent reaches the grid's optimum
            assert run["passes"] < summary["grid"]["evaluations"] * 3
    elif script.startswith("e2"):
        constant = summary["best_constant"]["entropy"]
        assert summary["time_frequency"]["no penalty"]["entropy"] < constant
    elif script.startswith("e3"):
        for run in summary["runs"]:
            adaptive = run["adaptive"]
            assert adaptive["mean_kurtosis"] >= run["baseline"]["mean_kurtosis"]
            assert adaptive["coverage_penalty"] == 0.0  # the frames cover the signal
            assert adaptive["uncovered_samples"] == 0
            assert adaptive["frames_meeting_signal"] == summary["settings"]["n_frames"]
            assert adaptive["hop"]["max"] > adaptive["hop"]["min"]  # non-uniform frames
    elif script.startswith("e4"):
        for seed in summary["seeds"]:
            constant, varying = seed["constant"], seed["time-varying"]
            assert math.isfinite(constant["mse"]) and math.isfinite(varying["mse"])
            # started from the constant optimum, keeping the best step: never worse
            assert varying["entropy"] <= constant["entropy"] + 1e-5
            assert seed["frames_scored"] > 0
    elif script.startswith("e5"):
        descent, grid = summary["descent"], summary["grid"]
        # descent lands on the grid's minimum of the training loss (grid step 8 samples)
        assert abs(descent["win_length"] - grid["best"]) < 8.0
        assert descent["train_mse"] <= grid["train_mse"] * 1.001
        assert math.isfinite(descent["test_mse"])


def test_e6_report_pairs_seeds_and_says_whether_the_gap_is_noise():
    sys.path.insert(0, str(EXPERIMENTS))
    from e6_report import report

    def run(approach, win, seed, acc, final=None):
        return {
            "split": "official",
            "approach": approach,
            "win_length_init": win,
            "win_length_final": final or win,
            "seed": seed,
            "test_acc": acc,
            "test_loss": 1 - acc,
            "val_acc": acc,
        }

    runs = [run("fixed", 20.0, s, 0.80 + 0.01 * s) for s in range(5)]
    runs += [run("fixed", 10.0, s, 0.60) for s in range(5)]
    noisy = [0.02, -0.03, 0.01, -0.01, 0.02]
    runs += [run("learnable", 30.0, s, 0.80 + 0.01 * s + d, 25.0) for s, d in enumerate(noisy)]
    text = report(runs)
    assert "| fixed | 20 | 5 | 82.0 +- 1.6 % |" in text
    assert "30 -> 25.0 +- 0.0" in text
    assert "within seed noise" in text and "(20)" in text
    runs = [r for r in runs if r["approach"] != "learnable"]
    runs += [run("learnable", 30.0, s, 0.90 + 0.01 * s + d / 10) for s, d in enumerate(noisy)]
    text = report(runs)
    assert "beyond seed noise" in text
    assert "- learnable minus the best fixed length by validation (20)" in text
    # a --beyond front end is compared with the best fixed length and with learnable
    beyond = [run("time", 30.0, s, 0.90 + 0.01 * s, 33.0) for s in range(5)]
    for r in beyond:
        r.update(win_length_min=20.0, win_length_max=45.0)
    text = report(runs + beyond)
    assert "| time | 30 -> 33.0 +- 0.0 (range 20.0-45.0) | 5 |" in text
    assert "- time minus the best fixed length by validation (20)" in text
    assert "- time minus learnable, paired by seed: -0.0 +- 0.2 points" in text


FSDD = EXPERIMENTS.parents[1] / "shared" / "data" / "fsdd" / "recordings"
RUN_KEYS = {
    "split": str,
    "approach": str,
    "win_length_init": float,
    "win_length_final": float,
    "seed": int,
    "test_acc": float,
    "test_loss": float,
    "val_acc": float,
    "epochs": int,
    "seconds": float,
}


@pytest.mark.slow
@pytest.mark.skipif(not FSDD.is_dir(), reason=f"the FSDD recordings are not at {FSDD}")
@pytest.mark.parametrize("beyond", [False, True], ids=["paper", "beyond"])
def test_e6_quick_mode_trains_every_front_end_and_records_the_runs(beyond, tmp_path, monkeypatch):
    args = ["--quick", "--quiet", "--out", str(tmp_path), "--data", str(FSDD)]
    if beyond:
        args += ["--beyond", "--splits", "official"]
    run_script("e6_fsdd.py", *args, monkeypatch=monkeypatch)
    record = json.loads((tmp_path / "fsdd.json").read_text())
    assert record["settings"]["quick"] is True
    runs = record["runs"]
    expected = {"learnable-hop", "time", "frequency", "mel"} if beyond else {"fixed", "learnable"}
    assert {r["approach"] for r in runs} == expected
    assert len(runs) == len(expected) * (1 if beyond else 2)  # one seed per split
    for run in runs:
        for key, kind in RUN_KEYS.items():
            assert isinstance(run[key], kind), (key, run[key])
        assert 0.0 <= run["test_acc"] <= 1.0 and math.isfinite(run["test_loss"])
        assert run["epochs"] == 2 and not run["interrupted"]
        moved = abs(run["win_length_final"] - run["win_length_init"]) > 1e-3
        assert moved == (run["approach"] != "fixed")  # only learnt lengths move
        if run["approach"] in ("time", "frequency"):
            assert run["win_length_max"] > run["win_length_min"]  # the map varies
        if run["approach"] == "learnable-hop":
            assert run["hop_final"] != 16.0
    assert len(list((tmp_path / "fsdd_checkpoints").glob("*.pt"))) == len(runs)
