"""A Lakeview dashboard over the reporting and monitoring views, and publishing it through databricks-sdk.

The definition is data (`definition()`), rendered into sql/dashboards/etl_monitor.lvdash.json
for import by hand, and published by `publish()`, which updates the dashboard of the same
name in the same folder instead of creating a second one.
"""

from __future__ import annotations

import json
from typing import Any

from etl_monitor.engine.executor import check_identifier, qualified

DISPLAY_NAME = "ETL Monitor"

#: dataset name -> (view, columns shown, ORDER BY)
DATASETS: dict[str, tuple[str, list[str], str]] = {
    "process_status": (
        "v_processStatus",
        [
            "ProjectCode",
            "ProcessLoad",
            "ProcessingDate",
            "ProcessStatus",
            "TotalTasks",
            "Done",
            "Failed",
            "Pending",
            "RunningTasks",
            "LastActivity",
        ],
        "ProcessingDate DESC, ProjectCode, ProcessLoad",
    ),
    "run_summary": (
        "v_runSummary",
        [
            "ExecutionID",
            "ProjectCode",
            "ProcessLoad",
            "ProcessingDate",
            "RunStatus",
            "TotalTasks",
            "Done",
            "Failed",
            "MaxAttemptNo",
            "WallClockSeconds",
            "RunStart",
            "RunEnd",
        ],
        "CreatedOn DESC",
    ),
    "current_failures": (
        "v_currentFailures",
        [
            "ProjectCode",
            "ProcessLoad",
            "ProcessingDate",
            "TaskID",
            "TaskName",
            "Status",
            "AttemptNo",
            "ExceptionType",
            "LogMessage",
            "LastUpdatedOn",
        ],
        "LastUpdatedOn DESC",
    ),
    "mandatory_blockers": (
        "v_mandatoryBlockers",
        [
            "ProjectCode",
            "ProcessLoad",
            "ProcessingDate",
            "TaskID",
            "TaskName",
            "BlockedTaskCount",
            "LogMessage",
        ],
        "ProcessingDate DESC",
    ),
    "sla_breaches": (
        "v_taskDetail",
        [
            "ProjectCode",
            "ProcessLoad",
            "ProcessingDate",
            "TaskID",
            "TaskName",
            "DurationSeconds",
            "SLAMinutes",
            "EffectiveStatus",
        ],
        "ProcessingDate DESC",
    ),
    "watermarks": (
        "v_watermarks",
        [
            "ProjectCode",
            "ProcessLoad",
            "ParameterName",
            "ParameterType",
            "ActiveValue",
            "IsHistoricMode",
            "LastUpdatedOn",
            "LastChangeReason",
        ],
        "ProjectCode, ProcessLoad, ParameterName",
    ),
    "drift_alerts": (
        "v_monitor_drift_alerts",
        [
            "source_table",
            "monitor_group",
            "owner",
            "column_name",
            "window_start",
            "js_distance",
            "drift_threshold",
            "runbook_url",
        ],
        "window_start DESC",
    ),
}
FILTERS = {"sla_breaches": "WHERE SLABreached AND IsCurrent"}

PAGES: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("runs", "ETL runs", [("process_status", "Processes by date"), ("run_summary", "Executions")]),
    (
        "problems",
        "Failures and blockers",
        [
            ("current_failures", "Current failures"),
            ("mandatory_blockers", "Mandatory blockers"),
            ("sla_breaches", "SLA breaches"),
        ],
    ),
    ("watermarks", "Watermarks", [("watermarks", "Watermarks and flags")]),
    ("profiling", "Data profiling", [("drift_alerts", "Drift above threshold")]),
]


def dataset_query(name: str, catalog: str, schema: str) -> str:
    view, columns, order = DATASETS[name]
    where = f" {FILTERS[name]}" if name in FILTERS else ""
    return f"SELECT {', '.join(columns)} FROM {qualified(catalog, schema, view)}{where} ORDER BY {order}"


def _table_widget(name: str, dataset: str, title: str, y: int) -> dict[str, Any]:
    columns = DATASETS[dataset][1]
    return {
        "widget": {
            "name": name,
            "queries": [
                {
                    "name": "main_query",
                    "query": {
                        "datasetName": dataset,
                        "fields": [{"name": c, "expression": f"`{c}`"} for c in columns],
                        "disaggregated": True,
                    },
                }
            ],
            "spec": {
                "version": 1,
                "widgetType": "table",
                "encodings": {"columns": [{"fieldName": c, "displayName": c} for c in columns]},
                "frame": {"showTitle": True, "title": title},
            },
        },
        "position": {"x": 0, "y": y, "width": 6, "height": 7},
    }


def definition(catalog: str = "main", schema: str = "etl") -> dict[str, Any]:
    """The dashboard as a Lakeview (``.lvdash.json``) document."""
    check_identifier(catalog, "catalog", allow_dash=True)
    check_identifier(schema, "schema", allow_dash=True)
    datasets = [
        {
            "name": name,
            "displayName": DATASETS[name][0],
            "queryLines": [dataset_query(name, catalog, schema)],
        }
        for name in DATASETS
    ]
    pages = []
    for page, title, widgets in PAGES:
        layout = [
            _table_widget(f"{page}_{dataset}", dataset, wtitle, 7 * i)
            for i, (dataset, wtitle) in enumerate(widgets)
        ]
        pages.append(
            {"name": page, "displayName": title, "layout": layout, "pageType": "PAGE_TYPE_CANVAS"}
        )
    return {"datasets": datasets, "pages": pages}


def publish(
    workspace_client: Any,
    catalog: str,
    schema: str,
    warehouse_id: str,
    parent_path: str = "/Shared/etl_monitor",
    display_name: str = DISPLAY_NAME,
    embed_credentials: bool = False,
) -> str:
    """Create or update the dashboard in `parent_path` and publish it; returns its id."""
    from databricks.sdk.service.dashboards import Dashboard

    serialized = json.dumps(definition(catalog, schema))
    existing = next(
        (
            d
            for d in workspace_client.lakeview.list()
            if d.display_name == display_name and (d.parent_path or "") == parent_path
        ),
        None,
    )
    wanted = Dashboard(
        display_name=display_name,
        serialized_dashboard=serialized,
        warehouse_id=warehouse_id,
        parent_path=parent_path,
    )
    if existing is None:
        dashboard_id = workspace_client.lakeview.create(dashboard=wanted).dashboard_id
    else:
        dashboard_id = existing.dashboard_id
        workspace_client.lakeview.update(
            dashboard_id,
            dashboard=Dashboard(
                display_name=display_name,
                serialized_dashboard=serialized,
                warehouse_id=warehouse_id,
            ),
        )
    workspace_client.lakeview.publish(
        dashboard_id, embed_credentials=embed_credentials, warehouse_id=warehouse_id
    )
    return dashboard_id
