"""Test data given as arrays: an ``.npz`` file with ``inputs`` ``[N, T, ...]`` (spikes, or
event counts clipped to one spike per bin like every ``frames`` input) and ``labels`` ``[N]``.

This is how a model from another framework (a NIR graph carries no data set) is checked on
the inputs its author used: ``np.savez(path, inputs=spikes, labels=labels)``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .. import SnnhwError

__all__ = ["load_npz"]


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs uint8 [N, T, ...], labels int64 [N])`` from ``path``; :class:`SnnhwError`
    names the file and what is wrong (missing keys, shapes, values that are not spikes)."""
    path = Path(path)
    if not path.is_file():
        raise SnnhwError(f"{path}: no such data file (an .npz with 'inputs' [N, T, ...] and "
                         f"'labels' [N])")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = [k for k in ("inputs", "labels") if k not in arrays.files]
            if missing:
                raise SnnhwError(f"{path}: lacks {', '.join(map(repr, missing))}; an .npz with "
                                 f"'inputs' [N, T, ...] and 'labels' [N] is required")
            inputs, labels = arrays["inputs"], arrays["labels"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise SnnhwError(f"{path}: not a readable .npz file ({str(exc).splitlines()[0][:80]})"
                         ) from None
    if inputs.ndim < 3 or labels.shape != (inputs.shape[0],):
        raise SnnhwError(f"{path}: inputs of shape {list(inputs.shape)} and labels of shape "
                         f"{list(labels.shape)}; [N, T, ...] and [N] are required")
    if inputs.shape[0] == 0 or inputs.shape[1] == 0:
        raise SnnhwError(f"{path}: no samples or no timesteps (inputs {list(inputs.shape)})")
    if not (np.issubdtype(inputs.dtype, np.integer) or np.issubdtype(inputs.dtype, np.bool_)
            or np.all(inputs == np.round(inputs))) or inputs.min() < 0:
        raise SnnhwError(f"{path}: inputs must be spikes or event counts (integers >= 0); "
                         f"found {inputs.dtype} values down to {inputs.min()}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise SnnhwError(f"{path}: labels must be integers >= 0, found {labels.dtype}")
    return np.minimum(inputs, 1).astype(np.uint8), labels.astype(np.int64)
