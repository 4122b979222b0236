"""The ``model.pt`` format: a versioned dict of plain data, loadable with ``weights_only=True``.

Keys (format ``snnhw-model``, version 1):

* ``format``: ``"snnhw-model"``; ``version``: ``1``
* ``name``: model name (used for the default build folder)
* ``architecture``: list of layer descriptors (see ``snnhw.nn.network``)
* ``encoding``: ``{"type": "bernoulli", "timesteps": T, "seed": int}``
* ``dataset``: ``{"name": ..., "features": F, "classes": C, "split_seed": int}``
* ``state_dict``: tensors of the network
* ``metrics``: training metrics (plain numbers and lists)

No classes are pickled: the file is read with ``torch.load(path, weights_only=True)``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from . import SnnhwError

__all__ = ["FORMAT", "VERSION", "load_checkpoint", "save_checkpoint"]

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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check ``model.pt``; raise :class:`SnnhwError` naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise SnnhwError(f"{path}: no such model file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SnnhwError(f"{path}: not a readable snnhw model.pt ({first})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SnnhwError(f"{path}: not an snnhw model (expected a dict with format={FORMAT!r})")
    if payload.get("version") != VERSION:
        raise SnnhwError(f"{path}: model format version {payload.get('version')!r} is not "
                         f"supported; this snnhw reads version {VERSION}")
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise SnnhwError(f"{path}: model.pt lacks the keys {missing}")
    return payload
