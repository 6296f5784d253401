"""Optimise a signal's time-frequency representation: ``fit`` (gradient descent) and
``grid_search`` (the discrete baseline).

``fit`` builds a :class:`adastft.DSTFT` layer for the signal and minimises a criterion of its
spectrogram (entropy by default) plus optional regularisers with Adam. The layer's parameters
are log window lengths (:mod:`adastft.bounded`), so one learning rate works for every signal
length, sample rate and ``n_fft``: ``lr = 0.05`` changes a length by at most about 5 % per step.
For varying modes it starts, as the paper recommends, from the best constant window length,
found by a constant fit that itself starts from the best of a coarse grid.

Both scale the signal by a power of two to a peak in ``[1/2, 1)`` before the transform: every
criterion is scale-invariant in the spectrogram and the penalties do not involve it, so the
losses are those of the signal itself (to the bit, barring underflow), and ``|S| ** 2`` of a
loud float32 signal (``|x|`` above about ``1e19``) cannot overflow.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from . import losses
from ._validation import as_real_tensor, check_choice, check_n_fft, check_scalar, check_signal
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
        losses (Tensor): the criterion at each, ``(K,)``; NaN where the spectrogram is not
            finite.
        best (float): the candidate with the lowest finite loss; ``best_loss`` its loss (if
            no loss is finite: the first candidate, and NaN).
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
        x (Tensor): real, finite signal ``(..., L)``; the loss is averaged over the leading
            dims. It is scaled by a power of two to a peak in ``[1/2, 1)`` first (module
            docstring): the losses are those of ``x``.
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
    if batch_size is None:  # the frames of the hop used: a short hop makes many
        hop = max(1, n // 4) if hop_length is None else hop_length
        check_scalar("hop_length", hop, low=0.0, low_open=True, rule="hop_length > 0")
        frames = x[..., 0].numel() * (n // 2 + 1) * (1 + int(x.shape[-1] // hop))
        batch_size = max(1, (64 * 2**20) // (16 * frames))
    check_scalar("batch_size", batch_size, low=1, integer=True, rule="an int >= 1")
    x = _unit_peak(x)
    start = time.perf_counter()
    values = []
    with torch.no_grad():
        for chunk in candidates.split(batch_size):
            lam = chunk.reshape(-1, *([1] * (x.dim() - 1)), 1, 1)  # (K, ..., 1, 1)
            spec = power_spectrum(dstft(x, lam, n_fft=n, hop_length=hop_length, **options), power)
            # The losses reject a non-finite spectrogram: such a candidate is given a silent
            # one, whose loss is then replaced by NaN.
            finite = torch.isfinite(spec).reshape(chunk.numel(), -1).all(-1)  # (k,)
            spec = torch.where(finite.reshape(-1, *([1] * (spec.dim() - 1))), spec, 0.0)
            value = loss_of(spec).reshape(chunk.numel(), -1).mean(-1)
            values.append(torch.where(finite, value, math.nan))
    values = torch.cat(values)
    best = int(torch.argmin(torch.where(values.isnan(), math.inf, values)))
    return GridResult(
        candidates,
        values,
        float(candidates[best]),
        float(values[best]),
        time.perf_counter() - start,
        candidates.numel(),
    )


def _unit_peak(x: Tensor) -> Tensor:
    """``x``, detached, times the power of two that brings its peak into ``[1/2, 1)`` (``x``
    itself if it is all zeros); ``ValueError`` if ``x`` is not finite.

    Multiplying by a power of two is exact (barring underflow), so every scale-invariant loss
    of the spectrogram keeps its value to the bit; the factor is applied in two halves, each a
    normal float32 number for any float32 peak.
    """
    x = x.detach()
    peak = float(x.abs().amax())  # NaN if x holds one
    if not math.isfinite(peak):
        first = x[~torch.isfinite(x)].flatten()[0].item()
        raise ValueError(f"x must be finite; got {first!r} (first offending element)")
    if peak == 0.0:
        return x
    exponent = math.frexp(peak)[1]  # peak = m * 2**exponent with 1/2 <= m < 1
    half = -exponent // 2
    return x * 2.0**half * 2.0 ** (-exponent - half)


def _check_candidates(candidates: object, n: int, x: Tensor) -> Tensor:
    """``candidates``: real window lengths ``0 < lam <= n`` in x's dtype and on its device,
    flattened to ``(K,)``, ``K >= 1``."""
    lam = as_real_tensor(
        "candidates", candidates, "a real tensor or a sequence of real numbers (window lengths)"
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
        spectrogram (Tensor): ``|S| ** power`` of ``x`` at the best parameters,
            ``(..., F, T)``; it overflows to ``inf`` where ``x``'s does (float32 with ``|x|``
            above about ``1e19``), which the losses, computed on ``x`` scaled (module
            docstring), do not.
        initial_loss, final_loss (float): the objective at the start and its lowest value,
            ``history[best_step]`` (NaN if no objective was finite).
        criterion (float): the criterion alone (no penalties) at the best step, as minimised:
            the entropy, or the negative mean frame kurtosis for ``"kurtosis"``.
        history (list of float): the objective at every parameter state, in order:
            ``history[k]`` after ``k`` gradient steps, ``history[0]`` at the start. The state
            after the last step is evaluated too (``steps + 1`` values), unless a non-finite
            objective there (not recorded) or Ctrl-C (which stops at once) ended the run
            first: ``steps`` values then (``steps + 1`` if Ctrl-C came during a backward
            pass or update, whose step is then not counted). Empty if no objective was
            finite.
        steps (int): gradient steps taken (optimiser updates, callbacks run); ``best_step``
            the index in ``history`` of its lowest value (the first, if it repeats), whose
            parameters the result holds.
        stopped (str): ``"converged"``, ``"max_steps"``, ``"interrupted"`` (Ctrl-C, in any
            stage) or ``"non-finite"`` (the objective became NaN or infinite, in any stage).
        seconds (float): wall time of the descent; ``seconds_per_step`` that time divided by
            ``steps`` (a forward, a backward and an update).
        init (FitResult or GridResult, optional): the stage the start was taken from (None if
            ``win_length`` was given, or Ctrl-C stopped that stage before it had a result).

    Example:
        >>> r = fit(torch.randn(1000), n_fft=128, win_length=64.0, steps=3)
        >>> r.steps, len(r.history), r.final_loss == min(r.history), r.layer.win_length.shape
        (3, 4, True, torch.Size([1, 1]))
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
    ``J`` is evaluated at every parameter state, the one after the last step included. The
    descent stops (``result.stopped``):

    - ``"converged"``: ``J`` has not fallen more than ``tol`` (relative) below its value at
      the last such fall for ``patience`` steps;
    - ``"max_steps"``: after ``steps`` steps;
    - ``"interrupted"``: on Ctrl-C, in any stage (the grid, the constant fit, the descent);
    - ``"non-finite"``: when ``J`` is NaN or infinite, in any stage.

    The result holds the parameters of the lowest ``J`` seen in every case: any decrease
    counts, ``tol`` only decides convergence.

    Start: ``win_length`` if given; else, for ``win_mode="constant"``, the best of a coarse
    log-spaced grid of ``COARSE_GRID`` lengths; for the other modes, the result of a constant
    fit (the paper's recommendation), available as ``result.init``. If that stage stops
    early (Ctrl-C, non-finite), so does the run, with its reason, at that stage's best length
    and without a step; if Ctrl-C comes before the stage has a result, at the middle of the
    grid's range (the geometric mean of its ends).

    Args:
        x (Tensor): real, finite signal ``(..., L)``; the criterion is averaged over the
            leading dims (one representation for all channels). It is scaled by a power of
            two to a peak in ``[1/2, 1)`` first (module docstring): the objective is that of
            ``x``.
        n_fft (int), hop_length (float, optional; default ``max(1, n_fft // 4)``): as
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
        callback (callable, optional): ``callback(step, J, layer)`` after every step (``J``
            before it).
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
    x = x.detach()
    x_unit = _unit_peak(x)  # the objective is computed on it; x gives result.spectrogram
    hop_length = max(1, n // 4) if hop_length is None else hop_length
    # Energy normalisation: with "amplitude", shortening one frame's window scales that frame up
    # (c = 1 / (lam I1)) and the entropy of the whole plane falls by letting it dominate.
    layer_options = {"normalization": "energy", **layer_options}
    transform_keys = ("window", "normalization", "center", "pad_mode")
    dstft_options = {k: layer_options[k] for k in transform_keys if k in layer_options}

    search = win_length is None  # the start comes from a first stage
    if search:
        low = float(layer_options.get("win_min") or min(16.0, n))
        high = float(layer_options.get("win_max") or n)
        win_length = math.sqrt(low * high)  # the start if Ctrl-C leaves that stage no result

    def make_layer(start: float | Tensor) -> DSTFT:
        return DSTFT(
            n,
            start,
            hop_length,
            win_mode=win_mode,
            hop_mode=hop_mode,
            signal_length=x.shape[-1],
            **layer_options,
        ).to(device=x.device, dtype=x.dtype)

    stopped = "max_steps"  # unless something stops the run earlier
    init: FitResult | GridResult | None = None
    layer: DSTFT | None = None
    optimiser = None
    # Ctrl-C before the descent (in the first stage, or while the layer and the optimiser are
    # built: Adam's first use imports torch's compiler, which takes a while) stops the run at
    # the best start known.
    try:
        if search:
            if win_mode == "constant":
                grid = torch.logspace(
                    math.log10(low), math.log10(high), COARSE_GRID, dtype=torch.float64
                )
                grid[0], grid[-1] = low, high  # exact ends (n_fft itself is a candidate)
                init = grid_search(
                    x,
                    grid.to(x.dtype),
                    n_fft=n,
                    hop_length=hop_length,
                    criterion=criterion,
                    alpha=alpha,
                    power=power,
                    **dstft_options,
                )
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
            win_length, stopped = _start(init)
        layer = make_layer(win_length)
        torch.manual_seed(seed)
        params = [p for p in layer.parameters() if p.requires_grad]
        if params and stopped == "max_steps":
            optimiser = torch.optim.Adam(params, lr=lr)
    except KeyboardInterrupt:
        stopped = "interrupted"
        if init is not None:
            win_length = _start(init)[0]
    if layer is None:
        layer = make_layer(win_length)
    loss_of = _criterion(criterion, alpha)

    def objective() -> tuple[Tensor, Tensor]:
        """``J`` and the criterion alone at the layer's parameters; both NaN if the frame
        positions (NaN learnt hops: the transform cannot place such frames) or the
        spectrogram (the losses reject it) are not finite."""
        nan = x_unit.new_full((), math.nan)
        if not bool(torch.isfinite(layer.positions).all()):
            return nan, nan
        spec = power_spectrum(layer(x_unit), power)
        if not bool(torch.isfinite(spec).all()):
            return nan, nan
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
        return value, criterion_value

    # Evaluation k is at the parameters after k steps; the last one takes no step. A run stopped
    # before the descent, or nothing to learn, leaves only the evaluation of the start.
    last = steps if optimiser is not None and stopped == "max_steps" else 0
    history: list[float] = []
    taken = 0  # gradient steps taken
    best_value, best_criterion, best_step, best_state = math.inf, None, 0, _snapshot(layer)
    anchor, anchor_step = math.inf, 0  # J at the last fall by more than tol, and when
    bar = _progress(last, progress)
    start = time.perf_counter()
    try:
        for step in range(last + 1):
            descending = step < last
            if descending:
                optimiser.zero_grad()
            with torch.set_grad_enabled(descending):
                value, criterion_value = objective()
            current = float(value.detach())
            if not math.isfinite(current):
                if stopped == "max_steps":  # a stage's reason to stop comes first
                    stopped = "non-finite"
                break
            history.append(current)
            if current < best_value:
                best_value, best_criterion, best_step = current, criterion_value.detach(), step
                best_state = _snapshot(layer)
            if step == 0 or current < anchor - tol * abs(anchor):
                anchor, anchor_step = current, step
            elif step - anchor_step >= patience:
                stopped = "converged"
                break
            if not descending:
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
        spec = power_spectrum(layer(x), power)
    return FitResult(
        layer=layer,
        win_length=layer.win_length.detach(),
        positions=layer.positions.detach(),
        spectrogram=spec,
        initial_loss=history[0] if history else math.nan,
        final_loss=best_value if history else math.nan,
        criterion=float(best_criterion) if history else math.nan,
        history=history,
        steps=taken,
        best_step=best_step,
        stopped=stopped,
        seconds=seconds,
        seconds_per_step=seconds / max(1, taken),
        init=init,
    )


def _start(init: FitResult | GridResult) -> tuple[float, str]:
    """The start that a first stage gives, and the reason it stops the whole run
    (``"interrupted"``, ``"non-finite"``) or ``"max_steps"`` if it does not."""
    if isinstance(init, GridResult):
        return init.best, "max_steps" if math.isfinite(init.best_loss) else "non-finite"
    stop = init.stopped if init.stopped in ("interrupted", "non-finite") else "max_steps"
    return float(init.win_length), stop


def _snapshot(layer: DSTFT) -> dict[str, Tensor]:
    """A copy of the layer's state, for ``load_state_dict``."""
    return {name: value.detach().clone() for name, value in layer.state_dict().items()}


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
