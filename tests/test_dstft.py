"""Forward values of ``adastft.dstft`` and ``adastft.spectrogram``.

Oracles: ``torch.stft`` for integer parameters (hann, ``N - W`` even, integer hop), and the
brute-force float64 reference of ``reference.py`` (SPEC.md section 1) for everything else:
fractional hops, real non-uniform positions, the four window-length modes, the four windows,
the three normalisations, paddings and batches. Then dtypes, batch == loop, working-memory
chunking, a pure tone's peak, and Hypothesis properties over shapes and lengths.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from reference import (
    NORMALIZATIONS,
    WINDOW_NAMES,
    assert_close_to_reference,
    dstft_reference,
    n_frames,
)

import adastft as ad

MODES = ("constant", "time", "frequency", "time-frequency")
PADDINGS = [(True, "constant"), (True, "reflect"), (False, "constant"), (False, "reflect")]


def make_win_length(mode: str, rng, n_bins: int, n_frames_: int, n_fft: int, low=2.5):
    """Window lengths of the given mode in [low, n_fft], including n_fft and low exactly."""
    if mode == "constant":
        return float(rng.uniform(low, n_fft))
    shape = {
        "time": (1, n_frames_),
        "frequency": (n_bins, 1),
        "time-frequency": (n_bins, n_frames_),
    }[mode]
    lam = rng.uniform(low, n_fft, size=shape)
    lam.flat[0] = n_fft
    lam.flat[-1] = low
    return torch.tensor(lam, dtype=torch.float64)


def random_positions(rng, length: int, n_fft: int, count: int = 12) -> torch.Tensor:
    """Unsorted real frame centres, some near or past the signal edges."""
    edges = [-n_fft / 2 - 1.3, -0.4, 0.0, length - 1.0, length + 0.7, length + n_fft / 2 + 1.1]
    inner = rng.uniform(0.0, length - 1.0, size=count - len(edges))
    t = np.concatenate([inner, edges])
    return torch.tensor(rng.permutation(t), dtype=torch.float64)


def stft_oracle(x, n_fft, hop, win, center, pad_mode):
    window = torch.hann_window(win, periodic=True, dtype=x.dtype)
    return torch.stft(
        x, n_fft, hop, win, window, center=center, pad_mode=pad_mode, return_complex=True
    )


# --- the reference itself ----------------------------------------------------------------


@pytest.mark.parametrize(("center", "pad_mode"), PADDINGS)
def test_reference_matches_torch_stft(rng, center, pad_mode):
    x = rng.standard_normal(70)
    expected = stft_oracle(torch.from_numpy(x), 16, 3, 10, center, pad_mode).numpy()
    got = dstft_reference(
        x, 10, n_fft=16, hop_length=3, center=center, pad_mode=pad_mode, normalization=None
    )
    assert_close_to_reference(got, expected, rtol=1e-12)


# --- torch.stft for integer parameters ---------------------------------------------------


@pytest.mark.parametrize(("center", "pad_mode"), PADDINGS)
@pytest.mark.parametrize(
    ("n_fft", "win", "hop"),
    [(16, 16, 4), (16, 10, 3), (32, 26, 5), (32, 32, 1), (8, 2, 2), (8, 6, 11)],  # 11 > n_fft
)
def test_integer_parameters_equal_torch_stft(rng, n_fft, win, hop, center, pad_mode):
    x = torch.from_numpy(rng.standard_normal(97))
    got = ad.dstft(
        x,
        win,
        n_fft=n_fft,
        hop_length=hop,
        center=center,
        pad_mode=pad_mode,
        normalization=None,
    )
    expected = stft_oracle(x, n_fft, hop, win, center, pad_mode)
    assert got.dtype == torch.complex128
    assert_close_to_reference(got, expected.numpy())


@pytest.mark.parametrize(("center", "pad_mode"), [(True, "reflect"), (False, "constant")])
@pytest.mark.parametrize("form", ["int", "float", "0-dim", "(1,1)", "(1,T)", "(F,1)", "(F,T)"])
def test_every_win_length_form_equals_torch_stft(rng, form, center, pad_mode):
    n_fft, win, hop, length = 16, 12, 4, 60
    x = torch.from_numpy(rng.standard_normal(length))
    n_bins, frames = n_fft // 2 + 1, n_frames(length, n_fft, hop, center)
    shapes = {
        "(1,1)": (1, 1),
        "(1,T)": (1, frames),
        "(F,1)": (n_bins, 1),
        "(F,T)": (n_bins, frames),
    }
    if form == "int":
        lam = win
    elif form == "float":
        lam = float(win)
    elif form == "0-dim":
        lam = torch.tensor(float(win), dtype=torch.float64)
    else:
        lam = torch.full(shapes[form], float(win), dtype=torch.float64)
    got = ad.dstft(
        x, lam, n_fft=n_fft, hop_length=hop, center=center, pad_mode=pad_mode, normalization=None
    )
    assert_close_to_reference(got, stft_oracle(x, n_fft, hop, win, center, pad_mode).numpy())


@pytest.mark.parametrize(("center", "pad_mode"), PADDINGS)
def test_integer_positions_tensor_equals_torch_stft(rng, center, pad_mode):
    n_fft, win, hop, length = 16, 14, 3, 50
    x = torch.from_numpy(rng.standard_normal(length))
    frames = n_frames(length, n_fft, hop, center)
    t = torch.arange(frames, dtype=torch.float64) * hop + (0 if center else n_fft // 2)
    got = ad.dstft(
        x, win, n_fft=n_fft, positions=t, center=center, pad_mode=pad_mode, normalization=None
    )
    assert_close_to_reference(got, stft_oracle(x, n_fft, hop, win, center, pad_mode).numpy())


@pytest.mark.parametrize(("center", "pad_mode"), PADDINGS)
@pytest.mark.parametrize("win", [15, 9, 1])
def test_odd_difference_n_fft_minus_win_matches_reference(rng, win, center, pad_mode):
    x = rng.standard_normal(64)
    kw = dict(n_fft=16, hop_length=4, center=center, pad_mode=pad_mode, normalization=None)
    got = ad.dstft(torch.from_numpy(x), win, **kw)
    assert_close_to_reference(got, dstft_reference(x, win, **kw))


# --- brute-force reference: fractional and varying parameters ---------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("window", WINDOW_NAMES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("frames", ["fractional hop", "random positions"])
def test_matches_reference(rng, frames, mode, window, normalization):
    n_fft, length = 16, 83
    x = rng.standard_normal(length)
    if frames == "fractional hop":
        framing = dict(hop_length=3.375)
        count = n_frames(length, n_fft, 3.375, True)
    else:
        framing = dict(positions=random_positions(rng, length, n_fft))
        count = framing["positions"].shape[-1]
    lam = make_win_length(mode, rng, n_fft // 2 + 1, count, n_fft)
    kw = dict(n_fft=n_fft, window=window, normalization=normalization, **framing)
    got = ad.dstft(torch.from_numpy(x), lam, **kw)
    assert_close_to_reference(got, dstft_reference(x, lam, **kw))


@pytest.mark.parametrize(("center", "pad_mode"), PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_paddings_match_reference_with_fractional_hop(rng, mode, center, pad_mode):
    n_fft, length, hop = 16, 41, 2.75
    x = rng.standard_normal(length)
    lam = make_win_length(mode, rng, n_fft // 2 + 1, n_frames(length, n_fft, hop, center), n_fft)
    kw = dict(n_fft=n_fft, hop_length=hop, center=center, pad_mode=pad_mode)
    got = ad.dstft(torch.from_numpy(x), lam, **kw)
    assert_close_to_reference(got, dstft_reference(x, lam, **kw))


@pytest.mark.parametrize(("center", "pad_mode"), PADDINGS)
@pytest.mark.parametrize("mode", ["time", "time-frequency"])
def test_paddings_match_reference_with_random_positions(rng, mode, center, pad_mode):
    n_fft, length = 16, 40
    x = rng.standard_normal(length)
    t = random_positions(rng, length, n_fft)
    lam = make_win_length(mode, rng, n_fft // 2 + 1, t.shape[-1], n_fft)
    kw = dict(n_fft=n_fft, positions=t, center=center, pad_mode=pad_mode, window="blackman")
    got = ad.dstft(torch.from_numpy(x), lam, **kw)
    assert_close_to_reference(got, dstft_reference(x, lam, **kw))


@pytest.mark.parametrize("lam", [16.0, 2.5, 0.75, 1.0, 0.3])
@pytest.mark.parametrize("window", WINDOW_NAMES)
def test_extreme_window_lengths_match_reference(rng, window, lam):
    x = rng.standard_normal(50)
    t = torch.tensor([0.0, 3.2, 10.0, 17.5, 49.0], dtype=torch.float64)
    kw = dict(n_fft=16, positions=t, window=window)
    got = ad.dstft(torch.from_numpy(x), lam, **kw)
    assert_close_to_reference(got, dstft_reference(x, lam, **kw))


@pytest.mark.parametrize("window", ["gaussian", "hamming"])
def test_support_is_open_at_the_edge(rng, window):
    # integer lam and positions put samples exactly at |u| = lam / 2: they must get weight 0
    x = rng.standard_normal(40)
    kw = dict(n_fft=16, hop_length=4, window=window, normalization=None)
    got = ad.dstft(torch.from_numpy(x), 8, **kw)
    assert_close_to_reference(got, dstft_reference(x, 8, **kw))


def test_default_hop_is_quarter_n_fft(rng):
    x = rng.standard_normal(45)
    got = ad.dstft(torch.from_numpy(x), 10.5, n_fft=32)
    assert got.shape == (17, 1 + 45 // 8)
    assert_close_to_reference(got, dstft_reference(x, 10.5, n_fft=32, hop_length=8))


@pytest.mark.parametrize("hop", [200, 10**18, 2**70, 1e300])
def test_a_hop_past_the_signal_gives_its_one_frame(rng, hop):
    """Hops too large for int64 included: the single frame does not depend on the hop."""
    x = torch.from_numpy(rng.standard_normal(100)).requires_grad_(True)
    got = ad.dstft(x, 8.0, n_fft=16, hop_length=hop)
    assert got.shape == (9, 1)
    assert_close_to_reference(got, dstft_reference(x.detach(), 8.0, n_fft=16, hop_length=101))
    got.abs().sum().backward()
    assert x.grad.shape == (100,) and torch.isfinite(x.grad).all()
    layer = ad.DSTFT(16, 8.0, hop, win_mode="constant").double()
    torch.testing.assert_close(layer(x.detach()), got.detach())
    torch.testing.assert_close(layer.freeze()(x.detach()), got.detach())


@pytest.mark.parametrize("hop", [3, 3.0, "tensor"])
def test_hop_length_types_match_reference(rng, hop):
    x = rng.standard_normal(30)
    hop_arg = torch.tensor(3.0, dtype=torch.float64) if hop == "tensor" else hop
    got = ad.dstft(torch.from_numpy(x), 7.7, n_fft=16, hop_length=hop_arg)
    assert_close_to_reference(got, dstft_reference(x, 7.7, n_fft=16, hop_length=3))


def test_non_contiguous_inputs_match_reference(rng):
    x = torch.from_numpy(rng.standard_normal((50, 6))).T[:, ::2]  # (6, 25), strided
    lam = torch.from_numpy(rng.uniform(2.0, 16.0, size=(9, 1))).expand(9, 7)
    t = torch.from_numpy(rng.uniform(0.0, 25.0, size=(7, 2)))[:, 0]
    assert not (x.is_contiguous() or lam.is_contiguous() or t.is_contiguous())
    got = ad.dstft(x, lam, n_fft=16, positions=t)
    assert_close_to_reference(got, dstft_reference(x, lam, n_fft=16, positions=t))


# --- batches ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lam_shape", [(), (2, 3, 1, 1), (2, 3, 9, 1), (3, 1, 14), (2, 1, 9, 14), (2, 3, 9, 14)]
)
def test_batched_input_and_per_example_win_length_match_reference(rng, lam_shape):
    n_fft, length, hop = 16, 52, 3.75
    x = rng.standard_normal((2, 3, length))
    lam = torch.tensor(rng.uniform(2.0, n_fft, size=lam_shape), dtype=torch.float64)
    got = ad.dstft(torch.from_numpy(x), lam, n_fft=n_fft, hop_length=hop)
    assert got.shape == (2, 3, 9, 14)
    assert_close_to_reference(got, dstft_reference(x, lam, n_fft=n_fft, hop_length=hop))


@pytest.mark.parametrize("pos_shape", [(7,), (3, 7), (2, 1, 7), (2, 3, 7)])
def test_batched_positions_match_reference(rng, pos_shape):
    n_fft, length = 16, 30
    x = rng.standard_normal((2, 3, length))
    t = torch.tensor(rng.uniform(-4.0, length + 4.0, size=pos_shape), dtype=torch.float64)
    lam = torch.tensor(rng.uniform(2.0, n_fft, size=(9, 7)), dtype=torch.float64)
    got = ad.dstft(torch.from_numpy(x), lam, n_fft=n_fft, positions=t, window="blackman")
    assert got.shape == (2, 3, 9, 7)
    expected = dstft_reference(x, lam, n_fft=n_fft, positions=t, window="blackman")
    assert_close_to_reference(got, expected)


@pytest.mark.parametrize("mode", MODES)
def test_batch_equals_loop_over_items(rng, mode):
    n_fft, length, hop = 16, 47, 2.5
    x = torch.from_numpy(rng.standard_normal((3, length)))
    frames = n_frames(length, n_fft, hop, True)
    lam = make_win_length(mode, rng, 9, frames, n_fft)
    lam = torch.as_tensor(lam, dtype=torch.float64).expand(3, 9, frames).clone()
    lam = lam * torch.tensor([1.0, 0.8, 0.5], dtype=torch.float64)[:, None, None]
    batch = ad.dstft(x, lam, n_fft=n_fft, hop_length=hop, pad_mode="reflect")
    for i in range(3):
        item = ad.dstft(x[i], lam[i], n_fft=n_fft, hop_length=hop, pad_mode="reflect")
        torch.testing.assert_close(batch[i], item, rtol=1e-12, atol=1e-12)


# --- dtypes, spectrogram, working memory -------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_float32_follows_float64(rng, mode):
    n_fft, length, hop = 32, 120, 5.5
    x64 = torch.from_numpy(rng.standard_normal(length))
    lam64 = make_win_length(mode, rng, 17, n_frames(length, n_fft, hop, True), n_fft)
    lam32 = lam64.float() if isinstance(lam64, torch.Tensor) else lam64
    out64 = ad.dstft(x64, lam64, n_fft=n_fft, hop_length=hop)
    out32 = ad.dstft(x64.float(), lam32, n_fft=n_fft, hop_length=hop)
    assert out64.dtype == torch.complex128
    assert out32.dtype == torch.complex64
    assert_close_to_reference(out32.to(torch.complex128), out64.numpy(), rtol=1e-5)


@pytest.mark.parametrize("center", [True, False])
def test_float32_fractional_hop_on_a_long_signal_follows_float64(rng, center):
    """The grid of a number hop is placed in float64: in float32, t_n = n * 256.7 near 10^5
    would be off by up to 0.008 samples, a phase error of 3e-2 in the top bins."""
    x = torch.from_numpy(rng.standard_normal(160_000))
    kwargs = dict(n_fft=1024, hop_length=256.7, center=center)
    out64 = ad.dstft(x, 700.0, **kwargs)
    out32 = ad.dstft(x.float(), 700.0, **kwargs)
    assert out32.dtype == torch.complex64
    error = (out32.to(torch.complex128) - out64).abs().max() / out64.abs().max()
    assert error < 1e-6
    # Without center the signal's edges are covered by no window (idstft warns).
    with nullcontext() if center else pytest.warns(UserWarning, match="covered by no window"):
        back = ad.idstft(out32, 700.0, length=x.shape[-1], **kwargs)
    assert back.dtype == torch.float32
    covered = slice(1024, -1024)
    assert (back.double() - x)[covered].abs().max() < 1e-5 * x.abs().max()


def test_float32_positions_follow_float64(rng):
    x = torch.from_numpy(rng.standard_normal(60))
    t = random_positions(rng, 60, 16)
    out32 = ad.dstft(x.float(), 9.3, n_fft=16, positions=t.float())
    assert out32.dtype == torch.complex64
    expected = dstft_reference(x, 9.3, n_fft=16, positions=t.float())
    assert_close_to_reference(out32.to(torch.complex128), expected, rtol=1e-5)


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spectrogram_is_power_of_reference_magnitude(rng, power, dtype):
    x = torch.from_numpy(rng.standard_normal((2, 40))).to(dtype)
    lam = torch.tensor(rng.uniform(3.0, 16.0, size=(9, 1)), dtype=dtype)
    got = ad.spectrogram(x, lam, power=power, n_fft=16, hop_length=2.5, normalization="energy")
    assert got.dtype == dtype
    assert not got.is_complex()
    ref = dstft_reference(x, lam, n_fft=16, hop_length=2.5, normalization="energy")
    rtol = 1e-10 if dtype == torch.float64 else 1e-5
    assert_close_to_reference(got.double(), np.abs(ref) ** power, rtol=rtol)


def test_spectrogram_default_power_is_two(rng):
    x = rng.standard_normal(33)
    got = ad.spectrogram(torch.from_numpy(x), 12.0, n_fft=16, hop_length=4)
    expected = np.abs(dstft_reference(x, 12.0, n_fft=16, hop_length=4)) ** 2
    assert_close_to_reference(got, expected)


@pytest.mark.parametrize("mode", ["frequency", "time-frequency"])
@pytest.mark.parametrize("memory", [4096, 1 << 19, 1 << 30])
def test_max_working_memory_does_not_change_values(rng, mode, memory):
    n_fft, length, hop = 32, 150, 3.5
    x = rng.standard_normal((2, length))
    lam = make_win_length(mode, rng, 17, n_frames(length, n_fft, hop, True), n_fft)
    kw = dict(n_fft=n_fft, hop_length=hop)
    got = ad.dstft(torch.from_numpy(x), lam, max_working_memory=memory, **kw)
    assert_close_to_reference(got, dstft_reference(x, lam, **kw))


# --- physical meaning ---------------------------------------------------------------------


@pytest.mark.parametrize("lam", [16.0, 23.7, 32.0, 41.3, 64.0])
def test_amplitude_normalisation_gives_tone_peak_independent_of_lam(lam):
    n_fft, k0, length = 64, 8, 400
    s = torch.arange(length, dtype=torch.float64)
    x = 2.0 * torch.cos(2 * math.pi * k0 * s / n_fft + 0.3)
    t = torch.tensor([150.0, 200.25, 250.5], dtype=torch.float64)
    mag = ad.dstft(x, lam, n_fft=n_fft, positions=t).abs()
    assert torch.all(mag.argmax(dim=0) == k0)
    # a real tone of amplitude 2 peaks at 1: the Riemann sum of w_lam is 1 to ~3e-4
    torch.testing.assert_close(mag[k0], torch.ones(3, dtype=torch.float64), rtol=0, atol=2e-3)


@pytest.mark.parametrize("lam", [9.0, 14.6, 32.0])
def test_energy_normalisation_gives_unit_l2_window(lam):
    # an impulse at sample s0 gives |S[0, n]| = w_lam(s0 - t_n); sweep t_n over one sample
    n_fft, s0 = 32, 40
    x = torch.zeros(80, dtype=torch.float64)
    x[s0] = 1.0
    t = s0 + torch.arange(-16.0, 16.0, 1.0, dtype=torch.float64) + 0.37
    window = ad.dstft(x, lam, n_fft=n_fft, positions=t, normalization="energy")[0].abs()
    assert float((window**2).sum()) == pytest.approx(1.0, abs=1e-3)


# --- Hypothesis: shapes and agreement on small sizes --------------------------------------

hops = st.integers(4, 48).map(lambda q: q / 8)  # 0.5 .. 6.0 in steps of 1/8 (exact floats)


@st.composite
def configs(draw):
    n_fft = 2 * draw(st.integers(1, 16))
    center = draw(st.booleans())
    pad_mode = draw(st.sampled_from(["constant", "reflect"]))
    min_length = n_fft if not center else (n_fft // 2 + 1 if pad_mode == "reflect" else 1)
    length = draw(st.integers(min_length, min_length + 60))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    return n_fft, center, pad_mode, length, batch


@given(cfg=configs(), hop=hops, lam_frac=st.floats(0.01, 1.0))
def test_output_shape_follows_frame_count_formula(cfg, hop, lam_frac):
    n_fft, center, pad_mode, length, batch = cfg
    x = torch.zeros((*batch, length), dtype=torch.float64)
    out = ad.dstft(
        x, lam_frac * n_fft, n_fft=n_fft, hop_length=hop, center=center, pad_mode=pad_mode
    )
    span = length if center else length - n_fft
    expected_frames = 1 + math.floor(Fraction(span) / Fraction(hop))
    assert out.shape == (*batch, n_fft // 2 + 1, expected_frames)


@given(
    cfg=configs(),
    hop=hops,
    mode=st.sampled_from(MODES),
    window=st.sampled_from(["hann", "blackman"]),
    normalization=st.sampled_from(NORMALIZATIONS),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_reference_on_random_configurations(cfg, hop, mode, window, normalization, seed):
    n_fft, center, pad_mode, length, batch = cfg
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*batch, length))
    lam = make_win_length(
        mode, rng, n_fft // 2 + 1, n_frames(length, n_fft, hop, center), n_fft, low=0.5
    )
    kw = dict(
        n_fft=n_fft,
        hop_length=hop,
        window=window,
        normalization=normalization,
        center=center,
        pad_mode=pad_mode,
    )
    got = ad.dstft(torch.from_numpy(x), lam, **kw)
    assert_close_to_reference(got, dstft_reference(x, lam, **kw))


@given(
    n_fft=st.sampled_from([8, 16, 24]),
    length=st.integers(8, 60),
    positions=st.lists(st.floats(-20.0, 80.0), min_size=1, max_size=8),
    lam_frac=st.floats(0.05, 1.0),
    window=st.sampled_from(["hann", "blackman"]),
)
def test_arbitrary_positions_match_reference(n_fft, length, positions, lam_frac, window):
    x = np.random.default_rng(length).standard_normal(length)
    t = torch.tensor(positions, dtype=torch.float64)
    kw = dict(n_fft=n_fft, positions=t, window=window)
    got = ad.dstft(torch.from_numpy(x), lam_frac * n_fft, **kw)
    expected = dstft_reference(x, lam_frac * n_fft, **kw)
    if np.abs(expected).max() == 0:
        assert torch.all(got == 0)
    else:
        assert_close_to_reference(got, expected)
