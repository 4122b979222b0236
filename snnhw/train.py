"""Training stage: a TOML recipe -> a trained spiking network -> ``model.pt`` (+ metrics JSON).

One loop trains every method; the method picks the neurons' backward pass
(``snnhw.nn.lif``, ``snnhw.nn.rate_grad``) and the recipe the architecture, encoder, loss and
optimizer. ``METHODS`` maps each seed paper to its backward pass:

* ``stbp``: surrogate BPTT (Wu et al. 2018), the four h1-h4 curves and the common ones;
* ``neunorm``: the same with NeuNorm layers, encoding layer and voting (Wu et al. AAAI 2019);
* ``hm2bp``: spike-train-level backward, count loss (Jin, Zhang, Li 2018);
* ``leak_aware``: the leak-aware approximate derivative (Lee et al. 2020);
* ``bpsta``: spatial and temporal adjustment (Shen, Zhao, Zeng 2022).

Losses: ``rate_mse``, the mean squared error between the output rate ``(1/T) sum_t o[t]``
and the one-hot label (STBP, NeuNorm, Lee, BPSTA); ``count``, HM2-BP's
``1/2 sum_i (n_i - y_i)^2`` on output spike counts ``n_i`` with desired counts
``y = desired_rates * T`` and no error where ``|n_i - y_i| <= margin_rate * T``;
``count_ce``, cross-entropy with the output summed over the window as the logits: spike
counts, or with ``readout = "li"`` (a leaky-integrator output layer, whose output is its
membranes) the membranes summed, as the hardware reads out such a network.
"""

from __future__ import annotations

import json
import math
import os
import time
import tomllib
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from . import SnnhwError
from .checkpoint import FORMAT, save_checkpoint
from .data import DATASETS, DIRECT, ENCODINGS, Split, encode_numpy, encode_torch, load_dataset
from .distributed import World
from .files import atomic_path
from .fixedpoint import (
    DIRECT_INPUT_BITS,
    LEAK_FRAC_BITS_RANGE,
    MEMBRANE_BITS_RANGE,
    WEIGHT_BITS_RANGE,
)
from .nn import FixedPointSpec, SpikingNetwork, architecture
from .nn.layers import NEUNORM_ALPHAS
from .nn.lif import RESETS
from .nn.network import READOUTS
from .nn.surrogate import SURROGATES
from .outdir import check_plain_name
from .plots import plot_training

__all__ = ["METHODS", "Recipe", "check_model_output", "evaluate_float", "load_recipe", "train"]

METHODS = {"stbp": "surrogate", "neunorm": "surrogate", "hm2bp": "hm2bp",
           "leak_aware": "leak_aware", "bpsta": "bpsta"}
LOSSES = ("rate_mse", "count", "count_ce")
DEVICES = ("cpu", "cuda")
OPTIMIZERS = ("adam", "adamw", "sgd")


Rule = tuple[Callable[[Any], bool], str]


def _integer(lo: int, hi: int | None = None, optional: bool = False) -> Rule:
    text = f"an integer in {lo}..{hi}" if hi is not None else f"an integer >= {lo}"
    return (lambda v: (optional and v is None) or (
        isinstance(v, Integral) and not isinstance(v, bool) and lo <= v
        and (hi is None or v <= hi)), text + (" (or left out)" if optional else ""))


def _number(lo: float, hi: float = math.inf, *, lo_open: bool = False,
            hi_open: bool = False) -> Rule:
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    return (lambda v: isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)
            and (lo < v if lo_open else lo <= v) and (v < hi if hi_open else v <= hi),
            f"a finite number in {left}{lo}, {hi}{right}")


def _choice(options) -> Rule:
    return (lambda v: isinstance(v, str) and v in options, "one of " + ", ".join(options))


_BOOL: Rule = (lambda v: isinstance(v, bool), "true or false")
_LAYER_STRINGS: Rule = (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                        "a list of layer strings such as [\"128FC\"]")
_RATES: Rule = (lambda v: isinstance(v, list) and len(v) == 2 and all(
    isinstance(x, Real) and not isinstance(x, bool) and 0 <= x <= 1 for x in v),
    "two rates in [0, 1]: [wrong, right]")
_PATH: Rule = (lambda v: v is None or (isinstance(v, str) and v != ""), "a folder path")
_POSITIVE = _number(0, lo_open=True)

# what every recipe key allows; Recipe.check applies them all
RULES: dict[str, Rule] = {
    "method": _choice(METHODS), "dataset": _choice(DATASETS),
    "data_path": _PATH, "split_seed": _integer(0), "train_samples": _integer(1, optional=True),
    "denoise_us": _integer(0), "downsample": _number(0, 1, lo_open=True),
    "layers": _LAYER_STRINGS, "voting": _integer(1), "width_mult": _POSITIVE, "neunorm": _BOOL,
    "neunorm_alpha": _choice(NEUNORM_ALPHAS),
    "dropout": _number(0, 1, hi_open=True), "pool_neurons": _BOOL, "pool_tau": _number(0, 1),
    "pool_threshold": _POSITIVE, "readout": _choice(READOUTS), "readout_tau": _number(0, 1),
    "tau": _number(0, 1), "threshold": _POSITIVE,
    "reset": _choice(RESETS), "surrogate": _choice(tuple(SURROGATES)), "width": _POSITIVE,
    "spatial_adjust": _BOOL, "temporal_adjust": _BOOL, "encoding": _choice(ENCODINGS),
    "timesteps": _integer(1), "encoding_seed": _integer(0), "loss": _choice(LOSSES),
    "desired_rates": _RATES, "margin_rate": _number(0), "optimizer": _choice(OPTIMIZERS),
    "epochs": _integer(1), "batch_size": _integer(1), "lr": _POSITIVE,
    "momentum": _number(0, 1), "weight_decay": _number(0),
    "schedule": _choice(("constant", "cosine")), "seed": _integer(0),
    "qat_bits": _integer(*WEIGHT_BITS_RANGE, optional=True),
    "qat_membrane_bits": _integer(*MEMBRANE_BITS_RANGE, optional=True),
    "qat_leak_bits": _integer(*LEAK_FRAC_BITS_RANGE),
    "device": _choice(DEVICES),
}


@dataclass
class Recipe:
    """A training recipe; every field has the default of the bundled STBP MLP."""

    name: str = "stbp_mlp"
    method: str = "stbp"
    # data
    dataset: str = "mnist-subset"          # mnist-idx, nmnist, dvs-gesture, cifar10-dvs: data_path
    data_path: str | None = None
    split_seed: int = 0
    train_samples: int | None = None       # use only the first N training samples
    denoise_us: int = 0                    # event datasets: tonic Denoise filter time
    downsample: float = 1.0                # event datasets: spatial factor
    # network
    layers: list[str] = field(default_factory=lambda: ["128FC"])
    voting: int = 1                        # output neurons per class
    width_mult: float = 1.0
    neunorm: bool = False
    neunorm_alpha: str = "neuron"          # NeuNorm's alpha per neuron or per channel (builds)
    dropout: float = 0.0
    pool_neurons: bool = False             # integrate-and-fire neurons after average pooling
    pool_tau: float = 1.0
    pool_threshold: float = 0.75
    readout: str = "spikes"                # or "li": leaky-integrator output layer (membranes)
    readout_tau: float = 1.0               # its decay per step (1: it accumulates)
    tau: float = 0.5
    threshold: float = 0.5
    reset: str = "zero"
    surrogate: str = "rectangular"
    width: float = 1.0
    spatial_adjust: bool = True            # bpsta
    temporal_adjust: bool = True           # bpsta
    # encoding
    encoding: str = "bernoulli"            # latency, direct; event datasets: frames
    timesteps: int = 10
    encoding_seed: int = 2024
    # training
    loss: str = "rate_mse"
    desired_rates: list[float] = field(default_factory=lambda: [0.1, 0.8])  # count: wrong, right
    margin_rate: float = 0.05
    optimizer: str = "adam"
    epochs: int = 15
    batch_size: int = 50
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"             # or "cosine"
    seed: int = 0
    qat_bits: int | None = None            # quantization-aware training for --fixed N
    qat_membrane_bits: int | None = None   # None: from the worst-case bound, as the quantizer
    qat_leak_bits: int = 8
    device: str = "cpu"                    # or "cuda": train on a GPU (model.pt is the same)

    def check(self, where: str = "recipe") -> None:
        """Raise :class:`SnnhwError` naming the key, the value and what is allowed
        (``RULES``), then the rules that tie keys together."""
        check_plain_name(self.name, where)
        for key, (ok, allowed) in RULES.items():
            if not ok(getattr(self, key)):
                raise SnnhwError(f"{where}: {key} = {getattr(self, key)!r}; {allowed} is "
                                 f"required")
        if self.qat_bits is not None and self.neunorm:
            raise SnnhwError(f"{where}: qat_bits = {self.qat_bits} with neunorm = true: "
                             f"quantization-aware training does not model NeuNorm's term yet; "
                             f"train in float and build with --fixed N")
        if self.readout == "li" and self.loss != "count_ce":
            raise SnnhwError(f"{where}: readout = 'li' with loss = {self.loss!r}: a readout's "
                             f"output is membranes, trained with loss = 'count_ce' (cross-"
                             f"entropy on the membranes summed over the window)")
        event_data = self.dataset in ("nmnist", "dvs-gesture", "cifar10-dvs")
        if event_data != (self.encoding == "frames"):
            raise SnnhwError(f"{where}: encoding = {self.encoding!r} does not go with dataset "
                             f"{self.dataset!r}: event datasets use 'frames', images the others")


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read a TOML recipe, then apply ``overrides``; unknown keys are an error naming the file
    and the key."""
    path = Path(path)
    if path.is_dir():
        raise SnnhwError(f"{path}: is a folder; a TOML recipe file is required")
    try:
        table = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise SnnhwError(f"{path}: no such recipe file") from None
    except OSError as exc:
        raise SnnhwError(f"{path}: cannot read the recipe ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise SnnhwError(f"{path}: not UTF-8 text at byte {exc.start}; a TOML recipe is "
                         f"required") from None
    except tomllib.TOMLDecodeError as exc:
        raise SnnhwError(f"{path}: not valid TOML ({exc})") from None
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    flat.update(overrides or {})
    known = set(Recipe.__dataclass_fields__)
    unknown = sorted(set(flat) - known)
    if unknown:
        raise SnnhwError(f"{path}: unknown recipe keys {unknown}; known: {sorted(known)}")
    recipe = Recipe(**flat)
    recipe.check(str(path))
    return recipe


@torch.no_grad()
def evaluate_float(net: SpikingNetwork, inputs: np.ndarray, labels: np.ndarray,
                   batch_size: int = 250) -> dict[str, float]:
    """Float accuracy on pre-encoded inputs ``[T, N, ...]``; prediction = argmax of output
    counts (ties go to the lowest class index, as in the golden model). Also the mean number
    of spikes per sample over all LIF layers, and each LIF layer's firing rate (spikes per
    neuron and timestep)."""
    correct = 0
    layer_spikes: list[float] = []
    layer_sizes: list[int] = []
    first = next(net.parameters())
    for start in range(0, inputs.shape[1], batch_size):
        x = torch.from_numpy(np.ascontiguousarray(inputs[:, start:start + batch_size])).to(
            first.device, first.dtype)
        record: list[torch.Tensor] = []
        out = net(x, record)
        pred = out.sum(0).reshape(out.shape[1], -1).argmax(1).cpu().numpy()   # a map: flat
        correct += int((pred == labels[start:start + batch_size]).sum())
        layer_spikes = [total + float(r.sum()) for total, r in
                        zip(layer_spikes or [0.0] * len(record), record)]
        layer_sizes = [r[0, 0].numel() for r in record]
    n = inputs.shape[1]
    return {"accuracy": correct / n, "spikes_per_sample": sum(layer_spikes) / n,
            "layer_rates": [total / (n * inputs.shape[0] * size)
                            for total, size in zip(layer_spikes, layer_sizes)]}


def _loss(recipe: Recipe, out: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    if recipe.loss == "count_ce":       # the window's spike counts (membrane sums) as logits
        return torch.nn.functional.cross_entropy(out.sum(0).reshape(out.shape[1], -1), labels)
    target = torch.nn.functional.one_hot(labels, classes).to(out.dtype)
    if recipe.loss == "rate_mse":
        return torch.nn.functional.mse_loss(out.mean(0), target)
    steps = out.shape[0]
    wrong, right = recipe.desired_rates
    desired = steps * (wrong + (right - wrong) * target)
    error = out.sum(0) - desired
    outside = (error.abs() > recipe.margin_rate * steps).to(out.dtype)
    return 0.5 * (outside * error ** 2).sum(1).mean()


def _optimizer(recipe: Recipe, params) -> torch.optim.Optimizer:
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum,
                               weight_decay=recipe.weight_decay)
    cls = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=recipe.lr, weight_decay=recipe.weight_decay)


def _network_input(data: Split, recipe: Recipe) -> list[int]:
    """The input shape the first layer sees: ``[C, H, W]`` for convolutional nets and event
    frames, flat ``[F]`` for an MLP on images."""
    if data.x_train.ndim == 5:
        return list(data.x_train.shape[2:])
    convolutional = recipe.layers and not recipe.layers[0].endswith("FC")
    features = data.x_train.shape[1]
    side = int(math.isqrt(features))
    if convolutional:
        if side * side != features:
            raise SnnhwError(f"dataset {recipe.dataset!r}: {features} features are not a square "
                             f"image, so layer {recipe.layers[0]!r} cannot convolve them")
        return [1, side, side]
    return [features]


def build_architecture(recipe: Recipe, input_shape: list[int], classes: int) -> list[dict]:
    """The recipe's layer descriptors."""
    try:
        return architecture(
            input_shape, recipe.layers, classes, tau=recipe.tau, threshold=recipe.threshold,
            voting=recipe.voting, width_mult=recipe.width_mult, dropout=recipe.dropout,
            neunorm=recipe.neunorm, neunorm_alpha=recipe.neunorm_alpha,
            pool_neurons=recipe.pool_neurons, pool_tau=recipe.pool_tau,
            pool_threshold=recipe.pool_threshold, readout=recipe.readout,
            readout_tau=recipe.readout_tau, reset=recipe.reset,
            surrogate=recipe.surrogate, width=recipe.width, gradient=METHODS[recipe.method],
            spatial_adjust=recipe.spatial_adjust, temporal_adjust=recipe.temporal_adjust)
    except ValueError as exc:
        raise SnnhwError(f"recipe {recipe.name!r}: {exc}") from None


def _outputs(out: Path) -> tuple[Path, Path, Path]:
    return out, out.with_suffix(".metrics.json"), out.with_suffix(".training.png")


def _is_snnhw_model(path: Path) -> bool:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return False
    return isinstance(payload, dict) and payload.get("format") == FORMAT


def check_model_output(out: str | Path, option: str = "--out") -> Path:
    """The model file ``out`` that training may write, checked before any work: a ``.pt``
    file name in a writable place that is not a folder, and, if it exists, an snnhw model
    (its metrics and curve beside it are then replaced too); anything else is refused, since
    snnhw never overwrites a file it did not write."""
    if str(out) == "":
        raise SnnhwError(f"{option} '': a model file name such as build/net/model.pt is required")
    out = Path(out)
    if out.is_dir():
        raise SnnhwError(f"{option} {out}: is a folder; name the model file inside it, e.g. "
                         f"{out / 'model.pt'}")
    if out.suffix != ".pt":
        raise SnnhwError(f"{option} {out}: a model file ends in .pt (its metrics and training "
                         f"curve go beside it as .metrics.json and .training.png)")
    ours = out.is_file() and _is_snnhw_model(out)
    if out.exists() and not ours:
        raise SnnhwError(f"{option} {out}: exists and is not an snnhw model; snnhw never "
                         f"overwrites a file it did not write")
    for sibling in _outputs(out)[1:]:
        if sibling.exists() and (not ours or not sibling.is_file()):
            raise SnnhwError(f"{option} {out}: {sibling} exists and was not written with this "
                             f"model; move it away or choose another {option}")
    existing = out.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise SnnhwError(f"{option} {out}: cannot write there ({existing} is not a writable "
                         f"folder)")
    return out


def training_device(name: str, world: World | None = None) -> torch.device:
    """The torch device that ``name`` (``"cpu"`` or ``"cuda"``) means for this process: with
    several processes on GPUs, rank r takes GPU r modulo the GPUs there are. A GPU asked for
    on a machine without one is a one-line error."""
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        why = ("this torch is a CPU build" if torch.version.cuda is None
               else "torch sees no GPU")
        raise SnnhwError(f"--device {name}: no CUDA device on this machine ({why}, torch "
                         f"{torch.__version__}); train on the CPU with --device cpu")
    rank = int(os.environ.get("LOCAL_RANK", world.rank if world is not None else 0))
    return torch.device("cuda", rank % torch.cuda.device_count())


def train(recipe: Recipe, out: str | Path, *, progress: bool = True,
          world: World | None = None) -> dict[str, Any] | None:
    """Train per ``recipe``; write ``out`` (model.pt), ``<out>.metrics.json`` and the training
    curve ``<out>.training.png``, all three at the end (nothing is written on failure). With
    a ``world`` of several processes (:mod:`snnhw.distributed`, its process group started)
    this process trains on its share of every batch, and only rank 0 evaluates and writes
    (the others return ``None``)."""
    recipe.check(f"recipe {recipe.name!r}")
    out = check_model_output(out)
    world = world or World(0, 1)
    device = training_device(recipe.device, world)
    torch.manual_seed(recipe.seed)
    np.random.seed(recipe.seed)
    event_options = ({"timesteps": recipe.timesteps, "denoise_us": recipe.denoise_us,
                      "downsample": recipe.downsample} if recipe.encoding == "frames" else None)
    data = load_dataset(recipe.dataset, split_seed=recipe.split_seed, path=recipe.data_path,
                        events=event_options)
    classes = int(max(data.y_train.max(), data.y_test.max())) + 1
    input_shape = _network_input(data, recipe)
    arch = build_architecture(recipe, input_shape, classes)
    fixed_point = None
    if recipe.qat_bits is not None:
        fixed_point = FixedPointSpec(weight_bits=recipe.qat_bits,
                                     membrane_bits=recipe.qat_membrane_bits,
                                     leak_frac_bits=recipe.qat_leak_bits,
                                     input_bits=DIRECT_INPUT_BITS if recipe.encoding == DIRECT
                                     else 1)
    net = SpikingNetwork(arch, fixed_point=fixed_point).to(device)
    # several processes: gradients averaged over the ranks (their losses scaled to the
    # global batch, below), so a step is the one-process step on the same global batch
    model = (torch.nn.parallel.DistributedDataParallel(
        net, device_ids=[device.index] if device.type == "cuda" else None)
        if world.size > 1 else net)
    opt = _optimizer(recipe, net.parameters())
    x_all = data.x_train[:recipe.train_samples] if recipe.train_samples else data.x_train
    y_all = data.y_train[:len(x_all)]
    if recipe.encoding == "frames":
        x_train = torch.from_numpy(x_all.astype(np.float32))
    else:
        x_train = torch.from_numpy(x_all.astype(np.float32) / 255.0)
    y_train = torch.from_numpy(y_all)
    encoding = {"type": recipe.encoding, "timesteps": recipe.timesteps,
                "seed": recipe.encoding_seed}
    test_inputs = encode_numpy(data.x_test, encoding)
    gen = torch.Generator().manual_seed(recipe.seed)
    history = []
    started = time.perf_counter()
    batches = (len(x_train) + recipe.batch_size - 1) // recipe.batch_size
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, recipe.epochs * batches)
                 if recipe.schedule == "cosine" else None)
    bar = tqdm(total=recipe.epochs * batches, desc=f"train {recipe.name}",
               disable=not (progress and world.leader), unit="batch",
               smoothing=0.0)  # ETA: the mean rate
    for epoch in range(recipe.epochs):
        net.train()
        order = torch.randperm(len(x_train), generator=gen)
        total_loss = 0.0
        for start in range(0, len(order), recipe.batch_size):
            idx = order[start:start + recipe.batch_size]
            # every rank draws the whole batch's spikes (the same generator, on the CPU: the
            # same spikes on every device), then its share
            x = encode_torch(x_train[idx], recipe.encoding, recipe.timesteps, gen).to(device)
            share = world.share(len(idx))
            loss = _loss(recipe, model(x[:, share]), y_train[idx][share].to(device), classes)
            if world.size > 1:
                loss = loss * (len(range(len(idx))[share]) * world.size / len(idx))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
            if world.size > 1:     # the global batch's loss, for the history
                loss = loss.detach().clone()
                torch.distributed.all_reduce(loss)
                loss /= world.size
            total_loss += loss.item() * len(idx)
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}")
        if not world.leader:
            continue
        net.eval()
        test = evaluate_float(net, test_inputs, data.y_test)
        history.append({"epoch": epoch + 1, "loss": total_loss / len(x_train),
                        "test_accuracy": test["accuracy"]})
    bar.close()
    if not world.leader:
        return None
    train_seconds = time.perf_counter() - started
    final = evaluate_float(net, test_inputs, data.y_test)
    metrics = {"test_accuracy": final["accuracy"], "spikes_per_sample": final["spikes_per_sample"],
               "train_seconds": train_seconds, "processes": world.size, "history": history, "method": recipe.method,
               "recipe": asdict(recipe),
               "qat": None if fixed_point is None else {
                   "weight_bits": fixed_point.weight_bits,
                   "membrane_bits": fixed_point.membrane_bits,
                   "leak_frac_bits": fixed_point.leak_frac_bits}}
    dataset = {"name": recipe.dataset, "path": recipe.data_path or "",
               "features": int(np.prod(input_shape)), "classes": classes,
               "split_seed": recipe.split_seed, "events": event_options}
    _, metrics_path, curve_path = _outputs(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # the metrics and the curve are renamed into place right after the model is
    with atomic_path(metrics_path) as metrics_tmp, atomic_path(curve_path) as curve_tmp:
        metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
        plot_training(history, curve_tmp, f"{recipe.name}: {recipe.method} training")
        save_checkpoint(out, name=recipe.name, architecture=arch, encoding=encoding,
                        dataset=dataset, metrics=metrics,
                        state_dict={k: v.cpu() for k, v in net.state_dict().items()})
    return metrics
