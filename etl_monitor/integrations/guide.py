"""`ETLMonitorFramework.guide()`: the usage guide printed in a notebook."""

from __future__ import annotations

RULE = "-" * 72

STEPS = """\
STEP 1  Set up (idempotent: run on every cluster start)
  monitor = ETLMonitorFramework(spark, catalog="{catalog}", schema="{schema}")
  monitor.setup()        # tables, views, the seven stages; upgrades an older schema

STEP 2  Register the catalogue (each call returns monitor, so calls chain)
  monitor.register_organisation("CORP", "Corporate Group")
  monitor.register_project("HR", "HR Data Platform", organisation_code="CORP")
  monitor.register_process("HR", "EMPLOYEE_MASTER", name="Employee master", owner="HR DE")
  monitor.register_task("HR", "EMPLOYEE_MASTER", task_id=0, workflow_id=0, sequence_id=0,
                        task_name="Initiation")
  monitor.register_task("HR", "EMPLOYEE_MASTER", task_id=1, workflow_id=1, sequence_id=2,
                        task_name="Load employees", source_system_code="LoadEmployees",
                        file_name_mask="employees", file_extension=".csv")
  monitor.register_parameter("HR", "EMPLOYEE_MASTER", "LoadEmployees", "DELTA_DATE")
  monitor.register_parameter("HR", "EMPLOYEE_MASTER", "SYSDT", "SYSTEM")

STEP 3  Run (a new execution id per run; a retry of a date gets a new one)
  exec_id = ETLMonitorFramework.generate_execution_id()
  monitor.generate_execution_steps(exec_id, "HR", "EMPLOYEE_MASTER", "2026-04-09")
  monitor.get_pending_tasks(exec_id, "HR", "EMPLOYEE_MASTER", "2026-04-09").display()
  with monitor.task(exec_id, "HR", "EMPLOYEE_MASTER", task_id=1, workflow_id=1,
                    sequence_id=2, processing_date="2026-04-09") as t:
      if t.active:
          ...            # the load; an exception records FAIL and is re-raised

  From ADF or a job: start_task(...), then end_task(...) or fail_task(...), same arguments.

STEP 4  Watermarks and modes
  monitor.get_active_watermark("HR", "EMPLOYEE_MASTER", "LoadEmployees")
  monitor.advance_watermark("HR", "EMPLOYEE_MASTER", "LoadEmployees", new_datetime_value=ts)
  monitor.set_processing_mode("HR", "EMPLOYEE_MASTER", is_bulk_mode=True)
  monitor.set_processing_mode("HR", "EMPLOYEE_MASTER", is_historic_mode=True,
                              processing_date="2026-01-01")
  monitor.set_processing_mode("HR", "EMPLOYEE_MASTER")      # back to live

STEP 5  Status, reruns, upkeep
  monitor.get_status("HR", "EMPLOYEE_MASTER", execution_id=exec_id).display()
  monitor.status_reset("HR", "EMPLOYEE_MASTER", processing_date="2026-04-09")  # day replay
  monitor.skip_task(exec_id, "HR", "EMPLOYEE_MASTER", task_id=4, workflow_id=1, sequence_id=2)
  monitor.maintain(archive_after_days=400)                    # schedule daily

Views in {catalog}.{schema}: v_processStatus, v_runSummary, v_taskDetail,
v_mandatoryBlockers, v_currentFailures, v_watermarks, v_pendingTasks, ETLProcessingSteps.
Sample notebooks: monitor.sample_usage(spark)"""


def text(catalog: str, schema: str) -> str:
    """The guide for a framework on `catalog`.`schema`."""
    title = "  etl_monitor: usage guide"
    return "\n".join((RULE, title, RULE, STEPS.format(catalog=catalog, schema=schema), RULE))
