"""NeuNorm in hardware: the NeuNorm layer before a convolution as that convolution's NeuNorm
term (docs/fixed-point.md), from training through the quantizer, the IR, the golden model and
the torch integer mode. The RTL side is checked by the random convolutional networks of
test_rtl_random.py and the fuzzer, which draw NeuNorm terms."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from snnhw import SnnhwError, golden, ir
from snnhw.nn.layers import NeuNorm
from snnhw.nn.network import SpikingNetwork, architecture
from snnhw.quant import quantize

from netgen import random_conv_network, without_neunorm


def _one_by_one(aux_weight: int, frac_bits: int, aux_leak_mult: int) -> ir.Network:
    """Two input channels at one position, a 1x1 convolution (weights 3 and 2) to one
    neuron without leak or bias that never fires, with a NeuNorm term of one tap."""
    layer = ir.ConvLIFLayer(
        name="conv0", in_shape=(2, 1, 1), out_channels=1, kernel_size=1, stride=1, padding=0,
        weight_bits=4, membrane_bits=8, accumulator_bits=9, threshold=127, leak_mult=256,
        leak_frac_bits=8, reset="zero", scale=1.0, weight=np.array([[[[3]], [[2]]]]),
        bias=np.array([0]), aux_weight=np.array([[[aux_weight]]]), aux_frac_bits=frac_bits,
        aux_leak_mult=aux_leak_mult, aux_bits=8)
    return ir.Network(name="nn", timesteps=4, input_features=2, layers=(layer,), encoding={},
                      dataset={}, source={}).validate()


def test_neunorm_term_by_hand():
    """a = d + 5 per event, pre = acc - (a >> 1), d = trunc(a / 2):
    t0 both channels: acc 5, a 10, u 0, d 5; t1 channel 0: acc 3, a 10, u -2, d 5;
    t2 none: acc -2, a 5, u -4, d 2 (2.5 toward zero); t3 none: a 2, u -5."""
    net = _one_by_one(5, 1, 128)
    events = np.array([[1, 1], [1, 0], [0, 0], [0, 0]], dtype=np.uint8)[:, None]
    assert golden.membranes(net.layers[0], events)[:, 0, 0].tolist() == [0, -2, -4, -5]
    # a negative state shifts toward minus infinity: a = -3 -> a >> 1 = -2, so u = 3 + 2;
    # then d = trunc(-1.5) = -1, a = -1 - 3 = -4 -> -2: u = 5 + 3 + 2
    net = _one_by_one(-3, 1, 128)
    events = np.array([[1, 0], [1, 0]], dtype=np.uint8)[:, None]
    assert golden.membranes(net.layers[0], events)[:, 0, 0].tolist() == [5, 10]
    # the state restarts with every sample
    twice = np.concatenate([events, events], axis=1)
    assert golden.membranes(net.layers[0], twice)[:, 1, 0].tolist() == [5, 10]


def test_neunorm_ir_round_trip_and_schema(tmp_path):
    net, _ = random_conv_network(1)
    assert all(layer.neunorm for layer in net.layers if layer.kind == "conv2d")
    ir.save(net, tmp_path)
    back = ir.load(tmp_path)
    for a, b in zip(back.layers, net.layers):
        assert a.metadata() == b.metadata()
        if b.neunorm:
            np.testing.assert_array_equal(a.aux_weight, b.aux_weight)
    conv = net.layers[0]
    rest = net.layers[1:]
    bound = conv.aux_bound(net.timesteps)
    cases = [
        (dict(aux_bits=ir.signed_bits(-bound, bound) - 1), r"aux_bits=.*reaches \|a\| = "),
        (dict(aux_weight=conv.aux_weight[..., None]), "aux_weight shape"),
        (dict(aux_weight=conv.aux_weight.astype(float)), "aux_weight holds float64"),
        (dict(aux_frac_bits=17), "aux_frac_bits=17; allowed 0..16"),
        (dict(aux_leak_mult=(1 << conv.leak_frac_bits) + 1), "aux_leak_mult=.*tau2"),
        (dict(input_bits=2, accumulator_bits=64), "NeuNorm takes spike events"),
    ]
    for change, message in cases:
        with pytest.raises(ir.IRError, match=message):
            replace(net, layers=(replace(conv, **change),) + rest).validate()
    with pytest.raises(ir.IRError, match="without an aux_weight"):
        replace(net, layers=(replace(without_neunorm(conv), aux_bits=4),) + rest).validate()


def _neunorm_model(alpha: str) -> tuple[dict, torch.nn.Module]:
    """A float conv -> LIF -> NeuNorm -> conv -> LIF -> AP2 -> dense -> LIF net on 2 x 12 x 12
    spikes, alpha drawn in [0.2, 1.5], and its model.pt payload."""
    torch.manual_seed(0)
    arch = architecture([2, 12, 12], ["4C3", "6C3", "AP2"], 5, tau=0.75, threshold=1.0,
                        reset="subtract", neunorm=True, neunorm_alpha=alpha)
    net = SpikingNetwork(arch).double().eval()
    for module in net.layers:
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.uniform_(module.weight, -0.25, 0.3)
        if isinstance(module, NeuNorm):
            with torch.no_grad():
                module.alpha.uniform_(0.2, 1.5)
    model = {"name": "neunorm", "architecture": arch, "state_dict": net.state_dict(),
             "encoding": {"type": "bernoulli", "timesteps": 8}, "dataset": {}}
    return model, net


def test_quantized_neunorm_net_follows_the_float_net():
    """The float net against its 16-bit IR: every layer's spikes agree but for the few a
    rounding moves, and the NeuNorm term changes the spikes it should (without it, more than
    1 % of the second layer's spikes differ)."""
    model, float_net = _neunorm_model("channel")
    irnet = quantize(model, weight_bits=16, leak_frac_bits=16)
    assert [layer.neunorm for layer in irnet.layers] == [False, True, False]
    rng = np.random.default_rng(1)
    spikes = (rng.random((8, 40, 2 * 12 * 12)) < 0.3).astype(np.uint8)
    record: list[torch.Tensor] = []
    with torch.no_grad():
        float_net(torch.from_numpy(spikes.astype(np.float64)), record=record)
    trace = golden.run(irnet, spikes)
    for layer, float_spikes, fixed in zip(irnet.layers, record, trace.spikes):
        float_spikes = float_spikes.reshape(fixed.shape).numpy()
        assert float_spikes.mean() > 0.004, layer.name
        assert (float_spikes == fixed).mean() > 0.999, layer.name
    second = irnet.layers[1]
    plain = golden.run_layer(without_neunorm(second), trace.spikes[0])[0]
    assert (plain != trace.spikes[1]).mean() > 0.01


def test_per_neuron_alpha_is_refused_with_the_recipe_key():
    model, _ = _neunorm_model("neuron")
    with pytest.raises(SnnhwError, match=r"layer 3 \(neunorm\) has alpha of shape \(4, 12, 12\) "
                                         r"that varies.*neunorm_alpha = \"channel\""):
        quantize(model, weight_bits=8)
    # a per-neuron alpha that is the same at every position is a per-channel one
    state = dict(model["state_dict"])
    state["layers.3.alpha"] = torch.arange(4.0)[:, None, None].expand(4, 12, 12).double()
    assert quantize(dict(model, state_dict=state), weight_bits=8).layers[1].neunorm
    # and an all-zero alpha is no term at all
    state["layers.3.alpha"] = torch.zeros(4, 12, 12, dtype=torch.float64)
    assert not quantize(dict(model, state_dict=state), weight_bits=8).layers[1].neunorm
