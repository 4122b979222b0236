"""Constant-coefficient arithmetic built from shifts and adds (no multipliers)."""

from __future__ import annotations

from amaranth.hdl import Const, Mux, Value, signed

__all__ = ["csd_digits", "leak_toward_zero"]


def csd_digits(value: int) -> list[tuple[int, int]]:
    """Canonical signed-digit form of ``value >= 0``: ``[(sign, shift), ...]`` with
    ``value == sum(sign << shift)`` and no two adjacent non-zero digits (fewest adders)."""
    if value < 0:
        raise ValueError(f"csd_digits needs value >= 0, got {value}")
    digits = []
    shift = 0
    while value:
        if value & 1:
            digit = 2 - (value & 3)          # +1 if ...01, -1 if ...11
            digits.append((digit, shift))
            value -= digit
        value >>= 1
        shift += 1
    return digits


def leak_toward_zero(r: Value, mult: int, frac_bits: int) -> Value:
    """``r * mult / 2**frac_bits`` rounded toward zero, as shift-adds of the signed value ``r``.

    The result has the sign and never a larger magnitude than ``r`` when ``mult <= 2**frac_bits``.
    """
    if mult == 0:
        return Const(0, signed(2))
    if mult == 1 << frac_bits:
        return r
    product = None
    for sign, shift in csd_digits(mult):
        term = r.as_signed() << shift
        product = term if product is None and sign > 0 else (
            -term if product is None else (product + term if sign > 0 else product - term))
    if frac_bits == 0:
        return product
    bias = (1 << frac_bits) - 1
    return Mux(product < 0, product + bias, product) >> frac_bits
