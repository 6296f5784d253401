"""The inverse DSTFT ``idstft``: the least-squares signal of a spectrum.

Bad input first; then exact reconstruction of ``x`` from ``dstft(x)`` for every mode, window,
normalisation and padding; the least-squares property on spectra that are not a DSTFT, against
a dense solve built from the brute-force reference; the warnings for samples no window covers
and for a conjugate gradient that did not converge; gradients (``gradcheck`` through the
closed-form overlap-add and through the implicitly differentiated conjugate gradient); float32.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from reference import NORMALIZATIONS, WINDOW_NAMES, dstft_reference

import adastft as ad
from adastft._inverse import idstft

N_FFT, LENGTH = 16, 40
N_BINS = N_FFT // 2 + 1
TOL = 1e-13  # of the conjugate gradient (float64): about a dozen iterations at these sizes


def signal(*shape, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=dtype)


def uniform(shape, low, high, seed=1, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(shape, generator=gen, dtype=dtype)


def spectrum(*shape, seed=2):
    """A random complex spectrum: not the DSTFT of any signal."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.complex128)


def frame_count(hop: float, center: bool = True, length: int = LENGTH) -> int:
    return ad.n_frames(length, N_FFT, hop, center=center)


def win_lengths(mode: str, n_frames: int, low: float = 7.0, high: float = 15.0):
    """Window lengths of each mode; ``low`` above the largest gap between frame centres keeps
    every sample covered."""
    shape = {
        "constant": (),
        "time": (1, n_frames),
        "frequency": (N_BINS, 1),
        "time-frequency": (N_BINS, n_frames),
        "per-example constant": (2, 1, 1),
        "per-example time-frequency": (2, N_BINS, n_frames),
    }[mode]
    return uniform(shape, low, high)


@contextmanager
def no_warnings():
    """Turn every warning into an error inside the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


S0 = spectrum(N_BINS, frame_count(4))
CALL = dict(n_fft=N_FFT, hop_length=4, length=LENGTH)


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [[[1.0]], torch.zeros(N_BINS, 11, dtype=torch.float64)])
def test_spectrum_must_be_a_complex_tensor(bad):
    with pytest.raises(TypeError, match=r"^S must be"):
        idstft(bad, 8.0, **CALL)


def test_spectrum_needs_bins_and_frames_dims():
    with pytest.raises(ValueError, match=r"S must have shape \(\.\.\., F, T\); got \(9,\)"):
        idstft(S0[:, 0], 8.0, **CALL)


@pytest.mark.parametrize("shape", [(N_BINS + 1, 11), (N_BINS, 10), (N_BINS, 12)])
def test_spectrum_shape_must_match_bins_and_frame_count(shape):
    with pytest.raises(ValueError, match=re.escape("(..., 9, 11) (F = n_fft // 2 + 1; T frames")):
        idstft(spectrum(*shape), 8.0, **CALL)


@pytest.mark.parametrize("length", [40.0, "40", True, None])
def test_length_must_be_an_int(length):
    with pytest.raises(TypeError, match=f"length must be an int.*got {re.escape(repr(length))}"):
        idstft(S0, 8.0, n_fft=N_FFT, hop_length=4, length=length)


@pytest.mark.parametrize("length", [0, -3])
def test_length_must_be_positive(length):
    with pytest.raises(ValueError, match=f"length must satisfy an int >= 1; got {length}"):
        idstft(S0, 8.0, n_fft=N_FFT, hop_length=4, length=length)


def test_length_must_exceed_half_n_fft_with_reflect_padding():
    with pytest.raises(ValueError, match=r"length must be more than n_fft // 2 \(=8\).*got 8"):
        idstft(spectrum(N_BINS, 3), 8.0, n_fft=N_FFT, length=8, pad_mode="reflect")


def test_length_must_reach_n_fft_without_centering():
    with pytest.raises(ValueError, match=r"length must be at least n_fft \(=16\).*got 15"):
        idstft(spectrum(N_BINS, 1), 8.0, n_fft=N_FFT, length=15, center=False)


@pytest.mark.parametrize(("tol", "exc"), [(0.0, ValueError), (-1e-3, ValueError), ("1", TypeError)])
def test_tol_must_be_positive(tol, exc):
    with pytest.raises(exc, match=f"tol .*{re.escape(repr(tol))}"):
        idstft(S0, 8.0, **CALL, tol=tol)


@pytest.mark.parametrize(("max_iter", "exc"), [(0, ValueError), (2.5, TypeError)])
def test_max_iter_must_be_a_positive_int(max_iter, exc):
    with pytest.raises(exc, match=f"max_iter must .*an int >= 1.*{max_iter}"):
        idstft(S0, 8.0, **CALL, max_iter=max_iter)


def test_transform_arguments_are_checked_as_by_dstft():
    with pytest.raises(ValueError, match=r"win_length must satisfy 0 < win_length <= n_fft"):
        idstft(S0, 17.0, **CALL)
    with pytest.raises(ValueError, match=r"n_fft must be an even int >= 2; got 15"):
        idstft(S0, 8.0, n_fft=15, length=LENGTH)
    # idstft has no x: the rule names S.
    real_of_s = r"must have the real dtype of S \(torch.float64 for torch.complex128\)"
    with pytest.raises(TypeError, match=rf"win_length {real_of_s}; got dtype torch.float32"):
        idstft(S0, torch.full((1, 1), 8.0), **CALL)  # float32 lengths for a complex128 S
    positions = torch.arange(S0.shape[-1], dtype=torch.float32) * 4
    with pytest.raises(TypeError, match=rf"positions {real_of_s}; got dtype torch.float32"):
        idstft(S0, 8.0, n_fft=N_FFT, length=LENGTH, positions=positions)


# --- exact reconstruction -------------------------------------------------------------------


POSITIONINGS = {
    "integer hop": dict(hop_length=4),
    "fractional hop": dict(hop_length=3.3),
    "positions": dict(positions=torch.tensor([0.0, 2.7, 7.5, 10.1, 13.0, 18.4, 21.0, 24.9, 28.5,
                                              31.0, 36.2, 39.6], dtype=torch.float64)),
}  # fmt: skip


def frames_of(positioning: dict, center: bool = True) -> int:
    if "positions" in positioning:
        return positioning["positions"].shape[-1]
    return frame_count(positioning["hop_length"], center)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("positioning", POSITIONINGS)
@pytest.mark.parametrize(
    "mode",
    [
        "constant",
        "time",
        "frequency",
        "time-frequency",
        "per-example constant",
        "per-example time-frequency",
    ],
)
def test_reconstructs_the_signal(mode, positioning, pad_mode):
    kw = dict(n_fft=N_FFT, pad_mode=pad_mode, **POSITIONINGS[positioning])
    lam = win_lengths(mode, frames_of(POSITIONINGS[positioning]))
    x = signal(2, LENGTH)
    with no_warnings():
        y = idstft(ad.dstft(x, lam, **kw), lam, length=LENGTH, tol=TOL, **kw)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-10)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("window", WINDOW_NAMES)
@pytest.mark.parametrize("mode", ["constant", "frequency"])
def test_reconstructs_with_every_window_and_normalization(mode, window, normalization):
    kw = dict(n_fft=N_FFT, hop_length=3.3, window=window, normalization=normalization)
    lam = win_lengths(mode, frame_count(3.3))
    x = signal(LENGTH)
    y = idstft(ad.dstft(x, lam, **kw), lam, length=LENGTH, tol=TOL, **kw)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-10)


@pytest.mark.parametrize("mode", ["time", "time-frequency"])
def test_reconstructs_the_covered_samples_without_centering(mode):
    # Frames centred from N/2 = 8 on: the first and last samples are covered by no window.
    kw = dict(n_fft=N_FFT, hop_length=2.5, center=False)
    lam = win_lengths(mode, frame_count(2.5, center=False), low=10.0)
    x = signal(LENGTH)
    with pytest.warns(UserWarning, match=r"samples \[0, \d\) and \[3\d, 40\) are covered"):
        y = idstft(ad.dstft(x, lam, **kw), lam, length=LENGTH, tol=TOL, **kw)
    covered = y != 0
    assert 1 <= (~covered).sum() <= 12 and not covered[0] and not covered[-1]
    torch.testing.assert_close(y[covered], x[covered], rtol=0, atol=1e-10)


def test_batch_dims_broadcast_like_dstft():
    lam = win_lengths("time-frequency", frame_count(4))[None, None]  # (1, 1, F, T)
    x = signal(3, 2, LENGTH)
    spec = ad.dstft(x, lam, n_fft=N_FFT, hop_length=4)
    y = idstft(spec, lam, **CALL, tol=TOL)
    assert y.shape == (3, 2, LENGTH)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-10)
    per_example = torch.stack([idstft(s, lam[0, 0], **CALL, tol=TOL) for s in spec.flatten(0, 1)])
    torch.testing.assert_close(y.flatten(0, 1), per_example, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["constant", "time-frequency"])
def test_per_example_positions(mode):
    t = POSITIONINGS["positions"]["positions"]
    positions = torch.stack([t, 0.4 + 0.97 * t])  # (2, T)
    lam = win_lengths(mode, t.shape[0])
    x = signal(2, LENGTH)
    spec = ad.dstft(x, lam, n_fft=N_FFT, positions=positions)
    y = idstft(spec, lam, n_fft=N_FFT, positions=positions, length=LENGTH, tol=TOL)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-10)


def test_tensor_hop_length():
    hop = torch.tensor(3.3, dtype=torch.float64)
    x = signal(LENGTH)
    spec = ad.dstft(x, 9.0, n_fft=N_FFT, hop_length=hop)
    y = idstft(spec, 9.0, n_fft=N_FFT, hop_length=hop, length=LENGTH)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-10)


# --- least squares: spectra that are not a DSTFT ---------------------------------------------


def reference_matrix(lam, **kw) -> tuple[np.ndarray, np.ndarray]:
    """``A`` ``(F T, L)``, column ``s`` the reference DSTFT of the unit impulse at ``s``, and
    the bin weights ``c`` ``(F T,)``: 1 for bins 0 and N/2, 2 otherwise."""
    columns = dstft_reference(np.eye(LENGTH), lam, n_fft=N_FFT, **kw)  # (L, F, T)
    c = np.where(np.arange(N_BINS) % (N_BINS - 1) == 0, 1.0, 2.0)
    return columns.reshape(LENGTH, -1).T, np.repeat(c, columns.shape[-1])


def dense_least_squares(spec: torch.Tensor, lam, **kw) -> np.ndarray:
    """argmin_x sum_k c_k |A x - S|^2 over real x (``lstsq``: the minimum-norm solution)."""
    a, c = reference_matrix(lam, **kw)
    a, b = a * np.sqrt(c)[:, None], spec.numpy().reshape(-1) * np.sqrt(c)
    stacked = np.concatenate([a.real, a.imag]), np.concatenate([b.real, b.imag])
    return np.linalg.lstsq(*stacked, rcond=None)[0]


@pytest.mark.parametrize(
    ("mode", "pad_mode", "positioning"),
    [
        ("constant", "constant", "integer hop"),
        ("time", "reflect", "fractional hop"),
        ("time", "constant", "positions"),
        ("frequency", "reflect", "integer hop"),
        ("time-frequency", "constant", "fractional hop"),
        ("time-frequency", "reflect", "positions"),
    ],
)
def test_least_squares_solution_of_a_spectrum_that_is_not_a_dstft(mode, pad_mode, positioning):
    kw = dict(n_fft=N_FFT, pad_mode=pad_mode, **POSITIONINGS[positioning])
    n_frames = frames_of(POSITIONINGS[positioning])
    lam = win_lengths(mode, n_frames)
    spec = spectrum(N_BINS, n_frames)
    y = idstft(spec, lam, length=LENGTH, tol=TOL, **kw)
    expected = dense_least_squares(spec, lam, **{k: v for k, v in kw.items() if k != "n_fft"})
    np.testing.assert_allclose(y.numpy(), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("mode", ["time", "frequency"])
def test_least_squares_is_minimum_norm_on_uncovered_samples(mode):
    lam = win_lengths(mode, frame_count(10), low=4.0, high=7.0)
    spec = spectrum(N_BINS, frame_count(10))
    with pytest.warns(UserWarning, match="covered by no window"):
        y = idstft(spec, lam, n_fft=N_FFT, hop_length=10, length=LENGTH, tol=TOL)
    expected = dense_least_squares(spec, lam, hop_length=10)
    uncovered = y == 0
    assert uncovered.any() and np.abs(expected[uncovered]).max() < 1e-12 * np.abs(expected).max()
    np.testing.assert_allclose(y.numpy(), expected, rtol=0, atol=1e-10 * np.abs(expected).max())


# --- warnings -----------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [6.0, torch.full((N_BINS, 1), 6.0, dtype=torch.float64)])
def test_warns_naming_the_samples_no_window_covers(lam):
    # Frames centred at 0, 10, ..., 40 cover |s - t_n| < 3.
    with pytest.warns(UserWarning) as record:
        y = idstft(spectrum(N_BINS, 5), lam, n_fft=N_FFT, hop_length=10, length=LENGTH)
    assert [str(w.message) for w in record] == [
        "idstft: samples [3, 8), [13, 18), [23, 28) and [33, 38) are covered by no window; "
        "they are set to 0"
    ]
    assert record[0].filename == __file__
    uncovered = torch.tensor([3 <= s % 10 < 8 for s in range(LENGTH)])
    assert (y[uncovered] == 0).all() and (y[~uncovered] != 0).all()


def test_a_sample_on_the_support_edge_is_not_covered():
    # lam = 8, centres 0, 8, 16: samples 4 and 12 sit at |s - t_n| = lam / 2, where w = 0.
    with pytest.warns(UserWarning, match=r"samples \[4, 5\) and \[12, 13\) are covered by no"):
        idstft(spectrum(N_BINS, 3), 8.0, n_fft=N_FFT, hop_length=8, length=17)


def test_warning_lists_at_most_five_ranges():
    spec = spectrum(N_BINS, frame_count(5, length=60))
    with pytest.warns(UserWarning, match=r"\[2, 4\), .*\[22, 24\) and 7 more ranges are"):
        idstft(spec, 4.0, n_fft=N_FFT, hop_length=5, length=60)


def test_warning_says_when_only_some_examples_are_uncovered():
    lam = torch.tensor([6.0, 12.0], dtype=torch.float64).view(2, 1, 1)
    with pytest.warns(UserWarning, match=r"\[3, 7\) are covered by no window in some examples"):
        y = idstft(spectrum(N_BINS, 2), lam, n_fft=N_FFT, hop_length=9, length=9)
    assert (y[0, 3:7] == 0).all() and (y[1] != 0).all()


def test_warns_when_the_conjugate_gradient_does_not_converge():
    lam = win_lengths("frequency", 1)
    with pytest.warns(UserWarning, match=r"stopped after max_iter=1 iterations at relative resid"):
        idstft(S0, lam, **CALL, max_iter=1)


def test_a_tolerance_float32_cannot_reach_is_reported_not_claimed():
    """The residual the iteration updates drifts below the true one near float32's precision:
    a tol of 1e-9 once returned silently; the true residual now decides."""
    x = signal(2, 600, dtype=torch.float32)
    lam = torch.linspace(64.0, 8.0, 33)[:, None]
    spec = ad.dstft(x, lam, n_fft=64, hop_length=16)
    kw = dict(n_fft=64, hop_length=16, length=600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default tol is met: no warning
        idstft(spec, lam, **kw)
    with pytest.warns(UserWarning, match=r"stopped after max_iter=100 iterations"):
        idstft(spec, lam, **kw, tol=1e-9, max_iter=100)


# --- gradients ----------------------------------------------------------------------------


def leaf(t):
    return t.detach().clone().requires_grad_(True)


GRAD_POSITIONS = torch.tensor([0.3, 2.8, 5.6, 7.9, 10.4, 13.2, 15.7, 18.1], dtype=torch.float64)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("mode", ["constant", "time", "frequency", "time-frequency"])
def test_gradcheck_spectrum_window_lengths_and_positions(mode, pad_mode):
    shape = {"constant": (), "time": (1, 8), "frequency": (5, 1), "time-frequency": (5, 8)}
    lam = leaf(uniform(shape[mode], 5.0, 8.0))
    kw = dict(n_fft=8, length=20, pad_mode=pad_mode, tol=1e-12)

    def fn(spec, lam, positions):
        return idstft(spec, lam, positions=positions, **kw)

    inputs = (leaf(spectrum(5, 8)), lam, leaf(GRAD_POSITIONS))
    assert torch.autograd.gradcheck(fn, inputs, fast_mode=True)


SECOND_ORDER_SHAPES = {
    "constant": (),
    "time": (1, 8),
    "frequency": (5, 1),
    "time-frequency": (5, 8),
}


def _linear_loss(lam):
    """A loss linear in the reconstruction: its gradient is a constant of the backward."""
    spec = spectrum(5, 8)
    return idstft(spec, lam, positions=GRAD_POSITIONS, n_fft=8, length=20, tol=1e-12).sum()


@pytest.mark.parametrize("mode", ["constant", "time"])
def test_hessian_through_the_overlap_add_is_right(mode):
    """Windows that do not depend on frequency: the closed form is differentiated by autograd
    through its operations, twice as well; the Hessian matches differences of the gradient."""
    lam = uniform(SECOND_ORDER_SHAPES[mode], 5.0, 8.0)
    hessian = torch.autograd.functional.hessian(_linear_loss, lam).reshape(lam.numel(), -1)
    grad = lambda lam: torch.autograd.functional.jacobian(_linear_loss, lam).reshape(-1)  # noqa: E731
    h = 1e-5
    for i in range(lam.numel()):
        step = torch.zeros(lam.numel(), dtype=lam.dtype)
        step[i] = h
        step = step.reshape(lam.shape)
        column = (grad(lam + step) - grad(lam - step)) / (2 * h)
        torch.testing.assert_close(hessian[:, i], column, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", ["frequency", "time-frequency"])
def test_second_derivatives_through_the_solver_fail_loudly(mode):
    """Frequency-dependent windows: the conjugate gradient is differentiated implicitly, to
    first order only; a Hessian must raise rather than be 0."""
    lam = uniform(SECOND_ORDER_SHAPES[mode], 5.0, 8.0)
    with pytest.raises(RuntimeError, match="adastft computes first-order gradients only"):
        torch.autograd.functional.hessian(_linear_loss, lam)


@pytest.mark.parametrize("mode", ["time", "frequency"])
def test_gradcheck_with_samples_no_window_covers(mode):
    # Frames about 9.6 samples apart, windows of 4 to 6 samples: gaps between the frames.
    lam = leaf(uniform((1, 3) if mode == "time" else (5, 1), 4.0, 6.0))
    positions = leaf(torch.tensor([0.3, 9.6, 19.2], dtype=torch.float64))

    def fn(spec, lam, positions):
        return idstft(spec, lam, n_fft=8, positions=positions, length=20, tol=1e-12)

    with pytest.warns(UserWarning, match="covered by no window"):
        assert torch.autograd.gradcheck(fn, (leaf(spectrum(5, 3)), lam, positions))


def test_gradient_of_the_conjugate_gradient_path_matches_the_dense_solve():
    # d/dS <g, x(S)> = C A z with z = M^-1 g, here against the pseudo-inverse of the reference.
    lam = win_lengths("time-frequency", frame_count(4))
    spec = leaf(spectrum(N_BINS, frame_count(4)))
    g = signal(LENGTH, seed=5)
    (idstft(spec, lam, **CALL, tol=TOL) * g).sum().backward()
    a, c = reference_matrix(lam, hop_length=4)
    m = (a.conj().T * c) @ a
    z = np.linalg.solve(m.real, g.numpy())
    np.testing.assert_allclose(spec.grad.numpy().reshape(-1), c * (a @ z), rtol=0, atol=1e-10)


# --- float32 ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["constant", "time", "frequency", "time-frequency"])
def test_float32(mode):
    lam = win_lengths(mode, frame_count(3.3)).float()
    x = signal(2, LENGTH, dtype=torch.float32)
    kw = dict(n_fft=N_FFT, hop_length=3.3, pad_mode="reflect")
    with no_warnings():
        y = idstft(ad.dstft(x, lam, **kw), lam, length=LENGTH, **kw)
    assert y.dtype == torch.float32
    assert float((y - x).norm() / x.norm()) < 1e-5
