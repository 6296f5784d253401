"""Base windows ``w(v)`` on ``[-1/2, 1/2]`` and their contraction to a real length.

A base window is a pure function ``w(v)`` with its derivative ``w'(v)``, zero outside the open
support ``|v| < 1/2``. The DSTFT contracts it to a real length ``lam`` (SPEC.md §1)::

    w_lam(u) = c(lam) * w(u / lam)

where ``u`` is the distance in samples from the frame centre and ``c`` the normalisation:
``"amplitude"`` ``c = 1 / (lam * I1)`` (paper Eq. 2), ``"energy"`` ``c = 1 / sqrt(lam * I2)``,
``None`` ``c = 1``, with ``I1 = integral(w)`` and ``I2 = integral(w^2)`` over the support.

The gradients of the paper (Sec. IV) need the partial derivatives of ``w_lam``::

    d w_lam / d lam = c'(lam) w(v) - c(lam) w'(v) v / lam,      v = u / lam
    d w_lam / d u   = c(lam) w'(v) / lam

:meth:`Window.contracted` returns them apart from their common factor ``c(lam) / lam``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["Window", "get_window", "gaussian", "NORMALIZATIONS", "WINDOWS"]

NORMALIZATIONS = ("amplitude", "energy", None)
INTEGRAL_FLOOR = 1e-6  # a window's integral relative to that of its absolute value, at least


SIMPSON_INTERVALS = 20_000


def _grid(n: int = SIMPSON_INTERVALS) -> Tensor:
    """``n + 1`` equally spaced points of ``[-1/2, 1/2]``, ends included, in float64."""
    return torch.linspace(-0.5, 0.5, n + 1, dtype=torch.float64)


def _simpson(values: Tensor) -> float:
    """Composite Simpson rule over ``[-1/2, 1/2]`` of the values of a function on :func:`_grid`."""
    n = values.shape[0] - 1
    weights = torch.ones(n + 1, dtype=torch.float64)
    weights[1:-1:2] = 4.0
    weights[2:-1:2] = 2.0
    return float((weights * values).sum() / (3.0 * n))


def _evaluate(window: Window, which: str, v: Tensor) -> Tensor:
    """``window.fn(v)`` or ``window.derivative(v)`` on the grid ``v``, checked: a real tensor of
    ``v``'s shape, finite (the kernels evaluate both on the whole closed interval)."""
    values = getattr(window, which)(v)
    if not isinstance(values, Tensor) or values.shape != v.shape or values.is_complex():
        raise TypeError(
            f"window {window.name!r}: {which}(v) must return a real tensor of v's shape "
            f"{tuple(v.shape)}; got "
            + (f"shape {tuple(values.shape)}" if isinstance(values, Tensor) else repr(values))
        )
    bad = ~torch.isfinite(values)
    if bad.any():
        first = float(v[bad][0])
        raise ValueError(
            f"window {window.name!r}: {which} must be finite on [-1/2, 1/2], where it is "
            f"evaluated (samples outside the support are clamped to its edges); got "
            f"{float(values[bad][0])} at v={first}"
        )
    return values


@dataclass(frozen=True)
class Window:
    """A base window ``w(v)`` on ``[-1/2, 1/2]`` with its derivative.

    Args:
        fn (callable): ``w(v)``, elementwise on a real tensor ``v``; it is evaluated on
            ``[-1/2, 1/2]`` only (and must be finite there), and only ``|v| < 1/2`` is used.
        derivative (callable): ``w'(v)``, elementwise, likewise.
        name (str): shown in ``repr`` and error messages.
        integral (float, optional): ``integral(w)`` over the support; computed numerically
            (Simpson, 20 000 intervals) when omitted.
        integral_sq (float, optional): ``integral(w^2)``; computed numerically when omitted.
        finite_everywhere (bool): ``fn`` and ``derivative`` are finite for every real ``v``
            (as the built-in windows are): they are then evaluated on ``v`` as it comes,
            without first clamping it to ``[-1/2, 1/2]``, one pass fewer over the window's
            samples. The values outside the support are discarded either way.

    Example:
        >>> import torch
        >>> sine = Window(lambda v: torch.cos(torch.pi * v),
        ...               lambda v: -torch.pi * torch.sin(torch.pi * v), name="sine")
        >>> round(sine.integral, 6)  # 2 / pi
        0.63662
    """

    fn: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor], Tensor]
    name: str = "custom"
    integral: float = field(default=float("nan"))
    integral_sq: float = field(default=float("nan"))
    finite_everywhere: bool = False

    def __post_init__(self) -> None:
        if not callable(self.fn) or not callable(self.derivative):
            raise TypeError(
                f"Window fn and derivative must be callables; got {type(self.fn).__name__} "
                f"and {type(self.derivative).__name__}"
            )
        if not isinstance(self.finite_everywhere, bool):
            raise TypeError(
                f"Window finite_everywhere must be a bool; got {self.finite_everywhere!r}"
            )
        v = _grid()
        w = _evaluate(self, "fn", v)
        _evaluate(self, "derivative", v)
        if math.isnan(self.integral):
            object.__setattr__(self, "integral", _simpson(w))
        if math.isnan(self.integral_sq):
            object.__setattr__(self, "integral_sq", _simpson(w**2))
        # Positive, and not a rounding error of a window whose lobes cancel (an odd fn):
        # the amplitude normalisation divides by it.
        if not self.integral > INTEGRAL_FLOOR * _simpson(w.abs()):
            raise ValueError(
                f"window {self.name!r} must have a positive integral over [-1/2, 1/2] "
                f"(more than {INTEGRAL_FLOOR:g} of the integral of |w|); got {self.integral}"
            )

    def normalizer(self, lam: Tensor, normalization: str | None) -> Tensor | None:
        """``c(lam)`` (``None`` for ``normalization=None``).

        ``"amplitude"``: ``c = 1 / (lam I1)``; ``"energy"``: ``c = 1 / sqrt(lam I2)``. Both are
        ``c ~ lam^-kappa``, so ``c'/c = -kappa / lam`` with ``kappa = KAPPA[normalization]``.
        """
        if normalization == "amplitude":
            return (lam * self.integral).reciprocal_()
        if normalization == "energy":
            return (lam * self.integral_sq).rsqrt_()
        return None

    def contracted(
        self,
        lam: Tensor,
        u: Tensor,
        normalization: str | None,
        lam_term: bool = False,
        u_term: bool = False,
    ) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
        """Evaluate ``w_lam(u)`` and, if asked, its derivatives apart from a common factor.

        With ``v = u / lam``, ``s = 1`` on the open support ``|v| < 1/2`` (else 0) and
        ``kappa = -lam c'(lam) / c(lam)`` (1 for ``"amplitude"``, 1/2 for ``"energy"``, 0)::

            w_lam         = c(lam) w(v) s
            d w_lam / dlam = -(c / lam) D_lam,    D_lam = (w'(v) v + kappa w(v)) s
            d w_lam / du   =  (c / lam) D_u,      D_u   = w'(v) s

        ``c / lam`` depends on ``lam`` only: a caller that sums ``D`` over samples of one
        window length applies it once per sum, not once per sample.

        Args:
            lam (Tensor, > 0): window lengths, broadcastable against ``u``.
            u (Tensor): distances in samples from the frame centre.
            normalization: ``"amplitude"``, ``"energy"`` or ``None``.
            lam_term (bool): also return ``D_lam``.
            u_term (bool): also return ``D_u``.

        Returns:
            ``(w_lam, D_lam, D_u, c / lam)``: the first three of the broadcast shape of ``lam``
            and ``u``, the last of ``lam``'s; ``None`` where not asked for (``c / lam`` comes
            with either term).
        """
        v = u / lam  # a division, not u * (1 / lam): the support edge |v| = 1/2 is exact
        # 1.0 on the open support, 0.0 elsewhere: an in-place comparison keeps the float dtype,
        # and a float product is several times cheaper than a bool mask or torch.where.
        scale = v.abs().lt_(0.5)
        if not self.finite_everywhere:  # fn and derivative are evaluated on their domain
            v = v.clamp(-0.5, 0.5)
        c = self.normalizer(lam, normalization)
        f = self.fn(v)
        w_lam = f * (scale if c is None else scale * c)
        if not (lam_term or u_term):
            return w_lam, None, None, None
        slope = self.derivative(v)
        d_u = slope * scale if u_term else None
        d_lam = None
        if lam_term:
            d_lam = slope * v if d_u is None else d_u * v
            kappa = KAPPA[normalization]
            if kappa and d_u is None:  # (w'(v) v + kappa w(v)) s
                d_lam.add_(f, alpha=kappa).mul_(scale)
            elif kappa:  # w'(v) s v + kappa w(v) s
                d_lam.addcmul_(f, scale, value=kappa)
            elif d_u is None:
                d_lam.mul_(scale)
        c_lam = lam.reciprocal() if c is None else c / lam
        return w_lam, d_lam, d_u, c_lam


# kappa = -lam c'(lam) / c(lam) of each normalisation: c(lam) ~ lam^-kappa (Window.normalizer).
KAPPA = {"amplitude": 1.0, "energy": 0.5, None: 0.0}


# The built-in windows work in place on their own temporaries: on small windows every
# operation's fixed cost counts, on large ones every pass over memory.


def _hann(v: Tensor) -> Tensor:
    return torch.cos(v * math.pi).square_()  # cos^2(pi v)


def _hann_derivative(v: Tensor) -> Tensor:
    return torch.sin(v * (2 * math.pi)).mul_(-math.pi)  # -pi sin(2 pi v)


def _blackman(v: Tensor) -> Tensor:
    # 0.42 + 0.5 cos(2 pi v) + 0.08 cos(4 pi v), summed in this order: near the edges, where
    # the terms nearly cancel, the value rounds as the formula of SPEC.md does.
    high = torch.cos(v * (4 * math.pi)).mul_(0.08)
    return torch.cos(v * (2 * math.pi)).mul_(0.5).add_(0.42).add_(high)


def _blackman_derivative(v: Tensor) -> Tensor:
    # -pi sin(2 pi v) - 0.32 pi sin(4 pi v)
    return (
        torch.sin(v * (4 * math.pi))
        .mul_(-0.32 * math.pi)
        .add_(torch.sin(v * (2 * math.pi)), alpha=-math.pi)
    )


def _hamming(v: Tensor) -> Tensor:
    return torch.cos(v * (2 * math.pi)).mul_(0.46).add_(0.54)  # 0.54 + 0.46 cos(2 pi v)


def _hamming_derivative(v: Tensor) -> Tensor:
    return torch.sin(v * (2 * math.pi)).mul_(-0.92 * math.pi)  # -0.92 pi sin(2 pi v)


def gaussian(sigma: float = 1.0 / 6.0) -> Window:
    """The truncated Gaussian ``w(v) = exp(-v^2 / (2 sigma^2))`` on ``|v| < 1/2``.

    Args:
        sigma (float > 0): standard deviation relative to the window length; the default
            ``1/6`` puts the support edge at ``3 sigma`` (the paper's "effective support").

    Example:
        >>> narrow = gaussian(0.1)
        >>> narrow.name, round(narrow.integral, 4)  # sqrt(2 pi) sigma, truncated at 5 sigma
        ('gaussian(sigma=0.1)', 0.2507)
    """
    if not (isinstance(sigma, (int, float)) and sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be a finite number > 0; got {sigma!r}")
    s2 = float(sigma) ** 2

    def fn(v: Tensor) -> Tensor:
        return torch.exp(v.square().mul_(-0.5 / s2))

    def derivative(v: Tensor) -> Tensor:
        return (v * (-1.0 / s2)).mul_(torch.exp(v.square().mul_(-0.5 / s2)))

    half = 0.5 / sigma  # the support edge in units of sigma
    return Window(
        fn,
        derivative,
        name="gaussian" if sigma == 1.0 / 6.0 else f"gaussian(sigma={sigma:g})",
        integral=sigma * math.sqrt(2 * math.pi) * math.erf(half / math.sqrt(2)),
        integral_sq=sigma * math.sqrt(math.pi) * math.erf(half),
        finite_everywhere=True,
    )


# The built-in windows are trigonometric polynomials or a Gaussian: finite everywhere.
WINDOWS: dict[str, Window] = {
    "hann": Window(_hann, _hann_derivative, "hann", 0.5, 0.375, finite_everywhere=True),
    "blackman": Window(
        _blackman,
        _blackman_derivative,
        "blackman",
        0.42,
        0.42**2 + 0.5**2 / 2 + 0.08**2 / 2,
        finite_everywhere=True,
    ),
    "hamming": Window(
        _hamming,
        _hamming_derivative,
        "hamming",
        0.54,
        0.54**2 + 0.46**2 / 2,
        finite_everywhere=True,
    ),
    "gaussian": gaussian(),
}


def get_window(window: str | Window) -> Window:
    """Return the :class:`Window` named ``window`` (or ``window`` itself).

    Args:
        window: one of ``"hann"``, ``"blackman"``, ``"gaussian"``, ``"hamming"``, or a
            :class:`Window`.

    Example:
        >>> get_window("hann").integral
        0.5
    """
    if isinstance(window, Window):
        return window
    if isinstance(window, str):
        if window in WINDOWS:
            return WINDOWS[window]
        raise ValueError(f"window must be one of {sorted(WINDOWS)} or a Window; got {window!r}")
    raise TypeError(f"window must be a str or an adastft.Window; got {type(window).__name__}")
