"""Quantization-aware training: the forward pass of ``snnhw build --fixed N``'s arithmetic.

``FixedPointSpec`` names the widths; :func:`fixed_point_forward` runs a dense or conv -> LIF
pair (with the average pool before it, or a direct input) the way the golden model will after
quantization (``docs/fixed-point.md``): weights, bias and
threshold rounded half away from zero on the layer's scale, integer leak rounded toward zero,
exact accumulation, one saturation per timestep. Rounding uses straight-through gradients,
saturation the gradient of a clamp, and the spike the layer's surrogate on
``(u - threshold) * scale`` (float membrane units).

In float64 (``net.double()``) the forward gives exactly the golden model's spikes for the IR
that ``snnhw build`` makes from the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..fixedpoint import (
    input_max,
    layer_scale,
    leak_multiplier,
    max_step_input,
    membrane_bits_for,
    round_half_away,
    signed_range,
)
from .layers import multistep
from .lif import LI, LIF

__all__ = ["FixedPointSpec", "fixed_point_forward", "integer_lif_steps"]


@dataclass(frozen=True)
class FixedPointSpec:
    """Widths to train for: ``weight_bits`` (2..16), ``membrane_bits`` (None: from the
    worst-case bound, as the quantizer does), ``leak_frac_bits``, and ``input_bits`` of a
    direct-encoding first layer (the quantizer's ``--input-bits``; 1 for spike inputs)."""

    weight_bits: int
    membrane_bits: int | None = None
    leak_frac_bits: int = 8
    input_bits: int = 1


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half away from zero; gradient 1."""
    rounded = torch.sign(x) * torch.floor(x.abs() + 0.5)
    return x + (rounded - x).detach()


def _trunc_ste(x: torch.Tensor) -> torch.Tensor:
    """Round toward zero; gradient 1."""
    return x + (torch.trunc(x) - x).detach()


def fixed_point_forward(synapse: torch.nn.Module, lif: LIF | LI, x: torch.Tensor,
                        spec: FixedPointSpec, *, pool: int = 1, direct: bool = False
                        ) -> torch.Tensor:
    """Spikes ``[T, B, ...]`` of one dense or conv -> LIF pair on its inputs ``x``; for a
    dense -> LI readout (``snnhw.ir.LIReadoutLayer``: the weights' scale alone, no threshold)
    its membranes, in float membrane units (the integers times the scale) so that the loss
    sees the float model's scale.

    ``pool``: the ``k x k`` average pool that produced ``x`` (its ``1/k**2`` goes into the
    weights and ``x * k**2`` is the sum pool, as the quantizer does); ``direct``: ``x`` are a
    direct-encoding layer's real inputs in [0, 1], taken as ``spec.input_bits``-bit integers.
    """
    readout = isinstance(lif, LI)
    weight = synapse.weight / (pool * pool)
    bias = synapse.bias if synapse.bias is not None else weight.new_zeros(weight.shape[0])
    w64 = weight.detach().double().cpu().numpy()
    weight_scale = layer_scale(float(abs(w64).max()), spec.weight_bits,
                               1.0 if readout else lif.threshold)
    w_int = _round_ste(weight / weight_scale)
    top = input_max(spec.input_bits) if direct else 1
    scale = weight_scale / top
    b_int = _round_ste(bias / scale)
    threshold = 0 if readout else int(round_half_away(lif.threshold / scale))
    if threshold < 1 and not readout:
        raise ValueError(f"threshold {lif.threshold} rounds to {threshold} LSBs at scale "
                         f"{scale:.3g}; it must be >= 1")
    leak_mult = leak_multiplier(lif.tau, spec.leak_frac_bits)
    rows = w_int.detach().cpu().numpy().astype("int64").reshape(len(w_int), -1)
    bits = spec.membrane_bits
    if bits is None:
        bits = membrane_bits_for(
            max_input=max_step_input(rows, b_int.detach().cpu().numpy().astype("int64"),
                                     events_per_input=pool * pool * top),
            threshold=threshold, leak_mult=leak_mult, leak_frac_bits=spec.leak_frac_bits,
            timesteps=x.shape[0])
    lo, hi = signed_range(bits)
    if direct:
        x = _round_ste(x.clamp(0, 1) * top)
    elif pool > 1:
        x = x * (pool * pool)            # exact: block means of spikes times k**2
    if isinstance(synapse, torch.nn.Conv2d):
        currents = multistep(lambda v: F.conv2d(v, w_int, stride=synapse.stride,
                                                padding=synapse.padding), x)
        b_int = b_int[:, None, None]
    else:
        currents = x @ w_int.T
    out, _ = integer_lif_steps(
        currents, b_int, threshold=threshold, leak_mult=leak_mult,
        leak_frac_bits=spec.leak_frac_bits, membrane_min=lo, membrane_max=hi,
        reset="zero" if readout else lif.reset,
        fire=None if readout else lambda u: lif.fire((u - threshold) * scale),
        toward_zero=_trunc_ste)
    return out * scale if readout else out


def integer_lif_steps(currents: torch.Tensor, bias: torch.Tensor, *,
                      threshold: int, leak_mult: int, leak_frac_bits: int, membrane_min: int,
                      membrane_max: int, reset: str,
                      fire: Callable[[torch.Tensor], torch.Tensor] | None,
                      toward_zero: Callable[[torch.Tensor], torch.Tensor] = torch.trunc
                      ) -> tuple[torch.Tensor, int]:
    """The integer LIF timestep loop of ``docs/fixed-point.md`` in torch.

    ``currents`` ``[T, B, ...]``: every timestep's synaptic sums (integer-valued, e.g.
    ``spikes @ weight.T``); ``bias`` integer-valued, broadcast against ``currents[t]``.
    ``fire(u)`` gives the spikes of the saturated membrane (a plain ``u >= threshold`` for
    inference, a surrogate for training), or with ``fire=None`` the neurons are a readout
    (leaky integrators: no fire, no reset); ``toward_zero`` rounds the leaked value. Returns
    the spikes ``[T, B, out]`` (a readout's membranes ``u``) and the number of saturation
    events.
    """
    divisor = float(1 << leak_frac_bits)
    carried = torch.zeros_like(currents[0])
    saturations = 0
    spikes = []
    for t in range(currents.shape[0]):
        pre = carried + currents[t] + bias
        u = pre.clamp(membrane_min, membrane_max)
        saturations += int((u != pre).sum())
        if fire is None:
            carried = toward_zero(u * leak_mult / divisor)
            spikes.append(u)
            continue
        o = fire(u)
        if reset == "zero":
            r = u * (1 - o)
        else:
            r = u - threshold * o
        carried = toward_zero(r * leak_mult / divisor)
        spikes.append(o)
    return torch.stack(spikes), saturations
