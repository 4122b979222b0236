"""Quantization-aware training: what it trains is exactly what snnhw build makes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnhw import golden
from snnhw.checkpoint import load_checkpoint
from snnhw.data import bernoulli_numpy, bundled_mnist, encode_numpy
from snnhw.nn import FixedPointSpec, SpikingNetwork
from snnhw.nn.network import architecture
from snnhw.quant import integer_inputs, quantize
from snnhw.train import Recipe, train

CASES = {
    "stbp-4bit-bound-width-hard": (4, None, {}),
    "stbp-6bit-12bit-membrane-soft": (6, 12, {"reset": "subtract"}),
    "leak_aware-dropout-8bit": (8, None, {"method": "leak_aware", "tau": 0.95,
                                          "threshold": 1.0, "dropout": 0.1, "readout": "li",
                                          "readout_tau": 0.0, "loss": "count_ce"}),
    "hm2bp-4bit": (4, None, {"method": "hm2bp", "loss": "count", "tau": 0.9, "epochs": 4,
                             "layers": ["48FC"]}),
    "bpsta-voting-4bit": (4, None, {"method": "bpsta", "tau": 0.9, "voting": 3}),
}


_TRAINED: dict[str, tuple] = {}


def _qat_model(case: str, tmp_path_factory):
    """Train ``case`` once per test session."""
    if case not in _TRAINED:
        _TRAINED[case] = _train(case, tmp_path_factory)
    return _TRAINED[case]


def _train(case: str, tmp_path_factory):
    bits, membrane_bits, options = CASES[case]
    path = tmp_path_factory.mktemp("qat") / "model.pt"
    settings = {"layers": ["24FC"], "timesteps": 5, "epochs": 2, **options}
    recipe = Recipe(name="qat", qat_bits=bits, qat_membrane_bits=membrane_bits, **settings)
    metrics = train(recipe, path, progress=False)
    return path, bits, membrane_bits, metrics


@pytest.mark.parametrize("case", sorted(CASES))
def test_qat_network_gives_exactly_the_golden_spikes_after_build(case, tmp_path_factory):
    path, bits, membrane_bits, metrics = _qat_model(case, tmp_path_factory)
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
    assert np.abs(trace.output).sum() > 0   # spikes, or a readout's membranes
    assert net.vote_group == model["architecture"][-1].get("group", 1)
    assert (golden.predict(trace.output, net.vote_group) == data.y_test[:400]).mean() > 0.5


@pytest.mark.parametrize("case", [c for c in sorted(CASES) if c.startswith("stbp")])
def test_qat_surrogate_gradients_reach_every_weight(case, tmp_path_factory):
    """Straight-through rounding, clamp and surrogate: every weight gets a gradient. (HM2-BP,
    the leak-aware derivative and spatially adjusted BPSTA pass no error through silent
    neurons by design; tests/test_methods.py checks their backward passes.)"""
    path, bits, membrane_bits, _ = _qat_model(case, tmp_path_factory)
    model = load_checkpoint(path)
    net = SpikingNetwork(model["architecture"], fixed_point=FixedPointSpec(
        weight_bits=bits, membrane_bits=membrane_bits))
    net.load_state_dict(model["state_dict"])
    x = (torch.rand(5, 16, 784) < 0.3).float()
    net(x).mean().backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("bits, encoding", [(4, "direct"), (6, "direct"), (4, "bernoulli")])
def test_qat_forward_of_a_conv_net_is_the_golden_model(bits, encoding):
    """conv -> LIF -> avgpool -> conv -> LIF -> avgpool -> dense -> LIF, the first layer on a
    direct 8-bit input or on spikes: QAT's forward (average pools folded into the next
    weights, the direct input as integers) gives the golden model's spikes in every layer."""
    torch.manual_seed(bits)
    arch = architecture([1, 12, 12], ["4C3", "AP2", "6C5", "AP2"], 5, tau=0.75,
                        threshold=0.6, reset="subtract")
    float_net = SpikingNetwork(arch).double()
    for module in float_net.layers:
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.uniform_(module.weight, -0.2, 0.3)
    model = {"name": "qatconv", "architecture": arch, "state_dict": float_net.state_dict(),
             "encoding": {"type": encoding, "timesteps": 6, "seed": 3}, "dataset": {}}
    net = quantize(model, weight_bits=bits)
    rng = np.random.default_rng(bits)
    pixels = (rng.integers(0, 256, (30, 144)) * (rng.random((30, 144)) < 0.6)).astype(np.uint8)
    encoded = encode_numpy(pixels, net.encoding)
    trace = golden.run(net, integer_inputs(net, encoded))
    qat_net = SpikingNetwork(arch, fixed_point=FixedPointSpec(
        weight_bits=bits, input_bits=8 if encoding == "direct" else 1)).double().eval()
    qat_net.load_state_dict(model["state_dict"])
    record: list[torch.Tensor] = []
    with torch.no_grad():
        qat_net(torch.from_numpy(encoded.astype(np.float64)), record)
    for layer, (want, got) in enumerate(zip(trace.spikes, record)):
        got = got.reshape(want.shape).numpy()
        assert 0 < want.mean() < 1, f"layer {layer} is silent or saturated"
        assert np.array_equal(got, want), f"layer {layer}: {(got != want).sum()} spikes differ"


@pytest.mark.parametrize("layers, encoding", [(["4C3", "AP2"], "bernoulli"),
                                              (["4C3", "AP2"], "direct"), ([], "direct")])
def test_qat_forward_of_a_readout_is_the_golden_model(layers, encoding):
    """An LI readout under QAT (behind a pooled convolution, or alone on a direct input):
    its membranes, in units of the readout's scale, are the golden model's exactly, and the
    hidden layers' spikes too."""
    torch.manual_seed(7)
    arch = architecture([1, 12, 12] if layers else [144], layers, 5, tau=0.75, threshold=0.6,
                        readout="li", readout_tau=0.5)
    float_net = SpikingNetwork(arch).double()
    model = {"name": "qatli", "architecture": arch, "state_dict": float_net.state_dict(),
             "encoding": {"type": encoding, "timesteps": 6, "seed": 3}, "dataset": {}}
    net = quantize(model, weight_bits=6)
    assert net.layers[-1].kind == "li"
    rng = np.random.default_rng(7)
    pixels = (rng.integers(0, 256, (30, 144)) * (rng.random((30, 144)) < 0.6)).astype(np.uint8)
    encoded = encode_numpy(pixels, net.encoding)
    trace = golden.run(net, integer_inputs(net, encoded))
    qat_net = SpikingNetwork(arch, fixed_point=FixedPointSpec(
        weight_bits=6, input_bits=8 if encoding == "direct" else 1)).double().eval()
    qat_net.load_state_dict(model["state_dict"])
    record: list[torch.Tensor] = []
    with torch.no_grad():
        out = qat_net(torch.from_numpy(encoded.astype(np.float64)), record)
    membranes = (out / net.layers[-1].scale).reshape(trace.values.shape).numpy()
    assert np.array_equal(np.round(membranes), trace.values)
    assert np.abs(membranes - np.round(membranes)).max() < 1e-9
    assert len(np.unique(trace.values)) > 10
    for layer, (want, got) in enumerate(zip(trace.spikes, record)):
        assert np.array_equal(got.reshape(want.shape).numpy(), want), f"layer {layer}"
