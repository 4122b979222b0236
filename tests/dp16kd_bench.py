"""cocotb bench of tests/test_dp16kd.py: random reads and writes on a one-memory design,
every read word recorded (to ``SNNHW_TRACE``) for comparison between RTL and netlist."""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge


@cocotb.test()
async def random_access(dut):
    rng = random.Random(int(os.environ["SNNHW_SEED"]))
    depth = int(os.environ["SNNHW_DEPTH"])
    width = int(os.environ["SNNHW_WIDTH"])
    writes = os.environ["SNNHW_WRITES"] == "1"
    read_enable = os.environ["SNNHW_READ_ENABLE"] == "1"
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 0
    dut.raddr.value = 0
    if read_enable:
        dut.ren.value = 1
    if writes:
        dut.wen.value = 0
        dut.waddr.value = 0
        dut.wdata.value = 0
    trace = []
    # every address once in order (the initial contents), then random traffic with writes
    # that often hit the address being read, and reads disabled now and then (the word read
    # last must stay)
    schedule = list(range(depth)) + [rng.randrange(depth) for _ in range(2 * depth)]
    for k, address in enumerate(schedule):
        await FallingEdge(dut.clk)
        dut.raddr.value = address
        if read_enable and k >= depth:
            dut.ren.value = rng.random() < 0.6
        if writes and k >= depth:
            dut.wen.value = rng.random() < 0.5
            dut.waddr.value = address if rng.random() < 0.3 else rng.randrange(depth)
            dut.wdata.value = rng.getrandbits(width)
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        trace.append(int(dut.rdata.value))
    with open(os.environ["SNNHW_TRACE"], "w") as fh:
        json.dump(trace, fh)
