"""databricks-etl-monitor 1.0's calls: its positional order and keyword names reach the same step.

What needs no engine: no session starts here; tests/engines/test_peer_signatures.py runs the rest on every
engine.
"""

from __future__ import annotations

import inspect

import pytest

from etl_monitor import ETLMonitorFramework

E3 = ("execution_id", "project_code", "process_load")
STEP = (*E3, "task_id", "sequence_id", "workflow_id", "processing_date")
PEER = {
    "setup": ("seed_data",),
    "seed_sequence_data": (),
    "register_organisation": (
        "organisation_code",
        "organisation_name",
        "organisation_description",
    ),
    "register_project": (
        "project_code",
        "project_name",
        "project_description",
        "organisation_code",
    ),
    "register_process": (
        "project_code",
        "process_load",
        "name",
        "description",
        "owner",
        "load_frequency",
    ),
    "register_task": (
        "project_code",
        "process_load",
        "task_id",
        "workflow_id",
        "sequence_id",
        "task_name",
        "source_type",
        "source_identifier",
        "source_system_code",
        "task_description",
        "load_frequency",
        "task_mandatory",
        "file_name_mask",
        "file_extension",
        "in_file_path",
        "out_file_path",
    ),
    "register_parameter": (
        "project_code",
        "process_load",
        "parameter_name",
        "parameter_type",
        "description",
        "value_datetime",
        "value_int",
        "value_bit",
    ),
    "generate_execution_steps": (*E3, "processing_date"),
    "get_pending_tasks": (*E3, "processing_date", "sequence_id", "workflow_id", "task_id"),
    "start_task": (*STEP, "attempts", "source_type", "source_run_id", "timestamp"),
    "end_task": (*STEP, "attempts", "status", "log_message", "log_type", "log_code", "timestamp"),
    "fail_task": (*STEP, "attempts", "log_message", "log_code", "timestamp"),
    "task": (*STEP, "source_type", "log_message", "log_type", "log_code"),
    "task_status": (*E3, "processing_date", "workflow_id", "sequence_id", "task_id"),
    "skip_task": (*E3, "task_id", "workflow_id", "sequence_id", "processing_date"),
    "unskip_task": (*E3, "task_id", "workflow_id", "sequence_id", "processing_date"),
    "advance_watermark": (
        "project_code",
        "process_load",
        "parameter_name",
        "new_datetime_value",
        "new_int_value",
    ),
    "get_active_watermark": ("project_code", "process_load", "parameter_name"),
    "get_status": (
        "project_code",
        "process_load",
        "processing_date",
        "execution_id",
        "workflow_id",
        "sequence_id",
        "task_id",
        "attempts",
        "summary_mode",
    ),
    "status_reset": (
        "project_code",
        "process_load",
        "processing_date",
        "execution_id",
        "workflow_id",
        "sequence_id",
        "task_id",
        "attempts",
        "remark",
    ),
    "set_processing_mode": (
        "project_code",
        "process_load",
        "is_bulk_mode",
        "is_historic_mode",
        "processing_date",
        "parameter_name",
        "value_datetime",
        "value_int",
        "value_bit",
    ),
    "guide": (),
    "sample_usage": ("spark",),
}


@pytest.mark.parametrize("method", sorted(PEER))
def test_every_peer_signature_is_ours_in_its_order(method):
    parameters = list(inspect.signature(getattr(ETLMonitorFramework, method)).parameters.values())
    ours = parameters[1 : 1 + len(PEER[method])]
    assert tuple(p.name for p in ours) == PEER[method]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in ours)
    # what follows is optional: a peer call never misses an argument it did not know
    assert all(
        p.default is not inspect.Parameter.empty for p in parameters[1 + len(PEER[method]) :]
    )


def test_generate_execution_id_is_static():
    assert len(ETLMonitorFramework.generate_execution_id()) == 36


P, L, DAY = "HR", "EMP", "2026-01-15"
