"""Multi-step leaky integrate-and-fire neurons on ``[T, B, ...]`` tensors.

STBP's iterative LIF (Wu et al. 2018, eq. 4-6), written with the leak applied to the
membrane left after the previous step's reset:

* hard reset (``reset="zero"``):      ``u[t] = tau * u[t-1] * (1 - o[t-1]) + I[t]``
* soft reset (``reset="subtract"``):  ``u[t] = tau * (u[t-1] - threshold * o[t-1]) + I[t]``
* fire:                               ``o[t] = 1 if u[t] >= threshold else 0``

``I[t]`` is the synaptic input of step t (``W x[t] + b`` for a dense layer); ``u[0] = 0``.
All quantities are dimensionless membrane units. The integer version of the same order of
operations is specified in ``docs/fixed-point.md``.
"""

from __future__ import annotations

import torch

from .surrogate import spike

__all__ = ["LIF", "RESETS"]

RESETS = ("zero", "subtract")


class LIF(torch.nn.Module):
    """Multi-step LIF layer: input currents ``[T, B, ...]`` -> spikes ``[T, B, ...]`` in {0, 1}.

    Parameters
    ----------
    tau:
        Leak (decay) factor per timestep, in ``[0, 1]``; snnTorch calls it ``beta``.
    threshold:
        Firing threshold, > 0, in membrane units.
    reset:
        ``"zero"`` (hard reset to 0) or ``"subtract"`` (soft reset: subtract the threshold).
    surrogate, width:
        Name of the surrogate derivative (see ``snnhw.nn.surrogate``) and its width ``a``.
    """

    def __init__(self, *, tau: float, threshold: float, reset: str = "zero",
                 surrogate: str = "rectangular", width: float = 1.0) -> None:
        super().__init__()
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must be in [0, 1], got {tau!r}")
        if not threshold > 0:
            raise ValueError(f"threshold must be > 0, got {threshold!r}")
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
        self.tau = float(tau)
        self.threshold = float(threshold)
        self.reset = reset
        self.surrogate = surrogate
        self.width = float(width)

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        u = torch.zeros_like(current[0])
        o = torch.zeros_like(current[0])
        spikes = []
        for t in range(current.shape[0]):
            if self.reset == "zero":
                u = self.tau * u * (1.0 - o) + current[t]
            else:
                u = self.tau * (u - self.threshold * o) + current[t]
            o = spike(u - self.threshold, self.surrogate, self.width)
            spikes.append(o)
        return torch.stack(spikes)

    def extra_repr(self) -> str:
        return (f"tau={self.tau}, threshold={self.threshold}, reset={self.reset!r}, "
                f"surrogate={self.surrogate!r}, width={self.width}")
