"""The package tree is the architecture: a lower layer never imports a higher one."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "etl_monitor"
#: Lowest first. A module may import its own layer and the layers below it.
LAYERS = (
    "errors",
    "engine",
    "core",
    "tracking",
    "monitoring",
    "alerts",
    "runs",
    "jobs",
    "integrations",
    "framework",
    "cli",
)
#: Thin re-exports kept for the public import paths; they sit above everything they name.
ENTRY_POINTS = {"__init__", "__main__", "local", "_compat", "_typing"}


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("etl_monitor")
        ):
            found.add(node.module.removeprefix("etl_monitor").lstrip("."))
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("etl_monitor.")
                for a in node.names
                if a.name.startswith("etl_monitor.")
            )
    return {f for f in found if f and f.split(".")[0] in LAYERS}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path):
    own = path.relative_to(PACKAGE).with_suffix("").parts[0]
    if own in ENTRY_POINTS:
        return  # a public entry point re-exports from anywhere
    higher = sorted(m for m in _imports(path) if _layer(m) > _layer(own))
    assert not higher, f"{path.relative_to(PACKAGE)} ({own}) imports higher layers: {higher}"


def test_every_module_sits_in_a_layer():
    for path in PACKAGE.rglob("*.py"):
        top = path.relative_to(PACKAGE).with_suffix("").parts[0]
        assert top in LAYERS or top in ENTRY_POINTS, f"{path.relative_to(PACKAGE)} is in no layer"


def test_public_import_paths_are_unchanged():
    from etl_monitor import ETLMonitorFramework
    from etl_monitor.local import spark_session
    from etl_monitor.monitoring import MonitoringFramework

    assert ETLMonitorFramework.__module__ == "etl_monitor.framework"
    assert spark_session.__module__ == "etl_monitor.engine.local"
    assert MonitoringFramework.__module__.startswith("etl_monitor.monitoring")
    assert importlib.import_module("etl_monitor.cli.main").run
