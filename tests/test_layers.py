"""The DSTFT layer: modes, bounds, fixed frame count, freezing, and the PyTorch ecosystem."""

from __future__ import annotations

import io
import math
import pickle

import pytest
import torch
from reference import assert_close_to_reference, dstft_reference

import adastft as ad
from adastft.bounded import Bounded
from adastft.layers import DSTFT, HOP_MODES, WIN_MODES

N, L = 64, 300
F = N // 2 + 1

MODES = [
    (w, h)
    for w in WIN_MODES
    for h in HOP_MODES
    if not (h == "overlap" and w in ("frequency", "time-frequency"))
]


def _layer(win_mode="constant", hop_mode="fixed", **kwargs):
    kwargs.setdefault("signal_length", L)
    return DSTFT(N, 40.0, 16, win_mode=win_mode, hop_mode=hop_mode, **kwargs).double()


def _perturb(layer: torch.nn.Module, scale: float = 0.2) -> None:
    """Move every parameter off its initial value (so the tests see varying maps)."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"win_mode": "tf"}, ValueError, "win_mode must be one of"),
        ({"hop_mode": "free"}, ValueError, "hop_mode must be one of"),
        ({"win_mode": "time", "signal_length": None}, ValueError, "signal_length is required"),
        ({"hop_mode": "constant", "signal_length": None}, ValueError, "signal_length is req"),
        ({"signal_length": 0}, ValueError, "signal_length must satisfy an int >= 1; got 0"),
        ({"signal_length": 2.5}, TypeError, "signal_length must be an int"),
        ({"win_max": 65.0}, ValueError, r"win_max must satisfy 0 < win_max <= n_fft \(=64\)"),
        ({"win_min": 70.0}, ValueError, r"win_min must satisfy 0 < win_min <= win_max"),
        ({"win_max": 30.0}, ValueError, r"win_length must satisfy 2.0 <= win_length <= 30.0"),
        ({"win_mode": "frequency", "hop_mode": "overlap"}, ValueError, "needs one window"),
        ({"hop_mode": "constant", "hop_min": 20.0}, ValueError, "hop_length must satisfy 20"),
        ({"hop_mode": "constant", "hop_max": 0.5, "hop_min": 1.0}, ValueError, "hop_max must"),
        ({"n_channels": 0}, ValueError, "n_channels must satisfy an int >= 1; got 0"),
        ({"center": 1}, TypeError, "center must be a bool"),
        ({"learn_win": "no"}, TypeError, "learn_win must be a bool; got 'no'"),
        ({"learn_hop": 1}, TypeError, "learn_hop must be a bool; got 1"),
        ({"win_min": "2"}, TypeError, r"win_min must be a real number .*; got '2'"),
        ({"win_max": "64"}, TypeError, r"win_max must be a real number .*; got '64'"),
        ({"hop_mode": "constant", "hop_min": "1"}, TypeError, r"hop_min must be a real .*'1'"),
        ({"hop_mode": "constant", "hop_max": "64"}, TypeError, r"hop_max must be a real .*'64'"),
        ({"engine": "fast"}, ValueError, "engine must be one of"),
        ({"center": False, "signal_length": 10}, ValueError, r"at least n_fft \(=64\)"),
        (
            {"pad_mode": "reflect", "signal_length": 32},
            ValueError,
            r"signal_length must exceed n_fft // 2 \(=32\) for pad_mode='reflect'; got 32",
        ),
    ],
)
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        _layer(**kwargs)


def test_constructor_value_errors():
    with pytest.raises(ValueError, match=r"hop_length must satisfy hop_length > 0; got -1"):
        DSTFT(N, 40.0, -1)
    with pytest.raises(ValueError, match="does not broadcast to"):
        DSTFT(N, torch.full((3, 2), 40.0), 16, win_mode="time", signal_length=L)
    with pytest.raises(ValueError, match="overlap 1 - hop/win is in"):
        DSTFT(N, 10.0, 16, hop_mode="overlap", signal_length=L)
    with pytest.raises(ValueError, match="0-dim tensor"):
        DSTFT(N, 40.0, torch.ones(3), signal_length=L)
    with pytest.raises(ValueError, match="n_fft must be an even int"):
        DSTFT(63, 40.0, 16)
    with pytest.raises(TypeError, match="hop_length must be a real tensor; got dtype torch.int64"):
        DSTFT(N, 40.0, torch.tensor([16, 16, 16]), hop_mode="time", signal_length=L)
    # The hops fix T, but learnt hops need the signal's length (frame_mask, coverage).
    with pytest.raises(ValueError, match="signal_length is required with .* hop_mode='time'"):
        DSTFT(N, 40.0, torch.full((3,), 16.0), hop_mode="time")


@pytest.mark.parametrize(
    ("hops", "n_channels", "match"),
    [
        (torch.tensor([10.0, -1.0, 5.0]), None, r"hop_length must be > 0 and finite; got -1.0"),
        (torch.tensor([10.0, math.nan]), None, r"hop_length must be > 0 and finite; got nan"),
        (torch.ones(2, 3), None, r"shape \(T - 1,\) with T - 1 >= 1 hops; got shape \(2, 3\)"),
        (torch.ones(0), None, r"shape \(T - 1,\) with T - 1 >= 1 hops; got shape \(0,\)"),
        (torch.ones(3, 5), 2, r"\(T - 1,\) or \(n_channels, T - 1\).*got shape \(3, 5\)"),
    ],
)
def test_time_varying_hops_are_checked(hops, n_channels, match):
    with pytest.raises(ValueError, match=match):
        DSTFT(N, 40.0, hops, hop_mode="time", signal_length=L, n_channels=n_channels)


WIN_TYPE = r"win_length must be a real number or a real tensor \(or a sequence of real numbers\)"
HOP_TYPE = r"hop_length must be a real number > 0 or a real tensor \(0-dim, or the T - 1 hops"


@pytest.mark.parametrize(
    ("win_length", "hop_length", "match"),
    [
        ("100", 16, WIN_TYPE + r" of window lengths; got '100'"),
        (True, 16, WIN_TYPE + r".*; got True"),
        (40j, 16, WIN_TYPE + r".*; got 40j"),
        (["a", "b"], 16, WIN_TYPE + r".*; got \['a', 'b'\]"),
        (None, 16, WIN_TYPE + r".*; got None"),
        (torch.tensor(40.0 + 0j), 16, WIN_TYPE + r".*; got a tensor of dtype torch.complex64"),
        (torch.tensor([True]), 16, WIN_TYPE + r".*; got a tensor of dtype torch.bool"),
        (40.0, "16", HOP_TYPE + r" of hop_mode='time'\); got '16'"),
        (40.0, True, HOP_TYPE + r".*; got True"),
        (40.0, 16j, HOP_TYPE + r".*; got 16j"),
        (40.0, [16.0], HOP_TYPE + r".*; got \[16.0\]"),
        (40.0, torch.tensor(True), HOP_TYPE + r".*; got a tensor of dtype torch.bool"),
        (40.0, torch.tensor(16j), HOP_TYPE + r".*; got a tensor of dtype torch.complex64"),
    ],
)
def test_constructor_type_errors(win_length, hop_length, match):
    with pytest.raises(TypeError, match=match):
        DSTFT(N, win_length, hop_length, signal_length=L)


def test_constructor_takes_real_numbers_tensors_and_sequences():
    for win_length in (40, 40.0, torch.tensor(40), torch.tensor(40.0), [[40.0]]):
        layer = DSTFT(N, win_length, torch.tensor(16), signal_length=L)
        assert layer.win_length.dtype == torch.get_default_dtype()
        assert float(layer.win_length.detach()) == 40.0 and layer.hop_length == 16


def test_tiny_hop_is_a_clear_error():
    with pytest.raises(ValueError, match=r"hop_length must be large enough for at most 2\*\*40"):
        DSTFT(N, 40.0, 1e-300, signal_length=L)


def test_input_errors():
    layer = _layer("time")
    with pytest.raises(ValueError, match=r"x must have signal_length \(=300\) samples.*L=299"):
        layer(torch.randn(299, dtype=torch.float64))
    with pytest.raises(TypeError, match="x must be a real floating-point tensor"):
        layer(torch.ones(L, dtype=torch.int64))
    chan = _layer(n_channels=3)
    with pytest.raises(ValueError, match=r"x must have shape \(..., n_channels=3, L\)"):
        chan(torch.randn(2, L, dtype=torch.float64))
    free = DSTFT(N, 40.0, 16)
    with pytest.raises(ValueError, match="use frame_positions"):
        _ = free.positions
    with pytest.raises(ValueError, match="frame_mask needs the layer's signal_length"):
        free.frame_mask()


# ---------------------------------------------------------------------------------------------
# The layer computes the transform of its parameters


@pytest.mark.parametrize(("win_mode", "hop_mode"), MODES)
def test_layer_equals_reference(win_mode, hop_mode):
    layer = _layer(win_mode, hop_mode)
    _perturb(layer)
    x = torch.randn(2, L, dtype=torch.float64)
    spec = layer(x)
    assert spec.shape == (2, F, layer.n_frames)
    lam = layer.win_length.detach()
    positions = layer.positions.detach()
    assert positions.shape == (layer.n_frames,)
    expected = dstft_reference(x.numpy(), lam.numpy(), n_fft=N, positions=positions.numpy())
    assert_close_to_reference(spec, expected)


def test_integer_parameters_equal_torch_stft():
    x = torch.randn(3, 1000, dtype=torch.float64)
    for center, pad_mode in [(True, "constant"), (True, "reflect"), (False, "constant")]:
        layer = DSTFT(256, 256.0, 64, normalization=None, center=center, pad_mode=pad_mode)
        layer.double()
        expected = torch.stft(
            x,
            256,
            64,
            window=torch.hann_window(256, periodic=True, dtype=torch.float64),
            center=center,
            pad_mode=pad_mode,
            return_complex=True,
        )
        torch.testing.assert_close(layer(x), expected, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(layer.freeze()(x), expected, rtol=1e-10, atol=1e-10)


def test_fixed_frame_count_without_signal_length_follows_input():
    layer = DSTFT(N, 40.0, 16)
    assert layer(torch.randn(100)).shape == (F, 1 + 100 // 16)
    assert layer(torch.randn(2, 200)).shape == (2, F, 1 + 200 // 16)


def test_fractional_fixed_hop():
    layer = DSTFT(N, 40.0, 12.5, signal_length=L).double()
    x = torch.randn(L, dtype=torch.float64)
    torch.testing.assert_close(
        layer(x), ad.dstft(x, 40.0, n_fft=N, hop_length=12.5), rtol=1e-12, atol=1e-12
    )
    assert layer.positions[1] == 12.5


def test_time_hops_from_tensor():
    hops = torch.tensor([10.0, 12.0, 14.0, 16.0, 18.0], dtype=torch.float64)
    layer = DSTFT(N, 40.0, hops, hop_mode="time", signal_length=L).double()
    assert layer.n_frames == 6
    torch.testing.assert_close(layer.positions, torch.cat([hops.new_zeros(1), hops.cumsum(0)]))
    torch.testing.assert_close(layer.hop_lengths, hops)


def test_overlap_positions_follow_window_lengths():
    layer = DSTFT(N, 40.0, 20, win_mode="time", hop_mode="overlap", signal_length=L).double()
    assert layer.overlap == 0.5
    with torch.no_grad():
        layer.win.reset(torch.linspace(20.0, 60.0, layer.n_frames, dtype=torch.float64))
    lam = layer.win_length[0]
    torch.testing.assert_close(layer.hop_lengths, 0.5 * 0.5 * (lam[:-1] + lam[1:]))


def test_per_channel_parameters():
    layer = _layer("time", "time", n_channels=3)
    _perturb(layer)
    assert layer.win_length.shape == (3, 1, layer.n_frames)
    assert layer.positions.shape == (3, layer.n_frames)
    x = torch.randn(2, 3, L, dtype=torch.float64)
    spec = layer(x)
    for c in range(3):
        expected = ad.dstft(
            x[:, c],
            layer.win_length[c].detach(),
            n_fft=N,
            positions=layer.positions[c].detach(),
        )
        torch.testing.assert_close(spec[:, c], expected, rtol=1e-12, atol=1e-12)


def test_float32_input_and_parameters():
    layer = DSTFT(N, 40.0, 16, win_mode="time-frequency", signal_length=L)
    assert layer(torch.randn(L)).dtype == torch.complex64
    assert layer(torch.randn(L, dtype=torch.float64)).dtype == torch.complex128


def test_helpers():
    layer = DSTFT(N, 40.0, 16, signal_length=L)
    torch.testing.assert_close(layer.frame_times(8000.0), layer.positions / 8000.0)
    assert layer.frequencies(8000.0)[-1] == 4000.0
    assert layer.frequencies()[1] == 1 / N
    text = repr(layer)
    assert "learn_win=True" in text and "learn_hop=False" in text and "n_frames=19" in text
    frozen_hop = DSTFT(N, 40.0, 16, hop_mode="time", learn_hop=False, signal_length=L)
    assert "learn_hop=False" in repr(frozen_hop)
    assert [n for n, _ in frozen_hop.named_parameters()] == ["win.log_ratio"]


# ---------------------------------------------------------------------------------------------
# Parameterisation: exact initial values, bounds reached exactly, never left


def test_initial_values_are_exact():
    layer = DSTFT(512, 512.0, 128, hop_mode="constant", signal_length=4000)
    assert layer.win_length.item() == 512.0
    assert layer.hop().item() == 128.0
    assert torch.equal(layer.positions, 128.0 * torch.arange(layer.n_frames, dtype=torch.float32))


@pytest.mark.parametrize(("low", "high"), [(300.0, 256.0), (0.0, 256.0), (-1.0, 2.0)])
def test_bounded_needs_ordered_positive_bounds(low, high):
    with pytest.raises(
        ValueError, match=rf"value bounds must satisfy 0 < low <= high; got \[{low}"
    ):
        Bounded(torch.tensor([100.0]), low=low, high=high)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_bounds_are_reached_exactly_and_left_again(sign):
    bounded = Bounded(torch.tensor([100.0]), low=16.0, high=256.0)
    opt = torch.optim.Adam(bounded.parameters(), lr=0.2)
    for _ in range(60):  # push towards one bound, past it
        opt.zero_grad()
        (-sign * bounded()).sum().backward()
        opt.step()
    bound = 256.0 if sign > 0 else 16.0
    assert bounded().item() == bound
    # At the bound, the outward gradient is blocked, the inward one passes.
    bounded.log_ratio.grad = None
    (-sign * bounded()).sum().backward()
    assert bounded.log_ratio.grad.item() == 0.0
    # Adam's momentum carried log_ratio past the bound: it needs a few steps to come back.
    opt = torch.optim.Adam(bounded.parameters(), lr=0.2)
    for _ in range(40):
        opt.zero_grad()
        (sign * bounded()).sum().backward()
        opt.step()
    assert bounded().item() != bound and 16.0 <= bounded().item() <= 256.0


@pytest.mark.parametrize(("log_ratio", "bound"), [(400.0, 256.0), (-120.0, 16.0), (1e6, 256.0)])
def test_gradient_far_past_a_bound_is_the_bound_s_or_zero(log_ratio, bound):
    """A huge step leaves log_ratio where exp overflows (inf) or underflows (0): the value is
    the bound, the outward gradient 0 (not NaN), the inward one grad * bound (not inf, not 0)."""
    bounded = Bounded(torch.tensor([100.0]), low=16.0, high=256.0)
    with torch.no_grad():
        bounded.log_ratio.fill_(log_ratio)
    assert bounded().item() == bound
    outward = 1.0 if bound == 16.0 else -1.0  # d loss / d lam whose descent leaves the bounds
    for sign, expected in ((outward, 0.0), (-outward, -outward * bound)):
        bounded.log_ratio.grad = None
        (sign * bounded()).sum().backward()
        assert bounded.log_ratio.grad.item() == expected


def test_huge_steps_keep_the_layer_finite_and_in_its_bounds():
    layer = DSTFT(N, 40.0, 16, signal_length=L)
    opt = torch.optim.SGD(layer.parameters(), lr=10.0)
    x = torch.randn(L)
    for _ in range(3):  # each step pushes log_ratio by about 10 * 64 past the upper bound
        opt.zero_grad()
        (-layer.win_length.sum()).backward()
        opt.step()
    assert layer.win_length.item() == layer.win_max
    assert torch.isfinite(layer.win.log_ratio).all() and torch.isfinite(layer(x)).all()


def test_gradient_inside_the_bounds_is_that_of_the_exponential():
    init = torch.tensor([20.0, 100.0, 250.0], dtype=torch.float64)
    bounded = Bounded(init, low=16.0, high=256.0)

    def value(log_ratio):  # the bounded value as a function of its parameter
        with torch.no_grad():
            bounded.log_ratio.copy_(log_ratio)
        return bounded()

    r = torch.tensor([0.1, -0.5, 0.02], dtype=torch.float64)
    (grad,) = torch.autograd.grad(value(r).sum(), bounded.log_ratio)
    torch.testing.assert_close(grad, init * torch.exp(r), rtol=1e-15, atol=0)
    h = 1e-6  # and against central differences
    diff = (value(r + h) - value(r - h)).detach() / (2 * h)
    torch.testing.assert_close(grad, diff, rtol=1e-8, atol=0)


@pytest.mark.parametrize("win_mode", ["time", "time-frequency"])
def test_nan_learnt_hops_give_nan_frames_not_an_error(win_mode):
    """The forward does not read its parameters (no host synchronisation): hops gone NaN must
    give NaN columns, which a training loop sees in its loss, rather than an IndexError."""
    hops = torch.full((L // 16,), 16.0)
    layer = DSTFT(N, 40.0, hops, win_mode=win_mode, hop_mode="time", signal_length=L)
    with torch.no_grad():
        layer.hop.log_ratio[5] = math.nan  # t_6 and every later centre are NaN
    spec = layer(torch.randn(L))
    nan_frames = spec.isnan().any(-2)
    assert not nan_frames[:6].any() and spec[..., 6:].isnan().all()


def test_learning_never_leaves_bounds_and_keeps_shape():
    layer = DSTFT(N, 60.0, 16, win_mode="time", hop_mode="time", signal_length=L)
    opt = torch.optim.Adam(layer.parameters(), lr=0.5)
    x = torch.randn(L)
    for _ in range(20):
        opt.zero_grad()
        (-ad.spectrogram(x, 1.0, n_fft=N).sum() - layer(x).abs().sum()).backward()
        opt.step()
        lam = layer.win_length
        assert lam.min() >= layer.win_min and lam.max() <= layer.win_max
        hops = layer.hop()
        assert hops.min() >= layer.hop.low and hops.max() <= layer.hop.high
        assert layer(x).shape == (F, layer.n_frames)


def test_reset_checks_bounds():
    layer = _layer()
    with pytest.raises(ValueError, match=r"win_length must satisfy 2.0 <= win_length <= 64.0"):
        layer.win.reset(100.0)
    layer.win.reset(64.0)
    assert layer.win_length.item() == 64.0


def test_frame_mask_flags_frames_past_the_signal():
    layer = DSTFT(N, 40.0, 16, hop_mode="constant", signal_length=L)
    assert bool(layer.frame_mask().all())
    with torch.no_grad():
        layer.hop.reset(32.0)  # twice the hop: the second half of the frames leave the signal
    mask = layer.frame_mask()
    centres = layer.positions
    torch.testing.assert_close(mask, centres - 20.0 < L - 1)
    assert not bool(mask[-1]) and bool(mask[0])
    x = torch.randn(L)
    assert torch.all(layer(x)[:, ~mask] == 0)


@pytest.mark.parametrize(
    ("win_mode", "hop_mode"), [("time", "time"), ("time-frequency", "constant")]
)
def test_inverse_recovers_the_signal(win_mode, hop_mode):
    layer = _layer(win_mode, hop_mode, pad_mode="reflect")
    _perturb(layer, 0.1)
    x = torch.randn(2, L, dtype=torch.float64)
    torch.testing.assert_close(layer.inverse(layer(x)), x, rtol=1e-8, atol=1e-8)
    free = DSTFT(N, 40.0, 16).double()
    torch.testing.assert_close(free.inverse(free(x), L), x, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="inverse needs length"):
        free.inverse(free(x))


# ---------------------------------------------------------------------------------------------
# Gradients of the layer's own parameters


@pytest.mark.parametrize(("win_mode", "hop_mode"), MODES)
def test_gradcheck_parameters(win_mode, hop_mode):
    layer = DSTFT(16, 10.0, 4, win_mode=win_mode, hop_mode=hop_mode, signal_length=24).double()
    _perturb(layer, 0.1)
    x = torch.randn(24, dtype=torch.float64)
    names, params = zip(*layer.named_parameters(), strict=True)

    def fn(*values):
        state = dict(zip(names, values, strict=True))
        return torch.func.functional_call(layer, state, (x,))

    assert torch.autograd.gradcheck(fn, tuple(p.detach().requires_grad_() for p in params))


# ---------------------------------------------------------------------------------------------
# Freezing


@pytest.mark.parametrize(("win_mode", "hop_mode"), MODES)
def test_freeze_equals_layer(win_mode, hop_mode):
    layer = _layer(win_mode, hop_mode)
    _perturb(layer)
    frozen = layer.freeze()
    assert list(frozen.parameters()) == []
    x = torch.randn(2, L, dtype=torch.float64)
    torch.testing.assert_close(frozen(x), layer(x), rtol=1e-12, atol=1e-12)


def test_freeze_modes():
    assert _layer().freeze().mode == "stft"
    assert _layer(hop_mode="constant").freeze().mode == "stft"  # integer hop, not moved
    assert _layer("time").freeze().mode == "fft"
    assert _layer("frequency").freeze().mode == "direct"
    assert DSTFT(N, 40.0, 12.5).freeze().mode == "direct"  # no signal_length: T follows L


@pytest.mark.parametrize(("win_mode", "hop_mode"), [("constant", "constant"), ("time", "time")])
@pytest.mark.parametrize("hop", [64.0, 17.0, 1.0, 20.0])
def test_freeze_keeps_the_frame_count_of_a_learnt_integer_hop(win_mode, hop_mode, hop):
    """A learnt hop that lands on an integer (a bound, or by chance) makes an integer grid of
    other frame count than the layer's T: the frozen layer keeps T (frames past the signal
    included), as the layer does."""
    layer = _layer(win_mode, hop_mode)
    with torch.no_grad():
        layer.hop.reset(hop)
    frozen = layer.freeze()
    x = torch.randn(2, L, dtype=torch.float64)
    assert frozen(x).shape == layer(x).shape == (2, F, layer.n_frames)
    torch.testing.assert_close(frozen(x), layer(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("win_mode", ["constant", "time"])
def test_freeze_and_inverse_of_a_fractional_hop_in_float32_are_exact(win_mode):
    """Like the layer's forward, the frozen layer and the inverse place a fractional fixed
    hop's grid in float64 (in float32, t_n near 16000 is off by 1e-3 samples)."""
    length = 16000
    layer = DSTFT(512, 300.0, 100.3, win_mode=win_mode, signal_length=length)
    x = torch.randn(length)
    spec = layer(x).detach()
    exact = ad.dstft(x.double(), layer.win_length.detach().double(), n_fft=512, hop_length=100.3)
    scale = exact.abs().max()
    assert (spec.to(torch.complex128) - exact).abs().max() < 1e-6 * scale
    assert (layer.freeze()(x).to(torch.complex128) - exact).abs().max() < 1e-6 * scale
    assert (layer.inverse(spec) - x).abs().max() < 1e-5 * x.abs().max()


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.randn(L), ValueError, r"n_channels=2, L\); got \(300,\)"),
        (torch.randn(2, 1000), ValueError, r"x must have signal_length \(=300\).*L=1000"),
        (torch.randn(5, L), ValueError, r"n_channels=2, L\); got \(5, 300\)"),
        (torch.ones(2, L, dtype=torch.int64), TypeError, r"x must be a real floating-point"),
        (torch.zeros(0, 2, L), ValueError, r"x must have shape \(\.\.\., L\)"),
    ],
    ids=["no channel dim", "another length", "other channel count", "integer", "empty batch"],
)
@pytest.mark.parametrize(("win_mode", "hop"), [("constant", 16), ("time", 16), ("frequency", 16)])
def test_frozen_layer_checks_its_input_as_the_layer(win_mode, hop, x, error, match):
    layer = DSTFT(N, 40.0, hop, win_mode=win_mode, signal_length=L, n_channels=2)
    for module in (layer, layer.freeze()):
        with pytest.raises(error, match=match):
            module(x)


def test_freeze_stft_mode_calls_torch_stft(monkeypatch):
    frozen = DSTFT(N, 33.5, 16).freeze()
    calls = []
    original = torch.stft
    monkeypatch.setattr(torch, "stft", lambda *a, **k: calls.append(1) or original(*a, **k))
    x = torch.randn(L)
    spec = frozen(x)
    assert calls == [1]
    torch.testing.assert_close(spec, ad.dstft(x, 33.5, n_fft=N, hop_length=16))


# ---------------------------------------------------------------------------------------------
# Ecosystem: state_dict, pickle, devices and dtypes, torch.compile


def test_state_dict_round_trip():
    layer = _layer("time", "time")
    _perturb(layer)
    other = _layer("time", "time")
    other.load_state_dict(layer.state_dict())
    x = torch.randn(L, dtype=torch.float64)
    torch.testing.assert_close(other(x), layer(x), rtol=0, atol=0)
    assert set(layer.state_dict()) == {
        "win.init",
        "win.low",
        "win.high",
        "win.log_ratio",
        "hop.init",
        "hop.low",
        "hop.high",
        "hop.log_ratio",
    }


def test_pickle_and_torch_save_round_trip():
    layer = _layer("time-frequency", "constant")
    _perturb(layer)
    x = torch.randn(L, dtype=torch.float64)
    copy = pickle.loads(pickle.dumps(layer))
    torch.testing.assert_close(copy(x), layer(x), rtol=0, atol=0)
    buffer = io.BytesIO()
    torch.save(layer.freeze(), buffer)
    buffer.seek(0)
    frozen = torch.load(buffer, weights_only=False)
    torch.testing.assert_close(frozen(x), layer(x), rtol=1e-12, atol=1e-12)


def test_to_dtype():
    layer = DSTFT(N, 40.0, 16, win_mode="time", signal_length=L)
    assert layer.win.log_ratio.dtype == torch.float32
    layer.to(torch.float64)
    assert layer.win_length.dtype == torch.float64
    assert layer(torch.randn(L, dtype=torch.float64)).dtype == torch.complex128


class _TinyModel(torch.nn.Module):
    def __init__(self, win_mode: str, hop_mode: str, engine: str = "auto"):
        super().__init__()
        self.dstft = DSTFT(
            N, 40.0, 16, win_mode=win_mode, hop_mode=hop_mode, signal_length=L, engine=engine
        )
        self.head = torch.nn.Linear(F, 2)

    def forward(self, x):
        return self.head(self.dstft(x).abs().transpose(-1, -2)).mean()


@pytest.mark.compile
@pytest.mark.parametrize("frozen", [False, True])
def test_layer_without_signal_length_compiles_for_symbolic_input_lengths(frozen):
    """The frame count follows the input's length, symbolic under dynamic=True: the layer's
    own code (the frame count) must trace with it in one graph. (A fractional hop's count,
    floor(L / H) of a symbolic L, is not traceable by dynamo in torch 2.13: README.)"""
    torch._dynamo.reset()
    layer = DSTFT(N, 40.0, 16)
    layer = layer.freeze() if frozen else layer
    compiled = torch.compile(layer, fullgraph=True, dynamic=True, backend="aot_eager")
    for length in (300, 417, 512):
        x = torch.randn(2, length)
        torch.testing.assert_close(compiled(x), layer(x), rtol=1e-5, atol=1e-5)


@pytest.mark.compile
@pytest.mark.filterwarnings("ignore:Torchinductor does not support code generation for complex")
@pytest.mark.parametrize(
    ("win_mode", "hop_mode", "engine", "backend"),
    [
        # Inductor lowers the eager direct sums that the outer compilation fuses; the other
        # cases check tracing and autograd (dynamo, AOTAutograd) without generating code,
        # which costs seconds per model on a cold compile cache.
        ("frequency", "constant", "auto", "inductor"),
        ("constant", "fixed", "auto", "aot_eager"),
        ("time", "time", "auto", "aot_eager"),
        # an explicit compiled engine defers to the outer compilation instead of nesting one
        ("time", "fixed", "compiled", "aot_eager"),
        ("frequency", "constant", "compiled", "aot_eager"),
    ],
)
def test_compile_has_no_graph_breaks_and_matches_eager(win_mode, hop_mode, engine, backend):
    torch._dynamo.reset()
    model = _TinyModel(win_mode, hop_mode, engine)
    x = torch.randn(2, L)
    explanation = torch._dynamo.explain(model)(x)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1
    eager = model(x)
    eager.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(model, backend=backend)(x)
    compiled.backward()
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)
    for g, p in zip(grads, model.parameters(), strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6)
