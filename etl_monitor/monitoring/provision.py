"""Plan and apply: compare the config tables with the monitors that exist, then converge.

`plan()` only reads (the config tables and GET calls). `apply()` makes the mutating calls
for what the plan found, in parallel with a bounded pool; one table's failure does not
stop the others, and every outcome is appended to ETLmonitorLog in one commit.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import Field

from etl_monitor.config.arguments import _Args
from etl_monitor.monitoring.api import Actual, Desired, differences, is_already_exists, is_not_found
from etl_monitor.monitoring.config import TableArgs

log = logging.getLogger("etl_monitor.monitoring")

CREATE, UPDATE, UNCHANGED, SKIP, ERROR, DEACTIVATED, DELETE = (
    "create",
    "update",
    "unchanged",
    "skip",
    "error",
    "deactivated",
    "delete",
)


class MonitoringPolicy(_Args):
    """Rules every monitored table must satisfy; violations are reported as errors in the plan."""

    naming_patterns: list[str] = Field(default_factory=list)
    forbidden_patterns: list[str] = Field(default_factory=list)
    require_owner: bool = False
    require_baseline_for_inference: bool = False
    require_slicing: bool = False
    max_tables: int | None = Field(default=None, gt=0)
    max_monitors: int = Field(default=100, gt=0)  # the metastore quota


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "table_name": self.table_name,
            "action": self.action,
            "reason": self.reason,
            "group": self.group,
            "changes": self.changes,
        }


@dataclass
class ImpactReport:
    """The plan: one outcome per configured table, and the quota it would use."""

    outcomes: list[TableOutcome]
    monitors_after: int
    quota: int

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    @property
    def ok(self) -> bool:
        return not any(o.action == ERROR for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": dict(Counter(o.action for o in self.outcomes)),
            "monitors_after": self.monitors_after,
            "quota": self.quota,
            "tables": [o.as_dict() for o in self.outcomes],
        }


@dataclass
class ApplyReport:
    """What apply() did."""

    run_id: str
    tables_discovered: int
    monitors_created: int
    monitors_updated: int
    monitors_skipped: int
    monitors_failed: int
    outcomes: list[TableOutcome]
    unified_drift_views: dict[str, str] = field(default_factory=dict)
    unified_profile_views: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

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
    wanted += [("slicing_exprs", e) for e in args.slicing_exprs if _IDENT.match(e)]
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
        outcome.action = ERROR
        outcome.reason = (
            f"table {args.table_name} not found"
            if is_not_found(error)
            else f"{type(error).__name__}: {error}"
        )
        return outcome
    outcome.actual = actual
    if actual is not None:
        outcome.changes = differences(desired, actual)
        outcome.action = UPDATE if outcome.changes else UNCHANGED
        outcome.reason = (
            ("differs in " + ", ".join(outcome.changes))
            if outcome.changes
            else "matches the config"
        )
    else:
        outcome.reason = "no monitor yet"
    return outcome


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
    """Decide, per configured table, create / update / unchanged / skip / error / deactivated / delete."""
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
            continue
        if actual is not None:
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


def _execute(api: Any, outcome: TableOutcome) -> TableOutcome:
    """Carry out one planned mutation; "already exists" is reconciled, errors are recorded."""
    desired = outcome.desired
    try:
        if outcome.action == CREATE:
            assert desired is not None
            try:
                outcome.actual = api.create(desired)
            except Exception as error:
                if not is_already_exists(error):
                    raise
                actual = api.get(
                    desired
                )  # created meanwhile (or by someone else): converge instead
                changes = differences(desired, actual) if actual else []
                outcome.actual = api.update(desired) if changes else actual
                outcome.action = UPDATE if changes else UNCHANGED
                outcome.reason = "already existed; " + (
                    f"updated {', '.join(changes)}" if changes else "matches"
                )
        elif outcome.action == UPDATE:
            assert desired is not None
            outcome.actual = api.update(desired)
        elif outcome.action == DELETE:
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
) -> list[TableOutcome]:
    """Make the plan's mutating calls with a bounded pool; returns every outcome."""
    todo = [o for o in plan.outcomes if o.action in (CREATE, UPDATE, DELETE)]

    def run(outcome: TableOutcome) -> TableOutcome:
        result = _execute(api, outcome)
        if progress:
            progress(result)
        return result

    with ThreadPoolExecutor(max(1, parallelism)) as pool:
        list(pool.map(run, todo))
    return plan.outcomes


def wait_for_refreshes(
    api: Any,
    tables: list[str],
    *,
    timeout: float = 3600,
    poll: float = 30,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, tuple[str, str]]:
    """Start a refresh per table and poll until each ends; returns table -> (refresh id, final state)."""
    started = {t: api.refresh(t) for t in tables}
    states = {t: "PENDING" for t in tables}
    deadline = time.monotonic() + timeout
    while any(s in ("PENDING", "RUNNING") for s in states.values()):
        for table, refresh_id in started.items():
            if states[table] in ("PENDING", "RUNNING"):
                states[table] = api.refresh_state(table, refresh_id)
        if not any(s in ("PENDING", "RUNNING") for s in states.values()):
            break
        if time.monotonic() > deadline:
            break
        sleep(poll)
    return {t: (started[t], states[t]) for t in tables}


def new_run_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
