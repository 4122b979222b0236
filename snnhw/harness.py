"""Verify stage, fast path: a compiled Verilator harness (``sim/harness.cpp``) that streams
the stimulus and checks the events of every layer at every timestep against the golden
model, with seeded random valid/ready back-pressure, in C++.

The cocotb testbench (:mod:`snnhw.cosim`) stays the readable reference; both report the same
result dictionary per run (``stalls`` and ``full_rate``), and the fast one adds the
mismatches per layer. Layer outputs inside the design are read through Verilator's
``public_flat_rd`` on each core's ``o`` stream (a lint-config file, so the rest of the model
is optimised as usual); the last layer is the top's ``o`` port.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import os
import shlex
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import SnnhwError, cache
from .cosim import (
    LINT_WAIVERS,
    VERILATOR_UNOPTIMISED,
    VERILATOR_UNOPTIMISED_BELOW,
    find_simulator,
    verilator_makeflags,
    watch_progress,
)
from .hdl import TOP_NAME, index_bits, output_value_bits, value_bits
from .ir import Network
from .processes import run, run_all

__all__ = ["HARNESS_TESTS", "HarnessRun", "compile_harness", "run_harness", "verify_fast",
           "write_vectors"]

HARNESS_TESTS = ("stalls", "full_rate")
MAGIC = b"SNNHWV2\0"
TAPS_HEADER = "snnhw_taps.h"
TAPS_CONFIG = "taps.vlt"
# the fast model: optimised C++, X values resolved once at start
VERILATOR_FLAGS = ["--x-assign", "fast", "--x-initial", "fast", "-O3"]
# the generated C++ compiled for speed (Verilator's default is -Os)
CXX_OPTIMISE = ["OPT_FAST=-O2", "OPT_SLOW=-O1", "OPT_GLOBAL=-O2"]
RUNTIME_HEADER = "verilated.h"       # Verilator's runtime header: most of a small build's parsing


def _vl_name(name: str) -> str:
    """A Verilog name as Verilator spells it in C++ (a double underscore is ``___05F``)."""
    return name.replace("__", "___05F")


def write_vectors(path: Path, inputs: np.ndarray, expected: list[np.ndarray],
                  load: bytes = b"", values: np.ndarray | None = None,
                  value_bits: int = 0) -> Path:
    """The harness's stimulus and expectations (format in ``sim/harness.cpp``): input spikes
    ``uint8 [T, S, F]``, every layer's golden events ``uint8 [T, S, N_l]``, a readout's
    ``value_bits``-bit membranes ``[T, S, N]`` (``values``, with the width), the run-time
    weight bytes."""
    steps, samples, features = inputs.shape
    with open(path, "wb") as fh:
        fh.write(MAGIC + struct.pack("<4I", steps, samples, features, len(expected)))
        fh.write(struct.pack(f"<{len(expected)}I", *(e.shape[2] for e in expected)))
        fh.write(struct.pack("<2I", value_bits if values is not None else 0, len(load)))
        fh.write(np.ascontiguousarray(inputs, dtype=np.uint8).tobytes())
        for spikes in expected:
            fh.write(np.ascontiguousarray(spikes, dtype=np.uint8).tobytes())
        if values is not None:
            fh.write(np.ascontiguousarray(values, dtype="<i4").tobytes())
        fh.write(load)
    return path


def _taps(net: Network, has_load: bool, netlist: bool) -> tuple[str, str]:
    """The generated header (layer streams, index widths, load port) and the Verilator
    config that keeps the hidden layers' ``o`` streams readable. A synthesised netlist
    keeps no hidden stream under its name (Yosys merges it into the next core's FIFO), so
    there only the output layer (the top's ``o`` port) is tapped."""
    reads, config = [], ["`verilator_config"]
    tapped = []
    for k, layer in enumerate(net.layers):
        last = k + 1 == len(net.layers)
        tapped.append(last or not netlist)
        if last:
            valid, ready, payload = (f"t->{_vl_name(f'o__{s}')}" for s in ("valid", "ready",
                                                                             "payload"))
        elif netlist:
            reads.append(f"    f[{k}] = false; p[{k}] = 0;")
            continue
        else:
            base = f"t->rootp->{TOP_NAME}__DOT__{_vl_name(layer.name)}__DOT__"
            valid, ready, payload = (base + _vl_name(f"o__{s}") for s in ("valid", "ready",
                                                                         "payload"))
            config += [f'public_flat_rd -module "{TOP_NAME}.{layer.name}" -var "o__{s}"'
                       for s in ("valid", "ready", "payload")]
        reads.append(f"    f[{k}] = {valid} && {ready}; p[{k}] = {payload};")
    bits = ", ".join(str(index_bits(l.out_features)) for l in net.layers)
    load = ("#define SNNHW_LOAD_IDLE(t) ((t)->load___05Fvalid = 0)\n"
            "#define SNNHW_LOAD_DRIVE(t, b) ((t)->load___05Fvalid = 1, "
            "(t)->load___05Fpayload = (b))\n"
            "#define SNNHW_LOAD_READY(t) ((t)->load___05Fready)\n") if has_load else (
            "#define SNNHW_LOAD_IDLE(t) ((void)0)\n"
            "#define SNNHW_LOAD_DRIVE(t, b) ((void)(b))\n"
            "#define SNNHW_LOAD_READY(t) true\n")
    header = (f"// generated by snnhw.harness for network {net.name!r}\n"
              f"#define SNNHW_LAYERS {len(net.layers)}\n"
              f"#define SNNHW_INPUT_INDEX_BITS {index_bits(net.input_features)}\n"
              f"#define SNNHW_INPUT_VALUE_BITS {value_bits(net.input_bits)}\n"
              f"static const uint32_t SNNHW_INDEX_BITS[] = {{{bits}}};\n"
              f"static const bool SNNHW_TAPPED[] = {{{', '.join(str(t).lower() for t in tapped)}}};\n"
              + load + "#define SNNHW_READ_TAPS(t, f, p) do { \\\n" +
              " \\\n".join(reads) + " \\\n} while (0)\n")
    return header, "\n".join(config) + "\n"


def compile_harness(folder: Path, net: Network, build_dir: Path, *, has_load: bool,
                    trace: bool = False, netlist: list[Path] | None = None,
                    includes: Sequence[Path] = (), quick: bool = False) -> Path:
    """Verilate ``folder/rtl/<top>.v`` (or ``netlist``: a synthesised netlist and its cell
    models, ``includes`` the folders of their headers) with the harness into ``build_dir``;
    returns the binary; ``quick``: the C++ unoptimised (compiles several times faster, for
    runs of few cycles). Needs Verilator, make and a C++ compiler (checked first). An RTL
    design compiled before with the same sources, flags and tools comes from
    :mod:`snnhw.cache` instead."""
    find_simulator("verilator")
    build_dir.mkdir(parents=True, exist_ok=True)
    header, config = _taps(net, has_load, netlist=bool(netlist))
    (build_dir / TAPS_HEADER).write_text(header)
    (build_dir / TAPS_CONFIG).write_text(config)
    harness = importlib.resources.files("snnhw.sim").joinpath("harness.cpp")
    (build_dir / "harness.cpp").write_text(harness.read_text())
    optimise = VERILATOR_UNOPTIMISED.split() if quick else CXX_OPTIMISE
    obj = build_dir / "obj"
    binary = obj / "harness"
    # the same design compiled before (its memory contents are read at run time): reuse it
    rtl = [folder / "rtl" / f"{TOP_NAME}.v", folder / "rtl" / LINT_WAIVERS]
    cache_key = None if netlist or not all(f.is_file() for f in rtl) else cache.key([
        "snnhw fast harness 1", *(f.read_bytes() for f in rtl), header, config,
        harness.read_text(),
        " ".join([*VERILATOR_FLAGS, *optimise, f"trace={trace}"]),
        cache.tool_versions("verilator", os.environ.get("CXX") or "c++")])
    cached = cache.read("harness", cache_key) if cache_key else None
    if cached is not None:
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_bytes(cached)
        binary.chmod(0o755)
        return binary
    sources = [str(p.resolve()) for p in netlist] if netlist else [
        str((folder / "rtl" / f"{TOP_NAME}.v").resolve())]
    lint = ["-Wno-fatal", "-Wno-lint", "-Wno-style",
            *(f"-I{p.resolve()}" for p in includes)] if netlist else [
        "-Wall", str((folder / "rtl" / LINT_WAIVERS).resolve())]
    jobs = str(max(1, min(4, os.cpu_count() or 1)))
    verilate = [shutil.which("verilator") or "verilator", "--cc", "--exe", "-j", jobs,
                *VERILATOR_FLAGS, *lint, *(["--trace"] if trace else []),
                "--top-module", TOP_NAME,
                "-CFLAGS", f"-I{build_dir.resolve()} -DSNNHW_TRACE={int(trace)} "
                f"-DSNNHW_SKIP_SETTLED={int(not netlist)}",
                "-Mdir", str(obj.resolve()), "-o", "harness",
                str((build_dir / TAPS_CONFIG).resolve()), *sources,
                str((build_dir / "harness.cpp").resolve())]
    # an unoptimised build reads the runtime header precompiled, made by the first such build
    pch_key = cache.key(["snnhw runtime pch 1", *optimise, f"trace={trace}",
                         cache.tool_versions("verilator", os.environ.get("CXX") or "c++")]
                        ) if quick else None
    header = cache.read_folder("pch", pch_key) if pch_key else None
    make_vars = [*verilator_makeflags().split(), *optimise]
    if header is not None:   # the model and the harness read the runtime header precompiled
        pch = f"-include {header / RUNTIME_HEADER} -Winvalid-pch"
        make_vars = [f"{v} {pch}" if v.startswith(("OPT_FAST=", "OPT_SLOW=")) else v
                     for v in make_vars]
    log = build_dir / "build.log"
    with open(log, "w") as fh:
        code = run(verilate, cwd=build_dir, stdout=fh, stderr=fh)
        if code == 0:
            code = run(["make", "-C", str(obj.resolve()), "-f", f"V{TOP_NAME}.mk", "-j", jobs,
                        *make_vars, "harness"], cwd=build_dir, stdout=fh, stderr=fh)
    if code == 0 and pch_key and header is None:
        _precompile_runtime_header(log, obj, pch_key)
    if code != 0 or not binary.is_file():
        tail = [line for line in log.read_text().splitlines() if "Error" in line][:1] or \
            log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise SnnhwError(f"the fast harness did not compile (exit {code}: {tail[0].strip()}); "
                         f"see {log}")
    if cache_key:
        cache.write("harness", cache_key, binary.read_bytes())
    return binary


@dataclass(frozen=True)
class HarnessRun:
    """One run of the compiled harness: stall probability of every stream, the seed of the
    stall pattern, the cycle budget, optionally ``(vcd_path, sample)`` to trace, and the
    sample whose RTL events of every layer the results list (``"raster"``)."""

    stall: float
    seed: int
    cycle_budget: int
    trace: tuple[Path, int] | None = None
    raster_sample: int | None = None


def run_harness(binary: Path, vectors: Path, runs: dict[str, HarnessRun], *, workdir: Path,
                parallel: bool = True,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The compiled harness on ``vectors`` once per entry of ``runs``, side by side when
    ``parallel`` (else one after the other), in ``workdir`` (a sibling folder of ``rtl/``,
    where the memory images' ``../rtl/`` paths resolve); returns each run's results by name.
    ``progress(done, total)`` counts the samples of all runs."""
    names = list(runs)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        done: dict[str, int] = dict.fromkeys(names, 0)
        jobs = []
        for name in names:
            spec, folder = runs[name], Path(tmp) / name
            folder.mkdir()
            cmd = [str(binary), str(vectors.resolve()), str(folder / "results.json"),
                   repr(spec.stall), str(spec.seed), str(spec.cycle_budget)]
            if spec.trace:
                cmd += [str(spec.trace[0].resolve()), str(spec.trace[1])]
            env = {**os.environ, "SNNHW_PROGRESS": str(folder / "progress")}
            if spec.raster_sample is not None:
                env["SNNHW_RASTER_SAMPLE"] = str(spec.raster_sample)
            log = stack.enter_context(open(folder / "log", "w"))
            jobs.append((cmd, {"cwd": workdir, "env": env, "stdout": log, "stderr": log}))
            if progress is not None:
                def advance(count: int, total: int, name: str = name) -> None:
                    done[name] = count
                    progress(sum(done.values()), total * len(names))
                stack.enter_context(watch_progress(folder / "progress", advance))
        codes = (run_all(jobs) if parallel else
                 [run(cmd, **keywords) for cmd, keywords in jobs])
        stack.close()
        results = {}
        for name, code in zip(names, codes):
            folder = Path(tmp) / name
            if code != 0 or not (folder / "results.json").is_file():
                text = (folder / "log").read_text().strip().splitlines()[-1:] or ["(no output)"]
                raise SnnhwError(f"the fast harness failed (exit {code}): {text[0]}")
            results[name] = json.loads((folder / "results.json").read_text())
    for name, out in results.items():
        out["timesteps_per_second"] = (out["samples"] * out["timesteps"] / out["wall_seconds"]
                                       if out["wall_seconds"] > 0 else None)
        if out["hung"]:
            raise SnnhwError(f"the design stopped answering ({name} run): "
                             f"{out['total_cycles']} cycles without all "
                             f"{out['samples'] * out['timesteps']} output timesteps (budget "
                             f"{runs[name].cycle_budget})")
    return results


def _precompile_runtime_header(log: Path, obj: Path, pch_key: str) -> None:
    """Precompile Verilator's runtime header into the cache with the flags ``make`` just
    compiled the model with (its command in ``log``), for the next unoptimised builds: it
    is most of their parsing (a small model and the harness: about 6 s of compiler time
    without it, 2 s with it). GCC ignores a precompiled header built with other flags, so
    a stale one costs time, never correctness."""
    model = f"V{TOP_NAME}__ALL.o"
    line = next((line for line in log.read_text().splitlines()
                 if f"-o {model} " in line and " -c " in line), None)
    if line is None:
        return
    words = shlex.split(line)
    if words[0] == "ccache":
        words = words[1:]
    compiler, flags = words[0], []
    rest = iter(words[1:])
    for word in rest:
        if word == "-o":
            next(rest, None)
        elif word not in ("-c", "-MMD", "-I.") and not word.endswith(".cpp"):
            flags.append(word)
    source = next((Path(w[2:]) / RUNTIME_HEADER for w in flags
                   if w.startswith("-I") and (Path(w[2:]) / RUNTIME_HEADER).is_file()), None)
    if source is None:
        return

    def fill(folder: Path) -> bool:
        shutil.copy(source, folder / RUNTIME_HEADER)
        return run([compiler, *flags, "-x", "c++-header", str(folder / RUNTIME_HEADER),
                    "-o", str(folder / f"{RUNTIME_HEADER}.gch")], cwd=obj,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0

    cache.write_folder("pch", pch_key, fill)


def verify_fast(folder: Path, net: Network, inputs: np.ndarray, expected: list[np.ndarray],
                *, load: bytes, stall: float, seed: int, cycle_budget: int,
                values: np.ndarray | None = None,
                netlist: list[Path] | None = None, includes: Sequence[Path] = (),
                build_dir: Path | None = None, dump_failing: bool = False,
                raster_sample: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Compile the harness for ``folder``'s design (or ``netlist``, see
    :func:`compile_harness`: then only the output layer is compared) and run it twice: with
    random stalls (probability ``stall``) and at full rate; ``progress(done, total)`` counts
    the samples of both runs. With ``dump_failing``, the first mismatching sample is run again with a VCD
    trace, ``folder/cosim/failing_sample<k>.vcd``. The full-rate run lists the RTL's events of
    ``raster_sample`` in every observed layer (``"raster"``: layer, timestep, neuron).
    ``expected``: every layer's golden events (``Trace.spikes``); a readout's membranes
    (``Trace.values``) are required in ``values``."""
    value_bits = output_value_bits(net)
    if value_bits and values is None:
        raise ValueError(f"layer {net.layers[-1].name} is a readout: its golden membranes "
                         f"(Trace.values) are needed to check it")
    build = build_dir or folder / "sim_build" / "harness"
    # both runs together simulate at most 5 x cycle_budget cycles
    quick = 5 * cycle_budget < VERILATOR_UNOPTIMISED_BELOW
    binary = compile_harness(folder, net, build, has_load=bool(load), netlist=netlist,
                             includes=includes, quick=quick)
    workdir = folder / "cosim"
    workdir.mkdir(parents=True, exist_ok=True)
    vectors = write_vectors(build / "vectors.bin", inputs, expected, load,
                            values if value_bits else None, value_bits)
    runs = {"stalls": HarnessRun(stall, seed, 4 * cycle_budget),
            "full_rate": HarnessRun(0.0, seed, cycle_budget, raster_sample=raster_sample)}
    results = run_harness(binary, vectors, runs, workdir=workdir,
                          parallel=len(os.sched_getaffinity(0)) > 1, progress=progress)
    failing = [r["first_mismatches"][0] for r in results.values() if r["first_mismatches"]]
    if dump_failing and failing:
        sample = failing[0]["sample"]
        traced = compile_harness(folder, net, build / "trace", has_load=bool(load), trace=True,
                                 netlist=netlist, includes=includes, quick=quick)
        vcd = workdir / f"failing_sample{sample}.vcd"
        run_harness(traced, vectors, {"trace": HarnessRun(0.0, seed, cycle_budget,
                                                          (vcd, sample))}, workdir=workdir)
        results["full_rate"]["trace"] = str(vcd)
    return results
