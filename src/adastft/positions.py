"""Frame positions ``t_n``: the constant-hop grid, time-varying hops, and fixed overlap.

Positions are real frame centres in samples of the (unpadded) signal ``x``: sample ``s`` sits
at time ``s``. They stay real tensors end to end so gradients flow to hops and window lengths.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._validation import check_n_fft, check_real_tensor, check_scalar

__all__ = ["n_frames", "positions_from_hops", "fixed_overlap_positions"]

MAX_FRAMES = 2**40  # more frames than any memory holds: a hop this small is a mistake


def n_frames(signal_length: int, n_fft: int, hop_length: float, *, center: bool = True) -> int:
    """Number of frames ``T`` of the constant-hop grid, as ``torch.stft`` counts them.

    ``T = 1 + L // H`` with ``center=True``, ``T = 1 + (L - N) // H`` otherwise (frame ``n``
    is centred at ``t_n = n H``, or ``N/2 + n H``).

    Args:
        signal_length (int >= 1): ``L``, samples of the signal; ``>= n_fft`` with
            ``center=False``.
        n_fft (int, even >= 2): DFT size ``N``.
        hop_length (float > 0): hop ``H`` in samples (fractional allowed); ``T`` must not
            exceed ``MAX_FRAMES`` (``2**40``).
        center (bool): frames centred on ``t_0 = 0`` (the signal padded by ``N/2``).

    Shape:
        ``L -> T``: ``T = 1 + L // H`` (``center=True``) or ``1 + (L - N) // H``.

    Example:
        >>> n_frames(16000, 1024, 256)
        63
        >>> n_frames(16000, 1024, 256, center=False), n_frames(1000, 128, 2.5)
        (59, 401)
    """
    check_scalar("signal_length", signal_length, low=1, integer=True, rule="an int >= 1")
    n = check_n_fft(n_fft)
    check_scalar("hop_length", hop_length, low=0.0, low_open=True, rule="hop_length > 0")
    if not isinstance(center, bool):
        raise TypeError(f"center must be a bool; got {center!r}")
    span = signal_length - (0 if center else n)
    if span < 0:
        raise ValueError(
            f"signal_length must be at least n_fft (={n}) with center=False; got {signal_length}"
        )
    if span >= MAX_FRAMES * hop_length:  # T <= 2**40; also keeps span // H finite for int()
        raise ValueError(
            f"hop_length must be large enough for at most 2**40 frames (hop_length > "
            f"{span / MAX_FRAMES:.6g} for {'L' if center else 'L - n_fft'} = {span}); "
            f"got {hop_length!r}"
        )
    return frame_count(signal_length, n, hop_length, center)


def frame_count(signal_length: int, n_fft: int, hop_length: float, center: bool) -> int:
    """:func:`n_frames` without its checks: for callers whose arguments are checked already,
    and which may run under ``torch.compile`` with a symbolic ``signal_length`` (the checks
    would break the graph)."""
    span = signal_length if center else signal_length - n_fft
    return 1 + int(span // hop_length)


def positions_from_hops(hops: Tensor, *, start: float | Tensor = 0.0) -> Tensor:
    """Frame centres from time-varying hops: ``t_0 = start``, ``t_n = start + sum_{j<n} h_j``.

    The values are not checked (that would synchronise with the host in every training step);
    :func:`adastft.dstft` rejects positions that are not finite.

    Args:
        hops (Tensor): real hops ``h_j`` (samples), shape ``(..., T-1)``.
        start (float or Tensor): the first centre ``t_0`` (broadcast against ``(..., 1)``).

    Shape:
        ``(..., T-1) -> (..., T)``

    Example:
        >>> positions_from_hops(torch.tensor([2.0, 3.0, 0.5]))
        tensor([0.0000, 2.0000, 5.0000, 5.5000])
    """
    check_real_tensor("hops", hops)
    if hops.dim() == 0:
        raise ValueError(f"hops must have at least one dimension (..., T-1); got shape {()}")
    start_t = torch.as_tensor(start, dtype=hops.dtype, device=hops.device)
    zero = torch.zeros_like(hops[..., :1])
    return start_t[..., None] + torch.cat([zero, torch.cumsum(hops, dim=-1)], dim=-1)


def fixed_overlap_positions(
    win_length: Tensor, *, overlap: float, signal_length: int, start: float | Tensor = 0.0
) -> tuple[Tensor, Tensor]:
    """Positions that follow the window lengths with a fixed overlap ratio (paper Sec. III-B).

    Consecutive frames overlap by the fraction ``overlap`` of their mean length::

        t_{n+1} = t_n + (1 - overlap) * (lam_n + lam_{n+1}) / 2,     t_0 = start

    The number of frames ``T`` is that of ``win_length`` and never changes; frames pushed past
    the signal are reported by ``mask`` instead: ``mask[n]`` is True where the support
    ``(t_n - lam_n / 2, t_n + lam_n / 2)`` meets the signal ``[0, signal_length - 1]``.

    The values of ``win_length`` are not checked here (a host synchronisation per training
    step); :func:`adastft.dstft` checks them.

    Args:
        win_length (Tensor, > 0): per-frame window lengths ``lam_n``, shape ``(..., T)``.
        overlap (float in [0, 1)): overlap ratio of consecutive frames.
        signal_length (int >= 1): ``L``, the number of samples of the signal.
        start (float or Tensor): ``t_0``.

    Returns:
        ``(positions, mask)``: real ``(..., T)`` (differentiable in ``win_length``) and bool
        ``(..., T)``.

    Example:
        >>> t, mask = fixed_overlap_positions(torch.tensor([4.0, 8.0, 8.0, 8.0]),
        ...                                   overlap=0.5, signal_length=12)
        >>> t, mask
        (tensor([ 0.,  3.,  7., 11.]), tensor([True, True, True, True]))
    """
    check_real_tensor("win_length", win_length)
    check_scalar("overlap", overlap, low=0.0, high=1.0, rule="0 <= overlap < 1", high_open=True)
    check_scalar("signal_length", signal_length, low=1, integer=True, rule="an integer >= 1")
    if win_length.dim() == 0:
        raise ValueError(
            f"win_length must have shape (..., T) with T >= 1; got shape {tuple(win_length.shape)}"
        )
    hops = (1.0 - overlap) * 0.5 * (win_length[..., :-1] + win_length[..., 1:])
    positions = positions_from_hops(hops, start=start)
    half = 0.5 * win_length
    mask = (positions + half > 0) & (positions - half < signal_length - 1)
    return positions, mask
