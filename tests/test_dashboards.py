"""The Lakeview dashboard: every dataset query runs on the engine, and publishing is idempotent."""

from __future__ import annotations

import json

from etl_monitor.integrations import dashboards
from etl_monitor.integrations import sql_files as sqlfiles
from tests.emulator import DatabricksEmulator
from tests.helpers import register_hr


def test_every_dataset_runs_and_every_widget_field_exists(monitor, spark):
    register_hr(monitor)
    monitor.monitoring(workspace_client=object()).setup()
    monitor.monitoring(
        workspace_client=object()
    ).create_unified_views()  # v_monitor_drift_alerts (empty)
    doc = dashboards.definition(monitor.catalog, monitor.schema)
    columns = {}
    for dataset in doc["datasets"]:
        (query,) = dataset["queryLines"]
        columns[dataset["name"]] = spark.sql(query).columns
    for page in doc["pages"]:
        for item in page["layout"]:
            widget = item["widget"]
            (q,) = widget["queries"]
            fields = {f["name"] for f in q["query"]["fields"]}
            assert fields <= set(columns[q["query"]["datasetName"]]), widget["name"]
            assert {c["fieldName"] for c in widget["spec"]["encodings"]["columns"]} <= fields
    assert {p["displayName"] for p in doc["pages"]} == {
        "ETL runs",
        "Failures and blockers",
        "Watermarks",
        "Data profiling",
    }


def test_rendered_file_is_the_definition():
    rendered = json.loads(sqlfiles.rendered()["dashboards/etl_monitor.lvdash.json"])
    assert rendered == dashboards.definition("main", "etl")


def test_publish_creates_then_updates_and_publishes(monitor):
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        first = monitor.publish_dashboard(w, warehouse_id="wh-1", parent_path="/Shared/etl")
        again = monitor.publish_dashboard(w, warehouse_id="wh-2", parent_path="/Shared/etl")
        assert first == again and len(emulator.dashboards) == 1
        assert (
            emulator.count("POST", "/api/2.0/lakeview/dashboards") == 3
        )  # one create, two publishes
        assert emulator.count("PATCH", "/api/2.0/lakeview/dashboards") == 1
        stored = emulator.dashboards[first]
        assert json.loads(stored["serialized_dashboard"]) == dashboards.definition(
            "main", monitor.schema
        )
        assert emulator.published[first]["warehouse_id"] == "wh-2"
