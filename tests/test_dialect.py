"""Every statement the suite issued parses with the open-source Spark 4 SQL parser."""

from __future__ import annotations

import re

import pytest

from tests.jvm import parse_with_spark

_TEMP_VIEW = re.compile(r"`etlm_src_[0-9a-f]+_\d+`")


@pytest.mark.dialect
def test_every_captured_statement_parses_with_spark(capture_statements):
    # OPTIMIZE, VACUUM and DESCRIBE DETAIL are Delta's own SQL, issued only on engines
    # that have them (engines.CAPABILITIES: optimize, table_history); the rest is portable.
    maintenance = {s.text.split()[0] for s in capture_statements if s.kind == "maintenance"}
    assert maintenance <= {"OPTIMIZE", "VACUUM", "DESCRIBE"}
    statements = sorted(
        {
            _TEMP_VIEW.sub("`etlm_src`", s.text)
            for s in capture_statements
            if s.is_sql and s.kind != "maintenance"
        }
    )
    assert len(statements) >= 10, "the suite should have issued statements before this check"
    failures = parse_with_spark(statements)
    assert failures == [], "\n\n".join(f"{f['error']}\n{f['sql']}" for f in failures)


@pytest.mark.dialect
def test_parser_rejects_databricks_only_syntax():
    """The check can fail: QUALIFY is Databricks-only."""
    failures = parse_with_spark(
        ["SELECT a FROM t QUALIFY ROW_NUMBER() OVER (ORDER BY a) = 1", "SELECT 1"]
    )
    assert [f["sql"] for f in failures] == [
        "SELECT a FROM t QUALIFY ROW_NUMBER() OVER (ORDER BY a) = 1"
    ]
