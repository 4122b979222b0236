"""The design space of one model: weight widths x lanes x weight memory x targets.

``snnhw sweep model.pt`` quantizes the model at each weight width and runs the golden model
on its test set (accuracy, synaptic operations, the energy model of :mod:`snnhw.report`).
For each target it takes every configuration :mod:`snnhw.fit` considers: block RAMs, SPRAMs
and logic cells from the estimates, cycles per timestep from the cycle model
(:func:`snnhw.cycles.estimate`, which the RTL measures exactly) on the first ``samples`` test
samples, and microseconds per image at the clock asked of nextpnr. With ``synth`` every
configuration that fits by the estimates is built (IR, Verilog and memory images; no
simulation) and synthesised with Yosys + nextpnr, ``jobs`` at a time: the measured cells,
block RAMs, SPRAMs and fmax replace the estimates, and microseconds per image use the fmax.

A point is on the Pareto front of its target when no other fitting point of that target is
at least as good in logic cells, microseconds per image and accuracy and better in one.
Writes ``sweep.json``, ``sweep.md`` (the table) and ``pareto.png`` into an output folder that
snnhw owns (:class:`snnhw.outdir.OutputFolder`).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm import tqdm

from . import SnnhwError, cycles, golden
from .build import BuildOptions, build, load_dataset
from .data import encode_numpy
from .files import atomic_write
from .fit import configurations
from .hdl.layout import LANES
from .outdir import OutputFolder
from .plots import plot_pareto
from .quant import integer_inputs, quantize, quantize_file
from .report import activity
from .synth import synthesise
from .targets import TARGETS

__all__ = ["SweepOptions", "SweepPoint", "pareto_front", "render_sweep", "sweep"]


@dataclass(frozen=True)
class SweepOptions:
    """Weight widths (2..16), lane counts (of :data:`snnhw.hdl.layout.LANES`), target
    names (keys of :data:`snnhw.targets.TARGETS`), test samples the cycle figures are the mean over, whether to synthesise the fitting points and
    how many at once (``None``: one per core), a progress bar on stderr."""

    bits: tuple[int, ...] = (4, 6, 8)
    lanes: tuple[int, ...] = LANES
    targets: tuple[str, ...] = tuple(TARGETS)
    samples: int = 100
    synth: bool = False
    jobs: int | None = None
    progress: bool = False


@dataclass(frozen=True)
class SweepPoint:
    """One configuration on one target. ``source``: ``"estimate"`` or ``"synthesis"``
    (cells, block RAMs, SPRAMs and ``fits`` measured; ``fmax_mhz`` set when it placed and
    routed). ``us_per_image``: cycles per timestep x T at ``fmax_mhz`` or, from estimates,
    at the target's clock constraint. ``nj_per_image``: the report's energy model.
    ``accuracy``: the golden model's on the whole test set. ``limit``: what does not fit."""

    bits: int
    target: str
    lanes: int
    weight_memory: str
    source: str
    fits: bool
    cells: int | None
    brams: int | None
    sprams: int | None
    fmax_mhz: float | None
    cycles_per_timestep: float
    us_per_image: float | None
    nj_per_image: float
    accuracy: float
    limit: str | None
    pareto: bool = False


def _check(model_path: Path, options: SweepOptions) -> None:
    if not options.bits or any(not 2 <= b <= 16 for b in options.bits):
        raise SnnhwError(f"--bits {' '.join(map(str, options.bits))}: widths 2..16 required")
    if not options.lanes or any(p not in LANES for p in options.lanes):
        raise SnnhwError(f"--lanes {' '.join(map(str, options.lanes))}: allowed "
                         f"{', '.join(map(str, LANES))}")
    unknown = [t for t in options.targets if t not in TARGETS]
    if unknown or not options.targets:
        raise SnnhwError(f"--targets {' '.join(unknown)}: unknown; allowed: "
                         f"{', '.join(TARGETS)}")
    if options.samples < 1:
        raise SnnhwError(f"--samples {options.samples}: at least 1 is required")
    if options.jobs is not None and options.jobs < 1:
        raise SnnhwError(f"--jobs {options.jobs}: at least 1 is required")
    if model_path.suffix.lower() != ".pt":
        raise SnnhwError(f"{model_path}: snnhw sweep takes a model.pt (a NIR graph: snnhw "
                         f"import it first)")


def _estimated_points(model: dict[str, Any], bits: int, options: SweepOptions,
                      spikes, labels) -> list[SweepPoint]:
    """Every configuration of every target at ``bits``, from the estimates."""
    net = quantize(model, weight_bits=bits)
    trace = golden.run(net, spikes)
    accuracy = float((golden.predict(trace.output, net.vote_group) == labels).mean())
    energy = activity(net, spikes, trace.spikes)["energy_pj_per_sample"] / 1000
    head = spikes[:, :options.samples]
    head_spikes = [s[:, :options.samples] for s in trace.spikes]
    per_lanes = {}

    def predicted(lanes: int, membranes: list[str]) -> float:
        key = (lanes, tuple(membranes))
        if key not in per_lanes:
            per_lanes[key] = cycles.estimate(net, head, head_spikes, lanes,
                                             membranes).per_timestep_mean
        return per_lanes[key]

    points = []
    for name in options.targets:
        target = TARGETS[name]
        for c in configurations(net, target, predicted):
            # block-RAM membranes only: the sweep's designs are (bits, lanes, weight memory)
            if c.lanes not in options.lanes or c.membrane_memory != "bram":
                continue
            points.append(SweepPoint(
                bits=bits, target=name, lanes=c.lanes, weight_memory=c.weight_memory,
                source="estimate", fits=c.fits, cells=c.cells, brams=c.brams, sprams=c.sprams,
                fmax_mhz=None, cycles_per_timestep=c.cycles_per_timestep,
                us_per_image=c.us_per_sample, nj_per_image=energy, accuracy=accuracy,
                limit=c.limit))
    return points


def _synthesised(point: SweepPoint, folder: Path, timesteps: int) -> SweepPoint:
    """``point`` with the figures of its synthesis (folder: its build)."""
    section = synthesise(folder, point.target, log=lambda line: None)
    fmax = section.get("fmax_mhz")
    limit = None if section["fits"] else (section.get("not_fitting") or section.get("pnr_error"))
    return replace(point, source="synthesis", fits=bool(section["fits"]), cells=section["cells"],
                   brams=section["brams"], sprams=section["sprams"], fmax_mhz=fmax,
                   us_per_image=(point.cycles_per_timestep * timesteps / fmax) if fmax else None,
                   limit=limit)


def _synthesise_all(model_path: Path, points: list[SweepPoint], staging: Path,
                    timesteps: int, options: SweepOptions, log: Callable[[str], None]
                    ) -> list[SweepPoint]:
    """Build each distinct (bits, lanes, memory) of the fitting points once, then synthesise
    every fitting point, ``options.jobs`` at a time."""
    fitting = [p for p in points if p.fits]
    designs = sorted({(p.bits, p.lanes, p.weight_memory) for p in fitting})
    folders = {}
    for bits, lanes, memory in tqdm(designs, desc="sweep: RTL of the fitting points",
                                    unit="design", disable=not options.progress):
        folder = staging / "points" / f"w{bits}-p{lanes}-{memory}"
        build(model_path, folder, BuildOptions(weight_bits=bits, lanes=lanes,
                                               weight_memory=memory, samples=0),
              log=lambda line: None)
        folders[(bits, lanes, memory)] = folder
    # synthesise writes its figures into the build's report: one target at a time per build
    jobs = options.jobs or os.cpu_count() or 1
    log(f"synthesising {len(fitting)} fitting points ({len(designs)} designs), {jobs} at a "
        f"time ...")
    by_design: dict[tuple, list[SweepPoint]] = {}
    for p in fitting:
        by_design.setdefault((p.bits, p.lanes, p.weight_memory), []).append(p)

    def run_design(key: tuple) -> list[SweepPoint]:
        return [_synthesised(p, folders[key], timesteps) for p in by_design[key]]

    done: dict[tuple, SweepPoint] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool, \
            tqdm(total=len(fitting), desc="sweep: Yosys + nextpnr", unit="point",
                 disable=not options.progress) as bar:
        for results in pool.map(run_design, by_design):
            for p in results:
                done[(p.bits, p.target, p.lanes, p.weight_memory)] = p
            bar.update(len(results))
    return [done.get((p.bits, p.target, p.lanes, p.weight_memory), p) for p in points]


def pareto_front(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    """``points`` with ``pareto`` set on each fitting point no other fitting point of its
    target dominates (fewer or equal cells and us/image, higher or equal accuracy, one of
    them strictly better)."""
    def key(p: SweepPoint) -> tuple[float, float, float]:
        return (p.cells or 0, p.us_per_image or float("inf"), -p.accuracy)

    marked = []
    for p in points:
        rivals = [q for q in points if q.fits and q.target == p.target and q is not p]
        dominated = any(all(a <= b for a, b in zip(key(q), key(p))) and key(q) != key(p)
                        for q in rivals)
        marked.append(replace(p, pareto=p.fits and p.us_per_image is not None and not dominated))
    return marked


def _value(value: Any, form: str = "{}") -> str:
    return "-" if value is None else form.format(value)


def render_sweep(name: str, points: Sequence[SweepPoint], synthesised: bool) -> str:
    """The sweep as markdown: one row per point, fastest first within a target."""
    source = ("cells, block RAMs, SPRAMs and fmax from Yosys + nextpnr for the points that fit "
              "by the estimates" if synthesised else
              "cells, block RAMs and SPRAMs estimated before synthesis (snnhw/targets.py); "
              "us/image at the clock asked of nextpnr (`snnhw sweep --synth` measures fmax)")
    lines = [f"# snnhw sweep: {name}", "",
             f"Cycles per timestep: the cycle model (equal to the RTL's, measured by every "
             f"build); energy: the report's model; accuracy: the golden model on the whole "
             f"test set; {source}. Pareto: not dominated on its target in cells, us/image and "
             f"accuracy.", "",
             "![us/image against logic cells, Pareto front marked](pareto.png)", "",
             "| target | bits | P | weights | fits | cells | BRAM | SPRAM | fmax MHz | "
             "cycles/ts | us/image | nJ/image | accuracy % | Pareto |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    ordered = sorted(points, key=lambda p: (list(TARGETS).index(p.target), p.bits,
                                            p.cycles_per_timestep, p.weight_memory))
    for p in ordered:
        fits = ("yes" if p.fits else f"no: {p.limit}") + (f" ({p.source})" if synthesised else "")
        lines.append(f"| {p.target} | {p.bits} | {p.lanes} | {p.weight_memory} | {fits} | "
                     f"{_value(p.cells)} | {_value(p.brams)} | {_value(p.sprams)} | "
                     f"{_value(p.fmax_mhz, '{:.1f}')} | {p.cycles_per_timestep:.1f} | "
                     f"{_value(p.us_per_image, '{:.0f}')} | {p.nj_per_image:.0f} | "
                     f"{100 * p.accuracy:.2f} | {'yes' if p.pareto else ''} |")
    return "\n".join(lines) + "\n"


def sweep(model_path: str | Path, out: str | Path | None = None,
          options: SweepOptions = SweepOptions(), log: Callable[[str], None] = print
          ) -> list[SweepPoint]:
    """Sweep ``model_path``'s design space into ``out`` (default ``build/<name>/sweep``)."""
    model_path = Path(model_path)
    _check(model_path, options)
    model, net = quantize_file(model_path, weight_bits=max(options.bits))
    data = load_dataset(model["dataset"])
    spikes = integer_inputs(net, encode_numpy(data.x_test, net.encoding))
    out = Path(out) if out is not None else Path("build") / net.name / "sweep"
    inputs = (model_path,) + ((Path(net.dataset["path"]),) if net.dataset.get("path") else ())
    with OutputFolder(out, inputs=inputs) as staging:
        points: list[SweepPoint] = []
        for bits in tqdm(sorted(options.bits), desc="sweep: golden model and estimates",
                         unit="width", disable=not options.progress):
            points += _estimated_points(model, bits, options, spikes, data.y_test)
        log(f"{len(points)} points, {sum(p.fits for p in points)} fit by the estimates")
        if options.synth:
            points = _synthesise_all(model_path, points, staging, net.timesteps, options, log)
        points = pareto_front(points)
        atomic_write(staging / "sweep.json", json.dumps(
            {"model": str(model_path), "name": net.name, "timesteps": net.timesteps,
             "options": asdict(options), "points": [asdict(p) for p in points]}, indent=2) + "\n")
        atomic_write(staging / "sweep.md", render_sweep(net.name, points, options.synth))
        plot_pareto(points, staging / "pareto.png", f"{net.name}: design space")
    log(f"wrote {out}/ (sweep.md, sweep.json, pareto.png)")
    return points
