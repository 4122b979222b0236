"""Choosing a configuration for a target: lanes per core, weight and membrane memory from
estimates.

``snnhw build model.pt --target ice40-up5k`` considers every lane count (``LANES``) with
every weight memory the device offers (``rom`` everywhere; ``spram`` where it has SPRAM) and
every membrane memory (``bram``; ``banked``: a convolution's membranes in K block-RAM banks,
a kernel row per clock; ``spram`` where it has SPRAM: single-ported, so those cores take two
clocks per update) and takes the fastest configuration whose estimated resources fit:
block RAMs and SPRAMs
(:func:`snnhw.targets.estimate_resources`), logic cells (:func:`snnhw.targets.estimate_logic`).
Speed is the throughput bound in cycles per timestep (:func:`snnhw.cycles.bound`, on the test
samples given); on equal speed the smaller design (fewer lanes, then ``rom``: nothing to load
at run time, then ``bram`` membranes) wins. Every configuration considered is kept, with what ruled it out, for the
report. A lane count or weight memory the user gives is kept and only checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from . import SnnhwError, ir
from .hdl.layout import LANES
from .hdl.network import membrane_styles
from .targets import TARGETS, Target, estimate_logic, estimate_resources

__all__ = ["Choice", "Configuration", "DoesNotFit", "choose", "configurations"]


class DoesNotFit(SnnhwError):
    """No configuration of the network fits the target by the estimates."""


@dataclass(frozen=True)
class Configuration:
    """One point of the design space on one target, from estimates.

    ``cycles_per_timestep``: the throughput bound (mean over the samples given; ``None``
    without samples); ``us_per_sample`` at the clock asked of nextpnr (``Target.clock_mhz``);
    ``cells``: logic cells (LUTs + flip-flops); ``limit``: what does not fit, ``None`` when
    everything does."""

    target: str
    lanes: int
    weight_memory: str
    brams: int
    sprams: int
    cells: int
    cycles_per_timestep: float | None
    us_per_sample: float | None
    limit: str | None
    membrane_memory: str = "bram"

    @property
    def fits(self) -> bool:
        return self.limit is None

    def describe(self) -> str:
        return (f"P={self.lanes}, {self.weight_memory} weights"
                + (f", {self.membrane_memory} membranes" if self.membrane_memory != "bram"
                   else ""))


@dataclass(frozen=True)
class Choice:
    """The configuration taken, why, and every one considered (fastest first)."""

    chosen: Configuration
    reason: str
    considered: tuple[Configuration, ...]

    def to_json(self) -> dict[str, Any]:
        return {"target": self.chosen.target, "chosen": asdict(self.chosen),
                "reason": self.reason,
                "considered": [asdict(c) for c in self.considered]}


def _limit(target: Target, brams: int, sprams: int, cells: int) -> str | None:
    over = []
    if brams > target.brams:
        over.append(f"{brams} block RAMs of {target.brams}")
    if sprams > target.sprams:
        over.append(f"{sprams} SPRAMs of {target.sprams}")
    if cells > target.logic_cells:
        over.append(f"~{cells} logic cells of {target.logic_cells}")
    return ", ".join(over) or None


def configurations(net: ir.Network, target: Target,
                   cycles_per_timestep: Callable[[int, list[str]], float] | None = None
                   ) -> list[Configuration]:
    """Every lane count with every weight and membrane memory ``target`` offers, fastest
    first (on equal speed: fewer lanes, then ``rom``, then ``bram``).
    ``cycles_per_timestep(lanes, membranes)``: the network's throughput bound at that lane
    count with the layers' membrane styles (:func:`snnhw.hdl.network.membrane_styles`);
    without it, most lanes first (the bound never grows with the lanes)."""
    memories = ("rom", "spram") if target.sprams else ("rom",)
    membrane_memories = ("bram", "banked") + (("spram",) if target.sprams else ())
    points = []
    for lanes in LANES:
        for memory in memories:
            for membranes in membrane_memories:
                styles = membrane_styles(net, lanes, memory, membranes)
                if membranes != "bram" and membranes not in styles:
                    continue            # no layer's membranes fit the SPRAMs left, or bank
                cells = estimate_logic(net, target, lanes=lanes, membranes=styles)
                cycles = cycles_per_timestep(lanes, styles) if cycles_per_timestep else None
                estimate = estimate_resources(net, target, lanes=lanes, weight_memory=memory,
                                              membrane_memory=membranes)
                brams, sprams = estimate["brams_needed"], estimate["sprams_needed"]
                points.append(Configuration(
                    target=target.name, lanes=lanes, weight_memory=memory, brams=brams,
                    sprams=sprams, cells=cells, cycles_per_timestep=cycles,
                    us_per_sample=(cycles * net.timesteps / target.clock_mhz
                                   if cycles is not None else None),
                    limit=_limit(target, brams, sprams, cells), membrane_memory=membranes))

    def simpler(c: Configuration) -> tuple:
        return c.weight_memory != "rom", c.membrane_memory != "bram"
    if cycles_per_timestep is None:
        return sorted(points, key=lambda c: (-c.lanes, *simpler(c)))
    return sorted(points, key=lambda c: (c.cycles_per_timestep, c.lanes, *simpler(c)))


def _fitting_elsewhere(net: ir.Network, target: Target,
                       cycles_per_timestep: Callable[[int, list[str]], float]) -> list[str]:
    """The other targets where some configuration fits, with the fastest one."""
    found = []
    for other in TARGETS.values():
        if other.name == target.name:
            continue
        fitting = [c for c in configurations(net, other, cycles_per_timestep) if c.fits]
        if fitting:
            found.append(f"--target {other.name} ({fitting[0].describe()})")
    return found


def choose(net: ir.Network, target_name: str,
           cycles_per_timestep: Callable[[int, list[str]], float], *,
           lanes: int | None = None, weight_memory: str | None = None,
           membrane_memory: str | None = None) -> Choice:
    """The fastest configuration of ``net`` that fits ``target_name`` by the estimates,
    among those with the ``lanes``, ``weight_memory`` and ``membrane_memory`` given
    (``None``: any). Raises
    :class:`DoesNotFit` naming the target, what the nearest configuration needs and what
    would fit (other lane counts, memories, targets) when none does."""
    if target_name not in TARGETS:
        raise SnnhwError(f"--target {target_name!r}: unknown; allowed: {', '.join(TARGETS)}")
    target = TARGETS[target_name]
    if weight_memory == "spram" and not target.sprams:
        raise SnnhwError(f"--weight-memory spram: {target.name} has no SPRAM; use "
                         f"--weight-memory rom")
    if membrane_memory == "spram" and not target.sprams:
        raise SnnhwError(f"--membrane-memory spram: {target.name} has no SPRAM; use "
                         f"--membrane-memory bram")
    considered = configurations(net, target, cycles_per_timestep)
    allowed = [c for c in considered if (lanes is None or c.lanes == lanes)
               and (weight_memory is None or c.weight_memory == weight_memory)
               and (membrane_memory is None or c.membrane_memory == membrane_memory)]
    fitting = [c for c in allowed if c.fits]
    if fitting:
        chosen = fitting[0]
        faster = [c for c in allowed if c.cycles_per_timestep < chosen.cycles_per_timestep]
        if faster:
            why = (f"the fastest that fits; faster ones need {faster[-1].limit} "
                   f"({faster[-1].describe()})")
        else:
            why = "the fastest configuration" + (" allowed" if len(allowed) < len(considered)
                                                 else "")
        return Choice(chosen, why, tuple(considered))
    smallest = min(allowed, key=lambda c: (c.lanes, c.brams + c.sprams))
    other = [c.describe() for c in considered if c.fits]
    options = ([f"on {target.name}: {', '.join(other[:3])}"] if other else []) + \
        _fitting_elsewhere(net, target, cycles_per_timestep)
    raise DoesNotFit(
        f"{net.name} does not fit {target.name}: {smallest.describe()} needs "
        f"{smallest.limit} (memories {estimate_resources(net, target)['memory_bits']} bits); "
        + (f"would fit: {'; '.join(options)}" if options else
           "no configuration fits any target: fewer weight bits (--fixed) or a smaller network"))
