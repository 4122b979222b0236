"""UART host link around the network: protocol v4 of :mod:`snnhw.protocol` in hardware.

Data path: ``rx`` -> :class:`UARTReceiver` -> byte decoder -> event FIFO -> :class:`SNNTop`
-> per-neuron spike counters -> result sender -> :class:`UARTTransmitter` -> ``tx``.

* The decoder turns ``'S'`` + u16 addresses / ``EOT`` markers into the network's input events
  (for a direct-encoding input, each address of the first timestep with the value byte that
  follows it) and answers ``'V'`` with the identity frame. With ``weight_memory="spram"`` it passes the
  ``load_bytes`` bytes after ``'W'`` to the network's weight loader (one byte per
  ``10 * divisor`` cycles; the loader takes a byte every other cycle) and answers ``'L'``; it
  ignores ``'S'`` until then.
* Counters (``bits(timesteps)`` wide, one per output neuron) add up the output spikes of a
  sample (a readout's: signed accumulators of its membranes, ``membrane_bits +
  bits(timesteps)`` wide); after the network's ``timesteps``-th output end-of-timestep the
  sender scans the classes (summing each class's ``vote_group`` counters, first maximum
  wins), sends the result frame (u16 counts, a readout's i32 sums) and clears the counters.
  While it sends, the network's output is held.

The network is far faster than the line: a byte takes ``10 * divisor`` clock cycles, an
input event at most ``ceil(N/P)`` cycles per layer, so the 16-event FIFO only absorbs a sweep.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Signal, signed, unsigned
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from ..ir import Network
from ..protocol import (
    EOT,
    IDENTIFY,
    IDENTITY_LENGTH,
    LOADED,
    RESULT,
    SAMPLE,
    VERSION,
    WEIGHTS,
    Identity,
    identity_bytes,
    score_bytes,
)
from .events import event_layout, value_bits
from .loader import load_image_length
from .network import SNNTop, loaded_memories
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["EVENT_FIFO_DEPTH", "HostLink"]

EVENT_FIFO_DEPTH = 16


class HostLink(wiring.Component):
    """The network behind a UART. Ports: ``rx`` In(1), ``tx`` Out(1) (idle high).

    ``divisor``: clock cycles per UART bit (``f_clk / baud``); ``lanes``: P of every core;
    ``weight_memory``: ``"rom"`` or ``"spram"`` (weights loaded over the link, see
    :class:`SNNTop`); ``membrane_memory``: ``"bram"`` or ``"spram"`` (see :class:`SNNTop`).
    """

    def __init__(self, net: Network, *, divisor: int, lanes: int = 1,
                 weight_memory: str = "rom", membrane_memory: str = "bram") -> None:
        self.net = net.validate()
        last = net.layers[-1]
        self.readout = not last.fires
        if self.readout and last.membrane_bits + (net.timesteps * net.vote_group).bit_length() > 32:
            raise ValueError(f"layer {last.name}: {net.timesteps} timesteps of "
                             f"{last.membrane_bits}-bit membranes (vote group "
                             f"{net.vote_group}) may not fit the result's 32-bit scores")
        if net.input_features >= EOT:
            raise ValueError(f"{net.input_features} inputs do not fit the 16-bit addresses")
        if net.timesteps > 255 or net.output_features // net.vote_group > 255:
            raise ValueError("the protocol carries timesteps and classes in one byte each")
        if net.timesteps * net.vote_group >= 1 << 16:
            raise ValueError("class counts must fit 16 bits (timesteps * vote_group < 65536)")
        if divisor < 2:
            raise ValueError(f"divisor must be >= 2 clock cycles per bit, got {divisor}")
        self.divisor = divisor
        self.lanes = lanes
        self.weight_memory = weight_memory
        self.membrane_memory = membrane_memory
        self.load_bytes = load_image_length(loaded_memories(net, lanes, weight_memory))
        if self.load_bytes >= 1 << 32:
            raise ValueError(f"a {self.load_bytes}-byte weight image does not fit the u32 length")
        self.identity = Identity(version=VERSION, input_features=net.input_features,
                                 classes=net.output_features // net.vote_group,
                                 timesteps=net.timesteps, vote_group=net.vote_group,
                                 lanes=lanes, load_bytes=self.load_bytes,
                                 input_bits=net.input_bits, readout=self.readout)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        net = self.net
        steps = net.timesteps
        classes, group = self.identity.classes, net.vote_group
        m.submodules.rx = rx = UARTReceiver(self.divisor)
        m.submodules.tx = tx = UARTTransmitter(self.divisor)
        m.submodules.snn = snn = SNNTop(net, lanes=self.lanes, weight_memory=self.weight_memory,
                                        membrane_memory=self.membrane_memory)
        direct = net.input_bits > 1
        layout = event_layout(net.input_features, value_bits(net.input_bits))
        m.submodules.events = events = fifo.SyncFIFOBuffered(width=layout.size,
                                                             depth=EVENT_FIFO_DEPTH)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), rx.o.ready.eq(1),
                     snn.i.payload.eq(events.r_data), snn.i.valid.eq(events.r_rdy),
                     events.r_en.eq(snn.i.ready)]

        # --- decoder: bytes -> events ---------------------------------------------------------
        high = Signal(8)
        in_steps = Signal(range(max(2, steps)))
        send_identity = Signal()
        send_loaded = Signal()             # register: 'L' still to send
        loaded = Signal(init=self.load_bytes == 0)     # the weights are in; samples are taken
        load_left = Signal(range(max(2, self.load_bytes)))
        if self.load_bytes:
            m.d.comb += snn.load.payload.eq(rx.o.payload)
        address = Signal(16)
        m.d.comb += address.eq((high << 8) | rx.o.payload)
        held_address = Signal(16)          # a direct input's address, waiting for its value
        event = Signal(layout)
        push = Signal()
        m.d.comb += [events.w_data.eq(event), events.w_en.eq(push)]
        with m.FSM(name="decoder"):
            with m.State("idle"):
                with m.If(rx.o.valid & (rx.o.payload == IDENTIFY)):
                    m.d.comb += send_identity.eq(1)
                with m.If(rx.o.valid & (rx.o.payload == SAMPLE) & loaded):
                    m.next = "high"
                if self.load_bytes:
                    with m.If(rx.o.valid & (rx.o.payload == WEIGHTS)):
                        m.d.sync += load_left.eq(self.load_bytes - 1)
                        m.next = "weights"
            if self.load_bytes:
                with m.State("weights"):
                    # the loader is always ready at UART speed; once loaded it takes no bytes
                    # and a second image is discarded
                    m.d.comb += snn.load.valid.eq(rx.o.valid & ~loaded)
                    with m.If(rx.o.valid):
                        m.d.sync += load_left.eq(load_left - 1)
                        with m.If(load_left == 0):
                            m.d.sync += [loaded.eq(1), send_loaded.eq(1)]
                            m.next = "idle"
            with m.State("high"):
                with m.If(rx.o.valid):
                    m.d.sync += high.eq(rx.o.payload)
                    m.next = "low"
            with m.State("low"):
                with m.If(rx.o.valid):
                    m.next = "high"
                    with m.If(address == EOT):
                        m.d.comb += [event.eot.eq(1), push.eq(1)]
                        with m.If(in_steps == steps - 1):
                            m.d.sync += in_steps.eq(0)
                            m.next = "idle"
                        with m.Else():
                            m.d.sync += in_steps.eq(in_steps + 1)
                    if direct:          # the value byte follows
                        with m.Else():
                            m.d.sync += held_address.eq(address)
                            m.next = "value"
                    else:
                        with m.Elif(address < net.input_features):
                            m.d.comb += [event.index.eq(address), push.eq(1)]
            if direct:
                # the value of the address before it; taken in the first timestep only (the
                # network holds the first timestep's currents, or its values, for the sample)
                with m.State("value"):
                    with m.If(rx.o.valid):
                        m.next = "high"
                        with m.If((held_address < net.input_features) & (in_steps == 0)):
                            m.d.comb += [event.index.eq(held_address),
                                         event.value.eq(rx.o.payload), push.eq(1)]

        # --- output spike counters (a readout's membrane sums) -----------------------------------
        readout = self.readout
        membrane_bits = net.layers[-1].membrane_bits
        count_shape = (signed(membrane_bits + steps.bit_length()) if readout
                       else unsigned(max(1, steps.bit_length())))
        counters = Array(Signal(count_shape, name=f"count{n}")
                         for n in range(net.output_features))
        out_steps = Signal(range(max(2, steps)))
        sending = Signal()
        start_result = Signal()
        clear = Signal()
        m.d.comb += snn.o.ready.eq(~sending)
        with m.If(snn.o.valid & snn.o.ready):
            with m.If(snn.o.payload.eot):
                with m.If(out_steps == steps - 1):
                    m.d.sync += out_steps.eq(0)
                    m.d.comb += start_result.eq(1)
                with m.Else():
                    m.d.sync += out_steps.eq(out_steps + 1)
            with m.Else():
                index = snn.o.payload.index
                added = snn.o.payload.value.as_signed() if readout else 1
                m.d.sync += counters[index].eq(counters[index] + added)
        with m.If(clear):
            m.d.sync += [c.eq(0) for c in counters]

        # --- sender: identity or result frame ---------------------------------------------------
        width = score_bytes(readout)            # bytes of one class's score in the result
        sum_shape = signed(8 * width) if readout else unsigned(max(1, (steps * group).bit_length()))
        selected = Signal(range(max(2, classes)))
        class_sum = Signal(sum_shape)
        m.d.comb += class_sum.eq(sum(
            counters[selected * group + k] if classes > 1 else counters[k] for k in range(group)))
        best = Signal(range(max(2, classes)))
        best_sum = Signal(sum_shape)
        byte_index = Signal(range(max(IDENTITY_LENGTH, 4 + width * classes)))
        checksum = Signal(8)
        identity = identity_bytes(self.identity)
        # one constant word, sliced by byte_index (a continuous assignment in Verilog)
        identity_word = Const(int.from_bytes(identity, "little"), 8 * len(identity))
        last_result_byte = 2 + width * classes
        byte = Signal(8)
        with m.FSM(name="sender"):
            with m.State("idle"):
                with m.If(send_identity):
                    m.d.sync += byte_index.eq(0)
                    m.next = "identity"
                with m.Elif(send_loaded):
                    m.d.sync += send_loaded.eq(0)
                    m.next = "loaded"
                with m.Elif(start_result):
                    m.d.sync += [sending.eq(1), selected.eq(0), best.eq(0), best_sum.eq(0)]
                    m.next = "scan"
            with m.State("identity"):
                m.d.comb += [tx.i.payload.eq(identity_word.word_select(byte_index, 8)),
                             tx.i.valid.eq(1)]
                with m.If(tx.i.ready):
                    m.d.sync += byte_index.eq(byte_index + 1)
                    with m.If(byte_index == len(identity) - 1):
                        m.next = "idle"
            with m.State("loaded"):
                m.d.comb += [tx.i.payload.eq(LOADED), tx.i.valid.eq(1)]
                with m.If(tx.i.ready):
                    m.next = "idle"
            with m.State("scan"):
                with m.If((selected == 0) | (class_sum > best_sum)):
                    m.d.sync += [best.eq(selected), best_sum.eq(class_sum)]
                with m.If(selected == classes - 1):
                    m.d.sync += [byte_index.eq(0), checksum.eq(0), selected.eq(0)]
                    m.next = "result"
                with m.Else():
                    m.d.sync += selected.eq(selected + 1)
            with m.State("result"):
                # bytes: 'R', class, the score of each class (most significant byte first),
                # checksum; selected tracks the class, position the byte within its score
                position = Signal(range(width))
                m.d.comb += position.eq((byte_index - 2)[:(width - 1).bit_length()])
                score = Cat(class_sum, Const(0, 8 * width))[:8 * width]
                score_byte = Array(score[8 * k:8 * k + 8] for k in reversed(range(width)))
                with m.If(byte_index == 0):
                    m.d.comb += byte.eq(RESULT)
                with m.Elif(byte_index == 1):
                    m.d.comb += byte.eq(best)
                with m.Elif(byte_index == last_result_byte):
                    m.d.comb += byte.eq(checksum)
                with m.Else():
                    m.d.comb += byte.eq(score_byte[position])
                m.d.comb += [tx.i.payload.eq(byte), tx.i.valid.eq(1)]
                with m.If(tx.i.ready):
                    m.d.sync += byte_index.eq(byte_index + 1)
                    with m.If((byte_index != 0) & (byte_index != last_result_byte)):
                        m.d.sync += checksum.eq(checksum + byte)
                    with m.If((byte_index >= 2) & (position == width - 1)):
                        m.d.sync += selected.eq(selected + 1)
                    with m.If(byte_index == last_result_byte):
                        m.d.comb += clear.eq(1)
                        m.d.sync += sending.eq(0)
                        m.next = "idle"
        return m
