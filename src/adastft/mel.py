"""Mel scales and the triangular mel filterbank, with the semantics of torchaudio.

``melscale_fbanks`` builds the matrix of ``torchaudio.functional.melscale_fbanks`` (the one
``torchaudio.transforms.MelSpectrogram`` uses): ``n_mels`` triangles whose ``n_mels + 2`` corner
frequencies ``f_0 < f_1 < ... < f_{M+1}`` are equally spaced in mel between ``f_min`` and
``f_max``, sampled at the bin frequencies ``linspace(0, sample_rate // 2, n_freqs)``.

Two mel scales are provided:

- ``"htk"``: ``mel(f) = 2595 log10(1 + f / 700)``.
- ``"slaney"`` (Auditory Toolbox): ``mel(f) = 3 f / 200`` below 1000 Hz (15 mels), and
  ``15 + log(f / 1000) / (log(6.4) / 27)`` above.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from ._validation import check_choice, check_real_tensor, check_scalar

__all__ = ["hz_to_mel", "mel_to_hz", "melscale_fbanks", "MEL_SCALES", "MEL_NORMS"]

MEL_SCALES = ("htk", "slaney")
MEL_NORMS = (None, "slaney")

# Slaney scale: linear (200 / 3 Hz per mel) up to the break at 1000 Hz = 15 mels, then
# logarithmic with 27 mels per factor 6.4 in frequency.
_HZ_PER_MEL = 200.0 / 3.0
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _HZ_PER_MEL
_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(freq: Tensor, mel_scale: str = "htk") -> Tensor:
    """Frequencies in Hz to mels.

    ``"htk"``: ``m = 2595 log10(1 + f / 700)``. ``"slaney"``: ``m = f / (200 / 3)`` for
    ``f < 1000``, ``m = 15 + log(f / 1000) / (log(6.4) / 27)`` for ``f >= 1000``.

    Args:
        freq (Tensor): real frequencies ``f`` in Hz (``f >= 0`` for a finite result).
        mel_scale (str in {"htk", "slaney"}): the mel scale.

    Shape:
        ``(*) -> (*)``, in the dtype and on the device of ``freq``.

    Example:
        >>> hz_to_mel(torch.tensor([0.0, 500.0, 1000.0, 6400.0]), "slaney")
        tensor([ 0.0000,  7.5000, 15.0000, 42.0000])
    """
    check_real_tensor("freq", freq)
    check_choice("mel_scale", mel_scale, MEL_SCALES)
    if mel_scale == "htk":
        return 2595.0 * torch.log10(1.0 + freq / 700.0)
    linear = freq / _HZ_PER_MEL
    # The clamp keeps the unused branch (and its gradient) finite below the break.
    log = _BREAK_MEL + torch.log(freq.clamp(min=_BREAK_HZ) / _BREAK_HZ) / _LOG_STEP
    return torch.where(freq >= _BREAK_HZ, log, linear)


def mel_to_hz(mels: Tensor, mel_scale: str = "htk") -> Tensor:
    """Mels to frequencies in Hz, the inverse of :func:`hz_to_mel`.

    ``"htk"``: ``f = 700 (10^(m / 2595) - 1)``. ``"slaney"``: ``f = (200 / 3) m`` for
    ``m < 15``, ``f = 1000 exp((log(6.4) / 27) (m - 15))`` for ``m >= 15``.

    Args:
        mels (Tensor): real mel values ``m``.
        mel_scale (str in {"htk", "slaney"}): the mel scale.

    Shape:
        ``(*) -> (*)``, in the dtype and on the device of ``mels``.

    Example:
        >>> mel_to_hz(torch.tensor([0.0, 15.0, 42.0]), "slaney")
        tensor([   0., 1000., 6400.])
    """
    check_real_tensor("mels", mels)
    check_choice("mel_scale", mel_scale, MEL_SCALES)
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    linear = mels * _HZ_PER_MEL
    log = _BREAK_HZ * torch.exp(_LOG_STEP * (mels.clamp(min=_BREAK_MEL) - _BREAK_MEL))
    return torch.where(mels >= _BREAK_MEL, log, linear)


def melscale_fbanks(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: float,
    norm: str | None = None,
    mel_scale: str = "htk",
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Triangular mel filterbank, as ``torchaudio.functional.melscale_fbanks``.

    With corner frequencies ``f_j = mel^-1(mel(f_min) + j (mel(f_max) - mel(f_min)) / (M + 1))``,
    ``j = 0 .. M + 1`` (``M = n_mels``), and bin frequencies ``nu_k``, ``k = 0 .. K - 1``
    (``K = n_freqs``), equally spaced from 0 to ``sample_rate // 2``::

        fb[k, m] = max(0, min(rise, fall)),
        rise = (nu_k - f_m) / (f_{m+1} - f_m),    fall = (f_{m+2} - nu_k) / (f_{m+2} - f_{m+1})

    and, with ``norm="slaney"``, ``fb[k, m] *= 2 / (f_{m+2} - f_m)`` (each triangle then has unit
    area in Hz). A power spectrogram ``S`` of shape ``(..., K, T)`` maps to mels as
    ``fb.T @ S``.

    The bins end at ``sample_rate // 2`` (integer division, as torchaudio does), not at
    ``sample_rate / 2``; the two differ only for odd sample rates. With ``dtype=torch.float32``
    the arithmetic follows torchaudio's (mel end points in double precision, everything else
    in float32). A ``UserWarning`` is raised when a filter falls between two bins and is all
    zero, as torchaudio does.

    Args:
        n_freqs (int >= 1): ``K``, the number of frequency bins (``n_fft // 2 + 1``).
        f_min (float, 0 <= f_min < f_max): lowest corner frequency in Hz.
        f_max (float, f_min < f_max <= sample_rate / 2): highest corner frequency in Hz.
        n_mels (int >= 1): ``M``, the number of filters.
        sample_rate (float > 0): sample rate in Hz.
        norm (None or "slaney"): ``"slaney"`` divides each triangle by half its width in Hz.
        mel_scale (str in {"htk", "slaney"}): the mel scale of the corner points.
        dtype (torch.dtype, floating point): dtype of the computation and of the result.
        device (torch.device, optional): device of the result.

    Shape:
        Output: ``(n_freqs, n_mels)``; column ``m`` is filter ``m``.

    Example:
        >>> melscale_fbanks(201, 0.0, 8000.0, 40, 16000).shape
        torch.Size([201, 40])
        >>> # Below 1000 Hz the Slaney scale is linear: corners at 0, 100, ..., 400 Hz = bins.
        >>> melscale_fbanks(5, 0.0, 400.0, 3, 800, mel_scale="slaney")
        tensor([[0., 0., 0.],
                [1., 0., 0.],
                [0., 1., 0.],
                [0., 0., 1.],
                [0., 0., 0.]])
    """
    check_scalar("n_freqs", n_freqs, low=1, integer=True, rule="n_freqs >= 1")
    check_scalar("n_mels", n_mels, low=1, integer=True, rule="n_mels >= 1")
    rate = check_scalar("sample_rate", sample_rate, low=0.0, low_open=True, rule="sample_rate > 0")
    check_scalar("f_min", f_min, low=0.0, rule="0 <= f_min < f_max")
    check_scalar(
        "f_max", f_max, high=rate / 2, rule=f"f_min < f_max <= sample_rate / 2 (={rate / 2:g})"
    )
    if not f_min < f_max:
        raise ValueError(f"f_min must be < f_max; got f_min={f_min!r}, f_max={f_max!r}")
    check_choice("norm", norm, MEL_NORMS)
    check_choice("mel_scale", mel_scale, MEL_SCALES)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a real floating-point torch.dtype; got {dtype!r}")

    nu = torch.linspace(0.0, sample_rate // 2, n_freqs, dtype=dtype, device=device)
    ends = torch.tensor([float(f_min), float(f_max)], dtype=torch.float64)
    m_min, m_max = hz_to_mel(ends, mel_scale).tolist()
    f = mel_to_hz(torch.linspace(m_min, m_max, n_mels + 2, dtype=dtype, device=device), mel_scale)
    f_lo, f_mid, f_hi = f[:-2], f[1:-1], f[2:]  # f_m, f_{m+1}, f_{m+2} for m = 0 .. M - 1
    rise = (nu[:, None] - f_lo) / (f_mid - f_lo)
    fall = (f_hi - nu[:, None]) / (f_hi - f_mid)
    fb = torch.minimum(rise, fall).clamp(min=0.0)
    if norm == "slaney":
        fb = fb * (2.0 / (f_hi - f_lo))

    empty = (fb.amax(dim=0) == 0).nonzero().flatten().tolist()
    if empty:
        warnings.warn(
            f"mel filters {empty} have all-zero values: n_mels={n_mels} may be too high, or "
            f"n_freqs={n_freqs} too low, for f_min={f_min!r} and f_max={f_max!r}",
            UserWarning,
            stacklevel=2,
        )
    return fb
