"""Report stage: synaptic operations, memory, energy estimate and the written report.

Energy model (per sample, 45 nm figures used across the SNN literature):

* one synaptic operation (SOP) is one accumulate: ``E_AC = 0.9 pJ`` (32-bit float add),
  against ``E_MAC = 4.6 pJ`` for the multiply-accumulate of an equivalent ANN
  (Horowitz, "Computing's energy problem", ISSCC 2014); a direct-encoding layer's updates
  (value times weight, once per sample) are charged as MACs;
* memory traffic: ``10 pJ`` per 64-bit read of an 8 KB SRAM (same source), i.e. 0.156 pJ per
  bit, charged for every weight read, membrane read and write, and bias read (a
  direct-encoding layer also writes its currents once and reads them at every sweep, or,
  behind an input replay, integrates its input at every timestep, each event read from the
  replay buffer).

SOPs and memory traffic are counted from the golden model's spikes, so the estimate follows
the network's real activity.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .files import atomic_write
from .html import render_html
from .ir import Network
from .summary import measures, plural

__all__ = ["CYCLES_PNG", "ENERGY_MODEL", "VIEWS", "activity", "memory_bits", "render_markdown",
           "render_text", "write_report"]

ENERGY_MODEL: dict[str, Any] = {
    "accumulate_pj": 0.9,
    "mac_pj": 4.6,
    "sram_pj_per_bit": 10.0 / 64,
    "sources": {
        "accumulate_pj": "Horowitz, ISSCC 2014, 45 nm: 32-bit float add 0.9 pJ",
        "mac_pj": "Horowitz, ISSCC 2014, 45 nm: 32-bit float mult 3.7 pJ + add 0.9 pJ",
        "sram_pj_per_bit": "Horowitz, ISSCC 2014, 45 nm: 8 KB SRAM read, 10 pJ per 64 bits",
    },
    "counted": "SOPs x accumulate (a direct-encoding layer's: x mac) + (weight, membrane "
               "read/write, bias, current) bits x sram_pj_per_bit",
}


def memory_bits(net: Network) -> dict[str, int]:
    """Bits of on-chip memory: weights (with a NeuNorm term's aux kernel), membranes
    (accumulator width, plus a NeuNorm term's state), a direct-encoding layer's input
    currents (accumulator width) or its input replay buffer (an index and a value per input),
    and biases."""
    weights = sum(l.weight.size * l.weight_bits
                  + (l.aux_weight.size * l.aux_weight_bits if l.neunorm else 0)
                  for l in net.layers)
    membranes = sum(l.out_features * l.state_bits for l in net.layers)
    currents = sum(l.out_features * l.accumulator_bits for l in net.layers
                   if l.direct and not l.replays_input)
    replay = sum(l.in_features * l.replay_entry_bits for l in net.layers if l.replays_input)
    biases = sum(l.bias.size * l.membrane_bits for l in net.layers)
    return {"weights": weights, "membranes": membranes, "currents": currents,
            "input_replay": replay, "biases": biases,
            "total": weights + membranes + currents + replay + biases}


def activity(net: Network, inputs: np.ndarray, layer_spikes: list[np.ndarray]) -> dict[str, Any]:
    """Per-sample means of SOPs (synaptic updates, a direct layer's MACs among them), spikes
    and memory traffic, and the energy estimate, for the golden model's inputs ``[T, S, F]``
    and every layer's output events (``Trace.spikes``; a readout's are not counted as
    spikes)."""
    steps, samples, _ = inputs.shape
    sops = 0.0
    macs = 0.0                 # a direct-encoding layer's updates: value times weight
    traffic_bits = 0.0
    spikes = 0.0
    layer_inputs = [net.core_inputs(inputs)] + layer_spikes[:-1]
    for layer, x, out in zip(net.layers, layer_inputs, layer_spikes):
        events = np.count_nonzero(x, axis=(0, 1))
        layer_sops = float((events * layer.fan_out()).sum()) / samples
        sops += layer_sops
        if layer.fires:        # a readout's events carry membranes, not spikes
            spikes += float(out.sum(dtype=np.int64)) / samples
        # per update: weight read, membrane read and write (and a direct layer's current
        # write); per neuron and sweep: membrane read and write, bias (and current) read;
        # behind an input replay: each event written once and read at every later timestep
        currents = layer.accumulator_bits if layer.direct and not layer.replays_input else 0
        traffic_bits += layer_sops * (layer.weight_bits + 2 * layer.accumulator_bits + currents)
        traffic_bits += steps * layer.out_features * (2 * layer.accumulator_bits
                                                      + layer.membrane_bits + currents)
        if layer.replays_input:
            traffic_bits += float(events.sum()) / samples * layer.replay_entry_bits
        if layer.direct:
            macs += layer_sops
    compute_pj = ((sops - macs) * ENERGY_MODEL["accumulate_pj"]
                  + macs * ENERGY_MODEL["mac_pj"])
    memory_pj = traffic_bits * ENERGY_MODEL["sram_pj_per_bit"]
    ann_macs = sum(int(l.fan_out().sum()) for l in net.layers)   # every connection once
    return {"sops_per_sample": sops, "direct_macs_per_sample": macs,
            "spikes_per_sample": spikes,
            "memory_bits_accessed_per_sample": traffic_bits,
            "energy_pj_per_sample": compute_pj + memory_pj,
            "energy_breakdown_pj": {"compute": compute_pj, "memory": memory_pj},
            "ann_equivalent": {"macs_per_sample": ann_macs,
                               "compute_pj_per_sample": ann_macs * ENERGY_MODEL["mac_pj"]}}


def _fit_lines(fit: dict[str, Any]) -> list[str]:
    """The configuration chosen for the target and every one considered, as a table."""
    c = fit["chosen"]
    lines = [f"Configuration for {fit['target']}: P={c['lanes']}, {c['weight_memory']} "
             f"weights, {c.get('membrane_memory', 'bram')} membranes: {fit['reason']}. "
             f"Estimates before synthesis (logic: a fitted model, see snnhw/targets.py); "
             f"snnhw synth measures.", "",
             "| P | weights | membranes | block RAMs | SPRAMs | logic cells (est.) | "
             "bound cycles/ts | us/sample (est.) | fits |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def key(k: dict[str, Any]) -> tuple:
        return k["lanes"], k["weight_memory"], k.get("membrane_memory", "bram")
    for k in fit["considered"]:
        mark = " (chosen)" if key(k) == key(c) else ""
        lines.append(f"| {k['lanes']} | {k['weight_memory']} | "
                     f"{k.get('membrane_memory', 'bram')} | {k['brams']} | {k['sprams']} | "
                     f"{k['cells']} | {k['cycles_per_timestep']:.0f} | "
                     f"{k['us_per_sample']:.0f} | "
                     f"{'yes' + mark if k['limit'] is None else 'no: ' + k['limit']} |")
    return lines + [""]


def _syntheses(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target the build was synthesised for (the latest alone in older reports)."""
    by_target = report.get("synth_targets") or {}
    return list(by_target.values()) or ([report["synth"]] if "synth" in report else [])


def _synth_line(syn: dict[str, Any]) -> str:
    if syn["fits"]:
        return (f"Synthesis ({syn['target']}): {syn['cells']} cells, {syn['brams']} block RAMs, "
                f"{syn['sprams']} SPRAMs, {syn['dsps']} DSPs, fmax {syn['fmax_mhz']:.1f} MHz, "
                f"{syn['latency_us_per_sample']:.1f} us per sample.")
    return f"Synthesis ({syn['target']}): does not fit: {syn.get('not_fitting')}"


def render_markdown(report: dict[str, Any]) -> str:
    """The human-readable report (report.md)."""
    lines = [f"# snnhw report: {report['name']}", "",
             f"Network: {' -> '.join(str(n) for n in report['sizes'])}, "
             f"{report['timesteps']} timesteps, {report['bits']['weight']}-bit weights.", "",
             "| measure | value |", "| --- | --- |",
             *(f"| {measure} | {value} |" for measure, value in measures(report)), ""]
    if report["rtl"]["samples"]:
        lines += ["![cycles per timestep, measured and predicted](cycles.png)", ""]
    if report.get("fit"):
        lines += _fit_lines(report["fit"])
    for section in _syntheses(report):
        lines += [_synth_line(section), ""]
    return "\n".join(lines)


def render_text(report: dict[str, Any]) -> str:
    """The summary for a terminal: plain text, one measure per line."""
    rows = measures(report)
    width = max(len(measure) for measure, _ in rows)
    lines = [f"{report['name']}: {' -> '.join(str(n) for n in report['sizes'])}, "
             f"{plural(report['timesteps'], 'timestep')}, {report['bits']['weight']}-bit weights",
             *(f"  {measure:<{width}}  {value}" for measure, value in rows)]
    if report.get("fit"):
        fit = report["fit"]
        lines.append(f"  configuration for {fit['target']}: P={fit['chosen']['lanes']}, "
                     f"{fit['chosen']['weight_memory']} weights: {fit['reason']}")
    for section in _syntheses(report):
        lines.append("  " + _synth_line(section))
    return "\n".join(lines)


VIEWS = "views.json"      # snnhw.views.collect's output, beside the report
CYCLES_PNG = "cycles.png"


def write_report(folder: Path, report: dict[str, Any]) -> None:
    """Write ``report.json``, ``report.md`` and ``report.html`` (with the folder's views and
    cycles figure where they exist)."""
    atomic_write(folder / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write(folder / "report.md", render_markdown(report))
    views_path, cycles_path = folder / VIEWS, folder / CYCLES_PNG
    views = json.loads(views_path.read_text()) if views_path.is_file() else None
    cycles_png = cycles_path.read_bytes() if cycles_path.is_file() else None
    atomic_write(folder / "report.html", render_html(report, views, cycles_png))
