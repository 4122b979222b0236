"""Surrogate derivatives for the Heaviside spike function.

The forward pass is always the step ``o = H(u - threshold)`` with ``H(0) = 1`` (the test is
``u >= threshold``, the same comparison the integer golden model and the RTL use). The
backward pass replaces ``dH/du`` by a smooth pseudo-derivative picked by name.

STBP (Wu et al. 2018, Front. Neurosci., eq. 11) defines four curves of unit area around the
threshold with a width parameter ``a``; ``rectangular`` is its h1:
``h1(u) = (1/a) * [|u - threshold| < a/2]``.
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["SURROGATES", "rectangular", "spike"]


def rectangular(x: torch.Tensor, a: float) -> torch.Tensor:
    """STBP h1: ``(1/a)`` inside the window ``|x| < a/2`` around the threshold, 0 outside.

    ``x`` is ``u - threshold`` in membrane units; ``a`` is the window width in the same units.
    """
    return (x.abs() < a / 2).to(x.dtype) / a


SURROGATES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "rectangular": rectangular,
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
