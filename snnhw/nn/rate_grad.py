"""Layer-level backward passes that are not surrogate BPTT: HM2-BP and the leak-aware derivative.

Both run a synapse -> LIF pair's forward pass exactly (float LIF, or the integer arithmetic
under quantization-aware training) and replace its backward.

Leak-aware derivative (Lee, Sarwar, Panda, Srinivasan, Roy, Front. Neurosci. 14:119, 2020,
eq. 8-11): a neuron's output relates to its input current through

    f_i = (1 / V_th) (1 + ln(tau) * a_i / gamma_i)

``a_i`` the leaky-filtered spike count ``a <- tau a + o`` at the end of the window and
``gamma_i`` the spike count (no correction where ``gamma_i = 0``). Applied as the authors'
code applies it (github.com/chan8972/Enabling_Spikebased_Backpropagation, read, not copied):
spike by spike, ``dL/du[t] = f dL/do[t] o[t] + (1 - o[t]) dL/du[t+1]``, the membrane's leak
passed straight through and the path stopped by the reset, so the current of step ``t``
gets the error of the next spike it led to, and a neuron that stays silent gets none.
Gradients reach the synapse through the current, so any linear synapse works (dense, conv,
pooling).

HM2-BP relates a neuron's spike count ``n_i = sum_t o_i[t]`` over the window to its inputs in
closed form and backpropagates through that relation instead of unrolling time: the pair
returns

    o + (p - p.detach()) / T

where ``p`` is a differentiable proxy of the count whose derivatives are the method's. The
forward value is the exact spike train; the backward pass gets ``dL/dp = mean_t dL/do[t]``,
which equals ``dL/dn`` for every loss of counts or rates.

HM2-BP (Jin, Zhang, Li, NeurIPS 2018). Macro level: ``n_i ~ a_i / V_th`` with
``a_i = sum_j w_ij e_ij + b_i c_i``, where the spike-train-level PSP ``e_ij`` sums, over
each output spike at ``t``, the input spikes of ``j`` inside that inter-spike interval
weighted by the membrane kernel of the iterative LIF, ``tau^(t - m)``:

    e_ij = sum_{t: o_i[t] = 1} sum_{m = r(t)}^{t} tau^(t - m) x_j[m]

``r(t)`` the step after the previous output spike (hard reset), ``c_i`` the same sum with
``x = 1`` (the bias's PSP). Micro level (decoupled S-PSP, ``de_ij/dn_j ~ e_ij / n_j``):
``dn_i/dw_ij = e_ij / V_th`` and ``dn_i/dn_j = w_ij e_ij / (V_th n_j)``. Dense synapses only.

Silent neurons: by the definition above a neuron without output spikes has ``e = 0`` and can
never learn to fire, which stalls training whenever a class's output neuron falls silent.
snnhw (not the paper) gives a silent neuron one *virtual* output spike at the last step:
its S-PSP is the membrane kernel over the whole window, ``sum_m tau^(T-1-m) x_j[m]``.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .lif import LIF, carry_back

__all__ = ["hm2bp_forward", "hm2bp_kernel", "leak_aware_factor", "leak_aware_forward"]

SpikeFn = Callable[[torch.Tensor], torch.Tensor]


def _exact_spikes(lif: LIF, current: torch.Tensor, spikes: SpikeFn | None) -> torch.Tensor:
    with torch.no_grad():
        return spikes(current) if spikes is not None else lif(current)


def _attach(spikes: torch.Tensor, proxy: torch.Tensor) -> torch.Tensor:
    """Exact spikes forward; ``d out[t] / d proxy = 1/T`` backward."""
    return spikes + ((proxy - proxy.detach()) / spikes.shape[0]).unsqueeze(0)


def leak_aware_factor(spikes: torch.Tensor, tau: float, threshold: float) -> torch.Tensor:
    """``(1/V_th)(1 + ln(tau) a / gamma)`` per neuron from spikes ``[T, B, ...]``."""
    filtered = torch.zeros_like(spikes[0])
    for t in range(spikes.shape[0]):
        filtered = tau * filtered + spikes[t]
    count = spikes.sum(0)
    correction = torch.where(count > 0, math.log(tau) * filtered / count.clamp(min=1),
                             torch.zeros_like(count))
    return (1.0 + correction) / threshold


class _LeakAwareSpikes(torch.autograd.Function):
    """The exact spikes ``o`` forward; backward the leak-aware derivative applied spike by
    spike: ``dL/dI[t] = dL/du[t] = f dL/do[t] o[t] + (1 - o[t]) dL/du[t+1]``, ``f`` the
    per-neuron factor (:func:`leak_aware_factor`). An input current reaches the error of the
    next spike it led to, through the membrane with the leak passed straight through and
    stopped by the reset; a step with no spike at or after it gets none."""

    @staticmethod
    def forward(ctx, current: torch.Tensor, spikes: torch.Tensor,  # type: ignore[override]
                factor: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(spikes, factor)
        return spikes.clone()

    @staticmethod
    def backward(ctx, grad_spikes: torch.Tensor):  # type: ignore[override]
        spikes, factor = ctx.saved_tensors
        return carry_back(grad_spikes * spikes * factor, 1.0 - spikes), None, None


def leak_aware_forward(synapse: torch.nn.Module, lif: LIF, x: torch.Tensor,
                       spikes: SpikeFn | None = None) -> torch.Tensor:
    """Spikes ``[T, B, ...]`` of ``synapse -> lif`` on ``x``, with the leak-aware backward.

    ``spikes(current)`` overrides the forward spike computation (quantization-aware training).
    """
    current = synapse(x)   # the multi-step layers take [T, B, ...] themselves
    out = _exact_spikes(lif, current.detach(), spikes)
    factor = leak_aware_factor(out, lif.tau, lif.threshold)
    return _LeakAwareSpikes.apply(current, out, factor)


def hm2bp_kernel(spikes: torch.Tensor, tau: float) -> torch.Tensor:
    """``k[m, b, i] = sum_{t >= m: o_i[t] = 1, r(t) <= m} tau^(t - m)``, ``[T, B, N]``.

    The weight of input step ``m`` in neuron ``i``'s S-PSPs, so that
    ``e_ij = sum_m k[m, b, i] x_j[m]``; silent neurons get a virtual spike at ``T - 1``.
    """
    steps = spikes.shape[0]
    kernel = torch.zeros_like(spikes)
    shape = (steps,) + (1,) * (spikes.dim() - 1)
    step_index = torch.arange(steps, device=spikes.device).reshape(shape)
    window_start = torch.zeros_like(spikes[0], dtype=torch.long)
    for t in range(steps):
        fired = spikes[t] > 0
        decay = (tau ** (t - step_index[:t + 1]).to(spikes.dtype)) * fired
        kernel[:t + 1] += decay * (step_index[:t + 1] >= window_start)
        window_start = torch.where(fired, torch.full_like(window_start, t + 1), window_start)
    silent = (spikes.sum(0) == 0).to(spikes.dtype)
    kernel += silent * tau ** (steps - 1 - step_index).to(spikes.dtype)
    return kernel


def hm2bp_forward(dense: torch.nn.Linear, lif: LIF, x: torch.Tensor,
                  spikes: SpikeFn | None = None) -> torch.Tensor:
    """Spikes ``[T, B, out]`` of ``dense -> lif`` on ``x`` ``[T, B, in]`` with HM2-BP's backward."""
    if x.dim() != 3:
        raise ValueError(f"HM2-BP needs dense synapses on [T, B, F] inputs, got {tuple(x.shape)}")
    current = dense(x.detach())
    out = _exact_spikes(lif, current, spikes)
    kernel = hm2bp_kernel(out, lif.tau)                       # [T, B, out]
    x_const = x.detach()
    psp = torch.einsum("mbi,mbj->bij", kernel, x_const)       # e_ij, [B, out, in]
    in_count = x_const.sum(0)                                 # n_j, [B, in]
    ratio = psp / in_count.clamp(min=1).unsqueeze(1)          # e_ij / n_j (0 where n_j = 0)
    live_count = x.sum(0)                                     # carries the error to layer below
    proxy = torch.einsum("ij,bij,bj->bi", dense.weight, ratio, live_count)
    if dense.bias is not None:
        proxy = proxy + dense.bias * kernel.sum(0)
    return _attach(out, proxy / lif.threshold)
