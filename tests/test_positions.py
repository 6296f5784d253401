"""Frame-position helpers: ``positions_from_hops`` and ``fixed_overlap_positions``.

Values against numpy cumulative sums and a hand-worked example, gradients through the helpers
(alone and composed with ``dstft``), and consistency of hop-built positions with ``hop_length``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from reference import assert_close_to_reference, dstft_reference, n_frames

import adastft as ad


def leaf(a, dtype=torch.float64):
    return torch.as_tensor(a, dtype=dtype).clone().requires_grad_(True)


# --- n_frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("hop", [1, 3, 32, 1.5, 3.375, 7.1, 1000, 1e300])
@pytest.mark.parametrize("length", [16, 17, 100, 1000])
def test_n_frames_counts_as_torch_stft(length, hop, center):
    # reference.n_frames counts the frames with exact rational arithmetic.
    got = ad.n_frames(length, 16, hop, center=center)
    assert type(got) is int and got == n_frames(length, 16, hop, center)
    if float(hop).is_integer() and hop < length:
        spec = torch.stft(
            torch.randn(length), 16, int(hop), center=center, return_complex=True,
            window=torch.ones(16), pad_mode="constant",
        )  # fmt: skip
        assert got == spec.shape[-1]


def test_n_frames_edge_values():
    assert ad.n_frames(1, 2, 1) == 2
    assert ad.n_frames(128, 128, 32, center=False) == 1  # the shortest signal without padding
    assert ad.n_frames(2**40 - 1, 2, 1) == 2**40  # the most frames allowed


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((1000, 128, 0), {}, ValueError, r"hop_length must satisfy hop_length > 0; got 0$"),
        ((1000, 128, -2.5), {}, ValueError, r"hop_length must satisfy hop_length > 0; got -2.5"),
        ((1000, 128, math.nan), {}, ValueError, r"hop_length must satisfy hop_length > 0; got nan"),
        ((1000, 128, math.inf), {}, ValueError, r"hop_length must satisfy hop_length > 0; got inf"),
        ((1000, 128, "32"), {}, TypeError, r"hop_length must be a real number .*; got '32'"),
        ((1000, 128, True), {}, TypeError, r"hop_length must be a real number .*; got True"),
        ((1000, 128, 32j), {}, TypeError, r"hop_length must be a real number .*; got 32j"),
        (
            ("1000", 128, 32),
            {},
            TypeError,
            r"signal_length must be an int \(an int >= 1\); got '1000'",
        ),
        ((1000.0, 128, 32), {}, TypeError, r"signal_length must be an int .*; got 1000.0"),
        ((0, 128, 32), {}, ValueError, r"signal_length must satisfy an int >= 1; got 0"),
        ((1000, 127, 32), {}, ValueError, r"n_fft must be an even int >= 2; got 127"),
        ((1000, 0, 32), {}, ValueError, r"n_fft must be an even int >= 2; got 0"),
        ((1000, 128.0, 32), {}, TypeError, r"n_fft must be an even int >= 2; got 128.0"),
        ((1000, 128, 32), {"center": 1}, TypeError, r"center must be a bool; got 1"),
        (
            (100, 128, 32),
            {"center": False},
            ValueError,
            r"signal_length must be at least n_fft \(=128\) with center=False; got 100",
        ),
        (
            (1000, 128, 1e-300),
            {},
            ValueError,
            r"hop_length must be large enough for at most 2\*\*40 frames \(hop_length > "
            r"9.09495e-10 for L = 1000\); got 1e-300",
        ),
        (
            (1000, 128, 5e-324),
            {"center": False},
            ValueError,
            r"hop_length must be large enough .* for L - n_fft = 872\); got 5e-324",
        ),
        ((2**40, 2, 1), {}, ValueError, r"hop_length must be large enough .*; got 1$"),
    ],
)
def test_n_frames_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        ad.n_frames(*args, **kwargs)


@pytest.mark.parametrize("hop", [1e-300, 5e-324, 1e-12])
def test_dstft_tiny_hop_is_a_clear_error(hop):
    with pytest.raises(ValueError, match=r"hop_length must be large enough .*; got " + str(hop)):
        ad.dstft(torch.randn(8), 8.0, n_fft=16, hop_length=hop)


# --- positions_from_hops ----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1,), (6,), (2, 3, 6)])
@pytest.mark.parametrize("start", [0.0, 2.5, -7.25])
def test_positions_from_hops_is_start_plus_cumulative_sum(rng, shape, start):
    hops = rng.uniform(0.5, 9.0, size=shape)
    got = ad.positions_from_hops(torch.from_numpy(hops), start=start)
    zero = np.zeros(shape[:-1] + (1,))
    expected = start + np.concatenate([zero, np.cumsum(hops, axis=-1)], axis=-1)
    assert got.shape == shape[:-1] + (shape[-1] + 1,)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13, atol=1e-13)


def test_positions_from_hops_keeps_float32():
    got = ad.positions_from_hops(torch.tensor([1.5, 2.0, 0.25]), start=1.0)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, torch.tensor([1.0, 2.5, 4.5, 4.75]))


def test_positions_from_hops_gradcheck(rng):
    hops = leaf(rng.uniform(0.5, 4.0, size=(2, 5)))
    assert torch.autograd.gradcheck(lambda h: ad.positions_from_hops(h, start=1.5), (hops,))


@pytest.mark.parametrize(("center", "start"), [(True, 0.0), (False, 8.0)])
@pytest.mark.parametrize("hop", [3.25, 4.0, 1.5])
def test_constant_hops_give_same_output_as_hop_length(rng, hop, center, start):
    n_fft, length = 16, 50
    x = torch.from_numpy(rng.standard_normal(length))
    frames = n_frames(length, n_fft, hop, center)
    hops = torch.full((frames - 1,), hop, dtype=torch.float64)
    t = ad.positions_from_hops(hops, start=start)
    kw = dict(n_fft=n_fft, center=center, window="blackman")
    by_positions = ad.dstft(x, 9.6, positions=t, **kw)
    by_hop = ad.dstft(x, 9.6, hop_length=hop, **kw)
    torch.testing.assert_close(by_positions, by_hop, rtol=1e-12, atol=1e-12)


def test_time_varying_hops_match_reference(rng):
    x = rng.standard_normal(60)
    hops = torch.tensor(rng.uniform(0.5, 6.0, size=11), dtype=torch.float64)
    t = ad.positions_from_hops(hops, start=-1.5)
    got = ad.dstft(torch.from_numpy(x), 11.1, n_fft=16, positions=t)
    assert_close_to_reference(got, dstft_reference(x, 11.1, n_fft=16, positions=t))


def test_dstft_gradcheck_through_hops(rng):
    x = torch.from_numpy(rng.standard_normal(40))
    hops = leaf(rng.uniform(1.0, 5.0, size=7))

    def fn(h):
        t = ad.positions_from_hops(h, start=2.0)
        return torch.view_as_real(ad.dstft(x, 10.3, n_fft=16, positions=t))

    assert torch.autograd.gradcheck(fn, (hops,))


# --- fixed_overlap_positions ------------------------------------------------------------


def test_fixed_overlap_hand_worked_example():
    # t1 = -5 + 0.5 * (4 + 8) / 2 = -2; t2 = -2 + 0.5 * 7 = 1.5; t3 = 1.5 + 0.5 * 8 = 5.5;
    # t4 = 5.5 + 0.5 * 7.5 = 9.25. Supports (t - lam/2, t + lam/2) against the signal [0, 6]:
    # (-7, -3) no, (-6, 2) yes, (-1.5, 4.5) yes, (0.5, 10.5) yes, (6.75, 11.75) no.
    lam = torch.tensor([4.0, 8.0, 6.0, 10.0, 5.0], dtype=torch.float64)
    t, mask = ad.fixed_overlap_positions(lam, overlap=0.5, signal_length=7, start=-5.0)
    torch.testing.assert_close(t, torch.tensor([-5.0, -2.0, 1.5, 5.5, 9.25], dtype=torch.float64))
    assert mask.dtype == torch.bool
    assert mask.tolist() == [False, True, True, True, False]


@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.75, 0.9])
def test_fixed_overlap_steps_follow_mean_window_length(rng, overlap):
    lam = rng.uniform(2.0, 30.0, size=(2, 3, 8))
    t, mask = ad.fixed_overlap_positions(
        torch.from_numpy(lam), overlap=overlap, signal_length=100, start=3.0
    )
    assert t.shape == mask.shape == (2, 3, 8)
    np.testing.assert_allclose(t[..., 0].numpy(), 3.0)
    steps = (1 - overlap) * (lam[..., :-1] + lam[..., 1:]) / 2
    np.testing.assert_allclose(np.diff(t.numpy(), axis=-1), steps, rtol=1e-12)


def test_fixed_overlap_zero_overlap_makes_supports_touch(rng):
    lam = torch.from_numpy(rng.uniform(2.0, 20.0, size=6))
    t, _ = ad.fixed_overlap_positions(lam, overlap=0.0, signal_length=200)
    right_edges = (t + lam / 2)[:-1]
    left_edges = (t - lam / 2)[1:]
    torch.testing.assert_close(right_edges, left_edges, rtol=1e-12, atol=1e-12)


def test_fixed_overlap_mask_marks_frames_past_the_signal():
    lam = torch.full((10,), 8.0, dtype=torch.float64)
    t, mask = ad.fixed_overlap_positions(lam, overlap=0.5, signal_length=20, start=1.0)
    # t = 1, 5, 9, ..., 37: frames whose support starts below 19 meet the signal
    assert mask.tolist() == [True] * 6 + [False] * 4
    assert torch.all(mask == (t - 4.0 < 19.0))


def test_fixed_overlap_gradcheck_wrt_win_length(rng):
    lam = leaf(rng.uniform(3.0, 12.0, size=(2, 5)))
    assert torch.autograd.gradcheck(
        lambda lam: ad.fixed_overlap_positions(lam, overlap=0.3, signal_length=40)[0], (lam,)
    )


def test_dstft_in_fixed_overlap_mode_matches_reference_and_gradcheck(rng):
    # the paper's fixed-overlap mode: time-varying lam drives both the windows and the positions
    n_fft, length = 16, 48
    x = torch.from_numpy(rng.standard_normal(length))
    lam = leaf(rng.uniform(4.0, n_fft, size=8))

    def fn(lam):
        t, _ = ad.fixed_overlap_positions(lam, overlap=0.5, signal_length=length, start=1.3)
        return ad.dstft(x, lam[None, :], n_fft=n_fft, positions=t, window="blackman")

    t, _ = ad.fixed_overlap_positions(lam, overlap=0.5, signal_length=length, start=1.3)
    expected = dstft_reference(x, lam[None, :], n_fft=n_fft, positions=t, window="blackman")
    assert_close_to_reference(fn(lam), expected)
    assert torch.autograd.gradcheck(lambda lam: torch.view_as_real(fn(lam)), (lam,))


def test_helpers_need_a_frame_axis():
    with pytest.raises(ValueError, match=r"hops must have at least one dimension \(\.\.\., T-1\)"):
        ad.positions_from_hops(torch.tensor(3.0))
    with pytest.raises(ValueError, match=r"win_length must have shape \(\.\.\., T\) with T >= 1"):
        ad.fixed_overlap_positions(torch.tensor(8.0), overlap=0.5, signal_length=100)
