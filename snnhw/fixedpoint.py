"""Integer primitives shared by the quantizer and the golden model (numpy, int64).

Each function is one rule of ``docs/fixed-point.md``; the RTL implements the same rules.
"""

from __future__ import annotations

import numpy as np

__all__ = ["leak", "round_half_away", "saturate"]


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
    return np.sign(product) * (np.abs(product) >> frac_bits)
