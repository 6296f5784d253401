"""Pitfalls of earlier DSTFT implementations that adastft must not repeat: a frame grid shifted
by rounding of a learnable hop, a window length that cannot reach n_fft, float64 failures in the
time-varying modes, a phase that is not torch.stft's, and out-of-range window lengths that are
silently accepted."""

import pytest
import torch

import adastft as ad
from adastft import _dstft


def _starts(x, hop):
    options = dict(
        n_fft=1024,
        hop_length=hop,
        positions=None,
        window="hann",
        center=True,
        pad_mode="constant",
        normalization=None,
        max_working_memory=None,
    )
    return _dstft._prepare(x, 1024.0, **options)[2]


def test_integer_valued_tensor_hops_give_the_exact_integer_grid():
    """Every integer hop 1..512, given as a float32 tensor, puts frame n exactly at n * hop."""
    x = torch.zeros(8192)
    for hop in range(1, 513):
        starts = _starts(x, torch.tensor(float(hop)))
        expected = torch.arange(starts.shape[-1], dtype=torch.float32) * hop
        assert torch.equal(starts[0], expected), hop


@pytest.mark.parametrize("hop", [64, 100, 256])
def test_tensor_hop_equals_torch_stft(hop):
    x = torch.randn(2, 4000)
    got = ad.dstft(x, 1024.0, n_fft=1024, hop_length=torch.tensor(float(hop)), normalization=None)
    window = torch.hann_window(1024)
    expected = torch.stft(x, 1024, hop, window=window, pad_mode="constant", return_complex=True)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-4)


def test_window_length_may_equal_n_fft_and_gets_a_gradient():
    lam = torch.tensor(512.0, dtype=torch.float64, requires_grad=True)
    x = torch.randn(3000, dtype=torch.float64)
    ad.spectrogram(x, lam, n_fft=512, hop_length=128, power=1.0).sum().backward()
    assert torch.isfinite(lam.grad) and lam.grad != 0


@pytest.mark.parametrize("shape", [(1, 25), (33, 1), (33, 25)])
def test_varying_modes_work_in_float64(shape):
    x = torch.randn(2, 400, dtype=torch.float64)
    lam = torch.full(shape, 40.0, dtype=torch.float64, requires_grad=True)
    spec = ad.dstft(x, lam, n_fft=64, hop_length=16.5)
    assert spec.dtype == torch.complex128 and spec.shape == (2, 33, 25)
    spec.abs().sum().backward()
    assert lam.grad.dtype == torch.float64


def test_out_of_range_window_lengths_are_rejected_not_clipped():
    lam = torch.tensor([[100.0, 600.0]])
    with pytest.raises(ValueError, match=r"win_length must satisfy 0 < win_length <= n_fft"):
        ad.dstft(torch.randn(300), lam, n_fft=512, hop_length=300)
