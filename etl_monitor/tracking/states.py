"""The one state machine of a step: statuses, the transitions allowed, and derived states.

Every writer asks `check` (or `refusal`) before it appends an event, and the reporting
views' status logic is generated from the same data (`effective_status_sql`,
`rollup_status_sql`), so a reader finds where a status changes in one place:

=========  ===================================  ===================
action     from                                 to
=========  ===================================  ===================
queue      (no step yet)                        NQUE, RQUE after the first attempt
start      NQUE, RQUE, FAIL, CANCELLED          RUNNING
end        NQUE, RQUE, RUNNING, FAIL, CANCELLED DONE
fail       NQUE, RQUE, RUNNING, FAIL, CANCELLED FAIL
cancel     NQUE, RQUE, RUNNING, FAIL, CANCELLED CANCELLED
skip       NQUE, RQUE                           SKIPPED
unskip     SKIPPED                              NQUE, RQUE after the first attempt
reset      DONE, FAIL, CANCELLED, SKIPPED       RQUE (RUNNING too with ``force=True``)
=========  ===================================  ===================

Derived states, computed by the views and never stored: a step is *effectively*
SKIPPED while queued for a deactivated task; a RUNNING step is STALE after
``stale_after_minutes``; a run whose only waiting steps were taken over by a later
execution of the same task and date is SUPERSEDED.

Example:
    >>> check("start", "NQUE")
    'RUNNING'
    >>> refusal("skip", "DONE")
    'skip: the step is DONE; allowed from NQUE, RQUE'
"""

from __future__ import annotations

from dataclasses import dataclass

from etl_monitor.errors import StepStateError

NQUE, RQUE = "NQUE", "RQUE"
RUNNING, DONE, FAIL, SKIPPED, CANCELLED = "RUNNING", "DONE", "FAIL", "SKIPPED", "CANCELLED"
QUEUED = (NQUE, RQUE)
STATUSES = (*QUEUED, RUNNING, DONE, FAIL, SKIPPED, CANCELLED)
FINISHED_OK = (DONE, SKIPPED)
FAILED = (FAIL, CANCELLED)
#: Steps still waiting or running: their execution is not archived.
OPEN = (*QUEUED, RUNNING)

#: What task_status(), get_pending_tasks(task_id=...) and an inactive task() report when
#: there is nothing to run (databricks-etl-monitor's marker, kept for its callers).
INACTIVE = "NULL"

#: Derived (view-only) states.
STALE, SUPERSEDED, QUEUED_RUN = "STALE", "SUPERSEDED", "QUEUED"
RUN_STATUSES = (FAIL, RUNNING, STALE, QUEUED_RUN, SUPERSEDED, DONE)

#: The status a queued step gets: NQUE on its first attempt, RQUE on a retry.
QUEUE_STATUS = "queue status"


@dataclass(frozen=True)
class Transition:
    """One action on a step: the statuses it starts from and the status it leads to."""

    action: str
    sources: tuple[str | None, ...]
    target: str
    forced_sources: tuple[str, ...] = ()

    def allowed(self, status: str | None, *, force: bool = False) -> bool:
        return status in self.sources or (force and status in self.forced_sources)


_ACTIVE = (*QUEUED, RUNNING, *FAILED)
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("queue", (None,), QUEUE_STATUS),
        Transition("start", (*QUEUED, *FAILED), RUNNING),
        Transition("end", _ACTIVE, DONE),
        Transition("fail", _ACTIVE, FAIL),
        Transition("cancel", _ACTIVE, CANCELLED),
        Transition("skip", QUEUED, SKIPPED),
        Transition("unskip", (SKIPPED,), QUEUE_STATUS),
        Transition("reset", (DONE, *FAILED, SKIPPED), RQUE, forced_sources=(RUNNING,)),
    )
}


def queue_status(attempt: int | None) -> str:
    """NQUE for a first attempt, RQUE for a retry."""
    return NQUE if (attempt or 1) <= 1 else RQUE


def refusal(action: str, status: str | None, *, force: bool = False) -> str | None:
    """Why `action` may not happen to a step in `status`, or None when it may.

    Raises:
        KeyError: `action` is not one of `TRANSITIONS` (a programming error).
    """
    transition = TRANSITIONS[action]
    if transition.allowed(status, force=force):
        return None
    allowed = ", ".join(s or "(no step)" for s in transition.sources)
    hint = ""
    if status in transition.forced_sources:
        hint = f"; pass force=True if the process that ran it died ({status} is allowed then)"
    return f"{action}: the step is {status or 'missing'}; allowed from {allowed}{hint}"


def check(action: str, status: str | None, *, force: bool = False, attempt: int = 1) -> str:
    """The status `action` leads to from `status`.

    Args:
        action: one of `TRANSITIONS` (queue, start, end, fail, cancel, skip, unskip, reset).
        status: the step's current status (None when the step does not exist yet).
        force: allow the forced sources too (reset of a RUNNING step whose process died).
        attempt: the attempt number the step will have (NQUE or RQUE for queue / unskip).

    Returns:
        The new status.

    Raises:
        StepStateError: the transition is not allowed; the message names the status and
            the statuses it is allowed from.
    """
    why = refusal(action, status, force=force)
    if why:
        raise StepStateError(why)
    target = TRANSITIONS[action].target
    return queue_status(attempt) if target == QUEUE_STATUS else target


# -- derived states, as SQL for the views ----------------------------------------------


def sql_in(values: tuple[str, ...]) -> str:
    """``('A', 'B')`` for framework-owned status codes (never user values)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def effective_status_sql(status: str, task_active: str) -> str:
    """A queued step of a deactivated task counts as SKIPPED."""
    return (
        f"CASE WHEN {status} IN {sql_in(QUEUED)} AND {task_active} = false "
        f"THEN '{SKIPPED}' ELSE {status} END"
    )


def is_stale_sql(status: str, start_time: str) -> str:
    """RUNNING for longer than the ``{stale_after_seconds}`` view setting."""
    return (
        f"CASE WHEN {status} = '{RUNNING}' AND unix_seconds(current_timestamp()) - "
        f"unix_seconds({start_time}) > {{stale_after_seconds}} THEN true ELSE false END"
    )


#: The three run states databricks-etl-monitor 1.0 reported as OverallStatus, by RunStatus.
OVERALL_STATUS = {FAIL: "FAILED", DONE: "COMPLETE", SUPERSEDED: "COMPLETE"}
OVERALL_OTHERWISE = "RUNNING"


def overall_status_sql(run_status: str) -> str:
    """OverallStatus (RUNNING, FAILED, COMPLETE) of a RunStatus expression."""
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in OVERALL_STATUS.items())
    return f"CASE {run_status} {cases} ELSE '{OVERALL_OTHERWISE}' END"


def rollup_status_sql(count: callable, alias: str) -> str:  # type: ignore[valid-type]
    """The status of a set of steps (a run or a process and date), first match wins.

    `count(condition, tasks_only)` renders a COUNT of the rows meeting `condition`.
    FAIL when a task or the initiation step failed; RUNNING while one runs (fresh);
    STALE when only stale steps still "run"; QUEUED while current tasks wait;
    SUPERSEDED when the only waiting tasks were taken over by a later execution; else DONE.
    """
    status = f"{alias}.EffectiveStatus"
    fresh_running = f"{status} = '{RUNNING}' AND NOT {alias}.IsStale"
    queued = f"{status} IN {sql_in(QUEUED)}"
    rules = (
        (FAIL, count(f"{status} IN {sql_in(FAILED)}", False)),
        (RUNNING, count(fresh_running, False)),
        (STALE, count(f"{alias}.IsStale", False)),
        (QUEUED_RUN, count(f"{queued} AND {alias}.IsCurrent", True)),
        (SUPERSEDED, count(queued, True)),
    )
    cases = "\n".join(f"       WHEN {counted} > 0 THEN '{name}'" for name, counted in rules)
    return f"CASE\n{cases}\n       ELSE '{DONE}' END"
