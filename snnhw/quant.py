"""Quantize stage: ``model.pt`` -> integer IR (:class:`snnhw.ir.Network`).

Importer, then passes:

1. import: the architecture must be ``dense -> lif`` pairs; any other layer type fails here,
   naming the layer.
2. scale: one scale per layer, ``scale = max|W| / (2**(N-1) - 1)``, so the largest weight
   maps onto the largest N-bit code; weights, bias and threshold are divided by it and
   rounded half away from zero.
3. leak: ``leak_mult = round(tau * 2**F)`` with F fraction bits.
4. widths: the membrane width comes from the worst-case bound (or the user); the
   accumulator width from the exact range of carried membrane plus one timestep's weights.
5. validate: the IR schema check.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import SnnhwError
from .checkpoint import load_checkpoint
from .data.encoding import SPIKE_ENCODINGS
from .fixedpoint import (
    LEAK_FRAC_BITS_RANGE,
    MEMBRANE_BITS_RANGE,
    WEIGHT_BITS_RANGE,
    layer_scale,
    leak_multiplier,
    max_step_input,
    membrane_bits_for,
    round_half_away,
    signed_bits,
    signed_range,
)
from .ir import IRError, LIFLayer, Network

if TYPE_CHECKING:
    import torch

__all__ = ["SUPPORTED_LAYERS", "integer_torch_model", "quantize", "quantize_file"]

SUPPORTED_LAYERS = ("dense", "lif")
# views and inference no-ops: the hardware sees the same row-major spike vector
INFERENCE_IDENTITY = ("dropout", "flatten", "reshape")
_WHY_NOT = {
    "conv2d": "convolution cores are not generated yet",
    "avgpool2d": "pooling cores are not generated yet",
    "neunorm": "NeuNorm's auxiliary neurons are not generated yet",
    "voting": "a voting layer must be the last layer",
}


def _pairs(architecture: list[dict[str, Any]], where: str) -> list[tuple[int, dict, dict]]:
    """Split the descriptor list into (index, dense, lif) pairs, rejecting anything else.

    Dropout, flatten and reshape are identities at inference on flat spike vectors and are
    skipped;
    a final voting layer becomes the IR's ``vote_group``.
    """
    layers = [(i, spec) for i, spec in enumerate(architecture)
              if spec.get("type") not in INFERENCE_IDENTITY]
    if layers and layers[-1][1].get("type") == "voting":
        layers = layers[:-1]
    pairs = []
    k = 0
    while k < len(layers):
        i, spec = layers[k]
        kind = spec.get("type")
        if kind not in SUPPORTED_LAYERS:
            reason = _WHY_NOT.get(kind, "it is not a known layer type")
            raise SnnhwError(f"{where}: layer {i} has type {kind!r}, which the hardware does not "
                             f"support yet ({reason}); supported: dense followed by lif")
        nxt = layers[k + 1][1] if k + 1 < len(layers) else None
        if kind != "dense" or nxt is None or nxt.get("type") != "lif":
            raise SnnhwError(f"{where}: layer {i} ({kind!r}) is not part of a dense -> lif pair; "
                             f"the hardware supports chains of dense layers each followed by lif")
        pairs.append((i, spec, nxt))
        k += 2
    if not pairs:
        raise SnnhwError(f"{where}: the architecture has no layers")
    return pairs


def _vote_group(architecture: list[dict[str, Any]]) -> int:
    last = architecture[-1] if architecture else {}
    return int(last["group"]) if last.get("type") == "voting" else 1


def quantize(model: dict[str, Any], *, weight_bits: int, membrane_bits: int | None = None,
             leak_frac_bits: int = 8, where: str = "model.pt") -> Network:
    """Turn a loaded ``model.pt`` payload into a validated integer IR."""
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
    pairs = _pairs(model["architecture"], where)
    encoding = model["encoding"].get("type")
    if encoding not in SPIKE_ENCODINGS:
        raise SnnhwError(f"{where}: encoding {encoding!r} feeds real values to layer 0; the "
                         f"hardware takes spike events ({', '.join(SPIKE_ENCODINGS)})")
    state = model["state_dict"]
    timesteps = int(model["encoding"]["timesteps"])
    layers = []
    for n, (index, dense, lif) in enumerate(pairs):
        name = f"fc{n}"
        try:
            w = state[f"layers.{index}.weight"].double().numpy()
            b = (state[f"layers.{index}.bias"].double().numpy() if dense.get("bias", True)
                 else np.zeros(w.shape[0]))
        except KeyError as exc:
            raise SnnhwError(f"{where}: state_dict lacks {exc.args[0]!r} for layer {index}") from None
        scale = layer_scale(float(np.abs(w).max()), weight_bits, float(lif["threshold"]))
        w_int = round_half_away(w / scale)
        b_int = round_half_away(b / scale)
        threshold = int(round_half_away(float(lif["threshold"]) / scale))
        if threshold < 1:
            raise SnnhwError(f"{where}: layer {index + 1} ({name}): threshold {lif['threshold']} "
                             f"rounds to {threshold} LSBs at scale {scale:.3g}; it must be >= 1")
        leak_mult = leak_multiplier(float(lif["tau"]), leak_frac_bits)
        bits = membrane_bits if membrane_bits is not None else membrane_bits_for(
            max_input=max_step_input(w_int, b_int), threshold=threshold, leak_mult=leak_mult,
            leak_frac_bits=leak_frac_bits, timesteps=timesteps)
        m_lo, m_hi = signed_range(bits)
        if threshold > m_hi:
            raise SnnhwError(f"{where}: layer {index + 1} ({name}): threshold {lif['threshold']} is "
                             f"{threshold} LSBs, which does not fit a {bits}-bit membrane "
                             f"(max {m_hi}); use a wider --membrane-bits or fewer --fixed bits")
        if b_int.min() < m_lo or b_int.max() > m_hi:
            raise SnnhwError(f"{where}: layer {index} ({name}): bias spans {b_int.min()}..{b_int.max()}"
                             f" LSBs, which does not fit a {bits}-bit membrane ({m_lo}..{m_hi})")
        acc_lo = m_lo + int(np.minimum(w_int, 0).sum(1).min())
        acc_hi = m_hi + int(np.maximum(w_int, 0).sum(1).max())
        layers.append(LIFLayer(
            name=name, in_features=w.shape[1], out_features=w.shape[0], weight_bits=weight_bits,
            membrane_bits=bits, accumulator_bits=signed_bits(acc_lo, acc_hi),
            threshold=threshold, leak_mult=leak_mult, leak_frac_bits=leak_frac_bits,
            reset=str(lif.get("reset", "zero")), scale=scale, weight=w_int, bias=b_int))
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


def integer_torch_model(net: Network) -> "torch.nn.Sequential":
    """The IR as a torch network of :class:`snnhw.nn.fixed.FixedPointLIFDense` layers: the
    integer mode of the torch model, spike-for-spike equal to the golden model."""
    import torch

    from .nn.fixed import FixedPointLIFDense

    return torch.nn.Sequential(*(
        FixedPointLIFDense(weight=torch.from_numpy(layer.weight), bias=torch.from_numpy(layer.bias),
                           threshold=layer.threshold, leak_mult=layer.leak_mult,
                           leak_frac_bits=layer.leak_frac_bits,
                           membrane_min=layer.membrane_range[0],
                           membrane_max=layer.membrane_range[1], reset=layer.reset)
        for layer in net.layers))
