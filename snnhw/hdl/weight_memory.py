"""Weight memory of a layer core: ``depth`` words of ``width`` bits, read with a latency of two
clocks.

Two styles, chosen per layer by the generator (``snnhw build --weight-memory``):

* ``"rom"``: contents from the IR in the bitstream (``init``; without it the banks are
  built empty and :mod:`snnhw.hdl.emit` loads them from memory images), split into banks of at most
  :func:`bank_depth` words (one block RAM or a few side by side, so no deep cascade of block
  RAMs and their output multiplexers). Only the bank holding the address is read (its read
  enable is the bank decode: one block RAM active per read, not all of them). Every bank's
  read word is registered (cleared when another bank was read), and the word is the OR of
  the registers: block RAM clock-to-out and bank selection sit in separate clock cycles
  (ECP5 DP16KD, iCE40 EBR).
* ``"loaded"``: no initial contents; the words are written at run time through ``load``
  before the first read. One read/write port shared by loading and reading, reads disabled
  while writing: the form Yosys maps onto iCE40 UP SPRAM (``synth_ice40 -spram``), which
  cannot be initialised by the bitstream. The read word is registered once more, as in
  ``"rom"``.

Reads are never stalled (the core only stalls during a sweep, when no weight word is in
flight); a bank's enable only selects the bank.
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["WEIGHT_STYLES", "WeightMemory", "bank_depth", "load_layout"]

WEIGHT_STYLES = ("rom", "loaded")
BANK_BITS = 16384          # data bits of one block RAM (ECP5 DP16KD without its ninth bits)
MIN_BANK_DEPTH = 512       # the deepest DP16KD aspect at its widest port (512 x 36)


def bank_depth(width: int) -> int:
    """Words per bank of a ``"rom"`` memory ``width`` bits wide: the power of two that fills
    one block RAM (``BANK_BITS``), at least ``MIN_BANK_DEPTH`` (wide words then take a few
    block RAMs side by side)."""
    words = max(1, BANK_BITS // width)
    return max(MIN_BANK_DEPTH, 1 << (words.bit_length() - 1))


def load_layout(depth: int, width: int) -> data.StructLayout:
    """Payload of one run-time weight write: word address and word."""
    return data.StructLayout({"addr": range(max(2, depth)), "data": width})


class WeightMemory(wiring.Component):
    """Weight words, read latency two clocks.

    Ports
    -----
    addr: In(range(depth))
        Word address read this cycle.
    data: Out(width)
        The word at the address presented two cycles earlier.
    load: In(stream of {addr, data})
        ``"loaded"`` only: word writes, taken one per clock.
    """

    def __init__(self, *, depth: int, width: int, style: str = "rom",
                 init: list[int] | None = None) -> None:
        if style not in WEIGHT_STYLES:
            raise ValueError(f"style must be one of {WEIGHT_STYLES}, got {style!r}")
        if style == "rom" and init is not None and len(init) != depth:
            raise ValueError(f"a 'rom' weight memory needs {depth} initial words, got "
                             f"{len(init)}")
        self.depth, self.width, self.style = depth, width, style
        self.init = init
        ports = {"addr": In(range(max(2, depth))), "data": Out(width)}
        if style == "loaded":
            ports["load"] = In(stream.Signature(load_layout(depth, width)))
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        if self.style == "loaded":
            self._loaded(m)
        else:
            self._banked(m)
        return m

    def _loaded(self, m: Module) -> None:
        words = memory.Memory(shape=unsigned(self.width), depth=self.depth, init=[])
        m.submodules.words = words
        wr = words.write_port()
        # an asynchronous read port and a register enabled while not writing, rather than a
        # synchronous port: Yosys then merges the register into the port itself and sees that
        # the read and the write never collide, which SPRAM needs. A synchronous port reaches
        # Yosys as read-first (the board flow's RTLIL), which SPRAM cannot give.
        rd = words.read_port(domain="comb")
        writing = Signal()
        word = Signal(self.width)
        m.d.comb += [
            writing.eq(self.load.valid),
            self.load.ready.eq(1),
            wr.addr.eq(Mux(writing, self.load.payload.addr, self.addr)),
            rd.addr.eq(wr.addr),
            wr.data.eq(self.load.payload.data),
            wr.en.eq(writing),
        ]
        with m.If(~writing):
            m.d.sync += word.eq(rd.data)
        m.d.sync += self.data.eq(word)

    def _banked(self, m: Module) -> None:
        per_bank = bank_depth(self.width)
        banks = -(-self.depth // per_bank)
        low_bits = (per_bank - 1).bit_length()
        bank_of_read = Signal(range(max(2, banks)))       # bank read in the previous cycle
        m.d.sync += bank_of_read.eq(self.addr >> low_bits)
        # each bank's output register holds its word only when that bank was read, else 0
        # (a synchronous reset of the register), so the word is the OR of the registers: a
        # shallow OR tree instead of a wide multiplexer behind a select register
        registered = []
        for b in range(banks):
            size = min(per_bank, self.depth - b * per_bank)
            contents = self.init[b * per_bank:(b + 1) * per_bank] if self.init else []
            bank = memory.Memory(shape=unsigned(self.width), depth=size, init=contents)
            m.submodules[f"bank{b}"] = bank
            rd = bank.read_port()
            m.d.comb += rd.addr.eq(self.addr[:low_bits] if banks > 1 else self.addr)
            if banks > 1:  # the other banks keep their last word; their registers clear
                m.d.comb += rd.en.eq((self.addr >> low_bits) == b)
            word = Signal(self.width, name=f"bank{b}_word")
            m.d.sync += word.eq(Mux(bank_of_read == b, rd.data, 0))
            registered.append(word)
        m.d.comb += self.data.eq(reduce(operator.or_, registered))
