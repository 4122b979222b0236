"""Gate-level simulation speed: the demo network's synthesised netlists (iCE40 UP5K with its
weights in SPRAM, ECP5-25K with them in DP16KD block RAM) with the vendor cell models, on
the fast harness (Verilator, compiled C++) against the cocotb testbench (Icarus for iCE40,
Verilator for ECP5: Icarus 11 cannot parse the ECP5 models), side by side in one run.

For each target: build (``--samples N``), synthesise, then the fast harness on all N samples
(with and without stalls: 0 mismatches required) and the cocotb path on ``--cocotb-samples``
of them; the table gives cycles per second of each and their ratio.

    python benchmarks/gate_level_speed.py [--samples 100] [--cocotb-samples 1]

Writes ``benchmarks/results/gate_level_speed.json``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import tempfile
import time
from pathlib import Path

from snnhw.build import BuildOptions, build
from snnhw.synth import gate_level_check, synthesise
from snnhw.targets import TARGETS
from snnhw.train import load_recipe, train

COCOTB_SIM = {"ice40": "icarus", "ecp5": "verilator"}
WEIGHT_MEMORY = {"ice40-up5k": "spram", "ecp5-25k": "rom"}


def _model(path: Path) -> Path:
    if not path.is_file():
        recipe_file = importlib.resources.files("snnhw.recipes").joinpath("stbp_mlp.toml")
        with importlib.resources.as_file(recipe_file) as recipe:
            train(load_recipe(recipe), path)
    return path


def _timed(folder: Path, target: str, sim: str, samples: int) -> tuple[dict, float]:
    started = time.perf_counter()
    results = gate_level_check(folder, target, sim=sim, samples=samples)
    return results, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="build/demo/model.pt")
    parser.add_argument("--targets", nargs="+", default=list(WEIGHT_MEMORY),
                        choices=list(WEIGHT_MEMORY))
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--cocotb-samples", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/gate_level_speed.json")
    args = parser.parse_args()
    model = _model(Path(args.model))

    rows = []
    for target in args.targets:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "hw"
            build(model, folder, BuildOptions(samples=args.samples,
                                              weight_memory=WEIGHT_MEMORY[target]),
                  log=lambda line: None)
            syn = synthesise(folder, target, log=lambda line: None)
            if not syn["fits"]:
                raise SystemExit(f"{target}: the demo does not fit: {syn.get('not_fitting')}")
            fast, fast_total = _timed(folder, target, "fast", args.samples)
            cocotb_sim = COCOTB_SIM[TARGETS[target].family]
            slow, slow_total = _timed(folder, target, cocotb_sim, args.cocotb_samples)
        for sim, results, total in (("fast", fast, fast_total),
                                    (f"cocotb/{cocotb_sim}", slow, slow_total)):
            run = results["full_rate"]
            rows.append({"target": target, "simulator": sim, "samples": run["samples"],
                         "cycles": run["total_cycles"],
                         "mismatches": sum(r["mismatches"] for r in results.values()),
                         "testbench_seconds": run["wall_seconds"],
                         "cycles_per_second": run["total_cycles"] / run["wall_seconds"],
                         "end_to_end_seconds": total,
                         "cells": syn["cells"], "brams": syn["brams"], "sprams": syn["sprams"]})
        rows[-2]["speedup"] = rows[-2]["cycles_per_second"] / rows[-1]["cycles_per_second"]

    print(f"\ngate-level simulation of the demo netlists, full rate ({args.samples} samples on "
          f"the fast harness, {args.cocotb_samples} on cocotb)")
    print(f"{'target':<11} {'simulator':<18} {'samples':>7} {'cycles/s':>10} {'testbench s':>11} "
          f"{'with compile s':>14} {'mismatches':>10} {'speedup':>8}")
    for r in rows:
        speedup = f"{r['speedup']:.0f}x" if "speedup" in r else ""
        print(f"{r['target']:<11} {r['simulator']:<18} {r['samples']:>7} "
              f"{r['cycles_per_second']:>10.0f} {r['testbench_seconds']:>11.1f} "
              f"{r['end_to_end_seconds']:>14.1f} {r['mismatches']:>10} {speedup:>8}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": str(model), "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
