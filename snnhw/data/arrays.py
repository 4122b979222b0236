"""Test data given as arrays: an ``.npz`` file with ``inputs`` ``[N, T, ...]`` (spikes, or
event counts clipped to one spike per bin like every ``frames`` input) and ``labels`` ``[N]``.

This is how a model from another framework (a NIR graph carries no data set) is checked on
the inputs its author used: ``np.savez(path, inputs=spikes, labels=labels)``.
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path

import numpy as np

from .. import SnnhwError

__all__ = ["load_npz"]


class _Unreadable(Exception):
    """Why the arrays cannot be used (the caller names the file)."""


def load_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs uint8 [N, T, ...], labels int64 [N])`` from ``path``; :class:`SnnhwError`
    names the file and what is wrong (missing keys, shapes, values that are not spikes).
    The arrays come back read-only and are read once per file version: ``snnhw build
    model.nir`` checks them at import and uses them at the build."""
    path = Path(path)
    if not path.is_file():
        raise SnnhwError(f"{path}: no such data file (an .npz with 'inputs' [N, T, ...] and "
                         f"'labels' [N])")
    stat = path.stat()
    try:
        return _read(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except _Unreadable as exc:
        raise SnnhwError(f"{path}: {exc}") from None


@functools.lru_cache(maxsize=1)
def _read(path: str, mtime_ns: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`load_npz` of one version (``mtime_ns``, ``size``) of the file ``path``."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = [k for k in ("inputs", "labels") if k not in arrays.files]
            if missing:
                raise _Unreadable(f"lacks {', '.join(map(repr, missing))}; an .npz with "
                                  f"'inputs' [N, T, ...] and 'labels' [N] is required")
            inputs, labels = arrays["inputs"], arrays["labels"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise _Unreadable(f"not a readable .npz file ({str(exc).splitlines()[0][:80]})"
                          ) from None
    if inputs.ndim < 3 or labels.shape != (inputs.shape[0],):
        raise _Unreadable(f"inputs of shape {list(inputs.shape)} and labels of shape "
                          f"{list(labels.shape)}; [N, T, ...] and [N] are required")
    if inputs.shape[0] == 0 or inputs.shape[1] == 0:
        raise _Unreadable(f"no samples or no timesteps (inputs {list(inputs.shape)})")
    if not (np.issubdtype(inputs.dtype, np.integer) or np.issubdtype(inputs.dtype, np.bool_)
            or np.all(inputs == np.round(inputs))) or inputs.min() < 0:
        raise _Unreadable(f"inputs must be spikes or event counts (integers >= 0); found "
                          f"{inputs.dtype} values down to {inputs.min()}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise _Unreadable(f"labels must be integers >= 0, found {labels.dtype}")
    spikes, classes = np.minimum(inputs, 1).astype(np.uint8), labels.astype(np.int64)
    spikes.flags.writeable = classes.flags.writeable = False
    return spikes, classes
