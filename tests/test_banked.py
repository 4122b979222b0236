"""Banked membranes: a convolution core that updates a whole kernel row (K taps x P lanes) of
an input event per clock, its membranes in K block-RAM banks by output column.

The bank table against its definition, the row-wide weight words against the one-tap layout,
random networks whose convolutions all bank (kernels 2, 3, 5, 7, strides 1 and 2, padding,
pooling, several words per bank row, lanes 1..16) bit-exact on the fast harness (every layer,
random stalls) and on the cocotb testbench on Icarus and Verilator, the cycle model on them,
the configuration search taking banked where it is faster, and the options it refuses."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from snnhw import cycles, golden
from snnhw.build import verify_network
from snnhw.fit import choose
from snnhw.hdl import membrane_styles
from snnhw.hdl.layout import LANES, banks_rows, groups, row_taps, weight_depth, weight_words
from snnhw.hdl.lif_core import LIFCore

from netgen import random_banked_network, random_conv_network, small_conv_network

SEEDS = list(range(16))
CI_SEEDS = [0, 3, 5, 9, 14]         # kernels 2, 3, 5, 7, strides 1 and 2, P = 1, 8, 16


def test_row_taps_give_every_bank_the_tap_that_lands_in_it():
    """For every kernel, stride, padding and input column: bank b gets exactly the tap kx
    whose output column ox = (x + padding - kx) / stride is on the map with ox mod K = b,
    at word ox div K, and no bank gets two."""
    for k in range(2, 8):
        for stride in (1, 2):
            for pad in range(k):
                for width in range(1, 14):
                    out_w = (width + 2 * pad - k) // stride + 1
                    if out_w < 1:
                        continue
                    layer = SimpleNamespace(kernel_size=k, stride=stride, padding=pad,
                                            out_shape=(1, 1, out_w), pooled_shape=(1, 1, width))
                    for x, row in enumerate(row_taps(layer)):
                        want = {}
                        for kx in range(k):
                            n = x + pad - kx
                            if n % stride == 0 and 0 <= n // stride < out_w:
                                ox = n // stride
                                assert ox % k not in want          # one tap per bank
                                want[ox % k] = (kx, ox // k, 1)
                        got = {b: entry for b, entry in enumerate(row) if entry[2]}
                        assert got == want, (k, stride, pad, width, x)


def test_row_words_hold_the_k_taps_of_a_kernel_row():
    net, _ = small_conv_network()
    layer = next(l for l in net.layers if banks_rows(l))
    for lanes in (1, 4):
        taps = weight_words(layer, lanes)
        rows = weight_words(layer, lanes, rows=True)
        k, g_count = layer.kernel_size, groups(layer.out_channels, lanes)
        assert len(rows) == weight_depth(layer, lanes, rows=True) == len(taps) // k
        mask = (1 << (lanes * layer.weight_bits)) - 1
        for row in range(len(rows) // g_count):
            for g in range(g_count):
                for kx in range(k):
                    assert (rows[row * g_count + g] >> (kx * lanes * layer.weight_bits)
                            & mask) == taps[(row * k + kx) * g_count + g]


def test_random_banked_networks_exercise_the_edges():
    """The generator covers what the RTL tests below claim: every kernel size and stride,
    output rows longer than a bank's row (several words per bank row), pooled inputs, two
    banked convolutions in a row, and convolutions that fire."""
    nets = [random_banked_network(seed) for seed in SEEDS]
    convs = [layer for net, _ in nets for layer in net.layers if layer.kind == "conv2d"]
    assert all(banks_rows(layer) for layer in convs)
    assert {layer.kernel_size for layer in convs} == {2, 3, 5, 7}
    assert {layer.stride for layer in convs} == {1, 2}
    assert any(layer.out_shape[2] > 2 * layer.kernel_size for layer in convs)
    assert any(layer.pool == 2 for layer in convs)
    assert sum(sum(l.kind == "conv2d" for l in net.layers) == 2 for net, _ in nets) >= 4
    for net, inputs in nets:
        spikes = golden.run(net, inputs).spikes
        assert all(s.sum() > 0 for l, s in zip(net.layers, spikes) if l.kind == "conv2d"), \
            net.name


CASES = ([(seed, "fast") if seed in CI_SEEDS else
          pytest.param(seed, "fast", marks=pytest.mark.slow) for seed in SEEDS]
         + [(3, "icarus"), (12, "icarus"), (5, "verilator")])


@pytest.mark.parametrize("seed, sim", CASES)
def test_banked_network_bit_exact(seed, sim, tmp_path):
    """Every layer's spikes equal the golden model's, with random stalls and without, no
    event lost or duplicated; the cycle model within 10 % of the measured cycles."""
    net, inputs = random_banked_network(seed)
    lanes = LANES[seed % len(LANES)]
    assert "banked" in membrane_styles(net, lanes, "rom", "banked")
    check = verify_network(net, inputs, tmp_path, sim=sim, lanes=lanes, stall=0.3, seed=seed,
                           weight_memory="rom", membrane_memory="banked", log=lambda s: None)
    for name, result in check.results.items():
        assert result["mismatches"] == 0, (name, result["first_mismatches"])
        if sim == "fast":
            assert result["layer_events"] == [int(s.sum()) for s in check.trace.spikes]
    measured, predicted = check.full_rate["total_cycles"], check.estimate.total
    assert abs(measured - predicted) <= 0.10 * predicted, (measured, predicted)


def test_banked_cores_take_a_kernel_row_per_clock():
    """Same network and inputs, bram against banked: the banked core's cycles for an input
    event are K * G instead of K * K * G, so its bound and the predicted total fall."""
    net, inputs = random_banked_network(9)
    spikes = golden.run(net, inputs).spikes
    plain = cycles.estimate(net, inputs, spikes, 4, membrane_styles(net, 4, "rom", "bram"))
    banked = cycles.estimate(net, inputs, spikes, 4, membrane_styles(net, 4, "rom", "banked"))
    assert banked.total < plain.total
    assert (cycles.bound(net, inputs, spikes, 4, membrane_styles(net, 4, "rom", "banked"))
            < cycles.bound(net, inputs, spikes, 4, membrane_styles(net, 4, "rom", "bram")))


def test_the_search_takes_banked_membranes_where_they_are_faster():
    net, inputs = random_banked_network(9)
    spikes = golden.run(net, inputs).spikes
    choice = choose(net, "ecp5-85k",
                    lambda lanes, styles: cycles.bound(net, inputs, spikes, lanes, styles))
    assert choice.chosen.membrane_memory == "banked"
    assert "banked membranes" in choice.chosen.describe()


def test_banked_styles_and_refusals():
    """Only convolutions over spikes with K >= 2, no NeuNorm term and ROM weights bank; a
    core asked to bank another layer says which and why (a build asked to bank a network
    with no such layer: test_bad_input)."""
    net, _ = random_conv_network(1)           # NeuNorm terms on its convolutions
    assert not any(banks_rows(layer) for layer in net.layers)
    assert membrane_styles(net, 1, "rom", "banked") == ["bram"] * len(net.layers)
    with pytest.raises(ValueError, match="banked membranes need a convolution over spikes"):
        LIFCore(layer=net.layers[0], timesteps=1, membrane_memory="banked")

