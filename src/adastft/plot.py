"""Matplotlib helpers: spectrograms at their true frame positions, window-length maps, frames.

matplotlib is an optional dependency (``pip install 'adastft[plot]'``), imported only when a
function of this module runs: ``import adastft`` and ``import adastft.plot`` work without it.
Nothing is shown on screen; every function draws on an Axes (by default the current one,
``plt.gca()``) and returns it, and :func:`compare` returns a new Figure.

Units: with ``sample_rate=None`` time is in samples and frequency in cycles per sample (``k / N``
for bin ``k``, up to 0.5); with a ``sample_rate`` ``fs`` they are seconds (``t_n / fs``) and hertz
(``k fs / N``). Window lengths ``lam`` are in samples, or in milliseconds (``1000 lam / fs``).

Cells: a spectrogram is drawn with ``pcolormesh``, one cell per bin and frame. The cell of frame
``n`` spans from the midpoint between ``t_{n-1}`` and ``t_n`` to the midpoint between ``t_n`` and
``t_{n+1}`` (the end cells reach half the neighbouring gap beyond the end centres), so
non-uniform positions, e.g. learnt hops, are drawn where they are. The cell of bin ``k`` spans
``(k - 1/2) fs / N`` to ``(k + 1/2) fs / N``, clipped to ``[0, fs / 2]``.

Inputs may be torch tensors (on any device, with or without ``requires_grad``: they are detached
and copied to the CPU) or numpy arrays.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from ._validation import check_n_fft, check_scalar

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["spectrogram", "win_length_map", "compare", "positions"]

MISSING_MATPLOTLIB = "adastft.plot needs matplotlib: pip install 'adastft[plot]'"


def _pyplot():
    """``matplotlib.pyplot``, imported on first use."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(MISSING_MATPLOTLIB) from err
    return plt


# --- argument checks --------------------------------------------------------------------------


def _as_array(name: str, value: object, *, complex_ok: bool = False, number_ok: bool = False):
    """``value`` (Tensor, ndarray, or a real number if ``number_ok``) as a float64 array.

    Complex input (if ``complex_ok``) becomes complex128. Checks that every element is finite.
    """
    if isinstance(value, Tensor):
        t = value.detach()
        if t.is_complex():
            t = t.to(device="cpu", dtype=torch.complex128).resolve_conj()
        elif t.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers; got dtype {t.dtype}")
        else:
            t = t.to(device="cpu", dtype=torch.float64)
        array = t.resolve_neg().numpy()
    elif isinstance(value, np.ndarray):
        if value.dtype.kind not in "iufc":
            raise TypeError(f"{name} must hold real numbers; got dtype {value.dtype}")
        array = value.astype(np.complex128 if value.dtype.kind == "c" else np.float64)
    elif number_ok and isinstance(value, numbers.Real) and not isinstance(value, bool):
        array = np.asarray(float(value))
    else:
        kinds = "a torch.Tensor or a numpy.ndarray"
        if number_ok:
            kinds = "a torch.Tensor, a numpy.ndarray or a real number"
        raise TypeError(f"{name} must be {kinds}; got {type(value).__name__}")
    if np.iscomplexobj(array) and not complex_ok:
        raise TypeError(f"{name} must be real; got dtype {array.dtype}")
    if not np.isfinite(array).all():
        first = array[~np.isfinite(array)].flat[0].item()
        raise ValueError(f"{name} must be finite; got {first!r}")
    return array


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool; got {value!r}")


def _check_sample_rate(sample_rate: object) -> float | None:
    if sample_rate is None:
        return None
    return check_scalar("sample_rate", sample_rate, low=0.0, low_open=True, rule="sample_rate > 0")


def _spec_array(name: str, spec: object, n_bins: int) -> tuple[np.ndarray, bool]:
    """A spectrogram ``(F, T)`` as a float64 array (magnitude if complex), and whether complex."""
    array = _as_array(name, spec, complex_ok=True)
    if array.ndim != 2 or array.shape[0] != n_bins or array.shape[1] == 0:
        hint = " (select one example, e.g. spec[0])" if array.ndim > 2 else ""
        raise ValueError(
            f"{name} must have shape (F, T) with F = n_fft // 2 + 1 (={n_bins}) and T >= 1"
            f"{hint}; got {array.shape}"
        )
    is_complex = np.iscomplexobj(array)
    return (np.abs(array) if is_complex else array), is_complex


def _frame_times(
    name: str, positions: object, hop_length: object, n_fft: int, n_t: int
) -> tuple[np.ndarray, float]:
    """Frame centres ``t_n`` in samples ``(T,)`` and the width of a lone frame's cell."""
    if positions is not None:
        if hop_length is not None:
            raise ValueError(
                f"give either hop_length or {name}, not both; got hop_length={hop_length!r}"
            )
        t = _as_array(name, positions)
        if t.shape != (n_t,):
            raise ValueError(f"{name} must have shape (T,) = ({n_t},); got {t.shape}")
        return t, n_fft // 4
    if hop_length is None:
        hop_length = n_fft // 4
    if isinstance(hop_length, Tensor):
        if hop_length.dim() != 0:
            raise ValueError(
                f"hop_length must be a number or a 0-dim tensor (use positions for "
                f"time-varying hops); got shape {tuple(hop_length.shape)}"
            )
        hop_length = float(hop_length.detach())
    hop = check_scalar("hop_length", hop_length, low=0.0, low_open=True, rule="hop_length > 0")
    return np.arange(n_t) * hop, hop


def _time_edges(name: str, t: np.ndarray, lone_width: float) -> np.ndarray:
    """Cell edges ``(T + 1,)``: midpoints of consecutive centres, half a gap beyond the ends."""
    if t.size == 1:
        return np.array([t[0] - lone_width / 2, t[0] + lone_width / 2])
    gaps = np.diff(t)
    if (gaps < 0).any():
        n = int(np.argmax(gaps < 0)) + 1
        raise ValueError(
            f"{name} must be non-decreasing (t_n >= t_(n-1)) to be drawn as cells; "
            f"got t_{n}={t[n].item()!r} after t_{n - 1}={t[n - 1].item()!r}"
        )
    return np.concatenate([[t[0] - gaps[0] / 2], t[:-1] + gaps / 2, [t[-1] + gaps[-1] / 2]])


def _freq_edges(n_fft: int) -> np.ndarray:
    """Bin edges ``(F + 1,)`` in cycles per sample: ``(k -+ 1/2) / N`` clipped to [0, 1/2]."""
    k = np.arange(n_fft // 2 + 2) - 0.5
    return np.clip(k / n_fft, 0.0, 0.5)


def _labels(sample_rate: float | None) -> tuple[float, str, str]:
    """``(scale, time label, frequency label)``: samples -> seconds and cycles -> Hz."""
    if sample_rate is None:
        return 1.0, "time (samples)", "frequency (cycles/sample)"
    return sample_rate, "time (s)", "frequency (Hz)"


def _lam_unit(sample_rate: float | None) -> tuple[float, str]:
    """Factor from samples to the displayed window-length unit, and its name."""
    return (1.0, "samples") if sample_rate is None else (1000.0 / sample_rate, "ms")


def _check_db_options(power: object, dynamic_range: object, db: object) -> float:
    _check_bool("db", db)
    check_scalar("dynamic_range", dynamic_range, low=0.0, low_open=True, rule="dynamic_range > 0")
    return check_scalar("power", power, low=0.0, low_open=True, rule="power > 0")


def _to_power(name: str, values: np.ndarray, exponent: float) -> np.ndarray:
    """``|S|^2`` from ``values = |S|^exponent`` (non-negative)."""
    if (values < 0).any():
        first = values[values < 0].flat[0].item()
        raise ValueError(f"{name} must be >= 0 to be drawn in dB (db=True); got {first!r}")
    return values ** (2.0 / exponent)


def _draw_spectrogram(
    ax,
    name: str,
    t: np.ndarray,
    lone_width: float,
    n_fft: int,
    sample_rate: float | None,
    *,
    level: np.ndarray,
    db: bool,
    dynamic_range: float,
    cmap,
    colorbar: bool,
    title: str | None,
    label: str,
    kwargs: dict,
):
    """Draw the prepared ``level`` (F, T) at its cells; return the QuadMesh."""
    scale, time_label, freq_label = _labels(sample_rate)
    time_edges = _time_edges(name, t, lone_width) / scale
    freq_edges = _freq_edges(n_fft) * scale
    if db:
        kwargs = {"vmin": -dynamic_range, "vmax": 0.0, **kwargs}
    mesh = ax.pcolormesh(time_edges, freq_edges, level, cmap=cmap, shading="flat", **kwargs)
    ax.set_xlabel(time_label)
    ax.set_ylabel(freq_label)
    if title is not None:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label=label)
    return mesh


def _db_level(power_values: np.ndarray, ref_power: float, dynamic_range: float) -> np.ndarray:
    """``10 log10(P / ref_power)`` clipped below at ``-dynamic_range`` (all floor if ref is 0)."""
    if ref_power <= 0:  # an all-zero spectrogram: everything at the floor
        return np.full_like(power_values, -dynamic_range)
    with np.errstate(divide="ignore"):
        level = 10.0 * np.log10(power_values / ref_power)
    return np.maximum(level, -dynamic_range)


def _value_label(db: bool, exponent: float) -> str:
    if db:
        return "level (dB)"
    return {1.0: "magnitude |S|", 2.0: "power |S|^2"}.get(exponent, f"|S|^{exponent:g}")


# --- public functions -----------------------------------------------------------------------


def spectrogram(
    spec: Tensor | np.ndarray,
    *,
    positions: Tensor | np.ndarray | None = None,
    hop_length: float | Tensor | None = None,
    n_fft: int,
    sample_rate: float | None = None,
    power: float = 2.0,
    db: bool = True,
    dynamic_range: float = 80.0,
    ref: float | None = None,
    ax: Axes | None = None,
    cmap: str = "magma",
    colorbar: bool = True,
    title: str | None = None,
    **kwargs,
) -> Axes:
    r"""Draw a spectrogram with one cell per bin and frame, at the true frame positions.

    ``spec`` holds ``|S|^power`` (``power=2``: a power spectrogram, as
    :func:`adastft.spectrogram` returns by default; ``power=1``: a magnitude). A complex
    ``spec`` is the DSTFT ``S`` itself and is drawn as ``|S|`` (``power`` is then ignored).
    With ``db=True`` the level drawn is that of ``|S|^2`` relative to ``ref``, floored
    ``dynamic_range`` below it::

        level = max(10 log10(spec ** (2 / power) / ref ** (2 / power)), -dynamic_range)

    so it does not depend on ``power`` (a magnitude and its square give the same picture). The
    colour scale runs from ``-dynamic_range`` to 0 dB. An all-zero ``spec`` is drawn at the
    floor. With ``db=False`` the values of ``spec`` (``|S|`` if complex) are drawn as they are.

    Frame ``n`` is centred on ``t_n`` = ``positions[n]``, or ``n * hop_length`` as
    :func:`adastft.dstft` with ``center=True`` (pass ``positions`` for ``center=False``). Its
    cell runs between the midpoints with its neighbours (see the module docstring); a single
    frame is drawn one hop wide (``hop_length``, or ``n_fft // 4`` with ``positions``).

    Args:
        spec (Tensor or ndarray): real ``|S|^power`` or complex ``S``, shape ``(F, T)``,
            finite, ``>= 0`` when ``db`` and real.
        positions (Tensor or ndarray, optional): real frame centres ``t_n`` in samples,
            ``(T,)``, non-decreasing. Not with ``hop_length``.
        hop_length (float > 0, optional): constant hop ``H``; default ``n_fft // 4`` when
            ``positions`` is not given either.
        n_fft (int, even >= 2): DFT size ``N``; ``F = N // 2 + 1``.
        sample_rate (float > 0, optional): ``fs``; axes in seconds and Hz instead of samples
            and cycles per sample.
        power (float > 0): the exponent of the real ``spec`` (2 power, 1 magnitude).
        db (bool): draw the level in dB (default) or the linear values.
        dynamic_range (float > 0): dB drawn below the reference; lower levels are floored.
        ref (float > 0, optional): the value of ``spec`` drawn as 0 dB (a magnitude if
            ``spec`` is complex); default the maximum of ``spec``.
        ax (Axes, optional): where to draw; default ``plt.gca()``.
        cmap (str or Colormap): the colour map.
        colorbar (bool): add a colour bar next to ``ax``.
        title (str, optional): the Axes title.
        **kwargs: passed to ``Axes.pcolormesh`` (e.g. ``vmin``, ``vmax``, ``rasterized``).

    Returns:
        Axes: ``ax``; the image is its QuadMesh ``ax.collections[-1]``.

    Shape:
        ``spec (F, T)`` with ``F = n_fft // 2 + 1``, ``positions (T,)``; the QuadMesh has
        ``(F + 1) x (T + 1)`` vertices.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import torch, adastft as ad
        >>> from adastft import plot
        >>> x = ad.signals.three_component(4000, sample_rate=8000.0)
        >>> spec = ad.spectrogram(x, 256.0, n_fft=512, hop_length=128)
        >>> fig, ax = plt.subplots()
        >>> ax = plot.spectrogram(spec, hop_length=128, n_fft=512, sample_rate=8000.0, ax=ax)
        >>> ax.get_xlabel(), ax.get_ylabel()
        ('time (s)', 'frequency (Hz)')
        >>> plt.close(fig)
    """
    plt = _pyplot()
    n = check_n_fft(n_fft)
    exponent = _check_db_options(power, dynamic_range, db)
    fs = _check_sample_rate(sample_rate)
    _check_bool("colorbar", colorbar)
    values, is_complex = _spec_array("spec", spec, n // 2 + 1)
    exponent = 1.0 if is_complex else exponent
    t, lone_width = _frame_times("positions", positions, hop_length, n, values.shape[1])
    if db:
        p = _to_power("spec", values, exponent)
        if ref is None:
            ref_power = float(p.max())
        else:
            ref_power = check_scalar("ref", ref, low=0.0, low_open=True, rule="ref > 0") ** (
                2.0 / exponent
            )
        level = _db_level(p, ref_power, dynamic_range)
    else:
        level = values
    ax = plt.gca() if ax is None else ax
    _draw_spectrogram(
        ax,
        "positions",
        t,
        lone_width,
        n,
        fs,
        level=level,
        db=db,
        dynamic_range=float(dynamic_range),
        cmap=cmap,
        colorbar=colorbar,
        title=title,
        label=_value_label(db, exponent),
        kwargs=kwargs,
    )
    return ax


def compare(
    before: Tensor | np.ndarray,
    after: Tensor | np.ndarray,
    *,
    positions_before: Tensor | np.ndarray | None = None,
    positions_after: Tensor | np.ndarray | None = None,
    hop_length: float | Tensor | None = None,
    n_fft: int,
    sample_rate: float | None = None,
    titles: tuple[str, str] = ("before", "after"),
    figsize: tuple[float, float] | None = None,
    **kwargs,
) -> Figure:
    """Two spectrograms side by side on one colour scale, e.g. before and after learning.

    Each is drawn as :func:`spectrogram` draws it, with its own frame positions
    (``positions_before``, ``positions_after``, or the shared ``hop_length`` for one without).
    With ``db=True`` both levels are relative to the same reference, the larger of the two
    maxima (or ``ref``, in the units of ``before``), so 0 dB is the loudest cell of either;
    with ``db=False`` both share the colour limits ``[min, max]`` of the two. One colour bar
    serves both.

    Args:
        before, after (Tensor or ndarray): spectrograms ``(F, T_before)`` and ``(F, T_after)``
            (see :func:`spectrogram` for values and dB).
        positions_before, positions_after (Tensor or ndarray, optional): frame centres in
            samples, ``(T_before,)`` and ``(T_after,)``.
        hop_length (float > 0, optional): the hop of a spectrogram given without positions;
            default ``n_fft // 4``.
        n_fft (int, even >= 2): DFT size ``N``.
        sample_rate (float > 0, optional): axes in seconds and Hz.
        titles (pair of str): the two Axes titles.
        figsize (pair of float, optional): the Figure size in inches; default ``(10, 4)``.
        **kwargs: the options of :func:`spectrogram` (``power``, ``db``, ``dynamic_range``,
            ``ref``, ``cmap``, ``colorbar``) and of ``Axes.pcolormesh``.

    Returns:
        Figure: a new Figure with two Axes (``fig.axes[:2]``) and, if ``colorbar``, a third
        for the colour bar.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import torch, adastft as ad
        >>> from adastft import plot
        >>> x = ad.signals.three_component(4000, sample_rate=8000.0)
        >>> a = ad.spectrogram(x, 128.0, n_fft=512, hop_length=128)
        >>> b = ad.spectrogram(x, 384.0, n_fft=512, hop_length=128)
        >>> fig = plot.compare(a, b, hop_length=128, n_fft=512, titles=("128", "384"))
        >>> [ax.get_title() for ax in fig.axes[:2]]
        ['128', '384']
        >>> plt.close(fig)
    """
    plt = _pyplot()
    n = check_n_fft(n_fft)
    fs = _check_sample_rate(sample_rate)
    if (
        not isinstance(titles, (tuple, list))
        or len(titles) != 2
        or not all(isinstance(s, str) for s in titles)
    ):
        raise ValueError(f"titles must be a pair of str (before, after); got {titles!r}")
    if figsize is None:
        figsize = (10.0, 4.0)
    power = kwargs.pop("power", 2.0)
    db = kwargs.pop("db", True)
    dynamic_range = kwargs.pop("dynamic_range", 80.0)
    ref = kwargs.pop("ref", None)
    cmap = kwargs.pop("cmap", "magma")
    colorbar = kwargs.pop("colorbar", True)
    exponent = _check_db_options(power, dynamic_range, db)
    _check_bool("colorbar", colorbar)

    pairs = []
    for name, spec, pos_name, pos in (
        ("before", before, "positions_before", positions_before),
        ("after", after, "positions_after", positions_after),
    ):
        values, is_complex = _spec_array(name, spec, n // 2 + 1)
        hop = hop_length if pos is None else None  # the shared hop: for a side without
        t, lone_width = _frame_times(pos_name, pos, hop, n, values.shape[1])
        e = 1.0 if is_complex else exponent
        pairs.append((name, values, pos_name, t, lone_width, e))
    if db:
        powers = [_to_power(name, values, e) for name, values, _, _, _, e in pairs]
        if ref is None:
            ref_power = max(float(p.max()) for p in powers)
        else:
            ref_value = check_scalar("ref", ref, low=0.0, low_open=True, rule="ref > 0")
            ref_power = ref_value ** (2.0 / pairs[0][5])
        levels = [_db_level(p, ref_power, float(dynamic_range)) for p in powers]
    else:
        levels = [values for _, values, _, _, _, _ in pairs]
        kwargs.setdefault("vmin", min(float(v.min()) for v in levels))
        kwargs.setdefault("vmax", max(float(v.max()) for v in levels))

    fig = plt.figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    meshes = []
    for ax, title, level, (_, _, pos_name, t, lone_width, _) in zip(
        axes, titles, levels, pairs, strict=True
    ):
        meshes.append(
            _draw_spectrogram(
                ax,
                pos_name,
                t,
                lone_width,
                n,
                fs,
                level=level,
                db=db,
                dynamic_range=float(dynamic_range),
                cmap=cmap,
                colorbar=False,
                title=title,
                label="",
                kwargs=dict(kwargs),
            )
        )
    axes[1].set_ylabel("")
    if colorbar:
        fig.colorbar(meshes[0], ax=list(axes), label=_value_label(db, pairs[0][5]))
    return fig


def _win_length_array(win_length: object, n_fft: int, n_bins: int) -> np.ndarray:
    """``win_length`` as a float64 array ``()`` or ``(F or 1, T or 1)`` within ``(0, n_fft]``."""
    lam = _as_array("win_length", win_length, number_ok=True)
    if lam.ndim == 1 or lam.ndim > 2 or (lam.ndim == 2 and lam.shape[0] not in (1, n_bins)):
        raise ValueError(
            f"win_length must be a number or have shape (F or 1, T or 1) with "
            f"F = n_fft // 2 + 1 (={n_bins}) (use (1, T) for time-varying, (F, 1) for "
            f"frequency-varying; select one example of a batch); got shape {lam.shape}"
        )
    if lam.ndim == 2 and lam.shape[1] == 0:
        raise ValueError(f"win_length must have T >= 1 frames; got shape {lam.shape}")
    bad = ~((lam > 0) & (lam <= n_fft))
    if bad.any():
        first = lam[bad].flat[0].item()
        raise ValueError(
            f"win_length must satisfy 0 < win_length <= n_fft (={n_fft}); got {first!r}"
        )
    return lam


def win_length_map(
    win_length: float | Tensor | np.ndarray,
    *,
    positions: Tensor | np.ndarray | None = None,
    hop_length: float | Tensor | None = None,
    n_fft: int,
    sample_rate: float | None = None,
    ax: Axes | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
    title: str | None = None,
) -> Axes:
    """Draw window lengths ``lam`` in the form their shape gives them.

    - a number, 0-dim or ``(1, 1)`` (constant): a horizontal line at ``lam``, labelled;
    - ``(1, T)`` (time-varying): ``lam_n`` against the frame centres ``t_n``;
    - ``(F, 1)`` (frequency-varying): ``lam_k`` against the bin frequencies ``k fs / N``;
    - ``(F, T)`` (both): an image with the cells of :func:`spectrogram` and a colour bar.

    Lengths are in samples, or in milliseconds (``1000 lam / fs``) when ``sample_rate`` is
    given (the axes are then in seconds and Hz, as in :func:`spectrogram`).

    Args:
        win_length (float, Tensor or ndarray, 0 < lam <= n_fft): window lengths in samples,
            a number or ``(F or 1, T or 1)`` (e.g. ``DSTFT.win_length``).
        positions (Tensor or ndarray, optional): frame centres ``t_n`` in samples, ``(T,)``;
            with a constant ``lam`` they only set the time range drawn; unused for ``(F, 1)``.
        hop_length (float > 0, optional): constant hop instead of ``positions``; default
            ``n_fft // 4``.
        n_fft (int, even >= 2): DFT size ``N``.
        sample_rate (float > 0, optional): ``fs``; lengths in ms, axes in seconds and Hz.
        ax (Axes, optional): where to draw; default ``plt.gca()``.
        cmap (str or Colormap): the colour map of the ``(F, T)`` image.
        colorbar (bool): add a colour bar to the ``(F, T)`` image.
        title (str, optional): the Axes title.

    Returns:
        Axes: ``ax``.

    Shape:
        ``win_length`` ``()``, ``(1, 1)``, ``(1, T)``, ``(F, 1)`` or ``(F, T)`` with
        ``F = n_fft // 2 + 1``; ``positions (T,)``.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import torch, adastft as ad
        >>> from adastft import plot
        >>> lam = torch.linspace(64.0, 512.0, 32)[None]  # (1, T): time-varying
        >>> fig, ax = plt.subplots()
        >>> ax = plot.win_length_map(lam, hop_length=128, n_fft=512, sample_rate=8000.0, ax=ax)
        >>> ax.get_ylabel()
        'window length (ms)'
        >>> plt.close(fig)
    """
    plt = _pyplot()
    n = check_n_fft(n_fft)
    fs = _check_sample_rate(sample_rate)
    _check_bool("colorbar", colorbar)
    n_bins = n // 2 + 1
    lam = _win_length_array(win_length, n, n_bins)
    factor, unit = _lam_unit(fs)
    scale, time_label, freq_label = _labels(fs)
    lam_label = f"window length ({unit})"
    if positions is not None and hop_length is not None:
        raise ValueError(
            f"give either hop_length or positions, not both; got hop_length={hop_length!r}"
        )
    ax = plt.gca() if ax is None else ax

    if lam.size == 1:
        value = float(lam.flat[0]) * factor
        ax.axhline(value)
        text = f"constant: {float(lam.flat[0]):g} samples"
        if fs is not None:
            text += f" ({value:g} ms)"
        ax.annotate(text, xy=(0.02, value), xycoords=("axes fraction", "data"), va="bottom")
        if positions is not None:
            t = _as_array("positions", positions)
            if t.ndim != 1 or t.size == 0:
                raise ValueError(f"positions must have shape (T,) with T >= 1; got {t.shape}")
            edges = _time_edges("positions", t, n // 4) / scale
            ax.set_xlim(edges[0], edges[-1])
            ax.set_xlabel(time_label)
        ax.set_ylabel(lam_label)
    elif lam.shape[0] == 1:  # (1, T)
        t, _ = _frame_times("positions", positions, hop_length, n, lam.shape[1])
        ax.plot(t / scale, lam[0] * factor, marker="." if lam.shape[1] <= 64 else None)
        ax.set_xlabel(time_label)
        ax.set_ylabel(lam_label)
    elif lam.shape[1] == 1:  # (F, 1)
        freqs = np.arange(n_bins) / n * scale
        ax.plot(freqs, lam[:, 0] * factor)
        ax.set_xlabel(freq_label)
        ax.set_ylabel(lam_label)
    else:  # (F, T)
        t, lone_width = _frame_times("positions", positions, hop_length, n, lam.shape[1])
        time_edges = _time_edges("positions", t, lone_width) / scale
        mesh = ax.pcolormesh(
            time_edges, _freq_edges(n) * scale, lam * factor, cmap=cmap, shading="flat"
        )
        ax.set_xlabel(time_label)
        ax.set_ylabel(freq_label)
        if colorbar:
            ax.figure.colorbar(mesh, ax=ax, label=lam_label)
    if title is not None:
        ax.set_title(title)
    return ax


def positions(
    positions: Tensor | np.ndarray,
    win_length: float | Tensor | np.ndarray | None = None,
    *,
    sample_rate: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw frame centres ``t_n`` and, optionally, each window's extent ``t_n -+ lam_n / 2``.

    Frame ``n`` is drawn on the row ``y = n``: a tick at its centre ``t_n`` and, when
    ``win_length`` is given, a horizontal bar over its window's support
    ``(t_n - lam_n / 2, t_n + lam_n / 2)``. Learnt hops show as the spacing of the ticks, and
    the overlap of consecutive windows (or the gaps between them) as that of the bars.

    Args:
        positions (Tensor or ndarray): frame centres ``t_n`` in samples, ``(T,)``.
        win_length (float, Tensor or ndarray, > 0, optional): window lengths in samples: a
            number, ``(1, 1)``, ``(T,)`` or ``(1, T)`` (one length per frame).
        sample_rate (float > 0, optional): ``fs``; time axis in seconds instead of samples.
        ax (Axes, optional): where to draw; default ``plt.gca()``.
        title (str, optional): the Axes title.

    Returns:
        Axes: ``ax``.

    Shape:
        ``positions (T,)``, ``win_length`` ``()``, ``(1, 1)``, ``(T,)`` or ``(1, T)``.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import torch, adastft as ad
        >>> from adastft import plot
        >>> t = ad.positions_from_hops(torch.tensor([64.0, 96.0, 128.0, 160.0]))
        >>> fig, ax = plt.subplots()
        >>> ax = plot.positions(t, 256.0, ax=ax)
        >>> ax.get_xlabel(), ax.get_ylabel()
        ('time (samples)', 'frame n')
        >>> plt.close(fig)
    """
    plt = _pyplot()
    fs = _check_sample_rate(sample_rate)
    t = _as_array("positions", positions)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"positions must have shape (T,) with T >= 1; got {t.shape}")
    n_t = t.size
    lam = None
    if win_length is not None:
        lam = _as_array("win_length", win_length, number_ok=True)
        if lam.size == 1:
            lam = np.full(n_t, float(lam.flat[0]))
        elif lam.shape in ((n_t,), (1, n_t)):
            lam = lam.reshape(n_t)
        else:
            raise ValueError(
                f"win_length must be a number or have shape (T,) or (1, T) = (1, {n_t}) "
                f"(one length per frame); got shape {lam.shape}"
            )
        if (lam <= 0).any():
            raise ValueError(
                f"win_length must satisfy win_length > 0; got {lam[lam <= 0][0].item()!r}"
            )
    scale, time_label, _ = _labels(fs)
    ax = plt.gca() if ax is None else ax
    rows = np.arange(n_t)
    if lam is not None:
        ax.hlines(rows, (t - lam / 2) / scale, (t + lam / 2) / scale, alpha=0.5, linewidth=3)
    ax.plot(t / scale, rows, linestyle="none", marker="|", markersize=10, color="k")
    ax.set_xlabel(time_label)
    ax.set_ylabel("frame n")
    if title is not None:
        ax.set_title(title)
    return ax
