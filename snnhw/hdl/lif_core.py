"""Event-driven LIF layer core: one fully connected layer of integer LIF neurons.

Executes one :class:`snnhw.ir.LIFLayer` exactly as ``snnhw.golden`` specifies.

Operation, one timestep:

* **accumulate**: every input spike event ``j`` adds weight row ``j`` to the membranes, one
  synaptic update per clock through a two-stage pipeline (issue addresses, then read-add-write).
  The membrane memory's read port is transparent to its write port, so a neuron read in the
  same cycle its previous update is written sees the new value (the read-modify-write hazard
  of back-to-back events on small layers).
* **sweep**, started by the end-of-timestep event: for every neuron, add the bias, saturate to
  the membrane width, fire if ``u >= threshold``, reset, leak (shift-add, toward zero) and
  write the carried membrane back; spiking neurons leave as index events in ascending order,
  then an end-of-timestep event. After the ``timesteps``-th sweep the membranes are written
  as 0, ready for the next sample.

Cycle cost per timestep: ``N`` per input event (back-to-back), ``N + 1`` for the sweep
and its pipeline, 1 for the end-of-timestep event, plus output stalls.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..ir import LIFLayer
from .arith import leak_toward_zero, times_constant
from .events import event_signature, index_bits

__all__ = ["LIFCore"]


class LIFCore(wiring.Component):
    """One LIF layer as a streaming core.

    Parameters
    ----------
    layer:
        The IR layer: sizes, widths (bits), integer weights, bias, threshold, leak, reset.
    timesteps:
        Timesteps per sample; the membranes return to 0 after this many sweeps.

    Ports
    -----
    i: In(stream of events over ``in_features``)
        Input spike events ``{index, eot}``; ``index_bits(in_features)`` + 1 bits.
    o: Out(stream of events over ``out_features``)
        Output spike events in ascending index order, then ``eot``.
    """

    def __init__(self, *, layer: LIFLayer, timesteps: int) -> None:
        if timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {timesteps!r}")
        self.layer = layer
        self.timesteps = timesteps
        super().__init__({"i": In(event_signature(layer.in_features)),
                          "o": Out(event_signature(layer.out_features))})

    def elaborate(self, platform) -> Module:
        m = Module()
        layer = self.layer
        n = layer.out_features
        nbits = index_bits(n)
        m_lo, m_hi = layer.membrane_range

        # weight row j occupies addresses j*N .. j*N+N-1
        weights = memory.Memory(shape=signed(layer.weight_bits), depth=layer.in_features * n,
                                init=[int(v) for v in layer.weight.T.reshape(-1)])
        membranes = memory.Memory(shape=signed(layer.accumulator_bits), depth=n, init=[])
        biases = memory.Memory(shape=signed(layer.membrane_bits), depth=n,
                               init=[int(v) for v in layer.bias])
        m.submodules.weights = weights
        m.submodules.membranes = membranes
        m.submodules.biases = biases
        w_rd = weights.read_port()
        mem_wr = membranes.write_port()
        mem_rd = membranes.read_port(transparent_for=(mem_wr,))
        b_rd = biases.read_port()

        # stage A: addresses being read this cycle
        a_valid = Signal()
        a_sweep = Signal()                 # 1: sweep read, 0: accumulate read
        a_neuron = Signal(nbits)
        a_waddr = Signal(range(max(2, layer.in_features * n)))
        a_last = Signal()
        # stage B: read data available this cycle
        b_valid = Signal()
        b_sweep = Signal()
        b_neuron = Signal(nbits)
        b_last = Signal()

        sweeping = Signal()                # a sweep is under way (A or B hold sweep work)
        emit_eot = Signal()                # the sweep is done; send the end-of-timestep event
        timestep = Signal(range(max(2, self.timesteps)))
        last_timestep = Signal()
        m.d.comb += last_timestep.eq(timestep == self.timesteps - 1)

        # sweep datapath (stage B)
        u_pre = Signal(signed(max(layer.accumulator_bits, layer.membrane_bits) + 1))
        u = Signal(signed(layer.membrane_bits))
        fire = Signal()
        reset_value = Signal(signed(layer.membrane_bits))
        carried = Signal(signed(layer.membrane_bits))
        m.d.comb += [
            u_pre.eq(mem_rd.data + b_rd.data),
            u.eq(Mux(u_pre > m_hi, m_hi, Mux(u_pre < m_lo, m_lo, u_pre))),
            fire.eq(u >= layer.threshold),
        ]
        if layer.reset == "zero":
            m.d.comb += reset_value.eq(Mux(fire, 0, u))
        else:
            m.d.comb += reset_value.eq(Mux(fire, u - layer.threshold, u))
        m.d.comb += carried.eq(leak_toward_zero(reset_value, layer.leak_mult,
                                                layer.leak_frac_bits))

        # output stream: spikes from stage B of the sweep, then the end-of-timestep marker
        spike_out = Signal()
        m.d.comb += spike_out.eq(b_valid & b_sweep & fire)
        stall = Signal()
        m.d.comb += stall.eq(spike_out & ~self.o.ready)
        m.d.comb += [
            self.o.valid.eq(spike_out | emit_eot),
            self.o.payload.index.eq(Mux(emit_eot, 0, b_neuron)),
            self.o.payload.eot.eq(emit_eot),
        ]

        # memory ports
        m.d.comb += [
            w_rd.addr.eq(a_waddr),
            mem_rd.addr.eq(a_neuron),
            b_rd.addr.eq(a_neuron),
            mem_rd.en.eq(~stall),
            b_rd.en.eq(~stall),
            mem_wr.addr.eq(b_neuron),
        ]
        with m.If(b_valid & ~b_sweep):
            m.d.comb += [mem_wr.data.eq(mem_rd.data + w_rd.data), mem_wr.en.eq(1)]
        with m.Elif(b_valid & b_sweep & ~stall):
            m.d.comb += [mem_wr.data.eq(Mux(last_timestep, 0, carried)), mem_wr.en.eq(1)]

        # input handshake: take an event when stage A is free or finishing its row
        accept = Signal()
        m.d.comb += [
            self.i.ready.eq(~sweeping & ~emit_eot & (~a_valid | a_last)),
            accept.eq(self.i.valid & self.i.ready),
        ]

        # stage A -> B
        with m.If(~stall):
            m.d.sync += [b_valid.eq(a_valid), b_sweep.eq(a_sweep), b_neuron.eq(a_neuron),
                         b_last.eq(a_last)]

        # stage A sequencing
        with m.If(accept & ~self.i.payload.eot):
            m.d.sync += [a_valid.eq(1), a_sweep.eq(0), a_neuron.eq(0),
                         a_waddr.eq(times_constant(self.i.payload.index, n)), a_last.eq(n == 1)]
        with m.Elif(accept & self.i.payload.eot):
            m.d.sync += [a_valid.eq(1), a_sweep.eq(1), a_neuron.eq(0), a_last.eq(n == 1),
                         sweeping.eq(1)]
        with m.Elif(a_valid & ~stall):
            with m.If(a_last):
                m.d.sync += a_valid.eq(0)
            with m.Else():
                m.d.sync += [a_neuron.eq(a_neuron + 1), a_waddr.eq(a_waddr + 1),
                             a_last.eq(a_neuron == n - 2)]

        # end of sweep: the last neuron left stage B
        with m.If(b_valid & b_sweep & b_last & ~stall):
            m.d.sync += [sweeping.eq(0), emit_eot.eq(1)]
        with m.If(emit_eot & self.o.ready):
            m.d.sync += [emit_eot.eq(0),
                         timestep.eq(Mux(last_timestep, 0, timestep + 1))]
        return m
