"""Synthesis with the real open-source flows (YoWASP Yosys + nextpnr) on a small network."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnhw import ir
from snnhw.build import verify_network
from snnhw.buildfolder import digests
from snnhw.cli import main
from snnhw.harness import verify_fast
from snnhw.hdl import membrane_styles
from snnhw.hdl.layout import membrane_words
from snnhw.report import write_report
from snnhw.synth import GATE_NETLIST, cell_models, synthesise
from snnhw.targets import TARGETS, estimate_resources, sprams_for

from netgen import random_network, small_conv_network, spram_sized_network


def test_spram_count_packs_narrow_words_and_tiles_wide_ones():
    """16K x 16-bit SPRAMs: wide words side by side, narrow words packed a power of two to a
    row (what Yosys maps: the demo's first layer at 4 bits P=2 took 2 SPRAMs, not 4)."""
    assert sprams_for(12544, 64) == 4          # 8-bit P=8: four wide, one deep
    assert sprams_for(16385, 16) == 2          # one word past a SPRAM's depth
    assert sprams_for(50176, 8) == 2           # 8-bit words, two to a row
    assert sprams_for(100352, 4) == 2          # four to a row
    assert sprams_for(100352, 6) == 4          # 6 bits: still only two to a row
    assert sprams_for(200704, 8) == 7


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    net, inputs = random_network(5)
    folder = tmp_path_factory.mktemp("synth")
    ir.save(net, folder / "ir")
    check = verify_network(net, inputs, folder, sim=None, log=lambda s: None)
    write_report(folder, _minimal_report(net, check.estimate.per_timestep_mean, folder))
    return folder


def _minimal_report(net: ir.Network, predicted_cycles: float, folder) -> dict:
    """The report keys synthesis reads, for a folder built without a trained model, with the
    digests of its ir/ and rtl/ as snnhw build records them."""
    return {"digests": digests(folder), "name": net.name, "sizes": [net.input_features], "timesteps": net.timesteps,
            "accuracy": {"float": 0, "fixed": 0, "samples": 0},
            "rtl": {"simulator": "none", "samples": 0, "mismatches": 0},
            "cycles_per_timestep": {"measured_mean": None, "measured_max": None,
                                    "predicted": predicted_cycles},
            "sops_per_sample": 0, "energy_pj_per_sample": 1.0,
            "memory_bits": {"total": 0}, "bits": {"weight": 8}}


# every target on the fast harness but one per family on the cocotb reference path
GATE_SIM = {"ice40-up5k": "icarus", "ice40-hx8k": "fast", "ecp5-25k": "fast",
            "ecp5-85k": "verilator"}


@pytest.mark.parametrize("target", list(TARGETS))
def test_synth_places_and_routes(small_build, target, capsys):
    """Synthesis, place and route, and the synthesised netlist (vendor cell models)
    simulated spike for spike against the golden model; one target placed from another
    seed than the default."""
    seed = ["--seed", "2"] if target == "ice40-hx8k" else []
    assert main(["synth", str(small_build), "--target", target, "--gate-level",
                 "--sim", GATE_SIM[target], *seed]) == 0
    report = json.loads((small_build / "report.json").read_text())
    syn = report["synth"]
    assert syn["target"] == target and syn["fits"] is True
    assert syn["seed"] == (2 if seed else 1)
    for key in ("cells", "brams", "sprams", "dsps", "fmax_mhz", "latency_us_per_sample"):
        assert key in syn
    assert syn["cells"] > 20 and syn["fmax_mhz"] > 5
    assert syn["dsps"] == 0          # no multipliers: constant products are shift-adds
    assert syn["latency_us_per_sample"] == pytest.approx(
        report["cycles_per_timestep"]["predicted"] * report["timesteps"] / syn["fmax_mhz"])
    out = capsys.readouterr().out
    assert f"{target}: fits=True" in out
    assert "gate-level netlist vs golden model: 0 mismatching spikes" in out
    assert syn["gate_level"]["mismatches"] == 0 and syn["gate_level"]["samples"] >= 2
    assert syn["gate_level"]["simulator"] == GATE_SIM[target]


def test_fast_gate_level_pins_a_wrong_output_spike(tmp_path):
    """The fast harness on a 3-layer netlist: the output layer compared at every timestep
    (hidden streams are not named in a netlist: reported as not observed), one flipped
    golden spike found at its place in both runs, and every output event counted."""
    net, inputs = random_network(4)
    assert len(net.layers) == 3
    ir.save(net, tmp_path / "ir")
    check = verify_network(net, inputs, tmp_path, sim=None, log=lambda s: None)
    write_report(tmp_path, _minimal_report(net, check.estimate.per_timestep_mean, tmp_path))
    # (placed and routed with nextpnr's router2, the one for block-RAM-heavy designs)
    section = synthesise(tmp_path, "ice40-hx8k", log=lambda line: None, router="router2")
    assert section["fits"] and section["router"] == "router2" and section["fmax_mhz"] > 0
    models, include = cell_models("ice40", tmp_path / "models")
    netlist = [*models, tmp_path / "synth" / "ice40-hx8k" / GATE_NETLIST]
    golden = [s.copy() for s in check.trace.spikes]
    output = golden[-1]
    t, s, n = (int(v[0]) for v in np.nonzero(output))    # the first output spike
    output[t, s, n] = 0
    results = verify_fast(tmp_path, net, inputs, golden, load=b"", stall=0.3, seed=3,
                          cycle_budget=2 * check.estimate.total + 10_000, netlist=netlist,
                          includes=[include], build_dir=tmp_path / "harness")
    for name, result in results.items():
        assert result["layer_mismatches"] == [None, None, 1], name
        assert result["first_mismatches"] == [
            {"sample": s, "timestep": t, "layer": 2, "neuron": n, "golden": 0, "rtl": 1}]
        assert result["layer_events"] == [None, None, int(check.trace.spikes[-1].sum())]


def test_spram_build_maps_the_weights_onto_up5k_spram(tmp_path, capsys):
    """--weight-memory spram on the UP5K: Yosys infers SB_SPRAM256KA for the run-time weights
    (checked against the estimate), and the netlist, loaded through its byte stream by the
    testbench, matches the golden model spike for spike (Yosys's SPRAM model)."""
    net, inputs = spram_sized_network()
    ir.save(net, tmp_path / "ir")
    check = verify_network(net, inputs, tmp_path, sim=None, lanes=2, weight_memory="spram",
                           log=lambda s: None)
    assert check.trace.output.sum() > 0
    report = _minimal_report(net, check.estimate.per_timestep_mean, tmp_path)
    report["rtl"] |= {"lanes": 2, "weight_memory": "spram"}
    write_report(tmp_path, report)
    estimate = estimate_resources(net, TARGETS["ice40-up5k"], lanes=2, weight_memory="spram")
    assert estimate["sprams_needed"] == 1
    assert main(["synth", str(tmp_path), "--target", "ice40-up5k", "--gate-level"]) == 0
    syn = json.loads((tmp_path / "report.json").read_text())["synth"]
    assert syn["fits"] is True and syn["sprams"] == 1
    assert syn["memory_mapping"] == {"sprams_expected": 1, "sprams_inferred": 1}
    assert syn["gate_level"]["mismatches"] == 0 and syn["gate_level"]["samples"] == 2
    assert "gate-level netlist vs golden model: 0 mismatching spikes" in capsys.readouterr().out


def test_single_ported_membranes_map_onto_up5k_spram(tmp_path, capsys):
    """--membrane-memory spram on the UP5K: both layers' membranes (their single-ported
    memories, cleared by the cores after reset) become SB_SPRAM256KA as the estimate says,
    and the netlist matches the golden model spike for spike at half rate (Yosys's SPRAM
    model, whose output is undefined after a write; fast harness, every sample's output
    layer). The random networks check the same cores' RTL on convolutions too."""
    net, inputs = random_network(0)
    ir.save(net, tmp_path / "ir")
    check = verify_network(net, inputs, tmp_path, sim=None, lanes=1,
                           membrane_memory="spram", log=lambda s: None)
    assert check.trace.output.sum() > 0
    styles = membrane_styles(net, 1, "rom", "spram")
    assert styles == ["spram", "spram"]
    report = _minimal_report(net, check.estimate.per_timestep_mean, tmp_path)
    report["rtl"] |= {"lanes": 1, "weight_memory": "rom", "membrane_memory": "spram"}
    write_report(tmp_path, report)
    estimate = estimate_resources(net, TARGETS["ice40-up5k"], lanes=1, membrane_memory="spram")
    expected = sum(sprams_for(membrane_words(l, 1), l.state_bits)
                   for l, style in zip(net.layers, styles) if style == "spram")
    assert estimate["sprams_needed"] == expected
    assert main(["synth", str(tmp_path), "--target", "ice40-up5k", "--gate-level",
                 "--sim", "fast"]) == 0
    syn = json.loads((tmp_path / "report.json").read_text())["synth"]
    assert syn["fits"] is True and syn["sprams"] == expected
    assert syn["memory_mapping"] == {"sprams_expected": expected, "sprams_inferred": expected}
    assert syn["gate_level"]["mismatches"] == 0
    assert "gate-level netlist vs golden model: 0 mismatching spikes" in capsys.readouterr().out


def test_demo_sized_net_is_reported_as_not_fitting_ice40_block_ram(tmp_path, capsys):
    """784-128-10 at 8 bits: 800 kbit of weights against 120 kbit of iCE40 EBR: reported with
    the numbers before Yosys would map it to logic, pointing at --weight-memory spram; with
    it, the weights take the four SPRAMs at P = 8."""
    layers = tuple(ir.LIFLayer(name=f"fc{k}", in_features=n_in, out_features=n_out,
                               weight_bits=8, membrane_bits=16, accumulator_bits=17,
                               threshold=100, leak_mult=128, leak_frac_bits=8, reset="zero",
                               scale=1.0, weight=np.ones((n_out, n_in), np.int64),
                               bias=np.zeros(n_out, np.int64))
                   for k, (n_in, n_out) in enumerate([(784, 128), (128, 10)]))
    net = ir.Network(name="demo_sized", timesteps=10, input_features=784, layers=layers,
                     encoding={}, dataset={}, source={})
    assert estimate_resources(net, TARGETS["ecp5-25k"])["brams_needed"] <= 56
    ir.save(net, tmp_path / "ir")
    (tmp_path / "rtl").mkdir()
    (tmp_path / "rtl" / "snn_top.v").write_text("// not read: the estimate stops first\n")
    write_report(tmp_path, _minimal_report(net, 1.0, tmp_path))
    assert main(["synth", str(tmp_path), "--target", "ice40-up5k"]) == 2
    syn = json.loads((tmp_path / "report.json").read_text())["synth"]
    assert syn["fits"] is False and syn["estimate"]["brams_needed"] > 30
    assert "has 30 (122880 bits)" in syn["not_fitting"]
    assert "build with --weight-memory spram" in syn["not_fitting"]
    spram = estimate_resources(net, TARGETS["ice40-up5k"], lanes=8, weight_memory="spram")
    assert spram["sprams_needed"] == 4 and spram["fits_bram"] is True
    err = capsys.readouterr().err
    assert "ice40-up5k: does not fit: the memories need" in err
    # the configurations that would fit, most lanes first: P=8 with the weights in SPRAM
    assert "these fit: --lanes 8 --weight-memory spram; --lanes 4" in err


def test_synth_rejects_a_folder_that_is_not_a_build(tmp_path, capsys):
    assert main(["synth", str(tmp_path)]) == 2
    assert "not an snnhw build folder" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("target", ["ice40-up5k", "ecp5-25k"])
def test_conv_net_synthesises_and_its_netlist_is_bit_exact(target, tmp_path, capsys):
    """Two convolutions (padding, stride 2, pooling between them) and a dense layer, P = 2:
    synthesised, placed and routed, and the netlist (vendor cell models, fast harness)
    spike for spike equal to the golden model."""
    net, inputs = small_conv_network()
    assert all(s.sum() > 0 for s in verify_network(net, inputs, tmp_path, sim=None, lanes=2,
                                                   log=lambda s: None).trace.spikes)
    ir.save(net, tmp_path / "ir")
    report = _minimal_report(net, 1.0, tmp_path)
    report["rtl"] |= {"lanes": 2, "weight_memory": "rom"}
    write_report(tmp_path, report)
    assert main(["synth", str(tmp_path), "--target", target, "--gate-level"]) == 0
    syn = json.loads((tmp_path / "report.json").read_text())["synth"]
    assert syn["fits"] is True and syn["fmax_mhz"] > 0
    assert syn["gate_level"]["mismatches"] == 0 and syn["gate_level"]["samples"] == 4
    assert "gate-level netlist vs golden model: 0 mismatching spikes" in capsys.readouterr().out
