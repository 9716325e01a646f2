"""Run a benchmark once per engine, each in its own process, and print the figures side by side.

Classic JVM Spark and a Spark Connect client cannot share a process, and a fresh process
per engine keeps one engine's warm-up out of the other's figures. A benchmark module
defines ``measure(spark, engine, root, args) -> dict[str, str]``; `run` starts
``python -m benchmarks.side_by_side <module> <engine> <args-json>`` for every engine and prints
one row per figure with a column per engine.

Engines: ``sail``, ``delta`` (classic JVM Spark 4.1, Delta 4.4), ``delta-connect`` (the same
behind Spark Connect), and the other supported runtimes in their venvs (tests/runtimes.py):
``spark35-delta32`` (classic PySpark 3.5, Delta 3.2), ``dbconnect-15.4`` and ``dbconnect-16.1``
(Databricks Connect clients, the user's own session on a JVM Delta server started here).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.runtimes, when run as a script

from tests.runtimes import RUNTIMES  # noqa: E402

#: The engines compared by default: the embedded engine and Delta on classic JVM Spark.
DEFAULT_ENGINES = ("sail", "delta")
#: Every supported runtime (`--engines all`).
ALL_ENGINES = ("sail", "delta", "delta-connect", *RUNTIMES)


def run(module: str, args: dict[str, Any], engines: tuple[str, ...] = DEFAULT_ENGINES) -> None:
    """Measure in one child process per engine, then print a table of the figures."""
    results: dict[str, dict[str, str]] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_"))}
    server = None
    for engine in engines:
        python, child_env, child_args = sys.executable, env, dict(args)
        if engine in RUNTIMES:
            runtime = RUNTIMES[engine]
            python, child_env = str(runtime.build()), runtime.env()
        if engine.startswith("dbconnect"):
            if server is None:  # one JVM Delta server for every Databricks Connect client
                from etl_monitor.engine.local import JvmServer

                server = JvmServer("connect", tempfile.mkdtemp(prefix="etlm-bench-server-"))
            # one schema per client: the server's catalog is shared
            schema = "bench_" + engine.replace("-", "_").replace(".", "_")
            child_args.update(server=server.url, root=server.root, schema=schema)
        proc = subprocess.run(
            [python, "-m", "benchmarks.side_by_side", module, engine, json.dumps(child_args)],
            capture_output=True,
            text=True,
            env=child_env,
            cwd=ROOT,
        )
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT:")), None)
        if proc.returncode != 0 or line is None:
            results[engine] = {"error": proc.stderr.strip().splitlines()[-1][:120]}
            continue
        results[engine] = json.loads(line[len("RESULT:") :])
    if server is not None:
        server.stop()
    figures = list(dict.fromkeys(k for r in results.values() for k in r))
    width = max(len(f) for f in figures)
    print(f"{'':<{width}}  " + "  ".join(f"{e:>28}" for e in engines))
    for figure in figures:
        cells = "  ".join(f"{results[e].get(figure, '-'):>28}" for e in engines)
        print(f"{figure:<{width}}  {cells}")


def _child(module: str, engine: str, args: dict[str, Any]) -> None:
    from etl_monitor import local

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts import side_by_side
    bench = importlib.import_module(f"benchmarks.{module}")
    args = {**args, "engine": engine}
    if engine.startswith("dbconnect"):
        from databricks.connect import DatabricksSession

        spark = DatabricksSession.builder.remote(args["server"]).getOrCreate()
        figures = bench.measure(spark, "spark_catalog", args["root"], args)
        print("RESULT:" + json.dumps(figures), flush=True)
        return
    local_engine = "delta" if engine == "spark35-delta32" else engine
    root = tempfile.mkdtemp(prefix=f"etlm-bench-{engine}-")
    spark = local.spark_session(root, engine=local_engine)
    figures = bench.measure(spark, local.DEFAULT_CATALOG[local_engine], root, args)
    print("RESULT:" + json.dumps(figures), flush=True)
    local.stop(root)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
