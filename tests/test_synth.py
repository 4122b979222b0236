"""Synthesis with the real open-source flows (YoWASP Yosys + nextpnr) on a small network."""

from __future__ import annotations

import json

import pytest

from snnhw import ir
from snnhw.build import verify_network
from snnhw.cli import main
from snnhw.report import write_report
from snnhw.synth import TARGETS, estimate_resources

from netgen import random_network


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    net, inputs = random_network(5)
    folder = tmp_path_factory.mktemp("synth")
    ir.save(net, folder / "ir")
    check = verify_network(net, inputs, folder, sim=None, log=lambda s: None)
    write_report(folder, {"name": net.name, "sizes": [net.input_features], "timesteps":
                          net.timesteps, "accuracy": {"float": 0, "fixed": 0, "samples": 0},
                          "rtl": {"simulator": "none", "samples": 0, "mismatches": 0},
                          "cycles_per_timestep": {"measured_mean": None, "measured_max": None,
                                                  "predicted": check.estimate.per_timestep_mean},
                          "sops_per_sample": 0, "energy_pj_per_sample": 1.0,
                          "memory_bits": {"total": 0}, "bits": {"weight": 8}})
    return folder


@pytest.mark.parametrize("target", list(TARGETS))
def test_synth_places_and_routes(small_build, target, capsys):
    assert main(["synth", str(small_build), "--target", target]) == 0
    report = json.loads((small_build / "report.json").read_text())
    syn = report["synth"]
    assert syn["target"] == target and syn["fits"] is True
    for key in ("cells", "brams", "sprams", "dsps", "fmax_mhz", "latency_us_per_sample"):
        assert key in syn
    assert syn["cells"] > 20 and syn["fmax_mhz"] > 5
    assert syn["dsps"] == 0          # no multipliers: constant products are shift-adds
    assert syn["latency_us_per_sample"] == pytest.approx(
        report["cycles_per_timestep"]["predicted"] * report["timesteps"] / syn["fmax_mhz"])
    assert f"{target}: fits=True" in capsys.readouterr().out


def test_demo_sized_memories_do_not_fit_ice40_block_ram():
    """784-128-10 at 8 bits: 800 kbit of weights against 120 kbit of iCE40 EBR."""
    import numpy as np
    layer = ir.LIFLayer(name="fc0", in_features=784, out_features=128, weight_bits=8,
                        membrane_bits=16, accumulator_bits=17, threshold=100, leak_mult=128,
                        leak_frac_bits=8, reset="zero", scale=1.0,
                        weight=np.zeros((128, 784), np.int64), bias=np.zeros(128, np.int64))
    net = ir.Network(name="big", timesteps=10, input_features=784, layers=(layer,),
                     encoding={}, dataset={}, source={})
    est = estimate_resources(net, TARGETS["ice40-up5k"])
    assert est["fits_bram"] is False and est["brams_needed"] > 30
    assert estimate_resources(net, TARGETS["ecp5-25k"])["brams_needed"] <= 56


def test_synth_rejects_a_folder_that_is_not_a_build(tmp_path, capsys):
    assert main(["synth", str(tmp_path)]) == 2
    assert "not an snnhw build folder" in capsys.readouterr().err
