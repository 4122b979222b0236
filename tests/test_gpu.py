"""Training on a CUDA GPU (--device cuda): runs only where torch sees one; the CPU suite
checks the one-line refusal instead (test_distributed.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from snnhw.checkpoint import load_checkpoint
from snnhw.cli import main
from snnhw.data import encode_numpy, load_dataset
from snnhw.nn import SpikingNetwork
from snnhw.train import evaluate_float

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (--device cuda)")
RECIPE = Path(__file__).parent.parent / "train" / "stbp_mlp.toml"


def _train(tmp_path: Path, device: str) -> tuple[Path, dict]:
    out = tmp_path / device / "model.pt"
    assert main(["train", str(RECIPE), "--out", str(out), "--quiet", "--device", device,
                 "--set", "epochs=2"]) == 0
    return out, json.loads(out.with_suffix(".metrics.json").read_text())


def test_a_gpu_trains_the_model_a_cpu_trains(tmp_path):
    """The same recipe and seed on the GPU and on the CPU: the same accuracy up to float
    rounding at the threshold (a few spikes), and the GPU's model.pt is a CPU model whose
    forward pass on the CPU gives the accuracy the GPU run recorded."""
    gpu_model, gpu = _train(tmp_path, "cuda")
    _, cpu = _train(tmp_path, "cpu")
    assert gpu["recipe"]["device"] == "cuda" and cpu["recipe"]["device"] == "cpu"
    assert abs(gpu["test_accuracy"] - cpu["test_accuracy"]) <= 0.02, (gpu, cpu)
    model = load_checkpoint(gpu_model)
    assert all(t.device.type == "cpu" for t in model["state_dict"].values())
    net = SpikingNetwork(model["architecture"])
    net.load_state_dict(model["state_dict"])
    net.eval()
    data = load_dataset(model["dataset"]["name"], split_seed=model["dataset"]["split_seed"])
    inputs = encode_numpy(data.x_test, model["encoding"])
    on_cpu = evaluate_float(net, inputs, data.y_test)["accuracy"]
    assert abs(on_cpu - gpu["test_accuracy"]) <= 0.005, (on_cpu, gpu["test_accuracy"])
