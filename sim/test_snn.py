"""cocotb testbench: spike-for-spike comparison of the generated network with the golden model.

Self-contained (cocotb + numpy only), so it runs inside a build bundle with plain
``make SIM=icarus`` or ``make SIM=verilator`` as well as from the cocotb-tools runner.

Inputs, from ``vectors.npz`` beside this file (or ``$SNNHW_VECTORS``):

* ``inputs``   uint8 [T, S, F]: input spikes of S samples (or a direct input's values);
* ``expected`` [T, S, C]: the golden model's output-layer spikes, or with ``value_bits_out``
  a readout's membranes (every neuron sends one event per timestep with its membrane in the
  two's complement ``value`` field, ``value_bits_out`` wide);
* ``index_bits_in``, ``index_bits_out``: widths of the event index fields;
* ``value_bits_in`` (optional, default 0): width of a direct-encoding input's ``value``
  field; such an input is sent in the first timestep of each sample only;
* ``cycle_budget``: cycles after which a run counts as hung;
* ``load`` (optional) uint8 [B]: run-time weight bytes, sent on the ``load`` stream after
  reset and before the first sample (not counted in the measured cycles).

Environment: ``SNNHW_STALL`` (probability of a stall cycle on input valid and output ready,
default 0.3), ``SNNHW_SEED`` (stall pattern), ``SNNHW_RESULTS`` (JSON file for the measured
cycles and mismatches), ``SNNHW_PROGRESS`` (a file rewritten after every sample with
``done total``, the samples simulated by both tests together).

Event payload: ``index | eot << index_bits`` (``| value << (index_bits + 1)`` for a direct
input); each timestep's active inputs in ascending order, then an ``eot`` event.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, with_timeout
from cocotb.utils import get_sim_time

CLOCK_NS = 10
TESTS = ("stalls", "full_rate")     # in the order cocotb runs them


def _report_progress(name: str, done: int, samples: int) -> None:
    path = os.environ.get("SNNHW_PROGRESS")
    if path:
        Path(path).write_text(f"{TESTS.index(name) * samples + done} {len(TESTS) * samples}\n")


def _load_vectors() -> dict[str, np.ndarray]:
    path = Path(os.environ.get("SNNHW_VECTORS", Path(__file__).with_name("vectors.npz")))
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _cycle() -> int:
    return int(get_sim_time("ns")) // CLOCK_NS


async def _reset(dut) -> None:
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    if hasattr(dut, "load__valid"):
        dut.load__valid.value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)


async def _load(dut, image: np.ndarray) -> None:
    """Send the run-time weight bytes at full rate; called and returning at a falling edge."""
    for byte in image.tolist():
        dut.load__payload.value = byte
        dut.load__valid.value = 1
        while not int(dut.load__ready.value):
            await FallingEdge(dut.clk)
        await FallingEdge(dut.clk)       # transferred on the rising edge in between
    dut.load__valid.value = 0
    while not int(dut.i__ready.value):   # the last word is being written
        await FallingEdge(dut.clk)


async def _drive(dut, inputs: np.ndarray, index_bits: int, value_bits: int, stall: float,
                 rng: random.Random) -> None:
    """Offer every sample's events; called and returning at a falling clock edge."""
    steps, samples, _ = inputs.shape
    for s in range(samples):
        for t in range(steps):
            active = np.flatnonzero(inputs[t, s]) if t == 0 or not value_bits else []
            payloads = [int(j) | (int(inputs[t, s, j]) << (index_bits + 1) if value_bits else 0)
                        for j in active] + [1 << index_bits]
            for payload in payloads:
                while stall and rng.random() < stall:
                    dut.i__valid.value = 0
                    await FallingEdge(dut.clk)
                dut.i__payload.value = payload
                dut.i__valid.value = 1
                while not int(dut.i__ready.value):
                    await RisingEdge(dut.i__ready)
                    await FallingEdge(dut.clk)
                await FallingEdge(dut.clk)       # transferred on the rising edge in between
    dut.i__valid.value = 0


async def _collect(dut, expected_eots: int, index_bits: int, value_bits: int, stall: float,
                   rng: random.Random, on_sample
                   ) -> tuple[list[list[tuple[int, int]]], list[int]]:
    """Output events per timestep as (index, value; 0 for a spike) and the cycle of every
    end-of-timestep transfer; ``on_sample(eots)`` after every end-of-timestep event."""
    timesteps: list[list[tuple[int, int]]] = [[]]
    eot_cycles: list[int] = []
    while len(eot_cycles) < expected_eots:
        if not int(dut.o__valid.value):
            await RisingEdge(dut.o__valid)
            await FallingEdge(dut.clk)
            continue
        ready = not (stall and rng.random() < stall)
        dut.o__ready.value = int(ready)
        if ready:
            payload = int(dut.o__payload.value)
            if (payload >> index_bits) & 1:
                eot_cycles.append(_cycle() + 1)
                timesteps.append([])
                on_sample(len(eot_cycles))
            else:
                field = payload >> (index_bits + 1)
                value = field - (1 << value_bits) if value_bits and field >> (value_bits - 1) \
                    else field
                timesteps[-1].append((payload & ((1 << index_bits) - 1), value))
        await FallingEdge(dut.clk)
    return timesteps[:-1], eot_cycles


def _compare(expected: np.ndarray, got: list[list[tuple[int, int]]],
             readout: bool) -> list[dict[str, int]]:
    """Every (sample, timestep, neuron) where RTL and golden spikes (a readout's membranes:
    every neuron sends one) differ."""
    steps, samples, classes = expected.shape
    mismatches = []
    for k, events in enumerate(got):
        s, t = divmod(k, steps)
        spikes = [i for i, _ in events]
        if readout:   # every neuron's membrane; a missing one reads as None
            rtl = [None] * classes
            for i, value in events:
                if i < classes:
                    rtl[i] = value
            wrong = [n for n in range(classes) if rtl[n] != int(expected[t, s, n])]
        else:
            rtl = np.zeros(classes, dtype=np.uint8)
            rtl[[i for i in spikes if i < classes]] = 1
            wrong = [int(n) for n in np.flatnonzero(rtl != expected[t, s])]
        for neuron in wrong:
            mismatches.append({"sample": s, "timestep": t, "neuron": neuron,
                               "golden": int(expected[t, s, neuron]), "rtl": rtl[neuron]})
        if len(spikes) != len(set(spikes)) or any(i >= classes for i in spikes):
            mismatches.append({"sample": s, "timestep": t, "neuron": -1, "golden": -1,
                               "rtl": -1, "note": f"malformed timestep events {spikes}"})
    return mismatches


async def _run(dut, stall: float, name: str) -> None:
    vec = _load_vectors()
    inputs, expected = vec["inputs"], vec["expected"]
    bits_in, bits_out = int(vec["index_bits_in"]), int(vec["index_bits_out"])
    value_bits_out = int(vec.get("value_bits_out", 0))
    steps, samples, _ = inputs.shape
    rng = random.Random(int(os.environ.get("SNNHW_SEED", "1")))
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    await _reset(dut)
    if vec.get("load") is not None and len(vec["load"]):
        await _load(dut, vec["load"])
    start = _cycle()
    wall_start = time.perf_counter()
    value_bits = int(vec.get("value_bits_in", 0))
    driver = cocotb.start_soon(_drive(dut, inputs, bits_in, value_bits, stall, rng))
    budget_ns = int(vec["cycle_budget"]) * CLOCK_NS * (4 if stall else 1)
    def on_eot(eots: int) -> None:
        if eots % steps == 0:
            _report_progress(name, eots // steps, samples)

    got, eot_cycles = await with_timeout(
        _collect(dut, steps * samples, bits_out, value_bits_out, stall, rng, on_eot),
        budget_ns, "ns")
    await driver
    wall_seconds = time.perf_counter() - wall_start
    mismatches = _compare(expected, got, readout=value_bits_out > 0)
    per_step = np.diff([start] + eot_cycles)
    result = {"test": name, "stall_probability": stall, "samples": samples, "timesteps": steps,
              "mismatches": len(mismatches), "first_mismatches": mismatches[:20],
              "total_cycles": eot_cycles[-1] - start,
              "cycles_per_timestep_mean": float((eot_cycles[-1] - start) / (steps * samples)),
              "cycles_per_timestep_max": int(per_step.max()),
              "wall_seconds": wall_seconds,
              "timesteps_per_second": steps * samples / wall_seconds,
              "eot_cycles": [c - start for c in eot_cycles]}
    results_path = os.environ.get("SNNHW_RESULTS")
    if results_path:
        path = Path(results_path)
        previous = json.loads(path.read_text()) if path.is_file() else {}
        previous[name] = result
        path.write_text(json.dumps(previous, indent=1))
    dut._log.info("%s: %d samples x %d timesteps, %d mismatches, %.1f cycles/timestep", name,
                  samples, steps, len(mismatches), result["cycles_per_timestep_mean"])
    assert not mismatches, "RTL differs from golden model: " + "; ".join(
        f"sample {m['sample']} timestep {m['timestep']} neuron {m['neuron']}: "
        f"golden {m['golden']} rtl {m['rtl']}" for m in mismatches[:5])


@cocotb.test()
async def bit_exact_under_stalls(dut):
    """Random stalls on input valid and output ready; every output spike must match."""
    await _run(dut, float(os.environ.get("SNNHW_STALL", "0.3")), "stalls")


@cocotb.test()
async def bit_exact_full_rate(dut):
    """No stalls: every output spike must match; cycles per timestep are measured."""
    await _run(dut, 0.0, "full_rate")
