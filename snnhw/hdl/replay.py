"""Input replay in front of a direct-encoding layer: the sample's input events, received once,
sent again in every later timestep.

A direct-encoding input is the same at every timestep of a sample and the hardware receives
it once (``Network.sent_inputs``): its nonzero values in the first timestep, then only the
end-of-timestep events. :class:`InputReplay` passes the first timestep through unchanged and
writes each of its events (index and value) into a buffer; in every later timestep it sends
the buffered events again, in the order received, before it passes that timestep's
end-of-timestep event on. The core behind it then integrates ``x W`` at every timestep like any
other input (a convolution needs no memory of its currents, which are a whole feature map:
``Layer.replays_input`` chooses between the two).

Timing: a later timestep's end-of-timestep event is taken once the replay is done; the replay
starts two clocks after the previous end-of-timestep event left (one to see the new one, one
for the buffer's registered read) and then sends one event per clock while the output is ready.
Events other than end-of-timestep in a later timestep are not part of the protocol; the replay
drops them (the input is the first timestep's).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .events import event_layout

__all__ = ["InputReplay"]


class InputReplay(wiring.Component):
    """Replays a direct input's events in timesteps 1 .. ``timesteps - 1`` of every sample.

    Parameters
    ----------
    features:
        Inputs of the layer (the buffer's depth: at most one event per input per timestep).
    value_bits:
        Width of each event's ``value`` (the input's N bits).
    timesteps:
        Timesteps per sample.

    Ports
    -----
    i: In(stream of ``event_layout(features, value_bits)``)
    o: Out(the same)
    """

    def __init__(self, *, features: int, value_bits: int, timesteps: int) -> None:
        if timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {timesteps!r}")
        self.features, self.value_bits, self.timesteps = features, value_bits, timesteps
        layout = event_layout(features, value_bits)
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(layout))})

    def elaborate(self, platform) -> Module:
        m = Module()
        index_bits = len(self.i.payload.index)
        entry = index_bits + self.value_bits          # one buffered event: index, then value
        buffer = memory.Memory(shape=entry, depth=self.features, init=[])
        m.submodules.buffer = buffer
        wr = buffer.write_port()
        rd = buffer.read_port()
        count = Signal(range(self.features + 1))      # events of the sample's first timestep
        sent = Signal(range(self.features + 1))       # events replayed in this timestep
        first = Signal(init=1)                        # the sample's first timestep
        last = Signal(init=int(self.timesteps == 1))  # its last timestep
        timestep = Signal(range(max(2, self.timesteps)))
        replaying = Signal()                          # rd.data holds buffered event `sent`
        replayed = Signal()                           # this timestep's replay is done

        take = Signal()
        eot_in = self.i.payload.eot
        with m.If(first):                             # pass through and record
            m.d.comb += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload),
                         self.i.ready.eq(self.o.ready)]
        with m.Elif(replaying):                       # send buffered event `sent`
            m.d.comb += [self.o.valid.eq(1),
                         self.o.payload.index.eq(rd.data[:index_bits]),
                         self.o.payload.value.eq(rd.data[index_bits:])]
        # (below, the ready of a waiting input depends on its payload only while it is valid:
        # an idle input's payload may be anything)
        with m.Elif(replayed):                        # then the timestep's end
            m.d.comb += [self.o.valid.eq(self.i.valid & eot_in),
                         self.o.payload.eot.eq(1),
                         self.i.ready.eq(self.i.valid & (self.o.ready | ~eot_in))]
        with m.Else():                                # waiting for the end of the timestep
            m.d.comb += self.i.ready.eq(self.i.valid & ~eot_in)   # (anything else is dropped)
        m.d.comb += take.eq(self.i.valid & self.i.ready)

        # the read address runs one event ahead of what the output shows, so a replay sends
        # one event per clock from the buffer's registered read
        advance = Signal()
        m.d.comb += [
            advance.eq(replaying & self.o.ready),
            rd.addr.eq(Mux(advance, sent + 1, sent)),
            wr.addr.eq(count),
            wr.data.eq(self.i.payload.index | (self.i.payload.value << index_bits)),
            wr.en.eq(first & take & ~eot_in),
        ]
        with m.If(first & take & ~eot_in):
            m.d.sync += count.eq(count + 1)
        with m.If(~first & ~replaying & ~replayed & self.i.valid & eot_in):
            with m.If(count == 0):
                m.d.sync += replayed.eq(1)
            with m.Else():
                m.d.sync += replaying.eq(1)
        with m.If(advance):
            m.d.sync += sent.eq(sent + 1)
            with m.If(sent == count - 1):
                m.d.sync += [replaying.eq(0), replayed.eq(1)]

        # the end of a timestep: the next one, or the next sample's first
        with m.If(take & eot_in & (first | replayed)):
            m.d.sync += [sent.eq(0), replayed.eq(0),
                         timestep.eq(Mux(last, 0, timestep + 1)),
                         first.eq(last),
                         last.eq(Mux(last, self.timesteps == 1,
                                     timestep == self.timesteps - 2))]
            with m.If(last):
                m.d.sync += count.eq(0)
        return m
