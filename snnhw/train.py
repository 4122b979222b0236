"""Training stage: a TOML recipe -> a trained spiking network -> ``model.pt`` (+ metrics JSON).

STBP (Wu et al. 2018): backpropagation through space and time over the unrolled iterative
LIF, the spike derivative replaced by a surrogate, MSE between the output firing rate
``(1/T) sum_t o[t]`` and the one-hot label, Adam.
"""

from __future__ import annotations

import json
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from . import SnnhwError
from .checkpoint import save_checkpoint
from .data import bernoulli_numpy, bernoulli_torch, load_dataset
from .nn import FixedPointSpec, SpikingNetwork, mlp_architecture
from .plots import plot_training

__all__ = ["Recipe", "evaluate_float", "load_recipe", "train"]


@dataclass
class Recipe:
    """A training recipe; every field has the default of the bundled STBP MLP."""

    name: str = "stbp_mlp"
    dataset: str = "mnist-subset"          # or "mnist-idx" (then set data_path)
    data_path: str | None = None
    split_seed: int = 0
    sizes: list[int] = field(default_factory=lambda: [784, 128, 10])
    tau: float = 0.5
    threshold: float = 0.5
    reset: str = "zero"
    surrogate: str = "rectangular"
    width: float = 1.0
    timesteps: int = 10
    encoding_seed: int = 2024
    epochs: int = 15
    batch_size: int = 50
    lr: float = 1e-3
    seed: int = 0
    qat_bits: int | None = None            # quantization-aware training for --fixed N
    qat_membrane_bits: int | None = None   # None: from the worst-case bound, as the quantizer
    qat_leak_bits: int = 8


def load_recipe(path: str | Path) -> Recipe:
    """Read a TOML recipe; unknown keys are an error naming the file and the key."""
    path = Path(path)
    try:
        table = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SnnhwError(f"{path}: no such recipe file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SnnhwError(f"{path}: not valid TOML ({exc})") from None
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    known = set(Recipe.__dataclass_fields__)
    unknown = sorted(set(flat) - known)
    if unknown:
        raise SnnhwError(f"{path}: unknown recipe keys {unknown}; known: {sorted(known)}")
    return Recipe(**flat)


@torch.no_grad()
def evaluate_float(net: SpikingNetwork, spikes: np.ndarray, labels: np.ndarray,
                   batch_size: int = 250) -> dict[str, float]:
    """Float accuracy on pre-encoded spikes ``uint8 [T, N, F]``; prediction = argmax of counts
    (ties go to the lowest class index, as in the golden model)."""
    correct = 0
    spike_total = 0.0
    dtype = next(net.parameters()).dtype
    for start in range(0, spikes.shape[1], batch_size):
        x = torch.from_numpy(spikes[:, start:start + batch_size]).to(dtype)
        record: list[torch.Tensor] = []
        out = net(x, record)
        pred = out.sum(0).argmax(1).numpy()
        correct += int((pred == labels[start:start + batch_size]).sum())
        spike_total += float(sum(r.sum() for r in record))
    n = spikes.shape[1]
    return {"accuracy": correct / n, "spikes_per_sample": spike_total / n}


def train(recipe: Recipe, out: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Train per ``recipe``; write ``out`` (model.pt), ``<out>.metrics.json`` and the training
    curve ``<out>.training.png``."""
    torch.manual_seed(recipe.seed)
    np.random.seed(recipe.seed)
    data = load_dataset(recipe.dataset, split_seed=recipe.split_seed, path=recipe.data_path)
    n_classes = recipe.sizes[-1]
    arch = mlp_architecture(recipe.sizes, tau=recipe.tau, threshold=recipe.threshold,
                            reset=recipe.reset, surrogate=recipe.surrogate, width=recipe.width)
    fixed_point = None
    if recipe.qat_bits is not None:
        fixed_point = FixedPointSpec(weight_bits=recipe.qat_bits,
                                     membrane_bits=recipe.qat_membrane_bits,
                                     leak_frac_bits=recipe.qat_leak_bits)
    net = SpikingNetwork(arch, fixed_point=fixed_point)
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    x_train = torch.from_numpy(data.x_train.astype(np.float32) / 255.0)
    y_train = torch.from_numpy(data.y_train)
    test_spikes = bernoulli_numpy(data.x_test, recipe.timesteps, recipe.encoding_seed)
    gen = torch.Generator().manual_seed(recipe.seed)
    history = []
    started = time.perf_counter()
    steps = recipe.epochs * ((len(x_train) + recipe.batch_size - 1) // recipe.batch_size)
    bar = tqdm(total=steps, desc=f"train {recipe.name}", disable=not progress, unit="batch")
    for epoch in range(recipe.epochs):
        net.train()
        order = torch.randperm(len(x_train), generator=gen)
        total_loss = 0.0
        for start in range(0, len(order), recipe.batch_size):
            idx = order[start:start + recipe.batch_size]
            x = bernoulli_torch(x_train[idx], recipe.timesteps, gen)
            target = torch.nn.functional.one_hot(y_train[idx], n_classes).float()
            rate = net(x).mean(0)
            loss = torch.nn.functional.mse_loss(rate, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}")
        net.eval()
        test = evaluate_float(net, test_spikes, data.y_test)
        history.append({"epoch": epoch + 1, "loss": total_loss / len(x_train),
                        "test_accuracy": test["accuracy"]})
    bar.close()
    final = evaluate_float(net, test_spikes, data.y_test)
    metrics = {"test_accuracy": final["accuracy"], "spikes_per_sample": final["spikes_per_sample"],
               "train_seconds": time.perf_counter() - started, "history": history,
               "qat": None if fixed_point is None else {
                   "weight_bits": fixed_point.weight_bits,
                   "membrane_bits": fixed_point.membrane_bits,
                   "leak_frac_bits": fixed_point.leak_frac_bits}}
    encoding = {"type": "bernoulli", "timesteps": recipe.timesteps, "seed": recipe.encoding_seed}
    dataset = {"name": recipe.dataset, "path": recipe.data_path or "", "features": recipe.sizes[0],
               "classes": n_classes, "split_seed": recipe.split_seed}
    out = Path(out)
    save_checkpoint(out, name=recipe.name, architecture=arch, encoding=encoding, dataset=dataset,
                    state_dict=net.state_dict(), metrics=metrics)
    out.with_suffix(".metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_training(history, out.with_suffix(".training.png"), f"{recipe.name}: STBP training")
    return metrics
