"""Publishing one Databricks job per process against the emulated workspace: API calls.

Registers `--processes` processes (an initiation task, three parallel notebook loads, a
DBX_JOB load and a two-task later stage each) on the embedded engine, renders their jobs
and publishes them three times: into an empty workspace, again with nothing changed, and
after one task of one process was renamed. Prints, per scenario, the wall time, the HTTP
requests the emulator received (all and mutating, by method and path) and what publish
reported.

Run: python benchmarks/bench_jobs.py [--processes 20]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from etl_monitor import ETLMonitorFramework
from etl_monitor.local import spark_session
from tests.emulator import DatabricksEmulator

FOLDER = "/Workspace/Users/someone@example.com/etl_monitor/sample_usage"


def register(monitor: ETLMonitorFramework, processes: int) -> None:
    monitor.register_project("BENCH", "Benchmark")
    for i in range(processes):
        load = f"LOAD_{i:02d}"
        monitor.register_process("BENCH", load, name=f"Load {i}", owner="team@example.com")
        monitor.register_task("BENCH", load, task_id=0, workflow_id=0, sequence_id=0)
        for t in range(1, 5):
            job = t == 4
            monitor.register_task(
                "BENCH",
                load,
                task_id=t,
                workflow_id=1,
                sequence_id=2,
                task_name=f"Load {t}",
                source_type="DBX_JOB" if job else "DBX_NOTEBOOK",
                source_identifier=str(9000 + i) if job else f"/Workspace/loads/{load}/{t}",
            )
        for t in (10, 11):
            monitor.register_task(
                "BENCH",
                load,
                task_id=t,
                workflow_id=1,
                sequence_id=3,
                task_name=f"Build {t}",
                source_identifier=f"/Workspace/loads/{load}/{t}",
            )


def scenario(name: str, server: DatabricksEmulator, monitor: ETLMonitorFramework) -> None:
    server.reset_log()
    started = time.perf_counter()
    report = monitor.publish_jobs(server.client(), FOLDER)
    seconds = time.perf_counter() - started
    requests = [r for r in server.requests if not r.path.startswith("/.well-known/")]
    mutating = [r for r in requests if r.method in ("POST", "PATCH", "PUT", "DELETE")]
    print(f"\n{name}: {seconds:.2f} s, {len(requests)} API calls, {len(mutating)} mutating")
    print(
        f"  publish reported {report.counts}, {report.calls} calls, {report.mutating_calls} mutating"
    )
    for (method, path), n in sorted(
        collections.Counter((r.method, r.path) for r in requests).items()
    ):
        print(f"  {n:4d}  {method:6s} {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as warehouse:
        spark = spark_session(warehouse, catalogs=("main",), schemas=("main.bench",))
        monitor = ETLMonitorFramework(spark, "main", "bench")
        monitor.setup()
        register(monitor, args.processes)
        jobs = monitor.job_definitions(FOLDER)
        tasks = sum(len(j.settings["tasks"]) for j in jobs)
        print(f"{len(jobs)} processes, {tasks} job tasks in all")
        with DatabricksEmulator() as server:
            scenario("first publish (empty workspace)", server, monitor)
            scenario("re-run, nothing changed", server, monitor)
            monitor.register_task(
                "BENCH",
                "LOAD_07",
                task_id=10,
                workflow_id=1,
                sequence_id=3,
                task_name="Renamed",
                source_identifier="/Workspace/loads/LOAD_07/10",
            )
            scenario("one task of one process renamed", server, monitor)
            assert not server.errors, server.errors


if __name__ == "__main__":
    main()
