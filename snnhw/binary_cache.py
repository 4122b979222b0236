"""A per-user cache of compiled simulation binaries, keyed by everything that goes into them.

The fast harness of a design (:mod:`snnhw.harness`) depends on the design's Verilog, the
harness source, the generated headers, the flags and the tool versions, and not on the
weights: the Verilog reads its memory images with ``$readmemh`` when the binary runs. A
rebuild of the same architecture (another ``--samples``, retrained weights, the tests'
many builds of one small network) then takes the binary from the cache instead of running
Verilator and the C++ compiler again (10 to 60 s).

The cache lives in ``$SNNHW_CACHE`` (default ``$XDG_CACHE_HOME/snnhw``, else
``~/.cache/snnhw``), one file per key, written whole (a temporary file renamed into place);
the oldest binaries beyond ``KEEP`` are removed. ``SNNHW_CACHE=off`` turns it off. A cache
that cannot be written is skipped silently: it only ever saves time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Iterable

__all__ = ["KEEP", "cache_folder", "fetch", "key", "store", "tool_versions"]

KEEP = 200          # binaries kept (a few MB each at most)


def cache_folder() -> Path | None:
    """The binaries' folder, or None when ``SNNHW_CACHE=off``."""
    configured = os.environ.get("SNNHW_CACHE")
    if configured == "off":
        return None
    if configured:
        return Path(configured) / "binaries"
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "snnhw" / "binaries"


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


def fetch(cache_key: str, destination: Path) -> bool:
    """Copy the cached binary of ``cache_key`` to ``destination`` (executable); False when
    there is none."""
    folder = cache_folder()
    if folder is None or not (folder / cache_key).is_file():
        return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(folder / cache_key, destination)
        destination.chmod(0o755)
        os.utime(folder / cache_key)          # recently used: kept longest
    except OSError:
        return False
    return True


def store(cache_key: str, binary: Path) -> None:
    """Keep ``binary`` under ``cache_key``; then drop the least recently used beyond KEEP."""
    folder = cache_folder()
    if folder is None:
        return
    partial: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        partial = Path(name)
        with os.fdopen(handle, "wb") as out, open(binary, "rb") as source:
            shutil.copyfileobj(source, out)
        os.replace(partial, folder / cache_key)
        partial = None
        entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".")),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass                       # no cache, no harm: the binary is where it was built
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)
