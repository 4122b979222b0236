"""``snnhw build``: model.pt -> IR -> golden model -> Verilog -> cosimulation -> report.

Everything is written into a staging folder beside the output and traded into place at the
end (:class:`snnhw.outdir.OutputFolder`), so the output folder appears whole or not at all,
an earlier build there is replaced only once the new one is complete, and a folder snnhw did
not write is never replaced.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from . import SnnhwError, cosim, cycles, golden, harness, ir, views
from .buildfolder import digests
from .checkpoint import save_payload
from .data import Split, encode_numpy
from .data import load_dataset as load_named_dataset
from .files import atomic_write
from .fit import Choice, DoesNotFit, choose, configurations
from .fixedpoint import DIRECT_INPUT_BITS
from .hdl import (
    MEMBRANE_MEMORY,
    TOP_NAME,
    WEIGHT_MEMORY,
    index_bits,
    membrane_styles,
    output_value_bits,
    value_bits,
    weight_load_bytes,
    write_rtl,
)
from .interop.importer import SampleData, import_model
from .interop.nir_read import ImportOptions
from .nn import SpikingNetwork
from .outdir import OutputFolder
from .plots import plot_cycles
from .quant import integer_inputs, quantize, quantize_file
from .report import CYCLES_PNG, ENERGY_MODEL, VIEWS, activity, memory_bits, write_report
from .targets import TARGETS
from .train import evaluate_float

__all__ = ["BuildOptions", "RTLCheck", "SIMULATORS", "TRACE_FOLDER", "build", "load_dataset",
           "trace_sample", "verify_network"]

# "fast": the compiled Verilator harness, every layer checked (snnhw.harness); "verilator",
# "icarus": the cocotb testbench, the readable reference (snnhw.cosim)
SIMULATORS = ("fast", *cosim.SIMULATORS)


@dataclass(frozen=True)
class BuildOptions:
    """Options of ``snnhw build``: weight bits, optional membrane bits, leak fraction bits,
    the width of a direct-encoding input, simulator (``SIMULATORS``), lanes per core, number
    of RTL-checked samples (``None``: the whole test set), stall probability of the
    testbench, weight memory (``"rom"``: in the bitstream; ``"spram"``: the largest layer's
    weights loaded at run time, for iCE40 UP SPRAM), the FPGA to fit (a key of
    :data:`snnhw.targets.TARGETS`: lanes and weight memory not given are chosen for it by
    :func:`snnhw.fit.choose`; without a target they default to 1 and ``"rom"``), the test
    sample whose simulation is written as a VCD (``trace``; also the sample report.html
    shows, else sample 0), a progress
    bar of the simulated samples (rate, time left) on stderr; for a NIR model, how to read
    its neurons and which test data to check it on (:mod:`snnhw.interop`)."""

    weight_bits: int = 8
    membrane_bits: int | None = None
    leak_frac_bits: int = 8
    input_bits: int = DIRECT_INPUT_BITS
    sim: str = "fast"
    lanes: int | None = None
    samples: int | None = None
    stall: float = 0.3
    weight_memory: str | None = None
    membrane_memory: str | None = None
    target: str | None = None
    trace: int | None = None
    progress: bool = False
    nir: ImportOptions = ImportOptions()
    test_data: SampleData = SampleData()


@dataclass(frozen=True)
class RTLCheck:
    """Outcome of :func:`verify_network`: the golden trace, the predicted cycles, and the
    cosimulation results per testbench test (empty when no simulator was run); the fast
    harness adds ``layer_mismatches`` and ``output_counts`` to each."""

    trace: golden.Trace
    estimate: cycles.CycleEstimate
    results: dict[str, Any]

    @property
    def mismatches(self) -> int:
        return sum(r["mismatches"] for r in self.results.values())

    @property
    def full_rate(self) -> dict[str, Any]:
        return self.results.get("full_rate", {})


def _compared(net: ir.Network) -> str:
    """What the RTL check compares: spikes, and a readout's membranes."""
    return "spikes" if net.layers[-1].fires else "spikes and readout membranes"


def verify_network(net: ir.Network, inputs: np.ndarray, folder: Path, *, sim: str | None,
                   lanes: int = 1, stall: float = 0.3, seed: int = 1,
                   weight_memory: str = "rom", membrane_memory: str = "bram",
                   log: Callable[[str], None] = print,
                   progress: bool = False, raster_sample: int | None = None) -> RTLCheck:
    """Generate ``folder/rtl`` (Verilog with ``lanes`` lanes per core and ``weight_memory``,
    memory images) and the cocotb bundle for ``inputs`` (``[T, S, F]``), then check the RTL
    against the golden model with ``sim`` (one of ``SIMULATORS``; skipped when ``None``).
    The fast harness also records the RTL's events of ``raster_sample`` in every layer."""
    write_rtl(net, folder / "rtl", lanes, weight_memory, membrane_memory)
    trace = golden.run(net, inputs)
    estimate = cycles.estimate(net, inputs, trace.spikes, lanes,
                               membrane_styles(net, lanes, weight_memory, membrane_memory))
    cosim.write_bundle(folder, top=TOP_NAME, inputs=inputs, expected=trace.output,
                       index_bits_in=index_bits(net.input_features),
                       index_bits_out=index_bits(net.output_features),
                       value_bits_in=value_bits(net.input_bits),
                       value_bits_out=output_value_bits(net),
                       cycle_budget=2 * estimate.total + 10_000,
                       load=weight_load_bytes(net, lanes, weight_memory))
    results: dict[str, Any] = {}
    if sim == "fast":
        log(f"checking every layer of {inputs.shape[1]} samples on the fast Verilator "
            f"harness ...")
        with tqdm(total=2 * inputs.shape[1], desc="RTL, every layer (with, then without "
                  "stalls)", unit="sample", disable=not progress) as bar:
            results = harness.verify_fast(folder, net, inputs, trace.spikes, values=trace.values,
                                          load=weight_load_bytes(net, lanes, weight_memory),
                                          stall=stall, seed=seed,
                                          cycle_budget=2 * estimate.total + 10_000,
                                          raster_sample=raster_sample,
                                          progress=lambda done, total: bar.update(done - bar.n))
            bar.update(bar.total - bar.n)
        shutil.rmtree(folder / "sim_build", ignore_errors=True)
        check = RTLCheck(trace, estimate, results)
        log(f"RTL vs golden: {check.mismatches} mismatching {_compared(net)} in "
            f"{len(net.layers)} layers over {inputs.shape[1]} samples (with and without "
            f"stalls)")
        return check
    if sim is not None:
        log(f"cosimulating {inputs.shape[1]} samples on {sim} ...")
        with tqdm(total=2 * inputs.shape[1], desc=f"RTL on {sim} (with, then without stalls)",
                  unit="sample", disable=not progress) as bar:
            def advance(done: int, total: int) -> None:
                bar.update(done - bar.n)

            results = cosim.run_cosim(folder, top=TOP_NAME, sim=sim, stall=stall, seed=seed,
                                      progress=advance)
            advance(bar.total, bar.total)
        shutil.rmtree(folder / "sim_build", ignore_errors=True)
        check = RTLCheck(trace, estimate, results)
        log(f"RTL vs golden: {check.mismatches} mismatching {_compared(net)} over "
            f"{inputs.shape[1]} samples (with and without stalls)")
        return check
    return RTLCheck(trace, estimate, results)


TRACE_FOLDER = "trace"


def trace_sample(folder: Path, net: ir.Network, inputs: np.ndarray, sample: int, *, lanes: int,
                 weight_memory: str, membrane_memory: str = "bram") -> Path:
    """The fast harness's simulation of one sample ``inputs`` (``[T, 1, F]``, test sample
    ``sample``) on ``folder/rtl`` with every signal traced, at full rate:
    ``folder/trace/sample<k>.vcd``. The streams keep their Amaranth names (``i__valid``,
    ``i__payload``, each core's ``o__*`` ...), for GTKWave or Surfer."""
    trace = golden.run(net, inputs)
    budget = 2 * cycles.estimate(net, inputs, trace.spikes, lanes, membrane_styles(
        net, lanes, weight_memory, membrane_memory)).total + 10_000
    load = weight_load_bytes(net, lanes, weight_memory)
    build_dir = folder / "sim_build" / "trace"
    binary = harness.compile_harness(folder, net, build_dir, has_load=bool(load), trace=True,
                                     quick=True)
    vectors = harness.write_vectors(build_dir / "vectors.bin", inputs, trace.spikes, load,
                                    trace.values, output_value_bits(net))
    vcd = folder / TRACE_FOLDER / f"sample{sample}.vcd"
    vcd.parent.mkdir(exist_ok=True)
    results = harness.run_harness(binary, vectors, {"trace": harness.HarnessRun(
        0.0, 1, budget, (vcd, 0))}, workdir=folder / "cosim")
    shutil.rmtree(folder / "sim_build", ignore_errors=True)
    if results["trace"]["mismatches"]:
        raise SnnhwError(f"--trace {sample}: the traced run differs from the golden model in "
                         f"{results['trace']['mismatches']} spikes; see {vcd}")
    return vcd


def load_dataset(dataset: dict[str, Any]) -> Split:
    """The dataset a model was trained on, from its ``model.pt`` description."""
    return load_named_dataset(str(dataset.get("name")),
                              split_seed=int(dataset.get("split_seed", 0)),
                              path=dataset.get("path") or None, events=dataset.get("events"))


def build(model_path: str | Path, out: str | Path | None = None, options: BuildOptions = BuildOptions(),
          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole build; returns the report dict. Raises :class:`SnnhwError` on bad input,
    before anything is written. ``out`` defaults to ``build/<model name>/hw`` (beside, never
    onto, the ``build/<name>/model.pt`` that ``snnhw train`` writes)."""
    if options.samples is not None and options.samples < 0:
        raise SnnhwError(f"--samples {options.samples}: must be >= 0")
    if options.sim not in SIMULATORS:
        raise SnnhwError(f"--sim {options.sim!r}: allowed: {', '.join(SIMULATORS)}")
    if options.weight_memory is not None and options.weight_memory not in WEIGHT_MEMORY:
        raise SnnhwError(f"--weight-memory {options.weight_memory!r}: allowed: "
                         f"{', '.join(WEIGHT_MEMORY)}")
    if options.membrane_memory is not None and options.membrane_memory not in MEMBRANE_MEMORY:
        raise SnnhwError(f"--membrane-memory {options.membrane_memory!r}: allowed: "
                         f"{', '.join(MEMBRANE_MEMORY)}")
    if options.target is not None and options.target not in TARGETS:
        raise SnnhwError(f"--target {options.target!r}: unknown; allowed: {', '.join(TARGETS)}")
    if not 0.0 <= options.stall < 1.0:
        raise SnnhwError(f"--stall {options.stall}: a probability in [0, 1) is required")
    if options.samples != 0:
        cosim.find_simulator("verilator" if options.sim == "fast" else options.sim)
    if options.trace is not None:
        if options.trace < 0:
            raise SnnhwError(f"--trace {options.trace}: a test sample index >= 0 is required")
        cosim.find_simulator("verilator")
    widths = {"weight_bits": options.weight_bits, "membrane_bits": options.membrane_bits,
              "leak_frac_bits": options.leak_frac_bits, "input_bits": options.input_bits}
    imported = Path(model_path).suffix.lower() == ".nir"
    if imported:
        model = import_model(model_path, options.nir, options.test_data)
        net = quantize(model, where=str(model_path), **widths)
    elif options.test_data != SampleData():
        raise SnnhwError(f"{model_path}: --data and --timesteps are for NIR models; a model.pt "
                         f"names its own data set")
    else:
        model, net = quantize_file(model_path, **widths)
    out = out if out is not None else Path("build") / net.name / "hw"
    inputs = [Path(model_path)] + ([Path(net.dataset["path"])] if net.dataset.get("path") else [])
    with OutputFolder(out, inputs=tuple(inputs)) as staging:
        if imported:        # the float model read from the graph, for inspection and reuse
            save_payload(staging / "model.pt", model)
        report = _build_into(staging, model, net, options, log)
    log(f"wrote {out}/")
    first = report["rtl"]["first_mismatch"]
    if report["rtl"]["mismatches"]:
        where = (f"first at sample {first['sample']}, timestep {first['timestep']}, layer "
                 f"{first['layer']}, neuron {first['neuron']} (golden {first['golden']}, rtl "
                 f"{first['rtl']})") if first else "see the report"
        raise SnnhwError(f"the RTL differs from the golden model in "
                         f"{report['rtl']['mismatches']} spikes, {where}; report: "
                         f"{Path(out) / 'report.md'}")
    return report


CHOICE_SAMPLES = 100     # test samples whose throughput bound ranks the configurations


def _configuration(model: dict[str, Any], net: ir.Network, spikes: np.ndarray,
                   trace: golden.Trace, options: BuildOptions, log: Callable[[str], None]
                   ) -> tuple[int, str, str, Choice | None]:
    """Lanes, weight and membrane memory of the hardware: as given, or without a target 1,
    ``"rom"`` and ``"bram"``, or chosen for ``options.target`` (:func:`snnhw.fit.choose`, ranked by the
    throughput bound of the first ``CHOICE_SAMPLES`` test samples). A network that fits no
    configuration of the target raises :class:`DoesNotFit`, naming the weight widths
    (``--fixed``) that would fit as well."""
    if options.membrane_memory == "banked" and "banked" not in membrane_styles(
            net, options.lanes or 1, options.weight_memory or "rom", "banked"):
        raise SnnhwError(f"--membrane-memory banked: no layer of {net.name} can bank its "
                         f"membranes (layers: {', '.join(l.name for l in net.layers)}); banked "
                         f"takes a convolution over spikes with a kernel of 2 or more, no "
                         f"NeuNorm term, its weights in ROM: use --membrane-memory bram")
    if options.target is None:
        return (options.lanes or 1, options.weight_memory or "rom",
                options.membrane_memory or "bram", None)
    head = spikes[:, :CHOICE_SAMPLES]
    layer_spikes = [s[:, :CHOICE_SAMPLES] for s in trace.spikes]

    def bound_of(network: ir.Network, layers: list[np.ndarray]
                 ) -> Callable[[int, list[str]], float]:
        return lambda lanes, membranes: cycles.bound(network, head, layers, lanes, membranes)

    try:
        choice = choose(net, options.target, bound_of(net, layer_spikes), lanes=options.lanes,
                        weight_memory=options.weight_memory,
                        membrane_memory=options.membrane_memory)
    except DoesNotFit as error:
        narrower = []
        for bits in (b for b in (6, 4, 2) if b < options.weight_bits):
            smaller = quantize(model, weight_bits=bits, membrane_bits=None,
                               leak_frac_bits=options.leak_frac_bits,
                               input_bits=options.input_bits)
            fitting = [c for c in configurations(smaller, TARGETS[options.target],
                                                 bound_of(smaller, golden.run(smaller, head).spikes))
                       if c.fits]
            if fitting:         # the widest that fits
                narrower.append(f"--fixed {bits} ({fitting[0].describe()})")
                break
        raise DoesNotFit(f"{error}" + (f"; or on {options.target}: {', '.join(narrower)}"
                                       if narrower else "")) from None
    c = choice.chosen
    log(f"{c.target}: {c.describe()}: {choice.reason} (estimates: {c.brams} block RAMs, "
        f"{c.sprams} SPRAMs, ~{c.cells} logic cells; bound {c.cycles_per_timestep:.0f} "
        f"cycles/timestep, {c.us_per_sample:.0f} us/sample at {TARGETS[c.target].clock_mhz:g} MHz)")
    return c.lanes, c.weight_memory, c.membrane_memory, choice


def _layer_mismatches(net: ir.Network, results: dict[str, Any]) -> dict[str, int] | None:
    """Mismatching spikes per layer, both runs together (fast harness only)."""
    if not results or any("layer_mismatches" not in r for r in results.values()):
        return None
    return {layer.name: sum(int(r["layer_mismatches"][k]) for r in results.values())
            for k, layer in enumerate(net.layers)}


def _first_mismatch(net: ir.Network, results: dict[str, Any]) -> dict[str, Any] | None:
    """The first mismatch as (run, sample, timestep, layer, neuron, golden, rtl); the
    cocotb testbench sees only the output layer."""
    for run_name, result in results.items():
        for m in result.get("first_mismatches", []):
            layer = net.layers[int(m["layer"])].name if "layer" in m else net.layers[-1].name
            return {"run": run_name, "sample": m["sample"], "timestep": m["timestep"],
                    "layer": layer, "neuron": m["neuron"], "golden": m["golden"],
                    "rtl": m["rtl"]}
    return None


def _build_into(folder: Path, model: dict[str, Any], net: ir.Network, options: BuildOptions,
                log: Callable[[str], None]) -> dict[str, Any]:
    ir.save(net, folder / "ir")
    log(f"IR: {len(net.layers)} layers, widths " + ", ".join(
        f"{l.name}: w{l.weight_bits}/m{l.membrane_bits}/acc{l.accumulator_bits}" for l in net.layers))

    data = load_dataset(model["dataset"])
    inputs = encode_numpy(data.x_test, net.encoding)
    spikes = integer_inputs(net, inputs)
    if spikes.shape[2] != net.input_features:
        raise SnnhwError(f"dataset {model['dataset']['name']!r}: {spikes.shape[2]} input "
                         f"features per sample, but layer {net.layers[0].name} of the model "
                         f"takes {net.input_features}")
    float_net = SpikingNetwork(model["architecture"])
    float_net.load_state_dict(model["state_dict"])
    float_net.eval()
    with torch.no_grad():
        float_eval = evaluate_float(float_net, inputs, data.y_test)
    float_acc = float_eval["accuracy"]
    trace = golden.run(net, spikes)
    fixed_acc = float((golden.predict(trace.output, net.vote_group) == data.y_test).mean())
    log(f"accuracy on {len(data.y_test)} test samples: float {100 * float_acc:.2f} %, "
        f"{options.weight_bits}-bit fixed {100 * fixed_acc:.2f} %")

    lanes, weight_memory, membrane_memory, choice = _configuration(model, net, spikes, trace,
                                                                   options, log)
    membranes = membrane_styles(net, lanes, weight_memory, membrane_memory)
    n = spikes.shape[1] if options.samples is None else min(options.samples, spikes.shape[1])
    sample = options.trace if options.trace is not None else 0
    if sample >= spikes.shape[1]:
        raise SnnhwError(f"--trace {sample}: the test set has {spikes.shape[1]} samples "
                         f"(0..{spikes.shape[1] - 1})")
    if options.samples is not None and options.samples > n:
        log(f"--samples {options.samples}: the test set has {n} samples; checking all {n}")
    check_inputs = spikes[:, :max(n, 1)]
    check = verify_network(net, check_inputs, folder, sim=options.sim if n else None,
                           lanes=lanes, stall=options.stall,
                           weight_memory=weight_memory, membrane_memory=membrane_memory, log=log,
                           progress=options.progress, raster_sample=sample)
    if options.trace is not None:
        vcd = trace_sample(folder, net, spikes[:, sample:sample + 1], sample, lanes=lanes,
                           weight_memory=weight_memory, membrane_memory=membrane_memory)
        log(f"wrote {vcd.relative_to(folder)}: the simulation of test sample {sample} (VCD; "
            f"GTKWave or Surfer)")
    estimate, measured = check.estimate, check.full_rate
    mismatches = check.mismatches if n else None
    labels = data.y_test[:n]
    rtl_accuracy = None
    if "output_counts" in measured:       # the RTL's own answers (fast harness)
        counts = np.asarray(measured["output_counts"]).reshape(1, n, net.output_features)
        rtl_accuracy = float((golden.predict(counts, net.vote_group) == labels).mean())

    act = activity(net, spikes, trace.spikes)
    report = {
        "name": net.name,
        "sizes": [net.input_features] + [l.out_features for l in net.layers],
        "timesteps": net.timesteps,
        "accuracy": {"float": float_acc, "fixed": fixed_acc, "samples": int(spikes.shape[1]),
                     "split": model["dataset"]},
        "rtl": {"simulator": options.sim, "samples": n, "mismatches": mismatches,
                "layer_mismatches": _layer_mismatches(net, check.results),
                "first_mismatch": _first_mismatch(net, check.results),
                "accuracy": rtl_accuracy,
                "golden_accuracy": float((golden.predict(trace.output[:, :n], net.vote_group)
                                          == labels).mean()) if n else None,
                "lanes": lanes, "weight_memory": weight_memory,
                "membrane_memory": membrane_memory,
                "membranes": dict(zip((l.name for l in net.layers), membranes)),
                "stall_probability": options.stall},
        "cycles_per_timestep": {
            "measured_mean": measured.get("cycles_per_timestep_mean"),
            "measured_max": measured.get("cycles_per_timestep_max"),
            "predicted": estimate.per_timestep_mean,
            "predicted_max": estimate.per_timestep_max,
            "predicted_samples": int(check.trace.output.shape[1]),
            "bound": cycles.bound(net, check_inputs, check.trace.spikes, lanes, membranes),
        },
        "saturations": {l.name: s for l, s in zip(net.layers, trace.saturations)},
        "sops_per_sample": act["sops_per_sample"],
        "spikes_per_sample": act["spikes_per_sample"],
        "energy_pj_per_sample": act["energy_pj_per_sample"],
        "energy_breakdown_pj": act["energy_breakdown_pj"],
        "ann_equivalent": act["ann_equivalent"],
        "energy_model": ENERGY_MODEL,
        "memory_bits": memory_bits(net),
        "fit": choice.to_json() if choice else None,
        "bits": {"weight": options.weight_bits,
                 "membrane": {l.name: l.membrane_bits for l in net.layers},
                 "accumulator": {l.name: l.accumulator_bits for l in net.layers},
                 "leak_frac": options.leak_frac_bits},
        "digests": digests(folder),
    }
    if measured:
        plot_cycles(measured["eot_cycles"], check.estimate.eot_cycles, net.timesteps,
                    folder / CYCLES_PNG, f"{net.name}: cycles per timestep, {n} samples")
    raster = measured.get("raster") if sample < n else None
    view = views.collect(model, net, inputs, spikes, data.y_test, trace,
                         float_eval["layer_rates"], sample=sample, rtl_raster=raster)
    atomic_write(folder / VIEWS, json.dumps(view) + "\n")
    write_report(folder, report)
    return report
