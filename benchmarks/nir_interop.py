"""NIR interoperability: one MLP and one convolutional network from each of snnTorch, Sinabs
and Norse, built by that framework, trained there, exported with its own NIR exporter, then
``snnhw build model.nir --from <framework> --data mnist-subset`` (8 bits) and synthesised.

Per model: the agreement of every layer's float spikes between the framework's forward pass
and snnhw's import (on ``--compare`` test digits), float and fixed-point accuracy on the 1,000
test digits, RTL mismatches (fast harness, every layer, ``--samples`` digits), and per
``--targets`` entry fit, cells, block RAM, fmax and us per sample (cycles x T / fmax); iCE40
targets take the build with ``--weight-memory spram`` (weights written at run time into the
UP5K's SPRAM), ECP5 the one with weights in the bitstream.

The networks and exporters are the test suite's (``tests/nirclients.py``); here they train for
``--steps`` Adam steps. The other way: the demo model (``--demo``, trained with the bundled
recipe when missing) exported by ``snnhw export`` and run by snnTorch's and Norse's importers,
its output spikes compared with snnhw's float model on the 1,000 test digits. Prints a table, writes ``benchmarks/results/nir_interop.json`` and the
generated section of docs/nir.md.

    python benchmarks/nir_interop.py [--steps 300] [--samples 200] [--targets ice40-up5k ecp5-25k]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from docblock import replace_block

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))     # the clients the tests use

from snnhw.build import BuildOptions, build, load_dataset
from snnhw.checkpoint import load_checkpoint
from snnhw.data import bernoulli_numpy, bundled_mnist, encode_numpy
from snnhw.interop.importer import SampleData, import_model
from snnhw.interop.nir_read import ImportOptions
from snnhw.interop.nir_write import write_nir
from snnhw.nn import SpikingNetwork
from snnhw.synth import synthesise
from snnhw.train import load_recipe, train

from nirclients import CLIENTS, norse_spikes, snntorch_spikes, train_steps

STEPS = 6       # timesteps per sample


def _agreement(model: dict, theirs: list[torch.Tensor], x: torch.Tensor) -> float:
    net = SpikingNetwork(model["architecture"])
    net.load_state_dict(model["state_dict"])
    record: list[torch.Tensor] = []
    with torch.no_grad():
        net(x, record=record)
    same = sum(int((a.reshape(b.shape) == b).sum()) for a, b in zip(record, theirs))
    return same / sum(b.numel() for b in theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="Adam steps in the framework")
    parser.add_argument("--samples", type=int, default=200, help="test digits on the RTL")
    parser.add_argument("--compare", type=int, default=256,
                        help="test digits whose float spikes are compared layer by layer")
    parser.add_argument("--targets", nargs="*", default=["ice40-up5k", "ecp5-25k"])
    parser.add_argument("--clients", nargs="*", default=list(CLIENTS))
    parser.add_argument("--demo", default="build/demo/model.pt",
                        help="snnhw model exported to snnTorch and Norse")
    parser.add_argument("--out", default="benchmarks/results/nir_interop.json")
    parser.add_argument("--doc", default="docs/nir.md")
    args = parser.parse_args()

    data = bundled_mnist(0)
    train_x = torch.from_numpy(bernoulli_numpy(data.x_train, STEPS, 0)).float()
    train_y = torch.from_numpy(data.y_train)
    compare = args.compare - args.compare % 64       # Sinabs' layers take whole batches
    test_x = torch.from_numpy(bernoulli_numpy(data.x_test[:compare], STEPS, 0)).float()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip() or None
    rows = []
    for name in args.clients:
        client = CLIENTS[name]
        for kind in ("mlp", "cnn"):
            with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net = client.build(kind)
                started = time.perf_counter()
                train_steps(client, net, train_x, train_y, steps=args.steps)
                trained = time.perf_counter() - started
                path = Path(tmp) / f"{name}_{kind}.nir"
                with torch.no_grad():
                    theirs = [torch.cat(parts, 1) for parts in zip(*(
                        client.spikes(net, test_x[:, b:b + 64]) for b in range(0, compare, 64)))]
                    client.export(net, path)
                options = ImportOptions(name)
                sample_data = SampleData("mnist-subset", timesteps=STEPS)
                model = import_model(path, options, sample_data)
                agreement = _agreement(model, theirs, test_x)
                folders = {memory: Path(tmp) / memory for memory in ("rom", "spram")}
                report = build(path, folders["rom"], BuildOptions(
                    samples=args.samples, nir=options, test_data=sample_data), log=print)
                spram = build(path, folders["spram"], BuildOptions(
                    samples=args.samples, weight_memory="spram", nir=options,
                    test_data=sample_data), log=print) if any(
                    t.startswith("ice40") for t in args.targets) else None
                row = {"framework": name, "kind": kind,
                       "layers": [s["type"] for s in model["architecture"]],
                       "train_steps": args.steps, "train_seconds": trained,
                       "float_agreement": agreement, "compared_samples": compare,
                       "accuracy_float": report["accuracy"]["float"],
                       "accuracy_fixed": report["accuracy"]["fixed"],
                       "rtl_samples": report["rtl"]["samples"],
                       "rtl_mismatches": report["rtl"]["mismatches"]
                       + (spram["rtl"]["mismatches"] if spram else 0),
                       "cycles_per_timestep": report["cycles_per_timestep"]["measured_mean"],
                       "targets": {}, "commit": commit}
                for target in args.targets:
                    memory = "spram" if target.startswith("ice40") else "rom"
                    syn = synthesise(folders[memory], target, log=lambda line: None)
                    row["targets"][target] = {"weight_memory": memory,
                        "fits": syn["fits"], "cells": syn["cells"], "brams": syn["brams"],
                        "sprams": syn["sprams"], "fmax_mhz": syn["fmax_mhz"],
                        "us_per_sample": syn["latency_us_per_sample"],
                        "not_fitting": syn.get("not_fitting")}
                rows.append(row)
                print(_line(row), flush=True)
    exported = export_rows(Path(args.demo))
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"timesteps": STEPS, "rows": rows, "exported": exported},
                              indent=2) + "\n")
    replace_block(ROOT / args.doc, "nir_interop", section(rows) + "\n" + export_section(exported))
    print(f"wrote {out} and the nir_interop section of {args.doc}")


def export_rows(model_path: Path) -> list[dict]:
    """The demo model through snnhw export into snnTorch (AvgPool2d file) and Norse
    (SumPool2d file, dt = 1e-4): output spikes against snnhw's float model."""
    if not model_path.is_file():
        recipe = ROOT / "train" / "stbp_mlp.toml"
        train(load_recipe(recipe), model_path)
    model = load_checkpoint(model_path)
    data = load_dataset(model["dataset"])
    x = torch.from_numpy(encode_numpy(data.x_test, model["encoding"])).float()
    net = SpikingNetwork(model["architecture"])
    net.load_state_dict(model["state_dict"])
    with torch.no_grad():
        ours = net(x)
    images = any(s["type"] == "conv2d" for s in model["architecture"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for reader, pool, run in (
                ("snntorch", "avg", lambda p: snntorch_spikes(p, x, images)),
                ("norse", "sum", lambda p: norse_spikes(p, x, images, 1e-4))):
            path = write_nir(model, Path(tmp) / f"{pool}.nir", pool=pool)
            started = time.perf_counter()
            with torch.no_grad():
                theirs = run(path).reshape(ours.shape)
            rows.append({"model": model["name"], "reader": reader, "samples": int(x.shape[1]),
                         "output_spikes": int(ours.sum()),
                         "differing_spikes": int((theirs != ours).sum()),
                         "agreement": float((theirs == ours).float().mean()),
                         "same_class": float((theirs.sum(0).argmax(-1) ==
                                              ours.sum(0).argmax(-1)).float().mean()),
                         "seconds": time.perf_counter() - started})
            print(f"{model['name']} -> {reader}: {rows[-1]['differing_spikes']} of "
                  f"{ours.numel()} output spikes differ", flush=True)
    return rows


def export_section(rows: list[dict]) -> str:
    if not rows:
        return ""
    lines = [f"snnhw's demo model ({rows[0]['model']}) written by `snnhw export` and run by the "
             f"other frameworks' importers on the {rows[0]['samples']} test digits, output "
             "spikes against snnhw's float model:", "",
             "| reader | output spikes (snnhw) | differing spikes | spikes equal % | same class % |",
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['reader']} | {r['output_spikes']} | {r['differing_spikes']} | "
                     f"{100 * r['agreement']:.3f} | {100 * r['same_class']:.1f} |")
    return "\n".join(lines) + "\n"


def _line(row: dict) -> str:
    fits = ", ".join(f"{t}: {'fits' if r['fits'] else 'no'}"
                     + (f" {r['cells']} cells {r['fmax_mhz']:.1f} MHz {r['us_per_sample']:.0f} us"
                        if r["fits"] and r["fmax_mhz"] else "")
                     for t, r in row["targets"].items())
    return (f"{row['framework']:<9} {row['kind']:<4} agreement {100 * row['float_agreement']:.3f} % "
            f"float {100 * row['accuracy_float']:.1f} % fixed {100 * row['accuracy_fixed']:.1f} % "
            f"RTL mismatches {row['rtl_mismatches']} / {row['rtl_samples']} samples; {fits}")


def section(rows: list[dict]) -> str:
    targets = sorted({t for r in rows for t in r["targets"]})
    head = ["framework", "network", "snnhw layers", "float spikes equal %", "float %",
            "8-bit %", "RTL mismatches"]
    for t in targets:
        head += [f"{t} fits", "cells", "fmax MHz", "us/sample"]
    lines = ["## Measured: one MLP and one CNN per framework", "",
             "Regenerated by `python benchmarks/nir_interop.py` (JSON in "
             "`benchmarks/results/nir_interop.json`). Each network is built, trained "
             f"({rows[0]['train_steps'] if rows else '-'} Adam steps on Bernoulli spikes of the "
             "bundled digits, T = 6) and exported by the framework itself, then imported with "
             "`--from <framework>`; *float spikes equal*: every layer's spikes of snnhw's float "
             "import against the framework's own forward pass on "
             f"{rows[0]['compared_samples'] if rows else '-'} test digits; accuracies on the "
             "1,000 test digits; RTL: the fast harness, every layer, with and without stalls, "
             f"{rows[0]['rtl_samples'] if rows else '-'} digits, both builds (weights in the "
             "bitstream for ECP5, written into SPRAM at run time for the UP5K); us/sample = cycles per "
             "timestep x T / fmax (nextpnr, seed 1).", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        cells = [r["framework"], r["kind"], " ".join(r["layers"]),
                 f"{100 * r['float_agreement']:.3f}", f"{100 * r['accuracy_float']:.1f}",
                 f"{100 * r['accuracy_fixed']:.1f}", str(r["rtl_mismatches"])]
        for t in targets:
            s = r["targets"].get(t)
            if not s:
                cells += ["-"] * 4
                continue
            cells += ["yes" if s["fits"] else "no", str(s["cells"] or "-"),
                      f"{s['fmax_mhz']:.1f}" if s["fmax_mhz"] else "-",
                      f"{s['us_per_sample']:.0f}" if s["us_per_sample"] else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
