"""Event-driven LIF layer core: one fully connected layer of integer LIF neurons.

Executes one :class:`snnhw.ir.LIFLayer` exactly as ``snnhw.golden`` specifies, with P
parallel lanes (``lanes``): neurons are handled in ``G = ceil(N / P)`` groups of P (memory
layout in :mod:`snnhw.hdl.layout`).

Operation, one timestep:

* **accumulate**: every input spike event ``j`` adds weight row ``j`` to the membranes, one
  group (P synaptic updates) per clock through a four-stage pipeline (A: weight address,
  B: weight word out of its block RAM and registered, E: banks combined, membrane read issued,
  C: add and write; the weight memory is :class:`~snnhw.hdl.weight_memory.WeightMemory`).
  The membrane memory's read port is transparent to its write port, so a group read in the
  same cycle its previous update is written sees the new value (the read-modify-write hazard
  of back-to-back events on small layers).
* **sweep**, started by the end-of-timestep event, six stages per group: A, B, E (membrane
  and bias reads issued), C adds the biases and saturates to the membrane width, D (from
  registers) fires if ``u >= threshold``, resets, leaks (shift-add, toward zero) and writes
  the carried membranes back, O holds the group's registered fire bits: spiking neurons leave
  O as index events in ascending order, one per clock (a group with k > 1 spikes holds the
  pipeline k cycles), then an end-of-timestep event. After the ``timesteps``-th sweep the
  membranes are written as 0.

The stage boundaries are placed for clock rate: the weight block RAM's output is registered
before the banks are combined, the combined word before the adder, the threshold compare
(a membrane-wide carry chain) ends in the fire-bit registers of D, and the output handshake,
which stalls the pipeline, starts from O's registers (the spikes still to send and whether
two or more remain) rather than from any adder or compare.

A **direct-encoding** layer (``layer.direct``: its input events carry N-bit values) adds
``value * weight`` per update (a multiplier per lane in stage C). Its inputs come in the first
timestep of a sample only. Where ``layer.replays_input`` holds, an
:class:`~snnhw.hdl.replay.InputReplay` in front of the core sends them again in every later
timestep and the core integrates them like any input. Otherwise every accumulate write also
goes to a *current* memory beside the membranes, so after the first timestep it holds each
neuron's input current ``W x``; each sweep's carried membrane is then ``leak(...) + current``
(the next timestep's input, already integrated), and the last sweep of a sample writes both
memories as 0.

A **NeuNorm term** (``layer.neunorm``, a convolution over spikes) keeps a state ``a`` per neuron
beside its accumulator, in the same membrane word. Every input event also reads the aux kernel
(``taps x G`` words, read at the tap and group of the weight word, whatever the event's
channel) and adds it to the states of the neurons it reaches (stage C, with the accumulators).
The sweep's stage C subtracts ``a >> aux_frac_bits`` from the accumulator before the bias and the
fire compare, and D writes ``leak(a)`` back (0 after the last timestep). The same cycles: the
cycle model does not change.

A **readout** (``LIReadoutLayer``: leaky integrators, no spikes) runs the same pipeline with
no fire-level memory: its stage C marks every neuron of the group instead of the firing ones,
D carries ``leak(u)`` (no reset), and O sends every neuron in ascending order as an event
with its saturated membrane ``u`` in ``value`` (``membrane_bits``, two's complement), then
the end-of-timestep event: ``N`` output events per timestep.

Cycles per timestep: ``G`` per input event, ``6 + sum_g max(1, spikes in g)`` for the sweep,
1 for the end-of-timestep event, plus output stalls (``snnhw.cycles`` models it exactly).

**Banked membranes** (``membrane_memory="banked"``, a convolution over spikes with K >= 2 and
no NeuNorm term, :func:`~snnhw.hdl.layout.banks_rows`): the membranes sit in K memories, bank
``ox mod K`` holding output column ox (layout in :mod:`snnhw.hdl.layout`), and a weight word
holds a whole kernel row (K taps x P lanes). An input event reads one word per (kernel row,
group) instead of per (tap, group): the row's taps reach K consecutive output columns (stride
2: every other one), one per bank, so stage E gives each bank its tap of the row (chosen by a
per-column table, :func:`~snnhw.hdl.layout.row_taps`, registered when the event is taken)
and stage C adds K x P weights into K banks at once, each bank at its own word. The sweep visits the words in the
same order as unbanked, one bank per clock (the bank's word chosen in C), so its output order
and cycles do not change. Cycles per input event: ``K * G`` instead of ``K * K * G``.

**Single-ported membranes** (``membrane_memory="spram"``, the iCE40 UP SPRAM form): the
membranes sit in a :class:`~snnhw.hdl.single_port.SinglePortMemory`, which writes on the
first clock of each step and reads on the second; every other register of the core (its other
memories' ports included) moves only on the second (``EnableInserter``), so the pipeline above
runs unchanged at half rate and every cycle count above doubles. The input is taken on the
second clock; the output stays valid on both (the stream rule) and may be taken on either.
After a reset the memory clears every word before the core takes events.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import (
    Cat,
    ClockDomain,
    ClockSignal,
    Const,
    DomainRenamer,
    EnableInserter,
    Module,
    Mux,
    ResetSignal,
    Signal,
    Value,
    signed,
    unsigned,
)
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..ir import ConvLIFLayer, Layer
from .arith import leak_toward_zero, times_constant
from .events import event_signature, value_bits
from .layout import (
    LANES,
    aux_kernel_words,
    bank_words,
    banks_rows,
    bias_words,
    fire_level_words,
    groups,
    membrane_words,
    row_taps,
    weight_depth,
    weight_width,
    weight_words,
)
from .mapper import map_event_layout
from .single_port import SinglePortMemory
from .weight_memory import WeightMemory, load_layout

__all__ = ["LIFCore", "MEMBRANE_STYLES"]

MEMBRANE_STYLES = ("bram", "spram", "banked")


class LIFCore(wiring.Component):
    """One LIF layer as a streaming core.

    Parameters
    ----------
    layer:
        The IR layer: sizes, widths (bits), integer weights, bias, threshold, leak, reset.
    timesteps:
        Timesteps per sample; the membranes return to 0 after this many sweeps.
    lanes:
        P, neurons updated per clock: 1, 2, 4, 8 or 16.
    weight_memory:
        ``"rom"`` (weights in the bitstream) or ``"loaded"`` (written at run time through
        ``load``; iCE40 UP SPRAM), see :mod:`snnhw.hdl.weight_memory`.
    membrane_memory:
        ``"bram"`` (a read port and a write port: one update per clock), ``"banked"`` (K such
        memories by output column: a kernel row per clock; a convolution over spikes with
        ROM weights only) or ``"spram"`` (one read/write port, the form of iCE40 UP SPRAM:
        :class:`.single_port.SinglePortMemory`; the core then takes two clocks per step, so
        its cycles double, and clears the membranes after a reset before it takes events).
    images:
        Build the weight, bias and fire-level memories empty, for :mod:`snnhw.hdl.emit` to
        load from memory images (``$readmemh``); without, their contents are Amaranth's.

    Ports
    -----
    i: In(stream of events over ``in_features``)
        Input spike events ``{index, eot}``; ``index_bits(in_features)`` + 1 bits (a
        convolution: map coordinates ``{c, y, x, eot}``); a direct-encoding layer's carry
        ``value`` (``input_bits``, unsigned) as well.
    o: Out(stream of events over ``out_features``)
        Output spike events in ascending index order, then ``eot``; a readout's carry each
        neuron's membrane in ``value`` (``membrane_bits``).
    load: In(stream of {addr, data})
        ``"loaded"`` only: weight words (layout of :mod:`snnhw.hdl.layout`), before any event.
    run: In(1), cleared: Out(1), advance: Out(1)
        ``"spram"`` only: the core steps while ``run`` is high (default high), says when its
        membranes are cleared (the network starts every such core at once) and on which
        clocks it moves (every other one).
    """

    def __init__(self, *, layer: Layer, timesteps: int, lanes: int = 1,
                 weight_memory: str = "rom", membrane_memory: str = "bram",
                 images: bool = False) -> None:
        if timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {timesteps!r}")
        if lanes not in LANES:
            raise ValueError(f"lanes must be one of {LANES}, got {lanes!r}")
        self.layer = layer
        self.timesteps = timesteps
        if membrane_memory not in MEMBRANE_STYLES:
            raise ValueError(f"membrane_memory must be one of {MEMBRANE_STYLES}, got "
                             f"{membrane_memory!r}")
        if membrane_memory == "banked" and not (banks_rows(layer) and weight_memory == "rom"):
            raise ValueError(f"layer {layer.name!r}: banked membranes need a convolution over "
                             f"spikes with a kernel of 2 or more, no NeuNorm term and ROM weights")
        self.lanes = lanes
        self.weight_memory = weight_memory
        self.membrane_memory = membrane_memory
        self.images = images
        self.conv = isinstance(layer, ConvLIFLayer)
        self.value_bits = value_bits(layer.input_bits)
        inputs = (stream.Signature(map_event_layout(layer.pooled_shape, self.value_bits))
                  if self.conv else event_signature(layer.synapses, self.value_bits))
        self.readout = not layer.fires
        ports = {"i": In(inputs), "o": Out(event_signature(
            layer.out_features, layer.membrane_bits if self.readout else 0))}
        if weight_memory == "loaded":
            depth = weight_depth(layer, lanes)   # (never banked)
            ports["load"] = In(stream.Signature(load_layout(depth, lanes * layer.weight_bits)))
        if membrane_memory == "spram":
            ports |= {"run": In(1, init=1), "cleared": Out(1), "advance": Out(1)}
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        layer = self.layer
        p = self.lanes
        conv = self.conv
        g_count = groups(layer.out_channels if conv else layer.out_features, p)
        positions = layer.out_features // layer.out_channels if conv else 1   # OH * OW
        banked = self.membrane_memory == "banked"
        # weight words an input event reads per group: every kernel tap, or (banked) row
        taps = (layer.kernel_size ** (1 if banked else 2)) if conv else 1
        words = membrane_words(layer, p)
        wb, mb, ab = layer.weight_bits, layer.membrane_bits, layer.accumulator_bits
        aux = layer.neunorm
        xb = layer.aux_bits if aux else 0          # bits of a NeuNorm state, per lane
        m_lo, m_hi = layer.membrane_range

        depth = weight_depth(layer, p, rows=banked)
        bank_count = layer.kernel_size if banked else 1
        # with images, the constant memories are built empty: snnhw.hdl.emit loads their
        # contents from memory images, so Amaranth never handles 10^5 initial words
        weights = WeightMemory(depth=depth, width=weight_width(layer, p, rows=banked),
                               style=self.weight_memory,
                               init=weight_words(layer, p, rows=banked)
                               if self.weight_memory == "rom" and not self.images else None)
        # lanes' accumulators, then (NeuNorm) their states; one memory per bank
        single_port = self.membrane_memory == "spram"
        ports = self._membrane_ports(m, words, p * (ab + xb))
        mem_rds, mem_wrs, o_ready = ports.reads, ports.writes, ports.o_ready
        moving, offered = ports.moving, ports.offered
        if self.weight_memory == "loaded" and single_port:
            m.d.comb += [weights.load.payload.eq(self.load.payload),
                         weights.load.valid.eq(self.load.valid),
                         self.load.ready.eq(moving(weights.load.ready))]
        elif self.weight_memory == "loaded":
            wiring.connect(m, wiring.flipped(self.load), weights.load)
        biases = memory.Memory(shape=unsigned(p * mb), depth=g_count,
                               init=[] if self.images else bias_words(layer, p))
        readout = self.readout
        if not readout:
            fire_levels = memory.Memory(shape=unsigned(p * (mb + 1)), depth=g_count,
                                        init=[] if self.images else fire_level_words(layer, p))
            m.submodules.fire_levels = fire_levels
        m.submodules.weights = weights
        m.submodules.biases = biases
        direct = layer.direct
        keeps_currents = direct and not layer.replays_input
        if direct:       # the input's value, stages A..C
            a_value, b_value, e_value, c_value = (Signal(self.value_bits, name=f"{st}_value")
                                                  for st in "abec")
        if keeps_currents:   # the currents W x, per neuron
            currents = memory.Memory(shape=unsigned(p * ab), depth=words, init=[])
            m.submodules.currents = currents
            cur_wr = currents.write_port()
            # transparent: the sweep's first read may meet the last event's write
            cur_rd = currents.read_port(transparent_for=(cur_wr,))
        if aux:          # the aux kernel, read beside the weights; its word, stages B..C
            kb = layer.aux_weight_bits
            aux_kernel = memory.Memory(shape=unsigned(p * kb), depth=taps * g_count,
                                       init=[] if self.images else aux_kernel_words(layer, p))
            m.submodules.aux_kernel = aux_kernel
            k_rd = aux_kernel.read_port()
            a_kaddr = Signal(range(max(2, taps * g_count)))
            e_kernel, c_kernel = Signal(p * kb), Signal(p * kb)
        b_rd = biases.read_port()
        if not readout:
            f_rd = fire_levels.read_port()

        # stage A: addresses being read this cycle. A group is P neurons of one position
        # (dense: of the layer); a sweep visits the membrane words g * positions + pos.
        a_valid = Signal()
        a_sweep = Signal()                 # 1: sweep read, 0: accumulate read
        a_group = Signal(range(max(2, g_count)))
        a_waddr = Signal(range(max(2, depth)))
        a_last = Signal()
        a_left = Signal(range(max(2, taps * g_count, words)))   # reads after this one
        a_pos = Signal(range(max(2, positions)))
        a_word = Signal(range(max(2, words)))
        out_span = g_count * p * positions
        a_obase = Signal(range(max(2, out_span)))   # output index of lane 0 (sweep)
        a_maddr = Signal(range(max(2, words)))      # membrane word (combinational)
        a_write = Signal()                          # an update that lands on the map
        # stage B: weight word out of its block RAM (registered at its end)
        b_valid = Signal()
        b_sweep = Signal()
        b_group = Signal.like(a_group)
        b_last = Signal()
        b_maddr, b_write, b_obase = Signal.like(a_maddr), Signal(), Signal.like(a_obase)
        # stage E: weight bank chosen; membrane and bias reads issued
        e_valid = Signal()
        e_sweep = Signal()
        e_group = Signal.like(a_group)
        e_last = Signal()
        e_maddr, e_write, e_obase = Signal.like(a_maddr), Signal(), Signal.like(a_obase)
        # stage C: registered weights; membranes and biases available
        c_valid = Signal()
        c_sweep = Signal()
        c_group = Signal.like(a_group)
        c_last = Signal()
        c_weights = Signal(p * wb)
        c_maddr, c_write, c_obase = Signal.like(a_maddr), Signal(), Signal.like(a_obase)
        # stage D: saturated membranes and fire bits of a sweep group (registers)
        d_valid = Signal()
        d_group = Signal.like(a_group)
        d_last = Signal()
        d_maddr, d_obase = Signal.like(a_maddr), Signal.like(a_obase)
        # stage O: the group's spikes still to send (registers below)
        o_valid = Signal()
        o_group = Signal.like(a_group)
        o_last = Signal()
        o_obase = Signal.like(a_obase)
        # banked membranes, per bank: the word an update reads and writes (A..C), whether it
        # lands on the map (A..C), which tap of the row's weight word it adds (A..E) and that
        # tap's weights (C); the bank a sweep word is in (A..D). Unbanked: the one memory.
        if banked:
            a_bank, b_bank, e_bank, c_bank, d_bank = (
                Signal(range(bank_count), name=f"{st}_bank") for st in "abecd")
            a_baddr, b_baddr, e_baddr, c_baddr = (
                [Signal.like(a_maddr, name=f"{st}_addr{b}") for b in range(bank_count)]
                for st in "abec")
            a_bwrite, b_bwrite, e_bwrite, c_bwrite = (
                [Signal(name=f"{st}_write{b}") for b in range(bank_count)] for st in "abec")
            a_tap, b_tap, e_tap = ([Signal(range(bank_count), name=f"{st}_tap{b}")
                                    for b in range(bank_count)] for st in "abe")
            c_bweights = [Signal(p * wb, name=f"c_weights{b}") for b in range(bank_count)]
        else:
            e_baddr, c_baddr, c_bwrite = [e_maddr], [c_maddr], [c_write]

        sweeping = Signal()                # a sweep is under way (in any stage)
        emit_eot = Signal()                # the sweep is done; send the end-of-timestep event
        timestep = Signal(range(max(2, self.timesteps)))
        # a register beside the counter, not a compare: it fans out to every carried membrane bit
        last_timestep = Signal(init=int(self.timesteps == 1))

        stall = Signal()
        fire = Signal(p)                   # stage D: the group's fire bits
        fire_next = Signal(p)              # stage C: the same, from the unsaturated sums
        sums = [[] for _ in range(bank_count)]    # per bank, each lane's accumulate sum
        carried = []
        state_width = p * (ab + xb)
        # the word a sweep reads: its bank's
        sweep_word = (Cat(*(rd.data for rd in mem_rds)).word_select(c_bank, state_width)
                      if banked else mem_rds[0].data)
        memb = []            # each lane's saturated membrane in D (a readout sends them)
        states = []          # NeuNorm: each lane's state after an event (C) or a sweep (D)
        for lane in range(p):
            membrane = sweep_word[lane * ab:(lane + 1) * ab].as_signed()
            bias = b_rd.data[lane * mb:(lane + 1) * mb].as_signed()
            # stage C: accumulate sums (one per bank), or biased and saturated membrane for D
            for bank in range(bank_count):
                if banked:
                    weight = c_bweights[bank][lane * wb:(lane + 1) * wb].as_signed()
                    read = mem_rds[bank].data[lane * ab:(lane + 1) * ab].as_signed()
                else:
                    weight = c_weights[lane * wb:(lane + 1) * wb].as_signed()
                    read = membrane
                total = Signal(signed(ab), name=f"sum{bank}_{lane}" if banked else f"sum{lane}")
                m.d.comb += total.eq(read + (weight * c_value if direct else weight))
                sums[bank].append(total)
            if aux:
                # the NeuNorm state: an event adds its aux tap; the sweep takes a >> F off the
                # accumulator before the bias and the compare, and leaks a in D
                state = sweep_word[p * ab + lane * xb:p * ab + (lane + 1) * xb].as_signed()
                tap = c_kernel[lane * kb:(lane + 1) * kb].as_signed()
                state_sum = Signal(signed(xb), name=f"state_sum{lane}")
                adjusted = Signal(signed(max(ab, xb - layer.aux_frac_bits, 1) + 1),
                                  name=f"adjusted{lane}")
                d_state = Signal(signed(xb), name=f"d_state{lane}")
                state_next = Signal(signed(xb), name=f"state_next{lane}")
                m.d.comb += [
                    state_sum.eq(state + tap),
                    adjusted.eq(membrane - state.shift_right(layer.aux_frac_bits)),
                    state_next.eq(Mux(last_timestep, 0, leak_toward_zero(
                        d_state, layer.aux_leak_mult, layer.leak_frac_bits))),
                ]
                with m.If(~stall):
                    m.d.sync += d_state.eq(state)
                states.append((state_sum, state_next))
            else:
                adjusted = membrane
            u_pre = Signal(signed(max(len(adjusted), mb) + 1), name=f"u_pre{lane}")
            u_next = Signal(signed(mb), name=f"u_next{lane}")
            m.d.comb += u_pre.eq(adjusted + bias)
            # saturation to [m_lo, m_hi] = [-2^(mb-1), 2^(mb-1) - 1]: out of range exactly
            # when the bits from mb-1 up to the sign are not all equal (plain logic, no compare)
            top = u_pre[mb - 1:]
            sign = u_pre[-1]
            over = Signal(name=f"over{lane}")
            m.d.comb += [
                over.eq(~(top.all() | ~top.any())),
                u_next.eq(Mux(over, Mux(sign, m_lo, m_hi), u_pre[:mb])),
            ]
            # stage D: fire, reset, leak from the registered membrane. The threshold compare
            # runs in C, beside the bias adder: saturation is monotonic and the threshold lies
            # inside the membrane range, so sat(membrane + bias) >= threshold exactly when
            # membrane >= threshold - bias (the fire level, from its own memory).
            u = Signal(signed(mb), name=f"u{lane}")
            with m.If(~stall):
                m.d.sync += [u.eq(u_next), fire[lane].eq(fire_next[lane])]
            if readout:   # every neuron of the group leaves O (padded lanes do not exist)
                m.d.comb += fire_next[lane].eq(c_group * p + lane < layer.out_features)
            else:
                level = f_rd.data[lane * (mb + 1):(lane + 1) * (mb + 1)].as_signed()
                m.d.comb += fire_next[lane].eq(adjusted >= level)
            # leak(reset(u)) as a choice between the leaked values of both outcomes, so the
            # threshold comparison runs beside the leak arithmetic instead of before it
            kept = Signal(signed(mb), name=f"kept{lane}")
            if_fired = None if readout else Signal(signed(mb), name=f"if_fired{lane}")
            leaked = Signal(signed(mb), name=f"c{lane}")
            m.d.comb += kept.eq(leak_toward_zero(u, layer.leak_mult, layer.leak_frac_bits))
            if readout:
                m.d.comb += leaked.eq(kept)
            else:
                if layer.reset == "zero":
                    m.d.comb += if_fired.eq(0)
                else:
                    after_reset = Signal(signed(mb), name=f"r{lane}")
                    m.d.comb += [after_reset.eq(u - layer.threshold),
                                 if_fired.eq(leak_toward_zero(after_reset, layer.leak_mult,
                                                              layer.leak_frac_bits))]
                m.d.comb += leaked.eq(Mux(fire[lane], if_fired, kept))
            memb.append(u)
            next_value = Signal(signed(ab), name=f"next{lane}")
            if keeps_currents:   # the next timestep's input current, integrated at once
                current = Signal(signed(ab), name=f"current{lane}")
                with m.If(~stall):
                    m.d.sync += current.eq(cur_rd.data[lane * ab:(lane + 1) * ab].as_signed())
                m.d.comb += next_value.eq(Mux(last_timestep, 0, leaked + current))
            else:
                m.d.comb += next_value.eq(Mux(last_timestep, 0, leaked))
            carried.append(next_value)

        # spikes of the group in stage O leave lowest lane first, one per clock. The spikes
        # still to send (pending) and whether two or more remain (several) are registers,
        # computed from D's fire bits as the group enters O and after each spike sent: the
        # stall, which enables every stage, is then one gate from registers and the output's
        # ready.
        pending = Signal(p)
        several = Signal()
        lowest = Signal(p)
        rest = Signal(p)
        entering = Signal(p)
        lane_index = Signal(range(max(2, p)))

        def two_or_more(bits: Value) -> Value:
            return Cat(*[bits[k] & bits[:k].any() for k in range(1, p)]).any() if p > 1 \
                else Const(0)

        m.d.comb += [
            entering.eq(Mux(d_valid, fire, 0)),
            lowest.eq(Cat(pending[0], *[pending[k] & ~pending[:k].any() for k in range(1, p)])),
            rest.eq(pending & ~lowest),
        ]
        for lane in reversed(range(p)):
            with m.If(pending[lane]):
                m.d.comb += lane_index.eq(lane)
        spike_out = Signal()
        m.d.comb += [
            spike_out.eq(pending.any()),
            stall.eq(spike_out & ~(o_ready & ~several)),
            self.o.valid.eq(offered(spike_out | emit_eot)),
            self.o.payload.index.eq(Mux(emit_eot, 0,
                                        o_obase + times_constant(lane_index, positions))),
            self.o.payload.eot.eq(emit_eot),
        ]
        if readout:   # the group's membranes, held in O while its events leave
            o_values = Signal(p * mb)
            with m.If(~stall):
                m.d.sync += o_values.eq(Cat(*memb))
            m.d.comb += self.o.payload.value.eq(
                Mux(emit_eot, 0, o_values.word_select(lane_index, mb)))
        with m.If(~stall):
            m.d.sync += [pending.eq(entering), several.eq(two_or_more(entering))]
        with m.Elif(o_ready):
            m.d.sync += [pending.eq(rest), several.eq(two_or_more(rest))]

        # memory ports: accumulate writes from C, the sweep from D (never in the same cycle:
        # no input is taken during a sweep); a stalled sweep rewrites the same carried values.
        # The membrane read is issued in E, one stage before C writes, and is transparent to
        # the write: back-to-back events on one group read the updated value.
        m.d.comb += [
            weights.addr.eq(a_waddr),
            b_rd.addr.eq(e_group),
            *([] if readout else [f_rd.addr.eq(e_group), f_rd.en.eq(~stall)]),
            b_rd.en.eq(~stall),
        ]
        for bank, (mem_rd, mem_wr) in enumerate(zip(mem_rds, mem_wrs)):
            swept = (d_bank == bank) if banked else 1       # the sweep writes its word's bank
            m.d.comb += [
                mem_rd.addr.eq(e_baddr[bank]),
                mem_rd.en.eq(~stall),
                mem_wr.addr.eq(Mux(d_valid, d_maddr, c_baddr[bank])),
                mem_wr.en.eq((d_valid & swept) | (c_valid & ~c_sweep & c_bwrite[bank])),
                mem_wr.data.eq(Mux(d_valid, Cat(*carried, *[s for _, s in states]),
                                   Cat(*sums[bank], *[s for s, _ in states]))),
            ]
        if aux:
            m.d.comb += k_rd.addr.eq(a_kaddr)
            with m.If(~stall):
                m.d.sync += [e_kernel.eq(k_rd.data), c_kernel.eq(e_kernel)]
        if keeps_currents:
            # accumulate writes go to the currents too; the sample's last sweep clears them
            m.d.comb += [
                cur_rd.addr.eq(e_maddr),
                cur_rd.en.eq(~stall),
                cur_wr.addr.eq(Mux(d_valid, d_maddr, c_maddr)),
                cur_wr.en.eq((d_valid & last_timestep) | (c_valid & ~c_sweep & c_write)),
                cur_wr.data.eq(Mux(d_valid, 0, Cat(*sums))),
            ]

        # input handshake: take an event when stage A is free or finishing its row
        accept = Signal()
        m.d.comb += [
            self.i.ready.eq(moving(~sweeping & ~emit_eot & (~a_valid | a_last))),
            accept.eq(self.i.valid & self.i.ready),
        ]

        # stage A -> B -> E -> C -> D -> O
        with m.If(~stall):
            m.d.sync += [b_valid.eq(a_valid), b_sweep.eq(a_sweep), b_group.eq(a_group),
                         b_last.eq(a_last), b_maddr.eq(a_maddr), b_write.eq(a_write),
                         b_obase.eq(a_obase),
                         e_valid.eq(b_valid), e_sweep.eq(b_sweep), e_group.eq(b_group),
                         e_last.eq(b_last), e_maddr.eq(b_maddr), e_write.eq(b_write),
                         e_obase.eq(b_obase),
                         c_valid.eq(e_valid), c_sweep.eq(e_sweep), c_group.eq(e_group),
                         c_last.eq(e_last), c_maddr.eq(e_maddr),
                         c_write.eq(e_write), c_obase.eq(e_obase),
                         d_valid.eq(c_valid & c_sweep), d_group.eq(c_group),
                         d_last.eq(c_last), d_maddr.eq(c_maddr), d_obase.eq(c_obase),
                         o_valid.eq(d_valid), o_group.eq(d_group), o_last.eq(d_last),
                         o_obase.eq(d_obase)]
            if direct:
                m.d.sync += [b_value.eq(a_value), e_value.eq(b_value), c_value.eq(e_value)]
            if banked:   # each bank's tap of the row word chosen in E
                m.d.sync += [b_bank.eq(a_bank), e_bank.eq(b_bank), c_bank.eq(e_bank),
                             d_bank.eq(c_bank)]
                for bank in range(bank_count):
                    m.d.sync += [
                        b_baddr[bank].eq(a_baddr[bank]), e_baddr[bank].eq(b_baddr[bank]),
                        c_baddr[bank].eq(e_baddr[bank]), b_bwrite[bank].eq(a_bwrite[bank]),
                        e_bwrite[bank].eq(b_bwrite[bank]), c_bwrite[bank].eq(e_bwrite[bank]),
                        b_tap[bank].eq(a_tap[bank]), e_tap[bank].eq(b_tap[bank]),
                        c_bweights[bank].eq(weights.data.word_select(e_tap[bank], p * wb))]
            else:
                m.d.sync += c_weights.eq(weights.data)

        # stage A sequencing: an input event reads its taps x groups weight words in address
        # order (a convolution: kernel row, column, then group); the end-of-timestep event
        # starts the sweep over every membrane word
        if banked:
            k_size, stride, pad = layer.kernel_size, layer.stride, layer.padding
            _, out_h, out_w = layer.out_shape
            _, in_h, _ = layer.pooled_shape
            q_words = -(-out_w // k_size)        # words of one output row in a bank
            ev_y = Signal.like(self.i.payload.y)
            a_ky = Signal(range(max(2, k_size)))
            # per bank, from the event's column: its tap, its word in the row, whether on the map
            ev_tap = [Signal(range(k_size), name=f"ev_tap{b}") for b in range(k_size)]
            ev_q = [Signal(range(max(2, q_words)), name=f"ev_q{b}") for b in range(k_size)]
            ev_on = [Signal(name=f"ev_on{b}") for b in range(k_size)]
            oy_n = Signal(range(-k_size, in_h + pad + 1), name="oy_n")
            oy = Signal(range(max(2, out_h)))
            step = (stride - 1).bit_length()
            m.d.comb += [oy_n.eq(ev_y + pad - a_ky), oy.eq(oy_n[step:])]
            on_row = ~oy_n[-1] & (oy_n[step:] < out_h)
            if stride > 1:
                on_row = on_row & (oy_n[:step] == 0)
            # the sweep's word: output row (g*OH + oy) of every bank, then column ox
            a_sox = Signal(range(max(2, out_w)))
            a_sq = Signal(range(max(2, q_words)))
            a_srow = Signal(range(words + q_words))     # (g*OH + oy) * Q
            m.d.comb += [
                a_maddr.eq(Mux(a_sweep, a_srow + a_sq, times_constant(a_group, out_h * q_words)
                               + times_constant(oy, q_words))),
                a_write.eq(on_row),
            ]
            for b in range(k_size):
                m.d.comb += [a_baddr[b].eq(a_maddr + Mux(a_sweep, 0, ev_q[b])),
                             a_bwrite[b].eq(on_row & ev_on[b]), a_tap[b].eq(ev_tap[b])]
        elif conv:
            k_size, stride, pad = layer.kernel_size, layer.stride, layer.padding
            _, out_h, out_w = layer.out_shape
            ev_y = Signal.like(self.i.payload.y)
            ev_x = Signal.like(self.i.payload.x)
            a_ky = Signal(range(max(2, k_size)))
            a_kx = Signal(range(max(2, k_size)))
            # the tap (ky, kx) of input (y, x) reaches output (oy, ox) with
            # oy * stride = y + padding - ky, when that lands on the output map
            _, in_h, in_w = layer.pooled_shape
            oy_n = Signal(range(-k_size, in_h + pad + 1), name="oy_n")
            ox_n = Signal(range(-k_size, in_w + pad + 1), name="ox_n")
            oy, ox = Signal(range(max(2, out_h))), Signal(range(max(2, out_w)))
            step = (stride - 1).bit_length()
            m.d.comb += [oy_n.eq(ev_y + pad - a_ky), ox_n.eq(ev_x + pad - a_kx),
                         oy.eq(oy_n[step:]), ox.eq(ox_n[step:])]
            on_map = (~oy_n[-1] & ~ox_n[-1] & (oy_n[step:] < out_h) & (ox_n[step:] < out_w))
            if stride > 1:
                on_map = on_map & (oy_n[:step] == 0) & (ox_n[:step] == 0)
            m.d.comb += [
                a_maddr.eq(Mux(a_sweep, a_word, times_constant(a_group, positions)
                               + times_constant(oy, out_w) + ox)),
                a_write.eq(on_map),
            ]
        else:
            m.d.comb += [a_maddr.eq(a_group), a_write.eq(1)]

        with m.If(accept & ~self.i.payload.eot):
            first = self.i.payload.c if conv else self.i.payload.index
            m.d.sync += [a_valid.eq(1), a_sweep.eq(0), a_group.eq(0),
                         a_waddr.eq(times_constant(first, taps * g_count)),
                         a_left.eq(taps * g_count - 1), a_last.eq(taps * g_count == 1)]
            if aux:
                m.d.sync += a_kaddr.eq(0)
            if direct:
                m.d.sync += a_value.eq(self.i.payload.value)
            if banked:
                m.d.sync += [a_ky.eq(0), ev_y.eq(self.i.payload.y)]
                with m.Switch(self.i.payload.x):
                    for x, row in enumerate(row_taps(layer)):
                        with m.Case(x):
                            m.d.sync += [s.eq(v) for b, (tap, q, on) in enumerate(row)
                                         for s, v in ((ev_tap[b], tap), (ev_q[b], q),
                                                      (ev_on[b], on))]
            elif conv:
                m.d.sync += [a_ky.eq(0), a_kx.eq(0), ev_y.eq(self.i.payload.y),
                             ev_x.eq(self.i.payload.x)]
        with m.Elif(accept & self.i.payload.eot):
            m.d.sync += [a_valid.eq(1), a_sweep.eq(1), a_group.eq(0), a_pos.eq(0), a_word.eq(0),
                         a_obase.eq(0), a_left.eq(words - 1), a_last.eq(words == 1),
                         sweeping.eq(1)]
            if banked:
                m.d.sync += [a_sox.eq(0), a_bank.eq(0), a_sq.eq(0), a_srow.eq(0)]
        with m.Elif(a_valid & ~stall):
            with m.If(a_last):
                m.d.sync += a_valid.eq(0)
            with m.Else():
                m.d.sync += [a_left.eq(a_left - 1), a_last.eq(a_left == 1),
                             a_waddr.eq(a_waddr + 1), a_word.eq(a_word + 1)]
                if aux:
                    m.d.sync += a_kaddr.eq(a_kaddr + 1)
                with m.If(a_sweep):
                    with m.If(a_pos == positions - 1):
                        m.d.sync += [a_pos.eq(0), a_group.eq(a_group + 1),
                                     a_obase.eq(a_obase + (p - 1) * positions + 1)]
                    with m.Else():
                        m.d.sync += [a_pos.eq(a_pos + 1), a_obase.eq(a_obase + 1)]
                    if banked:   # column ox in bank ox mod K, word ox div K of the row
                        with m.If(a_sox == out_w - 1):
                            m.d.sync += [a_sox.eq(0), a_bank.eq(0), a_sq.eq(0),
                                         a_srow.eq(a_srow + q_words)]
                        with m.Elif(a_bank == k_size - 1):
                            m.d.sync += [a_sox.eq(a_sox + 1), a_bank.eq(0), a_sq.eq(a_sq + 1)]
                        with m.Else():
                            m.d.sync += [a_sox.eq(a_sox + 1), a_bank.eq(a_bank + 1)]
                with m.Elif(a_group == g_count - 1):
                    m.d.sync += a_group.eq(0)
                    if banked:
                        m.d.sync += a_ky.eq(a_ky + 1)
                    elif conv:
                        with m.If(a_kx == k_size - 1):
                            m.d.sync += [a_kx.eq(0), a_ky.eq(a_ky + 1)]
                        with m.Else():
                            m.d.sync += a_kx.eq(a_kx + 1)
                with m.Else():
                    m.d.sync += a_group.eq(a_group + 1)

        # end of sweep: the last group left stage O
        with m.If(o_valid & o_last & ~stall):
            m.d.sync += [sweeping.eq(0), emit_eot.eq(1)]
        with m.If(emit_eot & o_ready):
            m.d.sync += [emit_eot.eq(0),
                         timestep.eq(Mux(last_timestep, 0, timestep + 1)),
                         last_timestep.eq(Mux(last_timestep, self.timesteps == 1,
                                              timestep == self.timesteps - 2))]
        # single port: every register of the core (its other memories' ports included) moves
        # on the advancing clocks only
        return EnableInserter({"sync": self.advance})(m) if single_port else m

    def _membrane_ports(self, m: Module, words: int, width: int) -> SimpleNamespace:
        """The membrane memory (``words`` x ``width`` bits; banked: K banks of
        :func:`~.layout.bank_words` words) as read ports (``reads``: addr, en, data) and write
        ports (``writes``), one each per bank, and how the core's handshakes go with them:
        ``moving(v)`` gates a handshake to the clocks the core moves on, ``offered(v)`` the
        output's valid, ``o_ready`` says the output was taken. Two ports of a block RAM per
        bank, or (single port) a :class:`SinglePortMemory` at half rate on a clock domain of
        its own."""
        if self.membrane_memory in ("bram", "banked"):
            banked = self.membrane_memory == "banked"
            reads, writes = [], []
            for bank in range(self.layer.kernel_size if banked else 1):
                membranes = memory.Memory(shape=unsigned(width), init=[], depth=bank_words(
                    self.layer, self.lanes) if banked else words)
                m.submodules[f"membranes{bank}" if banked else "membranes"] = membranes
                # (named as the core's ports: Amaranth names the Verilog after them)
                writes.append(membranes.write_port())
                reads.append(membranes.read_port(transparent_for=(writes[-1],)))
            return SimpleNamespace(reads=reads, writes=writes, o_ready=self.o.ready,
                                   moving=lambda v: v, offered=lambda v: v)
        # on its own clock domain (the same clock): the core's registers move only when it
        # advances, the memory's port every clock
        m.domains.membranes = ClockDomain("membranes", local=True)
        ram = SinglePortMemory(depth=words, width=width)
        m.submodules.membranes = DomainRenamer("membranes")(ram)
        m.d.comb += [ClockSignal("membranes").eq(ClockSignal()),
                     ResetSignal("membranes").eq(ResetSignal()),
                     ram.run.eq(self.run), self.cleared.eq(ram.cleared),
                     self.advance.eq(ram.advance)]
        # the output stays valid on both clocks of a step (the stream rule) and may be taken
        # on either: taken on the first, it is gone on the second ("sent"), and the core
        # moves on as if taken then
        sent = Signal()
        o_ready = Signal(name="o_taken")
        m.d.membranes += sent.eq(Mux(ram.advance, 0, sent | (self.o.valid & self.o.ready)))
        m.d.comb += o_ready.eq(sent | self.o.ready)
        return SimpleNamespace(
            reads=[SimpleNamespace(addr=ram.rd_addr, en=ram.rd_en, data=ram.rd_data)],
            writes=[SimpleNamespace(addr=ram.wr_addr, en=ram.wr_en, data=ram.wr_data)],
            o_ready=o_ready, moving=lambda v: v & ram.advance, offered=lambda v: v & ~sent)
