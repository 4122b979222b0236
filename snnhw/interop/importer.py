"""A NIR file plus test data -> an snnhw ``model.pt`` payload (``snnhw.checkpoint``), the one
input every later stage reads. ``snnhw import`` writes it; ``snnhw build model.nir`` writes
it into the build folder and builds from it.

A NIR graph carries no data set and no input encoding, so :class:`SampleData` says which test
set to check the hardware on and how its samples become input spikes:

* ``mnist-subset``: the bundled 1,000 test digits, encoded ``bernoulli`` (default),
  ``latency`` or ``direct`` over ``timesteps`` steps;
* a ``.npz`` file: ``inputs [N, T, ...]`` spikes and ``labels [N]``
  (:mod:`snnhw.data.arrays`), taken as they are (``frames``);
* ``nmnist``, ``dvs-gesture``, ``cifar10-dvs``: the event data set in the folder
  ``data_path``, binned into ``timesteps`` frames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import SnnhwError
from ..checkpoint import FORMAT, VERSION, check_model
from ..data import DATASETS, ENCODINGS
from .nir_read import ImportOptions, read_graph, to_architecture

__all__ = ["SampleData", "import_model"]

EVENT_DATASETS = ("nmnist", "dvs-gesture", "cifar10-dvs")
MNIST_FEATURES = 784


@dataclass(frozen=True)
class SampleData:
    """``data``: a data set name or an ``.npz`` path; ``encoding`` and ``timesteps`` for
    data that are not spikes yet; ``data_path`` for an event data set's folder; ``seed`` of
    a random encoding."""

    data: str | None = None
    encoding: str | None = None
    timesteps: int | None = None
    data_path: str | None = None
    seed: int = 0


def _dataset_and_encoding(data: SampleData, features: int, classes: int
                          ) -> tuple[dict[str, Any], dict[str, Any]]:
    if not data.data:
        raise SnnhwError("a NIR file carries no test data: pass --data mnist-subset (with "
                         "--timesteps T), --data FILE.npz (inputs [N, T, ...], labels [N]) "
                         "or --data nmnist --data-path DIR --timesteps T")
    if data.data.endswith(".npz"):
        from ..data.arrays import load_npz

        if data.encoding not in (None, "frames"):
            raise SnnhwError(f"--encoding {data.encoding}: the inputs of {data.data} are "
                             f"spikes already (encoding frames)")
        inputs, _ = load_npz(data.data)
        if int(np.prod(inputs.shape[2:])) != features:
            raise SnnhwError(f"--data {data.data}: samples of shape {list(inputs.shape[2:])} "
                             f"({int(np.prod(inputs.shape[2:]))} inputs); the graph's Input "
                             f"takes {features}")
        if data.timesteps not in (None, inputs.shape[1]):
            raise SnnhwError(f"--timesteps {data.timesteps}: {data.data} holds "
                             f"{inputs.shape[1]} timesteps per sample")
        return ({"name": "npz", "path": str(Path(data.data).resolve()), "features": features,
                 "classes": classes, "split_seed": 0},
                {"type": "frames", "timesteps": int(inputs.shape[1]), "seed": 0})
    if data.data not in DATASETS or data.data in ("npz", "mnist-idx"):
        raise SnnhwError(f"--data {data.data!r}: allowed: mnist-subset, "
                         f"{', '.join(EVENT_DATASETS)}, or an .npz file")
    if data.timesteps is None:
        raise SnnhwError(f"--data {data.data}: pass --timesteps T (the steps per sample the "
                         f"model was trained with)")
    if data.data == "mnist-subset" and features != MNIST_FEATURES:
        raise SnnhwError(f"--data mnist-subset: {MNIST_FEATURES} pixels per digit; the graph's "
                         f"Input takes {features}")
    dataset: dict[str, Any] = {"name": data.data, "features": features, "classes": classes,
                               "split_seed": 0}
    if data.data in EVENT_DATASETS:
        if not data.data_path:
            raise SnnhwError(f"--data {data.data}: pass --data-path, the folder holding it")
        dataset.update(path=str(Path(data.data_path).resolve()),
                       events={"timesteps": int(data.timesteps)})
        return dataset, {"type": "frames", "timesteps": int(data.timesteps), "seed": 0}
    encoding = data.encoding or "bernoulli"
    if encoding not in ENCODINGS or encoding == "frames":
        raise SnnhwError(f"--encoding {encoding!r}: allowed for {data.data}: "
                         f"{', '.join(e for e in ENCODINGS if e != 'frames')}")
    return dataset, {"type": encoding, "timesteps": int(data.timesteps), "seed": data.seed}


def _plain_name(path: Path) -> str:
    """The model's name from the file's stem: a plain name (``snnhw.outdir``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).strip("._-") or "nir_model"
    return name[:64] if name[0].isalnum() else f"m{name[:63]}"


def import_model(path: str | Path, options: ImportOptions = ImportOptions(),
                 data: SampleData = SampleData()) -> dict[str, Any]:
    """The ``model.pt`` payload of the NIR graph in ``path`` (checked like a loaded one)."""
    path = Path(path)
    graph = read_graph(path)
    arch, state, features, classes = to_architecture(graph, str(path), options)
    dataset, encoding = _dataset_and_encoding(data, features, classes)
    payload = {"format": FORMAT, "version": VERSION, "name": _plain_name(path),
               "architecture": arch, "encoding": encoding, "dataset": dataset,
               "state_dict": state,
               "metrics": {"imported_from": str(path.resolve()),
                           "convention": options.convention, "dt": options.dt,
                           "reset": options.reset}}
    check_model(payload, str(path))
    return payload
