"""The summary of a build report, one row per measure: the same rows in report.md, the
terminal and report.html."""

from __future__ import annotations

from typing import Any

__all__ = ["cycle_count", "measures", "plural"]


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, plural unless the count is 1."""
    return f"{count} {word}" + ("" if count == 1 else "s")


def cycle_count(value: float | None) -> str:
    """A cycle count to one decimal (a mean over samples), "n/a" where none was measured."""
    return "n/a" if value is None else f"{value:.1f}"


def measures(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(measure, value) rows of the summary table, the same in report.md and the terminal."""
    acc, rtl, cyc = report["accuracy"], report["rtl"], report["cycles_per_timestep"]
    per_layer = (f" ({', '.join(f'{k}: {v}' for k, v in rtl['layer_mismatches'].items())})"
                 if rtl.get("layer_mismatches") else "")
    rows = [(f"float accuracy ({acc['samples']} test samples)", f"{100 * acc['float']:.2f} %"),
            ("fixed-point accuracy (golden model)", f"{100 * acc['fixed']:.2f} %"),
            (f"RTL-checked samples ({rtl['simulator']})", f"{rtl['samples']}"),
            ("RTL mismatching spikes", f"{rtl['mismatches']}{per_layer}")]
    if rtl.get("accuracy") is not None:
        rows.append((f"RTL accuracy / golden accuracy ({rtl['samples']} samples)",
                     f"{100 * rtl['accuracy']:.2f} % / {100 * rtl['golden_accuracy']:.2f} %"))
    lanes = int(rtl.get("lanes", 1))
    rows += [("hardware configuration", f"{plural(lanes, 'lane')} per core, "
                                        f"{rtl.get('weight_memory', 'rom')} weights"),
             ("cycles per timestep, measured mean / max",
              f"{cycle_count(cyc['measured_mean'])} / {cycle_count(cyc['measured_max'])}"),
             ("cycles per timestep, predicted", cycle_count(cyc["predicted"])),
             ("cycles per timestep, bound (slowest layer)", cycle_count(cyc.get("bound"))),
             ("synaptic operations per sample", f"{report['sops_per_sample']:.0f}"),
             ("estimated energy per sample", f"{report['energy_pj_per_sample'] / 1000:.2f} nJ"),
             ("on-chip memory", f"{report['memory_bits']['total']} bits")]
    return rows
