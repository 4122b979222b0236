"""Event re-indexing between layers: a flat map index to map coordinates, with sum pooling.

Pooling never needs neurons of its own: a ``k x k`` sum pool is a re-indexing of events. An
event at ``(c, y, x)`` of a ``C x H x W`` map (flat row-major index ``(c*H + y)*W + x``)
becomes the event ``(c, y // k, x // k)`` of the pooled map; events in the rows and columns
past the last whole block are dropped (as torch's pooling drops them). Each input event then
counts once at its pooled position, so ``k*k`` spikes of one block add the weight ``k*k``
times: the sum the golden model computes.

:class:`EventMapper` turns the flat index into coordinates with constant reciprocals (shift-
adds, no divider), in a two-stage valid/ready pipeline, and gives either the coordinates (a
convolution core's input) or the pooled flat index (a dense core's input).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import times_constant
from .events import event_layout

__all__ = ["EventMapper", "map_event_layout", "reciprocal"]


def reciprocal(divisor: int, limit: int) -> tuple[int, int]:
    """``(multiplier, shift)`` with ``(n * multiplier) >> shift == n // divisor`` for every
    ``0 <= n < limit``, checked exhaustively (the smallest shift that holds)."""
    if divisor == 1:
        return 1, 0
    n = np.arange(limit, dtype=np.int64)
    for shift in range(1, 62 - limit.bit_length()):
        multiplier = -(-(1 << shift) // divisor)
        if np.array_equal((n * multiplier) >> shift, n // divisor):
            return multiplier, shift
    raise ValueError(f"no reciprocal of {divisor} for indices below {limit}")


def map_event_layout(shape: tuple[int, int, int], value_bits: int = 0) -> data.StructLayout:
    """Payload of an event at map coordinates ``(c, y, x)`` of a ``shape`` map, or ``eot``,
    with a direct input's ``value`` when ``value_bits > 0``."""
    c, h, w = shape
    fields = {"c": range(max(2, c)), "y": range(max(2, h)), "x": range(max(2, w)), "eot": 1}
    return data.StructLayout(fields | ({"value": value_bits} if value_bits else {}))


class EventMapper(wiring.Component):
    """Flat map events in, pooled events out (coordinates, or a flat index).

    Parameters
    ----------
    shape:
        ``(C, H, W)`` of the incoming map.
    pool:
        ``k``: ``k x k`` sum pooling (1: none).
    flat:
        True: the output is the pooled map's flat index (``event_layout``); False: its
        coordinates (``map_event_layout`` of the pooled map).
    value_bits:
        Width of a direct input's ``value``, carried through unchanged (0: spikes).

    Two clocks of latency; one event per clock.
    """

    def __init__(self, shape: tuple[int, int, int], pool: int = 1, flat: bool = False,
                 value_bits: int = 0) -> None:
        self.shape, self.pool, self.flat = tuple(shape), pool, flat
        self.value_bits = value_bits
        c, h, w = self.shape
        self.pooled = (c, h // pool, w // pool)
        out = (event_layout(c * self.pooled[1] * self.pooled[2], value_bits) if flat
               else map_event_layout(self.pooled, value_bits))
        super().__init__({"i": In(stream.Signature(event_layout(c * h * w, value_bits))),
                          "o": Out(stream.Signature(out))})

    def elaborate(self, platform) -> Module:
        m = Module()
        c_count, h, w = self.shape
        k = self.pool
        _, hp, wp = self.pooled
        shift = (k - 1).bit_length()

        # stage 1: row = index // W, x = index - row * W
        s1_valid, s1_eot = Signal(), Signal()
        s1_row = Signal(range(max(2, c_count * h)))
        s1_x = Signal(range(max(2, w)))
        s1_value = Signal(max(1, self.value_bits))
        # stage 2: c = row // H, y = row - c * H, then pooled and checked
        s2_valid = Signal()
        s2 = Signal(self.o.payload.shape())
        advance = Signal()
        m.d.comb += [advance.eq(~s2_valid | self.o.ready),
                     self.i.ready.eq(advance | ~s1_valid)]

        index = self.i.payload.index
        mult, sh = reciprocal(w, c_count * h * w)
        row = Signal.like(s1_row)
        m.d.comb += row.eq(times_constant(index, mult) >> sh)
        with m.If(self.i.ready):
            m.d.sync += [s1_valid.eq(self.i.valid), s1_eot.eq(self.i.payload.eot),
                         s1_row.eq(row), s1_x.eq(index - times_constant(row, w))]
            if self.value_bits:
                m.d.sync += s1_value.eq(self.i.payload.value)

        mult, sh = reciprocal(h, c_count * h)
        channel = Signal(range(max(2, c_count)))
        y = Signal(range(max(2, h)))
        m.d.comb += [channel.eq(times_constant(s1_row, mult) >> sh),
                     y.eq(s1_row - times_constant(channel, h))]
        inside = (y < hp * k) & (s1_x < wp * k)
        yp, xp = y >> shift, s1_x >> shift
        with m.If(advance):
            m.d.sync += s2_valid.eq(s1_valid & (s1_eot | inside))
            if self.value_bits:
                m.d.sync += s2.value.eq(Mux(s1_eot, 0, s1_value))
            if self.flat:
                m.d.sync += [s2.eot.eq(s1_eot),
                             s2.index.eq(Mux(s1_eot, 0, times_constant(
                                 times_constant(channel, hp) + yp, wp) + xp))]
            else:
                m.d.sync += [s2.eot.eq(s1_eot), s2.c.eq(Mux(s1_eot, 0, channel)),
                             s2.y.eq(Mux(s1_eot, 0, yp)), s2.x.eq(Mux(s1_eot, 0, xp))]
        m.d.comb += [self.o.valid.eq(s2_valid), self.o.payload.eq(s2)]
        return m
