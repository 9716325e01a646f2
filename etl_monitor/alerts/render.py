"""The alert documents: inputs, checks, the AlertV2 JSON of each alert, and the diff that names an update_mask.

Everything here is pure (no workspace call); `publish` sends what it renders.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etl_monitor.alerts.views import ALERTS_VIEW
from etl_monitor.core.arguments import check_line
from etl_monitor.engine.executor import qualified
from etl_monitor.errors import InvalidArgumentError
from etl_monitor.monitoring.unified import DRIFT_ALERTS_VIEW

DEFAULT_PARENT_PATH = "/Shared/etl_monitor/alerts"
#: Every 15 minutes (quartz: second minute hour day-of-month month day-of-week).
DEFAULT_SCHEDULE = "0 0/15 * * * ?"
DEFAULT_TIMEZONE = "UTC"
PROCESS_PREFIX = "etl_monitor: "
DRIFT_PREFIX = "etl_monitor drift: "
DESTINATION_PREFIX = "etl_monitor: "
#: Alerts asked for per page when listing them.
LIST_PAGE_SIZE = 100
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_WAREHOUSE_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
#: Fields an alert is compared on; each is a valid update_mask path (leaves where the
#: value is a scalar; the whole collection for repeated fields).
MASK_PATHS: tuple[str, ...] = (
    "display_name",
    "query_text",
    "warehouse_id",
    "parameters",
    "custom_summary",
    "custom_description",
    "evaluation.source",
    "evaluation.comparison_operator",
    "evaluation.threshold",
    "evaluation.empty_result_state",
    "evaluation.notification.notify_on_ok",
    "evaluation.notification.subscriptions",
    "schedule.quartz_cron_schedule",
    "schedule.timezone_id",
    "schedule.pause_status",
)

# -- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessTarget:
    """One active process to alert on, with its alert settings (ETLconfigProcess)."""

    project_code: str
    process_load: str
    owner: str | None = None
    monitor_group: str | None = None
    runbook_url: str | None = None
    lineage_url: str | None = None


@dataclass(frozen=True)
class GroupTarget:
    """One monitoring group (ETLmonitorGroups): its notification addresses."""

    name: str
    addresses: tuple[str, ...] = ()
    owner: str | None = None


@dataclass(frozen=True)
class Targets:
    """What to publish: processes, groups, and whether the drift-alerts view exists."""

    catalog: str
    schema: str
    processes: tuple[ProcessTarget, ...] = ()
    groups: tuple[GroupTarget, ...] = ()
    drift_view: bool = False


def addresses_of(text: str | None) -> tuple[str, ...]:
    """The e-mail addresses of a comma-separated list, trimmed, de-duplicated, in order."""
    out: list[str] = []
    for part in (text or "").split(","):
        address = part.strip()
        if address and address.lower() not in {a.lower() for a in out}:
            out.append(address)
    return tuple(out)


def is_email(value: str | None) -> bool:
    """Whether `value` looks like one e-mail address (a user subscription needs one)."""
    return bool(value) and bool(_EMAIL.match(value.strip()))  # type: ignore[union-attr]


def check_schedule(schedule: str, timezone: str) -> None:
    """Check a quartz cron expression and a time zone id before anything is sent.

    Quartz: six or seven fields (seconds, minutes, hours, day of month, month, day of
    week, optional year); exactly one of day-of-month and day-of-week is ``?``.

    Raises:
        InvalidArgumentError: naming the bad value and what is allowed.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    check_line(schedule, "publish_alerts", "schedule", 200)
    check_line(timezone, "publish_alerts", "timezone", 64)
    problem = quartz_problem(schedule)
    if problem:
        raise InvalidArgumentError(
            f"schedule {schedule!r} is not a quartz cron expression: {problem} "
            f"(e.g. {DEFAULT_SCHEDULE!r}: every 15 minutes)",
            argument="schedule",
            value=schedule,
        )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidArgumentError(
            f"timezone {timezone!r} is not a time zone id; use e.g. 'UTC' or 'Europe/Amsterdam'",
            argument="timezone",
            value=timezone,
        ) from None


_QUARTZ_FIELDS = (
    ("seconds", 0, 59, r"[0-9,\-*/]+"),
    ("minutes", 0, 59, r"[0-9,\-*/]+"),
    ("hours", 0, 23, r"[0-9,\-*/]+"),
    ("day-of-month", 1, 31, r"[0-9,\-*/?LW]+"),
    ("month", 1, 12, r"[0-9A-Za-z,\-*/]+"),
    ("day-of-week", 1, 7, r"[0-9A-Za-z,\-*/?L#]+"),
    ("year", 1970, 2199, r"[0-9,\-*/]+"),
)


def quartz_problem(expression: object) -> str | None:
    """What is wrong with a quartz cron expression, or None when it is well formed."""
    if not isinstance(expression, str):
        return "not a string"
    parts = expression.split()
    if len(parts) not in (6, 7):
        return f"{len(parts)} fields, expected 6 or 7 (seconds minutes hours day-of-month month day-of-week [year])"
    for part, (name, low, high, chars) in zip(parts, _QUARTZ_FIELDS[: len(parts)], strict=True):
        if not re.fullmatch(chars, part):
            return f"{name} field {part!r} has characters not allowed there"
        for number in re.findall(r"(?<![/#])\b\d+\b", part):
            if not low <= int(number) <= high:
                return f"{name} value {number} is outside {low}-{high}"
    if (parts[3] == "?") == (parts[5] == "?"):
        return "exactly one of day-of-month and day-of-week must be '?'"
    return None


def check_settings(warehouse_id: str, parent_path: str, schedule: str, timezone: str) -> None:
    """Check what `publish` is given before anything is read or written.

    Raises:
        InvalidArgumentError: a malformed warehouse id, parent path, schedule or time zone.
    """
    check_warehouse_id(warehouse_id)
    check_parent_path(parent_path)
    check_schedule(schedule, timezone)


def check_parent_path(parent_path: str) -> None:
    """An absolute workspace folder on one line, without a trailing slash; else InvalidArgumentError."""
    check_line(parent_path, "publish_alerts", "parent_path")
    if (
        not isinstance(parent_path, str)
        or not parent_path.startswith("/")
        or parent_path.endswith("/")
        or "//" in parent_path
    ):
        raise InvalidArgumentError(
            f"parent_path must be an absolute workspace folder without a trailing slash, "
            f"e.g. {DEFAULT_PARENT_PATH!r}; got {parent_path!r}",
            argument="parent_path",
            value=parent_path,
        )


def check_warehouse_id(warehouse_id: str) -> None:
    """A SQL warehouse id: 1-64 letters or digits; else InvalidArgumentError."""
    if not isinstance(warehouse_id, str) or not _WAREHOUSE_ID.fullmatch(warehouse_id):
        raise InvalidArgumentError(
            f"warehouse_id {warehouse_id!r} is not a SQL warehouse id (1-64 letters or digits, "
            "e.g. 'a7066a8ef796be84')",
            argument="warehouse_id",
            value=warehouse_id,
        )


# -- the documents ------------------------------------------------------------------------


def process_alert_name(project_code: str, process_load: str) -> str:
    return f"{PROCESS_PREFIX}{project_code}/{process_load}"


def drift_alert_name(group: str) -> str:
    return f"{DRIFT_PREFIX}{group}"


def destination_name(group: str) -> str:
    return f"{DESTINATION_PREFIX}{group}"


def process_query(catalog: str, schema: str) -> str:
    """The alert query of a process: its rows of v_alerts (values are parameters)."""
    return (
        "SELECT AlertType, ProcessingDate, TaskName, ParameterName, Detail, DetectedAt, "
        "ExecutionID, TaskID\n"
        f"FROM {qualified(catalog, schema, ALERTS_VIEW)}\n"
        "WHERE ProjectCode = :project_code AND ProcessLoad = :process_load\n"
        "ORDER BY DetectedAt, AlertType, TaskID"
    )


def drift_query(catalog: str, schema: str) -> str:
    """The alert query of a group: its drifted columns (the group is a parameter)."""
    return (
        "SELECT source_table, column_name, window_start, window_end, js_distance, "
        "drift_threshold, owner, runbook_url, lineage_url\n"
        f"FROM {qualified(catalog, schema, DRIFT_ALERTS_VIEW)}\n"
        "WHERE monitor_group = :group_name\n"
        "ORDER BY js_distance DESC, source_table, column_name"
    )


def _text(value: str | None) -> str:
    """A user value for an HTML/mustache template: escaped, braces neutralised."""
    return html.escape(value or "").replace("{", "&#123;").replace("}", "&#125;")


def _link(label: str, url: str | None) -> str:
    if not url:
        return f"{label}: (none registered)"
    return f'{label}: <a href="{_text(url)}">{_text(url)}</a>'


def _evaluation(column: str, subscriptions: list[dict[str, str]]) -> dict[str, Any]:
    """Fires when the query returns a row: COUNT(column) > 0; an empty result is OK."""
    notification: dict[str, Any] = {"notify_on_ok": True}
    if subscriptions:
        notification["subscriptions"] = subscriptions
    return {
        "source": {"name": column, "aggregation": "COUNT"},
        "comparison_operator": "GREATER_THAN",
        "threshold": {"value": {"double_value": 0.0}},
        "empty_result_state": "OK",
        "notification": notification,
    }


def _schedule(schedule: str, timezone: str) -> dict[str, str]:
    return {"quartz_cron_schedule": schedule, "timezone_id": timezone, "pause_status": "UNPAUSED"}


def _subscriptions(owner: str | None, destination_id: str | None) -> list[dict[str, str]]:
    subs = []
    if is_email(owner):
        subs.append({"user_email": owner.strip()})  # type: ignore[union-attr]
    if destination_id:
        subs.append({"destination_id": destination_id})
    return subs


def process_alert(
    targets: Targets,
    p: ProcessTarget,
    warehouse_id: str,
    schedule: str,
    timezone: str,
    destination_id: str | None,
) -> dict[str, Any]:
    """The AlertV2 document (JSON form) of one process."""
    key = f"{p.project_code}/{p.process_load}"
    description = (
        f"<p>etl_monitor alert for process <b>{_text(key)}</b>: failed tasks, mandatory "
        "blockers, SLA breaches, stale runs and freshness.</p>\n"
        f"<p>Owner: {_text(p.owner) or '(none registered)'}<br>\n"
        f"Monitoring group: {_text(p.monitor_group) or '(none)'}<br>\n"
        f"{_link('Runbook', p.runbook_url)}<br>\n"
        f"{_link('Lineage', p.lineage_url)}</p>\n"
        "{{QUERY_RESULT_TABLE}}\n"
        '<p><a href="{{ALERT_URL}}">{{ALERT_NAME}}</a></p>'
    )
    return {
        "display_name": process_alert_name(p.project_code, p.process_load),
        "query_text": process_query(targets.catalog, targets.schema),
        "warehouse_id": warehouse_id,
        "parameters": [
            {"name": "project_code", "type": "STRING", "value": p.project_code},
            {"name": "process_load", "type": "STRING", "value": p.process_load},
        ],
        "custom_summary": f"etl_monitor {{{{ALERT_STATUS}}}}: {key}",
        "custom_description": description,
        "evaluation": _evaluation("AlertType", _subscriptions(p.owner, destination_id)),
        "schedule": _schedule(schedule, timezone),
    }


def drift_alert(
    targets: Targets,
    g: GroupTarget,
    warehouse_id: str,
    schedule: str,
    timezone: str,
    destination_id: str | None,
) -> dict[str, Any]:
    """The AlertV2 document (JSON form) of one monitoring group's drift alert."""
    description = (
        f"<p>Data profiling drift in monitoring group <b>{_text(g.name)}</b>: columns whose "
        "Jensen-Shannon distance is above their threshold, with each table's owner, runbook "
        "and lineage URL.</p>\n"
        f"<p>Group owner: {_text(g.owner) or '(none registered)'}</p>\n"
        "{{QUERY_RESULT_TABLE}}\n"
        '<p><a href="{{ALERT_URL}}">{{ALERT_NAME}}</a></p>'
    )
    return {
        "display_name": drift_alert_name(g.name),
        "query_text": drift_query(targets.catalog, targets.schema),
        "warehouse_id": warehouse_id,
        "parameters": [{"name": "group_name", "type": "STRING", "value": g.name}],
        "custom_summary": f"etl_monitor drift {{{{ALERT_STATUS}}}}: {g.name}",
        "custom_description": description,
        "evaluation": _evaluation("source_table", _subscriptions(g.owner, destination_id)),
        "schedule": _schedule(schedule, timezone),
    }


def _value(document: Mapping[str, Any] | None, path: str) -> Any:
    node: Any = document
    for key in path.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _canonical(value: Any) -> Any:
    """Lists compared as sets of canonical JSON (subscription order means nothing)."""
    if isinstance(value, list):
        return sorted(json.dumps(v, sort_keys=True) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items() if v is not None}
    return value


def _covers(desired: Any, actual: Any) -> bool:
    """Whether `actual` (a read-back) has every value of `desired`; extra server fields are fine."""
    if isinstance(desired, Mapping):
        return isinstance(actual, Mapping) and all(
            _covers(v, actual.get(k)) for k, v in desired.items() if v is not None
        )
    if isinstance(desired, list):
        return isinstance(actual, list) and _canonical(desired) == _canonical(actual)
    return _canonical(desired) == _canonical(actual)


def changed_paths(desired: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """The `MASK_PATHS` whose desired value the read-back lacks, in MASK_PATHS order."""
    return [p for p in MASK_PATHS if not _covers(_value(desired, p), _value(actual, p))]
