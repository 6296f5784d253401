"""Device-agnostic code, checked without an accelerator: every path on the "meta" device.

A meta tensor has a shape, a dtype and a device but no values, and an operation between a meta
tensor and a tensor on another device raises. So a helper tensor made on the default device
(``torch.arange(n)`` without ``device=``) instead of the input's fails these tests, as it would
fail on CUDA; the CPU tests cannot see it, their inputs being on the default device. The checks
that read values (window lengths in range, finite positions, the losses' finite spectra) skip
meta tensors, which have none; the tests here check shapes, dtypes and devices, and the other
tests the values.

Not covered: ``idstft`` (its least-squares solver reads residuals to decide when to stop) and a
``hop_length`` tensor (its value sets the frame count), both of which read values by design.
"""

from __future__ import annotations

import pytest
import torch

import adastft as ad
from adastft import losses
from adastft.layers import DSTFT, HOP_MODES, WIN_MODES

META = torch.device("meta")
N, L, HOP = 64, 300, 16
F, T = N // 2 + 1, 1 + L // HOP

WIN_SHAPES = {
    "scalar": (),
    "constant": (1, 1),
    "time": (1, T),
    "frequency": (F, 1),
    "time-frequency": (F, T),
    "per-example": (2, F, T),
}


def test_a_helper_tensor_on_the_default_device_fails_on_meta():
    """The premise: mixing a meta input with a default-device tensor raises."""
    x = torch.zeros(3, device=META)
    with pytest.raises(RuntimeError):
        x + torch.arange(3.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("frames", ["integer hop", "fractional hop", "positions"])
@pytest.mark.parametrize("engine", ["auto", "eager"])
@pytest.mark.parametrize("mode", list(WIN_SHAPES))
def test_dstft_and_its_gradients_stay_on_the_input_device(mode, engine, frames, dtype):
    x = torch.zeros(2, L, dtype=dtype, device=META, requires_grad=True)
    lam = torch.zeros(WIN_SHAPES[mode], dtype=dtype, device=META, requires_grad=True)
    kwargs = {"hop_length": HOP if frames == "integer hop" else HOP + 0.25}
    if frames == "positions":
        positions = torch.zeros(2, T, dtype=dtype, device=META, requires_grad=True)
        kwargs = {"positions": positions}
    spec = ad.dstft(x, lam, n_fft=N, engine=engine, window="blackman", **kwargs)
    assert spec.device == META
    assert spec.dtype == (torch.complex64 if dtype == torch.float32 else torch.complex128)
    assert spec.shape == (2, F, T)
    spec.abs().sum().backward()
    inputs = [x, lam] + ([kwargs["positions"]] if frames == "positions" else [])
    for tensor in inputs:
        assert tensor.grad is not None
        assert (tensor.grad.device, tensor.grad.shape) == (META, tensor.shape)


@pytest.mark.parametrize(
    ("win_mode", "hop_mode"),
    [
        (w, h)
        for w in WIN_MODES
        for h in HOP_MODES
        if not (h == "overlap" and w in ("frequency", "time-frequency"))
    ],
)
def test_layer_moved_to_meta_runs_forward_and_backward(win_mode, hop_mode):
    layer = DSTFT(N, 40.0, HOP, win_mode=win_mode, hop_mode=hop_mode, signal_length=L)
    layer = layer.to(META)
    spec = layer(torch.zeros(2, L, device=META))
    assert (spec.device, spec.shape) == (META, (2, F, T))
    spec.abs().sum().backward()
    for name, p in layer.named_parameters():
        assert (p.grad.device, p.grad.shape) == (META, p.shape), name


@pytest.mark.parametrize(
    "transform",
    [ad.Spectrogram(N, 40.0, HOP, win_mode="time", signal_length=L), ad.MelSpectrogram(8000)],
    ids=["Spectrogram", "MelSpectrogram"],
)
def test_spectrogram_transforms_run_on_meta(transform):
    transform = transform.to(META)
    length = 4000 if isinstance(transform, ad.MelSpectrogram) else L
    out = transform(torch.zeros(2, length, device=META))
    assert out.device == META
    out.sum().backward()
    for p in transform.parameters():
        assert p.grad.device == META


@pytest.mark.parametrize(
    "loss",
    [
        lambda spec, lam, t: losses.entropy(spec),
        lambda spec, lam, t: losses.renyi_entropy(spec, 3.0),
        lambda spec, lam, t: losses.kurtosis(spec),
        lambda spec, lam, t: losses.coverage_penalty(t, lam[0], signal_length=L),
        lambda spec, lam, t: losses.smoothness_penalty(lam),
    ],
    ids=["entropy", "renyi_entropy", "kurtosis", "coverage_penalty", "smoothness_penalty"],
)
def test_losses_run_on_meta(loss):
    lam = torch.zeros(1, T, device=META, requires_grad=True)
    positions = torch.zeros(T, device=META)
    spec = ad.dstft(torch.zeros(L, device=META), lam, n_fft=N, hop_length=HOP).abs()
    value = loss(spec, lam, positions)
    assert (value.device, value.shape) == (META, ())
    value.backward()
    assert lam.grad.device == META


# --- on a GPU (skipped without one) ---------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _inputs(mode: str, frames: str, device, dtype=torch.float64):
    """Signal, window lengths and frame arguments, the same values on every device."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, L, generator=gen, dtype=torch.float64)
    lam = 4.0 + (N - 4.0) * torch.rand(WIN_SHAPES[mode], generator=gen, dtype=torch.float64)
    kwargs = {"hop_length": HOP if frames == "integer hop" else HOP + 0.25}
    if frames == "positions":
        kwargs = {"positions": torch.rand(2, T, generator=gen, dtype=torch.float64) * L}
    leaves = {"x": x, "win_length": lam, **kwargs}
    return {
        k: (v.to(device, dtype).requires_grad_(True) if isinstance(v, torch.Tensor) else v)
        for k, v in leaves.items()
    }


def _step(inputs: dict, **options):
    """The transform and the gradients of ``sum |S|`` w.r.t. every tensor input, on the CPU."""
    spec = ad.dstft(**inputs, n_fft=N, window="blackman", **options)
    tensors = {k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)}
    grads = torch.autograd.grad(spec.abs().sum(), list(tensors.values()))
    return spec.detach().cpu(), {k: g.cpu() for k, g in zip(tensors, grads, strict=True)}


@cuda
@pytest.mark.parametrize("engine", ["eager", "compiled"])
@pytest.mark.parametrize("frames", ["integer hop", "fractional hop", "positions"])
@pytest.mark.parametrize("mode", list(WIN_SHAPES))
def test_cuda_equals_cpu(mode, frames, engine):
    spec, grads = _step(_inputs(mode, frames, "cuda"), engine=engine)
    spec_cpu, grads_cpu = _step(_inputs(mode, frames, "cpu"), engine="eager")
    torch.testing.assert_close(spec, spec_cpu, rtol=1e-10, atol=1e-10 * spec_cpu.abs().max())
    for name, grad in grads.items():
        ref = grads_cpu[name]
        torch.testing.assert_close(grad, ref, rtol=1e-9, atol=1e-9 * ref.abs().max(), msg=name)


@cuda
@pytest.mark.parametrize("mode", ["constant", "time", "time-frequency"])
def test_cuda_float32_follows_float64(mode):
    """float32 against float64 at the same (float32-rounded) inputs."""
    inputs = _inputs(mode, "positions", "cuda", torch.float32)
    spec32, grads32 = _step(inputs)
    spec64, grads64 = _step({k: v.detach().double().requires_grad_() for k, v in inputs.items()})
    scale = spec64.abs().max()
    assert (spec32.to(torch.complex128) - spec64).abs().max() <= 1e-5 * scale
    for name, grad in grads32.items():
        ref = grads64[name]
        assert (grad.double() - ref).abs().max() <= 1e-4 * ref.abs().max(), name


@cuda
@pytest.mark.parametrize(
    ("win_mode", "hop_mode"),
    [("constant", "fixed"), ("time", "time"), ("time-frequency", "constant"), ("time", "overlap")],
)
def test_layer_step_on_cuda_never_synchronises(win_mode, hop_mode):
    """The layer's forward and backward queue work only (docs/design.md): under
    ``set_sync_debug_mode("error")`` any host synchronisation raises."""
    layer = DSTFT(N, 40.0, HOP, win_mode=win_mode, hop_mode=hop_mode, signal_length=L).cuda()
    x = torch.randn(2, L, device="cuda")
    layer(x).abs().sum().backward()  # first call: caches and compilation, outside the check
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        layer(x).abs().sum().backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
