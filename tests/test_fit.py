"""fit and grid_search: the optimum, the stopping rules, reproducibility, errors."""

from __future__ import annotations

import functools
import math
import sys

import pytest
import torch

import adastft as ad
from adastft import _dstft, losses, optimize
from adastft.optimize import FitResult, GridResult, fit, grid_search
from adastft.transforms import power_spectrum

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
    # evaluation that detects it, or the one after the last step, takes no step.
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
    assert len(result.history) == result.steps + 1  # the state after the last step too
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
    assert result.steps == 5 and len(result.history) == 5  # the state after step 5: unevaluated
    assert result.final_loss == min(result.history)


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


def _objective(x, win_length, n_fft, hop_length):
    """The entropy fit minimises, at a constant window length, computed directly on ``x``."""
    spec = ad.spectrogram(x, win_length, n_fft=n_fft, hop_length=hop_length, normalization="energy")
    return float(losses.entropy(spec))


def test_the_best_is_the_lowest_point_of_history_whatever_tol():
    # With tol = 1e-3, improvements smaller than tol used to be dropped: best_step was 31, the
    # lowest point of history at 33.
    x = ad.signals.three_component(2000, sample_rate=FS)
    result = fit(x, n_fft=256, hop_length=32, win_length=40.0, steps=80, tol=1e-3, patience=5)
    assert result.stopped == "converged"
    h = result.history
    assert result.best_step == h.index(min(h)) and result.final_loss == min(h)
    assert result.criterion == pytest.approx(min(h), rel=1e-6)  # no penalties here
    assert _objective(x, float(result.win_length), 256, 32) == pytest.approx(min(h), rel=1e-6)


def test_the_state_after_the_last_step_is_evaluated_and_can_be_the_best():
    # From a short window on a pure tone every step lowers the entropy: the best state is the
    # one the last step produced, which used to be dropped unevaluated.
    x = torch.sin(0.3 * torch.arange(2000.0, dtype=torch.float64))
    after_last = []

    def record(step, value, layer):
        after_last[:] = [float(layer.win_length.detach())]

    result = fit(x, n_fft=128, hop_length=32, win_length=40.0, steps=6, callback=record)
    assert result.stopped == "max_steps" and result.steps == 6 and len(result.history) == 7
    assert result.best_step == 6 and float(result.win_length) == after_last[0]
    assert result.history[-1] == pytest.approx(_objective(x, after_last[0], 128, 32), rel=1e-9)
    assert result.history == sorted(result.history, reverse=True)


def test_the_objective_does_not_depend_on_the_signal_scale():
    # fit scales x by a power of two before the transform: the objective is that of x itself.
    x = _signal() * 3.7
    result = fit(x, n_fft=128, hop_length=16, win_length=40.0, steps=1)
    assert result.history[0] == pytest.approx(_objective(x, 40.0, 128, 16), rel=1e-12)
    expected = power_spectrum(ad.dstft(x, result.win_length, **_energy(128, 16)), 2.0)
    torch.testing.assert_close(result.spectrogram, expected)  # of x, not of the scaled x


def _energy(n_fft, hop_length):
    return {"n_fft": n_fft, "hop_length": hop_length, "normalization": "energy"}


@pytest.mark.parametrize("win_length", [40.0, None])
def test_a_loud_float32_signal_whose_power_overflows_fits_as_a_quiet_one(win_length):
    # |S|^2 of x * 1e19 overflows float32: the losses used to reject the infinite spectrogram.
    x = ad.signals.three_component(2000, sample_rate=FS)
    loud = fit(x * 1e19, n_fft=256, hop_length=32, win_length=win_length, steps=5)
    quiet = fit(x, n_fft=256, hop_length=32, win_length=win_length, steps=5)
    assert loud.stopped == "max_steps" and loud.steps == 5
    assert loud.history == pytest.approx(quiet.history, rel=1e-5)
    assert torch.isinf(loud.spectrogram).any()  # the spectrogram of x itself overflows


@pytest.mark.parametrize("hop_mode", ["fixed", "time"])
def test_non_finite_parameters_stop_with_the_best_parameters(hop_mode):
    # NaN window lengths gave a NaN spectrogram that the losses rejected (ValueError); NaN hops
    # gave frames that the transform cannot place (IndexError).
    x = _signal()

    def poison(step, value, layer):
        if step == 3:
            with torch.no_grad():
                for p in layer.parameters():
                    p.fill_(math.nan)

    result = fit(
        x,
        n_fft=128,
        hop_length=16,
        win_length=40.0,
        win_mode="time",
        hop_mode=hop_mode,
        coverage=1.0,
        steps=20,
        callback=poison,
    )
    assert result.stopped == "non-finite" and result.steps == 4 and len(result.history) == 4
    assert result.final_loss == min(result.history)
    assert torch.isfinite(result.win_length).all() and torch.isfinite(result.positions).all()
    assert torch.isfinite(result.spectrogram).all()


def _overflowing_after(monkeypatch, calls):
    """Make the spectrograms of fit infinite from the ``calls``-th power spectrum on."""
    count = [0]

    def power(S, p):
        count[0] += 1
        spec = power_spectrum(S, p)
        return spec * math.inf if count[0] >= calls else spec

    monkeypatch.setattr(optimize, "power_spectrum", power)


def test_a_non_finite_grid_stops_the_fit_without_a_step(monkeypatch):
    _overflowing_after(monkeypatch, 1)
    result = fit(_signal(), n_fft=128, hop_length=16, steps=20)
    assert isinstance(result.init, GridResult) and math.isnan(result.init.best_loss)
    assert result.stopped == "non-finite" and result.steps == 0 and result.history == []
    assert math.isnan(result.initial_loss) and math.isnan(result.final_loss)


def test_a_non_finite_constant_stage_stops_the_varying_fit(monkeypatch):
    _overflowing_after(monkeypatch, 6)  # the grid, then 4 finite evaluations (4 steps)
    result = fit(_signal(), n_fft=128, hop_length=16, win_mode="time", steps=20)
    init = result.init
    assert init.stopped == "non-finite" and init.steps == 4 and len(init.history) == 4
    assert result.stopped == "non-finite" and result.steps == 0


def test_grid_search_gives_nan_to_a_non_finite_candidate(monkeypatch):
    x = _signal()
    candidates = [16.0, 24.0, 40.0, 64.0]
    clean = grid_search(x, candidates, n_fft=128, hop_length=16)

    def power(S, p):
        spec = power_spectrum(S, p)
        spec[clean.losses.argmin()] = math.inf
        return spec

    monkeypatch.setattr(optimize, "power_spectrum", power)
    broken = grid_search(x, candidates, n_fft=128, hop_length=16)
    best = int(clean.losses.argmin())
    assert math.isnan(broken.losses[best])
    others = [i for i in range(4) if i != best]
    torch.testing.assert_close(broken.losses[others], clean.losses[others])
    assert broken.best == candidates[others[int(clean.losses[others].argmin())]]


def test_non_finite_signals_are_rejected():
    x = _signal()
    x[5] = math.inf
    with pytest.raises(ValueError, match=r"x must be finite; got inf \(first offending element\)"):
        fit(x, n_fft=128)
    x[5] = math.nan
    with pytest.raises(ValueError, match="x must be finite; got nan"):
        grid_search(x, [32.0], n_fft=128)


def _interrupted(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize(("win_mode", "stage"), [("constant", "grid_search"), ("time", "fit")])
def test_ctrl_c_in_the_first_stage_stops_the_whole_fit(monkeypatch, win_mode, stage):
    # The stage is looked up in the module at call time: the outer fit is the real one.
    monkeypatch.setattr(optimize, stage, _interrupted)
    result = fit(_signal(), n_fft=128, hop_length=16, win_mode=win_mode, steps=20)
    assert result.stopped == "interrupted" and result.steps == 0 and result.init is None
    torch.testing.assert_close(
        result.win_length, torch.full_like(result.win_length, math.sqrt(16.0 * 128.0))
    )
    assert len(result.history) == 1 and math.isfinite(result.final_loss)


def test_a_constant_stage_stopped_by_ctrl_c_stops_the_varying_fit(monkeypatch):
    def interrupt(step, value, layer):
        if step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(optimize, "fit", functools.partial(fit, callback=interrupt))
    result = fit(_signal(), n_fft=128, hop_length=16, win_mode="time", steps=20)
    assert result.init.stopped == "interrupted" and result.init.steps == 3
    assert result.stopped == "interrupted" and result.steps == 0
    assert torch.equal(result.win_length, result.init.win_length.expand_as(result.win_length))
    assert result.history == [pytest.approx(result.init.final_loss, rel=1e-6)]


@pytest.mark.parametrize("win_mode", ["constant", "time"])
def test_the_default_hop_is_at_least_one(win_mode):
    result = fit(torch.randn(200, dtype=torch.float64), n_fft=2, win_mode=win_mode, steps=2)
    assert result.stopped == "max_steps"
    torch.testing.assert_close(result.positions[:3], torch.arange(3.0, dtype=torch.float64))


@pytest.mark.parametrize("where", ["layer", "optimiser"])
def test_ctrl_c_while_the_descent_is_set_up_stops_at_the_grid_optimum(monkeypatch, where):
    # Building Adam first imports torch's compiler: a second or so where Ctrl-C used to escape.
    if where == "optimiser":
        monkeypatch.setattr(torch.optim, "Adam", _interrupted)
    else:
        built = []

        def interrupted_once(*args, **kwargs):
            built.append(1)
            if len(built) == 1:
                raise KeyboardInterrupt
            return ad.DSTFT(*args, **kwargs)

        monkeypatch.setattr(optimize, "DSTFT", interrupted_once)
    result = fit(_signal(), n_fft=128, hop_length=16, steps=20)
    assert result.stopped == "interrupted" and result.steps == 0
    assert isinstance(result.init, GridResult)
    assert float(result.win_length) == result.init.best
    assert result.history == [pytest.approx(result.init.best_loss, rel=1e-9)]


def test_grid_search_sizes_its_chunks_by_the_hop_used(monkeypatch):
    # About 64 MiB of spectrogram per chunk: with hop 1 (not the default n_fft // 4) a candidate
    # holds 129 x 8001 frames, 16 MiB, so 6 candidates take 2 chunks.
    calls = []
    dstft = ad.dstft

    def counting(*args, **kwargs):
        calls.append(1)
        return dstft(*args, **kwargs)

    monkeypatch.setattr(_dstft, "dstft", counting)
    x = torch.randn(8000)
    result = grid_search(x, [16.0, 32.0, 64.0, 100.0, 128.0, 256.0], n_fft=256, hop_length=1)
    assert len(calls) == 2 and torch.isfinite(result.losses).all()
    with pytest.raises(ValueError, match="hop_length must satisfy hop_length > 0; got 0"):
        grid_search(x, [16.0], n_fft=256, hop_length=0)
