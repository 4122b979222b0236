"""Shared fixtures: a small STBP model trained on the bundled MNIST subset.

torch and snnhw.train are imported inside the functions that use them: the cocotb benches in
this folder run inside the simulators, whose pytest assertion rewriting loads this file too,
and importing torch there cost about 12 s of every cocotb run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """784-32-10, T=6, 2 epochs: trains in seconds and is well above chance."""
    from snnhw.train import Recipe, train

    path = tmp_path_factory.mktemp("model") / "model.pt"
    recipe = Recipe(name="small", layers=["32FC"], timesteps=6, epochs=2, batch_size=50)
    train(recipe, path, progress=False)
    return path


def pytest_configure(config) -> None:
    """Under pytest-xdist, each worker's torch takes its share of the cores, not all of them:
    two workers of two torch threads each on two cores oversubscribe them (the training tests
    took 2.5x as long)."""
    import torch

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    threads = max(1, (os.cpu_count() or 1) // workers)
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)     # the tests' own snnhw subprocesses
