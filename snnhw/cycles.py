"""Cycle model of the generated hardware, driven by the IR and the golden model's spikes.

An event-level model of each :class:`snnhw.hdl.LIFCore` with P lanes and ``G = ceil(N / P)``
neuron groups (N: a dense layer's outputs, a convolution's channels; see its docstring):

* a spike event accepted at cycle ``c`` occupies the core until ``c + G`` (a convolution:
  ``c + K*K*G``, every kernel tap, on the map or not; with banked membranes ``c + K*G``,
  a kernel row per clock); events that pooling drops never
  reach the core, the others pass the re-indexing pipeline (``MAPPER_LATENCY``) first;
* an end-of-timestep event accepted at ``c`` starts the sweep over the membrane words
  (``G`` for a dense layer, ``G * OH * OW`` for a convolution): word g reaches the output
  stage at ``b_g = c + SWEEP_LATENCY + g + (extra cycles of earlier groups)``, its k-th spike leaves at
  ``b_g + k``, and a group with k > 1 spikes holds the pipeline ``k - 1`` extra cycles; the
  end-of-timestep event leaves at ``b_last + max(1, k_last)`` and the core takes its next
  event one cycle later;
* between cores, a FIFO adds ``FIFO_LATENCY`` cycles;
* a core with single-ported membranes (``"spram"``, :class:`snnhw.hdl.single_port.SinglePortMemory`)
  moves on every other clock only: it takes an event on the next such clock, and every
  count of cycles above doubles; its output events are offered from the clock after the one
  that made them, so they leave one cycle before that clock's successor. All such cores step
  together, on the even cycles of the run when the network's input goes straight into one of
  them, on the odd ones otherwise (the input opens on the first clock of a step).

The input is offered at full rate, as the hardware receives it (``Network.sent_inputs``: a
direct-encoding input's nonzero values in the first timestep of a sample, one event each).
Behind an input replay (``Layer.replays_input``) the first core gets those events again in
every timestep: the replay sends them from two clocks after the previous end-of-timestep
event left it, while that timestep's sweep (at least ``SWEEP_LATENCY + 1`` cycles) still holds
the core, so only the core's own pace counts.
Back-pressure from a full FIFO is not modelled; the cosimulation measures the real figure and
the report shows both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .ir import ConvLIFLayer, Layer, Network, needs_mapper

__all__ = ["CycleEstimate", "FIFO_LATENCY", "MAPPER_LATENCY", "PIPELINE_DEPTH",
           "SWEEP_LATENCY", "bound", "estimate", "step_parities"]

FIFO_LATENCY = 2
MAPPER_LATENCY = 2          # the event re-indexing pipeline in front of a pooling or conv core
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


def _geometry(layer: Layer, lanes: int, membrane: str = "bram") -> tuple[int, int, int]:
    """(groups G, output positions, clocks per input event and group: kernel taps, or kernel
    rows with ``"banked"`` membranes) of a layer's core."""
    channels = layer.out_channels if isinstance(layer, ConvLIFLayer) else layer.out_features
    taps = (layer.kernel_size ** (1 if membrane == "banked" else 2)
            if isinstance(layer, ConvLIFLayer) else 1)
    return -(-channels // lanes), layer.out_features // channels, taps


def _kept_by_pooling(layer: Layer) -> np.ndarray:
    """``bool [in_features]``: input events inside the whole pooling blocks."""
    if layer.pool == 1:
        return np.ones(layer.in_features, dtype=bool)
    c, h, w = layer.in_shape
    k = layer.pool
    rows = np.arange(h) < (h // k) * k
    cols = np.arange(w) < (w // k) * k
    return np.broadcast_to(rows[:, None] & cols[None, :], (c, h, w)).reshape(-1)


def _core(layer: Layer, lanes: int, arrivals: list[tuple[int, int]], outputs: np.ndarray,
          step_parity: int | None = None, membrane: str = "bram") -> list[tuple[int, int]]:
    """One core. ``arrivals``: (cycle available, input index or -1 for end-of-timestep), in
    order. ``outputs``: its spikes ``[K, N]`` per timestep. Returns its output events
    likewise, in the order the sweep sends them (membrane word, then lane).
    ``step_parity``: a single-ported core, moving on the cycles of that parity only;
    ``membrane``: its membrane style."""
    group_count, positions, taps = _geometry(layer, lanes, membrane)
    reached = _kept_by_pooling(layer)       # the others never reach the core
    latency = MAPPER_LATENCY if needs_mapper(layer) else 0
    clocks = 1 if step_parity is None else 2          # cycles per step of the core
    free = 0
    step = 0
    emitted: list[tuple[int, int]] = []
    for available, index in arrivals:
        if index >= 0 and not reached[index]:
            continue
        accept = max(available + latency, free)
        if step_parity is not None and accept % 2 != step_parity:
            accept += 1
        if index >= 0:
            free = accept + clocks * taps * group_count
            continue
        fired = np.flatnonzero(outputs[step])
        channel, pos = fired // positions, fired % positions
        word = (channel // lanes) * positions + pos
        order = np.lexsort((channel % lanes, word))
        fired, word = fired[order], word[order]
        b = accept + clocks * SWEEP_LATENCY
        early = clocks - 1                  # offered on the first clock of a step
        starts = np.searchsorted(word, np.arange(group_count * positions + 1))
        for w in range(group_count * positions):
            spikes = fired[starts[w]:starts[w + 1]]
            emitted += [(b + clocks * k - early, int(neuron)) for k, neuron in enumerate(spikes)]
            b += clocks * max(1, len(spikes))
        emitted.append((b - early, -1))
        free = b + clocks
        step += 1
    return emitted


def step_parities(net: Network, membranes: Sequence[str] | None) -> list[int | None]:
    """Per layer, the parity of the cycles its core moves on (``None``: every cycle), from
    the layers' membrane styles (:func:`snnhw.hdl.network.membrane_styles`)."""
    if membranes is None or "spram" not in membranes:
        return [None] * len(net.layers)
    first = net.layers[0]
    direct_in = (membranes[0] == "spram" and not first.replays_input
                 and not needs_mapper(first))
    parity = 0 if direct_in else 1
    return [parity if style == "spram" else None for style in membranes]


def estimate(net: Network, inputs: np.ndarray, layer_spikes: list[np.ndarray],
             lanes: int = 1, membranes: Sequence[str] | None = None) -> CycleEstimate:
    """Predict cycles for inputs ``[T, S, F]`` (as the golden model takes them) fed sample
    after sample, given the golden model's spikes of every layer (``[T, S, N_l]``), with
    ``lanes`` lanes per core and the layers' ``membranes`` styles (default all ``"bram"``)."""
    inputs = net.core_inputs(inputs)
    steps, samples, _ = inputs.shape
    order = lambda a: a.transpose(1, 0, 2).reshape(samples * steps, -1)  # noqa: E731
    events: list[tuple[int, int]] = []
    for frame in order(inputs):
        events += [(0, int(j)) for j in np.flatnonzero(frame)] + [(0, -1)]
    parities = step_parities(net, membranes)
    styles = membranes or ["bram"] * len(net.layers)
    for k, (layer, spikes) in enumerate(zip(net.layers, layer_spikes)):
        if k > 0:
            events = [(cycle + FIFO_LATENCY, index) for cycle, index in events]
        events = _core(layer, lanes, events, order(spikes), parities[k], styles[k])
    eots = np.array([cycle + 1 for cycle, index in events if index < 0])
    per_step = np.diff(np.concatenate([[0], eots]))
    return CycleEstimate(total=int(eots[-1]), per_timestep_mean=float(eots[-1] / len(eots)),
                         per_timestep_max=int(per_step.max()), eot_cycles=eots)


def bound(net: Network, inputs: np.ndarray, layer_spikes: list[np.ndarray], lanes: int = 1,
          membranes: Sequence[str] | None = None) -> float:
    """Throughput bound in cycles per timestep, mean over the run: per layer and timestep
    ``updates * G / (N_pos * R) + W + PIPELINE_DEPTH``, with ``updates`` the synaptic updates of
    its input events (``fan_out``; the events the hardware receives), ``N_pos`` the neurons
    per group position (a dense layer's outputs, a convolution's channels),
    ``G = ceil(N_pos / P)``, ``R`` the kernel taps a clock can update per lane (K with
    ``"banked"`` membranes, else 1) and ``W`` the membrane words the sweep visits, twice that
    for a core with single-ported membranes (``membranes``: the layers' styles); per timestep
    the slowest layer, since the layers work on successive timesteps at once."""
    per_layer = []
    clocks = [1 if p is None else 2 for p in step_parities(net, membranes)]
    styles = membranes or ["bram"] * len(net.layers)
    for layer, x, c, style in zip(net.layers, [net.core_inputs(inputs)] + layer_spikes[:-1],
                                  clocks, styles):
        group_count, positions, _ = _geometry(layer, lanes)
        channels = layer.out_features // positions
        updates = (x != 0).astype(np.int64) @ layer.fan_out()         # [T, S]
        words = group_count * positions
        taps = layer.kernel_size if style == "banked" else 1
        per_layer.append(c * (updates * group_count / (channels * taps) + words
                              + PIPELINE_DEPTH))
    return float(np.max(per_layer, axis=0).mean())
