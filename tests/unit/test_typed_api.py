"""The typed public API: framework.pyi is current, matches run time, and its callers type-check.

`ETLMonitorFramework`'s public methods take their parameters from argument models
(``@takes``), which type checkers cannot see; they read ``etl_monitor/framework.pyi``
instead, written from the runtime signatures by ``python -m etl_monitor._typing.stubgen``.
These tests keep that stub equal to the generator's output and to ``inspect.signature``,
and run pyright (``pyrightconfig.json``) over the package and ``tests/typing/usage.py``,
which calls every public method, plus a file with a wrong call, which must fail.
"""

from __future__ import annotations

import ast
import collections
import difflib
import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor._typing import stubgen
from etl_monitor.monitoring import MonitoringFramework

ROOT = Path(__file__).resolve().parents[2]
USAGE = ROOT / "tests" / "typing" / "usage.py"
CONFIG = ROOT / "pyrightconfig.json"
#: Optional extras that cannot be installed beside the dev extra (databricks-connect ships
#: its own pyspark): an unresolved import of these is expected, of anything else an error.
OPTIONAL_IMPORTS = {"databricks.connect"}
#: The instance attributes databricks-etl-monitor 1.0 notebooks read.
PUBLIC_ATTRIBUTES = {"spark", "catalog", "schema", "etl_schema", "engine", "executor"}
#: A call with a wrong keyword and one with a wrong type: pyright must report both.
WRONG_CALLS = """\
from etl_monitor import ETLMonitorFramework


def wrong(monitor: ETLMonitorFramework) -> None:
    monitor.start_task(projectcode="X")
    monitor.register_task("CORP", "HR_DAILY", "1", 1, 2)
"""

_EMPTY = object()


# -- the stub -----------------------------------------------------------------------------


def test_stub_in_sync():
    path, text = stubgen.generate()
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current != text:
        diff = "".join(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{path.name} (committed)",
                f"{path.name} (generated)",
            )
        )
        pytest.fail(f"{path.name} is stale: run python -m {stubgen.GENERATOR}\n{diff}")


def _stub_class(name: str) -> ast.ClassDef:
    path, _ = stubgen.generate()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)


def _stub_default(node: ast.expr | None) -> Any:
    if node is None:
        return _EMPTY
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return Ellipsis
    return ast.literal_eval(node)


def _stub_parameters(function: ast.FunctionDef) -> list[tuple[str, inspect._ParameterKind, Any]]:
    a = function.args
    positional = [*a.posonlyargs, *a.args]
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    out = []
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = (
            inspect.Parameter.POSITIONAL_ONLY
            if i < len(a.posonlyargs)
            else inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        out.append((arg.arg, kind, _stub_default(default)))
    if a.vararg:
        out.append((a.vararg.arg, inspect.Parameter.VAR_POSITIONAL, _EMPTY))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        out.append((arg.arg, inspect.Parameter.KEYWORD_ONLY, _stub_default(default)))
    if a.kwarg:
        out.append((a.kwarg.arg, inspect.Parameter.VAR_KEYWORD, _EMPTY))
    return out


def _runtime_default(value: Any) -> Any:
    if value is inspect.Parameter.empty:
        return _EMPTY
    return Ellipsis if stubgen.render_default(value) == "..." else value


def _runtime_members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods (the function behind a static method or a property) and ``__init__``."""
    for name, value in vars(cls).items():
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(value, (staticmethod, classmethod)):
            yield name, value.__func__
        elif isinstance(value, property) and value.fget is not None:
            yield name, value.fget
        elif inspect.isfunction(value):
            yield name, value


def test_stub_matches_runtime_signatures():
    stub = _stub_class(ETLMonitorFramework.__name__)
    functions: dict[str, ast.FunctionDef] = {}
    for node in stub.body:
        if isinstance(node, ast.FunctionDef):
            functions.setdefault(node.name, node)  # a property's getter, not its setter
    runtime = dict(_runtime_members(ETLMonitorFramework))
    assert set(runtime) <= set(functions), (
        f"not in the stub: {sorted(set(runtime) - set(functions))}"
    )

    mismatches = []
    for name, function in runtime.items():
        expected = [
            (p.name, p.kind, _runtime_default(p.default))
            for p in inspect.signature(function).parameters.values()
        ]
        actual = _stub_parameters(functions[name])
        if actual != expected:
            mismatches.append(f"{name}:\n  stub    {actual}\n  runtime {expected}")
    assert not mismatches, "\n".join(mismatches)

    attributes = {
        n.target.id
        for n in stub.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    assert attributes >= PUBLIC_ATTRIBUTES, f"missing: {sorted(PUBLIC_ATTRIBUTES - attributes)}"


def _public_names(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_")}


def test_usage_calls_every_public_method():
    """usage.py names every public member: on ``monitor`` (or the class) and on ``mon``."""
    used: dict[str, set[str]] = collections.defaultdict(set)
    for node in ast.walk(ast.parse(USAGE.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute):
            root = node.value  # monitor.a(...).b(...): both on monitor
            while isinstance(root, (ast.Attribute, ast.Call)):
                root = root.value if isinstance(root, ast.Attribute) else root.func
            if isinstance(root, ast.Name):
                used[root.id].add(node.attr)
    framework = used["monitor"] | used[ETLMonitorFramework.__name__]
    missing = _public_names(ETLMonitorFramework) - framework
    assert not missing, f"usage.py calls no monitor.{sorted(missing)}"
    missing = _public_names(MonitoringFramework) - used["mon"]
    assert not missing, f"usage.py calls no mon.{sorted(missing)}"


#: A module with what the generator must render: forward references, a TYPE_CHECKING
#: import, positional-only and keyword-only parameters, Literal, Callable, ClassVar, an
#: implicit Optional, a property with a setter, static, class, async and overloaded
#: methods, a nested class, a method that shadows a builtin, instance attributes.
SAMPLE = """\
\"\"\"A sample module.\"\"\"
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

if TYPE_CHECKING:
    from decimal import Decimal

LIMIT = 10


def helper(x: int, /, y: str = "it's", *args: float, z: bool = False, **kw: Any) -> dict[str, int]:
    \"\"\"Help.\"\"\"
    return {}


class Thing:
    \"\"\"A thing.\"\"\"

    kind: ClassVar[str] = "thing"

    def __init__(self, name: str, when: dt.date | None = None, amount: Decimal | None = None):
        self.name = name
        self.when = when or dt.date(2000, 1, 1)
        self.label = f"{name}"
        self.count: int = 0
        self._hidden = object()

    @property
    def list(self) -> list[str]:
        \"\"\"Shadows a builtin.\"\"\"
        return []

    @list.setter
    def list(self, value: list[str]) -> None: ...

    @staticmethod
    def make(color: Literal["a", 'b"c'] = "a", limit: float = 1.5) -> Thing:
        return Thing("x")

    @classmethod
    def build(cls, f: Callable[[int, str], None] | None = None, g: Callable[..., Any] = print) -> Iterator[Mapping[str, tuple[int, ...]]]:
        return iter([])

    @overload
    def pick(self, a: int) -> int: ...
    @overload
    def pick(self, a: str) -> str: ...
    def pick(self, a: int | str) -> int | str:
        return a

    async def run(self, at: dt.datetime = None) -> None:  # noqa: RUF013
        \"\"\"Run.\"\"\"

    class Inner:
        x: tuple[()] = ()
"""
EXPECTED = [
    "from collections.abc import Callable, Iterator, Mapping",
    "from datetime import date, datetime",
    "from decimal import Decimal",
    "LIMIT: int",
    'def helper(x: int, /, y: str = "it\'s", *args: float, z: bool = False, **kw: Any) -> dict[str, int]:',
    "    kind: ClassVar[str]",
    "    when: date",
    "    label: str",
    "    count: int",
    "        amount: Decimal | None = None,",
    "    def list(self) -> builtins.list[str]:",
    "    @list.setter",
    '    def make(color: Literal["a", \'b"c\'] = "a", limit: float = 1.5) -> Thing: ...',
    "        f: Callable[[int, str], None] | None = None,",
    "        g: Callable[..., Any] = ...,",
    "    ) -> Iterator[Mapping[str, tuple[int, ...]]]: ...",
    "    def pick(self, a: str) -> str: ...",
    "    async def run(self, at: datetime | None = None) -> None:",
    "        x: tuple[()]",
]


def test_generator_renders_annotations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "stubgen_sample.py").write_text(SAMPLE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("stubgen_sample")
    try:
        text = stubgen.render_module(module)
    finally:
        sys.modules.pop("stubgen_sample", None)
    ast.parse(text)
    expected = (
        EXPECTED
        if hasattr(typing, "get_overloads")
        else [  # Python 3.11+
            line for line in EXPECTED if "pick" not in line
        ]
    )
    missing = [line for line in expected if line not in text.splitlines()]
    assert not missing, f"not in the stub: {missing}\n{text}"
    assert "_hidden" not in text and "def pick(self, a: int | str)" not in text
    # As ruff format (with the project's settings, when ruff is installed) writes it.
    assert stubgen.format_stub(text, stubgen.stub_path(stubgen.target_module())) == text


def test_generator_asks_for_an_annotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = "import datetime\nclass Thing:\n    def __init__(self):\n        self.day = datetime.date.today()\n"
    (tmp_path / "stubgen_sample_untyped.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("stubgen_sample_untyped")
    try:
        with pytest.raises(stubgen.StubError, match=r"Thing\.day .*annotate it"):
            stubgen.render_module(module)
    finally:
        sys.modules.pop("stubgen_sample_untyped", None)


# -- the type check -----------------------------------------------------------------------


def _pyright() -> list[str] | None:
    beside = Path(sys.executable).with_name("pyright")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("pyright")
    return [found] if found else None


@pytest.fixture(scope="module")
def pyright_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    """One pyright run over the package, tests/typing and a file of wrong calls."""
    command = _pyright()
    if command is None:
        pytest.skip("pyright is not installed (the dev extra installs it)")
    wrong = tmp_path_factory.mktemp("typing") / "wrong_calls.py"
    wrong.write_text(WRONG_CALLS, encoding="utf-8")
    # No network look-up for a newer pyright on each run.
    env = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"}
    done = subprocess.run(
        [
            *command,
            "--outputjson",
            "--project",
            str(CONFIG),
            "--pythonpath",
            sys.executable,
            str(ROOT / "etl_monitor"),
            str(USAGE.parent),
            str(wrong),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode not in (0, 1):  # 2 and above: pyright itself failed
        pytest.fail(f"pyright exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr}")
    return json.loads(done.stdout)["generalDiagnostics"], wrong


def _show(diagnostics: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{Path(d['file']).relative_to(ROOT) if Path(d['file']).is_relative_to(ROOT) else d['file']}"
        f":{d['range']['start']['line'] + 1}: {d.get('rule', '')}: {d['message']}"
        for d in diagnostics
    )


def _unexpected(diagnostic: dict[str, Any]) -> bool:
    """An error; or, among the package's warnings, a broken import."""
    if diagnostic["severity"] == "error":
        return True
    rule, message = diagnostic.get("rule"), diagnostic["message"]
    if rule == "reportMissingImports":
        return not any(f'"{module}"' in message for module in OPTIONAL_IMPORTS)
    return rule == "reportAttributeAccessIssue" and "unknown import symbol" in message


def test_type_check(pyright_run: tuple[list[dict[str, Any]], Path]):
    diagnostics, wrong = pyright_run
    ours = [d for d in diagnostics if Path(d["file"]) != wrong]
    bad = [d for d in ours if _unexpected(d)]
    assert not bad, f"pyright: {len(bad)} errors\n{_show(bad)}"
    warnings = collections.Counter(d.get("rule") for d in ours if d["severity"] == "warning")
    print(f"pyright: 0 errors; warnings by rule (pyrightconfig.json): {dict(warnings)}")


def test_type_check_reports_a_wrong_call(pyright_run: tuple[list[dict[str, Any]], Path]):
    diagnostics, wrong = pyright_run
    errors = [d for d in diagnostics if Path(d["file"]) == wrong and d["severity"] == "error"]
    shown = _show(errors)
    assert any(
        d.get("rule") == "reportCallIssue" and '"projectcode"' in d["message"] for d in errors
    ), f"no error for start_task(projectcode=...):\n{shown}"
    assert any(
        d.get("rule") == "reportArgumentType" and '"task_id"' in d["message"] for d in errors
    ), f"no error for register_task(task_id='1'):\n{shown}"
