"""Run a script against classic JVM Spark in a child process.

A process that has used Spark Connect cannot start a JVM session (CONNECT_URL_NOT_SET),
and a child inherits the Connect markers from the environment, so they are removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

JVM_PRELUDE = """
import json, sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "1").config("spark.sql.session.timeZone", "UTC")
         .getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
payload = json.loads(sys.stdin.read())
"""

PARSE_SCRIPT = (
    JVM_PRELUDE
    + """
parser = spark._jsparkSession.sessionState().sqlParser()
failures = []
for text in payload:
    try:
        parser.parsePlan(text)
    except Exception as error:
        failures.append({"sql": text, "error": str(error).splitlines()[0][:500]})
print("RESULT:" + json.dumps(failures))
"""
)


def clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_", "PYSPARK_"))
    }


def run_jvm_script(script: str, payload: Any, timeout: float = 600) -> Any:
    """Run `script` (which prints ``RESULT:<json>``) in a fresh JVM Spark process."""
    with tempfile.TemporaryDirectory(
        prefix="etlm-jvm-"
    ) as workdir:  # warehouse and metastore go here
        proc = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=timeout,
            cwd=workdir,
        )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT:"):
            return json.loads(line[len("RESULT:") :])
    raise RuntimeError(f"JVM script failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")


def parse_with_spark(statements: list[str]) -> list[dict[str, str]]:
    """Statements the open-source Spark parser rejects, with its error."""
    return run_jvm_script(PARSE_SCRIPT, statements)
