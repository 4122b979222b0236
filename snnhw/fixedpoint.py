"""The fixed-point rules of ``docs/fixed-point.md``, written once (numpy, int64).

Shared by the quantizer, the golden model and quantization-aware training; the RTL implements
the same rules. Imports nothing else of snnhw, so every stage may use it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DIRECT_INPUT_BITS", "INPUT_BITS_RANGE", "LEAK_FRAC_BITS_RANGE", "MEMBRANE_BITS_RANGE",
           "WEIGHT_BITS_RANGE", "accumulator_bounds", "aux_bound", "direct_input", "input_max", "layer_scale",
           "leak", "leak_multiplier", "max_step_input", "membrane_bits_for", "round_half_away",
           "saturate", "signed_bits", "signed_range"]

WEIGHT_BITS_RANGE = (2, 16)
MEMBRANE_BITS_RANGE = (2, 32)
LEAK_FRAC_BITS_RANGE = (0, 16)
# 1: spike events; 2..8: unsigned values held for a whole sample (a direct-encoding first layer)
INPUT_BITS_RANGE = (1, 8)
DIRECT_INPUT_BITS = 8       # default width of a direct input: 8-bit pixels are exact


def signed_range(bits: int) -> tuple[int, int]:
    """Inclusive range of a two's complement integer of ``bits`` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def signed_bits(lo: int, hi: int) -> int:
    """Fewest two's complement bits (>= 1) that hold every integer in ``[lo, hi]``."""
    bits = 1
    while not (signed_range(bits)[0] <= lo and hi <= signed_range(bits)[1]):
        bits += 1
    return bits


def layer_scale(peak: float, weight_bits: int, threshold: float) -> float:
    """Float value of one LSB: the largest |weight| ``peak`` maps onto ``2**(N-1) - 1``
    (an all-zero layer takes the threshold's scale instead)."""
    qmax = (1 << (weight_bits - 1)) - 1
    return peak / qmax if peak > 0 else threshold / qmax


def leak_multiplier(tau: float, frac_bits: int) -> int:
    """``L = round(tau * 2**F)``, the integer leak factor."""
    return int(round_half_away(tau * (1 << frac_bits)))


def input_max(input_bits: int) -> int:
    """Largest value of one input of ``input_bits`` bits: 1 for a spike, ``2**N - 1`` for an
    unsigned N-bit direct input."""
    return (1 << input_bits) - 1


def direct_input(x: np.ndarray, input_bits: int) -> np.ndarray:
    """Real-valued inputs in ``[0, 1]`` (pixel intensities) -> unsigned ``input_bits``-bit
    integers ``round(x * (2**N - 1))``, halves away from zero; values outside ``[0, 1]`` are
    clipped first. Exact for 8-bit pixels ``p / 255`` with ``N = 8``."""
    return round_half_away(np.clip(x, 0.0, 1.0) * input_max(input_bits))


def accumulator_bounds(weight: np.ndarray, membrane_bits: int, events_per_input: int = 1
                       ) -> tuple[int, int]:
    """Exact range of the accumulator of neurons with weight rows ``weight`` (``[N, ...]``,
    one row per neuron or channel): any carried membrane plus, for every synapse,
    ``events_per_input`` times its weight (``k*k`` spikes of a pooled block, or an input value
    up to ``2**N - 1`` times that many)."""
    lo, hi = signed_range(membrane_bits)
    w = np.asarray(weight, dtype=np.int64).reshape(len(weight), -1)
    if not w.size:
        return lo, hi
    return (lo + events_per_input * int(np.minimum(w, 0).sum(axis=1).min()),
            hi + events_per_input * int(np.maximum(w, 0).sum(axis=1).max()))


def aux_bound(kernel: np.ndarray, events_per_position: int, leak_mult: int, leak_frac_bits: int,
              timesteps: int) -> int:
    """Largest ``|a[t]|`` of a NeuNorm term (docs/fixed-point.md) with aux kernel ``kernel``
    (``[C_out, K, K]``): per timestep at most ``events_per_position`` events at every input
    position (its channels, times ``k*k`` after pooling), each adding its tap, and the state
    leaked by ``leak_mult / 2**F`` (toward zero) between timesteps, over ``timesteps`` steps
    from 0: with ``S`` the most one timestep adds, ``|a| <= b`` where ``b <- leak(b) + S``."""
    k = np.abs(np.asarray(kernel, dtype=np.int64)).reshape(len(kernel), -1)
    step = events_per_position * int(k.sum(axis=1).max()) if k.size else 0
    bound = 0
    for _ in range(timesteps):
        bound = ((bound * leak_mult) >> leak_frac_bits) + step
    return bound


def max_step_input(weight: np.ndarray, bias: np.ndarray, events_per_input: int = 1) -> int:
    """Largest |input| of one timestep, ``Imax``: over the rows (neurons; a convolution's
    output channels), the row's bias plus all its weights of one sign, each weight counted
    ``events_per_input`` times (``k*k`` after ``k x k`` sum pooling, times the largest input
    value of a direct-encoding layer), the same sign as the bias
    (the larger of the positive and the negative side)."""
    up = events_per_input * np.maximum(weight, 0).sum(axis=1) + np.maximum(bias, 0)
    down = -(events_per_input * np.minimum(weight, 0).sum(axis=1) + np.minimum(bias, 0))
    return int(max(up.max(), down.max()))


def membrane_bits_for(*, max_input: int, threshold: int, leak_mult: int, leak_frac_bits: int,
                      timesteps: int) -> int:
    """Membrane width from the worst-case bound.

    With ``M`` the largest |input| of one timestep and ``lam = leak_mult / 2**F``,
    ``|u| <= M / (1 - lam) + threshold`` for ``lam < 1``, and ``|u| <= T * M + threshold``
    for a non-leaky neuron. Capped at the widest membrane allowed: beyond it, saturation
    applies.
    """
    lam = leak_mult / (1 << leak_frac_bits)
    bound = timesteps * max_input if lam >= 1 else math.ceil(max_input / (1 - lam))
    bound += threshold
    return max(MEMBRANE_BITS_RANGE[0], min(MEMBRANE_BITS_RANGE[1], signed_bits(-bound, bound)))


def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """Round to the nearest integer, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    x = np.asarray(x, dtype=np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def saturate(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Clamp to ``[lo, hi]``."""
    return np.clip(x, lo, hi)


def leak(r: np.ndarray, mult: int, frac_bits: int) -> np.ndarray:
    """``r * mult / 2**frac_bits`` rounded toward zero, so ``|leak(r)| <= |r|`` when
    ``mult <= 2**frac_bits`` and a membrane always decays to exactly 0."""
    product = np.asarray(r, dtype=np.int64) * mult
    # floor(product / 2**F) rounds negative products down; adding 2**F - 1 to them first
    # (product >> 63 is -1 exactly for them) turns the floor into truncation toward zero
    product += (product >> 63) & ((1 << frac_bits) - 1)
    product >>= frac_bits
    return product
