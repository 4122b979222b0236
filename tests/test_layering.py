"""The flow runs one way: each stage imports only earlier stages (docs in ../README.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "snnhw"

# module (or subpackage) -> snnhw modules it must never import
FORBIDDEN = {
    "ir": {"torch", "amaranth", "snnhw.nn", "snnhw.quant", "snnhw.golden", "snnhw.hdl"},
    "golden": {"torch", "amaranth", "snnhw.hdl", "snnhw.nn", "snnhw.quant"},
    "hdl": {"torch", "snnhw.nn", "snnhw.golden", "snnhw.quant", "snnhw.train"},
    "nn": {"amaranth", "snnhw.hdl", "snnhw.golden", "snnhw.quant", "snnhw.ir"},
    "cycles": {"torch", "amaranth", "snnhw.hdl"},
    "report": {"torch", "amaranth", "snnhw.hdl"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    package = "snnhw." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rstrip(".").split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("stage", sorted(FORBIDDEN))
def test_stage_imports_only_earlier_stages(stage):
    files = sorted((PACKAGE / stage).rglob("*.py")) if (PACKAGE / stage).is_dir() \
        else [PACKAGE / f"{stage}.py"]
    assert files and all(f.is_file() for f in files)
    for path in files:
        for name in _imports(path):
            for banned in FORBIDDEN[stage]:
                assert not (name == banned or name.startswith(banned + ".")), \
                    f"{path.relative_to(PACKAGE.parent)} imports {name}"
