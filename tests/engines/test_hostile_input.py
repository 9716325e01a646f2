"""The public API under hostile input, property-based (hypothesis), on every engine.

The properties:
- a refusal raises `InvalidArgumentError` naming the argument, before any statement, so
  no table changes (their Delta commits are counted before and after);
- an accepted value is given back exactly by the views, and never appears in SQL text
  (it travels as a parameter);
- whatever a task body raises, the step ends FAIL or CANCELLED and the body's exception
  propagates unchanged.

Examples are bounded and derandomized in CI (the ``ci`` profile in conftest.py);
``HYPOTHESIS_PROFILE=deep`` draws twenty times as many with a fresh seed.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_monitor import ETLMonitorFramework, InvalidArgumentError
from etl_monitor.core.objects import TRACKING, tables
from etl_monitor.engine.executor import Statement, add_statement_listener
from etl_monitor.engine.timestamps import iso_text, rows_from_spark, utc
from tests.helpers import commit_count, register_hr, rows
from tests.hostile import (
    BASE,
    L,
    P,
    accepted_days,
    accepted_instants,
    accepted_text,
    refused,
)
from tests.schemas import copied

WEEKLY = "HR_WEEKLY"  # never registered: only refused calls name it
#: Prefixed to every accepted text value, so finding it in SQL text cannot be a coincidence.
MARK = "hx7·"


def _examples(n: int, engine_name: str) -> int:
    """`n` examples at the ``ci`` profile's 50, scaled with the profile; a quarter on JVM engines
    (a statement there costs 0.4-2 s, against 10 ms on Sail)."""
    scaled = max(1, n * settings.default.max_examples // 50)
    return scaled if engine_name == "sail" else max(2, scaled // 4)


@pytest.fixture(scope="module")
def hostile(spark, catalog: str) -> ETLMonitorFramework:
    """One schema for the whole module (a copy of the worker's HR template): refusals write
    nothing, and acceptances use keys of their own."""
    return copied(spark, catalog, "hr", register_hr)


@pytest.fixture
def statements() -> Iterator[list[Statement]]:
    seen: list[Statement] = []
    remove = add_statement_listener(seen.append)
    yield seen
    remove()


def _commits(warehouse: str, monitor: ETLMonitorFramework) -> dict[str, int]:
    return {t.name: commit_count(warehouse, monitor, t.name) for t in tables(TRACKING)}


def _no_value_in_sql(seen: list[Statement], *values: str) -> None:
    for statement in seen:
        for value in values:
            assert value not in statement.text, f"{value!r} reached SQL text: {statement.text}"


# -- refusals: every public method, every argument -------------------------------------------
@pytest.mark.parametrize("method", sorted(BASE))
def test_hostile_values_are_refused_before_any_statement(
    hostile: ETLMonitorFramework, warehouse: str, method: str, engine_name: str
) -> None:
    """Every argument in turn, with a sixth of the profile's examples each (8 in CI).

    A refusal happens before the session is touched, so it is the same on every engine:
    it is checked once, on the embedded one.
    """
    if engine_name != "sail":
        pytest.skip("refusals issue no statement: checked once, on the embedded engine")
    call = getattr(hostile, method)
    parameters = inspect.signature(call).parameters
    executor = hostile.context.executor
    before = _commits(warehouse, hostile)
    tried: dict[str, int] = dict.fromkeys(parameters, 0)

    def refusals_of(name: str, required: bool) -> Any:
        @settings(max_examples=max(4, settings.default.max_examples // 6))
        @given(value=refused(method, name, required=required))
        def refuses(value: Any) -> None:
            statements_before = executor.stats["statements"]
            with pytest.raises(InvalidArgumentError) as caught:
                call(**{**BASE[method], name: value})
            assert executor.stats["statements"] == statements_before, "a refusal issued SQL"
            error = caught.value
            assert error.argument == name or (error.argument is None and name in str(error)), (
                f"{method}({name}=...): the error names {error.argument!r}: {error}"
            )
            assert str(error).encode("utf-8") and len(str(error)) < 2000
            tried[name] += 1

        return refuses

    for name, parameter in parameters.items():
        refusals_of(name, parameter.default is inspect.Parameter.empty)()
    assert _commits(warehouse, hostile) == before
    assert min(tried.values()) >= 4, tried


# -- acceptances: given back exactly, never in SQL text ---------------------------------------
def test_accepted_text_reads_back_exactly(
    hostile: ETLMonitorFramework, engine_name: str, statements: list[Statement]
) -> None:
    counter = iter(range(10_000))

    @settings(max_examples=_examples(12, engine_name))
    @given(name=accepted_text, description=accepted_text, owner=accepted_text)
    def reads_back(name: str, description: str, owner: str) -> None:
        process = f"TXT_{next(counter)}"
        values = (MARK + name, MARK + description, MARK + owner)
        statements.clear()
        hostile.register_process(P, process, values[0], values[1], values[2])
        hostile.register_task(P, process, 1, 1, 2, task_name=values[0], task_description=values[1])
        _no_value_in_sql(statements, *values)
        (task,) = rows(hostile, "ETLconfigTasks", ProjectCode=P, ProcessLoad=process)
        (config,) = rows(hostile, "ETLconfigProcess", ProjectCode=P, ProcessLoad=process)
        assert (config["ProcessName"], config["ProcessDescription"], config["ProcessOwner"]) == (
            values
        )
        assert (task["TaskName"], task["TaskDescription"]) == values[:2]

    reads_back()


def test_accepted_instants_and_integers_read_back_exactly(
    hostile: ETLMonitorFramework, engine_name: str, statements: list[Statement]
) -> None:
    counter = iter(range(10_000))

    @settings(max_examples=_examples(16, engine_name))
    @given(
        instant=accepted_instants,
        number=st.one_of(
            st.sampled_from([-(2**63), 2**63 - 1, 0]), st.integers(-(2**63), 2**63 - 1)
        ),
    )
    def reads_back(instant: datetime | date, number: int) -> None:
        n = next(counter)
        statements.clear()
        hostile.register_parameter(P, L, f"D{n}", "DELTA_DATE", value_datetime=instant)
        hostile.register_parameter(P, L, f"I{n}", "DELTA_ID", value_int=number)
        expected = utc(instant)
        assert hostile.get_active_watermark(P, L, f"D{n}") == expected
        assert hostile.get_active_watermark(P, L, f"I{n}") == number
        (row,) = rows(hostile, "v_watermarks", ProjectCode=P, ProcessLoad=L, ParameterName=f"D{n}")
        assert row["ActiveValue"] == iso_text(expected)
        _no_value_in_sql(statements, str(number) if abs(number) > 10**6 else "\x00")

    reads_back()


def test_accepted_dates_and_times_of_a_step_read_back_exactly(
    hostile: ETLMonitorFramework, engine_name: str, statements: list[Statement]
) -> None:
    """A weekly step at either end of the supported range: its date, times and message."""

    counter = iter(range(10_000))

    @settings(max_examples=_examples(6, engine_name))
    @given(day=accepted_days, started=accepted_instants, message=accepted_text)
    def reads_back(day: date, started: datetime | date, message: str) -> None:
        # a process of its own: a weekly task done once is done for its whole week
        execution, weekly = hostile.generate_execution_id(), f"WK_{next(counter)}"
        hostile.register_process(P, weekly, load_frequency="W")
        hostile.register_task(P, weekly, 1, 1, 2, load_frequency="W")
        statements.clear()
        assert hostile.generate_execution_steps(execution, P, weekly, day) == 1
        hostile.start_task(execution, P, weekly, 1, workflow_id=1, timestamp=started)
        hostile.end_task(
            execution, P, weekly, 1, workflow_id=1, log_message=MARK + message, timestamp=started
        )
        _no_value_in_sql(statements, MARK + message)
        (step,) = [
            r
            for r in rows_from_spark(
                hostile.get_status(P, weekly, execution_id=execution).collect()
            )
            if r["TaskID"] == 1
        ]
        assert step["ProcessingDate"] == day
        assert (step["Status"], step["LogMessage"]) == ("DONE", MARK + message)
        assert step["StartTime"] == step["EndTime"] == utc(started)

    reads_back()


# -- a task body's exception, whatever it is ---------------------------------------------------
class _Hostile(Exception):
    def __init__(self, text: Any, broken: str) -> None:
        super().__init__(text)
        self.text, self.broken = text, broken

    def __str__(self) -> str:
        if self.broken == "raises":
            raise RuntimeError("no text for you")
        if self.broken == "not a string":
            return self.text  # type: ignore[return-value] - deliberately not a str
        return str(self.text)


_any_text = st.text(st.characters(codec=None), max_size=40)  # lone surrogates included


def test_a_body_exception_always_ends_the_step(
    hostile: ETLMonitorFramework, engine_name: str
) -> None:
    execution = hostile.generate_execution_id()
    hostile.generate_execution_steps(execution, P, L, "2026-04-09")

    @settings(max_examples=_examples(8, engine_name))
    @given(
        text=st.one_of(_any_text, st.binary(max_size=10), st.integers(), st.none()),
        broken=st.sampled_from(["no", "raises", "not a string"]),
    )
    def ends(text: Any, broken: str) -> None:
        error = _Hostile(text, broken)
        with pytest.raises(_Hostile) as caught, hostile.task(execution, P, L, 1, workflow_id=1):
            raise error
        assert caught.value is error
        assert hostile.task_status(execution, P, L, task_id=1, workflow_id=1) == "FAIL"

    ends()


@pytest.mark.core  # classic PySpark 3.5 turns TIMESTAMPs into local datetimes: the ends too
def test_the_supported_range_is_what_the_engine_stores(hostile: ETLMonitorFramework) -> None:
    """Its ends are accepted; a microsecond or a day beyond them is refused, naming the argument."""
    first = datetime(1900, 1, 1, tzinfo=timezone.utc)
    last = datetime(9999, 12, 30, 23, 59, 59, 999_999, tzinfo=timezone.utc)
    for n, value in enumerate((first, last)):
        hostile.register_parameter(P, L, f"EDGE{n}", "SYSTEM", value_datetime=value)
        assert hostile.get_active_watermark(P, L, f"EDGE{n}") == value
    for value in (first - timedelta(microseconds=1), last + timedelta(microseconds=1)):
        with pytest.raises(InvalidArgumentError, match="value_datetime") as caught:
            hostile.register_parameter(P, L, "EDGE", "SYSTEM", value_datetime=value)
        assert caught.value.argument == "value_datetime"
    for day in (date(1899, 12, 31), date(9999, 12, 31)):
        with pytest.raises(InvalidArgumentError, match="processing_date"):
            hostile.generate_execution_steps("x1", P, WEEKLY, day)
