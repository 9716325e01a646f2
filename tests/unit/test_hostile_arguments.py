"""Hostile arguments refused by the argument models alone (no engine), one test per kind found.

The property-based run over every public method on every engine is
tests/engines/test_hostile_input.py; these pin the defects it was written for.
"""

from __future__ import annotations

import inspect
from datetime import date, datetime, timedelta, timezone

import pytest

from etl_monitor import ETLMonitorFramework, InvalidArgumentError
from etl_monitor.core.arguments import (
    EARLIEST_DAY,
    LATEST_DAY,
    validate,
)
from etl_monitor.core.signatures import bind, signature_of
from etl_monitor.errors import InvalidIdentifierError
from etl_monitor.tracking.periods import history_window
from tests.hostile import BASE, kind_of

FAR_EAST, FAR_WEST = timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))


def _call(method: str, **arguments: object) -> object:
    """Bind and validate a public call as the facade does first, without an engine."""
    model = getattr(ETLMonitorFramework, method).arguments_model
    return bind(model, method, (), arguments)


def test_every_argument_of_every_public_call_has_hostile_values() -> None:
    """A new method or argument cannot go untried by the property-based tests."""
    takes = {
        name
        for name, member in inspect.getmembers(ETLMonitorFramework, inspect.isfunction)
        if hasattr(member, "arguments_model")
    }
    assert takes - {"reactivate_task"} <= set(BASE), takes - set(BASE)
    for method in BASE:
        for argument in inspect.signature(getattr(ETLMonitorFramework, method)).parameters:
            if argument != "self":
                assert kind_of(method, argument)


@pytest.mark.parametrize(
    ("method", "arguments", "named"),
    [
        # 1. foreign exceptions: zoned instants near year 1 and 9999, INT overflow, day counts
        (
            "register_parameter",
            {"value_datetime": datetime(1, 1, 1, 5, tzinfo=FAR_EAST)},
            "value_datetime",
        ),
        (
            "advance_watermark",
            {"new_datetime_value": datetime(9999, 12, 31, 20, tzinfo=FAR_WEST)},
            "new_datetime_value",
        ),
        (
            "set_processing_mode",
            {"parameter_name": "W1", "value_datetime": datetime(1, 1, 1, tzinfo=FAR_EAST)},
            "value_datetime",
        ),
        ("start_task", {"timestamp": datetime(1, 1, 1, 1, tzinfo=FAR_EAST)}, "timestamp"),
        ("end_task", {"timestamp": datetime(9999, 12, 31, 23, tzinfo=FAR_WEST)}, "timestamp"),
        ("fail_task", {"timestamp": datetime(1, 1, 1, tzinfo=FAR_EAST)}, "timestamp"),
        ("register_sequence", {"sort_order": 2**31}, "sort_order"),
        ("log_receipt", {"task_id": 2**31}, "task_id"),
        ("maintain", {"archive_after_days": 800_000}, "archive_after_days"),
        ("generate_execution_steps", {"processing_date": date(9999, 12, 31)}, "processing_date"),
        # 2. accepted but unreadable: a DELTA_DATE in year 1
        ("register_parameter", {"value_datetime": datetime(1, 1, 1)}, "value_datetime"),
        # 3. wrong types converted: numbers and bytes as dates, seconds as an instant
        ("generate_execution_steps", {"processing_date": 0}, "processing_date"),
        ("generate_execution_steps", {"processing_date": 86400.0}, "processing_date"),
        ("log_receipt", {"processing_date": b"2026-04-09"}, "processing_date"),
        ("start_task", {"timestamp": 5}, "timestamp"),
        ("start_task", {"timestamp": "1700000000"}, "timestamp"),
        (
            "set_processing_mode",
            {"is_historic_mode": True, "processing_date": 0},
            "processing_date",
        ),
        # 4. a trailing newline
        ("register_process", {"runbook_url": "https://example.com/run\n"}, "runbook_url"),
        ("register_process", {"lineage_url": "https://example.com/\n"}, "lineage_url"),
        ("register_process", {"process_load": "HR\n"}, "process_load"),
    ],
)
def test_each_kind_of_defect_is_refused_naming_its_argument(
    method: str, arguments: dict, named: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        _call(method, **{**BASE[method], **arguments})
    assert caught.value.argument == named
    assert named in str(caught.value)


def test_a_name_with_a_trailing_newline_is_refused_before_anything_is_written() -> None:
    for catalog, schema in (("main", "x\n"), ("main\n", "x")):
        with pytest.raises(InvalidIdentifierError, match="allowed are"):
            ETLMonitorFramework(None, catalog, schema)


def test_the_ends_of_the_range_are_accepted_and_keep_their_instant() -> None:
    args = {**BASE["register_parameter"], "parameter_type": "SYSTEM"}
    first = validate_parameter(args, datetime(1900, 1, 1, 14, tzinfo=FAR_EAST))
    last = validate_parameter(args, datetime(9999, 12, 30, 11, 59, tzinfo=FAR_WEST))
    assert first == datetime(1900, 1, 1, tzinfo=timezone.utc)
    assert last == datetime(9999, 12, 30, 23, 59, tzinfo=timezone.utc)
    text = validate_parameter(args, "9999-12-30T23:59:59.999999Z")
    assert text == datetime(9999, 12, 30, 23, 59, 59, 999_999, tzinfo=timezone.utc)
    with pytest.raises(InvalidArgumentError, match="outside the supported range"):
        validate_parameter(args, datetime(9999, 12, 30, 12, tzinfo=FAR_WEST))


def validate_parameter(args: dict, value: object) -> datetime:
    from etl_monitor.core.arguments import ParameterArgs

    return validate(
        ParameterArgs, "register_parameter", **args, value_datetime=value
    ).value_datetime


def test_a_weekly_window_at_the_end_of_the_calendar_stops_there() -> None:
    assert history_window(LATEST_DAY, {"W"}) == (date(9999, 12, 27), date(9999, 12, 31))
    assert history_window(EARLIEST_DAY, {"W", "Y"})[0] == EARLIEST_DAY


def test_a_long_hostile_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        _call("register_process", project_code="CORP", process_load="L", name="x" * 10_000_000)
    assert len(str(caught.value)) < 1000


def test_signatures_show_what_an_instant_and_a_day_accept() -> None:
    from etl_monitor.core.arguments import StartArgs

    shown = str(signature_of(StartArgs))
    assert "timestamp: datetime.datetime | datetime.date | str | None" in shown
    assert "processing_date: datetime.date | str | None" in shown


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"stale_after_minutes": "720; DROP TABLE t"}, "stale_after_minutes"),
        ({"stale_after_minutes": 2**70}, "stale_after_minutes"),
        ({"stale_after_minutes": 0}, "stale_after_minutes"),
        ({"stale_after_minutes": True}, "stale_after_minutes"),
        ({"user": "\ud800"}, "user"),
        ({"user": b"etl-bot"}, "user"),
    ],
)
def test_the_facades_settings_are_checked_before_the_session_is_touched(
    settings: dict, named: str
) -> None:
    """No session at all: the refusal comes before the engine is probed."""
    with pytest.raises(InvalidArgumentError) as caught:
        ETLMonitorFramework(None, "main", "etl", **settings)
    assert caught.value.argument == named


def test_the_monitoring_facades_settings_are_checked_too() -> None:
    from etl_monitor.monitoring import MonitoringFramework

    for settings, named in (({"parallelism": 0}, "parallelism"), ({"policy": {}}, "policy")):
        with pytest.raises(InvalidArgumentError) as caught:
            MonitoringFramework(None, "main", "etl", **settings)
        assert caught.value.argument == named


HOSTILE_LINES = ["", " ", "x\n", "x\x00", "\ud800", "\u202ex", "x" * 5000, 5, b"x"]


@pytest.fixture(scope="module")
def offline() -> ETLMonitorFramework:
    """A facade with no session: anything that got past its checks would fail on None."""
    from etl_monitor.engine.capabilities import DATABRICKS

    return ETLMonitorFramework(None, "main", "etl", engine=DATABRICKS, user="etl-bot")


@pytest.mark.parametrize("value", HOSTILE_LINES, ids=repr)
@pytest.mark.parametrize(
    ("argument", "call"),
    [
        ("warehouse_id", lambda m, v: m.publish_alerts(object(), v)),
        ("parent_path", lambda m, v: m.publish_alerts(object(), "abc123", parent_path=v)),
        ("schedule", lambda m, v: m.publish_alerts(object(), "abc123", schedule=v)),
        ("timezone", lambda m, v: m.publish_alerts(object(), "abc123", timezone=v)),
        ("warehouse_id", lambda m, v: m.publish_dashboard(object(), v)),
        ("parent_path", lambda m, v: m.publish_dashboard(object(), "abc123", parent_path=v)),
        ("display_name", lambda m, v: m.publish_dashboard(object(), "abc123", display_name=v)),
        ("project_code", lambda m, v: m.job_definitions("/Shared/x", project_code=v)),
        ("name_prefix", lambda m, v: m.job_definitions("/Shared/x", name_prefix=v)),
        ("existing_cluster_id", lambda m, v: m.job_definitions("/Shared/x", existing_cluster_id=v)),
        ("notebook_folder", lambda m, v: m.job_definitions(v)),
        ("target", lambda m, v: m.sample_usage(target=v)),
        ("seed_data", lambda m, v: m.setup(seed_data=v)),
    ],
)
def test_the_other_public_calls_check_their_values_before_reading_anything(
    offline: ETLMonitorFramework, argument: str, call, value: object, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a sample copy that got through would land here
    with pytest.raises(InvalidArgumentError) as caught:
        call(offline, value)
    assert caught.value.argument == argument
    assert list(tmp_path.iterdir()) == []
