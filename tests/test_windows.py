"""Base windows: the built-in registry and user windows (``adastft.Window``).

The built-in ``w(v)`` follow SPEC.md's table and their ``w'(v)`` follow finite differences and
autograd. A user window equal to hann reproduces ``window="hann"``; an asymmetric user window
(to catch a flipped ``v``) matches the reference and passes gradcheck.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from reference import BASE_WINDOWS, NORMALIZATIONS, assert_close_to_reference, dstft_reference

import adastft as ad

GRID = torch.linspace(-0.499, 0.499, 401, dtype=torch.float64)


def user_hann() -> ad.Window:
    return ad.Window(
        lambda v: 0.5 + 0.5 * torch.cos(2 * torch.pi * v),
        lambda v: -torch.pi * torch.sin(2 * torch.pi * v),
        name="my-hann",
    )


def tilted_hann() -> ad.Window:
    """``w(v) = cos(pi v)^2 (1 + v)``: asymmetric, zero with zero slope at the support edge."""
    return ad.Window(
        lambda v: torch.cos(torch.pi * v) ** 2 * (1 + v),
        lambda v: torch.cos(torch.pi * v) ** 2 - torch.pi * torch.sin(2 * torch.pi * v) * (1 + v),
        name="tilted-hann",
    )


def tilted_hann_numpy(v):
    return np.cos(np.pi * v) ** 2 * (1 + v)


@pytest.mark.parametrize("name", BASE_WINDOWS)
def test_builtin_window_values_follow_spec_table(name):
    got = ad.windows.get_window(name).fn(GRID)
    np.testing.assert_allclose(got.numpy(), BASE_WINDOWS[name](GRID.numpy()), rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", BASE_WINDOWS)
def test_builtin_window_derivative_matches_central_differences(name):
    w = ad.windows.get_window(name)
    h = 1e-6
    numeric = (w.fn(GRID + h) - w.fn(GRID - h)) / (2 * h)
    torch.testing.assert_close(w.derivative(GRID), numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", BASE_WINDOWS)
def test_builtin_window_derivative_matches_autograd(name):
    w = ad.windows.get_window(name)
    v = GRID.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(w.fn(v).sum(), v)
    torch.testing.assert_close(w.derivative(GRID), auto, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("win_shape", [(), (9, 1)])
def test_user_window_equal_to_hann_gives_hann_output_and_gradients(rng, win_shape, normalization):
    x = torch.from_numpy(rng.standard_normal(40))
    lam0 = torch.tensor(rng.uniform(3.0, 16.0, size=win_shape), dtype=torch.float64)
    t0 = torch.tensor(rng.uniform(0.0, 40.0, size=6), dtype=torch.float64)
    results = []
    for window in ["hann", user_hann()]:
        lam, t = lam0.clone().requires_grad_(True), t0.clone().requires_grad_(True)
        out = ad.dstft(x, lam, n_fft=16, positions=t, window=window, normalization=normalization)
        out.abs().sum().backward()
        results.append((out.detach(), lam.grad, t.grad))
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("normalization", "rtol"), [(None, 1e-10), ("amplitude", 1e-7), ("energy", 1e-7)]
)
@pytest.mark.parametrize("win_shape", [(), (9, 7)])
def test_asymmetric_user_window_matches_reference(rng, win_shape, normalization, rtol):
    x = rng.standard_normal(40)
    lam = torch.tensor(rng.uniform(2.0, 16.0, size=win_shape), dtype=torch.float64)
    t = torch.tensor(rng.uniform(-3.0, 43.0, size=7), dtype=torch.float64)
    kw = dict(n_fft=16, positions=t, normalization=normalization)
    got = ad.dstft(torch.from_numpy(x), lam, window=tilted_hann(), **kw)
    assert_close_to_reference(got, dstft_reference(x, lam, window=tilted_hann_numpy, **kw), rtol)


def test_asymmetric_user_window_is_not_mirrored(rng):
    # mirrored, w(-v) = cos(pi v)^2 (1 - v) would give a visibly different transform
    x = rng.standard_normal(40)
    t = torch.tensor([10.3, 20.7], dtype=torch.float64)
    got = ad.dstft(torch.from_numpy(x), 13.0, n_fft=16, positions=t, window=tilted_hann())
    mirrored = dstft_reference(
        x, 13.0, n_fft=16, positions=t, window=lambda v: tilted_hann_numpy(-v)
    )
    assert np.abs(got.numpy() - mirrored).max() > 1e-3 * np.abs(mirrored).max()


@pytest.mark.parametrize("win_shape", [(), (1, 6), (9, 6)])
def test_asymmetric_user_window_gradcheck(rng, win_shape):
    x = torch.from_numpy(rng.standard_normal(40))
    lam = torch.tensor(rng.uniform(3.0, 15.0, size=win_shape), dtype=torch.float64)
    t = torch.tensor(rng.uniform(0.0, 40.0, size=6), dtype=torch.float64)
    lam.requires_grad_(True)
    t.requires_grad_(True)
    window = tilted_hann()
    assert torch.autograd.gradcheck(
        lambda lam, t: torch.view_as_real(ad.dstft(x, lam, n_fft=16, positions=t, window=window)),
        (lam, t),
    )


def domain_only() -> ad.Window:
    """``w(v) = (1 - 4 v^2)^(3/2)``: finite on ``[-1/2, 1/2]``, NaN outside (``pow`` of a
    negative base), as a user window written for its domain only may be."""
    return ad.Window(
        lambda v: (1 - 4 * v**2) ** 1.5,
        lambda v: -12 * v * (1 - 4 * v**2) ** 0.5,
        name="domain-only",
    )


def _short_windows(rng):
    """A signal of 100 samples, 13 window lengths in [8, 20] and 13 frame centres (N = 32)."""
    x = torch.from_numpy(rng.standard_normal(100))
    lam0 = torch.tensor(rng.uniform(8.0, 20.0, size=(1, 13)), dtype=torch.float64)
    t0 = torch.tensor(rng.uniform(0.0, 100.0, size=13), dtype=torch.float64)
    return x, lam0, t0


def _transform_and_gradients(window, x, lam0, t0, mode, normalization="amplitude"):
    lam, t = lam0.clone().requires_grad_(True), t0.clone().requires_grad_(True)
    where = {"positions": t} if mode == "positions" else {"hop_length": 8}
    out = ad.dstft(x, lam, n_fft=32, window=window, normalization=normalization, **where)
    out.abs().sum().backward()
    return out.detach(), lam.grad, t.grad if mode == "positions" else None


@pytest.mark.parametrize("mode", ["grid", "positions"])
def test_window_of_its_domain_only_is_evaluated_there(rng, mode):
    # v reaches |v| ~ 1.5 outside the short windows: unclamped, fn and derivative are NaN there
    x, lam0, t0 = _short_windows(rng)
    got = _transform_and_gradients(domain_only(), x, lam0, t0, mode)
    assert all(torch.isfinite(g).all() for g in got if g is not None)
    safe = ad.Window(
        lambda v: (1 - 4 * v**2).clamp(min=0) ** 1.5,
        lambda v: -12 * v * (1 - 4 * v**2).clamp(min=0) ** 0.5,
        name="domain-only, clamped inside",
        finite_everywhere=True,
    )
    expected = _transform_and_gradients(safe, x, lam0, t0, mode)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # the flag is what keeps the NaN out: claimed finite everywhere, the window is not
    unsafe = dataclasses.replace(domain_only(), finite_everywhere=True)
    assert torch.isnan(_transform_and_gradients(unsafe, x, lam0, t0, mode)[0]).any()


@pytest.mark.parametrize("name", BASE_WINDOWS)
@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_builtin_windows_unclamped_equal_clamped(rng, name, normalization):
    # the built-in windows skip the clamp (finite_everywhere); with it they give the same bits
    builtin = ad.windows.get_window(name)
    assert builtin.finite_everywhere
    clamped = dataclasses.replace(builtin, finite_everywhere=False)
    x, lam0, t0 = _short_windows(rng)
    for mode in ("grid", "positions"):
        a = _transform_and_gradients(builtin, x, lam0, t0, mode, normalization)
        b = _transform_and_gradients(clamped, x, lam0, t0, mode, normalization)
        for u, v in zip(a, b, strict=True):
            assert u is None or torch.equal(u, v)


def test_window_arguments_are_checked():
    with pytest.raises(TypeError, match="fn and derivative must be callables; got int and"):
        ad.Window(3, user_hann().derivative)
    with pytest.raises(TypeError, match="finite_everywhere must be a bool; got 'yes'"):
        ad.Window(user_hann().fn, user_hann().derivative, finite_everywhere="yes")
    with pytest.raises(ValueError, match="'upside-down' must have a positive integral"):
        ad.Window(lambda v: v * 0 - 1, lambda v: v * 0, name="upside-down")


def _semicircle_derivative(v):
    return -v / torch.sqrt(0.25 - v**2)  # infinite at the support edges


@pytest.mark.parametrize(
    ("fn", "derivative", "match"),
    [
        # The kernels clamp samples outside the support to +-1/2, where 0 * inf would be NaN.
        (
            lambda v: torch.sqrt(0.25 - v**2),
            _semicircle_derivative,
            r"'odd': derivative must be finite on \[-1/2, 1/2\].*got inf at v=-0.5",
        ),
        (
            lambda v: 1.0 / (0.25 - v**2),
            lambda v: 2 * v / (0.25 - v**2) ** 2,
            r"'odd': fn must be finite on \[-1/2, 1/2\].*got inf at v=-0.5",
        ),
        # An odd fn: its integral is a rounding error, which the amplitude normalisation
        # would divide by.
        (lambda v: v, lambda v: torch.ones_like(v), r"'odd' must have a positive integral"),
    ],
    ids=["infinite derivative", "infinite fn", "zero integral"],
)
def test_window_values_are_checked(fn, derivative, match):
    with pytest.raises(ValueError, match=match):
        ad.Window(fn, derivative, name="odd")


@pytest.mark.parametrize(
    ("fn", "got"),
    [(lambda v: 1.0, "1.0"), (lambda v: v[:-1], r"shape \(20000,\)"), (lambda v: v + 0j, "")],
    ids=["a number", "another shape", "complex"],
)
def test_window_fn_must_return_a_real_tensor_of_its_argument_shape(fn, got):
    with pytest.raises(TypeError, match=rf"'bad': fn\(v\) must return a real tensor.*got {got}"):
        ad.Window(fn, lambda v: torch.zeros_like(v), name="bad")


def test_window_with_negative_lobes_and_a_positive_integral_is_accepted():
    """A flat-top-like window dips below zero; only its integral must be positive."""
    window = ad.Window(
        lambda v: 1.0 + 1.5 * torch.cos(2 * math.pi * v),
        lambda v: -3.0 * math.pi * torch.sin(2 * math.pi * v),
        name="flat-top-like",
    )
    assert window.integral == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("sigma", [0, -0.1, math.inf, "0.2"])
def test_gaussian_sigma_is_checked(sigma):
    with pytest.raises(ValueError, match=r"sigma must be a finite number > 0; got"):
        ad.windows.gaussian(sigma)
