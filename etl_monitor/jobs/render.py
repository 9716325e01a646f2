"""One Databricks job per process, rendered from the process catalogue (Jobs API 2.2 JSON).

The graph, for a process whose tasks sit in stages S1 < S2 < ... (SequenceID):

``etl_start`` (the shipped ``etl_job_start`` notebook: queues the execution's steps and
starts the initiation task 0/0, with the job's run id as the execution id; it fails when
the initiation step is not this run's to take) -> ``stage_<S1>_gate`` -> the tasks of S1
in parallel -> ``stage_<S2>_gate`` -> ... -> ``etl_finish``.

Why gates rather than ``run_if`` alone: a task's ``run_if`` sees only whether its
upstream *job tasks* succeeded, not whether a failed task was mandatory. So every stage
after the first starts with a gate (the shipped ``etl_job_stage_gate`` notebook) that
depends on everything of the stage before with ``run_if: ALL_DONE`` (it runs whatever
those tasks did) and asks the library: it fails when the initiation step of the
execution is not RUNNING (the start failed), when a mandatory task of the execution
failed (``v_mandatoryBlockers``), or when a mandatory task of the earlier stage is
neither finished nor failed (its notebook died before recording). The tasks of the stage
depend on their gate with the default ``ALL_SUCCESS``, so a failed gate marks them
``UPSTREAM_FAILED`` and their steps stay queued, as in the ADF pipelines; an optional
failure passes the gate. Each gate also depends on the gate before it (the first on
``etl_start``): a stage whose tasks were all ``EXCLUDED`` (a retry of DBX_JOB tasks that are
already DONE) would otherwise exclude its gate, and every later task with it.
``etl_finish`` (``etl_job_finish``) runs ``ALL_DONE`` after the last stage, records END or
FAIL for the initiation step with the same checks, and fails when the execution failed.
It is the one leaf, so the run's result is the execution's: FAILED after a mandatory
failure, SUCCESS_WITH_FAILURES after an optional one only.

Task kinds (ETLconfigTasks.SourceType):

* ``DBX_NOTEBOOK``: a ``notebook_task`` on SourceIdentifier (an absolute workspace path).
  Its widgets (``base_parameters``) name the step; the notebook records itself with
  ``with monitor.task(...)``. ``job_run_id`` and ``task_run_id`` carry the run's ids.
* ``DBX_JOB``: a ``run_job_task`` on the job id in SourceIdentifier, wrapped so that it
  records itself: ``etl_job_task_start`` starts the step and sets the task value
  ``active``; a ``condition_task`` runs the child job only when it is true (a step already
  DONE is not run again on a retry); ``etl_end_task`` runs ``ALL_SUCCESS`` after the child
  job and ``etl_job_task_fail`` ``AT_LEAST_ONE_FAILED`` after the start or the child job. The
  fail notebook writes only for a step that was started (or whose start failed): whether
  the service counts an UPSTREAM_FAILED dependency as failed is not documented, and a
  stage that never ran must leave its steps queued either way.
* ``ADF_PIPELINE`` and ``DATAFLOW`` cannot run in a Databricks job: rendering refuses
  them, naming each, unless the caller leaves them out (they are then reported).

Job level: a deterministic name (``<prefix> <ProjectCode> <ProcessLoad>``), job
parameters ``catalog``, ``schema`` and ``processing_date`` (empty: today, UTC),
``max_concurrent_runs`` 1 (two runs of one process would race for its steps), queueing on,
tags naming the project and process (no library version: it would change the settings
every release and break idempotent publishing), e-mail on failure to the process owner
when the owner is an e-mail address, and compute: serverless by default (no cluster in
the settings; the shipped notebooks install the library with ``%pip``), an
``existing_cluster_id``, or one shared ``job_clusters`` entry. Config values (paths, names,
descriptions) are only ever JSON values.

The Asset Bundle form (``resources: {jobs: {<key>: settings}}``) carries the same settings.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from etl_monitor.alerts.render import is_email
from etl_monitor.core.arguments import check_line
from etl_monitor.errors import InvalidArgumentError

#: Task kinds a Databricks job runs; the others are refused or left out.
RUNNABLE = ("DBX_NOTEBOOK", "DBX_JOB")
NOT_RUNNABLE = ("ADF_PIPELINE", "DATAFLOW")
#: The shipped notebooks the graph uses (sample_usage/, copied by ``sample_usage()``).
START_NOTEBOOK = "etl_job_start"
GATE_NOTEBOOK = "etl_job_stage_gate"
FINISH_NOTEBOOK = "etl_job_finish"
STEP_START_NOTEBOOK = "etl_job_task_start"
STEP_END_NOTEBOOK = "etl_end_task"
STEP_FAIL_NOTEBOOK = "etl_job_task_fail"
START_KEY, FINISH_KEY = "etl_start", "etl_finish"
JOB_CLUSTER_KEY = "etl_monitor"
#: Job parameters: name -> default ("" processing date: today, UTC).
PARAMETERS = ("catalog", "schema", "processing_date")
RUN_ID, TASK_RUN_ID = "{{job.run_id}}", "{{task.run_id}}"
_JOB_ID = re.compile(r"^[0-9]{1,19}$")
_CLUSTER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
_KEY_PART = re.compile(r"[^a-z0-9_]+")
#: Codes whose resource key is the plain form alone: it gives them back exactly.
_PLAIN_PROJECT = re.compile(r"[A-Z0-9]+")
_PLAIN_PROCESS = re.compile(r"[A-Z0-9]+(?:_[A-Z0-9]+)*")


@dataclass(frozen=True)
class JobOptions:
    """How the jobs are rendered.

    Args:
        notebook_folder: the workspace folder holding the shipped notebooks (where
            ``sample_usage()`` put them), absolute.
        catalog: default of the ``catalog`` job parameter.
        schema: default of the ``schema`` job parameter.
        name_prefix: the job name is ``<name_prefix> <ProjectCode> <ProcessLoad>``.
        existing_cluster_id: run the notebooks on this cluster (default: serverless).
        job_cluster: a ``new_cluster`` spec for one job cluster shared by the notebooks.
        leave_out_unsupported: leave ADF_PIPELINE / DATAFLOW tasks out (reported) instead
            of refusing the process.
        queue: queue a run that cannot start because one is running.
    """

    notebook_folder: str
    catalog: str = "main"
    schema: str = "etl"
    name_prefix: str = "etl_monitor"
    existing_cluster_id: str | None = None
    job_cluster: Mapping[str, Any] | None = None
    leave_out_unsupported: bool = False
    queue: bool = True

    def __post_init__(self) -> None:
        check_line(self.notebook_folder, "job_definitions", "notebook_folder")
        check_line(self.name_prefix, "job_definitions", "name_prefix", 100)
        if self.existing_cluster_id is not None and not _CLUSTER_ID.fullmatch(
            check_line(self.existing_cluster_id, "job_definitions", "existing_cluster_id", 100)
        ):
            raise InvalidArgumentError(
                f"existing_cluster_id {self.existing_cluster_id!r} is not a cluster id "
                "(letters, digits, '-', '_' or '.', e.g. '0101-123456-abcdefgh')",
                argument="existing_cluster_id",
                value=self.existing_cluster_id,
            )
        for flag in ("leave_out_unsupported", "queue"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidArgumentError(
                    f"{flag} must be True or False, not {getattr(self, flag)!r}",
                    argument=flag,
                    value=getattr(self, flag),
                )
        if self.job_cluster is not None and not isinstance(self.job_cluster, Mapping):
            raise InvalidArgumentError(
                f"job_cluster must be a new_cluster mapping, not a {type(self.job_cluster).__name__}",
                argument="job_cluster",
                value=self.job_cluster,
            )
        if not isinstance(self.notebook_folder, str) or not self.notebook_folder.startswith("/"):
            raise InvalidArgumentError(
                f"notebook_folder must be an absolute workspace path, got {self.notebook_folder!r}",
                argument="notebook_folder",
                value=self.notebook_folder,
            )
        if self.existing_cluster_id and self.job_cluster:
            raise InvalidArgumentError(
                "give existing_cluster_id or job_cluster, not both (neither: serverless)",
                argument="existing_cluster_id",
                value=self.existing_cluster_id,
            )
        if not self.name_prefix.strip():
            raise InvalidArgumentError(
                "name_prefix must not be empty", argument="name_prefix", value=self.name_prefix
            )


@dataclass
class RenderedJob:
    """One process's job: its bundle resource key, name, settings and the tasks left out."""

    key: str
    name: str
    project_code: str
    process_load: str
    settings: dict[str, Any]
    left_out: list[dict[str, Any]] = field(default_factory=list)

    def bundle(self) -> dict[str, Any]:
        """The Asset Bundle resource document, ``{"resources": {"jobs": {key: settings}}}``."""
        return bundle([self])

    def bundle_yaml(self) -> str:
        """`bundle` as YAML text."""
        return bundle_yaml([self])


def job_name(project_code: str, process_load: str, prefix: str = "etl_monitor") -> str:
    """The job's name, ``<prefix> <ProjectCode> <ProcessLoad>``."""
    return f"{prefix} {project_code} {process_load}"


def resource_key(project_code: str, process_load: str) -> str:
    """The bundle resource key, distinct for distinct codes: lower case letters, digits,
    underscores and at most one dash.

    The plain form is ``etl_monitor_<project>_<process>`` in lower case, each run of other
    characters made one underscore. That alone is the key of a usual catalogue name: a
    project code of upper case letters and digits, a process load of such words joined by
    single underscores (``DEMO`` / ``SALES_DAILY``: ``etl_monitor_demo_sales_daily``), as
    both codes can be read back from it. Any other name loses something in the plain form
    (``HR_DAILY``, ``hr_daily``, ``HR-DAILY`` and ``HR.DAILY`` all give
    ``etl_monitor_corp_hr_daily``; so do ``A_B`` / ``C`` and ``A`` / ``B_C``), so a dash and
    the first 8 hex digits of the SHA-256 of its exact codes follow:
    ``etl_monitor_corp_hr_daily-<hash>``. The plain form has no dash, so the two forms never
    meet. Keys differ in more than case (their files do not collide on a case-insensitive
    disk either), and a bundle can name each one in ``${resources.jobs.<key>.id}`` (a letter
    first, a letter or digit last).

    Args:
        project_code: the process's ProjectCode, exactly as stored.
        process_load: its ProcessLoad, exactly as stored.

    Returns:
        The key; the same for the same codes in every run.
    """
    plain = _KEY_PART.sub("_", f"etl_monitor_{project_code}_{process_load}".lower()).strip("_")
    if _PLAIN_PROJECT.fullmatch(project_code) and _PLAIN_PROCESS.fullmatch(process_load):
        return plain
    exact = json.dumps([project_code, process_load], ensure_ascii=False).encode("utf-8")
    return f"{plain}-{hashlib.sha256(exact).hexdigest()[:8]}"


def _step_key(task: Mapping[str, Any]) -> str:
    return f"task_{task['TaskID']}_{task['WorkFlowID']}"


def _gate_key(stage: int) -> str:
    return f"stage_{stage}_gate"


def _common(project: str, process: str) -> dict[str, str]:
    return {
        "catalog": "{{job.parameters.catalog}}",
        "schema": "{{job.parameters.schema}}",
        "execution_id": RUN_ID,
        "job_run_id": RUN_ID,
        "task_run_id": TASK_RUN_ID,
        "project_code": project,
        "process_load": process,
        "processing_date": "{{job.parameters.processing_date}}",
    }


def _step(common: Mapping[str, str], task: Mapping[str, Any]) -> dict[str, str]:
    return {
        **common,
        "task_id": str(task["TaskID"]),
        "workflow_id": str(task["WorkFlowID"]),
        "sequence_id": str(task["SequenceID"]),
    }


def _depends(*keys: str, outcome: str | None = None) -> list[dict[str, str]]:
    return [{"task_key": k, **({"outcome": outcome} if outcome else {})} for k in keys]


class _Builder:
    def __init__(self, options: JobOptions):
        self.options = options
        self.tasks: list[dict[str, Any]] = []

    def notebook(
        self,
        key: str,
        path: str,
        params: Mapping[str, str],
        depends: list[dict[str, str]] | None = None,
        run_if: str | None = None,
        description: str | None = None,
    ) -> None:
        task: dict[str, Any] = {"task_key": key}
        if description:
            task["description"] = description
        if depends:
            task["depends_on"] = depends
        if run_if:
            task["run_if"] = run_if
        task["notebook_task"] = {
            "notebook_path": path,
            "base_parameters": dict(params),
            "source": "WORKSPACE",
        }
        if self.options.existing_cluster_id:
            task["existing_cluster_id"] = self.options.existing_cluster_id
        elif self.options.job_cluster:
            task["job_cluster_key"] = JOB_CLUSTER_KEY
        self.tasks.append(task)

    def shipped(self, name: str) -> str:
        return f"{self.options.notebook_folder.rstrip('/')}/{name}"

    def add(self, task: dict[str, Any]) -> None:
        self.tasks.append(task)


def _check_task(task: Mapping[str, Any]) -> None:
    kind, ident = task.get("SourceType") or "DBX_NOTEBOOK", task.get("SourceIdentifier")
    where = f"task {task['TaskID']}/{task['WorkFlowID']} ({task.get('TaskName')!r})"
    if kind == "DBX_NOTEBOOK" and not (isinstance(ident, str) and ident.startswith("/")):
        raise InvalidArgumentError(
            f"{where} is a DBX_NOTEBOOK task: its SourceIdentifier must be the notebook's "
            f"absolute workspace path (/Workspace/... or /Repos/...), got {ident!r}",
            argument="source_identifier",
            value=ident,
        )
    if kind == "DBX_JOB" and not (isinstance(ident, str) and _JOB_ID.match(ident.strip())):
        raise InvalidArgumentError(
            f"{where} is a DBX_JOB task: its SourceIdentifier must be the numeric id of the "
            f"job to run, got {ident!r}",
            argument="source_identifier",
            value=ident,
        )


def render_process(
    process: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]], options: JobOptions
) -> RenderedJob:
    """The job of one process.

    Args:
        process: the ETLconfigProcess row (ProjectCode, ProcessLoad, ProcessName,
            ProcessDescription, ProcessOwner).
        tasks: the process's active ETLconfigTasks rows, the initiation task 0/0 included.
        options: how to render.

    Returns:
        The rendered job.

    Raises:
        InvalidArgumentError: no active initiation task 0/0; a task an ADF pipeline or a
            dataflow runs (unless ``options.leave_out_unsupported``); a DBX_NOTEBOOK task
            without an absolute path or a DBX_JOB task without a job id; no task to run.
    """
    project, process_load = str(process["ProjectCode"]), str(process["ProcessLoad"])
    label = f"process {project}/{process_load}"
    if not any(t["TaskID"] == 0 and t["WorkFlowID"] == 0 for t in tasks):
        raise InvalidArgumentError(
            f"{label} has no active initiation task (task_id=0, workflow_id=0): register it "
            "with register_task(..., task_id=0, workflow_id=0, sequence_id=0)",
            argument="process_load",
            value=process_load,
        )
    steps = [t for t in tasks if not (t["TaskID"] == 0 and t["WorkFlowID"] == 0)]
    unsupported = [t for t in steps if (t.get("SourceType") or "DBX_NOTEBOOK") in NOT_RUNNABLE]
    if unsupported and not options.leave_out_unsupported:
        names = "; ".join(
            f"{t['TaskID']}/{t['WorkFlowID']} {t.get('TaskName')!r} ({t['SourceType']})"
            for t in unsupported
        )
        raise InvalidArgumentError(
            f"{label}: a Databricks job runs only {', '.join(RUNNABLE)} tasks; these are run "
            f"by ADF or a dataflow: {names}. Run the process from ADF, or leave them out "
            "(leave_out_unsupported=True / --leave-out-unsupported)",
            argument="source_type",
            value=sorted({t["SourceType"] for t in unsupported}),
        )
    steps = [t for t in steps if t not in unsupported]
    for task in steps:
        _check_task(task)
    if not steps:
        raise InvalidArgumentError(
            f"{label} has no task a Databricks job can run (only the initiation task)",
            argument="process_load",
            value=process_load,
        )
    order = sorted(steps, key=lambda t: (t["SequenceID"], t["WorkFlowID"], t["TaskID"]))
    stages = sorted({t["SequenceID"] for t in order})
    common = _common(project, process_load)
    b = _Builder(options)
    b.notebook(
        START_KEY,
        b.shipped(START_NOTEBOOK),
        common,
        description="Open the execution: queue its steps, start the initiation task 0/0.",
    )
    previous_gate, previous_ends = START_KEY, [START_KEY]
    previous_stage: int | None = None
    for stage in stages:
        gate = _gate_key(stage)
        gate_params = {**common, "sequence_id": str(stage)}
        keys = list(dict.fromkeys([previous_gate, *previous_ends]))
        b.notebook(
            gate,
            b.shipped(GATE_NOTEBOOK),
            gate_params,
            _depends(*keys),
            None if previous_stage is None else "ALL_DONE",
            description=f"Stage {stage} runs only when no mandatory task failed before it.",
        )
        ends: list[str] = []
        for task in (t for t in order if t["SequenceID"] == stage):
            ends += _render_step(b, common, task, gate)
        previous_gate, previous_ends, previous_stage = gate, ends, stage
    b.notebook(
        FINISH_KEY,
        b.shipped(FINISH_NOTEBOOK),
        {**common, "sequence_id": str(previous_stage)},
        _depends(*dict.fromkeys([previous_gate, *previous_ends])),
        "ALL_DONE",
        description="Close the execution: END, or FAIL when a mandatory task failed.",
    )
    name = job_name(project, process_load, options.name_prefix)
    settings: dict[str, Any] = {"name": name}
    title = process.get("ProcessName") or process.get("ProcessDescription")
    if title:
        settings["description"] = str(title)
    settings["tags"] = {"etl_monitor_project": project, "etl_monitor_process": process_load}
    settings["max_concurrent_runs"] = 1
    settings["queue"] = {"enabled": bool(options.queue)}
    owner = process.get("ProcessOwner")
    if isinstance(owner, str) and is_email(owner):
        settings["email_notifications"] = {"on_failure": [owner.strip()]}
    settings["parameters"] = [
        {"name": "catalog", "default": options.catalog},
        {"name": "schema", "default": options.schema},
        {"name": "processing_date", "default": ""},
    ]
    if options.job_cluster:
        settings["job_clusters"] = [
            {
                "job_cluster_key": JOB_CLUSTER_KEY,
                "new_cluster": copy.deepcopy(dict(options.job_cluster)),
            }
        ]
    settings["tasks"] = b.tasks
    left_out = [
        {
            "task_id": t["TaskID"],
            "workflow_id": t["WorkFlowID"],
            "sequence_id": t["SequenceID"],
            "task_name": t.get("TaskName"),
            "source_type": t["SourceType"],
            "reason": "runs in ADF or a dataflow, not in a Databricks job",
        }
        for t in unsupported
    ]
    return RenderedJob(
        resource_key(project, process_load), name, project, process_load, settings, left_out
    )


def _render_step(
    b: _Builder, common: Mapping[str, str], task: Mapping[str, Any], gate: str
) -> list[str]:
    """Add one step's job tasks; returns the keys the next gate waits for."""
    key = _step_key(task)
    params = _step(common, task)
    title = task.get("TaskName") or key
    kind = task.get("SourceType") or "DBX_NOTEBOOK"
    mandatory = "mandatory" if task.get("TaskMandatory") is not False else "optional"
    if kind == "DBX_NOTEBOOK":
        b.notebook(
            key,
            str(task["SourceIdentifier"]),
            params,
            _depends(gate),
            description=f"{title} ({mandatory})",
        )
        return [key]
    job_params = {**params, "source_type": "DBX_JOB"}
    start, active, end, fail = (f"{key}_start", f"{key}_active", f"{key}_end", f"{key}_fail")
    b.notebook(
        start,
        b.shipped(STEP_START_NOTEBOOK),
        job_params,
        _depends(gate),
        description=f"Start {title} ({mandatory})",
    )
    b.add(
        {
            "task_key": active,
            "description": f"Run {title} only when its step is active",
            "depends_on": _depends(start),
            "condition_task": {
                "op": "EQUAL_TO",
                "left": f"{{{{tasks.{start}.values.active}}}}",
                "right": "true",
            },
        }
    )
    b.add(
        {
            "task_key": key,
            "description": f"{title} ({mandatory})",
            "depends_on": _depends(active, outcome="true"),
            "run_job_task": {"job_id": int(str(task["SourceIdentifier"]).strip())},
        }
    )
    b.notebook(
        end,
        b.shipped(STEP_END_NOTEBOOK),
        {**job_params, "log_message": f"job run {{{{tasks.{key}.run_id}}}} succeeded"},
        _depends(key),
        "ALL_SUCCESS",
        description=f"Record DONE for {title}",
    )
    b.notebook(
        fail,
        b.shipped(STEP_FAIL_NOTEBOOK),
        {
            **job_params,
            "start_state": f"{{{{tasks.{start}.result_state}}}}",
            "child_run_id": f"{{{{tasks.{key}.run_id}}}}",
            "log_message": f"job task {key}: {{{{tasks.{key}.result_state}}}}",
            "log_code": f"{{{{tasks.{key}.error_code}}}}",
        },
        _depends(start, key),
        "AT_LEAST_ONE_FAILED",
        description=f"Record FAIL for {title}",
    )
    return [end, fail]


def render(
    processes: Iterable[Mapping[str, Any]],
    tasks: Iterable[Mapping[str, Any]],
    options: JobOptions,
) -> list[RenderedJob]:
    """One job per process, in ProjectCode / ProcessLoad order.

    Args:
        processes: ETLconfigProcess rows.
        tasks: active ETLconfigTasks rows of those processes.
        options: how to render.

    Returns:
        The rendered jobs.

    Raises:
        InvalidArgumentError: see `render_process`.
    """
    by_process: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for task in tasks:
        by_process.setdefault((task["ProjectCode"], task["ProcessLoad"]), []).append(task)
    ordered = sorted(processes, key=lambda p: (p["ProjectCode"], p["ProcessLoad"]))
    return [
        render_process(p, by_process.get((p["ProjectCode"], p["ProcessLoad"]), []), options)
        for p in ordered
    ]


def bundle(jobs: Iterable[RenderedJob]) -> dict[str, Any]:
    """An Asset Bundle resource document holding the jobs' settings, by resource key."""
    return {"resources": {"jobs": {j.key: copy.deepcopy(j.settings) for j in jobs}}}


def bundle_yaml(jobs: Iterable[RenderedJob]) -> str:
    """`bundle` as YAML (key order kept, any text safely quoted)."""
    return yaml.safe_dump(bundle(jobs), sort_keys=False, allow_unicode=True, width=100)
