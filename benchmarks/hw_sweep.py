"""Hardware sweep: lanes P x weight bits for the demo network, cosimulated and synthesised.

For every (bits, P): `snnhw build` (Verilator cosimulation of N samples, 0 mismatches
required), then `snnhw synth` for each target. Prints a table and writes
``benchmarks/results/hw_sweep.json`` with cells, block RAMs, SPRAMs, fmax, cycles per
timestep (measured, predicted, bound, measured/bound), microseconds and energy per image and
accuracy. Targets that cannot hold the memories are listed as not fitting, with the numbers.

    python benchmarks/hw_sweep.py [--model build/demo/model.pt] [--lanes 1 4 16] [--bits 4 8]
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import tempfile
from pathlib import Path

from snnhw.build import BuildOptions, build
from snnhw.synth import TARGETS, synthesise
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
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/results/hw_sweep.json")
    args = parser.parse_args()
    model = _model(Path(args.model))

    rows = []
    for bits in args.bits:
        for lanes in args.lanes:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "hw"
                report = build(model, folder, BuildOptions(weight_bits=bits, lanes=lanes,
                                                           samples=args.samples),
                               log=lambda line: None)
                cycles = report["cycles_per_timestep"]
                for target in args.targets:
                    syn = synthesise(folder, target, log=lambda line: None)
                    rows.append({
                        "bits": bits, "lanes": lanes, "target": target, "fits": syn["fits"],
                        "cells": syn["cells"], "brams": syn["brams"], "sprams": syn["sprams"],
                        "dsps": syn["dsps"], "fmax_mhz": syn["fmax_mhz"],
                        "cycles_measured": cycles["measured_mean"],
                        "cycles_predicted": cycles["predicted"], "cycles_bound": cycles["bound"],
                        "measured_over_bound": cycles["measured_mean"] / cycles["bound"],
                        "us_per_image": syn["latency_us_per_sample"],
                        "energy_nj_per_image": report["energy_pj_per_sample"] / 1000,
                        "accuracy_fixed": report["accuracy"]["fixed"],
                        "rtl_mismatches": report["rtl"]["mismatches"],
                        "not_fitting": syn.get("not_fitting")})
                    print(_row(rows[-1]), flush=True)

    header = (f"{'bits':>4} {'P':>3} {'target':<11} {'fits':<5} {'cells':>6} {'BRAM':>5} "
              f"{'SPRAM':>5} {'fmax':>6} {'cyc/ts':>8} {'bound':>8} {'ratio':>6} {'us/img':>8} "
              f"{'nJ/img':>7} {'acc %':>6} {'mism':>5}")
    print("\n" + header)
    for row in rows:
        print(_row(row))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": str(model), "samples": args.samples, "rows": rows},
                              indent=2) + "\n")
    print(f"wrote {out}")


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
