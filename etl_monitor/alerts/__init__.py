"""Databricks SQL alerts that page a process's owner and its monitoring group, through databricks-sdk.

One alert per active process (``etl_monitor: <ProjectCode>/<ProcessLoad>``) reads
``v_alerts`` (`etl_monitor.alerts.views`) filtered by the process, and fires when the
query returns a row: a failure, a mandatory blocker, an SLA breach, a stale run or a
freshness problem. One drift alert per monitoring group (``etl_monitor drift: <group>``)
reads ``v_monitor_drift_alerts`` filtered by the group, once that view exists. One query
per process, not five: each scheduled query costs warehouse time.

The alerts use the current SQL alerts API (``WorkspaceClient.alerts_v2``, REST
``/api/2.0/alerts``, ``AlertV2``): the query text is part of the alert and names only
validated, back-quoted identifiers; the process and group travel as
``AlertV2.parameters`` (``:project_code``, ``:process_load``, ``:group_name``).
Notifications go to the process's owner (``ProcessOwner``, when it is an e-mail address)
as a user subscription, and to the group's ``ETLmonitorGroups.NotificationEmails``
through one e-mail notification destination per group (``etl_monitor: <group>``,
``WorkspaceClient.notification_destinations``). The summary and description carry the
owner, runbook and lineage URLs and the rows (``{{QUERY_RESULT_TABLE}}``, one of the
template variables of the Databricks alert notification templates, with
``{{ALERT_STATUS}}``, ``{{ALERT_NAME}}`` and ``{{ALERT_URL}}``).

Publishing is idempotent: an alert is identified by (parent_path, display_name), found by
listing every page of ``list_alerts`` once (trashed alerts are never reused), and
updated only when its read-back differs, with an ``update_mask`` that names exactly the
changed fields; a destination is found by display name and updated only when its
addresses differ. An unchanged re-run makes no mutating call.
"""

from etl_monitor.alerts.publish import (
    AlertAction,
    AlertsReport,
    publish,
    read_targets,
    targets_from,
)
from etl_monitor.alerts.render import (
    DEFAULT_PARENT_PATH,
    DEFAULT_SCHEDULE,
    DEFAULT_TIMEZONE,
    DRIFT_ALERTS_VIEW,
    MASK_PATHS,
    GroupTarget,
    ProcessTarget,
    Targets,
    addresses_of,
    changed_paths,
    check_schedule,
    check_settings,
    destination_name,
    drift_alert,
    drift_alert_name,
    drift_query,
    is_email,
    process_alert,
    process_alert_name,
    process_query,
    quartz_problem,
)

__all__ = [
    "DEFAULT_PARENT_PATH",
    "DEFAULT_SCHEDULE",
    "DEFAULT_TIMEZONE",
    "DRIFT_ALERTS_VIEW",
    "MASK_PATHS",
    "AlertAction",
    "AlertsReport",
    "GroupTarget",
    "ProcessTarget",
    "Targets",
    "addresses_of",
    "changed_paths",
    "check_schedule",
    "check_settings",
    "destination_name",
    "drift_alert",
    "drift_alert_name",
    "drift_query",
    "is_email",
    "process_alert",
    "process_alert_name",
    "process_query",
    "publish",
    "quartz_problem",
    "read_targets",
    "targets_from",
]
