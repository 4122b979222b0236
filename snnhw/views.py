"""What a person looks at to trust a build: one test sample's spikes in every layer as the
float model, the golden model and the RTL produced them, membrane traces of a few neurons
(float against integer), firing rates per layer and accuracy against weight width.

:func:`collect` gathers them while ``snnhw build`` has everything at hand and returns plain
JSON (``views.json`` in the build folder); :mod:`snnhw.html` draws them into report.html.
Membranes are shown as a fraction of the layer's threshold (float ``u / threshold``, integer
``u / threshold`` in the layer's integer units): 1.0 is where a neuron fires in both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import SnnhwError, golden, ir
from .nn.lif import LIF
from .nn.network import SpikingNetwork
from .quant import quantize

__all__ = ["ACCURACY_BITS", "TRACED_NEURONS", "collect"]

TRACED_NEURONS = 4          # membrane traces per layer: its most active neurons in the sample
ACCURACY_BITS = (2, 3, 4, 6, 8, 12, 16)   # weight widths of the accuracy curve
ACCURACY_SAMPLES = 200      # test samples of the accuracy curve (the first ones): a CNN build
                            # pays ~1 s of golden model per width for them


def _events(spikes: np.ndarray) -> list[list[int]]:
    """``[timestep, neuron]`` of every spike of ``spikes`` ``[T, N]``."""
    return [[int(t), int(n)] for t, n in zip(*np.nonzero(spikes))]


def _float_layers(model: dict[str, Any], sample_input: np.ndarray
                  ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Spikes and membranes ``[T, N]`` of every LIF layer of the float model on one sample's
    encoded input ``[T, 1, ...]``."""
    net = SpikingNetwork(model["architecture"])
    net.load_state_dict(model["state_dict"])
    net.eval()
    currents: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda module, args, out: currents.append(args[0]))
             for m in net.modules() if isinstance(m, LIF)]
    lifs = [m for m in net.modules() if isinstance(m, LIF)]
    dtype = next(net.parameters()).dtype
    record: list[torch.Tensor] = []
    with torch.no_grad():
        net(torch.from_numpy(np.ascontiguousarray(sample_input)).to(dtype), record)
        membranes = [lif.membranes(current) / lif.threshold
                     for lif, current in zip(lifs, currents)]
    for hook in hooks:
        hook.remove()
    steps = sample_input.shape[0]
    return ([r.reshape(steps, -1).numpy() for r in record],
            [m.reshape(steps, -1).numpy() for m in membranes])


def _accuracy_by_bits(model: dict[str, Any], net: ir.Network, spikes: np.ndarray,
                      labels: np.ndarray) -> list[dict[str, float]]:
    """Golden-model accuracy at each of ``ACCURACY_BITS`` (the build's other widths kept), on
    the first ``ACCURACY_SAMPLES`` test samples; a width the model does not quantize to (a
    threshold below one LSB of its weights' scale) is left out of the curve."""
    head, truth = spikes[:, :ACCURACY_SAMPLES], labels[:ACCURACY_SAMPLES]
    layer = net.layers[0]
    curve = []
    for bits in ACCURACY_BITS:
        try:
            other = quantize(model, weight_bits=bits, leak_frac_bits=layer.leak_frac_bits,
                             **({"input_bits": net.input_bits} if layer.direct else {}))
        except SnnhwError:
            continue
        predicted = golden.predict(golden.run(other, head).output, other.vote_group)
        curve.append({"bits": bits, "accuracy": float((predicted == truth).mean())})
    return curve


def collect(model: dict[str, Any], net: ir.Network, encoded: np.ndarray, spikes: np.ndarray,
            labels: np.ndarray, trace: golden.Trace, float_rates: list[float], *,
            sample: int, rtl_raster: list[list[int]] | None) -> dict[str, Any]:
    """The views of a build: ``encoded`` is the float model's test input ``[T, S, ...]``,
    ``spikes`` the IR's integer input ``[T, S, F]``, ``trace`` the golden run on all of it,
    ``rtl_raster`` the RTL's ``[layer, timestep, neuron]`` events of ``sample`` (``None``
    when the simulator did not record them)."""
    float_spikes, float_membranes = _float_layers(model, encoded[:, sample:sample + 1])
    # the float model records its LIF layers' spikes: a readout's membranes are its output
    comparable = len(float_spikes) == sum(layer.fires for layer in net.layers)
    layers = []
    x = spikes[:, sample:sample + 1]
    for index, layer in enumerate(net.layers):
        gold = trace.spikes[index][:, sample]
        # membranes in threshold units; a readout's (no threshold) in the model's units
        unit = 1 / layer.threshold if layer.fires else layer.scale
        integer = golden.membranes(layer, x)[:, 0] * unit
        float_view = comparable and layer.fires
        x = trace.spikes[index][:, sample:sample + 1]
        counts = gold.sum(axis=0, dtype=np.int64)
        traced = [int(n) for n in np.argsort(-counts, kind="stable")[:TRACED_NEURONS]]
        view: dict[str, Any] = {
            "name": layer.name, "neurons": layer.out_features,
            "golden": _events(gold),
            "rtl": (None if rtl_raster is None else
                    [[t, n] for l, t, n in rtl_raster if l == index]),
            "float": _events(float_spikes[index]) if float_view else None,
            "traced": traced,
            "membrane_integer": integer[:, traced].round(4).tolist(),
            "membrane_float": (float_membranes[index][:, traced].round(4).tolist()
                               if float_view else None),
            "rate_golden": float(trace.spikes[index].mean()),
            "rate_float": float_rates[index] if float_view else None,
        }
        layers.append(view)
    return {"sample": sample, "label": int(labels[sample]), "timesteps": net.timesteps,
            "layers": layers,
            "accuracy_by_bits": _accuracy_by_bits(model, net, spikes, labels),
            "accuracy_samples": int(min(ACCURACY_SAMPLES, spikes.shape[1]))}
