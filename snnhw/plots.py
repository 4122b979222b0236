"""Figures a person would rather look at than read: the training curve and the cycles of
every timestep, measured in cosimulation against the cycle model. PNG, matplotlib (Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["plot_cycles", "plot_training"]


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


def plot_cycles(measured_eots: Sequence[int], predicted_eots: Sequence[int], timesteps: int,
                path: Path, title: str) -> Path:
    """Cycles of every timestep: cosimulation (no stalls) against the cycle model."""
    plt = _pyplot()
    measured = np.diff(np.concatenate([[0], measured_eots]))
    predicted = np.diff(np.concatenate([[0], predicted_eots]))
    steps = np.arange(len(measured))
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=110)
    ax.plot(steps, measured, color="tab:blue", lw=1.5, label="measured (RTL, no stalls)")
    ax.plot(steps, predicted, color="tab:orange", lw=1, ls="--", label="predicted (cycle model)")
    for boundary in range(timesteps, len(measured), timesteps):
        ax.axvline(boundary - 0.5, color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel(f"timestep (grey lines: sample boundaries, T = {timesteps})")
    ax.set_ylabel("cycles")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
