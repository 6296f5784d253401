"""Losses: entropies, frame kurtosis, coverage and smoothness penalties (``adastft.losses``).

Order: plain-loop numpy references, every exception, then values against the references
(shapes, batches, float32 and float64), known values, silence and exact zeros (finite values
and gradients), gradcheck, reductions, Module == function, and use with the layer.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
import torch

import adastft as ad
from adastft import losses as L

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=2e-5, atol=2e-5), torch.float64: dict(rtol=1e-11, atol=1e-11)}


def leaf(a, dtype=torch.float64):
    return torch.as_tensor(np.asarray(a), dtype=dtype).clone().requires_grad_(True)


def random_spec(rng, shape, zeros=0.2):
    """Nonnegative values with a fraction of exact zeros."""
    spec = rng.exponential(size=shape)
    spec[rng.uniform(size=shape) < zeros] = 0.0
    return spec


def assert_all_finite_grad(value, *inputs):
    value.sum().backward()
    assert torch.isfinite(value).all()
    for x in inputs:
        assert x.grad is not None and torch.isfinite(x.grad).all()


# --- numpy references, written with loops ------------------------------------------------


def ref_entropy(spec):
    spec = np.asarray(spec, dtype=np.float64)
    f, t = spec.shape[-2:]
    flat = spec.reshape(-1, f, t)
    out = np.empty(len(flat))
    for b, s in enumerate(flat):
        total = sum(s[k, n] for k in range(f) for n in range(t))
        if total == 0:
            out[b] = math.log(f * t)
            continue
        h = 0.0
        for k in range(f):
            for n in range(t):
                p = s[k, n] / total
                if p > 0:
                    h -= p * math.log(p)
        out[b] = h
    return out.reshape(spec.shape[:-2])


def ref_renyi(spec, alpha):
    spec = np.asarray(spec, dtype=np.float64)
    f, t = spec.shape[-2:]
    flat = spec.reshape(-1, f, t)
    out = np.empty(len(flat))
    for b, s in enumerate(flat):
        total = s.sum()
        if total == 0:
            out[b] = math.log(f * t)
            continue
        # log sum p^alpha = m + log sum exp(alpha log p - m), m the largest alpha log p: no
        # underflow for large alpha; exactly rounded sums: accurate near alpha = 1
        logs = [alpha * math.log(s[k, n] / total) for k in range(f) for n in range(t) if s[k, n]]
        m = max(logs)
        out[b] = (m + math.log(math.fsum(math.exp(v - m) for v in logs))) / (1 - alpha)
    return out.reshape(spec.shape[:-2])


def ref_kurtosis(spec):
    spec = np.asarray(spec, dtype=np.float64)
    f, t = spec.shape[-2:]
    flat = spec.reshape(-1, f, t)
    out = np.empty((len(flat), t))
    for b, s in enumerate(flat):
        for n in range(t):
            m2 = sum(s[k, n] ** 2 for k in range(f)) / f
            m4 = sum(s[k, n] ** 4 for k in range(f)) / f
            out[b, n] = 1.0 if m2 == 0 else m4 / m2**2
    return out.reshape(spec.shape[:-2] + (t,))


def ref_coverage(t, lam, signal_length, overlap=0.0, on_signal=True, power=1.0):
    """``t`` and ``lam`` (per frame) of shape (..., T)."""
    t, lam = np.broadcast_arrays(np.asarray(t, float), np.asarray(lam, float))
    n_t = t.shape[-1]
    flat_t, flat_lam = t.reshape(-1, n_t), lam.reshape(-1, n_t)
    end = signal_length - 1
    out = np.empty(len(flat_t))
    for b in range(len(flat_t)):
        tb, half = flat_t[b], flat_lam[b] / 2
        gaps = [tb[0] - half[0]]
        for n in range(n_t - 1):
            gaps.append(tb[n + 1] - tb[n] - (1 - overlap) * (half[n] + half[n + 1]))
        gaps.append(end - (tb[-1] + half[-1]))
        if on_signal:
            gaps += [-(tb[0] + half[0]), tb[-1] - half[-1] - end]
        out[b] = sum(max(g, 0.0) ** power for g in gaps)
    return out.reshape(t.shape[:-1])


def ref_smoothness(lam, weights, power=2.0):
    """Half the sum over every (k, n) and every offset of the weighted differences."""
    lam = np.asarray(lam, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    f, t = lam.shape[-2:]
    r_f, r_t = weights.shape[0] // 2, weights.shape[1] // 2
    flat = lam.reshape(-1, f, t)
    out = np.zeros(len(flat))
    for b, m in enumerate(flat):
        for k in range(f):
            for n in range(t):
                for i in range(-r_f, r_f + 1):
                    for j in range(-r_t, r_t + 1):
                        if (i, j) == (0, 0) or not (0 <= k + i < f and 0 <= n + j < t):
                            continue
                        d = abs(m[k, n] - m[k + i, n + j])
                        out[b] += 0.5 * weights[r_f + i, r_t + j] * d**power
    return out.reshape(lam.shape[:-2])


# --- every exception ---------------------------------------------------------------------

SPEC_FUNCTIONS = [
    ("entropy", lambda s, **kw: L.entropy(s, **kw)),
    ("renyi", lambda s, **kw: L.renyi_entropy(s, 2.0, **kw)),
    ("kurtosis", lambda s, **kw: L.kurtosis(s, **kw)),
]


@pytest.mark.parametrize(("name", "fn"), SPEC_FUNCTIONS)
def test_spec_must_be_a_real_float_tensor(name, fn):
    with pytest.raises(TypeError, match=r"spec must be a torch.Tensor .*got list"):
        fn([[1.0, 2.0]])
    with pytest.raises(TypeError, match=r"spec must be real .*complex64.*abs\(\)"):
        fn(torch.ones(3, 4, dtype=torch.complex64))
    with pytest.raises(TypeError, match=r"spec must be float32 or float64 .*torch.int64"):
        fn(torch.ones(3, 4, dtype=torch.int64))


@pytest.mark.parametrize(("name", "fn"), SPEC_FUNCTIONS)
@pytest.mark.parametrize("shape", [(5,), (), (0, 4), (4, 0), (2, 0, 3)])
def test_spec_must_have_frequency_and_time_dims(name, fn, shape):
    with pytest.raises(ValueError, match=r"spec must have shape \(\.\.\., F, T\) with F >= 1"):
        fn(torch.ones(shape))


@pytest.mark.parametrize(("name", "fn"), SPEC_FUNCTIONS)
@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf")])
def test_spec_must_be_nonnegative_and_finite(name, fn, bad):
    spec = torch.ones(2, 3, 4)
    spec[1, 2, 0] = bad
    with pytest.raises(ValueError, match=rf"spec must be nonnegative and finite .*got {bad!r}"):
        fn(spec)


@pytest.mark.parametrize(("name", "fn"), SPEC_FUNCTIONS)
def test_reduction_must_be_known_for_spectrogram_losses(name, fn):
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum', 'none'\)"):
        fn(torch.ones(3, 4), reduction="avg")


def test_reduction_must_be_known_for_penalties():
    t = torch.arange(4.0)
    with pytest.raises(ValueError, match=r"reduction must be one of .*got 'batchmean'"):
        L.coverage_penalty(t, torch.tensor(2.0), signal_length=4, reduction="batchmean")
    with pytest.raises(ValueError, match=r"reduction must be one of .*got None"):
        L.smoothness_penalty(torch.ones(3, 4), reduction=None)


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("inf"), float("nan")])
def test_alpha_must_be_positive_and_finite(alpha):
    with pytest.raises(ValueError, match=r"alpha must satisfy alpha > 0 \(finite\); got"):
        L.renyi_entropy(torch.ones(3, 4), alpha)
    with pytest.raises(ValueError, match=r"alpha must satisfy alpha > 0"):
        L.RenyiEntropy(alpha)


@pytest.mark.parametrize("alpha", ["2", True, None])
def test_alpha_must_be_a_number(alpha):
    with pytest.raises(TypeError, match=r"alpha must be a real number"):
        L.renyi_entropy(torch.ones(3, 4), alpha)


def test_coverage_positions_must_be_real_frames():
    lam = torch.tensor(4.0)
    with pytest.raises(TypeError, match=r"positions must be a torch.Tensor .*got ndarray"):
        L.coverage_penalty(np.arange(3.0), lam, signal_length=4)
    with pytest.raises(TypeError, match=r"positions must be float32 or float64 .*int64"):
        L.coverage_penalty(torch.arange(3), lam, signal_length=4)
    with pytest.raises(ValueError, match=r"positions must have shape \(\.\.\., T\) with T >= 1"):
        L.coverage_penalty(torch.tensor(1.0), lam, signal_length=4)
    with pytest.raises(ValueError, match=r"positions must have shape .*got \(2, 0\)"):
        L.coverage_penalty(torch.ones(2, 0), lam, signal_length=4)


def test_coverage_win_length_must_match_positions():
    t = torch.arange(5.0, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"win_length must have the dtype of positions"):
        L.coverage_penalty(t, torch.tensor(2.0), signal_length=5)
    with pytest.raises(TypeError, match=r"win_length must be real"):
        L.coverage_penalty(t, torch.tensor(2.0 + 0j), signal_length=5)
    with pytest.raises(ValueError, match=r"win_length must be a scalar, per-frame lengths .*"):
        L.coverage_penalty(t, torch.ones(1, 1, 5, dtype=torch.float64), signal_length=5)
    with pytest.raises(ValueError, match=r"must have T = 5 frames \(or 1\)"):
        L.coverage_penalty(t, torch.ones(4, dtype=torch.float64), signal_length=5)
    with pytest.raises(ValueError, match=r"must have T = 5 frames \(or 1\)"):
        L.coverage_penalty(t, torch.ones(3, 4, dtype=torch.float64), signal_length=5)
    with pytest.raises(ValueError, match=r"has no frequency bin \(F = 0\)"):
        L.coverage_penalty(t, torch.ones(0, 5, dtype=torch.float64), signal_length=5)
    # a "meta" tensor stands in for another device
    with pytest.raises(ValueError, match=r"win_length must be on the device of positions \(cpu\)"):
        L.coverage_penalty(t, torch.ones(5, dtype=torch.float64, device="meta"), signal_length=5)
    with pytest.raises(ValueError, match=r"does not broadcast against positions of shape"):
        L.coverage_penalty(
            torch.zeros(2, 5), torch.ones(3, 5), signal_length=5
        )  # per frame, batch 3 vs 2


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_coverage_values_must_be_finite(bad):
    t = torch.arange(5.0)
    with pytest.raises(ValueError, match=rf"positions must be finite; got {bad!r}"):
        L.coverage_penalty(torch.tensor([0.0, bad, 2.0]), torch.tensor(2.0), signal_length=5)
    with pytest.raises(ValueError, match=rf"win_length must be positive and finite; got {bad!r}"):
        L.coverage_penalty(t, torch.tensor([2.0, 2.0, bad, 2.0, 2.0]), signal_length=5)


@pytest.mark.parametrize("bad", [0.0, -3.0])
def test_coverage_win_length_must_be_positive(bad):
    with pytest.raises(ValueError, match=rf"win_length must be positive and finite; got {bad!r}"):
        L.coverage_penalty(torch.arange(5.0), torch.tensor([[4.0] * 5, [bad] * 5]), signal_length=5)


@pytest.mark.parametrize("bad", [float("nan"), float("-inf")])
def test_smoothness_win_length_must_be_finite(bad):
    lam = torch.ones(3, 4)
    lam[2, 1] = bad
    with pytest.raises(ValueError, match=rf"win_length must be finite; got {bad!r}"):
        L.smoothness_penalty(lam)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(signal_length=0), ValueError, r"signal_length must satisfy an int >= 1; got 0"),
        (dict(signal_length=5.0), TypeError, r"signal_length must be an int .*got 5.0"),
        (dict(signal_length=5, overlap=1.0), ValueError, r"overlap must satisfy 0 <= overlap"),
        (dict(signal_length=5, overlap=-0.1), ValueError, r"overlap must satisfy .*got -0.1"),
        (dict(signal_length=5, on_signal=1), TypeError, r"on_signal must be a bool; got 1"),
        (dict(signal_length=5, power=0.5), ValueError, r"power must satisfy power >= 1"),
    ],
)
def test_coverage_options_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        L.coverage_penalty(torch.arange(5.0), torch.tensor(2.0), **kwargs)
    with pytest.raises(error, match=match):
        L.CoveragePenalty(**kwargs)


@pytest.mark.parametrize(
    ("win_length", "error", "match"),
    [
        (
            torch.ones(5),
            ValueError,
            r"win_length must be a map \(\.\.\., F, T\) .*got shape \(5,\)",
        ),
        (torch.tensor(2.0), ValueError, r"at least two dimensions .*got shape \(\)"),
        (torch.ones(2, 3, dtype=torch.int32), TypeError, r"win_length must be float32 or float64"),
        ("lam", TypeError, r"win_length must be a torch.Tensor .*got str"),
    ],
)
def test_smoothness_win_length_must_be_a_real_map(win_length, error, match):
    with pytest.raises(error, match=match):
        L.smoothness_penalty(win_length)


@pytest.mark.parametrize(
    ("neighbourhood", "error", "match"),
    [
        (0, ValueError, r"r_f >= 0, r_t >= 0 and r_f \+ r_t >= 1; got 0"),
        ((0, 0), ValueError, r"r_f \+ r_t >= 1; got \(0, 0\)"),
        ((-1, 2), ValueError, r"neighbourhood radii must satisfy .*got \(-1, 2\)"),
        (1.5, TypeError, r"neighbourhood must be an int r, a pair .*got 1.5"),
        (True, TypeError, r"neighbourhood must be an int r, .*got True"),
        ((1, 2, 3), TypeError, r"neighbourhood must be .*got \(1, 2, 3\)"),
        (torch.ones(2, 3), ValueError, r"weights must have shape .*odd sizes.*got shape \(2, 3\)"),
        (torch.ones(1, 1), ValueError, r"at least one neighbour; got shape \(1, 1\)"),
        (torch.ones(3), ValueError, r"weights must have shape .*got shape \(3,\)"),
        (torch.tensor([[1.0, 0.0, -1.0]]), ValueError, r"nonnegative and finite; got -1.0"),
        (torch.tensor([[float("nan"), 0.0, 1.0]]), ValueError, r"nonnegative and finite; got nan"),
        (torch.ones(3, 3, dtype=torch.int64), TypeError, r"neighbourhood must be float32"),
    ],
)
def test_smoothness_neighbourhood_is_checked(neighbourhood, error, match):
    with pytest.raises(error, match=match):
        L.smoothness_penalty(torch.ones(3, 4), neighbourhood=neighbourhood)
    with pytest.raises(error, match=match):
        L.SmoothnessPenalty(neighbourhood=neighbourhood)


def test_smoothness_power_is_checked():
    with pytest.raises(ValueError, match=r"power must satisfy power >= 1 \(finite\); got 0.5"):
        L.smoothness_penalty(torch.ones(3, 4), power=0.5)
    with pytest.raises(TypeError, match=r"power must be a real number .*got '2'"):
        L.SmoothnessPenalty(power="2")


@pytest.mark.parametrize("module", [L.Entropy, L.Kurtosis, L.SmoothnessPenalty])
def test_modules_check_reduction(module):
    with pytest.raises(ValueError, match=r"reduction must be one of"):
        module(reduction="avg")


# --- values against the numpy references ---------------------------------------------------

SHAPES = [(1, 1), (5, 7), (3, 6, 4), (2, 3, 9, 5)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_entropy_matches_reference(rng, shape, dtype):
    spec = random_spec(rng, shape)
    got = L.entropy(torch.as_tensor(spec, dtype=dtype), reduction="none")
    assert got.shape == shape[:-2] and got.dtype == dtype
    np.testing.assert_allclose(got.double().numpy(), ref_entropy(spec), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.9, 0.99, 1.01, 1.2, 2.0, 3.0, 7.5])
def test_renyi_entropy_matches_reference(rng, shape, dtype, alpha):
    spec = random_spec(rng, shape)
    got = L.renyi_entropy(torch.as_tensor(spec, dtype=dtype), alpha, reduction="none")
    assert got.shape == shape[:-2] and got.dtype == dtype
    np.testing.assert_allclose(got.double().numpy(), ref_renyi(spec, alpha), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_kurtosis_matches_reference(rng, shape, dtype):
    spec = random_spec(rng, shape, zeros=0.3)
    spec[..., 0] = 0.0  # a silent frame in every spectrogram
    got = L.kurtosis(torch.as_tensor(spec, dtype=dtype), reduction="none")
    assert got.shape == shape[:-2] + shape[-1:] and got.dtype == dtype
    np.testing.assert_allclose(got.double().numpy(), ref_kurtosis(spec), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("overlap", [0.0, 0.3])
@pytest.mark.parametrize("on_signal", [True, False])
@pytest.mark.parametrize("power", [1.0, 1.5, 2.0])
def test_coverage_matches_reference_per_frame(rng, dtype, overlap, on_signal, power):
    # jittered grids with gaps, overlaps and frames past either end
    t = np.cumsum(rng.uniform(2.0, 14.0, size=(2, 3, 8)), axis=-1) - 12.0
    lam = rng.uniform(3.0, 16.0, size=(2, 3, 8))
    got = L.coverage_penalty(
        torch.as_tensor(t, dtype=dtype),
        torch.as_tensor(lam, dtype=dtype),
        signal_length=50,
        overlap=overlap,
        on_signal=on_signal,
        power=power,
        reduction="none",
    )
    expected = ref_coverage(t, lam, 50, overlap, on_signal, power)
    assert got.shape == (2, 3) and got.dtype == dtype
    assert (expected > 0).all()  # every sequence has some violation
    np.testing.assert_allclose(got.double().numpy(), expected, **TOL[dtype])


@pytest.mark.parametrize(
    ("t_shape", "lam_shape"),
    [((9,), (6, 9)), ((9,), (1, 9)), ((9,), (6, 1)), ((2, 9), (2, 6, 9)), ((2, 9), (1, 1))],
)
def test_coverage_reduces_a_map_to_its_longest_window(rng, t_shape, lam_shape):
    t = np.cumsum(rng.uniform(3.0, 12.0, size=t_shape), axis=-1)
    lam = rng.uniform(2.0, 14.0, size=lam_shape)
    got = L.coverage_penalty(torch.from_numpy(t), torch.from_numpy(lam), signal_length=70)
    longest = lam.max(axis=-2) if len(lam_shape) == len(t_shape) + 1 else lam
    expected = ref_coverage(t, longest, 70).mean()
    np.testing.assert_allclose(got.item(), expected, rtol=1e-12)


def test_coverage_single_frame_and_scalar_window():
    t = torch.tensor([5.0], dtype=torch.float64)
    for lam, expected in [(10.0, 19.0 - 10.0), (30.0, 0.0)]:  # last sample 19
        got = L.coverage_penalty(t, torch.tensor(lam, dtype=torch.float64), signal_length=20)
        np.testing.assert_allclose(got.item(), ref_coverage([5.0], [lam], 20)[()])
        assert got.item() == expected


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 6), (7, 1), (5, 8), (2, 4, 6), (2, 2, 3, 5)])
@pytest.mark.parametrize(
    "neighbourhood", [1, (0, 1), (1, 0), (2, 3), "weights (1, 2)", "weights (2, 1)"]
)
@pytest.mark.parametrize("power", [1.0, 2.0, 1.5])
def test_smoothness_matches_reference(rng, dtype, shape, neighbourhood, power):
    lam = rng.uniform(16.0, 512.0, size=shape)
    if isinstance(neighbourhood, str):
        r_f, r_t = (1, 2) if neighbourhood.endswith("(1, 2)") else (2, 1)
        weights = rng.uniform(0.0, 2.0, size=(2 * r_f + 1, 2 * r_t + 1))  # not symmetric
        arg = torch.as_tensor(weights, dtype=torch.float64)  # cast to lam's dtype inside
    else:
        r_f, r_t = (
            (neighbourhood, neighbourhood) if isinstance(neighbourhood, int) else neighbourhood
        )
        weights = np.ones((2 * r_f + 1, 2 * r_t + 1))
        arg = neighbourhood
    got = L.smoothness_penalty(
        torch.as_tensor(lam, dtype=dtype), neighbourhood=arg, power=power, reduction="none"
    )
    assert got.shape == shape[:-2] and got.dtype == dtype
    expected = ref_smoothness(lam, weights, power)
    np.testing.assert_allclose(got.double().numpy(), expected, rtol=TOL[dtype]["rtol"] * 10)


# --- known values -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("f", "t"), [(1, 1), (4, 1), (1, 6), (33, 20)])
def test_flat_spectrogram_has_entropy_log_ft_for_every_order(dtype, f, t):
    spec = torch.full((f, t), 0.37, dtype=dtype)
    expected = math.log(f * t)
    torch.testing.assert_close(L.entropy(spec).item(), expected, rtol=1e-6, atol=1e-6)
    for alpha in (0.5, 2.0, 3.0):
        torch.testing.assert_close(
            L.renyi_entropy(spec, alpha).item(), expected, rtol=1e-6, atol=1e-6
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_single_peak_has_zero_entropy(dtype):
    spec = torch.zeros(17, 11, dtype=dtype)
    spec[5, 3] = 2.5
    assert L.entropy(spec).item() == 0.0
    for alpha in (0.5, 2.0, 3.0):
        assert abs(L.renyi_entropy(spec, alpha).item()) < 1e-6


def test_entropy_of_m_equal_peaks_is_log_m():
    spec = torch.zeros(8, 8, dtype=torch.float64)
    spec[[0, 3, 5, 7, 7], [1, 1, 2, 6, 7]] = 4.0
    torch.testing.assert_close(L.entropy(spec), torch.tensor(math.log(5), dtype=torch.float64))
    torch.testing.assert_close(
        L.renyi_entropy(spec, 3.0), torch.tensor(math.log(5), dtype=torch.float64)
    )


def test_entropies_are_scale_invariant_and_ordered_in_alpha(rng):
    spec = torch.from_numpy(random_spec(rng, (3, 12, 9)))
    h = L.entropy(spec, reduction="none")
    torch.testing.assert_close(L.entropy(1e-200 * spec, reduction="none"), h)
    torch.testing.assert_close(L.entropy(1e200 * spec, reduction="none"), h)
    orders = [0.25, 0.5, 0.999999, 1.0, 1.000001, 2.0, 3.0, 10.0]
    values = torch.stack([L.renyi_entropy(spec, a, reduction="none") for a in orders])
    assert (values[1:] <= values[:-1] + 1e-12).all()  # nonincreasing in alpha
    torch.testing.assert_close(values[2], h, rtol=1e-5, atol=0)  # alpha -> 1 is Shannon
    torch.testing.assert_close(values[4], h, rtol=1e-5, atol=0)
    assert torch.equal(values[3], h)  # alpha == 1 is dispatched to entropy


RENYI_ORDERS = [1 - 1e-7, 1 + 1e-7, 1 - 1e-5, 1 + 1e-5, 1 - 1e-3, 1 + 1e-3, 0.5, 2.0, 3.0]
RENYI_ORDERS += [10.0, 100.0, 0.74, 0.76, 1.24, 1.26]  # and both sides of the form switch


def renyi_specs(rng):
    """float32 spectrograms (64, 200): ordinary, with exact zeros, a peak over a low floor,
    peaks over a steep decay, and silence (the cases of float32 cancellation near alpha = 1)."""
    ordinary = rng.uniform(size=(64, 200)) ** 4
    zeros = random_spec(rng, (64, 200), zeros=0.5)
    floor = np.full((64, 200), 0.01)
    floor[3, 4] = 1.0
    peaky = rng.uniform(size=(64, 200)) ** 8 * 1e-3
    peaky[3, 4], peaky[40, 100] = 1.0, 0.5
    specs = [ordinary, zeros, floor, peaky, np.zeros((64, 200))]
    return torch.from_numpy(np.stack(specs)).float()


@pytest.mark.parametrize("alpha", RENYI_ORDERS)
def test_renyi_float32_matches_float64_near_and_far_from_one(rng, alpha):
    spec = renyi_specs(rng)
    got = L.renyi_entropy(spec, alpha, reduction="none")
    assert got.dtype == torch.float32
    expected = L.renyi_entropy(spec.double(), alpha, reduction="none")  # the same values
    np.testing.assert_allclose(expected.numpy(), ref_renyi(spec.double().numpy(), alpha), atol=1e-7)
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=1e-5)


def test_renyi_float32_is_bounded_and_nonincreasing_in_alpha(rng):
    spec = renyi_specs(rng)
    orders = sorted(RENYI_ORDERS + [1.0])
    values = torch.stack([L.renyi_entropy(spec, a, reduction="none") for a in orders])
    bound = math.log(64 * 200)
    assert (values <= bound + 1e-5).all() and (values >= 0).all()
    assert (values[1:] <= values[:-1] + 1e-5).all()  # nonincreasing up to float32 rounding
    # |H_alpha - H_1| ~ |alpha - 1| var(log p) / 2 < 1e-5 at alpha = 1 +- 1e-7
    near_one = values[[i for i, a in enumerate(orders) if abs(a - 1) <= 1e-7]]
    torch.testing.assert_close(
        near_one, L.entropy(spec, reduction="none").expand_as(near_one), rtol=0, atol=1e-5
    )


def ref_renyi_grad(spec, alpha):
    """d H_alpha / d spec of one spectrogram with some nonzero bin, written out:
    ``alpha / (1 - alpha) (s^(alpha - 1) / sum s^alpha - 1 / sum s)``, with the slope of
    ``s^alpha`` taken as 0 at ``s = 0`` (the losses' convention)."""
    spec = np.asarray(spec, dtype=np.float64)
    safe = np.where(spec > 0, spec, 1.0)
    slope = np.where(spec > 0, safe ** (alpha - 1.0), 0.0)
    return alpha / (1.0 - alpha) * (slope / (slope * spec).sum() - 1.0 / spec.sum())


@pytest.mark.parametrize("alpha", [0.5, 0.74, 0.9, 0.999, 1.001, 1.1, 1.24, 1.3, 3.0])
def test_renyi_gradient_matches_reference_with_exact_zeros(rng, alpha):
    spec = leaf(random_spec(rng, (9, 7), zeros=0.3))
    L.renyi_entropy(spec, alpha).backward()
    np.testing.assert_allclose(
        spec.grad.numpy(), ref_renyi_grad(spec.detach().numpy(), alpha), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("alpha", [1 - 1e-6, 1 + 1e-6, 1 + 1e-3])
def test_renyi_float32_gradient_near_one_matches_float64(rng, alpha):
    spec = renyi_specs(rng)[:4].requires_grad_(True)
    L.renyi_entropy(spec, alpha, reduction="sum").backward()
    spec64 = spec.detach().double().requires_grad_(True)
    L.renyi_entropy(spec64, alpha, reduction="sum").backward()
    scale = spec64.grad.abs().amax(dim=(-2, -1), keepdim=True)
    err = (spec.grad.double() - spec64.grad).abs() / scale
    assert err.max() < 1e-6


def test_entropy_of_the_power_spectrogram_of_a_tone_is_low():
    n = torch.arange(512, dtype=torch.float64)
    tone = torch.cos(2 * math.pi * 0.125 * n)
    noise = torch.randn(512, dtype=torch.float64)
    h = [L.entropy(ad.spectrogram(x, 64.0, n_fft=64, hop_length=16)) for x in (tone, noise)]
    assert h[0] < h[1] - 1.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_kurtosis_known_frames(dtype):
    f = 16
    spec = torch.zeros(f, 5, dtype=dtype)
    spec[:, 0] = 3.0  # flat -> 1
    spec[7, 1] = 0.2  # one peak -> F
    spec[[1, 9], 2] = 5.0  # two equal peaks -> F / 2
    spec[[0, 2, 4, 6], 3] = 1e-3  # four equal peaks -> F / 4; frame 4 is silent -> 1
    got = L.kurtosis(spec, reduction="none")
    expected = torch.tensor([1.0, f, f / 2, f / 4, 1.0], dtype=dtype)
    torch.testing.assert_close(got, expected)


def test_kurtosis_of_gaussian_and_rayleigh_samples(rng):
    n = 200_000
    gauss = np.abs(rng.standard_normal((n, 1)))  # E x^4 / (E x^2)^2 = 3
    rayleigh = np.abs(rng.standard_normal((n, 1)) + 1j * rng.standard_normal((n, 1)))  # 2
    spec = torch.from_numpy(np.concatenate([gauss, rayleigh], axis=1))
    k = L.kurtosis(spec, reduction="none")
    np.testing.assert_allclose(k.numpy(), [3.0, 2.0], rtol=0.03)


def test_kurtosis_float32_large_values_do_not_overflow():
    spec = torch.tensor([[3e30, 1e30], [1e30, 1e30]], dtype=torch.float32)  # spec**4 > 3e38
    expected = ref_kurtosis(spec.double().numpy())
    np.testing.assert_allclose(L.kurtosis(spec, reduction="none").numpy(), expected, rtol=1e-6)


def test_coverage_is_zero_on_the_layers_default_grids():
    # center=True grids with windows of at least two hops cover the whole signal
    layer = ad.DSTFT(64, 32.0, 16, win_mode="time", hop_mode="time", signal_length=300)
    assert L.coverage_penalty(layer.positions, layer.win_length, signal_length=300) == 0
    layer = ad.DSTFT(64, 48.0, 24, win_mode="time-frequency", signal_length=300)
    assert L.coverage_penalty(layer.positions, layer.win_length, signal_length=300) == 0
    # center=False leaves the first n_fft / 2 - lam / 2 samples out, as torch.stft does
    layer = ad.DSTFT(64, 32.0, 16, hop_mode="constant", signal_length=304, center=False)
    got = L.coverage_penalty(layer.positions, layer.win_length, signal_length=304)
    assert got.item() == (32 - 16) + (303 - (32 + 15 * 16 + 16))


@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.75])
def test_coverage_is_zero_for_fixed_overlap_positions(rng, overlap):
    lam = torch.from_numpy(rng.uniform(8.0, 40.0, size=12))
    t, _ = ad.fixed_overlap_positions(lam, overlap=overlap, signal_length=100)
    length = int(t[-1]) + 1  # the last frame is centred on the last sample or after it
    got = L.coverage_penalty(t, lam, signal_length=length, overlap=overlap)
    assert got.item() < 1e-12
    # asking for more overlap than the grid has is penalised
    more = L.coverage_penalty(t, lam, signal_length=length, overlap=overlap + 0.1)
    assert more.item() > 0


def test_coverage_counts_the_uncovered_length():
    # supports (-5, 5), (5, 11), (14, 22), (20, 28) on [0, 29]: gaps 3 and 29 - 28 = 1
    t = torch.tensor([0.0, 8.0, 18.0, 24.0], dtype=torch.float64)
    lam = torch.tensor([10.0, 6.0, 8.0, 8.0], dtype=torch.float64)
    assert L.coverage_penalty(t, lam, signal_length=30).item() == 4.0
    assert L.coverage_penalty(t, lam, signal_length=30, power=2.0).item() == 10.0


def test_coverage_measures_length_so_touching_supports_leave_edge_samples_out():
    # supports (0, 8), (8, 16), (16, 24) on [0, 24]: nothing of the interval is uncovered, but
    # samples 0, 8, 16 and 24 are at distance lam / 2 from a centre: in no (open) support
    t = torch.tensor([4.0, 12.0, 20.0], dtype=torch.float64)
    lam = torch.tensor(8.0, dtype=torch.float64)
    assert L.coverage_penalty(t, lam, signal_length=25).item() == 0.0
    x = torch.randn(25, dtype=torch.float64)
    spec = ad.dstft(x, lam, n_fft=16, positions=t)
    with pytest.warns(UserWarning, match=r"samples \[0, 1\), \[8, 9\), \[16, 17\) and \[24, 25\)"):
        ad.idstft(spec, lam, n_fft=16, positions=t, length=25)
    # an overlap ratio asks consecutive supports to share more than a point: 2 gaps of 0.8
    assert L.coverage_penalty(t, lam, signal_length=25, overlap=0.1).item() == pytest.approx(1.6)
    # supports overlapping inside and reaching past both ends: every sample is covered
    t = torch.tensor([3.0, 10.0, 17.0, 22.0], dtype=torch.float64)
    assert L.coverage_penalty(t, lam, signal_length=25, overlap=0.1).item() == 0.0
    spec = ad.dstft(x, lam, n_fft=16, positions=t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.testing.assert_close(ad.idstft(spec, lam, n_fft=16, positions=t, length=25), x)


def test_coverage_penalises_frames_past_the_signal_only_with_on_signal():
    t = torch.tensor([-20.0, -10.0, 0.0, 10.0, 20.0, 30.0], dtype=torch.float64)  # past both ends
    lam = torch.tensor(12.0, dtype=torch.float64)
    # first support (-26, -14): 14 before sample 0; last (24, 36): 24 - 9 = 15 past L - 1 = 9
    assert L.coverage_penalty(t, lam, signal_length=10).item() == 14.0 + 15.0
    assert L.coverage_penalty(t, lam, signal_length=10, on_signal=False).item() == 0.0


def test_coverage_gradient_moves_hops_to_close_gaps():
    # a gap between frames 2 and 3 only: a longer hop 2 widens it, the end stays covered
    hops = leaf([8.0, 8.0, 14.0, 8.0])
    t = ad.positions_from_hops(hops)
    L.coverage_penalty(t, torch.tensor(10.0, dtype=torch.float64), signal_length=40).backward()
    assert hops.grad[2] > 0 and hops.grad[0] == 0 and hops.grad[3] == 0
    # the end left uncovered: every hop moves the last frame towards it
    hops = leaf([8.0, 8.0, 8.0])
    t = ad.positions_from_hops(hops)
    L.coverage_penalty(t, torch.tensor(12.0, dtype=torch.float64), signal_length=60).backward()
    assert (hops.grad < 0).all()
    # the gap closes with longer windows
    lam = leaf([10.0, 10.0, 10.0, 10.0, 10.0])
    L.coverage_penalty(
        ad.positions_from_hops(torch.full((4,), 13.0, dtype=torch.float64)), lam, signal_length=52
    ).backward()
    assert (lam.grad <= 0).all() and (lam.grad < 0).any()


def test_smoothness_is_zero_for_a_constant_map_and_known_for_a_ramp():
    assert L.smoothness_penalty(torch.full((2, 9, 13), 300.0), neighbourhood=(2, 3)).item() == 0
    f, t, c = 5, 7, 3.0
    ramp = c * torch.arange(t, dtype=torch.float64).expand(f, t)
    # time neighbours only: F rows of T - 1 pairs differing by c
    assert L.smoothness_penalty(ramp, neighbourhood=(0, 1)).item() == f * (t - 1) * c**2
    assert L.smoothness_penalty(ramp, neighbourhood=(1, 0)).item() == 0
    # 3 x 3: horizontal F (T-1) c^2, diagonal 2 (F-1)(T-1) c^2, vertical 0
    expected = (f * (t - 1) + 2 * (f - 1) * (t - 1)) * c**2
    assert L.smoothness_penalty(ramp).item() == expected


def test_smoothness_uniform_weight_tensor_equals_radii(rng):
    lam = torch.from_numpy(rng.uniform(10.0, 100.0, size=(3, 6, 8)))
    by_radii = L.smoothness_penalty(lam, neighbourhood=(1, 2), reduction="none")
    by_weights = L.smoothness_penalty(lam, neighbourhood=torch.ones(3, 5), reduction="none")
    torch.testing.assert_close(by_radii, by_weights)
    # a radius larger than the map reaches every pair
    huge = L.smoothness_penalty(lam, neighbourhood=50, reduction="none")
    np.testing.assert_allclose(huge.numpy(), ref_smoothness(lam.numpy(), np.ones((11, 15))))


def test_smoothness_of_per_frame_map_ignores_frequency_neighbours(rng):
    lam = torch.from_numpy(rng.uniform(10.0, 100.0, size=(1, 9)))
    torch.testing.assert_close(
        L.smoothness_penalty(lam, neighbourhood=(4, 1)),
        L.smoothness_penalty(lam, neighbourhood=(0, 1)),
    )


# --- silence, exact zeros, single bin: finite values and gradients ------------------------


def spec_cases(dtype):
    f, t = 9, 6
    silence = torch.zeros(f, t, dtype=dtype)
    peak = torch.zeros(f, t, dtype=dtype)
    peak[4, 2] = 1.0
    zeros = torch.rand(f, t, dtype=dtype)
    zeros[::2] = 0.0
    zeros[:, 1] = 0.0  # and a silent frame
    tiny = torch.full((f, t), 1e-30, dtype=dtype)
    tiny[0, 0] = 0.0
    return {"silence": silence, "peak": peak, "zeros": zeros, "tiny": tiny}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["silence", "peak", "zeros", "tiny"])
@pytest.mark.parametrize(
    "fn",
    [L.entropy, L.kurtosis]
    + [lambda s, a=a: L.renyi_entropy(s, a) for a in (0.5, 0.9, 1.0, 1.1, 2.0, 3.0)],
)
def test_finite_values_and_gradients_at_silence_and_zeros(dtype, case, fn):
    spec = spec_cases(dtype)[case].clone().requires_grad_(True)
    assert_all_finite_grad(fn(spec), spec)


@pytest.mark.parametrize("dtype", DTYPES)
def test_silence_is_flat_with_zero_gradient(dtype):
    f, t = 9, 6
    spec = torch.zeros(2, f, t, dtype=dtype, requires_grad=True)
    values = [
        L.entropy(spec, reduction="none"),
        L.renyi_entropy(spec, 0.5, reduction="none"),
        L.renyi_entropy(spec, 1.1, reduction="none"),
        L.renyi_entropy(spec, 3.0, reduction="none"),
    ]
    for v in values:
        torch.testing.assert_close(v, torch.full((2,), math.log(f * t), dtype=dtype))
    k = L.kurtosis(spec, reduction="none")
    torch.testing.assert_close(k, torch.ones(2, t, dtype=dtype))
    (sum(v.sum() for v in values) + k.sum()).backward()
    assert torch.equal(spec.grad, torch.zeros_like(spec))


def test_silent_example_does_not_disturb_the_others_in_a_batch(rng):
    spec = torch.from_numpy(random_spec(rng, (3, 7, 5)))
    spec[1] = 0.0
    spec.requires_grad_(True)
    L.entropy(spec, reduction="sum").backward()
    alone = torch.from_numpy(spec.detach().numpy()[[0, 2]]).requires_grad_(True)
    L.entropy(alone, reduction="sum").backward()
    torch.testing.assert_close(spec.grad[[0, 2]], alone.grad)
    assert torch.equal(spec.grad[1], torch.zeros(7, 5, dtype=torch.float64))


def test_zero_bins_get_a_finite_gradient_that_raises_the_entropy():
    spec = torch.tensor([[1.0, 0.0], [2.0, 3.0]], dtype=torch.float64, requires_grad=True)
    L.entropy(spec).backward()
    assert torch.isfinite(spec.grad).all() and spec.grad[0, 1] > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_penalties_are_finite_at_touching_supports_and_ties(dtype):
    t = torch.tensor([0.0, 10.0, 20.0, 30.0], dtype=dtype, requires_grad=True)
    lam = torch.full((3, 4), 20.0, dtype=dtype, requires_grad=True)  # touching, tied over F
    assert_all_finite_grad(L.coverage_penalty(t, lam, signal_length=31, power=1.0), t, lam)
    lam_map = torch.full((4, 5), 7.0, dtype=dtype, requires_grad=True)  # all differences 0
    for power in (1.0, 1.5, 2.0):
        lam_map.grad = None
        assert_all_finite_grad(L.smoothness_penalty(lam_map, power=power), lam_map)


# --- gradcheck ----------------------------------------------------------------------------


def test_gradcheck_entropies_and_kurtosis(rng):
    spec = leaf(rng.uniform(0.1, 2.0, size=(2, 5, 4)))
    assert torch.autograd.gradcheck(lambda s: L.entropy(s, reduction="none"), (spec,))
    for alpha in (0.5, 0.9, 1.001, 1.2, 2.0, 3.0):  # both forms (|alpha - 1| < 0.25 or not)
        assert torch.autograd.gradcheck(
            lambda s, a=alpha: L.renyi_entropy(s, a, reduction="none"), (spec,)
        )
    assert torch.autograd.gradcheck(lambda s: L.kurtosis(s, reduction="none"), (spec,))
    assert torch.autograd.gradgradcheck(lambda s: L.entropy(s, reduction="none"), (spec,))


@pytest.mark.parametrize("power", [1.0, 2.0, 1.5])
def test_gradcheck_coverage(rng, power):
    # gaps well away from 0 so every hinge is on one side of its kink
    hops = leaf([9.0, 15.0, 7.0, 16.0])
    lam = leaf(rng.uniform(9.0, 11.0, size=(3, 5)))  # map: max over F, no ties

    def fn(h, w):
        t = ad.positions_from_hops(h, start=3.0)
        return L.coverage_penalty(t, w, signal_length=70, power=power, overlap=0.2)

    assert torch.autograd.gradcheck(fn, (hops, lam))


@pytest.mark.parametrize("power", [1.0, 2.0, 1.5])
def test_gradcheck_smoothness(rng, power):
    lam = leaf(rng.uniform(10.0, 100.0, size=(2, 4, 5)))
    weights = torch.from_numpy(rng.uniform(0.0, 1.0, size=(3, 5)))
    assert torch.autograd.gradcheck(
        lambda w: L.smoothness_penalty(w, neighbourhood=weights, power=power, reduction="none"),
        (lam,),
    )


# --- reductions, Module == function ---------------------------------------------------------

CALLS = {
    "entropy": (lambda x, **kw: L.entropy(x, **kw), lambda **kw: L.Entropy(**kw)),
    "renyi": (
        lambda x, **kw: L.renyi_entropy(x, 2.5, **kw),
        lambda **kw: L.RenyiEntropy(2.5, **kw),
    ),
    "kurtosis": (lambda x, **kw: L.kurtosis(x, **kw), lambda **kw: L.Kurtosis(**kw)),
    "smoothness": (
        lambda x, **kw: L.smoothness_penalty(x, neighbourhood=(1, 2), power=1.5, **kw),
        lambda **kw: L.SmoothnessPenalty(neighbourhood=(1, 2), power=1.5, **kw),
    ),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_reductions_and_module_equals_function(rng, name):
    function, module = CALLS[name]
    x = torch.from_numpy(random_spec(rng, (2, 3, 6, 5)))
    none = function(x, reduction="none")
    torch.testing.assert_close(function(x), none.mean())
    torch.testing.assert_close(function(x, reduction="sum"), none.sum())
    for reduction in L.REDUCTIONS:
        torch.testing.assert_close(module(reduction=reduction)(x), function(x, reduction=reduction))
    assert "reduction='mean'" in repr(module())


def test_coverage_reductions_and_module_equals_function(rng):
    t = torch.from_numpy(np.cumsum(rng.uniform(4.0, 14.0, size=(4, 7)), axis=-1))
    lam = torch.from_numpy(rng.uniform(4.0, 14.0, size=(4, 3, 7)))
    kw = dict(signal_length=60, overlap=0.1, power=1.5)
    none = L.coverage_penalty(t, lam, reduction="none", **kw)
    assert none.shape == (4,)
    torch.testing.assert_close(L.coverage_penalty(t, lam, **kw), none.mean())
    torch.testing.assert_close(L.coverage_penalty(t, lam, reduction="sum", **kw), none.sum())
    for reduction in L.REDUCTIONS:
        module = L.CoveragePenalty(reduction=reduction, **kw)
        torch.testing.assert_close(
            module(t, lam), L.coverage_penalty(t, lam, reduction=reduction, **kw)
        )
    assert "signal_length=60, overlap=0.1" in repr(L.CoveragePenalty(**kw))


def test_smoothness_module_keeps_weights_in_a_buffer(rng):
    weights = torch.from_numpy(rng.uniform(0.0, 1.0, size=(3, 3)))
    module = L.SmoothnessPenalty(neighbourhood=weights)
    assert torch.equal(module.state_dict()["weights"], weights)
    lam = torch.from_numpy(rng.uniform(10.0, 100.0, size=(5, 6)))
    torch.testing.assert_close(module(lam), L.smoothness_penalty(lam, neighbourhood=weights))
    assert "weights" not in L.SmoothnessPenalty().state_dict()
    assert L.RenyiEntropy(2).alpha == 2.0


def test_float32_follows_input_dtype(rng):
    spec = torch.from_numpy(random_spec(rng, (6, 5))).float()
    for fn in (L.entropy, L.kurtosis, lambda s: L.renyi_entropy(s, 3.0), L.smoothness_penalty):
        assert fn(spec).dtype == torch.float32


# --- with the layer -------------------------------------------------------------------------


def test_losses_train_a_layer_with_finite_gradients():
    n = 400
    x = torch.zeros(n, dtype=torch.float64)
    x[100:300] = torch.sin(0.3 * torch.arange(200, dtype=torch.float64))  # silent ends
    layer = ad.DSTFT(64, 32.0, 16.0, win_mode="time", hop_mode="time", signal_length=n).double()
    mag = layer(x).abs()
    loss = (
        L.entropy(mag.square())
        - L.kurtosis(mag)
        + L.coverage_penalty(layer.positions, layer.win_length, signal_length=n)
        + 1e-3 * L.smoothness_penalty(layer.win_length.log())
    )
    loss.backward()
    grads = [p.grad for p in layer.parameters()]
    assert len(grads) == 2 and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_every_public_object_has_an_example():
    for name in L.__all__:
        obj = getattr(L, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            doc = inspect.getdoc(obj) or ""
            assert ">>>" in doc and "Shape:" in doc, name
