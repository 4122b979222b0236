"""A per-user cache of generated files, keyed by everything that goes into them.

Two kinds, both independent of the weights (the Verilog reads its memory images with
``$readmemh``, which are written from the IR on every build):

* ``"verilog"``: the network top's Verilog (:mod:`snnhw.hdl.emit`), keyed by the IR without
  its weights and biases, the lanes, the weight memory and the source of the generator;
* ``"harness"``: the fast harness binary (:mod:`snnhw.harness`), keyed by the Verilog, the
  harness source, the generated headers, the flags and the tool versions;
* ``"pch"``: a folder holding Verilator's runtime header ``verilated.h`` precompiled for the
  unoptimised harness builds (:mod:`snnhw.harness`), keyed by the flags and tool versions.

A rebuild of the same architecture (another ``--samples``, retrained weights, the tests'
many builds of one small network) then skips Amaranth (seconds) and Verilator and the C++
compiler (10 to 60 s). The cache lives in ``$SNNHW_CACHE`` (default
``$XDG_CACHE_HOME/snnhw``, else ``~/.cache/snnhw``), one file per key and kind, written whole
(a temporary file renamed into place); the least recently used beyond ``KEEP`` per kind are
removed. ``SNNHW_CACHE=off`` turns it off. A cache that cannot be written is skipped
silently: it only ever saves time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Callable, Iterable

__all__ = ["KEEP", "KINDS", "cache_folder", "key", "read", "read_folder", "tool_versions",
           "write", "write_folder"]

KEEP = 200          # files kept per kind (a few MB each at most)
KINDS = ("verilog", "harness", "pch")
_KEEP = {"pch": 2}  # a precompiled header is about 70 MB


def cache_folder(kind: str) -> Path | None:
    """The folder of one kind of file, or None when ``SNNHW_CACHE=off``."""
    if kind not in KINDS:
        raise ValueError(f"cache kind must be one of {KINDS}, got {kind!r}")
    configured = os.environ.get("SNNHW_CACHE")
    if configured == "off":
        return None
    root = Path(configured) if configured else Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "snnhw"
    return root / kind


@cache
def tool_versions(*programs: str) -> str:
    """The first line of ``program --version`` for each program (empty when it fails)."""
    lines = []
    for program in programs:
        try:
            out = subprocess.run([program, "--version"], capture_output=True, text=True,
                                 timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        lines.append(f"{program}: {(out.strip().splitlines() or [''])[0]}")
    return "\n".join(lines)


def key(parts: Iterable[bytes | str]) -> str:
    """SHA-256 of the parts, each length-prefixed (so no two lists collide)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def read(kind: str, cache_key: str) -> bytes | None:
    """The cached file of ``cache_key``, or None when there is none."""
    folder = cache_folder(kind)
    if folder is None:
        return None
    try:
        data = (folder / cache_key).read_bytes()
        os.utime(folder / cache_key)          # recently used: kept longest
    except OSError:
        return None
    return data


def write(kind: str, cache_key: str, data: bytes) -> None:
    """Keep ``data`` under ``cache_key``; then drop the least recently used of its kind
    beyond KEEP."""
    folder = cache_folder(kind)
    if folder is None:
        return
    partial: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        partial = Path(name)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(partial, folder / cache_key)
        partial = None
        _forget_old(kind, folder)
    except OSError:
        pass                       # no cache, no harm: it only ever saves time
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)


def read_folder(kind: str, cache_key: str) -> Path | None:
    """The cached folder of ``cache_key``, or None when there is none."""
    folder = cache_folder(kind)
    if folder is None or not (folder / cache_key).is_dir():
        return None
    try:
        os.utime(folder / cache_key)
    except OSError:
        return None
    return folder / cache_key


def write_folder(kind: str, cache_key: str, fill: Callable[[Path], bool]) -> Path | None:
    """Make the folder of ``cache_key``: ``fill`` writes its files into an empty temporary
    folder and returns whether it succeeded; the folder then takes its place whole (when
    another process got there first, its folder stays). Returns the folder, or None."""
    folder = cache_folder(kind)
    if folder is None:
        return None
    partial: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=folder, prefix=".tmp-"))
        if not fill(partial):
            return None
        try:
            os.rename(partial, folder / cache_key)
            partial = None
        except OSError:
            if not (folder / cache_key).is_dir():
                return None
        _forget_old(kind, folder)
        return folder / cache_key
    except OSError:
        return None
    finally:
        if partial is not None:
            shutil.rmtree(partial, ignore_errors=True)


def _forget_old(kind: str, folder: Path) -> None:
    """Drop the least recently used entries of ``folder`` beyond what ``kind`` keeps."""
    entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[_KEEP.get(kind, KEEP):]:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
