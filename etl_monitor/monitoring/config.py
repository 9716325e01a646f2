"""Config tables of the monitoring submodule, and the argument models that fill them.

Monitor groups and monitored tables are small config tables (upserted); provisioning
writes an append-only log, and the current monitor state is a view of its latest row
per table, like the run-time tables of the core.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from etl_monitor.core import objects
from etl_monitor.core.arguments import ShortText, _Args
from etl_monitor.core.objects import MONITORING, Column, Table, View, _audit

TABLE_NAME_PATTERN = (
    r"^[A-Za-z0-9_][A-Za-z0-9_-]*\.[A-Za-z0-9_][A-Za-z0-9_-]*\.[A-Za-z_][A-Za-z0-9_]*$"
)
SCHEMA_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]*\.[A-Za-z0-9_][A-Za-z0-9_-]*$"
GROUP_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
COLUMN_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,254}$"
EMAIL_PATTERN = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")

GRANULARITIES = (
    "5 minutes",
    "30 minutes",
    "1 hour",
    "1 day",
    "1 week",
    "2 weeks",
    "3 weeks",
    "4 weeks",
    "1 month",
    "1 year",
)
PROFILE_TYPES = ("SNAPSHOT", "TIMESERIES", "INFERENCE")
PROBLEM_TYPES = ("CLASSIFICATION", "REGRESSION")
DEFAULT_GROUP = "default"

TableName = Annotated[str, StringConstraints(strict=True, pattern=TABLE_NAME_PATTERN)]
SchemaName = Annotated[str, StringConstraints(strict=True, pattern=SCHEMA_NAME_PATTERN)]
GroupName = Annotated[str, StringConstraints(strict=True, pattern=GROUP_PATTERN)]
ColumnName = Annotated[str, StringConstraints(strict=True, pattern=COLUMN_PATTERN)]
Url = Annotated[str, StringConstraints(strict=True, pattern=r"^https?://\S+$", max_length=2048)]
Threshold = Annotated[StrictFloat, Field(gt=0, le=1)]
AssetsDir = Annotated[
    str, StringConstraints(strict=True, pattern=r"^/[^\s]*[^\s/]$", max_length=1000)
]

MONITOR_HINTS = {
    "table_name": "a three-part name catalog.schema.table",
    "output_schema_name": "a two-part name catalog.schema",
    "baseline_table_name": "a three-part name catalog.schema.table",
    "assets_dir": "an absolute workspace path such as /Workspace/Shared/monitors/orders",
    "group": "1-64 letters, digits or '_', not starting with a digit",
    "monitor_group": "1-64 letters, digits or '_', not starting with a digit",
    "profile_type": "one of " + ", ".join(PROFILE_TYPES),
    "problem_type": "one of " + ", ".join(PROBLEM_TYPES),
    "granularities": "a list of " + ", ".join(GRANULARITIES),
    "drift_threshold": "a number above 0 and at most 1 (Jensen-Shannon distance)",
    "notification_emails": "up to 5 e-mail addresses",
    "runbook_url": "an http(s) URL",
    "lineage_url": "an http(s) URL",
}


def _granularity(value: str) -> str:
    text = " ".join(str(value).lower().replace("_", " ").split())
    aliases = {
        "5 minute": "5 minutes",
        "30 minute": "30 minutes",
        "hour": "1 hour",
        "day": "1 day",
        "week": "1 week",
        "month": "1 month",
        "year": "1 year",
        "2 week": "2 weeks",
        "3 week": "3 weeks",
        "4 week": "4 weeks",
        "1 hours": "1 hour",
        "1 days": "1 day",
    }
    text = aliases.get(text, text)
    if text not in GRANULARITIES:
        raise ValueError(f"unknown granularity {value!r}")
    return text


class SchemaArgs(_Args):
    schema_name: SchemaName


class GroupArgs(_Args):
    group: GroupName
    notification_emails: list[StrictStr] = Field(default_factory=list, max_length=5)
    drift_threshold: Threshold = 0.2
    owner: ShortText | None = None
    description: ShortText | None = None
    is_active: StrictBool = True

    @field_validator("notification_emails")
    @classmethod
    def _emails(cls, values: list[str]) -> list[str]:
        for value in values:
            if not isinstance(value, str) or not EMAIL_PATTERN.fullmatch(value):
                raise ValueError(f"not an e-mail address: {value!r}")
        return values


class TableArgs(_Args):
    table_name: TableName
    profile_type: Literal["SNAPSHOT", "TIMESERIES", "INFERENCE"] = "SNAPSHOT"
    output_schema_name: SchemaName | None = None
    timestamp_column: ColumnName | None = None
    granularities: list[str] = Field(default_factory=list)
    prediction_column: ColumnName | None = None
    label_column: ColumnName | None = None
    model_id_column: ColumnName | None = None
    problem_type: Literal["CLASSIFICATION", "REGRESSION"] | None = None
    baseline_table_name: TableName | None = None
    slicing_exprs: list[
        Annotated[str, StringConstraints(strict=True, min_length=1, max_length=1000)]
    ] = Field(default_factory=list, max_length=50)
    schedule_cron: Annotated[str, StringConstraints(strict=True, max_length=200)] | None = None
    schedule_timezone: Annotated[str, StringConstraints(strict=True, max_length=64)] = "UTC"
    assets_dir: AssetsDir | None = None
    """Workspace folder for the monitor's dashboard; sent on create only (the default is
    ``/Workspace/Shared/etl_monitor/monitors/<table>``)."""
    monitor_group: GroupName = DEFAULT_GROUP
    owner: ShortText | None = None
    runbook_url: Url | None = None
    lineage_url: Url | None = None
    drift_threshold: Threshold | None = None
    is_active: StrictBool = True
    discovered_by: ShortText | None = None
    """The tags that enrolled the table when tag discovery found it (``key=value,...``)."""

    @field_validator("problem_type", mode="before")
    @classmethod
    def _problem(cls, value: Any) -> Any:
        if isinstance(value, str):  # accept PROBLEM_TYPE_X and INFERENCE_PROBLEM_TYPE_X spellings
            return value.upper().removeprefix("INFERENCE_").removeprefix("PROBLEM_TYPE_")
        return value

    @field_validator("profile_type", mode="before")
    @classmethod
    def _profile(cls, value: Any) -> Any:
        return (
            value.upper().replace("TIME_SERIES", "TIMESERIES").replace("INFERENCE_LOG", "INFERENCE")
            if isinstance(value, str)
            else value
        )

    @field_validator("granularities", mode="before")
    @classmethod
    def _granularities(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return sorted({_granularity(v) for v in value}, key=GRANULARITIES.index)
        return value

    @model_validator(mode="after")
    def _profile_needs(self) -> TableArgs:
        if self.profile_type in ("TIMESERIES", "INFERENCE"):
            missing = [n for n in ("timestamp_column",) if getattr(self, n) is None]
            if not self.granularities:
                missing.append("granularities")
            if self.profile_type == "INFERENCE":
                missing += [
                    n
                    for n in ("prediction_column", "model_id_column", "problem_type")
                    if getattr(self, n) is None
                ]
            if missing:
                article = "an" if self.profile_type[0] in "AEIOU" else "a"
                raise ValueError(
                    f"{article} {self.profile_type} monitor needs {', '.join(missing)}"
                )
        return self


def _mon_table(
    name: str, comment: str, columns: tuple[Column, ...], key: tuple[str, ...], **kw: Any
) -> Table:
    return Table(name, comment, columns, key=key, **kw)


GROUPS = _mon_table(
    "ETLmonitorGroups",
    "Monitor groups: notification addresses, drift threshold and owner. USER-MANAGED through register_group().",
    (
        Column(
            "GroupName",
            "STRING",
            "Group name (also part of the unified view names).",
            nullable=False,
        ),
        Column(
            "NotificationEmails",
            "STRING",
            "Comma-separated e-mail addresses notified on monitor failure.",
        ),
        Column("DriftThreshold", "DOUBLE", "Jensen-Shannon distance above which drift is alerted."),
        Column("Owner", "STRING", "Team or person accountable."),
        Column("Description", "STRING", "Free text."),
        Column("IsActive", "BOOLEAN", "False when the group is switched off."),
        *_audit(),
    ),
    ("GroupName",),
)

TABLES = _mon_table(
    "ETLmonitorTables",
    "Tables to monitor with Databricks data profiling, one row each. USER-MANAGED through register_table().",
    (
        Column("TableName", "STRING", "Monitored table, catalog.schema.table.", nullable=False),
        Column("ProfileType", "STRING", "SNAPSHOT, TIMESERIES or INFERENCE."),
        Column(
            "OutputSchemaName",
            "STRING",
            "catalog.schema for the metric tables (default: the table's schema).",
        ),
        Column("TimestampColumn", "STRING", "Timestamp column (TIMESERIES, INFERENCE)."),
        Column(
            "Granularities", "STRING", "Comma-separated aggregation windows, e.g. 1 day,1 week."
        ),
        Column("PredictionColumn", "STRING", "Model prediction column (INFERENCE)."),
        Column("LabelColumn", "STRING", "Ground-truth label column (INFERENCE)."),
        Column("ModelIdColumn", "STRING", "Model id / version column (INFERENCE)."),
        Column("ProblemType", "STRING", "CLASSIFICATION or REGRESSION (INFERENCE)."),
        Column("BaselineTableName", "STRING", "Baseline table for drift, catalog.schema.table."),
        Column("SlicingExprs", "STRING", "JSON array of slicing expressions."),
        Column(
            "ScheduleCron",
            "STRING",
            "Quartz cron expression of the refresh schedule; NULL for manual.",
        ),
        Column("ScheduleTimezone", "STRING", "Time zone of the schedule."),
        Column(
            "AssetsDir",
            "STRING",
            "Workspace folder of the monitor's dashboard, sent on create; NULL for the default.",
        ),
        Column("MonitorGroup", "STRING", "Group (ETLmonitorGroups.GroupName)."),
        Column("Owner", "STRING", "Owner for alert routing."),
        Column("RunbookUrl", "STRING", "Runbook URL carried into alerts."),
        Column("LineageUrl", "STRING", "Lineage URL carried into alerts."),
        Column("DriftThreshold", "DOUBLE", "Per-table drift threshold; NULL uses the group's."),
        Column(
            "IsActive", "BOOLEAN", "False: the monitor is reported (and deleted only when asked)."
        ),
        Column(
            "DiscoveredBy",
            "STRING",
            "Tags that enrolled the table through tag discovery (key=value,...); NULL when listed.",
        ),
        *_audit(),
    ),
    ("TableName",),
)

LOG = _mon_table(
    "ETLmonitorLog",
    "Append-only provisioning log: one row per action on a monitor, with the monitor's state after it. APPEND-ONLY.",
    (
        Column("EventID", "STRING", "Unique id of the row.", nullable=False),
        Column("EventTime", "TIMESTAMP", "When the action finished (UTC).", nullable=False),
        Column("RunID", "STRING", "Id of the apply run."),
        Column("TableName", "STRING", "Monitored table.", nullable=False),
        Column(
            "Action",
            "STRING",
            "create, update, recreate, blocked, unchanged, skip, error, delete, deactivated.",
        ),
        Column("Message", "STRING", "Why, or the error message verbatim."),
        Column("Api", "STRING", "data_quality or quality_monitors."),
        Column("ObjectID", "STRING", "The table's Unity Catalog id."),
        Column("MonitorStatus", "STRING", "Monitor status reported by the API."),
        Column("ProfileMetricsTable", "STRING", "Profile metrics table name."),
        Column("DriftMetricsTable", "STRING", "Drift metrics table name."),
        Column("DashboardID", "STRING", "Built-in dashboard id."),
        Column("MonitorVersion", "BIGINT", "Monitor version reported by the API."),
        Column("RefreshID", "STRING", "Last refresh id."),
        Column("RefreshState", "STRING", "Last refresh state."),
        Column("LastRefreshTime", "TIMESTAMP", "When the last refresh was started (UTC)."),
        Column("CreatedBy", "STRING", "Who ran the action."),
    ),
    ("EventID",),
    append_only=True,
)

STATE = View(
    "ETLmonitorState",
    "Current state of each monitor: the latest row of ETLmonitorLog that knows the monitor, per table.",
    "SELECT TableName, Action AS LastAction, Message AS LastMessage, Api, ObjectID, MonitorStatus,\n"
    "  ProfileMetricsTable, DriftMetricsTable, DashboardID, MonitorVersion, RefreshID, RefreshState,\n"
    "  LastRefreshTime, EventTime AS UpdatedOn, RunID\n"
    "FROM (\n"
    "  SELECT l.*, ROW_NUMBER() OVER (PARTITION BY l.TableName ORDER BY l.EventTime DESC, l.EventID DESC) AS rn\n"
    "  FROM {t:ETLmonitorLog} l\n"
    ") latest\n"
    "WHERE rn = 1",
)

MONITORING_TABLES = (GROUPS, TABLES, LOG)

objects.register(MONITORING, tables=MONITORING_TABLES, views=(STATE,))


def table_row(a: TableArgs) -> dict[str, Any]:
    """Config row of a validated table registration."""
    return {
        "TableName": a.table_name,
        "ProfileType": a.profile_type,
        "OutputSchemaName": a.output_schema_name,
        "TimestampColumn": a.timestamp_column,
        "Granularities": ",".join(a.granularities) or None,
        "PredictionColumn": a.prediction_column,
        "LabelColumn": a.label_column,
        "ModelIdColumn": a.model_id_column,
        "ProblemType": a.problem_type,
        "BaselineTableName": a.baseline_table_name,
        "SlicingExprs": json.dumps(a.slicing_exprs) if a.slicing_exprs else None,
        "ScheduleCron": a.schedule_cron,
        "ScheduleTimezone": a.schedule_timezone,
        "AssetsDir": a.assets_dir,
        "MonitorGroup": a.monitor_group,
        "Owner": a.owner,
        "RunbookUrl": a.runbook_url,
        "LineageUrl": a.lineage_url,
        "DriftThreshold": a.drift_threshold,
        "IsActive": a.is_active,
        "DiscoveredBy": a.discovered_by,
    }


def table_args(row: dict[str, Any]) -> TableArgs:
    """Back from a config row to validated arguments."""
    return TableArgs(
        table_name=row["TableName"],
        profile_type=row["ProfileType"] or "SNAPSHOT",
        output_schema_name=row["OutputSchemaName"],
        timestamp_column=row["TimestampColumn"],
        granularities=[g for g in (row["Granularities"] or "").split(",") if g],
        prediction_column=row["PredictionColumn"],
        label_column=row["LabelColumn"],
        model_id_column=row["ModelIdColumn"],
        problem_type=row["ProblemType"],
        baseline_table_name=row["BaselineTableName"],
        slicing_exprs=json.loads(row["SlicingExprs"] or "[]"),
        schedule_cron=row["ScheduleCron"],
        schedule_timezone=row["ScheduleTimezone"] or "UTC",
        assets_dir=row.get("AssetsDir"),
        monitor_group=row["MonitorGroup"] or DEFAULT_GROUP,
        owner=row["Owner"],
        runbook_url=row["RunbookUrl"],
        lineage_url=row["LineageUrl"],
        drift_threshold=row["DriftThreshold"],
        is_active=bool(row["IsActive"]),
        discovered_by=row.get("DiscoveredBy"),
    )
