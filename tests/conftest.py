"""Shared fixtures: a small STBP model trained on the bundled MNIST subset."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from snnhw.train import Recipe, train  # noqa: E402


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """784-32-10, T=6, 2 epochs: trains in seconds and is well above chance."""
    path = tmp_path_factory.mktemp("model") / "model.pt"
    recipe = Recipe(name="small", layers=["32FC"], timesteps=6, epochs=2, batch_size=50)
    train(recipe, path, progress=False)
    return path
