"""Every instant is UTC and every date the date given, whatever the driver's TZ or the session zone.

The suite already runs each engine under a non-UTC driver zone (conftest.TEST_TIME_ZONES);
these tests pin the cases that broke before, under that zone and under a second one with a
half-hour offset, and with a non-UTC Spark session time zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import pytest

from conftest import set_driver_time_zone
from etl_monitor import ETLMonitorFramework
from tests.helpers import live_dates, register_hr, rows

P, L = "CORP", "HR_DAILY"
UTC = timezone.utc


@pytest.fixture(params=["engine zone", "Asia/Kolkata"])
def driver_zone(request: pytest.FixtureRequest, driver_time_zone: str | None) -> Iterator[str]:
    """The engine's own non-UTC driver zone, then a second one (+05:30)."""
    zone = driver_time_zone if request.param == "engine zone" else request.param
    assert zone and zone != "UTC"
    set_driver_time_zone(zone)
    yield zone
    set_driver_time_zone(driver_time_zone)


@pytest.fixture
def session_zone(spark) -> Iterator[str]:
    """A non-UTC Spark session time zone for one test (the reader's, e.g. a SQL warehouse's)."""
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Pacific/Auckland")
    yield "Pacific/Auckland"
    spark.conf.set("spark.sql.session.timeZone", before)


@pytest.mark.core
def test_watermark_after_start_and_end_is_the_running_start_time(
    monitor: ETLMonitorFramework, driver_zone: str
):
    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-09")
    before = datetime.now(UTC)
    monitor.start_task(e, P, L, task_id=1, workflow_id=1)
    monitor.end_task(e, P, L, task_id=1, workflow_id=1)
    after = datetime.now(UTC)

    events = rows(monitor, "ETLProcessingEvents", ExecutionID=e, TaskID=1)
    running = next(x for x in events if x["StatusCode"] == "RUNNING")
    done = next(x for x in events if x["StatusCode"] == "DONE")
    started = running["StartTime"]
    assert started.tzinfo is not None and before - timedelta(seconds=1) <= started <= after
    assert done["StartTime"] == started  # end_task did not shift it by the driver's offset
    assert before - timedelta(seconds=1) <= done["EndTime"] <= after + timedelta(seconds=1)
    assert monitor.get_active_watermark(P, L, "W1") == started
    (step,) = rows(monitor, "ETLProcessingSteps", ExecutionID=e, TaskID=1)
    assert (step["Status"], step["StartTime"]) == ("DONE", started)


def test_historic_date_and_processing_date_stay_the_date_given(
    monitor: ETLMonitorFramework, driver_zone: str
):
    register_hr(monitor)
    monitor.set_processing_mode(P, L, is_historic_mode=True, historic_date=date(2026, 1, 1))
    assert monitor.get_active_watermark(P, L, "SYSDT") == datetime(2026, 1, 1, tzinfo=UTC)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L)  # defaults to the historic date
    steps = rows(monitor, "ETLProcessingSteps", ExecutionID=e)
    assert {s["ProcessingDate"] for s in steps} == {date(2026, 1, 1)}
    assert {s["FullFileName"] for s in steps if s["TaskID"] == 1} == {"load1_20260101.csv"}


def test_advanced_value_reads_back_unchanged_and_active_value_is_utc_text(
    monitor: ETLMonitorFramework, driver_zone: str, session_zone: str
):
    register_hr(monitor)
    berlin_noon = datetime(2026, 4, 9, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    monitor.advance_watermark(P, L, "W1", new_datetime_value=berlin_noon)
    assert monitor.get_active_watermark(P, L, "W1") == datetime(2026, 4, 9, 12, 30, tzinfo=UTC)
    (mark,) = rows(monitor, "v_watermarks", ParameterName="W1")
    assert mark["ActiveValue"] == "2026-04-09T12:30:00.000"  # in a Pacific/Auckland session
    assert mark["ValueDateTime"] == datetime(2026, 4, 9, 12, 30, tzinfo=UTC)
    (never,) = rows(monitor, "v_watermarks", ParameterName="W2")
    assert never["ActiveValue"] == "1900-01-01T00:00:00.000"
    asked = datetime.now(UTC)
    (system,) = rows(monitor, "v_watermarks", ParameterName="SYSDT")
    assert system["ActiveValue"] in live_dates(asked)  # today in UTC, not in Auckland


def test_sla_breach_is_measured_in_utc(monitor: ETLMonitorFramework, driver_zone: str):
    """A task started 61 minutes ago with a 60-minute SLA is breached; one started now is not."""
    register_hr(monitor)
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, "2026-04-09")
    monitor.start_task(
        e, P, L, task_id=1, workflow_id=1, timestamp=datetime.now(UTC) - timedelta(minutes=61)
    )
    monitor.start_task(e, P, L, task_id=2, workflow_id=1)
    detail = {r["TaskID"]: r for r in rows(monitor, "v_taskDetail", ExecutionID=e)}
    assert (detail[1]["SLABreached"], detail[2]["SLABreached"]) == (True, False)
