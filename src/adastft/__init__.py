"""adastft: learnable adaptive time-frequency representations.

The differentiable short-time Fourier transform (DSTFT) of Leiber, Marnissi, Barrau and
El Badaoui, "Learnable Adaptive Time-Frequency Representation via Differentiable Short-Time
Fourier Transform": an STFT whose window lengths and frame positions are real-valued and
differentiable, so that they can be learnt by gradient descent.

Functions: :func:`dstft`, :func:`idstft`, :func:`spectrogram`. Layers: :class:`DSTFT`,
:class:`Spectrogram`, :class:`MelSpectrogram`. Optimisation: :func:`fit`, :func:`grid_search`,
:mod:`adastft.losses`. Command line: ``adastft demo``, ``adastft optimize``. Pictures:
:mod:`adastft.plot` (imported on first use; needs matplotlib).
"""

from . import losses, mel, signals, windows
from ._dstft import dstft, spectrogram
from ._inverse import idstft
from .layers import DSTFT, FrozenDSTFT
from .optimize import FitResult, GridResult, fit, grid_search
from .positions import fixed_overlap_positions, n_frames, positions_from_hops
from .transforms import MelSpectrogram, Spectrogram
from .windows import Window

__all__ = [
    "dstft",
    "idstft",
    "spectrogram",
    "DSTFT",
    "FrozenDSTFT",
    "Spectrogram",
    "MelSpectrogram",
    "fit",
    "grid_search",
    "FitResult",
    "GridResult",
    "losses",
    "positions_from_hops",
    "fixed_overlap_positions",
    "n_frames",
    "Window",
    "windows",
    "mel",
    "signals",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "plot":  # matplotlib is optional: import the module only when it is used
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
