"""Golden model: integer numpy execution of the IR. This is the specification.

Per layer and timestep t, for every neuron (``docs/fixed-point.md`` gives the widths)::

    acc[t]  = c[t-1] + sum_{j in events(t)} W[i, j]      exact, accumulator_bits wide
    u[t]    = saturate(acc[t] + b[i], membrane range)    counted when it clips
    o[t]    = u[t] >= threshold
    r[t]    = 0 (zero reset) or u[t] - threshold (subtract reset) where o[t], else u[t]
    c[t]    = leak(r[t]) = r[t] * leak_mult / 2**leak_frac_bits, rounded toward zero

with ``c[0] = 0`` at the start of every sample. Vectorised over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixedpoint import leak, saturate
from .ir import LIFLayer, Network

__all__ = ["Trace", "predict", "run", "run_layer"]


@dataclass(frozen=True)
class Trace:
    """Spikes of every layer, ``uint8 [T, B, out_features]``, and saturation counts.

    ``saturations[l]`` counts the (neuron, timestep, sample) triples where layer l's
    membrane clipped.
    """

    spikes: list[np.ndarray]
    saturations: list[int]

    @property
    def output(self) -> np.ndarray:
        return self.spikes[-1]


def run_layer(layer: LIFLayer, inputs: np.ndarray) -> tuple[np.ndarray, int]:
    """Run one layer on input spikes ``[T, B, in]``; returns spikes ``uint8 [T, B, out]`` and
    the number of saturation events."""
    steps, batch = inputs.shape[:2]
    lo, hi = layer.membrane_range
    w = layer.weight.T.astype(np.float64)   # exact: |sums| stay far below 2**53
    carried = np.zeros((batch, layer.out_features), dtype=np.int64)
    out = np.zeros((steps, batch, layer.out_features), dtype=np.uint8)
    saturations = 0
    for t in range(steps):
        acc = carried + (inputs[t].astype(np.float64) @ w).astype(np.int64)
        pre = acc + layer.bias
        u = saturate(pre, lo, hi)
        saturations += int((u != pre).sum())
        fired = u >= layer.threshold
        if layer.reset == "zero":
            r = np.where(fired, 0, u)
        else:
            r = np.where(fired, u - layer.threshold, u)
        carried = leak(r, layer.leak_mult, layer.leak_frac_bits)
        out[t] = fired
    return out, saturations


def run(net: Network, spikes: np.ndarray) -> Trace:
    """Run the network on input spikes ``[T, B, input_features]`` (values 0/1)."""
    if spikes.ndim != 3 or spikes.shape[2] != net.input_features:
        raise ValueError(f"input spikes must be [T, B, {net.input_features}], got {spikes.shape}")
    layer_spikes, saturations = [], []
    x = spikes
    for layer in net.layers:
        x, sat = run_layer(layer, x)
        layer_spikes.append(x)
        saturations.append(sat)
    return Trace(layer_spikes, saturations)


def predict(output_spikes: np.ndarray, vote_group: int = 1) -> np.ndarray:
    """Class per sample: argmax of output spike counts over time (summed over each class's
    ``vote_group`` neurons), ties to the lowest index."""
    counts = output_spikes.sum(axis=0, dtype=np.int64)
    counts = counts.reshape(counts.shape[0], -1, vote_group).sum(axis=2)
    return counts.argmax(axis=1)
