"""Recording a failure never fails: hostile exceptions raised in ``with monitor.task(...)``.

Whatever the body raises (a broken ``__str__`` and ``__repr__``, lone surrogates, NUL, a
megabyte of message, exception groups and chains, BaseExceptions, odd class names), the
step ends FAIL or CANCELLED with what `failures.describe_exception` made of it, and the
original exception propagates, the same object.

Each run costs the engine a step read, a claim and an append (seconds on JVM Delta), so
the kinds here are few and compound, one per thing the engine must store or the block
must decide; tests/unit/test_failure_text.py runs every kind through the same block with
the writes faked, and the text itself. One test runs them all on one step, each run after
the first an implicit retry of the failed step (its AttemptNo one higher), so the engine
pays one set-up.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.tracking.failures import MAX_TEXT, describe_exception
from tests.helpers import rows
from tests.unit.test_failure_text import (
    NameRaisesMeta,
    ReprRaisesToo,
    StrRaises,
    chained,
)

P, L, DAY = "CORP", "HR_DAILY", "2026-04-09"
GROUPS = sys.version_info >= (3, 11)
HUGE = "h" * (MAX_TEXT + 4321) + "\ud800"


class NamelessStop(BaseException, metaclass=NameRaisesMeta):
    """A BaseException that is no Exception, whose metaclass's ``__name__`` raises."""


class Interrupted(KeyboardInterrupt):
    """An interrupt whose ``__str__`` raises: still CANCELLED."""

    def __str__(self) -> str:
        raise RuntimeError("no text")


def _group() -> BaseException:
    """A group holding a broken ``__str__``, a chain and a nameless BaseException.

    Before Python 3.11 (no groups): the nameless BaseException raised from the chain.
    """
    chain = chained(RuntimeError("outer"), ValueError("inner \ud800"), cause=True)
    stop = NamelessStop("stop")
    if sys.version_info < (3, 11):
        stop.__cause__ = chain
        return stop
    return BaseExceptionGroup("many \ud800", [StrRaises(), chain, stop])  # noqa: F821


Expect = Callable[[str], bool] | str

#: id, the exception, the status, ExceptionType and LogMessage expected.
KINDS: list[tuple[str, Callable[[], BaseException], str, str, Expect]] = [
    (
        "str-and-repr-raise",
        ReprRaisesToo,
        "FAIL",
        "ReprRaisesToo",
        "<unprintable ReprRaisesToo: str() raised ValueError: no str> "
        "<repr() raised ValueError: no repr too>",
    ),
    (
        "surrogates-and-nul",
        lambda: ValueError("\ud800 a\x00b \udcff"),
        "FAIL",
        "ValueError",
        "\\ud800 a\x00b \\udcff",
    ),
    (
        "huge",
        lambda: ValueError(HUGE),
        "FAIL",
        "ValueError",
        lambda m: len(m) <= MAX_TEXT and m.startswith("h" * 1000) and "truncated" in m,
    ),
    (
        "group",
        _group,
        "FAIL",
        "BaseExceptionGroup" if GROUPS else "NamelessStop",
        "many \\ud800 (3 sub-exceptions)" if GROUPS else "stop",
    ),
    ("interrupt", Interrupted, "CANCELLED", "Interrupted", "Interrupted: cancelled"),
]


def _matches(expect: Expect, value: str) -> bool:
    return expect(value) if callable(expect) else value == expect


def test_every_hostile_exception_is_recorded_and_propagates(hr: ETLMonitorFramework) -> None:
    monitor = hr
    e = monitor.generate_execution_id()
    monitor.generate_execution_steps(e, P, L, DAY)
    raised: dict[int, BaseException] = {}
    for attempt, (name, make, status, _, _) in enumerate(KINDS, start=1):
        error = make()
        with (
            pytest.raises(type(error)) as info,
            monitor.task(e, P, L, task_id=1, workflow_id=1, processing_date=DAY) as t,
        ):
            assert t.active and t.attempt == attempt, name
            raise error
        assert info.value is error, name  # the original, unchanged
        assert t.bookkeeping_error is None, (name, t.bookkeeping_error)
        assert t.status == status, name
        raised[attempt] = error

    # fail_task() with a message of the longest allowed length, NUL included: verbatim.
    longest = ("x\x00'ü" * MAX_TEXT)[:MAX_TEXT]
    assert monitor.fail_task(e, P, L, 2, workflow_id=1, log_message=longest) == "FAIL"

    # The last run is the step's state, as task_status() shows it.
    assert monitor.task_status(e, P, L, task_id=1, workflow_id=1) == KINDS[-1][2]

    # What each run stored, read back from the log: one event per attempt of task 1.
    events = rows(monitor, "ETLProcessingEvents", ExecutionID=e, EventType="STEP")
    ended = {
        r["AttemptNo"]: r
        for r in events
        if r["TaskID"] == 1 and r["StatusCode"] in ("FAIL", "CANCELLED")
    }
    assert sorted(ended) == list(range(1, len(KINDS) + 1))
    for attempt, (name, _, status, kind, message) in enumerate(KINDS, start=1):
        row, described = ended[attempt], describe_exception(raised[attempt])
        assert row["StatusCode"] == status, name
        assert row["ExceptionType"] == kind == described.exception_type, name
        assert _matches(message, row["LogMessage"]), (name, row["LogMessage"][:300])
        assert row["StackTrace"] == described.trace, name
        assert row["LogType"] == ("WARN" if status == "CANCELLED" else "ERROR"), name
    attempt_of = {k[0]: n for n, k in enumerate(KINDS, start=1)}
    group = ended[attempt_of["group"]]["StackTrace"]
    assert "ValueError: inner \\ud800" in group and "direct cause" in group
    assert "NamelessStop: stop" in group
    if GROUPS:
        assert "StrRaises: <exception str() failed>" in group
    assert ended[attempt_of["huge"]]["StackTrace"].endswith("h\\ud800\n")  # the end is kept
    (failed,) = [r for r in events if r["TaskID"] == 2 and r["StatusCode"] == "FAIL"]
    assert failed["LogMessage"] == longest and failed["ExceptionType"] is None
