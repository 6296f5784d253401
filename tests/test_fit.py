"""fit and grid_search: the optimum, the stopping rules, reproducibility, errors."""

from __future__ import annotations

import math
import sys

import pytest
import torch

import adastft as ad
from adastft import losses
from adastft.optimize import FitResult, GridResult, fit, grid_search

FS = 8000.0


def _signal(length: int = 2000) -> torch.Tensor:
    return ad.signals.three_component(length, sample_rate=FS, dtype=torch.float64)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"criterion": "gini"}, ValueError, "criterion must be one of"),
        ({"steps": 0}, ValueError, "steps must satisfy an int >= 1; got 0"),
        ({"lr": 0.0}, ValueError, "lr must satisfy lr > 0; got 0.0"),
        ({"patience": 0}, ValueError, "patience must satisfy"),
        ({"smoothness": -1.0}, ValueError, "smoothness must satisfy smoothness >= 0"),
        ({"power": 0.0}, ValueError, "power must satisfy power > 0"),
    ],
)
def test_fit_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        fit(_signal(), n_fft=128, **kwargs)


def test_grid_search_errors():
    with pytest.raises(ValueError, match="candidates must hold at least one"):
        grid_search(_signal(), [], n_fft=128)
    with pytest.raises(
        ValueError,
        match=r"candidates must satisfy 0 < candidates <= n_fft \(=128\); got 200.0 \(element 0\)",
    ):
        grid_search(_signal(), [200.0], n_fft=128)
    with pytest.raises(ValueError, match=r"candidates must satisfy .*; got nan \(element 1\)"):
        grid_search(_signal(), [64.0, math.nan], n_fft=128)
    with pytest.raises(ValueError, match=r"candidates must satisfy .*; got 0.0 \(element 2\)"):
        grid_search(_signal(), torch.tensor([[16.0, 32.0], [0.0, 64.0]]), n_fft=128)
    with pytest.raises(TypeError, match=r"candidates must be a real tensor .*; got \['64'\]"):
        grid_search(_signal(), ["64"], n_fft=128)
    with pytest.raises(TypeError, match=r"candidates must be .*; got a tensor of dtype torch.bool"):
        grid_search(_signal(), torch.tensor([True]), n_fft=128)
    with pytest.raises(TypeError, match=r"candidates must be .*; got \[64j\]"):
        grid_search(_signal(), [64j], n_fft=128)
    with pytest.raises(ValueError, match="batch_size must satisfy"):
        grid_search(_signal(), [20.0], n_fft=128, batch_size=0)


@pytest.mark.parametrize("criterion", ["entropy", "renyi", "kurtosis"])
def test_grid_search_equals_one_transform_per_candidate(criterion):
    x = _signal()
    candidates = torch.tensor([12.0, 40.5, 64.0, 100.0, 128.0], dtype=torch.float64)
    result = grid_search(x, candidates, n_fft=128, hop_length=16, criterion=criterion, batch_size=2)
    assert isinstance(result, GridResult) and result.evaluations == 5
    for lam, value in zip(candidates.tolist(), result.losses.tolist(), strict=True):
        power = 1.0 if criterion == "kurtosis" else 2.0
        spec = ad.spectrogram(x, lam, n_fft=128, hop_length=16, power=power)
        if criterion == "entropy":
            expected = losses.entropy(spec)
        elif criterion == "renyi":
            expected = losses.renyi_entropy(spec, 3.0)
        else:
            expected = -losses.kurtosis(spec)
        assert value == pytest.approx(float(expected), rel=1e-10)
    assert result.best == float(candidates[torch.argmin(result.losses)])


def test_grid_search_averages_channels():
    x = torch.stack([_signal(), torch.randn(2000, dtype=torch.float64)])
    both = grid_search(x, [32.0, 64.0], n_fft=128, hop_length=16).losses
    one = [grid_search(c, [32.0, 64.0], n_fft=128, hop_length=16).losses for c in x]
    torch.testing.assert_close(both, (one[0] + one[1]) / 2)


def test_constant_fit_reaches_the_fine_grid_optimum():
    x = _signal()
    grid = grid_search(
        x, torch.arange(16.0, 128.5, 0.5, dtype=torch.float64), n_fft=128, hop_length=16
    )
    result = fit(x, n_fft=128, hop_length=16, steps=200)
    assert isinstance(result, FitResult) and isinstance(result.init, GridResult)
    assert result.final_loss <= grid.best_loss + 1e-4
    assert abs(float(result.win_length) - grid.best) <= 2.0
    assert result.final_loss <= result.initial_loss
    assert result.history[result.best_step] == pytest.approx(result.final_loss, rel=1e-9)
    assert result.seconds_per_step == pytest.approx(result.seconds / result.steps)


def test_varying_fit_starts_from_the_best_constant_and_improves():
    x = _signal()
    result = fit(x, n_fft=128, hop_length=16, win_mode="time", steps=60)
    assert isinstance(result.init, FitResult)
    assert result.history[0] == pytest.approx(result.init.final_loss, rel=1e-6)
    assert result.final_loss < result.init.final_loss
    assert result.win_length.shape == (1, result.positions.shape[0])


@pytest.mark.parametrize("stopped", ["converged", "max_steps"])
def test_steps_counts_the_gradient_steps(stopped):
    # A constant window at n_fft is the optimum of a pure tone (the clamp holds it there), so the
    # objective stops improving at once and the run converges after `patience` steps; the
    # evaluation that detects it takes no step.
    x = torch.sin(0.3 * torch.arange(2000.0, dtype=torch.float64))
    calls = []
    kwargs = {"patience": 3, "steps": 50} if stopped == "converged" else {"steps": 4}
    result = fit(
        x,
        n_fft=128,
        hop_length=32,
        win_length=128.0,
        callback=lambda step, value, layer: calls.append(step),
        **kwargs,
    )
    assert result.stopped == stopped
    assert result.steps == len(calls) == (3 if stopped == "converged" else 4)
    assert calls == list(range(result.steps))
    assert len(result.history) == result.steps + (stopped == "converged")
    assert result.seconds_per_step == pytest.approx(result.seconds / result.steps)


def test_fit_is_deterministic():
    x = _signal()
    a = fit(x, n_fft=128, hop_length=16, win_mode="time", steps=15, seed=3)
    b = fit(x, n_fft=128, hop_length=16, win_mode="time", steps=15, seed=3)
    assert a.history == b.history
    assert torch.equal(a.win_length, b.win_length)


def test_ctrl_c_stops_cleanly_with_the_best_parameters():
    x = _signal()

    def interrupt(step, value, layer):
        if step == 4:
            raise KeyboardInterrupt

    result = fit(x, n_fft=128, hop_length=16, win_length=40.0, steps=50, callback=interrupt)
    assert result.stopped == "interrupted"
    assert result.steps == 5
    assert result.final_loss == pytest.approx(min(result.history), rel=1e-9)


def test_non_finite_loss_stops_with_the_best_parameters(monkeypatch):
    x = _signal()
    calls = []
    entropy = losses.entropy

    def breaking(spec, **kwargs):
        calls.append(1)
        value = entropy(spec, **kwargs)
        return value * math.nan if len(calls) == 6 else value

    monkeypatch.setattr(losses, "entropy", breaking)
    result = fit(x, n_fft=128, hop_length=16, win_length=40.0, steps=50)
    assert result.stopped == "non-finite"
    assert result.steps == 5 and math.isfinite(result.final_loss)


def test_regularisers_and_learnt_hops():
    x = _signal()
    result = fit(
        x,
        n_fft=64,
        hop_length=20,  # B F T N below AUTO_COMPILE_SIZE: the eager sums, no compilation
        win_mode="time-frequency",
        hop_mode="time",
        win_length=50.0,
        steps=10,
        smoothness=1.0,
        coverage=1.0,
        coverage_options={"overlap": 0.25},
        progress=True,
    )
    assert result.win_length.shape == (33, result.positions.shape[0])
    assert result.stopped in ("converged", "max_steps")
    assert torch.isfinite(result.spectrogram).all()


def test_coverage_keeps_learnt_hops_covering_the_signal():
    x = _signal()
    options = dict(
        n_fft=128,
        hop_length=32,
        hop_mode="constant",
        win_length=40.0,
        steps=40,
        hop_max=128.0,
        lr=0.1,
    )
    free = fit(x, coverage=0.0, **options)
    kept = fit(x, coverage=100.0, **options)

    def uncovered(result):
        return float(
            losses.coverage_penalty(result.positions, result.win_length, signal_length=2000)
        )

    assert uncovered(free) > 0.0  # the criterion alone spreads the frames past the signal
    assert uncovered(kept) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"length": 8}, "length must be an int >= 16; got 8"),
        ({"length": 100.0}, "length must be an int >= 16; got 100.0"),
        ({"length": 100, "sample_rate": 0}, "sample_rate must be > 0; got 0"),
    ],
)
def test_three_component_checks_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ad.signals.three_component(**kwargs)


def test_progress_without_tqdm_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # an import of tqdm now fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"progress=True needs tqdm.*adastft\[progress\]"):
        ad.fit(_signal(), n_fft=64, hop_length=16, win_length=40.0, steps=2, progress=True)
