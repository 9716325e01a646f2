"""Wall time of CLI calls: embedded Sail versus --remote Sail versus --remote JVM Spark with Delta.

Each target gets the same schema with `--processes` daily processes of `--tasks` tasks over
`--days` days of history (tests/history.py) and `--tables` monitored tables in the config
(the workspace is the test emulator). Then, as fresh subprocesses, `--runs` times each:

- ``etl-monitor status P L`` (task detail of the process),
- ``etl-monitor monitors plan`` (config tables plus one workspace read per table),

and prints the median seconds per command and target. Machines are shared and noisy:
read the ratios, not the times.

Run: python benchmarks/bench_cli.py [--processes 4 --tasks 4 --days 500 --tables 20 --runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.history, tests.emulator

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine import local
from etl_monitor.engine.capabilities import detect_engine
from etl_monitor.engine.remote import close, remote_session, without_reattach
from tests.emulator import DatabricksEmulator
from tests.history import build, register_process

SCHEMA = "bench_cli"
COLUMNS = {"id": "bigint", "ts": "timestamp", "amount": "double"}


def fill(monitor: ETLMonitorFramework, args: argparse.Namespace, tables: list[str]) -> None:
    """Set up the schema, write the history and register the monitored tables."""
    monitor.setup()
    for p in range(args.processes):
        register_process(monitor, "BENCH", f"P{p:03d}", args.tasks)
        build(
            monitor,
            "BENCH",
            f"P{p:03d}",
            tasks=args.tasks,
            days=args.days,
            first_day=date(2024, 1, 1),
            runs_per_commit=50,
        )
    mon = monitor.monitoring()
    mon.setup()
    mon.register_tables([{"table_name": t, "profile_type": "SNAPSHOT"} for t in tables])


def sail_server(workdir: str) -> tuple[subprocess.Popen, int]:
    port = local.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_"))}
    env |= {
        "SAIL_CATALOG__LIST": '[{name="main",type="memory",initial_database=["default"]},'
        '{name="spark_catalog",type="memory",initial_database=["default"]}]',
        "SAIL_CATALOG__DEFAULT_CATALOG": "spark_catalog",
        "RUST_LOG": "off",
    }
    sail = Path(sys.executable).with_name("sail")
    process = subprocess.Popen(
        [str(sail), "spark", "server", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the Sail server did not listen")


def median_seconds(command: list[str], env: dict[str, str], cwd: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise RuntimeError(f"{command} failed: {result.stdout}{result.stderr[-2000:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-cli-")
    emulator = DatabricksEmulator().start()
    targets: dict[str, list[str]] = {}
    cleanup = []
    try:
        # embedded Sail: the CLI re-attaches the tables from the warehouse in every process
        embedded = str(Path(work) / "embedded")
        catalog = "main"
        spark = local.spark_session(embedded, catalogs=(catalog,))
        names = [f"{catalog}.bench_src.t{n:03d}" for n in range(args.tables)]
        emulator.add_schema(f"{catalog}.bench_src")
        for name in names:
            emulator.add_table(name, COLUMNS)
        started = time.perf_counter()
        fill(ETLMonitorFramework(spark, catalog, SCHEMA), args, names)
        print(f"embedded history written in {time.perf_counter() - started:.0f}s", flush=True)
        targets["embedded sail"] = ["--warehouse", embedded]
        local.stop(embedded)

        process, port = sail_server(work)
        cleanup.append(process.kill)
        url = f"sc://127.0.0.1:{port}/;session_id={uuid.uuid4()}"
        from pyspark.sql import SparkSession

        session = without_reattach(
            SparkSession.builder.remote(url)
            .config("spark.sql.warehouse.dir", str(Path(work) / "sail-server"))
            .create()
        )
        remote_names = [n.replace("main.", "spark_catalog.") for n in names]
        emulator.add_schema("spark_catalog.bench_src")
        for name in remote_names:
            emulator.add_table(name, COLUMNS)
        started = time.perf_counter()
        fill(
            ETLMonitorFramework(session, "spark_catalog", SCHEMA, engine=detect_engine(session)),
            args,
            remote_names,
        )
        print(f"remote Sail history written in {time.perf_counter() - started:.0f}s", flush=True)
        targets["--remote Sail server"] = ["--remote", url]

        server = local.JvmServer("connect", str(Path(work) / "jvm"))
        cleanup.append(server.stop)
        jvm_url = f"sc://127.0.0.1:{server.port}"
        jvm = remote_session(jvm_url)
        started = time.perf_counter()
        fill(
            ETLMonitorFramework(jvm, "spark_catalog", SCHEMA, engine=detect_engine(jvm)),
            args,
            remote_names,
        )
        print(f"remote JVM history written in {time.perf_counter() - started:.0f}s", flush=True)
        close(jvm)
        targets["--remote JVM Spark + Delta"] = ["--remote", jvm_url]

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SPARK_", "SAIL_", "ETL_MONITOR_", "DATABRICKS_"))
        }
        env |= {
            "DATABRICKS_HOST": emulator.url,
            "DATABRICKS_TOKEN": emulator.token,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        cli = [sys.executable, "-m", "etl_monitor"]
        commands = {
            "status BENCH P000": ["status", "BENCH", "P000"],
            "monitors plan": ["monitors", "plan"],
        }
        runs = args.processes * args.days
        print(
            f"\n{runs} runs ({runs * args.tasks} task runs), {args.tables} monitored tables; "
            f"median of {args.runs} fresh processes, seconds\n"
        )
        print(f"{'target':28} " + " ".join(f"{c:>20}" for c in commands))
        for target, options in targets.items():
            cells = [
                median_seconds(
                    [*cli, *command, *options, "--schema", SCHEMA, "--format", "json"],
                    env,
                    work,
                    args.runs,
                )
                for command in commands.values()
            ]
            print(f"{target:28} " + " ".join(f"{c:>20.2f}" for c in cells), flush=True)
    finally:
        for stop in reversed(cleanup):
            stop()
        emulator.stop()


if __name__ == "__main__":
    main()
