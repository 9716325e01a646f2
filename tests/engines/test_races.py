"""Races closed: one starter runs a step, watermarks never go back, clocks do not order events,
and a process killed inside task() can be recovered the way the README says."""

from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.errors import StepStateError
from etl_monitor.tracking import lifecycle
from etl_monitor.tracking.events import append_events, watermark_event
from tests.helpers import Child, rows, start_together, statuses

P, L = "CORP", "HR_DAILY"


def _queued(hr: ETLMonitorFramework) -> str:
    e = hr.generate_execution_id()
    hr.generate_execution_steps(e, P, L, "2026-04-09")
    return e


@pytest.mark.core
def test_exactly_one_of_eight_concurrent_starters_runs_the_load(hr: ETLMonitorFramework):
    e = _queued(hr)
    barrier = threading.Barrier(8)
    loads: list[int] = []

    def starter(n: int) -> str | None:
        barrier.wait()
        with hr.task(e, P, L, task_id=1, workflow_id=1) as t:
            if t.active:
                loads.append(n)
        return t.inactive_reason

    with ThreadPoolExecutor(8) as pool:
        reasons = list(pool.map(starter, range(8)))
    assert len(loads) == 1
    refused = [r for r in reasons if r is not None]
    assert len(refused) == 7
    assert all("another starter" in r or "already" in r for r in refused), refused
    events = rows(hr, "ETLProcessingEvents", ExecutionID=e, TaskID=1)
    assert [x["StatusCode"] for x in sorted(events, key=lambda x: x["Seq"])] == [
        "NQUE",
        "RUNNING",
        "DONE",
    ]


STARTER = """
import threading
from concurrent.futures import ThreadPoolExecutor
monitor = ETLMonitorFramework(spark, ARGS["catalog"], ARGS["schema"])
monitor.setup()
ready()
def start(_):
    with monitor.task(ARGS["e"], "CORP", "HR_DAILY", task_id=1, workflow_id=1) as t:
        return [t.active, t.inactive_reason]
with ThreadPoolExecutor(4) as pool:
    result(list(pool.map(start, range(4))))
"""


@pytest.mark.core
def test_exactly_one_starter_across_two_processes(hr: ETLMonitorFramework, warehouse, child_engine):
    e = _queued(hr)
    children = [
        Child(STARTER, warehouse, child_engine, catalog=hr.catalog, schema=hr.schema, e=e)
        for _ in range(2)
    ]
    start_together(children)
    outcomes = [o for child in children for o in child.result()]
    assert sum(active for active, _ in outcomes) == 1, outcomes
    assert statuses(hr, e)[(1, 1)] == "DONE"
    running = [
        x
        for x in rows(hr, "ETLProcessingEvents", ExecutionID=e, TaskID=1)
        if x["StatusCode"] == "RUNNING"
    ]
    assert len(running) == 1


SETUP = """
monitor = ETLMonitorFramework(spark, ARGS["catalog"], ARGS["schema"])
ready()
report = monitor.setup()
result([len(report.views), len(report.tables_created)])
"""


def test_two_jobs_starting_together_both_set_up(hr: ETLMonitorFramework, warehouse, child_engine):
    """Two processes calling setup() at once on a set-up schema: both succeed, nothing lost.

    A local metastore replaces a view by dropping and re-creating it, so the second
    setup could see a view (or one a view reads) gone; view replacement retries that.
    """
    children = [
        Child(SETUP, warehouse, child_engine, catalog=hr.catalog, schema=hr.schema)
        for _ in range(2)
    ]
    start_together(children)
    views = len(hr.setup().views)
    assert [child.result() for child in children] == [[views, 0], [views, 0]]
    e = _queued(hr)
    assert statuses(hr, e)[(1, 1)] == "NQUE"  # the views read back whole


@pytest.mark.core
def test_concurrent_advances_never_move_a_watermark_back(hr: ETLMonitorFramework):
    hr.register_parameter(P, L, "MAXID", "DELTA_ID")
    values = random.Random(7).sample(range(1, 10_000), 16)
    seen: list[int] = []
    barrier = threading.Barrier(8)

    def advance(chunk: list[int]) -> None:
        barrier.wait()
        for v in chunk:
            hr.advance_watermark(P, L, "MAXID", new_int_value=v)
            seen.append(hr.get_active_watermark(P, L, "MAXID"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(advance, [values[i::8] for i in range(8)]))
    assert hr.get_active_watermark(P, L, "MAXID") == max(values)
    # Whatever the interleaving, a reader never saw it go below what it saw before.
    assert (v := hr.get_active_watermark(P, L, "MAXID")) >= max(seen) and v == max(values)


def test_an_advance_read_before_a_set_does_not_undo_the_set(hr: ETLMonitorFramework):
    hr.register_parameter(P, L, "MAXID", "DELTA_ID")
    hr.advance_watermark(P, L, "MAXID", new_int_value=500)
    hr.set_processing_mode(P, L, is_bulk_mode=True)  # a deliberate reset to 0 (generation 2)
    assert hr.get_active_watermark(P, L, "MAXID") == 0
    # An advance that read generation 1 before the reset commits after it: it must not win.
    late = watermark_event(
        P, L, "MAXID", "DELTA_ID", value_int=900, generation=1, reason="late", user="other"
    )
    append_events(hr.context, [late])
    assert hr.get_active_watermark(P, L, "MAXID") == 0
    hr.advance_watermark(P, L, "MAXID", new_int_value=7)  # reads after the reset: moves on
    assert hr.get_active_watermark(P, L, "MAXID") == 7
    history = hr.watermark_history(P, L, "MAXID")
    assert [(h["Generation"], h["ValueINT"]) for h in history] == [
        (1, 500),
        (1, 900),
        (2, 0),
        (2, 7),
    ]


def test_event_order_does_not_trust_clocks(hr: ETLMonitorFramework, monkeypatch):
    e = _queued(hr)
    run = hr.start_task(e, P, L, task_id=1, workflow_id=1)
    assert run.active
    # The machine that ends the task runs an hour behind the one that started it.
    real = lifecycle.utcnow
    monkeypatch.setattr(lifecycle, "utcnow", lambda: real() - timedelta(hours=1))
    hr.end_task(e, P, L, task_id=1, workflow_id=1)
    assert statuses(hr, e)[(1, 1)] == "DONE"
    (step,) = rows(hr, "ETLProcessingSteps", ExecutionID=e, TaskID=1)
    assert (step["Status"], step["Seq"]) == ("DONE", 3)
    (detail,) = rows(hr, "v_taskDetail", ExecutionID=e, TaskID=1)
    assert detail["EffectiveStatus"] == "DONE"


def test_of_four_concurrent_skips_one_lands_the_others_are_refused(hr: ETLMonitorFramework):
    e = _queued(hr)
    barrier = threading.Barrier(4)

    def skip(_: int) -> str | None:
        barrier.wait()
        try:
            hr.skip_task(e, P, L, 2, 1)
        except StepStateError as error:
            return str(error)
        return None

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(skip, range(4)))
    assert outcomes.count(None) == 1, outcomes
    assert all("changed meanwhile" in o or "allowed from NQUE, RQUE" in o for o in outcomes if o)
    events = rows(hr, "ETLProcessingEvents", ExecutionID=e, TaskID=2)
    assert sorted(x["StatusCode"] for x in events) == ["NQUE", "SKIPPED"]


KILLED = """
import os, signal
monitor = ETLMonitorFramework(spark, ARGS["catalog"], ARGS["schema"])
with monitor.task(ARGS["e"], "CORP", "HR_DAILY", task_id=1, workflow_id=1) as t:
    assert t.active
    os.kill(os.getpid(), signal.SIGKILL)  # the cluster dies mid-load
"""


def test_recovery_after_kill_minus_nine_inside_task(
    hr: ETLMonitorFramework, warehouse, child_engine, caplog
):
    e = _queued(hr)
    child = Child(KILLED, warehouse, child_engine, catalog=hr.catalog, schema=hr.schema, e=e)
    child.proc.communicate(timeout=600)
    assert child.proc.returncode == -9
    assert statuses(hr, e)[(1, 1)] == "RUNNING"
    with hr.task(e, P, L, task_id=1, workflow_id=1) as again:
        assert not again.active and "already RUNNING" in again.inactive_reason
    # Without force: nothing to reset, and the warning says why and what to do.
    with caplog.at_level(logging.WARNING, logger="etl_monitor"):
        assert hr.status_reset(P, L, execution_id=e) == 0
    assert "nothing to reset" in caplog.text and "force=True" in caplog.text
    assert "task 1/1 RUNNING" in caplog.text
    # With force: the execution's RUNNING step is re-queued and can run again.
    assert hr.status_reset(P, L, execution_id=e, force=True) == 1
    assert hr.task_status(e, P, L, task_id=1, workflow_id=1) == "RQUE"
    with hr.task(e, P, L, task_id=1, workflow_id=1) as rerun:
        assert rerun.active and rerun.attempt == 2
    assert statuses(hr, e)[(1, 1)] == "DONE"


def test_failure_message_is_the_exceptions_own_text(hr: ETLMonitorFramework):
    e = _queued(hr)
    with pytest.raises(KeyError), hr.task(e, P, L, task_id=1, workflow_id=1):
        raise KeyError("it's")
    (step,) = rows(hr, "ETLProcessingSteps", ExecutionID=e, TaskID=1)
    assert (step["Status"], step["LogMessage"], step["ExceptionType"]) == (
        "FAIL",
        "it's",
        "KeyError",
    )
