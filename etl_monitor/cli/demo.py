"""The demo: a sample process run on the embedded engine, with a parallel stage, a failure and a retry.

It is also what the reference calls the main job: ``etl-monitor demo``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from etl_monitor.framework import ETLMonitorFramework
from etl_monitor.tracking import views

P, L = "DEMO", "SALES_DAILY"
LOADS = ["Customers", "Products", "Orders", "Returns", "Stores", "Prices"]
FAILING = "Returns"  # fails in the first execution, succeeds in the retry


def register_sample(monitor: ETLMonitorFramework) -> None:
    """A process with an initiation task, six parallel loads, a dimension and a mart stage."""
    monitor.register_organisation("ACME", "Acme Retail")
    monitor.register_project(P, "Demo project", organisation_code="ACME", owner="Data Engineering")
    monitor.register_process(
        P, L, name="Sales daily load", owner="Sales Data Team", load_frequency="D"
    )
    monitor.register_task(P, L, task_id=0, workflow_id=0, sequence_id=0, task_name="Initiation")
    for n, name in enumerate(LOADS, start=1):
        monitor.register_task(
            P,
            L,
            task_id=n,
            workflow_id=1,
            sequence_id=2,
            task_name=f"Load {name}",
            source_type="ADF_PIPELINE" if n % 2 else "DBX_NOTEBOOK",
            source_system_code=f"Load{name}",
            task_mandatory=name in ("Orders", FAILING),
            file_name_mask=name.lower(),
            file_extension=".csv",
            sla_minutes=15,
        )
        monitor.register_parameter(
            P, L, f"Load{name}", "DELTA_DATE", description=f"Last {name} load start"
        )
    monitor.register_task(
        P,
        L,
        task_id=10,
        workflow_id=1,
        sequence_id=3,
        task_name="Build dimensions",
    )
    monitor.register_task(
        P,
        L,
        task_id=20,
        workflow_id=1,
        sequence_id=6,
        task_name="Sales mart",
        source_system_code="SalesMartById",
    )
    monitor.register_parameter(
        P, L, "SalesMartById", "DELTA_ID", value_int=0, description="Last order id in the mart"
    )
    monitor.register_parameter(
        P, L, "SYSDT", "SYSTEM", description="Historic processing date; NULL in live mode"
    )


def _work(monitor: ETLMonitorFramework, execution_id: str, task: Any, fail: bool) -> str:
    with monitor.task(
        execution_id,
        P,
        L,
        task_id=task["TaskID"],
        workflow_id=task["WorkFlowID"],
        sequence_id=task["SequenceID"],
        log_message=f"{task['TaskName']} loaded",
    ) as run:
        if not run.active:
            return f"{task['TaskName']}: {run.inactive_reason}"
        time.sleep(0.2)  # the load itself
        if fail and task["TaskName"] == f"Load {FAILING}":
            raise ConnectionError(f"source database refused the connection (attempt {run.attempt})")
        if task["TaskID"] == 20:
            run.advance_watermark(new_int_value=100_000 + 1_000 * (run.attempt or 1))
    return f"{task['TaskName']}: {run.status}"


def run_execution(
    monitor: ETLMonitorFramework,
    execution_id: str,
    day: Any,
    say: Callable[[str], None] = print,
    fail: bool = False,
) -> bool:
    """Run one execution stage by stage, in parallel within a stage, as an ADF ForEach would."""
    pending = monitor.get_pending_tasks(execution_id, P, L, day).collect()
    init = monitor.start_task(execution_id, P, L, task_id=0, sequence_id=0, workflow_id=0)
    stages = sorted({t["SequenceID"] for t in pending if t["WorkFlowID"] > 0})
    for stage in stages:
        tasks = [
            t
            for t in monitor.get_pending_tasks(execution_id, P, L, sequence_id=stage).collect()
            if t["WorkFlowID"] > 0
        ]
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(lambda t: _safe(monitor, execution_id, t, fail), tasks))
        say(f"  stage {stage}: " + "; ".join(outcomes))
        blockers = [
            r
            for r in monitor.spark.table(
                monitor.table_name(views.MANDATORY_BLOCKERS.name)
            ).collect()
            if r.ExecutionID == execution_id
        ]
        if blockers:
            names = ", ".join(r.TaskName for r in blockers)
            say(f"  stage {stage}: mandatory task failed ({names}); later stages are blocked")
            if init.active:
                monitor.fail_task(
                    execution_id, P, L, task_id=0, workflow_id=0, log_message=f"blocked by {names}"
                )
            return False
    if init.active:
        monitor.end_task(
            execution_id, P, L, task_id=0, workflow_id=0, log_message="all stages done"
        )
    return True


def _safe(monitor: ETLMonitorFramework, execution_id: str, task: Any, fail: bool) -> str:
    try:
        return _work(monitor, execution_id, task, fail)
    except ConnectionError as error:
        return f"{task['TaskName']}: FAIL ({error})"


def run_demo(monitor: ETLMonitorFramework, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Set up, register the sample, run an execution with a failure, retry it; returns the ids."""
    started = time.perf_counter()
    report = monitor.setup()
    say(f"setup: {report}")
    register_sample(monitor)
    today = datetime.now(timezone.utc).date()
    if monitor.get_status(P, L, processing_date=today).count():
        replayed = monitor.status_reset(P, L, processing_date=today)
        say(f"the demo ran before today: day replay re-queued {replayed} steps")
    first = monitor.generate_execution_id()
    say(f"execution 1 ({first}) for {today}:")
    ok1 = run_execution(monitor, first, today, say, fail=True)
    retry = monitor.generate_execution_id()
    say(f"execution 2 ({retry}), the retry: DONE tasks are not queued again")
    ok2 = run_execution(monitor, retry, today, say)
    return {
        "first": first,
        "retry": retry,
        "first_ok": ok1,
        "retry_ok": ok2,
        "date": today,
        "seconds": time.perf_counter() - started,
    }
