"""Built-in synthetic test signals."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["three_component"]


def three_component(
    length: int = 8000, *, sample_rate: float = 8000.0, dtype: torch.dtype = torch.float32
) -> Tensor:
    """The paper's three-component test signal (Sec. VI-A), normalised to unit peak.

    - a non-stationary chirp whose frequency sweeps ``0.05 fs -> 0.35 fs`` along a sine law;
    - a stationary tone at ``0.21 fs`` during the middle third, close to the chirp in frequency
      while the chirp passes it;
    - a transient: a short decaying burst at ``0.4 fs`` at two thirds of the signal.

    A constant window cannot be good for all three: the tone wants a long window, the fast part
    of the chirp and the transient a short one.

    Args:
        length (int >= 16): number of samples ``L``.
        sample_rate (float > 0): ``fs`` in Hz; it only scales the time axis.
        dtype: a floating-point dtype.

    Shape:
        ``-> (L,)``

    Example:
        >>> three_component(1000).shape
        torch.Size([1000])
    """
    if not isinstance(length, int) or length < 16:
        raise ValueError(f"length must be an int >= 16; got {length!r}")
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0; got {sample_rate!r}")
    n = torch.arange(length, dtype=torch.float64)
    r = n / length
    # Chirp: instantaneous frequency f(r) = 0.2 - 0.15 cos(pi r) (cycles per sample).
    phase = 2 * math.pi * length * (0.2 * r - 0.15 * torch.sin(math.pi * r) / math.pi)
    chirp = torch.cos(phase)
    # Tone: on during the middle third, with raised-cosine ramps of L/30 (no clicks).
    ramp = ((torch.minimum(r - 1 / 3, 2 / 3 - r) * 30).clamp(0, 1) * math.pi / 2).sin() ** 2
    tone = 0.8 * ramp * torch.cos(2 * math.pi * 0.21 * n)
    onset = int(2 * length / 3)
    decay = torch.exp(-(n - onset).clamp(min=0) / (0.004 * length)) * (n >= onset)
    transient = 1.5 * decay * torch.sin(2 * math.pi * 0.4 * n)
    x = chirp + tone + transient
    return (x / x.abs().max()).to(dtype)
