"""Every surrogate's backward pass is the derivative of its own smooth step.

Each surrogate g is checked against autograd on an independently written primitive G
(G' = g), at many points, and the STBP curves (and arctan) for unit area.
"""

from __future__ import annotations

import math

import pytest
import torch

from snnhw.nn import SURROGATES, spike


def _polynomial_primitive(x, a):
    r = math.sqrt(a)
    half = 2 / r
    inside = torch.where(x < 0, r / 2 * (x + half) + a / 8 * (x + half) ** 2 - a / 4 * half * (x + half),
                         0.5 + r / 2 * x - a / 8 * x * x)
    return torch.where(x <= -half, torch.zeros_like(x), torch.where(x >= half, torch.ones_like(x), inside))


PRIMITIVES = {
    "rectangular": lambda x, a: (x / a + 0.5).clamp(0, 1),
    "polynomial": _polynomial_primitive,
    "sigmoid": lambda x, a: torch.sigmoid(x / a),
    "gaussian": lambda x, a: 0.5 * (1 + torch.erf(x / math.sqrt(2 * a))),
    "arctan": lambda x, a: torch.atan(math.pi / 2 * a * x) / math.pi + 0.5,
    "fast_sigmoid": lambda x, a: x / (1 + a * x.abs()),
}
UNIT_AREA = ("rectangular", "polynomial", "sigmoid", "gaussian", "arctan")


def test_every_surrogate_has_a_primitive_here():
    assert set(SURROGATES) == set(PRIMITIVES)


@pytest.mark.parametrize("a", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_backward_is_the_derivative_of_the_primitive(name, a):
    # avoid the kinks of the piecewise curves, where the one-sided derivatives differ
    x = torch.linspace(-3, 3, 1201, dtype=torch.float64)
    kinks = {"rectangular": [a / 2], "polynomial": [0.0, 2 / math.sqrt(a)],
             "fast_sigmoid": [0.0]}.get(name, [])
    for k in kinks:
        x = x[(x.abs() - k).abs() > 1e-3]
    x_spike = x.clone().requires_grad_(True)
    out = spike(x_spike, name, a)
    assert torch.equal(out.detach(), (x >= 0).double())         # forward is the step
    out.sum().backward()
    x_prim = x.clone().requires_grad_(True)
    PRIMITIVES[name](x_prim, a).sum().backward()
    torch.testing.assert_close(x_spike.grad, x_prim.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", UNIT_AREA)
def test_unit_area(name):
    a = 0.7
    x = torch.linspace(-200, 200, 2_000_001, dtype=torch.float64)
    area = torch.trapezoid(SURROGATES[name](x, a), x)
    # arctan's tails beyond |x| = 200 hold 1 - (2/pi) atan(70 pi) ~ 0.003; the rectangle's
    # edges cost the trapezoid rule about one grid step / a
    tolerance = {"arctan": 4e-3, "rectangular": 1e-3}.get(name, 1e-5)
    assert abs(float(area) - 1.0) < tolerance


def test_unknown_surrogate_is_an_error():
    with pytest.raises(ValueError, match="unknown surrogate 'bogus'"):
        spike(torch.zeros(3), "bogus", 1.0)
