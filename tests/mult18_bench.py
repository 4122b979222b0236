"""cocotb bench of tests/test_mult18.py: random and corner operands into ``mul_top``, whose
``ok`` output says the synthesised netlist's product (MULT18X18D model) equals the RTL's."""

from __future__ import annotations

import os
import random

import cocotb
from cocotb.triggers import Timer


@cocotb.test()
async def products_agree(dut) -> None:
    wa, wb = int(os.environ["SNNHW_WA"]), int(os.environ["SNNHW_WB"])
    rng = random.Random(5)
    corners = [0, 1, (1 << (wa - 1)) - 1, 1 << (wa - 1), (1 << wa) - 1]
    pairs = [(a, b) for a in corners for b in (0, 1, (1 << wb) - 1, 1 << (wb - 1))]
    pairs += [(rng.getrandbits(wa), rng.getrandbits(wb)) for _ in range(3000)]
    for a, b in pairs:
        dut.a.value, dut.b.value = a, b
        await Timer(1, unit="ns")
        assert int(dut.ok.value) == 1, (a, b, int(dut.rtl_p.value), int(dut.gate_p.value))
