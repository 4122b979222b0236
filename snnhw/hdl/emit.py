"""Writers: Verilog of the network top and ``$readmemh`` memory images of every layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from amaranth.back import verilog

from ..ir import Network
from .network import SNNTop

__all__ = ["TOP_NAME", "memory_image", "verilog_source", "write_memory_images"]

TOP_NAME = "snn_top"


def verilog_source(net: Network) -> str:
    """Verilog of :class:`SNNTop` for ``net``; identical inputs give byte-identical text."""
    top = SNNTop(net)
    return verilog.convert(top, name=TOP_NAME, emit_src=False)


def memory_image(values: np.ndarray, bits: int) -> str:
    """``$readmemh`` text: one two's complement word of ``bits`` bits per line."""
    digits = (bits + 3) // 4
    mask = (1 << bits) - 1
    return "".join(f"{int(v) & mask:0{digits}x}\n" for v in values.reshape(-1))


def write_memory_images(net: Network, folder: Path) -> list[Path]:
    """Weight and bias images in the cores' address order (weight row j at j*N .. j*N+N-1)."""
    paths = []
    for layer in net.layers:
        weight = folder / f"{layer.name}_weights.hex"
        weight.write_text(memory_image(layer.weight.T, layer.weight_bits))
        bias = folder / f"{layer.name}_bias.hex"
        bias.write_text(memory_image(layer.bias, layer.membrane_bits))
        paths += [weight, bias]
    return paths
