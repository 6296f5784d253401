"""Export of frozen layers to ONNX, checked numerically with onnxruntime against eager."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

import adastft as ad

pytestmark = pytest.mark.slow  # onnx export: seconds per model

LENGTH = 2000


def _layer(kind: str) -> torch.nn.Module:
    if kind == "constant":  # frozen to a torch.stft call
        return ad.Spectrogram(256, 200.0, 64)
    if kind == "time-varying":  # frozen to precomputed (T, N) windows and positions
        return ad.Spectrogram(
            256, 200.0, 64, win_mode="time", hop_mode="time", signal_length=LENGTH
        )
    return ad.MelSpectrogram(8000, n_fft=256, n_mels=40)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
@pytest.mark.parametrize("kind", ["constant", "time-varying", "mel"])
def test_frozen_layer_exports_to_onnx(kind, tmp_path):
    layer = _layer(kind)
    with torch.no_grad():
        for p in layer.parameters():  # a trained layer: parameters away from their start
            p.add_(0.1 * torch.randn_like(p))
    frozen = layer.freeze().eval()
    x = torch.randn(2, LENGTH)
    path = tmp_path / "layer.onnx"
    torch.onnx.export(frozen, (x,), str(path), dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(str(path))
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    expected = layer(x).detach().numpy()
    assert out.shape == expected.shape
    assert np.abs(out - expected).max() <= 1e-5 * np.abs(expected).max()
