"""Network top: the layer cores of an IR chained through FIFOs.

The FIFO after layer l holds ``out_features(l) + 1`` events, one whole timestep of that
layer's spikes plus its end-of-timestep marker, so a layer can finish its sweep while the next
one is still busy with the previous timestep.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from ..ir import Network
from .events import event_layout, event_signature
from .lif_core import LIFCore

__all__ = ["SNNTop", "fifo_depths"]


def fifo_depths(net: Network) -> list[int]:
    """Depth of the FIFO behind every layer but the last (events)."""
    return [layer.out_features + 1 for layer in net.layers[:-1]]


class SNNTop(wiring.Component):
    """The whole network as one streaming component.

    Ports
    -----
    i: In(stream of events over ``input_features``)
        Input spikes ``{index, eot}``: the active inputs of a timestep in any order, then ``eot``.
        A sample is ``timesteps`` such timesteps; the next sample follows directly.
    o: Out(stream of events over ``output_features``)
        Output-layer spikes of each timestep in ascending order, then ``eot``.

    ``lanes`` (P) neurons of every layer are updated per clock.
    """

    def __init__(self, net: Network, *, lanes: int = 1) -> None:
        self.net = net.validate()
        self.lanes = lanes
        super().__init__({"i": In(event_signature(net.input_features)),
                          "o": Out(event_signature(net.output_features))})

    def elaborate(self, platform) -> Module:
        m = Module()
        cores = [LIFCore(layer=layer, timesteps=self.net.timesteps, lanes=self.lanes)
                 for layer in self.net.layers]
        for core in cores:
            m.submodules[core.layer.name] = core
        wiring.connect(m, wiring.flipped(self.i), cores[0].i)
        for depth, upstream, downstream in zip(fifo_depths(self.net), cores, cores[1:]):
            width = event_layout(upstream.layer.out_features).size
            queue = fifo.SyncFIFOBuffered(width=width, depth=depth)
            m.submodules[f"{upstream.layer.name}_fifo"] = queue
            m.d.comb += [
                queue.w_data.eq(upstream.o.payload),
                queue.w_en.eq(upstream.o.valid),
                upstream.o.ready.eq(queue.w_rdy),
                downstream.i.payload.eq(queue.r_data),
                downstream.i.valid.eq(queue.r_rdy),
                queue.r_en.eq(downstream.i.ready),
            ]
        wiring.connect(m, cores[-1].o, wiring.flipped(self.o))
        return m
