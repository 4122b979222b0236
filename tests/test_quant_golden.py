"""Quantizer, IR, fixed-point primitives, golden model and the torch integer mode."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from snnhw import SnnhwError, golden, ir
from snnhw.checkpoint import load_checkpoint
from snnhw.data import bernoulli_numpy, bundled_mnist, encode_numpy
from snnhw.fixedpoint import (
    direct_input,
    leak,
    membrane_bits_for,
    round_half_away,
    saturate,
    signed_bits,
)
from snnhw.quant import integer_inputs, integer_torch_model, quantize

from netgen import random_conv_network, random_direct_network, random_network


def test_round_half_away_from_zero():
    assert round_half_away(np.array([2.5, -2.5, 1.49, -1.5, 0.5, -0.4])).tolist() == \
        [3, -3, 1, -2, 1, 0]


def test_leak_rounds_toward_zero_at_the_edges():
    r = np.array([-5, -1, 0, 1, 5, 127, -128])
    assert leak(r, 128, 8).tolist() == [-2, 0, 0, 0, 2, 63, -64]   # tau = 0.5
    assert leak(r, 256, 8).tolist() == r.tolist()                  # tau = 1: no leak
    assert leak(r, 0, 8).tolist() == [0] * 7                       # tau = 0: full decay
    assert leak(r, 3, 0).tolist() == (3 * r).tolist()              # F = 0: integer factor
    assert all(abs(a) <= abs(b) for a, b in zip(leak(r, 255, 8), r))


def test_saturate_clips_to_the_range():
    assert saturate(np.array([-200, -128, 0, 127, 300]), -128, 127).tolist() == \
        [-128, -128, 0, 127, 127]


def test_scale_uses_full_weight_range(small_model):
    model = load_checkpoint(small_model)
    for bits in (2, 4, 8, 16):
        net = quantize(model, weight_bits=bits)
        for layer in net.layers:
            assert np.abs(layer.weight).max() == (1 << (bits - 1)) - 1
            w_float = model["state_dict"][f"layers.{2 * int(layer.name[2:])}.weight"].numpy()
            assert np.abs(layer.weight * layer.scale - w_float).max() <= layer.scale / 2 + 1e-9


def test_membrane_width_from_worst_case_bound():
    assert membrane_bits_for(max_input=100, threshold=50, leak_mult=128, leak_frac_bits=8,
                             timesteps=10) == ir.signed_bits(-250, 250)
    assert membrane_bits_for(max_input=100, threshold=50, leak_mult=256, leak_frac_bits=8,
                             timesteps=10) == ir.signed_bits(-1050, 1050)
    assert membrane_bits_for(max_input=1 << 40, threshold=1, leak_mult=256, leak_frac_bits=8,
                             timesteps=10) == 32


def test_quantizer_errors_name_the_problem(small_model):
    model = load_checkpoint(small_model)
    with pytest.raises(SnnhwError, match="--fixed 17: weight width out of range; allowed 2..16"):
        quantize(model, weight_bits=17)
    with pytest.raises(SnnhwError, match="--fixed 1"):
        quantize(model, weight_bits=1)
    with pytest.raises(SnnhwError, match=r"threshold 0.5 is \d+ LSBs, which does not fit a 4-bit"):
        quantize(model, weight_bits=8, membrane_bits=4)
    bad = dict(model, architecture=[{"type": "neunorm"}] + model["architecture"])
    with pytest.raises(SnnhwError, match=r"layer 0 \(neunorm\) is followed by dense; the "
                                         r"hardware folds NeuNorm into the conv2d right after it"):
        quantize(bad, weight_bits=8)
    bad = dict(model, architecture=[{"type": "conv2d"}] + model["architecture"])
    with pytest.raises(SnnhwError, match=r"layer 0 \('conv2d'\) is not followed by lif"):
        quantize(bad, weight_bits=8)


def test_bias_overflow_is_rejected(small_model):
    model = load_checkpoint(small_model)
    state = dict(model["state_dict"])
    state["layers.0.bias"] = state["layers.0.bias"].clone()
    state["layers.0.bias"][3] = 1000.0
    with pytest.raises(SnnhwError, match=r"layer 0 \(fc0\): bias spans .* does not fit a 12-bit"):
        quantize(dict(model, state_dict=state), weight_bits=8, membrane_bits=12)


def test_ir_round_trip_and_schema(tmp_path):
    net, _ = random_network(3)
    ir.save(net, tmp_path)
    back = ir.load(tmp_path)
    assert [l.metadata() for l in back.layers] == [l.metadata() for l in net.layers]
    for a, b in zip(back.layers, net.layers):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.bias, b.bias)
    layer = net.layers[0]
    with pytest.raises(ir.IRError, match="weights span"):
        replace(net, layers=(replace(layer, weight=layer.weight * 0 + (1 << 20)),)
                + net.layers[1:]).validate()
    with pytest.raises(ir.IRError, match="threshold=.* does not fit"):
        replace(net, layers=(replace(layer, threshold=1 << 40),) + net.layers[1:]).validate()
    with pytest.raises(ir.IRError, match="accumulator_bits=2 can overflow"):
        replace(net, layers=(replace(layer, accumulator_bits=2),) + net.layers[1:]).validate()
    with pytest.raises(ir.IRError, match="membrane_bits=40; allowed 2..32"):
        replace(net, layers=(replace(layer, membrane_bits=40),) + net.layers[1:]).validate()


def test_golden_by_hand():
    """One neuron, weights [3], threshold 5, tau 1/2, hard reset, 4-bit membrane."""
    layer = ir.LIFLayer(name="fc0", in_features=1, out_features=1, weight_bits=4,
                        membrane_bits=4, accumulator_bits=5, threshold=5, leak_mult=1,
                        leak_frac_bits=1, reset="zero", scale=1.0,
                        weight=np.array([[3]]), bias=np.array([0]))
    x = np.ones((4, 1, 1), dtype=np.uint8)
    spikes, sat = golden.run_layer(layer, x)
    # u: 3 -> 1+3=4 -> 2+3=5 fire -> 0+3=3
    assert spikes[:, 0, 0].tolist() == [0, 0, 1, 0] and sat == 0
    soft = replace(layer, reset="subtract", weight=np.array([[7]]), accumulator_bits=5)
    spikes, sat = golden.run_layer(soft, x)
    # u: 7 fire -> r=2, c=1 -> 8 clips to 7 (sat) fire -> r=2, c=1 -> 7 ...
    assert spikes[:, 0, 0].tolist() == [1, 1, 1, 1] and sat == 3


def test_torch_integer_mode_equals_golden_on_1000_samples(small_model):
    model = load_checkpoint(small_model)
    net = quantize(model, weight_bits=8)
    data = bundled_mnist(0)
    spikes = bernoulli_numpy(data.x_test, net.timesteps, 7)
    assert spikes.shape[1] == 1000
    trace = golden.run(net, spikes)
    torch_out = integer_torch_model(net)(torch.from_numpy(spikes)).numpy()
    np.testing.assert_array_equal(torch_out, trace.output)
    assert (golden.predict(trace.output) == data.y_test).mean() > 0.7


@pytest.mark.parametrize("seed", range(10))
def test_torch_integer_mode_equals_golden_when_saturating(seed):
    net, inputs = random_network(100 + seed)
    trace = golden.run(net, inputs)
    model = integer_torch_model(net)
    x = torch.from_numpy(inputs)
    for layer, want in zip(model, trace.spikes):
        x = layer(x)
        np.testing.assert_array_equal(x.numpy(), want)
    assert [m.saturations for m in model] == trace.saturations


def test_conv_golden_by_hand():
    """A 3x3 kernel of ones, padding 1, stride 2 on a 1x4x4 map, threshold 2, no leak: an
    output neuron fires when two spikes fall into its window."""
    layer = ir.ConvLIFLayer(name="conv0", in_shape=(1, 4, 4), out_channels=1, kernel_size=3,
                            stride=2, padding=1, weight_bits=2, membrane_bits=5,
                            accumulator_bits=6, threshold=2, leak_mult=1, leak_frac_bits=0,
                            reset="zero", scale=1.0, weight=np.ones((1, 1, 3, 3), np.int64),
                            bias=np.array([0]))
    assert layer.out_shape == (1, 2, 2)
    x = np.zeros((1, 1, 16), dtype=np.uint8)
    x[0, 0, [0 * 4 + 1, 1 * 4 + 1]] = 1            # spikes at (y, x) = (0, 1) and (1, 1)
    spikes, _ = golden.run_layer(layer, x)
    # output (oy, ox) sees rows 2*oy-1 .. 2*oy+1, columns 2*ox-1 .. 2*ox+1:
    # (0, 0): rows -1..1, cols -1..1 -> both spikes; (0, 1): cols 1..3 -> both; (1, *): rows 1..3
    # -> only (1, 1)
    assert spikes[0, 0].tolist() == [1, 1, 0, 0]
    assert layer.fan_out().reshape(4, 4)[0].tolist() == [1, 2, 1, 1]


def test_sum_pooling_by_hand():
    """2x2 sum pooling: the four spikes of a block count four times; the odd last row and
    column are dropped."""
    layer = ir.LIFLayer(name="fc0", in_features=25, out_features=1, weight_bits=4,
                        membrane_bits=8, accumulator_bits=9, threshold=100, leak_mult=1,
                        leak_frac_bits=0, reset="zero", scale=1.0, pool=2, in_shape=(1, 5, 5),
                        weight=np.array([[1, 2, 3, 4]]), bias=np.array([0]))
    x = np.ones((1, 1, 25))
    assert golden.synaptic_input(layer, x).tolist() == [[4 * (1 + 2 + 3 + 4)]]
    assert layer.fan_out().reshape(5, 5)[4].tolist() == [0] * 5


@pytest.mark.parametrize("seed", range(20))
def test_conv_torch_integer_mode_equals_golden(seed):
    """torch's conv2d and avg_pool2d (the integer mode) against the golden model's own
    unfolded convolution and block sums: every layer's spikes and saturation counts."""
    net, inputs = random_conv_network(seed)
    trace = golden.run(net, inputs)
    x = torch.from_numpy(inputs.astype(np.float64))
    for layer, expected, saturations in zip(integer_torch_model(net), trace.spikes,
                                            trace.saturations):
        x = layer(x)
        np.testing.assert_array_equal(x.numpy().astype(np.uint8), expected)
        assert layer.saturations == saturations


def test_conv_ir_round_trip_and_schema(tmp_path):
    net, _ = random_conv_network(2)
    ir.save(net, tmp_path)
    back = ir.load(tmp_path)
    assert [type(l) for l in back.layers] == [type(l) for l in net.layers]
    assert [l.metadata() for l in back.layers] == [l.metadata() for l in net.layers]
    for a, b in zip(back.layers, net.layers):
        np.testing.assert_array_equal(a.weight, b.weight)
    conv = net.layers[0]
    rest = net.layers[1:]
    cases = [
        (dict(kernel_size=9), "kernel_size=9; allowed 1..7"),
        (dict(stride=3), r"stride=3; allowed \(1, 2\)"),
        (dict(padding=conv.kernel_size), "padding=.*zero padding smaller than the kernel"),
        (dict(pool=3), r"pool=3; allowed \(1, 2, 4\)"),
        (dict(in_shape=(conv.in_shape[0], conv.in_shape[1] + 1, conv.in_shape[2])),
         "holds .* inputs but the previous stage has"),
        (dict(weight=conv.weight[:, :, :1]), "weight shape"),
    ]
    for change, message in cases:
        with pytest.raises(ir.IRError, match=message):
            replace(net, layers=(replace(conv, **change),) + rest).validate()
    # the next layer's map must be this layer's output map, not just as many inputs
    second = net.layers[1]
    assert second.kind == "conv2d"
    c, h, w = second.in_shape
    with pytest.raises(ir.IRError, match="previous layer's map"):
        replace(net, layers=(conv, replace(second, in_shape=(c * h, 1, w))) + net.layers[2:]
                ).validate()


def test_quantized_conv_net_follows_the_float_net():
    """conv -> LIF -> avgpool -> conv -> LIF -> avgpool -> flatten -> dense -> LIF in float,
    against its 16-bit IR (average pools as sum pools with 1/4 in the next weights, event
    indices in torch's row-major order): the spikes of every layer agree but for the few a
    rounding moves across the threshold."""
    model, net = _conv_model(2, threshold=0.3, high=0.45, encoding="bernoulli", timesteps=8)
    irnet = quantize(model, weight_bits=16, leak_frac_bits=16)
    assert [l.kind for l in irnet.layers] == ["conv2d", "conv2d", "dense"]
    assert [l.pool for l in irnet.layers] == [1, 2, 2]
    rng = np.random.default_rng(1)
    spikes = (rng.random((8, 40, 2 * 12 * 12)) < 0.3).astype(np.uint8)
    record: list[torch.Tensor] = []
    with torch.no_grad():
        net(torch.from_numpy(spikes.astype(np.float64)), record=record)
    trace = golden.run(irnet, spikes)
    _assert_layers_follow(irnet, record, trace)


def test_direct_input_quantization_at_the_edges():
    """x in [0, 1] -> round(x * (2^B - 1)), halves away from zero, clipped; 8-bit pixels
    p / 255 come back exactly as p."""
    assert direct_input(np.array([0.0, 1.0, -0.5, 1.5]), 4).tolist() == [0, 15, 0, 15]
    # 0.5 * 3 = 1.5 -> 2; 1/6 * 3 = 0.5 -> 1
    assert direct_input(np.array([0.5, 1 / 6]), 2).tolist() == [2, 1]
    pixels = np.arange(256, dtype=np.uint8)
    assert direct_input(pixels / np.float32(255.0), 8).tolist() == pixels.tolist()


def test_direct_layer_by_hand():
    """Input values times weights, the same current every timestep: weights [2, -1], values
    [3, 1] -> current 5; threshold 8, no leak, subtract reset, bias 1."""
    layer = ir.LIFLayer(name="fc0", in_features=2, out_features=1, weight_bits=3,
                        membrane_bits=5, accumulator_bits=8, threshold=8, leak_mult=1,
                        leak_frac_bits=0, reset="subtract", scale=1.0,
                        weight=np.array([[2, -1]]), bias=np.array([1]), input_bits=2)
    net = ir.Network(name="d", timesteps=4, input_features=2, layers=(layer,),
                     encoding={}, dataset={}, source={}).validate()
    x = np.broadcast_to(np.array([[3, 1]], dtype=np.uint8), (4, 1, 2)).copy()
    # u: 6 -> 12 fire (r 4) -> 10 fire (r 2) -> 8 fire
    assert golden.run(net, x).output[:, 0, 0].tolist() == [0, 1, 1, 1]
    # the accumulator holds a membrane plus 3x every weight of one sign
    assert layer.accumulator_bounds() == (-16 - 3, 15 + 6)
    with pytest.raises(ValueError, match="same at every timestep"):
        golden.run(net, np.concatenate([x[:1], x[1:] * 0]))
    with pytest.raises(ValueError, match="2-bit values 0..3"):
        golden.run(net, x * 2)
    assert net.sent_inputs(x)[1:].max() == 0 and (net.sent_inputs(x)[0] == x[0]).all()


def test_direct_ir_schema_and_round_trip(tmp_path):
    net, _ = random_direct_network(1)
    ir.save(net, tmp_path)
    back = ir.load(tmp_path)
    assert back.input_bits == net.input_bits > 1
    assert [l.metadata() for l in back.layers] == [l.metadata() for l in net.layers]
    first, second = net.layers[0], net.layers[1]
    with pytest.raises(ir.IRError, match=r"input_bits=9; allowed 1 \(spikes\) or up to 8"):
        replace(net, layers=(replace(first, input_bits=9),) + net.layers[1:]).validate()
    with pytest.raises(ir.IRError, match="only the first layer takes a direct"):
        replace(net, layers=(first, replace(second, input_bits=2)) + net.layers[2:]).validate()
    with pytest.raises(ir.IRError, match="can overflow"):     # spike-sized accumulator
        replace(net, layers=(replace(first, accumulator_bits=signed_bits(
            *replace(first, input_bits=1).accumulator_bounds())),) + net.layers[1:]).validate()


def _conv_model(channels: int, *, threshold: float, high: float, encoding: str,
                timesteps: int) -> tuple[dict, torch.nn.Module]:
    """A float conv -> LIF -> AP2 -> conv -> LIF -> AP2 -> dense -> LIF net on
    ``channels x 12 x 12`` inputs, weights uniform in [-0.2, high], and its model.pt payload."""
    from snnhw.nn.network import SpikingNetwork, architecture

    torch.manual_seed(0)
    arch = architecture([channels, 12, 12], ["4C3", "AP2", "6C5", "AP2"], 5, tau=0.75,
                        threshold=threshold, reset="subtract")
    net = SpikingNetwork(arch).double().eval()
    for module in net.layers:
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.uniform_(module.weight, -0.2, high)
    model = {"name": "convnet", "architecture": arch, "state_dict": net.state_dict(),
             "encoding": {"type": encoding, "timesteps": timesteps}, "dataset": {}}
    return model, net


def _assert_layers_follow(irnet, record, trace, *, most: float | None = None) -> None:
    """Every layer's float spikes agree with the golden model's > 99.5 %, with a spike rate
    above 2 % (and below ``most`` where given) so that the comparison means something."""
    for layer, float_spikes, fixed in zip(irnet.layers, record, trace.spikes):
        float_spikes = float_spikes.reshape(fixed.shape).numpy()
        rate = float_spikes.mean()
        assert rate > 0.02 and (most is None or rate < most), f"{layer.name}: rate {rate}"
        agreement = (float_spikes == fixed).mean()
        assert agreement > 0.995, f"{layer.name}: {agreement:.4f}"


def _direct_conv_model() -> tuple[dict, torch.nn.Module]:
    return _conv_model(1, threshold=0.6, high=0.3, encoding="direct", timesteps=6)


def test_quantized_direct_conv_net_follows_the_float_net():
    """A direct-encoding conv net on 8-bit pixels against its 16-bit IR: the input is exact
    (x_q = p), so every layer's spikes agree but for the few a rounding moves; the torch
    integer mode equals the golden model exactly."""
    model, float_net = _direct_conv_model()
    irnet = quantize(model, weight_bits=16, leak_frac_bits=16)
    first = irnet.layers[0]
    assert first.input_bits == 8 and [l.input_bits for l in irnet.layers[1:]] == [1, 1]
    rng = np.random.default_rng(2)
    pixels = (rng.integers(0, 256, size=(40, 144)) * (rng.random((40, 144)) < 0.6)
              ).astype(np.uint8)
    encoded = encode_numpy(pixels, irnet.encoding)
    ints = integer_inputs(irnet, encoded)
    assert ints.dtype == np.uint8 and (ints == pixels[None]).all()
    record: list[torch.Tensor] = []
    with torch.no_grad():
        float_net(torch.from_numpy(encoded.astype(np.float64)), record=record)
    trace = golden.run(irnet, ints)
    _assert_layers_follow(irnet, record, trace, most=0.98)
    x = torch.from_numpy(ints.astype(np.float64))
    for layer, expected in zip(integer_torch_model(irnet), trace.spikes):
        x = layer(x)
        np.testing.assert_array_equal(x.numpy().astype(np.uint8), expected)


def test_direct_input_bits_out_of_range_is_named():
    model, _ = _direct_conv_model()
    with pytest.raises(SnnhwError, match=r"--input-bits 9: out of range; allowed 2..8"):
        quantize(model, weight_bits=8, input_bits=9)
    # the first layer's LSB is the weight scale over 2^B - 1
    for bits in (4, 8):
        net = quantize(model, weight_bits=8, input_bits=bits)
        weight_scale = np.abs(model["state_dict"]["layers.1.weight"].numpy()).max() / 127
        assert net.input_bits == bits
        assert net.layers[0].scale == pytest.approx(weight_scale / (2 ** bits - 1))
