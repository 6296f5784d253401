"""The inverse DSTFT: the least-squares signal of a (possibly modified) spectrum.

``idstft(S)`` returns the real signal ``x`` that minimises the distance of its DSTFT to ``S``
in the norm of the Hermitian-extended spectrum, each one-sided bin counted as often as it
appears in the full DFT::

    ||A x - S||_C^2 = sum_{k, n} c_k |A x[k, n] - S[k, n]|^2,   c_k = 1 (k = 0, N/2), else 2

with ``A x = dstft(x)``. Its minimiser solves the normal equations ``M x = Re(A^H C S)``,
``M = Re(A^H C A)``. With ``xp = P x`` the signal after ``center`` padding (``P^T``: crop, or
fold the reflected samples back onto the samples they copy), and the frames' windowed samples
``y_n[m] = xp[b_n + m] w_n(u_m)`` (notation of :mod:`adastft._kernels`):

- **window not depending on frequency**: by Parseval, ``A^H C A = N P^T diag(sum_n w_n^2) P``
  is diagonal, and ``x`` is the weighted overlap-add (WOLA)
  ``x = P^T OLA(w_n y_n) / P^T OLA(w_n^2)`` with ``y_n = irfft(S[:, n] conj(P_n))``,
  ``P_n[k] = exp(-2 pi i k delta_n / N)``: exact, and differentiable by plain autograd;
- **window depending on frequency**: conjugate gradient on the normal equations, ``A`` and
  ``A^H`` being the transform and its backward, with the Jacobi preconditioner
  ``diag(M) = P^T OLA(sum_k c_k w_k,n^2)`` (the reflected samples' cross terms left out),
  warm-started from the WOLA of the frequency-averaged window lengths. It is differentiated
  implicitly (:class:`_LeastSquares`), not by unrolling the iterations.

Samples that no window covers (``w = 0`` there for every frame) do not enter ``A x``; the
minimum-norm solution sets them to 0, with a warning.
"""

from __future__ import annotations

import dataclasses
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _kernels as K
from ._dstft import _DSTFTFunction, _prepare, first_order_backward
from ._validation import check_n_fft, check_scalar
from .windows import Window

__all__ = ["idstft"]

DEFAULT_TOL = {torch.float32: 1e-6, torch.float64: 1e-10}  # relative residual of the CG
DEFAULT_MAX_ITER = 500
_MAX_RANGES_SHOWN = 5  # uncovered sample ranges named in the warning


@dataclasses.dataclass(frozen=True)
class _Problem:
    """The operator ``A: x (B, L) -> dstft(x) (B, F, T)`` apart from its tensors, and the
    settings of the conjugate gradient."""

    geom: K.Geometry
    center: bool
    pad_mode: str
    length: int
    tol: float
    max_iter: int

    @property
    def padded_length(self) -> int:
        return self.length + 2 * (self.geom.n_fft // 2) if self.center else self.length

    def pad(self, x: Tensor) -> Tensor:
        """``P x``: the ``center`` padding of :func:`adastft.dstft`, ``(B, L) -> (B, Lp)``."""
        h = self.geom.n_fft // 2
        return F.pad(x[:, None], (h, h), mode=self.pad_mode)[:, 0] if self.center else x

    def fold(self, v: Tensor) -> Tensor:
        """``P^T v``: crop, adding each reflected sample onto the one it copies (``reflect``)."""
        if not self.center:
            return v
        h, length = self.geom.n_fft // 2, self.length
        x = v[:, h : h + length]
        if self.pad_mode == "reflect":  # xp[h - j] = x[j] and xp[h + L - 1 + j] = x[L - 1 - j]
            x = x + F.pad(v[:, :h].flip(-1), (1, length - h - 1))
            x = x + F.pad(v[:, h + length :].flip(-1), (length - h - 1, 1))
        return x

    def apply(self, x: Tensor, lam: Tensor, starts: Tensor | None) -> Tensor:
        """``A x``, with the transform's analytic gradients."""
        return _DSTFTFunction.apply(self.pad(x), lam, starts, self.geom)

    def adjoint(self, grad: Tensor, lam: Tensor, starts: Tensor | None) -> Tensor:
        """``Re(A^H G)``: the transform's backward at ``G``, ``(B, F, T) -> (B, L)``.

        Parameters are detached: no gradient to them is computed or kept.
        """
        with torch.enable_grad():
            x = grad.real.new_zeros(grad.shape[0], self.length, requires_grad=True)
            spec = self.apply(x, lam.detach(), None if starts is None else starts.detach())
            return torch.autograd.grad(spec, x, grad)[0]

    def normal(self, p: Tensor, lam: Tensor, starts: Tensor | None) -> Tensor:
        """``M p = Re(A^H C A p)``: one transform and its backward (parameters detached)."""
        with torch.enable_grad():
            p = p.detach().requires_grad_()
            spec = self.apply(p, lam.detach(), None if starts is None else starts.detach())
            weighted = _bin_weights(spec.shape[-2], spec) * spec.detach()
            return torch.autograd.grad(spec, p, weighted)[0]


def _bin_weights(n_bins: int, like: Tensor) -> Tensor:
    """``c_k`` as an ``(F, 1)`` column of ``like``'s real dtype: 1 for bins 0 and N/2, else 2."""
    c = torch.full((n_bins, 1), 2.0, dtype=like.real.dtype, device=like.device)
    c[[0, -1]] = 1.0
    return c


def _wola(spec: Tensor, lam: Tensor, starts: Tensor | None, prob: _Problem):
    """The exact solution for windows not depending on frequency (``lam`` ``(Bl, 1, Tl)``).

    Returns ``(x, den)``: ``x = P^T OLA(w y) / P^T OLA(w^2)`` ``(B, L)`` and the denominator
    ``(Bw, L)``, zero exactly at the samples no window covers (where ``x`` is 0).
    """
    geom = dataclasses.replace(prob.geom, support=None)  # whole frames, as on the FFT path
    n, t = geom.n_fft, geom.n_frames
    frame_batch = 1 if starts is None else starts.shape[0]
    frames = K.make_frames(lam.new_zeros(frame_batch, prob.padded_length), starts, geom)
    w = K.fft_window(lam, frames, geom)[0]  # (Bw, T or 1, N)
    if frames.delta is not None:
        spec = spec * K.phase(frames.delta, n, spec.dtype).conj()
    y = torch.fft.irfft(spec.transpose(1, 2), n=n)  # (B, T, N): the windowed samples
    num = prob.fold(K.overlap_add(w * y, frames, geom, prob.padded_length))
    den = prob.fold(K.overlap_add((w * w).expand(-1, t, -1), frames, geom, prob.padded_length))
    return num / torch.where(den > 0, den, 1.0), den


def _diagonal(lam: Tensor, starts: Tensor | None, prob: _Problem) -> Tensor:
    """``diag(M) = P^T OLA(sum_k c_k w_lam[k,n](u)^2)``, ``(Bd, L)``, in chunks of bins.

    Each chunk makes a ``(Bd, fc, T, S)`` tensor of window values only (the kernels' chunk
    sizes); with ``reflect`` padding the cross terms between a sample and its reflection are
    left out, which keeps a positive preconditioner with the zeros of the exact diagonal.
    """
    geom = prob.geom
    frame_batch = 1 if starts is None else starts.shape[0]
    frames = K.make_frames(lam.new_zeros(frame_batch, prob.padded_length), starts, geom)
    c = _bin_weights(geom.n_bins, lam)[:, 0]
    total = 0.0
    for bins in K._chunks(frames, lam, geom, engine="eager"):
        w = geom.window.contracted(lam[:, bins, :, None], frames.u[:, None], geom.normalization)[0]
        total = total + torch.einsum("f,bftm->btm", c[bins], w * w)
    total = total.expand(-1, geom.n_frames, -1)
    return prob.fold(K.overlap_add(total, frames, geom, prob.padded_length))


def _cg(normal, b: Tensor, x: Tensor, diag: Tensor, prob: _Problem) -> Tensor:
    """Solve ``M x = b`` by Jacobi-preconditioned conjugate gradient, starting from ``x``.

    ``M`` is symmetric positive semi-definite with ``b`` and ``x`` in its range (zero where
    ``diag`` is). Each example (row) has its own step sizes and stops at
    ``||b - M x|| <= tol ||b||``; a warning says if ``max_iter`` iterations were not enough.
    The residual that the iteration updates drifts from the true one near the precision's
    limit: when it says converged, the true residual is computed, and the iteration restarts
    from it if it is not.
    """
    inv_diag = torch.where(diag > 0, 1.0 / diag, 0.0)
    b_norm = torch.linalg.vector_norm(b, dim=-1, keepdim=True)
    r = b - normal(x)
    z = inv_diag * r
    p = z
    rz = (r * z).sum(-1, keepdim=True)
    verified = True  # r is the true residual b - M x
    for _ in range(prob.max_iter):
        active = torch.linalg.vector_norm(r, dim=-1, keepdim=True) > prob.tol * b_norm
        if not bool(active.any()):
            if verified:
                return x
            r, verified = b - normal(x), True  # restart from the true residual
            z = p = inv_diag * r
            rz = (r * z).sum(-1, keepdim=True)
            continue
        verified = False
        q = normal(p)
        alpha = torch.where(active, rz / (p * q).sum(-1, keepdim=True), 0.0)
        x = x + alpha * p
        r = r - alpha * q
        z = inv_diag * r
        rz, rz_old = (r * z).sum(-1, keepdim=True), rz
        p = z + torch.where(active, rz / rz_old, 0.0) * p
    if not verified:
        r = b - normal(x)
    residual = (torch.linalg.vector_norm(r, dim=-1, keepdim=True) / b_norm).nan_to_num().max()
    residual = residual.item()
    if residual > prob.tol:
        warnings.warn(
            f"idstft: conjugate gradient stopped after max_iter={prob.max_iter} iterations at "
            f"relative residual {residual:.2e} > tol={prob.tol:g}; raise max_iter or tol",
            UserWarning,
            stacklevel=2,
        )
    return x


class _LeastSquares(torch.autograd.Function):
    """``x = M^-1 Re(A^H C S)`` by :func:`_cg`, differentiated implicitly.

    For an incoming gradient ``g`` and ``z = M^-1 g`` (one more solve): ``dL/dS = C A z``, and
    differentiating ``M x = Re(A^H C S)`` in the parameters ``theta`` (``lam``, ``starts``)::

        dL/dtheta = Re <C (S - A x), dA/dtheta z> - Re <C A z, dA/dtheta x>

    the sum of two vector-Jacobian products of the transform.
    """

    @staticmethod
    def forward(ctx, spec, lam, starts, prob: _Problem, x0: Tensor, diag: Tensor):
        b = prob.adjoint(_bin_weights(spec.shape[-2], spec) * spec, lam, starts)
        x = _cg(lambda p: prob.normal(p, lam, starts), b, x0, diag, prob)
        ctx.prob = prob
        ctx.save_for_backward(spec, lam, starts, x, diag)
        return x

    @staticmethod
    def backward(ctx, grad: Tensor):
        return first_order_backward(_least_squares_backward, ctx, grad)  # saved: spec, lam, starts


def _least_squares_backward(ctx, grad: Tensor):
    """:meth:`_LeastSquares.backward`: the implicit gradients of the least-squares solution."""
    spec, lam, starts, x, diag = ctx.saved_tensors
    prob: _Problem = ctx.prob
    need_spec, need_lam, need_starts = ctx.needs_input_grad[:3]
    grad = torch.where(diag > 0, grad, 0.0)  # uncovered samples are 0 whatever S is
    z = _cg(lambda p: prob.normal(p, lam, starts), grad, torch.zeros_like(grad), diag, prob)
    c = _bin_weights(spec.shape[-2], spec)
    grad_lam = grad_starts = None
    with torch.enable_grad():
        lam_ = lam.detach().requires_grad_(need_lam)
        starts_ = None if starts is None else starts.detach().requires_grad_(need_starts)
        a_z = prob.apply(z, lam_, starts_)
        if need_lam or need_starts:
            a_x = prob.apply(x, lam_, starts_)
            params = [t for t, need in ((lam_, need_lam), (starts_, need_starts)) if need]
            cotangents = (c * (spec - a_x.detach()), -c * a_z.detach())
            grads = iter(torch.autograd.grad((a_z, a_x), params, cotangents))
            grad_lam = next(grads) if need_lam else None
            grad_starts = next(grads) if need_starts else None
    grad_spec = c * a_z.detach() if need_spec else None
    return grad_spec, grad_lam, grad_starts, None, None, None


def _warn_uncovered(uncovered: Tensor) -> None:
    """Warn, naming the ranges of samples (``(Bd, L)`` mask) that no window covers."""
    union = uncovered.any(0)
    if not bool(union.any()):
        return
    edge = union.new_zeros(1, dtype=torch.int8)
    bounds = torch.diff(union.to(torch.int8), prepend=edge, append=edge).nonzero()[:, 0].tolist()
    ranges = [f"[{a}, {b})" for a, b in zip(bounds[::2], bounds[1::2], strict=True)]
    if len(ranges) > _MAX_RANGES_SHOWN:
        ranges = [*ranges[:_MAX_RANGES_SHOWN], f"{len(ranges) - _MAX_RANGES_SHOWN} more ranges"]
    listed = ", ".join(ranges[:-1]) + " and " + ranges[-1] if len(ranges) > 1 else ranges[0]
    where = " in some examples" if bool((uncovered != union).any()) else ""
    warnings.warn(
        f"idstft: samples {listed} are covered by no window{where}; they are set to 0",
        UserWarning,
        stacklevel=3,
    )


def _check_spectrum(spec: object) -> Tensor:
    """``S``: a complex64 or complex128 tensor ``(..., F, T)``."""
    if not isinstance(spec, Tensor):
        raise TypeError(f"S must be a torch.Tensor; got {type(spec).__name__}")
    if spec.dtype not in (torch.complex64, torch.complex128):
        raise TypeError(f"S must be a complex tensor (complex64 or complex128); got {spec.dtype}")
    if spec.dim() < 2:
        raise ValueError(f"S must have shape (..., F, T); got {tuple(spec.shape)}")
    return spec


def idstft(
    S: Tensor,
    win_length: float | Tensor,
    *,
    n_fft: int,
    hop_length: float | Tensor | None = None,
    positions: Tensor | None = None,
    length: int,
    window: str | Window = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    normalization: str | None = "amplitude",
    tol: float | None = None,
    max_iter: int | None = None,
) -> Tensor:
    r"""Inverse DSTFT: the least-squares signal whose :func:`adastft.dstft` is closest to ``S``.

    .. math::

        x = \arg\min_x \sum_{k, n} c_k \left|\mathrm{dstft}(x)[k, n] - S[k, n]\right|^2,
        \qquad c_k = 1 \ (k = 0, N/2), \quad c_k = 2 \text{ otherwise}

    the norm of the Hermitian-extended spectrum (Parseval). Window lengths that do not depend
    on frequency give the closed-form weighted overlap-add
    :math:`x = \sum_n w_n y_n / \sum_n w_n^2` (:math:`y_n` the inverse FFT of frame ``n``),
    exact to rounding when ``S`` is a DSTFT with the same parameters; frequency-dependent ones
    a Jacobi-preconditioned conjugate gradient on the normal equations, differentiated
    implicitly (one more solve in the backward pass), as exact as ``tol`` times the normal
    equations' conditioning allows (a relative error of ``4e-10`` in float64 and ``3e-5`` in
    float32 for lengths from ``N`` down to ``N / 8`` at ``N = 128``, where a dense solve
    reaches ``2e-14`` and ``4e-7``).

    Samples that no window covers (every window is 0 there; a sample at exactly
    ``|s - t_n| = lam / 2`` is not covered by frame ``n``) do not affect ``dstft(x)``: they
    are set to 0 (the minimum-norm solution) and a ``UserWarning`` names their ranges.

    Args:
        S (Tensor): complex spectrum ``(..., F, T)``, complex64 or complex128; need not be a
            DSTFT. Differentiable.
        win_length (float or Tensor, 0 < lam <= n_fft): window lengths, as in
            :func:`adastft.dstft` (``(1, 1)``, ``(1, T)``, ``(F, 1)``, ``(F, T)``, leading
            dims per example), of the real dtype of ``S``. Differentiable.
        n_fft (int, even >= 2): DFT size ``N``; ``F = N // 2 + 1``.
        hop_length (float or 0-dim Tensor > 0, optional): constant hop, as in
            :func:`adastft.dstft` (default ``max(1, N // 4)``). Differentiable if a tensor.
        positions (Tensor, optional): real frame centres ``(..., T)`` instead of
            ``hop_length``. Differentiable.
        length (int >= 1): ``L``, the number of samples of the signal; ``T`` must be the frame
            count of ``hop_length`` for ``L`` (or ``positions.shape[-1]``). ``L > N // 2``
            with ``pad_mode="reflect"``, ``L >= N`` with ``center=False``.
        window (str or Window): as in :func:`adastft.dstft`.
        center (bool): as in :func:`adastft.dstft`.
        pad_mode (str): ``"constant"`` or ``"reflect"``, as in :func:`adastft.dstft`; the
            reflected samples count in the least-squares fit of the samples they copy.
        normalization (str or None): as in :func:`adastft.dstft`.
        tol (float > 0, optional): frequency-dependent windows only: the conjugate gradient
            stops when ``||b - M x|| <= tol ||b||`` for the normal equations ``M x = b``
            (per example), the residual as the iteration updates it, which drifts from the true
            one near the precision's limit: a ``tol`` below about ``1e-7`` in float32 may stop
            there without being met. Default ``1e-6`` (float32) or ``1e-10`` (float64).
        max_iter (int >= 1, optional): frequency-dependent windows only: iterations of the
            conjugate gradient (each one transform and its adjoint) before it stops with a
            warning. Default 500.

    Returns:
        Tensor: real ``(..., L)``, float32 for complex64 ``S``, float64 for complex128.

    Shape:
        ``S (..., F, T)``, ``win_length`` broadcastable to ``(..., F, T)`` -> ``(..., L)``;
        the batch dims are those of ``S``, ``win_length`` and ``positions`` broadcast.

    Example:
        >>> from adastft import dstft
        >>> x = torch.randn(2, 400, dtype=torch.float64)
        >>> S = dstft(x, 50.0, n_fft=64, hop_length=16)
        >>> S.shape
        torch.Size([2, 33, 26])
        >>> bool(torch.allclose(idstft(S, 50.0, n_fft=64, hop_length=16, length=400), x))
        True
        >>> lam = torch.linspace(64.0, 24.0, 33, dtype=torch.float64)[:, None]  # (F, 1)
        >>> S = dstft(x, lam, n_fft=64, hop_length=16)
        >>> bool(torch.allclose(idstft(S, lam, n_fft=64, hop_length=16, length=400), x))
        True
    """
    S = _check_spectrum(S)
    length = int(check_scalar("length", length, low=1, integer=True, rule="an int >= 1"))
    n = check_n_fft(n_fft)
    if center and pad_mode == "reflect" and length <= n // 2:
        raise ValueError(
            f"length must be more than n_fft // 2 (={n // 2}) for pad_mode='reflect'; got {length}"
        )
    if not center and length < n:
        raise ValueError(f"length must be at least n_fft (={n}) with center=False; got {length}")
    real = torch.float32 if S.dtype == torch.complex64 else torch.float64
    for name, value in (("win_length", win_length), ("positions", positions)):
        # Checked here, not by the transform's checks, which would name its signal x.
        if isinstance(value, Tensor) and value.is_floating_point() and value.dtype != real:
            raise TypeError(
                f"{name} must have the real dtype of S ({real} for {S.dtype}); "
                f"got dtype {value.dtype}"
            )
    tol = DEFAULT_TOL[real] if tol is None else tol
    max_iter = DEFAULT_MAX_ITER if max_iter is None else max_iter
    check_scalar("tol", tol, low=0.0, low_open=True, rule="tol > 0")
    check_scalar("max_iter", max_iter, low=1, integer=True, rule="an int >= 1")
    signal = torch.zeros((), dtype=real, device=S.device).expand(*S.shape[:-2], length)
    _, lam, starts, geom, batch_shape = _prepare(
        signal,
        win_length,
        n_fft=n_fft,
        hop_length=hop_length,
        positions=positions,
        window=window,
        center=center,
        pad_mode=pad_mode,
        normalization=normalization,
    )
    if S.shape[-2:] != (geom.n_bins, geom.n_frames):
        raise ValueError(
            f"S must have shape (..., F, T) = (..., {geom.n_bins}, {geom.n_frames}) (F = "
            f"n_fft // 2 + 1; T frames for length={length}); got {tuple(S.shape)}"
        )
    spec = S.expand(*batch_shape, *S.shape[-2:]).reshape(-1, *S.shape[-2:])
    lam = K.canonical_lam(lam)
    prob = _Problem(geom, center, pad_mode, length, float(tol), int(max_iter))
    if lam.shape[-2] == 1:
        x, diag = _wola(spec, lam, starts, prob)
    else:
        with torch.no_grad():
            diag = _diagonal(lam, starts, prob)
            x0 = _wola(spec, lam.mean(-2, keepdim=True), starts, prob)[0]
            x0 = torch.where(diag > 0, x0, 0.0)
        x = _LeastSquares.apply(spec, lam, starts, prob, x0, diag)
    _warn_uncovered(diag == 0)
    return x.reshape(*batch_shape, length)
