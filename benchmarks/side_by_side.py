"""Run a benchmark once per engine, each in its own process, and print the figures side by side.

Classic JVM Spark and a Spark Connect client cannot share a process, and a fresh process
per engine keeps one engine's warm-up out of the other's figures. A benchmark module
defines ``measure(spark, engine, root, args) -> dict[str, str]``; `run` starts
``python -m benchmarks.side_by_side <module> <engine> <args-json>`` for every engine and prints
one row per figure with a column per engine.
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

#: The engines compared by default: the embedded engine and Delta on classic JVM Spark.
DEFAULT_ENGINES = ("sail", "delta")


def run(module: str, args: dict[str, Any], engines: tuple[str, ...] = DEFAULT_ENGINES) -> None:
    """Measure in one child process per engine, then print a table of the figures."""
    results: dict[str, dict[str, str]] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_"))}
    for engine in engines:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.side_by_side", module, engine, json.dumps(args)],
            capture_output=True,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parents[1],
        )
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT:")), None)
        if proc.returncode != 0 or line is None:
            results[engine] = {"error": proc.stderr.strip().splitlines()[-1][:120]}
            continue
        results[engine] = json.loads(line[len("RESULT:") :])
    figures = list(dict.fromkeys(k for r in results.values() for k in r))
    width = max(len(f) for f in figures)
    print(f"{'':<{width}}  " + "  ".join(f"{e:>28}" for e in engines))
    for figure in figures:
        cells = "  ".join(f"{results[e].get(figure, '-'):>28}" for e in engines)
        print(f"{figure:<{width}}  {cells}")


def _child(module: str, engine: str, args: dict[str, Any]) -> None:
    from etl_monitor import local

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts import side_by_side
    root = tempfile.mkdtemp(prefix=f"etlm-bench-{engine}-")
    spark = local.spark_session(root, engine=engine)
    bench = importlib.import_module(f"benchmarks.{module}")
    figures = bench.measure(spark, local.DEFAULT_CATALOG[engine], root, args)
    print("RESULT:" + json.dumps(figures), flush=True)
    local.stop(root)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
