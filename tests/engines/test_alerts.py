"""SQL alerts: the v_alerts rows on a fixture with one of each condition, the drift query,
and publishing through databricks-sdk against the emulated workspace (idempotent re-runs,
exact update masks, retries, bad input, the CLI)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from etl_monitor import ETLMonitorFramework, InvalidArgumentError, alerts
from etl_monitor.alerts.views import ALERT_COLUMNS
from etl_monitor.engine.timestamps import rows_from_spark
from tests import history
from tests.emulator import DatabricksEmulator
from tests.emulator.alerts import DEFAULT_WAREHOUSE_ID as WH
from tests.emulator.alerts import quartz_error
from tests.helpers import create_metric_tables

P = "ALR"
RUNBOOK = "https://runbooks.example.com/alr?page=1&x='q'"
LINEAGE = "https://lineage.example.com/alr"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _register(
    m: ETLMonitorFramework, process: str, *tasks: tuple[int, int, bool, int | None], **kw
):
    m.register_process(P, process, f"{process} name", owner=kw.pop("owner", None), **kw)
    for task_id, sequence_id, mandatory, sla in tasks:
        m.register_task(
            P,
            process,
            task_id,
            1,
            sequence_id,
            f"{process} task {task_id}",
            source_system_code=f"{process}_{task_id}",
            task_mandatory=mandatory,
            sla_minutes=sla,
        )


def _build(m: ETLMonitorFramework) -> dict[str, str]:
    """One process per condition, a healthy one, and one failure healed by a retry."""
    today = _now().date()
    ids: dict[str, str] = {}

    _register(
        m,
        "FAIL_P",
        (1, 2, False, None),
        owner="ann@example.com",
        monitor_group="ops",
        runbook_url=RUNBOOK,
        lineage_url=LINEAGE,
    )
    ids["FAIL_P"] = e = m.generate_execution_id()
    m.generate_execution_steps(e, P, "FAIL_P", today)
    m.start_task(e, P, "FAIL_P", task_id=1, workflow_id=1)
    m.fail_task(e, P, "FAIL_P", task_id=1, workflow_id=1, log_message="it's -- broken \\ here")

    _register(m, "BLOCK_P", (1, 2, True, None), (2, 3, False, None), owner="HR team")
    ids["BLOCK_P"] = e = m.generate_execution_id()
    m.generate_execution_steps(e, P, "BLOCK_P", today)
    m.start_task(e, P, "BLOCK_P", task_id=1, workflow_id=1)
    m.fail_task(e, P, "BLOCK_P", task_id=1, workflow_id=1, log_message="no input")

    _register(m, "SLA_P", (1, 2, False, 5))
    ids["SLA_P"] = e = m.generate_execution_id()
    m.generate_execution_steps(e, P, "SLA_P", today)
    m.start_task(e, P, "SLA_P", task_id=1, workflow_id=1, timestamp=_now() - timedelta(minutes=20))
    m.end_task(e, P, "SLA_P", task_id=1, workflow_id=1)

    _register(m, "STALE_P", (1, 2, False, None))
    ids["STALE_P"] = e = m.generate_execution_id()
    m.generate_execution_steps(e, P, "STALE_P", today)
    m.start_task(e, P, "STALE_P", task_id=1, workflow_id=1, timestamp=_now() - timedelta(hours=13))

    # A daily process whose last run (and watermark advance) was three days ago.
    history.register_process(m, P, "FRESH_P", tasks=1)
    m.register_process(P, "FRESH_P", "FRESH_P name", freshness_minutes=60)
    history.build(m, P, "FRESH_P", tasks=1, days=1, first_day=today - timedelta(days=3))

    # Healthy: ran today within its SLA; a failure retried successfully is no longer current.
    _register(m, "OK_P", (1, 2, True, 60), owner="ok@example.com")
    m.register_parameter(P, "OK_P", "OK_P_1", "DELTA_DATE")
    first = m.generate_execution_id()
    m.generate_execution_steps(first, P, "OK_P", today)
    m.start_task(first, P, "OK_P", task_id=1, workflow_id=1)
    m.fail_task(first, P, "OK_P", task_id=1, workflow_id=1, log_message="transient")
    ids["OK_P"] = retry = m.generate_execution_id()
    m.generate_execution_steps(retry, P, "OK_P", today)
    m.start_task(retry, P, "OK_P", task_id=1, workflow_id=1)
    m.end_task(retry, P, "OK_P", task_id=1, workflow_id=1)
    return ids


@pytest.fixture(scope="module")
def fixture_monitor(spark, catalog):
    """The fixture, built once per engine (module scope keeps the Delta part small)."""
    m = ETLMonitorFramework(spark, catalog, f"t_{uuid.uuid4().hex[:10]}")
    m.setup()
    ids = _build(m)
    mon = m.monitoring()
    mon.setup()
    mon.register_group("sales", ["sales@example.com", "lead@example.com"], 0.3, owner="Sales")
    mon.register_group("quiet", ["quiet@example.com"], 0.3)
    out = f"{catalog}.{m.schema}_mon"
    mon.register_table(f"{catalog}.src.orders", output_schema_name=out, monitor_group="sales")
    mon.register_table(f"{catalog}.src.stores", output_schema_name=out, monitor_group="quiet")
    create_metric_tables(spark, out, "orders", js_distance=0.45)
    create_metric_tables(spark, out, "stores", js_distance=0.1)
    mon.create_unified_views()
    m.ids = ids  # type: ignore[attr-defined]
    return m


def _alert_rows(m: ETLMonitorFramework, process: str) -> list[dict]:
    """What the published alert's own query returns for `process` (its text and parameters)."""
    rows = m.executor.query(
        alerts.process_query(m.catalog, m.schema), {"project_code": P, "process_load": process}
    )
    return [r.asDict() for r in rows_from_spark(rows)]


def test_each_condition_fires_once_and_the_healthy_process_not(fixture_monitor):
    m = fixture_monitor
    found = {
        process: sorted(
            ((r["AlertType"], r["TaskID"], r["ParameterName"]) for r in _alert_rows(m, process)),
            key=str,
        )
        for process in ("FAIL_P", "BLOCK_P", "SLA_P", "STALE_P", "FRESH_P", "OK_P")
    }
    assert found == {
        "FAIL_P": [("FAILURE", 1, None)],
        "BLOCK_P": [("MANDATORY_BLOCKER", 1, None)],
        "SLA_P": [("SLA_BREACH", 1, None)],
        "STALE_P": [("STALE_RUN", 1, None)],
        "FRESH_P": [("FRESHNESS", None, "H1"), ("FRESHNESS", None, None)],
        "OK_P": [],
    }


def test_alert_rows_carry_routing_and_words(fixture_monitor):
    m = fixture_monitor
    (fail,) = rows_from_spark(
        m.executor.query(
            f"SELECT * FROM {m.table_name('v_alerts')} WHERE ProcessLoad = :l", {"l": "FAIL_P"}
        )
    )
    assert (fail["ExecutionID"], fail["ProcessOwner"], fail["MonitorGroup"]) == (
        m.ids["FAIL_P"],
        "ann@example.com",
        "ops",
    )
    assert (fail["RunbookUrl"], fail["LineageUrl"]) == (RUNBOOK, LINEAGE)
    assert fail["Detail"] == "FAIL_P task 1 FAIL: it's -- broken \\ here"
    (blocker,) = _alert_rows(m, "BLOCK_P")
    assert "blocks 1 unfinished later task(s): no input" in blocker["Detail"]
    (sla,) = _alert_rows(m, "SLA_P")
    assert sla["Detail"].endswith("ran 20 min, SLA 5 min")
    (stale,) = _alert_rows(m, "STALE_P")
    assert "(stale after 720 min)" in stale["Detail"]
    # DetectedAt: when the stale threshold was crossed, the step's start + 12 h (UTC)
    (step,) = rows_from_spark(
        m.executor.query(
            f"SELECT StartTime FROM {m.table_name('v_taskDetail')} WHERE ExecutionID = :e",
            {"e": m.ids["STALE_P"]},
        )
    )
    assert abs(stale["DetectedAt"] - step["StartTime"] - timedelta(hours=12)) < timedelta(seconds=1)
    assert stale["DetectedAt"] < _now() - timedelta(minutes=59)
    watermark, process = sorted(_alert_rows(m, "FRESH_P"), key=lambda r: str(r["ParameterName"]))
    assert (
        process["Detail"].startswith("no completed run for ")
        and "(allowed 60 min)" in process["Detail"]
    )
    assert watermark["Detail"].startswith("watermark H1 (")
    types = {
        f.name: f.dataType.simpleString() for f in m.spark.table(m.table_name("v_alerts")).schema
    }
    assert types == {name: kind.lower() for name, kind, _ in ALERT_COLUMNS}


def test_freshness_derived_from_load_frequency(fixture_monitor):
    """Without FreshnessMinutes a daily process may be a day and 6 h old; ad hoc never is."""
    m = fixture_monitor
    m.register_process(P, "FRESH_P", "FRESH_P name", "", None, "A")
    try:
        assert _alert_rows(m, "FRESH_P") == []
        m.register_process(P, "FRESH_P", "FRESH_P name", load_frequency="D")
        assert {r["ParameterName"] for r in _alert_rows(m, "FRESH_P")} == {None, "H1"}
        m.register_process(P, "FRESH_P", "FRESH_P name", load_frequency="W")
        assert _alert_rows(m, "FRESH_P") == []
    finally:
        m.register_process(P, "FRESH_P", "FRESH_P name", freshness_minutes=60)


def test_group_drift_query_fires_for_the_drifted_group_only(fixture_monitor):
    m = fixture_monitor
    query = alerts.drift_query(m.catalog, m.schema)
    sales = [r.asDict() for r in m.executor.query(query, {"group_name": "sales"})]
    assert {r["source_table"] for r in sales} == {f"{m.catalog}.src.orders"}
    assert all(r["js_distance"] > r["drift_threshold"] for r in sales)
    assert m.executor.query(query, {"group_name": "quiet"}) == []


# -- publishing against the emulated workspace ---------------------------------------------------


@pytest.fixture(scope="module")
def emulator():
    with DatabricksEmulator() as emu:
        yield emu


@pytest.fixture
def workspace(emulator):
    emulator.alerts.clear()
    emulator.destinations.clear()
    emulator.workspace_dirs.clear()
    emulator.clear_faults()
    emulator.reset_log()
    return emulator


def _alert(emulator, name: str) -> dict:
    (found,) = [
        a
        for a in emulator.alerts.values()
        if a["display_name"] == name and a["lifecycle_state"] == "ACTIVE"
    ]
    return found


def test_first_publish_creates_folder_destinations_and_alerts(fixture_monitor, workspace):
    m, w = fixture_monitor, workspace.client()
    report = m.publish_alerts(w, WH)
    assert workspace.errors == []
    assert "/Shared/etl_monitor/alerts" in workspace.workspace_dirs
    names = sorted(a["display_name"] for a in workspace.alerts.values())
    assert names == sorted(
        [
            f"etl_monitor: {P}/{p}"
            for p in ("BLOCK_P", "FAIL_P", "FRESH_P", "OK_P", "SLA_P", "STALE_P")
        ]
        + ["etl_monitor drift: quiet", "etl_monitor drift: sales"]
    )
    # one destination per group used: sales and quiet (drift); ops is not registered
    destinations = {d["display_name"]: d for d in workspace.destinations.values()}
    assert {k: v["config"]["email"]["addresses"] for k, v in destinations.items()} == {
        "etl_monitor: quiet": ["quiet@example.com"],
        "etl_monitor: sales": ["sales@example.com", "lead@example.com"],
    }
    fail = _alert(workspace, f"etl_monitor: {P}/FAIL_P")
    assert fail["parent_path"] == "/Shared/etl_monitor/alerts"
    assert fail["parameters"] == [
        {"name": "project_code", "type": "STRING", "value": P},
        {"name": "process_load", "type": "STRING", "value": "FAIL_P"},
    ]
    assert P not in fail["query_text"] and "FAIL_P" not in fail["query_text"]
    assert f"`{m.catalog}`.`{m.schema}`.`v_alerts`" in fail["query_text"]
    assert fail["evaluation"]["notification"]["subscriptions"] == [
        {"user_email": "ann@example.com"}
    ]
    assert fail["evaluation"]["source"] == {"name": "AlertType", "aggregation": "COUNT"}
    assert fail["evaluation"]["empty_result_state"] == "OK"
    assert fail["schedule"] == {
        "quartz_cron_schedule": "0 0/15 * * * ?",
        "timezone_id": "UTC",
        "pause_status": "UNPAUSED",
    }
    description = fail["custom_description"]
    assert "{{QUERY_RESULT_TABLE}}" in description and "ann@example.com" in description
    assert "https://runbooks.example.com/alr?page=1&amp;x=&#x27;q&#x27;" in description
    assert LINEAGE in description
    drift = _alert(workspace, "etl_monitor drift: sales")
    sales_id = destinations["etl_monitor: sales"]["id"]
    assert drift["evaluation"]["notification"]["subscriptions"] == [{"destination_id": sales_id}]
    assert drift["parameters"] == [{"name": "group_name", "type": "STRING", "value": "sales"}]
    # routing problems are reported, not hidden
    assert f"{P}/BLOCK_P: owner 'HR team' is not an e-mail address" in report.not_routable
    assert (
        f"{P}/FAIL_P: monitoring group 'ops' is not an active group in ETLmonitorGroups"
        in report.not_routable
    )
    assert report.count("alert", "create") == 8 and report.count("destination", "create") == 2
    assert report.mutating_calls == workspace.mutating_count() == 1 + 2 + 8


def test_rerun_makes_no_mutating_call(fixture_monitor, workspace):
    m, w = fixture_monitor, workspace.client()
    m.publish_alerts(w, WH)
    workspace.reset_log()
    report = m.publish_alerts(w, WH)
    assert workspace.mutating_count() == 0
    assert report.count("alert", "unchanged") == 8 and report.count("destination", "unchanged") == 2
    assert report.mutating_calls == 0


def test_one_changed_setting_makes_exactly_that_update(fixture_monitor, workspace):
    m, w = fixture_monitor, workspace.client()
    m.publish_alerts(w, WH)
    m.register_process(
        P,
        "FAIL_P",
        "FAIL_P name",
        owner="bob@example.com",
        monitor_group="ops",
        runbook_url=RUNBOOK,
        lineage_url=LINEAGE,
    )
    try:
        workspace.reset_log()
        report = m.publish_alerts(w, WH)
        patches = [r for r in workspace.requests if r.method in ("PATCH", "POST", "PUT", "DELETE")]
        assert [(r.method, r.query.get("update_mask")) for r in patches] == [
            ("PATCH", "custom_description,evaluation.notification.subscriptions")
        ]
        fail = _alert(workspace, f"etl_monitor: {P}/FAIL_P")
        assert fail["evaluation"]["notification"]["subscriptions"] == [
            {"user_email": "bob@example.com"}
        ]
        assert report.count("alert", "update") == 1
    finally:
        m.register_process(
            P,
            "FAIL_P",
            "FAIL_P name",
            owner="ann@example.com",
            monitor_group="ops",
            runbook_url=RUNBOOK,
            lineage_url=LINEAGE,
        )
    m.publish_alerts(w, WH)  # FAIL_P back to ann
    workspace.reset_log()
    m.publish_alerts(w, WH, schedule="0 0 * * * ?")
    masks = [r.query.get("update_mask") for r in workspace.requests if r.method == "PATCH"]
    assert masks == ["schedule.quartz_cron_schedule"] * 8
    assert workspace.mutating_count() == 8


def test_group_addresses_change_updates_only_the_destination(fixture_monitor, workspace):
    m, w = fixture_monitor, workspace.client()
    m.publish_alerts(w, WH)
    mon = m.monitoring()
    mon.register_group("quiet", ["quiet@example.com", "new@example.com"], 0.3)
    try:
        workspace.reset_log()
        report = m.publish_alerts(w, WH)
        mutating = [(r.method, r.path) for r in workspace.requests if r.method in ("POST", "PATCH")]
        (quiet,) = [
            d for d in workspace.destinations.values() if d["display_name"] == "etl_monitor: quiet"
        ]
        assert mutating == [("PATCH", f"/api/2.0/notification-destinations/{quiet['id']}")]
        assert quiet["config"]["email"]["addresses"] == ["quiet@example.com", "new@example.com"]
        assert report.count("destination", "update") == 1 and report.count("alert", "update") == 0
    finally:
        mon.register_group("quiet", ["quiet@example.com"], 0.3)


def test_trashed_alert_is_not_reused_and_429_is_retried(fixture_monitor, workspace):
    m, w = fixture_monitor, workspace.client()
    m.publish_alerts(w, WH)
    old = _alert(workspace, f"etl_monitor: {P}/OK_P")
    w.alerts_v2.trash_alert(old["id"])
    workspace.fail("GET", "/api/2.0/alerts", 429, "REQUEST_LIMIT_EXCEEDED", times=2)
    workspace.fail("POST", "/api/2.0/alerts", 429, "REQUEST_LIMIT_EXCEEDED", times=1)
    workspace.reset_log()
    report = m.publish_alerts(w, WH)
    new = _alert(workspace, f"etl_monitor: {P}/OK_P")
    assert new["id"] != old["id"] and workspace.alerts[old["id"]]["lifecycle_state"] == "DELETED"
    assert report.count("alert", "create") == 1 and report.count("alert", "unchanged") == 7
    assert workspace.count("GET", "/api/2.0/alerts") == 3  # two refused, then answered
    assert workspace.count("POST", "/api/2.0/alerts") == 2  # one refused, then created
    assert workspace.errors == []


def test_plan_writes_nothing(fixture_monitor, workspace):
    m, w = fixture_monitor, workspace.client()
    report = m.publish_alerts(w, WH, dry_run=True)
    assert workspace.mutating_count() == 0 and workspace.alerts == {}
    assert report.count("alert", "create") == 8 and report.count("destination", "create") == 2
    assert [a.name for a in report.actions if a.kind == "folder"] == ["/Shared/etl_monitor/alerts"]


@pytest.mark.parametrize(
    "kwargs, argument, text",
    [
        ({"warehouse_id": "no such!"}, "warehouse_id", "'no such!'"),
        ({"warehouse_id": "0000000000000000"}, "warehouse_id", "no such SQL warehouse"),
        ({"schedule": "0 */15 * * *"}, "schedule", "5 fields"),
        ({"schedule": "0 0 * * * *"}, "schedule", "exactly one of day-of-month and day-of-week"),
        ({"schedule": "0 0 25 * * ?"}, "schedule", "hours value 25"),
        ({"timezone": "Mars/Olympus"}, "timezone", "'Mars/Olympus'"),
        ({"parent_path": "Shared/x"}, "parent_path", "'Shared/x'"),
    ],
)
def test_bad_input_writes_nothing_and_names_the_value(
    fixture_monitor, workspace, kwargs, argument, text
):
    settings = {"warehouse_id": WH, **kwargs}
    with pytest.raises(InvalidArgumentError) as raised:
        fixture_monitor.publish_alerts(workspace.client(), **settings)
    assert raised.value.argument == argument and text in str(raised.value)
    assert workspace.mutating_count() == 0


def test_bad_url_and_group_in_register_process_write_nothing(fixture_monitor):
    m = fixture_monitor
    before = m.executor.query(f"SELECT COUNT(*) AS n FROM {m.table_name('ETLconfigProcess')}")[0][
        "n"
    ]
    for bad in (
        {"runbook_url": "ftp://x.example.com"},
        {"lineage_url": "https://x.example.com/{{ALERT_URL}}"},
    ):
        with pytest.raises(InvalidArgumentError, match="http:// or https://") as raised:
            m.register_process(P, "NEW_P", **bad)
        assert raised.value.argument == next(iter(bad))
    with pytest.raises(InvalidArgumentError, match="freshness_minutes=0"):
        m.register_process(P, "NEW_P", freshness_minutes=0)
    with pytest.raises(InvalidArgumentError, match="monitor_group='bad group'"):
        m.register_process(P, "NEW_P", monitor_group="bad group")
    after = m.executor.query(f"SELECT COUNT(*) AS n FROM {m.table_name('ETLconfigProcess')}")[0][
        "n"
    ]
    assert after == before


def test_emulator_refuses_what_the_service_refuses(workspace):
    from databricks.sdk.errors import BadRequest, NotFound
    from databricks.sdk.service.sql import AlertV2

    w = workspace.client()
    base = alerts.drift_alert(
        alerts.Targets("main", "etl"), alerts.GroupTarget("g"), WH, "0 0 * * * ?", "UTC", None
    )
    with pytest.raises(NotFound, match="doesn't exist"):
        w.alerts_v2.create_alert(AlertV2.from_dict({**base, "parent_path": "/Shared/missing"}))
    for change, message in [
        ({"parameters": []}, "undeclared parameters"),
        ({"query_text": base["query_text"].replace(":group_name", "'g'")}, "not used"),
        ({"schedule": {**base["schedule"], "quartz_cron_schedule": "* * * * *"}}, "6 or 7 fields"),
        (
            {"evaluation": {**base["evaluation"], "comparison_operator": "BIGGER"}},
            "comparison_operator",
        ),
    ]:
        with pytest.raises(BadRequest, match=message):
            w.alerts_v2.create_alert(
                AlertV2.from_dict({**base, **change, "parent_path": "/Shared"})
            )
    created = w.alerts_v2.create_alert(AlertV2.from_dict({**base, "parent_path": "/Shared"}))
    with pytest.raises(BadRequest, match="parent_path can only be set on create"):
        w.alerts_v2.update_alert(created.id, AlertV2.from_dict(base), "parent_path")
    with pytest.raises(BadRequest, match="Invalid update_mask"):
        w.alerts_v2.update_alert(created.id, AlertV2.from_dict(base), "evaluation.nonsense")
    assert workspace.alerts[created.id]["schedule"]["quartz_cron_schedule"] == "0 0 * * * ?"
    assert quartz_error("0 0 12 ? * MON-FRI") is None and quartz_error("0 0 12 1 * MON")


def test_cli_plan_and_publish(fixture_monitor, workspace, monkeypatch):
    from click.testing import CliRunner

    from etl_monitor.cli import alerts as cli_alerts
    from etl_monitor.cli.main import main

    m = fixture_monitor
    # The engine is the test's own (starting one is not what this tests); the workspace
    # client is the CLI's, from DATABRICKS_HOST / DATABRICKS_TOKEN.
    monkeypatch.setattr(cli_alerts, "_framework", lambda **where: m)
    for key in [k for k in __import__("os").environ if k.startswith("DATABRICKS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DATABRICKS_HOST", workspace.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", workspace.token)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    runner = CliRunner()
    args = ["--warehouse-id", WH, "--format", "json"]
    planned = runner.invoke(main, ["alerts", "plan", *args])
    assert planned.exit_code == 0, planned.output
    assert '"action": "create"' in planned.output and workspace.mutating_count() == 0
    refused = runner.invoke(main, ["alerts", "publish", *args])
    assert refused.exit_code != 0 and "--confirm" in refused.output
    published = runner.invoke(main, ["alerts", "publish", "--confirm", *args])
    assert published.exit_code == 0, published.output
    assert len(workspace.alerts) == 8
    workspace.reset_log()
    again = runner.invoke(main, ["alerts", "publish", "--confirm", "--warehouse-id", WH])
    assert again.exit_code == 0 and "(0 mutating)" in " ".join(again.output.split())
    assert workspace.mutating_count() == 0
