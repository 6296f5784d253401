"""Spectrogram layers: power, decibels, the mel front end as a torchaudio drop-in, freezing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import adastft as ad
from adastft.mel import melscale_fbanks
from adastft.transforms import MelSpectrogram, Spectrogram, amplitude_to_db, power_spectrum


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"power": 0.0}, ValueError, "power must satisfy power > 0; got 0.0"),
        ({"amin": -1.0}, ValueError, "amin must satisfy amin > 0"),
        ({"top_db": 0.0}, ValueError, "top_db must satisfy top_db > 0"),
        ({"db": "yes"}, TypeError, "db must be a bool"),
        ({"win_mode": "space"}, ValueError, "win_mode must be one of"),
    ],
)
def test_spectrogram_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        Spectrogram(64, 40.0, 16, **kwargs)


def test_mel_errors():
    with pytest.raises(ValueError, match="sample_rate must satisfy sample_rate > 0"):
        MelSpectrogram(0)
    with pytest.raises(ValueError, match="f_max must satisfy"):
        MelSpectrogram(8000, n_fft=256, f_max=5000.0)


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0, 3.0])
def test_power_spectrum(power):
    spec = torch.randn(5, 7, dtype=torch.complex128)
    torch.testing.assert_close(power_spectrum(spec, power), spec.abs() ** power)


def test_power_two_has_a_finite_gradient_at_zero():
    spec = torch.zeros(3, dtype=torch.complex128, requires_grad=True)
    power_spectrum(spec).sum().backward()
    assert torch.equal(spec.grad, torch.zeros_like(spec.grad))


def test_amplitude_to_db_against_numpy():
    spec = torch.rand(2, 9, 11, dtype=torch.float64) ** 6
    for power in (1.0, 2.0):
        expected = (20.0 / power) * np.log10(np.maximum(spec.numpy(), 1e-10))
        torch.testing.assert_close(amplitude_to_db(spec, power), torch.from_numpy(expected))
        floored = amplitude_to_db(spec, power, top_db=30.0)
        top = expected.max(axis=(-2, -1), keepdims=True)
        torch.testing.assert_close(floored, torch.from_numpy(np.maximum(expected, top - 30.0)))


def _torchaudio_amplitude_to_db(x, multiplier, amin, top_db):
    """torchaudio.functional.amplitude_to_DB with ref = 1 (db_multiplier 0), written out: the
    top_db floor is relative to the maximum over the last three dimensions, per item of the
    dimensions before them (over the whole tensor for a 2-D or 3-D input)."""
    x_db = multiplier * torch.log10(torch.clamp(x, min=amin))
    shape = x_db.size()
    packed_channels = shape[-3] if x_db.dim() > 2 else 1
    x_db = x_db.reshape(-1, packed_channels, shape[-2], shape[-1])
    x_db = torch.max(x_db, (x_db.amax(dim=(-3, -2, -1)) - top_db).view(-1, 1, 1, 1))
    return x_db.reshape(shape)


def test_amplitude_to_db_floors_each_spectrogram_unlike_torchaudio():
    spec = torch.tensor([[[1.0, 1e-8]], [[1e-4, 1e-6]]], dtype=torch.float64)
    ours = amplitude_to_db(spec, top_db=30.0)
    torch.testing.assert_close(ours, torch.tensor([[[0.0, -30.0]], [[-40.0, -60.0]]]).double())
    theirs = _torchaudio_amplitude_to_db(spec, 10.0, 1e-10, 30.0)  # one maximum for both
    torch.testing.assert_close(theirs, torch.tensor([[[0.0, -30.0]], [[-30.0, -30.0]]]).double())
    # the same where dimension -3 has size 1, or there is none
    batch = torch.rand(3, 1, 6, 5, dtype=torch.float64) ** 8
    batch = batch * torch.tensor([1.0, 1e-3, 1e-6], dtype=torch.float64).view(3, 1, 1, 1)
    for x in (batch, batch[0, 0]):
        for power in (1.0, 2.0):
            torch.testing.assert_close(
                amplitude_to_db(x, power, top_db=20.0),
                _torchaudio_amplitude_to_db(x, 20.0 / power, 1e-10, 20.0),
            )


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (([[1.0, 2.0]],), {}, TypeError, r"spec must be a torch.Tensor; got list"),
        ((torch.ones(2, 3, dtype=torch.int64),), {}, TypeError, r"spec must be a real .*int64"),
        ((torch.ones(2, 3, dtype=torch.complex64),), {}, TypeError, r"spec must be a real"),
        ((torch.ones(2, 3), 0.0), {}, ValueError, r"power must satisfy power > 0; got 0.0"),
        ((torch.ones(2, 3), -2.0), {}, ValueError, r"power must satisfy power > 0; got -2.0"),
        ((torch.ones(2, 3), "2"), {}, TypeError, r"power must be a real number .*got '2'"),
        ((torch.ones(2, 3),), {"amin": 0.0}, ValueError, r"amin must satisfy amin >= 1.175e-38"),
        ((torch.ones(2, 3),), {"amin": 1e-40}, ValueError, r"normal number .*float32; got 1e-40"),
        ((torch.ones(2, 3),), {"amin": float("nan")}, ValueError, r"amin must satisfy .*nan"),
        ((torch.ones(2, 3),), {"top_db": -10.0}, ValueError, r"top_db must satisfy top_db > 0"),
        ((torch.ones(2, 3),), {"top_db": 0.0}, ValueError, r"top_db > 0; got 0.0"),
        ((torch.ones(2, 3),), {"top_db": "80"}, TypeError, r"top_db must be a real number"),
        ((torch.ones(5),), {"top_db": 80.0}, ValueError, r"\(\.\.\., F, T\) .*got \(5,\)"),
        ((torch.ones(3, 0),), {"top_db": 80.0}, ValueError, r"F >= 1 and T >= 1 .*got \(3, 0\)"),
    ],
)
def test_amplitude_to_db_checks_its_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        amplitude_to_db(*args, **kwargs)


def test_amplitude_to_db_without_top_db_is_elementwise_for_any_shape():
    x = torch.tensor([1e-3, 10.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(amplitude_to_db(x), torch.tensor([-30.0, 10.0, -100.0]).double())
    assert amplitude_to_db(torch.ones(0)).shape == (0,)
    # float64 takes an amin below float32's range
    floor = amplitude_to_db(torch.zeros(1, dtype=torch.float64), 1.0, amin=1e-300)
    assert floor.item() == pytest.approx(-6000.0)


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_spectrogram_is_a_power_of_the_dstft(power):
    x = torch.randn(2, 500, dtype=torch.float64)
    layer = Spectrogram(128, 90.0, 32, power=power, win_mode="time", signal_length=500).double()
    expected = ad.dstft(x, layer.dstft.win_length.detach(), n_fft=128, hop_length=32).abs()
    torch.testing.assert_close(layer(x), expected**power)
    db = Spectrogram(128, 90.0, 32, power=power, db=True, top_db=60.0).double()
    torch.testing.assert_close(db(x), amplitude_to_db(expected**power, power, top_db=60.0))


def _torchaudio_mel(x, sample_rate, n_fft, win_length, hop_length, n_mels, norm, mel_scale):
    """torchaudio's MelSpectrogram written out: torch.stft with a periodic hann window of
    ``win_length`` samples, reflect padding, |.|^2, then the mel filterbank."""
    spec = (
        torch.stft(
            x,
            n_fft,
            hop_length,
            win_length,
            torch.hann_window(win_length, periodic=True, dtype=x.dtype),
            center=True,
            pad_mode="reflect",
            return_complex=True,
        ).abs()
        ** 2
    )
    fb = melscale_fbanks(
        n_fft // 2 + 1,
        0.0,
        float(sample_rate // 2),
        n_mels,
        sample_rate,
        norm,
        mel_scale,
    ).to(x.dtype)  # torchaudio builds its filterbank in float32
    return (spec.transpose(-1, -2) @ fb).transpose(-1, -2)


@pytest.mark.filterwarnings("ignore:mel filters")  # torchaudio's defaults leave empty filters
@pytest.mark.parametrize(
    ("sample_rate", "n_fft", "win_length", "n_mels", "norm", "mel_scale"),
    [(16000, 400, None, 128, None, "htk"), (8000, 256, 200, 40, "slaney", "slaney")],
)
def test_mel_spectrogram_matches_torchaudio_semantics(
    sample_rate, n_fft, win_length, n_mels, norm, mel_scale
):
    x = torch.randn(2, sample_rate // 4, dtype=torch.float64)
    layer = MelSpectrogram(
        sample_rate, n_fft, win_length, n_mels=n_mels, norm=norm, mel_scale=mel_scale
    ).double()
    win = n_fft if win_length is None else win_length
    expected = _torchaudio_mel(x, sample_rate, n_fft, win, win // 2, n_mels, norm, mel_scale)
    torch.testing.assert_close(layer(x), expected, rtol=1e-9, atol=1e-9)
    assert layer(x).shape == (2, n_mels, 1 + x.shape[-1] // (win // 2))


def test_mel_window_length_is_learnable():
    layer = MelSpectrogram(8000, n_fft=256, win_length=128, n_mels=32)
    assert [n for n, _ in layer.named_parameters()] == ["spectrogram.dstft.win.log_ratio"]
    layer(torch.randn(4000)).log1p().mean().backward()
    grad = layer.dstft.win.log_ratio.grad
    assert grad is not None and math.isfinite(grad.item()) and grad.item() != 0


@pytest.mark.parametrize("kind", ["spectrogram", "mel"])
def test_freeze_keeps_values_and_drops_parameters(kind):
    if kind == "mel":
        layer = MelSpectrogram(8000, n_fft=256, win_length=150.5, n_mels=32).double()
    else:
        layer = Spectrogram(128, 90.0, 32, db=True, win_mode="time", signal_length=800).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1)
    frozen = layer.freeze()
    assert list(frozen.parameters()) == []
    assert len(list(layer.parameters())) == 1  # the original is untouched
    x = torch.randn(800, dtype=torch.float64)
    torch.testing.assert_close(frozen(x), layer(x), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(
    ("spec", "power", "error", "match"),
    [
        (
            torch.ones(3),
            2.0,
            TypeError,
            r"spec must be a complex tensor .*; got dtype torch.float32",
        ),
        ([1j], 2.0, TypeError, r"spec must be a complex tensor .*; got list"),
        (torch.ones(3, dtype=torch.complex64), 0.0, ValueError, r"power must satisfy power > 0"),
        (torch.ones(3, dtype=torch.complex64), -1.0, ValueError, r"power must satisfy power > 0"),
        (torch.ones(3, dtype=torch.complex64), "2", TypeError, r"power must be a real number"),
    ],
)
def test_power_spectrum_checks_its_arguments(spec, power, error, match):
    with pytest.raises(error, match=match):
        power_spectrum(spec, power)


@pytest.mark.parametrize("power", [0.5, 1, 1.0, 2, 2.0, 3.0])
def test_power_spectrum_is_the_power_of_the_magnitude(power):
    spec = torch.randn(4, 5, dtype=torch.complex128)
    got = power_spectrum(spec, power)
    torch.testing.assert_close(got, spec.abs() ** power, rtol=1e-14, atol=0)
