"""Reference DSTFT differentiated through its operations (for tests and benchmarks only).

It evaluates the same sum as :func:`adastft.dstft` by materialising every term
``x[b_n + m] w_lam[k,n](u) exp(-2 pi i k (m + delta_n) / N)`` — a ``(B, F, T, N)`` tensor — and
lets autograd differentiate it. It is the baseline the analytic gradients are measured against
for speed and memory; do not use it on large inputs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import _kernels as K
from ._dstft import _prepare


def dstft_autograd(x: Tensor, win_length: float | Tensor, **options) -> Tensor:
    """:func:`adastft.dstft` through plain autograd operations: same arguments and result."""
    xp, lam, starts, geom, batch_shape = _prepare(x, win_length, **options)
    frames = K.make_frames(xp, starts, geom)
    w = geom.window.contracted(lam[..., None], frames.u[:, None], geom.normalization)[0]
    k = torch.arange(geom.n_bins, dtype=xp.dtype, device=xp.device)[:, None, None]
    m_delta = frames.u + geom.n_fft // 2  # m + delta_n
    angle = (-2 * math.pi / geom.n_fft) * k * m_delta[:, None]
    kernel = torch.polar(w, angle.expand(torch.broadcast_shapes(angle.shape, w.shape)))
    spec = (frames.values[:, None] * kernel).sum(-1)
    return spec.reshape(*batch_shape, geom.n_bins, geom.n_frames)
