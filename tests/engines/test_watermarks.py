"""Watermarks and processing modes."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from etl_monitor import ETLMonitorFramework, InvalidArgumentError, NotFoundError
from tests.helpers import live_dates, register_hr, rows
from tests.schemas import copied

P, L = "CORP", "HR_DAILY"
UTC = timezone.utc
T1 = datetime(2026, 4, 9, 6, 0, tzinfo=UTC)
T2 = datetime(2026, 4, 10, 6, 0, tzinfo=UTC)


def _register_watermarks(monitor: ETLMonitorFramework) -> None:
    register_hr(monitor)
    monitor.register_parameter(P, L, "LoadById", "DELTA_ID", value_int=100)
    monitor.register_parameter(P, L, "FullReload", "FLAG", value_bit=False)


@pytest.fixture
def hr(spark, catalog: str) -> ETLMonitorFramework:
    """HR_DAILY with a DELTA_ID and a FLAG parameter beside its watermarks, copied from a template."""
    return copied(spark, catalog, "watermarks", _register_watermarks)


def _done(monitor, task_id=1, advance=None, date_="2026-04-09", fail=False):
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, date_)
    try:
        with monitor.task(e, P, L, task_id=task_id, workflow_id=1) as t:
            if advance is not None:
                assert t.advance_watermark(**advance) in (True, False)
            if fail:
                raise RuntimeError("load failed")
    except RuntimeError:
        pass
    return e, t


@pytest.mark.core
def test_delta_date_advances_to_start_time_and_never_back(hr: ETLMonitorFramework):
    hr.advance_watermark(P, L, "W1", new_datetime_value=T2)
    assert hr.get_active_watermark(P, L, "W1") == T2
    assert hr.advance_watermark(P, L, "W1", new_datetime_value=T1) is False  # backwards: ignored
    assert hr.get_active_watermark(P, L, "W1") == T2
    _, t = _done(hr)  # the task started now, which is after T2
    assert hr.get_active_watermark(P, L, "W1") == t.state["StartTime"]


def test_advance_inside_task_is_the_value_that_sticks(hr: ETLMonitorFramework):
    e, t = _done(hr, advance={"new_datetime_value": T1})
    assert t.status == "DONE"
    assert hr.get_active_watermark(P, L, "W1") == T1
    (event,) = rows(hr, "ETLProcessingEvents", EventType="WATERMARK", ParameterName="W1")
    assert event["ExecutionID"] == e and event["Reason"] == "task 1/1 DONE"


@pytest.mark.core
def test_advance_inside_failed_task_is_dropped(hr: ETLMonitorFramework):
    _done(hr, advance={"new_datetime_value": T1}, fail=True)
    assert hr.get_active_watermark(P, L, "W1") is None
    assert rows(hr, "ETLProcessingEvents", EventType="WATERMARK") == []


def test_module_level_advance_inside_block_is_held_too(hr: ETLMonitorFramework):
    e = hr.generate_execution_id()
    hr.generate_execution_steps(e, P, L, "2026-04-09")
    with hr.task(e, P, L, task_id=2, workflow_id=1):
        assert hr.advance_watermark(P, L, "LoadById", new_int_value=250) is True
        assert hr.get_active_watermark(P, L, "LoadById") == 100  # not yet: lands with DONE
    assert hr.get_active_watermark(P, L, "LoadById") == 250


def test_delta_id_moves_only_by_advance(hr: ETLMonitorFramework):
    _done(hr, task_id=2)
    assert hr.get_active_watermark(P, L, "LoadById") == 100
    assert hr.advance_watermark(P, L, "LoadById", new_int_value=2**40) is True
    assert hr.advance_watermark(P, L, "LoadById", new_int_value=5) is False
    assert hr.get_active_watermark(P, L, "LoadById") == 2**40
    assert rows(hr, "v_watermarks", ParameterName="LoadById")[0]["ActiveValue"] == str(2**40)


def test_flags_and_active_values(hr: ETLMonitorFramework):
    hr.set_flag(P, L, "FullReload", True)
    assert hr.get_active_watermark(P, L, "FullReload") is True
    hr.advance_watermark(P, L, "W1", new_datetime_value=datetime(2026, 4, 9, 6, 5, 7, 123456))
    asked = datetime.now(UTC)
    values = {r["ParameterName"]: r["ActiveValue"] for r in rows(hr, "v_watermarks")}
    assert values["FullReload"] == "1"
    assert values["W1"] == "2026-04-09T06:05:07.123"
    assert values["W2"] == "1900-01-01T00:00:00.000"
    assert values["SYSDT"] in live_dates(asked)
    assert values["LoadById"] == "100"


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda m: m.advance_watermark(P, L, "W1", new_int_value=3),
            InvalidArgumentError,
            "DELTA_DATE parameter; use new_datetime_value",
        ),
        (
            lambda m: m.advance_watermark(P, L, "LoadById", new_datetime_value=T1),
            InvalidArgumentError,
            "use new_int_value",
        ),
        (
            lambda m: m.advance_watermark(P, L, "SYSDT", new_datetime_value=T1),
            InvalidArgumentError,
            "only DELTA_DATE and DELTA_ID",
        ),
        (
            lambda m: m.advance_watermark(P, L, "Nope", new_datetime_value=T1),
            NotFoundError,
            "not registered",
        ),
        (lambda m: m.set_flag(P, L, "W1", True), InvalidArgumentError, "not FLAG"),
        (lambda m: m.set_flag(P, L, "FullReload", "yes"), InvalidArgumentError, "True or False"),
        (
            lambda m: m.set_processing_mode(P, L, is_historic_mode=True),
            InvalidArgumentError,
            "historic_date",
        ),
        (
            lambda m: m.set_processing_mode(P, L, historic_date="2026-01-01"),
            InvalidArgumentError,
            "historic_date",
        ),
        (
            lambda m: m.set_processing_mode(P, L, is_bulk_mode="yes"),
            InvalidArgumentError,
            "is_bulk_mode",
        ),
    ],
)
def test_watermark_failure_paths_write_nothing(hr: ETLMonitorFramework, call, error, message):
    before = rows(hr, "ETLProcessingEvents")
    with pytest.raises(error, match=message):
        call(hr)
    assert rows(hr, "ETLProcessingEvents") == before


@pytest.mark.core
def test_history_and_restore_before_an_execution(hr: ETLMonitorFramework):
    hr.advance_watermark(P, L, "W1", new_datetime_value=T1)
    e, _ = _done(hr, advance={"new_datetime_value": T2})
    assert hr.get_active_watermark(P, L, "W1") == T2
    assert hr.restore_watermark(P, L, "W1", before_execution_id=e) == T1
    assert hr.get_active_watermark(P, L, "W1") == T1
    history = hr.watermark_history(P, L, "W1")
    assert [h["ValueDateTime"] for h in history] == [T1, T2, T1]
    assert history[-1]["Reason"] == f"restored to before execution {e}"
    with pytest.raises(NotFoundError, match="never changed"):
        hr.restore_watermark(P, L, "W1", before_execution_id="other-exec")


def test_restore_to_registered_value(hr: ETLMonitorFramework):
    e, _ = _done(hr, task_id=2, advance={"new_int_value": 500, "parameter_name": "LoadById"})
    assert hr.get_active_watermark(P, L, "LoadById") == 500
    assert hr.restore_watermark(P, L, "LoadById", e) == 100


@pytest.mark.core
def test_processing_modes_do_not_undo_each_other(hr: ETLMonitorFramework):
    hr.advance_watermark(P, L, "W1", new_datetime_value=T1)
    hr.advance_watermark(P, L, "LoadById", new_int_value=900)
    assert hr.set_processing_mode(P, L, is_historic_mode=True, historic_date="2026-01-31") == 1
    assert hr.set_processing_mode(P, L, is_bulk_mode=True) == 4  # W1-W3 and LoadById
    assert (
        hr.get_active_watermark(P, L, "W1") is None
        and hr.get_active_watermark(P, L, "LoadById") == 0
    )
    assert hr.get_active_watermark(P, L, "SYSDT") == datetime(
        2026, 1, 31, tzinfo=UTC
    )  # bulk kept the historic date
    # historic mode sets the default processing date
    e = hr.generate_execution_id()
    hr.generate_execution_steps(e, P, L)
    assert {r["ProcessingDate"] for r in rows(hr, "ETLProcessingSteps", ExecutionID=e)} == {
        date(2026, 1, 31)
    }
    assert rows(hr, "v_watermarks", ParameterName="SYSDT")[0]["IsHistoricMode"] is True
    # back to live: SYSTEM cleared, the bulk reset of the watermarks stays
    assert hr.set_processing_mode(P, L) == 1
    assert hr.get_active_watermark(P, L, "SYSDT") is None
    assert (
        hr.get_active_watermark(P, L, "W1") is None
        and hr.get_active_watermark(P, L, "LoadById") == 0
    )
    # a full reload then advances the watermark again
    _done(hr, date_=date.today().isoformat())
    assert hr.get_active_watermark(P, L, "W1") is not None


def test_bulk_mode_for_one_parameter(hr: ETLMonitorFramework):
    hr.advance_watermark(P, L, "W1", new_datetime_value=T1)
    hr.advance_watermark(P, L, "W2", new_datetime_value=T1)
    assert hr.set_processing_mode(P, L, is_bulk_mode=True, parameter_name="W2") == 1
    assert hr.get_active_watermark(P, L, "W1") == T1 and hr.get_active_watermark(P, L, "W2") is None
    assert (
        rows(hr, "v_watermarks", ParameterName="W2")[0]["ActiveValue"] == "1900-01-01T00:00:00.000"
    )


def test_historic_mode_needs_a_system_parameter(monitor: ETLMonitorFramework):
    monitor.register_process(P, "NOSYS")
    with pytest.raises(NotFoundError, match="no SYSTEM parameter"):
        monitor.set_processing_mode(P, "NOSYS", is_historic_mode=True, historic_date="2026-01-01")


def test_registered_timezone_aware_values_are_utc(hr: ETLMonitorFramework):
    from datetime import timedelta

    cet = timezone(timedelta(hours=1))
    hr.advance_watermark(P, L, "W3", new_datetime_value=datetime(2026, 4, 9, 7, 0, tzinfo=cet))
    assert hr.get_active_watermark(P, L, "W3") == datetime(2026, 4, 9, 6, 0, tzinfo=UTC)
