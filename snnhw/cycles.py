"""Cycle model of the generated hardware, driven by the IR and the golden model's spikes.

An event-level model of each :class:`snnhw.hdl.LIFCore` (see its docstring):

* a spike event accepted at cycle ``c`` occupies the core until ``c + N`` (``N`` = neurons);
* an end-of-timestep event accepted at ``c`` starts the sweep: neuron ``i`` leaves at
  ``c + 2 + i`` if it fires, the end-of-timestep event at ``c + N + 2``, and the core takes
  its next event at ``c + N + 3``;
* between cores, a FIFO adds ``FIFO_LATENCY`` cycles.

The input is offered at full rate. Back-pressure from a full FIFO is not modelled; the
cosimulation measures the real figure and the report shows both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir import Network

__all__ = ["CycleEstimate", "FIFO_LATENCY", "estimate"]

FIFO_LATENCY = 2
SWEEP_OVERHEAD = 3


@dataclass(frozen=True)
class CycleEstimate:
    """Predicted cycles: ``total`` for the whole run, per timestep mean and max, and the
    end-of-timestep cycle of every (sample, timestep) at the output."""

    total: int
    per_timestep_mean: float
    per_timestep_max: int
    eot_cycles: np.ndarray


def _core(n: int, arrivals: list[tuple[int, int]], outputs: np.ndarray) -> list[tuple[int, int]]:
    """One core. ``arrivals``: (cycle available, neuron or -1 for end-of-timestep), in order.
    ``outputs``: its spikes ``[K, N]`` per timestep. Returns its output events likewise."""
    free = 0
    step = 0
    emitted: list[tuple[int, int]] = []
    for available, index in arrivals:
        accept = max(available, free)
        if index >= 0:
            free = accept + n
            continue
        for neuron in np.flatnonzero(outputs[step]):
            emitted.append((accept + 2 + int(neuron), int(neuron)))
        emitted.append((accept + n + 2, -1))
        free = accept + n + SWEEP_OVERHEAD
        step += 1
    return emitted


def estimate(net: Network, inputs: np.ndarray, layer_spikes: list[np.ndarray]) -> CycleEstimate:
    """Predict cycles for input spikes ``[T, S, F]`` fed sample after sample, given the golden
    model's spikes of every layer (``[T, S, N_l]``)."""
    steps, samples, _ = inputs.shape
    order = lambda a: a.transpose(1, 0, 2).reshape(samples * steps, -1)  # noqa: E731
    events: list[tuple[int, int]] = []
    for frame in order(inputs):
        events += [(0, int(j)) for j in np.flatnonzero(frame)] + [(0, -1)]
    for k, (layer, spikes) in enumerate(zip(net.layers, layer_spikes)):
        if k > 0:
            events = [(cycle + FIFO_LATENCY, index) for cycle, index in events]
        events = _core(layer.out_features, events, order(spikes))
    eots = np.array([cycle + 1 for cycle, index in events if index < 0])
    per_step = np.diff(np.concatenate([[0], eots]))
    return CycleEstimate(total=int(eots[-1]), per_timestep_mean=float(eots[-1] / len(eots)),
                         per_timestep_max=int(per_step.max()), eot_cycles=eots)
