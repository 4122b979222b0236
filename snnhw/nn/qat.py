"""Quantization-aware training: the forward pass of ``snnhw build --fixed N``'s arithmetic.

``FixedPointSpec`` names the widths; :func:`fixed_point_forward` runs a dense -> LIF pair the
way the golden model will after quantization (``docs/fixed-point.md``): weights, bias and
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

from ..fixedpoint import (
    layer_scale,
    leak_multiplier,
    max_step_input,
    membrane_bits_for,
    round_half_away,
    signed_range,
)
from .lif import LIF

__all__ = ["FixedPointSpec", "fixed_point_forward", "integer_lif_steps"]


@dataclass(frozen=True)
class FixedPointSpec:
    """Widths to train for: ``weight_bits`` (2..16), ``membrane_bits`` (None: from the
    worst-case bound, as the quantizer does), ``leak_frac_bits``."""

    weight_bits: int
    membrane_bits: int | None = None
    leak_frac_bits: int = 8


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half away from zero; gradient 1."""
    rounded = torch.sign(x) * torch.floor(x.abs() + 0.5)
    return x + (rounded - x).detach()


def _trunc_ste(x: torch.Tensor) -> torch.Tensor:
    """Round toward zero; gradient 1."""
    return x + (torch.trunc(x) - x).detach()


def fixed_point_forward(dense: torch.nn.Linear, lif: LIF, x: torch.Tensor,
                        spec: FixedPointSpec) -> torch.Tensor:
    """Spikes ``[T, B, out]`` of one dense -> LIF pair on spikes ``x`` ``[T, B, in]``."""
    weight = dense.weight
    bias = dense.bias if dense.bias is not None else torch.zeros_like(weight[:, 0])
    w64 = weight.detach().double().cpu().numpy()
    scale = layer_scale(float(abs(w64).max()), spec.weight_bits, lif.threshold)
    w_int = _round_ste(weight / scale)
    b_int = _round_ste(bias / scale)
    threshold = int(round_half_away(lif.threshold / scale))
    if threshold < 1:
        raise ValueError(f"threshold {lif.threshold} rounds to {threshold} LSBs at scale "
                         f"{scale:.3g}; it must be >= 1")
    leak_mult = leak_multiplier(lif.tau, spec.leak_frac_bits)
    bits = spec.membrane_bits
    if bits is None:
        bits = membrane_bits_for(
            max_input=max_step_input(w_int.detach().cpu().numpy().astype("int64"),
                                     b_int.detach().cpu().numpy().astype("int64")),
            threshold=threshold, leak_mult=leak_mult, leak_frac_bits=spec.leak_frac_bits,
            timesteps=x.shape[0])
    lo, hi = signed_range(bits)
    spikes, _ = integer_lif_steps(
        x @ w_int.T, b_int, threshold=threshold, leak_mult=leak_mult,
        leak_frac_bits=spec.leak_frac_bits, membrane_min=lo, membrane_max=hi, reset=lif.reset,
        fire=lambda u: lif.fire((u - threshold) * scale),
        toward_zero=_trunc_ste)
    return spikes


def integer_lif_steps(currents: torch.Tensor, bias: torch.Tensor, *,
                      threshold: int, leak_mult: int, leak_frac_bits: int, membrane_min: int,
                      membrane_max: int, reset: str,
                      fire: Callable[[torch.Tensor], torch.Tensor],
                      toward_zero: Callable[[torch.Tensor], torch.Tensor] = torch.trunc
                      ) -> tuple[torch.Tensor, int]:
    """The integer LIF timestep loop of ``docs/fixed-point.md`` in torch.

    ``currents`` ``[T, B, ...]``: every timestep's synaptic sums (integer-valued, e.g.
    ``spikes @ weight.T``); ``bias`` integer-valued, broadcast against ``currents[t]``.
    ``fire(u)`` gives the spikes of the saturated membrane (a plain ``u >= threshold`` for
    inference, a surrogate for training); ``toward_zero`` rounds the leaked value. Returns the
    spikes ``[T, B, out]`` and the number of saturation events.
    """
    divisor = float(1 << leak_frac_bits)
    carried = torch.zeros_like(currents[0])
    saturations = 0
    spikes = []
    for t in range(currents.shape[0]):
        pre = carried + currents[t] + bias
        u = pre.clamp(membrane_min, membrane_max)
        saturations += int((u != pre).sum())
        o = fire(u)
        if reset == "zero":
            r = u * (1 - o)
        else:
            r = u - threshold * o
        carried = toward_zero(r * leak_mult / divisor)
        spikes.append(o)
    return torch.stack(spikes), saturations
