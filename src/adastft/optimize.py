"""Optimise a signal's time-frequency representation: ``fit`` (gradient descent) and
``grid_search`` (the discrete baseline).

``fit`` builds a :class:`adastft.DSTFT` layer for the signal and minimises a criterion of its
spectrogram (entropy by default) plus optional regularisers with Adam. The layer's parameters
are log window lengths (:mod:`adastft.bounded`), so one learning rate works for every signal
length, sample rate and ``n_fft``: ``lr = 0.05`` changes a length by at most about 5 % per step.
For varying modes it starts, as the paper recommends, from the best constant window length,
found by a constant fit that itself starts from the best of a coarse grid.
"""

from __future__ import annotations

import copy
import math
import reprlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from . import losses
from ._validation import check_choice, check_n_fft, check_scalar, check_signal
from .layers import DSTFT
from .transforms import power_spectrum

__all__ = ["fit", "grid_search", "FitResult", "GridResult", "CRITERIA"]

CRITERIA = ("entropy", "renyi", "kurtosis")
STOP_REASONS = ("converged", "max_steps", "interrupted", "non-finite")
COARSE_GRID = 12  # log-spaced constant window lengths tried before the constant fit


def _criterion(name: str, alpha: float) -> Callable[[Tensor], Tensor]:
    """``spec (..., F, T) -> (...)``: the quantity to minimise for each spectrogram."""
    if name == "entropy":
        return lambda spec: losses.entropy(spec, reduction="none")
    if name == "renyi":
        return lambda spec: losses.renyi_entropy(spec, alpha, reduction="none")
    # Kurtosis is maximised (peaky frames): minimise its negative, averaged over the frames.
    return lambda spec: -losses.kurtosis(spec, reduction="none").mean(-1)


def _power(criterion: str, power: float | None) -> float:
    """The spectrogram's exponent: ``|S|^2`` for the entropies, ``|S|`` for the kurtosis."""
    if power is None:
        return 1.0 if criterion == "kurtosis" else 2.0
    return check_scalar("power", power, low=0.0, low_open=True, rule="power > 0")


@dataclass
class GridResult:
    """What :func:`grid_search` found.

    Attributes:
        candidates (Tensor): the window lengths tried, ``(K,)``.
        losses (Tensor): the criterion at each, ``(K,)``.
        best (float): the candidate with the lowest loss; ``best_loss`` its loss.
        seconds (float): wall time; ``evaluations`` the number of transforms (``K``).

    Example:
        >>> r = grid_search(torch.randn(1000), [32.0, 64.0, 128.0], n_fft=128)
        >>> r.losses.shape, r.evaluations
        (torch.Size([3]), 3)
    """

    candidates: Tensor
    losses: Tensor
    best: float
    best_loss: float
    seconds: float
    evaluations: int


def grid_search(
    x: Tensor,
    candidates: Tensor | list[float],
    *,
    n_fft: int,
    hop_length: float | None = None,
    criterion: str = "entropy",
    alpha: float = 3.0,
    power: float | None = None,
    batch_size: int | None = None,
    **options,
) -> GridResult:
    """Evaluate the criterion at every constant window length of ``candidates``: the discrete
    search the paper compares gradient descent with.

    The candidates are transformed together, as one batch of per-example window lengths (one
    FFT call per chunk of ``batch_size`` candidates), which is as fast as the search can be
    done with the same transform.

    Args:
        x (Tensor): real signal ``(..., L)``; the loss is averaged over the leading dims.
        candidates (Tensor or list, 0 < lam <= n_fft): window lengths ``(K,)``.
        n_fft (int), hop_length (float, optional): as :func:`adastft.dstft`.
        criterion (str): ``"entropy"``, ``"renyi"`` (order ``alpha``) or ``"kurtosis"``
            (maximised: the loss is its negative).
        power (float > 0, optional): the spectrogram is ``|S| ** power``; default 2 for the
            entropies, 1 for the kurtosis.
        batch_size (int, optional): candidates per transform; default: about 64 MiB of
            spectrogram per chunk.
        **options: ``window``, ``normalization``, ``center``, ``pad_mode`` of
            :func:`adastft.dstft`.

    Shape:
        ``x (..., L)``, ``candidates (K,)`` -> ``losses (K,)``.

    Example:
        >>> x = torch.sin(0.3 * torch.arange(2000.0))
        >>> result = grid_search(x, torch.linspace(16, 256, 16), n_fft=256, hop_length=32)
        >>> result.best  # a pure tone: the longest window is the sparsest
        256.0
    """
    from ._dstft import dstft

    x = check_signal(x)
    check_choice("criterion", criterion, CRITERIA)
    n = check_n_fft(n_fft)
    candidates = _check_candidates(candidates, n, x)
    loss_of = _criterion(criterion, alpha)
    power = _power(criterion, power)
    if batch_size is None:
        frames = x[..., 0].numel() * (n // 2 + 1) * (1 + x.shape[-1] // max(1, n // 4))
        batch_size = max(1, (64 * 2**20) // (16 * frames))
    check_scalar("batch_size", batch_size, low=1, integer=True, rule="an int >= 1")
    start = time.perf_counter()
    values = []
    with torch.no_grad():
        for chunk in candidates.split(batch_size):
            lam = chunk.reshape(-1, *([1] * (x.dim() - 1)), 1, 1)  # (K, ..., 1, 1)
            spec = power_spectrum(dstft(x, lam, n_fft=n, hop_length=hop_length, **options), power)
            values.append(loss_of(spec).reshape(chunk.numel(), -1).mean(-1))
    values = torch.cat(values)
    best = int(torch.argmin(values))
    return GridResult(
        candidates,
        values,
        float(candidates[best]),
        float(values[best]),
        time.perf_counter() - start,
        candidates.numel(),
    )


def _check_candidates(candidates: object, n: int, x: Tensor) -> Tensor:
    """``candidates``: real window lengths ``0 < lam <= n`` in x's dtype and on its device,
    flattened to ``(K,)``, ``K >= 1``."""
    try:
        lam = torch.as_tensor(candidates)
    except (TypeError, ValueError, RuntimeError):  # str, None, ragged lists...
        lam = None
    if lam is None or lam.dtype == torch.bool or lam.is_complex():
        got = (
            f"a tensor of dtype {candidates.dtype}"
            if isinstance(candidates, Tensor)
            else reprlib.repr(candidates)
        )
        raise TypeError(
            f"candidates must be a real tensor or a sequence of real numbers (window lengths); "
            f"got {got}"
        )
    lam = lam.detach().to(device=x.device, dtype=x.dtype).flatten()
    if lam.numel() == 0:
        raise ValueError("candidates must hold at least one window length; got none")
    bad = ~((lam > 0) & (lam <= n))  # also NaN
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"candidates must satisfy 0 < candidates <= n_fft (={n}); got {lam[i].item()!r} "
            f"(element {i})"
        )
    return lam


@dataclass
class FitResult:
    """What :func:`fit` found. The tensors are detached, at the best parameters seen.

    Attributes:
        layer (DSTFT): the trained layer, holding the best parameters.
        win_length (Tensor): ``(F or 1, T or 1)`` window lengths; ``positions`` ``(T,)``.
        spectrogram (Tensor): ``|S| ** power`` at the best parameters, ``(..., F, T)``.
        initial_loss, final_loss (float): the objective at the start and at the best step.
        criterion (float): the criterion alone (no penalties) at the best step, as minimised:
            the entropy, or the negative mean frame kurtosis for ``"kurtosis"``.
        history (list of float): the objective at every evaluation: before each of the
            ``steps`` gradient steps, and at the evaluation that stopped the descent
            (``"converged"``); ``history[0]`` is the initial objective.
        steps (int): gradient steps taken (optimiser updates, callbacks run); ``best_step``
            the index in ``history`` of the lowest objective.
        stopped (str): ``"converged"``, ``"max_steps"``, ``"interrupted"`` (Ctrl-C) or
            ``"non-finite"`` (the objective became NaN or infinite).
        seconds (float): wall time of the descent; ``seconds_per_step`` that time divided by
            ``steps`` (a forward, a backward and an update).
        init (FitResult or GridResult, optional): the stage the start was taken from.

    Example:
        >>> r = fit(torch.randn(1000), n_fft=128, win_length=64.0, steps=3)
        >>> r.steps, r.final_loss <= r.initial_loss, r.layer.win_length.shape
        (3, True, torch.Size([1, 1]))
    """

    layer: DSTFT
    win_length: Tensor
    positions: Tensor
    spectrogram: Tensor
    initial_loss: float
    final_loss: float
    criterion: float
    history: list[float]
    steps: int
    best_step: int
    stopped: str
    seconds: float
    seconds_per_step: float
    init: FitResult | GridResult | None = field(default=None, repr=False)


def fit(
    x: Tensor,
    *,
    n_fft: int,
    hop_length: float | None = None,
    win_mode: str = "constant",
    hop_mode: str = "fixed",
    criterion: str = "entropy",
    alpha: float = 3.0,
    win_length: float | Tensor | None = None,
    power: float | None = None,
    smoothness: float = 0.0,
    coverage: float = 0.0,
    coverage_options: dict | None = None,
    steps: int = 300,
    lr: float = 0.05,
    tol: float = 1e-5,
    patience: int = 30,
    progress: bool = False,
    seed: int = 0,
    callback: Callable[[int, float, DSTFT], None] | None = None,
    **layer_options,
) -> FitResult:
    r"""Window lengths (and positions) that minimise a criterion of the signal's spectrogram.

    Minimises, with Adam on the layer's log window lengths (and log hops),

    .. math::

        J = C(|S|^p) + \mu_s\, R_{\mathrm{smooth}}(\lambda) + \mu_c\, R_{\mathrm{cover}}(t, \lambda)

    where ``C`` is the criterion (Shannon entropy, paper Eq. 26, by default), ``R_smooth`` the
    non-local smoothness penalty (Eq. 28) and ``R_cover`` the coverage penalty (Eqs. 30-32).
    It stops when ``J`` has not improved by ``tol`` (relative) for ``patience`` steps, after
    ``steps`` steps, on Ctrl-C, or when ``J`` is not finite; the result holds the best
    parameters seen in every case.

    Start: ``win_length`` if given; else, for ``win_mode="constant"``, the best of a coarse
    log-spaced grid of ``COARSE_GRID`` lengths; for the other modes, the result of a constant
    fit (the paper's recommendation), available as ``result.init``.

    Args:
        x (Tensor): real signal ``(..., L)``; the criterion is averaged over the leading dims
            (one representation for all channels).
        n_fft (int), hop_length (float, optional; default ``n_fft // 4``): as
            :class:`adastft.DSTFT`.
        win_mode (str), hop_mode (str): as :class:`adastft.DSTFT`.
        criterion (str): ``"entropy"``, ``"renyi"`` (order ``alpha``) or ``"kurtosis"``
            (maximised).
        win_length (float or Tensor, optional): the start (see above).
        power (float > 0, optional): the spectrogram is ``|S| ** power``; default 2 for the
            entropies, 1 for the kurtosis.
        smoothness (float >= 0): weight ``mu_s`` of the smoothness penalty, evaluated on
            ``lam / n_fft`` and divided by the number of window lengths (so the weight depends
            neither on the scale of the lengths nor on the size of the map).
        coverage (float >= 0): weight ``mu_c`` of the coverage penalty, divided by the signal
            length (the uncovered fraction of the signal). With learnt hops, a criterion that
            rewards peaky frames (kurtosis) may stack frames at ``hop_min``: raise ``hop_min``
            (a layer option) to keep them apart.
        coverage_options (dict, optional): keyword options of
            :func:`adastft.losses.coverage_penalty` (``overlap``, ``on_signal``, ``power``).
        steps (int >= 1): most gradient steps; lr (float > 0): Adam's learning rate.
        tol (float >= 0), patience (int >= 1): the stopping rule.
        progress (bool): show a progress bar (needs tqdm: ``pip install adastft[progress]``).
        seed (int): seeds torch before the descent.
        callback (callable, optional): ``callback(step, J, layer)`` after every step.
        **layer_options: other keyword options of :class:`adastft.DSTFT` (``window``,
            ``normalization``, ``win_min``, ``win_max``, ``hop_min``, ...). ``normalization``
            defaults to ``"energy"`` here: every window then has the same L2 norm, so frames
            with different window lengths are compared fairly. With ``"amplitude"`` (the
            transform's default) a shorter window scales its frame up, and a time-varying fit
            can lower the entropy of the whole plane by shrinking one frame's window until
            that frame dominates. For a constant window the two give the same optimum (the
            criteria are scale-invariant).

    Shape:
        ``x (..., L)`` -> ``win_length (F or 1, T or 1)``, ``positions (T,)``,
        ``spectrogram (..., F, T)``.

    Example:
        >>> x = torch.sin(0.3 * torch.arange(2000.0))
        >>> result = fit(x, n_fft=256, hop_length=32, steps=20)
        >>> result.win_length.shape, result.stopped in ("converged", "max_steps")
        (torch.Size([1, 1]), True)
    """
    x = check_signal(x)
    n = check_n_fft(n_fft)
    check_choice("criterion", criterion, CRITERIA)
    power = _power(criterion, power)
    for name, value in (("smoothness", smoothness), ("coverage", coverage), ("tol", tol)):
        check_scalar(name, value, low=0.0, rule=f"{name} >= 0")
    check_scalar("steps", steps, low=1, integer=True, rule="an int >= 1")
    check_scalar("patience", patience, low=1, integer=True, rule="an int >= 1")
    check_scalar("lr", lr, low=0.0, low_open=True, rule="lr > 0")
    hop_length = n // 4 if hop_length is None else hop_length
    # Energy normalisation: with "amplitude", shortening one frame's window scales that frame up
    # (c = 1 / (lam I1)) and the entropy of the whole plane falls by letting it dominate.
    layer_options = {"normalization": "energy", **layer_options}
    transform_keys = ("window", "normalization", "center", "pad_mode")
    dstft_options = {k: layer_options[k] for k in transform_keys if k in layer_options}

    init: FitResult | GridResult | None = None
    if win_length is None:
        if win_mode == "constant":
            low = float(layer_options.get("win_min") or min(16.0, n))
            high = float(layer_options.get("win_max") or n)
            grid = torch.logspace(
                math.log10(low), math.log10(high), COARSE_GRID, dtype=torch.float64
            )
            grid[0], grid[-1] = low, high  # exact ends (n_fft itself is a candidate)
            grid = grid.to(x.dtype)
            init = grid_search(
                x,
                grid,
                n_fft=n,
                hop_length=hop_length,
                criterion=criterion,
                alpha=alpha,
                power=power,
                **dstft_options,
            )
            win_length = init.best
        else:
            init = fit(
                x,
                n_fft=n,
                hop_length=hop_length,
                criterion=criterion,
                alpha=alpha,
                power=power,
                steps=steps,
                lr=lr,
                tol=tol,
                patience=patience,
                progress=progress,
                seed=seed,
                **layer_options,
            )
            win_length = float(init.win_length)

    layer = DSTFT(
        n,
        win_length,
        hop_length,
        win_mode=win_mode,
        hop_mode=hop_mode,
        signal_length=x.shape[-1],
        **layer_options,
    ).to(device=x.device, dtype=x.dtype)
    loss_of = _criterion(criterion, alpha)

    def objective() -> tuple[Tensor, Tensor, Tensor]:
        spec = power_spectrum(layer(x), power)
        value = criterion_value = loss_of(spec).mean()
        if smoothness:
            lam = layer.win_length
            value = value + (smoothness / lam.numel()) * losses.smoothness_penalty(lam / n)
        if coverage:
            gaps = losses.coverage_penalty(
                layer.positions,
                layer.win_length,
                signal_length=x.shape[-1],
                **(coverage_options or {}),
            )
            value = value + (coverage / x.shape[-1]) * gaps
        return value, criterion_value, spec

    torch.manual_seed(seed)
    params = [p for p in layer.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=lr) if params else None
    history: list[float] = []  # J at every evaluation: the steps taken, and the one that stopped
    taken = 0  # gradient steps taken
    best_value, best_step, best_state = math.inf, 0, copy.deepcopy(layer.state_dict())
    stopped = "max_steps"
    bar = _progress(steps, progress)
    start = time.perf_counter()
    try:
        for step in range(steps if optimiser is not None else 0):
            optimiser.zero_grad()
            value, _, _ = objective()
            current = float(value.detach())
            if not math.isfinite(current):
                stopped = "non-finite"
                break
            history.append(current)
            if current < best_value - tol * abs(best_value if math.isfinite(best_value) else 0):
                best_value, best_step = current, step
                best_state = copy.deepcopy(layer.state_dict())
            elif step - best_step >= patience:
                stopped = "converged"
                break
            value.backward()
            optimiser.step()
            taken += 1
            if callback is not None:
                callback(step, current, layer)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{current:.5g}")
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    layer.load_state_dict(best_state)
    with torch.no_grad():
        value, criterion_value, spec = objective()
    if not history:
        history.append(float(value))
    return FitResult(
        layer=layer,
        win_length=layer.win_length.detach(),
        positions=layer.positions.detach(),
        spectrogram=spec.detach(),
        initial_loss=history[0],
        final_loss=float(value),
        criterion=float(criterion_value),
        history=history,
        steps=taken,
        best_step=best_step,
        stopped=stopped,
        seconds=seconds,
        seconds_per_step=seconds / max(1, taken),
        init=init,
    )


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError(
            "progress=True needs tqdm, an optional dependency: pip install tqdm "
            "(or adastft[progress])"
        ) from exc
    return tqdm(total=total, desc="adastft.fit", leave=False)
