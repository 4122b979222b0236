"""Convolutional hardware: a CNN recipe built, verified and synthesised, beside the demo.

Trains ``--recipe`` (default ``train/stbp_cnn.toml``: 16C5-AP2-32C5-AP2-10 on the bundled
MNIST digits, direct encoding: 8-bit pixels into the first convolution; or
``train/neunorm_cnn.toml``) when ``--model`` is missing, then:

1. ``snnhw build --lanes P --fixed N --membrane-memory M`` for every ``--membranes`` entry
   (default ``bram``, one kernel tap per clock, and ``banked``, a kernel row per clock) with
   the fast Verilator harness on ``--samples`` test digits (every layer, with and without
   stalls; 0 mismatches required);
2. ``snnhw synth`` of each for every ``--targets`` entry, and the synthesised netlist of the
   first fitting one simulated against the golden model on ``--gate-samples`` digits;
3. the cocotb testbench on Icarus on ``--icarus-samples`` of them, each configuration (the
   readable reference);
4. the throughput arithmetic: cycles measured vs predicted vs bound, us and nJ per image,
   and the UP5K memory-port bound (SPRAM: single-ported, 16 bits, four of them);
5. the UP5K as it can be built: ``snnhw build --target icebreaker --fixed <--up5k-bits>``
   (the configuration the estimates choose: weights and membranes in SPRAM where needed),
   checked on the fast harness on ``--up5k-samples`` digits, and its iCEBreaker bitstream
   (the network behind the UART host link: the bare top has more ports than the UP5K's
   package has pins) with nextpnr's utilisation and fmax.

Prints a table, writes ``benchmarks/results/conv_hw.json`` (``conv_hw_<recipe>.json`` for
another recipe) and rewrites its section of ``docs/performance.md`` (the rest of that page is
``hw_sweep.py``'s).

    python benchmarks/conv_hw.py [--model build/stbp_cnn/model.pt] [--lanes 16]
    python benchmarks/conv_hw.py --recipe train/neunorm_cnn.toml --model M --fixed 6 \
        --targets ecp5-85k
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from docblock import replace_block

from snnhw.build import BuildOptions, build, load_dataset
from snnhw.data import encode_numpy
from snnhw.quant import integer_inputs, quantize_file
from snnhw.synth import gate_level_check, synthesise
from snnhw.targets import SPRAM_DEPTH, SPRAM_WIDTH, TARGETS
from snnhw.train import load_recipe, train

RECIPE = Path(__file__).resolve().parent.parent / "train" / "stbp_cnn.toml"
UP5K_SPRAMS = TARGETS["ice40-up5k"].sprams


def _model(path: Path, recipe: Path) -> Path:
    if not path.is_file():
        train(load_recipe(recipe), path)
    return path


def _block(recipe: str) -> str:
    """The docs/performance.md section (and JSON name) of a recipe's run."""
    return "conv_hw" if recipe == "stbp_cnn" else f"conv_hw_{recipe}"


def memory_port_bound(model: Path, lanes: int, weight_bits: int = 8) -> dict:
    """The UP5K arithmetic: which memories its 120 kbit of EBR cannot hold, and the cycles its
    four single-ported SPRAMs (16K x 16 bits each) need for the membranes that must live there.

    Every synaptic update reads and writes its neuron's accumulator: a membrane in SPRAM costs
    at least 2 x (accumulator bits) of port traffic per update, and the four SPRAMs move at
    most 4 x 16 bits per clock (perfect packing over all four, the most optimistic case). The
    convolutions' membranes go to SPRAM when they exceed what the EBR has left beside the
    weights that must stay there (the largest weight memory may take an SPRAM of its own).
    Updates per image from the golden model on the test digits (a replayed direct input:
    every timestep)."""
    from snnhw import golden
    from snnhw.ir import ConvLIFLayer

    model_data, net = quantize_file(model, weight_bits=weight_bits)
    data = load_dataset(model_data["dataset"])
    inputs = integer_inputs(net, encode_numpy(data.x_test, net.encoding))
    trace = golden.run(net, inputs)
    samples = inputs.shape[1]
    ebr_bits = TARGETS["ice40-up5k"].brams * TARGETS["ice40-up5k"].bram_bits
    layers = []
    for layer, x in zip(net.layers, [net.core_inputs(inputs)] + trace.spikes[:-1]):
        events = np.count_nonzero(x, axis=(0, 1))
        conv = isinstance(layer, ConvLIFLayer)
        taps = layer.kernel_size ** 2 if conv else 1
        positions = layer.out_features // layer.out_channels if conv else 1
        layers.append({"layer": layer.name, "conv": conv,
                       # one kernel tap per clock with every channel in parallel (G = 1),
                       # then a sweep over the positions: this core architecture's floor
                       "floor_cycles_per_timestep": float(events.sum()) / samples
                       / net.timesteps * taps + positions + 7,
                       "updates_per_image": float(events @ layer.fan_out()) / samples,
                       "membrane_bits": layer.out_features * layer.state_bits,
                       "accumulator_bits": layer.state_bits,
                       "weight_bits": layer.weight.size * layer.weight_bits})
    weights = sorted((l["weight_bits"] for l in layers), reverse=True)
    # the EBR keeps every weight memory but the largest (in one SPRAM: 256 kbit)
    ebr_left = ebr_bits - sum(weights[1:])
    in_spram = [l for l in layers if l["conv"]]
    if sum(l["membrane_bits"] for l in in_spram) <= ebr_left:
        in_spram = []
    traffic = sum(2 * l["accumulator_bits"] * l["updates_per_image"] for l in in_spram)
    per_clock = UP5K_SPRAMS * SPRAM_WIDTH
    return {"sprams": UP5K_SPRAMS, "spram_bits": UP5K_SPRAMS * SPRAM_WIDTH * SPRAM_DEPTH,
            "ebr_bits": ebr_bits, "ebr_left_beside_weights": ebr_left, "layers": layers,
            "membranes_in_spram": [l["layer"] for l in in_spram],
            "bits_moved_per_image": traffic, "cycles_per_image_min": traffic / per_clock,
            "lanes": lanes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(RECIPE))
    parser.add_argument("--model", default=None,
                        help="model.pt of the recipe (default build/<recipe>/model.pt)")
    parser.add_argument("--lanes", type=int, default=16)
    parser.add_argument("--fixed", type=int, default=8, help="weight bits")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--icarus-samples", type=int, default=20)
    parser.add_argument("--gate-samples", type=int, default=5)
    parser.add_argument("--up5k-bits", type=int, default=4,
                        help="weight bits of the iCEBreaker (UP5K) build (0 skips it)")
    parser.add_argument("--up5k-samples", type=int, default=100)
    parser.add_argument("--up5k-only", action="store_true",
                        help="only the iCEBreaker build, added to --out's results and --doc")
    parser.add_argument("--targets", nargs="+", default=["ice40-up5k", "ecp5-25k", "ecp5-85k"],
                        choices=list(TARGETS))
    parser.add_argument("--router", default="router1", choices=["router1", "router2"],
                        help="nextpnr's router (snnhw synth --router)")
    parser.add_argument("--membranes", nargs="+", default=["bram", "banked"],
                        choices=["bram", "banked"],
                        help="membrane memories built (--membrane-memory), each on --targets")
    parser.add_argument("--demo", default="benchmarks/results/hw_sweep.json",
                        help="hw_sweep.py's results: the dense demo's rows at the same P")
    parser.add_argument("--out", default=None,
                        help="default benchmarks/results/conv_hw[_<recipe>].json")
    parser.add_argument("--doc", default="docs/performance.md")
    parser.add_argument("--render-only", action="store_true",
                        help="only recompute the memory-port arithmetic and rewrite --doc from "
                             "--out (with the runs of any --merge files)")
    parser.add_argument("--merge", nargs="*", default=[],
                        help="JSON files of other runs (e.g. an Icarus run) whose RTL runs "
                             "join --out's")
    args = parser.parse_args()
    name = load_recipe(Path(args.recipe)).name
    args.model = args.model or f"build/{name}/model.pt"
    args.out = args.out or f"benchmarks/results/{_block(name)}.json"
    if args.render_only:
        payload = json.loads(Path(args.out).read_text())
        for other in args.merge:
            payload["runs"] |= json.loads(Path(other).read_text())["runs"]
        payload["up5k_memory_port"] = memory_port_bound(Path(args.model), payload["lanes"],
                                                        payload.get("weight_bits", 8))
        payload.setdefault("recipe", "stbp_cnn")
        _write(payload, Path(args.out), Path(args.doc))
        return
    model = _model(Path(args.model), Path(args.recipe))
    options = dict(lanes=args.lanes, weight_bits=args.fixed)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or None
    if args.up5k_only:
        payload = json.loads(Path(args.out).read_text())
        with tempfile.TemporaryDirectory() as tmp:
            payload["up5k_board"] = up5k_board(model, Path(tmp) / "up5k", args.up5k_bits,
                                               args.up5k_samples) | {"commit": commit}
        _write(payload, Path(args.out), Path(args.doc))
        return
    rows, runs = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for membranes in args.membranes:
            report, run, built = _configuration(model, Path(tmp) / membranes, membranes, args,
                                                options, commit)
            runs[_run_name("verilator_fast", membranes)] = run
            rows += built
        payload = {"recipe": name, "layers": load_recipe(Path(args.recipe)).layers,
                   "width_mult": load_recipe(Path(args.recipe)).width_mult,
                   "model": str(model), "network": report["sizes"],
                   "timesteps": report["timesteps"], "accuracy": report["accuracy"],
                   "lanes": args.lanes, "weight_bits": args.fixed, "runs": runs,
                   "memory_bits": report["memory_bits"],
                   "sops_per_sample": report["sops_per_sample"],
                   "up5k_memory_port": memory_port_bound(model, args.lanes, args.fixed),
                   "rows": rows, "demo": _demo_rows(Path(args.demo), args.lanes)}
        if args.up5k_bits:
            payload["up5k_board"] = up5k_board(model, Path(tmp) / "up5k", args.up5k_bits,
                                               args.up5k_samples) | {"commit": commit}
        # written before the Icarus run (the longest phase: an interrupted run keeps the rest)
        _write(payload, Path(args.out), Path(args.doc))
        for membranes in args.membranes if args.icarus_samples else []:
            started = time.perf_counter()
            icarus = build(model, Path(tmp) / f"icarus_{membranes}",
                           BuildOptions(**options, samples=args.icarus_samples, sim="icarus",
                                        membrane_memory=membranes), log=print)
            runs[_run_name("icarus_cocotb", membranes)] = {
                "samples": icarus["rtl"]["samples"], "mismatches": icarus["rtl"]["mismatches"],
                "seconds": time.perf_counter() - started}
            _write(payload, Path(args.out), Path(args.doc))


def _configuration(model: Path, folder: Path, membranes: str, args: argparse.Namespace,
                   options: dict, commit: str | None) -> tuple[dict, dict, list[dict]]:
    """One membrane memory: the build checked on the fast harness, then synthesised for every
    target (the first fitting one also at gate level); its report, its run and its rows."""
    started = time.perf_counter()
    report = build(model, folder, BuildOptions(**options, samples=args.samples,
                                               membrane_memory=membranes), log=print)
    run = {"samples": report["rtl"]["samples"], "mismatches": report["rtl"]["mismatches"],
           "layer_mismatches": report["rtl"]["layer_mismatches"],
           "membranes": report["rtl"]["membranes"], "seconds": time.perf_counter() - started}
    cycles = report["cycles_per_timestep"]
    gate_done = False
    rows = []
    for target in args.targets:
        syn = synthesise(folder, target, log=print, router=args.router)
        gate = None
        print(f"{target}: fits={syn['fits']} cells={syn['cells']} BRAM={syn['brams']} "
              f"fmax={syn['fmax_mhz']}", flush=True)
        if syn["fits"] and not gate_done and args.gate_samples:
            results = gate_level_check(folder, target, samples=args.gate_samples)
            gate = {"target": target, "samples": results["full_rate"]["samples"],
                    "mismatches": sum(r["mismatches"] for r in results.values())}
            gate_done = True
        rows.append({
            "target": target, "lanes": args.lanes, "membranes": membranes, "fits": syn["fits"],
            "cells": syn["cells"], "brams": syn["brams"], "sprams": syn["sprams"],
            "dsps": syn["dsps"], "fmax_mhz": syn["fmax_mhz"],
            "cycles_measured": cycles["measured_mean"],
            "cycles_predicted": cycles["predicted"], "cycles_bound": cycles["bound"],
            "us_per_image": syn["latency_us_per_sample"],
            "energy_nj_per_image": report["energy_pj_per_sample"] / 1000,
            "not_fitting": syn.get("not_fitting"), "gate_level": gate, "commit": commit,
            "router": syn.get("router", "router1")})
        print(_row(rows[-1]), flush=True)
    return report, run, rows


def _run_name(kind: str, membranes: str) -> str:
    """The key of a run in the results: ``kind``, suffixed for a non-default memory."""
    return kind if membranes == "bram" else f"{kind}_{membranes}"


def up5k_board(model: Path, folder: Path, bits: int, samples: int) -> dict:
    """The network built for the iCEBreaker at ``bits``: checked on the fast harness, then
    its bitstream; the figures of both."""
    from snnhw.board import build_bitstream

    started = time.perf_counter()
    report = build(model, folder, BuildOptions(weight_bits=bits, target="ice40-up5k",
                                               samples=samples), log=print)
    check_seconds = time.perf_counter() - started
    board = build_bitstream(folder, "icebreaker", log=print)
    use = board["utilization"]
    cycles = report["cycles_per_timestep"]
    per_image = cycles["measured_mean"] * report["timesteps"]
    result = {
        "bits": bits, "lanes": report["rtl"]["lanes"],
        "weight_memory": report["rtl"]["weight_memory"],
        "membranes": report["rtl"]["membranes"],
        "accuracy_fixed": report["accuracy"]["fixed"],
        "samples": report["rtl"]["samples"], "mismatches": report["rtl"]["mismatches"],
        "check_seconds": check_seconds,
        "cells": use.get("ICESTORM_LC"), "brams": use.get("ICESTORM_RAM"),
        "sprams": use.get("ICESTORM_SPRAM"), "dsps": use.get("ICESTORM_DSP"),
        "fmax_mhz": board["fmax_mhz"], "clock_mhz": board["clock_mhz"],
        "bitstream_bytes": board["bytes"],
        "cycles_measured": cycles["measured_mean"], "cycles_predicted": cycles["predicted"],
        "cycles_bound": cycles["bound"],
        "us_per_image_board_clock": per_image / board["clock_mhz"],
        "us_per_image_fmax": per_image / board["fmax_mhz"] if board["fmax_mhz"] else None,
        "energy_nj_per_image": report["energy_pj_per_sample"] / 1000}
    print(f"iCEBreaker ({bits}-bit): {result}", flush=True)
    return result


def _write(payload: dict, out: Path, doc: Path) -> None:
    """The JSON and the recipe's section of ``doc``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    block = _block(payload["recipe"])
    replace_block(doc, block, section(payload))
    print(f"wrote {out} and the {block} section of {doc}", flush=True)


def _demo_rows(path: Path, lanes: int) -> list[dict]:
    if not path.is_file():
        return []
    return [r for r in json.loads(path.read_text())["rows"]
            if r["lanes"] == lanes and r["bits"] == 8]


def _row(r: dict) -> str:
    def num(value, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)
    return (f"{r['target']:<11} fits={r['fits']!s:<5} cells={num(r['cells'], 'd')} "
            f"BRAM={num(r['brams'], 'd')} SPRAM={num(r['sprams'], 'd')} "
            f"fmax={num(r['fmax_mhz'], '.1f')} cyc/ts={r['cycles_measured']:.0f} "
            f"(pred {r['cycles_predicted']:.0f}, bound {r['cycles_bound']:.0f}) "
            f"us/img={num(r['us_per_image'], '.0f')}")


def section(payload: dict) -> str:
    """The convolutional section of docs/performance.md."""
    def cell(value, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    acc = payload["accuracy"]
    runs = payload["runs"]
    port = payload["up5k_memory_port"]
    checked = []
    for membranes in dict.fromkeys(r.get("membranes", "bram") for r in payload["rows"]):
        fast = runs[_run_name("verilator_fast", membranes)]
        icarus = runs.get(_run_name("icarus_cocotb", membranes))
        checked.append(
            f"{membranes} membranes: {fast['mismatches']} mismatching spikes over "
            f"{fast['samples']} samples on the fast Verilator harness (with and without "
            f"stalls)" + (f", {icarus['mismatches']} over {icarus['samples']} on the cocotb "
                          f"testbench on Icarus" if icarus else ""))
    recipe = payload.get("recipe", "stbp_cnn")
    bits = payload.get("weight_bits", 8)
    layers = "-".join(payload.get("layers", ["16C5", "AP2", "32C5", "AP2"]))
    if payload.get("width_mult", 1.0) != 1.0:
        layers = f"{layers} with every width x {payload['width_mult']}"
    routers = sorted({r.get("router", "router1") for r in payload["rows"] if r["fits"]})
    command = "python benchmarks/conv_hw.py" + (
        "" if recipe == "stbp_cnn" else f" --recipe train/{recipe}.toml --fixed {bits}") + (
        f" --router {routers[0]}" if routers and routers != ["router1"] else "")
    lines = [
        f"## Convolutional: the {recipe} recipe", "",
        f"Regenerated by `{command}` (JSON in `benchmarks/results/{_block(recipe)}.json`).", "",
        f"Network: `train/{recipe}.toml`, {' -> '.join(map(str, payload['network']))} "
        f"neurons ({layers}, then the output layer; direct encoding: 8-bit pixels into the "
        f"first convolution"
        + ("; NeuNorm before the convolutions that take spikes, folded into them as NeuNorm "
           "terms" if recipe.startswith("neunorm") else "")
        + f"), T = {payload['timesteps']}, {bits}-bit weights, P = {payload['lanes']}. "
        f"Accuracy on the 1,000 test digits: float {100 * acc['float']:.2f} %, golden model "
        f"{100 * acc['fixed']:.2f} %. RTL against the golden model, every layer: "
        + "; ".join(checked) + ". "
        f"On-chip memory: {payload['memory_bits']['total']} bits "
        f"(weights {payload['memory_bits']['weights']}, membranes "
        f"{payload['memory_bits']['membranes']}, first-layer "
        + (f"input replay {payload['memory_bits']['input_replay']}"
           if payload["memory_bits"].get("input_replay") else
           f"currents {payload['memory_bits'].get('currents', 0)}") + ").", "",
        "| target | membranes | fits | cells | BRAM | SPRAM | fmax MHz | cycles/ts measured | "
        "predicted | bound | measured/bound | us/image | nJ/image | gate-level | commit |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
        "| --- |",
    ]
    for r in payload["rows"]:
        gate = r["gate_level"]
        lines.append(
            f"| {r['target']} | {r.get('membranes', 'bram')} | {'yes' if r['fits'] else 'no'} | "
            f"{cell(r['cells'], 'd')} | "
            f"{cell(r['brams'], 'd')} | {cell(r['sprams'], 'd')} | "
            f"{cell(r['fmax_mhz'], '.1f')} | {r['cycles_measured']:.0f} | "
            f"{r['cycles_predicted']:.0f} | {r['cycles_bound']:.0f} | "
            f"{r['cycles_measured'] / r['cycles_bound']:.3f} | {cell(r['us_per_image'], '.0f')} | "
            f"{r['energy_nj_per_image']:.0f} | "
            + (f"{gate['mismatches']} ({gate['samples']} samples)" if gate else "-")
            + f" | {r.get('commit') or '-'} |")
    for r in payload["rows"]:
        if r["not_fitting"]:
            lines.append(f"\n- does not fit, {r['target']} ({r.get('membranes', 'bram')} "
                         f"membranes): {r['not_fitting']}")
    if not payload["demo"]:
        lines.append(f"\n- beside it, the dense demo (784-128-10, T = 10) at P = "
                     f"{payload['lanes']}, {bits} bits: its rows in the table at the top of "
                     f"this page (`benchmarks/hw_sweep.py`)")
    for r in payload["demo"]:
        if r["fits"] and r["us_per_image"]:
            lines.append(f"\n- beside it, the dense demo (784-128-10, T = 10) at P = "
                         f"{r['lanes']} on {r['target']}: {r['cells']} cells, "
                         f"{r['us_per_image']:.0f} us/image, "
                         f"{r['energy_nj_per_image']:.0f} nJ/image")
    if payload.get("up5k_board"):
        lines += ["", _up5k_board_text(payload["up5k_board"], payload)]
    if recipe != "stbp_cnn":          # the bounds below are written once, for the STBP CNN
        return "\n".join(lines + [""])
    lines += [
        "", "### Throughput bounds", "",
        "Convolution, per layer and timestep: `updates * G / (C_out * R) + G * OH * OW + 7` "
        "cycles (updates: the synaptic updates of its input events, every kernel tap that "
        "lands on the map; G = ceil(C_out / P) channel groups; R = 1 kernel tap per clock, "
        "R = K with banked membranes, a kernel row per clock; the sweep visits every membrane "
        "word once), the slowest layer per timestep (the cores work on successive timesteps "
        "at once). The cycle model predicts each core event by event (a convolution event "
        "occupies its core K*K*G cycles, banked K*G, taps off the map included), hence "
        "measured/bound above 1.", "",
        _floor_text(port, payload), "", _up5k_text(port), ""]
    return "\n".join(lines)


def _floor_text(port: dict, payload: dict) -> str:
    """The ECP5 arithmetic: the fastest a one-tap-per-clock core can run the network, at the
    best ECP5 clock measured above, and what the banked core (a kernel row per clock)
    measured."""
    slowest = max(port["layers"], key=lambda l: l["floor_cycles_per_timestep"])
    ecp5 = [r for r in payload["rows"] if r["fits"] and r["target"].startswith("ecp5")]
    one_tap = [r for r in ecp5 if r.get("membranes", "bram") == "bram"]
    banked = [r for r in ecp5 if r.get("membranes") == "banked" and r["us_per_image"]]
    if not one_tap:
        return ""
    fmax = max(r["fmax_mhz"] for r in one_tap)
    us = slowest["floor_cycles_per_timestep"] * payload["timesteps"] / fmax
    text = (f"The ECP5 target (<= 1 ms/image): a core taking one kernel tap of an event per "
            f"clock needs, even with every output channel in its own lane (G = 1), "
            f"{slowest['floor_cycles_per_timestep']:.0f} cycles per timestep for the slowest "
            f"layer, {slowest['layer']} (its input events x K*K, plus its sweep): {us:.0f} us "
            f"per image at {fmax:.1f} MHz, {us / 1000:.1f} times the target. ")
    if not banked:
        return text + ("Reaching it needs several kernel taps per clock (`--membrane-memory "
                       "banked`), not in this run.")
    best = min(banked, key=lambda r: r["us_per_image"])
    return text + (
        f"Banked membranes (`--membrane-memory banked`: K membrane banks by output column, so "
        f"the K taps of a kernel row update K banks in one clock) cut the convolutions' "
        f"cycles per input event from K*K*G to K*G: on {best['target']} "
        f"{best['cycles_measured']:.0f} cycles per timestep measured, "
        f"{best['fmax_mhz']:.1f} MHz, {best['us_per_image']:.0f} us per image, "
        + ("within the 1 ms target." if best["us_per_image"] <= 1000 else
           f"{best['us_per_image'] / 1000:.2f} times the 1 ms target."))


def _up5k_board_text(b: dict, payload: dict) -> str:
    """The iCEBreaker build as a paragraph and a one-row table."""
    in_spram = [name for name, style in b["membranes"].items() if style == "spram"]
    slow = 2 if in_spram else 1
    return "\n".join([
        "### iCE40 UP5K (iCEBreaker)", "",
        f"`snnhw build model.pt --target icebreaker --fixed {b['bits']}` chooses P = "
        f"{b['lanes']}, {b['weight_memory']} weights"
        + (f" and single-ported membranes in SPRAM for {', '.join(in_spram)} (two clocks per "
           f"update: `--membrane-memory spram`)" if in_spram else "")
        + f"; at 8 bits no configuration fits (see the UP5K row above). Golden model at "
        f"{b['bits']} bits: {100 * b['accuracy_fixed']:.2f} % on the 1,000 test digits "
        f"(float {100 * payload['accuracy']['float']:.2f} %). RTL against it: "
        f"{b['mismatches']} mismatching spikes, every layer, over {b['samples']} samples on "
        f"the fast harness (with and without stalls). The bitstream is the network behind the "
        f"UART host link (`snnhw synth --board icebreaker`; the bare top has more ports than "
        f"the package has pins), {b['bitstream_bytes']} bytes.", "",
        "| bits | P | logic cells | EBR | SPRAM | DSP | fmax MHz | cycles/ts measured | "
        "predicted | bound | ms/image at 12 MHz (board) | ms/image at fmax | nJ/image | "
        "commit |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {b['bits']} | {b['lanes']} | {b['cells']} | {b['brams']} | {b['sprams']} | "
        f"{b['dsps']} | {b['fmax_mhz']:.1f} | {b['cycles_measured']:.0f} | "
        f"{b['cycles_predicted']:.0f} | {b['cycles_bound']:.0f} | "
        f"{b['us_per_image_board_clock'] / 1000:.0f} | {b['us_per_image_fmax'] / 1000:.0f} | "
        f"{b['energy_nj_per_image']:.0f} | {b.get('commit') or '-'} |", "",
        f"Against the 10 ms target: {b['us_per_image_fmax'] / 10_000:.0f} times slower at "
        f"fmax. What rules it out on this device: the memories leave one lane (P = 2 would "
        f"widen the first convolution's membrane words to three SPRAMs, leaving none for the "
        f"second's), and a core whose membranes sit in a single-ported SPRAM needs a read and a "
        f"write on its one port per synaptic update, {slow} clocks per update, so the bound is "
        f"{slow} x (updates x G / C_out + sweep) of the slowest such layer per timestep: "
        f"{b['cycles_bound']:.0f} cycles, {b['cycles_bound'] * payload['timesteps'] / b['fmax_mhz'] / 1000:.0f} ms per image at "
        f"{b['fmax_mhz']:.1f} MHz."])


def _up5k_text(port: dict) -> str:
    """The UP5K memory arithmetic of :func:`memory_port_bound` as a paragraph."""
    sizes = ", ".join(f"{l['layer']} {l['weight_bits']} weight and {l['membrane_bits']} "
                      f"membrane bits ({l['updates_per_image']:.0f} updates per image)"
                      for l in port["layers"])
    if not port["membranes_in_spram"]:
        return (f"UP5K memory: {sizes}. The membranes fit the EBR beside the weights, so its "
                f"SPRAM ports do not bound the throughput.")
    us = port["cycles_per_image_min"] / 30
    return (
        f"UP5K memory: {sizes}. Its EBR holds {port['ebr_bits']} bits; beside every weight "
        f"memory but the largest (which may take an SPRAM) {port['ebr_left_beside_weights']} "
        f"are left, less than the convolutions' membranes, so "
        f"{' and '.join(port['membranes_in_spram'])} would have to live in the "
        f"{port['sprams']} SPRAMs (16K x 16 bits each, single-ported). Every synaptic update "
        f"reads and writes its accumulator: {port['bits_moved_per_image'] / 1e6:.1f} Mbit per "
        f"image through ports that move at most {port['sprams']} x 16 bits per clock, so at "
        f"least {port['cycles_per_image_min']:.0f} cycles per image ({us:.0f} us at 30 MHz), "
        f"whatever P, even with the traffic spread perfectly over the four SPRAMs: "
        + ("within the 10 ms target" if us <= 10_000 else
           f"{us / 10_000:.1f} times the 10 ms target, which the UP5K's memory ports rule out")
        + ". That is for the 8-bit network with perfect packing; snnhw places membranes in "
        "SPRAM as single-ported read-modify-write cores, one neuron per port access, which "
        "at 8 bits do not fit beside the weights (the UP5K row above) and at 4 bits do (the "
        "iCEBreaker build).")


if __name__ == "__main__":
    main()
