"""Losses for learning window lengths and frame positions (paper Sec. VI).

Concentration measures of a spectrogram ``spec = |S| ** power`` of shape ``(..., F, T)``:

- :func:`entropy`: Shannon entropy of the spectrogram normalised to a distribution (Eq. 26),
  ``H = -sum_{k,n} p[k,n] log p[k,n]`` with ``p = spec / sum_{k,n} spec``;
- :func:`renyi_entropy`: Renyi entropy of order ``alpha`` of the same distribution,
  ``H_alpha = log(sum_{k,n} p[k,n] ** alpha) / (1 - alpha)``;
- :func:`kurtosis`: the kurtosis of each frame's spectrum (Eq. 29),
  ``K[n] = (1/F) sum_k spec[k,n]**4 / ((1/F) sum_k spec[k,n]**2) ** 2``.

Entropies are minimised and the kurtosis is maximised by concentrated spectrograms.

Penalties on the parameters of the transform:

- :func:`coverage_penalty`: the frames must cover the signal (Eqs. 30-32): the first window
  reaches sample 0, consecutive windows overlap, the last window reaches sample ``L - 1``;
- :func:`smoothness_penalty`: the non-local smoothness of a window-length map (Eq. 28), the
  weighted differences between each ``lam[k, n]`` and its neighbours within a configurable
  neighbourhood in frequency and time.

Every function takes ``reduction`` as torch's losses do: ``"none"`` returns one value per element
(a spectrogram, a frame, a frame sequence or a map), ``"mean"`` (default) and ``"sum"`` reduce
them. Each has a Module (:class:`Entropy`, :class:`RenyiEntropy`, :class:`Kurtosis`,
:class:`CoveragePenalty`, :class:`SmoothnessPenalty`) that holds the options and whose
``forward`` is one call of the function.

**Numerical safety.** Silence, exact zeros and float32 give finite values and finite gradients:

- *Silence* (a spectrogram, or for the kurtosis a frame, that is all zeros) has no distribution;
  it is read as the flat one, the limit of ``c * ones`` as ``c -> 0`` (and what any floor added
  to a vanishing spectrogram gives): the entropies are then ``log(F T)``, their maximum, and the
  kurtosis is 1, its minimum, with a zero gradient. So silence is never rewarded by the
  minimised entropies or the maximised kurtosis, and a silent example in a batch contributes a
  constant. (The value 0 would reward a model that learns to output silence.)
- *Exact zeros* contribute 0. The slope of ``p log p`` is infinite at ``p = 0``; there it is
  taken at ``p = tiny``, the smallest normal number of the dtype (``log(tiny)``: -87.3 in float32,
  -708.4 in float64), which keeps the sign (raising a zero bin raises the entropy) and stays
  finite. For the Renyi entropy the gradient at an exact zero is 0: the true one for
  ``alpha > 1``, a finite stand-in for the infinite one when ``alpha < 1``.
- *Scale*: every concentration measure is scale-invariant, so spectrograms are divided by
  their (detached) maximum before powers and sums: no overflow of ``spec ** 4`` in float32 and
  exactly the same values and gradients.

**Choices where the paper leaves room.**

- Which power of ``|S|``: the functions take the spectrogram as given. ``entropy`` of the power
  spectrogram ``|S|^2`` (``adastft.spectrogram``'s default) is the entropy of the energy
  distribution; the kurtosis of Eq. 29 is that of the magnitudes: pass ``|S|`` (``power=1``).
- Kurtosis: non-central (no mean removed) and normalised by ``F`` so that a flat frame gives 1
  and a single peak gives ``F``; ``reduction="mean"`` averages the frames (a sum only rescales
  the loss). Use ``-kurtosis(spec)`` as a loss to minimise.
- Coverage: a frequency-varying map is reduced to the longest window of each frame,
  ``max_k lam[k, n]`` (the union of its supports, as :meth:`adastft.DSTFT.frame_mask`); an
  ``overlap`` ratio can be required between consecutive supports (0, the default, asks them to
  touch: the penalty measures the uncovered length of ``[0, L - 1]``, to which the point where
  two supports touch adds nothing, though a sample there is in neither); optionally (default
  on) the first and last frames must also meet the signal, so that learnt hops cannot push
  frames past its ends; violations are penalised by a hinge ``max(0, gap) ** power``
  (``power=1``: the uncovered length in samples).
- Smoothness: uniform weights over the neighbourhood by default, any nonnegative weights as a
  tensor; squared differences by default (``power``); each pair of neighbours counted once;
  no padding at the borders (pairs that leave the map are dropped). Pass ``win_length.log()``
  to penalise relative rather than absolute changes.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor, nn

from ._validation import broadcast_shapes, check_choice, check_frame_axis, check_scalar

__all__ = [
    "entropy",
    "renyi_entropy",
    "kurtosis",
    "coverage_penalty",
    "smoothness_penalty",
    "Entropy",
    "RenyiEntropy",
    "Kurtosis",
    "CoveragePenalty",
    "SmoothnessPenalty",
    "REDUCTIONS",
]

REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------------------------------
# Checks and shared steps.


def _check_reduction(reduction: object) -> None:
    check_choice("reduction", reduction, REDUCTIONS)


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _check_tensor(name: str, value: object, what: str, hint: str = "") -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor ({what}); got {type(value).__name__}")
    if value.is_complex():
        raise TypeError(f"{name} must be real ({what}); got dtype {value.dtype}{hint}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be float32 or float64 ({what}); got dtype {value.dtype}")
    return value


def _has_values(value: Tensor) -> bool:
    """Whether the value checks read ``value``: not while compiling (no host synchronisation
    in a compiled graph), not when it is empty, and not on the "meta" device (no values)."""
    return not (torch.compiler.is_compiling() or value.numel() == 0 or value.device.type == "meta")


def _check_spec(spec: object) -> Tensor:
    """A real, nonnegative, finite spectrogram ``(..., F, T)`` with ``F, T >= 1``."""
    what = "a nonnegative spectrogram (..., F, T)"
    hint = " (take S.abs() ** power of a complex transform S)"
    spec = _check_tensor("spec", spec, what, hint)
    if spec.dim() < 2 or spec.shape[-1] == 0 or spec.shape[-2] == 0:
        raise ValueError(
            f"spec must have shape (..., F, T) with F >= 1 and T >= 1; got {tuple(spec.shape)}"
        )
    if _has_values(spec):
        bad = ~(torch.isfinite(spec) & (spec >= 0))  # NaN fails both
        if bool(bad.any()):
            first = spec.detach()[bad].flatten()[0].item()
            raise ValueError(
                f"spec must be nonnegative and finite (a magnitude or power spectrogram); "
                f"got {first!r} (first offending element)"
            )
    return spec


def _check_values(name: str, value: Tensor, *, positive: bool = False) -> None:
    """Every element finite (and > 0 if asked); skipped where :func:`_has_values` is not."""
    if not _has_values(value):
        return
    ok = torch.isfinite(value)
    if positive:
        ok &= value > 0
    if not bool(ok.all()):
        first = value.detach()[~ok].flatten()[0].item()
        rule = "positive and finite" if positive else "finite"
        raise ValueError(f"{name} must be {rule}; got {first!r} (first offending element)")


def _unit_max(spec: Tensor, dims: tuple[int, ...]) -> Tensor:
    """``spec`` divided by its detached maximum over ``dims``; silent slices become ones.

    Exact for scale-invariant measures: their gradient does not see the constant ``max``.
    All-zero (silent) slices are replaced by ones, the flat distribution, through a ``where``,
    so their gradient is 0.
    """
    peak = spec.detach().amax(dim=dims, keepdim=True)
    silent = peak == 0
    scaled = spec / torch.where(silent, torch.ones_like(peak), peak)
    return torch.where(silent, torch.ones_like(scaled), scaled)


# ------------------------------------------------------------------------------------------
# Concentration measures.


def entropy(spec: Tensor, *, reduction: str = "mean") -> Tensor:
    """Shannon entropy of a spectrogram normalised to a distribution (paper Eq. 26).

    ``p[k, n] = spec[k, n] / sum_{k,n} spec``, ``H = -sum_{k,n} p[k, n] log p[k, n]``, per
    spectrogram (the last two dimensions), in nats. ``0 <= H <= log(F T)``: 0 for a single
    nonzero bin, ``log(F T)`` for a flat spectrogram and, by convention, for silence (module
    docstring). Minimise it for a concentrated representation.

    Args:
        spec (Tensor, >= 0, finite): real spectrogram ``|S| ** power``, ``(..., F, T)``; the
            power spectrogram ``|S|^2`` gives the entropy of the energy distribution.
        reduction (str in {"mean", "sum", "none"}): over the spectrograms of the batch.

    Shape:
        ``(..., F, T) -> (...)`` with ``reduction="none"``, else ``()``.

    Example:
        >>> spec = torch.zeros(2, 4, 8)
        >>> spec[0, 1, 2] = 5.0  # a single peak; spec[1] is silent
        >>> entropy(spec, reduction="none")
        tensor([0.0000, 3.4657])
        >>> torch.tensor(4.0 * 8.0).log()  # log(F T), the value of the silent one
        tensor(3.4657)
    """
    _check_reduction(reduction)
    spec = _check_spec(spec)
    q = _unit_max(spec, (-2, -1))
    p = q / q.sum(dim=(-2, -1), keepdim=True)
    tiny = torch.finfo(p.dtype).tiny
    # p log p with the slope at p = 0 taken at p = tiny (finite; the contribution stays 0)
    h = -(p * torch.log(p.clamp(min=tiny))).sum(dim=(-2, -1)) + 0.0  # + 0.0: no -0.0
    return _reduce(h, reduction)


def _check_alpha(alpha: object) -> float:
    return check_scalar("alpha", alpha, low=0.0, low_open=True, rule="alpha > 0 (finite)")


# |alpha - 1| below which renyi_entropy uses its expm1 form (its docstring says why).
_RENYI_NEAR_ONE = 0.25


def renyi_entropy(spec: Tensor, alpha: float, *, reduction: str = "mean") -> Tensor:
    """Renyi entropy of order ``alpha`` of a spectrogram normalised to a distribution.

    ``p = spec / sum_{k,n} spec``, ``H_alpha = log(sum_{k,n} p[k, n] ** alpha) / (1 - alpha)``
    per spectrogram, in nats; ``alpha = 1`` is the Shannon entropy (:func:`entropy`, the limit
    ``alpha -> 1``). ``0 <= H_alpha <= log(F T)``, nonincreasing in ``alpha``; ``alpha = 3``
    is the classical measure of time-frequency concentration. Silence gives ``log(F T)``.

    Computed with ``q = spec / max(spec)`` (so ``sum q ** alpha >= 1`` does not underflow)
    and ``d = alpha - 1``, in the one of two algebraically equal forms that is accurate in
    floating point:

    - ``|d| < 0.25``: ``H_alpha = log(sum q) - log1p(sum q expm1(d log q) / sum q) / d``.
      The form below divides the difference of two nearly equal logarithms by ``d``: in
      float32 it errs by up to about ``1e-6 / |d|`` (more than 1 at ``|d| = 1e-7``), while
      ``expm1`` computes that small difference itself, to full precision.
    - ``|d| >= 0.25``: ``H_alpha = (log(sum q ** alpha) - alpha log(sum q)) / (1 - alpha)``.
      The form above loses precision there when ``sum q ** alpha / sum q`` is small (a large
      ``alpha`` and a peak over a low floor).

    Float32 results are within about ``1e-5`` (absolute) of float64 ones for every order.

    Args:
        spec (Tensor, >= 0, finite): real spectrogram ``|S| ** power``, ``(..., F, T)``.
        alpha (float > 0): the order.
        reduction (str in {"mean", "sum", "none"}): over the spectrograms of the batch.

    Shape:
        ``(..., F, T) -> (...)`` with ``reduction="none"``, else ``()``.

    Example:
        >>> spec = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
        >>> renyi_entropy(spec, 3.0)  # flat: log(F T) = log 4 for every order
        tensor(1.3863)
        >>> renyi_entropy(torch.tensor([[3.0, 1.0]]), 2.0)  # -log(0.75^2 + 0.25^2)
        tensor(0.4700)
    """
    _check_reduction(reduction)
    a = _check_alpha(alpha)
    if a == 1.0:
        return entropy(spec, reduction=reduction)
    spec = _check_spec(spec)
    q = _unit_max(spec, (-2, -1))  # max q = 1: sum q^alpha >= 1 never underflows
    positive = q > 0
    q_safe = torch.where(positive, q, 1.0)
    total = q.sum(dim=(-2, -1))
    d = a - 1.0
    if abs(d) < _RENYI_NEAR_ONE:
        # q^alpha - q = q expm1(d log q), and -q at q = 0: the slope of q^alpha is taken as 0
        # there, as below. |d log q| < 0.25 * 745, so expm1 does not overflow.
        excess = q * torch.where(positive, torch.expm1(d * torch.log(q_safe)), -1.0)
        h = torch.log(total) - torch.log1p(excess.sum(dim=(-2, -1)) / total) / d
    else:
        q_alpha = torch.where(positive, q_safe.pow(a), 0.0)  # 0 ** alpha = 0
        # log sum p^alpha = log sum q^alpha - alpha log sum q
        h = (torch.log(q_alpha.sum(dim=(-2, -1))) - a * torch.log(total)) / (1.0 - a)
    return _reduce(h, reduction)


def kurtosis(spec: Tensor, *, reduction: str = "mean") -> Tensor:
    """Kurtosis of each frame's spectrum (paper Eq. 29): high for a peaky frame.

    ``K[n] = ((1/F) sum_k spec[k, n]**4) / ((1/F) sum_k spec[k, n]**2) ** 2``, the
    (non-central) normalised fourth moment of frame ``n`` over its ``F`` bins.
    ``1 <= K[n] <= F``: 1 for a flat frame and, by convention, a silent one; ``F / m`` for
    ``m`` equal peaks. It is maximised by concentrated frames: use ``-kurtosis(spec)`` as the
    loss to minimise (with time-varying window lengths each frame's term depends on its own
    window only, so the mean and the sum over frames lead to the same window lengths).

    Args:
        spec (Tensor, >= 0, finite): real spectrogram, ``(..., F, T)``; the magnitude ``|S|``
            (``power=1``) for the kurtosis of Eq. 29.
        reduction (str in {"mean", "sum", "none"}): over the frames (and the batch).

    Shape:
        ``(..., F, T) -> (..., T)`` with ``reduction="none"``, else ``()``.

    Example:
        >>> spec = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0],
        ...                      [1.0, 0.0, 0.0]])  # F = 4 bins, T = 3 frames
        >>> kurtosis(spec, reduction="none")  # flat, silent, single peak
        tensor([1., 1., 4.])
    """
    _check_reduction(reduction)
    spec = _check_spec(spec)
    q = _unit_max(spec, (-2,))  # per frame, max q = 1: no overflow of q**4
    q2 = q.square()
    n_bins = spec.shape[-2]
    k = n_bins * q2.square().sum(dim=-2) / q2.sum(dim=-2).square()
    return _reduce(k, reduction)


# ------------------------------------------------------------------------------------------
# Penalties on the parameters.


def _check_power(power: object) -> float:
    return check_scalar("power", power, low=1.0, rule="power >= 1 (finite)")


def _frame_half_lengths(positions: Tensor, win_length: Tensor) -> tuple[Tensor, Tensor]:
    """Check ``positions`` and ``win_length``; return them broadcast, ``lam_n / 2`` per frame."""
    positions = check_frame_axis(
        "positions", _check_tensor("positions", positions, "frame centres (..., T)")
    )
    win_length = _check_tensor("win_length", win_length, "window lengths")
    if win_length.dtype != positions.dtype:
        raise TypeError(
            f"win_length must have the dtype of positions ({positions.dtype}); got dtype "
            f"{win_length.dtype}"
        )
    if win_length.device != positions.device:
        raise ValueError(
            f"win_length must be on the device of positions ({positions.device}); got "
            f"{win_length.device}"
        )
    _check_values("positions", positions)
    _check_values("win_length", win_length, positive=True)
    n_t = positions.shape[-1]
    lam = win_length
    if lam.dim() == positions.dim() + 1:  # a map (..., F or 1, T or 1): its longest window
        if lam.shape[-2] == 0:
            raise ValueError(f"win_length of shape {tuple(lam.shape)} has no frequency bin (F = 0)")
        lam = lam.amax(dim=-2)
    elif lam.dim() not in (0, positions.dim()):
        raise ValueError(
            f"win_length must be a scalar, per-frame lengths (..., T) with the dimensions of "
            f"positions, or a map (..., F or 1, T or 1) with one more; got shape "
            f"{tuple(win_length.shape)} for positions of shape {tuple(positions.shape)}"
        )
    if lam.dim() > 0 and lam.shape[-1] not in (1, n_t):
        raise ValueError(
            f"win_length of shape {tuple(win_length.shape)} must have T = {n_t} frames (or 1) "
            f"in its last dimension, as positions {tuple(positions.shape)}"
        )
    shape = broadcast_shapes(lam.shape, positions.shape)
    if shape is None:
        raise ValueError(
            f"win_length of shape {tuple(win_length.shape)} does not broadcast against "
            f"positions of shape {tuple(positions.shape)}"
        )
    positions, lam = torch.broadcast_tensors(positions, lam)
    return positions, 0.5 * lam


def coverage_penalty(
    positions: Tensor,
    win_length: Tensor,
    *,
    signal_length: int,
    overlap: float = 0.0,
    on_signal: bool = True,
    power: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    """Penalty that keeps the windows covering the signal (paper Eqs. 30-32).

    With frame centres ``t_n``, half window lengths ``l_n = lam_n / 2`` (for a map,
    ``l_n = max_k lam[k, n] / 2``, the union of the frame's supports) and the signal's first
    and last samples ``0`` and ``b = L - 1``, the constraints are violated by the gaps::

        g_first = t_0 - l_0 - 0                                    (Eq. 30)
        g_n     = t_{n+1} - t_n - (1 - overlap) (l_n + l_{n+1})    (Eq. 31), n = 0 .. T-2
        g_last  = b - (t_{T-1} + l_{T-1})                          (Eq. 32)

    and, with ``on_signal``, by frames past the ends: ``-(t_0 + l_0)`` and
    ``t_{T-1} - l_{T-1} - b``. ``P = sum max(0, g) ** power`` over these, per frame sequence.
    ``P = 0`` when the first window reaches sample 0, every two consecutive supports
    ``(t_n - l_n, t_n + l_n)`` overlap by at least ``overlap`` times their mean length (they
    touch for ``overlap = 0``; :func:`adastft.fixed_overlap_positions` spaces frames exactly so),
    and the last window reaches sample ``L - 1``. The gradient moves the hops and window
    lengths to close the gaps. Consecutive means consecutive in ``n``.

    ``P`` measures the coverage of the continuous interval ``[0, L - 1]``, a length: for
    ``overlap = 0``, ``power = 1`` and supports in order (their starts and their ends
    nondecreasing in ``n``), each meeting ``[0, L - 1]``, it is the length of ``[0, L - 1]``
    outside every support. Single points do not count: supports that just touch, or a first
    (last) support that ends exactly at ``0`` (``L - 1``), give ``P = 0``. A sample at such a
    point is covered by no window of :func:`adastft.dstft` (the support is open:
    ``|s - t_n| < lam_n / 2``; the window is 0 at its ends), and :func:`adastft.idstft` warns
    that it is set to 0 (example below). ``overlap > 0`` makes consecutive supports share more
    than a point; windows reaching past ``0`` and ``L - 1`` cover the ends.

    Args:
        positions (Tensor, finite): frame centres ``t_n`` in samples, ``(..., T)``, as
            :attr:`adastft.DSTFT.positions`.
        win_length (Tensor, > 0): window lengths of positions' dtype: a scalar; per frame
            ``(..., T or 1)`` (the dimensions of ``positions``); or a map
            ``(..., F or 1, T or 1)`` (one dimension more, as :attr:`adastft.DSTFT.win_length`),
            reduced by its maximum over ``F``.
        signal_length (int >= 1): ``L``, the number of samples of the signal.
        overlap (float in [0, 1)): minimum overlap ratio of consecutive supports.
        on_signal (bool): also penalise a first or last frame that lies past the signal.
        power (float >= 1): exponent of the hinge; 1 penalises the uncovered length, 2 is
            smooth at the constraint.
        reduction (str in {"mean", "sum", "none"}): over the frame sequences (the leading
            dimensions).

    Shape:
        ``positions (..., T)``, ``win_length ()``, ``(..., T)`` or ``(..., F, T)`` ->
        ``(...)`` with ``reduction="none"``, else ``()``.

    Example:
        >>> t = torch.tensor([0.0, 4.0, 8.0, 18.0])
        >>> coverage_penalty(t, torch.tensor(8.0), signal_length=20)  # (4, 12), (14, 22)
        tensor(2.)
        >>> coverage_penalty(t, torch.tensor([8.0, 8.0, 8.0, 12.0]), signal_length=20)
        tensor(0.)
        >>> t = torch.tensor([4.0, 12.0, 20.0])  # (0, 8), (8, 16), (16, 24) touch: samples
        >>> coverage_penalty(t, torch.tensor(8.0), signal_length=25)  # 0, 8, 16, 24 on ends
        tensor(0.)
        >>> coverage_penalty(t, torch.tensor(8.0), signal_length=25, overlap=0.1)  # 2 * 0.8
        tensor(1.6000)
    """
    _check_reduction(reduction)
    check_scalar("signal_length", signal_length, low=1, integer=True, rule="an int >= 1")
    r = check_scalar("overlap", overlap, low=0.0, high=1.0, high_open=True, rule="0 <= overlap < 1")
    if not isinstance(on_signal, bool):
        raise TypeError(f"on_signal must be a bool; got {on_signal!r}")
    p = _check_power(power)
    t, half = _frame_half_lengths(positions, win_length)
    last = float(signal_length - 1)
    gaps = [
        (t[..., :1] - half[..., :1]),  # Eq. 30: the first support reaches sample 0
        (t[..., 1:] - t[..., :-1]) - (1.0 - r) * (half[..., 1:] + half[..., :-1]),  # Eq. 31
        last - (t[..., -1:] + half[..., -1:]),  # Eq. 32: the last support reaches L - 1
    ]
    if on_signal:
        gaps += [-(t[..., :1] + half[..., :1]), (t[..., -1:] - half[..., -1:]) - last]
    g = torch.relu(torch.cat(gaps, dim=-1))
    if p != 1.0:
        g = g.square() if p == 2.0 else g.pow(p)
    return _reduce(g.sum(dim=-1), reduction)


def _neighbourhood_weights(neighbourhood: object) -> tuple[int, int, Tensor | None]:
    """``(r_f, r_t, weights)`` of a neighbourhood: radii, and a weight tensor or None."""
    if isinstance(neighbourhood, Tensor):
        w = _check_tensor("neighbourhood", neighbourhood, "weights (2 r_f + 1, 2 r_t + 1)")
        if w.dim() != 2 or w.shape[0] % 2 == 0 or w.shape[1] % 2 == 0 or w.numel() == 1:
            raise ValueError(
                f"neighbourhood weights must have shape (2 r_f + 1, 2 r_t + 1), odd sizes and "
                f"at least one neighbour; got shape {tuple(w.shape)}"
            )
        bad = ~(torch.isfinite(w) & (w >= 0))
        if bool(bad.any()):
            first = w.detach()[bad].flatten()[0].item()
            raise ValueError(
                f"neighbourhood weights must be nonnegative and finite; got {first!r} "
                f"(first offending element)"
            )
        return w.shape[0] // 2, w.shape[1] // 2, w.detach()
    radii = neighbourhood
    if isinstance(radii, numbers.Integral) and not isinstance(radii, bool):
        radii = (radii, radii)
    ok = (
        isinstance(radii, tuple | list)
        and len(radii) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in radii)
    )
    if not ok:
        raise TypeError(
            f"neighbourhood must be an int r, a pair (r_f, r_t) of ints or a weight tensor "
            f"(2 r_f + 1, 2 r_t + 1); got {neighbourhood!r}"
        )
    r_f, r_t = int(radii[0]), int(radii[1])
    if r_f < 0 or r_t < 0 or r_f + r_t == 0:
        raise ValueError(
            f"neighbourhood radii must satisfy r_f >= 0, r_t >= 0 and r_f + r_t >= 1; got "
            f"{neighbourhood!r}"
        )
    return r_f, r_t, None


def smoothness_penalty(
    win_length: Tensor,
    *,
    neighbourhood: int | tuple[int, int] | Tensor = 1,
    power: float = 2.0,
    reduction: str = "mean",
) -> Tensor:
    """Non-local smoothness penalty on a window-length map (paper Eq. 28).

    Every window length is compared with all its neighbours within ``r_f`` bins and ``r_t``
    frames, not only the adjacent ones::

        R = 1/2 sum_{k,n} sum_{(i,j) != (0,0), |i| <= r_f, |j| <= r_t}
                w[i, j] |lam[k, n] - lam[k+i, n+j]| ** power

    over the pairs inside the map (no padding). The factor ``1/2`` counts each pair of
    neighbours once (with weight ``(w[i, j] + w[-i, -j]) / 2``); uniform weights ``w = 1`` by
    default. ``R = 0`` exactly for a constant map. An axis of size 1 (a time-varying ``(1, T)``
    or frequency-varying ``(F, 1)`` map) has no neighbours along it.

    Args:
        win_length (Tensor): window-length map ``(..., F', T')`` (at least two dimensions,
            as :attr:`adastft.DSTFT.win_length`; a per-frame vector is ``(1, T)``). Pass
            ``win_length.log()`` to penalise relative changes.
        neighbourhood (int >= 0, (int, int) or Tensor): the radius ``r`` (``r_f = r_t = r``),
            the radii ``(r_f, r_t)`` (at least one > 0), or nonnegative weights ``w`` of shape
            ``(2 r_f + 1, 2 r_t + 1)`` (centre ``w[r_f, r_t]`` unused). Default 1: the eight
            adjacent lengths, weight 1.
        power (float >= 1): exponent of the differences (2: quadratic, 1: total-variation-like).
        reduction (str in {"mean", "sum", "none"}): over the maps (the leading dimensions).

    Shape:
        ``(..., F', T') -> (...)`` with ``reduction="none"``, else ``()``.

    Example:
        >>> lam = torch.tensor([[100.0, 100.0, 140.0, 100.0]])  # one length per frame (1, T)
        >>> smoothness_penalty(lam)  # 40^2 + 40^2
        tensor(3200.)
        >>> smoothness_penalty(lam, neighbourhood=(0, 2), power=1.0)  # 40 + 40, and 40
        tensor(120.)
        >>> w = torch.tensor([[0.5, 1.0, 0.0, 1.0, 0.5]])  # half weight at distance 2
        >>> smoothness_penalty(lam, neighbourhood=w)  # 3200 + 0.5 * 40^2
        tensor(4000.)
    """
    _check_reduction(reduction)
    lam = _check_tensor("win_length", win_length, "a window-length map (..., F, T)")
    if lam.dim() < 2:
        raise ValueError(
            f"win_length must be a map (..., F, T) with at least two dimensions (a per-frame "
            f"vector is (1, T), a per-bin one (F, 1)); got shape {tuple(lam.shape)}"
        )
    _check_values("win_length", lam)
    r_f, r_t, weights = _neighbourhood_weights(neighbourhood)
    p = _check_power(power)
    if weights is not None:
        weights = weights.to(dtype=lam.dtype, device=lam.device)
    n_f, n_t = lam.shape[-2], lam.shape[-1]
    total = lam.new_zeros(lam.shape[:-2])
    # Each unordered pair once: offsets (i, j) with j > 0, or j == 0 and i > 0.
    for j in range(0, min(r_t, n_t - 1) + 1):
        for i in range(-min(r_f, n_f - 1), min(r_f, n_f - 1) + 1):
            if j == 0 and i <= 0:
                continue
            k0, k1 = max(0, -i), n_f - max(0, i)  # k and k + i both in [0, F)
            a = lam[..., k0:k1, : n_t - j]
            b = lam[..., k0 + i : k1 + i, j:]
            d = (a - b).abs()
            d = d.square() if p == 2.0 else (d if p == 1.0 else d.pow(p))
            term = d.sum(dim=(-2, -1))
            if weights is not None:
                term = term * (0.5 * (weights[r_f + i, r_t + j] + weights[r_f - i, r_t - j]))
            total = total + term
    return _reduce(total, reduction)


# ------------------------------------------------------------------------------------------
# Modules.


class Entropy(nn.Module):
    """Shannon entropy of normalised spectrograms (Eq. 26) as a Module: :func:`entropy`.

    Args:
        reduction (str in {"mean", "sum", "none"}): over the spectrograms of the batch.

    Shape:
        ``(..., F, T) -> (...)`` with ``reduction="none"``, else ``()``.

    Example:
        >>> Entropy()(torch.ones(3, 4, 5))  # flat: log(20)
        tensor(2.9957)
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(self, spec: Tensor) -> Tensor:
        return entropy(spec, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class RenyiEntropy(nn.Module):
    """Renyi entropy of order ``alpha`` as a Module: :func:`renyi_entropy`.

    Args:
        alpha (float > 0): the order (1: Shannon).
        reduction (str in {"mean", "sum", "none"}): over the spectrograms of the batch.

    Shape:
        ``(..., F, T) -> (...)`` with ``reduction="none"``, else ``()``.

    Example:
        >>> RenyiEntropy(3.0)(torch.ones(4, 5))  # flat: log(20) for every order
        tensor(2.9957)
    """

    def __init__(self, alpha: float, *, reduction: str = "mean") -> None:
        super().__init__()
        self.alpha = _check_alpha(alpha)
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(self, spec: Tensor) -> Tensor:
        return renyi_entropy(spec, self.alpha, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}, reduction={self.reduction!r}"


class Kurtosis(nn.Module):
    """Frame-spectrum kurtosis (Eq. 29) as a Module: :func:`kurtosis` (maximise it).

    Args:
        reduction (str in {"mean", "sum", "none"}): over the frames (and the batch).

    Shape:
        ``(..., F, T) -> (..., T)`` with ``reduction="none"``, else ``()``.

    Example:
        >>> spec = torch.zeros(8, 2)
        >>> spec[3] = 1.0  # two frames, each a single peak among F = 8 bins
        >>> Kurtosis()(spec)
        tensor(8.)
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(self, spec: Tensor) -> Tensor:
        return kurtosis(spec, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CoveragePenalty(nn.Module):
    """Window-coverage penalty (Eqs. 30-32) as a Module: :func:`coverage_penalty`.

    Args:
        signal_length (int >= 1): ``L``.
        overlap (float in [0, 1)): minimum overlap ratio of consecutive supports.
        on_signal (bool): also penalise a first or last frame past the signal.
        power (float >= 1): exponent of the hinge.
        reduction (str in {"mean", "sum", "none"}): over the frame sequences.

    Shape:
        ``positions (..., T)``, ``win_length ()``, ``(..., T)`` or ``(..., F, T)`` ->
        ``(...)`` with ``reduction="none"``, else ``()``.

    Example:
        >>> from adastft import DSTFT
        >>> layer = DSTFT(64, 32.0, 16, win_mode="time", hop_mode="time", signal_length=200)
        >>> penalty = CoveragePenalty(200)
        >>> penalty(layer.positions, layer.win_length)  # windows of 32 every 16 samples
        tensor(0., grad_fn=<MeanBackward0>)
    """

    def __init__(
        self,
        signal_length: int,
        *,
        overlap: float = 0.0,
        on_signal: bool = True,
        power: float = 1.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        check_scalar("signal_length", signal_length, low=1, integer=True, rule="an int >= 1")
        check_scalar("overlap", overlap, low=0.0, high=1.0, high_open=True, rule="0 <= overlap < 1")
        if not isinstance(on_signal, bool):
            raise TypeError(f"on_signal must be a bool; got {on_signal!r}")
        _check_power(power)
        _check_reduction(reduction)
        self.signal_length, self.overlap, self.on_signal = int(signal_length), overlap, on_signal
        self.power, self.reduction = power, reduction

    def forward(self, positions: Tensor, win_length: Tensor) -> Tensor:
        return coverage_penalty(
            positions,
            win_length,
            signal_length=self.signal_length,
            overlap=self.overlap,
            on_signal=self.on_signal,
            power=self.power,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"signal_length={self.signal_length}, overlap={self.overlap:g}, "
            f"on_signal={self.on_signal}, power={self.power:g}, reduction={self.reduction!r}"
        )


class SmoothnessPenalty(nn.Module):
    """Non-local smoothness penalty (Eq. 28) as a Module: :func:`smoothness_penalty`.

    Neighbourhood weights given as a tensor are kept in a buffer (``weights``).

    Args:
        neighbourhood (int, (int, int) or Tensor): radius, radii ``(r_f, r_t)`` or weights
            ``(2 r_f + 1, 2 r_t + 1)``.
        power (float >= 1): exponent of the differences.
        reduction (str in {"mean", "sum", "none"}): over the maps.

    Shape:
        ``(..., F', T') -> (...)`` with ``reduction="none"``, else ``()``.

    Example:
        >>> SmoothnessPenalty(neighbourhood=(0, 1))(torch.tensor([[1.0, 2.0, 4.0]]))
        tensor(5.)
    """

    def __init__(
        self,
        *,
        neighbourhood: int | tuple[int, int] | Tensor = 1,
        power: float = 2.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        r_f, r_t, weights = _neighbourhood_weights(neighbourhood)
        _check_power(power)
        _check_reduction(reduction)
        self.radii = (r_f, r_t)
        self.register_buffer("weights", None if weights is None else weights.clone())
        self.power, self.reduction = power, reduction

    def forward(self, win_length: Tensor) -> Tensor:
        neighbourhood = self.radii if self.weights is None else self.weights
        return smoothness_penalty(
            win_length, neighbourhood=neighbourhood, power=self.power, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        kind = "uniform" if self.weights is None else "weighted"
        return (
            f"radii={self.radii}, weights={kind}, power={self.power:g}, "
            f"reduction={self.reduction!r}"
        )
