"""Every recipe in train/ trains from the command line (on a short budget) and its model.pt
builds with `snnhw build`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from snnhw.cli import main
from snnhw.train import load_recipe

from eventfiles import random_events, write_dvsgesture_npy, write_nmnist_bin

RECIPES = sorted((Path(__file__).parent.parent / "train").glob("*.toml"))
# the small convolutional event recipes are cosimulated on a few samples (the others build
# their IR, golden model and RTL without RTL runs: stbp_cnn's long cosimulation, 784 pixel
# values into 16C5-AP2-32C5-AP2-10, is benchmarks/conv_hw.py's)
COSIMULATED = {"bpsta_dvs_gesture": 2, "stbp_nmnist_cnn": 2}


def _event_folder(root: Path, dataset: str) -> None:
    """A few samples of the dataset in its real on-disk format."""
    rng = np.random.default_rng(0)
    for k in range(6):
        label = k % 3
        if dataset == "nmnist":
            part = "Train" if k < 4 else "Test"
            write_nmnist_bin(root / "NMNIST" / part / str(label) / f"{k:05d}.bin",
                             random_events(rng, 300, 34, 300_000))
        else:
            part = "ibmGestureTrain" if k < 4 else "ibmGestureTest"
            write_dvsgesture_npy(root / "DVSGesture" / part / f"user0{k}_led" / f"{label}.npy",
                                 random_events(rng, 600, 128, 2_000_000))


def test_recipes_are_found():
    names = {p.stem for p in RECIPES}
    assert {"stbp_mlp", "stbp_cnn", "neunorm_cnn", "hm2bp_mlp", "leak_aware_mlp",
            "bpsta_mlp", "stbp_nmnist", "stbp_nmnist_cnn", "bpsta_dvs_gesture"} <= names


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_trains_and_builds_or_is_rejected_clearly(recipe, tmp_path, capsys):
    loaded = load_recipe(recipe)
    overrides = ["--set", "epochs=1", "--set", "train_samples=200"]
    if loaded.encoding == "frames":
        _event_folder(tmp_path / "data", loaded.dataset)
        # a narrower hidden layer keeps the 2312-input N-MNIST weight memory quick to generate
        overrides += ["--set", f"data_path={tmp_path / 'data'}", "--set", "timesteps=4",
                      "--set", "width_mult=0.05"]
    if loaded.neunorm:
        # NeuNorm's CNN narrowed (6C3-6C3-AP2-19C3-19C3-AP2-51FC-26FC): the same layers and
        # NeuNorm terms, a fifth of the golden model's and the generator's work
        overrides += ["--set", "width_mult=0.05"]
    model = tmp_path / "model.pt"
    assert main(["train", str(recipe), "--out", str(model), "--quiet", *overrides]) == 0
    metrics = json.loads(model.with_suffix(".metrics.json").read_text())
    assert metrics["method"] == loaded.method
    capsys.readouterr()
    samples = COSIMULATED.get(loaded.name, 0)
    code = main(["build", str(model), "--samples", str(samples), "--out", str(tmp_path / "hw")])
    err = capsys.readouterr().err.strip()
    assert code == 0, err
    report = json.loads((tmp_path / "hw" / "report.json").read_text())
    assert report["accuracy"]["fixed"] >= 0
    if samples:
        assert report["rtl"]["samples"] == samples, report["rtl"]
        assert report["rtl"]["mismatches"] == 0, report["rtl"]
        assert report["cycles_per_timestep"]["measured_mean"] > 0
    assert (tmp_path / "hw" / "rtl").is_dir()
