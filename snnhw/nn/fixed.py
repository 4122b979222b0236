"""Integer mode of the torch network: the fixed-point LIF arithmetic of
``docs/fixed-point.md`` in torch, giving exactly the golden model's spikes.

Values are held in float64 tensors that only ever contain integers (exact below 2**53), so
the same code runs on CPU and GPU. Used to check the quantized network from the torch side.
"""

from __future__ import annotations

import torch

__all__ = ["FixedPointLIFDense"]


class FixedPointLIFDense(torch.nn.Module):
    """A dense layer of integer LIF neurons: spikes ``[T, B, in]`` -> spikes ``[T, B, out]``.

    ``weight`` ``[out, in]`` and ``bias`` ``[out]`` are integer LSBs; ``membrane_min``/``_max``
    the saturation range; ``leak_mult / 2**leak_frac_bits`` the leak, rounded toward zero.
    """

    def __init__(self, *, weight: torch.Tensor, bias: torch.Tensor, threshold: int,
                 leak_mult: int, leak_frac_bits: int, membrane_min: int, membrane_max: int,
                 reset: str) -> None:
        super().__init__()
        self.register_buffer("weight", weight.to(torch.float64))
        self.register_buffer("bias", bias.to(torch.float64))
        self.threshold = int(threshold)
        self.leak_mult = int(leak_mult)
        self.leak_divisor = float(1 << leak_frac_bits)
        self.membrane_min = int(membrane_min)
        self.membrane_max = int(membrane_max)
        self.reset = reset
        self.saturations = 0

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        x = spikes.to(torch.float64)
        carried = torch.zeros(x.shape[1], self.weight.shape[0], dtype=torch.float64,
                              device=x.device)
        out = []
        for t in range(x.shape[0]):
            pre = carried + x[t] @ self.weight.T + self.bias
            u = pre.clamp(self.membrane_min, self.membrane_max)
            self.saturations += int((u != pre).sum())
            fired = u >= self.threshold
            if self.reset == "zero":
                r = torch.where(fired, torch.zeros_like(u), u)
            else:
                r = torch.where(fired, u - self.threshold, u)
            carried = torch.trunc(r * self.leak_mult / self.leak_divisor)
            out.append(fired.to(spikes.dtype))
        return torch.stack(out)
