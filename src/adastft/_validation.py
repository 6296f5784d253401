"""Argument checks for the public entry points.

Every message names the argument, the value received and the rule it breaks (SPEC.md §3).
"""

from __future__ import annotations

import math
import numbers
import reprlib

import torch
from torch import Tensor

REAL_DTYPES = (torch.float32, torch.float64)


def check_real_tensor(name: str, value: object) -> Tensor:
    """``value`` must be a real float32 or float64 tensor (the transforms' precisions: the FFTs
    and trigonometric kernels of half precision are not available on every device)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    if value.dtype not in REAL_DTYPES:
        raise TypeError(
            f"{name} must be a real floating-point tensor (float32 or float64); "
            f"got dtype {value.dtype}"
        )
    return value


def as_real_tensor(name: str, value: object, accepted: str, *, sequences: bool = True) -> Tensor:
    """``value`` as a detached tensor: a real (not bool) number, a real or integer tensor, or,
    if ``sequences``, anything ``torch.as_tensor`` turns into one (nested lists, arrays)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return torch.tensor(float(value))  # (an int past int64 as well)
    if isinstance(value, Tensor):
        got, tensor = f"a tensor of dtype {value.dtype}", value.detach()
    else:
        got, tensor = reprlib.repr(value), None
        if sequences:
            try:
                tensor = torch.as_tensor(value)
            except (TypeError, ValueError, RuntimeError):  # str, None, ragged lists...
                pass
    if tensor is None or tensor.dtype == torch.bool or tensor.is_complex():
        raise TypeError(f"{name} must be {accepted}; got {got}")
    return tensor


def check_signal(x: object) -> Tensor:
    """The signal: a real float tensor ``(..., L)`` with ``L >= 1``."""
    x = check_real_tensor("x", x)
    if x.dim() == 0 or x.numel() == 0:
        raise ValueError(
            f"x must have shape (..., L) with L >= 1 samples and no empty batch dimension; "
            f"got {tuple(x.shape)}"
        )
    return x


def check_scalar(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    rule: str,
    integer: bool = False,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A real Python number within ``[low, high]`` (ends open if asked)."""
    exact = type(value) is int or (type(value) is float and not integer)  # the common case
    if not exact and (
        not isinstance(value, numbers.Integral if integer else numbers.Real)
        or isinstance(value, bool)
    ):
        kind = "an int" if integer else "a real number"
        raise TypeError(f"{name} must be {kind} ({rule}); got {value!r}")
    v = float(value)  # type: ignore[arg-type]
    bad = not math.isfinite(v)
    if low is not None:
        bad |= v <= low if low_open else v < low
    if high is not None:
        bad |= v >= high if high_open else v > high
    if bad:
        raise ValueError(f"{name} must satisfy {rule}; got {value!r}")
    return v


def check_n_fft(n_fft: object) -> int:
    """``n_fft`` must be an even integer >= 2."""
    if type(n_fft) is not int and (
        not isinstance(n_fft, numbers.Integral) or isinstance(n_fft, bool)
    ):
        raise TypeError(f"n_fft must be an even int >= 2; got {n_fft!r}")
    if n_fft < 2 or n_fft % 2:
        raise ValueError(f"n_fft must be an even int >= 2; got {n_fft!r}")
    return int(n_fft)


def check_choice(name: str, value: object, choices: tuple) -> None:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")


def check_win_length_values(win_length: Tensor, n_fft: int) -> float:
    """``0 < lam <= n_fft`` everywhere; returns ``max(lam)`` (one host synchronisation).

    On the "meta" device, whose tensors have shapes but no values, nothing is read and the
    longest window is taken to be ``n_fft`` (every frame sample is then summed).
    """
    if win_length.device.type == "meta":
        return float(n_fft)
    if win_length.numel() == 1:
        low = high = win_length.item()
    else:
        low, high = (v.item() for v in torch.aminmax(win_length.detach()))
    if not (low > 0 and high <= n_fft):  # also catches NaN
        lam = win_length.detach()
        first = lam[~((lam > 0) & (lam <= n_fft))].flatten()[0].item()
        raise ValueError(
            f"win_length must satisfy 0 < win_length <= n_fft (={n_fft}); got {first!r}"
            + (" (first offending element)" if win_length.numel() > 1 else "")
        )
    return high


def broadcast_shapes(*shapes: tuple) -> tuple | None:
    """The broadcast of ``shapes`` (numpy rules), or ``None`` if they do not broadcast."""
    if len(shapes) == 2 and shapes[0] == shapes[1]:
        return tuple(shapes[0])
    ndim = max(len(s) for s in shapes)
    out = [1] * ndim
    for shape in shapes:
        for i, d in enumerate(shape, ndim - len(shape)):
            if d != 1:
                if out[i] == 1:
                    out[i] = d
                elif out[i] != d:
                    return None
    return tuple(out)


def check_device(name: str, value: Tensor, x: Tensor) -> None:
    """``value`` must be on the device of ``x``."""
    if value.device != x.device:
        raise ValueError(f"{name} must be on the device of x ({x.device}); got {value.device}")


def check_finite(name: str, value: Tensor) -> None:
    """Every element of ``value`` is finite (one host synchronisation on an accelerator; none
    on the "meta" device, which has no values to check)."""
    if value.device.type == "meta":
        return
    if not bool(torch.isfinite(value).all()):
        first = value.detach()[~torch.isfinite(value)].flatten()[0].item()
        raise ValueError(f"{name} must be finite; got {first!r}")


def check_win_length_shape(
    win_length: Tensor, batch_shape: tuple, n_bins: int, n_frames: int
) -> None:
    """``win_length`` is 0-dim or ``(..., F or 1, T or 1)``, broadcastable to
    ``(*batch_shape, F, T)``."""
    if win_length.numel() == 0:
        raise ValueError(f"win_length must not be empty; got shape {tuple(win_length.shape)}")
    if win_length.dim() == 1:
        raise ValueError(
            f"win_length must be a scalar or have shape (..., F, T) broadcastable to "
            f"(..., {n_bins}, {n_frames}) (use (1, T) for time-varying, (F, 1) for "
            f"frequency-varying); got shape {tuple(win_length.shape)}"
        )
    target = (*batch_shape, n_bins, n_frames)
    full = broadcast_shapes(win_length.shape, target)
    if full is None or full[-2:] != target[-2:]:
        raise ValueError(
            f"win_length of shape {tuple(win_length.shape)} does not broadcast to "
            f"(..., F, T) = {target}"
        )


def check_frame_axis(name: str, value: Tensor) -> Tensor:
    """``value`` has a last (frame) dimension ``T >= 1``: shape ``(..., T)``."""
    if value.dim() == 0 or value.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (..., T) with T >= 1; got {tuple(value.shape)}")
    return value


def check_positions(positions: object, x: Tensor) -> Tensor:
    """``positions``: a real, finite tensor ``(..., T)`` of x's dtype and device."""
    positions = check_frame_axis("positions", check_real_tensor("positions", positions))
    if positions.dtype != x.dtype:
        raise TypeError(
            f"positions must have the dtype of x ({x.dtype}); got dtype {positions.dtype}"
        )
    check_device("positions", positions, x)
    batch = tuple(x.shape[:-1])
    if broadcast_shapes(positions.shape[:-1], batch) is None:
        raise ValueError(
            f"positions of shape {tuple(positions.shape)} does not broadcast to "
            f"(..., T) with the batch shape of x {tuple(batch)}"
        )
    check_finite("positions", positions)
    return positions
