"""Surrogate derivatives for the Heaviside spike function.

The forward pass is always the step ``o = H(u - threshold)`` with ``H(0) = 1`` (the test is
``u >= threshold``, the same comparison the integer golden model and the RTL use). The
backward pass replaces ``dH/du`` by a pseudo-derivative picked by name; ``x = u - threshold``
and ``a`` is the surrogate's parameter.

STBP (Wu et al. 2018, Front. Neurosci. 12:331, eq. 37-40) defines four curves of unit area
around the threshold, ``a`` setting their width:

* ``rectangular`` (h1): ``(1/a) [|x| < a/2]``
* ``polynomial`` (h2):  ``(sqrt(a)/2 - (a/4)|x|) [|x| < 2/sqrt(a)]``
* ``sigmoid`` (h3):     ``(1/a) e^{-x/a} / (1 + e^{-x/a})^2``
* ``gaussian`` (h4):    ``exp(-x^2 / (2a)) / sqrt(2 pi a)``

and the names users of snnTorch and SpikingJelly expect, ``a`` setting their sharpness:

* ``arctan``: ``(a/2) / (1 + (pi a x / 2)^2)``, the derivative of
  ``arctan(pi a x / 2) / pi + 1/2`` (unit area; SpikingJelly's ATan, snnTorch's atan);
* ``fast_sigmoid``: ``1 / (1 + a|x|)^2``, the derivative of ``x / (1 + a|x|)``
  (snnTorch's fast_sigmoid with ``slope = a``; area ``2/a``, not normalised).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

__all__ = ["SURROGATES", "arctan", "fast_sigmoid", "gaussian", "polynomial", "rectangular",
           "sigmoid", "spike"]


def rectangular(x: torch.Tensor, a: float) -> torch.Tensor:
    """STBP h1: ``1/a`` inside the window ``|x| < a/2``, 0 outside (``a`` in membrane units)."""
    return (x.abs() < a / 2).to(x.dtype) / a


def polynomial(x: torch.Tensor, a: float) -> torch.Tensor:
    """STBP h2: a triangle of height ``sqrt(a)/2`` and half-width ``2/sqrt(a)``."""
    root = math.sqrt(a)
    return (root / 2 - a / 4 * x.abs()).clamp(min=0)


def sigmoid(x: torch.Tensor, a: float) -> torch.Tensor:
    """STBP h3: the derivative of ``sigmoid(x / a)``."""
    s = torch.sigmoid(x / a)
    return s * (1 - s) / a


def gaussian(x: torch.Tensor, a: float) -> torch.Tensor:
    """STBP h4: a Gaussian of variance ``a``."""
    return torch.exp(-x * x / (2 * a)) / math.sqrt(2 * math.pi * a)


def arctan(x: torch.Tensor, a: float) -> torch.Tensor:
    """``(a/2) / (1 + (pi a x / 2)^2)``: the derivative of ``arctan(pi a x / 2) / pi + 1/2``."""
    # one new tensor, then in place: the same operations as (a/2) / (1 + (c x)^2)
    return (math.pi / 2 * a * x).square_().add_(1).reciprocal_().mul_(a / 2)


def fast_sigmoid(x: torch.Tensor, a: float) -> torch.Tensor:
    """``1 / (1 + a|x|)^2``: the derivative of ``x / (1 + a|x|)`` (slope ``a``)."""
    return 1 / (1 + a * x.abs()) ** 2


SURROGATES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "rectangular": rectangular,
    "polynomial": polynomial,
    "sigmoid": sigmoid,
    "gaussian": gaussian,
    "arctan": arctan,
    "fast_sigmoid": fast_sigmoid,
}


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, a: float, name: str) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.a = a
        ctx.name = name
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_output * SURROGATES[ctx.name](x, ctx.a), None, None


def spike(x: torch.Tensor, surrogate: str = "rectangular", a: float = 1.0) -> torch.Tensor:
    """Heaviside step of ``x = u - threshold`` (1 where ``x >= 0``) with a surrogate gradient."""
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}; known: {sorted(SURROGATES)}")
    if not a > 0:
        raise ValueError(f"surrogate width a must be > 0, got {a!r}")
    return _Spike.apply(x, float(a), surrogate)
