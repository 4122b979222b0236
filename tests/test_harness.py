"""The fast harness against faults and against the cocotb reference: a wrong weight in a
hidden layer is pinned to its layer, sample, timestep and neuron; the failing sample is
dumped as VCD on request; the cocotb testbench measures the same cycles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from snnhw import golden
from snnhw.build import verify_network
from snnhw.harness import verify_fast

from netgen import random_network


def _faulty(seed: int):
    """A network, and the same network with one hidden-layer weight changed so that the
    hidden layer's spikes differ; the first differing (timestep, sample, neuron)."""
    net, inputs = random_network(seed)
    assert len(net.layers) >= 2
    good = golden.run(net, inputs)
    layer = net.layers[0]
    for row in range(layer.out_features):
        for col in range(layer.in_features):
            w = layer.weight.copy()
            lo, hi = layer.weight_range
            w[row, col] = hi if w[row, col] < 0 else lo
            bad_net = replace(net, layers=(replace(layer, weight=w), *net.layers[1:]))
            try:
                bad_net.validate()
            except ValueError:
                continue
            bad = golden.run(bad_net, inputs)
            # (sample, timestep, neuron) in the order the hardware produces them
            diff = np.argwhere((bad.spikes[0] != good.spikes[0]).transpose(1, 0, 2))
            if len(diff):
                return net, bad_net, inputs, good, tuple(int(v) for v in diff[0])
    pytest.skip("no single-weight fault changes this network's hidden spikes")


def test_a_wrong_weight_is_pinned_to_its_layer_and_neuron(tmp_path):
    net, bad_net, inputs, good, (s, t, n) = _faulty(1)
    check = verify_network(bad_net, inputs, tmp_path, sim=None, log=lambda line: None)
    results = verify_fast(tmp_path, net, inputs, good.spikes, load=b"", stall=0.3, seed=1,
                          cycle_budget=2 * check.estimate.total + 10_000, dump_failing=True)
    for run in results.values():
        assert run["layer_mismatches"][0] > 0
        first = [m for m in run["first_mismatches"] if m["layer"] == 0][0]
        assert (first["sample"], first["timestep"], first["neuron"]) == (s, t, n)
        assert first["golden"] == int(good.spikes[0][t, s, n]) != first["rtl"]
    full = results["full_rate"]
    vcd = tmp_path / "cosim" / f"failing_sample{full['first_mismatches'][0]['sample']}.vcd"
    assert full["trace"] == str(vcd)
    text = vcd.read_text()
    assert "$enddefinitions" in text and "fc0" in text and text.count("\n#") > 10


def test_fast_harness_and_cocotb_agree(tmp_path):
    net, inputs = random_network(4)
    fast = verify_network(net, inputs, tmp_path / "fast", sim="fast", lanes=4,
                          weight_memory="spram", log=lambda line: None)
    reference = verify_network(net, inputs, tmp_path / "cocotb", sim="icarus", lanes=4,
                               weight_memory="spram", log=lambda line: None)
    assert fast.mismatches == reference.mismatches == 0
    assert fast.full_rate["total_cycles"] == reference.full_rate["total_cycles"]
    assert fast.full_rate["eot_cycles"] == reference.full_rate["eot_cycles"]
    counts = np.asarray(fast.full_rate["output_counts"]).reshape(inputs.shape[1], -1)
    np.testing.assert_array_equal(counts, fast.trace.output.sum(axis=0))


def test_build_exits_nonzero_after_writing_the_report_that_names_the_mismatch(
        small_model, tmp_path, capsys, monkeypatch):
    """Fault injection through the real flow: the Verilog is generated from the IR with the
    first layer's weights cleared; the golden model runs the true IR."""
    import json

    import snnhw.build
    from snnhw.cli import main

    real_write_rtl = snnhw.build.write_rtl

    def faulty_write_rtl(net, folder, lanes, weight_memory, membrane_memory):
        layer = net.layers[0]
        weight = layer.weight.copy()
        weight[:, :] = 0           # within the accumulator's bound, but no input reaches fc0
        bad = replace(net, layers=(replace(layer, weight=weight), *net.layers[1:]))
        return real_write_rtl(bad, folder, lanes, weight_memory, membrane_memory)

    monkeypatch.setattr(snnhw.build, "write_rtl", faulty_write_rtl)
    out = tmp_path / "hw"
    code = main(["build", str(small_model), "--samples", "3", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2
    assert "the RTL differs from the golden model" in err and "layer fc0" in err
    report = json.loads((out / "report.json").read_text())
    assert report["rtl"]["mismatches"] > 0 and report["rtl"]["layer_mismatches"]["fc0"] > 0
    assert report["rtl"]["first_mismatch"]["layer"] == "fc0"
    assert "fc0:" in (out / "report.md").read_text()


def test_a_design_compiled_before_comes_from_the_cache(tmp_path, monkeypatch):
    """The same Verilog compiles once: a second build folder gets the cached binary (no
    Verilator run, no build log) and it gives the same results; another design, or
    SNNHW_CACHE=off, compiles, the other design (an unoptimised build, as the first) with
    Verilator's runtime header precompiled by the first build."""
    monkeypatch.setenv("SNNHW_CACHE", str(tmp_path / "cache"))
    net, inputs = random_network(2)
    check = verify_network(net, inputs, tmp_path / "a", sim=None, log=lambda line: None)
    verify_network(net, inputs, tmp_path / "b", sim=None, log=lambda line: None)
    budget = 2 * check.estimate.total + 10_000

    def run(folder, build_dir):
        return verify_fast(tmp_path / folder, net, inputs, check.trace.spikes, load=b"",
                           stall=0.3, seed=1, cycle_budget=budget,
                           build_dir=tmp_path / build_dir)

    first = run("a", "build_a")
    assert (tmp_path / "build_a" / "build.log").is_file()
    second = run("b", "build_b")
    assert not (tmp_path / "build_b" / "build.log").exists()      # from the cache
    for name in first:
        assert first[name]["mismatches"] == second[name]["mismatches"] == 0
        assert first[name]["eot_cycles"] == second[name]["eot_cycles"]
    other, other_inputs = random_network(5)
    other_check = verify_network(other, other_inputs, tmp_path / "c", sim=None,
                                 log=lambda line: None)
    headers = list((tmp_path / "cache" / "pch").glob("*/verilated.h.gch"))
    assert len(headers) == 1
    other_results = verify_fast(tmp_path / "c", other, other_inputs, other_check.trace.spikes,
                                load=b"", stall=0.3, seed=1,
                                cycle_budget=2 * other_check.estimate.total + 10_000,
                                build_dir=tmp_path / "build_c")
    log = (tmp_path / "build_c" / "build.log").read_text()
    assert f"-include {headers[0].with_suffix('')}" in log and "not used because" not in log
    assert all(r["mismatches"] == 0 for r in other_results.values())
    monkeypatch.setenv("SNNHW_CACHE", "off")
    run("b", "build_off")
    assert (tmp_path / "build_off" / "build.log").is_file()
