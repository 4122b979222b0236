"""Integer mode of the torch network: the fixed-point LIF arithmetic of
``docs/fixed-point.md`` in torch, giving exactly the golden model's spikes.

Values are held in float64 tensors that only ever contain integers (exact below 2**53), so
the same code runs on CPU and GPU. Used to check the quantized network from the torch side.
"""

from __future__ import annotations

import torch

from .qat import integer_lif_steps

__all__ = ["FixedPointLIF", "NeuNormTerm", "SumPoolConv", "SumPoolDense"]


class FixedPointLIF(torch.nn.Module):
    """One IR layer of integer LIF neurons: spikes ``[T, B, in]`` -> spikes ``[T, B, out]``;
    with ``threshold=None`` a leaky-integrator readout, whose output is its membranes
    ``[T, B, out]`` (float64, integer-valued).

    ``synapse`` maps one batch of input events ``[N, in]`` (float64 counts) to the synaptic
    sums ``[N, ...]`` (dense: ``[N, out]``; convolution: ``[N, C_out, OH, OW]``); ``bias``
    broadcasts against them; ``membrane_min``/``_max`` are the saturation range,
    ``leak_mult / 2**leak_frac_bits`` the leak, rounded toward zero. ``aux``: a convolution's
    NeuNorm term, whose ``a >> aux_frac_bits`` every timestep's sums lose.
    """

    def __init__(self, *, synapse: torch.nn.Module, bias: torch.Tensor, threshold: int | None,
                 leak_mult: int, leak_frac_bits: int, membrane_min: int, membrane_max: int,
                 reset: str, aux: "NeuNormTerm | None" = None) -> None:
        super().__init__()
        self.synapse = synapse
        self.aux = aux
        self.register_buffer("bias", bias.to(torch.float64))
        self.threshold = None if threshold is None else int(threshold)
        self.leak_mult = int(leak_mult)
        self.leak_frac_bits = int(leak_frac_bits)
        self.membrane_min = int(membrane_min)
        self.membrane_max = int(membrane_max)
        self.reset = reset
        self.saturations = 0

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        steps, batch = spikes.shape[:2]
        flat = spikes.to(torch.float64).reshape(steps * batch, -1)
        currents = self.synapse(flat)
        currents = currents.reshape(steps, batch, *currents.shape[1:])
        if self.aux is not None:
            currents = currents - self.aux(flat, steps)
        out, saturations = integer_lif_steps(
            currents, self.bias, threshold=self.threshold,
            leak_mult=self.leak_mult, leak_frac_bits=self.leak_frac_bits,
            membrane_min=self.membrane_min, membrane_max=self.membrane_max, reset=self.reset,
            fire=None if self.threshold is None else lambda u: (u >= self.threshold).to(u.dtype))
        self.saturations += saturations
        out = out.reshape(steps, batch, -1)
        return out if self.threshold is None else out.to(spikes.dtype)


class NeuNormTerm(torch.nn.Module):
    """A convolution's NeuNorm term (docs/fixed-point.md): input events ``[T*B, in]`` ->
    ``a[t] >> frac_bits`` ``[T, B, C_out, OH, OW]``, where ``a`` gains, every timestep, the
    channel-summed events convolved with ``kernel`` ``[C_out, K, K]`` and leaks by
    ``leak_mult / 2**leak_frac_bits`` (toward zero) after it."""

    def __init__(self, kernel: torch.Tensor, *, in_shape: tuple[int, int, int], pool: int,
                 stride: int, padding: int, frac_bits: int, leak_mult: int,
                 leak_frac_bits: int) -> None:
        super().__init__()
        self.register_buffer("kernel", kernel.to(torch.float64)[:, None])
        self.in_shape, self.pool, self.stride, self.padding = in_shape, pool, stride, padding
        self.frac_bits, self.leak_mult, self.leak_frac_bits = frac_bits, leak_mult, leak_frac_bits

    def forward(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        counts = sum_pool(x, self.in_shape, self.pool).sum(1, keepdim=True)
        added = torch.nn.functional.conv2d(counts, self.kernel, stride=self.stride,
                                           padding=self.padding)
        added = added.reshape(steps, -1, *added.shape[1:])
        state = torch.zeros_like(added[0])
        out = []
        for t in range(steps):
            state = state + added[t]
            out.append(torch.floor(state / (1 << self.frac_bits)))
            state = torch.trunc(state * self.leak_mult / (1 << self.leak_frac_bits))
        return torch.stack(out)


class SumPoolDense(torch.nn.Module):
    """Dense synapses over input events, after optional ``k x k`` sum pooling of the
    ``in_shape`` map (weights ``[out, synapses]``, integer-valued)."""

    def __init__(self, weight: torch.Tensor, pool: int = 1,
                 in_shape: tuple[int, int, int] | None = None) -> None:
        super().__init__()
        self.register_buffer("weight", weight.to(torch.float64))
        self.pool = pool
        self.in_shape = in_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool > 1:
            x = sum_pool(x, self.in_shape, self.pool).flatten(1)
        return x @ self.weight.T


class SumPoolConv(torch.nn.Module):
    """Convolution over input events, after optional ``k x k`` sum pooling of the
    ``in_shape`` map (weights ``[C_out, C, K, K]``, integer-valued)."""

    def __init__(self, weight: torch.Tensor, *, in_shape: tuple[int, int, int], pool: int,
                 stride: int, padding: int) -> None:
        super().__init__()
        self.register_buffer("weight", weight.to(torch.float64))
        self.in_shape, self.pool, self.stride, self.padding = in_shape, pool, stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = sum_pool(x, self.in_shape, self.pool)
        return torch.nn.functional.conv2d(maps, self.weight, stride=self.stride,
                                          padding=self.padding)


def sum_pool(x: torch.Tensor, in_shape: tuple[int, int, int], pool: int) -> torch.Tensor:
    """``[N, C*H*W]`` events -> ``[N, C, H//k, W//k]`` block sums (exact: an average pool
    times ``k*k`` of integer counts)."""
    maps = x.reshape(x.shape[0], *in_shape)
    if pool == 1:
        return maps
    return torch.nn.functional.avg_pool2d(maps, pool) * (pool * pool)
