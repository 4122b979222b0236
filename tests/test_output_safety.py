"""Nothing lost, nothing half-done: output folders, atomic replacement, locks, umask, and
signals with real child processes (make, Verilator, the C++ compiler)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snnhw.buildfolder import open_build
from snnhw.cli import main
from snnhw.outdir import MARKER, OutputFolder

from test_bad_input import assert_refused

ROOT = Path(__file__).parent.parent
TINY = ["--set", "epochs=1", "--set", 'layers=["16FC"]', "--set", "train_samples=400",
        "--set", "timesteps=4", "--quiet"]


def _snapshot(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _hidden_siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _build(model: Path, out: Path | str, *extra: str) -> list[str]:
    return ["build", str(model), "--samples", "0", "--quiet", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def earlier_build(small_model, tmp_path_factory) -> Path:
    """One real build (no cosimulation), copied by the cases that need one beside them."""
    out = tmp_path_factory.mktemp("earlier") / "hw"
    assert main(_build(small_model, out)) == 0
    return out


@pytest.fixture
def model(small_model, tmp_path) -> Path:
    copy = tmp_path / "models" / "model.pt"
    copy.parent.mkdir()
    shutil.copyfile(small_model, copy)
    return copy


def test_train_and_build_defaults_never_collide(tmp_path, monkeypatch, capsys):
    """The README's flow with default paths: the model, its metrics and its curve survive
    the build, which goes to build/<name>/hw."""
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(ROOT / "train" / "stbp_mlp.toml"), *TINY]) == 0
    trained = _snapshot(tmp_path / "build" / "stbp_mlp")
    assert {p.name for p in trained} == {"model.pt", "model.metrics.json", "model.training.png"}
    assert main(["build", "build/stbp_mlp/model.pt", "--samples", "0", "--quiet"]) == 0
    for path, data in trained.items():
        assert path.read_bytes() == data, path
    assert (tmp_path / "build" / "stbp_mlp" / "hw" / MARKER).is_file()
    open_build(tmp_path / "build" / "stbp_mlp" / "hw")
    # a second training replaces its own model (and only that)
    assert main(["train", str(ROOT / "train" / "stbp_mlp.toml"), *TINY]) == 0
    assert (tmp_path / "build" / "stbp_mlp" / "hw" / MARKER).is_file()


@pytest.mark.parametrize("case", ["user folder", "dot", "empty", "parent", "home", "holds model",
                                  "is the model folder", "symlink", "a file"])
def test_refused_output_folders(model, earlier_build, tmp_path, monkeypatch, capsys, case):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thesis.tex").write_text("years of work")
    shutil.copytree(earlier_build, tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "notes.txt").write_text("mine")
    out, needle = {
        "user folder": (docs, "exists and was not written by snnhw"),
        "dot": (".", "the working directory cannot be an output folder"),
        "empty": ("", "an empty path"),
        "parent": ("..", "the working directory or one of its parents"),
        "home": (tmp_path / "home", "your home folder"),
        "holds model": (tmp_path, "the working directory or one of its parents"),
        "is the model folder": (model.parent, f"holds the input {model}"),
        "symlink": (tmp_path / "link", "is a symbolic link"),
        "a file": (tmp_path / "notes.txt", "exists and is not a folder"),
    }[case]
    before = _snapshot(tmp_path)
    code, err = main(_build(model, out)), capsys.readouterr().err.strip()
    assert_refused(code, err, needle)
    assert _snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["docs", "home", "link", "models", "notes.txt", "real"])


def test_model_named_as_a_path_builds_under_its_name_only(model, tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.chdir(tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    payload = torch.load(model, weights_only=True)
    payload["name"] = str(victim)
    torch.save(payload, model)
    code, err = main(["build", str(model), "--samples", "0"]), capsys.readouterr().err.strip()
    assert_refused(code, err, "never a path")
    assert (victim / "keep.txt").read_text() == "keep" and not (tmp_path / "build").exists()


def test_an_earlier_build_is_replaced_whole(model, tmp_path, capsys):
    out = tmp_path / "hw"
    assert main(_build(model, out, "--fixed", "6")) == 0
    (out / "left-over.txt").write_text("from the first build")
    assert main(_build(model, out, "--fixed", "4")) == 0
    assert not (out / "left-over.txt").exists()
    assert json.loads((out / "report.json").read_text())["bits"]["weight"] == 4
    assert _hidden_siblings(out) == []
    open_build(out)


def test_an_empty_folder_may_be_the_output(model, tmp_path, capsys):
    out = tmp_path / "hw"
    out.mkdir()
    assert main(_build(model, out)) == 0
    open_build(out)


def test_a_failed_build_leaves_the_earlier_one_untouched(model, earlier_build, tmp_path, capsys,
                                                        monkeypatch):
    import snnhw.build
    from snnhw import SnnhwError

    out = tmp_path / "hw"
    shutil.copytree(earlier_build, out)
    before = _snapshot(out)

    def fail(*args, **kwargs):
        raise SnnhwError("disk full (injected)")

    monkeypatch.setattr(snnhw.build, "write_report", fail)
    code, err = main(_build(model, out, "--fixed", "4")), capsys.readouterr().err.strip()
    assert_refused(code, err, "disk full (injected)")
    assert _snapshot(out) == before
    assert _hidden_siblings(out) == []


def test_stale_staging_of_a_killed_run_is_removed(model, tmp_path, capsys):
    out = tmp_path / "hw"
    for name in (".hw.partial-abc123", ".hw.old-def456"):
        (tmp_path / name / "rtl").mkdir(parents=True)
        (tmp_path / name / MARKER).write_text('{"format": "snnhw-build", "version": 1}')
    foreign = tmp_path / ".hw.partial-notours"
    foreign.mkdir()
    (foreign / "data.bin").write_bytes(b"not snnhw's")
    assert main(_build(model, out)) == 0
    assert _hidden_siblings(out) == [".hw.partial-notours"]
    assert (foreign / "data.bin").read_bytes() == b"not snnhw's"


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(model, tmp_path, capsys):
    out = tmp_path / "hw"
    with OutputFolder(out) as staging:
        code, err = main(_build(model, out)), capsys.readouterr().err.strip()
        assert_refused(code, err, f"another snnhw run (pid {os.getpid()}) is writing")
        assert staging.is_dir() and not out.exists()
    # the first writer's (empty) output appears on its clean exit
    assert sorted(p.name for p in out.iterdir()) == [MARKER] and _hidden_siblings(out) == []


def test_concurrent_builds_into_one_folder(model, tmp_path):
    """Two real processes: each either builds or is refused by the lock in one line; the
    folder that results is one whole build."""
    out = tmp_path / "hw"
    procs = [subprocess.Popen([sys.executable, "-m", "snnhw.cli", *_build(model, out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outcomes = [(p.wait(120), p.stderr.read().strip()) for p in procs]
    for code, err in outcomes:
        assert code == 0 or (code == 2 and "another snnhw run" in err
                             and len(err.splitlines()) == 1), (code, err)
    assert any(code == 0 for code, _ in outcomes)
    open_build(out)
    assert _hidden_siblings(out) == []


def test_files_follow_the_umask(tmp_path):
    script = (f"import os, sys; os.umask(0o027); from snnhw.cli import main; "
              f"sys.exit(main(['train', {str(ROOT / 'train' / 'stbp_mlp.toml')!r}, "
              f"*{TINY!r}, '--out', 'm/model.pt']) or main(['build', 'm/model.pt', "
              f"'--samples', '0', '--quiet', '--out', 'hw']))")
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True,
                   capture_output=True)
    files = [tmp_path / "m" / "model.pt", tmp_path / "m" / "model.metrics.json",
             tmp_path / "hw" / "ir" / "network.json", tmp_path / "hw" / "ir" / "network.npz",
             tmp_path / "hw" / "report.json", tmp_path / "hw" / "rtl" / "snn_top.v"]
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o640, (path, oct(path.stat().st_mode))
    for folder in (tmp_path / "hw", tmp_path / "hw" / "ir"):
        assert folder.stat().st_mode & 0o777 == 0o750, folder


# --- signals -------------------------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> dict[int, str]:
    tree, found, todo = _children(), {}, [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            try:
                found[child] = (Path("/proc") / str(child) / "comm").read_text().strip()
            except OSError:
                continue
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_verilator_build(model: Path, out: Path) -> tuple[subprocess.Popen, dict[int, str]]:
    """A build whose cosimulation is compiling on Verilator: returns once make or the C++
    compiler runs, with the descendants at that moment."""
    proc = subprocess.Popen([sys.executable, "-m", "snnhw.cli", "build", str(model), "--sim",
                             "verilator", "--samples", "2", "--quiet", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = _descendants(proc.pid)
        if any(name in ("make", "cc1plus", "g++", "c++", "ccache") for name in found.values()):
            return proc, found
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the build never started compiling")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_ends_the_tools_and_leaves_the_earlier_build(model, earlier_build, tmp_path,
                                                               signum):
    out = tmp_path / "hw"
    shutil.copytree(earlier_build, out)
    before = _snapshot(out)
    proc, children = _start_verilator_build(model, out)
    assert _hidden_siblings(out)            # the staging folder is there while it runs
    os.kill(proc.pid, signum)
    code = proc.wait(60)
    err = proc.stderr.read()
    assert code == 128 + signum, (code, err)
    assert "Traceback" not in err
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [f"{pid} {name}" for pid, name in children.items() if _alive(pid)]
    assert _snapshot(out) == before and _hidden_siblings(out) == []


def test_after_sigkill_the_next_build_removes_the_staging_folder(model, tmp_path):
    out = tmp_path / "hw"
    proc, _ = _start_verilator_build(model, out)
    tools = _descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)     # cannot be caught: nothing is cleaned up
    proc.wait(30)
    for pid in tools:                       # the tools it left behind, ended by the test
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    stale = _hidden_siblings(out)
    assert any(".partial-" in name for name in stale), stale
    assert main(_build(model, out)) == 0
    assert _hidden_siblings(out) == []
    open_build(out)
