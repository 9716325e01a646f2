"""The Lakeview dashboard: its datasets run on the engine, its widgets follow the specs the
Lakeview editor exports, and publishing against the emulated workspace finds, updates and
publishes one dashboard, writing nothing when nothing changed."""

from __future__ import annotations

from etl_monitor.integrations import dashboards
from tests.emulator import DatabricksEmulator
from tests.helpers import register_hr
from tests.unit.test_dashboards import _stored, _widgets

LV = "/api/2.0/lakeview/dashboards"
# Spark simpleString -> the Lakeview column type a version-1 table declares for it.
SPARK_TO_COLUMN_TYPE = {
    "string": "string",
    "int": "integer",
    "bigint": "integer",
    "double": "float",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "datetime",
}


# -- the definition ------------------------------------------------------------------------------


def test_drift_page_waits_for_its_view_and_every_dataset_runs(monitor, spark):
    register_hr(monitor)
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        w.workspace.mkdirs("/Shared/etl")
        first = monitor.publish_dashboard(w, warehouse_id="wh1", parent_path="/Shared/etl")
        before = _stored(emulator, first)
        names = [d["name"] for d in before["datasets"]]
        assert "drift_alerts" not in names and len(names) == len(dashboards.DATASETS) - 1
        assert "Data profiling" not in {p["displayName"] for p in before["pages"]}
        assert all(w["queries"][0]["query"]["datasetName"] in names for w in _widgets(before))
        for dataset in before["datasets"]:
            (query,) = dataset["queryLines"]
            spark.sql(query).collect()  # every query runs before the unified views exist

        monitoring = monitor.monitoring(workspace_client=object())
        monitoring.setup()
        monitoring.create_unified_views()  # creates v_monitor_drift_alerts (empty)
        emulator.reset_log()
        again = monitor.publish_dashboard(w, warehouse_id="wh1", parent_path="/Shared/etl")
        after = _stored(emulator, again)
        assert again == first
        assert emulator.count("PATCH", LV) == 1 and emulator.count("POST", "/published") == 1
        assert emulator.count("POST", LV) == 1  # the publish only: no second create
    assert [d["name"] for d in after["datasets"]] == list(dashboards.DATASETS)
    assert {p["displayName"] for p in after["pages"]} == {
        "ETL runs",
        "Failures and blockers",
        "Watermarks",
        "Data profiling",
    }
    columns = {}
    for dataset in after["datasets"]:
        (query,) = dataset["queryLines"]
        df = spark.sql(query)
        df.collect()
        columns[dataset["name"]] = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    for widget in _widgets(after):
        (q,) = widget["queries"]
        source = columns[q["query"]["datasetName"]]
        fields = {f["name"] for f in q["query"]["fields"]}
        assert fields <= set(source), widget["name"]
        for column in widget["spec"]["encodings"]["columns"]:
            assert column["fieldName"] in fields
            # The declared column type is the type the engine gives the column.
            assert column["type"] == SPARK_TO_COLUMN_TYPE[source[column["fieldName"]]], (
                widget["name"],
                column["fieldName"],
            )
