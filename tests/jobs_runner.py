"""Run a rendered Databricks job's graph locally: the Jobs service's ``run_if`` rules, real notebooks.

``run_job(settings, spark, notebooks=..., run_jobs=...)`` walks the tasks of Jobs API 2.2
settings the way the service does (https://docs.databricks.com/jobs/run-if.html):

* a task runs once every task it depends on is done, and tasks that are ready together
  run in parallel (threads), wave by wave (a task ready early waits for its wave to end,
  which changes no order the graph fixes);
* ``run_if`` (default ALL_SUCCESS) over the dependencies' states: ALL_SUCCESS,
  AT_LEAST_ONE_SUCCESS and NONE_FAILED mark the task UPSTREAM_FAILED when not met;
  AT_LEAST_ONE_FAILED and ALL_FAILED mark it EXCLUDED; ALL_DONE always runs;
* an EXCLUDED task counts as succeeded, and a task whose dependencies were all excluded
  is excluded whatever its ``run_if``; a dependency with an ``outcome`` (after a condition
  task) that does not match counts as excluded;
* assumption: UPSTREAM_FAILED counts as failed for ``run_if`` (the docs say only that it
  is not a success);
* the run is FAILED when a leaf task (none depends on it) failed or was upstream-failed,
  SUCCESS_WITH_FAILURES when some other task failed, else SUCCESS.

Notebook tasks run through `tests.notebook_runner` with ``base_parameters`` as widgets,
after dynamic value references (``{{job.run_id}}``, ``{{task.run_id}}``,
``{{job.parameters.x}}``, ``{{tasks.k.values.v}}``, ``{{tasks.k.result_state}}`` ...) are
substituted; ``dbutils.jobs.taskValues`` is provided. ``notebooks`` maps a workspace path to
the local file. Condition tasks are evaluated; a run-job task calls ``run_jobs[job_id]()``
(raise to fail it).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.notebook_runner import NotebookError, _DBUtils, _Widgets, run_notebook

FAILED_STATES = frozenset({"FAILED", "UPSTREAM_FAILED", "TIMEDOUT"})
_run_ids = itertools.count(7_000_000_001)
_REFERENCE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


@dataclass
class TaskResult:
    """One task of a job run."""

    key: str
    state: str  # SUCCESS, FAILED, UPSTREAM_FAILED, EXCLUDED
    run_id: int | None = None
    error: str | None = None
    error_code: str | None = None
    outcome: str | None = None  # a condition task's "true" / "false"
    started: float | None = None
    ended: float | None = None
    exit_value: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass
class JobRun:
    """A local run of a job: its run id, each task's result and the run's result state."""

    run_id: int
    tasks: dict[str, TaskResult]
    result_state: str
    order: list[str]

    def states(self) -> dict[str, str]:
        return {k: t.state for k, t in self.tasks.items()}


class _TaskValues:
    def __init__(self, key: str, store: dict[str, dict[str, Any]]):
        self.key, self.store = key, store

    def set(self, key: str, value: Any) -> None:
        json.dumps(value)  # the service keeps JSON values only
        self.store.setdefault(self.key, {})[key] = value

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any:
        return self.store.get(taskKey, {}).get(key, default)


class _Jobs:
    def __init__(self, task_values: _TaskValues):
        self.taskValues = task_values


def _substitute(
    text: str,
    job: Mapping[str, Any],
    task_run_id: int,
    results: Mapping[str, TaskResult],
    values: Mapping[str, Mapping[str, Any]],
) -> str:
    def one(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref == "job.run_id":
            return str(job["run_id"])
        if ref == "job.id":
            return str(job["job_id"])
        if ref == "task.run_id":
            return str(task_run_id)
        if ref.startswith("job.parameters."):
            return str(job["parameters"][ref.split(".", 2)[2].strip("`")])
        if ref.startswith("tasks."):
            _, key, rest = ref.split(".", 2)
            result = results[key.strip("`")]
            if rest.startswith("values."):
                value = values.get(result.key, {}).get(rest.split(".", 1)[1].strip("`"))
                return json.dumps(value) if not isinstance(value, str) else value
            if rest == "run_id":
                return "" if result.run_id is None else str(result.run_id)
            if rest == "result_state":
                return result.state
            if rest == "error_code":
                return result.error_code or ""
            raise AssertionError(f"the local runner does not know {{{{{ref}}}}}")
        raise AssertionError(f"the local runner does not know {{{{{ref}}}}}")

    return _REFERENCE.sub(one, text)


def _condition(op: str, left: str, right: str) -> bool:
    if op in ("EQUAL_TO", "NOT_EQUAL"):  # string comparison (docs: If/else condition task)
        return (left == right) == (op == "EQUAL_TO")
    a, b = float(left), float(right)
    return {
        "GREATER_THAN": a > b,
        "GREATER_THAN_OR_EQUAL": a >= b,
        "LESS_THAN": a < b,
        "LESS_THAN_OR_EQUAL": a <= b,
    }[op]


def _gate(task: Mapping[str, Any], results: Mapping[str, TaskResult]) -> str | None:
    """None when the task runs, else the state it gets (UPSTREAM_FAILED or EXCLUDED)."""
    deps = task.get("depends_on") or []
    if not deps:
        return None
    states = []
    for dep in deps:
        upstream = results[dep["task_key"]]
        if "outcome" in dep and upstream.state == "SUCCESS" and upstream.outcome != dep["outcome"]:
            states.append("EXCLUDED")
        else:
            states.append(upstream.state)
    if all(s == "EXCLUDED" for s in states):
        return "EXCLUDED"
    failed = [s in FAILED_STATES for s in states]
    succeeded = [s in ("SUCCESS", "EXCLUDED") for s in states]
    rule = task.get("run_if", "ALL_SUCCESS")
    if rule == "ALL_DONE":
        return None
    if rule == "ALL_SUCCESS":
        return None if all(succeeded) else "UPSTREAM_FAILED"
    if rule == "AT_LEAST_ONE_SUCCESS":
        return None if any(succeeded) else "UPSTREAM_FAILED"
    if rule == "NONE_FAILED":
        return None if not any(failed) and "SUCCESS" in states else "UPSTREAM_FAILED"
    if rule == "AT_LEAST_ONE_FAILED":
        return None if any(failed) else "EXCLUDED"
    if rule == "ALL_FAILED":
        return None if all(failed) else "EXCLUDED"
    raise AssertionError(f"unknown run_if {rule!r}")


def run_job(
    settings: Mapping[str, Any],
    spark: Any,
    *,
    notebooks: Mapping[str, Path],
    run_jobs: Mapping[int, Callable[[], Any]] | None = None,
    parameters: Mapping[str, str] | None = None,
    extra_globals: Mapping[str, Any] | None = None,
    job_id: int = 1001,
    run_id: int | None = None,
    workers: int = 8,
) -> JobRun:
    """Run the job's graph once; returns every task's result and the run's result state.

    Args:
        settings: Jobs API 2.2 settings.
        spark: the session the notebooks get.
        notebooks: workspace notebook path -> local SOURCE-format file.
        run_jobs: job id -> callable standing in for a run of that job.
        parameters: job parameter values (the others take their defaults).
        extra_globals: globals every notebook gets.
        job_id: the job's id (``{{job.id}}``).
        run_id: the run's id (``{{job.run_id}}``; default: a new one).
        workers: tasks run in parallel at most.
    """
    job = {
        "job_id": job_id,
        "run_id": run_id or next(_run_ids),
        "parameters": {
            **{p["name"]: p.get("default", "") for p in settings.get("parameters") or []},
            **(parameters or {}),
        },
    }
    tasks = {t["task_key"]: t for t in settings["tasks"]}
    results: dict[str, TaskResult] = {}
    values: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    lock = threading.Lock()

    def execute(key: str) -> TaskResult:
        task = tasks[key]
        result = TaskResult(key, "SUCCESS", run_id=next(_run_ids), started=time.monotonic())
        try:
            if "notebook_task" in task:
                nb = task["notebook_task"]
                params = {
                    k: _substitute(v, job, result.run_id, results, values)
                    for k, v in (nb.get("base_parameters") or {}).items()
                }
                result.parameters = params
                dbutils = _DBUtils(_Widgets(params))
                dbutils.jobs = _Jobs(_TaskValues(key, values))  # type: ignore[attr-defined]
                path = nb["notebook_path"]
                if path not in notebooks:
                    raise AssertionError(f"no local file for notebook {path!r}")
                ran = run_notebook(
                    notebooks[path], spark, params, {**(extra_globals or {}), "dbutils": dbutils}
                )
                result.exit_value = ran.exit_value
            elif "condition_task" in task:
                c = task["condition_task"]
                left = _substitute(c["left"], job, result.run_id, results, values)
                right = _substitute(c["right"], job, result.run_id, results, values)
                result.outcome = "true" if _condition(c["op"], left, right) else "false"
            elif "run_job_task" in task:
                (run_jobs or {})[task["run_job_task"]["job_id"]]()
            else:
                raise AssertionError(f"task {key!r}: the local runner has no such task type")
        except (NotebookError, Exception) as error:
            cause = error.__cause__ or error
            result.state, result.error = "FAILED", f"{type(error).__name__}: {error}"
            result.error_code = type(cause).__name__
        result.ended = time.monotonic()
        return result

    frame_class = type(spark.range(1))
    previous = vars(frame_class).get("display")
    frame_class.display = lambda self, *a, **k: None  # notebooks running side by side patch it
    try:
        with ThreadPoolExecutor(workers) as pool:
            while len(results) < len(tasks):
                ready = [
                    k
                    for k, t in tasks.items()
                    if k not in results
                    and all(d["task_key"] in results for d in t.get("depends_on") or [])
                ]
                if not ready:
                    raise AssertionError("the job's graph has a cycle")
                to_run = []
                for key in ready:
                    skipped = _gate(tasks[key], results)
                    if skipped:
                        results[key] = TaskResult(key, skipped)
                    else:
                        to_run.append(key)
                for result in pool.map(execute, to_run):
                    with lock:
                        results[result.key] = result
                        order.append(result.key)
    finally:
        if previous is not None:
            frame_class.display = previous
        else:
            del frame_class.display
    upstream = {d["task_key"] for t in tasks.values() for d in t.get("depends_on") or []}
    leaves = [k for k in tasks if k not in upstream]
    if any(results[k].state in FAILED_STATES for k in leaves):
        state = "FAILED"
    elif any(r.state in FAILED_STATES for r in results.values()):
        state = "SUCCESS_WITH_FAILURES"
    else:
        state = "SUCCESS"
    return JobRun(job["run_id"], results, state, order)
