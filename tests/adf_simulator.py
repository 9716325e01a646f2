"""Run Azure Data Factory pipelines from their JSON files, locally, for tests.

An interpreter of the shipped Git-mode files (``pipeline/``, ``dataset/``,
``linkedService/``) that follows what Microsoft documents for a pipeline run:

- Activities start when every ``dependsOn`` entry holds (``Succeeded``, ``Failed``,
  ``Skipped``, ``Completed`` = succeeded or failed); an activity whose conditions cannot
  hold is Skipped. A pipeline (a ForEach iteration, an If branch) fails when one of its
  leaf activities failed, a skipped leaf being judged by its parents
  (https://learn.microsoft.com/azure/data-factory/tutorial-pipeline-failure-error-handling).
- ``ForEach`` runs every item, one after another (``isSequential``) or up to
  ``batchCount`` at once in threads, and fails when an iteration failed, after all of
  them ran; ``IfCondition`` runs one branch; ``ExecutePipeline`` runs the child and,
  with ``waitOnCompletion``, takes its status; ``Fail`` fails with its message and code;
  ``SetVariable`` sets a declared variable.
- ``Lookup`` evaluates its query and runs it through the test's query function
  (``firstRowOnly``: ``output.firstRow``, absent for no row; else ``output.value``).
- ``DatabricksNotebook`` runs a notebook through the test's notebook function, with
  ``baseParameters`` as widgets and the ``dbutils.notebook.exit`` value as
  ``output.runOutput`` (parsed when it is a JSON object, as ADF documents). On a job
  cluster (a linked service with ``newClusterVersion``) only what ``libraries`` installs
  can be imported: a notebook that imports a module no listed PyPI package provides fails.
- ``Copy`` is simulated: it resolves its datasets, their parameters and linked services,
  and records the resolved source and sink.

Expressions: ``@expr``, ``@{expr}`` interpolation (``@@`` escapes), with ``pipeline()``,
``activity()``, ``item()``, ``variables()``, ``linkedService()``, ``dataset()`` and the
functions in `FUNCTIONS`; property access ``.x`` and ``?.x``, indexing ``[n]``.
Any activity can be made to fail (`faults`) and a callback can run before one (`before`).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from tests.notebook_runner import NotebookError, run_notebook

CONDITIONS = {
    "Succeeded": {"Succeeded"},
    "Failed": {"Failed"},
    "Skipped": {"Skipped"},
    "Completed": {"Succeeded", "Failed"},
}
CONTAINERS = {"ForEach": ("activities",), "IfCondition": ("ifTrueActivities", "ifFalseActivities")}
LOOKUP_MAX_ROWS = 5000


class ExpressionError(Exception):
    """An expression could not be parsed or evaluated (ADF fails the activity)."""


class DefinitionError(Exception):
    """A pipeline, dataset or linked service is not valid ADF JSON for this simulator."""


class ActivityFailed(Exception):
    """An activity failed; carries ADF's error object."""

    def __init__(self, message: str, error_code: str = "SimulatedFailure"):
        super().__init__(message)
        self.error = {"message": message, "errorCode": error_code, "failureType": "UserError"}


# ---------------------------------------------------------------- expression language


def adf_string(value: Any) -> str:
    """How ADF turns a value into text (interpolation, ``string()``, ``concat()``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op>\?\.|\?\[|[().,\[\]]))"
)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise ExpressionError(f"cannot parse {text!r} at {text[pos:]!r}")
        pos = match.end()
        if match.group("str") is not None:
            out.append(("str", match.group("str")[1:-1].replace("''", "'")))
        elif match.group("num") is not None:
            num = match.group("num")
            out.append(("num", float(num) if "." in num else int(num)))
        elif match.group("name") is not None:
            out.append(("name", match.group("name")))
        else:
            out.append(("op", match.group("op")))
    return out


class _Parser:
    """Recursive descent over the tokens: call | literal, then .x / ?.x / [i] / ?[i]."""

    def __init__(self, text: str):
        self.text, self.tokens, self.pos = text, _tokens(text), 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str, value: Any = None) -> Any:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            raise ExpressionError(f"{self.text!r}: expected {value or kind}, found {token}")
        self.pos += 1
        return token[1]

    def parse(self) -> tuple:
        node = self.expr()
        if self.peek() is not None:
            raise ExpressionError(f"{self.text!r}: unexpected {self.peek()}")
        return node

    def expr(self) -> tuple:
        kind, value = self.peek() or ("end", None)
        if kind in ("str", "num"):
            self.pos += 1
            node: tuple = ("lit", value)
        elif kind == "name":
            self.pos += 1
            if self.peek() == ("op", "("):
                self.pos += 1
                args = []
                if self.peek() != ("op", ")"):
                    args.append(self.expr())
                    while self.peek() == ("op", ","):
                        self.pos += 1
                        args.append(self.expr())
                self.take("op", ")")
                node = ("call", value, args)
            elif value in ("true", "false"):
                node = ("lit", value == "true")
            else:
                raise ExpressionError(f"{self.text!r}: {value!r} is not a function call")
        else:
            raise ExpressionError(f"{self.text!r}: unexpected {kind} {value!r}")
        while True:
            token = self.peek()
            if token in (("op", "."), ("op", "?.")):
                self.pos += 1
                node = ("prop", node, self.take("name"), token[1] == "?.")
            elif token in (("op", "["), ("op", "?[")):
                self.pos += 1
                index = self.expr()
                self.take("op", "]")
                node = ("index", node, index, token[1] == "?[")
            else:
                return node


def _equals(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ExpressionError(f"int(): {value!r} is not a number")
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise ExpressionError(f"int(): {value!r} is not an integer") from error


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, (int, float)):
        return value != 0
    raise ExpressionError(f"bool(): {value!r} is not a boolean")


def _json(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError) as error:
        raise ExpressionError(f"json(): {value!r} is not JSON text") from error


def _empty(value: Any) -> bool:
    return value is None or (hasattr(value, "__len__") and len(value) == 0)


def _need_list(name: str, value: Any) -> list:
    if not isinstance(value, list):
        raise ExpressionError(f"{name}(): {value!r} is not an array")
    return value


def _compare(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    raise ExpressionError(f"cannot compare {a!r} with {b!r}")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "concat": lambda *a: "".join(adf_string(x) for x in a),
    "equals": _equals,
    "not": lambda a: not _bool(a),
    "and": lambda *a: all(_bool(x) for x in a),
    "or": lambda *a: any(_bool(x) for x in a),
    "if": lambda c, a, b: a if _bool(c) else b,
    "greater": lambda a, b: (lambda x, y: x > y)(*_compare(a, b)),
    "greaterOrEquals": lambda a, b: (lambda x, y: x >= y)(*_compare(a, b)),
    "less": lambda a, b: (lambda x, y: x < y)(*_compare(a, b)),
    "lessOrEquals": lambda a, b: (lambda x, y: x <= y)(*_compare(a, b)),
    "coalesce": lambda *a: next((x for x in a if x is not None), None),
    "string": adf_string,
    "int": _int,
    "bool": _bool,
    "json": _json,
    "empty": _empty,
    "utcNow": lambda *a: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    "split": lambda s, d: adf_string(s).split(d),
    "join": lambda a, d: d.join(adf_string(x) for x in _need_list("join", a)),
    "skip": lambda a, n: _need_list("skip", a)[_int(n) :],
    "take": lambda a, n: _need_list("take", a)[: _int(n)],
    "first": lambda a: a[0] if a else None,
    "last": lambda a: a[-1] if a else None,
    "length": lambda a: len(a),
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "contains": lambda a, b: b in a,
    "replace": lambda s, old, new: adf_string(s).replace(old, new),
    "toLower": lambda s: adf_string(s).lower(),
    "toUpper": lambda s: adf_string(s).upper(),
    "createArray": lambda *a: list(a),
}


@dataclass
class Context:
    """What an expression can see: pipeline, scope chain (activities, item), variables."""

    pipeline: dict[str, Any] = field(default_factory=dict)
    scope: Scope | None = None
    variables: dict[str, Any] | None = None
    linked_service: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "pipeline":
            return self.pipeline
        if name == "activity":
            if self.scope is None:
                raise ExpressionError("activity() outside a pipeline")
            return self.scope.activity(args[0])
        if name == "item":
            if self.scope is None or self.scope.find_item() is None:
                raise ExpressionError("item() outside a ForEach")
            return self.scope.find_item()[0]
        if name == "variables":
            if self.variables is None or args[0] not in self.variables:
                raise ExpressionError(f"variables(): no variable {args[0]!r}")
            return self.variables[args[0]]
        if name in ("linkedService", "dataset"):
            values = self.linked_service if name == "linkedService" else self.dataset
            if values is None:
                raise ExpressionError(f"{name}() outside a {name} definition")
            return values
        if name not in FUNCTIONS:
            raise ExpressionError(f"unknown function {name}()")
        try:
            return FUNCTIONS[name](*args)
        except ExpressionError:
            raise
        except Exception as error:
            raise ExpressionError(f"{name}({', '.join(map(repr, args))}): {error}") from error

    def eval_node(self, node: tuple) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "call":
            if node[1] == "if":  # only the branch taken is evaluated
                condition, a, b = node[2]
                return self.eval_node(a if _bool(self.eval_node(condition)) else b)
            return self.call(node[1], [self.eval_node(a) for a in node[2]])
        target = self.eval_node(node[1])
        if kind == "prop":
            name, safe = node[2], node[3]
            if isinstance(target, dict) and name in target:
                return target[name]
            if safe:
                return None
            raise ExpressionError(f"property {name!r} doesn't exist in {adf_string(target)[:200]}")
        index, safe = self.eval_node(node[2]), node[3]
        try:
            return target[index]
        except (IndexError, KeyError, TypeError) as error:
            if safe:
                return None
            raise ExpressionError(f"index {index!r} out of {adf_string(target)[:200]}") from error

    def text(self, value: str) -> Any:
        """An ADF string: ``@@`` literal, ``@expr``, or text with ``@{expr}`` interpolations."""
        if value.startswith("@@"):
            return value[1:]
        if value.startswith("@") and not value.startswith("@{"):
            return self.eval_node(_Parser(value[1:]).parse())
        if "@{" not in value:
            return value
        out, pos = [], 0
        while True:
            start = value.find("@{", pos)
            if start < 0:
                out.append(value[pos:])
                return "".join(out)
            out.append(value[pos:start])
            end, quoted = start + 2, False
            while end < len(value) and (quoted or value[end] != "}"):
                if value[end] == "'":
                    quoted = not quoted
                end += 1
            if end >= len(value):
                raise ExpressionError(f"unclosed @{{ in {value!r}")
            out.append(adf_string(self.eval_node(_Parser(value[start + 2 : end]).parse())))
            pos = end + 1

    def resolve(self, value: Any) -> Any:
        """Every expression inside a JSON value evaluated (``{"type": "Expression"}`` or ``"@..."``)."""
        if isinstance(value, dict):
            if value.get("type") == "Expression" and set(value) == {"value", "type"}:
                return self.text(value["value"])
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def expression_text(value: Any) -> str | None:
    """The expression text of a property value, if it is one."""
    if isinstance(value, dict) and value.get("type") == "Expression":
        return value["value"]
    if isinstance(value, str) and value.startswith("@") and not value.startswith("@@"):
        return value
    return None


def parse_expression(text: str) -> list[tuple]:
    """The syntax trees of an ADF string's expressions (one, or one per ``@{}``)."""
    if text.startswith("@@"):
        return []
    if text.startswith("@") and not text.startswith("@{"):
        return [_Parser(text[1:]).parse()]
    return [_Parser(m).parse() for m in re.findall(r"@\{((?:[^}']|'(?:[^']|'')*')*)\}", text)]


# ---------------------------------------------------------------- runs


@contextmanager
def _display_restored(spark: Any) -> Iterator[None]:
    """Notebooks run in threads each patch ``DataFrame.display``; put back what was there."""
    frame_class = type(spark.range(1))
    before = vars(frame_class).get("display")
    try:
        yield
    finally:
        if before is not None:
            frame_class.display = before
        elif "display" in vars(frame_class):
            del frame_class.display


@dataclass
class ActivityRun:
    """One activity run: where it ran (pipeline, ForEach item), its status, output and error."""

    pipeline: str
    name: str
    type: str
    status: str
    item: Any = None
    output: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class PipelineRun:
    """One pipeline run: status, error, its activity runs and its child runs."""

    name: str
    run_id: str
    parameters: dict[str, Any]
    status: str = "InProgress"
    error: dict[str, Any] | None = None
    activities: list[ActivityRun] = field(default_factory=list)
    children: list[PipelineRun] = field(default_factory=list)

    def all_activities(self) -> list[ActivityRun]:
        """This run's activity runs and its children's, in the order they ran."""
        out = list(self.activities)
        for child in self.children:
            out += child.all_activities()
        return out


class Scope:
    """Activities of one pipeline, ForEach iteration or If branch; names resolve outwards."""

    def __init__(self, parent: Scope | None = None, item: Any = None, has_item: bool = False):
        self.parent, self.item, self.has_item = parent, item, has_item
        self.runs: dict[str, ActivityRun] = {}

    def find_item(self) -> tuple[Any] | None:
        scope: Scope | None = self
        while scope is not None:
            if scope.has_item:
                return (scope.item,)
            scope = scope.parent
        return None

    def activity(self, name: str) -> dict[str, Any]:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.runs:
                run = scope.runs[name]
                if run.status == "Skipped":
                    raise ExpressionError(f"activity {name!r} was skipped")
                out: dict[str, Any] = {"output": run.output, "status": run.status}
                if run.error is not None:
                    out["error"] = run.error
                return out
            scope = scope.parent
        raise ExpressionError(f"activity {name!r} has not run in this scope or an enclosing one")


@dataclass
class Call:
    """What a fault predicate or a `before` callback is told about the activity run."""

    pipeline: str
    run_id: str
    parameters: dict[str, Any]
    item: Any


@dataclass
class CopyRecord:
    """What a simulated Copy would have done, resolved."""

    activity: str
    item: Any
    source: dict[str, Any]
    sink: dict[str, Any]


QueryRunner = Callable[[str], list[dict[str, Any]]]


#: The reference type and the wording of each kind of referenced file.
_REFERENCES = {
    "linkedService": ("LinkedServiceReference", "linked service"),
    "dataset": ("DatasetReference", "dataset"),
}


class Factory:
    """The Git-mode files of one factory, and a way to run its pipelines.

    Args:
        root: the folder holding ``pipeline/``, ``dataset/`` and ``linkedService/``.
        query: runs a Lookup's SQL, returns its rows as JSON-like dicts.
        spark: the session the notebooks run on (`tests.notebook_runner.run_notebook`).
        workspace: workspace path of a notebook (no extension) -> its local SOURCE file;
            a notebookPath not in it fails as Databricks fails a missing notebook.
        faults: activity name -> predicate on a `Call` (None: always); the activity fails
            with an injected error instead of running.
        before: activity name -> callback(`Call`) run just before the activity.
        module_packages: importable module -> the PyPI distribution that provides it.
        parse_run_output: a notebook's JSON-object exit value becomes an object in runOutput.
        max_parallel: at most this many iterations of a parallel ForEach run at once
            (threads; ADF's ``batchCount`` is the other bound).
    """

    def __init__(
        self,
        root: Path,
        *,
        query: QueryRunner,
        spark: Any,
        workspace: dict[str, Path],
        faults: dict[str, Callable[[Call], bool] | None] | None = None,
        before: dict[str, Callable[[Call], None]] | None = None,
        module_packages: dict[str, str] | None = None,
        parse_run_output: bool = True,
        max_parallel: int = 4,
    ):
        self.files = {
            kind: {p.stem: json.loads(p.read_text()) for p in sorted((root / kind).glob("*.json"))}
            for kind in ("pipeline", "dataset", "linkedService")
        }
        for kind, items in self.files.items():
            for name, body in items.items():
                if body.get("name") != name or "properties" not in body:
                    raise DefinitionError(f"{kind}/{name}.json is not {{name, properties}}")
        self.query, self.spark, self.workspace = query, spark, workspace
        self.faults, self.before = faults or {}, before or {}
        self.module_packages = module_packages or {"etl_monitor": "lakehouse-etl-monitor"}
        self.parse_run_output = parse_run_output
        self.max_parallel = max_parallel
        self.lookups: list[tuple[str, str]] = []
        self.notebooks: list[tuple[str, str, dict[str, str], list]] = []
        self.copies: list[CopyRecord] = []

    # -- pipelines

    def run(self, name: str, parameters: dict[str, Any] | None = None) -> PipelineRun:
        """Run pipeline `name` to completion; returns its run (status Succeeded or Failed)."""
        if name not in self.files["pipeline"]:
            raise DefinitionError(f"no pipeline {name!r}")
        props = self.files["pipeline"][name]["properties"]
        run = PipelineRun(name, str(uuid.uuid4()), self._parameters(name, props, parameters or {}))
        variables = {k: v.get("defaultValue") for k, v in (props.get("variables") or {}).items()}
        pipe = {
            "parameters": run.parameters,
            "RunId": run.run_id,
            "Pipeline": name,
            "DataFactory": "simulated",
            "TriggerTime": datetime.now(UTC).isoformat(),
        }
        ctx = Context(pipeline=pipe, variables=variables)
        scope = Scope()
        status, error = self._run_activities(run, props["activities"], scope, ctx)
        run.status, run.error = status, error
        return run

    @staticmethod
    def _parameters(name: str, props: dict, given: dict[str, Any]) -> dict[str, Any]:
        declared = props.get("parameters") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise DefinitionError(f"{name}: undeclared parameters {sorted(unknown)}")
        values = {}
        for key, spec in declared.items():
            if key in given:
                value = given[key]
            elif "defaultValue" in spec:
                value = spec["defaultValue"]
            else:
                raise ActivityFailed(
                    f"{name}: required parameter {key!r} has no value", "BadRequest"
                )
            kind = spec["type"].lower()
            checks = {
                "string": lambda v: isinstance(v, str),
                "securestring": lambda v: isinstance(v, str),
                "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
                "bool": lambda v: isinstance(v, bool),
                "array": lambda v: isinstance(v, list),
                "object": lambda v: isinstance(v, dict),
                "float": lambda v: isinstance(v, (int, float)),
            }
            if kind == "int" and isinstance(value, str) and value.lstrip("-").isdigit():
                value = int(value)
            if kind not in checks or not checks[kind](value):
                raise ActivityFailed(
                    f"{name}: parameter {key!r} = {value!r} is not {kind}", "BadRequest"
                )
            values[key] = value
        return values

    def _run_activities(
        self, run: PipelineRun, activities: list[dict], scope: Scope, ctx: Context
    ) -> tuple[str, dict | None]:
        """Run one container's activities in dependency order; returns (status, error)."""
        by_name = {a["name"]: a for a in activities}
        pending = list(activities)
        while pending:
            ready = [
                a
                for a in pending
                if all(d["activity"] in scope.runs for d in a.get("dependsOn", []))
            ]
            if not ready:
                names = [a["name"] for a in pending]
                raise DefinitionError(
                    f"{run.name}: dependency cycle or unknown dependency in {names}"
                )
            activity = ready[0]
            pending.remove(activity)
            for dep in activity.get("dependsOn", []):
                if dep["activity"] not in by_name:
                    raise DefinitionError(
                        f"{activity['name']} depends on unknown {dep['activity']}"
                    )
            met = all(
                scope.runs[d["activity"]].status
                in set().union(*(CONDITIONS[c] for c in d["dependencyConditions"]))
                for d in activity.get("dependsOn", [])
            )
            item = scope.find_item()
            record = ActivityRun(
                run.name,
                activity["name"],
                activity["type"],
                "Skipped",
                item=item[0] if item else None,
            )
            scope.runs[activity["name"]] = record
            run.activities.append(record)
            if met:
                self._execute(
                    run, activity, record, scope, Context(ctx.pipeline, scope, ctx.variables)
                )
        return self._outcome(activities, scope)

    @staticmethod
    def _outcome(activities: list[dict], scope: Scope) -> tuple[str, dict | None]:
        """ADF's rule: every leaf succeeded, a skipped leaf judged by its parents."""
        parents = {a["name"]: [d["activity"] for d in a.get("dependsOn", [])] for a in activities}
        depended = {p for ps in parents.values() for p in ps}

        def judge(name: str) -> tuple[str, dict | None]:
            run = scope.runs[name]
            if run.status != "Skipped":
                return run.status, run.error
            for parent in parents[name]:
                status, error = judge(parent)
                if status == "Failed":
                    return status, error
            return "Succeeded", None

        for leaf in (a["name"] for a in activities if a["name"] not in depended):
            status, error = judge(leaf)
            if status == "Failed":
                return status, error
        return "Succeeded", None

    def _execute(
        self, run: PipelineRun, activity: dict, record: ActivityRun, scope: Scope, ctx: Context
    ) -> None:
        name, kind = activity["name"], activity["type"]
        item = scope.find_item()
        item_value = item[0] if item else None
        props = activity.get("typeProperties", {})
        call = Call(run.name, run.run_id, run.parameters, item_value)
        began = time.perf_counter()
        try:
            if name in self.before:
                self.before[name](call)
            if name in self.faults and (self.faults[name] is None or self.faults[name](call)):
                raise ActivityFailed(f"injected fault in {name}", "InjectedFault")
            handler = getattr(self, f"_do_{kind}", None)
            if handler is None:
                raise DefinitionError(f"activity type {kind} is not simulated")
            record.output = handler(run, activity, props, record, scope, ctx) or {}
            record.status = "Succeeded"
        except ExpressionError as error:
            record.status = "Failed"
            record.error = {
                "message": f"expression failed: {error}",
                "errorCode": "InvalidTemplate",
                "failureType": "UserError",
            }
        except ActivityFailed as error:
            record.status, record.error = "Failed", error.error
        finally:
            record.seconds = time.perf_counter() - began

    def _inner_failure(self, error: dict | None) -> ActivityFailed:
        message = (error or {}).get("message", "")
        return ActivityFailed(
            f"Activity failed because an inner activity failed; Error: {message}",
            (error or {}).get("errorCode", "InnerActivityFailed"),
        )

    # -- activity types

    def _do_SetVariable(self, run, activity, props, record, scope, ctx) -> dict:
        name = props["variableName"]
        if ctx.variables is None or name not in ctx.variables:
            raise DefinitionError(f"{activity['name']}: variable {name!r} is not declared")
        ctx.variables[name] = ctx.resolve(props["value"])
        record.inputs = {"value": ctx.variables[name]}
        return {"name": name, "value": ctx.variables[name]}

    def _do_Fail(self, run, activity, props, record, scope, ctx) -> dict:
        raise ActivityFailed(
            adf_string(ctx.resolve(props["message"])), adf_string(ctx.resolve(props["errorCode"]))
        )

    def _do_IfCondition(self, run, activity, props, record, scope, ctx) -> dict:
        condition = ctx.resolve(props["expression"])
        if not isinstance(condition, bool):
            raise ActivityFailed(
                f"If Condition expression is not a boolean: {condition!r}", "InvalidTemplate"
            )
        branch = props.get("ifTrueActivities" if condition else "ifFalseActivities") or []
        status, error = self._run_activities(run, branch, Scope(scope), ctx)
        if status == "Failed":
            raise self._inner_failure(error)
        return {"ifTrue": condition}

    def _do_ForEach(self, run, activity, props, record, scope, ctx) -> dict:
        items = ctx.resolve(props["items"])
        if not isinstance(items, list):
            raise ActivityFailed(f"ForEach items is not an array: {items!r}", "InvalidTemplate")
        batch = props.get("batchCount", 20)
        if not props.get("isSequential", False) and not 1 <= batch <= 50:
            raise DefinitionError(f"{activity['name']}: batchCount {batch} outside 1-50")

        def iteration(value: Any) -> tuple[str, dict | None]:
            return self._run_activities(run, props["activities"], Scope(scope, value, True), ctx)

        workers = min(batch, self.max_parallel)
        if props.get("isSequential", False) or workers <= 1 or len(items) <= 1:
            results = [iteration(value) for value in items]
        else:  # up to batchCount iterations at once, as ADF runs them
            with _display_restored(self.spark), ThreadPoolExecutor(workers) as pool:
                results = list(pool.map(iteration, items))
        failures = [error for status, error in results if status == "Failed"]
        if failures:
            raise self._inner_failure(failures[0])
        return {"iterations": len(items)}

    def _do_ExecutePipeline(self, run, activity, props, record, scope, ctx) -> dict:
        target = props["pipeline"]["referenceName"]
        params = ctx.resolve(props.get("parameters") or {})
        record.inputs = {"pipeline": target, "parameters": params}
        child = self.run(target, params)
        run.children.append(child)
        if props.get("waitOnCompletion", False) and child.status == "Failed":
            message = (child.error or {}).get("message", "")
            raise ActivityFailed(
                f"Operation on target {target} failed: {message}",
                (child.error or {}).get("errorCode", "PipelineFailed"),
            )
        return {"pipelineName": target, "pipelineRunId": child.run_id}

    def _linked_service(self, reference: dict, ctx: Context, kinds: tuple[str, ...]) -> dict:
        """A linked service reference resolved: its type and evaluated typeProperties."""
        name, props, values = self._referenced("linkedService", reference, ctx, kinds)
        inner = Context(linked_service=values)
        resolved = inner.resolve(props["typeProperties"])
        token = resolved.get("accessToken")
        if isinstance(token, dict):  # a Key Vault reference: its store must be a Key Vault
            if token.get("type") != "AzureKeyVaultSecret" or not token.get("secretName"):
                raise DefinitionError(
                    f"linked service {name}: accessToken is not a Key Vault secret"
                )
            self._linked_service(token["store"], inner, ("AzureKeyVault",))
        elif token is not None:
            raise DefinitionError(f"linked service {name}: a literal accessToken")
        return {"name": name, "type": props["type"], **resolved}

    def _referenced(
        self, kind: str, reference: dict, ctx: Context, types: tuple[str, ...]
    ) -> tuple[str, dict, dict]:
        """A reference to a shipped file of `kind` checked: its name, properties and bound parameters."""
        ref_type, what = _REFERENCES[kind]
        name = reference["referenceName"]
        if reference.get("type") != ref_type or name not in self.files[kind]:
            raise DefinitionError(f"no {what} {name!r}")
        props = self.files[kind][name]["properties"]
        if props["type"] not in types:
            raise DefinitionError(f"{what} {name} is {props['type']}, expected {types}")
        values = self._bind(f"{what} {name}", props, ctx.resolve(reference.get("parameters") or {}))
        return name, props, values

    @staticmethod
    def _bind(what: str, props: dict, given: dict) -> dict:
        declared = props.get("parameters") or {}
        if set(given) - set(declared):
            raise DefinitionError(
                f"{what}: undeclared parameters {sorted(set(given) - set(declared))}"
            )
        values = {}
        for key, spec in declared.items():
            if key not in given and "defaultValue" not in spec:
                raise DefinitionError(f"{what}: parameter {key!r} has no value")
            values[key] = given.get(key, spec.get("defaultValue"))
        return values

    def _dataset(self, reference: dict, ctx: Context, kinds: tuple[str, ...]) -> dict:
        name, props, values = self._referenced("dataset", reference, ctx, kinds)
        inner = Context(dataset=values)
        service = self._linked_service(
            props["linkedServiceName"], inner, ("AzureDatabricksDeltaLake", "AzureBlobFS")
        )
        return {
            "name": name,
            "type": props["type"],
            "linkedService": service,
            **inner.resolve(props.get("typeProperties") or {}),
        }

    def _do_Lookup(self, run, activity, props, record, scope, ctx) -> dict:
        dataset = self._dataset(props["dataset"], ctx, ("AzureDatabricksDeltaLakeDataset",))
        source = props["source"]
        if source["type"] != "AzureDatabricksDeltaLakeSource":
            raise DefinitionError(f"{activity['name']}: source {source['type']}")
        sql = ctx.resolve(source["query"])
        record.inputs = {"query": sql, "dataset": dataset}
        self.lookups.append((activity["name"], sql))
        try:
            rows = self.query(sql)
        except Exception as error:  # the engine's error is the activity's error
            raise ActivityFailed(f"{type(error).__name__}: {error}", "2100") from error
        if len(rows) > LOOKUP_MAX_ROWS:
            raise ActivityFailed(f"Lookup returned {len(rows)} rows, more than {LOOKUP_MAX_ROWS}")
        if props.get("firstRowOnly", True):
            return {"firstRow": rows[0]} if rows else {}
        return {"count": len(rows), "value": rows}

    def _do_DatabricksNotebook(self, run, activity, props, record, scope, ctx) -> dict:
        service = self._linked_service(activity["linkedServiceName"], ctx, ("AzureDatabricks",))
        path = ctx.resolve(props["notebookPath"])
        if not isinstance(path, str) or not path.startswith("/"):
            raise ActivityFailed(f"notebookPath {path!r} is not an absolute workspace path")
        widgets = ctx.resolve(props.get("baseParameters") or {})
        for key, value in widgets.items():
            if not isinstance(value, str):
                raise ActivityFailed(
                    f"baseParameters.{key} = {value!r} is not a string", "BadRequest"
                )
        libraries = ctx.resolve(props.get("libraries") or [])
        record.inputs = {
            "notebookPath": path,
            "baseParameters": widgets,
            "libraries": libraries,
            "linkedService": service,
        }
        self.notebooks.append((activity["name"], path, widgets, libraries))
        installed = {
            Requirement(lib["pypi"]["package"]).name.lower().replace("_", "-")
            for lib in libraries
            if "pypi" in lib
        }
        if path not in self.workspace:
            raise ActivityFailed(f"RESOURCE_DOES_NOT_EXIST: notebook {path} not found", "3204")
        if "existingClusterId" not in service:  # a new job cluster: only `libraries` installed
            self._check_imports(self.workspace[path], installed)
        try:
            result = run_notebook(self.workspace[path], self.spark, widgets)
        except NotebookError as error:
            raise ActivityFailed(str(error).split("\n--- cell")[0], "3204") from error
        exit_value = result.exit_value if result.exited else None
        output: dict[str, Any] = {"runPageUrl": f"https://simulated/#job/{uuid.uuid4().hex[:8]}"}
        if exit_value is not None:
            value: Any = exit_value
            if self.parse_run_output:
                try:
                    parsed = json.loads(exit_value)
                    value = parsed if isinstance(parsed, dict) else exit_value
                except ValueError:
                    pass
            output["runOutput"] = value
        return output

    def _check_imports(self, path: Path, installed: set[str]) -> None:
        """On a new job cluster, the notebook imports only what `libraries` installed."""
        text = path.read_text()
        for module, package in self.module_packages.items():
            if (
                re.search(rf"^\s*(from|import)\s+{module}\b", text, re.M)
                and package not in installed
            ):
                raise ActivityFailed(
                    f"ModuleNotFoundError: No module named '{module}' (the job cluster installs "
                    f"{sorted(installed) or 'no library'})",
                    "3204",
                )

    def _do_Copy(self, run, activity, props, record, scope, ctx) -> dict:
        if len(activity.get("inputs", [])) != 1 or len(activity.get("outputs", [])) != 1:
            raise DefinitionError(f"{activity['name']}: a Copy has one input and one output")
        source = self._dataset(activity["inputs"][0], ctx, ("Binary",))
        sink = self._dataset(activity["outputs"][0], ctx, ("Binary",))
        settings = ctx.resolve(props)
        for dataset, kind in ((source, "source"), (sink, "sink")):
            location = dataset["location"]
            for key in ("fileSystem", "folderPath", "fileName"):
                if not isinstance(location.get(key), str) or not location[key]:
                    raise ActivityFailed(
                        f"{kind} {key} is empty: {location}", "UserErrorInvalidPath"
                    )
            if not dataset["linkedService"]["url"].startswith("https://"):
                raise ActivityFailed(f"{kind} storage url {dataset['linkedService']['url']!r}")
            expected = {"source": "BinarySource", "sink": "BinarySink"}[kind]
            if settings[kind]["type"] != expected:
                raise DefinitionError(f"{activity['name']}: {kind} {settings[kind]['type']}")
        item = scope.find_item()
        copy = CopyRecord(
            activity["name"],
            item[0] if item else None,
            {**source, "settings": settings["source"]},
            {**sink, "settings": settings["sink"]},
        )
        self.copies.append(copy)
        record.inputs = {"source": copy.source, "sink": copy.sink}
        return {
            "filesRead": 1,
            "filesWritten": 1,
            "dataRead": 0,
            "dataWritten": 0,
            "copyDuration": 0,
        }
