"""The adastft command: outputs, bad input, clean stops."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from adastft import cli, losses, optimize

FAST = ["--steps", "4", "--quiet", "--n-fft", "128"]
OUTPUTS = {"result.json", "before.png", "after.png", "win_length.png"}


def _npy(tmp_path, data, name="x.npy"):
    path = tmp_path / name
    np.save(path, data)
    return str(path)


def _file(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _wav(path, rate=8000) -> str:
    soundfile.write(path, 0.3 * _tone(), rate)
    return str(path)


def _tone(length=2000, channels=None):
    t = np.arange(length) / 8000.0
    x = np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 2000 * t**2)
    return x if channels is None else np.stack([x * (c + 1) for c in range(channels)])


def test_demo_writes_pictures_and_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", *FAST, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == OUTPUTS
    summary = json.loads((out / "result.json").read_text())
    assert summary["complete"] and summary["settings"]["mode"] == "time"
    assert summary["final_loss"] <= summary["initial_loss"]
    assert len(summary["win_length"]["values"][0]) == len(summary["positions"])
    assert str(out) in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["constant", "frequency"])
def test_optimize_npy(tmp_path, mode):
    path = _npy(tmp_path, _tone())
    out = tmp_path / "out"
    status = cli.main(
        ["optimize", path, "--sample-rate", "8000", "--mode", mode, *FAST, "--out", str(out)]
    )
    assert status == 0
    summary = json.loads((out / "result.json").read_text())
    assert summary["settings"]["sample_rate"] == 8000.0
    shape = summary["win_length"]["shape"]
    assert shape == ([1, 1] if mode == "constant" else [65, 1])
    assert summary["win_length"]["min"] <= summary["win_length"]["max"]


def test_optimize_multichannel_wav_shares_one_set_of_window_lengths(tmp_path):
    path = tmp_path / "x.wav"
    soundfile.write(path, 0.3 * _tone(channels=2).T, 8000)
    out = tmp_path / "out"
    assert cli.main(["optimize", str(path), "--mode", "time", *FAST, "--out", str(out)]) == 0
    summary = json.loads((out / "result.json").read_text())
    assert summary["settings"]["channels"] == 2
    out1 = tmp_path / "one"
    assert cli.main(["optimize", str(path), "--channel", "1", *FAST, "--out", str(out1)]) == 0
    assert json.loads((out1 / "result.json").read_text())["settings"]["channels"] == 1


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        (lambda d: str(d / "missing.wav"), [], "does not exist"),
        (lambda d: _file(d / "empty.wav", b""), [], "is empty"),
        (lambda d: _file(d / "bad.wav", b"RIFF0000junk"), [], "cannot read"),
        (lambda d: _file(d / "x.txt", b"1 2 3"), [], "unsupported"),
        (lambda d: _npy(d, _tone()), [], "--sample-rate is required"),
        (lambda d: _npy(d, _tone(100)), ["--sample-rate", "8000"], "fewer than --n-fft 128"),
        (lambda d: _npy(d, np.zeros(1000)), ["--sample-rate", "8000"], "all zeros"),
        (lambda d: _npy(d, np.r_[_tone(), np.nan]), ["--sample-rate", "8000"], "NaN or inf"),
        (lambda d: _npy(d, np.ones((2, 2, 2))), ["--sample-rate", "8000"], "must be (L,)"),
        (
            lambda d: _npy(d, _tone(channels=2)),
            ["--sample-rate", "8000", "--channel", "2"],
            "--channel must be in",
        ),
        (lambda d: _npy(d, _tone()), ["--sample-rate", "8000", "--n-fft", "7"], "--n-fft must"),
        (lambda d: _npy(d, _tone()), ["--sample-rate", "8000", "--hop", "0"], "--hop must be >= 1"),
        (lambda d: _npy(d, _tone()), ["--sample-rate", "8000", "--steps", "0"], "--steps must"),
        (lambda d: str(d), [], "is not a file"),
        (lambda d: _file(d / "x.npy", b"not an npy file"), ["--sample-rate", "8000"], "as .npy"),
        (
            lambda d: _npy(d, _tone().astype(complex)),
            ["--sample-rate", "8000"],
            "must hold real numbers; got dtype complex128",
        ),
        (lambda d: _npy(d, np.zeros(0)), ["--sample-rate", "8000"], "holds no samples"),
        (lambda d: _wav(d / "x.wav"), ["--sample-rate", "16000"], "differs from the file's"),
    ],
)
def test_bad_input_is_one_line_status_2_and_nothing_written(
    tmp_path, capsys, setup, extra, message
):
    path = setup(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["optimize", path, *FAST, *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("adastft: error:") and "\n" not in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("failure", ["interrupt", "nan"])
def test_stops_cleanly_and_marks_the_results(tmp_path, monkeypatch, failure):
    entropy = losses.entropy

    def failing(spec, **kwargs):
        value = entropy(spec, **kwargs)
        if torch.is_grad_enabled() and spec.requires_grad:
            failing.calls += 1
            if failing.calls == 3:
                if failure == "interrupt":
                    raise KeyboardInterrupt
                return value * math.nan
        return value

    failing.calls = 0
    monkeypatch.setattr(losses, "entropy", failing)
    out = tmp_path / "out"
    assert cli.main(["demo", *FAST, "--out", str(out)]) == 1
    summary = json.loads((out / "result.json").read_text())
    assert summary["stopped"] == ("interrupted" if failure == "interrupt" else "non-finite")
    assert not summary["complete"] and math.isfinite(summary["final_loss"])
    assert {p.name for p in out.iterdir()} == OUTPUTS  # no temporary files left


def _forbidden(*args, **kwargs):
    raise AssertionError("the optimisation ran before the arguments were checked")


@pytest.mark.parametrize(
    ("extra", "out", "message"),
    [
        (["--lr", "-1"], "out", "--lr must be > 0 and finite; got -1.0"),
        (["--lr", "nan"], "out", "--lr must be > 0 and finite; got nan"),
        (["--smoothness", "-1"], "out", "--smoothness must be >= 0 and finite; got -1.0"),
        (["--coverage", "inf"], "out", "--coverage must be >= 0 and finite; got inf"),
        (["--hop", "inf"], "out", "--hop must be >= 1 (one frame per sample at most); got inf"),
        (["--hop", "0.001"], "out", "--hop must be >= 1 (one frame per sample at most); got 0.001"),
        (["--sample-rate", "0"], "out", "--sample-rate must be > 0 and finite; got 0.0"),
        (["--sample-rate", "-5"], "out", "--sample-rate must be > 0 and finite; got -5.0"),
        (["--sample-rate", "nan"], "out", "--sample-rate must be > 0 and finite; got nan"),
        (["--device", "foo"], "out", "--device 'foo' is not available: "),
        (["--device", "cuda:99"], "out", "--device 'cuda:99' is not available: "),
        (["--device", "meta"], "out", "--device 'meta' is not available: "),
        ([], "file/out", "cannot be created: Not a directory"),
        ([], "file", "exists and is not a folder"),
    ],
)
def test_bad_arguments_are_one_line_status_2_before_any_work(
    tmp_path, capsys, monkeypatch, extra, out, message
):
    monkeypatch.setattr(cli, "fit", _forbidden)
    path = _npy(tmp_path, _tone())
    (tmp_path / "file").write_text("a regular file")
    out = tmp_path / out
    argv = ["optimize", path, *FAST, "--sample-rate", "8000", *extra, "--out", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("adastft: error:") and "\n" not in err
    assert not out.is_dir() and (tmp_path / "file").read_text() == "a regular file"


def test_n_fft_2_takes_the_default_hop_of_1(tmp_path):
    out = tmp_path / "out"
    assert cli.main(["demo", *FAST, "--n-fft", "2", "--mode", "constant", "--out", str(out)]) == 0
    assert json.loads((out / "result.json").read_text())["settings"]["hop_length"] == 1


def test_a_signal_too_loud_for_float32_is_optimised_as_a_quiet_one(tmp_path):
    results = []
    for scale in (1.0, 1e300):
        path = _npy(tmp_path, scale * _tone(), name=f"x{scale:g}.npy")
        out = tmp_path / f"out{scale:g}"
        assert cli.main(["optimize", path, "--sample-rate", "8000", *FAST, "--out", str(out)]) == 0
        results.append(json.loads((out / "result.json").read_text()))
    assert results[1]["loss_history"] == pytest.approx(results[0]["loss_history"], rel=1e-5)


def _interrupted(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("mode", ["constant", "time-frequency"])
def test_ctrl_c_in_the_grid_stage_writes_the_results_and_exits_1(tmp_path, monkeypatch, mode):
    monkeypatch.setattr(optimize, "grid_search", _interrupted)
    out = tmp_path / "out"
    assert cli.main(["demo", *FAST, "--mode", mode, "--out", str(out)]) == 1
    summary = json.loads((out / "result.json").read_text())
    assert summary["stopped"] == "interrupted" and summary["steps"] == 0
    assert summary["settings"]["mode"] == mode and math.isfinite(summary["final_loss"])
    assert {p.name for p in out.iterdir()} == OUTPUTS


def test_ctrl_c_outside_the_optimisation_is_one_line_and_status_130(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "write_outputs", _interrupted)
    assert cli.main(["demo", *FAST, "--mode", "constant", "--out", str(tmp_path / "out")]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "adastft: interrupted; result.json was not written"


def test_help_reads_well(capsys):
    done = subprocess.run(  # the entry point, once, in a fresh interpreter
        [sys.executable, "-m", "adastft", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "usage: adastft" in done.stdout
    for command in ("demo", "optimize"):
        with pytest.raises(SystemExit) as stop:
            cli.main([command, "--help"])
        assert stop.value.code == 0
        text = capsys.readouterr().out
        assert f"usage: adastft {command}" in text
    assert "--sample-rate" in text and "INPUT" in text  # the optimize command's help


def test_default_n_fft_suits_speech_and_slow_signals():
    assert cli.default_n_fft(8000, 10**6) == 512
    assert cli.default_n_fft(48000, 10**6) == 4096
    assert cli.default_n_fft(360, 10**6) == 128
    assert cli.default_n_fft(8000, 300) == 256


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    path.write_text("old")

    def failing_write(tmp):
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cli._write_atomic(path, failing_write)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
