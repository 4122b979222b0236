"""Data-parallel training: two processes (gloo on this machine) take the same steps as one
process on the same global batch; only rank 0 writes; bad worlds are refused."""

from __future__ import annotations

import json

import pytest
import torch

from snnhw.cli import main
from snnhw.distributed import World

RECIPE = """
name = "ddp_small"
method = "stbp"
[data]
dataset = "mnist-subset"
train_samples = 300
[network]
layers = ["32FC"]
tau = 0.5
threshold = 0.5
[encoding]
timesteps = 4
[training]
epochs = 2
batch_size = 50
"""


def test_shares_cover_a_batch_once():
    for count in (1, 7, 50):
        for size in (1, 2, 3):
            shares = [range(count)[World(r, size).share(count)] for r in range(size)]
            assert [i for s in shares for i in s] == list(range(count))
            assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_two_processes_train_like_one(tmp_path, capsys):
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE)
    one, two = tmp_path / "one" / "model.pt", tmp_path / "two" / "model.pt"
    assert main(["train", str(recipe), "--out", str(one), "--quiet"]) == 0
    assert main(["train", str(recipe), "--out", str(two), "--nproc", "2", "--quiet"]) == 0
    assert "2 processes" in capsys.readouterr().out
    a = torch.load(one, weights_only=True)
    b = torch.load(two, weights_only=True)
    for name, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][name], value, rtol=1e-4, atol=1e-5)
    losses = [json.loads(p.with_suffix(".metrics.json").read_text())["history"]
              for p in (one, two)]
    for first, second in zip(*losses):
        assert abs(first["loss"] - second["loss"]) < 1e-5 * max(1.0, first["loss"])
    assert json.loads(two.with_suffix(".metrics.json").read_text())["processes"] == 2
    assert sorted(p.name for p in two.parent.iterdir()) == [
        "model.metrics.json", "model.pt", "model.training.png"]


def test_bad_worlds_are_refused_before_any_work(tmp_path, capsys):
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE)
    out = tmp_path / "m" / "model.pt"
    assert main(["train", str(recipe), "--out", str(out), "--nproc", "0"]) == 2
    assert main(["train", str(recipe), "--out", str(out), "--nproc", "51", "--quiet"]) == 2
    assert "more processes than samples in a batch (batch_size 50)" in capsys.readouterr().err
    assert not out.exists()


def test_a_failing_rank_leaves_no_model(tmp_path, capsys):
    """A run that fails inside the processes (an MNIST folder without its IDX files) ends
    with one line naming the failure; no model.pt appears."""
    recipe = tmp_path / "ddp.toml"
    (tmp_path / "empty").mkdir()
    recipe.write_text(RECIPE.replace('dataset = "mnist-subset"',
                                     f'dataset = "mnist-idx"\ndata_path = "{tmp_path / "empty"}"'))
    out = tmp_path / "m" / "model.pt"
    assert main(["train", str(recipe), "--out", str(out), "--nproc", "2", "--quiet"]) == 2
    assert "--nproc 2: a training process failed" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_a_gpu_asked_for_where_there_is_none(tmp_path, capsys):
    """--device cuda (or the recipe's device key) without a GPU: one line, nothing written,
    with one process or several."""
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE)
    out = tmp_path / "m" / "model.pt"
    for extra in (["--device", "cuda"], ["--set", "device=cuda"],
                  ["--device", "cuda", "--nproc", "2"]):
        assert main(["train", str(recipe), "--out", str(out), "--quiet", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "no CUDA device on this machine" in err, err
        assert "--device cpu" in err
    assert not out.parent.exists()
