"""Cosimulation speed: the cocotb testbench on Icarus and on Verilator against the fast
compiled harness (Verilator, every layer checked), demo network.

All three run the same Verilog (no stalls) in one run; the table gives each one's simulated
timesteps and cycles per wall-clock second of the testbench (compile time reported apart) and
the ratios fast / cocotb-Verilator and Verilator / Icarus. The cocotb testbenches run the
first ``--samples`` test digits, the fast harness the first ``--fast-samples`` (its run of a
few samples lasts well under a second, where start-up and the machine's noise would
dominate); the ratios are of timesteps per second, the same work per timestep.

    python benchmarks/cosim_speed.py [--model build/demo/model.pt] [--samples 4]
                                     [--fast-samples 100]

Writes ``benchmarks/results/cosim_speed.json``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import tempfile
import time
from pathlib import Path

from snnhw.build import load_dataset, verify_network
from snnhw.data import bernoulli_numpy
from snnhw.quant import quantize_file
from snnhw.train import load_recipe, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="build/demo/model.pt",
                        help="model.pt (trained with the bundled recipe if missing)")
    parser.add_argument("--samples", type=int, default=4,
                        help="test digits for the cocotb testbenches")
    parser.add_argument("--fast-samples", type=int, default=100,
                        help="test digits for the fast harness")
    parser.add_argument("--out", default="benchmarks/results/cosim_speed.json")
    args = parser.parse_args()

    model_path = Path(args.model)
    if not model_path.is_file():
        recipe_file = importlib.resources.files("snnhw.recipes").joinpath("stbp_mlp.toml")
        with importlib.resources.as_file(recipe_file) as path:
            train(load_recipe(path), model_path)
    model, net = quantize_file(model_path, weight_bits=8)
    data = load_dataset(model["dataset"])
    counts = {"icarus": args.samples, "verilator": args.samples, "fast": args.fast_samples}
    inputs = bernoulli_numpy(data.x_test[:max(counts.values())], net.timesteps,
                             int(net.encoding["seed"]))

    rows = []
    for sim, samples in counts.items():
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            check = verify_network(net, inputs[:, :samples], Path(tmp), sim=sim, stall=0.0)
            total = time.perf_counter() - started
        run = check.full_rate
        rows.append({"simulator": sim, "samples": samples, "timesteps": net.timesteps,
                     "cycles": run["total_cycles"], "mismatches": check.mismatches,
                     "testbench_seconds": run["wall_seconds"],
                     "timesteps_per_second": run["timesteps_per_second"],
                     "cycles_per_second": run["total_cycles"] / run["wall_seconds"],
                     "end_to_end_seconds": total})
    ratio = rows[1]["timesteps_per_second"] / rows[0]["timesteps_per_second"]
    fast_ratio = rows[2]["timesteps_per_second"] / rows[1]["timesteps_per_second"]

    print(f"\ncosimulation speed, {net.name} ({net.input_features}-"
          + "-".join(str(l.out_features) for l in net.layers)
          + f", T={net.timesteps}), no stalls")
    print(f"{'simulator':<10} {'samples':>8} {'timesteps/s':>12} {'cycles/s':>12} "
          f"{'testbench s':>12} {'with compile s':>15} {'mismatches':>11}")
    for r in rows:
        print(f"{r['simulator']:<10} {r['samples']:>8} {r['timesteps_per_second']:>12.2f} "
              f"{r['cycles_per_second']:>12.0f} {r['testbench_seconds']:>12.1f} "
              f"{r['end_to_end_seconds']:>15.1f} {r['mismatches']:>11}")
    print(f"Verilator / Icarus (cocotb): {ratio:.1f}x; fast harness / cocotb on Verilator: "
          f"{fast_ratio:.1f}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"network": net.name, "rows": rows,
                               "verilator_over_icarus": ratio,
                               "fast_over_cocotb_verilator": fast_ratio}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
