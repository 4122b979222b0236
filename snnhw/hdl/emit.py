"""Writers: Verilog of the network top, with the weight and bias memories loaded from
``$readmemh`` memory images.

Amaranth writes a memory's initial contents as one assignment per word; for the weight
matrix of a real network that is 10^5 statements, slow to parse for every tool. The writer
moves the contents of each layer's ``weights`` and ``biases`` memories into an image file
``<layer>_<memory>.hex`` (checking word for word that the image holds what Amaranth wrote) and
loads it with ``$readmemh("../rtl/<file>")``. That path resolves from any sibling folder of
``rtl/`` (the simulators run in ``cosim/``, synthesis in ``synth/``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from amaranth.back import verilog
from amaranth.lib import wiring

from ..ir import Network
from .layout import bias_words, weight_words
from .network import SNNTop

__all__ = ["IMAGE_DIR", "TOP_NAME", "memory_image", "verilog_source", "write_rtl"]

TOP_NAME = "snn_top"
IMAGE_DIR = "../rtl"
_IMAGED_MEMORIES = ("weights", "biases")


def memory_image(values: np.ndarray, bits: int) -> str:
    """``$readmemh`` text: one two's complement word of ``bits`` bits per line."""
    digits = (bits + 3) // 4
    mask = (1 << bits) - 1
    return "".join(f"{int(v) & mask:0{digits}x}\n" for v in np.asarray(values).reshape(-1))


def _images(net: Network, lanes: int) -> dict[tuple[str, str], str]:
    """(layer, memory) -> image text in the cores' address order (:mod:`.layout`)."""
    images = {}
    for layer in net.layers:
        images[(layer.name, "weights")] = memory_image(
            np.array(weight_words(layer, lanes), dtype=object), lanes * layer.weight_bits)
        images[(layer.name, "biases")] = memory_image(
            np.array(bias_words(layer, lanes), dtype=object), lanes * layer.membrane_bits)
    return images




def _move_init_to_images(text: str, images: dict[tuple[str, str], str]) -> str:
    """Replace the ``initial`` blocks of the imaged memories by ``$readmemh`` calls."""
    out: list[str] = []
    module = None
    lines = text.split("\n")
    i = 0
    moved = set()
    while i < len(lines):
        line = lines[i]
        header = re.match(r"module \\?(\S+) ?\(", line)
        if header:
            module = header.group(1).split(".")[-1]
        decl = re.match(r"\s*reg \[(\d+):0\] (\w+) \[(\d+):0\];$", line)
        if decl and (module, decl.group(2)) in images:
            name = decl.group(2)
            image = [int(w, 16) for w in images[(module, name)].split()]
            words = [0] * len(image)        # Amaranth writes no initialiser for all-zero memories
            j = i + 1
            if lines[j].strip() == "initial begin":
                j += 1
                while lines[j].strip() != "end":
                    value = re.fullmatch(rf"\s*{name}\[(\d+)\] = \d+'([hdb])([0-9a-f]+);",
                                         lines[j])
                    if value is None:
                        raise RuntimeError(f"unexpected initialiser for {module}.{name}: "
                                           f"{lines[j]!r}")
                    base = {"h": 16, "d": 10, "b": 2}[value.group(2)]
                    words[int(value.group(1))] = int(value.group(3), base)
                    j += 1
                j += 1
            if words != image:
                raise RuntimeError(f"memory image of {module}.{name} differs from the Verilog")
            out += [line, f'  initial $readmemh("{IMAGE_DIR}/{module}_{name}.hex", {name});']
            moved.add((module, name))
            i = j
            continue
        out.append(line)
        i += 1
    missing = set(images) - moved
    if missing:
        raise RuntimeError(f"no initialiser found for memories {sorted(missing)}")
    return "\n".join(out)


def verilog_source(net: Network, lanes: int = 1, *, top: wiring.Component | None = None,
                   name: str = TOP_NAME) -> tuple[str, dict[str, str]]:
    """Verilog of ``top`` (default :class:`SNNTop` for ``net`` with ``lanes`` lanes per core)
    as module ``name``, and the memory images of ``net``'s layers (file name -> text).
    Identical inputs give byte-identical text.
    """
    images = _images(net, lanes)
    component = top if top is not None else SNNTop(net, lanes=lanes)
    text = _move_init_to_images(verilog.convert(component, name=name, emit_src=False), images)
    return text, {f"{layer}_{memory}.hex": image for (layer, memory), image in images.items()}


def write_rtl(net: Network, folder: Path, lanes: int = 1) -> Path:
    """Write ``folder/snn_top.v`` and its memory images; returns the Verilog path."""
    folder.mkdir(parents=True, exist_ok=True)
    text, images = verilog_source(net, lanes)
    for name, image in images.items():
        (folder / name).write_text(image)
    path = folder / f"{TOP_NAME}.v"
    path.write_text(text)
    return path
