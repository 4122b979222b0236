"""Quantization-aware training: what it trains is exactly what snnhw build makes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnhw import golden
from snnhw.checkpoint import load_checkpoint
from snnhw.data import bernoulli_numpy, bundled_mnist
from snnhw.nn import FixedPointSpec, SpikingNetwork
from snnhw.quant import quantize
from snnhw.train import Recipe, train


@pytest.fixture(scope="module", params=[(4, None, "zero"), (6, 12, "subtract")],
                ids=["4bit-bound-width-hard", "6bit-12bit-membrane-soft"])
def qat_model(request, tmp_path_factory):
    bits, membrane_bits, reset = request.param
    path = tmp_path_factory.mktemp("qat") / "model.pt"
    recipe = Recipe(name="qat", layers=["24FC"], timesteps=5, epochs=2, reset=reset,
                    qat_bits=bits, qat_membrane_bits=membrane_bits)
    metrics = train(recipe, path, progress=False)
    return path, bits, membrane_bits, metrics


def test_qat_network_gives_exactly_the_golden_spikes_after_build(qat_model):
    path, bits, membrane_bits, metrics = qat_model
    model = load_checkpoint(path)
    assert metrics["qat"]["weight_bits"] == bits
    net = quantize(model, weight_bits=bits, membrane_bits=membrane_bits)
    data = bundled_mnist(0)
    spikes = bernoulli_numpy(data.x_test[:400], net.timesteps, 11)
    trace = golden.run(net, spikes)
    qat_net = SpikingNetwork(model["architecture"], fixed_point=FixedPointSpec(
        weight_bits=bits, membrane_bits=membrane_bits)).double().eval()
    qat_net.load_state_dict(model["state_dict"])
    record: list[torch.Tensor] = []
    with torch.no_grad():
        qat_net(torch.from_numpy(spikes).double(), record)
    for layer, (want, got) in enumerate(zip(trace.spikes, record)):
        assert np.array_equal(got.numpy(), want), f"layer {layer}: {(got.numpy() != want).sum()} spikes differ"
    assert trace.output.sum() > 0
    assert (golden.predict(trace.output) == data.y_test[:400]).mean() > 0.5


def test_qat_gradients_reach_every_weight(qat_model):
    path, bits, membrane_bits, _ = qat_model
    model = load_checkpoint(path)
    net = SpikingNetwork(model["architecture"], fixed_point=FixedPointSpec(
        weight_bits=bits, membrane_bits=membrane_bits))
    net.load_state_dict(model["state_dict"])
    x = (torch.rand(5, 16, 784) < 0.3).float()
    net(x).mean().backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
