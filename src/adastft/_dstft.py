"""The differentiable short-time Fourier transform: ``dstft`` and ``spectrogram``.

``dstft`` checks its arguments once, brings every tensor to the canonical shapes of
:mod:`adastft._kernels`, and runs :class:`_DSTFTFunction`, whose backward evaluates the paper's
analytic gradients (Sec. IV) instead of differentiating through the operations.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _fused
from . import _kernels as K
from ._validation import (
    broadcast_shapes,
    check_choice,
    check_device,
    check_n_fft,
    check_positions,
    check_real_tensor,
    check_scalar,
    check_signal,
    check_win_length_shape,
    check_win_length_values,
)
from .positions import n_frames
from .windows import NORMALIZATIONS, Window, get_window

__all__ = ["dstft", "spectrogram"]

PAD_MODES = ("constant", "reflect")
ENGINES = ("auto", "eager", "compiled")
AUTO_COMPILE_SIZE = 2**18  # B F T N from which "auto" compiles the direct sums


class _DSTFTFunction(torch.autograd.Function):
    """``S = DSTFT(xp; lam, starts)`` on canonical shapes, with the paper's gradients.

    ``lam`` may be any reshape of the canonical ``(Bl, Fl, Tl)`` (:func:`K.canonical_lam`), and
    ``out_shape`` (optional) is the shape ``(*batch_shape, F, T)`` to return ``S`` in: both are
    reshaped here rather than by autograd views (a node less per call for each).
    """

    @staticmethod
    def forward(
        ctx, xp: Tensor, lam: Tensor, starts: Tensor | None, geom: K.Geometry, out_shape=None
    ):
        lam_in, lam = lam, K.canonical_lam(lam)  # lam_in: the caller's, for the gradient
        frames = K.make_frames(xp, starts, geom)
        ctx.geom = geom
        ctx.direct = lam.shape[1] > 1
        ctx.shape = torch.Size((xp.shape[0], geom.n_bins, geom.n_frames))
        ctx.keep_windows = False
        if ctx.direct:
            spec = K.direct_forward(frames, lam, geom)
            ctx.save_for_backward(xp, lam_in, starts, lam, spec)
            return _reshaped(spec, out_shape)
        # A window shared by the batch is at most (T, N): keep the terms that the backward
        # will use (w for x, D_lam for lam, D_u for the starts, c / lam for either);
        # per-example windows are as large as the frames and are recomputed. S itself is used
        # by the starts' phase term only.
        used = ctx.needs_input_grad[:3]
        spec, terms = K.fft_forward(frames, lam, geom, terms_for=used[1:])
        ctx.keep_windows = terms[0] is not None and terms[0].shape[0] == 1
        # D_lam and D_u are None unless used (terms_for); w is used for x only.
        kept = (terms[0] if used[0] else None, *terms[1:]) if ctx.keep_windows else ()
        ctx.save_for_backward(xp, lam_in, starts, lam, spec if used[2] else None, *kept)
        return _reshaped(spec, out_shape)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return first_order_backward(_backward, ctx, grad)  # saved first: xp, lam_in, starts


def _backward(ctx, grad: Tensor):
    """:meth:`_DSTFTFunction.backward`: the paper's gradients (Sec. IV) from ``G = dL/dS``."""
    xp, lam_in, starts, lam, spec, *kept = ctx.saved_tensors
    if grad.shape != ctx.shape:
        grad = grad.reshape(ctx.shape)
    geom: K.Geometry = ctx.geom
    needs = need_x, need_lam, need_starts = ctx.needs_input_grad[:3]
    frames = K.make_frames(xp, starts, geom)
    if ctx.direct:
        grad_frames, grad_lam, grad_starts = K.direct_backward(grad, spec, frames, lam, geom, needs)
    else:
        terms = tuple(kept) if ctx.keep_windows else None
        grad_frames, grad_lam, grad_starts = K.fft_backward(grad, frames, lam, geom, needs, terms)
    grad_x = None
    if need_x:
        grad_x = K.overlap_add(grad_frames, frames, geom, xp.shape[-1])
        grad_x = K.reduce_to(grad_x, xp.shape)
    if need_lam:
        grad_lam = K.reduce_to(grad_lam, lam.shape)  # the kernels' sums cover lam's shape
        if lam_in.shape != lam.shape:
            grad_lam = grad_lam.reshape(lam_in.shape)
    if need_starts:
        # Phase term of Eqs. 14-16: d S / d a_n includes (2 pi i k / N) S[k, n].
        k = torch.arange(geom.n_bins, device=grad.device, dtype=grad_starts.dtype)
        cross = (grad.conj() * spec).imag
        grad_phase = (-2 * torch.pi / geom.n_fft) * (k[:, None] * cross).sum(-2)
        grad_starts = K.reduce_to(grad_starts, starts.shape) + K.reduce_to(grad_phase, starts.shape)
        grad_starts = grad_starts.expand_as(starts)
    return grad_x, grad_lam, grad_starts, None, None


SECOND_ORDER = (
    "adastft computes first-order gradients only: differentiating them again (a Hessian, a "
    "gradient penalty through dstft or idstft, create_graph=True followed by a second "
    "backward) is not supported"
)


class _FirstOrderOnly(torch.autograd.Function):
    """The identity on the gradients of a backward; differentiating its outputs raises.

    ``apply(count, *tensors)``: the first ``count`` tensors are the gradients, the others the
    tensors they depend on (the inputs of the forward, the incoming gradient), which only link
    this node into the graph: differentiating the gradients w.r.t. any of them reaches it.
    """

    @staticmethod
    def forward(ctx, count: int, *tensors: Tensor):
        return tuple(t.clone() for t in tensors[:count])

    @staticmethod
    def backward(ctx, *grads: Tensor):
        raise RuntimeError(SECOND_ORDER)


def first_order_backward(backward, ctx, grad: Tensor) -> tuple:
    """``backward(ctx, grad)``, the body of a Function's backward whose first three saved
    tensors are its differentiable inputs. In a plain backward, as it is; under
    ``create_graph``, computed without a graph and linked to those inputs and ``grad`` by
    :func:`first_order_only`, so that differentiating it again raises."""
    if not torch.is_grad_enabled():
        return backward(ctx, grad)
    with torch.no_grad():
        grads = backward(ctx, grad)
    return first_order_only(grads, (*ctx.saved_tensors[:3], grad))


def first_order_only(grads: tuple, anchors: tuple) -> tuple:
    """``grads`` (``None`` where not needed), as outputs of :class:`_FirstOrderOnly` linked to
    those ``anchors`` that require grad.

    A backward run under ``create_graph`` computes its gradients without a graph of their own.
    Returned as they are, a second derivative through them would silently be 0 (the gradients
    would not depend on anything); linked this way it fails with :data:`SECOND_ORDER`.
    """
    present = [g for g in grads if g is not None]
    linked = [a for a in anchors if a is not None and a.requires_grad]
    if not present or not linked:
        return grads
    outputs = iter(_FirstOrderOnly.apply(len(present), *present, *linked))
    return tuple(None if g is None else next(outputs) for g in grads)


def _reshaped(spec: Tensor, shape) -> Tensor:
    """``spec`` in ``shape`` (unchanged if ``shape`` is ``None`` or already its shape)."""
    return spec if shape is None or spec.shape == shape else spec.reshape(shape)


# The outcome of the argument checks that depend on no tensor value (shapes, dtypes, devices and
# options), by those: a later call with the same key checks the window-length values only. Only
# the common call is kept (tensors x and win_length, a number or no hop_length, no positions).
_CHECKED: dict = {}
_CHECKED_MAX = 64


class _Checked(NamedTuple):
    """What the checks derive from the options: the frame grid and the validated settings."""

    n_fft: int
    n_frames: int
    hop: int | None  # None: a fractional hop, placed by grid_positions
    window: Window
    max_working_memory: int | None


def _prepare(
    x,
    win_length,
    *,
    n_fft,
    hop_length=None,
    positions=None,
    window="hann",
    center=True,
    pad_mode="constant",
    normalization="amplitude",
    max_working_memory=None,
    engine="auto",
):
    """Validate the arguments and bring them to the kernels' canonical shapes.

    Returns ``(xp, lam, starts, geom, batch_shape)``.
    """
    arguments = (  # in the order of _check's parameters
        x, win_length, n_fft, hop_length, positions, window, center, pad_mode, normalization,
        max_working_memory, engine,
    )  # fmt: skip
    key = _check_key(*arguments)
    try:
        checked = None if key is None else _CHECKED.get(key)
    except TypeError:  # an unhashable option: the full checks name it
        key = checked = None
    if checked is None:
        checked, x, lam, positions, win_max = _check(*arguments)
        if key is not None:
            if len(_CHECKED) >= _CHECKED_MAX:
                _CHECKED.clear()
            _CHECKED[key] = checked
    else:
        lam = win_length
        win_max = check_win_length_values(win_length, checked.n_fft)
        if checked.hop is None:
            positions = grid_positions(
                hop_length, checked.n_frames, n_fft=checked.n_fft, center=center, like=x, exact=True
            )
    return _canonical(
        x,
        lam,
        positions,
        n_fft=checked.n_fft,
        n_frames=checked.n_frames,
        hop=checked.hop,
        window=checked.window,
        center=center,
        pad_mode=pad_mode,
        normalization=normalization,
        win_max=win_max,
        max_working_memory=checked.max_working_memory,
        engine=engine,
    )


def _check_key(x, win_length, n_fft, hop_length, positions, *options) -> tuple | None:
    """The key of :data:`_CHECKED` for these arguments (unhashable if an option is), or
    ``None`` if the call is not kept.

    Scalars are keyed with their types, so that ``True`` does not pass for ``1``.
    """
    if (
        not isinstance(x, Tensor)
        or not isinstance(win_length, Tensor)
        or positions is not None
        or isinstance(hop_length, Tensor)
        or torch.compiler.is_compiling()
    ):
        return None
    return (
        x.shape, x.dtype, x.device, win_length.shape, win_length.dtype, win_length.device,
        n_fft, type(n_fft), hop_length, type(hop_length),
        *options, *map(type, options),
    )  # fmt: skip


def _check(
    x,
    win_length,
    n_fft,
    hop_length,
    positions,
    window,
    center,
    pad_mode,
    normalization,
    max_working_memory,
    engine,
):
    """Every argument check. Returns ``(checked, x, lam, positions, win_max)``."""
    x = check_signal(x)
    n = check_n_fft(n_fft)
    window = get_window(window)
    check_choice("normalization", normalization, NORMALIZATIONS)
    check_choice("pad_mode", pad_mode, PAD_MODES)
    if not isinstance(center, bool):
        raise TypeError(f"center must be a bool; got {center!r}")
    if max_working_memory is not None:
        check_scalar(
            "max_working_memory",
            max_working_memory,
            low=1,
            integer=True,
            rule="an int >= 1 (bytes)",
        )
        max_working_memory = int(max_working_memory)
    length = x.shape[-1]
    if center and pad_mode == "reflect" and length <= n // 2:
        raise ValueError(
            f"x must have more than n_fft // 2 (={n // 2}) samples for pad_mode='reflect'; "
            f"got L={length}"
        )
    if not center and length < n:
        raise ValueError(
            f"x must have at least n_fft (={n}) samples with center=False; got L={length}"
        )

    # Frame positions: the integer grid (hop), or real centres t_n.
    hop = None
    if positions is not None:
        if hop_length is not None:
            raise ValueError(
                f"give either hop_length or positions, not both; got hop_length={hop_length!r}"
            )
        positions = check_positions(positions, x)
        n_t = positions.shape[-1]
    else:
        if hop_length is None:
            hop_length = max(1, n // 4)
        if isinstance(hop_length, Tensor):
            check_real_tensor("hop_length", hop_length)
            if hop_length.dim() != 0:
                raise ValueError(
                    f"hop_length must be a number or a 0-dim tensor (use positions for "
                    f"time-varying hops); got shape {tuple(hop_length.shape)}"
                )
            hop_value = float(hop_length.detach())  # the frame count needs the value once
        else:
            hop_value = hop_length
        check_scalar("hop_length", hop_value, low=0.0, low_open=True, rule="hop_length > 0")
        n_t = n_frames(length, n, hop_value, center=center)
        if type(hop_length) is int or (
            not isinstance(hop_length, Tensor) and float(hop_length).is_integer()
        ):
            hop = int(hop_length)
        else:
            positions = grid_positions(hop_length, n_t, n_fft=n, center=center, like=x, exact=True)
    n_bins = n // 2 + 1

    # Window lengths: a (..., Fl, Tl) tensor of x's dtype.
    if isinstance(win_length, Tensor):
        check_real_tensor("win_length", win_length)
        if win_length.dtype != x.dtype:
            raise TypeError(
                f"win_length must have the dtype of x ({x.dtype}); got dtype {win_length.dtype}"
            )
        check_device("win_length", win_length, x)
        check_win_length_shape(win_length, x.shape[:-1], n_bins, n_t)
        if positions is not None and (
            broadcast_shapes(x.shape[:-1], win_length.shape[:-2], positions.shape[:-1]) is None
        ):
            raise ValueError(
                f"the batch dimensions of win_length (shape {tuple(win_length.shape)}) and "
                f"positions (shape {tuple(positions.shape)}) must broadcast together and with "
                f"those of x (shape {tuple(x.shape)})"
            )
        lam = win_length
        win_max = check_win_length_values(win_length, n)
    else:
        check_scalar(
            "win_length",
            win_length,
            low=0.0,
            high=n,
            low_open=True,
            rule=f"0 < win_length <= n_fft (={n})",
        )
        lam = torch.full((1, 1), float(win_length), dtype=x.dtype, device=x.device)
        win_max = float(win_length)
    check_choice("engine", engine, ENGINES)
    checked = _Checked(n, n_t, hop, window, max_working_memory)
    return checked, x, lam, positions, win_max


def grid_positions(
    hop_length, n_t: int, *, n_fft: int, center: bool, like: Tensor, exact: bool = False
) -> Tensor:
    """Centres ``t_n = t_0 + n H`` of the constant-hop grid (``t_0 = 0``, or ``N/2`` uncentred).

    ``hop_length`` is a number or a 0-dim tensor (then the positions are differentiable in it,
    of ``like``'s dtype). ``exact``: a number hop's grid in float64 whatever ``like``'s dtype:
    in float32 ``t_n`` is off by up to half a unit in the last place, 0.008 samples at
    ``t_n = 10^5``, which turns the phase of bin ``k`` by ``2 pi k 0.008 / N``; the kernels
    split ``t_n`` into a whole sample and a fraction first, and keep only the fraction in
    ``like``'s dtype (:func:`adastft._kernels.make_frames`). Shape: ``(T,)``.
    """
    t0 = 0.0 if center else n_fft / 2
    if isinstance(hop_length, Tensor):
        frame = torch.arange(n_t, dtype=like.dtype, device=like.device)
        return t0 + frame * hop_length.to(like.dtype)
    dtype = torch.float64 if exact else like.dtype
    return t0 + torch.arange(n_t, dtype=dtype, device=like.device) * float(hop_length)


def _canonical(
    x: Tensor,
    lam: Tensor,
    positions: Tensor | None,
    *,
    n_fft: int,
    n_frames: int,
    hop: int | None,
    window: Window,
    center: bool,
    pad_mode: str,
    normalization: str | None,
    win_max: float,
    max_working_memory: int | None = None,
    engine: str = "auto",
):
    """Bring checked arguments to the kernels' canonical shapes (no checks, no host sync).

    ``lam`` is 0-dim or ``(..., Fl, Tl)`` with every value in ``(0, win_max]``,
    ``win_max <= n_fft``; ``positions`` ``(..., T)`` real frame centres, or ``None`` for the
    integer grid of ``hop``. Returns ``(xp, lam, starts, geom, batch_shape)``, with ``lam``
    a reshape of the canonical ``(Bl, Fl, Tl)`` (:func:`K.canonical_lam`), which
    :class:`_DSTFTFunction` makes without an autograd view.
    """
    n, n_t = n_fft, n_frames
    n_bins = n // 2 + 1
    length = x.shape[-1]
    batch_shape, batch = _batch(
        x.shape[:-1], lam.shape[:-2], None if positions is None else positions.shape[:-1]
    )
    xb = x if x.shape == (batch, length) else x.expand(*batch_shape, length).reshape(batch, length)
    if center:
        xb = F.pad(xb, (n // 2, n // 2), mode=pad_mode)
    if lam.dim() > 2 and lam.shape[:-2].numel() not in (1, batch):  # per example, broadcast
        lam = lam.expand(*batch_shape, *lam.shape[-2:]).reshape(batch, *lam.shape[-2:])
    bl, fl, tl = K.lam_layout(lam.shape)
    starts = None
    if positions is not None:
        # Real starts a_n = t_n - N/2 in samples of the padded signal (pad N/2 if center).
        starts = _flatten_batch(positions - (0.0 if center else n / 2), 1, batch_shape, batch)
    if engine == "auto":  # only the direct path compiles: decide (and import dynamo) only there
        # Window lengths that vary in frequency only, on the integer grid, give one kernel for
        # every frame: the eager engine's single matrix product is then the fastest.
        one_kernel = bl == 1 and tl == 1 and positions is None
        large = fl > 1 and not one_kernel and batch * n_bins * n_t * n >= AUTO_COMPILE_SIZE
        # Inside a model being compiled, the outer compilation already fuses the eager sums.
        engine = (
            "compiled"
            if large and not torch.compiler.is_compiling() and _fused.available()
            else "eager"
        )
    # The direct path sums only the frame samples that the longest window reaches; so does the
    # FFT path for windows of many values (per frame, per example, or at fractional positions),
    # evaluated on S <= N samples per frame instead of N.
    many = bl > 1 or tl > 1 or positions is not None
    support = K.support(n, win_max) if fl > 1 or many else None
    if hop is not None and n_t == 1:
        # One frame: the hop is never used, but the framing and its adjoint step by it (a hop
        # past 2**63 overflows unfold, and the overlap-add spans one hop).
        hop = n
    geom = _geometry(n, n_t, window, normalization, hop, max_working_memory, engine, support)
    return xb, lam, starts, geom, batch_shape


@K._cached
def _batch(*shapes: torch.Size | None) -> tuple[torch.Size, int]:
    """The broadcast batch shape of the arguments (``None``: absent) and its size."""
    batch_shape = torch.Size(broadcast_shapes(*(s for s in shapes if s is not None)))
    return batch_shape, batch_shape.numel()


_geometry = K._cached(K.Geometry)  # one Geometry per distinct transform, not one per call


def _flatten_batch(value: Tensor, core: int, batch_shape: torch.Size, batch: int) -> Tensor:
    """``(..., *core)`` -> ``(1, *core)`` without batch dims of size > 1, else ``(B, *core)``."""
    core_shape = value.shape[value.dim() - core :]
    if value.dim() == core + 1 and value.shape[0] == 1:
        return value  # already (1, *core)
    if value.shape[: value.dim() - core].numel() == 1:
        return value.reshape(1, *core_shape)
    return value.expand(*batch_shape, *core_shape).reshape(batch, *core_shape)


def dstft(
    x: Tensor,
    win_length: float | Tensor,
    *,
    n_fft: int,
    hop_length: float | Tensor | None = None,
    positions: Tensor | None = None,
    window: str | Window = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    normalization: str | None = "amplitude",
    max_working_memory: int | None = None,
    engine: str = "auto",
) -> Tensor:
    r"""Differentiable short-time Fourier transform with real window lengths and positions.

    .. math::

        S[k, n] = \sum_s x_e[s]\, w_{\lambda[k,n]}(s - t_n)\,
                  e^{-2\pi i k (s - t_n + N/2) / N}

    with :math:`w_\lambda(u) = c(\lambda)\, w(u / \lambda)` (SPEC.md §1). The phase is measured
    from the frame start ``t_n - N/2``, so for integer parameters (``normalization=None``,
    ``hann``, ``N - W`` even, integer hop) the result equals ``torch.stft``.

    Args:
        x (Tensor): real signal ``(..., L)``, float32 or float64.
        win_length (float or Tensor, 0 < lam <= n_fft): window lengths ``lam``, a number or a
            tensor broadcastable to ``(..., F, T)``: ``(1, 1)`` constant, ``(1, T)``
            time-varying, ``(F, 1)`` frequency-varying, ``(F, T)`` both, leading dims per
            example. Differentiable.
        n_fft (int, even >= 2): DFT size ``N``; ``F = N // 2 + 1`` bins.
        hop_length (float or 0-dim Tensor > 0, optional): constant hop ``H``, possibly
            fractional; ``t_n = n H`` (``center=True``) or ``N/2 + n H``. Default
            ``max(1, N // 4)``. A tensor hop is differentiable (its value is read once to count
            the frames).
        positions (Tensor, optional): real frame centres ``t_n`` in samples of ``x``,
            ``(..., T)``, instead of ``hop_length``. Differentiable.
        window (str or Window): ``"hann"``, ``"blackman"``, ``"gaussian"``, ``"hamming"``, or
            a :class:`adastft.Window`.
        center (bool): pad ``x`` by ``N/2`` on each side, as ``torch.stft``.
        pad_mode (str): ``"constant"`` (zeros) or ``"reflect"``, used when ``center``.
        normalization (str or None): ``"amplitude"`` (default), ``"energy"`` or ``None``.
        max_working_memory (int, optional): bytes of the working set of the direct sum used
            for frequency-varying window lengths, summed in chunks of bins (default 4 MiB); no
            ``(B, F, T, N)`` tensor is ever made.
        engine (str): how frequency-varying window lengths are summed: ``"eager"`` (chunked
            matrix products), ``"compiled"`` (sums fused by ``torch.compile``: no temporary of
            size ``F T N``, several times faster on large inputs, compiled once per process and
            shape), or ``"auto"`` (default): ``"compiled"`` when ``B F T N >= 2**18`` and a
            compiler is available, else ``"eager"`` (always ``"eager"`` for ``(F, 1)`` window
            lengths on an integer hop, where one kernel serves every frame, and inside a
            model being compiled, whose compilation fuses the eager sums). For window
            lengths that do not depend on frequency (the FFT path), ``"compiled"`` also fuses
            the evaluation of per-frame, per-example or fractionally placed windows with the
            frames' products, forward and backward (``"auto"`` keeps that path eager: the
            compilation, seconds per shape, pays off over thousands of steps only). Inside a
            model being compiled, ``"compiled"`` runs the eager code for the outer compilation
            to fuse. Falls back to eager, with a warning, if compilation fails. Results agree
            to rounding.

    Returns:
        Tensor: complex ``(..., F, T)``, complex64 for float32 input, complex128 for float64.

    Shape:
        ``x (..., L)``, ``win_length`` broadcastable to ``(..., F, T)`` -> ``(..., F, T)``
        with ``F = N // 2 + 1`` and ``T = 1 + L // H`` (``center=True``),
        ``1 + (L - N) // H`` (``center=False``) or ``positions.shape[-1]``.

    Example:
        >>> x = torch.randn(2, 1000, dtype=torch.float64)
        >>> S = dstft(x, 200.0, n_fft=256, hop_length=64, normalization=None)
        >>> S.shape
        torch.Size([2, 129, 16])
        >>> lam = torch.full((1, 16), 100.0, dtype=torch.float64, requires_grad=True)
        >>> dstft(x, lam, n_fft=256, hop_length=64).abs().sum().backward()
        >>> lam.grad.shape
        torch.Size([1, 16])
    """
    xp, lam, starts, geom, batch_shape = _prepare(
        x,
        win_length,
        n_fft=n_fft,
        hop_length=hop_length,
        positions=positions,
        window=window,
        center=center,
        pad_mode=pad_mode,
        normalization=normalization,
        max_working_memory=max_working_memory,
        engine=engine,
    )
    return _apply(xp, lam, starts, geom, batch_shape)


def _apply(xp: Tensor, lam: Tensor, starts: Tensor | None, geom: K.Geometry, batch_shape):
    """Run the transform on canonical arguments; returns ``(*batch_shape, F, T)``."""
    return _DSTFTFunction.apply(
        xp, lam, starts, geom, torch.Size((*batch_shape, geom.n_bins, geom.n_frames))
    )


def spectrogram(x: Tensor, win_length: float | Tensor, *, power: float = 2.0, **kwargs) -> Tensor:
    """``|dstft(x, win_length, **kwargs)| ** power``: the (power) spectrogram.

    Args:
        power (float > 0): 1 for the magnitude, 2 for the power spectrogram. Below 1 the
            derivative of ``|S| ** power`` is infinite where ``S = 0`` (silence, frames off
            the signal), as for ``S.abs() ** power`` in torch: gradients through such bins
            are NaN; train with ``power >= 1`` there.
        **kwargs: the keyword options of :func:`dstft`.

    Shape:
        ``(..., L) -> (..., F, T)``, real.

    Example:
        >>> spectrogram(torch.randn(800), 100.0, n_fft=128, hop_length=32).shape
        torch.Size([65, 26])
    """
    check_scalar("power", power, low=0.0, low_open=True, rule="power > 0")
    mag = dstft(x, win_length, **kwargs).abs()
    return mag if power == 1 else mag**power
