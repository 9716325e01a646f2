"""The local Databricks emulator, driven by the real databricks-sdk WorkspaceClient.

SDK behaviours observed against the emulator (databricks-sdk 0.156):

* 404 -> NotFound (``ResourceDoesNotExist`` when error_code is RESOURCE_DOES_NOT_EXIST),
  403 -> PermissionDenied (its message gets the client config appended),
  409 RESOURCE_ALREADY_EXISTS -> ResourceAlreadyExists (a ResourceConflict).
  None of these is retried.
* 429 and 503 are retried by the SDK for every method, POST included, sleeping
  ``Retry-After`` plus up to one second of jitter, until ``retry_timeout_seconds``; then it
  raises the built-in TimeoutError chained to the last TooManyRequests error.
* 500 is NOT retried, not even for GET: it raises InternalError at once. The only exception
  is a message containing one of the SDK's "transient" phrases such as "Unexpected error",
  which is retried with a linear back-off (1 s, 2 s, ...).
* ``details`` with a ``google.rpc.ErrorInfo`` come back from ``get_error_info()``.
* ``list_refresh`` and ``list_monitor`` follow ``next_page_token``; the legacy
  ``list_refreshes`` is one answer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import (
    BadRequest,
    InternalError,
    InvalidParameterValue,
    InvalidState,
    NotFound,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceConflict,
    ResourceDoesNotExist,
    TooManyRequests,
    Unauthenticated,
)
from databricks.sdk.service.catalog import (
    ColumnTypeName,
    MonitorCronSchedule,
    MonitorInfoStatus,
    MonitorMetric,
    MonitorMetricType,
    MonitorRefreshInfoState,
    MonitorSnapshot,
    MonitorTimeSeries,
)
from databricks.sdk.service.dataquality import (
    AggregationGranularity,
    CronSchedule,
    DataProfilingConfig,
    DataProfilingCustomMetric,
    DataProfilingCustomMetricType,
    DataProfilingStatus,
    InferenceLogConfig,
    InferenceProblemType,
    Monitor,
    Refresh,
    RefreshState,
    SnapshotConfig,
    TimeSeriesConfig,
)

from tests.emulator import DatabricksEmulator

TABLE = "main.sales.orders"
OUTPUT = "main.monitoring"
DAY = AggregationGranularity.AGGREGATION_GRANULARITY_1_DAY


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[DatabricksEmulator]:
    """A running emulator with one table and an output schema, and no DATABRICKS_* env."""
    for key in [k for k in os.environ if k.startswith("DATABRICKS_")]:
        monkeypatch.delenv(key)
    with DatabricksEmulator() as srv:
        srv.add_table(TABLE, {"id": "bigint", "ts": "timestamp", "amount": "decimal(10,2)"})
        srv.add_schema(OUTPUT)
        yield srv
        assert srv.errors == []


@pytest.fixture
def w(server: DatabricksEmulator) -> WorkspaceClient:
    """A real WorkspaceClient bound to the emulator; the request log starts empty."""
    client = server.client()
    server.reset_log()
    return client


def time_series_monitor(server: DatabricksEmulator, **extra: object) -> Monitor:
    """A time-series monitor on TABLE writing to OUTPUT."""
    return Monitor(
        object_type="table",
        object_id=server.table_id(TABLE),
        data_profiling_config=DataProfilingConfig(
            output_schema_id=server.schema_id(OUTPUT),
            assets_dir="/Workspace/Shared/monitors/orders",
            time_series=TimeSeriesConfig(timestamp_column="ts", granularities=[DAY]),
            slicing_exprs=["amount > 100"],
            schedule=CronSchedule(quartz_cron_expression="0 0 6 * * ?", timezone_id="UTC"),
            **extra,
        ),
    )


# -- Unity Catalog ---------------------------------------------------------------------------


def test_tables_and_schemas(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    table = w.tables.get(TABLE)
    assert table.table_id == server.table_id(TABLE)
    assert (table.catalog_name, table.schema_name, table.name) == ("main", "sales", "orders")
    assert [(c.name, c.type_name, c.type_text, c.position) for c in table.columns or []] == [
        ("id", ColumnTypeName.LONG, "bigint", 0),
        ("ts", ColumnTypeName.TIMESTAMP, "timestamp", 1),
        ("amount", ColumnTypeName.DECIMAL, "decimal(10,2)", 2),
    ]
    schema = w.schemas.get(OUTPUT)
    assert (schema.schema_id, schema.catalog_name, schema.name) == (
        server.schema_id(OUTPUT),
        "main",
        "monitoring",
    )
    server.add_table("main.sales.customers", ["id", "name"])
    listed = w.tables.list(catalog_name="main", schema_name="sales")
    assert [t.full_name for t in listed] == ["main.sales.customers", TABLE]
    assert server.mutating_count() == 0


def test_unknown_table_and_schema_raise_not_found(
    server: DatabricksEmulator, w: WorkspaceClient
) -> None:
    with pytest.raises(NotFound) as err:
        w.tables.get("main.sales.nope")
    assert err.value.error_code == "TABLE_DOES_NOT_EXIST"
    with pytest.raises(NotFound) as err:
        w.schemas.get("main.nope")
    assert err.value.error_code == "SCHEMA_DOES_NOT_EXIST"
    server.remove_table(TABLE)
    with pytest.raises(NotFound):
        w.tables.get(TABLE)
    assert server.count("GET") == 3  # a 404 is not retried


# -- data-quality API ------------------------------------------------------------------------


def test_create_then_get_round_trips_and_omits_write_only_fields(
    server: DatabricksEmulator, w: WorkspaceClient
) -> None:
    sent = time_series_monitor(server, warehouse_id="wh-123", skip_builtin_dashboard=False)
    created = w.data_quality.create_monitor(sent)
    got = w.data_quality.get_monitor("table", server.table_id(TABLE))

    assert got == created
    config = got.data_profiling_config
    assert config is not None and sent.data_profiling_config is not None
    assert config.time_series == sent.data_profiling_config.time_series
    assert config.schedule == sent.data_profiling_config.schedule
    assert config.slicing_exprs == ["amount > 100"]
    assert config.output_schema_id == server.schema_id(OUTPUT)
    assert config.warehouse_id is None and config.skip_builtin_dashboard is None
    # created PENDING, read once more as PENDING (pending_reads=1), then ACTIVE
    assert config.status == DataProfilingStatus.DATA_PROFILING_STATUS_PENDING
    again = w.data_quality.get_monitor("table", server.table_id(TABLE)).data_profiling_config
    assert again is not None and again.status == DataProfilingStatus.DATA_PROFILING_STATUS_ACTIVE
    assert config.profile_metrics_table_name == "main.monitoring.orders_profile_metrics"
    assert config.drift_metrics_table_name == "main.monitoring.orders_drift_metrics"
    assert config.dashboard_id and config.monitor_version == 1

    # The SDK did send them; the server dropped them.
    (post,) = [r for r in server.requests if r.method == "POST"]
    assert post.body["data_profiling_config"]["warehouse_id"] == "wh-123"
    stored = server.monitors[server.table_id(TABLE)]["data_profiling_config"]
    assert "warehouse_id" not in stored and "skip_builtin_dashboard" not in stored


def test_inference_log_and_snapshot_configs(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    preds = server.add_table(
        "main.ml.predictions",
        {"ts": "timestamp", "model": "string", "pred": "double", "label": "double"},
    )
    inference = InferenceLogConfig(
        problem_type=InferenceProblemType.INFERENCE_PROBLEM_TYPE_REGRESSION,
        timestamp_column="ts",
        granularities=[AggregationGranularity.AGGREGATION_GRANULARITY_1_HOUR, DAY],
        prediction_column="pred",
        model_id_column="model",
        label_column="label",
    )
    output = server.schema_id(OUTPUT)
    w.data_quality.create_monitor(
        Monitor(
            object_type="table",
            object_id=preds,
            data_profiling_config=DataProfilingConfig(
                output_schema_id=output, inference_log=inference
            ),
        )
    )
    got = w.data_quality.get_monitor("table", preds).data_profiling_config
    assert got is not None and got.inference_log == inference
    assert got.profile_metrics_table_name == "main.monitoring.predictions_profile_metrics"

    snap = Monitor(
        object_type="table",
        object_id=server.table_id(TABLE),
        data_profiling_config=DataProfilingConfig(
            output_schema_id=output, snapshot=SnapshotConfig(), skip_builtin_dashboard=True
        ),
    )
    created = w.data_quality.create_monitor(snap).data_profiling_config
    assert created is not None and created.snapshot == SnapshotConfig()
    assert created.time_series is None and created.dashboard_id is None


def test_invalid_configs_are_rejected(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    bad_column = time_series_monitor(server)
    assert bad_column.data_profiling_config is not None
    bad_column.data_profiling_config.time_series = TimeSeriesConfig("nope", [DAY])
    with pytest.raises(BadRequest, match="Column 'nope' not found"):
        w.data_quality.create_monitor(bad_column)
    no_schema = time_series_monitor(server)
    assert no_schema.data_profiling_config is not None
    no_schema.data_profiling_config.output_schema_id = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(NotFound):
        w.data_quality.create_monitor(no_schema)
    with pytest.raises(ResourceDoesNotExist):
        w.data_quality.get_monitor("table", server.table_id(TABLE))
    assert server.monitors == {}


def test_second_create_raises_resource_already_exists(
    server: DatabricksEmulator, w: WorkspaceClient
) -> None:
    w.data_quality.create_monitor(time_series_monitor(server))
    with pytest.raises(ResourceAlreadyExists, match="Monitor already exists for table"):
        w.data_quality.create_monitor(time_series_monitor(server))

    # A monitor seeded directly on the server conflicts just the same.
    other = server.add_table("main.sales.returns", ["id", "ts"])
    server.add_monitor("main.sales.returns")
    with pytest.raises(ResourceConflict) as err:
        w.data_quality.create_monitor(
            Monitor(
                object_type="table",
                object_id=other,
                data_profiling_config=DataProfilingConfig(
                    output_schema_id=server.schema_id(OUTPUT), snapshot=SnapshotConfig()
                ),
            )
        )
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert server.mutating_count() == 3


def _active(server: DatabricksEmulator, w: WorkspaceClient, table_id: str) -> None:
    """Read the monitor until the emulator reports it ACTIVE (as a client polling would)."""
    for _ in range(server.pending_reads + 1):
        config = w.data_quality.get_monitor("table", table_id).data_profiling_config
    assert config is not None and config.status == DataProfilingStatus.DATA_PROFILING_STATUS_ACTIVE


def test_leaf_update_mask_keeps_fields_not_named(
    server: DatabricksEmulator, w: WorkspaceClient
) -> None:
    table_id = server.table_id(TABLE)
    metric = DataProfilingCustomMetric(
        name="big_orders",
        definition="count_if(`{{input_column}}` > 100)",
        input_columns=["amount"],
        output_data_type='{"type":"long"}',
        type=DataProfilingCustomMetricType.DATA_PROFILING_CUSTOM_METRIC_TYPE_AGGREGATE,
    )
    created = w.data_quality.create_monitor(time_series_monitor(server, custom_metrics=[metric]))
    assert created.data_profiling_config is not None
    change = time_series_monitor(server)  # no custom metrics, another cron, no slicing
    assert change.data_profiling_config is not None
    change.data_profiling_config.schedule = CronSchedule("0 0 7 * * ?", "Europe/Paris")
    change.data_profiling_config.slicing_exprs = None
    mask = (
        "data_profiling_config.schedule.quartz_cron_expression,data_profiling_config.slicing_exprs"
    )
    updated = w.data_quality.update_monitor("table", table_id, change, update_mask=mask)
    config = updated.data_profiling_config
    assert config is not None
    # only the named leaves changed: the time zone, custom metrics and assets dir are kept
    assert config.schedule == CronSchedule("0 0 7 * * ?", "UTC")
    assert config.slicing_exprs is None and config.custom_metrics == [metric]
    assert config.assets_dir == "/Workspace/Shared/monitors/orders"
    assert config.monitor_version == 2
    assert config.dashboard_id == created.data_profiling_config.dashboard_id
    assert config.status == DataProfilingStatus.DATA_PROFILING_STATUS_PENDING
    (patch,) = [r for r in server.requests if r.method == "PATCH"]
    assert patch.query == {"update_mask": mask}

    # a path that is not an updatable field: the real error, with an ErrorInfo
    for bad in ("object_id", "data_profiling_config.status", "data_profiling_config.nope"):
        with pytest.raises(InvalidParameterValue, match="Invalid update_mask path") as err:
            w.data_quality.update_monitor("table", table_id, change, update_mask=bad)
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
        assert [i.reason for i in err.value.get_error_info()] == ["INVALID_FIELD_MASK"]
    assert server.monitors[table_id]["data_profiling_config"]["monitor_version"] == 2

    server.delete_pending_reads = 0  # gone at once (DELETE_PENDING has its own test)
    w.data_quality.delete_monitor("table", table_id)
    with pytest.raises(NotFound):
        w.data_quality.get_monitor("table", table_id)
    with pytest.raises(NotFound):
        w.data_quality.delete_monitor("table", table_id)


def test_deleted_monitor_is_delete_pending_for_a_few_reads(
    server: DatabricksEmulator, w: WorkspaceClient
) -> None:
    table_id = server.table_id(TABLE)
    monitor = time_series_monitor(server)
    w.data_quality.create_monitor(monitor)
    w.data_quality.delete_monitor("table", table_id)
    assert server.delete_pending_reads == 2
    # a create over it is refused, an update too (neither counts as a read)
    with pytest.raises(ResourceAlreadyExists, match="already exists"):
        w.data_quality.create_monitor(monitor)
    with pytest.raises(InvalidState, match="being deleted"):
        w.data_quality.update_monitor(
            "table", table_id, monitor, update_mask="data_profiling_config.slicing_exprs"
        )
    for _ in range(2):
        config = w.data_quality.get_monitor("table", table_id).data_profiling_config
        assert config is not None
        assert config.status == DataProfilingStatus.DATA_PROFILING_STATUS_DELETE_PENDING
    with pytest.raises(NotFound):
        w.data_quality.get_monitor("table", table_id)
    created = w.data_quality.create_monitor(monitor).data_profiling_config
    assert created is not None and created.monitor_version == 1
    # the legacy API sees the same state
    w.quality_monitors.delete(table_name=TABLE)
    info = w.quality_monitors.get(table_name=TABLE)
    assert info.status == MonitorInfoStatus.MONITOR_STATUS_DELETE_PENDING


def test_immutable_changes_are_refused(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    table_id = server.table_id(TABLE)
    w.data_quality.create_monitor(time_series_monitor(server))
    other = server.add_schema("main.elsewhere")
    moved = time_series_monitor(server)
    assert moved.data_profiling_config is not None
    moved.data_profiling_config.output_schema_id = other
    with pytest.raises(InvalidParameterValue, match="output_schema_id is immutable") as err:
        w.data_quality.update_monitor(
            "table", table_id, moved, update_mask="data_profiling_config.output_schema_id"
        )
    (info,) = err.value.get_error_info()
    assert (info.reason, info.metadata) == (
        "IMMUTABLE_FIELD",
        {"field": "data_profiling_config.output_schema_id"},
    )
    snap = time_series_monitor(server)
    assert snap.data_profiling_config is not None
    snap.data_profiling_config.time_series = None
    snap.data_profiling_config.snapshot = SnapshotConfig()
    for mask in (
        "data_profiling_config",
        "data_profiling_config.time_series,data_profiling_config.snapshot",
        "*",
    ):
        with pytest.raises(InvalidParameterValue, match="profile type"):
            w.data_quality.update_monitor("table", table_id, snap, update_mask=mask)
    # the legacy API refuses the same changes on the same monitor
    with pytest.raises(InvalidParameterValue, match="output_schema_id is immutable"):
        w.quality_monitors.update(
            table_name=TABLE,
            output_schema_name="main.elsewhere",
            time_series=MonitorTimeSeries(timestamp_col="ts", granularities=["1 day"]),
        )
    with pytest.raises(InvalidParameterValue, match="profile type"):
        w.quality_monitors.update(
            table_name=TABLE, output_schema_name=OUTPUT, snapshot=MonitorSnapshot()
        )
    # a broken monitor cannot be updated at all
    server.set_monitor_status(TABLE, "ERROR")
    with pytest.raises(InvalidState, match="DATA_PROFILING_STATUS_ERROR"):
        w.data_quality.update_monitor(
            "table",
            table_id,
            time_series_monitor(server),
            update_mask="data_profiling_config.slicing_exprs",
        )
    stored = server.monitors[table_id]["data_profiling_config"]
    assert stored["output_schema_id"] == server.schema_id(OUTPUT) and "time_series" in stored
    assert stored["monitor_version"] == 1


def test_one_store_for_both_apis(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    table_id = server.table_id(TABLE)
    server.pending_reads = 0
    w.quality_monitors.create(
        table_name=TABLE,
        output_schema_name=OUTPUT,
        assets_dir="/Workspace/Shared/monitors/orders",
        time_series=MonitorTimeSeries(timestamp_col="ts", granularities=["1 day", "1 hour"]),
        schedule=MonitorCronSchedule("0 0 6 * * ?", "UTC"),
        custom_metrics=[
            MonitorMetric(
                name="m",
                definition="avg(`{{input_column}}`)",
                input_columns=["amount"],
                output_data_type='{"type":"double"}',
                type=MonitorMetricType.CUSTOM_METRIC_TYPE_AGGREGATE,
            )
        ],
    )
    # the data-quality API sees the legacy monitor, translated
    config = w.data_quality.get_monitor("table", table_id).data_profiling_config
    assert config is not None
    assert config.output_schema_id == server.schema_id(OUTPUT)
    assert config.time_series == TimeSeriesConfig(
        "ts", [DAY, AggregationGranularity.AGGREGATION_GRANULARITY_1_HOUR]
    )
    assert config.custom_metrics is not None and config.custom_metrics[0].type == (
        DataProfilingCustomMetricType.DATA_PROFILING_CUSTOM_METRIC_TYPE_AGGREGATE
    )
    assert config.status == DataProfilingStatus.DATA_PROFILING_STATUS_ACTIVE
    with pytest.raises(ResourceAlreadyExists):
        w.data_quality.create_monitor(time_series_monitor(server))
    # an update through data-quality shows through the legacy API
    change = time_series_monitor(server)
    w.data_quality.update_monitor(
        "table", table_id, change, update_mask="data_profiling_config.slicing_exprs"
    )
    legacy = w.quality_monitors.get(table_name=TABLE)
    assert legacy.slicing_exprs == ["amount > 100"] and legacy.monitor_version == 2
    assert legacy.time_series == MonitorTimeSeries(
        timestamp_col="ts", granularities=["1 day", "1 hour"]
    )
    assert legacy.output_schema_name == OUTPUT
    assert legacy.status == MonitorInfoStatus.MONITOR_STATUS_ACTIVE
    assert (
        server.legacy_monitors[TABLE]["custom_metrics"][0]["type"] == "CUSTOM_METRIC_TYPE_AGGREGATE"
    )
    # refreshes are shared too, and a delete through one API removes it from both
    refresh = w.quality_monitors.run_refresh(table_name=TABLE)
    assert [r.refresh_id for r in w.data_quality.list_refresh("table", table_id)] == [
        refresh.refresh_id
    ]
    server.delete_pending_reads = 0
    w.data_quality.delete_monitor("table", table_id)
    with pytest.raises(ResourceDoesNotExist):
        w.quality_monitors.get(table_name=TABLE)
    assert server.legacy_monitors == {} and server.monitors == {}


def test_pending_until_read_and_refresh_refused_while_pending(
    server: DatabricksEmulator, w: WorkspaceClient
) -> None:
    table_id = server.table_id(TABLE)
    server.pending_reads = 2
    created = w.data_quality.create_monitor(time_series_monitor(server))
    assert created.data_profiling_config is not None
    assert created.data_profiling_config.status == DataProfilingStatus.DATA_PROFILING_STATUS_PENDING
    assert created.data_profiling_config.dashboard_id
    with pytest.raises(InvalidState, match="PENDING") as err:
        w.data_quality.create_refresh(
            "table", table_id, Refresh(object_type="table", object_id=table_id)
        )
    assert [i.reason for i in err.value.get_error_info()] == ["MONITOR_NOT_ACTIVE"]
    with pytest.raises(InvalidState):
        w.quality_monitors.run_refresh(table_name=TABLE)
    statuses = [w.quality_monitors.get(table_name=TABLE).status for _ in range(3)]
    assert statuses == [
        MonitorInfoStatus.MONITOR_STATUS_PENDING,
        MonitorInfoStatus.MONITOR_STATUS_PENDING,
        MonitorInfoStatus.MONITOR_STATUS_ACTIVE,
    ]
    assert w.quality_monitors.run_refresh(table_name=TABLE).refresh_id is not None


def test_refresh_lists_are_paged_like_the_sdk_expects(
    server: DatabricksEmulator, w: WorkspaceClient
) -> None:
    table_id = server.table_id(TABLE)
    server.pending_reads = 0
    w.data_quality.create_monitor(time_series_monitor(server))
    started = [
        w.data_quality.create_refresh(
            "table", table_id, Refresh(object_type="table", object_id=table_id)
        ).refresh_id
        for _ in range(45)
    ]
    server.reset_log()
    listed = [r.refresh_id for r in w.data_quality.list_refresh("table", table_id)]
    assert listed == started[::-1]  # newest first, every page followed
    assert server.count("GET", "/refreshes") == 3  # pages of 20, 20 and 5
    pages = [r.query for r in server.requests]
    assert pages == [{}, {"page_token": "20"}, {"page_token": "40"}]
    small = list(w.data_quality.list_refresh("table", table_id, page_size=40))
    assert len(small) == 45 and server.count("GET", "/refreshes") == 5
    legacy = w.quality_monitors.list_refreshes(table_name=TABLE).refreshes or []
    assert [r.refresh_id for r in legacy] == started[::-1][:25]  # the 25 most recent
    other = server.add_table("main.sales.returns", ["id"])
    server.add_monitor("main.sales.returns")
    assert {m.object_id for m in w.data_quality.list_monitor(page_size=1)} == {table_id, other}


def test_refresh_states_advance_to_success(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    table_id = server.table_id(TABLE)
    w.data_quality.create_monitor(time_series_monitor(server))
    _active(server, w, table_id)
    refresh = w.data_quality.create_refresh(
        "table", table_id, Refresh(object_type="table", object_id=table_id)
    )
    assert refresh.state == RefreshState.MONITOR_REFRESH_STATE_PENDING
    assert refresh.refresh_id is not None and refresh.start_time_ms
    states = [
        w.data_quality.get_refresh("table", table_id, refresh.refresh_id).state for _ in range(3)
    ]
    assert states == [
        RefreshState.MONITOR_REFRESH_STATE_RUNNING,
        RefreshState.MONITOR_REFRESH_STATE_SUCCESS,
        RefreshState.MONITOR_REFRESH_STATE_SUCCESS,
    ]
    done = w.data_quality.get_refresh("table", table_id, refresh.refresh_id)
    assert done.end_time_ms is not None and done.end_time_ms >= done.start_time_ms
    listed = list(w.data_quality.list_refresh("table", table_id))
    assert [r.refresh_id for r in listed] == [refresh.refresh_id]

    server.refresh_states = ("PENDING", "FAILED")
    failing = w.data_quality.create_refresh(
        "table", table_id, Refresh(object_type="table", object_id=table_id)
    )
    assert failing.refresh_id is not None
    failed = w.data_quality.get_refresh("table", table_id, failing.refresh_id)
    assert failed.state == RefreshState.MONITOR_REFRESH_STATE_FAILED and failed.message
    with pytest.raises(ValueError, match="refresh states"):
        server.refresh_states = ("DONE",)


# -- legacy quality-monitors API -------------------------------------------------------------


def test_legacy_quality_monitors(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    series = MonitorTimeSeries(timestamp_col="ts", granularities=["1 day"])
    created = w.quality_monitors.create(
        table_name=TABLE,
        output_schema_name=OUTPUT,
        assets_dir="/Workspace/Shared/monitors/orders",
        time_series=series,
        warehouse_id="wh-123",
        skip_builtin_dashboard=False,
    )
    got = w.quality_monitors.get(table_name=TABLE)
    assert got == created
    assert got.time_series == series and got.status == MonitorInfoStatus.MONITOR_STATUS_PENDING
    assert got.profile_metrics_table_name == "main.monitoring.orders_profile_metrics"
    assert got.drift_metrics_table_name == "main.monitoring.orders_drift_metrics"
    assert got.assets_dir == "/Workspace/Shared/monitors/orders" and got.monitor_version == 1
    assert "warehouse_id" not in server.legacy_monitors[TABLE]

    with pytest.raises(ResourceAlreadyExists):
        w.quality_monitors.create(
            table_name=TABLE, output_schema_name=OUTPUT, assets_dir="/x", snapshot=MonitorSnapshot()
        )

    updated = w.quality_monitors.update(
        table_name=TABLE, output_schema_name=OUTPUT, time_series=series, slicing_exprs=["id"]
    )
    assert updated.slicing_exprs == ["id"] and updated.time_series == series
    assert updated.monitor_version == 2 and updated.assets_dir == got.assets_dir
    assert updated.status == MonitorInfoStatus.MONITOR_STATUS_PENDING
    assert (
        w.quality_monitors.get(table_name=TABLE).status == MonitorInfoStatus.MONITOR_STATUS_PENDING
    )
    assert (
        w.quality_monitors.get(table_name=TABLE).status == MonitorInfoStatus.MONITOR_STATUS_ACTIVE
    )

    refresh = w.quality_monitors.run_refresh(table_name=TABLE)
    assert refresh.state == MonitorRefreshInfoState.PENDING
    states = [
        w.quality_monitors.get_refresh(table_name=TABLE, refresh_id=refresh.refresh_id).state
        for _ in range(2)
    ]
    assert states == [MonitorRefreshInfoState.RUNNING, MonitorRefreshInfoState.SUCCESS]
    assert [
        r.refresh_id for r in w.quality_monitors.list_refreshes(table_name=TABLE).refreshes or []
    ] == [refresh.refresh_id]

    server.delete_pending_reads = 0
    w.quality_monitors.delete(table_name=TABLE)
    with pytest.raises(NotFound):
        w.quality_monitors.get(table_name=TABLE)
    with pytest.raises(NotFound) as err:
        w.quality_monitors.get(table_name="main.sales.nope")
    assert err.value.error_code == "TABLE_DOES_NOT_EXIST"


def test_legacy_monitor_seeded_on_server(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    server.add_legacy_monitor(TABLE)
    assert w.quality_monitors.get(table_name=TABLE).snapshot == MonitorSnapshot()
    with pytest.raises(ResourceAlreadyExists):
        w.quality_monitors.create(
            table_name=TABLE, output_schema_name=OUTPUT, assets_dir="/x", snapshot=MonitorSnapshot()
        )
    assert server.mutating_count() == 1


# -- fault injection -------------------------------------------------------------------------


def test_429_twice_is_retried_transparently(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    fault = server.fail("GET", f"/tables/{TABLE}", 429, "REQUEST_LIMIT_EXCEEDED", times=2)
    assert w.tables.get(TABLE).table_id == server.table_id(TABLE)
    assert server.count("GET", f"/tables/{TABLE}") == 3
    assert (fault.hits, fault.remaining) == (2, 0)


def test_429_on_create_is_retried_and_creates_once(
    server: DatabricksEmulator, w: WorkspaceClient
) -> None:
    server.fail("POST", "/data-quality/v1/monitors", 429, "REQUEST_LIMIT_EXCEEDED")
    w.data_quality.create_monitor(time_series_monitor(server))
    assert server.mutating_count() == 2
    assert list(server.monitors) == [server.table_id(TABLE)]


def test_persistent_429_ends_in_timeout(server: DatabricksEmulator) -> None:
    w = server.client(retry_timeout_seconds=1)
    server.fail("GET", "/tables/", 429, "REQUEST_LIMIT_EXCEEDED", times=None)
    with pytest.raises(TimeoutError) as err:
        w.tables.get(TABLE)
    assert isinstance(err.value.__cause__, TooManyRequests)
    assert server.count("GET", "/tables/") >= 2


def test_403_raises_permission_denied(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    server.fail("POST", "/monitors", 403, "PERMISSION_DENIED", "User lacks MANAGE on table.")
    with pytest.raises(PermissionDenied, match="User lacks MANAGE"):
        w.data_quality.create_monitor(time_series_monitor(server))
    assert server.mutating_count() == 1 and server.monitors == {}


def test_500_raises_internal_error_without_retry(
    server: DatabricksEmulator, w: WorkspaceClient
) -> None:
    # The SDK does not retry a plain 500, even for an idempotent GET.
    server.fail("GET", f"/tables/{TABLE}", 500, "INTERNAL_ERROR", "Backend exploded.", times=2)
    with pytest.raises(InternalError, match="Backend exploded"):
        w.tables.get(TABLE)
    assert server.count("GET") == 1
    server.clear_faults()

    server.fail("POST", "/monitors", 500, "INTERNAL_ERROR", "Backend exploded.")
    with pytest.raises(InternalError):
        w.data_quality.create_monitor(time_series_monitor(server))
    assert server.monitors == {}
    # 503 is retried like 429 (Retry-After honoured); a fault for another method is ignored.
    server.fail("GET", "/schemas/", 503, "TEMPORARILY_UNAVAILABLE")
    server.fail("DELETE", "/schemas/", 500, "INTERNAL_ERROR")
    assert w.schemas.get(OUTPUT).name == "monitoring"
    assert server.count("GET", "/schemas/") == 2


def test_wrong_token_is_unauthenticated(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    server.token = "rotated"
    with pytest.raises(Unauthenticated):
        w.tables.get(TABLE)


def test_mutating_count_and_log(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    table_id = server.table_id(TABLE)
    server.pending_reads = 0  # ACTIVE at once: the refresh below is accepted
    w.tables.get(TABLE)
    w.data_quality.create_monitor(time_series_monitor(server))
    w.data_quality.get_monitor("table", table_id)
    w.data_quality.create_refresh(
        "table", table_id, Refresh(object_type="table", object_id=table_id)
    )
    w.data_quality.delete_monitor("table", table_id)
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", f"/api/2.1/unity-catalog/tables/{TABLE}"),
        ("POST", "/api/data-quality/v1/monitors"),
        ("GET", f"/api/data-quality/v1/monitors/table/{table_id}"),
        ("POST", f"/api/data-quality/v1/monitors/table/{table_id}/refreshes"),
        ("DELETE", f"/api/data-quality/v1/monitors/table/{table_id}"),
    ]
    assert server.mutating_count() == 3
    assert server.count("GET") == 2
    assert server.count(path_contains="/data-quality/") == 4
    server.reset_log()
    assert server.requests == [] and server.mutating_count() == 0


def test_many_tables_concurrently(server: DatabricksEmulator, w: WorkspaceClient) -> None:
    names = [f"main.bulk.t{i:03d}" for i in range(250)]
    ids = {name: server.add_table(name, ["id", "ts"]) for name in names}
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = dict(zip(names, pool.map(lambda n: w.tables.get(n).table_id, names), strict=True))
    assert got == ids
    assert len(list(w.tables.list(catalog_name="main", schema_name="bulk"))) == 250
    assert server.count("GET") == 251
    assert time.monotonic() - started < 10
