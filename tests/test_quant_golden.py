"""Quantizer, IR, fixed-point primitives, golden model and the torch integer mode."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from snnhw import SnnhwError, golden, ir
from snnhw.checkpoint import load_checkpoint
from snnhw.data import bernoulli_numpy, bundled_mnist
from snnhw.fixedpoint import leak, membrane_bits_for, round_half_away, saturate
from snnhw.quant import integer_torch_model, quantize

from netgen import random_network


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
    with pytest.raises(SnnhwError, match="layer 0 has type 'neunorm'.*not support.*auxiliary"):
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
