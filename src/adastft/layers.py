"""``DSTFT``: the differentiable STFT as a layer with learnable window lengths and hops.

The layer holds the window lengths (and, if asked, the hops) as bounded parameters
(:class:`adastft.bounded.Bounded`) and its ``forward`` is one call of the transform of
:func:`adastft.dstft`. The number of frames ``T`` is fixed at construction and never changes.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from . import _kernels as K
from ._dstft import ENGINES, PAD_MODES, _apply, _canonical, grid_positions
from ._inverse import idstft
from ._validation import (
    as_real_tensor,
    broadcast_shapes,
    check_choice,
    check_n_fft,
    check_scalar,
    check_signal,
)
from .bounded import Bounded
from .positions import frame_count, n_frames, positions_from_hops
from .windows import NORMALIZATIONS, get_window

__all__ = ["DSTFT", "FrozenDSTFT", "WIN_MODES", "HOP_MODES"]

WIN_MODES = ("constant", "time", "frequency", "time-frequency")
HOP_MODES = ("fixed", "constant", "time", "overlap")
DEFAULT_WIN_MIN = 2.0  # shorter hann windows see at most one sample
DEFAULT_HOP_MIN = 1.0


class DSTFT(nn.Module):
    r"""Differentiable STFT layer with learnable window lengths and frame positions.

    .. math::

        S[k, n] = \sum_s x_e[s]\, w_{\lambda[k,n]}(s - t_n)\,
                  e^{-2\pi i k (s - t_n + N/2) / N}

    as :func:`adastft.dstft`, with ``lam`` and ``t_n`` produced by the layer's parameters.

    **Window lengths** (``win_mode``): one length (``"constant"``), one per frame
    (``"time"``, ``(1, T)``), one per bin (``"frequency"``, ``(F, 1)``) or a map
    (``"time-frequency"``, ``(F, T)``). They are kept in ``[win_min, win_max]`` by
    ``lam = clamp(init * exp(log_ratio), win_min, win_max)``: the optimiser moves
    ``log lam`` (one learning rate suits every length), the initial value is exact and both
    bounds are reached exactly, so ``win_length = n_fft`` (the classical STFT) can be learnt
    (:mod:`adastft.bounded`).

    **Frame positions** (``hop_mode``):

    - ``"fixed"``: ``t_n = t_0 + n H`` with a fixed hop ``H`` (integer or fractional);
    - ``"constant"``: the same with a learnable ``H`` in ``[hop_min, hop_max]``;
    - ``"time"``: ``t_n = t_0 + sum_{j<n} h_j``, ``T - 1`` learnable hops;
    - ``"overlap"``: consecutive frames overlap by the fixed fraction ``1 - H / lam_0`` of their
      mean length, so the positions follow the (learnable) window lengths:
      ``t_{n+1} = t_n + (1 - overlap) (lam_n + lam_{n+1}) / 2`` (paper Sec. III-B;
      ``win_mode`` ``"constant"`` or ``"time"``).

    ``t_0 = 0`` with ``center=True`` and ``N/2`` otherwise, as ``torch.stft``.

    **Frames past the signal.** ``T = 1 + L // H_0`` (``center=True``) is fixed by the initial
    hop ``H_0`` and ``signal_length``. If learnt hops grow, the last frames move past the
    signal: they read zeros and their columns are 0 (the transform is defined for any real
    position); :meth:`frame_mask` tells which frames still meet the signal, and the coverage
    penalty of :mod:`adastft.losses` keeps frames on it. If hops shrink, the frames stop before
    the end of the signal. The shape never changes.

    Args:
        n_fft (int, even >= 2): DFT size ``N``; ``F = N // 2 + 1`` bins.
        win_length (float or Tensor, win_min <= lam <= win_max): initial window length(s);
            a tensor must broadcast to the mode's shape.
        hop_length (float > 0 or Tensor): hop ``H`` (samples; fractional allowed); for
            ``hop_mode="time"`` also a tensor of the ``T - 1`` initial hops.
        win_mode (str): ``"constant"``, ``"time"``, ``"frequency"`` or ``"time-frequency"``.
        hop_mode (str): ``"fixed"``, ``"constant"``, ``"time"`` or ``"overlap"``.
        signal_length (int, optional): ``L``; required for time-varying window lengths and
            for every ``hop_mode`` but ``"fixed"``; inputs must then have ``L`` samples.
        window (str or Window): base window, as :func:`adastft.dstft`.
        normalization (str or None): ``"amplitude"``, ``"energy"`` or ``None``.
        center (bool): pad by ``N/2`` on each side (``t_0 = 0``).
        pad_mode (str): ``"constant"`` or ``"reflect"``.
        win_min (float, 0 < win_min <= win_max): lower bound of ``lam``; default
            ``min(2, win_max)``.
        win_max (float, <= n_fft): upper bound of ``lam``; default ``n_fft``.
        hop_min (float > 0): lower bound of learnable hops; default ``min(1, H)``.
        hop_max (float >= hop_min): upper bound of learnable hops; default ``max(n_fft, H)``.
        learn_win (bool): window lengths are learnable (else buffers).
        learn_hop (bool): hops are learnable in the ``"constant"`` and ``"time"`` modes.
        n_channels (int, optional): one set of parameters per channel; inputs are then
            ``(..., n_channels, L)``.
        engine (str): as :func:`adastft.dstft`.

    Shape:
        ``(..., L) -> (..., F, T)`` complex, ``F = N // 2 + 1``, ``T = 1 + L // H``
        (``center=True``) or ``1 + (L - N) // H``.

    Example:
        >>> layer = DSTFT(256, 128.0, 64, win_mode="time", signal_length=1000)
        >>> layer(torch.randn(4, 1000)).shape
        torch.Size([4, 129, 16])
        >>> layer.win_length.shape, layer.positions.shape
        (torch.Size([1, 16]), torch.Size([16]))
    """

    def __init__(
        self,
        n_fft: int,
        win_length: float | Tensor,
        hop_length: float | Tensor,
        *,
        win_mode: str = "constant",
        hop_mode: str = "fixed",
        signal_length: int | None = None,
        window="hann",
        normalization: str | None = "amplitude",
        center: bool = True,
        pad_mode: str = "constant",
        win_min: float | None = None,
        win_max: float | None = None,
        hop_min: float | None = None,
        hop_max: float | None = None,
        learn_win: bool = True,
        learn_hop: bool = True,
        n_channels: int | None = None,
        engine: str = "auto",
    ) -> None:
        super().__init__()
        n = check_n_fft(n_fft)
        check_choice("win_mode", win_mode, WIN_MODES)
        check_choice("hop_mode", hop_mode, HOP_MODES)
        check_choice("normalization", normalization, NORMALIZATIONS)
        check_choice("pad_mode", pad_mode, PAD_MODES)
        check_choice("engine", engine, ENGINES)
        if not isinstance(center, bool):
            raise TypeError(f"center must be a bool; got {center!r}")
        if n_channels is not None:
            check_scalar("n_channels", n_channels, low=1, integer=True, rule="an int >= 1")
        for name, flag in (("learn_win", learn_win), ("learn_hop", learn_hop)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool; got {flag!r}")
        self.n_fft, self.win_mode, self.hop_mode = n, win_mode, hop_mode
        self.window = get_window(window)
        self.normalization, self.center, self.pad_mode = normalization, center, pad_mode
        self.engine, self.n_channels = engine, n_channels
        self.signal_length = self._check_signal_length(signal_length)
        channel = () if n_channels is None else (n_channels,)

        # Hops: the initial value fixes the number of frames.
        as_real_tensor(
            "hop_length",
            hop_length,
            "a real number > 0 or a real tensor (0-dim, or the T - 1 hops of hop_mode='time')",
            sequences=False,
        )
        hops = hop_length.detach() if isinstance(hop_length, Tensor) else None
        if hops is not None and hop_mode == "time" and hops.dim() > 0:
            if not hops.is_floating_point():
                raise TypeError(f"hop_length must be a real tensor; got dtype {hops.dtype}")
            shared = hops.dim() == 1 or (channel and hops.dim() == 2 and hops.shape[0] == 1)
            per_channel = bool(channel) and hops.shape[:-1] == channel
            if not (shared or per_channel) or hops.shape[-1] == 0:
                shape = "(T - 1,) or (n_channels, T - 1)" if channel else "(T - 1,)"
                raise ValueError(
                    f"hop_length of hop_mode='time' must have shape {shape} with T - 1 >= 1 "
                    f"hops; got shape {tuple(hops.shape)}"
                )
            bad = ~(torch.isfinite(hops) & (hops > 0))
            if bool(bad.any()):
                raise ValueError(
                    f"hop_length must be > 0 and finite; got {hops[bad].flatten()[0].item()!r} "
                    f"(first offending hop)"
                )
            self.n_frames = hops.shape[-1] + 1
            hop_ref = float(hops.mean())
        else:
            if hops is not None:
                if hops.dim() != 0:
                    raise ValueError(
                        f"hop_length must be a number or a 0-dim tensor for hop_mode="
                        f"{hop_mode!r} (a (T-1,) tensor needs hop_mode='time'); got shape "
                        f"{tuple(hops.shape)}"
                    )
                hop_length = hops.item()
            check_scalar("hop_length", hop_length, low=0.0, low_open=True, rule="hop_length > 0")
            hop_ref = float(hop_length)
            self.n_frames = (
                None
                if self.signal_length is None
                else n_frames(self.signal_length, n, hop_ref, center=center)
            )
        if self.signal_length is None and (
            win_mode in ("time", "time-frequency") or hop_mode != "fixed"
        ):
            raise ValueError(
                f"signal_length is required with win_mode={win_mode!r} and hop_mode="
                f"{hop_mode!r} (the number of frames is fixed at construction); got None"
            )
        if hop_mode == "fixed":
            self.hop_length = (
                int(hop_ref) if float(hop_ref).is_integer() and hops is None else hop_ref
            )
        self.win_max = check_scalar(
            "win_max",
            n if win_max is None else win_max,
            low=0.0,
            high=n,
            low_open=True,
            rule=f"0 < win_max <= n_fft (={n})",
        )
        self.win_min = check_scalar(
            "win_min",
            min(DEFAULT_WIN_MIN, self.win_max) if win_min is None else win_min,
            low=0.0,
            high=self.win_max,
            low_open=True,
            rule=f"0 < win_min <= win_max (={self.win_max:g})",
        )

        # Window lengths.
        n_bins = n // 2 + 1
        t_dim = self.n_frames if win_mode in ("time", "time-frequency") else 1
        f_dim = n_bins if win_mode in ("frequency", "time-frequency") else 1
        shape = (*channel, f_dim, t_dim)
        init = as_real_tensor(
            "win_length",
            win_length,
            "a real number or a real tensor (or a sequence of real numbers) of window lengths",
        )
        if not init.is_floating_point():
            init = init.to(torch.get_default_dtype())
        if broadcast_shapes(init.shape, shape) != shape:
            raise ValueError(
                f"win_length of shape {tuple(init.shape)} does not broadcast to {shape}, the "
                f"shape of win_mode={win_mode!r}"
                + (f" with n_channels={n_channels}" if channel else "")
            )
        self.win = Bounded(
            init.expand(shape),
            low=self.win_min,
            high=self.win_max,
            learnable=learn_win,
            name="win_length",
        )

        # Learnable hops.
        self.hop = None
        if hop_mode == "overlap":
            if win_mode not in ("constant", "time"):
                raise ValueError(
                    f"hop_mode='overlap' needs one window length per frame: win_mode must be "
                    f"'constant' or 'time'; got {win_mode!r}"
                )
            lam0 = float(init.mean())
            self.overlap = 1.0 - hop_ref / lam0
            if not 0 <= self.overlap < 1:
                raise ValueError(
                    f"hop_mode='overlap' needs 0 < hop_length <= win_length (the overlap "
                    f"1 - hop/win is in [0, 1)); got hop_length={hop_ref:g}, win_length={lam0:g}"
                )
        elif hop_mode in ("constant", "time"):
            hop_shape = (*channel, 1 if hop_mode == "constant" else self.n_frames - 1)
            hop_init = hops if hops is not None and hops.dim() > 0 else torch.tensor(hop_ref)
            hop_init = hop_init.to(init.dtype).expand(hop_shape)
            low = float(min(DEFAULT_HOP_MIN, hop_init.min())) if hop_min is None else hop_min
            high = float(max(n, hop_init.max())) if hop_max is None else hop_max
            low = check_scalar("hop_min", low, low=0.0, low_open=True, rule="hop_min > 0")
            high = check_scalar("hop_max", high, low=low, rule=f"hop_max >= hop_min (={low:g})")
            self.hop = Bounded(hop_init, low=low, high=high, learnable=learn_hop, name="hop_length")

    def _check_signal_length(self, signal_length: int | None) -> int | None:
        if signal_length is None:
            return None
        check_scalar("signal_length", signal_length, low=1, integer=True, rule="an int >= 1")
        _check_length(self, "signal_length", int(signal_length))
        return int(signal_length)

    # ---------------------------------------------------------------------------------------
    # What the parameters mean.

    @property
    def win_length(self) -> Tensor:
        """Window lengths ``lam`` in samples, ``(n_channels?, F or 1, T or 1)``."""
        return self.win()

    @property
    def hop_lengths(self) -> Tensor:
        """Hops between consecutive frames ``t_{n+1} - t_n``, ``(n_channels?, T - 1)``."""
        return torch.diff(self.positions, dim=-1)

    def frame_positions(self, length: int | None = None, *, exact: bool = False) -> Tensor | None:
        """Frame centres ``t_n`` (samples of ``x``), ``(n_channels?, T)``, or ``None``.

        ``None`` stands for the integer grid ``t_n = t_0 + n H`` of a fixed integer hop, which
        the transform reads as a strided view. ``length`` is the input's ``L`` when the layer
        has no ``signal_length``. ``exact``: the grid of a fixed fractional hop in float64
        (:func:`adastft._dstft.grid_positions`), as the transform uses it.
        """
        if self.hop_mode == "fixed" and isinstance(self.hop_length, int):
            return None
        n_t = self.n_frames or frame_count(length, self.n_fft, self.hop_length, self.center)
        t0 = 0.0 if self.center else self.n_fft / 2
        if self.hop_mode == "fixed":
            return grid_positions(
                self.hop_length,
                n_t,
                n_fft=self.n_fft,
                center=self.center,
                like=self.win.init,
                exact=exact,
            )
        if self.hop_mode == "constant":
            frame = torch.arange(n_t, dtype=self.hop.init.dtype, device=self.hop.init.device)
            return t0 + frame * self.hop()
        if self.hop_mode == "time":
            return positions_from_hops(self.hop(), start=t0)
        lam = self.win_length[..., 0, :].expand(*self.win_length.shape[:-2], n_t)
        hops = (1.0 - self.overlap) * 0.5 * (lam[..., :-1] + lam[..., 1:])
        return positions_from_hops(hops, start=t0)

    @property
    def positions(self) -> Tensor:
        """Frame centres ``t_n`` in samples of ``x``, ``(n_channels?, T)`` (or ``(T,)``)."""
        if self.n_frames is None:
            raise ValueError(
                "positions of a layer without signal_length depend on the input length: use "
                "frame_positions(length)"
            )
        positions = self.frame_positions()
        if positions is None:
            return grid_positions(
                self.hop_length,
                self.n_frames,
                n_fft=self.n_fft,
                center=self.center,
                like=self.win.init,
            )
        return positions

    def frame_times(self, sample_rate: float) -> Tensor:
        """Frame centres in seconds: ``positions / sample_rate``."""
        check_scalar("sample_rate", sample_rate, low=0.0, low_open=True, rule="sample_rate > 0")
        return self.positions / sample_rate

    def frequencies(self, sample_rate: float | None = None) -> Tensor:
        """Bin frequencies ``k fs / N`` in Hz (cycles per sample without ``sample_rate``)."""
        rate = 1.0
        if sample_rate is not None:
            rate = check_scalar(
                "sample_rate", sample_rate, low=0.0, low_open=True, rule="sample_rate > 0"
            )
        k = torch.arange(
            self.n_fft // 2 + 1, dtype=self.win.init.dtype, device=self.win.init.device
        )
        return k * (rate / self.n_fft)

    def frame_mask(self) -> Tensor:
        """Frames whose longest window meets the signal: ``|s - t_n| < max_k lam[k, n] / 2``
        for some ``0 <= s < L``; bool ``(n_channels?, T)``."""
        if self.signal_length is None:
            raise ValueError("frame_mask needs the layer's signal_length; got None")
        half = 0.5 * self.win_length.amax(dim=-2)
        positions = self.positions
        return (positions + half > 0) & (positions - half < self.signal_length - 1)

    # ---------------------------------------------------------------------------------------

    def forward(self, x: Tensor) -> Tensor:
        length = _check_input(self, x)
        positions = self.frame_positions(length, exact=True)
        n_t = self.n_frames or frame_count(length, self.n_fft, self.hop_length, self.center)
        hop = self.hop_length if positions is None else None
        return _apply(*_layer_canonical(self, x, self.win_length, positions, n_t, hop))

    def inverse(
        self,
        spec: Tensor,
        length: int | None = None,
        *,
        tol: float | None = None,
        max_iter: int | None = None,
    ) -> Tensor:
        """The least-squares signal of ``spec`` (:func:`adastft.idstft`) for the layer's
        current window lengths and positions; differentiable.

        Args:
            spec (Tensor): complex ``(..., F, T)``.
            length (int, optional): ``L``; default ``signal_length`` (required without it).
            tol, max_iter: of the conjugate gradient (frequency-varying window lengths).

        Shape:
            ``(..., F, T) -> (..., L)`` real.
        """
        length = self.signal_length if length is None else length
        if length is None:
            raise ValueError("inverse needs length (the layer has no signal_length); got None")
        dtype = spec.real.dtype if spec.is_complex() else spec.dtype
        hop_length = positions = None
        if self.hop_mode == "fixed":  # idstft places the grid (exactly, for a fractional hop)
            hop_length = self.hop_length
        else:
            positions = self.frame_positions(length).to(dtype)
        return idstft(
            spec,
            self.win_length.to(dtype),
            n_fft=self.n_fft,
            hop_length=hop_length,
            positions=positions,
            length=length,
            window=self.window,
            center=self.center,
            pad_mode=self.pad_mode,
            normalization=self.normalization,
            tol=tol,
            max_iter=max_iter,
        )

    @torch.no_grad()
    def freeze(self) -> FrozenDSTFT:
        """An inference module with the current window lengths and positions precomputed.

        Constant window length on an integer grid: a ``torch.stft`` call with the contracted
        window as its ``window`` (so it costs what a classical STFT costs and exports to ONNX).
        Window lengths that do not depend on frequency: the ``(T, N)`` windows are kept and a
        call is a gather, a product and an ``rfft``. Otherwise the window lengths and positions
        are kept as buffers for the direct sum. Same results as the layer, to rounding.
        """
        return FrozenDSTFT(self)

    def extra_repr(self) -> str:
        learn_hop = self.hop is not None and self.hop.learnable
        return (
            f"n_fft={self.n_fft}, win_mode={self.win_mode!r}, hop_mode={self.hop_mode!r}, "
            f"n_frames={self.n_frames}, window={self.window.name!r}, "
            f"normalization={self.normalization!r}, learn_win={self.win.learnable}, "
            f"learn_hop={learn_hop}"
        )


class FrozenDSTFT(nn.Module):
    """Inference form of a :class:`DSTFT` layer (made by :meth:`DSTFT.freeze`): no parameters.

    Modes (``.mode``): ``"stft"`` (a constant window length on an integer hop: one
    ``torch.stft`` call with the contracted window), ``"fft"`` (window lengths that do not
    depend on frequency: precomputed ``(T, N)`` windows, a gather and an ``rfft``) or
    ``"direct"`` (the direct sum of :func:`adastft.dstft` on buffers).

    Shape:
        ``(..., L) -> (..., F, T)`` complex, as the layer it was made from.

    Example:
        >>> layer = DSTFT(256, 200.0, 64)
        >>> frozen = layer.freeze()
        >>> frozen.mode, len(list(frozen.parameters()))
        ('stft', 0)
        >>> x = torch.randn(1000)
        >>> torch.allclose(frozen(x), layer(x), atol=1e-6)
        True
    """

    def __init__(self, layer: DSTFT) -> None:
        super().__init__()
        self.n_fft, self.center, self.pad_mode = layer.n_fft, layer.center, layer.pad_mode
        self.n_frames, self.signal_length = layer.n_frames, layer.signal_length
        self.n_channels = layer.n_channels
        self.window = layer.window
        self.normalization, self.win_max, self.engine = (
            layer.normalization,
            layer.win_max,
            layer.engine,
        )
        lam = layer.win_length.detach().clone()
        positions = None
        if layer.hop_mode == "fixed":  # the grid of a fixed hop, integer or not
            self.hop_length = layer.hop_length
        else:
            positions = layer.frame_positions().detach().clone()
            self.hop_length = _integer_hop(positions, layer)
            if self.hop_length is not None:
                positions = None
        self.mode = "direct"
        integer_grid = isinstance(self.hop_length, int)
        if integer_grid and lam.numel() == 1:
            self.mode = "stft"
            u = K._offsets(self.n_fft, lam.dtype, lam.device)
            window = self.window.contracted(lam.reshape(()), u, self.normalization)[0]
            self.register_buffer("stft_window", window)
        elif lam.shape[-2] == 1 and self.n_frames is not None:
            self.mode = "fft"
            if positions is None and not integer_grid:
                positions = layer.frame_positions(exact=True)  # a fixed fractional hop's grid
            starts = (
                None if positions is None else positions - (0.0 if self.center else self.n_fft / 2)
            )
            delta = None if starts is None else (torch.ceil(starts) - starts).to(lam.dtype)
            u = K._offsets(self.n_fft, lam.dtype, lam.device)
            if delta is not None:
                u = delta[..., None] + u
            window = self.window.contracted(lam[..., 0, :, None], u, self.normalization)[0]
            self.register_buffer("frame_window", window)  # (C?, T, N)
        self.register_buffer("win_length", lam)
        self.register_buffer("positions", positions)

    def forward(self, x: Tensor) -> Tensor:
        length = _check_input(self, x)
        if self.mode == "stft":
            return self._stft(x)
        n_t = self.n_frames or frame_count(length, self.n_fft, self.hop_length, self.center)
        positions = self.positions
        if positions is None and not isinstance(self.hop_length, int):  # fractional fixed hop
            positions = grid_positions(
                self.hop_length, n_t, n_fft=self.n_fft, center=self.center, like=x, exact=True
            )
        hop = self.hop_length if positions is None else None
        xp, lam, starts, geom, batch_shape = _layer_canonical(
            self, x, self.win_length, positions, n_t, hop
        )
        if self.mode == "direct":
            return _apply(xp, lam, starts, geom, batch_shape)
        # The frozen windows cover whole frames of N samples.
        frames = K.make_frames(xp, starts, dataclasses.replace(geom, support=None))
        core = self.frame_window.shape[-2:]
        window = self.frame_window.to(x.dtype).expand(*batch_shape, *core).reshape(-1, *core)
        spec = torch.fft.rfft(frames.values * window, dim=-1).transpose(1, 2)
        if frames.delta is not None:
            spec = spec * K.phase(frames.delta, self.n_fft, spec.dtype)
        return spec.reshape(*batch_shape, geom.n_bins, n_t)

    def _stft(self, x: Tensor) -> Tensor:
        batch = x.shape[:-1]
        # Any hop past the padded signal gives its one frame; torch.stft takes an int64.
        hop = min(self.hop_length, x.shape[-1] + self.n_fft)
        spec = torch.stft(
            x.reshape(-1, x.shape[-1]),
            self.n_fft,
            hop,
            window=self.stft_window.to(x.dtype),
            center=self.center,
            pad_mode=self.pad_mode,
            return_complex=True,
        )
        return spec.reshape(*batch, *spec.shape[-2:])

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, mode={self.mode!r}, hop_length={self.hop_length}"


def _check_length(layer, name: str, length: int) -> None:
    """A signal length the (frozen) layer's padding can take."""
    n = layer.n_fft
    if layer.center and layer.pad_mode == "reflect" and length <= n // 2:
        raise ValueError(
            f"{name} must exceed n_fft // 2 (={n // 2}) for pad_mode='reflect'; got {length}"
        )
    if not layer.center and length < n:
        raise ValueError(f"{name} must be at least n_fft (={n}) with center=False; got {length}")


def _check_input(layer, x: object) -> int:
    """The input of a (frozen) layer: a real signal of the layer's length and channels.
    Returns ``L``."""
    x = check_signal(x)
    length = x.shape[-1]
    if layer.signal_length is not None and length != layer.signal_length:
        raise ValueError(
            f"x must have signal_length (={layer.signal_length}) samples, the length the "
            f"layer was built for; got L={length}"
        )
    _check_length(layer, "x length", length)
    if layer.n_channels is not None and (x.dim() < 2 or x.shape[-2] != layer.n_channels):
        raise ValueError(
            f"x must have shape (..., n_channels={layer.n_channels}, L); got {tuple(x.shape)}"
        )
    return length


def _layer_canonical(module, x: Tensor, lam: Tensor, positions, n_t: int, hop):
    """:func:`adastft._dstft._canonical` with the options a (frozen) layer holds.

    Positions take ``x``'s dtype, except a float64 grid without gradient (an exact grid, which
    the kernels split into whole samples and fractions before rounding).
    """
    if positions is not None and (positions.requires_grad or positions.dtype != torch.float64):
        positions = positions.to(x.dtype)
    return _canonical(
        x,
        lam.to(x.dtype),
        positions,
        n_fft=module.n_fft,
        n_frames=n_t,
        hop=hop,
        window=module.window,
        center=module.center,
        pad_mode=module.pad_mode,
        normalization=module.normalization,
        win_max=module.win_max,
        engine=module.engine,
    )


def _integer_hop(positions: Tensor, layer: DSTFT) -> int | None:
    """The hop ``H`` if ``positions`` is the grid ``t_0 + n H`` with an integer ``H`` whose frame
    count on the layer's signal is the layer's ``T`` (a learnt hop may have changed it: frames
    past the signal are kept, and ``torch.stft`` would drop them)."""
    t0 = 0.0 if layer.center else layer.n_fft / 2
    n_t = positions.shape[-1]
    step = float(positions.reshape(-1, n_t)[0, 1] - t0) if n_t > 1 else None
    if step is None or not step.is_integer() or step < 1:
        return None
    if frame_count(layer.signal_length, layer.n_fft, step, layer.center) != n_t:
        return None
    grid = t0 + step * torch.arange(n_t, dtype=positions.dtype, device=positions.device)
    return int(step) if bool((positions == grid).all()) else None
