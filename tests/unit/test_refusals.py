"""Calls refused on their arguments alone: each names the bad argument and issues nothing.

They run against an in-memory stand-in behind the executor (tests/standin.py) that fails on
any statement, table read or DataFrame, so a refusal here proves that nothing reached the
engine. tests/engines/ checks on each engine that a refused call leaves the rows as they were.
"""

from __future__ import annotations

import pytest

from etl_monitor import InvalidArgumentError
from tests.standin import stand_in_framework

P, L = "CORP", "HR_DAILY"

INVALID_CALLS = [
    ("register_organisation", ("BAD CODE",), {}, "organisation_code"),
    ("register_project", ("CORP",), {"org_code": "x'y"}, "organisation_code"),
    ("register_project", ("CORP",), {"is_active": "yes"}, "is_active"),
    (
        "register_process",
        ("CORP", "HR_DAILY"),
        {"load_frequency": "Q"},
        "load_frequency.*D, W, M, Y, A",
    ),
    ("register_process", ("", "HR_DAILY"), {}, "project_code"),
    ("register_process", ("CORP", "a" * 65), {}, "process_load"),
    ("register_process", ("CORP", 12), {}, "process_load"),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": -1, "workflow_id": 1, "sequence_id": 2},
        "task_id",
    ),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": "1", "workflow_id": 1, "sequence_id": 2},
        "task_id",
    ),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": True, "workflow_id": 1, "sequence_id": 2},
        "task_id",
    ),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": 1, "workflow_id": 1, "sequence_id": 2, "load_frequency": "daily"},
        "load_frequency",
    ),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": 1, "workflow_id": 1, "sequence_id": 2, "source_type": "SSIS"},
        "source_type.*ADF_PIPELINE",
    ),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": 1, "workflow_id": 1, "sequence_id": 2, "sla_minutes": 0},
        "sla_minutes",
    ),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": 1, "workflow_id": 1, "sequence_id": 2, "file_mask": "a_{yyyyQQ}"},
        "file_name_mask",
    ),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": 1, "workflow_id": 1, "sequence_id": 2, "file_extension": "c s v"},
        "file_extension",
    ),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": 1, "workflow_id": 1, "sequence_id": 2, "task_mandatory": 1},
        "task_mandatory",
    ),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": 0, "workflow_id": 1, "sequence_id": 2},
        "initiation task",
    ),
    (
        "register_task",
        ("CORP", "HR_DAILY"),
        {"task_id": 1, "workflow_id": 1, "sequence_id": 2, "source_system_code": "a b"},
        "source_system_code",
    ),
    (
        "register_parameter",
        ("CORP", "HR_DAILY", "W1", "DELTA_TIME"),
        {},
        "parameter_type.*DELTA_DATE, DELTA_ID, FLAG, SYSTEM",
    ),
    ("register_parameter", ("CORP", "HR_DAILY", "W 1", "FLAG"), {}, "parameter_name"),
    (
        "register_parameter",
        ("CORP", "HR_DAILY", "W1", "FLAG"),
        {"value_int": 3},
        "value_int does not apply",
    ),
    (
        "register_parameter",
        ("CORP", "HR_DAILY", "W1", "DELTA_ID"),
        {"value_int": 2**63},
        "value_int",
    ),
    (
        "register_parameter",
        ("CORP", "HR_DAILY", "W1", "DELTA_DATE"),
        {"value_datetime": "not a date"},
        "value_datetime",
    ),
    ("register_sequence", (5, "MINE"), {}, "sequence_id"),
]

#: (call, message) refused before the engine is asked anything about the run.
RUN_CALLS = [
    (lambda m: m.task("e1", P, L, task_id="one", workflow_id=1), "task_id"),
    (lambda m: m.task("e1", P, L, task_id=1, workflow_id=1, sequence_id=-2), "sequence_id"),
    (
        lambda m: m.task("e1", P, L, task_id=1, workflow_id=1, processing_date="yesterday"),
        "processing_date",
    ),
    (lambda m: m.task("e1", P, L, task_id=1, workflow_id=1, source_type="SSIS"), "source_type"),
    (lambda m: m.end_task("e1", P, L, task_id=1, workflow_id=1, log_type="FATAL"), "log_type"),
    (lambda m: m.generate_execution_steps("bad id'", P, L), "execution_id"),
    (lambda m: m.generate_execution_steps("e1", P, L, "09/04/2026"), "processing_date"),
    (lambda m: m.get_pending_tasks("e1", P, L, task_id=-1), "task_id"),
    (lambda m: m.skip_task("e1", P, L, -1, 1), "task_id"),
    (lambda m: m.advance_watermark(P, L, "W1"), "exactly one"),
]


@pytest.mark.parametrize(
    "method, args, kwargs, message",
    INVALID_CALLS,
    ids=[f"{c[0]}-{c[3][:20]}" for c in INVALID_CALLS],
)
def test_invalid_registration_issues_nothing(method, args, kwargs, message):
    monitor, session = stand_in_framework()
    with pytest.raises(InvalidArgumentError, match=message) as info:
        getattr(monitor, method)(*args, **kwargs)
    assert isinstance(info.value, ValueError)
    assert f"{method}()" in str(info.value)
    assert session.calls == []


@pytest.mark.parametrize("call, message", RUN_CALLS, ids=[m for _, m in RUN_CALLS])
def test_invalid_run_call_issues_nothing(call, message):
    monitor, session = stand_in_framework()
    with pytest.raises(InvalidArgumentError, match=message):
        call(monitor)
    assert session.calls == []


def test_the_stand_in_fails_a_call_that_reaches_the_engine():
    """The stand-in is not blind: a valid call reaches it and fails the test that made it."""
    from tests.standin import EngineContacted

    monitor, session = stand_in_framework()
    with pytest.raises(EngineContacted):
        monitor.register_process(P, L, name="valid")
    assert session.calls == ["createDataFrame"]  # the row it upserts, first of all
