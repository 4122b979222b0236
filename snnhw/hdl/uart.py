"""8N1 UART receiver and transmitter as ``lib.stream`` components.

One start bit (0), 8 data bits LSB first, one stop bit (1); the line idles high. Both sides
count ``divisor = f_clk / baud`` clock cycles per bit (at least 4). The receiver samples each
bit in its middle; it has no flow control, so its byte stream must be drained at least as
fast as bytes arrive (``overrun`` pulses when a byte is lost).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["UARTReceiver", "UARTTransmitter"]


def _check_divisor(divisor: int) -> int:
    if divisor < 4:
        raise ValueError(f"UART divisor (clock cycles per bit) must be >= 4, got {divisor}")
    return int(divisor)


class UARTReceiver(wiring.Component):
    """``rx`` pin -> stream of bytes.

    Ports: ``rx`` In(1), the line (synchronised here with two flip-flops); ``o`` Out(stream
    of 8-bit bytes); ``overrun`` Out(1), high for one cycle when a received byte finds the
    output still holding the previous one.
    """

    def __init__(self, divisor: int) -> None:
        self.divisor = _check_divisor(divisor)
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(unsigned(8))),
                          "overrun": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        sync1 = Signal(init=1)
        line = Signal(init=1)
        m.d.sync += [sync1.eq(self.rx), line.eq(sync1)]
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        bits = Signal(range(10))
        shift = Signal(8)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.sync += self.overrun.eq(0)
        with m.FSM():
            with m.State("idle"):
                with m.If(~line):  # start bit: wait to the middle of the first data bit
                    m.d.sync += [timer.eq(self.divisor + self.divisor // 2 - 1), bits.eq(0)]
                    m.next = "data"
            with m.State("data"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shift.eq((shift >> 1) | (line << 7)), bits.eq(bits + 1),
                                 timer.eq(self.divisor - 1)]
                    with m.If(bits == 7):
                        m.next = "stop"
            with m.State("stop"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    with m.If(line):  # a valid stop bit: deliver the byte
                        m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                        with m.If(self.o.valid & ~self.o.ready):
                            m.d.sync += self.overrun.eq(1)
                    m.next = "idle"
        return m


class UARTTransmitter(wiring.Component):
    """Stream of bytes -> ``tx`` pin. Ports: ``i`` In(stream of bytes), ``tx`` Out(1)."""

    def __init__(self, divisor: int) -> None:
        self.divisor = _check_divisor(divisor)
        super().__init__({"i": In(stream.Signature(unsigned(8))), "tx": Out(1, init=1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        timer = Signal(range(self.divisor))
        frame = Signal(10, init=0x3FF)   # stop, data[7:0], start, shifted out LSB first
        remaining = Signal(range(11))
        m.d.comb += [self.tx.eq(frame[0]), self.i.ready.eq(remaining == 0)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [frame.eq((self.i.payload << 1) | (1 << 9)), remaining.eq(10),
                         timer.eq(self.divisor - 1)]
        with m.Elif(remaining != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [frame.eq((frame >> 1) | (1 << 9)), remaining.eq(remaining - 1),
                             timer.eq(self.divisor - 1)]
        return m
