"""A build folder as the stages after ``snnhw build`` (synth, board, run) read it.

``snnhw build`` records in ``report.json`` a SHA-256 digest of the IR (``ir/``) and of the
hardware generated from it (``rtl/``: the Verilog and the memory images). The later stages
recompute both before any work, so an IR edited after the build, or an ``rtl/`` that was
regenerated from another IR, is refused instead of being synthesised or run under the wrong
name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from . import SnnhwError, ir

__all__ = ["DIGESTED", "digests", "open_build"]

# the files each digest covers (the lint waivers in rtl/ are a copy of snnhw's own)
DIGESTED = {"ir": ("network.json", "network.npz"), "rtl": ("*.v", "*.hex")}


def _digest(folder: Path, patterns: tuple[str, ...]) -> str:
    sha = hashlib.sha256()
    files = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
    for path in files:
        data = path.read_bytes()
        sha.update(f"{path.name}\0{len(data)}\0".encode())
        sha.update(data)
    return sha.hexdigest()


def digests(folder: str | Path) -> dict[str, str]:
    """SHA-256 of ``folder/ir`` and ``folder/rtl`` (file names and contents)."""
    folder = Path(folder)
    return {part: _digest(folder / part, patterns) for part, patterns in DIGESTED.items()}


def open_build(folder: str | Path, *, checked: tuple[str, ...] = ("ir", "rtl"),
               need_report: bool = True) -> tuple[ir.Network, dict[str, Any]]:
    """The IR and the report of build ``folder``, after checking that the ``checked`` parts
    are the ones the build recorded. A board run checks only ``ir/`` (the board carries its
    own design); a board top, generated from the IR alone, also works on an IR folder
    without a report (``need_report=False``), but a report beside it must match the IR."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SnnhwError(f"{folder}: no such build folder (snnhw build writes one)")
    report_path = folder / "report.json"
    report: dict[str, Any] = {}
    if report_path.exists() or need_report:
        try:
            report = json.loads(report_path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            inner = folder / "hw"       # snnhw demo and train put the model beside hw/
            hint = f"; the build is in {inner}" if (inner / "report.json").is_file() else ""
            raise SnnhwError(f"{folder}: not an snnhw build folder (no report.json; snnhw build "
                             f"writes it){hint}") from None
        except (OSError, ValueError) as exc:
            raise SnnhwError(f"{report_path}: not a readable report ({exc})") from None
        if not isinstance(report, dict):
            raise SnnhwError(f"{report_path}: not a report (a JSON object is required)")
        if not isinstance(report.get("digests"), dict):
            raise SnnhwError(f"{report_path}: no digests of ir/ and rtl/ (written by an older "
                             f"snnhw?); run snnhw build again")
    net = ir.load(folder / "ir")
    if report:
        recorded, now = report["digests"], digests(folder)
        changed = [part for part in checked if recorded.get(part) != now[part]]
        if changed:
            raise SnnhwError(f"{folder}: {' and '.join(p + '/' for p in changed)} changed since "
                             f"snnhw build generated them (digest in report.json); run snnhw "
                             f"build again")
    return net, report
