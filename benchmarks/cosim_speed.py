"""Cosimulation speed: the cocotb testbench on Icarus and on Verilator against the fast
compiled harness (Verilator, every layer checked), demo network.

All three run the same Verilog (one lane per core, ROM weights, no stalls) in one run; the
table gives each one's simulated timesteps and cycles per wall-clock second of the testbench
(compile time reported apart) and the ratios fast / cocotb-Verilator and Verilator / Icarus.
The cocotb testbenches run the first ``--samples`` test digits, the fast harness the first
``--fast-samples`` (its run of a few samples lasts well under a second, where start-up and the
machine's noise would dominate); the ratios are of timesteps per second, the same work per
timestep. A last row runs what ``snnhw demo`` checks: the configuration it builds for the
iCE40 UP5K (chosen the same way, :func:`snnhw.fit.choose`) on all ``--demo-samples`` test
digits, on the fast harness.

Every row is first checked (with and without stalls, as a build checks); its speed is then
timed on the full-rate run alone, one process on one core: the cocotb rows once (minutes),
the fast rows ``--repeats`` times (the median; its runs last seconds, where this machine's
noise shows), the compiled harness taken from :mod:`snnhw.cache`.

    python benchmarks/cosim_speed.py [--model build/demo/model.pt] [--samples 4]
                                     [--fast-samples 100] [--demo-samples 1000] [--repeats 5]

Writes ``benchmarks/results/cosim_speed.json`` and the cosim_speed section of
docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from docblock import replace_block

from snnhw import cycles, golden
from snnhw.build import CHOICE_SAMPLES, load_dataset, verify_network
from snnhw.data import bernoulli_numpy
from snnhw.fit import choose
from snnhw.harness import HarnessRun, compile_harness, run_harness, write_vectors
from snnhw.hdl import output_value_bits, weight_load_bytes
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
    parser.add_argument("--demo-samples", type=int, default=1000,
                        help="test digits for the demo's own build on the fast harness")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed full-rate runs of each fast row (the median is reported)")
    parser.add_argument("--out", default="benchmarks/results/cosim_speed.json")
    parser.add_argument("--doc", default="docs/performance.md")
    args = parser.parse_args()

    model_path = Path(args.model)
    if not model_path.is_file():
        recipe_file = importlib.resources.files("snnhw.recipes").joinpath("stbp_mlp.toml")
        with importlib.resources.as_file(recipe_file) as path:
            train(load_recipe(path), model_path)
    model, net = quantize_file(model_path, weight_bits=8)
    data = load_dataset(model["dataset"])
    inputs = bernoulli_numpy(data.x_test[:max(args.samples, args.fast_samples,
                                              args.demo_samples)],
                             net.timesteps, int(net.encoding["seed"]))
    head = inputs[:, :CHOICE_SAMPLES]
    head_spikes = golden.run(net, head).spikes
    demo = choose(net, "ice40-up5k", lambda lanes, membranes: cycles.bound(
        net, head, head_spikes, lanes, membranes)).chosen
    # (simulator, samples, lanes, weight memory, membrane memory)
    runs = [("icarus", args.samples, 1, "rom", "bram"),
            ("verilator", args.samples, 1, "rom", "bram"),
            ("fast", args.fast_samples, 1, "rom", "bram"),
            ("fast", args.demo_samples, demo.lanes, demo.weight_memory, demo.membrane_memory)]

    rows = []
    for sim, samples, lanes, weights, membranes in runs:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            check = verify_network(net, inputs[:, :samples], Path(tmp), sim=sim, stall=0.0,
                                   lanes=lanes, weight_memory=weights,
                                   membrane_memory=membranes)
            total = time.perf_counter() - started
            run = check.full_rate
            if sim == "fast":  # the check ran both runs side by side: time the full rate alone
                run = _time_fast(Path(tmp), net, inputs[:, :samples], check, lanes, weights,
                                 args.repeats)
        rows.append({"simulator": sim, "samples": samples, "timesteps": net.timesteps,
                     "lanes": lanes, "weight_memory": weights, "membrane_memory": membranes,
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
    print(f"{'simulator':<10} {'configuration':<24} {'samples':>8} {'timesteps/s':>12} "
          f"{'cycles/s':>12} {'testbench s':>12} {'with compile s':>15} {'mismatches':>11}")
    for r in rows:
        print(f"{r['simulator']:<10} {_configuration(r):<24} {r['samples']:>8} "
              f"{r['timesteps_per_second']:>12.2f} "
              f"{r['cycles_per_second']:>12.0f} {r['testbench_seconds']:>12.1f} "
              f"{r['end_to_end_seconds']:>15.1f} {r['mismatches']:>11}")
    print(f"Verilator / Icarus (cocotb): {ratio:.1f}x; fast harness / cocotb on Verilator: "
          f"{fast_ratio:.1f}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"network": net.name, "rows": rows,
                               "verilator_over_icarus": ratio,
                               "fast_over_cocotb_verilator": fast_ratio}, indent=2) + "\n")
    replace_block(Path(args.doc), "cosim_speed", _section(net, rows, ratio, fast_ratio))
    print(f"wrote {out} and {args.doc}")


def _time_fast(folder: Path, net, inputs: np.ndarray, check, lanes: int,
               weight_memory: str, repeats: int) -> dict:
    """The fast harness's full-rate run alone on the design ``check`` verified in
    ``folder``, ``repeats`` times, one after the other; the run with the median wall time
    (its results, ``"wall_seconds_all"`` every run's)."""
    load = weight_load_bytes(net, lanes, weight_memory)
    build = folder / "timing"
    binary = compile_harness(folder, net, build, has_load=bool(load))
    value_bits = output_value_bits(net)
    vectors = write_vectors(build / "vectors.bin", inputs, check.trace.spikes, load,
                            check.trace.values if value_bits else None, value_bits)
    budget = HarnessRun(0.0, 1, 2 * check.estimate.total + 10_000)
    runs = [run_harness(binary, vectors, {"full_rate": budget}, workdir=folder / "cosim",
                        parallel=False)["full_rate"] for _ in range(repeats)]
    if any(r["mismatches"] for r in runs):
        raise SystemExit(f"timed runs: {[r['mismatches'] for r in runs]} mismatches")
    runs.sort(key=lambda r: r["wall_seconds"])
    return {**runs[len(runs) // 2], "wall_seconds_all": [r["wall_seconds"] for r in runs]}


def _configuration(row: dict) -> str:
    return (f"P={row['lanes']}, {row['weight_memory']} weights"
            + (f", {row['membrane_memory']} membranes" if row["membrane_memory"] != "bram"
               else ""))


def _section(net, rows: list[dict], ratio: float, fast_ratio: float) -> str:
    shape = f"{net.input_features}-" + "-".join(str(l.out_features) for l in net.layers)
    lines = [
        "## Cosimulation speed",
        "",
        f"Regenerated by `python benchmarks/cosim_speed.py`: the demo network ({shape}, "
        f"T = {net.timesteps}, 8-bit weights) simulated against the golden model by the "
        "cocotb testbench on Icarus and on Verilator (output layer) and by the fast harness "
        "(Verilator, every layer), no stalls, one core each; the first three rows run the "
        "same Verilog (one lane per core, ROM weights), the last one the configuration "
        "`snnhw demo` builds for the iCE40 UP5K on all the test digits it checks. "
        "*cycles/s*: simulated clock cycles per second of the testbench's wall time "
        "(compilation apart); the ratios are of timesteps per second.",
        "",
        "| simulator | configuration | samples | timesteps/s | cycles/s | testbench s | "
        "with compile s | mismatches |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *(f"| {r['simulator']} | {_configuration(r)} | {r['samples']} | "
          f"{r['timesteps_per_second']:.2f} | {r['cycles_per_second']:.0f} | "
          f"{r['testbench_seconds']:.1f} | {r['end_to_end_seconds']:.1f} | "
          f"{r['mismatches']} |" for r in rows),
        "",
        f"Verilator over Icarus (cocotb): {ratio:.1f}x; fast harness over cocotb on "
        f"Verilator: {fast_ratio:.1f}x.",
        "",
        "What sets the fast harness's speed: the design's own evaluation per clock (perf, "
        "P = 1 model: 83 % in the model's clocked evaluation function, spread flat over it, "
        "9 % in the harness's loop). The lever that moved it is the Verilog's form "
        "(`snnhw.hdl.emit.SIMPLIFY`): since 2026-12-05 snnhw writes Amaranth's design after "
        "Yosys's `proc` and `opt -full` instead of Amaranth's own converter's `always` "
        "blocks over chains of temporaries; on the P = 1 model above that took the fast "
        "harness from a median 6.6 M cycles/s (6.3-6.8 M) to 10.2 M (7.7-11.5 M), the two "
        "forms alternating on one machine, 100 samples, 8 runs each, by hand at commit "
        "f446eba; synthesis maps both to the same block RAMs and DSPs with as many or "
        "fewer LUTs. Tried before and not kept: `-O3 "
        "-march=native` for the model (no change), profile-guided optimisation (about +5 %), "
        "and one multiplexer over the 49 weight banks instead of the OR of their registered "
        "words (1.4x in simulation, but the ECP5-25K build fell from 102.4 to 70.3 MHz with "
        "twice the LUTs).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
