"""Amaranth HDL generator: LIF layer cores and the network top, built from the IR.

Never imports torch: the IR is all it needs.
"""

from .emit import TOP_NAME, memory_image, verilog_source, write_rtl
from .events import event_layout, event_signature, index_bits, value_bits
from .lif_core import LIFCore
from .network import (
    MEMBRANE_MEMORY,
    WEIGHT_MEMORY,
    SNNTop,
    fifo_depths,
    membrane_styles,
    output_value_bits,
    weight_load_bytes,
)

__all__ = ["LIFCore", "MEMBRANE_MEMORY", "SNNTop", "TOP_NAME", "WEIGHT_MEMORY", "event_layout",
           "event_signature", "fifo_depths", "index_bits", "membrane_styles", "memory_image",
           "output_value_bits", "value_bits", "verilog_source", "weight_load_bytes", "write_rtl"]
