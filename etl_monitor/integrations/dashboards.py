"""A Lakeview dashboard over the reporting and monitoring views, and publishing it through databricks-sdk.

The definition is data (`definition()`), rendered into sql/dashboards/etl_monitor.lvdash.json
for import by hand, and published by `publish()`, which finds the dashboard it published
before by its workspace path, updates it only when something changed and publishes only
when the published version is behind.

Widgets follow the specs of dashboards the Lakeview editor exports: tables are
``"version": 1`` table specs (every column carries ``fieldName``, ``title``, ``type``,
``displayAs``, ``booleanValues``, ...), the field names of databrickslabs/lsql's
``TableV1Spec``/``TableV1ColumnEncoding`` (src/databricks/labs/lsql/lakeview/model.py).
`WIDGET_SPEC_VERSIONS` records the version each widget type is exported with.

A dataset over an optional view (`OPTIONAL_VIEWS`: the drift alerts, made by
``MonitoringFramework.create_unified_views()``) is part of the definition only when the
view exists; pages left without widgets are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from etl_monitor.alerts.render import check_warehouse_id
from etl_monitor.core.arguments import check_line
from etl_monitor.engine.executor import check_identifier, qualified
from etl_monitor.errors import InvalidArgumentError
from etl_monitor.monitoring.unified import DRIFT_ALERTS_VIEW
from etl_monitor.tracking import views

DISPLAY_NAME = "ETL Monitor"
DEFAULT_PARENT_PATH = "/Shared/etl_monitor"
#: Dashboards asked for per page when listing them (the fallback look-up).
LIST_PAGE_SIZE = 100

#: Views a dataset may read that exist only after an optional step.
OPTIONAL_VIEWS = frozenset({DRIFT_ALERTS_VIEW})

#: The spec version each widget type has in dashboards exported by the Lakeview editor
#: (databricks/bundle-examples: tables 1, counters 2, bar/line/pie charts 3).
WIDGET_SPEC_VERSIONS = {"table": 1, "counter": 2, "bar": 3, "line": 3, "pie": 3}

#: Lakeview column ``type`` -> ``displayAs`` and ``alignContent`` of a version-1 table column.
_COLUMN_DISPLAY = {
    "string": ("string", "left"),
    "integer": ("number", "right"),
    "float": ("number", "right"),
    "decimal": ("number", "right"),
    "boolean": ("boolean", "left"),
    "date": ("datetime", "right"),
    "datetime": ("datetime", "right"),
}

Columns = list[tuple[str, str]]

#: dataset name -> (view, columns shown with their Lakeview column type, ORDER BY)
DATASETS: dict[str, tuple[str, Columns, str]] = {
    "process_status": (
        views.PROCESS_STATUS.name,
        [
            ("ProjectCode", "string"),
            ("ProcessLoad", "string"),
            ("ProcessingDate", "date"),
            ("ProcessStatus", "string"),
            ("TotalTasks", "integer"),
            ("Done", "integer"),
            ("Failed", "integer"),
            ("Pending", "integer"),
            ("RunningTasks", "integer"),
            ("LastActivity", "datetime"),
        ],
        "ProcessingDate DESC, ProjectCode, ProcessLoad",
    ),
    "run_summary": (
        views.RUN_SUMMARY.name,
        [
            ("ExecutionID", "string"),
            ("ProjectCode", "string"),
            ("ProcessLoad", "string"),
            ("ProcessingDate", "date"),
            ("RunStatus", "string"),
            ("TotalTasks", "integer"),
            ("Done", "integer"),
            ("Failed", "integer"),
            ("MaxAttemptNo", "integer"),
            ("WallClockSeconds", "float"),
            ("RunStart", "datetime"),
            ("RunEnd", "datetime"),
        ],
        "CreatedOn DESC",
    ),
    "current_failures": (
        views.CURRENT_FAILURES.name,
        [
            ("ProjectCode", "string"),
            ("ProcessLoad", "string"),
            ("ProcessingDate", "date"),
            ("TaskID", "integer"),
            ("TaskName", "string"),
            ("Status", "string"),
            ("AttemptNo", "integer"),
            ("ExceptionType", "string"),
            ("LogMessage", "string"),
            ("LastUpdatedOn", "datetime"),
        ],
        "LastUpdatedOn DESC",
    ),
    "mandatory_blockers": (
        views.MANDATORY_BLOCKERS.name,
        [
            ("ProjectCode", "string"),
            ("ProcessLoad", "string"),
            ("ProcessingDate", "date"),
            ("TaskID", "integer"),
            ("TaskName", "string"),
            ("BlockedTaskCount", "integer"),
            ("LogMessage", "string"),
        ],
        "ProcessingDate DESC",
    ),
    "sla_breaches": (
        views.TASK_DETAIL.name,
        [
            ("ProjectCode", "string"),
            ("ProcessLoad", "string"),
            ("ProcessingDate", "date"),
            ("TaskID", "integer"),
            ("TaskName", "string"),
            ("DurationSeconds", "float"),
            ("SLAMinutes", "integer"),
            ("EffectiveStatus", "string"),
        ],
        "ProcessingDate DESC",
    ),
    "watermarks": (
        views.WATERMARKS.name,
        [
            ("ProjectCode", "string"),
            ("ProcessLoad", "string"),
            ("ParameterName", "string"),
            ("ParameterType", "string"),
            ("ActiveValue", "string"),
            ("IsHistoricMode", "boolean"),
            ("LastUpdatedOn", "datetime"),
            ("LastChangeReason", "string"),
        ],
        "ProjectCode, ProcessLoad, ParameterName",
    ),
    "drift_alerts": (
        DRIFT_ALERTS_VIEW,
        [
            ("source_table", "string"),
            ("monitor_group", "string"),
            ("owner", "string"),
            ("column_name", "string"),
            ("window_start", "datetime"),
            ("js_distance", "float"),
            ("drift_threshold", "float"),
            ("runbook_url", "string"),
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
    """The SQL of one dataset: its columns from its view in `catalog`.`schema`.

    Args:
        name: a key of `DATASETS`.
        catalog: the catalog of the views.
        schema: the schema of the views.

    Returns:
        A SELECT over the fully qualified, back-quoted view.

    Raises:
        InvalidArgumentError: `name` is not a dataset.
    """
    if name not in DATASETS:
        raise InvalidArgumentError(
            f"unknown dashboard dataset {name!r}; allowed: {', '.join(DATASETS)}",
            argument="name",
            value=name,
        )
    view, columns, order = DATASETS[name]
    where = f" {FILTERS[name]}" if name in FILTERS else ""
    shown = ", ".join(c for c, _ in columns)
    return f"SELECT {shown} FROM {qualified(catalog, schema, view)}{where} ORDER BY {order}"


def _table_column(name: str, column_type: str, order: int) -> dict[str, Any]:
    """One column of a version-1 table widget, as the Lakeview editor exports it."""
    display_as, align = _COLUMN_DISPLAY[column_type]
    return {
        "fieldName": name,
        "booleanValues": ["false", "true"],
        "imageUrlTemplate": "{{ @ }}",
        "imageTitleTemplate": "{{ @ }}",
        "imageWidth": "",
        "imageHeight": "",
        "linkUrlTemplate": "{{ @ }}",
        "linkTextTemplate": "{{ @ }}",
        "linkTitleTemplate": "{{ @ }}",
        "linkOpenInNewTab": True,
        "type": column_type,
        "displayAs": display_as,
        "visible": True,
        "order": order,
        "title": name,
        "displayName": name,
        "allowSearch": False,
        "alignContent": align,
        "allowHTML": False,
        "highlightLinks": False,
        "useMonospaceFont": False,
        "preserveWhitespace": False,
    }


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
                        "fields": [{"name": c, "expression": f"`{c}`"} for c, _ in columns],
                        "disaggregated": True,
                    },
                }
            ],
            "spec": {
                "version": WIDGET_SPEC_VERSIONS["table"],
                "widgetType": "table",
                "encodings": {
                    "columns": [_table_column(c, t, 100000 + i) for i, (c, t) in enumerate(columns)]
                },
                "invisibleColumns": [],
                "allowHTMLByDefault": False,
                "itemsPerPage": 25,
                "paginationSize": "default",
                "condensed": True,
                "withRowNumber": False,
                "frame": {"showTitle": True, "title": title},
            },
        },
        "position": {"x": 0, "y": y, "width": 6, "height": 7},
    }


def _check_optional_views(optional_views: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(optional_views)
    unknown = sorted(wanted - OPTIONAL_VIEWS)
    if unknown:
        raise InvalidArgumentError(
            f"not an optional dashboard view: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(OPTIONAL_VIEWS))}",
            argument="optional_views",
            value=unknown,
        )
    return wanted


def optional_views_in(existing: Iterable[str]) -> frozenset[str]:
    """The `OPTIONAL_VIEWS` among `existing` table and view names (compared case-blind).

    Args:
        existing: names of the objects in the framework's schema (e.g. SHOW TABLES).

    Returns:
        The optional views that exist, spelled as in `OPTIONAL_VIEWS`.
    """
    present = {name.lower() for name in existing}
    return frozenset(v for v in OPTIONAL_VIEWS if v.lower() in present)


def definition(catalog: str, schema: str, optional_views: Collection[str] = ()) -> dict[str, Any]:
    """The dashboard as a Lakeview (``.lvdash.json``) document.

    Args:
        catalog: the catalog of the views the datasets read.
        schema: the schema of the views the datasets read.
        optional_views: which `OPTIONAL_VIEWS` exist; a dataset over any other optional
            view is left out, with its widgets and any page they leave empty.

    Returns:
        ``{"datasets": [...], "pages": [...]}``.

    Raises:
        InvalidIdentifierError: `catalog` or `schema` is not a valid identifier.
        InvalidArgumentError: `optional_views` names a view that is not optional.
    """
    check_identifier(catalog, "catalog", allow_dash=True)
    check_identifier(schema, "schema", allow_dash=True)
    present = _check_optional_views(optional_views)
    names = [
        name
        for name, (view, _, _) in DATASETS.items()
        if view not in OPTIONAL_VIEWS or view in present
    ]
    datasets = [
        {
            "name": name,
            "displayName": DATASETS[name][0],
            "queryLines": [dataset_query(name, catalog, schema)],
        }
        for name in names
    ]
    pages = []
    for page, title, widgets in PAGES:
        shown = [(dataset, wtitle) for dataset, wtitle in widgets if dataset in names]
        if not shown:
            continue
        layout = [
            _table_widget(f"{page}_{dataset}", dataset, wtitle, 7 * i)
            for i, (dataset, wtitle) in enumerate(shown)
        ]
        pages.append(
            {"name": page, "displayName": title, "layout": layout, "pageType": "PAGE_TYPE_CANVAS"}
        )
    return {"datasets": datasets, "pages": pages}


def check_arguments(warehouse_id: str, parent_path: str, display_name: str) -> None:
    """Check what `publish` is given before anything is read or written.

    Raises:
        InvalidArgumentError: a malformed warehouse id, parent path or display name.
    """
    check_warehouse_id(warehouse_id)
    check_line(parent_path, "publish_dashboard", "parent_path")
    check_line(display_name, "publish_dashboard", "display_name", 256)
    _check_location(parent_path, display_name)


def _check_location(parent_path: str, display_name: str) -> None:
    if not parent_path.startswith("/") or parent_path.endswith("/") or "//" in parent_path:
        raise InvalidArgumentError(
            f"parent_path must be an absolute workspace folder without a trailing slash, "
            f"e.g. {DEFAULT_PARENT_PATH!r}; got {parent_path!r}",
            argument="parent_path",
            value=parent_path,
        )
    if not display_name.strip() or "/" in display_name:
        raise InvalidArgumentError(
            f"display_name must be a non-empty name without '/'; got {display_name!r}",
            argument="display_name",
            value=display_name,
        )


def dashboard_path(parent_path: str, display_name: str) -> str:
    """The workspace path of the dashboard: ``<parent_path>/<display_name>.lvdash.json``."""
    return f"{parent_path}/{display_name}.lvdash.json"


def _find_by_path(w: Any, parent_path: str, display_name: str) -> str | None:
    """The id of the dashboard at its workspace path, or None when nothing is there."""
    from databricks.sdk.errors import NotFound
    from databricks.sdk.service.workspace import ObjectType

    path = dashboard_path(parent_path, display_name)
    try:
        info = w.workspace.get_status(path)
    except NotFound:
        return None
    if info.object_type != ObjectType.DASHBOARD or not info.resource_id:
        kind = info.object_type.value if info.object_type else "unknown"
        raise InvalidArgumentError(
            f"{path!r} is a workspace object of type {kind}, not a dashboard; "
            f"choose another parent_path or display_name",
            argument="display_name",
            value=display_name,
        )
    return str(info.resource_id)


def _same_folder(a: str | None, b: str) -> bool:
    """Workspace folders compared with and without the ``/Workspace`` mount prefix."""

    def plain(p: str) -> str:
        return p[len("/Workspace") :] if p.startswith("/Workspace/") else p

    return a is not None and plain(a.rstrip("/")) == plain(b.rstrip("/"))


def _find_by_listing(w: Any, parent_path: str, display_name: str) -> str | None:
    """The id of the dashboard named `display_name` in `parent_path`, by listing every page.

    The list response omits ``parent_path`` and ``path``, so each dashboard of that name is
    read once (``get``) to learn its folder.
    """
    for summary in w.lakeview.list(page_size=LIST_PAGE_SIZE):
        if summary.display_name != display_name or not summary.dashboard_id:
            continue
        if _same_folder(w.lakeview.get(summary.dashboard_id).parent_path, parent_path):
            return str(summary.dashboard_id)
    return None


def _document(serialized: str | None) -> Any:
    try:
        return json.loads(serialized) if serialized else None
    except ValueError:
        return None


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _published_is_current(
    w: Any, dashboard_id: str, draft: Any, warehouse_id: str, embed_credentials: bool
) -> bool:
    """Whether the published version is the draft's, on `warehouse_id`, with those credentials.

    The published version carries no document, only when it was made: it is current when
    it was made no earlier than the draft's last change.
    """
    from databricks.sdk.errors import NotFound

    try:
        published = w.lakeview.get_published(dashboard_id)
    except NotFound:
        return False
    made, changed = _instant(published.revision_create_time), _instant(draft.update_time)
    return (
        published.warehouse_id == warehouse_id
        and bool(published.embed_credentials) == embed_credentials
        and made is not None
        and changed is not None
        and made >= changed
    )


def publish(
    workspace_client: Any,
    catalog: str,
    schema: str,
    warehouse_id: str,
    parent_path: str = DEFAULT_PARENT_PATH,
    display_name: str = DISPLAY_NAME,
    embed_credentials: bool = False,
    optional_views: Collection[str] = (),
) -> str:
    """Create or update the dashboard in `parent_path` and publish it; returns its id.

    The dashboard is found by its workspace path, ``<parent_path>/<display_name>.lvdash.json``
    (``workspace.get_status``: a ``DASHBOARD`` object whose ``resource_id`` is the
    dashboard id). That path is the key the service itself enforces (a second create in
    the folder fails with "Node named '...' already exists"), it costs one request, and it
    needs no path comparison; the Lakeview list, by contrast, returns neither
    ``parent_path`` nor ``path`` and display names repeat across folders. Should the path
    look-up miss and the create still be refused as a duplicate (the folder written
    another way, or a concurrent publish), the dashboard is found by listing every page
    and reading each one of that name.

    The folder is created when missing. An existing dashboard is updated only when its
    document (compared as JSON) or warehouse differs, and published only when the
    published version is missing, on another warehouse or credentials mode, or older than
    the draft: publishing an unchanged dashboard makes no mutating request.

    Args:
        workspace_client: a ``databricks.sdk.WorkspaceClient``.
        catalog: the catalog of the views.
        schema: the schema of the views.
        warehouse_id: the SQL warehouse that runs the dashboard.
        parent_path: the workspace folder, e.g. ``/Shared/etl_monitor``.
        display_name: the dashboard's name (and file name) in that folder.
        embed_credentials: run the published dashboard's queries as the publisher.
        optional_views: which `OPTIONAL_VIEWS` exist (see `definition`).

    Returns:
        The dashboard id.

    Raises:
        InvalidArgumentError: a bad `parent_path`, `display_name` or `optional_views`, or
            a non-dashboard object at the dashboard's path.
        databricks.sdk.errors.DatabricksError: a request the service refused.
    """
    from databricks.sdk.errors import ResourceAlreadyExists
    from databricks.sdk.service.dashboards import Dashboard

    check_arguments(warehouse_id, parent_path, display_name)
    document = definition(catalog, schema, optional_views)
    serialized = json.dumps(document)
    w = workspace_client
    dashboard_id = _find_by_path(w, parent_path, display_name)
    if dashboard_id is None:
        w.workspace.mkdirs(parent_path)
        try:
            created = w.lakeview.create(
                Dashboard(
                    display_name=display_name,
                    serialized_dashboard=serialized,
                    warehouse_id=warehouse_id,
                    parent_path=parent_path,
                )
            )
        except ResourceAlreadyExists:
            dashboard_id = _find_by_listing(w, parent_path, display_name)
            if dashboard_id is None:
                raise
        else:
            dashboard_id = str(created.dashboard_id)
            w.lakeview.publish(
                dashboard_id, embed_credentials=embed_credentials, warehouse_id=warehouse_id
            )
            return dashboard_id
    draft = w.lakeview.get(dashboard_id)
    changed = _document(draft.serialized_dashboard) != document or (
        draft.warehouse_id != warehouse_id
    )
    if changed:
        draft = w.lakeview.update(
            dashboard_id,
            dashboard=Dashboard(
                display_name=display_name,
                serialized_dashboard=serialized,
                warehouse_id=warehouse_id,
                etag=draft.etag,
            ),
        )
    if changed or not _published_is_current(
        w, dashboard_id, draft, warehouse_id, embed_credentials
    ):
        w.lakeview.publish(
            dashboard_id, embed_credentials=embed_credentials, warehouse_id=warehouse_id
        )
    return dashboard_id
