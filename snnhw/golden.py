"""Golden model: integer numpy execution of the IR. This is the specification.

Per layer and timestep t, for every neuron (``docs/fixed-point.md`` gives the widths)::

    acc[t]  = c[t-1] + sum_{j in events(t)} W[i, j]      exact, accumulator_bits wide

where a dense layer's ``W[i, j]`` is its weight matrix and a convolution's the kernel tap
that joins input ``j`` to neuron ``i`` (0 where none does); a layer with ``pool = k``
first maps each event to its ``k x k`` block (sum pooling), so an input counts once per spike
of its block. A direct-encoding first layer (``input_bits = N > 1``) takes unsigned N-bit values
``x_j``, the same at every timestep of a sample, and adds ``x_j * W[i, j]`` for each.
    u[t]    = saturate(acc[t] + b[i], membrane range)    counted when it clips
    o[t]    = u[t] >= threshold
    r[t]    = 0 (zero reset) or u[t] - threshold (subtract reset) where o[t], else u[t]
    c[t]    = leak(r[t]) = r[t] * leak_mult / 2**leak_frac_bits, rounded toward zero

with ``c[0] = 0`` at the start of every sample. A convolution with a NeuNorm term also keeps
a state ``a`` per neuron (0 at the start of every sample)::

    a[t]    = d[t-1] + sum_{j in events(t)} K[i, j]      exact, aux_bits wide
    u[t]    = saturate(acc[t] - (a[t] >> aux_frac_bits) + b[i], membrane range)   (floor shift)
    d[t]    = leak(a[t]) with aux_leak_mult, rounded toward zero

where ``K[i, j]`` is the ``aux_weight`` tap joining input j's position to neuron i (every
channel of a position shares it). A leaky-integrator readout (``LIReadoutLayer``, the last
layer) never fires: ``o[t] = 0``, ``r[t] = u[t]``, and its output is ``u[t]`` itself. Vectorised
over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .fixedpoint import input_max, leak, saturate
from .ir import ConvLIFLayer, Layer, Network

__all__ = ["Trace", "aux_input", "check_inputs", "membranes", "pooled", "predict", "run", "run_layer",
           "synaptic_input"]

BATCH_CHUNK = 64     # samples per convolution call: bounds the unfolded windows' memory
RUN_CHUNK = 64       # samples run through the whole network at a time (cache-sized arrays)


@dataclass(frozen=True)
class Trace:
    """The output events of every layer, ``uint8 [T, B, out_features]`` (``spikes``: a LIF
    layer's spikes; a readout sends every neuron's membrane at every timestep, so its entry
    is all ones), a readout's membranes (``values``, ``int64 [T, B, out_features]``; None
    when the last layer spikes) and saturation counts.

    ``saturations[l]`` counts the (neuron, timestep, sample) triples where layer l's
    membrane clipped.
    """

    spikes: list[np.ndarray]
    saturations: list[int]
    values: np.ndarray | None = None

    @property
    def output(self) -> np.ndarray:
        """What the network answers per timestep, ``[T, B, output_features]``: the output
        layer's spikes, or a readout's membranes."""
        return self.spikes[-1] if self.values is None else self.values


def pooled(layer: Layer, x: np.ndarray) -> np.ndarray:
    """Input events ``[B, in_features]`` (spike counts) -> the synapses' inputs: the flat
    vector for a dense layer without pooling, else the ``[B, C, H//k, W//k]`` block sums of
    the ``in_shape`` map (rows and columns past the last whole block dropped)."""
    k = layer.pool
    if layer.in_shape is None:
        return x
    c, h, w = layer.in_shape
    maps = x.reshape(x.shape[0], c, h, w)
    if k > 1:
        hk, wk = h // k, w // k
        # the k*k strided slices added one by one (a sum over reshaped axes is several times
        # slower in numpy)
        maps = sum(maps[:, :, dy:hk * k:k, dx:wk * k:k] for dy in range(k) for dx in range(k))
    return maps


def synaptic_input(layer: Layer, x: np.ndarray) -> np.ndarray:
    """One timestep's synaptic sums ``int64 [B, out_features]`` for input events ``[B, in]``
    (values are event counts, 0/1 for spikes), neurons in the layer's output order."""
    inputs = pooled(layer, x.astype(np.float64))   # exact: |sums| stay far below 2**53
    if not isinstance(layer, ConvLIFLayer):
        flat = inputs.reshape(inputs.shape[0], -1)
        return (flat @ layer.weight.T.astype(np.float64)).astype(np.int64)
    return _convolve(layer, inputs, layer.weight)


def aux_input(layer: ConvLIFLayer, x: np.ndarray) -> np.ndarray:
    """What one timestep's input events ``[B, in]`` add to a NeuNorm term's state,
    ``int64 [B, out_features]``: the events at each (pooled) position, summed over channels,
    convolved with ``aux_weight``."""
    counts = pooled(layer, x.astype(np.float64)).sum(axis=1, keepdims=True)
    return _convolve(layer, counts, layer.aux_weight[:, None])


def _convolve(layer: ConvLIFLayer, maps: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The layer's convolution (stride, zero padding) of ``maps`` ``[B, C, H', W']`` with
    ``kernel`` ``[C_out, C, K, K]``, as ``int64 [B, out_features]`` in output order."""
    k, s, p = layer.kernel_size, layer.stride, layer.padding
    _, out_h, out_w = layer.out_shape
    # every partial sum of a product-sum is an integer no larger than sum |kernel| * max(maps):
    # exact in float32 below 2**24 (half the memory traffic of float64), else in float64
    bound = float(np.abs(kernel).sum(axis=(1, 2, 3)).max(initial=0)) * float(maps.max(initial=0))
    dtype = np.float32 if bound < 2 ** 24 else np.float64
    kernel = kernel.astype(dtype)
    maps = maps.astype(dtype, copy=False)
    out = np.empty((maps.shape[0], layer.out_features), dtype=np.int64)
    for start in range(0, maps.shape[0], BATCH_CHUNK):
        chunk = np.pad(maps[start:start + BATCH_CHUNK], ((0, 0), (0, 0), (p, p), (p, p)))
        windows = np.lib.stride_tricks.sliding_window_view(chunk, (k, k), axis=(2, 3))
        windows = windows[:, :, :(out_h - 1) * s + 1:s, :(out_w - 1) * s + 1:s]
        sums = np.tensordot(windows, kernel, axes=([1, 4, 5], [1, 2, 3]))  # [b, OH, OW, O]
        out[start:start + BATCH_CHUNK] = sums.transpose(0, 3, 1, 2).reshape(
            sums.shape[0], -1).astype(np.int64)
    return out


def _neuron_bias(layer: Layer) -> np.ndarray:
    """The bias of every neuron in output order (a convolution's is per channel)."""
    if isinstance(layer, ConvLIFLayer):
        return np.repeat(layer.bias, layer.out_features // layer.out_channels)
    return layer.bias


def _steps(layer: Layer, inputs: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """The layer's timesteps on input spikes ``[T, B, in]``: per timestep the membrane after
    integrate, bias and saturation (``int64 [B, out]``, before fire and reset), the spikes
    and the number of saturation events. The order of docs/fixed-point.md."""
    batch = inputs.shape[1]
    lo, hi = layer.membrane_range
    bias = _neuron_bias(layer)
    carried = np.zeros((batch, layer.out_features), dtype=np.int64)
    aux = np.zeros_like(carried)               # a NeuNorm term's state, leaked (d[t-1])
    held = synaptic_input(layer, inputs[0]) if layer.direct else None
    for t in range(inputs.shape[0]):
        acc = carried + (held if held is not None else synaptic_input(layer, inputs[t]))
        pre = acc + bias
        if layer.neunorm:
            aux = aux + aux_input(layer, inputs[t])
            pre = pre - (aux >> layer.aux_frac_bits)
            aux = leak(aux, layer.aux_leak_mult, layer.leak_frac_bits)
        u = saturate(pre, lo, hi)
        if not layer.fires:            # a readout: integrate and leak only
            carried = leak(u, layer.leak_mult, layer.leak_frac_bits)
            yield u, np.zeros(u.shape, dtype=bool), int(np.count_nonzero(u != pre))
            continue
        fired = u >= layer.threshold
        if layer.reset == "zero":
            r = np.where(fired, 0, u)
        else:
            r = np.where(fired, u - layer.threshold, u)
        carried = leak(r, layer.leak_mult, layer.leak_frac_bits)
        yield u, fired, int(np.count_nonzero(u != pre))


def run_layer(layer: Layer, inputs: np.ndarray) -> tuple[np.ndarray, int]:
    """Run one layer on input spikes ``[T, B, in]``; returns its output ``[T, B, out]``
    (spikes ``uint8``; a readout's membranes ``int64``) and the number of saturation events."""
    dtype = np.uint8 if layer.fires else np.int64
    out = np.zeros((inputs.shape[0], inputs.shape[1], layer.out_features), dtype=dtype)
    saturations = 0
    for t, (u, fired, saturated) in enumerate(_steps(layer, inputs)):
        out[t] = fired if layer.fires else u
        saturations += saturated
    return out, saturations


def membranes(layer: Layer, inputs: np.ndarray) -> np.ndarray:
    """The layer's membranes ``int64 [T, B, out]`` on input spikes ``[T, B, in]``: after
    integrate, bias and saturation, before fire and reset (what the threshold is compared
    with), in the layer's integer units."""
    return np.stack([u for u, _, _ in _steps(layer, inputs)])


def check_inputs(net: Network, inputs: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``inputs`` are ``[T, B, input_features]`` integers the
    first layer takes: spikes 0/1, or direct values ``0 .. 2**input_bits - 1`` that are the
    same at every timestep of a sample."""
    if inputs.ndim != 3 or inputs.shape[2] != net.input_features:
        raise ValueError(f"inputs must be [T, B, {net.input_features}], got {inputs.shape}")
    if not np.issubdtype(inputs.dtype, np.integer):
        raise ValueError(f"inputs must be integers, got {inputs.dtype}")
    top = input_max(net.input_bits)
    if inputs.size and (inputs.min() < 0 or inputs.max() > top):
        raise ValueError(f"inputs span {inputs.min()}..{inputs.max()}; layer "
                         f"{net.layers[0].name} takes {net.input_bits}-bit values 0..{top}")
    if net.layers[0].direct and not (inputs == inputs[:1]).all():
        raise ValueError(f"a direct input (layer {net.layers[0].name}, {net.input_bits}-bit) "
                         f"must be the same at every timestep of a sample")


def run(net: Network, spikes: np.ndarray) -> Trace:
    """Run the network on inputs ``[T, B, input_features]``: spikes 0/1, or a direct input's
    N-bit values (see :func:`check_inputs`)."""
    check_inputs(net, spikes)
    layer_spikes: list[list[np.ndarray]] = [[] for _ in net.layers]
    saturations = [0] * len(net.layers)
    # the whole network on a slice of the batch at a time: a layer's [B, neurons] arrays
    # then stay in the processor's caches between the steps of a timestep
    for start in range(0, max(1, spikes.shape[1]), RUN_CHUNK):
        x = spikes[:, start:start + RUN_CHUNK]
        for index, layer in enumerate(net.layers):
            x, sat = run_layer(layer, x)
            layer_spikes[index].append(x)
            saturations[index] += sat
    outputs = [np.concatenate(chunks, axis=1) for chunks in layer_spikes]
    if net.layers[-1].fires:
        return Trace(outputs, saturations)
    values = outputs[-1]
    return Trace(outputs[:-1] + [np.ones(values.shape, dtype=np.uint8)], saturations, values)


def predict(output: np.ndarray, vote_group: int = 1) -> np.ndarray:
    """Class per sample from the network's output ``[T, B, N]`` (``Trace.output``): argmax of
    the output spike counts, or of a readout's membranes, summed over time (and over each
    class's ``vote_group`` neurons), ties to the lowest index."""
    counts = output.sum(axis=0, dtype=np.int64)
    counts = counts.reshape(counts.shape[0], -1, vote_group).sum(axis=2)
    return counts.argmax(axis=1)
