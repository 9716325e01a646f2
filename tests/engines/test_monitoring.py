"""The monitoring submodule against an emulated workspace (real databricks-sdk) and the embedded engine."""

from __future__ import annotations

import pytest

from etl_monitor import InvalidArgumentError
from etl_monitor.monitoring import MonitoringFramework, MonitoringPolicy, provision
from tests.emulator import DatabricksEmulator
from tests.helpers import rows
from tests.schemas import copied
from tests.unit.test_monitoring import COLUMNS

#: A custom metric set on a monitor outside this library, which updates must keep.
CUSTOM_METRIC = {
    "name": "big",
    "definition": "count_if(`{{input_column}}` > 100)",
    "input_columns": ["amount"],
    "output_data_type": '{"type":"long"}',
    "type": "DATA_PROFILING_CUSTOM_METRIC_TYPE_AGGREGATE",
}


@pytest.fixture(scope="module")
def emulator():
    with DatabricksEmulator() as emu:
        yield emu


@pytest.fixture
def mon(spark, catalog: str, emulator: DatabricksEmulator) -> MonitoringFramework:
    """A monitoring framework on a fresh schema; the emulated workspace has main.<schema>_src tables
    and the output schema <catalog>.<schema>_mon."""
    monitor = copied(spark, catalog, "monitoring", lambda t: t.monitoring().setup())
    src = f"main.{monitor.schema}_src"
    emulator.add_schema(src)
    # The metric tables live where the engine can hold them (spark_catalog on delta-spark).
    out = f"{catalog}.{monitor.schema}_mon"
    emulator.add_schema(out)
    for name in ("orders", "churn", "stores"):
        emulator.add_table(f"{src}.{name}", COLUMNS)
    emulator.reset_log()
    emulator.clear_faults()
    m = monitor.monitoring(emulator.client())
    m.src, m.out = src, out  # type: ignore[attr-defined]
    return m


def _register(m: MonitoringFramework, **overrides) -> None:
    """The sales group and three tables, the tables in one statement (`register_tables`)."""
    m.register_group("sales", ["sales-team@example.com"], 0.3, owner="Sales")
    m.register_tables(
        [
            {
                "table_name": f"{m.src}.orders",
                "profile_type": "TIMESERIES",
                "timestamp_column": "ts",
                "granularities": ["1 day"],
                "monitor_group": "sales",
                "slicing_exprs": ["region"],
                "output_schema_name": m.out,
                "owner": "ops",
                "runbook_url": "https://runbooks.example.com/orders",
                **overrides,
            },
            {
                "table_name": f"{m.src}.churn",
                "profile_type": "INFERENCE",
                "timestamp_column": "ts",
                "granularities": "1 day",
                "prediction_column": "pred",
                "label_column": "label",
                "model_id_column": "model",
                "problem_type": "PROBLEM_TYPE_CLASSIFICATION",
                "output_schema_name": m.out,
            },
            {"table_name": f"{m.src}.stores", "output_schema_name": m.out},
        ]
    )


def test_setup_is_idempotent(mon: MonitoringFramework):
    again = mon.setup()
    assert again.tables_created == [] and again.views == ["ETLmonitorState"]


def test_create_then_unchanged_rerun_makes_no_mutating_call(mon: MonitoringFramework, emulator):
    _register(mon)
    report = mon.apply()
    assert (report.tables_discovered, report.monitors_created, report.monitors_failed) == (3, 3, 0)
    assert emulator.count("POST", "/api/data-quality/v1/monitors") == 3
    sent = next(
        m for m in emulator.monitors.values() if m["data_profiling_config"].get("time_series")
    )
    cfg = sent["data_profiling_config"]
    assert cfg["time_series"] == {
        "timestamp_column": "ts",
        "granularities": ["AGGREGATION_GRANULARITY_1_DAY"],
    }
    assert cfg["slicing_exprs"] == ["region"]
    assert cfg["notification_settings"]["on_failure"]["email_addresses"] == [
        "sales-team@example.com"
    ]
    emulator.reset_log()
    fresh = MonitoringFramework(
        mon.spark, mon.catalog, mon.schema, emulator.client()
    )  # a new process, no cache
    again = fresh.apply()
    assert [o.action for o in again.outcomes] == ["unchanged"] * 3
    assert emulator.mutating_count() == 0
    state = fresh.state()
    assert state[f"{mon.src}.orders"]["ProfileMetricsTable"] == f"{mon.out}.orders_profile_metrics"
    # still PENDING on this read: a state, not a difference
    assert state[f"{mon.src}.orders"]["MonitorStatus"] == "DATA_PROFILING_STATUS_PENDING"
    assert state[f"{mon.src}.orders"]["LastMessage"] == "matches the config (monitor PENDING)"
    third = fresh.apply(unified_views=False)
    assert [o.action for o in third.outcomes] == ["unchanged"] * 3
    assert emulator.mutating_count() == 0
    assert fresh.state()[f"{mon.src}.orders"]["MonitorStatus"] == "DATA_PROFILING_STATUS_ACTIVE"


def test_config_change_updates_only_that_monitor(mon: MonitoringFramework, emulator):
    _register(mon)
    mon.apply()
    emulator.reset_log()
    mon.register_table(f"{mon.src}.stores", output_schema_name=mon.out, slicing_exprs=["region"])
    plan = mon.plan()
    assert {o.table_name.split(".")[-1]: (o.action, o.changes) for o in plan.outcomes}[
        "stores"
    ] == ("update", ["slicing_exprs"])
    assert emulator.mutating_count() == 0  # plan makes no change
    report = mon.apply()
    assert report.monitors_updated == 1 and report.monitors_created == 0
    assert emulator.count("PATCH") == 1 and emulator.mutating_count() == 1


def test_already_exists_is_reconciled_by_reading_the_monitor_back(
    mon: MonitoringFramework, emulator
):
    _register(mon)
    plan = mon.plan()  # no monitor yet: create everywhere
    assert [o.action for o in plan.outcomes] == ["create"] * 3
    # meanwhile someone creates the stores monitor, with another slicing
    emulator.add_monitor(
        f"{mon.src}.stores",
        {
            "output_schema_id": emulator.schema_id(mon.out),
            "assets_dir": "/Workspace/Users/someone/stores",
            "snapshot": {},
            "slicing_exprs": ["amount > 0"],
        },
    )
    emulator.reset_log()
    outcomes = {
        o.table_name.split(".")[-1]: o for o in provision.apply_plan(mon.api, plan, parallelism=1)
    }
    stores = outcomes["stores"]
    assert (stores.action, stores.reason) == ("update", "already existed; updated slicing_exprs")
    (patch,) = [r for r in emulator.requests if r.method == "PATCH"]
    assert patch.query == {"update_mask": "data_profiling_config.slicing_exprs"}
    config = emulator.monitors[emulator.table_id(f"{mon.src}.stores")]["data_profiling_config"]
    assert "slicing_exprs" not in config
    assert config["assets_dir"] == "/Workspace/Users/someone/stores"  # not ours to change
    assert [outcomes[t].action for t in ("orders", "churn")] == ["create", "create"]


def test_already_exists_that_cannot_be_read_back_is_an_error(mon: MonitoringFramework, emulator):
    _register(mon)
    emulator.fail(
        "POST",
        "/api/data-quality/v1/monitors",
        409,
        "RESOURCE_ALREADY_EXISTS",
        "Monitor already exists",
        times=1,
    )
    report = mon.apply(unified_views=False)
    assert (report.monitors_created, report.monitors_failed) == (2, 1)
    (failed,) = [o for o in report.outcomes if o.action == "error"]
    assert failed.reason == (
        "create answered that the monitor already exists, but it cannot be read back"
    )
    assert [r["Message"] for r in rows(mon, "ETLmonitorLog", Action="error")] == [failed.reason]


def test_failures_are_isolated_and_recorded(mon: MonitoringFramework, emulator):
    _register(mon)
    emulator.fail(
        "POST",
        "/api/data-quality/v1/monitors",
        403,
        "PERMISSION_DENIED",
        "no MANAGE on table",
        times=1,
    )
    report = mon.apply()
    assert (report.monitors_created, report.monitors_failed) == (2, 1)
    (failed,) = [o for o in report.outcomes if o.action == "error"]
    assert "PermissionDenied" in failed.reason and "no MANAGE on table" in failed.reason
    logged = rows(mon, "ETLmonitorLog", Action="error")
    assert [r["Message"] for r in logged] == [failed.reason]
    # the next run creates the one that failed
    assert mon.apply().monitors_created == 1


def test_transient_errors_are_retried(mon: MonitoringFramework, emulator):
    _register(mon)
    emulator.fail(
        "POST", "/api/data-quality/v1/monitors", 429, "REQUEST_LIMIT_EXCEEDED", "slow down", times=3
    )
    emulator.fail("POST", "/api/data-quality/v1/monitors", 500, "INTERNAL_ERROR", "boom", times=1)
    report = mon.apply()
    assert (report.monitors_created, report.monitors_failed) == (3, 0)


def test_legacy_api(mon: MonitoringFramework, emulator):
    legacy = MonitoringFramework(
        mon.spark, mon.catalog, mon.schema, emulator.client(), api="quality_monitors"
    )
    legacy.src, legacy.out = mon.src, mon.out  # type: ignore[attr-defined]
    _register(legacy)
    report = legacy.apply()
    assert report.monitors_created == 3 and emulator.count("POST", "/monitor") == 3
    info = emulator.legacy_monitors[f"{mon.src}.orders"]
    assert info["time_series"] == {"timestamp_col": "ts", "granularities": ["1 day"]}
    emulator.reset_log()
    assert [o.action for o in legacy.apply().outcomes] == ["unchanged"] * 3
    assert emulator.mutating_count() == 0


def test_inactive_rows_reported_and_deleted_only_when_asked(mon: MonitoringFramework, emulator):
    _register(mon)
    mon.apply()
    mon.register_table(f"{mon.src}.stores", output_schema_name=mon.out, is_active=False)
    emulator.reset_log()
    report = mon.apply()
    assert {o.table_name.split(".")[-1]: o.action for o in report.outcomes}[
        "stores"
    ] == "deactivated"
    assert emulator.mutating_count() == 0
    deleted = mon.apply(delete_inactive=True)
    assert {o.table_name.split(".")[-1]: o.action for o in deleted.outcomes}["stores"] == "delete"
    assert emulator.count("DELETE") == 1


def test_plan_reports_each_skip_and_error_reason(mon: MonitoringFramework, emulator):
    mon.policy = MonitoringPolicy(
        forbidden_patterns=[r"_tmp$"],
        require_owner=False,
        max_monitors=2,
        require_baseline_for_inference=True,
    )
    emulator.add_table(f"{mon.src}.scratch_tmp", COLUMNS)
    other = f"main.{mon.schema}_other"
    emulator.add_schema(other)
    emulator.add_table(f"{other}.orders", COLUMNS)
    mon.register_table(
        f"{mon.src}.orders",
        profile_type="TIMESERIES",
        timestamp_column="when",
        granularities="1 day",
        output_schema_name=mon.out,
    )
    mon.register_table(f"{mon.src}.scratch_tmp", output_schema_name=mon.out)
    mon.register_table(
        f"{mon.src}.churn",
        profile_type="INFERENCE",
        timestamp_column="ts",
        granularities="1 day",
        prediction_column="pred",
        model_id_column="model",
        problem_type="REGRESSION",
        output_schema_name=mon.out,
    )
    mon.register_table(f"{mon.src}.missing", output_schema_name=mon.out)
    mon.register_table(
        f"{other}.orders", output_schema_name=mon.out
    )  # same leaf as src.orders, same output
    mon.register_table(f"{mon.src}.stores", output_schema_name=f"{mon.out}", is_active=False)
    for n in range(3):
        emulator.add_table(f"{mon.src}.extra{n}", COLUMNS)
        mon.register_table(f"{mon.src}.extra{n}", output_schema_name=mon.out)
    plan = {o.table_name.split(".", 1)[1]: (o.action, o.reason) for o in mon.plan().outcomes}
    s = mon.schema
    assert plan[f"{s}_src.scratch_tmp"] == (
        "error",
        "policy: name matches forbidden pattern '_tmp$'",
    )
    assert plan[f"{s}_src.churn"] == (
        "error",
        "policy: an INFERENCE monitor needs a baseline_table_name",
    )
    assert plan[f"{s}_src.missing"] == ("error", f"table main.{s}_src.missing not found")
    assert plan[f"{s}_src.orders"][0] == "error" and "same leaf name" in plan[f"{s}_src.orders"][1]
    assert plan[f"{s}_other.orders"][0] == "error"
    assert plan[f"{s}_src.stores"] == ("skip", "inactive")
    quota = sorted(a for k, (a, _) in plan.items() if "extra" in k)
    assert quota == ["create", "create", "skip"]
    assert "quota of 2 monitors" in next(
        r for k, (a, r) in plan.items() if a == "skip" and "extra" in k
    )
    mon.policy = MonitoringPolicy()
    mon.register_table(f"{other}.orders", output_schema_name=other)
    plan = {o.table_name.split(".", 1)[1]: (o.action, o.reason) for o in mon.plan().outcomes}
    assert plan[f"{s}_src.orders"] == (
        "error",
        f"column 'when' (from timestamp_column) not found in main.{s}_src.orders; available: "
        f"{sorted(COLUMNS)}",
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"table_name": "orders"}, "table_name"),
        ({"table_name": "a.b.c", "profile_type": "STREAM"}, "profile_type"),
        (
            {"table_name": "a.b.c", "profile_type": "TIMESERIES"},
            "needs timestamp_column, granularities",
        ),
        ({"table_name": "a.b.c", "granularities": ["2 days"]}, "granularities"),
        ({"table_name": "a.b.c", "runbook_url": "javascript:alert(1)"}, "runbook_url"),
        ({"table_name": "a.b.c", "drift_threshold": 3}, "drift_threshold"),
        ({"table_name": "a.b.c", "monitor_group": "all"}, "reserved"),
        ({"table_name": "a.b.c", "timestamp_column": "ts; DROP"}, "timestamp_column"),
    ],
)
def test_register_table_validates_before_writing(mon: MonitoringFramework, kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        mon.register_table(**kwargs)
    assert rows(mon, "ETLmonitorTables") == []


def test_register_group_validates(mon: MonitoringFramework):
    with pytest.raises(InvalidArgumentError, match="notification_emails"):
        mon.register_group("ops", ["not-an-address"])
    with pytest.raises(InvalidArgumentError, match="notification_emails"):
        mon.register_group("ops", [f"a{i}@x.com" for i in range(6)])
    assert rows(mon, "ETLmonitorGroups") == []


def test_import_orchestrator_yaml(mon: MonitoringFramework, tmp_path):
    config = tmp_path / "dpo.yaml"
    config.write_text(f"""
catalog_name: main
warehouse_id: abc
profile_defaults:
  profile_type: INFERENCE
  output_schema_name: {mon.out}
  prediction_column: pred
  model_id_column: model
  timestamp_column: ts
  problem_type: PROBLEM_TYPE_CLASSIFICATION
  granularity: "1 day"
alerting:
  drift_threshold: 0.25
  default_notifications: ["ops@example.com"]
  group_notifications:
    ml_team: ["ml@example.com"]
policy:
  forbidden_patterns: [".*_tmp$"]
monitored_tables:
  {mon.src}.churn:
    label_column: label
    monitor_group: ml_team
    owner: "Ann O'Hara"
  {mon.src}.orders:
    profile_type: TIMESERIES
""")
    assert mon.import_yaml(config) == [f"{mon.src}.churn", f"{mon.src}.orders"]
    tables = {r["TableName"]: r for r in rows(mon, "ETLmonitorTables")}
    churn = tables[f"{mon.src}.churn"]
    assert (
        churn["ProfileType"],
        churn["LabelColumn"],
        churn["Granularities"],
        churn["Owner"],
        churn["ProblemType"],
    ) == ("INFERENCE", "label", "1 day", "Ann O'Hara", "CLASSIFICATION")
    assert tables[f"{mon.src}.orders"]["ProfileType"] == "TIMESERIES"
    groups = {r["GroupName"]: r for r in rows(mon, "ETLmonitorGroups")}
    assert (
        groups["ml_team"]["NotificationEmails"] == "ml@example.com"
        and groups["ml_team"]["DriftThreshold"] == 0.25
    )
    assert groups["default"]["NotificationEmails"] == "ops@example.com"
    assert mon.policy.forbidden_patterns == [".*_tmp$"]


def test_refresh_and_wait(mon: MonitoringFramework, emulator):
    _register(mon)
    report = mon.apply(refresh=True, wait=True, poll=0.01)
    states = {
        r["TableName"].split(".")[-1]: r["RefreshState"] for r in rows(mon, "ETLmonitorState")
    }
    assert states == {"orders": "SUCCESS", "churn": "SUCCESS", "stores": "SUCCESS"}
    assert report.monitors_created == 3


def test_coverage(mon: MonitoringFramework, emulator):
    _register(mon)
    mon.apply()
    emulator.add_table(f"{mon.src}.unwatched", COLUMNS)
    emulator.remove_table(f"{mon.src}.stores")
    report = mon.coverage([mon.src], stale_days=30)
    assert report.unmonitored == [f"{mon.src}.unwatched"]
    assert report.orphans == [
        {"table_name": f"{mon.src}.stores", "in_config": True, "has_monitor": True}
    ]
    assert report.stale == []
    stale = mon.coverage([mon.src], stale_days=0)
    assert sorted(s["table_name"] for s in stale.stale) == sorted(
        f"{mon.src}.{t}" for t in ("churn", "orders", "stores")
    )


def test_unified_views_over_metric_tables(mon: MonitoringFramework, spark):
    from tests.helpers import create_metric_tables

    _register(mon)  # orders (group sales, threshold 0.3), churn and stores (group default)
    mon.apply(unified_views=False)
    create_metric_tables(spark, mon.out, "orders", js_distance=0.45, rows=2)
    create_metric_tables(
        spark, mon.out, "churn", js_distance=0.1, extra="`my_custom_metric` DOUBLE"
    )
    # stores: its metric tables do not exist yet
    report = mon.create_unified_views()
    assert report.left_out == {
        f"{mon.src}.stores": f"metric tables not found yet: {mon.out}.stores_profile_metrics, "
        f"{mon.out}.stores_drift_metrics"
    }
    assert report.included == {
        "all": [f"{mon.src}.churn", f"{mon.src}.orders"],
        "default": [f"{mon.src}.churn"],
        "sales": [f"{mon.src}.orders"],
    }
    drift = rows(mon, "v_monitor_drift_all")
    assert len(drift) == 3
    orders = next(r for r in drift if r["source_table"] == f"{mon.src}.orders")
    assert (
        orders["monitor_group"],
        orders["owner"],
        orders["runbook_url"],
        orders["drift_threshold"],
    ) == ("sales", "ops", "https://runbooks.example.com/orders", 0.3)
    assert (orders["ks_statistic"], orders["ks_pvalue"], orders["chi_squared_statistic"]) == (
        0.3,
        0.01,
        2.5,
    )
    assert (orders["non_null_columns_missing"], orders["is_drift_alert"]) == (1, True)
    churn = next(r for r in drift if r["source_table"] == f"{mon.src}.churn")
    assert (churn["drift_threshold"], churn["is_drift_alert"]) == (
        0.2,
        False,
    )  # no group row: the default
    alerts = rows(mon, "v_monitor_drift_alerts")
    assert {r["source_table"] for r in alerts} == {f"{mon.src}.orders"} and len(alerts) == 2
    profile = sorted(rows(mon, "v_monitor_profile_sales"), key=lambda r: r["row_count"])
    assert [
        (r["row_count"], r["percent_null"], r["avg_length"], r["window_start"].isoformat())
        for r in profile
    ] == [
        (100, 2.0, 10.0, "2026-04-09T00:00:00+00:00"),
        (101, 2.0, 10.0, "2026-04-09T00:00:00+00:00"),
    ]
    assert "my_custom_metric" not in rows(mon, "v_monitor_profile_default")[0]
    # every column is a scalar for JDBC clients
    allowed = {"string", "int", "bigint", "boolean", "double", "timestamp"}
    for view in (
        "v_monitor_drift_all",
        "v_monitor_profile_all",
        "v_monitor_drift_sales",
        "v_monitor_drift_alerts",
    ):
        types = {f.dataType.simpleString() for f in spark.table(mon.table_name(view)).schema.fields}
        assert types <= allowed, (view, types)


def test_group_without_ready_tables_gets_typed_empty_view(mon: MonitoringFramework, spark):
    mon.register_group("empty_team", ["e@example.com"])
    mon.register_table(f"{mon.src}.stores", output_schema_name=mon.out, monitor_group="empty_team")
    report = mon.create_unified_views()
    assert report.included["empty_team"] == []
    assert rows(mon, "v_monitor_drift_empty_team") == []
    assert (
        spark.table(mon.table_name("v_monitor_drift_empty_team")).columns
        == spark.table(mon.table_name("v_monitor_drift_all")).columns
    )


def test_monitors_cli(tmp_path, emulator):
    import json
    import os
    import subprocess
    import sys

    emulator.add_schema("main.cli_src")
    for name in ("a", "b"):
        emulator.add_table(f"main.cli_src.{name}", COLUMNS)
    config = tmp_path / "dpo.yaml"
    config.write_text(
        "profile_defaults:\n  profile_type: SNAPSHOT\nmonitored_tables:\n"
        "  main.cli_src.a: {}\n  main.cli_src.b:\n    slicing_exprs: [region]\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPARK_", "SAIL_", "ETL_MONITOR_", "DATABRICKS_"))
    }
    env |= {
        "DATABRICKS_HOST": emulator.url,
        "DATABRICKS_TOKEN": "test-token",
        "NO_PROXY": "127.0.0.1,localhost",
    }

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "etl_monitor", "monitors", *args, "--schema", "mon_cli"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=300,
        )

    assert cli("import", str(config)).returncode == 0
    assert cli("validate").returncode == 0
    planned = cli("plan", "--format", "json")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert json.loads(planned.stdout)["counts"] == {"create": 2}
    refused = cli("apply")
    assert refused.returncode == 2 and "--confirm" in refused.stderr
    applied = cli("apply", "--confirm", "--format", "json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert json.loads(applied.stdout)["monitors_created"] == 2
    again = json.loads(cli("apply", "--confirm", "--format", "json").stdout)
    assert again["monitors_created"] == 0 and [t["action"] for t in again["tables"]] == [
        "unchanged",
        "unchanged",
    ]
    table = cli("apply", "--confirm")
    assert "unchanged" in table.stdout and table.returncode == 0
    coverage = json.loads(
        cli("coverage", "--schema-to-check", "main.cli_src", "--format", "json").stdout
    )
    assert coverage["unmonitored"] == [] and coverage["orphans"] == []
    views = json.loads(cli("views", "--format", "json").stdout)
    assert sorted(views["left_out"]) == ["main.cli_src.a", "main.cli_src.b"]  # no metric tables yet
    assert views["drift_views"]["all"] == "main.mon_cli.v_monitor_drift_all"
    bad = tmp_path / "bad.yaml"
    bad.write_text("monitored_tables:\n  main.cli_src.a:\n    profile_type: TIMESERIES\n")
    invalid = cli("import", str(bad))
    assert invalid.returncode == 1 and "needs timestamp_column" in invalid.stdout


def test_two_hundred_tables_in_one_run(mon: MonitoringFramework, emulator):
    schema = f"main.{mon.schema}_many"
    emulator.add_schema(schema)
    for n in range(200):
        emulator.add_table(f"{schema}.t{n:03d}", COLUMNS)
    mon.policy = MonitoringPolicy(max_monitors=1000)
    assert (
        mon.register_tables(
            [
                {
                    "table_name": f"{schema}.t{n:03d}",
                    "profile_type": "TIMESERIES",
                    "timestamp_column": "ts",
                    "granularities": ["1 day"],
                    "monitor_group": f"team{n % 4}",
                }
                for n in range(200)
            ]
        )
        == 200
    )
    emulator.fail(
        "POST", "/api/data-quality/v1/monitors", 429, "REQUEST_LIMIT_EXCEEDED", "slow down", times=5
    )
    emulator.fail("POST", "/api/data-quality/v1/monitors", 500, "INTERNAL_ERROR", "boom", times=3)
    report = mon.apply(unified_views=False)
    assert (report.tables_discovered, report.monitors_created, report.monitors_failed) == (
        200,
        200,
        0,
    )
    assert len(rows(mon, "ETLmonitorState")) == 200
    emulator.reset_log()
    again = MonitoringFramework(
        mon.spark,
        mon.catalog,
        mon.schema,
        emulator.client(),
        policy=MonitoringPolicy(max_monitors=1000),
    ).apply(unified_views=False)
    assert [o.action for o in again.outcomes] == [
        "unchanged"
    ] * 200 and emulator.mutating_count() == 0


def test_register_tables_is_all_or_nothing(mon: MonitoringFramework):
    with pytest.raises(InvalidArgumentError, match="profile_type"):
        mon.register_tables(
            [{"table_name": "a.b.c"}, {"table_name": "a.b.d", "profile_type": "NOPE"}]
        )
    assert rows(mon, "ETLmonitorTables") == []


def test_policy_owner_naming_and_max_tables(mon: MonitoringFramework):
    mon.policy = MonitoringPolicy(
        require_owner=True,
        naming_patterns=[r"\.orders$", r"\.churn$"],
        max_tables=1,
        require_slicing=True,
    )
    mon.register_table(
        f"{mon.src}.orders", output_schema_name=mon.out, owner="ops", slicing_exprs=["region"]
    )
    mon.register_table(
        f"{mon.src}.churn", output_schema_name=mon.out, owner="ops", slicing_exprs=["region"]
    )
    mon.register_table(f"{mon.src}.stores", output_schema_name=mon.out)
    plan = {o.table_name.split(".")[-1]: (o.action, o.reason) for o in mon.plan().outcomes}
    assert plan["stores"] == (
        "error",
        "policy: name matches none of the naming patterns ['\\\\.orders$', "
        "'\\\\.churn$']; an owner is required; at least one slicing expression is required",
    )
    assert plan["churn"] == ("create", "no monitor yet")
    assert plan["orders"] == ("error", "policy: more than max_tables=1 tables")


def _config_of(emulator: DatabricksEmulator, table: str) -> dict:
    return emulator.monitors[emulator.table_id(table)]["data_profiling_config"]


def test_update_sends_leaf_masks_and_keeps_settings_made_elsewhere(
    mon: MonitoringFramework, emulator
):
    _register(mon, schedule_cron="0 0 6 * * ?")
    mon.apply(unified_views=False)
    orders = f"{mon.src}.orders"
    # settings made outside this library: custom metrics, another assets dir
    _config_of(emulator, orders)["custom_metrics"] = [CUSTOM_METRIC]
    _config_of(emulator, orders)["assets_dir"] = "/Workspace/Users/ann/orders"
    mon.register_group("sales", ["sales-team@example.com", "ops@example.com"], 0.3)
    mon.register_table(
        orders,
        profile_type="TIMESERIES",
        timestamp_column="ts",
        granularities=["1 day", "1 week"],
        monitor_group="sales",
        slicing_exprs=["region"],
        output_schema_name=mon.out,
        schedule_cron="0 30 6 * * ?",
    )
    emulator.reset_log()
    report = mon.apply(unified_views=False)
    assert report.monitors_updated == 1 and emulator.mutating_count() == 1
    (patch,) = [r for r in emulator.requests if r.method == "PATCH"]
    assert patch.query["update_mask"].split(",") == [
        "data_profiling_config.notification_settings.on_failure.email_addresses",
        "data_profiling_config.schedule.quartz_cron_expression",
        "data_profiling_config.time_series.granularities",
    ]
    config = _config_of(emulator, orders)
    assert config["custom_metrics"] == [CUSTOM_METRIC]
    assert config["assets_dir"] == "/Workspace/Users/ann/orders"
    assert config["schedule"] == {"quartz_cron_expression": "0 30 6 * * ?", "timezone_id": "UTC"}
    assert config["time_series"]["granularities"] == [
        "AGGREGATION_GRANULARITY_1_DAY",
        "AGGREGATION_GRANULARITY_1_WEEK",
    ]
    assert config["notification_settings"]["on_failure"]["email_addresses"] == [
        "sales-team@example.com",
        "ops@example.com",
    ]
    # removing the schedule names the schedule itself; nothing else moves
    mon.register_table(
        orders,
        profile_type="TIMESERIES",
        timestamp_column="ts",
        granularities=["1 day", "1 week"],
        monitor_group="sales",
        slicing_exprs=["region"],
        output_schema_name=mon.out,
    )
    emulator.reset_log()
    mon.apply(unified_views=False)
    (patch,) = [r for r in emulator.requests if r.method == "PATCH"]
    assert patch.query == {"update_mask": "data_profiling_config.schedule"}
    assert "schedule" not in _config_of(emulator, orders)
    assert _config_of(emulator, orders)["custom_metrics"] == [CUSTOM_METRIC]
    emulator.reset_log()
    assert [o.action for o in mon.apply(unified_views=False).outcomes] == ["unchanged"] * 3
    assert emulator.mutating_count() == 0


def test_switch_between_snapshot_and_inference_is_an_update(mon: MonitoringFramework, emulator):
    _register(mon)
    mon.apply(unified_views=False)
    mon.register_table(
        f"{mon.src}.stores",
        profile_type="INFERENCE",
        timestamp_column="ts",
        granularities="1 day",
        prediction_column="pred",
        model_id_column="model",
        problem_type="REGRESSION",
        output_schema_name=mon.out,
    )
    emulator.reset_log()
    report = mon.apply(unified_views=False)
    assert report.monitors_updated == 1
    (patch,) = [r for r in emulator.requests if r.method == "PATCH"]
    assert patch.query == {
        "update_mask": "data_profiling_config.inference_log,data_profiling_config.snapshot"
    }
    config = _config_of(emulator, f"{mon.src}.stores")
    assert "snapshot" not in config and config["inference_log"]["prediction_column"] == "pred"


def test_immutable_changes_are_recreated_only_when_asked(mon: MonitoringFramework, emulator):
    _register(mon)
    mon.apply(unified_views=False)
    orders, stores, churn = (f"{mon.src}.{t}" for t in ("orders", "stores", "churn"))
    before = {t: emulator.table_id(t) for t in (orders, stores)}
    # orders: time series -> snapshot; stores: another output schema; churn: broken monitor
    mon.register_table(orders, output_schema_name=mon.out, monitor_group="sales")
    mon.register_table(stores, output_schema_name=mon.src)
    emulator.set_monitor_status(churn, "ERROR")
    plan = {o.table_name: o for o in mon.plan().outcomes}
    assert plan[orders].action == "recreate"
    assert "the profile type changes from TIMESERIES to SNAPSHOT" in plan[orders].reason
    assert plan[stores].action == "recreate"
    assert plan[stores].reason.endswith(f"the output schema changes from {mon.out} to {mon.src}")
    assert plan[churn].action == "recreate"
    assert "the monitor is in state ERROR" in plan[churn].reason
    emulator.reset_log()
    blocked = mon.apply(unified_views=False)
    assert blocked.monitors_blocked == 3 and blocked.monitors_failed == 0
    assert emulator.mutating_count() == 0
    assert all(
        "apply with recreate=True" in o.reason for o in blocked.outcomes if o.action == "blocked"
    )
    assert {r["Action"] for r in rows(mon, "ETLmonitorLog", RunID=blocked.run_id)} == {"blocked"}
    emulator.reset_log()
    done = mon.apply(recreate=True, poll=0.01, unified_views=False)
    assert done.monitors_recreated == 3 and done.monitors_failed == 0
    assert (emulator.count("DELETE"), emulator.count("POST"), emulator.count("PATCH")) == (3, 3, 0)
    assert "snapshot" in _config_of(emulator, orders)
    assert _config_of(emulator, stores)["output_schema_id"] == emulator.schema_id(mon.src)
    assert _config_of(emulator, churn)["status"] == "DATA_PROFILING_STATUS_PENDING"
    assert emulator.table_id(orders) == before[orders]
    emulator.reset_log()
    assert [o.action for o in mon.apply(unified_views=False).outcomes] == ["unchanged"] * 3
    assert emulator.mutating_count() == 0


def test_assets_dir_is_sent_on_create(mon: MonitoringFramework, emulator):
    _register(mon)
    mon.register_table(
        f"{mon.src}.stores", output_schema_name=mon.out, assets_dir="/Workspace/Shared/team/stores"
    )
    mon.apply(unified_views=False)
    posts = {
        r.body["object_id"]: r.body["data_profiling_config"]["assets_dir"]
        for r in emulator.requests
        if r.method == "POST"
    }
    assert posts[emulator.table_id(f"{mon.src}.stores")] == "/Workspace/Shared/team/stores"
    assert posts[emulator.table_id(f"{mon.src}.orders")] == (
        f"/Workspace/Shared/etl_monitor/monitors/{mon.src}.orders"
    )
    assert (
        _config_of(emulator, f"{mon.src}.stores")["assets_dir"] == "/Workspace/Shared/team/stores"
    )
    assert rows(mon, "ETLmonitorTables", AssetsDir="/Workspace/Shared/team/stores")
    with pytest.raises(InvalidArgumentError, match="assets_dir"):
        mon.register_table(f"{mon.src}.stores", assets_dir="relative/dir")


def test_legacy_api_sends_assets_dir_and_sees_the_same_monitors(mon: MonitoringFramework, emulator):
    legacy = MonitoringFramework(
        mon.spark, mon.catalog, mon.schema, emulator.client(), api="quality_monitors"
    )
    legacy.src, legacy.out = mon.src, mon.out  # type: ignore[attr-defined]
    _register(legacy)
    legacy.register_table(
        f"{mon.src}.stores", output_schema_name=mon.out, assets_dir="/Workspace/Shared/team/stores"
    )
    assert legacy.apply(unified_views=False).monitors_created == 3
    assert emulator.legacy_monitors[f"{mon.src}.stores"]["assets_dir"] == (
        "/Workspace/Shared/team/stores"
    )
    # one store: the data-quality API finds nothing to do
    emulator.reset_log()
    assert [o.action for o in mon.apply(unified_views=False).outcomes] == ["unchanged"] * 3
    assert emulator.mutating_count() == 0
    # a legacy update keeps the custom metrics it does not manage
    orders = f"{mon.src}.orders"
    _config_of(emulator, orders)["custom_metrics"] = [CUSTOM_METRIC]
    legacy.register_table(
        orders,
        profile_type="TIMESERIES",
        timestamp_column="ts",
        granularities=["1 day"],
        monitor_group="sales",
        output_schema_name=mon.out,
    )
    emulator.reset_log()
    assert legacy.apply(unified_views=False).monitors_updated == 1
    assert emulator.count("PUT") == 1
    assert _config_of(emulator, orders)["custom_metrics"] == [CUSTOM_METRIC]
    assert "slicing_exprs" not in _config_of(emulator, orders)


def test_refresh_failure_is_that_tables_outcome_and_everything_is_logged(
    mon: MonitoringFramework, emulator
):
    _register(mon)
    churn = emulator.table_id(f"{mon.src}.churn")
    emulator.fail("POST", f"/table/{churn}/refreshes", 403, "PERMISSION_DENIED", "no refresh")
    report = mon.apply(refresh=True, wait=True, poll=0.01, unified_views=False)
    assert (report.monitors_created, report.monitors_failed, report.refreshes_failed) == (3, 0, 1)
    logged = {
        r["TableName"].split(".")[-1]: r for r in rows(mon, "ETLmonitorLog", RunID=report.run_id)
    }
    assert sorted(logged) == ["churn", "orders", "stores"]
    assert logged["churn"]["RefreshState"] == "ERROR" and logged["churn"]["RefreshID"] is None
    assert "refresh not started: PermissionDenied: no refresh" in logged["churn"]["Message"]
    assert (logged["orders"]["RefreshState"], logged["stores"]["RefreshState"]) == (
        "SUCCESS",
        "SUCCESS",
    )
    assert logged["orders"]["RefreshID"] is not None


def test_refresh_of_a_monitor_that_stays_pending_times_out_for_that_table(
    mon: MonitoringFramework, emulator
):
    _register(mon)
    emulator.pending_reads = 10_000
    try:
        report = mon.apply(refresh=True, timeout=0.05, poll=0.01, unified_views=False)
    finally:
        emulator.pending_reads = 1
    assert report.monitors_created == 3 and report.refreshes_failed == 3
    assert all("was not ACTIVE within 0.05s" in o.reason for o in report.outcomes)
    assert emulator.count("POST", "/refreshes") == 0
    assert len(rows(mon, "ETLmonitorLog", RunID=report.run_id)) == 3


def test_transient_errors_by_sdk_class(mon: MonitoringFramework, emulator):
    _register(mon)
    dq = "/api/data-quality/v1/monitors"
    emulator.fail("POST", dq, 500, "UNKNOWN", "unknown", times=1)
    emulator.fail("POST", dq, 500, "DATA_LOSS", "lost", times=1)
    emulator.fail("POST", dq, 409, "ABORTED", "concurrent change", times=1)
    emulator.fail("POST", dq, 400, "RESOURCE_EXHAUSTED", "quota", times=1)
    report = mon.apply(unified_views=False)
    assert (report.monitors_created, report.monitors_failed) == (3, 0)
    assert emulator.count("POST", dq) == 7


def test_cli_apply_recreate_flag(mon: MonitoringFramework, emulator, monkeypatch):
    import json

    from click.testing import CliRunner

    from etl_monitor.cli import monitors as cli

    _register(mon)
    mon.apply(unified_views=False)
    mon.register_table(f"{mon.src}.stores", output_schema_name=mon.src)
    monkeypatch.setattr(cli, "_monitoring", lambda *args: mon)
    monkeypatch.setattr(emulator, "delete_pending_reads", 0)  # the CLI polls every 30 s
    runner = CliRunner()
    planned = json.loads(runner.invoke(cli.monitors, ["plan", "--format", "json"]).output)
    assert planned["counts"] == {"unchanged": 2, "recreate": 1}
    blocked = runner.invoke(cli.monitors, ["apply", "--confirm", "--format", "json"])
    assert blocked.exit_code == 0, blocked.output
    assert json.loads(blocked.output)["monitors_blocked"] == 1
    emulator.reset_log()
    done = runner.invoke(cli.monitors, ["apply", "--confirm", "--recreate", "--format", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["monitors_recreated"] == 1
    assert (emulator.count("DELETE"), emulator.count("POST", "/monitors")) == (1, 1)


def test_create_retried_after_a_lost_answer_is_a_create(
    mon: MonitoringFramework, emulator, monkeypatch
):
    from databricks.sdk import errors

    _register(mon)
    dq = mon.api.w.data_quality
    real = dq.create_monitor
    lost: list[str] = []

    def answer_lost(monitor):
        created = real(monitor=monitor)
        if not lost:  # the service created it, but the answer was a 500
            lost.append(monitor.object_id)
            raise errors.InternalError("upstream reset")
        return created

    monkeypatch.setattr(dq, "create_monitor", answer_lost)
    report = mon.apply(unified_views=False)
    assert (report.monitors_created, report.monitors_failed) == (3, 0)
    assert all(o.actual is not None and o.actual.object_id for o in report.outcomes)
    assert emulator.count("POST", "/api/data-quality/v1/monitors") == 4
    assert len(lost) == 1


def test_plain_conflict_on_create_and_refresh_errors_are_not_repeated(
    mon: MonitoringFramework, emulator
):
    _register(mon)
    dq = "/api/data-quality/v1/monitors"
    emulator.fail("POST", dq, 409, "RESOURCE_CONFLICT", "conflicting operation", times=1)
    report = mon.apply(unified_views=False)
    assert (report.monitors_created, report.monitors_failed) == (2, 1)
    (failed,) = [o for o in report.outcomes if o.action == "error"]
    assert "ResourceConflict" in failed.reason
    assert emulator.count("POST", dq) == 3
    # refreshes: a 500 may have started one, so it is not repeated; a refusal is
    # every table is touched: the one that failed is created, the others updated
    _register(mon, schedule_cron="0 0 6 * * ?")
    mon.register_table(f"{mon.src}.stores", output_schema_name=mon.out, slicing_exprs=["region"])
    mon.register_table(f"{mon.src}.churn", output_schema_name=mon.out)
    emulator.reset_log()
    emulator.fail("POST", "/refreshes", 500, "INTERNAL_ERROR", "boom", times=1)
    emulator.fail("POST", "/refreshes", 400, "REQUEST_LIMIT_EXCEEDED", "slow down", times=1)
    done = mon.apply(refresh=True, poll=0.01, unified_views=False)
    assert done.refreshes_failed == 1
    assert sorted(o.refresh_state or "" for o in done.outcomes) == ["ERROR", "PENDING", "PENDING"]
    (error,) = [o for o in done.outcomes if o.refresh_state == "ERROR"]
    assert "refresh not started: InternalError: boom" in error.reason
    assert emulator.count("POST", "/refreshes") == 4  # 500 once; refused once, retried


def test_recreate_waits_until_the_deleted_monitor_is_gone(mon: MonitoringFramework, emulator):
    _register(mon)
    mon.apply(unified_views=False)
    stores = f"{mon.src}.stores"
    mon.register_table(stores, output_schema_name=mon.src)
    emulator.reset_log()
    done = mon.apply(recreate=True, poll=0.01, unified_views=False)
    (outcome,) = [o for o in done.outcomes if o.table_name == stores]
    assert outcome.action == "recreate", outcome.reason
    assert outcome.reason.endswith(
        "; the old metric tables are kept (deleting a monitor does not drop them): "
        f"{mon.out}.stores_profile_metrics, {mon.out}.stores_drift_metrics"
    )
    methods = [r.method for r in emulator.requests if "/monitors" in r.path]
    first_delete = methods.index("DELETE")
    # two reads still DELETE_PENDING, one 404, then the create
    assert methods[first_delete:] == ["DELETE", "GET", "GET", "GET", "POST"]
    assert _config_of(emulator, stores)["output_schema_id"] == emulator.schema_id(mon.src)
    logged = rows(mon, "ETLmonitorLog", RunID=done.run_id, Action="recreate")
    assert [r["Message"] for r in logged] == [outcome.reason]


def test_recreate_whose_delete_does_not_finish_is_an_error(
    mon: MonitoringFramework, emulator, monkeypatch
):
    _register(mon)
    mon.apply(unified_views=False)
    stores = f"{mon.src}.stores"
    mon.register_table(stores, output_schema_name=mon.src)
    monkeypatch.setattr(emulator, "delete_pending_reads", 10_000)
    emulator.reset_log()
    done = mon.apply(recreate=True, poll=0.01, timeout=0.05, unified_views=False)
    (outcome,) = [o for o in done.outcomes if o.table_name == stores]
    assert outcome.action == "error"
    assert outcome.reason == (
        "recreate: the monitor was deleted, but it is still DELETE_PENDING after 0.05s; "
        "the create is pending: the next apply creates it"
    )
    assert emulator.count("POST", "/api/data-quality/v1/monitors") == 0


def test_two_spellings_of_one_output_schema_are_one_schema(mon: MonitoringFramework, emulator):
    upper = mon.out.upper()
    mon.register_table(f"{mon.src}.orders", output_schema_name=mon.out)
    mon.register_table(f"{mon.src}.stores", output_schema_name=upper)
    assert mon.apply(unified_views=False).monitors_created == 2
    emulator.reset_log()
    # the same api (its schema ids cached for both spellings) plans again: nothing to do
    plan = {o.table_name.split(".")[-1]: o for o in mon.plan().outcomes}
    assert {n: o.action for n, o in plan.items()} == {"orders": "unchanged", "stores": "unchanged"}
    assert plan["stores"].actual is not None
    assert plan["stores"].actual.fields["output_schema_name"] == upper
    assert plan["orders"].actual is not None
    assert plan["orders"].actual.fields["output_schema_name"] == mon.out
    legacy = MonitoringFramework(
        mon.spark, mon.catalog, mon.schema, emulator.client(), api="quality_monitors"
    )
    assert [o.action for o in legacy.plan().outcomes] == ["unchanged", "unchanged"]
    assert emulator.mutating_count() == 0


def test_legacy_update_keeps_a_paused_schedule_paused(mon: MonitoringFramework, emulator):
    legacy = MonitoringFramework(
        mon.spark, mon.catalog, mon.schema, emulator.client(), api="quality_monitors"
    )
    stores = f"{mon.src}.stores"
    legacy.register_table(stores, output_schema_name=mon.out, schedule_cron="0 0 6 * * ?")
    legacy.apply(unified_views=False)
    # paused outside this library
    _config_of(emulator, stores)["schedule"]["pause_status"] = "CRON_SCHEDULE_PAUSE_STATUS_PAUSED"
    legacy.register_table(
        stores, output_schema_name=mon.out, schedule_cron="0 0 6 * * ?", slicing_exprs=["region"]
    )
    emulator.reset_log()
    report = legacy.apply(unified_views=False)
    assert [o.action for o in report.outcomes] == ["update"]
    assert emulator.count("PUT") == 1
    schedule = _config_of(emulator, stores)["schedule"]
    assert schedule["pause_status"] == "CRON_SCHEDULE_PAUSE_STATUS_PAUSED"
    assert schedule["quartz_cron_expression"] == "0 0 6 * * ?"


def test_progress_error_still_logs_the_tables_applied(mon: MonitoringFramework, emulator):
    _register(mon)
    seen: list[str] = []

    def progress(outcome: provision.TableOutcome) -> None:
        seen.append(outcome.table_name)
        raise RuntimeError("progress display closed")

    mon.parallelism = 1
    with pytest.raises(RuntimeError, match="progress display closed"):
        mon.apply(progress=progress, unified_views=False)
    logged = {r["TableName"]: r for r in rows(mon, "ETLmonitorLog")}
    created = sorted(n for n, r in logged.items() if r["Action"] == "create")
    assert len(logged) == 3 and set(seen) <= set(created)
    # the pool stops handing out tables: those not reached are logged as not applied
    assert emulator.count("POST", "/api/data-quality/v1/monitors") == len(created)
    stopped = [r["Message"] for r in logged.values() if r["Action"] != "create"]
    assert len(stopped) == 3 - len(created)
    assert set(stopped) <= {
        "create not applied: the run stopped before this table "
        "(RuntimeError: progress display closed)"
    }


def test_refresh_ids_are_logged_when_following_the_refreshes_fails(
    mon: MonitoringFramework, emulator, monkeypatch
):
    class Interrupted(BaseException):
        pass

    def interrupted(table_name: str, refresh_id: str) -> str:
        raise Interrupted

    _register(mon)
    monkeypatch.setattr(mon.api, "refresh_state", interrupted)
    with pytest.raises(Interrupted):
        mon.apply(refresh=True, wait=True, poll=0.01, unified_views=False)
    logged = rows(mon, "ETLmonitorLog")
    assert len(logged) == 3
    assert all(r["RefreshID"] is not None and r["RefreshState"] == "PENDING" for r in logged)


def test_monitor_of_another_kind_is_a_clear_error(mon: MonitoringFramework, emulator):
    _register(mon)
    stores = f"{mon.src}.stores"
    tid = emulator.table_id(stores)
    emulator.monitors[tid] = {
        "object_type": "table",
        "object_id": tid,
        "anomaly_detection_config": {"excluded_table_full_names": [f"{mon.src}.other"]},
    }
    plan = {o.table_name: o for o in mon.plan().outcomes}
    assert plan[stores].action == "error"
    assert plan[stores].reason.startswith(
        "the table already has a monitor of another kind (anomaly detection, "
    )
    emulator.reset_log()
    report = mon.apply(unified_views=False)
    assert (report.monitors_created, report.monitors_failed) == (2, 1)
    assert not [r for r in emulator.requests if r.body and r.body.get("object_id") == tid]
    # an inactive row does not delete it either
    mon.register_table(stores, output_schema_name=mon.out, is_active=False)
    inactive = mon.apply(delete_inactive=True, unified_views=False)
    assert [o.action for o in inactive.outcomes if o.table_name == stores] == ["skip"]
    assert tid in emulator.monitors
    emulator.monitors.pop(tid)
