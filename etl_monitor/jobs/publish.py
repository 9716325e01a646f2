"""Create or update the rendered jobs by name through databricks-sdk, idempotently.

For each job: ``jobs.list(name=<exact name>, expand_tasks=True)`` (the service filters on
the exact name, case-insensitively, and shows up to 100 tasks), of which only the jobs whose
name equals ours exactly, case included, are ours: ``etl_monitor CORP hr_daily`` never
takes over the job of ``etl_monitor CORP HR_DAILY``. None: ``jobs.create``. One:
compare its settings with the rendering, both normalised (read in full with ``jobs.get``,
following ``next_page_token``, only when the listing says ``has_more``); ``jobs.reset`` with the full settings only when they differ.
Several: an error naming their ids. Every name is looked up before anything is written,
so a duplicate stops the whole publish with nothing half-written.

Normalising drops what the service fills in when a client leaves it out (``format``
MULTI_TASK, ``timeout_seconds`` 0, ``run_as``, an empty ``email_notifications`` and
``webhook_notifications``, a task's ``run_if`` ALL_SUCCESS, a notebook's ``source``
WORKSPACE), empty values, the order of tasks (compared by ``task_key``) and the order of a
task's ``depends_on`` (the service returns it sorted by ``task_key``). A re-run with
an unchanged catalogue therefore makes no mutating call. Retries of 429 and 5xx answers
are the SDK's own.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from etl_monitor.core.reconcile import CallCounter, Reconciliation
from etl_monitor.errors import ValidationFailedError
from etl_monitor.jobs.render import RenderedJob

log: logging.Logger = logging.getLogger(__name__)

#: Top-level fields the service fills in with these values when a create leaves them out.
JOB_DEFAULTS: dict[str, Any] = {"format": "MULTI_TASK", "timeout_seconds": 0}
#: Fields the service sets itself (the creator as ``run_as``; edit and deployment modes).
SERVER_FIELDS = frozenset({"run_as", "edit_mode", "deployment"})
TASK_DEFAULTS: dict[str, Any] = {"run_if": "ALL_SUCCESS", "timeout_seconds": 0}
#: Arrays ``jobs/get`` pages by 100 (SDK ``JobsAPI.get``).
PAGED_ARRAYS = ("tasks", "job_clusters", "environments", "parameters")


@dataclass
class JobResult:
    """What publishing one job did."""

    name: str
    key: str
    action: str  # created, updated, unchanged
    job_id: int
    changed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class PublishReport(Reconciliation, CallCounter):
    """Every job's result, with the SDK calls made and how many of them wrote."""

    jobs: list[JobResult] = field(default_factory=list)
    calls: int = 0
    mutating_calls: int = 0

    def decided(self) -> list[JobResult]:
        """Every job's result, in publishing order."""
        return self.jobs

    def as_dict(self) -> dict[str, Any]:
        return {
            "jobs": [j.as_dict() for j in self.jobs],
            "counts": self.counts,
            "calls": self.calls,
            "mutating_calls": self.mutating_calls,
        }


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def _by_task_key(dependencies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ``depends_on`` list in the service's order: by ``task_key`` (then ``outcome``)."""
    return sorted(dependencies, key=lambda d: (str(d.get("task_key")), str(d.get("outcome"))))


def normalise(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as compared: server defaults, server fields and empty values dropped, tasks
    and each task's ``depends_on`` by key.

    Args:
        settings: job settings as JSON (a rendering, or ``Job.settings.as_dict()``).

    Returns:
        A comparable copy.
    """
    out = copy.deepcopy(dict(settings))
    for key in SERVER_FIELDS:
        out.pop(key, None)
    for key, default in JOB_DEFAULTS.items():
        if out.get(key) == default:
            out.pop(key)
    tasks = []
    for task in out.get("tasks") or []:
        task = dict(task)
        for key, default in TASK_DEFAULTS.items():
            if task.get(key) == default:
                task.pop(key)
        if task.get("depends_on"):
            task["depends_on"] = _by_task_key(task["depends_on"])
        inner = (task.get("for_each_task") or {}).get("task")
        if isinstance(inner, dict) and inner.get("depends_on"):
            inner["depends_on"] = _by_task_key(inner["depends_on"])
        notebook = task.get("notebook_task")
        if isinstance(notebook, dict) and notebook.get("source") == "WORKSPACE":
            notebook = {k: v for k, v in notebook.items() if k != "source"}
            task["notebook_task"] = notebook
        tasks.append(task)
    if tasks:
        out["tasks"] = sorted(tasks, key=lambda t: str(t.get("task_key")))
    return _drop_empty(out)


def differences(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """The top-level fields (``tasks.<key>`` for tasks) whose normalised values differ."""
    a, b = normalise(current), normalise(wanted)
    changed = []
    for key in sorted(set(a) | set(b)):
        if key == "tasks":
            ta = {t.get("task_key"): t for t in a.get("tasks", [])}
            tb = {t.get("task_key"): t for t in b.get("tasks", [])}
            changed += [f"tasks.{k}" for k in sorted(set(ta) | set(tb)) if ta.get(k) != tb.get(k)]
        elif a.get(key) != b.get(key):
            changed.append(key)
    return changed


def _full_settings(w: Any, job_id: int, calls: CallCounter) -> dict[str, Any]:
    """``jobs.get`` with every page of its arrays merged."""
    calls.read()
    job = w.jobs.get(job_id)
    settings = job.settings.as_dict() if job.settings else {}
    token = job.next_page_token
    while token:
        calls.read()
        page = w.jobs.get(job_id, page_token=token)
        more = page.settings.as_dict() if page.settings else {}
        for name in PAGED_ARRAYS:
            if more.get(name):
                settings.setdefault(name, []).extend(more[name])
        token = page.next_page_token
    return settings


def _listed_name(job: Any) -> str | None:
    """The name of a job ``jobs.list`` answered with (``None`` when it shows no settings)."""
    return job.settings.name if job.settings is not None else None


def publish(w: Any, jobs: Iterable[RenderedJob]) -> PublishReport:
    """Create or update each job by its name; an unchanged job is not written.

    Args:
        w: a databricks-sdk ``WorkspaceClient``.
        jobs: the rendered jobs (`render.render`).

    Returns:
        What was done per job, with the number of SDK calls and of mutating calls.

    Raises:
        ValidationFailedError: several jobs carry one of the names, case included (their
            ids are named); nothing was written.
        databricks.sdk.errors.DatabricksError: the service refused a call (after the
            SDK's retries of 429 and 5xx).
    """
    from databricks.sdk.service.jobs import JobSettings

    report = PublishReport()
    calls = report
    jobs = list(jobs)
    found: dict[str, list[Any]] = {}
    for job in jobs:
        calls.read()
        answered = w.jobs.list(name=job.name, expand_tasks=True)
        # The service's name filter ignores case: only an exact match is this job.
        found[job.name] = [j for j in answered if _listed_name(j) == job.name]
    duplicates = {name: [j.job_id for j in same] for name, same in found.items() if len(same) > 1}
    if duplicates:
        raise ValidationFailedError(
            "several jobs share a name, so none can be updated by name (delete or rename all "
            "but one): "
            + "; ".join(
                f"{name!r}: job ids {', '.join(map(str, ids))}" for name, ids in duplicates.items()
            )
        )
    for job in jobs:
        wanted = JobSettings.from_dict(job.settings)
        if not found[job.name]:
            calls.write()
            created = w.jobs.create(
                **{f.name: getattr(wanted, f.name) for f in dataclasses.fields(wanted)}
            )
            log.info("created job %r (%s)", job.name, created.job_id)
            report.jobs.append(JobResult(job.name, job.key, "created", int(created.job_id)))
            continue
        listed = found[job.name][0]
        job_id = int(listed.job_id)
        current = (
            _full_settings(w, job_id, calls)
            if listed.has_more or listed.settings is None
            else listed.settings.as_dict()
        )
        changed = differences(current, wanted.as_dict())
        if not changed:
            report.jobs.append(JobResult(job.name, job.key, "unchanged", job_id))
            continue
        calls.write()
        w.jobs.reset(job_id, wanted)
        log.info("reset job %r (%s): %s", job.name, job_id, ", ".join(changed))
        report.jobs.append(JobResult(job.name, job.key, "updated", job_id, changed))
    return report
