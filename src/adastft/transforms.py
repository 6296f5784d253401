"""Spectrogram layers with learnable window lengths: ``Spectrogram`` and ``MelSpectrogram``.

Both are thin Modules around a :class:`adastft.DSTFT` layer (``.dstft``); ``MelSpectrogram``
takes the arguments and defaults of ``torchaudio.transforms.MelSpectrogram`` where they apply.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from ._validation import check_real_tensor, check_scalar
from .layers import DSTFT
from .mel import melscale_fbanks

__all__ = ["Spectrogram", "MelSpectrogram", "power_spectrum", "amplitude_to_db"]


def power_spectrum(spec: Tensor, power: float = 2.0) -> Tensor:
    """``|S| ** power`` of a complex spectrum; ``power=2`` is computed as ``re^2 + im^2``.

    Args:
        spec (Tensor): complex spectrum.
        power (float > 0): 1 for the magnitude, 2 for the power.

    Shape: ``(...)`` complex -> ``(...)`` real.

    Example:
        >>> power_spectrum(torch.tensor([3 + 4j, 1j]), power=1.0)
        tensor([5., 1.])
    """
    if not isinstance(spec, Tensor) or not spec.is_complex():
        got = f"dtype {spec.dtype}" if isinstance(spec, Tensor) else type(spec).__name__
        raise TypeError(f"spec must be a complex tensor (a transform's output); got {got}")
    if power == 2:
        return torch.view_as_real(spec).square().sum(-1)
    check_scalar("power", power, low=0.0, low_open=True, rule="power > 0")
    mag = spec.abs()
    return mag if power == 1 else mag**power


def amplitude_to_db(
    spec: Tensor, power: float = 2.0, *, amin: float = 1e-10, top_db: float | None = None
) -> Tensor:
    r"""Decibels of a spectrogram ``|S| ** power``: ``(20 / power) log10(max(spec, amin))``.

    ``10 log10`` for a power spectrogram, ``20 log10`` for a magnitude one: the values of
    torchaudio's ``AmplitudeToDB`` (``stype="power"`` or ``"magnitude"``) with ``ref = 1``.
    With ``top_db``, values more than ``top_db`` below the maximum of their spectrogram, each
    ``(F, T)`` matrix of the last two dimensions, are raised to that floor. torchaudio instead
    takes the maximum over the last three dimensions ``(C, F, T)`` of each item of the batch
    dimensions before them, and over the whole tensor when it has three dimensions: the
    results agree for a single spectrogram ``(F, T)`` and when dimension ``-3`` has size 1,
    but where it has size ``C > 1`` torchaudio floors the ``C`` spectrograms (for a 3-D input,
    all of them) below their common maximum. Here a batch of spectrograms ``(B, F, T)`` is not
    floored relative to its loudest example.

    Args:
        spec (Tensor, float32 or float64): spectrogram ``|S| ** power`` (values below ``amin``,
            negative ones included, are read as ``amin``).
        power (float > 0): the exponent of ``|S|`` in ``spec`` (2: power, 1: magnitude).
        amin (float): floor of ``spec`` before the logarithm; at least the smallest normal
            number of ``spec``'s dtype (``1.2e-38`` in float32), so that ``log10(amin)`` is
            finite in it.
        top_db (float > 0, optional): the floor of the dB scale below each spectrogram's
            maximum; ``None`` (default): no floor.

    Shape:
        ``(...) -> (...)`` (elementwise); with ``top_db``, ``(..., F, T) -> (..., F, T)``.

    Example:
        >>> amplitude_to_db(torch.tensor([[1.0, 1e-3, 0.0]]), top_db=50.0)
        tensor([[  0., -30., -50.]])
        >>> spec = torch.tensor([[[1.0, 1e-8]], [[1e-4, 1e-6]]])  # two (1, 2) spectrograms
        >>> amplitude_to_db(spec, top_db=30.0)  # each floored 30 dB below its own maximum
        tensor([[[  0., -30.]],
        <BLANKLINE>
                [[-40., -60.]]])
    """
    check_real_tensor("spec", spec)
    p = check_scalar("power", power, low=0.0, low_open=True, rule="power > 0")
    tiny = torch.finfo(spec.dtype).tiny
    check_scalar(
        "amin",
        amin,
        low=tiny,
        rule=f"amin >= {tiny:.4g}, the smallest normal number of spec's dtype {spec.dtype}",
    )
    if top_db is not None:
        check_scalar("top_db", top_db, low=0.0, low_open=True, rule="top_db > 0")
        if spec.dim() < 2 or spec.shape[-2] == 0 or spec.shape[-1] == 0:
            raise ValueError(
                f"spec must have shape (..., F, T) with F >= 1 and T >= 1 when top_db is given "
                f"(the floor is relative to each (F, T) spectrogram's maximum); got "
                f"{tuple(spec.shape)}"
            )
    db = (20.0 / p) * torch.log10(spec.clamp(min=amin))
    if top_db is not None:
        db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - top_db)
    return db


class Spectrogram(nn.Module):
    """``|DSTFT(x)| ** power`` (optionally in dB) with learnable window lengths and hops.

    Args:
        n_fft (int), win_length (float or Tensor), hop_length (float or Tensor): as
            :class:`adastft.DSTFT`.
        power (float > 0): 1 for the magnitude, 2 (default) for the power spectrogram.
        db (bool): return decibels, :func:`amplitude_to_db` (default False).
        top_db (float > 0, optional): floor of the dB scale below each spectrogram's maximum.
        amin (float > 0): floor of the spectrogram before the logarithm (default 1e-10).
        **kwargs: the keyword options of :class:`adastft.DSTFT` (``win_mode``, ``hop_mode``,
            ``signal_length``, ``window``, ``normalization``, ...).

    Shape:
        ``(..., L) -> (..., F, T)`` real.

    Example:
        >>> spec = Spectrogram(256, 200.0, 64, power=1.0)
        >>> spec(torch.randn(2, 1000)).shape
        torch.Size([2, 129, 16])
    """

    def __init__(
        self,
        n_fft: int,
        win_length: float | Tensor,
        hop_length: float | Tensor,
        *,
        power: float = 2.0,
        db: bool = False,
        top_db: float | None = None,
        amin: float = 1e-10,
        **kwargs,
    ) -> None:
        super().__init__()
        check_scalar("power", power, low=0.0, low_open=True, rule="power > 0")
        check_scalar("amin", amin, low=0.0, low_open=True, rule="amin > 0")
        if top_db is not None:
            check_scalar("top_db", top_db, low=0.0, low_open=True, rule="top_db > 0")
        if not isinstance(db, bool):
            raise TypeError(f"db must be a bool; got {db!r}")
        self.power, self.db, self.top_db, self.amin = float(power), db, top_db, float(amin)
        self.dstft = DSTFT(n_fft, win_length, hop_length, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        spec = power_spectrum(self.dstft(x), self.power)
        if self.db:
            spec = amplitude_to_db(spec, self.power, amin=self.amin, top_db=self.top_db)
        return spec

    @torch.no_grad()
    def freeze(self) -> Spectrogram:
        """A copy whose ``.dstft`` is frozen (:meth:`adastft.DSTFT.freeze`): no parameters."""
        frozen = copy.deepcopy(self)
        frozen.dstft = self.dstft.freeze()
        return frozen

    def extra_repr(self) -> str:
        return f"power={self.power:g}, db={self.db}"


class MelSpectrogram(nn.Module):
    """Mel spectrogram with a learnable window length: a drop-in for torchaudio's.

    ``mel[..., m, n] = sum_k fb[k, m] |S[..., k, n]| ** power`` with ``S`` the DSTFT and ``fb``
    the triangular filterbank of :func:`adastft.mel.melscale_fbanks`. The positional arguments
    and their defaults are those of ``torchaudio.transforms.MelSpectrogram``; with
    ``learn_win=False`` and integer parameters it computes the same values (it is then a
    classical STFT: ``normalization=None`` is torchaudio's ``normalized=False``). Not
    supported: ``pad``, ``window_fn`` / ``wkwargs`` (use ``window``), ``onesided=False``.

    Args:
        sample_rate (float > 0): samples per second (default 16000).
        n_fft (int, even): DFT size (default 400).
        win_length (float, optional): initial window length; default ``n_fft``.
        hop_length (float, optional): hop; default ``win_length // 2``.
        f_min (float), f_max (float, optional): filterbank range in Hz; ``f_max`` defaults to
            ``sample_rate // 2``.
        n_mels (int): number of mel bands (default 128).
        window (str or Window): base window (default ``"hann"``).
        power (float > 0): exponent of the magnitude (default 2).
        normalization (str or None): window normalisation of :func:`adastft.dstft` (default
            ``None``, torchaudio's).
        center (bool), pad_mode (str): as ``torch.stft`` (defaults True, ``"reflect"``).
        norm (str or None): ``"slaney"`` divides each triangle by its width (default None).
        mel_scale (str): ``"htk"`` (default) or ``"slaney"``.
        **kwargs: the keyword options of :class:`adastft.DSTFT` (``win_mode``, ``hop_mode``,
            ``signal_length``, ``learn_win``, ``win_min``, ...).

    Shape:
        ``(..., L) -> (..., n_mels, T)``.

    Example:
        >>> mel = MelSpectrogram(8000, n_fft=256, n_mels=40)
        >>> mel(torch.randn(3, 8000)).shape
        torch.Size([3, 40, 63])
    """

    def __init__(
        self,
        sample_rate: float = 16000,
        n_fft: int = 400,
        win_length: float | Tensor | None = None,
        hop_length: float | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        n_mels: int = 128,
        window="hann",
        power: float = 2.0,
        normalization: str | None = None,
        center: bool = True,
        pad_mode: str = "reflect",
        norm: str | None = None,
        mel_scale: str = "htk",
        **kwargs,
    ) -> None:
        super().__init__()
        check_scalar("sample_rate", sample_rate, low=0.0, low_open=True, rule="sample_rate > 0")
        win_length = n_fft if win_length is None else win_length
        if hop_length is None:
            hop_length = int(float(torch.as_tensor(win_length).float().mean()) // 2)
        self.sample_rate, self.n_mels = sample_rate, n_mels
        self.spectrogram = Spectrogram(
            n_fft,
            win_length,
            hop_length,
            power=power,
            window=window,
            normalization=normalization,
            center=center,
            pad_mode=pad_mode,
            **kwargs,
        )
        f_max = float(sample_rate // 2) if f_max is None else f_max
        fb = melscale_fbanks(
            n_fft // 2 + 1,
            f_min,
            f_max,
            n_mels,
            sample_rate,
            norm,
            mel_scale,
            dtype=torch.get_default_dtype(),
        )
        self.register_buffer("fb", fb)

    @property
    def dstft(self) -> DSTFT:
        """The DSTFT layer underneath (its window lengths, positions, ...)."""
        return self.spectrogram.dstft

    def forward(self, x: Tensor) -> Tensor:
        spec = self.spectrogram(x)
        return torch.matmul(spec.transpose(-1, -2), self.fb.to(spec.dtype)).transpose(-1, -2)

    @torch.no_grad()
    def freeze(self) -> MelSpectrogram:
        """A copy with a frozen spectrogram (:meth:`Spectrogram.freeze`): no parameters."""
        frozen = copy.deepcopy(self)
        frozen.spectrogram = self.spectrogram.freeze()
        return frozen

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}, n_mels={self.n_mels}"
