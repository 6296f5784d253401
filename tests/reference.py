"""Brute-force reference DSTFT, written plainly from SPEC.md section 1.

Independent of the implementation: float64 numpy, no FFT, no torch. For every frame ``n``
and bin ``k`` it sums over the integer samples ``s`` near the frame centre ``t_n``::

    S[k, n] = sum_s xe[s] * c(lam[k, n]) * w((s - t_n) / lam[k, n])
                     * exp(-2 pi i k (s - t_n + N/2) / N)

with ``w`` zero outside the open support ``|v| < 1/2`` and ``c`` the normalisation computed
from numerical integrals of the base window (``scipy.integrate.quad``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from functools import cache

import numpy as np
from scipy.integrate import quad

GAUSSIAN_SIGMA = 1.0 / 6.0
WINDOW_NAMES = ("hann", "blackman", "gaussian", "hamming")
NORMALIZATIONS = ("amplitude", "energy", None)

BASE_WINDOWS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "hann": lambda v: np.cos(np.pi * v) ** 2,
    "blackman": lambda v: 0.42 + 0.5 * np.cos(2 * np.pi * v) + 0.08 * np.cos(4 * np.pi * v),
    "gaussian": lambda v: np.exp(-(v**2) / (2 * GAUSSIAN_SIGMA**2)),
    "hamming": lambda v: 0.54 + 0.46 * np.cos(2 * np.pi * v),
}


def _as_numpy(a) -> np.ndarray:
    """Convert a tensor, array or number to a float64/complex numpy array."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


@cache
def _integrals(window: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float]:
    """(integral of w, integral of w**2) over [-1/2, 1/2]."""

    def f(v: float) -> float:
        return float(window(np.float64(v)))

    int_w = quad(f, -0.5, 0.5, epsabs=1e-14, epsrel=1e-14, limit=200)[0]
    int_w2 = quad(lambda v: f(v) ** 2, -0.5, 0.5, epsabs=1e-14, epsrel=1e-14, limit=200)[0]
    return int_w, int_w2


def normalisation(lam: np.ndarray, window, normalization: str | None) -> np.ndarray:
    """The factor c(lam) of SPEC section 1."""
    w = BASE_WINDOWS[window] if isinstance(window, str) else window
    int_w, int_w2 = _integrals(w)
    if normalization == "amplitude":
        return 1.0 / (lam * int_w)
    if normalization == "energy":
        return 1.0 / np.sqrt(lam * int_w2)
    if normalization is None:
        return np.ones_like(lam)
    raise ValueError(normalization)


def default_positions(
    signal_length: int, n_fft: int, hop_length: float, center: bool
) -> np.ndarray:
    """Frame centres t_n = n * H (center) or N/2 + n * H (not center), as torch.stft."""
    hop = Fraction(hop_length)
    span = signal_length if center else signal_length - n_fft
    n_frames = 1 + math.floor(Fraction(span) / hop)
    t = np.arange(n_frames, dtype=np.float64) * float(hop_length)
    return t if center else t + n_fft / 2


def n_frames(signal_length: int, n_fft: int, hop_length: float, center: bool) -> int:
    """The number of frames T of the default positions."""
    return len(default_positions(signal_length, n_fft, hop_length, center))


def _extended(x: np.ndarray, n_fft: int, center: bool, pad_mode: str) -> Callable[[int], float]:
    """xe: x extended by zeros, or by N/2 reflected samples each side (center + reflect)."""
    length = len(x)
    half = n_fft // 2
    reflect = center and pad_mode == "reflect"

    def xe(s: int) -> float:
        if 0 <= s < length:
            return x[s]
        if reflect and -half <= s < 0:
            return x[-s]
        if reflect and length <= s < length + half:
            return x[2 * (length - 1) - s]
        return 0.0

    return xe


def _dstft_1d(x, lam, t, n_fft, window, center, pad_mode, normalization) -> np.ndarray:
    """One signal (L,), window lengths (F, T), positions (T,) -> (F, T) complex."""
    w = BASE_WINDOWS[window] if isinstance(window, str) else window
    n_bins = n_fft // 2 + 1
    k = np.arange(n_bins, dtype=np.float64)[:, None]
    xe = _extended(x, n_fft, center, pad_mode)
    out = np.zeros((n_bins, len(t)), dtype=np.complex128)
    for n, t_n in enumerate(t):
        s = np.arange(math.floor(t_n - n_fft / 2) - 1, math.ceil(t_n + n_fft / 2) + 2)
        xs = np.array([xe(int(si)) for si in s], dtype=np.float64)
        u = s.astype(np.float64) - t_n  # distance from the frame centre
        lam_n = lam[:, n][:, None]
        v = u[None, :] / lam_n
        inside = np.abs(v) < 0.5
        win = np.where(inside, w(np.where(inside, v, 0.0)), 0.0)
        win = win * normalisation(lam_n, window, normalization)
        phase = np.exp(-2j * np.pi * k * (u[None, :] + n_fft / 2) / n_fft)
        out[:, n] = (xs[None, :] * win * phase).sum(axis=1)
    return out


def dstft_reference(
    x,
    win_length,
    *,
    n_fft: int,
    hop_length: float | None = None,
    positions=None,
    window="hann",
    center: bool = True,
    pad_mode: str = "constant",
    normalization: str | None = "amplitude",
) -> np.ndarray:
    """Reference DSTFT of ``x`` (..., L) -> complex128 (..., F, T), looping over the batch.

    ``window`` is a name of SPEC's table or a numpy callable ``w(v)`` on [-1/2, 1/2].
    """
    x = _as_numpy(x).astype(np.float64)
    length = x.shape[-1]
    n_bins = n_fft // 2 + 1
    if positions is None:
        hop = n_fft // 4 if hop_length is None else float(_as_numpy(hop_length))
        positions = default_positions(length, n_fft, hop, center)
    positions = _as_numpy(positions).astype(np.float64)
    n_frames_ = positions.shape[-1]
    lam = _as_numpy(win_length).astype(np.float64)
    lam = lam.reshape((1,) * max(0, 2 - lam.ndim) + lam.shape)
    batch = np.broadcast_shapes(x.shape[:-1], positions.shape[:-1], lam.shape[:-2])
    x = np.broadcast_to(x, batch + (length,))
    positions = np.broadcast_to(positions, batch + (n_frames_,))
    lam = np.broadcast_to(lam, batch + (n_bins, n_frames_))
    out = np.zeros(batch + (n_bins, n_frames_), dtype=np.complex128)
    for idx in np.ndindex(*batch):
        out[idx] = _dstft_1d(
            x[idx], lam[idx], positions[idx], n_fft, window, center, pad_mode, normalization
        )
    return out


def assert_close_to_reference(actual, expected: np.ndarray, rtol: float = 1e-10) -> None:
    """Assert |actual - expected| <= rtol * max|expected| elementwise, with shapes equal."""
    actual = _as_numpy(actual)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(np.abs(expected).max(), 1e-300)
    err = np.abs(actual - expected).max()
    assert err <= rtol * scale, f"max error {err:.3e} > {rtol:.1e} * max|ref| ({scale:.3e})"
