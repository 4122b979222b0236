"""Quantize stage: ``model.pt`` -> integer IR (:class:`snnhw.ir.Network`).

Importer, then passes:

1. import: the architecture must be ``dense -> lif`` or ``conv2d -> lif`` pairs, the last
   pair may be a ``dense -> li`` readout; any other layer type fails here, naming the layer.
2. scale: one scale per layer, ``scale = max|W| / (2**(N-1) - 1)``, so the largest weight
   maps onto the largest N-bit code; weights, bias and threshold are divided by it and
   rounded half away from zero. A direct-encoding first layer takes its inputs in ``[0, 1]``
   as unsigned ``input_bits``-bit integers ``x * (2**M - 1)``: its membrane, bias and
   threshold LSB is then ``scale / (2**M - 1)``.
3. leak: ``leak_mult = round(tau * 2**F)`` with F fraction bits. A NeuNorm layer before a
   convolution becomes that convolution's NeuNorm term (:func:`_neunorm_term`).
4. widths: the membrane width comes from the worst-case bound (or the user); the
   accumulator width from the exact range of carried membrane plus one timestep's weights.
5. validate: the IR schema check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import SnnhwError
from .checkpoint import load_checkpoint
from .data.encoding import DIRECT, SPIKE_ENCODINGS
from .fixedpoint import (
    DIRECT_INPUT_BITS,
    INPUT_BITS_RANGE,
    LEAK_FRAC_BITS_RANGE,
    MEMBRANE_BITS_RANGE,
    WEIGHT_BITS_RANGE,
    accumulator_bounds,
    aux_bound,
    direct_input,
    input_max,
    layer_scale,
    leak_multiplier,
    max_step_input,
    membrane_bits_for,
    round_half_away,
    signed_bits,
    signed_range,
)
from .ir import AUX_FRAC_BITS_MAX, POOLS, ConvLIFLayer, IRError, LIFLayer, LIReadoutLayer, Network

if TYPE_CHECKING:
    import torch

__all__ = ["SUPPORTED_LAYERS", "integer_inputs", "integer_torch_model", "quantize",
           "quantize_file"]

SUPPORTED_LAYERS = ("dense", "conv2d", "avgpool2d", "lif", "li", "neunorm")
NEURONS = ("lif", "li")
# views and inference no-ops: the hardware sees the same row-major spike vector
INFERENCE_IDENTITY = ("dropout", "flatten", "reshape")
_WHY_NOT = {
    "voting": "a voting layer must be the last layer",
}
SUPPORTED_TEXT = ("dense or conv2d layers each followed by lif, the last dense layer by lif or "
                  "an li readout, an avgpool2d (kernel "
                  f"{', '.join(map(str, POOLS[1:]))}) before a dense or conv2d layer, a neunorm "
                  "(alpha per channel) right before a conv2d, flatten, dropout, a final voting "
                  "layer")


@dataclass(frozen=True)
class _Stage:
    """One synapse -> neurons pair of the architecture (LIF, or an LI readout), with the pooling
    of its input events."""

    index: int                                # the synapse's position in the architecture
    synapse: dict[str, Any]
    lif: dict[str, Any]                       # the neurons' descriptor: lif or li
    pool: int
    in_shape: tuple[int, int, int] | None     # the map its input events index
    neunorm: tuple[int, dict[str, Any]] | None = None   # (position, descriptor) before it


def _stages(architecture: list[dict[str, Any]], where: str,
            input_features: int | None = None) -> list[_Stage]:
    """Walk the descriptors, following the shape of the event map, into synapse -> LIF
    stages; anything the hardware cannot build fails here, naming the layer.

    Dropout and flatten are identities at inference (the event index is already the row-major
    position); a leading reshape gives the input map; an average pool becomes the sum pooling
    of the next synapse's input events (its ``1/k**2`` goes into that layer's weights); a
    final voting layer becomes the IR's ``vote_group``.
    """
    specs = list(enumerate(architecture))
    if specs and specs[-1][1].get("type") == "voting":
        specs = specs[:-1]
    shape: tuple[int, ...] | None = None
    pool, pool_at = 1, None
    neunorm: tuple[int, dict[str, Any]] | None = None
    stages = []
    k = 0
    while k < len(specs):
        i, spec = specs[k]
        kind = spec.get("type")
        k += 1
        if kind == "reshape":
            if stages or pool > 1:
                raise SnnhwError(f"{where}: layer {i} (reshape) comes after layer 0; the hardware "
                                 f"takes a reshape only as the first layer (the input map)")
            shape = tuple(int(v) for v in spec["shape"])
            continue
        if kind in INFERENCE_IDENTITY:
            continue
        if kind not in SUPPORTED_LAYERS:
            reason = _WHY_NOT.get(kind, "it is not a known layer type")
            raise SnnhwError(f"{where}: layer {i} has type {kind!r}, which the hardware does not "
                             f"support yet ({reason}); supported: {SUPPORTED_TEXT}")
        following = specs[k][1].get("type") if k < len(specs) else None
        if kind == "neunorm":
            if following != "conv2d":
                raise SnnhwError(f"{where}: layer {i} (neunorm) is followed by "
                                 f"{following or 'nothing'}; the hardware folds NeuNorm into the "
                                 f"conv2d right after it; supported: {SUPPORTED_TEXT}")
            neunorm = (i, spec)
            continue
        if kind == "avgpool2d":
            size = int(spec["kernel_size"])
            if shape is None or len(shape) != 3:
                raise SnnhwError(f"{where}: layer {i} (avgpool2d) needs an input map (C, H, W); "
                                 f"its input is flat")
            if size not in POOLS[1:] or pool > 1:
                raise SnnhwError(f"{where}: layer {i} (avgpool2d, kernel {size}): the hardware "
                                 f"pools once between two layers, kernel "
                                 f"{' or '.join(map(str, POOLS[1:]))}; supported: {SUPPORTED_TEXT}")
            pool, pool_at = size, i
            continue
        if kind in NEURONS:
            raise SnnhwError(f"{where}: layer {i} ({kind}) follows no dense or conv2d layer "
                             f"(spiking pooling neurons are not generated yet); supported: "
                             f"{SUPPORTED_TEXT}")
        nxt = specs[k][1] if k < len(specs) else None
        if nxt is None or nxt.get("type") not in NEURONS:
            raise SnnhwError(f"{where}: layer {i} ({kind!r}) is not followed by lif or li; "
                             f"supported: {SUPPORTED_TEXT}")
        if nxt.get("type") == "li" and kind != "dense":
            raise SnnhwError(f"{where}: layer {k} (li) reads out a {kind} layer; the hardware "
                             f"builds a leaky-integrator readout after a dense layer only")
        k += 1
        in_shape = tuple(shape) if shape is not None and len(shape) == 3 else None
        pooled = (in_shape[0], in_shape[1] // pool, in_shape[2] // pool) if in_shape else None
        if kind == "conv2d":
            if pooled is None:
                raise SnnhwError(f"{where}: layer {i} (conv2d) needs an input map (C, H, W); its "
                                 f"input is flat (a reshape as layer 0 gives the map)")
            if int(spec["in_channels"]) != pooled[0]:
                raise SnnhwError(f"{where}: layer {i} (conv2d) has in_channels="
                                 f"{spec['in_channels']} but its input map is {pooled}")
            ks, st, pad = (int(spec["kernel_size"]), int(spec.get("stride", 1)),
                           int(spec.get("padding", 0)))
            shape = (int(spec["out_channels"]), (pooled[1] + 2 * pad - ks) // st + 1,
                     (pooled[2] + 2 * pad - ks) // st + 1)
        else:
            features = int(np.prod(pooled)) if pooled else int(spec["in_features"])
            if int(spec["in_features"]) != features:
                raise SnnhwError(f"{where}: layer {i} (dense) has in_features="
                                 f"{spec['in_features']} but its input has {features} features")
            shape = (int(spec["out_features"]),)
        if pool > 1 and in_shape is None:
            raise SnnhwError(f"{where}: layer {pool_at} (avgpool2d) pools a flat input")
        if neunorm is not None and neunorm[1].get("channels") is not None and \
                int(neunorm[1]["channels"]) != pooled[0]:
            raise SnnhwError(f"{where}: layer {neunorm[0]} (neunorm) has channels="
                             f"{neunorm[1]['channels']} but its input map is {pooled}")
        stages.append(_Stage(i, spec, nxt, pool, in_shape, neunorm))
        pool, pool_at, neunorm = 1, None, None
    if pool > 1:
        raise SnnhwError(f"{where}: layer {pool_at} (avgpool2d) is not followed by a dense or "
                         f"conv2d layer; supported: {SUPPORTED_TEXT}")
    if not stages:
        raise SnnhwError(f"{where}: the architecture has no layers")
    return stages


def _vote_group(architecture: list[dict[str, Any]]) -> int:
    last = architecture[-1] if architecture else {}
    return int(last["group"]) if last.get("type") == "voting" else 1


def _quantize_stage(n: int, stage: _Stage, state: dict[str, Any], *, weight_bits: int,
                    membrane_bits: int | None, leak_frac_bits: int, timesteps: int,
                    input_bits: int, where: str) -> LIFLayer | LIReadoutLayer | ConvLIFLayer:
    """One synapse -> neurons stage as an IR layer: scale, round, leak, widths. ``input_bits``:
    1 for spike inputs, else the width of a direct input's unsigned values. A readout (``li``)
    has no threshold: its scale is its weights' alone."""
    index, synapse, lif = stage.index, stage.synapse, stage.lif
    conv = synapse["type"] == "conv2d"
    readout = lif["type"] == "li"
    name = f"conv{n}" if conv else f"li{n}" if readout else f"fc{n}"
    try:
        w = state[f"layers.{index}.weight"].double().numpy()
        b = (state[f"layers.{index}.bias"].double().numpy() if synapse.get("bias", True)
             else np.zeros(w.shape[0]))
    except KeyError as exc:
        raise SnnhwError(f"{where}: state_dict lacks {exc.args[0]!r} for layer {index}") from None
    # an average pool before the synapse is a sum pool with its 1/k^2 in the weights: exact
    w = w / (stage.pool * stage.pool)
    weight_scale = layer_scale(float(np.abs(w).max()), weight_bits,
                               float(lif.get("threshold", 1.0)))
    w_int = round_half_away(w / weight_scale)
    # an input value x stands for x / (2**M - 1): products, bias and threshold in that unit
    scale = weight_scale / input_max(input_bits)
    b_int = round_half_away(b / scale)
    threshold = 0 if readout else int(round_half_away(float(lif["threshold"]) / scale))
    if threshold < 1 and not readout:
        raise SnnhwError(f"{where}: layer {index + 1} ({name}): threshold {lif['threshold']} "
                         f"rounds to {threshold} LSBs at scale {scale:.3g}; it must be >= 1")
    leak_mult = leak_multiplier(float(lif["tau"]), leak_frac_bits)
    rows = w_int.reshape(w_int.shape[0], -1)
    events = stage.pool ** 2 * input_max(input_bits)    # the most one synapse adds, in weights
    aux = (_neunorm_term(stage, state, w / weight_scale, weight_bits=weight_bits,
                         leak_frac_bits=leak_frac_bits, timesteps=timesteps,
                         input_bits=input_bits, where=where)
           if stage.neunorm is not None else {})
    aux_lsbs = -(-aux["bound"] >> aux["aux_frac_bits"]) if aux else 0  # the most a >> F takes
    aux.pop("bound", None)
    bits = membrane_bits if membrane_bits is not None else membrane_bits_for(
        max_input=max_step_input(rows, b_int, events_per_input=events) + aux_lsbs,
        threshold=threshold, leak_mult=leak_mult, leak_frac_bits=leak_frac_bits,
        timesteps=timesteps)
    m_lo, m_hi = signed_range(bits)
    if threshold > m_hi:
        raise SnnhwError(f"{where}: layer {index + 1} ({name}): threshold {lif['threshold']} is "
                         f"{threshold} LSBs, which does not fit a {bits}-bit membrane "
                         f"(max {m_hi}); use a wider --membrane-bits or fewer --fixed bits")
    if b_int.min() < m_lo or b_int.max() > m_hi:
        raise SnnhwError(f"{where}: layer {index} ({name}): bias spans {b_int.min()}..{b_int.max()}"
                         f" LSBs, which does not fit a {bits}-bit membrane ({m_lo}..{m_hi})")
    neurons = dict(weight_bits=weight_bits, membrane_bits=bits,
                   accumulator_bits=signed_bits(*accumulator_bounds(rows, bits, events)),
                   leak_mult=leak_mult, leak_frac_bits=leak_frac_bits, scale=scale,
                   weight=w_int, bias=b_int, pool=stage.pool, input_bits=input_bits)
    in_features = int(np.prod(stage.in_shape)) if stage.in_shape else w.shape[1]
    if readout:
        return LIReadoutLayer(name=name, in_features=in_features, out_features=w.shape[0],
                              in_shape=stage.in_shape if stage.pool > 1 else None, **neurons)
    neurons |= dict(threshold=threshold, reset=str(lif.get("reset", "zero")))
    if conv:
        return ConvLIFLayer(name=name, in_shape=stage.in_shape,
                            out_channels=int(synapse["out_channels"]),
                            kernel_size=int(synapse["kernel_size"]),
                            stride=int(synapse.get("stride", 1)),
                            padding=int(synapse.get("padding", 0)), **neurons, **aux)
    return LIFLayer(name=name, in_features=in_features, out_features=w.shape[0],
                    in_shape=stage.in_shape if stage.pool > 1 else None, **neurons)


def _neunorm_term(stage: _Stage, state: dict[str, Any], kernel: np.ndarray, *, weight_bits: int,
                  leak_frac_bits: int, timesteps: int, input_bits: int, where: str
                  ) -> dict[str, Any]:
    """The NeuNorm layer before a convolution as the convolution's NeuNorm term (the IR
    fields ``aux_*`` plus ``bound``, the largest ``|a|``), or ``{}`` when its alpha is 0.

    NeuNorm subtracts ``alpha[c] x[p]`` from every input ``o[c, p]`` of the convolution, and
    ``x[t] = tau2 x[t-1] + v mean_c o[t, c, p]``. The convolution is linear, so its input
    loses ``sum_tap x[q + tap] sum_c W[o, c, tap] alpha[c]``: each input event at position p,
    whatever its channel, adds the tap ``K[o, tap] = (v / C) sum_c W[o, c, tap] alpha[c]``
    (``kernel`` is W in membrane LSBs, a pooling's ``1/k**2`` folded in, which is also the
    ``1/k**2`` of the pooled mean) to a state that decays by tau2. ``K`` is rounded to
    ``weight_bits`` significant bits: ``aux_frac_bits`` fraction bits below the LSB.
    """
    index, spec = stage.neunorm
    if input_bits != 1:
        raise SnnhwError(f"{where}: layer {index} (neunorm) acts on a direct (multi-bit) input; "
                         f"the hardware applies NeuNorm to spikes")
    try:
        alpha = state[f"layers.{index}.alpha"].double().numpy()
    except KeyError as exc:
        raise SnnhwError(f"{where}: state_dict lacks {exc.args[0]!r} for layer {index}") from None
    channels = kernel.shape[1]
    per_channel = alpha.reshape(alpha.shape[0], -1)
    if per_channel.shape[0] != channels or not np.all(per_channel == per_channel[:, :1]):
        raise SnnhwError(f"{where}: layer {index} (neunorm) has alpha of shape "
                         f"{tuple(alpha.shape)} that varies across positions; the hardware "
                         f"builds NeuNorm with one alpha per channel ({channels}): train with "
                         f"neunorm_alpha = \"channel\"")
    v = float(spec.get("v", 0.1))
    taps = np.einsum("ocij,c->oij", kernel, per_channel[:, 0]) * (v / channels)
    peak = float(np.abs(taps).max())
    if peak == 0.0:
        return {}
    qmax = (1 << (weight_bits - 1)) - 1
    frac_bits = int(min(AUX_FRAC_BITS_MAX, max(0, math.floor(math.log2(qmax / peak)))))
    aux_weight = round_half_away(taps * (1 << frac_bits))
    aux_leak_mult = leak_multiplier(float(spec.get("tau", 0.9)), leak_frac_bits)
    bound = aux_bound(aux_weight, channels * stage.pool ** 2, aux_leak_mult, leak_frac_bits,
                      timesteps)
    return {"aux_weight": aux_weight, "aux_frac_bits": frac_bits, "aux_leak_mult": aux_leak_mult,
            "aux_bits": signed_bits(-bound, bound), "bound": bound}


def quantize(model: dict[str, Any], *, weight_bits: int, membrane_bits: int | None = None,
             leak_frac_bits: int = 8, input_bits: int = DIRECT_INPUT_BITS,
             where: str = "model.pt") -> Network:
    """Turn a loaded ``model.pt`` payload into a validated integer IR. ``input_bits`` is the
    width of a direct-encoding input (unused for spike inputs)."""
    lo, hi = WEIGHT_BITS_RANGE
    if not lo <= weight_bits <= hi:
        raise SnnhwError(f"--fixed {weight_bits}: weight width out of range; allowed {lo}..{hi}")
    if membrane_bits is not None and not (MEMBRANE_BITS_RANGE[0] <= membrane_bits
                                          <= MEMBRANE_BITS_RANGE[1]):
        raise SnnhwError(f"--membrane-bits {membrane_bits}: out of range; allowed "
                         f"{MEMBRANE_BITS_RANGE[0]}..{MEMBRANE_BITS_RANGE[1]}")
    if not LEAK_FRAC_BITS_RANGE[0] <= leak_frac_bits <= LEAK_FRAC_BITS_RANGE[1]:
        raise SnnhwError(f"--leak-bits {leak_frac_bits}: out of range; allowed "
                         f"{LEAK_FRAC_BITS_RANGE[0]}..{LEAK_FRAC_BITS_RANGE[1]}")
    if not 2 <= input_bits <= INPUT_BITS_RANGE[1]:
        raise SnnhwError(f"--input-bits {input_bits}: out of range; allowed "
                         f"2..{INPUT_BITS_RANGE[1]} (the width of a direct-encoding input)")
    stages = _stages(model["architecture"], where)
    encoding = model["encoding"].get("type")
    if encoding not in SPIKE_ENCODINGS + (DIRECT,):
        raise SnnhwError(f"{where}: encoding {encoding!r}; the hardware takes spike events "
                         f"({', '.join(SPIKE_ENCODINGS)}) or a direct encoding ({DIRECT!r})")
    state = model["state_dict"]
    timesteps = int(model["encoding"]["timesteps"])
    layers = [_quantize_stage(n, stage, state, weight_bits=weight_bits,
                              membrane_bits=membrane_bits, leak_frac_bits=leak_frac_bits,
                              timesteps=timesteps,
                              input_bits=input_bits if n == 0 and encoding == DIRECT else 1,
                              where=where)
              for n, stage in enumerate(stages)]
    net = Network(name=str(model["name"]), timesteps=timesteps,
                  input_features=layers[0].in_features, layers=tuple(layers),
                  encoding=dict(model["encoding"]), dataset=dict(model["dataset"]),
                  vote_group=_vote_group(model["architecture"]),
                  source={"model": where, "weight_bits": weight_bits,
                          "membrane_bits": membrane_bits, "leak_frac_bits": leak_frac_bits})
    try:
        return net.validate()
    except IRError as exc:
        raise SnnhwError(f"{where}: {exc}") from None


def quantize_file(path: str | Path, **options: Any) -> tuple[dict[str, Any], Network]:
    """Load ``model.pt`` and quantize it; returns the payload and the IR."""
    model = load_checkpoint(path)
    return model, quantize(model, where=str(path), **options)


def integer_inputs(net: Network, encoded: np.ndarray) -> np.ndarray:
    """The float model's inputs ``[T, B, ...]`` (``snnhw.data.encode_numpy``) as the IR's
    integer inputs ``[T, B, input_features]``: spikes as ``uint8``, a direct encoding's values
    in ``[0, 1]`` as unsigned ``input_bits``-bit integers (``fixedpoint.direct_input``)."""
    flat = encoded.reshape(encoded.shape[0], encoded.shape[1], -1)
    if net.layers[0].direct:
        return direct_input(flat, net.input_bits).astype(np.uint8)
    return flat.astype(np.uint8)


def integer_torch_model(net: Network) -> "torch.nn.Sequential":
    """The IR as a torch network of :class:`snnhw.nn.fixed.FixedPointLIF` layers: the
    integer mode of the torch model, spike-for-spike equal to the golden model (a readout's
    membranes equal to its ``Trace.values``)."""
    import torch

    from .nn.fixed import FixedPointLIF, NeuNormTerm, SumPoolConv, SumPoolDense

    modules = []
    for layer in net.layers:
        weight = torch.from_numpy(layer.weight)
        bias = torch.from_numpy(layer.bias)
        aux = None
        if isinstance(layer, ConvLIFLayer):
            geometry = dict(in_shape=layer.in_shape, pool=layer.pool, stride=layer.stride,
                            padding=layer.padding)
            synapse: torch.nn.Module = SumPoolConv(weight, **geometry)
            bias = bias[:, None, None]
            if layer.neunorm:
                aux = NeuNormTerm(torch.from_numpy(layer.aux_weight), **geometry,
                                  frac_bits=layer.aux_frac_bits, leak_mult=layer.aux_leak_mult,
                                  leak_frac_bits=layer.leak_frac_bits)
        else:
            synapse = SumPoolDense(weight, layer.pool, layer.in_shape)
        modules.append(FixedPointLIF(
            synapse=synapse, bias=bias, threshold=layer.threshold if layer.fires else None,
            leak_mult=layer.leak_mult, leak_frac_bits=layer.leak_frac_bits,
            membrane_min=layer.membrane_range[0], membrane_max=layer.membrane_range[1],
            reset=layer.reset if layer.fires else "zero", aux=aux))
    return torch.nn.Sequential(*modules)
