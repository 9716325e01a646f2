"""The one state machine: every transition allowed and refused, and the views built from it."""

from __future__ import annotations

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.errors import StepStateError
from tests.helpers import rows


@pytest.mark.core
def test_refused_transitions_through_the_api_write_nothing(hr: ETLMonitorFramework):
    P, L = "CORP", "HR_DAILY"
    e = hr.generate_execution_id()
    hr.generate_execution_steps(e, P, L, "2026-04-09")
    with hr.task(e, P, L, task_id=1, workflow_id=1):
        pass
    hr.skip_task(e, P, L, 2, 1)
    before = rows(hr, "ETLProcessingEvents")
    refusals = [
        (lambda: hr.skip_task(e, P, L, 1, 1), "skip: the step is DONE"),
        (lambda: hr.unskip_task(e, P, L, 3, 1), "unskip: the step is NQUE"),
        (lambda: hr.end_task(e, P, L, task_id=2, workflow_id=1), "SKIPPED"),
        (lambda: hr.fail_task(e, P, L, task_id=1, workflow_id=1), "already DONE"),
    ]
    for call, message in refusals:
        with pytest.raises(StepStateError, match=message):
            call()
    with hr.task(e, P, L, task_id=2, workflow_id=1) as skipped:
        assert not skipped.active and "already SKIPPED" in skipped.inactive_reason
    assert rows(hr, "ETLProcessingEvents") == before
