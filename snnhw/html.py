"""report.html: the build's report as one self-contained page (figures inline as PNG, no
external file, script or font), for a person who would rather look than read.

It shows the verdict (RTL against golden model), the summary table of report.md, one
sample's spikes in every layer as the float model, the golden model and the RTL produced
them (and whether they are identical), membrane traces float against integer, firing rates,
accuracy against weight width, cycles per timestep measured against predicted and bound, and
the resources: every configuration considered for the target and the synthesis figures.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any, Callable

from .plots import plot_accuracy_bits, plot_membranes, plot_rasters, plot_rates
from .summary import measures

__all__ = ["render_html"]

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
.verdict { padding: 0.7em 1em; border-radius: 4px; font-weight: 600; }
.exact { background: #e6f4e6; border: 1px solid #8c8; }
.differs { background: #fbe4e4; border: 1px solid #d88; }
.unchecked { background: #f4f1e0; border: 1px solid #cc9; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
.note { color: #555; font-size: 0.9em; }
"""
# the page counts the figures the browser could draw (a check for a person or a test)
SCRIPT = """
window.addEventListener("load", () => {
  const shown = [...document.images].filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.figuresShown = String(shown);
});
"""


def _figure(draw: Callable[[io.BytesIO], None], alt: str) -> str:
    buffer = io.BytesIO()
    draw(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _verdict(report: dict[str, Any]) -> str:
    rtl = report["rtl"]
    if not rtl["samples"]:
        return '<p class="verdict unchecked">The RTL was not simulated (--samples 0).</p>'
    if rtl["mismatches"]:
        first = rtl.get("first_mismatch") or {}
        where = (f" First at sample {first.get('sample')}, timestep {first.get('timestep')}, "
                 f"layer {first.get('layer')}, neuron {first.get('neuron')}.") if first else ""
        return (f'<p class="verdict differs">The RTL differs from the golden model in '
                f'{rtl["mismatches"]} spikes over {rtl["samples"]} samples.{html.escape(where)}'
                f'</p>')
    scope = "every layer" if rtl.get("layer_mismatches") else "the output layer"
    return (f'<p class="verdict exact">Bit-exact: 0 mismatching spikes in {scope} over '
            f'{rtl["samples"]} test samples ({html.escape(rtl["simulator"])}, with and without '
            f'stalls).</p>')


def _agreement(views: dict[str, Any]) -> list[list[Any]]:
    """Per layer: spikes of the sample in each model and whether they are the same spikes."""
    rows = []
    for layer in views["layers"]:
        gold = {tuple(e) for e in layer["golden"]}

        def same(events: list[list[int]] | None) -> str:
            if events is None:
                return "not recorded"
            other = {tuple(e) for e in events}
            return "identical" if other == gold else f"{len(other ^ gold)} spikes differ"

        rows.append([layer["name"], layer["neurons"],
                     "-" if layer["float"] is None else len(layer["float"]), len(gold),
                     "-" if layer["rtl"] is None else len(layer["rtl"]),
                     same(layer["rtl"]), same(layer["float"])])
    return rows


def _resources(report: dict[str, Any]) -> str:
    parts = []
    fit = report.get("fit")
    if fit:
        c = fit["chosen"]
        parts.append(f"<p>Configuration for {html.escape(fit['target'])}: P={c['lanes']}, "
                     f"{html.escape(c['weight_memory'])} weights, "
                     f"{html.escape(c.get('membrane_memory', 'bram'))} membranes: "
                     f"{html.escape(fit['reason'])}. Estimates before synthesis.</p>")
        parts.append(_table(
            ["P", "weights", "membranes", "block RAMs", "SPRAMs", "logic cells (est.)",
             "bound cycles/ts", "us/sample (est.)", "fits"],
            [[k["lanes"], k["weight_memory"], k.get("membrane_memory", "bram"), k["brams"],
              k["sprams"], k["cells"],
              f"{k['cycles_per_timestep']:.0f}", f"{k['us_per_sample']:.0f}",
              "yes" if k["limit"] is None else f"no: {k['limit']}"]
             for k in fit["considered"]]))
    syntheses = list((report.get("synth_targets") or {}).values()) or (
        [report["synth"]] if report.get("synth") else [])
    fitting = [syn for syn in syntheses if syn["fits"]]
    if fitting:
        parts.append("<p>Synthesis (Yosys + nextpnr), per target:</p>" + _table(
            ["target", "cells", "LUTs", "flip-flops", "block RAMs", "SPRAMs", "DSPs",
             "fmax MHz", "us per sample"],
            [[syn["target"], syn["cells"], syn["luts"], syn["flip_flops"], syn["brams"],
              syn["sprams"], syn["dsps"],
              f"{syn['fmax_mhz']:.1f}" if syn.get("fmax_mhz") else "-",
              f"{syn['latency_us_per_sample']:.1f}" if syn.get("latency_us_per_sample")
              else "-"] for syn in fitting]))
    for syn in syntheses:
        if not syn["fits"]:
            parts.append(f"<p>Synthesis ({html.escape(syn['target'])}): does not fit: "
                         f"{html.escape(str(syn.get('not_fitting') or syn.get('pnr_error')))}"
                         f"</p>")
    if not syntheses:
        parts.append('<p class="note">Not synthesised yet: <code>snnhw synth</code> on this '
                     'folder adds cells, block RAMs, fmax and latency here.</p>')
    return "".join(parts)


def render_html(report: dict[str, Any], views: dict[str, Any] | None,
                cycles_png: bytes | None) -> str:
    """The page for ``report`` (report.json's contents), its ``views``
    (:func:`snnhw.views.collect`; ``None``: a build made before they existed) and the PNG of
    its cycles per timestep."""
    name = html.escape(report["name"])
    sections = [f"<h1>snnhw report: {name}</h1>",
                f"<p>Network: {html.escape(' -> '.join(str(n) for n in report['sizes']))}, "
                f"{report['timesteps']} timesteps, {report['bits']['weight']}-bit weights.</p>",
                _verdict(report),
                _table(["measure", "value"], [list(row) for row in measures(report)])]
    if views:
        sections += [
            f"<h2>Spikes of test sample {views['sample']} (label {views['label']})</h2>",
            _table(["layer", "neurons", "float spikes", "golden spikes", "RTL spikes",
                    "RTL vs golden", "float vs golden"], _agreement(views)),
            '<p class="note">The float model runs in floating point; the golden model is the '
            'integer specification the RTL must equal spike for spike. Float and golden may '
            'differ by quantization; RTL and golden may not.</p>',
            _figure(lambda f: plot_rasters(views, f), "spike rasters"),
            "<h2>Membranes: float against integer</h2>",
            '<p class="note">The most active neurons of each layer in this sample, as a '
            'fraction of the threshold (both fire at 1).</p>',
            _figure(lambda f: plot_membranes(views, f), "membrane traces"),
            "<h2>Firing rates per layer (test set)</h2>",
            _figure(lambda f: plot_rates(views, f), "firing rates"),
            "<h2>Accuracy against weight width</h2>",
            _figure(lambda f: plot_accuracy_bits(views, report["accuracy"]["float"],
                                                 report["bits"]["weight"], f),
                    "accuracy by weight width")]
    cyc = report["cycles_per_timestep"]
    sections.append("<h2>Cycles per timestep</h2>")
    sections.append(_table(["measured mean", "measured max", "predicted (cycle model)",
                            "bound (slowest layer)"],
                           [[cyc["measured_mean"], cyc["measured_max"], cyc["predicted"],
                             cyc.get("bound")]]))
    if cycles_png:
        data = base64.b64encode(cycles_png).decode("ascii")
        sections.append(f'<img alt="cycles per timestep" src="data:image/png;base64,{data}">')
    sections += ["<h2>Resources</h2>", _resources(report)]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>snnhw report: '
            f'{name}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>'
            + "\n".join(sections) + "</body></html>\n")
