"""Multi-step leaky integrate-and-fire neurons on ``[T, B, ...]`` tensors.

STBP's iterative LIF (Wu et al. 2018, eq. 4-6), written with the leak applied to the
membrane left after the previous step's reset:

* hard reset (``reset="zero"``):      ``u[t] = tau * u[t-1] * (1 - o[t-1]) + I[t]``
* soft reset (``reset="subtract"``):  ``u[t] = tau * (u[t-1] - threshold * o[t-1]) + I[t]``
* fire:                               ``o[t] = 1 if u[t] >= threshold else 0``

``I[t]`` is the synaptic input of step t (``W x[t] + b`` for a dense layer); ``u[0] = 0``.
All quantities are dimensionless membrane units. The integer version of the same order of
operations is specified in ``docs/fixed-point.md``.

The forward pass is the same for every training method; ``gradient`` picks the backward:

* ``"surrogate"`` (STBP, NeuNorm): ``dH/du`` replaced by the named surrogate; the reset term
  is differentiated too (Wu et al. 2018 backpropagate through ``u[t] (1 - o[t])``).
* ``"bpsta"`` (Shen, Zhao, Zeng 2022): the reset is detached, and two adjustments can be
  switched on separately. Spatial adjustment: ``do/du = 1/u`` where the neuron fired and 0
  where it did not (silent neurons do not steer the weight update). Temporal adjustment: an
  extra path ``du[t+1]/do[t] = 0.2 * tau`` that carries error across spikes; it adds nothing
  to the forward value. With both off it is plain surrogate BPTT with a detached reset.
* ``"leak_aware"`` and ``"hm2bp"`` replace the whole layer's backward (see
  ``snnhw.nn.rate_grad``); the LIF itself only runs forward there.
"""

from __future__ import annotations

import torch

from .surrogate import SURROGATES, spike

__all__ = ["GRADIENTS", "LI", "LIF", "RESETS"]

RESETS = ("zero", "subtract")
GRADIENTS = ("surrogate", "bpsta", "leak_aware", "hm2bp")
TEMPORAL_ADJUST_GAIN = 0.2  # du[t+1]/do[t] = 0.2 * tau (BPSTA)


class _SpatiallyAdjustedSpike(torch.autograd.Function):
    """``o = H(u - threshold)``; backward ``do/du = 1/u`` where ``o = 1``, else 0 (BPSTA)."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, threshold: float) -> torch.Tensor:  # type: ignore[override]
        o = (u >= threshold).to(u.dtype)
        ctx.save_for_backward(u, o)
        return o

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        u, o = ctx.saved_tensors
        return grad_output * o / torch.where(o > 0, u, torch.ones_like(u)), None


class _FusedLIF(torch.autograd.Function):
    """The surrogate-gradient LIF over all T timesteps as one autograd node: the forward and
    backward loops run on plain tensors, with no graph of ~6 nodes per timestep. Values and
    gradients are those of the per-step form (``LIF._run``, ``gradient="surrogate"``): the
    reset path is differentiated (``do[t]`` reaches ``u[t+1]`` through the reset) and ``dH/du``
    is the named surrogate of ``u - threshold``."""

    @staticmethod
    def forward(ctx, current: torch.Tensor, tau: float, threshold: float,  # type: ignore[override]
                zero_reset: bool, surrogate: str, width: float) -> torch.Tensor:
        # the per-step form's values exactly (so the same spikes at the threshold), four
        # in-place operations per step: with o in {0, 1}, tau u (1 - o) is u tau or a zero,
        # and tau (u - threshold o) is tau u or tau (u - threshold)
        membranes = torch.empty_like(current)
        fired = torch.empty(current.shape, dtype=torch.bool, device=current.device)
        # per-step views taken once (indexing in the loop costs as much as the arithmetic)
        u_, o_, i_ = membranes.unbind(0), fired.unbind(0), current.unbind(0)
        for t in range(current.shape[0]):
            u = u_[t]
            if t == 0:
                u.copy_(i_[0])              # nothing carried into the first step
            elif zero_reset:
                torch.mul(u_[t - 1], tau, out=u)
                u.masked_fill_(o_[t - 1], 0.0).add_(i_[t])
            else:
                torch.where(o_[t - 1], u_[t - 1] - threshold, u_[t - 1], out=u)
                u.mul_(tau).add_(i_[t])
            torch.ge(u, threshold, out=o_[t])
        ctx.save_for_backward(membranes, fired)
        ctx.settings = (tau, threshold, zero_reset, surrogate, width)
        return fired.to(current.dtype)

    @staticmethod
    def backward(ctx, grad_spikes: torch.Tensor):  # type: ignore[override]
        # dL/du[t] = dL/do[t] s[t] + dL/du[t+1] du[t+1]/du[t] with the reset differentiated:
        # zero reset, u[t+1] = tau u[t] (1 - o[t]) + I:   G[t] + K[t] dL/du[t+1],
        #   G = dL/do s, K = tau ((1 - o) - u s);
        # subtract,  u[t+1] = tau (u[t] - threshold o[t]) + I:  K = tau (1 - threshold s);
        # s = dH/du, the surrogate. G and K for all T at once, then one fused op per step.
        membranes, fired = ctx.saved_tensors
        tau, threshold, zero_reset, surrogate, width = ctx.settings
        slope = SURROGATES[surrogate](membranes - threshold, width)
        direct = grad_spikes * slope
        if zero_reset:   # (1 - o) - u s, as -u s + (1 - o): the same sums, one new tensor
            carry = torch.mul(membranes, slope).neg_().add_(~fired).mul_(tau)
        else:
            carry = (1.0 - threshold * slope).mul_(tau)
        return carry_back(direct, carry), None, None, None, None, None


def carry_back(direct: torch.Tensor, carry: torch.Tensor) -> torch.Tensor:
    """The error of every step's membrane, ``[T, ...]``: ``g[T-1] = d[T-1]`` and
    ``g[t] = d[t] + k[t] g[t+1]`` backward in time (``d``: ``direct``, the error through this
    step's spike; ``k``: ``carry``, ``du[t+1]/du[t]``), one fused multiply-add per step."""
    grad = torch.empty_like(direct)
    g_, d_, k_ = grad.unbind(0), direct.unbind(0), carry.unbind(0)
    last = direct.shape[0] - 1
    g_[last].copy_(d_[last])
    for t in range(last - 1, -1, -1):
        torch.addcmul(d_[t], k_[t], g_[t + 1], out=g_[t])
    return grad


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
    gradient:
        One of ``GRADIENTS`` (module docstring).
    spatial_adjust, temporal_adjust:
        BPSTA's two adjustments, used only with ``gradient="bpsta"``.
    """

    def __init__(self, *, tau: float, threshold: float, reset: str = "zero",
                 surrogate: str = "rectangular", width: float = 1.0,
                 gradient: str = "surrogate", spatial_adjust: bool = True,
                 temporal_adjust: bool = True) -> None:
        super().__init__()
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must be in [0, 1], got {tau!r}")
        if not threshold > 0:
            raise ValueError(f"threshold must be > 0, got {threshold!r}")
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
        if gradient not in GRADIENTS:
            raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
        if surrogate not in SURROGATES:
            raise ValueError(f"unknown surrogate {surrogate!r}; known: {sorted(SURROGATES)}")
        if not width > 0:
            raise ValueError(f"surrogate width must be > 0, got {width!r}")
        if gradient == "leak_aware" and not tau > 0:
            raise ValueError("the leak-aware derivative needs tau > 0 (it uses ln(tau))")
        self.gradient = gradient
        self.spatial_adjust = bool(spatial_adjust)
        self.temporal_adjust = bool(temporal_adjust)
        self.tau = float(tau)
        self.threshold = float(threshold)
        self.reset = reset
        self.surrogate = surrogate
        self.width = float(width)

    def fire(self, excess: torch.Tensor) -> torch.Tensor:
        """Spikes of ``excess = u - threshold`` (membrane units) with this layer's backward."""
        if self.gradient == "bpsta" and self.spatial_adjust:
            return _SpatiallyAdjustedSpike.apply(excess + self.threshold, self.threshold)
        return spike(excess, self.surrogate, self.width)

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        if self.gradient == "surrogate":
            return _FusedLIF.apply(current, self.tau, self.threshold, self.reset == "zero",
                                   self.surrogate, self.width)
        return self._run(current, None)

    def membranes(self, current: torch.Tensor) -> torch.Tensor:
        """Membranes ``[T, ...]`` of ``current`` ``[T, ...]``: ``u[t]`` after integration,
        before fire and reset (what the threshold is compared with), in membrane units."""
        membranes: list[torch.Tensor] = []
        self._run(current, membranes)
        return torch.stack(membranes)

    def _run(self, current: torch.Tensor, membranes: list[torch.Tensor] | None) -> torch.Tensor:
        u = torch.zeros_like(current[0])
        o = torch.zeros_like(current[0])
        bpsta = self.gradient == "bpsta"
        spikes = []
        for t in range(current.shape[0]):
            gate = o.detach() if bpsta else o
            if self.reset == "zero":
                u = self.tau * u * (1.0 - gate) + current[t]
            else:
                u = self.tau * (u - self.threshold * gate) + current[t]
            if bpsta and self.temporal_adjust:
                u = u + TEMPORAL_ADJUST_GAIN * self.tau * (o - o.detach())
            o = self.fire(u - self.threshold)
            spikes.append(o)
            if membranes is not None:
                membranes.append(u)
        return torch.stack(spikes)

    def extra_repr(self) -> str:
        text = (f"tau={self.tau}, threshold={self.threshold}, reset={self.reset!r}, "
                f"surrogate={self.surrogate!r}, width={self.width}, gradient={self.gradient!r}")
        if self.gradient == "bpsta":
            text += f", spatial_adjust={self.spatial_adjust}, temporal_adjust={self.temporal_adjust}"
        return text


class LI(torch.nn.Module):
    """Multi-step leaky integrator, the readout of NIR's ``LI``: ``u[t] = tau * u[t-1] + I[t]``,
    ``u[0] = 0`` at the start of every sample, and the output is ``u`` itself
    (``[T, B, ...]``), never a spike. Read out as the class with the largest membrane summed
    over the timesteps; the integer version is ``snnhw.ir.LIReadoutLayer``."""

    def __init__(self, *, tau: float) -> None:
        super().__init__()
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau={tau!r}; the leak factor must lie in [0, 1]")
        self.tau = float(tau)

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        u = torch.zeros_like(current[0])
        out = []
        for step in current.unbind(0):
            u = self.tau * u + step
            out.append(u)
        return torch.stack(out)
