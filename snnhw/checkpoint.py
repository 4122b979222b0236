"""The ``model.pt`` format: a versioned dict of plain data, loadable with ``weights_only=True``.

Keys (format ``snnhw-model``, version 1):

* ``format``: ``"snnhw-model"``; ``version``: ``1``
* ``name``: model name, a plain name and never a path (it names the default build folder)
* ``architecture``: list of layer descriptors (see ``snnhw.nn.network``)
* ``encoding``: ``{"type": "bernoulli", "timesteps": T, "seed": int}``
* ``dataset``: ``{"name": ..., "features": F, "classes": C, "split_seed": int}``
* ``state_dict``: tensors of the network
* ``metrics``: training metrics (plain numbers and lists)

No classes are pickled: the file is read with ``torch.load(path, weights_only=True)``, and
:func:`load_checkpoint` checks the whole structure (:func:`check_model`) before any stage
uses it.
"""

from __future__ import annotations

import pickle
import warnings
from numbers import Integral
from pathlib import Path
from typing import Any

import torch

from . import SnnhwError
from .data.encoding import ENCODINGS
from .files import atomic_path
from .nn.network import SpikingNetwork, check_architecture, show
from .outdir import check_plain_name

__all__ = ["FORMAT", "VERSION", "check_model", "load_checkpoint", "save_checkpoint",
           "save_payload"]

FORMAT = "snnhw-model"
VERSION = 1
_REQUIRED = ("name", "architecture", "encoding", "dataset", "state_dict", "metrics")


def save_checkpoint(path: str | Path, *, name: str, architecture: list[dict], encoding: dict,
                    dataset: dict, state_dict: dict[str, torch.Tensor], metrics: dict) -> None:
    """Write ``model.pt`` atomically (a temporary file renamed into place)."""
    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, "name": name, "architecture": architecture,
               "encoding": encoding, "dataset": dataset,
               "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
               "metrics": metrics}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def save_payload(path: str | Path, payload: dict[str, Any]) -> None:
    """:func:`save_checkpoint` of a whole payload (as :func:`load_checkpoint` returns it)."""
    save_checkpoint(path, **{key: payload[key] for key in _REQUIRED})


def _load_error(exc: Exception) -> str:
    """Why torch could not read the file, in one line, without torch's advice to load
    untrusted files with ``weights_only=False`` (that would run code from the file)."""
    if "GLOBAL" in str(exc) or "Unsupported global" in str(exc):
        return ("it holds Python objects beyond plain data; snnhw reads model.pt with "
                "weights_only=True and never runs code from a file")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, (UnicodeDecodeError, EOFError, pickle.UnpicklingError)) or \
            "zip archive" in text:
        return f"not a torch.save archive, or a truncated one ({text.split('. ')[0]})"
    return text.split(". ")[0][:160]


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check ``model.pt``; raise :class:`SnnhwError` naming the file and the problem."""
    path = Path(path)
    if path.is_dir():
        raise SnnhwError(f"{path}: is a folder; a model file (model.pt) is required")
    if not path.is_file():
        raise SnnhwError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():     # torch warns about odd pickle protocols first
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt files
        raise SnnhwError(f"{path}: not a readable snnhw model.pt ({_load_error(exc)})") from None
    if not isinstance(payload, dict) or not _equals(payload.get("format"), FORMAT):
        raise SnnhwError(f"{path}: not an snnhw model (expected a dict with format={FORMAT!r})")
    if not _equals(payload.get("version"), VERSION):
        raise SnnhwError(f"{path}: model format version {show(payload.get('version'))} is not "
                         f"supported; this snnhw reads version {VERSION}")
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise SnnhwError(f"{path}: model.pt lacks the keys {missing}")
    check_model(payload, str(path))
    return payload


def _equals(value: Any, expected: str | int) -> bool:
    """``value == expected`` for plain values only (a tensor compares element-wise)."""
    return type(value) is type(expected) and value == expected


def _integer(value: Any, minimum: int) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= minimum


def check_model(payload: dict[str, Any], where: str) -> None:
    """Every rule of the model.pt structure: a plain name, valid layer descriptors, encoding
    and dataset fields of the right types, a state_dict of finite tensors whose names and
    shapes are exactly those of the architecture. :class:`SnnhwError` names the field."""
    check_plain_name(payload["name"], where)
    try:
        check_architecture(payload["architecture"])
    except ValueError as exc:
        raise SnnhwError(f"{where}: architecture: {exc}") from None
    encoding = payload["encoding"]
    if not isinstance(encoding, dict):
        raise SnnhwError(f"{where}: encoding is {type(encoding).__name__}; a mapping is required")
    kind = encoding.get("type")
    if not isinstance(kind, str) or kind not in ENCODINGS:
        raise SnnhwError(f"{where}: encoding type={show(kind)}; allowed: {', '.join(ENCODINGS)}")
    if not _integer(encoding.get("timesteps"), 1):
        raise SnnhwError(f"{where}: encoding timesteps={show(encoding.get('timesteps'))}; an "
                         f"integer >= 1 is required")
    if not _integer(encoding.get("seed", 0), 0):
        raise SnnhwError(f"{where}: encoding seed={show(encoding.get('seed'))}; an integer "
                         f">= 0 is required")
    dataset = payload["dataset"]
    if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
        raise SnnhwError(f"{where}: dataset must be a mapping with a 'name' string, got "
                         f"{show(dataset)}")
    for key in ("features", "classes"):
        if key in dataset and not _integer(dataset[key], 1):
            raise SnnhwError(f"{where}: dataset {key}={show(dataset[key])}; an integer >= 1 is "
                             f"required")
    if not _integer(dataset.get("split_seed", 0), 0):
        raise SnnhwError(f"{where}: dataset split_seed={show(dataset.get('split_seed'))}; an "
                         f"integer >= 0 is required")
    if not isinstance(dataset.get("path", ""), (str, type(None))) or not isinstance(
            dataset.get("events"), (dict, type(None))):
        raise SnnhwError(f"{where}: dataset path must be a string and events a mapping")
    if not isinstance(payload["metrics"], dict):
        raise SnnhwError(f"{where}: metrics is {type(payload['metrics']).__name__}; a mapping "
                         f"is required")
    _check_state(payload["state_dict"], payload["architecture"], where)


def _check_state(state: Any, arch: list[dict], where: str) -> None:
    if not isinstance(state, dict):
        raise SnnhwError(f"{where}: state_dict is {type(state).__name__}; a mapping of tensor "
                         f"names to tensors is required")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise SnnhwError(f"{where}: state_dict[{show(key)}] is {type(value).__name__}; "
                             f"tensors are required")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            nan = int(torch.isnan(value).sum())
            inf = int(torch.isinf(value).sum())
            raise SnnhwError(f"{where}: state_dict[{key!r}] holds {nan} NaN and {inf} infinite "
                             f"values of {value.numel()}; finite weights are required (the "
                             f"training diverged?)")
    try:
        with torch.device("meta"):      # shapes only, nothing allocated
            expected = SpikingNetwork(arch).state_dict()
    except (ValueError, RuntimeError) as exc:
        raise SnnhwError(f"{where}: architecture: {exc}") from None
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise SnnhwError(f"{where}: state_dict does not match the architecture: "
                         + (f"missing {missing[:4]}" if missing else "")
                         + ("; " if missing and unexpected else "")
                         + (f"unexpected {unexpected[:4]}" if unexpected else ""))
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise SnnhwError(f"{where}: state_dict[{key!r}] has shape {tuple(state[key].shape)}; "
                             f"the architecture needs {tuple(tensor.shape)}")
