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
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
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


#: Temporary views the executor names per call; one spelling is enough for the parser.
_TEMP_VIEW = re.compile(r"`etlm_src_[0-9a-f]+_\d+`")
#: OPTIMIZE, VACUUM and DESCRIBE DETAIL are Delta's own SQL, issued only on engines that
#: have them (engines.CAPABILITIES: optimize, table_history); the rest must be portable.
MAINTENANCE_VERBS = {"OPTIMIZE", "VACUUM", "DESCRIBE"}


def dialect_failures(statements: Iterable[Any], checked: set[str]) -> list[dict[str, str]]:
    """What of `statements` (executor `Statement`s) is not portable Spark 4 SQL.

    SQL texts not yet in `checked` are parsed with the open-source Spark parser and added
    to it, so each distinct text is parsed once per test process; maintenance statements
    must be Delta's own verbs.
    """
    failures: list[dict[str, str]] = []
    texts: set[str] = set()
    for statement in statements:
        if statement.kind == "maintenance":
            if statement.text.split()[0] not in MAINTENANCE_VERBS:
                failures.append(
                    {"sql": statement.text, "error": f"maintenance is {MAINTENANCE_VERBS}"}
                )
        elif statement.is_sql:
            texts.add(_TEMP_VIEW.sub("`etlm_src`", statement.text))
    new = sorted(texts - checked)
    if new:
        failures += parse_with_spark(new)
        checked.update(new)
    return failures
