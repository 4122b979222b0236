"""Integer mode of the torch network: the fixed-point LIF arithmetic of
``docs/fixed-point.md`` in torch, giving exactly the golden model's spikes.

Values are held in float64 tensors that only ever contain integers (exact below 2**53), so
the same code runs on CPU and GPU. Used to check the quantized network from the torch side.
"""

from __future__ import annotations

import torch

from .qat import integer_lif_steps

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
        self.leak_frac_bits = int(leak_frac_bits)
        self.membrane_min = int(membrane_min)
        self.membrane_max = int(membrane_max)
        self.reset = reset
        self.saturations = 0

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        out, saturations = integer_lif_steps(
            spikes.to(torch.float64), self.weight, self.bias, threshold=self.threshold,
            leak_mult=self.leak_mult, leak_frac_bits=self.leak_frac_bits,
            membrane_min=self.membrane_min, membrane_max=self.membrane_max, reset=self.reset,
            fire=lambda u: (u >= self.threshold).to(u.dtype))
        self.saturations += saturations
        return out.to(spikes.dtype)
