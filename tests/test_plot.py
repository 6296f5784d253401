"""Plot helpers (``adastft.plot``), drawn headless with the Agg backend.

Every error with its message, then every function rendered to a PNG for each shape of its
input, then the numbers behind the pictures read back from the artists: cell edges at the
midpoints of non-uniform frame centres and at the bin edges, dB levels and their floor, units,
the shared colour scale of ``compare``; last, that matplotlib is imported only on use.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from adastft import plot  # noqa: E402

N_FFT = 32
F_BINS = N_FFT // 2 + 1  # 17
T_FRAMES = 6
POSITIONS = np.array([0.0, 3.0, 4.0, 10.0, 18.5, 30.0])  # non-uniform, (T,)
TIME_EDGES = np.array([-1.5, 1.5, 3.5, 7.0, 14.25, 24.25, 35.75])  # midpoints, ends +- gap/2
FREQ_EDGES = np.clip((np.arange(F_BINS + 1) - 0.5) / N_FFT, 0.0, 0.5)  # cycles per sample


@contextmanager
def raises(exc, name, *also):
    """``pytest.raises(exc, match=name)``, and every pattern of ``also`` is in the message."""
    with pytest.raises(exc, match=name) as info:
        yield info
    for pattern in also:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def ax():
    return plt.figure(figsize=(4, 3)).add_subplot()


def power_spec(rng, n_frames=T_FRAMES):
    """A positive power spectrogram (F, T) spanning about 12 decades."""
    return 10.0 ** rng.uniform(-12.0, 0.0, size=(F_BINS, n_frames))


def mesh_of(ax):
    (mesh,) = [c for c in ax.collections if isinstance(c, matplotlib.collections.QuadMesh)]
    return mesh


def edges_of(mesh):
    """``(time edges (T + 1,), frequency edges (F + 1,))`` from the QuadMesh vertices."""
    coords = mesh.get_coordinates()  # (F + 1, T + 1, 2)
    return coords[0, :, 0], coords[:, 0, 1]


def assert_png(fig, path):
    """The figure saves to a PNG that exists and is not blank."""
    fig.savefig(path, dpi=60)
    assert path.exists() and path.stat().st_size > 2000
    image = matplotlib.image.imread(path)
    assert image.std() > 0.05
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 20


# --- bad input ------------------------------------------------------------------------------


def test_missing_matplotlib_is_import_error_with_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with raises(ImportError, re.escape("pip install 'adastft[plot]'"), "adastft.plot"):
        plot.spectrogram(np.ones((F_BINS, 3)), n_fft=N_FFT)


@pytest.mark.parametrize(
    "spec, rule",
    [
        ([[1.0]], "torch.Tensor or a numpy.ndarray; got list"),
        (1.0, "torch.Tensor or a numpy.ndarray; got float"),
        (torch.ones(F_BINS, 3, dtype=torch.bool), "real numbers; got dtype torch.bool"),
        (np.ones((F_BINS, 3), dtype=bool), "real numbers; got dtype bool"),
        (np.full((F_BINS, 3), "a"), "real numbers; got dtype <U1"),
    ],
)
def test_spec_of_wrong_type_is_type_error(spec, rule):
    with raises(TypeError, r"^spec must", re.escape(rule)):
        plot.spectrogram(spec, n_fft=N_FFT)


@pytest.mark.parametrize(
    "shape, hint",
    [
        ((F_BINS,), r"\(17,\)"),
        ((F_BINS + 1, 4), r"F = n_fft // 2 \+ 1 \(=17\).*\(18, 4\)"),
        ((F_BINS, 0), r"T >= 1.*\(17, 0\)"),
        ((1, F_BINS, 4), r"select one example.*\(1, 17, 4\)"),
    ],
)
def test_spec_of_wrong_shape_is_value_error(shape, hint):
    with raises(ValueError, r"^spec must have shape \(F, T\)", hint):
        plot.spectrogram(np.ones(shape), n_fft=N_FFT)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_spec_is_value_error(bad):
    spec = np.ones((F_BINS, 3))
    spec[2, 1] = bad
    with raises(ValueError, r"^spec must be finite", re.escape(repr(bad))):
        plot.spectrogram(spec, n_fft=N_FFT)


def test_negative_spec_in_db_is_value_error():
    spec = np.ones((F_BINS, 3))
    spec[0, 0] = -0.25
    with raises(ValueError, r"^spec must be >= 0", r"db=True", r"-0\.25"):
        plot.spectrogram(spec, n_fft=N_FFT)
    plot.spectrogram(spec, n_fft=N_FFT, db=False)  # linear values may be negative


@pytest.mark.parametrize("n_fft", [31, 0, -4])
def test_bad_n_fft_is_value_error(n_fft):
    with raises(ValueError, r"^n_fft must be an even int >= 2", str(n_fft)):
        plot.spectrogram(np.ones((F_BINS, 3)), n_fft=n_fft)


@pytest.mark.parametrize(
    "option, value, exc, rule",
    [
        ("sample_rate", 0.0, ValueError, "sample_rate > 0"),
        ("sample_rate", -8000, ValueError, "sample_rate > 0"),
        ("sample_rate", "8k", TypeError, "a real number"),
        ("power", 0.0, ValueError, "power > 0"),
        ("dynamic_range", -10.0, ValueError, "dynamic_range > 0"),
        ("ref", 0.0, ValueError, "ref > 0"),
        ("hop_length", 0.0, ValueError, "hop_length > 0"),
        ("hop_length", torch.ones(2), ValueError, r"0-dim tensor.*shape \(2,\)"),
        ("db", 1, TypeError, "a bool; got 1"),
        ("colorbar", "yes", TypeError, "a bool; got 'yes'"),
    ],
)
def test_bad_spectrogram_option_names_it(option, value, exc, rule):
    with raises(exc, rf"^{option} must", rule):
        plot.spectrogram(np.ones((F_BINS, 3)), n_fft=N_FFT, **{option: value})


def test_positions_and_hop_length_together_is_value_error():
    with raises(ValueError, "either hop_length or positions", "hop_length=4"):
        plot.spectrogram(np.ones((F_BINS, 3)), n_fft=N_FFT, positions=np.arange(3.0), hop_length=4)


def test_positions_of_wrong_length_is_value_error():
    with raises(ValueError, r"^positions must have shape \(T,\) = \(3,\)", r"\(4,\)"):
        plot.spectrogram(np.ones((F_BINS, 3)), n_fft=N_FFT, positions=np.arange(4.0))


def test_decreasing_positions_is_value_error():
    with raises(ValueError, r"^positions must be non-decreasing", r"t_2=1\.0 after t_1=5\.0"):
        plot.spectrogram(np.ones((F_BINS, 3)), n_fft=N_FFT, positions=np.array([0.0, 5.0, 1.0]))


def test_complex_positions_is_type_error():
    with raises(TypeError, r"^positions must be real", "complex128"):
        plot.spectrogram(np.ones((F_BINS, 3)), n_fft=N_FFT, positions=np.arange(3.0) + 0j)


def test_non_finite_positions_is_value_error():
    with raises(ValueError, r"^positions must be finite", "nan"):
        plot.spectrogram(np.ones((F_BINS, 3)), n_fft=N_FFT, positions=np.array([0, np.nan, 2]))


def test_compare_errors_name_the_side():
    good, bad = np.ones((F_BINS, 3)), -np.ones((F_BINS, 3))
    with raises(ValueError, r"^after must be >= 0"):
        plot.compare(good, bad, n_fft=N_FFT)
    with raises(ValueError, r"^before must have shape \(F, T\)", r"\(16, 3\)"):
        plot.compare(good[1:], good, n_fft=N_FFT)
    with raises(ValueError, r"^positions_after must have shape \(T,\) = \(3,\)", r"\(2,\)"):
        plot.compare(good, good, n_fft=N_FFT, positions_after=np.arange(2.0))
    with raises(ValueError, r"^positions_before must be non-decreasing"):
        plot.compare(good, good, n_fft=N_FFT, positions_before=np.array([2.0, 1.0, 3.0]))


@pytest.mark.parametrize("titles", [("only one",), "ab", ("a", 2), None])
def test_compare_bad_titles_is_value_error(titles):
    with raises(ValueError, r"^titles must be a pair of str", re.escape(repr(titles))):
        plot.compare(np.ones((F_BINS, 3)), np.ones((F_BINS, 3)), n_fft=N_FFT, titles=titles)


@pytest.mark.parametrize(
    "win_length, rule",
    [
        (np.full(5, 8.0), r"\(1, T\) for time-varying.*got shape \(5,\)"),
        (np.full((1, 1, 5), 8.0), r"select one example.*got shape \(1, 1, 5\)"),
        (np.full((4, 5), 8.0), r"F = n_fft // 2 \+ 1 \(=17\).*got shape \(4, 5\)"),
        (np.full((1, 0), 8.0), r"T >= 1 frames; got shape \(1, 0\)"),
    ],
)
def test_win_length_of_wrong_shape_is_value_error(win_length, rule):
    with raises(ValueError, r"^win_length must", rule):
        plot.win_length_map(win_length, n_fft=N_FFT)


@pytest.mark.parametrize("value", [0.0, -3.0, N_FFT + 0.5])
def test_win_length_out_of_range_is_value_error(value):
    lam = torch.full((1, 4), 8.0)
    lam[0, 2] = value
    with raises(ValueError, r"^win_length must satisfy 0 < win_length <= n_fft \(=32\)"):
        plot.win_length_map(lam, n_fft=N_FFT)
    with raises(ValueError, "win_length must satisfy", re.escape(repr(float(value)))):
        plot.win_length_map(value, n_fft=N_FFT)


def test_win_length_map_errors():
    with raises(TypeError, r"^win_length must be a torch.Tensor, a numpy.ndarray or a real"):
        plot.win_length_map("8", n_fft=N_FFT)
    with raises(ValueError, "either hop_length or positions"):
        plot.win_length_map(8.0, n_fft=N_FFT, positions=np.arange(3.0), hop_length=2)
    with raises(ValueError, r"^positions must have shape \(T,\) with T >= 1", r"\(1, 3\)"):
        plot.win_length_map(8.0, n_fft=N_FFT, positions=np.zeros((1, 3)))
    with raises(ValueError, r"^positions must have shape \(T,\) = \(4,\)", r"\(3,\)"):
        plot.win_length_map(np.full((1, 4), 8.0), n_fft=N_FFT, positions=np.arange(3.0))
    with raises(ValueError, r"^positions must be non-decreasing"):
        plot.win_length_map(
            np.full((F_BINS, 3), 8.0), n_fft=N_FFT, positions=np.array([0.0, 2.0, 1.0])
        )


def test_positions_plot_errors():
    with raises(ValueError, r"^positions must have shape \(T,\) with T >= 1", r"\(2, 3\)"):
        plot.positions(np.zeros((2, 3)))
    with raises(ValueError, r"^positions must have shape \(T,\) with T >= 1", r"\(0,\)"):
        plot.positions(np.zeros(0))
    with raises(TypeError, r"^positions must be a torch.Tensor or a numpy.ndarray; got list"):
        plot.positions([0.0, 1.0])
    with raises(ValueError, r"^win_length must be a number or have shape \(T,\) or \(1, T\)"):
        plot.positions(np.arange(3.0), np.ones((2, 3)))
    with raises(ValueError, r"^win_length must satisfy win_length > 0; got -1\.0"):
        plot.positions(np.arange(3.0), np.array([1.0, -1.0, 2.0]))
    with raises(ValueError, r"^win_length must be finite"):
        plot.positions(np.arange(3.0), np.array([1.0, np.inf, 2.0]))
    with raises(ValueError, r"^sample_rate must satisfy sample_rate > 0"):
        plot.positions(np.arange(3.0), sample_rate=0)


# --- every function renders, for every shape -------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        "power tensor",
        "magnitude array",
        "complex",
        "requires_grad float32",
        "positions",
        "sample_rate",
        "linear",
        "all zero",
        "one frame",
    ],
)
def test_spectrogram_renders(rng, tmp_path, ax, case):
    spec = power_spec(rng)
    options = {"n_fft": N_FFT, "ax": ax, "title": case}
    if case == "power tensor":
        spec = torch.from_numpy(spec)
    elif case == "magnitude array":
        spec, options["power"] = np.sqrt(spec), 1.0
    elif case == "complex":
        spec = torch.from_numpy(np.sqrt(spec) * np.exp(1j * rng.uniform(0, 6, spec.shape)))
    elif case == "requires_grad float32":
        spec = torch.tensor(spec, dtype=torch.float32, requires_grad=True)
    elif case == "positions":
        options["positions"] = torch.from_numpy(POSITIONS)
    elif case == "sample_rate":
        options["sample_rate"] = 8000.0
    elif case == "linear":
        options["db"] = False
    elif case == "all zero":
        spec = np.zeros_like(spec)
        ax.plot([0, 1], [0, 0.5])  # an all-floor image is uniform: give the PNG something
    elif case == "one frame":
        spec = spec[:, :1]
    assert plot.spectrogram(spec, **options) is ax
    assert_png(ax.figure, tmp_path / "spectrogram.png")


def test_spectrogram_default_axes_is_current_axes(rng):
    fig = plt.figure()
    ax = plot.spectrogram(power_spec(rng), n_fft=N_FFT, colorbar=False)
    assert ax is fig.axes[0] and len(fig.axes) == 1


@pytest.mark.parametrize("db", [True, False])
def test_compare_renders(rng, tmp_path, db):
    fig = plot.compare(
        torch.from_numpy(power_spec(rng)),
        power_spec(rng, n_frames=4),
        positions_before=POSITIONS,
        hop_length=8,
        n_fft=N_FFT,
        sample_rate=1000.0,
        db=db,
        cmap="viridis",
    )
    assert isinstance(fig, matplotlib.figure.Figure)
    assert [a.get_title() for a in fig.axes[:2]] == ["before", "after"]
    assert len(fig.axes) == 3  # two spectrograms and one colour bar
    assert_png(fig, tmp_path / "compare.png")


@pytest.mark.parametrize(
    "win_length",
    [
        12.0,
        torch.tensor(12.0),
        torch.full((1, 1), 12.0),
        torch.linspace(4.0, 32.0, T_FRAMES)[None],
        np.linspace(4.0, 32.0, F_BINS)[:, None],
        np.linspace(4.0, 32.0, F_BINS)[:, None] * np.linspace(0.2, 1.0, T_FRAMES),
    ],
    ids=["number", "0-dim", "(1, 1)", "(1, T)", "(F, 1)", "(F, T)"],
)
@pytest.mark.parametrize("sample_rate", [None, 8000.0])
def test_win_length_map_renders(tmp_path, ax, win_length, sample_rate):
    got = plot.win_length_map(
        win_length, positions=POSITIONS, n_fft=N_FFT, sample_rate=sample_rate, ax=ax, title="lam"
    )
    assert got is ax
    assert_png(ax.figure, tmp_path / "win_length.png")


@pytest.mark.parametrize(
    "win_length",
    [None, 8.0, np.linspace(2.0, 20.0, T_FRAMES), torch.linspace(2.0, 20.0, T_FRAMES)[None]],
    ids=["none", "number", "(T,)", "(1, T)"],
)
def test_positions_renders(tmp_path, ax, win_length):
    t = torch.from_numpy(POSITIONS).requires_grad_(True)
    assert plot.positions(t, win_length, sample_rate=100.0, ax=ax, title="frames") is ax
    assert_png(ax.figure, tmp_path / "positions.png")


# --- the numbers behind the pictures ---------------------------------------------------------


def test_cells_sit_at_midpoints_of_non_uniform_positions_and_at_bin_edges(rng, ax):
    plot.spectrogram(power_spec(rng), positions=POSITIONS, n_fft=N_FFT, ax=ax)
    time_edges, freq_edges = edges_of(mesh_of(ax))
    np.testing.assert_allclose(time_edges, TIME_EDGES, rtol=0, atol=1e-12)
    np.testing.assert_allclose(freq_edges, FREQ_EDGES, rtol=0, atol=1e-12)
    assert freq_edges[0] == 0.0 and freq_edges[-1] == 0.5
    assert ax.get_xlabel() == "time (samples)"
    assert ax.get_ylabel() == "frequency (cycles/sample)"


def test_sample_rate_gives_seconds_and_hertz(rng, ax):
    fs = 8000.0
    plot.spectrogram(power_spec(rng), positions=POSITIONS, n_fft=N_FFT, sample_rate=fs, ax=ax)
    time_edges, freq_edges = edges_of(mesh_of(ax))
    np.testing.assert_allclose(time_edges, TIME_EDGES / fs, rtol=1e-12)
    np.testing.assert_allclose(freq_edges, FREQ_EDGES * fs, rtol=1e-12)
    assert freq_edges[-1] == fs / 2
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (s)", "frequency (Hz)")


@pytest.mark.parametrize("hop_length", [4, 2.5, torch.tensor(3.0, requires_grad=True)])
def test_hop_length_grid_cells(rng, ax, hop_length):
    plot.spectrogram(power_spec(rng), hop_length=hop_length, n_fft=N_FFT, ax=ax)
    hop = float(torch.as_tensor(hop_length).detach())
    time_edges, _ = edges_of(mesh_of(ax))
    np.testing.assert_allclose(time_edges, (np.arange(T_FRAMES + 1) - 0.5) * hop, atol=1e-12)


def test_default_hop_is_quarter_n_fft_and_one_frame_is_one_hop_wide(rng, ax):
    plot.spectrogram(power_spec(rng), n_fft=N_FFT, ax=ax)
    np.testing.assert_allclose(edges_of(mesh_of(ax))[0], (np.arange(T_FRAMES + 1) - 0.5) * 8)
    for options in ({"hop_length": 6}, {"positions": np.array([10.0])}):
        ax.clear()
        plot.spectrogram(power_spec(rng, 1), n_fft=N_FFT, ax=ax, colorbar=False, **options)
        t0 = options.get("positions", [0.0])[0]
        half = options.get("hop_length", N_FFT // 4) / 2
        np.testing.assert_allclose(edges_of(mesh_of(ax))[0], [t0 - half, t0 + half])


@pytest.mark.parametrize("dynamic_range", [80.0, 30.0])
def test_db_is_relative_to_max_and_floored(rng, ax, dynamic_range):
    spec = power_spec(rng)
    plot.spectrogram(spec, n_fft=N_FFT, dynamic_range=dynamic_range, ax=ax)
    mesh = mesh_of(ax)
    level = np.asarray(mesh.get_array()).reshape(F_BINS, T_FRAMES)
    assert level.max() == 0.0
    assert level.min() == -dynamic_range
    expected = 10 * np.log10(spec / spec.max())
    kept = expected > -dynamic_range
    assert kept.any() and (~kept).any()
    np.testing.assert_allclose(level[kept], expected[kept], rtol=1e-12, atol=1e-12)
    assert mesh.get_clim() == (-dynamic_range, 0.0)


def test_db_level_does_not_depend_on_power(rng):
    power = power_spec(rng)
    mag = np.sqrt(power)
    complex_spec = mag * np.exp(1j * rng.uniform(0.0, 6.0, mag.shape))
    levels = []
    for spec, p in ((power, 2.0), (mag, 1.0), (mag**0.5, 0.5), (complex_spec, 3.0)):
        ax = plt.figure().add_subplot()
        plot.spectrogram(spec, n_fft=N_FFT, power=p, ax=ax)
        levels.append(np.asarray(mesh_of(ax).get_array()))
    for level in levels[1:]:
        np.testing.assert_allclose(level, levels[0], rtol=1e-10, atol=1e-10)


def test_ref_sets_zero_db(ax):
    spec = np.full((F_BINS, 2), 1e-3)
    spec[0, 0] = 1e-1
    plot.spectrogram(spec, n_fft=N_FFT, ref=1e-2, ax=ax)
    level = np.asarray(mesh_of(ax).get_array())
    np.testing.assert_allclose(level[0, 0], 10.0)  # above ref: not clipped, only saturated
    np.testing.assert_allclose(level[1:, :], -10.0)


def test_all_zero_spectrogram_is_at_the_floor_without_warning(ax):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot.spectrogram(torch.zeros(F_BINS, 4), n_fft=N_FFT, dynamic_range=60.0, ax=ax)
    np.testing.assert_array_equal(np.asarray(mesh_of(ax).get_array()), -60.0)


def test_linear_draws_values_as_they_are(rng, ax):
    spec = rng.standard_normal((F_BINS, T_FRAMES)) + 1j * rng.standard_normal((F_BINS, T_FRAMES))
    plot.spectrogram(torch.from_numpy(spec), n_fft=N_FFT, db=False, ax=ax)
    np.testing.assert_allclose(np.asarray(mesh_of(ax).get_array()), np.abs(spec), rtol=1e-12)


def test_compare_shares_one_colour_scale(rng):
    before = power_spec(rng)
    after = 0.01 * power_spec(rng, n_frames=4)
    fig = plot.compare(
        before, after, positions_before=POSITIONS, hop_length=5, n_fft=N_FFT, dynamic_range=200.0
    )
    mesh_b, mesh_a = mesh_of(fig.axes[0]), mesh_of(fig.axes[1])
    assert mesh_b.get_clim() == mesh_a.get_clim() == (-200.0, 0.0)
    ref = before.max()  # the louder of the two
    np.testing.assert_allclose(mesh_b.get_array(), 10 * np.log10(before / ref), rtol=1e-12)
    np.testing.assert_allclose(mesh_a.get_array(), 10 * np.log10(after / ref), rtol=1e-12)
    np.testing.assert_allclose(edges_of(mesh_b)[0], TIME_EDGES)
    np.testing.assert_allclose(edges_of(mesh_a)[0], (np.arange(5) - 0.5) * 5)


def test_compare_linear_shares_limits(rng):
    before, after = power_spec(rng), 3.0 + power_spec(rng)
    fig = plot.compare(before, after, n_fft=N_FFT, db=False, colorbar=False)
    assert len(fig.axes) == 2
    limits = (before.min(), after.max())
    assert mesh_of(fig.axes[0]).get_clim() == mesh_of(fig.axes[1]).get_clim() == limits


def test_win_length_map_time_varying_line_in_ms(ax):
    fs = 8000.0
    lam = torch.linspace(4.0, 32.0, T_FRAMES, dtype=torch.float64)[None].requires_grad_(True)
    plot.win_length_map(lam, positions=POSITIONS, n_fft=N_FFT, sample_rate=fs, ax=ax)
    (line,) = ax.lines
    np.testing.assert_allclose(line.get_xdata(), POSITIONS / fs)
    np.testing.assert_allclose(line.get_ydata(), lam.detach()[0].numpy() * 1000 / fs)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (s)", "window length (ms)")


def test_win_length_map_frequency_varying_line(ax):
    lam = np.linspace(4.0, 32.0, F_BINS)[:, None]
    plot.win_length_map(lam, n_fft=N_FFT, ax=ax)
    (line,) = ax.lines
    np.testing.assert_allclose(line.get_xdata(), np.arange(F_BINS) / N_FFT)
    np.testing.assert_allclose(line.get_ydata(), lam[:, 0])
    assert (ax.get_xlabel(), ax.get_ylabel()) == (
        "frequency (cycles/sample)",
        "window length (samples)",
    )


def test_win_length_map_time_frequency_image(ax):
    lam = np.linspace(4.0, 32.0, F_BINS)[:, None] * np.linspace(0.2, 1.0, T_FRAMES)
    plot.win_length_map(lam, positions=POSITIONS, n_fft=N_FFT, sample_rate=2000.0, ax=ax)
    mesh = mesh_of(ax)
    np.testing.assert_allclose(mesh.get_array(), lam * 1000 / 2000.0)
    time_edges, freq_edges = edges_of(mesh)
    np.testing.assert_allclose(time_edges, TIME_EDGES / 2000.0)
    np.testing.assert_allclose(freq_edges, FREQ_EDGES * 2000.0)
    assert len(ax.figure.axes) == 2  # and its colour bar


def test_win_length_map_constant_line(ax):
    plot.win_length_map(torch.full((1, 1), 16.0), n_fft=N_FFT, sample_rate=8000.0, ax=ax)
    (line,) = ax.lines
    np.testing.assert_allclose(line.get_ydata(), [2.0, 2.0])  # 16 samples at 8 kHz = 2 ms
    assert "16 samples" in ax.texts[0].get_text() and "2 ms" in ax.texts[0].get_text()


def test_positions_ticks_and_window_extents(ax):
    lam = np.linspace(2.0, 20.0, T_FRAMES)
    plot.positions(torch.from_numpy(POSITIONS), lam[None], ax=ax)
    (ticks,) = ax.lines
    np.testing.assert_allclose(ticks.get_xdata(), POSITIONS)
    np.testing.assert_allclose(ticks.get_ydata(), np.arange(T_FRAMES))
    (bars,) = ax.collections
    segments = np.array(bars.get_segments())  # (T, 2 ends, (x, y))
    np.testing.assert_allclose(segments[:, 0, 0], POSITIONS - lam / 2)
    np.testing.assert_allclose(segments[:, 1, 0], POSITIONS + lam / 2)
    np.testing.assert_allclose(segments[:, :, 1], np.arange(T_FRAMES)[:, None] * [1, 1])


# --- matplotlib is optional -------------------------------------------------------------------


def test_import_does_not_import_matplotlib():
    code = "import sys, adastft, adastft.plot; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
