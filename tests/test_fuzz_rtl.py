"""Property-based fuzzing, golden model vs RTL: random IR networks (tests/netgen.py:
fuzz_cases; dense, and convolutions with strides, padding and pooling in front) through the
fast harness, every layer of every timestep compared, with and
without random stalls, and every layer's events counted (none lost or duplicated).

A CI-sized run here (``SNNHW_RTL_FUZZ_EXAMPLES``, default 8: each example compiles its own
Verilator model); the long run is ``benchmarks/fuzz_rtl.py``. A failing case shrinks to a
minimal network, saved as an IR folder (``build/fuzz/failing/``: ``ir/``, ``inputs.npy``,
``case.json``) that ``netgen.load_case`` reads back.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from snnhw.build import verify_network

from netgen import FuzzCase, fuzz_cases, load_case, save_case

FAILING = Path(os.environ.get("SNNHW_FUZZ_FAILING", "build/fuzz/failing"))
EXAMPLES = int(os.environ.get("SNNHW_RTL_FUZZ_EXAMPLES", 8))


def check_case(case: FuzzCase, folder: Path) -> dict[str, int]:
    """Build ``case`` in ``folder`` and check it on the fast harness; on any mismatch the case
    is saved to ``FAILING`` and the assertion names the first mismatch. Returns what was
    checked (samples, timesteps, layers, events)."""
    check = verify_network(case.net, case.inputs, folder, sim="fast", lanes=case.lanes,
                           stall=0.3, seed=case.stall_seed, weight_memory=case.weight_memory,
                           membrane_memory=case.membrane_memory, log=lambda line: None)
    expected_events = [int(s.sum()) for s in check.trace.spikes]
    for name, result in check.results.items():
        if result["mismatches"] or result["layer_events"] != expected_events:
            saved = save_case(case, FAILING)
            raise AssertionError(f"{name}: {result['mismatches']} mismatches, events "
                                 f"{result['layer_events']} (golden {expected_events}), first "
                                 f"{result['first_mismatches'][:3]}; case saved in {saved}")
    return {"samples": case.inputs.shape[1], "timesteps": case.inputs.shape[0],
            "layers": len(case.net.layers), "events": sum(expected_events)}


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(fuzz_cases())
def test_fuzzed_network_bit_exact(case):
    with tempfile.TemporaryDirectory() as tmp:
        check_case(case, Path(tmp))


@settings(max_examples=20, deadline=None)
@given(fuzz_cases())
def test_saved_case_reads_back(case):
    """The IR folder a failure leaves behind holds the same case."""
    with tempfile.TemporaryDirectory() as tmp:
        back = load_case(save_case(case, Path(tmp) / "case"))
    assert (back.inputs == case.inputs).all() and back.inputs.shape == case.inputs.shape
    assert (back.lanes, back.weight_memory, back.stall_seed, back.membrane_memory) == (
        case.lanes, case.weight_memory, case.stall_seed, case.membrane_memory)
    assert (back.net.timesteps, back.net.input_features) == (
        case.net.timesteps, case.net.input_features)
    assert len(back.net.layers) == len(case.net.layers)
    for a, b in zip(back.net.layers, case.net.layers):
        assert (a.weight == b.weight).all() and (a.bias == b.bias).all()
        assert a.metadata() == b.metadata()
