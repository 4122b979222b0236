"""Builds that fit the board by themselves: the configuration chosen for a target
(snnhw.fit), what the report says of it, and what a design that fits nowhere is told."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnhw import cycles, golden
from snnhw.cli import main
from snnhw.fit import DoesNotFit, choose, configurations
from snnhw.ir import ConvLIFLayer, LIFLayer, Network
from snnhw.synth import build_target
from snnhw.targets import TARGETS, estimate_resources

from netgen import spram_sized_network


def _bound(net: Network, inputs: np.ndarray):
    spikes = golden.run(net, inputs).spikes
    return lambda lanes, membranes: cycles.bound(net, inputs, spikes, lanes, membranes)


def test_the_fastest_fitting_configuration_is_chosen():
    """640-32 at 8 bits on the UP5K: every configuration is ranked by its bound, the chosen
    one fits and nothing faster does; every one rejected names what it exceeds."""
    net, inputs = spram_sized_network()
    choice = choose(net, "ice40-up5k", _bound(net, inputs))
    chosen, considered = choice.chosen, choice.considered
    assert chosen.fits
    # lanes 1..16, rom and spram weights, bram membranes or (where SPRAMs are left) spram
    assert len(considered) == 5 * 2 + sum(c.membrane_memory == "spram" for c in considered)
    speeds = [c.cycles_per_timestep for c in considered]
    assert speeds == sorted(speeds)
    assert all(not c.fits for c in considered if c.cycles_per_timestep < chosen.cycles_per_timestep)
    assert all(c.limit and ("block RAMs of 30" in c.limit or "SPRAMs of 4" in c.limit
                            or "logic cells of 5280" in c.limit)
               for c in considered if not c.fits)
    # its resources are the estimate's, and the bound falls with the lanes
    estimate = estimate_resources(net, TARGETS["ice40-up5k"], lanes=chosen.lanes,
                                  weight_memory=chosen.weight_memory)
    assert (chosen.brams, chosen.sprams) == (estimate["brams_needed"], estimate["sprams_needed"])
    by_lanes = {c.lanes: c.cycles_per_timestep for c in considered}
    assert by_lanes[16] < by_lanes[1]
    assert chosen.us_per_sample == pytest.approx(
        chosen.cycles_per_timestep * net.timesteps / TARGETS["ice40-up5k"].clock_mhz)


def test_membranes_too_big_for_block_ram_go_to_spram():
    """A 16C3 convolution over 1 x 64 x 64 spikes: 65,536 accumulators of 16 bits need 256 EBRs;
    on the UP5K only configurations with single-ported membranes in SPRAM fit, the fastest
    is chosen (P = 4: 16K words of 4 x 16 bits, four SPRAMs wide; P = 8 would need eight),
    and its bound is twice the two-port core's."""
    rng = np.random.default_rng(0)
    conv = ConvLIFLayer(name="conv0", in_shape=(1, 64, 64), out_channels=16, kernel_size=3,
                        stride=1, padding=1, weight=rng.integers(-8, 8, (16, 1, 3, 3)),
                        weight_bits=4, membrane_bits=14, accumulator_bits=16, threshold=40,
                        leak_mult=192, leak_frac_bits=8, reset="subtract", scale=1.0,
                        bias=np.zeros(16, np.int64))
    net = Network(name="wide_map", timesteps=2, input_features=4096, layers=(conv,),
                  encoding={}, dataset={}, source={}).validate()
    inputs = (rng.random((2, 1, 4096)) < 0.05).astype(np.uint8)
    choice = choose(net, "ice40-up5k", _bound(net, inputs))
    assert choice.chosen.describe() == "P=4, rom weights, spram membranes"
    assert choice.chosen.sprams == 4
    assert all(not c.fits for c in choice.considered if c.membrane_memory == "bram")
    two_port = _bound(net, inputs)(4, ["bram"])
    assert choice.chosen.cycles_per_timestep == pytest.approx(2 * two_port)
    with pytest.raises(Exception, match="ecp5-25k has no SPRAM"):
        choose(net, "ecp5-25k", _bound(net, inputs), membrane_memory="spram")


def test_given_lanes_and_memory_are_kept_and_checked():
    net, inputs = spram_sized_network()
    choice = choose(net, "ice40-up5k", _bound(net, inputs), lanes=2, weight_memory="spram")
    assert (choice.chosen.lanes, choice.chosen.weight_memory) == (2, "spram")
    with pytest.raises(Exception, match="ice40-hx8k has no SPRAM"):
        choose(net, "ice40-hx8k", _bound(net, inputs), weight_memory="spram")


def test_a_network_that_fits_nowhere_says_so_with_its_numbers():
    """4096-256 at 16 bits (16.8 Mbit of weights) fits no target: the message names the
    network, the target, what the smallest configuration needs and what to change."""
    rng = np.random.default_rng(0)
    layer = LIFLayer(name="fc0", in_features=4096, out_features=256, weight_bits=16,
                     membrane_bits=24, accumulator_bits=32, threshold=1000, leak_mult=230,
                     leak_frac_bits=8, reset="subtract", scale=1.0,
                     weight=rng.integers(-2**15, 2**15, size=(256, 4096)).astype(np.int64),
                     bias=np.zeros(256, dtype=np.int64))
    net = Network(name="huge", timesteps=2, input_features=4096, layers=(layer,),
                  encoding={}, dataset={}, source={})
    inputs = (rng.random((2, 1, 4096)) < 0.05).astype(np.uint8)
    with pytest.raises(DoesNotFit) as error:
        choose(net, "ecp5-25k", _bound(net, inputs))
    message = str(error.value)
    assert message.startswith("huge does not fit ecp5-25k: P=1, rom weights needs ")
    assert "block RAMs of 56" in message and "memories" in message
    assert "no configuration fits any target" in message
    assert not any(c.fits for c in configurations(net, TARGETS["ecp5-85k"]))


def test_a_network_too_big_for_one_target_is_pointed_to_another():
    """The 640-32 net needs 43 block RAMs in any configuration on the HX8K (32, no SPRAM):
    the message names the fastest fitting configuration of each target that takes it."""
    net, inputs = spram_sized_network()
    assert not any(c.fits for c in configurations(net, TARGETS["ice40-hx8k"]))
    with pytest.raises(DoesNotFit) as error:
        choose(net, "ice40-hx8k", _bound(net, inputs))
    message = str(error.value)
    assert "P=1, rom weights needs 43 block RAMs of 32" in message
    assert ("would fit: --target ice40-up5k (P=8, spram weights); --target ecp5-25k "
            "(P=16, rom weights); --target ecp5-85k (P=16, rom weights)") in message


def test_build_for_a_board_chooses_reports_and_synth_follows(small_model, tmp_path, capsys):
    """``snnhw build --target icebreaker`` fits the UP5K: the choice is printed, kept in the
    report with every configuration considered, and ``snnhw synth`` takes that target."""
    out = tmp_path / "hw"
    assert main(["build", str(small_model), "--target", "icebreaker", "--samples", "2",
                 "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    report = json.loads((out / "report.json").read_text())
    fit = report["fit"]
    assert fit["target"] == "ice40-up5k"
    chosen = fit["chosen"]
    assert (report["rtl"]["lanes"], report["rtl"]["weight_memory"],
            report["rtl"]["membrane_memory"]) == (
        chosen["lanes"], chosen["weight_memory"], chosen["membrane_memory"])
    # 5 lane counts x 2 weight memories with block-RAM membranes, and the single-ported
    # membrane variants where a layer's membranes fit the SPRAMs left
    spram_membranes = [k for k in fit["considered"] if k["membrane_memory"] == "spram"]
    assert chosen["limit"] is None and len(fit["considered"]) == 10 + len(spram_membranes)
    assert spram_membranes and chosen["membrane_memory"] == "bram"    # fits at full rate
    assert f"ice40-up5k: P={chosen['lanes']}, {chosen['weight_memory']} weights: " in (
        printed.out + printed.err)
    assert report["rtl"]["mismatches"] == 0
    markdown = (out / "report.md").read_text()
    assert "Configuration for ice40-up5k" in markdown and "(chosen)" in markdown
    assert build_target(out) == "ice40-up5k"


def test_build_without_a_target_keeps_the_old_defaults(small_model, tmp_path):
    out = tmp_path / "hw"
    assert main(["build", str(small_model), "--samples", "0", "--quiet", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["fit"] is None
    assert (report["rtl"]["lanes"], report["rtl"]["weight_memory"]) == (1, "rom")
    assert build_target(out) == "ice40-up5k"


def test_build_refuses_an_unknown_target(small_model, tmp_path, capsys):
    assert main(["build", str(small_model), "--target", "xc7a35t", "--out",
                 str(tmp_path / "hw")]) == 2
    assert "--target 'xc7a35t': unknown; allowed: ice40-up5k" in capsys.readouterr().err
    assert not (tmp_path / "hw").exists()
