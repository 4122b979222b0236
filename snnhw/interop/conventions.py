"""How each exporter writes its neurons into NIR, and how snnhw reads them back.

NIR states neurons in continuous time (``tau dv/dt = (v_leak - v) + r I``, fire on
``v > v_threshold``, reset to ``v_reset``); a framework that exports NIR runs them in discrete
time with its own step and its own habits. snnhw's discrete neuron (``snnhw.nn.lif``) is

    u[t] = beta * reset(u[t-1]) + gain * I[t] + leak_current,    fire: u[t] >= threshold

so reading a LIF node means choosing ``beta``, ``gain`` (folded into the synapse before it)
and ``leak_current`` (folded into that synapse's bias). A :class:`Convention` does that for
one exporter (docs/nir.md explains each, with the exporters' quirks):

* ``nir``: the NIR equations, forward Euler with the step ``--dt`` (required: NIR files carry
  no time step): ``beta = 1 - dt/tau``, ``gain = r dt/tau``, ``leak_current = v_leak dt/tau``.
* ``snntorch``: forward Euler with snnTorch's fixed ``dt = 1e-4`` (its exporter writes
  ``tau = dt / (1 - beta)``, ``r = tau / dt``, so ``gain = 1``).
* ``norse``: Norse 1.1 writes ``tau = dt / tau_mem_inv`` (not ``1 / tau_mem_inv``), with
  ``dt = 1e-3``, and runs ``v += dt tau_mem_inv (v_leak - v + I)``: so
  ``beta = 1 - dt^2/tau``, ``gain = leak_current / v_leak = dt^2/tau``.
* ``sinabs``: Sinabs runs ``v = alpha v + (1 - alpha) I`` with ``alpha = exp(-1/tau_mem)``
  (``tau_mem`` in timesteps, ``norm_input=True``, the default of its LIF layer), resets by
  subtraction by default, and its exporter records neither.
* ``snnhw``: files written by ``snnhw export`` (the graph's metadata names the exporter and
  its ``dt``): forward Euler with that ``dt``.

IF nodes integrate ``r I`` per timestep (every exporter writes discrete integrate-and-fire
neurons so), Threshold nodes are neurons without memory (``beta = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CONVENTIONS", "Convention"]


@dataclass(frozen=True)
class Convention:
    """One exporter's reading of a NIR LIF node: its default time step (``None``: the user
    must give one), the discretisation (``"euler"``, ``"norse"`` or ``"exp"``), its default
    reset (``"zero"`` as NIR says, or ``"subtract"`` where the framework's default is that
    and its exporter drops it), and whether that framework's subtraction reset is snnhw's
    (``u - threshold`` before the leak) or not (snnTorch subtracts after it)."""

    name: str
    dt: float | None
    discretisation: str
    reset: str = "zero"
    subtract_before_leak: bool = True

    def lif(self, tau: np.ndarray, r: np.ndarray, v_leak: np.ndarray, dt: float | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(beta, gain, leak_current)`` per neuron from a LIF node's ``tau``, ``r`` and
        ``v_leak`` (arrays of one shape) at the time step ``dt``."""
        if self.discretisation == "exp":
            beta = np.exp(-1.0 / tau)
            return beta, r * (1.0 - beta), v_leak * (1.0 - beta)
        step = dt * dt / tau if self.discretisation == "norse" else dt / tau
        return 1.0 - step, r * step, v_leak * step


CONVENTIONS = {
    "nir": Convention("nir", None, "euler"),
    "snntorch": Convention("snntorch", 1e-4, "euler", subtract_before_leak=False),
    "norse": Convention("norse", 1e-3, "norse"),
    "sinabs": Convention("sinabs", None, "exp", reset="subtract"),
    "snnhw": Convention("snnhw", None, "euler"),
}
