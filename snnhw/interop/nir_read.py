"""Import, the other way into the flow: a NIR graph (HDF5, PyPI ``nir`` 1.0) -> the
architecture descriptors and float weights of an snnhw model (``snnhw.nn.network``).

The graph must be a chain from its Input node to its Output node once its linear branches
and runs of dense synapses are rewritten as single synapses (:mod:`.linear`). Nodes read:

* ``Affine``, ``Linear`` -> ``dense``; ``Conv2d`` (square kernel, equal strides, symmetric
  or ``same``/``valid`` padding, no dilation, no groups) -> ``conv2d``;
* ``AvgPool2d`` (stride = kernel, no padding) -> ``avgpool2d``; ``SumPool2d`` -> the same
  with ``k^2`` folded into the next synapse's weights (exact: a power of two for k = 2, 4);
* ``Flatten`` (all non-batch dimensions) -> ``flatten``; ``Scale`` after a synapse -> folded
  into its rows;
* ``LIF``, ``IF``, ``Threshold`` directly after a synapse -> ``lif``, with the exporter's
  discretisation (:mod:`snnhw.interop.conventions`): the per-neuron gain, leak current and
  threshold are folded into that synapse's weights and bias, so the layer keeps one decay
  and one threshold.
* ``LI`` directly after a dense synapse, as the last neurons of the graph -> ``li`` (a
  leaky-integrator readout), with the same discretisation: gain and leak current folded
  into the synapse, the membranes in the exporter's own units.

Anything else (CubaLIF, CubaLI, recurrence, delays, branches that are not linear, other
pooling) is refused in one line naming the node, its type and what is supported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import SnnhwError
from .conventions import CONVENTIONS, Convention
from .linear import collapse_linear

__all__ = ["ImportOptions", "NIR_NODES", "read_graph", "to_architecture"]

NIR_NODES = ("Input", "Output", "Affine", "Linear", "Conv2d", "AvgPool2d", "SumPool2d",
             "Flatten", "Scale", "LIF", "IF", "Threshold", "LI")
_SUPPORTED = ", ".join(NIR_NODES)
# parameters of one layer's neurons agree when they differ by no more than this (relative)
_UNIFORM_RTOL = 1e-6


@dataclass(frozen=True)
class ImportOptions:
    """How to read the graph's neurons: the exporter's ``convention`` (a key of
    ``CONVENTIONS``), the time step ``dt`` in seconds (``None``: the convention's, or the
    graph's own for files snnhw wrote) and the ``reset`` (``None``: the convention's)."""

    convention: str = "nir"
    dt: float | None = None
    reset: str | None = None


def read_graph(path: str | Path) -> Any:
    """The ``nir.NIRGraph`` in ``path``; :class:`SnnhwError` for a missing, corrupt or
    non-NIR file, or a NIR version this reader does not know."""
    import h5py
    import nir

    path = Path(path)
    if not path.is_file():
        raise SnnhwError(f"{path}: no such NIR file")
    try:
        with h5py.File(path, "r") as fh:
            version = fh["version"][()].decode() if "version" in fh else None
            has_node = "node" in fh
    except OSError as exc:
        raise SnnhwError(f"{path}: not a NIR file (not HDF5: {str(exc).splitlines()[0][:80]})"
                         ) from None
    if version is None or not has_node:
        raise SnnhwError(f"{path}: an HDF5 file but not a NIR graph (no 'version' and 'node')")
    if version.split(".")[0] != "1":
        raise SnnhwError(f"{path}: NIR version {version}; snnhw reads NIR 1.x files")
    try:
        graph = nir.read(path, type_check=False)   # snnhw checks shapes along the chain
    except Exception as exc:  # nir raises KeyError, ValueError, AssertionError for bad graphs
        raise SnnhwError(f"{path}: a NIR {version} file that nir cannot read "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''})"
                         ) from None
    if not isinstance(graph, nir.NIRGraph):
        raise SnnhwError(f"{path}: holds a single {type(graph).__name__} node, not a graph")
    return graph


def _chain(graph: Any, where: str) -> list[tuple[str, Any]]:
    """The nodes from the Input to the Output node, in order; refuses branches, cycles,
    several inputs and nodes off that path."""
    import nir

    inputs = [name for name, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise SnnhwError(f"{where}: {len(inputs)} Input nodes; snnhw imports graphs with one")
    successors: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for edge in graph.edges:
        source, target = (str(end).split(".")[0] for end in edge[:2])
        if source not in successors or target not in successors:
            raise SnnhwError(f"{where}: the edge {source!r} -> {target!r} names a node the "
                             f"graph does not have")
        successors[source].append(target)
    order, seen, name = [], set(), inputs[0]
    while True:
        if name in seen:
            raise SnnhwError(f"{where}: node {name!r} ({type(graph.nodes[name]).__name__}) is "
                             f"reached twice: the graph has a cycle (recurrence); snnhw builds "
                             f"feed-forward chains")
        seen.add(name)
        order.append((name, graph.nodes[name]))
        nexts = successors[name]
        back = [n for n in nexts if n in seen]
        if back:
            raise SnnhwError(f"{where}: node {name!r} ({type(graph.nodes[name]).__name__}) "
                             f"feeds {back[0]!r} before it: the graph has a cycle "
                             f"(recurrence); snnhw builds feed-forward chains")
        if isinstance(graph.nodes[name], nir.Output) or not nexts:
            break
        if len(nexts) > 1:
            raise SnnhwError(f"{where}: node {name!r} ({type(graph.nodes[name]).__name__}) "
                             f"feeds {len(nexts)} nodes ({', '.join(map(repr, nexts))}); "
                             f"snnhw imports chains, and branches that are linear (Affine, "
                             f"Linear, Conv2d) from one node into one node")
        name = nexts[0]
    if not isinstance(order[-1][1], nir.Output):
        raise SnnhwError(f"{where}: the chain from {inputs[0]!r} ends at {order[-1][0]!r} "
                         f"({type(order[-1][1]).__name__}) without an Output node")
    off = sorted(set(graph.nodes) - seen)
    if off:
        node = graph.nodes[off[0]]
        raise SnnhwError(f"{where}: node {off[0]!r} ({type(node).__name__}) is not on the "
                         f"chain from the input to the output (branches are not imported)")
    return order


def _pair(value: Any, what: str, where: str) -> int:
    """An int, or a pair of equal ints (snnhw's kernels, strides and paddings are square)."""
    items = np.atleast_1d(np.asarray(value)).astype(np.int64).tolist()
    if len(set(items)) != 1:
        raise SnnhwError(f"{where}: {what}={items}; snnhw needs the same value in both "
                         f"dimensions")
    return int(items[0])


def _array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


class _Network:
    """The architecture being read: descriptors, float64 weights per layer index, the
    shape of the values flowing between nodes (``(F,)`` or ``(C, H, W)``), whether the
    network already carries them as a map, the synapse that waits for its neurons, and the
    sum-pool factor waiting for the next synapse."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.arch: list[dict[str, Any]] = []
        self.weights: dict[int, np.ndarray] = {}
        self.biases: dict[int, np.ndarray | None] = {}
        self.shape: tuple[int, ...] = ()
        self.as_map = False
        self.open_synapse: int | None = None
        self.pool_gain = 1.0
        self.readout: str | None = None     # the LI node's name: the last neurons

    def synapse(self, spec: dict[str, Any], weight: np.ndarray, bias: np.ndarray | None,
                node: str) -> None:
        if self.open_synapse is not None:
            raise SnnhwError(f"{self.where}: node {node!r} ({spec['type']}) follows a synapse "
                             f"without neurons in between; snnhw needs LIF, IF or Threshold "
                             f"neurons after every synapse")
        index = len(self.arch)
        self.arch.append(spec)
        self.weights[index] = weight * self.pool_gain
        self.biases[index] = bias
        self.pool_gain = 1.0
        self.open_synapse = index

    def carry_map(self) -> None:
        """From here on the values flow as ``[C, H, W]`` maps: a map shape not carried as one
        yet can only be the graph's input, which a ``reshape`` layer unflattens."""
        if not self.as_map:
            self.arch.append({"type": "reshape", "shape": list(self.shape)})
            self.as_map = True


def to_architecture(graph: Any, where: str, options: ImportOptions = ImportOptions()
                    ) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor], int, int]:
    """The chain of ``graph`` as ``(architecture, state_dict, input features, output
    neurons)``; :class:`SnnhwError` names the node that cannot be imported."""
    import nir

    if options.convention not in CONVENTIONS:
        raise SnnhwError(f"--from {options.convention!r}: allowed: {', '.join(CONVENTIONS)}")
    convention = CONVENTIONS[options.convention]
    dt = options.dt
    if dt is None and options.convention == "snnhw":
        dt = (graph.metadata or {}).get("dt") if isinstance(graph.metadata, dict) else None
    if dt is None:
        dt = convention.dt
    if dt is not None and not (math.isfinite(float(dt)) and float(dt) > 0):
        raise SnnhwError(f"--dt {dt}: a time step > 0 (seconds) is required")
    net = _Network(where)
    for name, node in _chain(collapse_linear(graph, where), where):
        here = f"{where}: node {name!r} ({type(node).__name__})"
        if isinstance(node, nir.Input):
            net.shape = _input_shape(node)
            if len(net.shape) not in (1, 3) or min(net.shape) < 1:
                raise SnnhwError(f"{here}: input shape {list(net.shape)}; snnhw takes [F] or "
                                 f"[C, H, W]")
            features = int(np.prod(net.shape))
        elif isinstance(node, nir.Output):
            break
        elif net.readout is not None:
            raise SnnhwError(f"{here}: follows the LI readout {net.readout!r}; an LI "
                             f"readout must be the last node before the Output")
        elif isinstance(node, (nir.Affine, nir.Linear)):
            _dense(net, node, name, here)
        elif isinstance(node, nir.Conv2d):
            _conv(net, node, name, here)
        elif isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
            _pool(net, node, here)
        elif isinstance(node, nir.Flatten):
            _flatten(net, node, here)
        elif isinstance(node, nir.Scale):
            if net.open_synapse is None:
                raise SnnhwError(f"{here}: a Scale is read only directly after a synapse "
                                 f"(folded into its weights)")
            _scale_rows(net, _array(node.scale), here)
        elif isinstance(node, (nir.LIF, nir.IF, nir.Threshold)):
            _neurons(net, node, here, convention, dt, options.reset or convention.reset)
        elif isinstance(node, nir.LI):
            _readout(net, node, here, convention, dt)
            net.readout = name
        else:
            raise SnnhwError(f"{here}: not importable; snnhw reads {_SUPPORTED} (in a chain)")
    if net.open_synapse is not None:
        raise SnnhwError(f"{where}: the graph ends with a synapse without neurons; snnhw "
                         f"builds networks whose output layer spikes or is an LI readout")
    if not any(spec["type"] in ("lif", "li") for spec in net.arch):
        raise SnnhwError(f"{where}: no neuron layer (LIF, IF, Threshold or LI) in the graph")
    state = {}
    for index, weight in net.weights.items():
        state[f"layers.{index}.weight"] = torch.tensor(weight, dtype=torch.float32)
        bias = net.biases[index]
        if bias is not None:
            state[f"layers.{index}.bias"] = torch.tensor(bias, dtype=torch.float32)
        net.arch[index]["bias"] = bias is not None
    return net.arch, state, features, int(np.prod(net.shape))


def _input_shape(node: Any) -> tuple[int, ...]:
    """The Input node's shape as ``[F]`` or ``[C, H, W]``: a leading 1 of ``[1, F]`` or
    ``[1, C, H, W]`` is the batch of the exporter's sample (Norse keeps it), and ``[H, W]``
    is one channel."""
    shape = tuple(int(s) for s in np.atleast_1d(node.input_type["input"]))
    if len(shape) in (2, 4) and shape[0] == 1:
        shape = shape[1:]
    return (1, *shape) if len(shape) == 2 else shape


def _dense(net: _Network, node: Any, name: str, here: str) -> None:
    import nir

    weight = _array(node.weight)
    if weight.ndim != 2:
        raise SnnhwError(f"{here}: weight of shape {list(weight.shape)}; [out, in] expected")
    features = int(np.prod(net.shape))
    if len(net.shape) != 1:
        raise SnnhwError(f"{here}: takes a {list(net.shape)} map; a Flatten node must come "
                         f"before a dense layer")
    if weight.shape[1] != features:
        raise SnnhwError(f"{here}: weight takes {weight.shape[1]} inputs, the node before "
                         f"gives {features}")
    bias = _array(node.bias) if isinstance(node, nir.Affine) else None
    if bias is not None and bias.shape != (weight.shape[0],):
        raise SnnhwError(f"{here}: bias of shape {list(bias.shape)}; [{weight.shape[0]}] "
                         f"expected")
    net.synapse({"type": "dense", "in_features": features, "out_features": weight.shape[0]},
                weight, bias, name)
    net.shape = (weight.shape[0],)


def _conv(net: _Network, node: Any, name: str, here: str) -> None:
    weight = _array(node.weight)
    if weight.ndim != 4 or weight.shape[2] != weight.shape[3]:
        raise SnnhwError(f"{here}: weight of shape {list(weight.shape)}; snnhw needs square "
                         f"kernels [C_out, C_in, k, k]")
    if len(net.shape) != 3:
        raise SnnhwError(f"{here}: takes flat features {list(net.shape)}; a convolution needs "
                         f"a [C, H, W] input")
    if _pair(node.dilation, "dilation", here) != 1 or int(node.groups) != 1:
        raise SnnhwError(f"{here}: dilation {np.asarray(node.dilation).tolist()}, groups "
                         f"{node.groups}; snnhw builds dilation 1, groups 1")
    kernel, stride = weight.shape[2], _pair(node.stride, "stride", here)
    if isinstance(node.padding, str):
        if node.padding == "same" and (stride != 1 or kernel % 2 == 0):
            raise SnnhwError(f"{here}: padding 'same' with stride {stride} and kernel "
                             f"{kernel}; snnhw reads 'same' for stride 1 and odd kernels")
        padding = kernel // 2 if node.padding == "same" else 0
    else:
        padding = _pair(node.padding, "padding", here)
    channels, height, width = net.shape
    if weight.shape[1] != channels:
        raise SnnhwError(f"{here}: weight takes {weight.shape[1]} channels, the node before "
                         f"gives {channels}")
    net.carry_map()
    bias = _array(node.bias)
    if bias.shape != (weight.shape[0],):
        raise SnnhwError(f"{here}: bias of shape {list(bias.shape)}; [{weight.shape[0]}] "
                         f"expected (one per output channel)")
    net.synapse({"type": "conv2d", "in_channels": channels, "out_channels": weight.shape[0],
                 "kernel_size": kernel, "stride": stride, "padding": padding}, weight,
                bias if np.any(bias != 0) else None, name)
    net.shape = (weight.shape[0], (height + 2 * padding - kernel) // stride + 1,
                 (width + 2 * padding - kernel) // stride + 1)


def _pool(net: _Network, node: Any, here: str) -> None:
    import nir

    kernel = _pair(node.kernel_size, "kernel_size", here)
    stride = _pair(node.stride if node.stride is not None else kernel, "stride", here)
    if stride != kernel or _pair(node.padding, "padding", here) != 0:
        raise SnnhwError(f"{here}: stride {stride}, padding "
                         f"{np.asarray(node.padding).tolist()}; snnhw pools k x k with stride "
                         f"k and no padding")
    if len(net.shape) != 3:
        raise SnnhwError(f"{here}: pooling needs a [C, H, W] map, the node before gives "
                         f"{list(net.shape)}")
    if net.open_synapse is not None:
        raise SnnhwError(f"{here}: pools the currents of a synapse; snnhw pools the spikes "
                         f"of neurons (put the pooling after the LIF/IF layer)")
    net.carry_map()
    net.arch.append({"type": "avgpool2d", "kernel_size": kernel})
    if isinstance(node, nir.SumPool2d):
        net.pool_gain *= kernel * kernel
    channels, height, width = net.shape
    net.shape = (channels, height // kernel, width // kernel)


def _flatten(net: _Network, node: Any, here: str) -> None:
    dims = len(net.shape)
    start, end = int(node.start_dim), int(node.end_dim)
    if start % dims != 0 or end % dims != dims - 1:
        raise SnnhwError(f"{here}: start_dim {start}, end_dim {end} of a {list(net.shape)} "
                         f"input; snnhw flattens all non-batch dimensions")
    if net.open_synapse is not None:
        raise SnnhwError(f"{here}: flattens the currents of a synapse; put it after the "
                         f"neurons")
    if net.as_map:
        net.arch.append({"type": "flatten"})
        net.as_map = False
    net.shape = (int(np.prod(net.shape)),)


def _per_output(net: _Network, values: np.ndarray, what: str, here: str) -> np.ndarray:
    """A neuron parameter as one value per row of the open synapse: per feature of a dense
    layer, per channel of a convolution (where it must be the same over the map)."""
    shape = net.shape
    try:
        full = np.broadcast_to(values, shape) if values.ndim else np.full(shape, float(values))
    except ValueError:
        raise SnnhwError(f"{here}: {what} of shape {list(values.shape)} does not match the "
                         f"layer's {list(shape)} neurons") from None
    if len(shape) == 1:
        return np.array(full, dtype=np.float64)
    flat = full.reshape(shape[0], -1)
    if not np.allclose(flat, flat[:, :1], rtol=_UNIFORM_RTOL, atol=0):
        raise SnnhwError(f"{here}: {what} varies over the positions of a channel; snnhw "
                         f"shares neuron parameters per channel of a convolution")
    return np.array(flat[:, 0], dtype=np.float64)


def _scale_rows(net: _Network, scale: np.ndarray, here: str) -> None:
    rows = _per_output(net, scale, "scale", here)
    index = net.open_synapse
    assert index is not None
    weight = net.weights[index]
    net.weights[index] = weight * rows.reshape((-1,) + (1,) * (weight.ndim - 1))
    if net.biases[index] is not None:
        net.biases[index] = net.biases[index] * rows


def _decay(net: _Network, node: Any, here: str, convention: Convention, dt: float | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(beta, gain, leak_current)`` per neuron of a LIF or LI node, the exporter's
    discretisation of its ``tau``, ``r`` and ``v_leak``."""
    if dt is None and convention.discretisation != "exp":
        raise SnnhwError(f"{here}: a NIR file carries no time step: pass --dt (seconds), "
                         f"or --from snntorch|norse|sinabs for that exporter's own")
    tau = _per_output(net, _array(node.tau), "tau", here)
    if not np.all(tau > 0):
        raise SnnhwError(f"{here}: tau {tau.min():g}; time constants > 0 are required")
    return convention.lif(tau, _per_output(net, _array(node.r), "r", here),
                          _per_output(net, _array(node.v_leak), "v_leak", here), dt)


def _uniform_decay(beta: np.ndarray, here: str, dt: float | None) -> float:
    """The layer's one decay per step, in [0, 1]."""
    decay = float(beta.mean())
    if not np.allclose(beta, decay, rtol=_UNIFORM_RTOL, atol=1e-12):
        raise SnnhwError(f"{here}: the decay differs between neurons ({beta.min():g} .. "
                         f"{beta.max():g}); snnhw gives one decay to a layer")
    if not 0.0 <= decay <= 1.0 + 1e-12:
        raise SnnhwError(f"{here}: decay {decay:g} per step (tau against dt = {dt}); snnhw "
                         f"needs 0 <= decay <= 1 (tau >= dt)")
    return min(decay, 1.0)


def _fold_rows(net: _Network, rows: np.ndarray, offset: np.ndarray) -> None:
    """The open synapse's output ``y`` becomes ``rows * y + offset`` (per output row)."""
    index = net.open_synapse
    assert index is not None
    weight, bias = net.weights[index], net.biases[index]
    net.weights[index] = weight * rows.reshape((-1,) + (1,) * (weight.ndim - 1))
    if bias is not None or np.any(offset != 0):
        base = bias if bias is not None else np.zeros_like(rows)
        net.biases[index] = rows * base + offset
    net.open_synapse = None


def _readout(net: _Network, node: Any, here: str, convention: Convention,
             dt: float | None) -> None:
    """An LI node: a leaky-integrator readout after a dense synapse, ``u = beta u + gain I +
    leak_current`` in the exporter's units."""
    if net.open_synapse is None or net.arch[net.open_synapse]["type"] != "dense":
        raise SnnhwError(f"{here}: an LI readout must follow a dense synapse (Affine or "
                         f"Linear); snnhw builds leaky-integrator readouts of dense layers")
    beta, gain, leak = _decay(net, node, here, convention, dt)
    decay = _uniform_decay(beta, here, dt)
    _fold_rows(net, gain, leak)
    net.arch.append({"type": "li", "tau": decay})


def _neurons(net: _Network, node: Any, here: str, convention: Convention, dt: float | None,
             reset: str) -> None:
    import nir

    if net.open_synapse is None:
        raise SnnhwError(f"{here}: neurons must follow a synapse (Affine, Linear or Conv2d)")
    if reset not in ("zero", "subtract"):
        raise SnnhwError(f"--reset {reset!r}: allowed: zero, subtract")
    if isinstance(node, nir.LIF):
        beta, gain, leak = _decay(net, node, here, convention, dt)
        threshold = _per_output(net, _array(node.v_threshold), "v_threshold", here)
        v_reset = _per_output(net, _array(node.v_reset), "v_reset", here)
    elif isinstance(node, nir.IF):
        gain = _per_output(net, _array(node.r), "r", here)
        beta, leak = np.ones_like(gain), np.zeros_like(gain)
        threshold = _per_output(net, _array(node.v_threshold), "v_threshold", here)
        v_reset = _per_output(net, _array(node.v_reset), "v_reset", here)
    else:   # Threshold: fires where the input exceeds the threshold, keeps nothing
        threshold = _per_output(net, _array(node.threshold), "threshold", here)
        gain, beta = np.ones_like(threshold), np.zeros_like(threshold)
        leak, v_reset = np.zeros_like(threshold), np.zeros_like(threshold)
    decay = _uniform_decay(beta, here, dt)
    if not np.all(threshold > 0):
        raise SnnhwError(f"{here}: v_threshold {threshold.min():g}; thresholds > 0 are "
                         f"required")
    if reset == "zero" and np.any(v_reset != 0):
        raise SnnhwError(f"{here}: v_reset {v_reset[v_reset != 0][0]:g}; snnhw resets to 0")
    if reset == "subtract" and not convention.subtract_before_leak and decay != 1.0:
        raise SnnhwError(f"{here}: {convention.name} subtracts the threshold after the leak "
                         f"(u = beta u + I - threshold); snnhw's subtraction reset leaks it "
                         f"(u = beta (u - threshold) + I): use --reset zero, or IF neurons")
    common = float(threshold[0]) if np.all(threshold == threshold[0]) else 1.0
    # u / s with s = threshold / common keeps every spike: rows scaled by gain / s
    _fold_rows(net, gain * common / threshold, leak * common / threshold)
    net.arch.append({"type": "lif", "tau": decay, "threshold": common, "reset": reset})
