"""The spike event stream shared by every core: a neuron index or an end-of-timestep marker.

Payload layout (LSB first): ``index`` (``index_bits`` wide), then ``eot`` (1 bit), then for a
direct-encoding input only ``value`` (``value_bits``, unsigned: the input's N-bit value; a
spike has none). An event with ``eot = 1`` closes the current timestep; its index and value
are 0 and carry no meaning. Within a timestep, events may come in any order.
"""

from __future__ import annotations

from amaranth.lib import data, stream

__all__ = ["event_layout", "event_signature", "index_bits", "value_bits"]


def index_bits(features: int) -> int:
    """Bits of an index into ``features`` neurons (at least 1)."""
    if features < 1:
        raise ValueError(f"features must be >= 1, got {features!r}")
    return max(1, (features - 1).bit_length())


def event_layout(features: int, value_bits: int = 0) -> data.StructLayout:
    """Payload layout of events addressing ``features`` neurons, with a ``value`` field of
    ``value_bits`` (0: spikes, no value)."""
    fields = {"index": index_bits(features), "eot": 1}
    return data.StructLayout(fields | ({"value": value_bits} if value_bits else {}))


def event_signature(features: int, value_bits: int = 0) -> stream.Signature:
    """valid/ready stream of events addressing ``features`` neurons (see ``event_layout``)."""
    return stream.Signature(event_layout(features, value_bits))


def value_bits(input_bits: int) -> int:
    """Width of the ``value`` field for inputs of ``input_bits`` bits (0 for spikes)."""
    return input_bits if input_bits > 1 else 0
