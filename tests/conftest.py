"""Shared fixtures: a small STBP model trained on the bundled MNIST subset."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from snnhw.train import Recipe, train  # noqa: E402


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """784-32-10, T=6, 2 epochs: trains in seconds and is well above chance."""
    path = tmp_path_factory.mktemp("model") / "model.pt"
    recipe = Recipe(name="small", layers=["32FC"], timesteps=6, epochs=2, batch_size=50)
    train(recipe, path, progress=False)
    return path


def pytest_configure(config) -> None:
    """Under pytest-xdist, each worker's torch takes its share of the cores, not all of them:
    two workers of two torch threads each on two cores oversubscribe them (the training tests
    took 2.5x as long)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    threads = max(1, (os.cpu_count() or 1) // workers)
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)     # the tests' own snnhw subprocesses
