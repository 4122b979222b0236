"""The spike event stream shared by every core: a neuron index or an end-of-timestep marker.

Payload layout (LSB first): ``index`` (``index_bits`` wide), then ``eot`` (1 bit). An event with
``eot = 1`` closes the current timestep; its index is 0 and carries no meaning. Within a
timestep, spike events may come in any order.
"""

from __future__ import annotations

from amaranth.lib import data, stream

__all__ = ["event_layout", "event_signature", "index_bits"]


def index_bits(features: int) -> int:
    """Bits of an index into ``features`` neurons (at least 1)."""
    if features < 1:
        raise ValueError(f"features must be >= 1, got {features!r}")
    return max(1, (features - 1).bit_length())


def event_layout(features: int) -> data.StructLayout:
    """Payload layout of events addressing ``features`` neurons."""
    return data.StructLayout({"index": index_bits(features), "eot": 1})


def event_signature(features: int) -> stream.Signature:
    """valid/ready stream of events addressing ``features`` neurons."""
    return stream.Signature(event_layout(features))
