"""Property-based fuzzing of the two loaders every stage trusts: ``model.pt`` and the IR
folder. Random structures must give an :class:`SnnhwError` (one line at the CLI) or a value
that the next stage accepts, never another exception."""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnhw import SnnhwError, golden, ir
from snnhw.checkpoint import load_checkpoint
from snnhw.quant import quantize

from netgen import random_network

FUZZ = settings(max_examples=int(os.environ.get("SNNHW_FUZZ_EXAMPLES", 150)), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
plain = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8)
tensors = st.builds(
    lambda shape, dtype, fill: torch.full(shape, fill).to(dtype),
    st.lists(st.integers(0, 5), max_size=3).map(tuple),
    st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool]),
    st.floats(allow_nan=True, allow_infinity=True, width=32))
values = st.one_of(plain, tensors)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to an item inside dicts and lists."""
    found = []
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, child in items:
        found.append(prefix + (key,))
        found += _paths(child, prefix + (key,))
    return found


def _mutate(payload: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    target = payload
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


@pytest.fixture(scope="module")
def payload(small_model) -> dict:
    return torch.load(small_model, weights_only=True)


@FUZZ
@given(data=st.data())
def test_fuzzed_model_files(payload, data):
    mutated = copy.deepcopy(payload)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(mutated) if isinstance(mutated, (dict, list)) else []
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        mutated = _mutate(mutated, path, data.draw(values), data.draw(st.booleans()))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pt"
        torch.save(mutated, path)
        try:
            model = load_checkpoint(path)
        except SnnhwError:
            return
    try:
        net = quantize(model, weight_bits=8)
    except SnnhwError:
        return
    net.validate()


@FUZZ
@given(content=st.binary(max_size=400))
def test_fuzzed_model_bytes(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pt"
        path.write_bytes(content)
        with pytest.raises(SnnhwError):
            load_checkpoint(path)


@pytest.fixture(scope="module")
def ir_files(tmp_path_factory) -> tuple[dict, dict[str, np.ndarray]]:
    net, _ = random_network(3)
    folder = tmp_path_factory.mktemp("ir")
    ir.save(net, folder)
    meta = json.loads((folder / "network.json").read_text())
    with np.load(folder / "network.npz") as data:
        arrays = {k: data[k] for k in data.files}
    return meta, arrays


arrays_strategy = st.builds(
    lambda shape, dtype, seed: np.random.default_rng(seed).integers(-300, 300, shape).astype(
        dtype),
    st.lists(st.integers(0, 6), max_size=3).map(tuple),
    st.sampled_from([np.int8, np.int32, np.int64, np.uint16, np.float32, np.float64, np.bool_]),
    st.integers(0, 2**16))


@FUZZ
@given(data=st.data())
def test_fuzzed_ir_folders(ir_files, data):
    meta, arrays = copy.deepcopy(ir_files[0]), dict(ir_files[1])
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):
            paths = _paths(meta)
            path = data.draw(st.sampled_from(paths))
            meta = _mutate(meta, path, data.draw(plain), data.draw(st.booleans()))
        else:
            key = data.draw(st.sampled_from(sorted(arrays)))
            if data.draw(st.booleans()):
                arrays[key] = data.draw(arrays_strategy)
            else:
                del arrays[key]
                if not arrays:
                    break
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "network.json").write_text(json.dumps(meta))
        np.savez(folder / "network.npz", **arrays)
        try:
            net = ir.load(folder)
        except SnnhwError:
            return
    spikes = np.random.default_rng(0).integers(0, 2, (net.timesteps, 2, net.input_features))
    golden.run(net, spikes.astype(np.uint8))       # a loaded IR is one the golden model runs
