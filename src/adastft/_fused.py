"""Fused direct sums for frequency-varying window lengths, compiled with ``torch.compile``.

The direct path (paper Sec. V-B) costs O(B F T N) multiply-adds whatever is done; what an eager
evaluation adds is memory traffic: every intermediate of the window ``w(u / lam)`` is a
``(F, T, N)`` tensor written and read again. Written as one broadcast expression reduced over
``m``, the sums below are fused by the compiler into loops that evaluate the window in registers
and never store a ``(B, F, T, N)`` (or even ``(F, T, N)``) tensor.

The normalisation ``c(lam)`` and the fractional-position phase depend only on ``(k, n)`` and are
applied by the caller, outside the sums. With ``v = u / lam`` and ``E = exp(-2 pi i k m / N)``:

    A[b, k, n]  = sum_m x[b, n, m] w(v) E[k, m]                          (forward, un-normalised)
    D1[k, n]    = sum_b conj(g[b, k, n]) sum_m x[b, n, m] w'(v) v E[k, m]  (for d/d lam, Eq. 9)
    D2[k, n]    = sum_b conj(g[b, k, n]) sum_m x[b, n, m] w'(v) E[k, m]    (for d/d t_n, Eq. 14)
    gx[b, n, m] = sum_k Re(conj(g[b, k, n]) c[k, n] w(v) E[k, m])          (adjoint, for d/d x)

The sums take ``values`` ``(B, T, N)``, ``lam`` ``(Bl, F, Tl)`` and ``u`` ``(Bu, Tu, N)`` (the
canonical shapes of :mod:`adastft._kernels`) and the twiddles ``cos``/``sin`` ``(F, N)``. When one
window serves a whole batch, the kernels of :func:`chunk_kernels` (compiled into one pass) and
batched matrix products are faster than the fused sums; :mod:`adastft._kernels` chooses.
"""

from __future__ import annotations

import functools
import warnings

import torch
from torch import Tensor

from .windows import Window


def _window_terms(window: Window, lam: Tensor, u: Tensor, derivative: bool):
    """``w(v)`` (and ``w'(v)``) on the open support, zero outside; broadcast ``(.., F, T, N)``."""
    v = u[:, None] / lam[..., None]  # a division: the support edge |v| = 1/2 is exact
    inside = v.abs() < 0.5
    w = None if derivative else torch.where(inside, window.fn(v), 0.0)
    dw = torch.where(inside, window.derivative(v), 0.0) if derivative else None
    return v, w, dw


def forward_sums(window: Window, values: Tensor, lam: Tensor, u: Tensor, cos: Tensor, sin: Tensor):
    """``(Re A, Im A)``, each ``(B, F, T)``."""
    _compiled_only()
    _, w, _ = _window_terms(window, lam, u, derivative=False)
    xw = values[:, None] * w
    return (xw * cos[:, None, :]).sum(-1), -(xw * sin[:, None, :]).sum(-1)


def parameter_sums(
    window: Window,
    values: Tensor,
    lam: Tensor,
    u: Tensor,
    cos: Tensor,
    sin: Tensor,
    g_re: Tensor,
    g_im: Tensor,
):
    """``Re D1`` and ``Re D2`` reduced to ``(Bw, F, T)`` (``Bw = 1`` unless per-example).

    ``Re(conj(g) sum_m x f E) = g_re sum_m x f cos - g_im sum_m x f sin`` for ``f = w'(v) v``
    (``D1``) and ``f = w'(v)`` (``D2``): four plain sums over ``m``, combined per ``(k, n)``.
    """
    _compiled_only()
    v, _, dw = _window_terms(window, lam, u, derivative=True)
    xdw = values[:, None] * dw
    xc = xdw * cos[:, None, :]
    xs = xdw * sin[:, None, :]
    d1 = g_re * (xc * v).sum(-1) - g_im * (xs * v).sum(-1)
    d2 = g_re * xc.sum(-1) - g_im * xs.sum(-1)
    if lam.shape[0] == 1 and u.shape[0] == 1:
        d1, d2 = d1.sum(0, keepdim=True), d2.sum(0, keepdim=True)
    return d1, d2


def chunk_kernels(
    window: Window,
    normalization: str | None,
    lam: Tensor,
    u: Tensor,
    cos: Tensor,
    sin: Tensor,
    lam_term: bool,
    u_term: bool,
) -> tuple[Tensor | None, ...]:
    """Real kernels ``[f cos ; -f sin]`` of one chunk of bins, for batched matrix products.

    ``f`` is ``w_lam`` and, if asked, ``D_lam`` and ``D_u`` of :meth:`Window.contracted`.
    ``lam`` ``(Bl, Tl, fc, 1)``, ``u`` ``(Bu, Tu, 1, S)``, ``cos``/``sin`` ``(fc, S)``; each
    kernel is ``(Bk, Tk, 2 fc, S)``. Returns ``(K_w, K_lam, K_u, c / lam)``, the last
    ``(Bl, Tl, fc)`` (``None`` where not asked for). Used when one kernel serves a whole batch:
    building it once and contracting with matrix products beats recomputing the window per
    example.
    """
    *terms, c_lam = window.contracted(lam, u, normalization, lam_term, u_term)
    kernels = [None if f is None else torch.cat([f * cos, f * -sin], dim=-2) for f in terms]
    return (*kernels, None if c_lam is None else c_lam[..., 0])


def frame_sums(
    window: Window, lam: Tensor, u: Tensor, cos: Tensor, sin: Tensor, gc_re: Tensor, gc_im: Tensor
):
    """``gx[b, n, m] = sum_k w(v) (gc_re cos - gc_im sin)``, ``(B, T, N)``; ``gc = c g``."""
    _compiled_only()
    _, w, _ = _window_terms(window, lam, u, derivative=False)
    proj = gc_re[..., None] * cos[:, None, :] - gc_im[..., None] * sin[:, None, :]
    return (w * proj).sum(1)


def windowed_frames(
    window: Window, normalization: str | None, values: Tensor, lam: Tensor, u: Tensor
) -> Tensor:
    """FFT path: the windowed frames ``x[b, n, m] w_lam[n](u)``, ``(B, T, N)``, in one pass.

    ``lam`` ``(Bl, 1, Tl)`` (window lengths that do not depend on frequency), ``u`` ``(Bu, Tu,
    N)``. Eagerly, evaluating ``w_lam`` costs about a dozen passes over ``(T, N)`` tensors.
    """
    _compiled_only()
    w = window.contracted(lam.transpose(1, 2), u, normalization)[0]
    return values * w


def window_gradients(window, normalization, g_inv, values, lam, u, needs, edges):
    """FFT path: :func:`adastft._kernels.window_gradients` of ``g_inv = irfft(G)``, with the
    window recomputed inside."""
    _compiled_only()
    from ._kernels import window_gradients as gradients

    return gradients(window, normalization, g_inv, values, lam, u, needs, edges)


_BROKEN: list[str] = []  # why compilation failed in this process, if it did


class _NotCompiled(RuntimeError):
    """A fused sum was about to run uncompiled (and so materialise ``(B, F, T, N)`` tensors)."""


def _compiled_only() -> None:
    """Refuse to run the fused sums eagerly.

    torch.compile runs a function uncompiled once it reaches its recompile limit
    (``torch._dynamo.config.recompile_limit``); the sums here would then build every
    ``(B, F, T, N)`` intermediate. Under compilation this check is a constant and vanishes.
    """
    if not torch.compiler.is_compiling():
        raise _NotCompiled


def available() -> bool:
    """Whether the fused sums can be compiled here (a compiler backend and no earlier failure)."""
    return not _BROKEN and torch._dynamo.is_dynamo_supported()


@functools.cache
def _compiled(name: str):
    return torch.compile(globals()[name], dynamic=None, fullgraph=True)


def call(name: str, *args):
    """Run the compiled version of the function ``name``; ``None`` means: use the eager path.

    That happens after a failure to compile (no C++ compiler, unsupported platform; reported once
    with a warning, for the rest of the process), when torch.compile would run a fused sum
    uncompiled (past its recompile limit), and inside a model that is itself being compiled
    (its compilation fuses the eager code; a nested compilation would break its graph).
    """
    if _BROKEN or torch.compiler.is_compiling():
        return None
    try:
        return _compiled(name)(*args)
    except _NotCompiled:
        return None
    except Exception as error:  # noqa: BLE001 - any backend failure means: use eager
        _BROKEN.append(f"{type(error).__name__}: {error}")
        warnings.warn(
            f"adastft: torch.compile failed for the direct DSTFT sums ({_BROKEN[0][:200]}); "
            "using the eager path",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
