"""Hardware sweep: lanes P x weight bits for the demo network, cosimulated and synthesised.

For every (bits, P): `snnhw build` (Verilator cosimulation of N samples, 0 mismatches
required), then `snnhw synth` for each target. Prints a table and writes
``benchmarks/results/hw_sweep.json`` with cells, block RAMs, SPRAMs, fmax, cycles per
timestep (measured, predicted, bound, measured/bound), microseconds and energy per image and
accuracy, and regenerates ``docs/performance.md`` (the table beside the published Spiker+
figures). Targets that cannot hold the memories are listed as not fitting, with the numbers.

    python benchmarks/hw_sweep.py [--model build/demo/model.pt] [--lanes 1 4 16] [--bits 4 8]
                                  [--targets ...] [--seed N]
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import subprocess
import tempfile
from pathlib import Path

from docblock import blocks

from snnhw.build import BuildOptions, build
from snnhw.synth import gate_level_check, synthesise
from snnhw.targets import TARGETS
from snnhw.train import load_recipe, train


def _model(path: Path) -> Path:
    if not path.is_file():
        recipe_file = importlib.resources.files("snnhw.recipes").joinpath("stbp_mlp.toml")
        with importlib.resources.as_file(recipe_file) as recipe:
            train(load_recipe(recipe), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="build/demo/model.pt")
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--bits", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--targets", nargs="+", default=["ice40-up5k", "ecp5-25k"],
                        choices=list(TARGETS))
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1,
                        help="nextpnr's placement seed (snnhw synth --seed; recorded per point)")
    parser.add_argument("--out", default="benchmarks/results/hw_sweep.json")
    parser.add_argument("--doc", default="docs/performance.md")
    parser.add_argument("--gate-level", action="store_true",
                        help="also simulate every fitting point's synthesised netlist (Yosys "
                             "cell models) against the golden model on the same samples")
    parser.add_argument("--gate-samples", type=int, default=5,
                        help="samples simulated at gate level (default 5; the Icarus netlist "
                             "simulation of the UP5K design is slow)")
    parser.add_argument("--render-only", action="store_true",
                        help="only rewrite --doc from the JSON of an earlier run")
    args = parser.parse_args()
    if args.render_only:
        _write_doc(Path(args.doc), json.loads(Path(args.out).read_text()))
        print(f"wrote {args.doc}")
        return
    model = _model(Path(args.model))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or None

    rows = []
    for bits in args.bits:
        for lanes in args.lanes:
            # targets with SPRAM get the run-time loaded weights (--weight-memory spram), the
            # others keep every weight in the bitstream
            by_memory: dict[str, list[str]] = {}
            for target in args.targets:
                memory = "spram" if TARGETS[target].sprams else "rom"
                by_memory.setdefault(memory, []).append(target)
            for memory, targets in by_memory.items():
                rows += _measure(model, bits, lanes, memory, targets, args, commit)
    header = (f"{'bits':>4} {'P':>3} {'target':<11} {'fits':<5} {'cells':>6} {'BRAM':>5} "
              f"{'SPRAM':>5} {'fmax':>6} {'cyc/ts':>8} {'bound':>8} {'ratio':>6} {'us/img':>8} "
              f"{'nJ/img':>7} {'acc %':>6} {'mism':>5}")
    print("\n" + header)
    for row in rows:
        print(_row(row))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # merge into an earlier run: points measured now replace the same (bits, P, target)
    key = lambda r: (r["bits"], r["lanes"], r["target"])  # noqa: E731
    earlier = json.loads(out.read_text())["rows"] if out.is_file() else []
    fresh = {key(r) for r in rows}
    rows = sorted([r for r in earlier if key(r) not in fresh] + rows, key=key)
    payload = {"model": str(model), "samples": args.samples, "rows": rows}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    _write_doc(Path(args.doc), payload)
    print(f"wrote {out} and {args.doc}")


def _commit(row: dict) -> str:
    """The commit a point was measured at, and its placement seed where it was not 1."""
    seed = row.get("seed", 1)
    return (row.get("commit") or "-") + (f" (seed {seed})" if seed != 1 else "")


def _write_doc(doc: Path, payload: dict) -> None:
    """The sweep's page, keeping the sections other benchmarks generate (conv_hw.py's)."""
    kept = blocks(doc.read_text()) if doc.is_file() else ""
    doc.write_text(_document(payload) + (f"\n{kept}\n" if kept else ""))


def _measure(model: Path, bits: int, lanes: int, memory: str, targets: list[str],
             args: argparse.Namespace, commit: str | None) -> list[dict]:
    """Build one (bits, P, weight memory) point and synthesise it for ``targets``."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "hw"
        report = build(model, folder, BuildOptions(weight_bits=bits, lanes=lanes,
                                                   samples=args.samples, weight_memory=memory),
                       log=lambda line: None)
        cycles = report["cycles_per_timestep"]
        for target in targets:
            syn = synthesise(folder, target, log=lambda line: None, seed=args.seed)
            gate = None
            if args.gate_level and syn["fits"]:
                results = gate_level_check(folder, target, samples=args.gate_samples)
                gate = sum(r["mismatches"] for r in results.values())
            rows.append({
                "bits": bits, "lanes": lanes, "target": target, "weight_memory": memory,
                "fits": syn["fits"],
                "cells": syn["cells"], "brams": syn["brams"], "sprams": syn["sprams"],
                "dsps": syn["dsps"], "fmax_mhz": syn["fmax_mhz"],
                "cycles_measured": cycles["measured_mean"],
                "cycles_predicted": cycles["predicted"], "cycles_bound": cycles["bound"],
                "measured_over_bound": cycles["measured_mean"] / cycles["bound"],
                "us_per_image": syn["latency_us_per_sample"],
                "energy_nj_per_image": report["energy_pj_per_sample"] / 1000,
                "accuracy_fixed": report["accuracy"]["fixed"],
                "rtl_mismatches": report["rtl"]["mismatches"],
                "not_fitting": syn.get("not_fitting"),
                "gate_level_mismatches": gate, "commit": commit, "seed": args.seed,
                "gate_level_samples": (min(args.gate_samples, args.samples)
                                       if gate is not None else None)})
            print(_row(rows[-1]), flush=True)
    return rows


SPIKER_PLUS = ("Spiker+ (arXiv 2401.01141), MNIST, Xilinx part", "93.85", "7,612 logic cells",
               "18 BRAM", "780", "180 mW")


def _gate(r: dict) -> str:
    """Gate-level result of a point: mismatches over samples, or - where not simulated."""
    if r.get("gate_level_mismatches") is None:
        return "-"
    return f"{r['gate_level_mismatches']} ({r['gate_level_samples']} samples)"


def _document(payload: dict) -> str:
    """docs/performance.md: the sweep beside the published Spiker+ figures."""
    def cell(value, fmt):
        return "-" if value is None else format(value, fmt)

    lines = [
        "# Performance: the demo network on open-source FPGA flows",
        "",
        "Regenerated by `python benchmarks/hw_sweep.py` (JSON in "
        "`benchmarks/results/hw_sweep.json`); do not edit the tables by hand.",
        "",
        "Network: the demo STBP MLP 784-128-10, T = 10, on the bundled MNIST test split. "
        "Every point is built with `snnhw build --fixed <bits> --lanes <P> --weight-memory "
        "<memory>` (*memory*: `rom`, every weight in the bitstream, for ECP5; `spram`, the "
        "largest layer's weights written at run time through the load stream so that Yosys "
        "maps them onto the iCE40 UP5K's SPRAM), cosimulated on "
        f"Verilator for {payload['samples']} samples (RTL mismatches must be 0) and synthesised "
        "with Yosys + nextpnr (yowasp builds, placement seed 1 unless the commit column names "
        "another, `--timing-allow-fail`); *gate-level*: "
        "the synthesised netlist with Yosys's cell models (ECP5 DP16KD: snnhw's model, Yosys "
        "has none), simulated against the golden model (`--gate-level`); *commit*: the snnhw commit a point was measured at (points are "
        "re-measured one by one and merged; `-`: measured before the benchmark recorded it). *cycles/ts*: "
        "measured mean clock cycles per timestep; *bound*: the issue's bound "
        "(events x ceil(N/P) + ceil(N/P) + pipeline depth, slowest layer per timestep); "
        "*us/image* = cycles/ts x T / fmax; *nJ/image*: the energy model of the report "
        "(Horowitz 45 nm figures, memory traffic included); accuracy: the golden model on "
        "the 1,000 test digits.",
        "",
        "| bits | P | target | memory | fits | cells (LUT+FF) | BRAM | SPRAM | fmax MHz | cycles/ts | "
        "bound | ratio | us/image | nJ/image | accuracy % | RTL mismatches | gate-level "
        "mismatches | commit |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
        "| --- | --- | --- | --- |",
    ]
    for r in payload["rows"]:
        lines.append(
            f"| {r['bits']} | {r['lanes']} | {r['target']} | {r.get('weight_memory', 'rom')} | "
            f"{'yes' if r['fits'] else 'no'} | {cell(r['cells'], 'd')} | {cell(r['brams'], 'd')} | {cell(r['sprams'], 'd')} | "
            f"{cell(r['fmax_mhz'], '.1f')} | {r['cycles_measured']:.0f} | "
            f"{r['cycles_bound']:.0f} | {r['measured_over_bound']:.3f} | "
            f"{cell(r['us_per_image'], '.0f')} | {r['energy_nj_per_image']:.0f} | "
            f"{100 * r['accuracy_fixed']:.2f} | {r['rtl_mismatches']} | "
            f"{_gate(r)} | {_commit(r)} |")
    not_fitting = sorted({f"{r['target']}: {r['not_fitting']}" for r in payload["rows"]
                          if r["not_fitting"]})
    lines += ["", *[f"- does not fit, {text}" for text in not_fitting], "",
              "What limits the clock (nextpnr's critical paths): at P = 1 and 2 the first "
              "layer's membranes fill block RAM, and reading a membrane group, adding the "
              "weights and writing it back happen in one cycle (ECP5 DP16KD clock-to-out "
              "without its output register, the adder, the write setup), so those points stay "
              "below 100 MHz on ECP5 (from P = 4 the membranes sit in LUT RAM); at P = 8 the "
              "weight block RAM's clock-to-out into its bank register limits ECP5, and the "
              "input handshake's routing the UP5K.", "",
              "## Beside published figures", "",
              "| design | accuracy % | logic | memory | us/image | power / energy |",
              "| --- | --- | --- | --- | --- | --- |",
              "| " + " | ".join(SPIKER_PLUS) + " |"]
    for r in payload["rows"]:
        if r["fits"] and r["us_per_image"]:
            lines.append(
                f"| snnhw {r['bits']}-bit P={r['lanes']} on {r['target']} | "
                f"{100 * r['accuracy_fixed']:.2f} | {r['cells']} cells | {r['brams']} BRAM"
                f"{f' + {s} SPRAM' if (s := r['sprams']) else ''} | "
                f"{r['us_per_image']:.0f} | {r['energy_nj_per_image']:.0f} nJ/image (model) |")
    lines += ["", "Spiker+ reports measured power on a Xilinx device; snnhw's energy is the "
              "report's model estimate, not a measurement, and the logic cells of different "
              "FPGA families are not equivalent units. The accuracies are on different test "
              "sets (Spiker+: the full MNIST test set; snnhw: 1,000 digits of the bundled "
              "subset).", ""]
    return "\n".join(lines)


def _row(r: dict) -> str:
    def num(value, fmt):
        return format(value, fmt) if value is not None else format("-", fmt.split(".")[0].rstrip("df"))
    return (f"{r['bits']:>4} {r['lanes']:>3} {r['target']:<11} {str(r['fits']):<5} "
            f"{num(r['cells'], '>6')} {num(r['brams'], '>5')} {num(r['sprams'], '>5')} "
            f"{num(r['fmax_mhz'], '>6.1f')} {r['cycles_measured']:>8.0f} {r['cycles_bound']:>8.0f} "
            f"{r['measured_over_bound']:>6.3f} {num(r['us_per_image'], '>8.0f')} "
            f"{r['energy_nj_per_image']:>7.0f} {100 * r['accuracy_fixed']:>6.2f} "
            f"{r['rtl_mismatches']:>5}")


if __name__ == "__main__":
    main()
