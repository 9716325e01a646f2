"""The one state machine: every transition allowed and refused, and the views built from it.

What needs no engine: no session starts here; tests/engines/test_states.py runs the rest on every
engine.
"""

from __future__ import annotations

import pytest

from etl_monitor.errors import StepStateError
from etl_monitor.tracking import states
from etl_monitor.tracking.views import PENDING_TASKS, RUN_SUMMARY, TASK_DETAIL

ALL = (None, "NQUE", "RQUE", "RUNNING", "DONE", "FAIL", "SKIPPED", "CANCELLED")
ACTIVE = {"NQUE", "RQUE", "RUNNING", "FAIL", "CANCELLED"}
#: Written out by hand (not derived from states.TRANSITIONS), so the table is checked.
EXPECTED = {
    "queue": ({None}, "NQUE"),
    "start": ({"NQUE", "RQUE", "FAIL", "CANCELLED"}, "RUNNING"),
    "end": (ACTIVE, "DONE"),
    "fail": (ACTIVE, "FAIL"),
    "cancel": (ACTIVE, "CANCELLED"),
    "skip": ({"NQUE", "RQUE"}, "SKIPPED"),
    "unskip": ({"SKIPPED"}, "NQUE"),
    "reset": ({"DONE", "FAIL", "CANCELLED", "SKIPPED"}, "RQUE"),
}


def test_the_table_names_every_action():
    assert set(states.TRANSITIONS) == set(EXPECTED)


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("status", ALL, ids=lambda s: s or "missing")
def test_each_transition_is_allowed_or_refused(action: str, status: str | None):
    allowed, target = EXPECTED[action]
    if status in allowed:
        assert states.check(action, status) == target
        assert states.refusal(action, status) is None
    else:
        with pytest.raises(StepStateError) as refused:
            states.check(action, status)
        message = str(refused.value)
        assert f"the step is {status or 'missing'}" in message and "allowed from" in message


def test_only_reset_takes_force_and_only_for_running():
    assert states.check("reset", "RUNNING", force=True) == "RQUE"
    assert "force=True" in states.refusal("reset", "RUNNING")
    for action in set(EXPECTED) - {"reset"}:
        for status in ALL:
            assert states.refusal(action, status, force=True) == states.refusal(action, status)


def test_queue_status_depends_on_the_attempt():
    assert [states.check("queue", None, attempt=a) for a in (1, 2, 5)] == ["NQUE", "RQUE", "RQUE"]
    assert states.check("unskip", "SKIPPED", attempt=3) == "RQUE"


def test_the_views_status_logic_comes_from_the_state_machine():
    assert states.effective_status_sql("s.Status", "t.IsActive") in TASK_DETAIL.body
    assert states.is_stale_sql("s.Status", "s.StartTime") in TASK_DETAIL.body
    for name in states.RUN_STATUSES:
        assert f"'{name}'" in RUN_SUMMARY.body
    assert states.sql_in(states.QUEUED) in PENDING_TASKS.body
