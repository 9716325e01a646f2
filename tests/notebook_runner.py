"""Run a Databricks notebook in SOURCE format cell by cell, in one namespace, on a local engine.

Stand-ins for the Databricks globals: ``dbutils.widgets`` (values supplied by the caller
override the declared defaults), ``dbutils.notebook.exit``, ``dbutils.library.restartPython``
(a no-op), ``display`` and ``DataFrame.display()`` (both collect what they are given, so a
broken query fails in its cell) and ``spark``. ``%md`` cells are ignored, ``%pip`` cells are
recorded and skipped, ``%sql`` cells run through ``spark.sql`` after ``${widget}``
substitution, and ``%run ./other`` runs that notebook in the same namespace. ``edits``
replaces text in every notebook before it runs: the lines a user changes (a catalog name)::

    result = run_notebook("sample_usage/01-install.py", spark, {"schema": "t_1"})
    result.displayed[0].rows, result.exit_value, result.pip, result.namespace["monitor"]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
MAGIC = "# MAGIC"
TITLE = "# DBTITLE"


class NotebookError(AssertionError):
    """A cell of a notebook failed; the message names the notebook, the cell and its source."""


class _NotebookExit(BaseException):
    """Raised by ``dbutils.notebook.exit``; a BaseException so ``except Exception`` does not stop it."""

    def __init__(self, value: str):
        super().__init__(value)
        self.value = value


@dataclass
class Cell:
    """One cell: its 1-based number, its kind (python, md, pip, sql) and its source."""

    number: int
    kind: str
    source: str


@dataclass
class Displayed:
    """One ``display()`` call: the object, and its rows when it is a DataFrame."""

    value: Any
    rows: list[Any] | None = None


@dataclass
class NotebookResult:
    """What a notebook run produced."""

    name: str
    displayed: list[Displayed] = field(default_factory=list)
    exit_value: str | None = None
    exited: bool = False
    pip: list[str] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    widgets: dict[str, str] = field(default_factory=dict)
    namespace: dict[str, Any] = field(default_factory=dict)
    cells_run: int = 0
    #: Notebooks run by %run, in order.
    ran: list[str] = field(default_factory=list)
    #: With keep_going: (notebook, cell number, message) of each failed cell.
    failures: list[tuple[str, int, str]] = field(default_factory=list)


def parse_notebook(path: str | Path, edits: Mapping[str, str] | None = None) -> list[Cell]:
    """Split a SOURCE-format notebook into cells; raises ValueError without the header line."""
    text = Path(path).read_text()
    for old, new in (edits or {}).items():
        text = text.replace(old, new)
    lines = text.splitlines()
    if not lines or lines[0].strip() != HEADER:
        raise ValueError(f"{Path(path).name}: first line is not {HEADER!r}")
    chunks: list[list[str]] = [[]]
    for line in lines[1:]:
        if line.strip() == SEPARATOR:
            chunks.append([])
        else:
            chunks[-1].append(line)
    cells = []
    for number, chunk in enumerate(chunks, start=1):
        chunk = [line for line in chunk if not line.startswith(TITLE)]  # a cell's title
        content = [line for line in chunk if line.strip()]
        if content and all(line.startswith(MAGIC) for line in content):
            unmagic = [_strip_magic(line) for line in chunk if line.startswith(MAGIC)]
            first, _, rest = unmagic[0].strip().partition(" ")
            remainder = "\n".join([rest, *unmagic[1:]]).strip()
            kinds = {"%md": "md", "%pip": "pip", "%sql": "sql", "%python": "python", "%run": "run"}
            if first not in kinds:
                raise ValueError(f"{Path(path).name} cell {number}: unsupported magic {first!r}")
            cells.append(Cell(number, kinds[first], remainder))
        else:
            cells.append(Cell(number, "python", "\n".join(chunk).strip("\n")))
    return cells


def _strip_magic(line: str) -> str:
    rest = line[len(MAGIC) :]
    return rest[1:] if rest.startswith(" ") else rest


class _Widgets:
    def __init__(self, supplied: Mapping[str, Any]):
        self.supplied = {k: str(v) for k, v in supplied.items()}
        self.declared: dict[str, str] = {}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self.declared[name] = str(defaultValue)

    def dropdown(
        self, name: str, defaultValue: str, choices: list[str], label: str | None = None
    ) -> None:
        if defaultValue not in choices:
            raise ValueError(f"widget {name!r}: default {defaultValue!r} not in {choices}")
        if name in self.supplied and self.supplied[name] not in choices:
            raise ValueError(f"widget {name!r}: value {self.supplied[name]!r} not in {choices}")
        self.declared[name] = defaultValue

    combobox = text

    def get(self, name: str) -> str:
        if name in self.supplied:
            return self.supplied[name]
        if name in self.declared:
            return self.declared[name]
        raise KeyError(f"InputWidgetNotDefined: no widget named {name!r}")

    def getArgument(self, name: str, defaultValue: str | None = None) -> str | None:
        try:
            return self.get(name)
        except KeyError:
            return defaultValue

    def remove(self, name: str) -> None:
        self.declared.pop(name, None)

    def removeAll(self) -> None:
        self.declared.clear()

    def values(self) -> dict[str, str]:
        return {**self.declared, **self.supplied}


class _Notebook:
    def exit(self, value: Any) -> None:
        raise _NotebookExit(str(value))


class _Library:
    def restartPython(self) -> None:
        """Nothing to restart: the package under test is already imported."""


class _DBUtils:
    def __init__(self, widgets: _Widgets):
        self.widgets = widgets
        self.notebook = _Notebook()
        self.library = _Library()


def run_notebook(
    path: str | Path,
    spark: Any,
    widgets: Mapping[str, Any] | None = None,
    extra_globals: Mapping[str, Any] | None = None,
    *,
    edits: Mapping[str, str] | None = None,
    keep_going: bool = False,
) -> NotebookResult:
    """Run every cell of the notebook at `path`.

    Raises NotebookError naming the failing cell; with ``keep_going`` records the failure
    in ``result.failures`` and runs the next cell instead.
    """
    path = Path(path)
    result = NotebookResult(name=path.name)
    dbw = _Widgets(widgets or {})

    def display(value: Any, *args: Any, **kwargs: Any) -> None:
        rows = value.collect() if callable(getattr(value, "collect", None)) else None
        result.displayed.append(Displayed(value, rows))

    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "spark": spark,
        "dbutils": _DBUtils(dbw),
        "display": display,
        "displayHTML": display,
        **(extra_globals or {}),
    }
    result.namespace = namespace
    # Databricks adds DataFrame.display(); so does this run (when it has a session).
    frame_class = type(spark.range(1)) if spark is not None else None
    previous = vars(frame_class).get("display") if frame_class else None
    if frame_class:
        frame_class.display = lambda self, *args, **kwargs: display(self)
    try:
        _run_cells(path, spark, namespace, result, dbw, display, edits, keep_going)
    finally:
        if frame_class and previous is not None:
            frame_class.display = previous
        elif frame_class:
            del frame_class.display
    result.widgets = dict(dbw.declared)
    return result


def _run_cells(
    path: Path,
    spark: Any,
    namespace: dict[str, Any],
    result: NotebookResult,
    dbw: _Widgets,
    display: Any,
    edits: Mapping[str, str] | None,
    keep_going: bool,
) -> bool:
    """Run a notebook's cells into `namespace`; False once dbutils.notebook.exit was called."""
    for cell in parse_notebook(path, edits):
        try:
            if cell.kind == "python":
                code = compile(cell.source, f"<{path.name} cell {cell.number}>", "exec")
                exec(code, namespace)
            elif cell.kind == "pip":
                result.pip.append(f"%pip {cell.source}")
            elif cell.kind == "run":
                target = (path.parent / cell.source.strip()).with_suffix(".py")
                result.ran.append(target.name)
                if not _run_cells(
                    target, spark, namespace, result, dbw, display, edits, keep_going
                ):
                    return False
            elif cell.kind == "sql":
                df = None
                for statement in _statements(_substitute(cell.source, dbw.values())):
                    result.sql.append(statement)
                    df = spark.sql(statement)
                if df is not None:
                    namespace["_sqldf"] = df
                    display(df)
        except _NotebookExit as stop:
            result.exit_value, result.exited = stop.value, True
            result.cells_run += 1
            return False
        except Exception as error:
            failure = NotebookError(
                f"notebook {path.name}, cell {cell.number} ({cell.kind}) failed: "
                f"{type(error).__name__}: {error}\n--- cell {cell.number} source ---\n{cell.source}"
            )
            if not keep_going:
                raise failure from error
            result.failures.append((path.name, cell.number, str(failure)))
        if cell.kind != "md":
            result.cells_run += 1
    return True


def _substitute(sql: str, values: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"SQL references undefined widget ${{{name}}}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}", replace, sql)


def _statements(sql: str) -> list[str]:
    """Statements of a %sql cell, split on semicolons that end a line."""
    parts = re.split(r";\s*(?:\n|$)", sql)
    return [p.strip() for p in parts if p.strip() and not p.strip().startswith("--")]
