"""The dialect check: every statement the suite issues must parse with the Spark 4 parser.

conftest's autouse `_dialect` fixture runs `dialect_failures` after every test on the
statements issued since the last check, so a test whose SQL is not portable errors at its
own teardown, in whichever worker process ran it. These tests show the check can fail.
"""

from __future__ import annotations

import pytest

from etl_monitor.engine.executor import Statement
from tests.jvm import dialect_failures, parse_with_spark


@pytest.mark.dialect
def test_parser_rejects_databricks_only_syntax():
    """QUALIFY is Databricks-only."""
    failures = parse_with_spark(
        ["SELECT a FROM t QUALIFY ROW_NUMBER() OVER (ORDER BY a) = 1", "SELECT 1"]
    )
    assert [f["sql"] for f in failures] == [
        "SELECT a FROM t QUALIFY ROW_NUMBER() OVER (ORDER BY a) = 1"
    ]


@pytest.mark.dialect
def test_dialect_check_flags_what_is_not_portable_and_parses_each_text_once():
    qualify = "SELECT a FROM t QUALIFY ROW_NUMBER() OVER (ORDER BY a) = 1"
    statements = [
        Statement("SELECT * FROM `etlm_src_0a1b_3`", None, "query"),
        Statement("SELECT * FROM `etlm_src_ffee_12`", None, "query"),
        Statement(qualify, None, "query"),
        Statement("ANALYZE TABLE t COMPUTE STATISTICS", None, "maintenance"),
        Statement("OPTIMIZE t", None, "maintenance"),
        Statement("MERGE INTO t", None, "merge"),  # a DataFrame write: its text is a label
    ]
    checked: set[str] = set()
    failures = dialect_failures(statements, checked)
    assert sorted(f["sql"] for f in failures) == ["ANALYZE TABLE t COMPUTE STATISTICS", qualify]
    # the two temporary views are one text; a rejected text is not parsed again either
    assert checked == {"SELECT * FROM `etlm_src`", qualify}
    assert dialect_failures(statements[:3], checked) == []
