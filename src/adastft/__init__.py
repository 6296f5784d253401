"""adastft: learnable adaptive time-frequency representations.

The differentiable short-time Fourier transform (DSTFT) of Leiber, Marnissi, Barrau and
El Badaoui, "Learnable Adaptive Time-Frequency Representation via Differentiable Short-Time
Fourier Transform": an STFT whose window lengths and frame positions are real-valued and
differentiable, so that they can be learnt by gradient descent.
"""

from . import signals, windows
from ._dstft import dstft, spectrogram
from .positions import fixed_overlap_positions, n_frames, positions_from_hops
from .windows import Window

__all__ = [
    "dstft",
    "spectrogram",
    "positions_from_hops",
    "fixed_overlap_positions",
    "n_frames",
    "Window",
    "windows",
    "signals",
]
__version__ = "0.1.0"
