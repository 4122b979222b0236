"""Constant-coefficient arithmetic built from shifts and adds (no multipliers)."""

from __future__ import annotations

from amaranth.hdl import Const, Mux, Value, signed

__all__ = ["csd_digits", "leak_toward_zero", "times_constant"]


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


def times_constant(value: Value, factor: int) -> Value:
    """``value * factor`` for a constant ``factor >= 0`` as a sum of shifted copies of ``value``
    (canonical signed digits), so synthesis builds adders, not a multiplier."""
    product = None
    for sign, shift in csd_digits(factor):
        term = value << shift
        if product is None:
            product = term if sign > 0 else -term
        else:
            product = product + term if sign > 0 else product - term
    return Const(0) if product is None else product


def leak_toward_zero(r: Value, mult: int, frac_bits: int) -> Value:
    """``r * mult / 2**frac_bits`` rounded toward zero, as shift-adds of the signed value ``r``.

    The result has the sign and never a larger magnitude than ``r`` when ``mult <= 2**frac_bits``.
    """
    if mult == 0:
        return Const(0, signed(2))
    if mult == 1 << frac_bits:
        return r
    product = times_constant(r.as_signed(), mult)
    if frac_bits == 0:
        return product
    bias = (1 << frac_bits) - 1
    return Mux(product < 0, product + bias, product) >> frac_bits
