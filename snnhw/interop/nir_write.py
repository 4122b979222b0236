"""Export: an snnhw ``model.pt`` -> a NIR graph that other frameworks load (``snnhw export``).

Layers map to ``Affine``/``Linear``, ``Conv2d``, ``AvgPool2d``, ``Flatten`` and, for the
neurons, ``IF`` (``tau = 1``) or ``LIF`` written in NIR's continuous time at the step ``dt``
(default 1e-4 s, the step snnTorch's importer assumes): ``tau_nir = dt / (1 - beta)``,
``r = 1``, ``v_leak = 0``, ``v_reset = 0``. With ``r = 1`` the NIR equations scale the input
by ``dt / tau_nir = 1 - beta``, so the synapse before is written ``1 / (1 - beta)`` times
larger: that is exact in NIR's terms and is what Norse (which ignores ``r``) runs; snnTorch
reads ``r dt / tau`` as an input scale and divides its threshold by it (with a warning), the
same neuron again. A last ``li`` readout is written as ``LI`` the same way (``tau_nir = dt /
(1 - beta)``, ``r = 1``, ``v_leak = 0``; no leak has no LI form). Load in Norse with ``norse.torch.from_nir(graph, dt=<the dt written>)``;
the graph's metadata records ``dt``.

Average pooling is written as ``AvgPool2d`` (snnTorch's importer reads it) or, with
``pool="sum"``, as ``SumPool2d`` and ``1/k^2`` in the next synapse (Norse and Sinabs import
only that). NIR neurons reset to ``v_reset``; a model with subtraction reset, a voting readout or
NeuNorm has no NIR form and is refused naming the layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import SnnhwError, __version__
from ..files import atomic_path

__all__ = ["DEFAULT_DT", "POOLS", "to_graph", "write_nir"]

DEFAULT_DT = 1e-4
POOLS = ("avg", "sum")


@dataclass(frozen=True)
class _Synapse:
    """A dense or conv layer waiting for its neurons (whose decay scales its weights);
    ``spatial`` is a convolution's input ``(H, W)``, ``None`` for a dense layer."""

    name: str
    weight: np.ndarray
    bias: np.ndarray | None
    spatial: tuple[int, int] | None = None
    stride: int = 1
    padding: int = 0


def to_graph(model: dict[str, Any], dt: float = DEFAULT_DT, pool: str = "avg",
             where: str = "model.pt") -> Any:
    """The ``nir.NIRGraph`` of a loaded ``model.pt`` payload; average pooling as
    ``AvgPool2d`` (``pool="avg"``: snnTorch reads it) or as ``SumPool2d`` with its ``1/k^2``
    in the next synapse's weights (``pool="sum"``: Norse and Sinabs read only that)."""
    import nir

    if not (math.isfinite(dt) and dt > 0):
        raise SnnhwError(f"--dt {dt}: a time step > 0 (seconds) is required")
    if pool not in POOLS:
        raise SnnhwError(f"--pool {pool!r}: allowed: {', '.join(POOLS)}")
    arch, state = model["architecture"], model["state_dict"]
    features = int(model["dataset"].get("features") or 0)
    first = arch[0]
    if first["type"] == "reshape":
        shape: tuple[int, ...] = tuple(int(s) for s in first["shape"])
    elif first["type"] == "dense":
        shape = (int(first["in_features"]),)
    else:
        shape = (features,)
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(shape)})}
    order = ["input"]
    pending: _Synapse | None = None
    pooled = 1.0            # 1/k^2 of a sum pool, for the weights of the next synapse

    def add(name: str, node: Any) -> None:
        nodes[name] = node
        order.append(name)

    def array_of(key: str) -> np.ndarray | None:
        return state[key].detach().cpu().numpy().astype(np.float32) if key in state else None

    for index, spec in enumerate(arch):
        kind, name = spec["type"], f"{spec['type']}{index}"
        here = f"{where}: layer {index} ({kind})"
        if kind == "reshape":
            if index:
                raise SnnhwError(f"{here}: a reshape inside the network has no NIR form")
        elif kind == "dropout":
            continue
        elif kind in ("dense", "conv2d"):
            weight, bias = array_of(f"layers.{index}.weight"), array_of(f"layers.{index}.bias")
            weight, pooled = weight * np.float32(pooled), 1.0
            if kind == "dense":
                pending = _Synapse(name, weight, bias)
                shape = (int(spec["out_features"]),)
            else:
                k, s, p = (int(spec["kernel_size"]), int(spec.get("stride", 1)),
                           int(spec.get("padding", 0)))
                pending = _Synapse(name, weight, bias, (shape[1], shape[2]), s, p)
                shape = (int(spec["out_channels"]), (shape[1] + 2 * p - k) // s + 1,
                         (shape[2] + 2 * p - k) // s + 1)
        elif kind == "lif":
            if pending is None:
                raise SnnhwError(f"{here}: neurons without a synapse before them")
            if spec.get("reset", "zero") != "zero":
                raise SnnhwError(f"{here}: reset={spec['reset']!r}; NIR neurons reset to "
                                 f"v_reset, so only reset='zero' models can be exported")
            beta, threshold = float(spec["tau"]), float(spec["threshold"])
            gain = 1.0 if beta >= 1.0 else 1.0 / (1.0 - beta)
            _add_synapse(add, pending, gain)
            ones = np.ones(shape, dtype=np.float32)
            if beta >= 1.0:
                neuron = nir.IF(r=ones, v_threshold=threshold * ones, v_reset=0 * ones)
            else:
                neuron = nir.LIF(tau=(dt / (1.0 - beta)) * ones, r=ones, v_leak=0 * ones,
                                 v_threshold=threshold * ones, v_reset=0 * ones)
            add(f"lif{index}", neuron)
            pending = None
        elif kind == "li":
            if pending is None:
                raise SnnhwError(f"{here}: a readout without a synapse before it")
            beta = float(spec["tau"])
            if beta >= 1.0:
                raise SnnhwError(f"{here}: an li readout without leak (tau=1) has no NIR LI "
                                 f"form (its time constant would be infinite)")
            _add_synapse(add, pending, 1.0 / (1.0 - beta))
            ones = np.ones(shape, dtype=np.float32)
            add(f"li{index}", nir.LI(tau=(dt / (1.0 - beta)) * ones, r=ones, v_leak=0 * ones))
            pending = None
        elif kind == "avgpool2d":
            k = int(spec["kernel_size"])
            kind_of_pool = nir.AvgPool2d if pool == "avg" else nir.SumPool2d
            add(name, kind_of_pool(kernel_size=np.array([k, k]), stride=np.array([k, k]),
                                   padding=np.array([0, 0])))
            pooled = pooled if pool == "avg" else pooled / (k * k)
            shape = (shape[0], shape[1] // k, shape[2] // k)
        elif kind == "flatten":
            add(name, nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0,
                                  end_dim=-1))
            shape = (int(np.prod(shape)),)
        else:
            raise SnnhwError(f"{here}: has no NIR form; exportable layers: dense, conv2d, "
                             f"avgpool2d, flatten, dropout (dropped), lif with reset 'zero', "
                             f"a last li readout with leak")
    add("output", nir.Output(output_type={"output": np.array(shape)}))
    edges = list(zip(order[:-1], order[1:]))
    return nir.NIRGraph(nodes=nodes, edges=edges,
                        metadata={"exporter": "snnhw", "snnhw_version": __version__, "dt": dt})


def _add_synapse(add: Any, synapse: _Synapse, gain: float) -> None:
    """The synapse as its NIR node, weights and bias times ``gain``."""
    import nir

    weight = (synapse.weight * gain).astype(np.float32)
    bias = None if synapse.bias is None else (synapse.bias * gain).astype(np.float32)
    if synapse.spatial is None:
        add(synapse.name, nir.Affine(weight=weight, bias=bias) if bias is not None
            else nir.Linear(weight=weight))
        return
    add(synapse.name, nir.Conv2d(
        input_shape=synapse.spatial, weight=weight, stride=(synapse.stride, synapse.stride),
        padding=(synapse.padding, synapse.padding), dilation=(1, 1), groups=1,
        bias=bias if bias is not None else np.zeros(weight.shape[0], dtype=np.float32)))


def write_nir(model: dict[str, Any], path: str | Path, dt: float = DEFAULT_DT,
              pool: str = "avg", where: str = "model.pt") -> Path:
    """Write the model's NIR graph to ``path`` whole (a temporary file renamed into place);
    an existing file is never replaced."""
    import nir

    path = Path(path)
    if path.exists():
        raise SnnhwError(f"{path}: exists; snnhw export never replaces a file (choose another "
                         f"--nir path or remove it)")
    graph = to_graph(model, dt, pool, where)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return path
