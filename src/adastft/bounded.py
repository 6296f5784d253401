"""Bounded learnable quantities: window lengths and hops kept inside ``[low, high]``.

A learnable window length (or hop) ``lam`` is stored as an unconstrained ``nn.Parameter``
``log_ratio`` next to a buffer ``init`` (its value at construction)::

    lam = clamp(init * exp(log_ratio), low, high)

Why this form:

- **Log scale.** The optimiser moves ``log lam``: a step changes a length by the same *relative*
  amount whether it is 16 or 4096 samples, so one learning rate suits every ``n_fft`` and
  sample rate (``lr = 0.01`` moves a length by about 1 % per Adam step).
- **Exact at construction.** ``log_ratio`` starts at 0 and ``exp(0) = 1`` exactly, so the
  initial value is ``init`` to the bit (an integer window length or hop stays an integer, and the
  layer equals ``torch.stft`` where it is defined).
- **Bounds reached exactly.** A sigmoid-type map (the authors' choice) only approaches its bounds;
  ``win_length = n_fft`` — the classical STFT's window — could never be represented. The clamp
  returns ``low`` and ``high`` exactly. The gradient ``d lam / d log_ratio`` is ``lam`` inside
  the bounds; at a bound it is ``lam`` (the bound) where a descent step moves the value back
  inside, and 0 where it would push it out (projected gradient): the optimiser can never push a
  value out, and a value on a bound can still leave it. It is taken at the clamped value, not
  at ``init * exp(log_ratio)``, so that a step far past a bound (where ``exp`` overflows to
  infinity or underflows to 0) never gives an infinite, NaN or vanishing gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Bounded"]


class _ClampedExp(torch.autograd.Function):
    """``lam = clamp(init * exp(log_ratio), low, high)``, with ``d lam / d log_ratio = lam``
    (the clamped value) where a descent step keeps ``lam`` in ``[low, high]``, else 0."""

    @staticmethod
    def forward(ctx, log_ratio: Tensor, init: Tensor, low: Tensor, high: Tensor) -> Tensor:
        value = init * torch.exp(log_ratio)
        lam = torch.minimum(torch.maximum(value, low), high)
        ctx.save_for_backward(value, lam, low, high)
        return lam

    @staticmethod
    def backward(ctx, grad: Tensor):
        value, lam, low, high = ctx.saved_tensors
        # A descent step moves the value by -grad: block it where that leaves [low, high].
        outward = ((value >= high) & (grad < 0)) | ((value <= low) & (grad > 0))
        return torch.where(outward, torch.zeros_like(grad), grad * lam), None, None, None


class Bounded(nn.Module):
    """A learnable positive tensor kept in ``[low, high]``: ``clamp(init * exp(log_ratio))``.

    Args:
        init (float or Tensor, low <= init <= high): the value at construction; its shape is
            the parameter's shape.
        low (float > 0): lower bound, reached exactly.
        high (float >= low): upper bound, reached exactly.
        learnable (bool): ``log_ratio`` is an ``nn.Parameter`` (True) or a buffer (False).
        name (str): what the value is, for error messages.

    Shape:
        ``forward() -> init.shape``

    Example:
        >>> b = Bounded(torch.tensor([[512.0]]), low=16.0, high=512.0)
        >>> b()
        tensor([[512.]], grad_fn=<_ClampedExpBackward>)
        >>> (-b()).sum().backward()  # descent would raise lam past 512: blocked
        >>> b.log_ratio.grad
        tensor([[0.]])
        >>> b.log_ratio.grad = None
        >>> b().sum().backward()  # descent lowers lam: passed (d lam / d log_ratio = lam)
        >>> b.log_ratio.grad
        tensor([[512.]])
    """

    def __init__(
        self,
        init: float | Tensor,
        *,
        low: float,
        high: float,
        learnable: bool = True,
        name: str = "value",
    ) -> None:
        super().__init__()
        init = torch.as_tensor(init).detach()
        init = init.new_empty(init.shape).copy_(init)  # own, dense memory (not an expand's)
        if not init.is_floating_point():
            init = init.to(torch.get_default_dtype())
        if not (0 < low <= high):
            raise ValueError(f"{name} bounds must satisfy 0 < low <= high; got [{low}, {high}]")
        bad = ~((init >= low) & (init <= high))
        if bool(bad.any()):
            first = init[bad].flatten()[0].item()
            raise ValueError(f"{name} must satisfy {low} <= {name} <= {high}; got {first}")
        self.name = name
        self.register_buffer("init", init)
        self.register_buffer("low", torch.tensor(float(low), dtype=init.dtype))
        self.register_buffer("high", torch.tensor(float(high), dtype=init.dtype))
        log_ratio = torch.zeros_like(init)
        if learnable:
            self.log_ratio = nn.Parameter(log_ratio)
        else:
            self.register_buffer("log_ratio", log_ratio)

    @property
    def learnable(self) -> bool:
        return isinstance(self.log_ratio, nn.Parameter)

    def forward(self) -> Tensor:
        return _ClampedExp.apply(self.log_ratio, self.init, self.low, self.high)

    @torch.no_grad()
    def reset(self, value: float | Tensor) -> None:
        """Set the value to ``value`` (broadcast to the parameter's shape), exactly.

        Raises ``ValueError`` if it is outside ``[low, high]``.
        """
        value = torch.as_tensor(value, dtype=self.init.dtype, device=self.init.device)
        bad = ~((value >= self.low) & (value <= self.high))
        if bool(bad.any()):
            raise ValueError(
                f"{self.name} must satisfy {self.low.item()} <= {self.name} <= "
                f"{self.high.item()}; got {value[bad].flatten()[0].item()}"
            )
        self.init.copy_(value.expand_as(self.init))
        self.log_ratio.zero_()

    def extra_repr(self) -> str:
        return (
            f"shape={tuple(self.init.shape)}, low={self.low.item():g}, "
            f"high={self.high.item():g}, learnable={self.learnable}"
        )
