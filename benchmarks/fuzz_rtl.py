"""RTL fuzzing, long run: random IR networks (the strategy of tests/netgen.py) through golden
model vs RTL on the fast harness, every layer of every timestep, with and without stalls.

Prints a table (networks, samples, timesteps, layers, events checked; what was covered:
resets, lanes, weight memories, saturating networks, silent and all-firing inputs) and writes
``benchmarks/results/fuzz_rtl.json``. A failure shrinks to a minimal case saved as an IR
folder in ``build/fuzz/failing/`` and ends the run with exit status 1.

    python benchmarks/fuzz_rtl.py [--examples 200] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from snnhw.golden import run  # noqa: E402
from snnhw.hdl import membrane_styles  # noqa: E402

from netgen import fuzz_cases  # noqa: E402
from test_fuzz_rtl import check_case  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/fuzz_rtl.json")
    args = parser.parse_args()

    totals: Counter = Counter()
    covered: Counter = Counter()
    bar = tqdm(total=args.examples, desc="fuzzed networks", unit="net")

    @seed(args.seed)
    @settings(max_examples=args.examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(fuzz_cases())
    def fuzz(case) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            checked = check_case(case, Path(tmp))
        totals.update(networks=1, **checked)
        banked = membrane_styles(case.net, case.lanes, case.weight_memory,
                                 case.membrane_memory).count("banked")
        covered.update([f"lanes={case.lanes}", f"weights={case.weight_memory}"]
                       + ["banked conv layers"] * banked
                       + [f"reset={layer.reset}" for layer in case.net.layers]
                       + [f"{layer.kind} layers" for layer in case.net.layers]
                       + [f"stride-{layer.stride} conv layers" for layer in case.net.layers
                          if layer.kind == "conv2d"]
                       + ["pooled layers" for layer in case.net.layers if layer.pool > 1]
                       + ([f"direct {case.net.input_bits}-bit inputs"] if case.net.input_bits > 1
                          else []))
        if sum(run(case.net, case.inputs).saturations):
            covered["saturating networks"] += 1
        if not case.inputs.any():
            covered["all-silent inputs"] += 1
        if (case.inputs == (1 << case.net.input_bits) - 1).all():
            covered["all-firing inputs"] += 1
        if any(layer.out_features == 1 for layer in case.net.layers):
            covered["1-neuron layers"] += 1
        bar.update(1)

    started = time.perf_counter()
    failure = None
    try:
        fuzz()
    except AssertionError as error:
        failure = str(error).splitlines()[0]
    bar.close()
    seconds = time.perf_counter() - started

    print(f"\nRTL fuzzing: {totals['networks']} networks, {totals['samples']} samples, "
          f"{totals['timesteps']} timesteps of samples, in {seconds:.0f} s")
    print(f"{'checked':<24} {'count':>8}")
    for key in ("networks", "layers", "samples", "events"):
        print(f"{key:<24} {totals[key]:>8}")
    for key, count in sorted(covered.items()):
        print(f"{key:<24} {count:>8}")
    print("result: " + (f"FAILED: {failure}" if failure else "0 mismatches"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"examples_requested": args.examples, "seed": args.seed,
                               "checked": dict(totals), "covered": dict(covered),
                               "seconds": seconds, "failure": failure}, indent=2) + "\n")
    print(f"wrote {out}")
    sys.exit(1 if failure else 0)


if __name__ == "__main__":
    main()
