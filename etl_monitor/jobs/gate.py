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

from etl_monitor.core.arguments import SkipArgs, validate
from etl_monitor.core.context import Context, HasContext, context_of
from etl_monitor.errors import StepStateError
from etl_monitor.tracking import queue, store
from etl_monitor.tracking.states import FAILED, FINISHED_OK, RUNNING

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
    source: Context | HasContext,
    execution_id: str,
    project_code: str,
    process_load: str,
    before_stage: int | None = None,
) -> ExecutionOutcome:
    """The execution's state for a gate.

    Args:
        source: the framework (``monitor``) or its context.
        execution_id: the execution (the job's run id).
        project_code: the process's project.
        process_load: the process.
        before_stage: count unfinished mandatory steps of stages before this one; None:
            of every stage (closing the execution).

    Returns:
        The initiation step's status, the failed and the unfinished mandatory steps.
    """
    ctx = context_of(source)
    rows = store.execution_steps(ctx, execution_id, project_code, process_load)
    blockers = store.execution_blockers(ctx, execution_id, project_code, process_load)
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
    source: Context | HasContext,
    execution_id: str,
    project_code: str,
    process_load: str,
    stage: int,
) -> ExecutionOutcome:
    """Raise unless stage `stage` may run.

    Args:
        source: the framework (``monitor``) or its context.
        execution_id: the execution (the job's run id).
        project_code: the process's project.
        process_load: the process.
        stage: the SequenceID about to run.

    Returns:
        The outcome (ok).

    Raises:
        StepStateError: the stage may not run; the message says why.
    """
    result = outcome(source, execution_id, project_code, process_load, before_stage=stage)
    if not result.ok:
        raise StepStateError(
            f"stage {stage} of {project_code}/{process_load} blocked: {result.reason()}"
        )
    return result


def skip_not_in_job(
    source: Context | HasContext,
    execution_id: str,
    project_code: str,
    process_load: str,
    processing_date: str | None = None,
) -> list[str]:
    """Skip, for this execution, the queued steps a Databricks job does not run (ADF, dataflow).

    Args:
        source: the framework (``monitor``) or its context.
        execution_id: the execution.
        project_code: the process's project.
        process_load: the process.
        processing_date: the execution's processing date (None: the default).

    Returns:
        The skipped steps, as ``task/workflow name``.
    """
    ctx = context_of(source)
    rows = store.open_steps_of_types(
        ctx,
        execution_id,
        project_code,
        process_load,
        NOT_IN_JOB,
        closed=(*FINISHED_OK, *FAILED, RUNNING),
    )
    for r in rows:
        skip = validate(
            SkipArgs,
            "skip_task",
            execution_id=execution_id,
            project_code=project_code,
            process_load=process_load,
            task_id=r["TaskID"],
            workflow_id=r["WorkFlowID"],
            sequence_id=r["SequenceID"],
            processing_date=processing_date,
            reason="not run by the Databricks job (ADF or dataflow task)",
        )
        queue.skip_task(ctx, skip)
    return [_label(r) for r in rows]


def step_status(
    source: Context | HasContext,
    execution_id: str,
    project_code: str,
    process_load: str,
    task_id: int,
    workflow_id: int,
) -> str | None:
    """The effective status of one step of the execution (None: not generated).

    Args:
        source: the framework (``monitor``) or its context.
        execution_id: the execution.
        project_code: the process's project.
        process_load: the process.
        task_id: the task.
        workflow_id: its workflow.

    Returns:
        ``EffectiveStatus`` from ``v_taskDetail`` (RUNNING, DONE, FAIL, NQUE...), or None.
    """
    ctx = context_of(source)
    return store.effective_status(
        ctx, execution_id, project_code, process_load, task_id, workflow_id
    )
