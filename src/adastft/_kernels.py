"""The DSTFT kernels: framing, the FFT path, the direct-sum path, and their adjoints.

Everything here works on canonical shapes prepared by :mod:`adastft._dstft`:

- ``xp`` ``(B, Lp)``: the signal after ``center`` padding; samples outside are zero.
- ``lam`` ``(Bl, Fl, Tl)``: window lengths, ``Bl in {1, B}``, ``Fl in {1, F}``, ``Tl in {1, T}``
  (:func:`canonical_lam` of what :func:`adastft._dstft._canonical` passes on).
- ``starts`` ``(Bs, T)`` or ``None``: real frame starts ``a_n = t_n - N/2`` in samples of ``xp``
  (``None``: the integer grid ``a_n = n * hop``), of ``xp``'s dtype or float64 (an exact grid,
  split into ``b_n`` and ``delta_n`` before ``delta_n`` takes ``xp``'s dtype).

With ``b_n = ceil(a_n)`` and ``delta_n = b_n - a_n`` in ``[0, 1)``, every sample of the open
support ``|s - t_n| < lam / 2 <= N / 2`` is ``s = b_n + m`` for some ``m`` in ``[0, N)``, and
SPEC.md's sum becomes, with ``u = m + delta_n - N/2`` (distance to the centre)::

    S[k, n] = exp(-2 pi i k delta_n / N) * sum_m x[b_n + m] w_lam[k,n](u) exp(-2 pi i k m / N)

When ``lam`` does not depend on ``k`` the sum is an ``rfft`` of the windowed frame (the FFT
path, O(T N log N); windows of many values are evaluated on the samples the longest one
reaches only, and with engine "compiled" inside fused kernels,
:func:`adastft._fused.windowed_frames` and :func:`window_gradients`); otherwise it is
evaluated directly (paper Sec. V-B), over the ``S <= N`` samples that the longest window
reaches (:func:`support`): in chunks of frequency bins with matrix products (engine "eager")
or as sums fused by ``torch.compile`` (engine "compiled", :mod:`adastft._fused`). No
``(B, F, T, N)`` tensor ever exists.

Gradients (paper Sec. IV, Eqs. 9-24) are the inner products of the incoming gradient ``G`` with
DSTFTs whose window is ``d w_lam / d lam`` or ``-d w_lam / d u`` (plus, for positions, the phase
term ``2 pi i k / N * S``). On the FFT path they are evaluated in adjoint order — one inverse
FFT of ``G`` gives ``g_y``, the gradient of every windowed sample, and then
``grad_lam = sum_m g_y x dw/dlam`` — which is the same sum with one transform instead of two.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _fused
from .windows import KAPPA, Window

# Bytes per chunk of bins of the direct path (measured fastest with either engine): the eager
# engine's chunks are cache-sized (larger ones measured slower, from page faults and cache
# misses).
DEFAULT_WORKING_MEMORY = 4 * 2**20
# (Bk, Tk, fc, S)-sized tensors alive at once per chunk in the direct backward: the eager
# window evaluation's intermediates, or the three compiled kernels (cos and sin rows per bin).
# Counting the compiled engine's real working set gives it twice the bins per chunk: fewer,
# better shaped matrix products (B = 16, N = 256, T = 63, lam = N: 39 ms a step -> 26 ms).
_TEMPORARIES = {"eager": 12, "compiled": 6}
FUSED_MAX_BATCH = 4  # from this batch size, a shared kernel is built once and used by matmuls


@dataclass(frozen=True)
class Geometry:
    """Static description of one transform (everything but the tensors)."""

    n_fft: int
    n_frames: int
    window: Window
    normalization: str | None
    hop: int | None  # integer-grid hop when ``starts`` is None
    max_working_memory: int | None  # bytes per chunk of the direct path; None: the default
    engine: str = "eager"  # "eager", or "compiled" (fused sums; fused windows on the FFT path)
    support: tuple[int, int] | None = None  # the frame samples m in [lo, hi) used (None: all)

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1


@dataclass
class Frames:
    """The samples ``x[b_n + m]``, ``m`` in the support ``[lo, hi)``, and their geometry."""

    values: Tensor  # (B, T, S) real, S = hi - lo
    u: Tensor  # (Bs or 1, T or 1, S): distance of each sample to its frame centre
    delta: Tensor | None  # (Bs, T) in [0, 1), None on the integer grid
    index: Tensor | None  # (Bs, T, S) long indices into the zero-extended signal
    offset: int = 0  # lo: the first sample of the support within the N-sample frame


def make_frames(xp: Tensor, starts: Tensor | None, geom: Geometry) -> Frames:
    """Cut ``xp`` into ``T`` frames starting at ``b_n = ceil(a_n)``, keeping the support only.

    Samples ``m`` outside ``geom.support`` are outside every window: they are never read, and
    each kernel works on ``S = hi - lo`` samples per frame instead of ``N``.
    """
    n, t = geom.n_fft, geom.n_frames
    lo, hi = geom.support or (0, n)
    batch, length = xp.shape
    offsets = _support_offsets(n, lo, hi, xp.dtype, xp.device)
    if starts is None:
        # The integer grid of T = 1 + (Lp - N) // hop frames lies inside xp: a strided view.
        values = xp.unfold(-1, n, geom.hop)
        if values.shape[1] != t or hi - lo != n:
            values = values[:, :t, lo:hi]
        return Frames(values, offsets, None, None, lo)
    first = torch.ceil(starts)
    delta = (first - starts).to(xp.dtype)  # starts may be float64 (an exact grid)
    m = torch.arange(lo, hi, device=xp.device)
    # N zeros on each side: a frame is clamped to start in [-N, Lp] and then reads inside.
    xz = F.pad(xp, (n, n))
    # NaN starts (a layer's learnt positions gone NaN: not checked in its forward) read zeros;
    # their fraction is NaN, and so is their column of S.
    index = (first.nan_to_num(nan=-n).clamp(-n, length).long() + n)[..., None] + m
    if index.shape[0] == 1:
        values = xz[:, index[0]]
    else:
        values = torch.gather(xz, 1, index.reshape(batch, -1)).view(batch, t, hi - lo)
    return Frames(values, delta[..., None] + offsets, delta, index, lo)


def lam_layout(shape: torch.Size) -> tuple[int, int, int]:
    """``(Bl, Fl, Tl)`` of window lengths of ``shape``: 0-dim, or ``(..., Fl, Tl)`` whose
    leading dimensions flatten to ``Bl``."""
    return (shape[:-2].numel(), *shape[-2:]) if len(shape) > 1 else (1, 1, 1)


def canonical_lam(lam: Tensor) -> Tensor:
    """Window lengths as ``(Bl, Fl, Tl)`` (:func:`lam_layout`), by a reshape."""
    return lam if lam.dim() == 3 else lam.reshape(lam_layout(lam.shape))


def _cached(fn):
    """Memoise a function of hashable arguments (a constant-tensor factory, a static layout),
    except while torch.compile traces (it bakes constants into the graph itself, and does not
    trace through caches)."""
    cached = functools.lru_cache(maxsize=16)(fn)

    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args) if torch.compiler.is_compiling() else cached(*args)

    return wrapper


@_cached
def _offsets(n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``m - N/2`` for ``m`` in ``[0, N)``: the distance of each frame sample to the centre."""
    return torch.arange(-(n // 2), n - n // 2, dtype=dtype, device=device)


@_cached
def _support_offsets(n: int, lo: int, hi: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """:func:`_offsets` of the support ``[lo, hi)``, shape ``(1, 1, S)``."""
    return _offsets(n, dtype, device)[lo:hi].view(1, 1, -1)


def overlap_add(grad_frames: Tensor, frames: Frames, geom: Geometry, length: int) -> Tensor:
    """Adjoint of :func:`make_frames`: add every frame sample back where it was read.

    Shape: ``(B, T, S) -> (B, Lp)``.
    """
    n, t = geom.n_fft, geom.n_frames
    batch, _, size = grad_frames.shape
    if frames.index is None:
        # Integer grid: cut each frame into r blocks of one hop (the last one zero-padded);
        # block j of frame i lands on block i + j. r additions, no index tensor.
        hop = geom.hop
        r = -(-size // hop)
        if r * hop != size:
            grad_frames = F.pad(grad_frames, (0, r * hop - size))
        blocks = grad_frames.reshape(batch, t, r, hop)
        # Frame n's support starts at n * hop + lo; the last block may reach past the signal.
        lo = frames.offset
        out = grad_frames.new_zeros(batch, max(length, lo + (t + r - 1) * hop))
        grid = out[:, lo : lo + (t + r - 1) * hop].view(batch, t + r - 1, hop)
        for j in range(r):
            grid[:, j : j + t] += blocks[:, :, j]
        return out[:, :length]
    xz = grad_frames.new_zeros(batch, length + 2 * n)
    flat = grad_frames.reshape(batch, -1)
    if frames.index.shape[0] == 1:
        xz.index_add_(1, frames.index.reshape(-1), flat)
    else:
        xz.scatter_add_(1, frames.index.reshape(batch, -1), flat)
    return xz[:, n : n + length]


def phase(delta: Tensor, n_fft: int, dtype: torch.dtype) -> Tensor:
    """``exp(-2 pi i k delta_n / N)``, shape ``(Bs, F, T)``."""
    k = torch.arange(n_fft // 2 + 1, device=delta.device, dtype=delta.dtype)
    return torch.polar(
        torch.ones((), dtype=delta.dtype, device=delta.device),
        (-2 * math.pi / n_fft) * k[:, None] * delta[:, None, :],
    ).to(dtype)


def reduce_to(grad: Tensor, shape: torch.Size) -> Tensor:
    """Sum ``grad`` over the dimensions where ``shape`` is 1 (the adjoint of broadcasting)."""
    if grad.shape == shape:
        return grad
    dims = [i for i, (g, s) in enumerate(zip(grad.shape, shape, strict=True)) if s == 1 and g != 1]
    return grad.sum(dims, keepdim=True) if dims else grad


# --------------------------------------------------------------------------------------------
# FFT path: the window does not depend on frequency (lam of shape (Bl, 1, Tl)).


def fft_window(
    lam: Tensor, frames: Frames, geom: Geometry, lam_term: bool = False, u_term: bool = False
):
    """Per-frame windows ``w_lam[n](u)``, shape ``(Bw, Tw, S)``, and if asked the derivative
    terms ``D_lam``, ``D_u`` and their factor ``c / lam`` ``(Bw, Tw, 1)``
    (:meth:`adastft.Window.contracted`)."""
    return geom.window.contracted(_per_frame(lam), frames.u, geom.normalization, lam_term, u_term)


def _per_frame(lam: Tensor) -> Tensor:
    """Window lengths ``(Bl, 1, Tl)`` as ``(Bl, Tl, 1)``, against samples ``(B, T, S)``."""
    return lam if lam.shape[-1] == 1 else lam.transpose(1, 2)


def fft_forward(frames: Frames, lam: Tensor, geom: Geometry, terms_for: tuple = (False, False)):
    """``S = P * rfft(x_frame * w_lam)``, shape ``(B, F, T)`` complex.

    The frames hold the ``S`` samples of ``geom.support`` (all ``N`` for a window of ``N``
    values, where cutting saves less than the padding back to ``N`` costs): the windowed frames
    are padded back to ``N`` samples for the transform.

    Returns ``(S, terms)`` with ``terms = (w_lam, D_lam, D_u, c / lam)`` of :func:`fft_window`
    (``terms_for``: whether to evaluate ``D_lam`` and ``D_u``; ``None`` where not), which
    :func:`fft_backward` can reuse.
    """
    values, n = frames.values, geom.n_fft
    lo, size = frames.offset, values.shape[-1]
    windowed = None
    if _fuse_window(lam, frames, geom):
        windowed = _fused.call(
            "windowed_frames", geom.window, geom.normalization, values, lam, frames.u
        )
        if windowed is not None and size != n:  # outside every window's support: zeros
            windowed = F.pad(windowed, (lo, n - lo - size))
    if windowed is None:
        terms = fft_window(lam, frames, geom, *terms_for)
        if size == n:
            windowed = values * terms[0]
        else:  # the product is written into zero frames of N samples
            windowed = values.new_zeros(*values.shape[:-1], n)
            torch.mul(values, terms[0], out=windowed[..., lo : lo + size])
    else:  # fused: the backward recomputes the window, fused with its own products
        terms = (None, None, None, None)
    spec = torch.fft.rfft(windowed, dim=-1).transpose(1, 2)
    if frames.delta is not None:
        spec = spec * phase(frames.delta, geom.n_fft, spec.dtype)
    return spec, terms


def _fuse_window(lam: Tensor, frames: Frames, geom: Geometry) -> bool:
    """Whether the compiled engine fuses the window into the FFT path's elementwise work.

    Only windows of many values are worth it: one per frame (``Tl > 1``), per example, or at
    fractional positions (``u`` per frame). A constant window on the integer grid is ``N``
    values, cheaper to evaluate eagerly than to call a compiled kernel for.
    """
    return geom.engine == "compiled" and (
        lam.shape[0] > 1 or lam.shape[-1] > 1 or frames.u.shape[1] > 1
    )


def fft_backward(
    grad: Tensor,
    frames: Frames,
    lam: Tensor,
    geom: Geometry,
    needs: tuple,
    terms: tuple | None = None,
):
    """Gradients of the FFT path w.r.t. the frames, ``lam`` and the starts.

    ``g_y[m] = Re(sum_k G[k] conj(P[k]) exp(2 pi i k m / N))`` over the one-sided bins is the
    gradient of every windowed sample ``y = x_frame * w``. ``irfft`` (unnormalised) counts the
    bins ``0 < k < N/2`` twice, as a Hermitian spectrum, and bins ``0`` and ``N/2`` once: with
    the factors ``(-1, -1/2, ..., -1/2, -1)`` it gives ``-g_y`` in one inverse transform, the
    sign that the window derivatives' common factor wants (:func:`window_gradients`).

    ``terms``: the windows of :func:`fft_forward`, if it kept them (else recomputed).
    Returns ``grad_frames`` ``(B, T, S)`` (the frames' support only), ``grad_lam``
    ``(Bw, 1, Tw)`` and ``grad_starts`` ``(Bw, Tw)``, summed over the frames of each window
    (the caller reduces further to the parameters' shapes).
    """
    g = grad.transpose(1, 2)  # (B, T, F)
    shift = None  # conj(P) of fractional positions, (Bs, T, F)
    if frames.delta is not None:
        shift = phase(frames.delta, geom.n_fft, grad.dtype).conj().transpose(1, 2)
    support = slice(frames.offset, frames.offset + frames.values.shape[-1])
    args = (geom.window, geom.normalization)
    if terms is None and _fuse_window(lam, frames, geom):
        # The factors are applied inside the fused kernel, with the real parts of bins 0 and
        # N/2 times 1 and (-1)^m, instead of in a copy of G.
        g = g if shift is None else g * shift
        g_inv = torch.fft.irfft(g, n=geom.n_fft, dim=-1, norm="forward")[..., support]
        alternating = _alternating(geom.n_fft, g_inv.dtype, g.device)[support]
        edges = (g[..., :: geom.n_bins - 1].real, alternating)
        args = (*args, g_inv, frames.values, lam, frames.u, needs, edges)
        fused = _fused.call("window_gradients", *args)
        return fused if fused is not None else window_gradients(*args)
    # A contiguous copy of G conj(P) times the factors, that irfft reads in place of its own
    # copy of a strided G.
    factors = _adjoint_factors(geom.n_bins, frames.values.dtype, g.device)
    if shift is not None:
        factors = shift * factors
    bins = torch.empty(g.shape, dtype=g.dtype, device=g.device)
    torch.mul(g, factors, out=bins)
    g_neg = torch.fft.irfft(bins, n=geom.n_fft, dim=-1, norm="forward")
    if g_neg.shape[-1] != frames.values.shape[-1]:
        g_neg = g_neg[..., support]
    return window_gradients(*args, g_neg, frames.values, lam, frames.u, needs, None, terms)


@_cached
def _adjoint_factors(n_bins: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(-1, -1/2, ..., -1/2, -1)``: ``irfft`` of ``G`` times these is ``-g_y``
    (:func:`fft_backward`)."""
    factors = torch.full((n_bins,), -0.5, dtype=dtype, device=device)
    factors[:: n_bins - 1] = -1.0
    return factors


@_cached
def _alternating(n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(-1)^m`` for ``m`` in ``[0, N)``: bin ``N/2`` of an inverse DFT."""
    return 1.0 - 2.0 * (torch.arange(n, device=device) % 2).to(dtype)


def window_gradients(
    window: Window,
    normalization: str | None,
    g_neg: Tensor,
    values: Tensor,
    lam: Tensor,
    u: Tensor,
    needs: tuple,
    edges: tuple | None = None,
    terms: tuple | None = None,
):
    """From ``-g_y`` ``(B, T, S)`` to the gradients of the frames, ``lam`` and the starts.

    With ``d w / d lam = -(c / lam) D_lam`` and ``d w / d u = (c / lam) D_u``
    (:meth:`adastft.Window.contracted`)::

        grad_frames = g_y w
        grad_lam    =  sum_m g_y x dw/dlam = (c / lam) sum_m (-g_y) x D_lam
        grad_starts = -sum_m g_y x dw/du   = (c / lam) sum_m (-g_y) x D_u

    the sums reduced to the window's frames: ``(Bw, 1, Tw)`` (the layout of ``lam``) and
    ``(Bw, Tw)`` (that of the starts), and scaled by ``c / lam`` once per frame.
    ``edges = (E, (-1)^m)``: ``g_neg`` is then ``irfft(G)`` as it comes, which counts every
    bin twice but 0 and N/2, and ``-g_y = -(irfft(G) + E_0 + E_{N/2} (-1)^m) / 2`` is formed
    here from the real parts ``E`` ``(B, T, 2)`` of bins 0 and N/2.
    ``terms``: ``(w, D_lam, D_u, c / lam)`` of :func:`fft_window` if kept by the forward, else
    recomputed.
    Elementwise products and sums only: :mod:`adastft._fused` compiles this very function.
    """
    need_x, need_lam, need_starts = needs
    if edges is not None:
        g_neg = (g_neg + edges[0][..., :1] + edges[0][..., 1:] * edges[1]).mul_(-0.5)
    if terms is None:
        terms = window.contracted(_per_frame(lam), u, normalization, need_lam, need_starts)
    w, d_lam, d_u, c_lam = terms  # those that are not needed may be None
    grad_frames = g_neg * w.neg() if need_x else None
    grad_lam = grad_starts = None
    if need_lam or need_starts:
        g_w = g_neg * values  # minus the gradient of each window sample, per frame
        if need_lam:
            grad_lam = _sum_to_window(g_w, d_lam) * c_lam  # (Bw, Tw, 1)
            if grad_lam.shape[1] > 1:  # to the layout of lam, (Bw, 1, Tw)
                grad_lam = grad_lam.transpose(1, 2)
        if need_starts:
            grad_starts = _sum_to_window(g_w, d_u) * c_lam  # (Bw, Tw, 1)
            grad_starts = grad_starts.view(grad_starts.shape[:2])
    return grad_frames, grad_lam, grad_starts


def _sum_to_window(g_w: Tensor, dw: Tensor) -> Tensor:
    """``sum_m g_w dw`` over the samples and the dims where the window term ``dw``
    ``(Bw, Tw, S)`` is 1: ``(Bw, Tw, 1)``, or 0-dim for a window shared by every frame
    (``Bw = Tw = 1``), which is a matrix-vector product, read once; otherwise a product and one
    reduction."""
    bw, tw, size = dw.shape
    if bw == tw == 1:
        return torch.mv(g_w.reshape(-1, size), dw.reshape(size)).sum()
    dims = [i for i in (0, 1) if dw.shape[i] == 1 and g_w.shape[i] != 1]
    return (g_w * dw).sum([*dims, 2], keepdim=True)


# --------------------------------------------------------------------------------------------
# Direct path: the window depends on frequency (lam of shape (Bl, F, Tl)).


def _contract(frames: Tensor, kernel: Tensor) -> Tensor:
    """``out[b, n, r] = sum_m frames[b, n, m] kernel[b, n, r, m]`` without broadcasting copies.

    ``frames`` ``(B, T, N)``, ``kernel`` ``(Bk, Tk, R, N)`` with ``Bk in {1, B}``,
    ``Tk in {1, T}``; returns ``(B, T, R)``.
    """
    b, t, n = frames.shape
    bk, tk, r, _ = kernel.shape
    if bk == 1 and tk == 1:
        return (frames.reshape(b * t, n) @ kernel[0, 0].T).view(b, t, r)
    if bk == 1:
        return torch.bmm(frames.transpose(0, 1), kernel[0].transpose(1, 2)).transpose(0, 1)
    if tk == 1:
        return torch.bmm(frames, kernel[:, 0].transpose(1, 2))
    out = torch.bmm(frames.reshape(b * t, 1, n), kernel.reshape(b * t, r, n).transpose(1, 2))
    return out.view(b, t, r)


def _contract_adjoint(grad: Tensor, kernel: Tensor) -> Tensor:
    """``out[b, n, m] = sum_r grad[b, n, r] kernel[b, n, r, m]``: the adjoint of ``_contract``."""
    b, t, r = grad.shape
    bk, tk, _, n = kernel.shape
    if bk == 1 and tk == 1:
        return (grad.reshape(b * t, r) @ kernel[0, 0]).view(b, t, n)
    if bk == 1:
        return torch.bmm(grad.transpose(0, 1), kernel[0]).transpose(0, 1)
    if tk == 1:
        return torch.bmm(grad, kernel[:, 0])
    return torch.bmm(grad.reshape(b * t, 1, r), kernel.reshape(b * t, r, n)).view(b, t, n)


def _twiddles(geom: Geometry, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """``cos(2 pi k m / N)``, ``sin(2 pi k m / N)`` for ``m`` in the support: ``(F, hi - lo)``."""
    return _twiddle_table(geom.n_fft, *(geom.support or (0, geom.n_fft)), dtype, device)


@_cached
def _twiddle_table(n: int, lo: int, hi: int, dtype: torch.dtype, device: torch.device):
    km = torch.outer(torch.arange(n // 2 + 1, device=device), torch.arange(lo, hi, device=device))
    angle = (2 * math.pi / n) * (km % n).to(torch.float64)
    return torch.cos(angle).to(dtype), torch.sin(angle).to(dtype)


def _chunks(frames: Frames, lam: Tensor, geom: Geometry, engine: str | None = None):
    """Bin ranges whose ``(Bk, Tk, fc, S)`` working set fits in ``geom.max_working_memory``
    (default :data:`DEFAULT_WORKING_MEMORY`), counting the temporaries of the engine that
    builds the chunks' kernels: ``engine``, else the compiled one if it can run here, else the
    eager one."""
    if engine is None:  # (inside an outer compilation the eager code runs, for it to fuse)
        compiled = geom.engine == "compiled" and not torch.compiler.is_compiling()
        engine = "compiled" if compiled and _fused.available() else "eager"
    budget = geom.max_working_memory or DEFAULT_WORKING_MEMORY
    bk = max(lam.shape[0], frames.u.shape[0])
    tk = max(lam.shape[2], frames.u.shape[1])
    per_bin = _TEMPORARIES[engine] * bk * tk * frames.u.shape[-1] * frames.values.element_size()
    fc = max(1, min(geom.n_bins, budget // per_bin))
    return [slice(k, min(k + fc, geom.n_bins)) for k in range(0, geom.n_bins, fc)]


def _chunk_kernels(
    lam: Tensor, frames: Frames, geom: Geometry, bins: slice, lam_term=False, u_term=False
):
    """The real kernels of one chunk of bins, ``(Bk, Tk, 2 fc, S)`` each, for ``w_lam`` and,
    if asked, ``D_lam`` and ``D_u``, and the factor ``c / lam`` ``(Bl, Tl, fc)`` of the latter
    two (:func:`adastft._fused.chunk_kernels`)."""
    cos, sin = _twiddles(geom, frames.values.dtype, frames.values.device)
    args = (
        geom.window,
        geom.normalization,
        lam[:, bins, :].transpose(1, 2)[..., None],  # (Bl, Tl, fc, 1)
        frames.u[:, :, None, :],
        cos[bins],
        sin[bins],
        lam_term,
        u_term,
    )
    if geom.engine == "compiled":
        kernels = _fused.call("chunk_kernels", *args)
        if kernels is not None:
            return kernels
    return _fused.chunk_kernels(*args)


def _use_fused_sums(frames: Frames, lam: Tensor, geom: Geometry) -> bool:
    """Fused sums unless one kernel serves a batch of at least ``FUSED_MAX_BATCH`` signals."""
    shared = lam.shape[0] == 1 and frames.u.shape[0] == 1
    return geom.engine == "compiled" and not (shared and frames.values.shape[0] >= FUSED_MAX_BATCH)


def support(n_fft: int, win_max: float) -> tuple[int, int]:
    """The samples ``m`` in ``[lo, hi)`` of a frame that a window of length ``<= win_max`` reaches.

    ``|m + delta - N/2| < lam / 2`` with ``delta`` in ``[0, 1)`` implies
    ``N/2 - h - 1 <= m <= N/2 + h`` for ``h = ceil(win_max / 2)``: a bin with ``lam << N`` costs
    ``lam`` samples, not ``N``.
    """
    h = math.ceil(win_max / 2)
    return max(0, n_fft // 2 - h - 1), min(n_fft, n_fft // 2 + h + 1)


def direct_forward(frames: Frames, lam: Tensor, geom: Geometry) -> Tensor:
    """``S[k, n] = P * sum_m x[b_n + m] w_lam[k,n](u) exp(-2 pi i k m / N)``, ``(B, F, T)``."""
    if _use_fused_sums(frames, lam, geom):
        spec = _fused_forward(frames, lam, geom)
        if spec is not None:
            return spec
    values = frames.values
    b, t, _ = values.shape
    out = values.new_empty(b, t, 2, geom.n_bins)
    for bins in _chunks(frames, lam, geom):
        kernel = _chunk_kernels(lam, frames, geom, bins)[0]
        out[:, :, :, bins] = _contract(values, kernel).view(b, t, 2, -1)
    spec = torch.complex(out[:, :, 0], out[:, :, 1]).transpose(1, 2)
    if frames.delta is not None:
        spec = spec * phase(frames.delta, geom.n_fft, spec.dtype)
    return spec


def direct_backward(
    grad: Tensor, spec: Tensor, frames: Frames, lam: Tensor, geom: Geometry, needs: tuple
):
    """Gradients of the direct path w.r.t. the frames, ``lam`` (B, F, T) and the starts (B, T).

    With ``g = G conj(P)`` (the gradient of the un-phased sum ``A``) and the real kernels
    ``K = [w cos ; -w sin]``: ``grad_frames = sum_k g . K``, ``grad_lam = g . (x * K_lam)`` with
    ``K_lam`` built from ``dw_lam/dlam`` (Eq. 9), and the window part of ``grad_starts`` from
    ``-dw_lam/du`` (Eq. 14).
    """
    if _use_fused_sums(frames, lam, geom):
        grads = _fused_backward(grad, spec, frames, lam, geom, needs)
        if grads is not None:
            return grads
    return _direct_backward(grad, frames, lam, geom, needs)


def _direct_backward(grad: Tensor, frames: Frames, lam: Tensor, geom: Geometry, needs: tuple):
    """The eager (chunked matrix products) backward of the direct path."""
    need_x, need_lam, need_starts = needs
    values = frames.values
    b, t, _ = values.shape
    if frames.delta is not None:
        grad = grad * phase(frames.delta, geom.n_fft, grad.dtype).conj()
    g = torch.cat([grad.real, grad.imag], dim=1).transpose(1, 2)  # (B, T, 2F)
    nb = geom.n_bins
    grad_frames = torch.zeros_like(values) if need_x else None
    grad_lam = values.new_empty(b, t, nb) if need_lam else None
    grad_starts = values.new_zeros(b, t) if need_starts else None
    for bins in _chunks(frames, lam, geom):
        kernel, k_lam, k_u, c_lam = _chunk_kernels(lam, frames, geom, bins, need_lam, need_starts)
        g_c = torch.cat([g[..., bins], g[..., nb + bins.start : nb + bins.stop]], dim=-1)
        fc = g_c.shape[-1] // 2
        if need_x:
            grad_frames += _contract_adjoint(g_c, kernel)
        # d w / d lam = -(c / lam) D_lam and d w / d u = (c / lam) D_u: the factor, which
        # depends on (k, n) only, scales the sums over the samples.
        if need_lam:
            d = _contract(values, k_lam) * g_c
            grad_lam[..., bins] = (d[..., :fc] + d[..., fc:]).mul_(c_lam).neg_()
        if need_starts:
            d = _contract(values, k_u) * g_c
            grad_starts -= ((d[..., :fc] + d[..., fc:]) * c_lam).sum(-1)
    if need_lam:
        grad_lam = grad_lam.transpose(1, 2)
    return grad_frames, grad_lam, grad_starts


def _fused_forward(frames: Frames, lam: Tensor, geom: Geometry) -> Tensor:
    """Direct path through the fused sums of :mod:`adastft._fused` (``None``: not possible)."""
    cos, sin = _twiddles(geom, frames.values.dtype, frames.values.device)
    sums = _fused.call("forward_sums", geom.window, frames.values, lam, frames.u, cos, sin)
    if sums is None:
        return None
    spec = torch.complex(*sums)
    c = geom.window.normalizer(lam, geom.normalization)
    if c is not None:
        spec = spec * c
    if frames.delta is not None:
        spec = spec * phase(frames.delta, geom.n_fft, spec.dtype)
    return spec


def _fused_backward(
    grad: Tensor, spec: Tensor, frames: Frames, lam: Tensor, geom: Geometry, needs: tuple
):
    """Gradients of the direct path through the fused sums (``None``: not possible).

    With ``w_lam = c(lam) w(v)``: ``d w_lam / d lam = c' w - c w'(v) v / lam`` and
    ``d w_lam / d u = c w'(v) / lam``, so, with ``c'/c = -kappa / lam`` (:data:`KAPPA`),
    ``grad_lam = -(kappa / lam) Re(conj(G) S) - (c / lam) D1`` and the window part of
    ``grad_starts`` is ``-sum_k (c / lam) D2`` (see :mod:`adastft._fused`).
    """
    need_x, need_lam, need_starts = needs
    values = frames.values
    cos, sin = _twiddles(geom, values.dtype, values.device)
    c = geom.window.normalizer(lam, geom.normalization)
    kappa = KAPPA[geom.normalization]
    g = grad
    if frames.delta is not None:
        g = g * phase(frames.delta, geom.n_fft, grad.dtype).conj()
    grad_frames = grad_lam = grad_starts = None
    if need_x:
        gc = g if c is None else g * c
        grad_frames = _fused.call(
            "frame_sums", geom.window, lam, frames.u, cos, sin, gc.real, gc.imag
        )
        if grad_frames is None:
            return None
    if need_lam or need_starts:
        sums = _fused.call(
            "parameter_sums", geom.window, values, lam, frames.u, cos, sin, g.real, g.imag
        )
        if sums is None:
            return None
        d1, d2 = sums
        c_lam = 1.0 / lam if c is None else c / lam
        if need_lam:
            grad_lam = -c_lam * d1
            if kappa:
                cross = reduce_to((grad.conj() * spec).real, (d1.shape[0], *spec.shape[1:]))
                grad_lam = grad_lam - (kappa / lam) * cross
        if need_starts:
            grad_starts = -(c_lam * d2).sum(-2)
    return grad_frames, grad_lam, grad_starts
