"""Randomised bit-exactness: random small networks, golden model vs RTL.

Widths 2..16, random leaks (including none and full decay), thresholds, both reset modes,
1-neuron layers (read-modify-write hazard) and membranes narrow enough to saturate. Every
seed runs on the fast harness (every layer checked) and on the cocotb testbench on Icarus;
a few seeds also on the cocotb testbench on Verilator. Random convolutional networks (conv
[-> pool -> conv] -> [pool ->] dense on maps up to 3 x 9 x 9: kernels 1..7, strides 1 and 2,
padding, 2 x 2 sum pooling into conv and dense layers, NeuNorm terms) likewise, and random networks whose
first layer (dense or conv, pooled or not) takes a direct 2..8-bit input.
"""

from __future__ import annotations

import pytest

from snnhw.build import verify_network
from snnhw.golden import run
from snnhw.hdl import membrane_styles
from snnhw.hdl.layout import LANES

from netgen import random_conv_network, random_direct_network, random_network

SEEDS = list(range(17)) + [25]       # 25: a 1-neuron layer
CONV_SEEDS = list(range(9))
DIRECT_SEEDS = [*range(9), 11]       # 11: a 2-bit input
DIRECT_CI_SEEDS = [0, 1, 3, 4, 8, 11]  # 1, 3, 8: behind an input replay (a conv and a dense)


def _cases(fast: list[int], ci_fast: list[int], icarus: list[int], verilator: list[int]
           ) -> list:
    """Seeds on the fast harness (every layer; those outside ``ci_fast`` marked slow, so the
    CI suite keeps its time and ``pytest -m slow`` runs the rest) and on the cocotb
    reference with Icarus and Verilator."""
    return ([(seed, "fast") if seed in ci_fast else
             pytest.param(seed, "fast", marks=pytest.mark.slow) for seed in fast]
            + [(seed, "icarus") for seed in icarus] + [(seed, "verilator") for seed in verilator])


CASES = _cases(SEEDS, SEEDS[::2] + [25], [0, 4, 8, 12, 25], [0, 7, 13])
CONV_CI_SEEDS = [0, 1, 2, 4, 6, 8]
CONV_CASES = _cases(CONV_SEEDS, CONV_CI_SEEDS, CONV_SEEDS[::2], [1, 4])
DIRECT_CASES = _cases(DIRECT_SEEDS, DIRECT_CI_SEEDS, [0, 3, 5], [1])

def test_random_networks_exercise_the_edges():
    """The generator really covers what the RTL tests claim to cover."""
    nets = [random_network(seed) for seed in SEEDS]
    layers = [layer for net, _ in nets for layer in net.layers]
    assert {layer.reset for layer in layers} == {"zero", "subtract"}
    assert min(l.weight_bits for l in layers) <= 3 and max(l.weight_bits for l in layers) >= 15
    assert any(l.out_features == 1 for l in layers)
    assert any(l.leak_mult == 1 << l.leak_frac_bits for l in layers)
    saturating = sum(1 for net, x in nets if sum(run(net, x).saturations) > 0)
    assert saturating >= 8, f"only {saturating} of {len(nets)} networks saturate"


@pytest.mark.parametrize("seed, sim", CASES)
def test_random_network_bit_exact(seed, sim, tmp_path):
    """Lanes cycle through 1, 2, 4, 8, 16 over the seeds, so every P meets both simulators;
    every third seed keeps its largest layer's weights in a run-time loaded memory (the
    iCE40 SPRAM form), loaded by the testbench before the first sample."""
    _check_bit_exact(*random_network(seed), seed, sim, tmp_path)


def test_random_conv_networks_exercise_the_edges():
    nets = [random_conv_network(seed) for seed in CONV_SEEDS]
    convs = [l for net, _ in nets for l in net.layers if l.kind == "conv2d"]
    assert {l.stride for l in convs} == {1, 2}
    assert {l.kernel_size for l in convs} >= {1, 3, 5, 7}
    assert any(l.padding > 0 for l in convs) and any(l.padding == 0 for l in convs)
    assert {l.pool for net, _ in nets for l in net.layers} == {1, 2}
    assert any(l.kind == "dense" and l.pool == 2 for net, _ in nets for l in net.layers)
    assert any(l.kind == "conv2d" and l.pool == 2 for l in convs)
    # NeuNorm terms, on pooled inputs too, with and without leak, on the CI seeds
    ci = [l for seed in CONV_CI_SEEDS for l in random_conv_network(seed)[0].layers
          if l.kind == "conv2d" and l.neunorm]
    assert any(l.pool == 2 for l in ci) and len({l.aux_frac_bits for l in ci}) >= 3
    assert any(l.aux_leak_mult == 0 for l in ci) and any(l.aux_leak_mult > 0 for l in ci)


@pytest.mark.parametrize("seed, sim", CONV_CASES)
def test_random_conv_network_bit_exact(seed, sim, tmp_path):
    _check_bit_exact(*random_conv_network(seed), seed, sim, tmp_path)


def test_random_direct_networks_exercise_the_edges():
    nets = [random_direct_network(seed) for seed in DIRECT_SEEDS]
    firsts = [net.layers[0] for net, _ in nets]
    assert {l.kind for l in firsts} == {"dense", "conv2d"}
    assert {l.input_bits for l in firsts} >= {2, 8}
    assert any(l.pool == 2 for l in firsts)
    assert any(net.timesteps > 1 for net, _ in nets)
    assert any(x.max() == (1 << net.input_bits) - 1 for net, x in nets)
    saturating = sum(1 for net, x in nets if run(net, x).saturations[0] > 0)
    assert saturating >= 3, f"only {saturating} of {len(nets)} direct layers saturate"
    # both hardware forms on the CI seeds: currents kept in the core, input replayed
    ci = [random_direct_network(seed)[0].layers[0] for seed in DIRECT_CI_SEEDS]
    assert {(l.kind, l.replays_input) for l in ci} >= {
        ("dense", False), ("dense", True), ("conv2d", False), ("conv2d", True)}


@pytest.mark.parametrize("seed, sim", DIRECT_CASES)
def test_random_direct_network_bit_exact(seed, sim, tmp_path):
    """Later timesteps send only their end-of-timestep event: the first layer's currents are
    computed once per sample from the values its first timestep sends, then held, or (where
    its input is the smaller memory) an input replay sends those values again."""
    _check_bit_exact(*random_direct_network(seed), seed, sim, tmp_path)


GENERATORS = {"dense": random_network, "conv": random_conv_network,
              "direct": random_direct_network}
# single-ported membranes (the iCE40 UP SPRAM form: two clocks per update, cleared after
# reset): a 1-neuron layer (on both paths), run-time weights beside them at P = 1, NeuNorm
# terms, a single-ported core between block-RAM ones, a direct layer's kept currents (dense
# and conv) and a replayed input
# (the others marked slow: ``pytest -m slow`` runs them)
SINGLE_PORT_CASES = [("dense", 25, "fast"), ("dense", 25, "icarus"),
                     pytest.param("dense", 5, "fast", marks=pytest.mark.slow),
                     ("conv", 0, "fast"), pytest.param("conv", 7, "fast", marks=pytest.mark.slow),
                     ("direct", 0, "fast"), pytest.param("direct", 1, "fast",
                                                         marks=pytest.mark.slow),
                     ("direct", 11, "fast")]


@pytest.mark.parametrize("kind, seed, sim", SINGLE_PORT_CASES)
def test_single_ported_membranes_bit_exact(kind, seed, sim, tmp_path):
    net, inputs = GENERATORS[kind](seed)
    styles = membrane_styles(net, LANES[seed % len(LANES)],
                             "spram" if seed % 3 == 2 else "rom", "spram")
    assert "spram" in styles
    _check_bit_exact(net, inputs, seed, sim, tmp_path, membrane_memory="spram")


def _check_bit_exact(net, inputs, seed: int, sim: str, tmp_path,
                     membrane_memory: str = "bram") -> None:
    lanes = LANES[seed % len(LANES)]
    weight_memory = "spram" if seed % 3 == 2 else "rom"
    check = verify_network(net, inputs, tmp_path, sim=sim, lanes=lanes, stall=0.3, seed=seed,
                           weight_memory=weight_memory, membrane_memory=membrane_memory,
                           log=lambda s: None)
    for name, result in check.results.items():
        assert result["mismatches"] == 0, (name, result["first_mismatches"])
        if sim == "fast":       # every layer's events seen, none lost or duplicated
            assert result["layer_events"] == [int(s.sum()) for s in check.trace.spikes]
    measured = check.full_rate["total_cycles"]
    predicted = check.estimate.total
    assert abs(measured - predicted) <= 0.10 * predicted, (
        f"cycle model off: measured {measured}, predicted {predicted}")
