"""What the job's gates and its finish task ask the library: may the next stage run?

A stage may run when the execution's initiation step (0/0) is RUNNING (the job's start
task took it), no mandatory task of the execution failed, and every mandatory task of the
earlier stages finished or failed (none still queued or RUNNING: a notebook that died
before it recorded anything must not let a later stage start). The same checks close the
execution. The queries read the views with parameters only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from etl_monitor.errors import StepStateError
from etl_monitor.tracking.states import FAILED, FINISHED_OK, RUNNING, sql_in

#: Steps the job does not run: ADF and dataflow tasks left out of the rendering.
NOT_IN_JOB = ("ADF_PIPELINE", "DATAFLOW")


@dataclass
class ExecutionOutcome:
    """The execution as a gate sees it."""

    execution_id: str
    initiation_status: str | None
    failed_mandatory: list[str] = field(default_factory=list)
    unfinished_mandatory: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the next stage may run (or the execution may end)."""
        return (
            self.initiation_status == RUNNING
            and not self.failed_mandatory
            and not self.unfinished_mandatory
        )

    def reason(self) -> str:
        """Why the outcome is not ok, in words ('' when it is)."""
        parts = []
        if self.initiation_status != RUNNING:
            parts.append(
                f"the initiation task (0/0) of execution {self.execution_id} is "
                f"{self.initiation_status or 'not generated'}, not {RUNNING}"
            )
        if self.failed_mandatory:
            parts.append("mandatory task(s) failed: " + ", ".join(self.failed_mandatory))
        if self.unfinished_mandatory:
            parts.append(
                "mandatory task(s) of earlier stages neither finished nor failed: "
                + ", ".join(self.unfinished_mandatory)
            )
        return "; ".join(parts)


def _label(row: Any) -> str:
    return f"{row['TaskID']}/{row['WorkFlowID']} {row['TaskName'] or ''}".strip()


def outcome(
    monitor: Any,
    execution_id: str,
    project_code: str,
    process_load: str,
    before_stage: int | None = None,
) -> ExecutionOutcome:
    """The execution's state for a gate.

    Args:
        monitor: the ETLMonitorFramework.
        execution_id: the execution (the job's run id).
        project_code: the process's project.
        process_load: the process.
        before_stage: count unfinished mandatory steps of stages before this one; None:
            of every stage (closing the execution).

    Returns:
        The initiation step's status, the failed and the unfinished mandatory steps.
    """
    ctx = monitor._ctx
    args: dict[str, Any] = {"e": execution_id, "p": project_code, "l": process_load}
    detail = ctx.name("v_taskDetail")
    rows = ctx.executor.query(
        "SELECT TaskID, WorkFlowID, SequenceID, TaskName, TaskMandatory, EffectiveStatus\n"
        f"FROM {detail}\nWHERE ExecutionID = :e AND ProjectCode = :p AND ProcessLoad = :l\n"
        "ORDER BY SequenceID, WorkFlowID, TaskID",
        args,
    )
    blockers = ctx.executor.query(
        f"SELECT TaskID, WorkFlowID, TaskName FROM {ctx.name('v_mandatoryBlockers')}\n"
        "WHERE ExecutionID = :e AND ProjectCode = :p AND ProcessLoad = :l\n"
        "ORDER BY TaskID, WorkFlowID",
        args,
    )
    init = [r for r in rows if r["TaskID"] == 0 and r["WorkFlowID"] == 0]
    done = set(FINISHED_OK) | set(FAILED)
    unfinished = [
        _label(r)
        for r in rows
        if not (r["TaskID"] == 0 and r["WorkFlowID"] == 0)
        and r["TaskMandatory"] is not False
        and (before_stage is None or r["SequenceID"] < before_stage)
        and r["EffectiveStatus"] not in done
    ]
    return ExecutionOutcome(
        execution_id,
        init[0]["EffectiveStatus"] if init else None,
        [_label(r) for r in blockers if not (r["TaskID"] == 0 and r["WorkFlowID"] == 0)],
        unfinished,
    )


def check_stage(
    monitor: Any, execution_id: str, project_code: str, process_load: str, stage: int
) -> ExecutionOutcome:
    """Raise unless stage `stage` may run.

    Args:
        monitor: the ETLMonitorFramework.
        execution_id: the execution (the job's run id).
        project_code: the process's project.
        process_load: the process.
        stage: the SequenceID about to run.

    Returns:
        The outcome (ok).

    Raises:
        StepStateError: the stage may not run; the message says why.
    """
    result = outcome(monitor, execution_id, project_code, process_load, before_stage=stage)
    if not result.ok:
        raise StepStateError(
            f"stage {stage} of {project_code}/{process_load} blocked: {result.reason()}"
        )
    return result


def skip_not_in_job(
    monitor: Any,
    execution_id: str,
    project_code: str,
    process_load: str,
    processing_date: str | None = None,
) -> list[str]:
    """Skip, for this execution, the queued steps a Databricks job does not run (ADF, dataflow).

    Args:
        monitor: the ETLMonitorFramework.
        execution_id: the execution.
        project_code: the process's project.
        process_load: the process.
        processing_date: the execution's processing date (None: the default).

    Returns:
        The skipped steps, as ``task/workflow name``.
    """
    ctx = monitor._ctx
    rows = ctx.executor.query(
        f"SELECT TaskID, WorkFlowID, SequenceID, TaskName FROM {ctx.name('v_taskDetail')}\n"
        "WHERE ExecutionID = :e AND ProjectCode = :p AND ProcessLoad = :l\n"
        f"  AND SourceType IN {sql_in(NOT_IN_JOB)} AND EffectiveStatus NOT IN "
        f"{sql_in(tuple(FINISHED_OK) + tuple(FAILED) + (RUNNING,))}\n"
        "ORDER BY TaskID, WorkFlowID",
        {"e": execution_id, "p": project_code, "l": process_load},
    )
    for r in rows:
        monitor.skip_task(
            execution_id,
            project_code,
            process_load,
            task_id=r["TaskID"],
            workflow_id=r["WorkFlowID"],
            sequence_id=r["SequenceID"],
            processing_date=processing_date,
            reason="not run by the Databricks job (ADF or dataflow task)",
        )
    return [_label(r) for r in rows]


def step_status(
    monitor: Any,
    execution_id: str,
    project_code: str,
    process_load: str,
    task_id: int,
    workflow_id: int,
) -> str | None:
    """The effective status of one step of the execution (None: not generated).

    Args:
        monitor: the ETLMonitorFramework.
        execution_id: the execution.
        project_code: the process's project.
        process_load: the process.
        task_id: the task.
        workflow_id: its workflow.

    Returns:
        ``EffectiveStatus`` from ``v_taskDetail`` (RUNNING, DONE, FAIL, NQUE...), or None.
    """
    ctx = monitor._ctx
    rows = ctx.executor.query(
        f"SELECT EffectiveStatus FROM {ctx.name('v_taskDetail')}\n"
        "WHERE ExecutionID = :e AND ProjectCode = :p AND ProcessLoad = :l\n"
        "  AND TaskID = :t AND WorkFlowID = :w",
        {"e": execution_id, "p": project_code, "l": process_load, "t": task_id, "w": workflow_id},
    )
    return rows[0]["EffectiveStatus"] if rows else None
