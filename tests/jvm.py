"""One JVM Spark parser for every parse check of the session, in a child process.

A process that has used Spark Connect cannot start a classic JVM session
(CONNECT_URL_NOT_SET), and a child inherits the Connect markers from the environment, so
they are removed. The child starts once, on first use, and parses batches sent as JSON
lines until the test session ends.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
from typing import Any

PARSER = """
import json, sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
parser = spark._jsparkSession.sessionState().sqlParser()
print("READY", flush=True)
for line in sys.stdin:
    failures = []
    for text in json.loads(line):
        try:
            parser.parsePlan(text)
        except Exception as error:
            failures.append({"sql": text, "error": str(error).splitlines()[0][:500]})
    print("RESULT:" + json.dumps(failures), flush=True)
"""


def clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "SAIL_", "PYSPARK_"))
    }


class _Parser:
    def __init__(self) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="etlm-parser-")
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives with the child
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PARSER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=clean_env(),
            cwd=self._workdir.name,
        )
        self._expect("READY")
        atexit.register(self.close)

    def _expect(self, prefix: str) -> str:
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line[len(prefix) :]
        self._stderr.seek(0)
        raise RuntimeError(f"the JVM parser exited:\n{self._stderr.read()[-4000:]}")

    def parse(self, statements: list[str]) -> list[dict[str, Any]]:
        self.proc.stdin.write(json.dumps(statements) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._expect("RESULT:"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        self._workdir.cleanup()


_parser: _Parser | None = None
_lock = threading.Lock()


def parse_with_spark(statements: list[str]) -> list[dict[str, str]]:
    """Statements the open-source Spark parser rejects, with its error (one JVM per session)."""
    global _parser
    with _lock:
        if _parser is None:
            _parser = _Parser()
        return _parser.parse(statements)
