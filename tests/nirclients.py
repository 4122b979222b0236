"""The NIR clients of the tests: small MLPs and convolutional networks built, trained for a
few steps and exported by snnTorch, Sinabs and Norse themselves, run by their own forward
passes; and snnhw's exports loaded back into snnTorch and Norse.

Each client's ``build(kind)`` makes a network (``kind``: ``"mlp"`` or ``"cnn"``) for
``[T, B, 784]`` MNIST spikes, ``spikes(net, x)`` runs it and returns every neuron layer's
spikes ``[T, B, N]``, and ``export(net, path)`` writes its NIR file with that framework's
exporter (and the workarounds docs/nir.md lists for it).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import nir
import numpy as np
import torch

BATCH = 64
CLASSES = 10


def train_steps(client, net, x: torch.Tensor, labels: torch.Tensor, steps: int = 12) -> None:
    """A few Adam steps on the spike count of the output layer (cross-entropy), through the
    framework's own surrogate gradients: enough to leave the random initialisation."""
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    for step in range(steps):
        batch = slice((step * BATCH) % (x.shape[1] - BATCH), None)
        counts = client.spikes(net, x[:, batch][:, :BATCH])[-1].sum(0)
        loss = torch.nn.functional.cross_entropy(counts, labels[batch][:BATCH])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def _images(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], x.shape[1], 1, 28, 28)


def _set_map_shapes(graph: nir.NIRGraph, layers: list[torch.nn.Module]) -> None:
    """Give every Conv2d node its spatial ``input_shape`` and every Flatten its
    ``input_type`` (from a 1 x 28 x 28 input), which Sinabs and Norse leave unset beyond the
    first layer and ``nir.write`` needs; the nodes are named by their index in the
    ``Sequential``."""
    channels, size = 1, 28
    for index, module in enumerate(layers):
        node = graph.nodes.get(str(index))
        if isinstance(module, torch.nn.Conv2d):
            node.input_shape = np.array([size, size])
            channels = module.out_channels
            size = (size + 2 * module.padding[0] - module.kernel_size[0]) // module.stride[0] + 1
        elif hasattr(module, "kernel_size"):        # pooling
            k = module.kernel_size
            size //= k if isinstance(k, int) else k[0]
        elif isinstance(node, nir.Flatten):
            node.input_type = {"input": np.array([channels, size, size])}


class SnnTorch:
    """snnTorch 1.0: ``Leaky`` neurons with reset to zero (the reset its NIR export implies),
    per-neuron ``beta`` and ``threshold`` (scalars give LIF nodes of shape ``[]``, which
    its exporter's type inference rejects)."""

    name = "snntorch"
    pool = "avg"

    def build(self, kind: str) -> torch.nn.Module:
        import snntorch as snn

        def leaky(shape, beta, threshold):
            return snn.Leaky(beta=torch.full(shape, beta), threshold=torch.full(shape, threshold),
                             init_hidden=True, reset_mechanism="zero")

        torch.manual_seed(1)
        if kind == "mlp":
            return torch.nn.Sequential(torch.nn.Linear(784, 48), leaky((48,), 0.8, 0.5),
                                       torch.nn.Linear(48, CLASSES), leaky((CLASSES,), 0.9, 0.5))
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 5, stride=2, padding=2), leaky((4, 14, 14), 0.8, 0.3),
            torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 7 * 7, CLASSES),
            leaky((CLASSES,), 0.9, 0.3))

    def spikes(self, net: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
        import snntorch as snn
        import snntorch.utils

        snntorch.utils.reset(net)
        inputs = x if isinstance(net[0], torch.nn.Linear) else _images(x)
        neurons = [m for m in net if isinstance(m, snn.Leaky)]
        out: list[list[torch.Tensor]] = [[] for _ in neurons]
        for t in range(x.shape[0]):
            h = inputs[t]
            for module in net:
                h = module(h)
                if module in neurons:
                    out[neurons.index(module)].append(h.reshape(h.shape[0], -1))
        return [torch.stack(o) for o in out]

    def export(self, net: torch.nn.Module, path: Path) -> None:
        from snntorch.export_nir import export_to_nir

        if isinstance(net[0], torch.nn.Linear):
            graph = export_to_nir(net, torch.zeros(784))
        else:       # a batched sample, its batch dimension named to be ignored
            graph = export_to_nir(net, torch.zeros(1, 1, 28, 28), ignore_dims=[0])
        nir.write(path, graph)


class Sinabs:
    """Sinabs 3.1: ``IAFSqueeze`` and ``LIFSqueeze`` (``[B*T, ...]`` tensors) with single
    spikes (its default ``MultiSpike`` is not a binary spike) and its default subtraction
    reset, sum pooling. Its exporter writes the LIF layer's parameters as scalars, which
    ``nir.write`` stores only without compression."""

    name = "sinabs"
    pool = "sum"

    def build(self, kind: str) -> torch.nn.Module:
        import sinabs.layers as sl
        from sinabs.activation import SingleSpike

        torch.manual_seed(2)
        if kind == "mlp":
            return torch.nn.Sequential(
                torch.nn.Linear(784, 48),
                sl.IAFSqueeze(batch_size=BATCH, spike_fn=SingleSpike, spike_threshold=0.5),
                torch.nn.Linear(48, CLASSES),
                sl.LIFSqueeze(tau_mem=10.0, batch_size=BATCH, spike_fn=SingleSpike,
                              spike_threshold=0.1))
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 5, stride=2, padding=2),
            sl.IAFSqueeze(batch_size=BATCH, spike_fn=SingleSpike, spike_threshold=0.5),
            sl.SumPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 7 * 7, CLASSES),
            sl.LIFSqueeze(tau_mem=10.0, batch_size=BATCH, spike_fn=SingleSpike,
                          spike_threshold=0.1))

    def spikes(self, net: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
        import sinabs.layers as sl

        steps, batch = x.shape[:2]
        for module in net:
            if hasattr(module, "reset_states"):
                module.reset_states()
        h = x.permute(1, 0, 2).reshape(batch * steps, 784)
        if not isinstance(net[0], torch.nn.Linear):
            h = h.reshape(batch * steps, 1, 28, 28)
        out = []
        for module in net:
            h = module(h)
            if isinstance(module, (sl.IAFSqueeze, sl.LIFSqueeze)):
                out.append(h.reshape(batch, steps, -1).permute(1, 0, 2))
        return out

    def export(self, net: torch.nn.Module, path: Path) -> None:
        import sinabs

        sample = torch.zeros(BATCH, 784) if isinstance(net[0], torch.nn.Linear) else \
            torch.zeros(BATCH, 1, 28, 28)
        with torch.no_grad():
            net(sample)          # the layers' state shapes, which its exporter reads
        graph = sinabs.to_nir(net, sample)
        _set_map_shapes(graph, list(net))
        nir.write(path, graph, compression=None)


class Norse:
    """Norse 1.1: ``LIFBoxCell`` neurons (no synaptic current). Its exporter writes no
    node for pooling or Flatten, so its convolutional net is strided convolutions with a
    last convolution over the whole map as the classifier; it leaves later convolutions'
    ``input_shape`` unset (``nir.write`` needs it) and writes scalars uncompressed only."""

    name = "norse"
    pool = "sum"

    def build(self, kind: str) -> torch.nn.Module:
        import norse.torch as nt

        torch.manual_seed(3)
        hidden = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(200.0), v_th=torch.tensor(0.1))
        out = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(100.0),
                                  v_th=torch.tensor(0.05 if kind == "mlp" else 0.01))
        if kind == "mlp":
            return nt.SequentialState(torch.nn.Linear(784, 48), nt.LIFBoxCell(hidden),
                                      torch.nn.Linear(48, CLASSES), nt.LIFBoxCell(out))
        return nt.SequentialState(
            torch.nn.Conv2d(1, 4, 5, stride=2, padding=2), nt.LIFBoxCell(hidden),
            torch.nn.Conv2d(4, 8, 5, stride=2, padding=2), nt.LIFBoxCell(hidden),
            torch.nn.Conv2d(8, CLASSES, 7), nt.LIFBoxCell(out))

    def spikes(self, net: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
        import norse.torch as nt

        layers = list(net)
        inputs = x if isinstance(layers[0], torch.nn.Linear) else _images(x)
        states: list = [None] * len(layers)
        neurons = [i for i, m in enumerate(layers) if isinstance(m, nt.LIFBoxCell)]
        out: list[list[torch.Tensor]] = [[] for _ in neurons]
        for t in range(x.shape[0]):
            h = inputs[t]
            for i, module in enumerate(layers):
                if i in neurons:
                    h, states[i] = module(h, states[i])
                    out[neurons.index(i)].append(h.reshape(h.shape[0], -1))
                else:
                    h = module(h)
        return [torch.stack(o) for o in out]

    def export(self, net: torch.nn.Module, path: Path) -> None:
        import norse.torch as nt

        layers = list(net)
        flat = isinstance(layers[0], torch.nn.Linear)
        graph = nt.to_nir(net, torch.zeros(784) if flat else torch.zeros(1, 28, 28))
        _set_map_shapes(graph, layers)
        nir.write(path, graph, compression=None)


CLIENTS = {c.name: c for c in (SnnTorch(), Sinabs(), Norse())}


def _per_sample(run, x: torch.Tensor, images: bool) -> torch.Tensor:
    """``run`` on the whole batch of ``x`` ``[T, B, 784]``, or for a convolutional graph on
    each sample's ``[T, 1, 28, 28]`` alone; the output spikes as ``[T, B, N]``."""
    if not images:
        return run(x)
    pictures = _images(x)
    return torch.stack([run(pictures[:, b]) for b in range(x.shape[1])], 1).reshape(
        x.shape[0], x.shape[1], -1)


def snntorch_spikes(path: Path, x: torch.Tensor, images: bool) -> torch.Tensor:
    """snnTorch's importer on an snnhw export: the output spikes ``[T, B, N]``. A
    convolutional graph runs one sample at a time: snnTorch builds NIR's Flatten (whose
    dimensions leave out the batch) as ``torch.nn.Flatten(0, -1)``, which a batch would
    flatten too."""
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):    # its w_scale notice, once per layer
        net = import_from_nir(nir.read(path))

    def run(batch: torch.Tensor) -> torch.Tensor:
        snntorch.utils.reset(net)
        outs = []
        with contextlib.redirect_stdout(io.StringIO()):
            for t in range(batch.shape[0]):
                o = net(batch[t])
                outs.append(o[0] if isinstance(o, tuple) else o)
        return torch.stack(outs)

    return _per_sample(run, x, images)


def norse_spikes(path: Path, x: torch.Tensor, images: bool, dt: float) -> torch.Tensor:
    """Norse's importer on an snnhw export (``dt``: the one written in the graph), output
    spikes ``[T, B, N]``; convolutional graphs one sample at a time (Norse too builds
    NIR's Flatten literally)."""
    import norse.torch as nt

    net = nt.from_nir(nir.read(path), dt=dt)

    def run(batch: torch.Tensor) -> torch.Tensor:
        state, outs = None, []
        for t in range(batch.shape[0]):
            o, state = net(batch[t], state)
            outs.append(o)
        return torch.stack(outs)

    return _per_sample(run, x, images)
