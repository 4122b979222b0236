"""Bad input: one clear line, a non-zero exit, and no output folder."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from snnhw.checkpoint import load_checkpoint, save_checkpoint
from snnhw.cli import main


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def _assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("snnhw: error: ")
    for needle in needles:
        assert needle in err, (needle, err)


def test_missing_model(tmp_path, capsys):
    out = tmp_path / "out"
    code, err = _run(capsys, "build", str(tmp_path / "nope.pt"), "--out", str(out))
    _assert_one_line_error(code, err, "nope.pt", "no such model file")
    assert not out.exists()


def test_corrupt_model(tmp_path, capsys):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"this is not a zip archive" * 10)
    out = tmp_path / "out"
    code, err = _run(capsys, "build", str(bad), "--out", str(out))
    _assert_one_line_error(code, err, str(bad), "not a readable snnhw model.pt")
    assert not out.exists()


def test_pickled_class_is_refused(tmp_path, capsys):
    """weights_only loading: a file holding an arbitrary object is rejected, not executed."""
    evil = tmp_path / "model.pt"
    torch.save({"format": "snnhw-model", "payload": object()}, evil)
    code, err = _run(capsys, "build", str(evil), "--out", str(tmp_path / "out"))
    _assert_one_line_error(code, err, "not a readable snnhw model.pt")


def test_wrong_format_version(small_model, tmp_path, capsys):
    model = load_checkpoint(small_model)
    path = tmp_path / "v99.pt"
    torch.save(dict(model, version=99), path)
    code, err = _run(capsys, "build", str(path), "--out", str(tmp_path / "out"))
    _assert_one_line_error(code, err, "version 99 is not supported", "reads version 1")
    assert not (tmp_path / "out").exists()


def test_unsupported_layer(small_model, tmp_path, capsys):
    model = load_checkpoint(small_model)
    arch = model["architecture"][:2] + [{"type": "avgpool", "kernel": 2}] + model["architecture"][2:]
    path = tmp_path / "pool.pt"
    save_checkpoint(path, name="pool", architecture=arch, encoding=model["encoding"],
                    dataset=model["dataset"], state_dict=model["state_dict"], metrics={})
    code, err = _run(capsys, "build", str(path), "--out", str(tmp_path / "out"))
    _assert_one_line_error(code, err, "layer 2 has type 'avgpool'", "does not support")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bits", ["1", "17"])
def test_fixed_out_of_range(small_model, tmp_path, capsys, bits):
    code, err = _run(capsys, "build", str(small_model), "--fixed", bits, "--out",
                     str(tmp_path / "out"))
    _assert_one_line_error(code, err, f"--fixed {bits}", "allowed 2..16")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--samples", "-1", "--samples -1: must be >= 0"),
    ("--stall", "1.0", "--stall 1.0: a probability in [0, 1) is required"),
])
def test_bad_build_options(small_model, tmp_path, capsys, option, value, message):
    code, err = _run(capsys, "build", str(small_model), option, value, "--out",
                     str(tmp_path / "out"))
    _assert_one_line_error(code, err, message)
    assert not (tmp_path / "out").exists()


def test_threshold_overflow(small_model, tmp_path, capsys):
    code, err = _run(capsys, "build", str(small_model), "--membrane-bits", "5", "--out",
                     str(tmp_path / "out"))
    _assert_one_line_error(code, err, "threshold", "does not fit a 5-bit membrane")
    assert not (tmp_path / "out").exists()


def test_missing_simulator(small_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    code, err = _run(capsys, "build", str(small_model), "--sim", "icarus", "--out",
                     str(tmp_path / "out"))
    _assert_one_line_error(code, err, "simulator 'icarus' not found", "apt-get install iverilog")
    assert not (tmp_path / "out").exists()


def test_unwritable_output(small_model, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, err = _run(capsys, "build", str(small_model), "--samples", "0", "--out",
                     str(blocker / "sub" / "out"))
    _assert_one_line_error(code, err, "cannot write the output folder")
    assert list(tmp_path.iterdir()) == [blocker]


def test_console_script_reports_errors():
    proc = subprocess.run([sys.executable, "-m", "snnhw.cli", "build", "/nonexistent/model.pt"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "snnhw: error: /nonexistent/model.pt: no such model file"
