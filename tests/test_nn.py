"""Neurons, surrogate, encoders: the float side of the flow."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnhw.data import bernoulli_numpy, bernoulli_torch
from snnhw.nn import LIF, SpikingNetwork, mlp_architecture, spike
from snnhw.nn.layers import AvgPool2d, Conv2d
from snnhw.nn.surrogate import rectangular


def _reference_lif(current: np.ndarray, tau: float, threshold: float, reset: str) -> np.ndarray:
    u = np.zeros(current.shape[1:])
    o = np.zeros(current.shape[1:])
    out = []
    for t in range(current.shape[0]):
        if reset == "zero":
            u = tau * u * (1 - o) + current[t]
        else:
            u = tau * (u - threshold * o) + current[t]
        o = (u >= threshold).astype(float)
        out.append(o)
    return np.stack(out)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_lif_follows_the_stbp_recurrence(reset):
    current = torch.rand(12, 5, 7, dtype=torch.float64) * 0.8
    lif = LIF(tau=0.7, threshold=0.9, reset=reset)
    got = lif(current).numpy()
    want = _reference_lif(current.numpy(), 0.7, 0.9, reset)
    np.testing.assert_array_equal(got, want)
    assert 0 < got.sum() < got.size


def test_threshold_test_is_greater_or_equal():
    lif = LIF(tau=1.0, threshold=0.5)
    out = lif(torch.tensor([[[0.5, 0.4999]]], dtype=torch.float64))
    assert out.tolist() == [[[1.0, 0.0]]]


def test_rectangular_surrogate_gradient_matches_closed_form():
    x = torch.linspace(-2, 2, 401, dtype=torch.float64, requires_grad=True)
    a = 0.8
    spike(x, "rectangular", a).sum().backward()
    expected = (x.detach().abs() < a / 2).double() / a
    torch.testing.assert_close(x.grad, expected)
    torch.testing.assert_close(rectangular(x.detach(), a), expected)
    # unit area (STBP's condition on every approximation curve)
    assert abs(float(expected.sum() * (x[1] - x[0]).detach()) - 1.0) < 0.02


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("surrogate", ["rectangular", "polynomial", "sigmoid", "gaussian",
                                       "arctan", "fast_sigmoid"])
def test_fused_lif_equals_the_per_step_graph(reset, surrogate):
    """The one-node LIF (forward and backward over all T) gives the spikes, the membranes'
    gradient path and so the input gradients of the per-step autograd graph, in float64."""
    torch.manual_seed(1)
    lif = LIF(tau=0.6, threshold=0.5, reset=reset, surrogate=surrogate, width=0.8)
    current = (torch.randn(10, 6, 9, dtype=torch.float64) * 0.7).requires_grad_()
    upstream = torch.randn(10, 6, 9, dtype=torch.float64)
    fused = lif(current)
    (fused * upstream).sum().backward()
    fused_grad, current.grad = current.grad, None
    reference = lif._run(current, None)
    (reference * upstream).sum().backward()
    torch.testing.assert_close(fused, reference, rtol=0, atol=0)
    torch.testing.assert_close(fused_grad, current.grad, rtol=1e-12, atol=1e-12)
    assert 0 < float(fused.sum()) < fused.numel() and float(fused_grad.abs().sum()) > 0


@pytest.mark.parametrize("k, shape", [(2, (3, 4, 5, 28, 28)), (2, (6, 3, 9, 7)),
                                      (4, (2, 3, 2, 10, 13))])
def test_pooling_equals_avg_pool2d_bit_for_bit_on_spikes(k, shape):
    """The pooling layer (strided sums) gives torch's avg_pool2d values and gradients exactly
    on spike maps, with the odd rows and columns dropped as avg_pool2d drops them."""
    torch.manual_seed(3)
    spikes = (torch.rand(shape, dtype=torch.float64) < 0.3).to(torch.float64).requires_grad_()
    pooled = AvgPool2d(k)(spikes)
    upstream = torch.randn(pooled.shape, dtype=torch.float64)
    (pooled * upstream).sum().backward()
    ours, spikes.grad = spikes.grad, None
    flat = spikes.reshape(-1, *shape[-3:])
    reference = torch.nn.functional.avg_pool2d(flat, k).reshape(pooled.shape)
    (reference * upstream).sum().backward()
    torch.testing.assert_close(pooled, reference, rtol=0, atol=0)
    torch.testing.assert_close(ours, spikes.grad, rtol=0, atol=0)
    assert float(pooled.sum()) > 0


@pytest.mark.parametrize("c_in, c_out, kernel, stride, padding, bias, size", [
    (1, 4, 5, 1, 2, True, 12), (3, 2, 3, 2, 1, False, 9), (2, 3, 7, 2, 0, True, 16),
    (4, 1, 1, 1, 0, True, 5)])
def test_conv2d_gradients_equal_torch_conv2d(c_in, c_out, kernel, stride, padding, bias, size):
    """The weight gradient computed as a convolution equals torch's in float64 (and the
    values and the input gradient are torch's), on [T, B, C, H, W] and on [N, C, H, W]."""
    torch.manual_seed(c_in * 10 + kernel)
    conv = Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=bias).double()
    for shape in ((3, 2, c_in, size, size), (5, c_in, size, size)):
        x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
        x_ref = x.detach().clone().requires_grad_(True)
        y = conv(x)
        flat = x_ref.reshape(-1, *shape[-3:])
        y_ref = torch.nn.functional.conv2d(flat, conv.weight, conv.bias, stride, padding)
        y_ref = y_ref.reshape(*shape[:-3], *y_ref.shape[1:])
        assert torch.equal(y, y_ref)
        grad = torch.randn_like(y)
        w_grad, *b_grad = torch.autograd.grad(y_ref, [conv.weight] + ([conv.bias] if bias else []),
                                              grad, retain_graph=True)
        x_grad_ref, = torch.autograd.grad(y_ref, x_ref, grad)
        conv.zero_grad()
        y.backward(grad)
        torch.testing.assert_close(conv.weight.grad, w_grad, rtol=1e-12, atol=1e-12)
        if bias:
            torch.testing.assert_close(conv.bias.grad, b_grad[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(x.grad, x_grad_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"tau": 1.5, "threshold": 1.0}, "tau"),
    ({"tau": 0.5, "threshold": 0.0}, "threshold"),
    ({"tau": 0.5, "threshold": 1.0, "reset": "bogus"}, "reset"),
    ({"tau": 0.5, "threshold": 1.0, "surrogate": "bogus"}, "unknown surrogate"),
    ({"tau": 0.5, "threshold": 1.0, "width": 0.0}, "width"),
])
def test_lif_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LIF(**kwargs)


def test_network_shapes_and_recording():
    net = SpikingNetwork(mlp_architecture([6, 5, 3], tau=0.5, threshold=0.5))
    record: list[torch.Tensor] = []
    out = net(torch.ones(4, 2, 6), record)
    assert out.shape == (4, 2, 3)
    assert [r.shape[-1] for r in record] == [5, 3]


def test_bernoulli_numpy_is_seeded_and_prefix_stable():
    images = np.random.default_rng(0).integers(0, 256, size=(30, 50), dtype=np.uint8)
    a = bernoulli_numpy(images, 8, seed=5)
    b = bernoulli_numpy(images, 8, seed=5)
    c = bernoulli_numpy(images[:10], 8, seed=5)
    assert a.shape == (8, 30, 50) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[:, :10], c)
    assert not np.array_equal(a, bernoulli_numpy(images, 8, seed=6))


def test_bernoulli_rates_follow_intensity():
    p = torch.tensor([[0.0, 0.25, 1.0]])
    spikes = bernoulli_torch(p.expand(4000, 3), 4, torch.Generator().manual_seed(0))
    rate = spikes.mean(dim=(0, 1))
    assert rate[0] == 0 and rate[2] == 1
    assert abs(float(rate[1]) - 0.25) < 0.01
