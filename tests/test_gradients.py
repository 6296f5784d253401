"""Gradients of ``adastft.dstft`` with respect to the signal, window lengths, hop and positions.

``torch.autograd.gradcheck`` in float64 on the complex output (viewed as real) for every
window-length mode, window, normalisation and padding, for the chunked direct-sum path, and
for all inputs at once. The truncated ``gaussian`` and ``hamming`` windows jump at the support
edge, so their checks use frame centres at half-integers and lengths whose edges stay at least
0.05 samples away from an integer. Finally: every learnable element gets a finite non-zero
gradient, gradients are finite at the ends of the valid range, and float32 follows float64.
"""

from __future__ import annotations

import pytest
import torch
from reference import NORMALIZATIONS, n_frames

import adastft as ad

N_FFT, LENGTH, HOP = 16, 30, 3.5
N_BINS, N_FRAMES = N_FFT // 2 + 1, n_frames(LENGTH, N_FFT, HOP, True)
SMOOTH_WINDOWS = ("hann", "blackman")
PADDINGS = [(True, "constant"), (True, "reflect"), (False, "constant"), (False, "reflect")]
# lam / 2 = 2.65, 3.15, 3.65, 4.85, 5.05: support edges at t_n +- lam / 2 stay >= 0.05 samples
# from an integer when t_n is a half-integer
EDGE_SAFE_LAMS = torch.tensor([5.3, 6.3, 7.3, 9.7, 10.1], dtype=torch.float64)

WIN_SHAPES = {
    "constant": (),
    "time": (1, N_FRAMES),
    "frequency": (N_BINS, 1),
    "time-frequency": (N_BINS, N_FRAMES),
    "per-example constant": (2, 1, 1),
    "per-example frequency": (2, N_BINS, 1),
    "per-example time-frequency": (2, N_BINS, N_FRAMES),
}


def gradcheck(fn, *inputs, fast_mode=True):
    """gradcheck of a complex-valued function through its real view."""
    return torch.autograd.gradcheck(
        lambda *a: torch.view_as_real(fn(*a)), inputs, fast_mode=fast_mode
    )


def signal(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def uniform(shape, low, high, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(shape, generator=gen, dtype=torch.float64)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


# --- smooth windows ---------------------------------------------------------------------


@pytest.mark.parametrize("hop", [HOP, 4])  # fractional frames, and the integer grid
@pytest.mark.parametrize("window", SMOOTH_WINDOWS)
@pytest.mark.parametrize(("center", "pad_mode"), PADDINGS)
def test_gradcheck_signal(window, center, pad_mode, hop):
    x = leaf(signal(LENGTH))
    kw = dict(n_fft=N_FFT, hop_length=hop, window=window, center=center, pad_mode=pad_mode)
    assert gradcheck(lambda x: ad.dstft(x, 11.3, **kw), x)


@pytest.mark.parametrize(("center", "pad_mode"), [(True, "reflect"), (False, "constant")])
@pytest.mark.parametrize("mode", ["constant", "time", "frequency", "time-frequency"])
def test_gradcheck_integer_grid(mode, center, pad_mode):
    hop = 4
    frames = n_frames(LENGTH, N_FFT, hop, center)
    shape = {"constant": (), "time": (1, frames), "frequency": (N_BINS, 1)}
    x = leaf(signal(2, LENGTH))
    lam = leaf(uniform(shape.get(mode, (N_BINS, frames)), 3.0, N_FFT))
    kw = dict(n_fft=N_FFT, hop_length=hop, center=center, pad_mode=pad_mode)
    assert gradcheck(lambda x, lam: ad.dstft(x, lam, **kw), x, lam)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("window", SMOOTH_WINDOWS)
@pytest.mark.parametrize("mode", WIN_SHAPES)
def test_gradcheck_win_length(mode, window, normalization):
    shape = WIN_SHAPES[mode]
    x = signal(2, LENGTH)  # shared lam: its gradient sums over the batch
    lam = leaf(uniform(shape, 3.0, N_FFT - 0.5))
    kw = dict(n_fft=N_FFT, hop_length=HOP, window=window, normalization=normalization)
    assert gradcheck(lambda lam: ad.dstft(x, lam, **kw), lam)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("window", SMOOTH_WINDOWS)
def test_gradcheck_hop_length(window, normalization, center):
    x = signal(LENGTH)
    lam = uniform((1, n_frames(LENGTH, N_FFT, 3.3, center)), 4.0, N_FFT)
    hop = leaf(torch.tensor(3.3, dtype=torch.float64))
    kw = dict(n_fft=N_FFT, window=window, normalization=normalization, center=center)
    assert gradcheck(lambda hop: ad.dstft(x, lam, hop_length=hop, **kw), hop)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("window", SMOOTH_WINDOWS)
def test_gradcheck_positions(window, normalization):
    x = signal(2, LENGTH)  # shared positions: their gradient sums over the batch
    t = leaf(uniform(7, -3.0, LENGTH + 3.0))
    lam = uniform((N_BINS, 7), 3.0, N_FFT)
    kw = dict(n_fft=N_FFT, window=window, normalization=normalization)
    assert gradcheck(lambda t: ad.dstft(x, lam, positions=t, **kw), t)


@pytest.mark.parametrize(("center", "pad_mode"), PADDINGS)
def test_gradcheck_positions_with_padding(center, pad_mode):
    x = signal(LENGTH)
    t = leaf(torch.tensor([-2.2, 0.4, 5.9, 14.1, 27.6, 29.0, 31.3], dtype=torch.float64))
    kw = dict(n_fft=N_FFT, center=center, pad_mode=pad_mode)
    assert gradcheck(lambda t: ad.dstft(x, 12.7, positions=t, **kw), t)


def test_gradcheck_repeated_and_off_signal_frames():
    # two frames read the same samples, two read none: the adjoint must add and skip correctly
    x = leaf(signal(LENGTH))
    t = leaf(torch.tensor([3.2, 3.2, -40.0, 10.5, 10.5, 50.0], dtype=torch.float64))
    lam = leaf(uniform((N_BINS, 6), 2.0, N_FFT))
    assert gradcheck(lambda x, lam, t: ad.dstft(x, lam, n_fft=N_FFT, positions=t), x, lam, t)


def test_gradcheck_signal_with_two_batch_dims():
    x = leaf(signal(2, 3, LENGTH))
    lam = leaf(uniform((3, 1, 1), 4.0, N_FFT))
    assert gradcheck(lambda x, lam: ad.dstft(x, lam, n_fft=N_FFT, hop_length=4), x, lam)


@pytest.mark.parametrize("core", [(1, 1), (1, n_frames(LENGTH, N_FFT, 4, True)), (N_BINS, 1)])
@pytest.mark.parametrize("lead", [(2, 3), (1, 1, 1)])
def test_gradcheck_win_length_with_leading_dims(lead, core):
    # Leading dims that flatten to the batch, or to one: the transform reshapes the window
    # lengths itself and hands their gradient back in their own shape.
    x = signal(2, 3, LENGTH)
    lam = leaf(uniform((*lead, *core), 4.0, N_FFT))
    assert gradcheck(lambda lam: ad.dstft(x, lam, n_fft=N_FFT, hop_length=4), lam)


def test_gradcheck_per_example_positions():
    x = signal(2, LENGTH)
    t = leaf(uniform((2, 6), 0.0, LENGTH))
    lam = uniform((2, 1, 6), 3.0, N_FFT)
    assert gradcheck(lambda t: ad.dstft(x, lam, n_fft=N_FFT, positions=t), t)


def test_gradcheck_all_inputs_at_once_full_jacobian():
    n_fft, length = 8, 14
    x = leaf(signal(length))
    lam = leaf(uniform((n_fft // 2 + 1, 5), 2.0, n_fft))
    t = leaf(torch.tensor([0.3, 3.6, 6.1, 9.9, 13.2], dtype=torch.float64))

    def fn(x, lam, t):
        return ad.dstft(x, lam, n_fft=n_fft, positions=t, pad_mode="reflect")

    assert gradcheck(fn, x, lam, t, fast_mode=False)


def test_gradcheck_signal_time_varying_lam_and_hop_full_jacobian():
    n_fft, length = 8, 15
    x = leaf(signal(length))
    lam = leaf(uniform((1, n_frames(length, n_fft, 2.6, True)), 2.0, n_fft))
    hop = leaf(torch.tensor(2.6, dtype=torch.float64))

    def fn(x, lam, hop):
        return ad.dstft(x, lam, n_fft=n_fft, hop_length=hop, window="blackman")

    assert gradcheck(fn, x, lam, hop, fast_mode=False)


@pytest.mark.parametrize("mode", ["frequency", "time-frequency"])
def test_gradcheck_chunked_direct_sum(mode):
    n_fft, length = 32, 70
    x = leaf(signal(2, length))
    frames = 9
    lam = leaf(uniform((n_fft // 2 + 1, 1 if mode == "frequency" else frames), 4.0, n_fft))
    t = leaf(uniform(frames, 0.0, length))
    kw = dict(n_fft=n_fft, max_working_memory=4096)
    assert gradcheck(lambda x, lam, t: ad.dstft(x, lam, positions=t, **kw), x, lam, t)


# --- truncated windows (jump at the support edge) -----------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("window", ["gaussian", "hamming"])
@pytest.mark.parametrize("mode", ["constant", "time", "frequency", "time-frequency"])
def test_gradcheck_truncated_window_edge_safe(mode, window, normalization):
    x = leaf(signal(LENGTH))
    t = leaf(torch.arange(5, dtype=torch.float64) * 6.0 + 2.5)  # half-integers
    lam_all = EDGE_SAFE_LAMS
    shape = {
        "constant": (),
        "time": (1, 5),
        "frequency": (N_BINS, 1),
        "time-frequency": (N_BINS, 5),
    }
    idx = torch.randint(0, len(lam_all), shape[mode])
    lam = leaf(lam_all[idx])
    kw = dict(n_fft=N_FFT, window=window, normalization=normalization)
    assert gradcheck(lambda x, lam, t: ad.dstft(x, lam, positions=t, **kw), x, lam, t)


@pytest.mark.parametrize("window", ["gaussian", "hamming"])
def test_gradcheck_truncated_window_hop(window):
    # t_n = n * 3.3: the fractional parts stay >= 0.05 away from those of lam / 2 = 3.15
    x = signal(LENGTH)
    hop = leaf(torch.tensor(3.3, dtype=torch.float64))
    assert gradcheck(lambda h: ad.dstft(x, 6.3, n_fft=N_FFT, hop_length=h, window=window), hop)


# --- every learnable element gets a useful gradient ---------------------------------------


@pytest.mark.parametrize("window", ("hann", "blackman", "gaussian", "hamming"))
def test_every_parameter_element_gets_finite_nonzero_gradient(window):
    n_fft, length = 32, 120
    x = leaf(signal(length))
    t = leaf(uniform(10, 10.0, length - 10.0))
    lam = leaf(uniform((n_fft // 2 + 1, 10), 4.0, n_fft))
    loss = ad.spectrogram(x, lam, power=1.0, n_fft=n_fft, positions=t, window=window).sum()
    loss.backward()
    for name, p in [("lam", lam), ("positions", t)]:
        assert torch.isfinite(p.grad).all(), name
        assert (p.grad != 0).all(), name


@pytest.mark.parametrize("lam_shape", [(), (1, 9), (17, 1)])
def test_hop_and_constant_lam_get_finite_nonzero_gradient(lam_shape):
    n_fft, length = 32, 90
    x = leaf(signal(2, length))
    hop = leaf(torch.tensor(10.7, dtype=torch.float64))
    lam = leaf(uniform(lam_shape, 22.0, n_fft))  # every sample inside some support
    loss = ad.spectrogram(x, lam, power=1.0, n_fft=n_fft, hop_length=hop).sum()
    loss.backward()
    for name, p in [("x", x), ("lam", lam), ("hop", hop)]:
        assert torch.isfinite(p.grad).all(), name
        assert (p.grad != 0).all(), name


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_gradients_finite_at_ends_of_valid_range(normalization):
    # lam = n_fft exactly, lam tiny (windows that cover 0 or 1 sample), frames off the signal
    x = leaf(signal(LENGTH))
    lam = leaf(torch.tensor([[N_FFT, 0.3, 0.05, 1.0, N_FFT, 2.0]], dtype=torch.float64))
    t = leaf(torch.tensor([0.0, 5.5, 9.0, 12.0, -30.0, LENGTH + 1.0], dtype=torch.float64))
    out = ad.dstft(x, lam, n_fft=N_FFT, positions=t, normalization=normalization)
    torch.view_as_real(out).sum().backward()
    for name, p in [("x", x), ("lam", lam), ("positions", t)]:
        assert torch.isfinite(p.grad).all(), name


def test_float32_gradients_follow_float64():
    x64 = leaf(signal(LENGTH))
    lam64 = leaf(uniform((N_BINS, 7), 3.0, N_FFT))
    t64 = leaf(uniform(7, 0.0, LENGTH))
    x32, lam32, t32 = (leaf(a.detach().float()) for a in (x64, lam64, t64))
    for x, lam, t in [(x64, lam64, t64), (x32, lam32, t32)]:
        ad.spectrogram(x, lam, n_fft=N_FFT, positions=t).sum().backward()
    for p64, p32 in [(x64, x32), (lam64, lam32), (t64, t32)]:
        assert p32.grad.dtype == torch.float32
        scale = p64.grad.abs().max()
        assert (p32.grad.double() - p64.grad).abs().max() <= 1e-4 * scale


@pytest.mark.parametrize("hop", [5, 7, N_FFT, N_FFT + 5])
@pytest.mark.parametrize("center", [True, False])
def test_gradcheck_integer_hops_that_do_not_divide_n_fft(hop, center):
    """The overlap-add of the integer grid pads frames to whole hops; hops > N leave gaps."""
    x = leaf(signal(2, 3 * N_FFT))
    lam = leaf(uniform((1, n_frames(3 * N_FFT, N_FFT, hop, center)), 3.0, N_FFT))
    fn = lambda x, lam: ad.dstft(x, lam, n_fft=N_FFT, hop_length=hop, center=center)  # noqa: E731
    assert gradcheck(fn, x, lam)


@pytest.mark.parametrize("mode", ["time", "time-frequency"])
def test_create_graph_gives_first_order_gradients_and_refuses_a_second(mode):
    """Under create_graph the analytic gradients are those of a plain backward; differentiating
    them again (not supported) fails loudly instead of returning wrong second derivatives."""
    x = torch.randn(LENGTH, dtype=torch.float64)
    lam = torch.full(WIN_SHAPES[mode], 7.3, dtype=torch.float64, requires_grad=True)
    loss = ad.dstft(x, lam, n_fft=N_FFT, hop_length=HOP).abs().sum()
    (plain,) = torch.autograd.grad(loss, lam, retain_graph=True)
    (graphed,) = torch.autograd.grad(loss, lam, create_graph=True)
    torch.testing.assert_close(graphed, plain, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="adastft computes first-order gradients only"):
        graphed.sum().backward()


@pytest.mark.parametrize("mode", list(WIN_SHAPES))
@pytest.mark.parametrize(
    "second_order",
    [
        # A loss linear in S: the incoming gradient is a constant, without a graph of its own.
        lambda x, lam: torch.autograd.functional.hessian(
            lambda lam: ad.dstft(x, lam, n_fft=N_FFT, hop_length=HOP).real.sum(), lam
        ),
        # A gradient penalty w.r.t. the signal, the window lengths trained through it.
        lambda x, lam: torch.autograd.grad(
            torch.autograd.grad(
                ad.dstft(x, lam, n_fft=N_FFT, hop_length=HOP).real.sum(), x, create_graph=True
            )[0]
            .square()
            .sum(),
            lam,
        ),
        # The derivative of a gradient w.r.t. its own parameter, a nonlinear loss.
        lambda x, lam: torch.autograd.grad(
            torch.autograd.grad(
                ad.dstft(x, lam, n_fft=N_FFT, hop_length=HOP).abs().sum(), lam, create_graph=True
            )[0].sum(),
            lam,
        ),
    ],
    ids=["hessian of a linear loss", "gradient penalty", "second derivative"],
)
def test_every_second_order_derivative_fails_loudly(mode, second_order):
    """Never a silent 0: each of these once returned zeros or a wrong gradient."""
    x = torch.randn(LENGTH, dtype=torch.float64, requires_grad=True)
    lam = torch.full(WIN_SHAPES[mode], 7.3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="adastft computes first-order gradients only"):
        second_order(x, lam)


# --- against autograd through the operations ----------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("window", ["hann", "gaussian"])
@pytest.mark.parametrize("placement", ["integer hop", "positions"])
@pytest.mark.parametrize("mode", list(WIN_SHAPES))
def test_analytic_gradients_equal_autograd_through_the_operations(
    mode, placement, window, normalization
):
    # adastft._reference.dstft_autograd materialises every term and lets autograd
    # differentiate it: the baseline of benchmarks/bench_gradients.py
    from adastft._reference import dstft_autograd

    x0 = signal(2, LENGTH)
    n_t = N_FRAMES if placement == "positions" else n_frames(LENGTH, N_FFT, 3, True)
    shape = WIN_SHAPES[mode]
    if shape and shape[-1] > 1:  # per-frame lengths: the frames of this placement
        shape = (*shape[:-1], n_t)
    lam0 = uniform(shape, 4.0, N_FFT)
    t0 = uniform(N_FRAMES, 0.0, LENGTH, seed=2)
    results = []
    for fn in (ad.dstft, dstft_autograd):
        x, lam, t = leaf(x0), leaf(lam0), leaf(t0)
        where = {"positions": t} if placement == "positions" else {"hop_length": 3}
        spec = fn(x, lam, n_fft=N_FFT, window=window, normalization=normalization, **where)
        inputs = (x, lam, t) if placement == "positions" else (x, lam)
        results.append((spec, *torch.autograd.grad(spec.abs().sum(), inputs)))
    for analytic, autograd in zip(*results, strict=True):
        torch.testing.assert_close(analytic, autograd, rtol=1e-10, atol=1e-12)
