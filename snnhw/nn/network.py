"""Spiking networks described by a plain list of layer descriptors.

The descriptor list is what ``model.pt`` stores as its architecture, so a network can be
rebuilt without pickled classes::

    [{"type": "dense", "in_features": 784, "out_features": 128, "bias": True},
     {"type": "lif", "tau": 0.5, "threshold": 1.0, "reset": "zero",
      "surrogate": "rectangular", "width": 1.0, "gradient": "surrogate"},
     ...]

Layer types (``LAYER_TYPES``): ``dense``, ``conv2d``, ``avgpool2d``, ``flatten``,
``reshape``, ``dropout``, ``neunorm``, ``voting``, ``lif`` and ``li`` (a leaky-integrator
readout: the network's output is then its membranes). Layers run in multi-step mode on
``[T, B, ...]`` tensors.

:func:`architecture` builds the descriptors from the compact layer strings of the papers,
e.g. ``["128C3", "128C3", "AP2", "384C3", "384C3", "AP2", "1024FC", "512FC"]``.
"""

from __future__ import annotations

import math
import re
from numbers import Integral, Real
from typing import Any

import torch

from .layers import NEUNORM_ALPHAS, AvgPool2d, Conv2d, Dropout, Flatten, NeuNorm, Reshape, Voting
from .lif import GRADIENTS, LI, LIF, RESETS
from .qat import FixedPointSpec, fixed_point_forward
from .rate_grad import hm2bp_forward, leak_aware_forward
from .surrogate import SURROGATES

__all__ = ["LAYER_FIELDS", "LAYER_TYPES", "READOUTS", "SpikingNetwork", "architecture", "check_architecture",
           "mlp_architecture", "show"]

LayerSpec = dict[str, Any]
LAYER_TYPES = ("dense", "conv2d", "avgpool2d", "flatten", "reshape", "dropout", "neunorm",
               "voting", "lif", "li")

# field -> (kind, required, allowed): kinds "count" (int >= 1), "size" (int >= 0), "bool",
# "shape" (list of counts), "unit" (a float in [0, 1]), "positive" (a float > 0), "choice"
LAYER_FIELDS: dict[str, dict[str, tuple[str, bool, tuple[str, ...]]]] = {
    "dense": {"in_features": ("count", True, ()), "out_features": ("count", True, ()),
              "bias": ("bool", False, ())},
    "conv2d": {"in_channels": ("count", True, ()), "out_channels": ("count", True, ()),
               "kernel_size": ("count", True, ()), "stride": ("count", False, ()),
               "padding": ("size", False, ()), "bias": ("bool", False, ())},
    "avgpool2d": {"kernel_size": ("count", True, ())},
    "flatten": {},
    "reshape": {"shape": ("shape", True, ())},
    "dropout": {"p": ("unit", True, ())},
    "neunorm": {"channels": ("count", True, ()), "height": ("count", True, ()),
                "width": ("count", True, ()), "tau": ("unit", False, ()),
                "v": ("positive", False, ()), "alpha": ("choice", False, NEUNORM_ALPHAS)},
    "voting": {"classes": ("count", True, ()), "group": ("count", True, ())},
    "lif": {"tau": ("unit", True, ()), "threshold": ("positive", True, ()),
            "reset": ("choice", False, RESETS), "surrogate": ("choice", False, tuple(SURROGATES)),
            "width": ("positive", False, ()), "gradient": ("choice", False, GRADIENTS),
            "spatial_adjust": ("bool", False, ()), "temporal_adjust": ("bool", False, ())},
    "li": {"tau": ("unit", True, ())},
}
READOUTS = ("spikes", "li")     # the output layer: LIF neurons, or leaky integrators
COUNT_MAX = 1 << 24      # features, channels, kernel sizes: far above any FPGA network
_KIND_TEXT = {"count": f"an integer in 1..{COUNT_MAX}", "size": f"an integer in 0..{COUNT_MAX}", "bool": "true or false",
              "shape": "a list of integers >= 1", "unit": "a number in [0, 1]",
              "positive": "a finite number > 0"}


def show(value: Any, width: int = 60) -> str:
    """``repr(value)`` on one line and at most ``width`` characters, for messages that quote
    a value read from a file (a tensor's repr spans lines)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _field_ok(kind: str, value: Any, allowed: tuple[str, ...]) -> bool:
    integer = isinstance(value, Integral) and not isinstance(value, bool)
    number = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "count":
        return integer and 1 <= value <= COUNT_MAX
    if kind == "size":
        return integer and 0 <= value <= COUNT_MAX
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "shape":
        return isinstance(value, (list, tuple)) and bool(value) and all(
            isinstance(v, Integral) and not isinstance(v, bool) and 1 <= v <= COUNT_MAX
            for v in value)
    if kind == "unit":
        return number and 0.0 <= value <= 1.0
    if kind == "positive":
        return number and value > 0
    return isinstance(value, str) and value in allowed


def check_architecture(arch: Any) -> None:
    """Raise ``ValueError`` naming the layer, the field, the value and what is allowed if
    ``arch`` is not a list of valid layer descriptors (``LAYER_FIELDS``)."""
    if not isinstance(arch, list) or not arch:
        raise ValueError(f"architecture is {type(arch).__name__}; a non-empty list of layer "
                         f"descriptors is required")
    for index, spec in enumerate(arch):
        if not isinstance(spec, dict):
            raise ValueError(f"layer {index} is {type(spec).__name__}, not a descriptor mapping")
        kind = spec.get("type")
        if not isinstance(kind, str) or kind not in LAYER_FIELDS:
            raise ValueError(f"layer {index}: unknown layer type {show(kind)}; known: "
                             f"{', '.join(LAYER_TYPES)}")
        schema = LAYER_FIELDS[kind]
        unknown = sorted(map(show, set(spec) - set(schema) - {"type"}))
        if unknown:
            raise ValueError(f"layer {index} ({kind}): unknown fields {', '.join(unknown)}; "
                             f"allowed: {', '.join(sorted(schema))}")
        for name, (field_kind, required, allowed) in schema.items():
            if name not in spec:
                if required:
                    raise ValueError(f"layer {index} ({kind}): the field {name!r} is missing")
                continue
            if not _field_ok(field_kind, spec[name], allowed):
                what = _KIND_TEXT.get(field_kind) or f"one of {', '.join(allowed)}"
                raise ValueError(f"layer {index} ({kind}): {name}={show(spec[name])}; {what} "
                                 f"is required")


def _build_layer(index: int, spec: LayerSpec) -> torch.nn.Module:
    kind = spec.get("type")
    if kind == "dense":
        return torch.nn.Linear(int(spec["in_features"]), int(spec["out_features"]),
                               bias=bool(spec.get("bias", True)))
    if kind == "conv2d":
        return Conv2d(int(spec["in_channels"]), int(spec["out_channels"]),
                      int(spec["kernel_size"]), stride=int(spec.get("stride", 1)),
                      padding=int(spec.get("padding", 0)), bias=bool(spec.get("bias", True)))
    if kind == "avgpool2d":
        return AvgPool2d(int(spec["kernel_size"]))
    if kind == "flatten":
        return Flatten()
    if kind == "reshape":
        return Reshape(spec["shape"])
    if kind == "dropout":
        return Dropout(float(spec["p"]))
    if kind == "neunorm":
        return NeuNorm(int(spec["channels"]), int(spec["height"]), int(spec["width"]),
                       tau=float(spec.get("tau", 0.9)), v=float(spec.get("v", 0.1)),
                       alpha=str(spec.get("alpha", "neuron")))
    if kind == "voting":
        return Voting(int(spec["classes"]), int(spec["group"]))
    if kind == "lif":
        return LIF(tau=spec["tau"], threshold=spec["threshold"], reset=spec.get("reset", "zero"),
                   surrogate=spec.get("surrogate", "rectangular"), width=spec.get("width", 1.0),
                   gradient=spec.get("gradient", "surrogate"),
                   spatial_adjust=spec.get("spatial_adjust", True),
                   temporal_adjust=spec.get("temporal_adjust", True))
    if kind == "li":
        return LI(tau=spec["tau"])
    raise ValueError(f"layer {index}: unknown layer type {kind!r}; known: {', '.join(LAYER_TYPES)}")


_SYNAPSES = (torch.nn.Linear, Conv2d, AvgPool2d)


class SpikingNetwork(torch.nn.Module):
    """A feed-forward stack of layers built from descriptors; input ``[T, B, F]``."""

    def __init__(self, architecture: list[LayerSpec],
                 fixed_point: FixedPointSpec | None = None) -> None:
        super().__init__()
        self.architecture = [dict(spec) for spec in architecture]
        self.layers = torch.nn.ModuleList(_build_layer(i, s) for i, s in enumerate(architecture))
        self.fixed_point = fixed_point

    def _pair(self, synapse: torch.nn.Module, lif: LIF, x: torch.Tensor, *, pool: int = 1,
              direct: bool = False) -> torch.Tensor:
        """One synapse -> LIF pair, routed by the LIF's ``gradient`` and the QAT spec
        (``pool``: the average pool that made ``x``; ``direct``: ``x`` is the direct input)."""
        fixed = self.fixed_point is not None and isinstance(synapse, (torch.nn.Linear, Conv2d))
        if lif.gradient == "hm2bp" and not isinstance(synapse, torch.nn.Linear):
            raise ValueError("HM2-BP is implemented for dense synapses only")
        exact = None
        if fixed:
            spec = self.fixed_point
            exact = lambda current: fixed_point_forward(  # noqa: E731
                synapse, lif, x, spec, pool=pool, direct=direct)
        if lif.gradient == "hm2bp":
            return hm2bp_forward(synapse, lif, x, exact)
        if lif.gradient == "leak_aware":
            return leak_aware_forward(synapse, lif, x, exact)
        if fixed:
            return fixed_point_forward(synapse, lif, x, self.fixed_point, pool=pool,
                                       direct=direct)
        return lif(synapse(x))

    def forward(self, x: torch.Tensor, record: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Run all layers; if ``record`` is a list, the spikes of every LIF layer are appended
        (not a readout's membranes: they are the output).

        With a ``fixed_point`` spec, each dense or conv -> LIF pair and a dense -> LI readout
        run the quantized arithmetic (quantization-aware training, see ``snnhw.nn.qat``).
        """
        layers = list(self.layers)
        pool = 1            # the average pool just applied (QAT folds it into the weights)
        first = True        # the first synapse takes a direct input when QAT says so
        i = 0
        while i < len(layers):
            layer = layers[i]
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if (isinstance(layer, torch.nn.Linear) and isinstance(nxt, LI)
                    and self.fixed_point is not None):
                x = fixed_point_forward(layer, nxt, x, self.fixed_point, pool=pool,
                                        direct=first and self.fixed_point.input_bits > 1)
                pool, first = 1, False
                i += 2
            elif isinstance(layer, _SYNAPSES) and isinstance(nxt, LIF):
                direct = (first and self.fixed_point is not None
                          and self.fixed_point.input_bits > 1)
                x = self._pair(layer, nxt, x, pool=pool, direct=direct)
                pool, first = 1, False
                i += 2
            else:
                x = layer(x)
                if isinstance(layer, AvgPool2d):
                    pool = int(layer.kernel_size)
                i += 1
            if record is not None and isinstance(layers[i - 1], LIF):
                record.append(x)
        return x


def _neuron(tau: float, threshold: float, neuron: dict[str, Any]) -> LayerSpec:
    spec = {"type": "lif", "tau": float(tau), "threshold": float(threshold),
            "reset": neuron.get("reset", "zero"),
            "surrogate": neuron.get("surrogate", "rectangular"),
            "width": float(neuron.get("width", 1.0)),
            "gradient": neuron.get("gradient", "surrogate")}
    if spec["gradient"] == "bpsta":
        spec["spatial_adjust"] = bool(neuron.get("spatial_adjust", True))
        spec["temporal_adjust"] = bool(neuron.get("temporal_adjust", True))
    return spec


_CONV = re.compile(r"^(\d+)C(\d+)$")
_POOL = re.compile(r"^AP(\d+)$")
_DENSE = re.compile(r"^(\d+)FC$")


def architecture(input_shape: list[int], layers: list[str], classes: int, *, tau: float,
                 threshold: float, voting: int = 1, width_mult: float = 1.0,
                 dropout: float = 0.0, neunorm: bool = False, neunorm_alpha: str = "neuron",
                 pool_neurons: bool = False,
                 pool_tau: float = 1.0, pool_threshold: float = 0.75,
                 readout: str = "spikes", readout_tau: float = 1.0,
                 **neuron: Any) -> list[LayerSpec]:
    """Descriptors from layer strings; every conv and dense layer is followed by LIF neurons.

    ``"<n>C<k>"``: ``n`` channels of ``k x k`` convolution, same padding. ``"AP<k>"``:
    ``k x k`` average pooling (followed by integrate-and-fire neurons with ``pool_tau`` and
    ``pool_threshold`` if ``pool_neurons``, else passed on as values). ``"<n>FC"``: dense.
    The output layer (``classes * voting`` dense LIF neurons, then a voting layer when
    ``voting > 1``) is appended. ``width_mult`` scales every hidden channel and feature count
    (at least 1). ``dropout`` follows each hidden LIF layer; ``neunorm`` puts a NeuNorm layer
    before every convolution that takes spikes, with its ``alpha`` per ``neunorm_alpha``
    (``"neuron"`` or ``"channel"``). ``readout="li"`` makes the output layer leaky
    integrators (decay ``readout_tau``; 1: they accumulate) instead of LIF neurons.
    ``neuron`` holds the LIF options
    (``reset``, ``surrogate``, ``width``, ``gradient``, ``spatial_adjust``,
    ``temporal_adjust``).
    """
    shape = [int(s) for s in input_shape]
    arch: list[LayerSpec] = []
    spiking_input = False

    def scaled(n: int) -> int:
        return max(1, int(round(n * width_mult)))

    def hidden_neurons() -> None:
        arch.append(_neuron(tau, threshold, neuron))
        if dropout > 0:
            arch.append({"type": "dropout", "p": float(dropout)})

    for position, text in enumerate(layers):
        conv, pool, dense = _CONV.match(text), _POOL.match(text), _DENSE.match(text)
        if conv or pool:
            if len(shape) == 1:
                raise ValueError(f"layer {text!r} (position {position}) needs an image input "
                                 f"[C, H, W]; the input is flat {shape}")
            if not arch:
                arch.append({"type": "reshape", "shape": list(shape)})
        if conv:
            channels, kernel = scaled(int(conv.group(1))), int(conv.group(2))
            if neunorm and spiking_input:
                arch.append({"type": "neunorm", "channels": shape[0], "height": shape[1],
                             "width": shape[2], "alpha": neunorm_alpha})
            arch.append({"type": "conv2d", "in_channels": shape[0], "out_channels": channels,
                         "kernel_size": kernel, "padding": kernel // 2, "bias": True})
            shape = [channels, shape[1], shape[2]]
            hidden_neurons()
            spiking_input = True
        elif pool:
            kernel = int(pool.group(1))
            arch.append({"type": "avgpool2d", "kernel_size": kernel})
            shape = [shape[0], shape[1] // kernel, shape[2] // kernel]
            if pool_neurons:
                arch.append(_neuron(pool_tau, pool_threshold, neuron))
            spiking_input = pool_neurons
        elif dense:
            features = scaled(int(dense.group(1)))
            if len(shape) == 3:
                arch.append({"type": "flatten"})
                shape = [shape[0] * shape[1] * shape[2]]
            arch.append({"type": "dense", "in_features": shape[0], "out_features": features,
                         "bias": True})
            shape = [features]
            hidden_neurons()
        else:
            raise ValueError(f"layer {text!r} (position {position}): not one of '<n>C<k>' "
                             f"(conv), 'AP<k>' (average pool), '<n>FC' (dense)")
    if len(shape) == 3:
        arch.append({"type": "flatten"})
        shape = [shape[0] * shape[1] * shape[2]]
    arch.append({"type": "dense", "in_features": shape[0], "out_features": classes * voting,
                 "bias": True})
    if readout not in READOUTS:
        raise ValueError(f"readout={readout!r}; allowed: {', '.join(READOUTS)}")
    arch.append(_neuron(tau, threshold, neuron) if readout == "spikes"
                else {"type": "li", "tau": float(readout_tau)})
    if voting > 1:
        arch.append({"type": "voting", "classes": classes, "group": voting})
    return arch


def mlp_architecture(sizes: list[int], *, tau: float, threshold: float,
                     **neuron: Any) -> list[LayerSpec]:
    """Descriptors of a dense-LIF MLP, e.g. ``sizes=[784, 128, 10]``."""
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least input and output sizes, got {sizes!r}")
    return architecture([sizes[0]], [f"{n}FC" for n in sizes[1:-1]], sizes[-1], tau=tau,
                        threshold=threshold, **neuron)
