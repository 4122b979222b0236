"""Run-time weight loader: turns a byte stream into the word writes of the layers whose
weights are not in the bitstream (``"loaded"`` weight memories, iCE40 UP SPRAM).

Byte stream: for each loaded layer in network order, its weight words in address order
(:mod:`snnhw.hdl.layout`), each word as ``ceil(width / 8)`` bytes, least significant byte
first. :func:`load_image` produces it; ``done`` rises after the last word and stays high until
reset.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .weight_memory import load_layout

__all__ = ["WeightLoader", "load_image", "load_image_length"]


def _word_bytes(width: int) -> int:
    """Bytes of one ``width``-bit word in the stream."""
    return -(-width // 8)


def load_image(words_per_layer: list[tuple[list[int], int]]) -> bytes:
    """The loader's byte stream for ``[(words, width in bits), ...]``."""
    out = bytearray()
    for words, width in words_per_layer:
        size = _word_bytes(width)
        for word in words:
            out += int(word).to_bytes(size, "little")
    return bytes(out)


def load_image_length(memories: list[tuple[int, int]]) -> int:
    """Bytes of the stream for memories of ``(depth, width in bits)``."""
    return sum(depth * _word_bytes(width) for depth, width in memories)


class WeightLoader(wiring.Component):
    """Bytes in, one word write per loaded memory out, in turn.

    Parameters
    ----------
    memories:
        ``(depth, width)`` of every loaded weight memory, in load order.

    Ports
    -----
    i: In(stream of 8-bit bytes)
    o<k>: Out(stream of {addr, data}) for memory k
    done: Out(1), every word written
    """

    def __init__(self, memories: list[tuple[int, int]]) -> None:
        if not memories:
            raise ValueError("a weight loader needs at least one memory")
        self.memories = memories
        ports = {"i": In(stream.Signature(8)), "done": Out(1)}
        for k, (depth, width) in enumerate(memories):
            ports[f"o{k}"] = Out(stream.Signature(load_layout(depth, width)))
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        widest = max(_word_bytes(width) for _, width in self.memories)
        deepest = max(depth for depth, _ in self.memories)
        memory_index = Signal(range(max(2, len(self.memories))))
        addr = Signal(range(max(2, deepest)))
        byte_index = Signal(range(max(2, widest)))
        word = Signal(8 * widest)
        word_full = Signal()
        last_byte = Signal()
        last_addr = Signal()
        # plain expressions rather than a case statement: Icarus never evaluates an
        # `always @*` block whose inputs keep their time-0 values (here: through reset)
        m.d.comb += [
            last_byte.eq(Cat(*[(memory_index == k) & (byte_index == _word_bytes(width) - 1)
                               for k, (_, width) in enumerate(self.memories)]).any()),
            last_addr.eq(Cat(*[(memory_index == k) & (addr == depth - 1)
                               for k, (depth, _) in enumerate(self.memories)]).any()),
        ]
        m.d.comb += self.i.ready.eq(~self.done & ~word_full)
        with m.If(self.i.valid & self.i.ready):
            with m.Switch(byte_index):
                for b in range(widest):
                    with m.Case(b):
                        m.d.sync += word[8 * b:8 * (b + 1)].eq(self.i.payload)
            with m.If(last_byte):
                m.d.sync += [word_full.eq(1), byte_index.eq(0)]
            with m.Else():
                m.d.sync += byte_index.eq(byte_index + 1)
        taken = Signal()
        for k, (depth, width) in enumerate(self.memories):
            port = getattr(self, f"o{k}")
            m.d.comb += [port.valid.eq(word_full & (memory_index == k)),
                         port.payload.addr.eq(addr), port.payload.data.eq(word[:width])]
            with m.If(port.valid & port.ready):
                m.d.comb += taken.eq(1)
        with m.If(taken):
            m.d.sync += [word_full.eq(0), word.eq(0)]
            with m.If(last_addr):
                m.d.sync += addr.eq(0)
                with m.If(memory_index == len(self.memories) - 1):
                    m.d.sync += self.done.eq(1)
                with m.Else():
                    m.d.sync += memory_index.eq(memory_index + 1)
            with m.Else():
                m.d.sync += addr.eq(addr + 1)
        return m
