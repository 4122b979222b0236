"""Figures a person would rather look at than read: the training curve, the cycles of every
timestep (cosimulation against the cycle model), a sweep's design space, and the views of
report.html (spike rasters, membranes, firing rates, accuracy by width). PNG, matplotlib
(Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Sequence

import numpy as np

__all__ = ["plot_accuracy_bits", "plot_cycles", "plot_membranes", "plot_pareto", "plot_rasters",
           "plot_rates", "plot_training"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training(history: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Loss and test accuracy per epoch."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, loss_ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    loss_ax.plot(epochs, [h["loss"] for h in history], color="tab:blue", marker="o", ms=3)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss (MSE on rate)", color="tab:blue")
    acc_ax = loss_ax.twinx()
    acc_ax.plot(epochs, [100 * h["test_accuracy"] for h in history], color="tab:red",
                marker="s", ms=3)
    acc_ax.set_ylabel("test accuracy (%)", color="tab:red")
    loss_ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


PLOTTED_SAMPLES = 20       # samples whose timesteps the cycles plot shows


def plot_cycles(measured_eots: Sequence[int], predicted_eots: Sequence[int], timesteps: int,
                path: Path, title: str) -> Path:
    """Cycles of every timestep of the first ``PLOTTED_SAMPLES`` samples: cosimulation (no
    stalls) against the cycle model (more samples would be a solid block of lines)."""
    plt = _pyplot()
    shown = PLOTTED_SAMPLES * timesteps
    measured = np.diff(np.concatenate([[0], measured_eots]))[:shown]
    predicted = np.diff(np.concatenate([[0], predicted_eots]))[:shown]
    steps = np.arange(len(measured))
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=110)
    ax.plot(steps, measured, color="tab:blue", lw=1.5, label="measured (RTL, no stalls)")
    ax.plot(steps, predicted, color="tab:orange", lw=1, ls="--", label="predicted (cycle model)")
    # one collection for all boundaries (a line artist each costs seconds over 1,000 samples)
    ax.vlines(np.arange(timesteps, len(measured), timesteps) - 0.5, 0, 1,
              transform=ax.get_xaxis_transform(), color="0.85", lw=0.8, zorder=0)
    samples = -(-len(measured) // timesteps)
    ax.set_xlabel(f"timestep of the first {samples} samples (grey lines: sample boundaries, "
                  f"T = {timesteps})")
    ax.set_ylabel("cycles")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def plot_pareto(points: Sequence[Any], path: Path, title: str) -> Path:
    """Microseconds per image against logic cells, one panel per target: every fitting point
    of a sweep (:class:`snnhw.sweep.SweepPoint`), the marker's shape its weight width, the
    Pareto front filled and joined, the others hollow."""
    plt = _pyplot()
    targets = list(dict.fromkeys(p.target for p in points))
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.6), dpi=110,
                             squeeze=False)
    markers = dict(zip(sorted({p.bits for p in points}), "osD^v<>p*h"))
    for ax, target in zip(axes[0], targets):
        shown = [p for p in points if p.target == target and p.fits and p.us_per_image]
        if not shown:
            ax.set_title(target, fontsize=9)
            ax.text(0.5, 0.5, "no configuration fits", ha="center", va="center",
                    transform=ax.transAxes, color="0.4")
            ax.set_axis_off()
            continue
        for p in shown:
            ax.plot(p.cells, p.us_per_image, markers[p.bits], ms=6,
                    color="tab:red" if p.pareto else "tab:blue",
                    mfc="tab:red" if p.pareto else "none")
        front = sorted((p for p in shown if p.pareto), key=lambda p: p.cells)
        if front:
            ax.plot([p.cells for p in front], [p.us_per_image for p in front], color="tab:red",
                    lw=0.8, alpha=0.6)
        for bits, marker in markers.items():
            ax.plot([], [], marker, color="0.3", mfc="none", label=f"{bits}-bit weights")
        ax.set_yscale("log")
        ax.set_xlabel("logic cells")
        ax.set_ylabel("us per image")
        ax.set_title(target, fontsize=9)
        ax.grid(True, which="both", color="0.9", lw=0.6)
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{title} (red: Pareto front in cells, us/image, accuracy)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def plot_rasters(views: dict[str, Any], path: Path | BinaryIO) -> None:
    """One sample's spikes, a row per layer: float model, golden model, RTL side by side
    (``views``: :func:`snnhw.views.collect`)."""
    plt = _pyplot()
    layers = views["layers"]
    columns = [("float", "float model"), ("golden", "golden model (integer)"), ("rtl", "RTL")]
    fig, axes = plt.subplots(len(layers), 3, figsize=(10, 1.9 * len(layers) + 0.6), dpi=100,
                             squeeze=False, sharex=True)
    for row, layer in zip(axes, layers):
        for ax, (key, title) in zip(row, columns):
            events = layer[key]
            if events is None:
                ax.text(0.5, 0.5, "not recorded", ha="center", va="center",
                        transform=ax.transAxes, color="0.5")
            elif events:
                t, n = np.asarray(events).T
                ax.scatter(t, n, s=4 if len(events) < 2000 else 1, marker="s", color="k",
                           linewidths=0)
            ax.set_xlim(-0.5, views["timesteps"] - 0.5)
            ax.set_ylim(-0.5, layer["neurons"] - 0.5)
            count = "-" if events is None else len(events)
            ax.set_title(f"{layer['name']}: {title}, {count} spikes", fontsize=8)
            ax.tick_params(labelsize=7)
        row[0].set_ylabel("neuron", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("timestep", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def plot_membranes(views: dict[str, Any], path: Path | BinaryIO) -> None:
    """Membranes of each layer's traced neurons, float (solid) against integer (dashed), as a
    fraction of the threshold (the grey line at 1: where both fire)."""
    plt = _pyplot()
    layers = views["layers"]
    fig, axes = plt.subplots(1, len(layers), figsize=(4 * len(layers), 3), dpi=100,
                             squeeze=False)
    steps = np.arange(views["timesteps"])
    for ax, layer in zip(axes[0], layers):
        integer = np.asarray(layer["membrane_integer"])
        floats = None if layer["membrane_float"] is None else np.asarray(layer["membrane_float"])
        for k, neuron in enumerate(layer["traced"]):
            color = f"C{k}"
            if floats is not None:
                ax.plot(steps, floats[:, k], color=color, lw=1.5, label=f"#{neuron} float")
            ax.plot(steps, integer[:, k], color=color, lw=1.2, ls="--", marker=".",
                    label=f"#{neuron} integer")
        ax.axhline(1.0, color="0.6", lw=0.8)
        ax.set_title(f"{layer['name']}: membrane / threshold", fontsize=9)
        ax.set_xlabel("timestep", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def plot_rates(views: dict[str, Any], path: Path | BinaryIO) -> None:
    """Firing rate of every layer over the test set, float model against golden model."""
    plt = _pyplot()
    layers = views["layers"]
    x = np.arange(len(layers))
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(layers) + 2), 3), dpi=100)
    floats = [layer["rate_float"] or 0.0 for layer in layers]
    ax.bar(x - 0.2, floats, 0.4, label="float model", color="tab:blue")
    ax.bar(x + 0.2, [layer["rate_golden"] for layer in layers], 0.4, label="golden model",
           color="tab:orange")
    ax.set_xticks(x, [layer["name"] for layer in layers], fontsize=8)
    ax.set_ylabel("spikes per neuron and timestep", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def plot_accuracy_bits(views: dict[str, Any], float_accuracy: float, built_bits: int,
                       path: Path | BinaryIO) -> None:
    """Golden-model accuracy against weight width, the float model's as a line, the build's
    width marked."""
    plt = _pyplot()
    curve = views["accuracy_by_bits"]
    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    bits = [c["bits"] for c in curve]
    ax.plot(bits, [100 * c["accuracy"] for c in curve], marker="o", color="tab:orange",
            label=f"golden model (first {views['accuracy_samples']} test samples)")
    ax.axhline(100 * float_accuracy, color="tab:blue", lw=1, ls="--", label="float model")
    ax.axvline(built_bits, color="0.7", lw=0.8)
    ax.set_xticks(bits)
    ax.set_xlabel(f"weight bits (grey: this build, {built_bits})", fontsize=8)
    ax.set_ylabel("accuracy (%)", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
