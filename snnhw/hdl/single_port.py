"""A layer core's membrane memory on one read/write port (iCE40 UP SPRAM), at half rate.

The core's pipeline reads one membrane word and writes one per clock (a read port transparent
to a write port: two ports). An iCE40 UP SPRAM (``SB_SPRAM256KA``, 16K x 16 bits) has one
port, a read or a write per clock. :class:`SinglePortMemory` gives the core the same two
ports over one, by letting the core's pipeline advance every other clock (``advance``):

* clock 1 of a step (``phase`` 0): the port writes the pipeline's write word, if any;
* clock 2 (``phase`` 1, ``advance``): the port reads the pipeline's read address, if its read
  is enabled; the word is registered at the end of the step, where the core's stage
  registers also move. The read follows the write of the same step, so a read of the word being
  written sees the new value: the transparent read of the two-port form.

The port's own output register (an SPRAM's ``DATAOUT``) is not relied on past the clock after
its read: a write may change it (the SPRAM's simulation model makes it undefined), and the
core still needs the word on the step's second clock, or longer when it stalls. So the word is
taken from the port on the first clock after the read and from a copy in the fabric after
that (``held``).

Seen from the core, every step behaves as one clock of the two-port memory; the core's
cycles double. The memory's contents after configuration are unknown (an SPRAM cannot be
initialised by the bitstream), so after every reset the memory first writes 0 to every
word (``depth`` clocks, ``advance`` low; ``cleared`` rises when done), then runs its steps
while ``run`` is high: the network holds ``run`` low until every such memory is cleared, so
that all of them step in phase (``phase`` is 0 on the first clock of ``run``).

Yosys maps the memory onto SPRAM (``synth_ice40 -spram`` with ``ram_style "huge"``): one
address shared by the read and the write, and the read's register enabled only on clocks
that do not write.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SPRAM_DEPTH", "SPRAM_WIDTH", "SinglePortMemory", "sprams_for"]

SPRAM_DEPTH, SPRAM_WIDTH = 16384, 16    # iCE40 UP SB_SPRAM256KA


def sprams_for(depth: int, width: int) -> int:
    """SPRAMs (16K x 16 bits) one memory of ``depth`` words of ``width`` bits takes: words of
    16 bits or more side by side; narrower words packed a power of two to a 16-bit row (Yosys
    selects one of them by the low address bits)."""
    if width >= SPRAM_WIDTH:
        return -(-width // SPRAM_WIDTH) * -(-depth // SPRAM_DEPTH)
    per_row = 1 << ((SPRAM_WIDTH // width).bit_length() - 1)
    return -(-depth // (SPRAM_DEPTH * per_row))


class SinglePortMemory(wiring.Component):
    """``depth`` words of ``width`` bits; one read and one write per two clocks.

    Ports
    -----
    rd_addr, rd_en: In
        The word read on the step's second clock (when ``rd_en``); ``rd_data`` holds it from
        the next step on (until the next enabled read), as a synchronous read port would.
    wr_addr, wr_data, wr_en: In
        The word written on the step's first clock (when ``wr_en``).
    run: In(1)
        Steps are taken while high (default high: a memory used alone runs once cleared).
    cleared: Out(1)
        Every word has been written 0 since the reset.
    advance: Out(1)
        High on the second clock of every step: the clock on which the core's registers and
        streams may move.
    """

    def __init__(self, *, depth: int, width: int) -> None:
        if depth < 1 or width < 1:
            raise ValueError(f"a memory needs depth and width >= 1, got {depth} x {width}")
        self.depth, self.width = depth, width
        super().__init__({
            "rd_addr": In(range(max(2, depth))), "rd_en": In(1), "rd_data": Out(width),
            "wr_addr": In(range(max(2, depth))), "wr_data": In(width), "wr_en": In(1),
            "run": In(1, init=1), "cleared": Out(1), "advance": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        words = memory.Memory(shape=unsigned(self.width), depth=self.depth, init=[])
        m.submodules.words = words
        wr = words.write_port()
        # an asynchronous read and a register enabled only on clocks that do not write: Yosys
        # merges the register into the port and sees that reads and writes never collide (the
        # form SPRAM needs; see weight_memory.WeightMemory's loaded style)
        rd = words.read_port(domain="comb")
        phase = Signal()                                  # 0: write clock, 1: read clock
        clearing = Signal(init=1)
        clear_addr = Signal(range(max(2, self.depth)))
        writing = Signal()
        m.d.comb += [
            writing.eq(clearing | (~phase & self.wr_en)),
            wr.addr.eq(Mux(clearing, clear_addr, Mux(phase, self.rd_addr, self.wr_addr))),
            rd.addr.eq(wr.addr),
            wr.data.eq(Mux(clearing, 0, self.wr_data)),
            wr.en.eq(writing),
            self.advance.eq(phase),
            self.cleared.eq(~clearing),
        ]
        with m.If(clearing):
            m.d.sync += clear_addr.eq(clear_addr + 1)
            with m.If(clear_addr == self.depth - 1):
                m.d.sync += clearing.eq(0)
        with m.Elif(self.run):
            m.d.sync += phase.eq(~phase)
        port_data = Signal(self.width)     # the port's output register (SPRAM DATAOUT)
        fresh = Signal()                   # port_data was read on the previous clock
        held = Signal(self.width)
        with m.If(~writing & phase & self.rd_en):
            m.d.sync += port_data.eq(rd.data)
        m.d.sync += fresh.eq(~writing & phase & self.rd_en)
        with m.If(fresh):
            m.d.sync += held.eq(port_data)
        m.d.comb += self.rd_data.eq(Mux(fresh, port_data, held))
        return m
