"""Network top: the layer cores of an IR chained through FIFOs.

Weights: every core keeps its weights in the bitstream (``weight_memory="rom"``), or, with
``"spram"``, the layer with the largest weight memory gets them at run time through the
``load`` byte stream (:mod:`.loader`), so that Yosys maps them onto iCE40 UP SPRAM; events are
taken only once every word is loaded.

Membranes: in block RAM (``membrane_memory="bram"``: a read and a write port, one update per
clock), or with ``"spram"`` those of the layers with the most membrane bits in single-ported
memories Yosys maps onto iCE40 UP SPRAM (:func:`membrane_styles`): those cores take two clocks
per update (:class:`.single_port.SinglePortMemory`) and clear their membranes after a reset;
the network takes events once every such core is cleared (and every weight loaded), and
starts them all on the same clock. With ``"banked"``, every convolution over spikes
(:func:`.layout.banks_rows`; ROM weights) keeps its membranes in K block-RAM banks by output
column and takes a whole kernel row of an input event per clock; the other layers ``"bram"``.

A direct-encoding first layer whose input is cheaper to keep than its currents gets an
:class:`.replay.InputReplay` in front (``Layer.replays_input``).

The FIFO after layer l holds ``out_features(l) + 1`` events (one slot more in the hardware,
see below), one whole timestep of that layer's spikes plus its end-of-timestep marker, so a layer can finish its sweep while the next
one is still busy with the previous timestep.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..ir import ConvLIFLayer, Layer, Network, needs_mapper
from .events import event_layout, event_signature, value_bits
from .layout import banks_rows, membrane_words, weight_depth, weight_words
from .lif_core import MEMBRANE_STYLES, LIFCore
from .loader import WeightLoader, load_image
from .mapper import EventMapper
from .replay import InputReplay
from .single_port import sprams_for

__all__ = ["MEMBRANE_MEMORY", "SNNTop", "SPRAMS", "WEIGHT_MEMORY", "fifo_depths",
           "loaded_layers", "loaded_memories", "membrane_styles", "output_value_bits",
           "weight_load_bytes", "weight_styles"]

WEIGHT_MEMORY = ("rom", "spram")
MEMBRANE_MEMORY = MEMBRANE_STYLES
SPRAMS = 4                 # SB_SPRAM256KA blocks of an iCE40 UP (UP5K, UP3K)


def weight_styles(net: Network, lanes: int, weight_memory: str) -> list[str]:
    """Weight memory style of every layer core: ``"rom"`` everywhere, or with ``"spram"`` the
    layer with the most weight bits ``"loaded"`` (written at run time) and the rest ``"rom"``."""
    if weight_memory not in WEIGHT_MEMORY:
        raise ValueError(f"weight_memory must be one of {WEIGHT_MEMORY}, got {weight_memory!r}")
    styles = ["rom"] * len(net.layers)
    if weight_memory == "spram":
        bits = [weight_depth(l, lanes) * lanes * l.weight_bits for l in net.layers]
        styles[bits.index(max(bits))] = "loaded"
    return styles


def membrane_styles(net: Network, lanes: int, weight_memory: str = "rom",
                    membrane_memory: str = "bram") -> list[str]:
    """Membrane memory style of every layer core: ``"bram"`` everywhere; with ``"spram"``
    the layers with the most membrane bits ``"spram"``, largest first, each as long as its
    SPRAMs (:func:`.single_port.sprams_for`) fit in the ``SPRAMS`` the run-time loaded
    weights leave; with ``"banked"`` every layer that can (:func:`.layout.banks_rows`, ROM
    weights) ``"banked"``; the rest ``"bram"``."""
    if membrane_memory not in MEMBRANE_MEMORY:
        raise ValueError(f"membrane_memory must be one of {MEMBRANE_MEMORY}, got "
                         f"{membrane_memory!r}")
    if membrane_memory == "banked":
        return ["banked" if banks_rows(layer) and weights == "rom" else "bram"
                for layer, weights in zip(net.layers, weight_styles(net, lanes, weight_memory))]
    styles = ["bram"] * len(net.layers)
    if membrane_memory == "spram":
        left = SPRAMS - sum(sprams_for(depth, width)
                            for depth, width in loaded_memories(net, lanes, weight_memory))
        sizes = [(membrane_words(l, lanes), lanes * l.state_bits) for l in net.layers]
        for k in sorted(range(len(sizes)), key=lambda k: -sizes[k][0] * sizes[k][1]):
            need = sprams_for(*sizes[k])
            if need <= left:
                styles[k], left = "spram", left - need
    return styles


def loaded_layers(net: Network, lanes: int, weight_memory: str) -> list[Layer]:
    """The layers whose weights are written at run time, in load order."""
    return [l for l, style in zip(net.layers, weight_styles(net, lanes, weight_memory))
            if style == "loaded"]


def loaded_memories(net: Network, lanes: int, weight_memory: str) -> list[tuple[int, int]]:
    """(depth, width) of the run-time loaded weight memories, in load order."""
    return [(weight_depth(l, lanes), lanes * l.weight_bits)
            for l in loaded_layers(net, lanes, weight_memory)]


def weight_load_bytes(net: Network, lanes: int, weight_memory: str) -> bytes:
    """The ``load`` byte stream of :class:`SNNTop` (empty when every weight is in the
    bitstream)."""
    return load_image([(weight_words(l, lanes), lanes * l.weight_bits)
                       for l in loaded_layers(net, lanes, weight_memory)])


def output_value_bits(net: Network) -> int:
    """Width of the ``value`` field of the network's output events: a readout's membrane
    (``membrane_bits``, two's complement), 0 for spikes."""
    last = net.layers[-1]
    return 0 if last.fires else last.membrane_bits


FIFO_DEPTH_MAX = 1024      # events: a larger map's timestep waits in its core's sweep instead


def fifo_depths(net: Network) -> list[int]:
    """Depth of the FIFO behind every layer but the last (events): a whole timestep of the
    layer's spikes and its end-of-timestep event, at most ``FIFO_DEPTH_MAX``."""
    return [min(layer.out_features + 1, FIFO_DEPTH_MAX) for layer in net.layers[:-1]]


class SNNTop(wiring.Component):
    """The whole network as one streaming component.

    Ports
    -----
    i: In(stream of events over ``input_features``)
        Input spikes ``{index, eot}``: the active inputs of a timestep in any order, then ``eot``.
        A sample is ``timesteps`` such timesteps; the next sample follows directly. A
        direct-encoding network takes ``{index, eot, value}``: the sample's nonzero inputs
        with their values in its first timestep, then only ``eot`` for the others
        (``Network.sent_inputs``).
    o: Out(stream of events over ``output_features``)
        Output-layer spikes of each timestep in ascending order, then ``eot``; a readout
        sends every neuron with its membrane in ``value`` (``membrane_bits``, two's
        complement).

    load: In(stream of bytes)
        With ``weight_memory="spram"`` only: the run-time weights (:func:`.loader.load_image`),
        before the first event.

    ``lanes`` (P) neurons of every layer are updated per clock; ``images``: the constant
    memories built empty, their contents loaded from memory images (:mod:`.emit`).
    """

    def __init__(self, net: Network, *, lanes: int = 1, weight_memory: str = "rom",
                 membrane_memory: str = "bram", images: bool = False) -> None:
        self.net = net.validate()
        self.lanes = lanes
        self.weight_memory = weight_memory
        self.membrane_memory = membrane_memory
        self.images = images
        self.styles = weight_styles(net, lanes, weight_memory)
        self.membrane_styles = membrane_styles(net, lanes, weight_memory, membrane_memory)
        ports = {"i": In(event_signature(net.input_features, value_bits(net.input_bits))),
                 "o": Out(event_signature(net.output_features, output_value_bits(net)))}
        if "loaded" in self.styles:
            ports["load"] = In(stream.Signature(8))
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        cores = [LIFCore(layer=layer, timesteps=self.net.timesteps, lanes=self.lanes,
                         weight_memory=style, membrane_memory=membranes, images=self.images)
                 for layer, style, membranes in zip(self.net.layers, self.styles,
                                                    self.membrane_styles)]
        inputs = []                        # the stream each core's events enter by
        for core in cores:
            m.submodules[core.layer.name] = core
            layer = core.layer
            if needs_mapper(layer):
                mapper = EventMapper(layer.in_shape, layer.pool,
                                     flat=not isinstance(layer, ConvLIFLayer),
                                     value_bits=value_bits(layer.input_bits))
                m.submodules[f"{layer.name}_mapper"] = mapper
                wiring.connect(m, mapper.o, core.i)
                inputs.append(mapper.i)
            else:
                inputs.append(core.i)
        if self.net.layers[0].replays_input:
            # the direct input's first timestep, sent again in the others
            m.submodules.input_replay = replay = InputReplay(
                features=self.net.input_features, value_bits=value_bits(self.net.input_bits),
                timesteps=self.net.timesteps)
            wiring.connect(m, replay.o, inputs[0])
            inputs[0] = replay.i
        loaded = [core for core in cores if core.weight_memory == "loaded"]
        single_port = [core for core in cores if core.membrane_memory == "spram"]
        gate = None              # the first event waits for it: weights loaded, membranes cleared
        if loaded:
            m.submodules.loader = loader = WeightLoader(
                loaded_memories(self.net, self.lanes, self.weight_memory))
            wiring.connect(m, wiring.flipped(self.load), loader.i)
            for k, core in enumerate(loaded):
                wiring.connect(m, getattr(loader, f"o{k}"), core.load)
            gate = loader.done
        if single_port:
            # the single-ported cores step together from the clock all are cleared; the
            # input opens on the first clock of a step after the weights are loaded, so a run's
            # cycles do not depend on how long the clearing and the loading took
            cleared = Signal()
            m.d.comb += cleared.eq(Cat(*(core.cleared for core in single_port)).all())
            for core in single_port:
                m.d.comb += core.run.eq(cleared)
            go = Signal()
            with m.If(cleared & single_port[0].advance & (gate if gate is not None else 1)):
                m.d.sync += go.eq(1)
            gate = go
        if gate is not None:
            m.d.comb += [inputs[0].payload.eq(self.i.payload),
                         inputs[0].valid.eq(self.i.valid & gate),
                         self.i.ready.eq(inputs[0].ready & gate)]
        else:
            wiring.connect(m, wiring.flipped(self.i), inputs[0])
        for depth, upstream, downstream in zip(fifo_depths(self.net), cores, inputs[1:]):
            width = event_layout(upstream.layer.out_features).size
            # one slot more than the events it must hold, so that the upstream core sees a
            # registered "room" instead of the FIFO's level compare (its output stage stalls
            # the whole core pipeline): room at t means 2 free slots at t-1, 1 free at t
            queue = fifo.SyncFIFOBuffered(width=width, depth=depth + 1)
            m.submodules[f"{upstream.layer.name}_fifo"] = queue
            room = Signal(name=f"{upstream.layer.name}_fifo_room")
            m.d.sync += room.eq(queue.level < depth)
            m.d.comb += [
                queue.w_data.eq(upstream.o.payload),
                queue.w_en.eq(upstream.o.valid & room),
                upstream.o.ready.eq(room),
                downstream.payload.eq(queue.r_data),
                downstream.valid.eq(queue.r_rdy),
                queue.r_en.eq(downstream.ready),
            ]
        wiring.connect(m, cores[-1].o, wiring.flipped(self.o))
        return m
