"""The process catalogue as code: load, plan, apply and export round trips.

What needs no engine: no session starts here; tests/engines/test_catalogue.py runs the rest on every
engine.
"""

from __future__ import annotations

import pytest
import yaml

from etl_monitor.errors import InvalidArgumentError
from etl_monitor.tracking.catalogue import load

CATALOGUE = """
version: 1
organisations:
  - org_code: ACME
    name: Acme Ltd
projects:
  - project_code: CORP
    org_code: ACME
    name: Corporate
    owner: Data Team
sequences:
  - sequence_id: 10
    sequence_code: LOAD_EXTRA
    description: Extra loads
processes:
  - project_code: CORP
    process_load: HR_DAILY
    name: HR Daily Load
    owner: HR Team
    tasks:
      - {task_id: 0, workflow_id: 0, sequence_id: 0, task_name: Initiation}
      - task_id: 1
        workflow_id: 1
        sequence_id: 2
        task_name: Employees
        source_system_code: W1
        task_mandatory: true
        file_mask: 'employees_{yyyyMMdd}'
        file_extension: .csv
        sla_minutes: 60
      - {task_id: 2, workflow_id: 1, sequence_id: 10, task_name: Extra, load_frequency: W}
    parameters:
      - {parameter_name: W1, parameter_type: DELTA_DATE, value_datetime: '2026-01-02T03:04:05+02:00'}
      - {parameter_name: SYSDT, parameter_type: SYSTEM}
      - {parameter_name: LastID, parameter_type: DELTA_ID, value_int: 9007199254740993}
      - {parameter_name: Bulk, parameter_type: FLAG, value_bit: false}
  - project_code: CORP
    process_load: FIN_MONTHLY
    load_frequency: M
    tasks:
      - {task_id: 0, workflow_id: 0, sequence_id: 0}
      - {task_id: 1, workflow_id: 1, sequence_id: 6, source_type: DBX_JOB}
"""


def _doc(text: str = CATALOGUE) -> dict:
    return yaml.safe_load(text)


def _dump(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (
            lambda d: d["processes"][0]["tasks"][2].update(load_frequency="X"),
            "processes[0].tasks[2].load_frequency",
        ),
        (
            lambda d: d["processes"][0]["parameters"][2].update(value_int="7"),
            "processes[0].parameters[2].value_int",
        ),
        (
            lambda d: d["processes"][0]["parameters"][3].update(value_int=1),
            "processes[0].parameters[3]",
        ),
        (
            lambda d: d["processes"][1]["tasks"][1].update(colour="red"),
            "processes[1].tasks[1].colour",
        ),
        (
            lambda d: d["processes"][1]["tasks"][1].update(process_load="X"),
            "processes[1].tasks[1].process_load",
        ),
        (lambda d: d["sequences"][0].update(sequence_id=5), "sequences[0].sequence_id"),
        (lambda d: d["projects"][0].update(is_active="yes"), "projects[0].is_active"),
        (
            lambda d: d["processes"][1]["tasks"].append(
                {"task_id": 1, "workflow_id": 1, "sequence_id": 2}
            ),
            "processes[1].tasks[2]",
        ),
        (
            lambda d: d["processes"].append(
                {"project_code": "CORP", "process_load": "FIN_MONTHLY"}
            ),
            "processes[2]",
        ),
    ],
)
def test_invalid_entries_name_the_yaml_path(edit, path: str) -> None:
    doc = _doc()
    edit(doc)
    with pytest.raises(InvalidArgumentError) as error:
        load(_dump(doc))
    assert str(error.value).startswith(path + ":"), str(error.value)
