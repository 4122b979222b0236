"""Cycle model of the generated hardware, driven by the IR and the golden model's spikes.

An event-level model of each :class:`snnhw.hdl.LIFCore` with P lanes and ``G = ceil(N / P)``
neuron groups (see its docstring):

* a spike event accepted at cycle ``c`` occupies the core until ``c + G``;
* an end-of-timestep event accepted at ``c`` starts the sweep: group g reaches the output
  stage at ``b_g = c + SWEEP_LATENCY + g + (extra cycles of earlier groups)``, its k-th spike leaves at
  ``b_g + k``, and a group with k > 1 spikes holds the pipeline ``k - 1`` extra cycles; the
  end-of-timestep event leaves at ``b_last + max(1, k_last)`` and the core takes its next
  event one cycle later;
* between cores, a FIFO adds ``FIFO_LATENCY`` cycles.

The input is offered at full rate. Back-pressure from a full FIFO is not modelled; the
cosimulation measures the real figure and the report shows both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir import Network

__all__ = ["CycleEstimate", "FIFO_LATENCY", "PIPELINE_DEPTH", "SWEEP_LATENCY", "bound",
           "estimate"]

FIFO_LATENCY = 2
SWEEP_LATENCY = 6           # end-of-timestep accepted -> first group in the output stage (A-O)
PIPELINE_DEPTH = 7          # sweep stages A, B, E, C, D, O and the end-of-timestep event


@dataclass(frozen=True)
class CycleEstimate:
    """Predicted cycles: ``total`` for the whole run, per timestep mean and max, and the
    end-of-timestep cycle of every (sample, timestep) at the output."""

    total: int
    per_timestep_mean: float
    per_timestep_max: int
    eot_cycles: np.ndarray


def _core(n: int, lanes: int, arrivals: list[tuple[int, int]], outputs: np.ndarray
          ) -> list[tuple[int, int]]:
    """One core. ``arrivals``: (cycle available, neuron or -1 for end-of-timestep), in order.
    ``outputs``: its spikes ``[K, N]`` per timestep. Returns its output events likewise."""
    group_count = -(-n // lanes)
    free = 0
    step = 0
    emitted: list[tuple[int, int]] = []
    for available, index in arrivals:
        accept = max(available, free)
        if index >= 0:
            free = accept + group_count
            continue
        fired = np.flatnonzero(outputs[step])
        b = accept + SWEEP_LATENCY
        for g in range(group_count):
            spikes = [int(i) for i in fired if g * lanes <= i < (g + 1) * lanes]
            emitted += [(b + k, neuron) for k, neuron in enumerate(spikes)]
            b += max(1, len(spikes))
        emitted.append((b, -1))
        free = b + 1
        step += 1
    return emitted


def estimate(net: Network, inputs: np.ndarray, layer_spikes: list[np.ndarray],
             lanes: int = 1) -> CycleEstimate:
    """Predict cycles for input spikes ``[T, S, F]`` fed sample after sample, given the golden
    model's spikes of every layer (``[T, S, N_l]``), with ``lanes`` lanes per core."""
    steps, samples, _ = inputs.shape
    order = lambda a: a.transpose(1, 0, 2).reshape(samples * steps, -1)  # noqa: E731
    events: list[tuple[int, int]] = []
    for frame in order(inputs):
        events += [(0, int(j)) for j in np.flatnonzero(frame)] + [(0, -1)]
    for k, (layer, spikes) in enumerate(zip(net.layers, layer_spikes)):
        if k > 0:
            events = [(cycle + FIFO_LATENCY, index) for cycle, index in events]
        events = _core(layer.out_features, lanes, events, order(spikes))
    eots = np.array([cycle + 1 for cycle, index in events if index < 0])
    per_step = np.diff(np.concatenate([[0], eots]))
    return CycleEstimate(total=int(eots[-1]), per_timestep_mean=float(eots[-1] / len(eots)),
                         per_timestep_max=int(per_step.max()), eot_cycles=eots)


def bound(net: Network, inputs: np.ndarray, layer_spikes: list[np.ndarray], lanes: int = 1
          ) -> float:
    """Throughput bound in cycles per timestep, mean over the run: per layer and timestep
    ``events * G + G + PIPELINE_DEPTH`` (``G = ceil(N / P)``), and per timestep the slowest
    layer, since the layers work on successive timesteps at once."""
    per_layer = []
    for layer, x in zip(net.layers, [inputs] + layer_spikes[:-1]):
        group_count = -(-layer.out_features // lanes)
        events = x.sum(axis=2, dtype=np.int64)                      # [T, S]
        per_layer.append(events * group_count + group_count + PIPELINE_DEPTH)
    return float(np.max(per_layer, axis=0).mean())
