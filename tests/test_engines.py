"""The two engines of the direct path (frequency-varying window lengths): "eager" chunked
matrix products and "compiled" fused sums. Both must equal the brute-force reference, give the
same gradients, and "auto" must pick and fall back as documented."""

import pytest
import torch
from reference import assert_close_to_reference, dstft_reference

import adastft as ad
from adastft import _dstft, _fused, _kernels

N_FFT = 32


@pytest.fixture
def fused_calls(monkeypatch):
    """The list of ``(name, compiled code ran)`` of every fused call made during the test."""
    results = []
    call = _fused.call

    def spy(name, *args):
        out = call(name, *args)
        results.append((name, out is not None))
        return out

    monkeypatch.setattr(_fused, "call", spy)
    return results


def _case(batch_lam: bool, batch: int = 2, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 150, dtype=torch.float64, generator=gen)
    positions = torch.sort(torch.rand(9, dtype=torch.float64, generator=gen) * 160 - 5).values
    shape = (batch, N_FFT // 2 + 1, 9) if batch_lam else (N_FFT // 2 + 1, 9)
    lam = 2.0 + 20.0 * torch.rand(shape, dtype=torch.float64, generator=gen)
    return x, lam, positions


def _grads(engine: str, x, lam, positions, normalization):
    x, lam, positions = (t.clone().requires_grad_() for t in (x, lam, positions))
    spec = ad.dstft(
        x, lam, n_fft=N_FFT, positions=positions, normalization=normalization, engine=engine
    )
    weight = torch.randn(spec.shape, dtype=spec.dtype, generator=torch.Generator().manual_seed(3))
    loss = (spec * weight.conj()).real.sum()
    return (spec.detach(), *torch.autograd.grad(loss, (x, lam, positions)))


@pytest.mark.compile
@pytest.mark.skipif(not _fused.available(), reason="torch.compile is not supported here")
@pytest.mark.parametrize(
    "batch_lam, batch, normalization",
    [(False, 2, "amplitude"), (True, 2, None), (False, _kernels.FUSED_MAX_BATCH, "energy")],
    ids=["fused-sums", "fused-sums-per-example", "compiled-kernels-and-matmuls"],
)
def test_compiled_equals_reference_and_eager(batch_lam, batch, normalization):
    x, lam, positions = _case(batch_lam, batch)
    compiled = _grads("compiled", x, lam, positions, normalization)
    eager = _grads("eager", x, lam, positions, normalization)
    assert not _fused._BROKEN, _fused._BROKEN
    expected = dstft_reference(
        x.numpy(),
        lam.numpy(),
        n_fft=N_FFT,
        positions=positions.numpy(),
        normalization=normalization,
    )
    assert_close_to_reference(compiled[0], expected)
    for got, want in zip(compiled, eager, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_auto_uses_eager_below_threshold_and_compiled_above(monkeypatch):
    x, lam, positions = _case(False)
    args = dict(
        n_fft=N_FFT,
        hop_length=None,
        positions=positions,
        window="hann",
        center=True,
        pad_mode="constant",
        normalization="amplitude",
        max_working_memory=None,
    )
    assert _dstft._prepare(x, lam, **args)[3].engine == "eager"
    monkeypatch.setattr(_dstft, "AUTO_COMPILE_SIZE", 1)
    monkeypatch.setattr(_fused, "available", lambda: True)
    assert _dstft._prepare(x, lam, **args)[3].engine == "compiled"
    monkeypatch.setattr(_fused, "available", lambda: False)
    assert _dstft._prepare(x, lam, **args)[3].engine == "eager"


def test_auto_keeps_one_shared_kernel_eager(monkeypatch):
    monkeypatch.setattr(_dstft, "AUTO_COMPILE_SIZE", 1)
    monkeypatch.setattr(_fused, "available", lambda: True)
    x = torch.randn(2, 400, dtype=torch.float64)
    lam = torch.linspace(10.0, 30.0, N_FFT // 2 + 1, dtype=torch.float64)[:, None]  # (F, 1)
    options = dict(n_fft=N_FFT, hop_length=16)
    assert _dstft._prepare(x, lam, **options)[3].engine == "eager"
    fractional = dict(n_fft=N_FFT, hop_length=16.5)  # one kernel per frame: compiled
    assert _dstft._prepare(x, lam, **fractional)[3].engine == "compiled"


def test_compile_failure_warns_once_and_falls_back(monkeypatch):
    x, lam, positions = _case(False)
    expected = ad.dstft(x, lam, n_fft=N_FFT, positions=positions, engine="eager")

    def broken(name):
        raise RuntimeError("no compiler")

    monkeypatch.setattr(_fused, "_BROKEN", [])
    monkeypatch.setattr(_fused, "_compiled", broken)
    with pytest.warns(RuntimeWarning, match="torch.compile failed"):
        got = ad.dstft(x, lam, n_fft=N_FFT, positions=positions, engine="compiled")
    torch.testing.assert_close(got, expected)
    assert _fused._BROKEN and not _fused.available()


def test_support_skipping_matches_reference_for_short_windows():
    """Window lengths << n_fft: only the samples they reach are summed."""
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(300, dtype=torch.float64, generator=gen)
    lam = 1.5 + 6.0 * torch.rand(65, 20, dtype=torch.float64, generator=gen)
    got = ad.dstft(x, lam, n_fft=128, hop_length=15.5, engine="eager")
    expected = dstft_reference(x.numpy(), lam.numpy(), n_fft=128, hop_length=15.5)
    assert_close_to_reference(got, expected)


def test_engine_rejects_unknown_value():
    with pytest.raises(ValueError, match="engine"):
        ad.dstft(torch.randn(100), 10.0, n_fft=16, engine="fast")


def test_fused_sums_never_run_uncompiled(monkeypatch):
    """Past its recompile limit torch.compile runs the plain function, which here would
    materialise (B, F, T, N) tensors: the sums refuse, and the eager path is used instead."""
    monkeypatch.setattr(_fused, "_compiled", lambda name: getattr(_fused, name))
    monkeypatch.setattr(_fused, "_BROKEN", [])
    x, lam, positions = _case(False)
    assert _fused.call("forward_sums", None, x, lam, None, None, None) is None
    expected = ad.dstft(x, lam, n_fft=N_FFT, positions=positions, engine="eager")
    got = ad.dstft(x, lam, n_fft=N_FFT, positions=positions, engine="compiled")
    torch.testing.assert_close(got, expected)
    assert not _fused._BROKEN


@pytest.mark.compile
@pytest.mark.skipif(not _fused.available(), reason="torch.compile is not supported here")
def test_compiled_engine_runs_compiled_code(fused_calls):
    """The compiled engine must not quietly fall back to eager: every fused call returns."""
    results = fused_calls
    x, lam, positions = _case(False)
    lam.requires_grad_()
    ad.dstft(x, lam, n_fft=N_FFT, positions=positions, engine="compiled").abs().sum().backward()
    names = {name for name, _ in results}
    assert names == {"forward_sums", "parameter_sums"}, results  # x needs no gradient
    assert all(ok for _, ok in results), results


@pytest.mark.parametrize("grid", ["integer hop", "fractional positions"])
def test_gradcheck_direct_path_on_a_cut_support(grid):
    """Windows far shorter than n_fft: frames are cut to the support, and the gradient with
    respect to x adds them back at the right offset."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 90, dtype=torch.float64, generator=gen).requires_grad_()
    kw = (
        {"hop_length": 9}
        if grid == "integer hop"
        else {"positions": torch.linspace(-3.3, 93.7, 11, dtype=torch.float64).requires_grad_()}
    )
    n_t = 11
    lam = 2.0 + 5.0 * torch.rand(N_FFT // 2 + 1, n_t, dtype=torch.float64, generator=gen)
    lam.requires_grad_()
    inputs = (x, lam, *kw.values()) if grid != "integer hop" else (x, lam)

    def fn(x, lam, *positions):
        options = {"positions": positions[0]} if positions else {"hop_length": 9}
        return torch.view_as_real(ad.dstft(x, lam, n_fft=N_FFT, engine="eager", **options))

    assert torch.autograd.gradcheck(fn, inputs, fast_mode=True)


# The FFT path (window lengths that do not depend on frequency): engine="compiled" fuses the
# window evaluation with the frames' products, forward and backward.


def _fft_case(kind: str, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 200, dtype=torch.float64, generator=gen)
    if kind == "time, integer hop":
        return x, 3.0 + 25.0 * torch.rand(1, 13, dtype=torch.float64, generator=gen), 16, None
    if kind == "per example":
        return x, 3.0 + 25.0 * torch.rand(3, 1, 13, dtype=torch.float64, generator=gen), 16, None
    positions = torch.sort(torch.rand(11, dtype=torch.float64, generator=gen) * 210 - 5).values
    return x, torch.full((1, 1), 17.3, dtype=torch.float64), None, positions


def _fft_grads(engine, x, lam, hop, positions, normalization):
    leaves = [x.clone().requires_grad_(), lam.clone().requires_grad_()]
    if positions is not None:
        leaves.append(positions.clone().requires_grad_())
    kw = {"hop_length": hop} if positions is None else {"positions": leaves[2]}
    spec = ad.dstft(
        leaves[0], leaves[1], n_fft=N_FFT, normalization=normalization, engine=engine, **kw
    )
    weight = torch.randn(spec.shape, dtype=spec.dtype, generator=torch.Generator().manual_seed(4))
    loss = (spec * weight.conj()).real.sum()
    return (spec.detach(), *torch.autograd.grad(loss, leaves))


FFT_KINDS = ["time, integer hop", "per example", "constant, fractional positions"]


@pytest.mark.compile
@pytest.mark.skipif(not _fused.available(), reason="torch.compile is not supported here")
@pytest.mark.parametrize(
    "kind, normalization", list(zip(FFT_KINDS, ["energy", None, "amplitude"], strict=True))
)
def test_compiled_fft_path_equals_reference_and_eager(kind, normalization, fused_calls):
    results = fused_calls
    x, lam, hop, positions = _fft_case(kind)
    compiled = _fft_grads("compiled", x, lam, hop, positions, normalization)
    # the compiled code ran, forward and backward (no silent fallback to eager)
    assert results == [("windowed_frames", True), ("window_gradients", True)], results
    eager = _fft_grads("eager", x, lam, hop, positions, normalization)
    assert len(results) == 2  # the eager engine calls no fused code
    options = {"hop_length": hop} if positions is None else {"positions": positions.numpy()}
    expected = dstft_reference(
        x.numpy(), lam.numpy(), n_fft=N_FFT, normalization=normalization, **options
    )
    assert_close_to_reference(compiled[0], expected)
    for got, want in zip(compiled, eager, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.compile
@pytest.mark.skipif(not _fused.available(), reason="torch.compile is not supported here")
def test_gradcheck_compiled_fft_path():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 60, dtype=torch.float64, generator=gen).requires_grad_()
    lam = (4.0 + 20.0 * torch.rand(1, 9, dtype=torch.float64, generator=gen)).requires_grad_()
    positions = torch.linspace(-2.7, 61.1, 9, dtype=torch.float64).requires_grad_()

    def fn(x, lam, positions):
        return ad.dstft(x, lam, n_fft=N_FFT, positions=positions, engine="compiled")

    assert torch.autograd.gradcheck(fn, (x, lam, positions))


def test_compiled_fft_path_keeps_a_constant_window_on_the_grid_eager(monkeypatch):
    """N window values: a compiled call would cost more than it saves."""
    monkeypatch.setattr(_fused, "call", lambda name, *args: pytest.fail(f"{name} was called"))
    x = torch.randn(2, 200, dtype=torch.float64)
    lam = torch.full((1, 1), 20.0, dtype=torch.float64, requires_grad=True)
    ad.dstft(x, lam, n_fft=N_FFT, hop_length=16, engine="compiled").abs().sum().backward()
    assert lam.grad is not None


@pytest.mark.parametrize("failure", ["no compiler", "past the recompile limit"])
def test_compiled_fft_path_falls_back_to_eager(failure, monkeypatch):
    # per-example windows are not kept by the forward: the backward tries the fused code too
    x, lam, hop, positions = _fft_case("per example")
    expected = _fft_grads("eager", x, lam, hop, positions, "amplitude")
    monkeypatch.setattr(_fused, "_BROKEN", [])
    if failure == "no compiler":

        def broken(name):
            raise RuntimeError("no compiler")

        monkeypatch.setattr(_fused, "_compiled", broken)
        with pytest.warns(RuntimeWarning, match="torch.compile failed"):
            got = _fft_grads("compiled", x, lam, hop, positions, "amplitude")
    else:  # torch.compile runs the plain function: the fused code refuses, eager takes over
        monkeypatch.setattr(_fused, "_compiled", lambda name: getattr(_fused, name))
        got = _fft_grads("compiled", x, lam, hop, positions, "amplitude")
        assert not _fused._BROKEN
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
