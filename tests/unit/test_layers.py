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


#: The facades and what stands above them: the only places that hold a facade.
ABOVE_THE_CORE = {"framework", "cli", "__init__", "__main__", "local", "_compat", "_typing"}


def _below_the_facade() -> list[Path]:
    return [
        p
        for p in _modules()
        if p.relative_to(PACKAGE).parts[0].removesuffix(".py") not in ABOVE_THE_CORE
    ]


@pytest.mark.parametrize("path", _below_the_facade(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_below_the_facade_receives_the_facade(path: Path):
    """A feature takes a `Context`: no ``monitor`` parameter, no reaching into ``._ctx``."""
    tree = ast.parse(path.read_text())
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            for a in (*args.posonlyargs, *args.args, *args.kwonlyargs):
                if a.arg == "monitor":
                    wrong.append(f"{node.name}(monitor) line {node.lineno}")
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "_ctx"
            and not (isinstance(node.value, ast.Name) and node.value.id == "self")
        ):
            wrong.append(f"._ctx line {node.lineno}")
    assert not wrong, f"{path.relative_to(PACKAGE)} receives the facade: {wrong}"


def _run_object_names() -> set[str]:
    from etl_monitor.tracking.tables import ALL_TABLES
    from etl_monitor.tracking.views import ALL_VIEWS

    return {o.name for o in (*ALL_TABLES, *ALL_VIEWS)}


def test_only_tracking_names_the_run_tables_and_views():
    """Elsewhere a run table or view is named by its definition (``views.WATERMARKS.name``).

    A view body's ``{t:Name}`` placeholders are SQL over the public views, not names in code.
    """
    names = _run_object_names()
    found = []
    for path in _modules():
        if path.relative_to(PACKAGE).parts[0] == "tracking":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}")
    assert not found, found


def test_every_schema_object_is_in_the_registry_setup_builds():
    """Each Table and View a module defines is registered, so `setup()` builds it."""
    import pkgutil

    import etl_monitor
    from etl_monitor.core import objects

    names = [
        i.name
        for i in pkgutil.walk_packages(etl_monitor.__path__, "etl_monitor.")
        if not i.name.endswith("__main__")
    ]
    modules = [importlib.import_module(n) for n in names]
    registered = {
        o.name
        for group in (objects.TRACKING, objects.MONITORING)
        for o in (*objects.tables(group), *objects.views(group))
    }
    defined = set()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, objects.Table | objects.View):
                defined.add(value.name)
    assert defined - registered == set()
    assert len(registered) == len(objects.tables(objects.TRACKING)) + len(
        objects.views(objects.TRACKING)
    ) + len(objects.tables(objects.MONITORING)) + len(objects.views(objects.MONITORING))


def test_one_retry_loop():
    """Every retry goes through `engine.retry.call`: no hand-written attempt loop elsewhere."""
    loops = []
    for path in _modules():
        if path.relative_to(PACKAGE).as_posix() == "engine/retry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.For)
                and isinstance(node.target, ast.Name)
                and node.target.id == "attempt"
            ):
                loops.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not loops, loops


def test_earlier_import_paths_name_the_same_modules():
    """Notebooks written against the earlier tree import the very same module objects."""
    from etl_monitor import _compat

    for old, new in _compat.MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
    from etl_monitor.integrations.jobs.gate import check_stage

    from etl_monitor.jobs import gate

    assert check_stage is gate.check_stage
