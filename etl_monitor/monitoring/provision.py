"""Plan and apply: compare the config tables with the monitors that exist, then converge.

`plan()` only reads (the config tables and GET calls). `apply()` makes the mutating calls
for what the plan found, in parallel with a bounded pool; one table's failure does not
stop the others, and every outcome is appended to ETLmonitorLog in one commit.

A change the service cannot make in place (`api.recreate_reasons`: the output schema, a
switch to or from a time-series profile, a monitor in ERROR or FAILED state) is planned
as ``recreate`` (delete + create, which drops the monitor's metric history) and carried
out only by ``apply_plan(..., recreate=True)``; otherwise it is reported as ``blocked``.
A monitor still PENDING is not a difference; a refresh waits until it is ACTIVE.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator

from etl_monitor.core.arguments import _Args
from etl_monitor.core.reconcile import Reconciliation
from etl_monitor.monitoring.api import (
    ACTIVE,
    BROKEN,
    Actual,
    Desired,
    differences,
    is_already_exists,
    is_not_found,
    recreate_reasons,
)
from etl_monitor.monitoring.config import TableArgs

log: logging.Logger = logging.getLogger("etl_monitor.monitoring")

CREATE, UPDATE, UNCHANGED, SKIP, ERROR, DEACTIVATED, DELETE, RECREATE, BLOCKED = (
    "create",
    "update",
    "unchanged",
    "skip",
    "error",
    "deactivated",
    "delete",
    "recreate",
    "blocked",
)


class MonitoringPolicy(_Args):
    """Rules every monitored table must satisfy; violations are reported as errors in the plan."""

    naming_patterns: list[StrictStr] = Field(default_factory=list)
    forbidden_patterns: list[StrictStr] = Field(default_factory=list)
    require_owner: StrictBool = False
    require_baseline_for_inference: StrictBool = False
    require_slicing: StrictBool = False
    max_tables: StrictInt | None = Field(default=None, gt=0, le=2**31 - 1)
    max_monitors: StrictInt = Field(default=100, gt=0, le=2**31 - 1)  # the metastore quota

    @field_validator("naming_patterns", "forbidden_patterns")
    @classmethod
    def _regular_expressions(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a regular expression: {error}") from None
        return patterns


@dataclass
class TableOutcome:
    """What plan / apply decided or did for one table."""

    table_name: str
    action: str
    reason: str = ""
    group: str | None = None
    changes: list[str] = field(default_factory=list)
    actual: Actual | None = None
    desired: Desired | None = None
    refresh_id: str | None = None
    refresh_state: str | None = None
    #: The error came from the workspace (an API or network failure), not from the config.
    api_error: bool = False

    def as_dict(self) -> dict[str, Any]:
        out = {
            "table_name": self.table_name,
            "action": self.action,
            "reason": self.reason,
            "group": self.group,
            "changes": self.changes,
        }
        if self.refresh_state is not None:
            out |= {"refresh_id": self.refresh_id, "refresh_state": self.refresh_state}
        return out


@dataclass
class ImpactReport(Reconciliation):
    """The plan: one outcome per configured table, and the quota it would use."""

    outcomes: list[TableOutcome]
    monitors_after: int
    quota: int

    def decided(self) -> list[TableOutcome]:
        """One outcome per configured table."""
        return self.outcomes

    def count(self, action: str) -> int:
        """How many tables have `action`."""
        return self.tally(action)

    @property
    def ok(self) -> bool:
        return not any(o.action == ERROR for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "monitors_after": self.monitors_after,
            "quota": self.quota,
            "tables": [o.as_dict() for o in self.outcomes],
        }


@dataclass
class ApplyReport(Reconciliation):
    """What apply() did."""

    run_id: str
    tables_discovered: int
    monitors_created: int
    monitors_updated: int
    monitors_skipped: int
    monitors_failed: int
    outcomes: list[TableOutcome]
    monitors_recreated: int = 0
    monitors_blocked: int = 0
    refreshes_failed: int = 0
    unified_drift_views: dict[str, str] = field(default_factory=dict)
    unified_profile_views: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def decided(self) -> list[TableOutcome]:
        """One outcome per configured table."""
        return self.outcomes

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "outcomes"} | {
            "tables": [o.as_dict() for o in self.outcomes]
        }


def desired_for(args: TableArgs, emails: tuple[str, ...]) -> Desired:
    catalog, schema, _ = args.table_name.split(".")
    return Desired(
        table_name=args.table_name,
        profile_type=args.profile_type,
        output_schema_name=args.output_schema_name or f"{catalog}.{schema}",
        timestamp_column=args.timestamp_column,
        granularities=tuple(args.granularities),
        prediction_column=args.prediction_column,
        label_column=args.label_column,
        model_id_column=args.model_id_column,
        problem_type=args.problem_type,
        baseline_table_name=args.baseline_table_name,
        slicing_exprs=tuple(args.slicing_exprs),
        schedule_cron=args.schedule_cron,
        schedule_timezone=args.schedule_timezone if args.schedule_cron else None,
        notification_emails=emails,
        assets_dir=args.assets_dir,
    )


def policy_violations(args: TableArgs, policy: MonitoringPolicy) -> list[str]:
    problems = []
    if policy.naming_patterns and not any(
        re.search(p, args.table_name) for p in policy.naming_patterns
    ):
        problems.append(f"name matches none of the naming patterns {policy.naming_patterns}")
    problems += [
        f"name matches forbidden pattern {p!r}"
        for p in policy.forbidden_patterns
        if re.search(p, args.table_name)
    ]
    if policy.require_owner and not args.owner:
        problems.append("an owner is required")
    if (
        policy.require_baseline_for_inference
        and args.profile_type == "INFERENCE"
        and not args.baseline_table_name
    ):
        problems.append("an INFERENCE monitor needs a baseline_table_name")
    if policy.require_slicing and not args.slicing_exprs:
        problems.append("at least one slicing expression is required")
    return problems


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def missing_columns(args: TableArgs, columns: list[str]) -> list[str]:
    """Configured columns (and plain-column slicing expressions) the table does not have."""
    present = {c.lower() for c in columns}
    wanted = [
        (n, getattr(args, n))
        for n in ("timestamp_column", "prediction_column", "label_column", "model_id_column")
        if getattr(args, n)
    ]
    wanted += [("slicing_exprs", e) for e in args.slicing_exprs if _IDENT.fullmatch(e)]
    return [
        f"column {value!r} (from {name}) not found in {args.table_name}; available: {sorted(columns)}"
        for name, value in wanted
        if value.lower() not in present
    ]


def _examine(api: Any, args: TableArgs, desired: Desired) -> TableOutcome:
    """Read-only checks and the diff for one active table."""
    outcome = TableOutcome(args.table_name, CREATE, group=args.monitor_group, desired=desired)
    try:
        info = api.table(args.table_name)
    except Exception as error:
        outcome.action, outcome.api_error = ERROR, not is_not_found(error)
        outcome.reason = (
            f"table {args.table_name} not found"
            if is_not_found(error)
            else f"{type(error).__name__}: {error}"
        )
        return outcome
    try:
        problems = missing_columns(args, info.columns)
        if args.baseline_table_name:
            try:
                api.table(args.baseline_table_name)
            except Exception as error:
                if not is_not_found(error):
                    raise
                problems.append(f"baseline table {args.baseline_table_name} not found")
        if problems:
            outcome.action, outcome.reason = ERROR, "; ".join(problems)
            return outcome
        actual = api.get(desired)
    except Exception as error:
        outcome.action, outcome.api_error = ERROR, True
        outcome.reason = f"{type(error).__name__}: {error}"
        return outcome
    outcome.actual = actual
    if actual is None:
        outcome.reason = "no monitor yet"
    else:
        _compare(outcome, desired, actual)
    return outcome


def _compare(outcome: TableOutcome, desired: Desired, actual: Actual) -> None:
    """Set the action for an existing monitor: unchanged, update, or recreate."""
    if actual.other_kind is not None:
        outcome.action = ERROR
        outcome.reason = (
            f"the table already has a monitor of another kind ({actual.other_kind}, without a "
            "data profiling config); a table has one monitor: remove it or this config row"
        )
        return
    outcome.changes = differences(desired, actual)
    reasons = recreate_reasons(desired, actual)
    if actual.state == "DELETE_PENDING":
        outcome.action = ERROR
        outcome.reason = "the monitor is being deleted; run again once it is gone"
    elif reasons:
        outcome.action = RECREATE
        outcome.reason = (
            "needs delete + create (the service cannot update it in place, and the metric "
            "history is lost): " + "; ".join(reasons)
        )
    elif outcome.changes:
        outcome.action = UPDATE
        outcome.reason = "differs in " + ", ".join(outcome.changes)
    else:
        outcome.action = UNCHANGED
        outcome.reason = "matches the config" + (
            f" (monitor {actual.state})" if actual.state not in (None, ACTIVE) else ""
        )


def make_plan(
    api: Any,
    tables: list[dict[str, Any]],
    groups: dict[str, dict[str, Any]],
    policy: MonitoringPolicy,
    parse: Callable[[dict[str, Any]], TableArgs],
    *,
    delete_inactive: bool = False,
    parallelism: int = 8,
) -> ImpactReport:
    """Decide, per configured table, what apply() would do, and why; makes no mutating call.

    Args:
        api: a `DataQualityApi` or `LegacyApi`.
        tables: the rows of ETLmonitorTables.
        groups: the rows of ETLmonitorGroups by name.
        policy: rules every table must satisfy.
        parse: a config row to `TableArgs` (raises on an invalid row).
        delete_inactive: plan deleting the monitors of inactive rows.
        parallelism: concurrent reads.

    Returns:
        One outcome per row: create, update, recreate, unchanged, skip, error, deactivated
        or delete.
    """
    outcomes: dict[str, TableOutcome] = {}
    active: list[tuple[TableArgs, Desired]] = []
    for row in tables:
        try:
            args = parse(row)
        except Exception as error:
            outcomes[row["TableName"]] = TableOutcome(
                row["TableName"], ERROR, f"invalid config row: {error}"
            )
            continue
        if not args.is_active:
            outcomes[args.table_name] = TableOutcome(
                args.table_name, SKIP, "inactive", group=args.monitor_group
            )
            continue
        group = groups.get(args.monitor_group)
        if group is not None and group.get("IsActive") is False:
            outcomes[args.table_name] = TableOutcome(
                args.table_name,
                SKIP,
                f"group {args.monitor_group} inactive",
                group=args.monitor_group,
            )
            continue
        problems = policy_violations(args, policy)
        if problems:
            outcomes[args.table_name] = TableOutcome(
                args.table_name, ERROR, "policy: " + "; ".join(problems), group=args.monitor_group
            )
            continue
        emails = tuple(e for e in ((group or {}).get("NotificationEmails") or "").split(",") if e)
        active.append((args, desired_for(args, emails)))
    # two tables with one leaf name in one output schema would write the same metric tables
    by_leaf: dict[tuple[str, str], list[str]] = {}
    for args, desired in active:
        by_leaf.setdefault((desired.output_schema_name, args.table_name.split(".")[-1]), []).append(
            args.table_name
        )
    clashes = {name for names in by_leaf.values() if len(names) > 1 for name in names}
    if policy.max_tables is not None and len(active) > policy.max_tables:
        for args, _ in active[policy.max_tables :]:
            outcomes[args.table_name] = TableOutcome(
                args.table_name,
                ERROR,
                f"policy: more than max_tables={policy.max_tables} tables",
                group=args.monitor_group,
            )
        active = active[: policy.max_tables]
    checked = []
    for args, desired in active:
        if args.table_name in clashes:
            others = [
                n
                for n in clashes
                if n != args.table_name and n.split(".")[-1] == args.table_name.split(".")[-1]
            ]
            outcomes[args.table_name] = TableOutcome(
                args.table_name,
                ERROR,
                f"same leaf name as {', '.join(sorted(others))} in output schema "
                f"{desired.output_schema_name}: their metric tables would collide",
                group=args.monitor_group,
            )
        else:
            checked.append((args, desired))
    with ThreadPoolExecutor(max(1, parallelism)) as pool:
        for outcome in pool.map(lambda item: _examine(api, *item), checked):
            outcomes[outcome.table_name] = outcome
    # inactive rows whose monitor still exists
    inactive = [o for o in outcomes.values() if o.action == SKIP and o.reason == "inactive"]
    for outcome in inactive:
        try:
            args = parse(next(r for r in tables if r["TableName"] == outcome.table_name))
            actual = api.get(desired_for(args, ()))
        except Exception as error:
            if not is_not_found(error):
                outcome.action, outcome.reason = ERROR, f"{type(error).__name__}: {error}"
                outcome.api_error = True
            continue
        if actual is not None and actual.other_kind is None:
            outcome.actual = actual
            outcome.action = DELETE if delete_inactive else DEACTIVATED
            outcome.reason = "inactive in config; " + (
                "monitor will be deleted"
                if delete_inactive
                else "monitor kept (pass delete_inactive=True to delete)"
            )
    existing = sum(1 for o in outcomes.values() if o.actual is not None and o.action != DELETE)
    room = policy.max_monitors - existing
    for outcome in sorted(outcomes.values(), key=lambda o: o.table_name):
        if outcome.action == CREATE:
            if room > 0:
                room -= 1
            else:
                outcome.action = SKIP
                outcome.reason = f"metastore quota of {policy.max_monitors} monitors reached"
    monitors_after = policy.max_monitors - room if room >= 0 else policy.max_monitors
    ordered = [outcomes[r["TableName"]] for r in tables if r["TableName"] in outcomes]
    return ImpactReport(ordered, monitors_after, policy.max_monitors)


def _reconcile_existing(
    api: Any, outcome: TableOutcome, recreate: bool, waiting: Waiting | None = None
) -> None:
    """A create answered "already exists": read the monitor back and converge to it."""
    desired = outcome.desired
    assert desired is not None
    actual = api.get(desired)
    if actual is None:
        outcome.action = ERROR
        outcome.reason = (
            "create answered that the monitor already exists, but it cannot be read back"
        )
        return
    outcome.actual = actual
    _compare(outcome, desired, actual)
    prefix = "already existed; "
    if outcome.action == UPDATE:
        outcome.actual = api.update(desired, actual, outcome.changes)
        outcome.reason = prefix + "updated " + ", ".join(outcome.changes)
    elif outcome.action == RECREATE:
        _recreate(api, outcome, recreate, waiting)
        outcome.reason = prefix + outcome.reason
    else:
        outcome.reason = prefix + outcome.reason


@dataclass(frozen=True)
class Waiting:
    """How long to wait for a deleted monitor to be gone before creating it again.

    The service keeps a deleted monitor in ``DELETE_PENDING`` for a while
    (``DataProfilingStatus.DATA_PROFILING_STATUS_DELETE_PENDING``); a create over it is
    refused as "already exists".
    """

    timeout: float = 300
    poll: float = 5
    sleep: Callable[[float], None] = time.sleep


def _wait_gone(api: Any, table_name: str, waiting: Waiting) -> str | None:
    """Poll until the monitor on ``table_name`` is gone; the state it is still in, or None."""
    deadline = time.monotonic() + waiting.timeout
    while True:
        state = api.state(table_name)
        if state is None:
            return None
        if time.monotonic() > deadline:
            return state
        waiting.sleep(waiting.poll)


def _recreate(
    api: Any, outcome: TableOutcome, recreate: bool, waiting: Waiting | None = None
) -> None:
    """Delete the monitor, wait until it is gone, and create it, when asked; else blocked."""
    waiting = waiting or Waiting()
    if not recreate:
        outcome.action = BLOCKED
        outcome.reason = (
            outcome.reason.replace("needs delete + create", "blocked: needs delete + create", 1)
            + "; apply with recreate=True (CLI: --recreate) to do it"
        )
        return
    assert outcome.desired is not None
    old = outcome.actual
    kept = [t for t in (old.profile_metrics_table, old.drift_metrics_table) if t] if old else []
    api.delete(outcome.table_name)
    still = _wait_gone(api, outcome.table_name, waiting)
    if still is not None:
        outcome.actual = None
        outcome.action = ERROR
        outcome.reason = (
            f"recreate: the monitor was deleted, but it is still {still} after "
            f"{waiting.timeout:g}s; the create is pending: the next apply creates it"
        )
        return
    try:
        outcome.actual = api.create(outcome.desired)
    except Exception as error:
        outcome.actual = None
        outcome.action = ERROR
        outcome.reason = (
            f"recreate: the monitor was deleted, but the create failed "
            f"({type(error).__name__}: {error}); the next apply creates it"
        )
        return
    outcome.reason = outcome.reason.replace("needs delete + create", "deleted and created", 1)
    if kept:
        outcome.reason += (
            f"; the old metric tables are kept (deleting a monitor does not drop them): "
            f"{', '.join(kept)}"
        )


def _execute(
    api: Any, outcome: TableOutcome, recreate: bool = False, waiting: Waiting | None = None
) -> TableOutcome:
    """Carry out one planned mutation; "already exists" is reconciled, errors are recorded."""
    desired = outcome.desired
    planned = outcome.action
    try:
        if planned == CREATE:
            assert desired is not None
            try:
                outcome.actual = api.create(desired)
            except Exception as error:
                if not is_already_exists(error):
                    raise
                _reconcile_existing(api, outcome, recreate, waiting)
        elif planned == UPDATE:
            assert desired is not None and outcome.actual is not None
            outcome.actual = api.update(desired, outcome.actual, outcome.changes)
        elif planned == RECREATE:
            _recreate(api, outcome, recreate, waiting)
        elif planned == DELETE:
            api.delete(outcome.table_name)
    except Exception as error:
        outcome.reason = f"{outcome.action} failed: {type(error).__name__}: {error}"
        outcome.action = ERROR
    return outcome


def apply_plan(
    api: Any,
    plan: ImpactReport,
    parallelism: int = 8,
    progress: Callable[[TableOutcome], None] | None = None,
    *,
    recreate: bool = False,
    waiting: Waiting | None = None,
) -> list[TableOutcome]:
    """Make the plan's mutating calls with a bounded pool; returns every outcome.

    Args:
        api: a `DataQualityApi` or `LegacyApi`.
        plan: what `make_plan` decided.
        parallelism: concurrent calls.
        progress: called with each outcome once it is done.
        recreate: delete and create the monitors planned as ``recreate``; without it they
            are reported as ``blocked`` and left as they are.
        waiting: how long to wait for a deleted monitor to be gone before it is created
            again (default `Waiting`); one still there then is that table's error.

    Returns:
        The plan's outcomes, updated with what happened.

    Raises:
        BaseException: what ``progress`` (or the pool) raised; the tables not reached are
            then marked ``error`` ("not applied"), the others keep what was done.
    """
    todo = [o for o in plan.outcomes if o.action in (CREATE, UPDATE, DELETE, RECREATE)]

    done: set[int] = set()

    def run(outcome: TableOutcome) -> TableOutcome:
        result = _execute(api, outcome, recreate, waiting)
        done.add(id(outcome))
        if progress:
            progress(result)
        return result

    try:
        with ThreadPoolExecutor(max(1, parallelism)) as pool:
            list(pool.map(run, todo))
    except BaseException as error:
        # the tables not reached keep no planned action: they were not applied
        for outcome in todo:
            if id(outcome) not in done:
                outcome.reason = (
                    f"{outcome.action} not applied: the run stopped before this table "
                    f"({type(error).__name__}: {error})"
                )
                outcome.action = ERROR
        raise
    return plan.outcomes


_RUNNING = ("PENDING", "RUNNING")


def refresh_monitors(
    api: Any,
    outcomes: list[TableOutcome],
    *,
    wait: bool = False,
    timeout: float = 3600,
    poll: float = 30,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, tuple[str | None, str]]:
    """Start a refresh of each outcome's monitor once it is ACTIVE, and (``wait``) follow it.

    Each table is on its own: a monitor that does not become ACTIVE within ``timeout``, a
    refused refresh or a failed poll is recorded on that table's outcome (its
    ``refresh_state`` is ``ERROR`` and the reason says why) and the others go on.

    Args:
        api: a `DataQualityApi` or `LegacyApi`.
        outcomes: the tables to refresh.
        wait: poll each started refresh until it ends (or ``timeout``).
        timeout: seconds for the whole wait (ACTIVE, then the refreshes).
        poll: seconds between polling rounds.
        sleep: how to wait between rounds.

    Returns:
        Table -> (refresh id or None, last state: PENDING, RUNNING, SUCCESS, FAILED,
        CANCELED, UNKNOWN, or ERROR when it could not be started or followed).
    """
    deadline = time.monotonic() + timeout
    by_name = {o.table_name: o for o in outcomes}

    def fail(table: str, what: str, error: BaseException | str) -> None:
        outcome = by_name[table]
        outcome.refresh_state = "ERROR"
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        outcome.reason = f"{outcome.reason}; refresh {what}: {text}".lstrip("; ")

    waiting = list(by_name)  # monitors not yet ACTIVE
    running: list[str] = []
    while waiting or (wait and running):
        for table in list(waiting):
            try:
                state = api.state(table)
                if state in BROKEN or state is None:
                    waiting.remove(table)
                    fail(table, "not started", f"the monitor is {state or 'missing'}")
                elif state == ACTIVE:
                    waiting.remove(table)
                    by_name[table].refresh_id = api.refresh(table)
                    by_name[table].refresh_state = "PENDING"
                    running.append(table)
            except Exception as error:
                if table in waiting:
                    waiting.remove(table)
                fail(table, "not started", error)
        if wait:
            for table in list(running):
                outcome = by_name[table]
                try:
                    assert outcome.refresh_id is not None
                    outcome.refresh_state = api.refresh_state(table, outcome.refresh_id)
                except Exception as error:
                    fail(table, "not followed", error)
                if outcome.refresh_state not in _RUNNING:
                    running.remove(table)
        if not (waiting or (wait and running)):
            break
        if time.monotonic() > deadline:
            for table in waiting:
                fail(table, "not started", f"the monitor was not ACTIVE within {timeout:g}s")
            break
        sleep(poll)
    return {o.table_name: (o.refresh_id, o.refresh_state or "ERROR") for o in by_name.values()}


def new_run_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
