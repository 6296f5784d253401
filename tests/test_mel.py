"""Mel scales and the triangular filterbank of ``adastft.mel`` (torchaudio's semantics).

Every argument error, known values of both mel scales and their round trip, then the filterbank
against a plain loop over the triangle definition (both scales, both norms, float32 and float64,
an odd sample rate), the peaks, areas and partition of unity of the triangles, and the warning
for empty filters.
"""

from __future__ import annotations

import functools
import math
import re
import warnings

import numpy as np
import pytest
import torch

from adastft.mel import hz_to_mel, mel_to_hz, melscale_fbanks

# --- reference: scalar mel scales and a direct loop over the triangle definition ----------


def ref_hz_to_mel(f: float, scale: str) -> float:
    if scale == "htk":
        return 2595.0 * math.log10(1.0 + f / 700.0)
    return 3.0 * f / 200.0 if f < 1000.0 else 15.0 + 27.0 * math.log(f / 1000.0) / math.log(6.4)


def ref_mel_to_hz(m: float, scale: str) -> float:
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return 200.0 * m / 3.0 if m < 15.0 else 1000.0 * 6.4 ** ((m - 15.0) / 27.0)


def ref_corners(f_min, f_max, n_mels, scale):
    lo, hi = ref_hz_to_mel(f_min, scale), ref_hz_to_mel(f_max, scale)
    step = (hi - lo) / (n_mels + 1)
    return [ref_mel_to_hz(lo + j * step, scale) for j in range(n_mels + 2)]


@functools.cache
def ref_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm, scale):
    """``fb[k, m] = max(0, min(rise, fall))`` at ``linspace(0, sample_rate // 2, n_freqs)``."""
    f = ref_corners(f_min, f_max, n_mels, scale)
    bins = np.linspace(0.0, sample_rate // 2, n_freqs)
    fb = np.zeros((n_freqs, n_mels))
    for m in range(n_mels):
        for k, nu in enumerate(bins):
            rise = (nu - f[m]) / (f[m + 1] - f[m])
            fall = (f[m + 2] - nu) / (f[m + 2] - f[m + 1])
            fb[k, m] = max(0.0, min(rise, fall))
        if norm == "slaney":
            fb[:, m] *= 2.0 / (f[m + 2] - f[m])
    return fb


def fbanks(*args, **kwargs):
    """``melscale_fbanks`` with warnings turned into errors (no case below has empty filters)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return melscale_fbanks(*args, **kwargs)


GOOD = dict(n_freqs=201, f_min=0.0, f_max=8000.0, n_mels=40, sample_rate=16000)

# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        (dict(n_freqs=0), ValueError, "n_freqs must satisfy n_freqs >= 1; got 0"),
        (dict(n_freqs=200.0), TypeError, "n_freqs must be an int .*; got 200.0"),
        (dict(n_freqs=True), TypeError, "n_freqs must be an int .*; got True"),
        (dict(n_mels=0), ValueError, "n_mels must satisfy n_mels >= 1; got 0"),
        (dict(n_mels=40.5), TypeError, "n_mels must be an int .*; got 40.5"),
        (dict(sample_rate=0), ValueError, "sample_rate must satisfy sample_rate > 0; got 0"),
        (dict(sample_rate=-8000), ValueError, "sample_rate must satisfy sample_rate > 0"),
        (dict(sample_rate=math.nan), ValueError, "sample_rate must satisfy sample_rate > 0"),
        (dict(sample_rate="16000"), TypeError, "sample_rate must be a real number"),
        (dict(f_min=-1.0), ValueError, re.escape("f_min must satisfy 0 <= f_min < f_max; got -1")),
        (dict(f_min=None), TypeError, "f_min must be a real number"),
        (
            dict(f_max=8000.5),
            ValueError,
            re.escape("f_max must satisfy f_min < f_max <= sample_rate / 2 (=8000); got 8000.5"),
        ),
        (dict(f_max=math.inf), ValueError, "f_max must satisfy f_min < f_max"),
        (dict(f_min=300.0, f_max=300.0), ValueError, "f_min must be < f_max; got f_min=300.0"),
        (dict(f_min=500.0, f_max=100.0), ValueError, "f_min must be < f_max; got f_min=500.0"),
        (dict(norm="area"), ValueError, re.escape("norm must be one of (None, 'slaney'); got")),
        (dict(mel_scale="mel"), ValueError, "mel_scale must be one of .*; got 'mel'"),
        (dict(dtype=torch.int64), TypeError, "dtype must be a real floating-point torch.dtype"),
        (dict(dtype=torch.complex64), TypeError, "dtype must be a real floating-point"),
        (dict(dtype="float32"), TypeError, "dtype must be a real floating-point .*'float32'"),
    ],
)
def test_melscale_fbanks_rejects(changes, error, match):
    with pytest.raises(error, match=match):
        melscale_fbanks(**{**GOOD, **changes})


@pytest.mark.parametrize("fn", [hz_to_mel, mel_to_hz])
def test_scales_reject_non_tensors_and_unknown_scales(fn):
    name = "freq" if fn is hz_to_mel else "mels"
    with pytest.raises(TypeError, match=f"{name} must be a torch.Tensor; got list"):
        fn([1000.0])
    with pytest.raises(TypeError, match=f"{name} must be a real floating-point tensor"):
        fn(torch.tensor([1000]))
    with pytest.raises(ValueError, match="mel_scale must be one of .*; got 'bark'"):
        fn(torch.tensor([1000.0]), "bark")


# --- mel scales -------------------------------------------------------------------------


def test_known_mel_values():
    f = torch.tensor([0.0, 500.0, 1000.0, 6400.0], dtype=torch.float64)
    htk = hz_to_mel(f, "htk")
    assert htk[0] == 0.0
    assert htk[2].item() == pytest.approx(2595.0 * math.log10(1.0 + 1000.0 / 700.0), rel=1e-15)
    slaney = hz_to_mel(f, "slaney")  # 3 f / 200 below 1000 Hz; 27 mels per factor 6.4 above
    torch.testing.assert_close(slaney, torch.tensor([0.0, 7.5, 15.0, 42.0], dtype=torch.float64))
    assert hz_to_mel(torch.tensor(1000.0), "slaney").item() == 15.0  # float32, 0-d


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_scales_match_scalar_reference(rng, scale):
    f = np.concatenate([rng.uniform(0.0, 24000.0, 200), [0.0, 999.999, 1000.0, 1000.001]])
    got = hz_to_mel(torch.from_numpy(f), scale).numpy()
    np.testing.assert_allclose(got, [ref_hz_to_mel(v, scale) for v in f], rtol=1e-14, atol=1e-12)
    m = got
    back = mel_to_hz(torch.from_numpy(m), scale).numpy()
    np.testing.assert_allclose(back, [ref_mel_to_hz(v, scale) for v in m], rtol=1e-13, atol=1e-9)


@pytest.mark.parametrize(
    ("dtype", "tol"),
    [(torch.float64, dict(rtol=1e-12, atol=1e-9)), (torch.float32, dict(rtol=1e-5, atol=1e-4))],
)
@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_mel_round_trip(scale, dtype, tol):
    # float32 atol: 10^(m / 2595) - 1 loses digits near m = 0 (htk)
    f = torch.cat([torch.linspace(0.0, 24000.0, 1001), torch.tensor([1000.0])]).to(dtype)
    torch.testing.assert_close(mel_to_hz(hz_to_mel(f, scale), scale), f, **tol)
    m = torch.linspace(0.0, 60.0 if scale == "slaney" else 4000.0, 777, dtype=dtype)
    torch.testing.assert_close(hz_to_mel(mel_to_hz(m, scale), scale), m, **tol)


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_scales_are_increasing_and_keep_dtype_and_shape(scale):
    f = torch.linspace(0.0, 20000.0, 4000).reshape(2, 2000)
    m = hz_to_mel(f, scale)
    assert m.shape == f.shape and m.dtype == torch.float32
    assert bool((m.flatten().diff() > 0).all())


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_scales_gradcheck(scale):
    # points on both sides of the Slaney break; the unused branch must not poison the gradient
    f = torch.tensor([0.0, 10.0, 500.0, 999.0, 1001.0, 5000.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: hz_to_mel(x, scale), (f[1:].requires_grad_(),))
    m = hz_to_mel(f, scale).detach()
    assert torch.autograd.gradcheck(lambda x: mel_to_hz(x, scale), (m.requires_grad_(),))
    f0 = f[:1].clone().requires_grad_()
    hz_to_mel(f0, scale).sum().backward()
    expected = 3.0 / 200.0 if scale == "slaney" else 2595.0 / (700.0 * math.log(10.0))
    assert f0.grad.item() == pytest.approx(expected, rel=1e-12)


# --- filterbank against the reference ---------------------------------------------------

CASES = [  # (n_fft, n_mels, f_min, f_max, sample_rate)
    (400, 40, 0.0, 8000.0, 16000),
    (512, 64, 20.0, 7600.0, 16000),
    (1024, 80, 0.0, 11025.0, 22050),
    (256, 23, 300.0, 2000.0, 8000),  # crosses the Slaney break, f_max below Nyquist
    (200, 10, 50.0, 4000.5, 8001),  # odd rate: bins end at 8001 // 2 = 4000, not 4000.5
]


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-11), (torch.float32, 1e-4)])
@pytest.mark.parametrize("norm", [None, "slaney"])
@pytest.mark.parametrize("scale", ["htk", "slaney"])
@pytest.mark.parametrize(("n_fft", "n_mels", "f_min", "f_max", "sample_rate"), CASES)
def test_fbanks_match_reference(n_fft, n_mels, f_min, f_max, sample_rate, scale, norm, dtype, tol):
    n_freqs = n_fft // 2 + 1
    got = fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm, scale, dtype=dtype)
    assert got.shape == (n_freqs, n_mels)
    assert got.dtype == dtype
    ref = ref_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm, scale)
    np.testing.assert_allclose(got.double().numpy(), ref, rtol=0.0, atol=tol * ref.max())


def test_bins_end_at_integer_half_sample_rate():
    # slaney is linear below 1000 Hz: corners 0, 2.25, 4.5 Hz; bins 0, 2, 4 Hz (9 // 2 = 4)
    fb = fbanks(3, 0.0, 4.5, 1, 9, mel_scale="slaney", dtype=torch.float64)
    torch.testing.assert_close(fb[:, 0], torch.tensor([0.0, 2 / 2.25, 0.5 / 2.25]).double())


def test_defaults_are_htk_without_norm_in_float32():
    fb = fbanks(**GOOD)
    ref = ref_fbanks(201, 0.0, 8000.0, 40, 16000, None, "htk")
    assert fb.dtype == torch.float32
    np.testing.assert_allclose(fb.numpy(), ref, rtol=0.0, atol=1e-5)


# --- properties of the triangles ----------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_triangles_peak_at_one_on_their_centre_bins(dtype):
    # slaney is linear below 1000 Hz: corners 0, 100, ..., 1000 Hz; bins every 50 Hz
    fb = fbanks(21, 0.0, 1000.0, 9, 2000, mel_scale="slaney", dtype=dtype)
    centres = 2 * torch.arange(1, 10)
    torch.testing.assert_close(fb[centres, torch.arange(9)], torch.ones(9, dtype=dtype))
    assert fb.argmax(dim=0).tolist() == centres.tolist()
    torch.testing.assert_close(fb.amax(dim=0), torch.ones(9, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_htk_triangle_peaks_at_one_on_its_centre_bin(dtype):
    # mel(f_max) = 2 mel(1000) puts the single centre at 1000 Hz, bin 2 of 0, 500, ..., 4000
    f_max = 700.0 * ((1.0 + 1000.0 / 700.0) ** 2 - 1.0)
    fb = fbanks(9, 0.0, f_max, 1, 8000, dtype=dtype)
    assert fb.argmax().item() == 2
    assert fb[2, 0].item() == pytest.approx(1.0, abs=1e-6 if dtype == torch.float32 else 1e-12)


def test_slaney_norm_gives_unit_area_triangles():
    fb = fbanks(21, 0.0, 1000.0, 9, 2000, norm="slaney", mel_scale="slaney", dtype=torch.float64)
    # trapezoid rule is exact: corners lie on the 50 Hz bins
    torch.testing.assert_close(fb.sum(dim=0) * 50.0, torch.ones(9, dtype=torch.float64))
    torch.testing.assert_close(fb.amax(dim=0), torch.full((9,), 0.01, dtype=torch.float64))


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_triangles_are_a_partition_of_unity_between_the_first_and_last_centres(scale):
    n_freqs, f_min, f_max, n_mels, rate = 513, 40.0, 7000.0, 30, 16000
    fb = fbanks(n_freqs, f_min, f_max, n_mels, rate, mel_scale=scale, dtype=torch.float64)
    f = ref_corners(f_min, f_max, n_mels, scale)
    bins = np.linspace(0.0, rate // 2, n_freqs)
    inside = (bins >= f[1]) & (bins <= f[n_mels])
    np.testing.assert_allclose(fb.sum(dim=1).numpy()[inside], 1.0, rtol=1e-12)
    assert bool((fb <= 1.0).all() and (fb >= 0.0).all())


def test_norm_scales_each_column_by_two_over_its_width():
    plain = fbanks(**GOOD, dtype=torch.float64)
    normed = fbanks(**GOOD, norm="slaney", dtype=torch.float64)
    f = torch.tensor(ref_corners(0.0, 8000.0, 40, "htk"), dtype=torch.float64)
    torch.testing.assert_close(normed, plain * 2.0 / (f[2:] - f[:-2]))


# --- empty filters and the smallest sizes -----------------------------------------------


def test_warns_when_a_filter_is_all_zero():
    with pytest.warns(UserWarning, match=r"mel filters \[.*\] have all-zero values: n_mels=128"):
        fb = melscale_fbanks(65, 0.0, 8000.0, 128, 16000)
    assert bool((fb.amax(dim=0) == 0).any())


def test_warning_names_the_empty_filters():
    # corners 0, 100, ..., 400 Hz on bins 0, 200, 400: filters 0 (0..200) and 2 (200..400)
    # peak between bins and still touch none at a non-zero value; filter 1 peaks on bin 200
    with pytest.warns(UserWarning, match=re.escape("mel filters [0, 2] have all-zero values")):
        fb = melscale_fbanks(3, 0.0, 400.0, 3, 800, mel_scale="slaney")
    assert fb[:, 1].tolist() == [0.0, 1.0, 0.0]


def test_single_bin_and_single_filter():
    with pytest.warns(UserWarning, match="n_freqs=1"):
        fb = melscale_fbanks(1, 0.0, 100.0, 1, 1000)
    assert fb.shape == (1, 1) and fb.item() == 0.0
    fb = fbanks(3, 0.0, 500.0, 1, 1000, mel_scale="slaney")  # corners and bins 0, 250, 500
    torch.testing.assert_close(fb[:, 0], torch.tensor([0.0, 1.0, 0.0]))


def test_no_warning_for_usual_settings():
    fbanks(n_freqs=513, f_min=0.0, f_max=8000.0, n_mels=80, sample_rate=16000)
    fbanks(n_freqs=1025, f_min=20.0, f_max=11025.0, n_mels=128, sample_rate=22050, norm="slaney")
