"""The integer network description (IR): the one contract between software and hardware.

The IR is what ``snnhw build`` writes (``network.json`` + ``network.npz``) and what the golden
model, the HDL generator, the cycle model and the report all read. It imports neither torch
nor amaranth. The arithmetic it describes is specified in ``docs/fixed-point.md``.

Integers in a layer share one scale: ``scale`` is the float membrane value of one LSB, so a
weight ``w`` stands for ``w * scale``, the threshold ``threshold * scale``, and so on.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from dataclasses import asdict, dataclass, field, fields
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from . import SnnhwError
from .files import atomic_path
from .fixedpoint import (
    INPUT_BITS_RANGE,
    LEAK_FRAC_BITS_RANGE,
    MEMBRANE_BITS_RANGE,
    WEIGHT_BITS_RANGE,
    accumulator_bounds,
    aux_bound,
    input_max,
    signed_bits,
    signed_range,
)

__all__ = ["FORMAT", "VERSION", "ConvLIFLayer", "IRError", "LAYER_KINDS", "LIFLayer",
           "LIReadoutLayer", "Layer",
           "Network", "load", "needs_mapper", "save",
           "signed_bits", "signed_range", "WEIGHT_BITS_RANGE", "MEMBRANE_BITS_RANGE",
           "LEAK_FRAC_BITS_RANGE", "RESETS"]

FORMAT = "snnhw-ir"
VERSION = 5
# 1: dense layers only, written before convolutions; 2: before direct-encoding inputs;
# 3: before NeuNorm terms; 4: before leaky-integrator readouts
READABLE_VERSIONS = (1, 2, 3, 4, 5)
RESETS = ("zero", "subtract")


ACCUMULATOR_BITS_MAX = 64
AUX_FRAC_BITS_MAX = 16
# layer names become Verilog identifiers and memory image file names
LAYER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


class IRError(SnnhwError, ValueError):
    """The IR breaks a rule of the schema; the message names the layer, the value and the rule."""


class _Neurons:
    """The integer LIF neuron shared by every layer kind (see ``docs/fixed-point.md``)."""

    name: str
    weight_bits: int
    membrane_bits: int
    leak_mult: int
    leak_frac_bits: int
    weight: np.ndarray
    pool: int
    input_bits: int
    kind = ""
    fires = True         # False: a readout, whose output is its membranes, not spikes

    @property
    def membrane_range(self) -> tuple[int, int]:
        return signed_range(self.membrane_bits)

    @property
    def weight_range(self) -> tuple[int, int]:
        return signed_range(self.weight_bits)

    @property
    def tau(self) -> float:
        return self.leak_mult / (1 << self.leak_frac_bits)

    @property
    def direct(self) -> bool:
        """Whether the input is a direct encoding: multi-bit values, the same at every
        timestep of a sample, rather than spike events."""
        return self.input_bits > 1

    @property
    def replays_input(self) -> bool:
        """Whether the hardware keeps a direct-encoding layer's input rather than its currents
        to integrate it again at every timestep: the input events (an index and an N-bit value
        per input) take fewer bits than the currents (an accumulator per neuron). A
        convolution's currents are a whole feature map (stbp_cnn: 12544 x 22 bits, against
        784 x 18 for its input); a dense layer's are a few words (``snnhw.hdl.replay``)."""
        return self.direct and (self.in_features * self.replay_entry_bits
                                < self.out_features * self.accumulator_bits)

    @property
    def replay_entry_bits(self) -> int:
        """Bits of one buffered input event of a direct-encoding layer: its index and value."""
        return max(1, (self.in_features - 1).bit_length()) + self.input_bits

    @property
    def neunorm(self) -> bool:
        """Whether the layer carries a NeuNorm term (a convolution's ``aux_weight``)."""
        return getattr(self, "aux_weight", None) is not None

    @property
    def state_bits(self) -> int:
        """Bits of state per neuron: the accumulator, plus a NeuNorm term's ``aux_bits``."""
        return self.accumulator_bits + getattr(self, "aux_bits", 0)

    def accumulator_bounds(self) -> tuple[int, int]:
        """Exact range of the accumulator: any carried membrane plus, for every synapse, up to
        ``pool**2`` input events (a pooled input sums a ``pool x pool`` block of spikes), each
        of value up to ``2**input_bits - 1`` (1 for spikes)."""
        events = self.pool * self.pool * input_max(self.input_bits)
        return accumulator_bounds(self.weight, self.membrane_bits, events)

    def fan_out(self) -> np.ndarray:
        """``int64 [in_features]``: the neurons one input event reaches (its synaptic
        updates): every output of a dense layer, a convolution's channels times the kernel
        taps that land on the output map; 0 for events that pooling drops."""
        if self.pool == 1 and self.in_shape is None:
            return np.full(self.in_features, self._per_pooled_input(), dtype=np.int64)
        c, h, w = self.in_shape
        k = self.pool
        reach = np.zeros((c, h, w), dtype=np.int64)
        hp, wp = h // k, w // k
        pooled = np.broadcast_to(self._per_pooled_input(), (c, hp, wp))
        reach[:, :hp * k, :wp * k] = np.repeat(np.repeat(pooled, k, axis=1), k, axis=2)
        return reach.reshape(-1)

    def metadata(self) -> dict[str, Any]:
        meta = {"kind": self.kind, **asdict(self)}
        for key in _ARRAYS:
            meta.pop(key, None)
        return meta


class _Dense:
    """The geometry of a fully connected layer: ``weight`` is ``[out_features, synapses]``."""

    in_features: int
    out_features: int
    pool: int
    in_shape: tuple[int, int, int] | None

    @property
    def synapses(self) -> int:
        """Columns of ``weight``: the inputs after pooling."""
        if self.pool == 1 or self.in_shape is None:
            return self.in_features
        c, h, w = self.in_shape
        return c * (h // self.pool) * (w // self.pool)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.out_features,)

    def _per_pooled_input(self) -> np.ndarray | int:
        return self.out_features


@dataclass(frozen=True, eq=False)
class LIFLayer(_Dense, _Neurons):
    """A fully connected layer of integer LIF neurons.

    Widths are in bits, two's complement. ``weight`` is ``int64 [out_features, synapses]``
    and ``bias`` ``int64 [out_features]``, both in LSBs of ``scale``.

    * ``in_features``: the input events' index range (the previous stage's outputs).
    * ``weight_bits``: width of every weight.
    * ``membrane_bits``: width of the membrane carried between timesteps; the membrane
      saturates to this range once per timestep, after integration (see the docs).
    * ``accumulator_bits``: width of the exact accumulator that holds the carried membrane
      plus the weights of one timestep's input events; chosen so it can never overflow.
    * ``threshold``: firing threshold in LSBs, ``1 <= threshold <= max membrane``;
      a neuron fires when ``u >= threshold``.
    * ``leak_mult`` / ``leak_frac_bits``: the leak factor ``tau = leak_mult / 2**leak_frac_bits``
      (``0 <= leak_mult <= 2**leak_frac_bits``), product rounded toward zero; ``tau = 1`` is
      an integrate-and-fire neuron.
    * ``reset``: ``"zero"`` (hard) or ``"subtract"`` (soft, subtract the threshold).
    * ``pool`` / ``in_shape``: with ``pool = k > 1`` the input events index a map
      ``in_shape = (C, H, W)`` (row-major), and an event at ``(c, y, x)`` is the input
      ``(c, y // k, x // k)`` of a ``C x H//k x W//k`` map flattened row-major (sum pooling,
      rows and columns past the last whole block dropped); then ``synapses = C*(H//k)*(W//k)``.
      With ``pool = 1``, ``synapses = in_features``.
    * ``input_bits``: 1, the inputs are spike events; ``N`` in 2..8 (the first layer only),
      they are unsigned N-bit values held for every timestep of a sample (direct encoding):
      input ``j`` of value ``x_j`` adds ``x_j * W[i, j]``, and the hardware computes these
      currents once per sample.
    """

    name: str
    in_features: int
    out_features: int
    weight_bits: int
    membrane_bits: int
    accumulator_bits: int
    threshold: int
    leak_mult: int
    leak_frac_bits: int
    reset: str
    scale: float
    weight: np.ndarray = field(repr=False)
    bias: np.ndarray = field(repr=False)
    pool: int = 1
    in_shape: tuple[int, int, int] | None = None
    input_bits: int = 1
    kind = "dense"

@dataclass(frozen=True, eq=False)
class LIReadoutLayer(_Dense, _Neurons):
    """A fully connected readout of integer leaky integrators (NIR's ``LI``): the last layer
    only. Its neurons integrate like :class:`LIFLayer`'s (exact accumulator, bias, one
    saturation to ``membrane_bits``, leak toward zero) but never fire or reset: the layer's
    output at every timestep is every neuron's membrane ``u[t]``, and it carries
    ``leak(u[t])``. The class is the neuron with the largest membrane summed over the
    timesteps of a sample (``snnhw.golden.predict``). Fields as :class:`LIFLayer`'s, without
    ``threshold`` and ``reset``.
    """

    name: str
    in_features: int
    out_features: int
    weight_bits: int
    membrane_bits: int
    accumulator_bits: int
    leak_mult: int
    leak_frac_bits: int
    scale: float
    weight: np.ndarray = field(repr=False)
    bias: np.ndarray = field(repr=False)
    pool: int = 1
    in_shape: tuple[int, int, int] | None = None
    input_bits: int = 1
    kind = "li"
    fires = False


@dataclass(frozen=True, eq=False)
class ConvLIFLayer(_Neurons):
    """A 2-D convolution over a spike map followed by integer LIF neurons.

    ``in_shape = (C, H, W)`` is the map the input events index (row-major:
    ``index = (c*H + y)*W + x``); with ``pool = k > 1`` the map is first sum-pooled
    ``k x k`` (stride k) to ``(C, H//k, W//k)``, as for :class:`LIFLayer`. ``weight`` is
    ``int64 [out_channels, C, kernel_size, kernel_size]`` and ``bias`` ``int64 [out_channels]``
    (one per channel), in LSBs of ``scale``. Output neuron ``(o, y, x)`` of the
    ``out_shape = (out_channels, OH, OW)`` map, ``OH = (H' + 2*padding - kernel_size) //
    stride + 1`` with ``H'`` the pooled height, has the index ``(o*OH + y)*OW + x`` and sees
    the pooled inputs ``(c, y*stride + i - padding, x*stride + j - padding)`` through weight
    ``[o, c, i, j]`` (zero outside the map). The neuron fields and ``input_bits`` are
    :class:`LIFLayer`'s.

    A **NeuNorm term** (``aux_weight`` given; spike inputs only): the auxiliary neurons of the
    NeuNorm layer before this convolution (Wu et al. 2019), folded into it. ``aux_weight``
    (``int64 [out_channels, K, K]``, in LSBs of ``scale / 2**aux_frac_bits``) is the kernel
    every input event adds, whatever its channel, to a per-neuron state ``a`` of ``aux_bits``
    bits (a bound makes overflow impossible); ``a >> aux_frac_bits`` is subtracted from the
    neuron's input each timestep and ``a`` leaks by ``aux_leak_mult / 2**leak_frac_bits``
    (docs/fixed-point.md). Without one, ``aux_bits = aux_frac_bits = aux_leak_mult = 0``.
    """

    name: str
    in_shape: tuple[int, int, int]
    out_channels: int
    kernel_size: int
    stride: int
    padding: int
    weight_bits: int
    membrane_bits: int
    accumulator_bits: int
    threshold: int
    leak_mult: int
    leak_frac_bits: int
    reset: str
    scale: float
    weight: np.ndarray = field(repr=False)
    bias: np.ndarray = field(repr=False)
    pool: int = 1
    input_bits: int = 1
    aux_weight: np.ndarray | None = field(default=None, repr=False)
    aux_frac_bits: int = 0
    aux_leak_mult: int = 0
    aux_bits: int = 0
    kind = "conv2d"

    @property
    def aux_weight_bits(self) -> int:
        """Bits of one aux kernel tap (two's complement, at least 2; 0 without a term)."""
        if self.aux_weight is None:
            return 0
        return max(2, signed_bits(int(self.aux_weight.min()), int(self.aux_weight.max())))

    def aux_bound(self, timesteps: int) -> int:
        """Largest ``|a|`` of the NeuNorm term over a sample of ``timesteps`` steps (0 without
        one): every input position sends all its channels (``pool**2`` times each) every
        timestep."""
        if self.aux_weight is None:
            return 0
        return aux_bound(self.aux_weight, self.in_shape[0] * self.pool * self.pool,
                         self.aux_leak_mult, self.leak_frac_bits, timesteps)

    @property
    def pooled_shape(self) -> tuple[int, int, int]:
        c, h, w = self.in_shape
        return c, h // self.pool, w // self.pool

    @property
    def out_shape(self) -> tuple[int, int, int]:
        _, h, w = self.pooled_shape
        k, s, p = self.kernel_size, self.stride, self.padding
        return self.out_channels, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1

    @property
    def in_features(self) -> int:
        return int(np.prod(self.in_shape))

    def _per_pooled_input(self) -> np.ndarray:
        """``[H', W']``: output neurons reached from each pooled input position."""
        _, out_h, out_w = self.out_shape
        _, h, w = self.pooled_shape

        def taps(size: int, out_size: int) -> np.ndarray:
            n = np.arange(size)[:, None] + self.padding - np.arange(self.kernel_size)[None, :]
            lands = (n >= 0) & (n % self.stride == 0) & (n // self.stride < out_size)
            return lands.sum(axis=1)

        return self.out_channels * np.outer(taps(h, out_h), taps(w, out_w))

    @property
    def out_features(self) -> int:
        return int(np.prod(self.out_shape))


Layer = LIFLayer | LIReadoutLayer | ConvLIFLayer
LAYER_KINDS: dict[str, type] = {"dense": LIFLayer, "conv2d": ConvLIFLayer, "li": LIReadoutLayer}
DENSE_KINDS = (LIFLayer, LIReadoutLayer)
KERNEL_SIZE_MAX = 7


def needs_mapper(layer: Layer) -> bool:
    """Whether the layer's input events are re-indexed on their way into its core: pooled,
    or turned into a convolution's map coordinates (``snnhw.hdl.mapper``)."""
    return isinstance(layer, ConvLIFLayer) or layer.pool > 1

STRIDES = (1, 2)
POOLS = (1, 2, 4)


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward chain of LIF layers run for ``timesteps`` steps per sample.

    ``encoding`` and ``dataset`` are copied from ``model.pt`` so later stages can re-create the
    input spikes; ``source`` records where the IR came from. ``vote_group`` output neurons
    vote for each class (neurons ``c * vote_group ... (c + 1) * vote_group - 1`` for class
    ``c``; 1 without a voting layer).
    """

    name: str
    timesteps: int
    input_features: int
    layers: tuple[Layer, ...]
    encoding: dict[str, Any]
    dataset: dict[str, Any]
    source: dict[str, Any]
    vote_group: int = 1

    @property
    def output_features(self) -> int:
        return self.layers[-1].out_features

    @property
    def input_bits(self) -> int:
        """Bits of one input: 1 for spike events, 2..8 for a direct encoding (layer 0's)."""
        return self.layers[0].input_bits

    def sent_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """What the hardware receives of the inputs ``[T, S, F]``: spike events as they are;
        a direct input's values in the first timestep of every sample only, since the first
        core keeps the currents they cause for the rest of the sample, or an input replay
        keeps the values (``Layer.replays_input``): zeros after."""
        if not self.layers[0].direct:
            return inputs
        sent = np.zeros_like(inputs)
        sent[:1] = inputs[:1]
        return sent

    def core_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """What the first core integrates of the inputs ``[T, S, F]``: what the hardware
        receives (:meth:`sent_inputs`), or behind an input replay the whole input at every
        timestep."""
        return inputs if self.layers[0].replays_input else self.sent_inputs(inputs)

    def validate(self) -> "Network":
        """Check every rule of the schema; raise :class:`IRError` on the first broken one."""
        if not isinstance(self.name, str) or not self.name:
            raise IRError(f"name={self.name!r}: a non-empty string is required")
        for key in ("timesteps", "input_features", "vote_group"):
            _require_int(getattr(self, key), key, "network")
        for key in ("encoding", "dataset", "source"):
            if not isinstance(getattr(self, key), dict):
                raise IRError(f"network: {key}={getattr(self, key)!r}; a mapping is required")
        if not self.layers:
            raise IRError("network has no layers")
        if self.input_features < 1:
            raise IRError(f"input_features must be >= 1, got {self.input_features}")
        if self.timesteps < 1:
            raise IRError(f"timesteps must be >= 1, got {self.timesteps}")
        fan_in = self.input_features
        map_shape: tuple[int, ...] | None = None
        names = set()
        for n, layer in enumerate(self.layers):
            if n > 0 and getattr(layer, "input_bits", 1) != 1:
                raise IRError(f"layer {layer.name!r}: input_bits={layer.input_bits}; only the "
                              f"first layer takes a direct (multi-bit) input, the others "
                              f"take spikes (input_bits=1)")
            _validate_layer(layer, fan_in, map_shape)
            if not layer.fires and n + 1 < len(self.layers):
                raise IRError(f"layer {layer.name!r}: a {layer.kind} readout (membranes, no "
                              f"spikes) must be the last layer; {len(self.layers) - n - 1} "
                              f"follow it")
            if isinstance(layer, ConvLIFLayer):
                _validate_aux(layer, f"layer {layer.name!r}", self.timesteps)
            if layer.name in names:
                raise IRError(f"layer {layer.name!r}: the name is used twice")
            names.add(layer.name)
            fan_in = layer.out_features
            map_shape = layer.out_shape if isinstance(layer, ConvLIFLayer) else None
        if self.vote_group < 1 or self.output_features % self.vote_group:
            raise IRError(f"vote_group={self.vote_group} does not divide the "
                          f"{self.output_features} output neurons")
        return self


_NEURON_INTS = ("weight_bits", "membrane_bits", "accumulator_bits", "leak_mult",
                "leak_frac_bits", "pool", "input_bits")
_SHAPE_INTS = {LIFLayer: ("in_features", "out_features", "threshold"),
               LIReadoutLayer: ("in_features", "out_features"),
               ConvLIFLayer: ("out_channels", "kernel_size", "stride", "padding", "threshold")}


def _require_int(value: Any, key: str, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise IRError(f"{where}: {key}={value!r}; an integer is required")


def _validate_shape(layer: Layer, where: str, fan_in: int,
                    map_shape: tuple[int, ...] | None) -> None:
    """The layer's geometry: sizes, the input map, pooling, kernel, stride, padding."""
    shape = layer.in_shape
    if shape is not None:
        if (not isinstance(shape, tuple) or len(shape) != 3
                or any(isinstance(v, bool) or not isinstance(v, Integral) or v < 1
                       for v in shape)):
            raise IRError(f"{where}: in_shape={shape!r}; (channels, height, width), integers "
                          f">= 1, is required")
        if int(np.prod(shape)) != fan_in:
            raise IRError(f"{where}: in_shape={shape} holds {int(np.prod(shape))} inputs but "
                          f"the previous stage has {fan_in} outputs")
        if map_shape is not None and tuple(shape) != tuple(map_shape):
            raise IRError(f"{where}: in_shape={shape} but the previous layer's map is "
                          f"{tuple(map_shape)}")
    if layer.pool not in POOLS:
        raise IRError(f"{where}: pool={layer.pool}; allowed {POOLS} (k x k sum pooling)")
    if layer.pool > 1:
        if shape is None:
            raise IRError(f"{where}: pool={layer.pool} needs the input map's in_shape")
        if shape[1] < layer.pool or shape[2] < layer.pool:
            raise IRError(f"{where}: pool={layer.pool} is larger than the {shape[1]}x{shape[2]} "
                          f"input map")
    if isinstance(layer, DENSE_KINDS):
        if layer.in_features != fan_in:
            raise IRError(f"{where}: in_features={layer.in_features} but the previous stage "
                          f"has {fan_in} outputs")
        if layer.out_features < 1:
            raise IRError(f"{where}: out_features must be >= 1, got {layer.out_features}")
        return
    if shape is None:
        raise IRError(f"{where}: a convolution needs its input map's in_shape (C, H, W)")
    if layer.out_channels < 1:
        raise IRError(f"{where}: out_channels must be >= 1, got {layer.out_channels}")
    if not 1 <= layer.kernel_size <= KERNEL_SIZE_MAX:
        raise IRError(f"{where}: kernel_size={layer.kernel_size}; allowed 1..{KERNEL_SIZE_MAX}")
    if layer.stride not in STRIDES:
        raise IRError(f"{where}: stride={layer.stride}; allowed {STRIDES}")
    if not 0 <= layer.padding < layer.kernel_size:
        raise IRError(f"{where}: padding={layer.padding}; allowed 0..{layer.kernel_size - 1} "
                      f"(zero padding smaller than the kernel)")
    _, out_h, out_w = layer.out_shape
    if out_h < 1 or out_w < 1:
        raise IRError(f"{where}: a {layer.kernel_size}x{layer.kernel_size} kernel with padding "
                      f"{layer.padding} does not fit the {layer.pooled_shape[1]}x"
                      f"{layer.pooled_shape[2]} map")


def _validate_layer(layer: Layer, fan_in: int, map_shape: tuple[int, ...] | None) -> None:
    if not isinstance(layer, tuple(LAYER_KINDS.values())):
        raise IRError(f"a layer of type {type(layer).__name__}; allowed: "
                      f"{', '.join(LAYER_KINDS)}")
    if not isinstance(layer.name, str) or not LAYER_NAME.match(layer.name):
        raise IRError(f"layer name {layer.name!r}: a letter, then up to 31 letters, digits or "
                      f"'_' is required (it names Verilog signals and memory files)")
    where = f"layer {layer.name!r}"
    for key in _NEURON_INTS + _SHAPE_INTS[type(layer)]:
        _require_int(getattr(layer, key), key, where)
    if isinstance(layer.scale, bool) or not isinstance(layer.scale, Real) or not (
            math.isfinite(layer.scale) and layer.scale > 0):
        raise IRError(f"{where}: scale={layer.scale!r}; a finite number > 0 is required")
    for key in ("weight", "bias"):
        array = getattr(layer, key)
        if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.integer):
            kind = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
            raise IRError(f"{where}: {key} holds {kind} values; integers are required")
    _validate_shape(layer, where, fan_in, map_shape)
    lo_w, hi_w = WEIGHT_BITS_RANGE
    if not lo_w <= layer.weight_bits <= hi_w:
        raise IRError(f"{where}: weight_bits={layer.weight_bits}; allowed {lo_w}..{hi_w}")
    lo_m, hi_m = MEMBRANE_BITS_RANGE
    if not lo_m <= layer.membrane_bits <= hi_m:
        raise IRError(f"{where}: membrane_bits={layer.membrane_bits}; allowed {lo_m}..{hi_m}")
    lo_i, hi_i = INPUT_BITS_RANGE
    if not lo_i <= layer.input_bits <= hi_i:
        raise IRError(f"{where}: input_bits={layer.input_bits}; allowed {lo_i} (spikes) or up "
                      f"to {hi_i} (direct encoding)")
    lo_f, hi_f = LEAK_FRAC_BITS_RANGE
    if not lo_f <= layer.leak_frac_bits <= hi_f:
        raise IRError(f"{where}: leak_frac_bits={layer.leak_frac_bits}; allowed {lo_f}..{hi_f}")
    if not 0 <= layer.leak_mult <= (1 << layer.leak_frac_bits):
        raise IRError(f"{where}: leak_mult={layer.leak_mult}; allowed 0..{1 << layer.leak_frac_bits}"
                      f" (tau in [0, 1])")
    m_lo, m_hi = layer.membrane_range
    if layer.fires and layer.reset not in RESETS:
        raise IRError(f"{where}: reset={layer.reset!r}; allowed {RESETS}")
    if layer.fires and not 1 <= layer.threshold <= m_hi:
        raise IRError(f"{where}: threshold={layer.threshold} does not fit a "
                      f"{layer.membrane_bits}-bit membrane; allowed 1..{m_hi}")
    if isinstance(layer, DENSE_KINDS):
        weight_shape: tuple[int, ...] = (layer.out_features, layer.synapses)
        bias_shape = (layer.out_features,)
    else:
        weight_shape = (layer.out_channels, layer.in_shape[0], layer.kernel_size,
                        layer.kernel_size)
        bias_shape = (layer.out_channels,)
    if layer.weight.shape != weight_shape:
        raise IRError(f"{where}: weight shape {layer.weight.shape}, expected {weight_shape}")
    if layer.bias.shape != bias_shape:
        raise IRError(f"{where}: bias shape {layer.bias.shape}, expected {bias_shape}")
    w_lo, w_hi = layer.weight_range
    if layer.weight.size and (layer.weight.min() < w_lo or layer.weight.max() > w_hi):
        raise IRError(f"{where}: weights span {layer.weight.min()}..{layer.weight.max()}; "
                      f"{layer.weight_bits}-bit weights allow {w_lo}..{w_hi}")
    if layer.bias.min() < m_lo or layer.bias.max() > m_hi:
        raise IRError(f"{where}: bias spans {layer.bias.min()}..{layer.bias.max()}; a "
                      f"{layer.membrane_bits}-bit membrane allows {m_lo}..{m_hi}")
    needed = signed_bits(*layer.accumulator_bounds())
    if layer.accumulator_bits > ACCUMULATOR_BITS_MAX:
        raise IRError(f"{where}: accumulator_bits={layer.accumulator_bits}; allowed "
                      f"{needed}..{ACCUMULATOR_BITS_MAX}")
    if layer.accumulator_bits < needed:
        raise IRError(f"{where}: accumulator_bits={layer.accumulator_bits} can overflow; "
                      f"the weights need at least {needed}")


def _validate_aux(layer: ConvLIFLayer, where: str, timesteps: int) -> None:
    """A convolution's NeuNorm term: all four fields, or none."""
    for key in ("aux_frac_bits", "aux_leak_mult", "aux_bits"):
        _require_int(getattr(layer, key), key, where)
    if layer.aux_weight is None:
        if layer.aux_bits or layer.aux_frac_bits or layer.aux_leak_mult:
            raise IRError(f"{where}: aux_bits={layer.aux_bits}, aux_frac_bits="
                          f"{layer.aux_frac_bits}, aux_leak_mult={layer.aux_leak_mult} without "
                          f"an aux_weight; a layer without a NeuNorm term has all three 0")
        return
    array = layer.aux_weight
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.integer):
        kind = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
        raise IRError(f"{where}: aux_weight holds {kind} values; integers are required")
    shape = (layer.out_channels, layer.kernel_size, layer.kernel_size)
    if array.shape != shape:
        raise IRError(f"{where}: aux_weight shape {array.shape}, expected {shape}")
    if layer.input_bits != 1:
        raise IRError(f"{where}: a NeuNorm term on a direct input (input_bits="
                      f"{layer.input_bits}); NeuNorm takes spike events (input_bits=1)")
    if not 0 <= layer.aux_frac_bits <= AUX_FRAC_BITS_MAX:
        raise IRError(f"{where}: aux_frac_bits={layer.aux_frac_bits}; allowed "
                      f"0..{AUX_FRAC_BITS_MAX}")
    if not 0 <= layer.aux_leak_mult <= (1 << layer.leak_frac_bits):
        raise IRError(f"{where}: aux_leak_mult={layer.aux_leak_mult}; allowed "
                      f"0..{1 << layer.leak_frac_bits} (tau2 in [0, 1])")
    bound = layer.aux_bound(timesteps)
    needed = signed_bits(-bound, bound)
    if not needed <= layer.aux_bits <= ACCUMULATOR_BITS_MAX:
        raise IRError(f"{where}: aux_bits={layer.aux_bits}; the NeuNorm state reaches "
                      f"|a| = {bound} in {timesteps} timesteps: allowed {needed}.."
                      f"{ACCUMULATOR_BITS_MAX}")


def save(net: Network, folder: str | Path) -> tuple[Path, Path]:
    """Write ``network.json`` (metadata, human-readable) and ``network.npz`` (integer arrays)."""
    net.validate()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "version": VERSION, "name": net.name, "timesteps": net.timesteps,
            "input_features": net.input_features, "encoding": net.encoding,
            "dataset": net.dataset, "source": net.source, "vote_group": net.vote_group,
            "layers": [layer.metadata() for layer in net.layers]}
    arrays = {}
    for layer in net.layers:
        arrays[f"{layer.name}.weight"] = layer.weight.astype(np.int32)
        arrays[f"{layer.name}.bias"] = layer.bias.astype(np.int32)
        if layer.neunorm:
            arrays[f"{layer.name}.aux_weight"] = layer.aux_weight.astype(np.int32)
    json_path, npz_path = folder / "network.json", folder / "network.npz"
    _atomic_write(json_path, lambda fh: fh.write(json.dumps(meta, indent=2).encode() + b"\n"))
    _atomic_write(npz_path, lambda fh: np.savez(fh, **arrays))
    return json_path, npz_path


_ARRAYS = ("weight", "bias", "aux_weight")     # a layer's arrays, in network.npz
_NETWORK_KEYS = {"name": str, "timesteps": int, "input_features": int, "encoding": dict,
                 "dataset": dict, "source": dict, "layers": list}
_LAYER_KEYS = {kind: [f.name for f in fields(cls) if f.name not in _ARRAYS]
               for kind, cls in LAYER_KINDS.items()}
# fields with defaults: pooling, a dense layer's input map (needed only when it pools), the
# input width (1: spikes), a convolution's NeuNorm term (none)
_OPTIONAL_KEYS = {"dense": {"pool", "in_shape", "input_bits"},
                  "li": {"pool", "in_shape", "input_bits"},
                  "conv2d": {"pool", "input_bits", "aux_frac_bits", "aux_leak_mult", "aux_bits"}}


def load(folder: str | Path) -> Network:
    """Read and validate an IR written by :func:`save`; every problem (a missing or corrupt
    file, a missing or mistyped field, an array that is not integer) is an :class:`IRError`
    naming the file and the field."""
    folder = Path(folder)
    json_path, npz_path = folder / "network.json", folder / "network.npz"
    try:
        meta = json.loads(json_path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise IRError(f"{json_path}: no IR here (snnhw build writes ir/network.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IRError(f"{json_path}: cannot read IR metadata ({exc})") from None
    if (not isinstance(meta, dict) or meta.get("format") != FORMAT
            or meta.get("version") not in READABLE_VERSIONS):
        got = (meta.get("format"), meta.get("version")) if isinstance(meta, dict) else (
            type(meta).__name__, None)
        raise IRError(f"{json_path}: expected format {FORMAT!r} version {READABLE_VERSIONS}, got "
                      f"{got[0]!r} version {got[1]!r}")
    for key, kind in _NETWORK_KEYS.items():
        if key not in meta:
            raise IRError(f"{json_path}: the field {key!r} is missing")
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise IRError(f"{json_path}: {key}={meta[key]!r}; {kind.__name__} required")
    kinds = []
    for n, spec in enumerate(meta["layers"]):
        if not isinstance(spec, dict):
            raise IRError(f"{json_path}: layers[{n}] is {type(spec).__name__}, not a mapping")
        kind = spec.pop("kind", "dense")
        if not isinstance(kind, str) or kind not in LAYER_KINDS:
            raise IRError(f"{json_path}: layers[{n}] has kind {kind!r}; known: "
                          f"{', '.join(LAYER_KINDS)}")
        keys = _LAYER_KEYS[kind]
        missing = [k for k in keys if k not in spec and k not in _OPTIONAL_KEYS[kind]]
        unknown = sorted(set(spec) - set(keys))
        if missing or unknown:
            raise IRError(f"{json_path}: layers[{n}] " + (f"lacks {missing}" if missing else
                          f"has unknown fields {unknown}") + f"; a {kind} layer has {keys}")
        if not isinstance(spec["name"], str) or not LAYER_NAME.match(spec["name"]):
            raise IRError(f"{json_path}: layers[{n}] name {spec['name']!r} is not a layer name "
                          f"(a letter, then letters, digits or '_')")
        if isinstance(spec.get("in_shape"), list):
            spec["in_shape"] = tuple(spec["in_shape"])
        kinds.append(LAYER_KINDS[kind])
    try:
        with np.load(npz_path, allow_pickle=False) as arrays:
            layers = tuple(
                cls(**spec, weight=_array(arrays, f"{spec['name']}.weight", npz_path),
                    bias=_array(arrays, f"{spec['name']}.bias", npz_path),
                    **({"aux_weight": _array(arrays, f"{spec['name']}.aux_weight", npz_path)}
                       if spec.get("aux_bits") else {}))
                for cls, spec in zip(kinds, meta["layers"]))
    except FileNotFoundError:
        raise IRError(f"{npz_path}: the IR's arrays are missing") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, IRError):
            raise
        raise IRError(f"{npz_path}: not a readable IR array file ({exc})") from None
    vote_group = meta.get("vote_group", 1)
    try:
        return Network(name=meta["name"], timesteps=meta["timesteps"],
                       input_features=meta["input_features"], layers=layers,
                       encoding=meta["encoding"], dataset=meta["dataset"],
                       source=meta["source"], vote_group=vote_group).validate()
    except IRError as exc:
        raise IRError(f"{folder}: {exc}") from None


def _array(arrays: Any, key: str, path: Path) -> np.ndarray:
    """One integer array of the npz; object arrays are refused by ``allow_pickle=False``."""
    if key not in arrays.files:
        raise IRError(f"{path}: the array {key!r} is missing")
    array = arrays[key]
    if not np.issubdtype(array.dtype, np.integer):
        raise IRError(f"{path}: {key} holds {array.dtype} values; integers are required")
    return array.astype(np.int64)


def _atomic_write(path: Path, write) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)
