"""Spiking networks described by a plain list of layer descriptors.

The descriptor list is what ``model.pt`` stores as its architecture, so a network can be
rebuilt without pickled classes::

    [{"type": "dense", "in_features": 784, "out_features": 128, "bias": True},
     {"type": "lif", "tau": 0.5, "threshold": 1.0, "reset": "zero",
      "surrogate": "rectangular", "width": 1.0},
     ...]

Layers run in multi-step mode on ``[T, B, features]`` tensors.
"""

from __future__ import annotations

from typing import Any

import torch

from .lif import LIF
from .qat import FixedPointSpec, fixed_point_forward

__all__ = ["SpikingNetwork", "mlp_architecture"]

LayerSpec = dict[str, Any]


def _build_layer(index: int, spec: LayerSpec) -> torch.nn.Module:
    kind = spec.get("type")
    if kind == "dense":
        return torch.nn.Linear(int(spec["in_features"]), int(spec["out_features"]),
                               bias=bool(spec.get("bias", True)))
    if kind == "lif":
        return LIF(tau=spec["tau"], threshold=spec["threshold"], reset=spec.get("reset", "zero"),
                   surrogate=spec.get("surrogate", "rectangular"), width=spec.get("width", 1.0))
    raise ValueError(f"layer {index}: unknown layer type {kind!r}; known: 'dense', 'lif'")


class SpikingNetwork(torch.nn.Module):
    """A feed-forward stack of layers built from descriptors; input and output ``[T, B, F]``."""

    def __init__(self, architecture: list[LayerSpec],
                 fixed_point: FixedPointSpec | None = None) -> None:
        super().__init__()
        self.architecture = [dict(spec) for spec in architecture]
        self.layers = torch.nn.ModuleList(_build_layer(i, s) for i, s in enumerate(architecture))
        self.fixed_point = fixed_point

    def forward(self, x: torch.Tensor, record: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Run all layers; if ``record`` is a list, the spikes of every LIF layer are appended.

        With a ``fixed_point`` spec, each dense -> LIF pair runs the quantized arithmetic
        (quantization-aware training, see ``snnhw.nn.qat``).
        """
        layers = list(self.layers)
        i = 0
        while i < len(layers):
            layer = layers[i]
            pair = (self.fixed_point is not None and isinstance(layer, torch.nn.Linear)
                    and i + 1 < len(layers) and isinstance(layers[i + 1], LIF))
            if pair:
                x = fixed_point_forward(layer, layers[i + 1], x, self.fixed_point)
                i += 2
            else:
                x = layer(x)
                i += 1
            if record is not None and (pair or isinstance(layer, LIF)):
                record.append(x)
        return x


def mlp_architecture(sizes: list[int], *, tau: float, threshold: float, reset: str = "zero",
                     surrogate: str = "rectangular", width: float = 1.0,
                     bias: bool = True) -> list[LayerSpec]:
    """Descriptors of a dense-LIF MLP, e.g. ``sizes=[784, 128, 10]``."""
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least input and output sizes, got {sizes!r}")
    arch: list[LayerSpec] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        arch.append({"type": "dense", "in_features": int(n_in), "out_features": int(n_out),
                     "bias": bias})
        arch.append({"type": "lif", "tau": float(tau), "threshold": float(threshold),
                     "reset": reset, "surrogate": surrogate, "width": float(width)})
    return arch
