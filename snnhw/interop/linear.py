"""Linear graph algebra on an imported NIR graph: the branches and runs of synapses that
are one linear map, rewritten as that map, so that the chain reader (:mod:`.nir_read`) sees
one synapse before each layer of neurons.

NIR sums the inputs of a node that several edges enter. Two rewrites, repeated until neither
applies:

* **parallel branches**: a node ``Y`` whose inputs are all linear branches from one node
  ``X`` (each an ``Affine``/``Linear`` or a ``Conv2d`` with one input and ``Y`` as its only
  output, or the edge ``X -> Y`` itself, the identity) becomes ``X -> M -> Y`` with ``M`` their
  sum: dense weights and biases added (the identity adds ``I``), convolutions of the same
  geometry likewise (the identity adds a centred unit kernel per channel, for stride 1 and a
  padding that keeps the map);
* **runs of dense synapses**: ``Affine``/``Linear`` ``A``, optionally a ``Scale`` ``S``, then
  ``Affine``/``Linear`` ``B``, each the only output of the one before, become one ``Affine``
  with ``W = W_B diag(s) W_A`` and ``b = W_B (s * b_A) + b_B``.

Both are exact in real arithmetic (float rounding aside); anything else that joins branches
(a spiking node on a branch, branches from different nodes, synapses of different kinds or
geometries) is refused in one line naming the node.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import SnnhwError

__all__ = ["collapse_linear"]


def _name(end: Any) -> str:
    return str(end).split(".")[0]


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _is_dense(node: Any) -> bool:
    import nir
    return isinstance(node, (nir.Affine, nir.Linear))


def _is_conv(node: Any) -> bool:
    import nir
    return isinstance(node, nir.Conv2d)


def _bias(node: Any) -> np.ndarray:
    import nir
    rows = _array(node.weight).shape[0]
    return _array(node.bias) if isinstance(node, (nir.Affine, nir.Conv2d)) else np.zeros(rows)


def _geometry(node: Any) -> tuple:
    """What two convolutions must share to be summed."""
    padding = node.padding if isinstance(node.padding, str) else \
        tuple(np.atleast_1d(node.padding).tolist())
    return (_array(node.weight).shape, tuple(np.atleast_1d(node.stride).tolist()), padding,
            tuple(np.atleast_1d(node.dilation).tolist()), int(node.groups))


def _keeps_map(node: Any) -> bool:
    """A convolution whose output map has its input's size: stride 1, padding k // 2."""
    kernel = _array(node.weight).shape[2]
    stride = set(np.atleast_1d(node.stride).tolist())
    padding = node.padding
    same = padding == "same" if isinstance(padding, str) else \
        set(np.atleast_1d(padding).tolist()) == {kernel // 2}
    return stride == {1} and kernel % 2 == 1 and same


def _sum(branches: list[Any], identity: bool, here: str) -> Any:
    """One node for the sum of ``branches`` (and the identity map when ``identity``)."""
    import nir

    first = branches[0]
    if all(_is_dense(b) for b in branches):
        weight = sum(_array(b.weight) for b in branches)
        bias = sum(_bias(b) for b in branches)
        if identity:
            if weight.shape[0] != weight.shape[1]:
                raise SnnhwError(f"{here}: sums a {list(weight.shape)} dense branch with the "
                                 f"identity; their shapes differ")
            weight = weight + np.eye(weight.shape[0])
        return nir.Affine(weight=weight, bias=bias)
    if all(_is_conv(b) for b in branches):
        if len({_geometry(b) for b in branches}) != 1:
            raise SnnhwError(f"{here}: sums convolutions of different kernels, strides or "
                             f"paddings; snnhw merges branches of one geometry")
        weight = sum(_array(b.weight) for b in branches)
        bias = sum(_bias(b) for b in branches)
        if identity:
            out_c, in_c, kernel, _ = weight.shape
            if out_c != in_c or not _keeps_map(first) or int(first.groups) != 1:
                raise SnnhwError(f"{here}: sums a convolution with the identity; snnhw does "
                                 f"so for stride 1, 'same' padding and as many output as "
                                 f"input channels")
            weight = weight.copy()
            weight[np.arange(out_c), np.arange(out_c), kernel // 2, kernel // 2] += 1.0
        return nir.Conv2d(input_shape=first.input_shape, weight=weight, stride=first.stride,
                          padding=first.padding, dilation=first.dilation, groups=first.groups,
                          bias=bias)
    kinds = sorted({type(b).__name__ for b in branches})
    raise SnnhwError(f"{here}: sums branches of {', '.join(kinds)}; snnhw merges parallel "
                     f"Affine/Linear or same-geometry Conv2d branches")


class _Graph:
    """Nodes and edges (node names only) being rewritten."""

    def __init__(self, graph: Any) -> None:
        self.nodes = dict(graph.nodes)
        self.edges = [(_name(a), _name(b)) for a, b, *_ in graph.edges]
        self.metadata = graph.metadata

    def preds(self, name: str) -> list[str]:
        return [a for a, b in self.edges if b == name]

    def succs(self, name: str) -> list[str]:
        return [b for a, b in self.edges if a == name]

    def fresh(self, base: str) -> str:
        name, k = base, 0
        while name in self.nodes:
            k += 1
            name = f"{base}_{k}"
        return name

    def has_cycle(self) -> bool:
        state: dict[str, int] = {}            # 1: on the path, 2: done

        def visit(name: str) -> bool:
            state[name] = 1
            for nxt in self.succs(name):
                if state.get(nxt) == 1 or (nxt not in state and visit(nxt)):
                    return True
            state[name] = 2
            return False
        return any(name not in state and visit(name) for name in self.nodes)

    def merge_parallel(self, where: str) -> bool:
        for join in list(self.nodes):
            preds = self.preds(join)
            if len(preds) < 2:
                continue
            here = (f"{where}: node {join!r} ({type(self.nodes[join]).__name__}) joins "
                    f"{len(preds)} branches")
            sources = set()
            branches, identity = [], False
            for p in preds:
                node = self.nodes[p]
                if (_is_dense(node) or _is_conv(node)) and len(self.preds(p)) == 1 \
                        and self.succs(p) == [join]:
                    sources.add(self.preds(p)[0])
                    branches.append(p)
                else:
                    sources.add(p)
                    identity = True
            if len(sources) != 1 or not branches or preds.count(next(iter(sources))) > 1:
                raise SnnhwError(f"{here}; snnhw merges only linear branches (Affine, Linear, "
                                 f"Conv2d, or the identity) leaving one node")
            source = sources.pop()
            merged = _sum([self.nodes[b] for b in branches], identity, here)
            name = self.fresh("+".join(branches) if len(branches) > 1 else f"{branches[0]}+id")
            self.edges = [(a, b) for a, b in self.edges
                          if a not in branches and b not in branches
                          and (a, b) != (source, join)]
            for b in branches:
                del self.nodes[b]
            self.nodes[name] = merged
            self.edges += [(source, name), (name, join)]
            return True
        return False

    def fold_runs(self) -> bool:
        import nir

        for first in list(self.nodes):
            a = self.nodes[first]
            if not _is_dense(a) or len(self.succs(first)) != 1:
                continue
            chain = [first]
            scale = None
            nxt = self.succs(first)[0]
            if isinstance(self.nodes[nxt], nir.Scale) and self.preds(nxt) == [first] \
                    and len(self.succs(nxt)) == 1:
                scale = _array(self.nodes[nxt].scale)
                chain.append(nxt)
                nxt = self.succs(nxt)[0]
            b = self.nodes[nxt]
            if not _is_dense(b) or self.preds(nxt) != [chain[-1]]:
                continue
            w_a, b_a = _array(a.weight), _bias(a)
            if scale is not None:
                s = np.broadcast_to(scale, (w_a.shape[0],)) if scale.ndim <= 1 else None
                if s is None:
                    continue
                w_a, b_a = w_a * s[:, None], b_a * s
            w_b = _array(b.weight)
            if w_b.shape[1] != w_a.shape[0]:
                continue       # the chain reader names the shape mismatch
            chain.append(nxt)
            name = self.fresh("*".join(chain))
            self.nodes[name] = nir.Affine(weight=w_b @ w_a, bias=w_b @ b_a + _bias(b))
            before, after = self.preds(first), self.succs(nxt)
            self.edges = [(x, y) for x, y in self.edges if x not in chain and y not in chain]
            self.edges += [(p, name) for p in before] + [(name, s) for s in after]
            for n in chain:
                del self.nodes[n]
            return True
        return False


def collapse_linear(graph: Any, where: str) -> Any:
    """``graph`` with its linear branches and runs of dense synapses rewritten as single
    synapses (see the module docstring); the graph itself when there are none."""
    import nir

    work = _Graph(graph)
    if work.has_cycle():          # recurrence: the chain reader names it
        return graph
    changed = False
    while work.merge_parallel(where) or work.fold_runs():
        changed = True
    if not changed:
        return graph
    return nir.NIRGraph(nodes=work.nodes, edges=work.edges, metadata=work.metadata,
                        type_check=False)
