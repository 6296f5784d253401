"""Bad input: every error path of the public entry points, and the shortest valid inputs.

Each case checks the exception type and that the message names the argument (and, where it is
a plain value, the value received), without fixing the wording further.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager

import pytest
import torch
from reference import assert_close_to_reference, dstft_reference

import adastft as ad

N_FFT = 16
X = torch.linspace(-1.0, 1.0, 40, dtype=torch.float64)
T_DEFAULT = 1 + 40 // (N_FFT // 4)  # 11 frames with the default hop
F_BINS = N_FFT // 2 + 1


@contextmanager
def raises(exc, name, *also):
    """``pytest.raises(exc, match=name)``, and every pattern of ``also`` is in the message."""
    with pytest.raises(exc, match=name) as info:
        yield info
    for pattern in also:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))


@pytest.fixture(params=["dstft", "spectrogram"])
def transform(request):
    """Both public transforms validate the same way."""
    return getattr(ad, request.param)


# --- the signal ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype", [torch.int64, torch.int32, torch.bool, torch.float16, torch.bfloat16]
)
def test_integer_or_half_precision_signal_is_type_error(transform, dtype):
    with raises(TypeError, r"\bx\b", str(dtype).removeprefix("torch.")):
        transform(torch.ones(40, dtype=dtype), 8.0, n_fft=N_FFT)


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_complex_signal_is_type_error(transform, dtype):
    with raises(TypeError, r"\bx\b", "complex"):
        transform(torch.ones(40, dtype=dtype), 8.0, n_fft=N_FFT)


def test_non_tensor_signal_is_type_error():
    with raises(TypeError, r"\bx\b"):
        ad.dstft([0.0] * 40, 8.0, n_fft=N_FFT)


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 40)])
def test_empty_signal_is_value_error(transform, shape):
    with raises(ValueError, r"\bx\b", "L >= 1 samples and no empty batch dimension"):
        transform(torch.zeros(shape, dtype=torch.float64), 8.0, n_fft=N_FFT)


def test_reflect_padding_needs_more_than_half_n_fft_samples():
    with raises(ValueError, "reflect|pad_mode"):
        ad.dstft(torch.zeros(8, dtype=torch.float64), 8.0, n_fft=N_FFT, pad_mode="reflect")


def test_center_false_needs_n_fft_samples():
    with raises(ValueError, "n_fft|center"):
        ad.dstft(torch.zeros(15, dtype=torch.float64), 8.0, n_fft=N_FFT, center=False)


# --- n_fft and win_length -----------------------------------------------------------------


@pytest.mark.parametrize("n_fft", [15, 1, 0, -4])
def test_n_fft_must_be_even_and_at_least_two(transform, n_fft):
    with raises(ValueError, "n_fft", str(n_fft)):
        transform(X, 1.0, n_fft=n_fft)


@pytest.mark.parametrize("n_fft", [16.0, "16", True])
def test_n_fft_must_be_an_int(transform, n_fft):
    with raises(TypeError, "n_fft must be an even int", re.escape(repr(n_fft))):
        transform(X, 1.0, n_fft=n_fft)


def test_win_length_vector_is_not_a_map(transform):
    with raises(
        ValueError, r"win_length must be a scalar or have shape \(\.\.\., F, T\)", r"\(5,\)"
    ):
        transform(X, torch.full((5,), 8.0, dtype=X.dtype), n_fft=N_FFT)


def test_hop_length_tensor_must_be_0_dim(transform):
    with raises(ValueError, "hop_length must be a number or a 0-dim tensor", r"\(2,\)"):
        transform(X, 8.0, n_fft=N_FFT, hop_length=torch.tensor([4.0, 4.0]))


def test_positions_must_broadcast_with_the_batch():
    x = torch.zeros(2, 40, dtype=X.dtype)
    with raises(ValueError, r"positions of shape \(3, 4\) does not broadcast", r"\(2,\)"):
        ad.dstft(x, 8.0, n_fft=N_FFT, positions=torch.zeros(3, 4, dtype=X.dtype))


@pytest.mark.parametrize("lam", [0, 0.0, -1.5, 17, 16.5, math.nan, math.inf])
def test_scalar_win_length_outside_range(transform, lam):
    with raises(ValueError, "win_length", re.escape(str(lam))):
        transform(X, lam, n_fft=N_FFT)


@pytest.mark.parametrize("bad", [0.0, -2.0, 16.01, math.nan, math.inf])
@pytest.mark.parametrize("shape", [(), (1, T_DEFAULT), (F_BINS, 1), (F_BINS, T_DEFAULT)])
def test_tensor_win_length_outside_range(transform, shape, bad):
    lam = torch.full(shape, 8.0, dtype=torch.float64)
    lam.view(-1)[-1] = bad
    with raises(ValueError, "win_length"):
        transform(X, lam, n_fft=N_FFT)


def test_per_example_win_length_outside_range():
    lam = torch.tensor([[[8.0]], [[20.0]]], dtype=torch.float64)
    with raises(ValueError, "win_length"):
        ad.dstft(torch.zeros(2, 40, dtype=torch.float64), lam, n_fft=N_FFT)


@pytest.mark.parametrize(
    "shape",
    [(5, 1), (1, T_DEFAULT + 2), (F_BINS + 1, T_DEFAULT), (F_BINS, 2), (3, F_BINS, T_DEFAULT)],
)
def test_win_length_shape_must_broadcast_to_bins_and_frames(transform, shape):
    lam = torch.full(shape, 8.0, dtype=torch.float64)
    with raises(ValueError, "win_length"):
        transform(torch.zeros(2, 40, dtype=torch.float64), lam, n_fft=N_FFT)


# --- frame positions ----------------------------------------------------------------------


def test_hop_length_and_positions_are_exclusive(transform):
    t = torch.arange(5, dtype=torch.float64)
    with raises(ValueError, "hop_length", "positions"):
        transform(X, 8.0, n_fft=N_FFT, hop_length=4, positions=t)


@pytest.mark.parametrize("hop", [0, 0.0, -2, -0.5, math.nan])
def test_hop_length_must_be_positive(transform, hop):
    with raises(ValueError, "hop_length", re.escape(str(hop))):
        transform(X, 8.0, n_fft=N_FFT, hop_length=hop)


@pytest.mark.parametrize("hop", [0.0, -1.0])
def test_tensor_hop_length_must_be_positive(hop):
    with raises(ValueError, "hop_length"):
        ad.dstft(X, 8.0, n_fft=N_FFT, hop_length=torch.tensor(hop, dtype=torch.float64))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_positions_must_be_finite(transform, bad):
    t = torch.tensor([0.0, 4.0, bad, 12.0], dtype=torch.float64)
    with raises(ValueError, "positions"):
        transform(X, 8.0, n_fft=N_FFT, positions=t)


@pytest.mark.parametrize(
    ("x_dtype", "t_dtype"), [(torch.float64, torch.float32), (torch.float32, torch.float64)]
)
def test_positions_dtype_must_match_signal(transform, x_dtype, t_dtype):
    t = torch.tensor([0.0, 4.0, 8.0], dtype=t_dtype)
    with raises(TypeError, "positions"):
        transform(X.to(x_dtype), 8.0, n_fft=N_FFT, positions=t)


def test_integer_positions_are_type_error():
    with raises(TypeError, "positions"):
        ad.dstft(X, 8.0, n_fft=N_FFT, positions=torch.tensor([0, 4, 8]))


# --- options ------------------------------------------------------------------------------


@pytest.mark.parametrize("window", ["hanning", "rect", "Hann"])
def test_unknown_window_name(transform, window):
    with raises(ValueError, "window", window):
        transform(X, 8.0, n_fft=N_FFT, window=window)


def test_window_of_wrong_type():
    with pytest.raises((TypeError, ValueError), match="window"):
        ad.dstft(X, 8.0, n_fft=N_FFT, window=3)


@pytest.mark.parametrize("normalization", ["peak", "Amplitude", "l2"])
def test_unknown_normalization(transform, normalization):
    with raises(ValueError, "normalization", normalization):
        transform(X, 8.0, n_fft=N_FFT, normalization=normalization)


@pytest.mark.parametrize("pad_mode", ["bogus", "zeros"])
def test_unknown_pad_mode(transform, pad_mode):
    with raises(ValueError, "pad_mode", pad_mode):
        transform(X, 8.0, n_fft=N_FFT, pad_mode=pad_mode)


# --- helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize("overlap", [1.0, 1.5, -0.1])
def test_fixed_overlap_ratio_must_be_in_unit_interval(overlap):
    lam = torch.full((4,), 8.0, dtype=torch.float64)
    with raises(ValueError, "overlap", re.escape(str(overlap))):
        ad.fixed_overlap_positions(lam, overlap=overlap, signal_length=40)


def test_positions_from_integer_hops_is_type_error():
    with raises(TypeError, "hops"):
        ad.positions_from_hops(torch.tensor([1, 2, 3]))


# --- the shortest valid inputs work -------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "center", "pad_mode"),
    [(N_FFT // 2 + 1, True, "reflect"), (N_FFT, False, "constant"), (1, True, "constant")],
)
def test_shortest_valid_signal_matches_reference(length, center, pad_mode):
    x = torch.randn(length, dtype=torch.float64)
    kw = dict(n_fft=N_FFT, hop_length=3, center=center, pad_mode=pad_mode, normalization=None)
    got = ad.dstft(x, float(N_FFT), **kw)
    assert_close_to_reference(got, dstft_reference(x, float(N_FFT), **kw))


@pytest.mark.parametrize("hop_length", [1, None])  # the default max(1, N // 4) is 1 here
def test_smallest_n_fft_matches_reference(hop_length):
    x = torch.randn(9, dtype=torch.float64)
    got = ad.dstft(x, 1.5, n_fft=2, hop_length=hop_length)
    assert got.shape == (2, 10)
    assert_close_to_reference(got, dstft_reference(x, 1.5, n_fft=2, hop_length=1))


@pytest.mark.parametrize("shape", [(0, F_BINS, 1), (2, 0, 1), (0,)])
def test_empty_win_length_is_value_error(shape):
    with raises(ValueError, "win_length must not be empty", re.escape(str(shape))):
        ad.dstft(X, torch.ones(shape, dtype=X.dtype), n_fft=N_FFT)


# --- devices and batch broadcasting -------------------------------------------------------


@pytest.mark.parametrize("argument", ["win_length", "positions"])
def test_tensor_on_another_device_is_value_error(argument):
    x = torch.randn(100, dtype=torch.float64)
    other = torch.zeros(1, 5, dtype=torch.float64, device="meta")
    kw = (
        {"win_length": other, "positions": None}
        if argument == "win_length"
        else {"win_length": 8.0, "positions": other[0]}
    )
    with raises(ValueError, argument, "device"):
        ad.dstft(x, kw["win_length"], n_fft=N_FFT, positions=kw["positions"])


@pytest.mark.parametrize(
    ("x_shape", "lam_shape", "pos_shape"),
    [
        ((40,), (2, 1, 1), (3, 5)),
        ((2, 1, 40), (2, 3, 1, 1), (2, 4, 5)),
        ((40,), (4, 2, 1, 1), (3, 5)),
    ],
)
def test_win_length_and_positions_batches_must_broadcast_together(x_shape, lam_shape, pos_shape):
    """Each broadcasts with x alone; the three together do not."""
    x = torch.zeros(x_shape, dtype=torch.float64)
    lam = torch.full(lam_shape, 8.0, dtype=torch.float64)
    positions = torch.zeros(pos_shape, dtype=torch.float64)
    with raises(
        ValueError,
        r"batch dimensions of win_length",
        rf"win_length \(shape {re.escape(str(lam_shape))}\)",
        rf"positions \(shape {re.escape(str(pos_shape))}\)",
        "must broadcast together",
    ):
        ad.dstft(x, lam, n_fft=N_FFT, positions=positions)


def test_positions_may_add_batch_dims_like_win_length():
    """One signal, several position sets: the batch is the broadcast of all three."""
    x = torch.randn(120, dtype=torch.float64)
    positions = torch.tensor([[3.0, 40.5, 90.25], [0.0, 50.0, 119.0]], dtype=torch.float64)
    got = ad.dstft(x, 9.5, n_fft=N_FFT, positions=positions)
    assert got.shape == (2, N_FFT // 2 + 1, 3)
    for i in range(2):
        expected = dstft_reference(x, 9.5, n_fft=N_FFT, positions=positions[i])
        assert_close_to_reference(got[i], expected)


# --- checks kept between calls --------------------------------------------------------------
# dstft keeps the outcome of the checks that depend on no tensor value (_dstft._CHECKED): a call
# that repeats a valid one must still reject bad values, and options equal to valid ones but of
# another type.


def test_repeated_call_still_checks_window_length_values():
    lam = torch.full((1, T_DEFAULT), 8.0, dtype=torch.float64)
    ad.dstft(X, lam, n_fft=N_FFT)
    lam[0, 3] = 0.0
    with raises(ValueError, "win_length"):
        ad.dstft(X, lam, n_fft=N_FFT)
    lam[0, 3] = N_FFT + 1.0
    with raises(ValueError, "win_length"):
        ad.dstft(X, lam, n_fft=N_FFT)


@pytest.mark.parametrize(
    ("valid", "invalid", "exc", "name"),
    [
        (dict(center=True), dict(center=1), TypeError, "center"),
        (dict(hop_length=1), dict(hop_length=True), TypeError, "hop_length"),
        (
            dict(max_working_memory=1),
            dict(max_working_memory=True),
            TypeError,
            "max_working_memory",
        ),
    ],
)
def test_repeated_call_checks_option_types(valid, invalid, exc, name):
    lam = torch.tensor(8.0, dtype=torch.float64)
    ad.dstft(X, lam, n_fft=N_FFT, **valid)
    with raises(exc, name):
        ad.dstft(X, lam, n_fft=N_FFT, **invalid)


def test_kept_checks_are_bounded_and_unhashable_options_are_named():
    from adastft import _dstft

    lam = torch.tensor(8.0, dtype=torch.float64)
    x = torch.zeros(20 + 2 * _dstft._CHECKED_MAX, dtype=torch.float64)
    for length in range(20, len(x)):
        ad.dstft(x[:length], lam, n_fft=N_FFT)
    assert 0 < len(_dstft._CHECKED) <= _dstft._CHECKED_MAX
    with raises(TypeError, "window"):
        ad.dstft(X, lam, n_fft=N_FFT, window=["hann"])
