"""Multi-step synapse and helper layers on ``[T, B, ...]`` tensors.

Each layer applies the same operation at every timestep. Convolution and pooling fold time
into the batch (``[T*B, C, H, W]``), which is what makes the explicitly iterative form fast
(Wu et al., AAAI 2019): one batched call per layer instead of one per timestep.
"""

from __future__ import annotations

import torch

__all__ = ["NEUNORM_ALPHAS", "AvgPool2d", "Conv2d", "Dropout", "Flatten", "NeuNorm", "Reshape",
           "Voting", "multistep"]

NEUNORM_ALPHAS = ("neuron", "channel")   # alpha per neuron [C, H, W] or per channel


def multistep(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a single-step ``module`` to every timestep of ``x`` ``[T, B, ...]`` at once."""
    steps, batch = x.shape[:2]
    y = module(x.reshape(steps * batch, *x.shape[2:]))
    return y.reshape(steps, batch, *y.shape[1:])


class _Convolution(torch.autograd.Function):
    """``conv2d`` (groups 1, no dilation, zero padding) whose weight gradient is itself a
    convolution: the padded input against the output gradient with the batch as channels,
    the stride as dilation. On a CPU that is several times faster than
    ``convolution_backward``'s weight gradient for few input channels (a network's first
    layer on spikes or pixels: 6 ms against 19 ms for 250 maps, 1 -> 16 channels, 5x5) and
    no slower for more; the same sums in another order. On a GPU, torch's own kernels."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor,  # type: ignore[override]
                bias: torch.Tensor | None, stride: tuple[int, int],
                padding: tuple[int, int]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, bias is not None)
        return torch.nn.functional.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        stride, padding, has_bias = ctx.geometry
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.nn.grad.conv2d_input(x.shape, weight, grad, stride, padding)
        if ctx.needs_input_grad[1] and not x.is_cpu:   # a GPU's own kernels
            grad_weight = torch.nn.grad.conv2d_weight(x, weight.shape, grad, stride, padding)
        elif ctx.needs_input_grad[1]:
            padded = torch.nn.functional.pad(x, (padding[1], padding[1], padding[0], padding[0]))
            # [C_in, C_out, >= K, >= K]: wanted[co, ci, ky, kx] = sum over n, oy, ox of
            # grad[n, co, oy, ox] * padded[n, ci, oy * stride + ky, ox * stride + kx]
            full = torch.nn.functional.conv2d(padded.transpose(0, 1), grad.transpose(0, 1),
                                              dilation=stride)
            grad_weight = full[:, :, :weight.shape[2], :weight.shape[3]].transpose(0, 1)
            grad_weight = grad_weight.contiguous()
        if has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_x, grad_weight, grad_bias, None, None


class Conv2d(torch.nn.Conv2d):
    """2-D convolution of ``[T, B, C, H, W]`` spikes or currents (weights shared over time),
    or of ``[N, C, H, W]``; zero padding, no groups or dilation (what the hardware builds)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 stride: int = 1, padding: int = 0, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=padding, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return multistep(self._convolve, x) if x.dim() == 5 else self._convolve(x)

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        return _Convolution.apply(x, self.weight, self.bias, self.stride, self.padding)


class _BlockMean(torch.autograd.Function):
    """k x k mean pooling with stride k (the map's last rows and columns that do not fill a
    block dropped, as ``avg_pool2d`` does) over the last two dimensions: k^2 strided slices
    added, and the gradient spread back by one broadcast copy. About twice as fast as
    ``avg_pool2d`` forward and backward on CPU; on spikes (0/1) the sums are exact, so the
    values and gradients are ``avg_pool2d``'s bit for bit."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, k: int) -> torch.Tensor:  # type: ignore[override]
        ctx.k, ctx.shape = k, x.shape
        h, w = x.shape[-2] // k * k, x.shape[-1] // k * k
        rows = x[..., 0:h:k, :]
        for i in range(1, k):
            rows = rows + x[..., i:h:k, :]
        total = rows[..., 0:w:k]
        for j in range(1, k):
            total = total + rows[..., j:w:k]
        return total * (1.0 / (k * k))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        k = ctx.k
        *lead, rows, cols = grad.shape
        spread = (grad * (1.0 / (k * k)))[..., :, None, :, None].expand(
            *lead, rows, k, cols, k).reshape(*lead, rows * k, cols * k)
        if tuple(spread.shape) != tuple(ctx.shape):       # rows or columns dropped
            full = grad.new_zeros(ctx.shape)
            full[..., :rows * k, :cols * k] = spread
            spread = full
        return spread, None


class AvgPool2d(torch.nn.AvgPool2d):
    """Average pooling of ``[T, B, C, H, W]`` (or ``[N, C, H, W]``), k x k with stride k;
    followed by a LIF layer it is spiking pooling (with ``tau = 1`` the non-leaky
    integrate-and-fire pooling of Lee et al. 2020). Computed by :class:`_BlockMean`."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _BlockMean.apply(x, int(self.kernel_size))


class Flatten(torch.nn.Module):
    """``[T, B, C, H, W]`` -> ``[T, B, C*H*W]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], -1)


class Reshape(torch.nn.Module):
    """``[T, B, F]`` -> ``[T, B, *shape]``: flat inputs (e.g. 784 pixels) to ``[C, H, W]``."""

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = [int(s) for s in shape]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Dropout(torch.nn.Module):
    """Dropout with one mask per sample, reused at every timestep (Lee et al. 2020, sec. 2.3.2).

    A fresh Bernoulli(1 - p) mask of shape ``[B, ...]`` is drawn per forward pass and kept
    units are scaled by ``1 / (1 - p)``; at evaluation it is the identity. A per-timestep mask
    would switch a neuron on and off within one sample, which is not what dropout means for
    a unit whose output is its spike train.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout p must be in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape[1:], device=x.device) >= self.p
        return x * (keep.to(x.dtype) / (1.0 - self.p)).unsqueeze(0)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class NeuNorm(torch.nn.Module):
    """Neuron normalization (Wu et al., AAAI 2019, sec. "Neuron Normalization").

    An auxiliary neuron at each spatial position ``(h, w)`` integrates the channel mean of the
    spikes ``o`` ``[T, B, C, H, W]`` arriving from the previous layer, with its own decay::

        x[t] = tau * x[t-1] + v * mean_c o[t, :, c, h, w]
        y[t] = o[t] - alpha * x[t]

    ``y`` goes to the next layer's weights in place of ``o``: a learned subtractive inhibition
    that keeps the next layer's input balanced when many feature maps fire at one position.
    ``alpha`` is per neuron, ``[C, H, W]`` (``alpha="neuron"``, our reading of the paper), or
    per channel, ``[C, 1, 1]`` (``alpha="channel"``: the form ``snnhw build`` turns into
    hardware, where the next convolution's channel-summed kernel absorbs it); it starts at
    ``alpha_init``. See docs/training.md for the reading of the paper's equations used here.
    """

    def __init__(self, channels: int, height: int, width: int, *, tau: float = 0.9,
                 v: float = 0.1, alpha_init: float = 0.0, alpha: str = "neuron") -> None:
        super().__init__()
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"NeuNorm tau must be in [0, 1], got {tau!r}")
        if alpha not in NEUNORM_ALPHAS:
            raise ValueError(f"NeuNorm alpha must be one of {NEUNORM_ALPHAS}, got {alpha!r}")
        self.tau = float(tau)
        self.v = float(v)
        self.per = alpha
        shape = (channels, height, width) if alpha == "neuron" else (channels, 1, 1)
        self.alpha = torch.nn.Parameter(torch.full(shape, float(alpha_init)))

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        aux = torch.zeros_like(spikes[0, :, :1])
        out = []
        for t in range(spikes.shape[0]):
            aux = self.tau * aux + self.v * spikes[t].mean(1, keepdim=True)
            out.append(spikes[t] - self.alpha * aux)
        return torch.stack(out)

    def extra_repr(self) -> str:
        return f"channels={self.alpha.shape[0]}, tau={self.tau}, v={self.v}, alpha={self.per}"


class Voting(torch.nn.Module):
    """Voting output layer (Wu et al., AAAI 2019): ``classes * group`` output neurons, each
    class's output the mean of its group of ``group`` neurons, ``[T, B, classes]``."""

    def __init__(self, classes: int, group: int) -> None:
        super().__init__()
        self.classes = int(classes)
        self.group = int(group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.classes * self.group:
            raise ValueError(f"voting over {self.classes} classes x {self.group} needs "
                             f"{self.classes * self.group} inputs, got {x.shape[-1]}")
        return x.reshape(*x.shape[:-1], self.classes, self.group).mean(-1)

    def extra_repr(self) -> str:
        return f"classes={self.classes}, group={self.group}"
