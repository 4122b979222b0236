"""Generated sections of a shared docs page: each benchmark owns the text between
``<!-- begin NAME -->`` and ``<!-- end NAME -->`` and rewrites only that."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["blocks", "replace_block"]


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- begin {name} -->", f"<!-- end {name} -->"


def blocks(text: str) -> str:
    """Every generated section of ``text``, markers included, in order (to carry over)."""
    found = re.findall(r"<!-- begin (\S+) -->.*?<!-- end \1 -->", text, flags=re.S)
    return "\n\n".join(re.search(rf"<!-- begin {re.escape(n)} -->.*?<!-- end {re.escape(n)} -->",
                                 text, flags=re.S).group(0) for n in found)


def replace_block(path: Path, name: str, body: str) -> None:
    """Put ``body`` between NAME's markers in ``path``, appending the section if absent."""
    begin, end = _markers(name)
    text = path.read_text() if path.is_file() else ""
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), flags=re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else (
        text.rstrip() + "\n\n" + block + "\n")
    path.write_text(text)
