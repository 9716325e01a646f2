"""The monitoring config's argument models under any value at all (hypothesis, no engine).

`MonitoringFramework.register_group`, `register_table(s)`, `import_yaml` and the plan's
policy validate through these models before anything is written; whatever one argument
is given, the outcome is an accepted value or `InvalidArgumentError` naming it, never
another exception.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_monitor import InvalidArgumentError
from etl_monitor.core.arguments import validate
from etl_monitor.monitoring.config import GroupArgs, TableArgs
from etl_monitor.monitoring.provision import MonitoringPolicy

BASES: dict[type, dict[str, Any]] = {
    GroupArgs: {"group": "sales"},
    TableArgs: {"table_name": "main.sales.orders"},
    MonitoringPolicy: {},
}

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec=None), max_size=20),  # lone surrogates included
    st.binary(max_size=8),
    st.sampled_from(["", " ", "x\n", "'; DROP TABLE t; --", "[", "a@b.c\n", "1 day", "x" * 5000]),
)
anything = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=6),
    st.dictionaries(st.text(max_size=3), _scalars, max_size=2),
    st.just(object()),
)


@pytest.mark.parametrize("model", list(BASES), ids=lambda m: m.__name__)
def test_any_value_is_accepted_or_refused_naming_its_argument(model: type) -> None:
    fields = sorted(model.model_fields)

    @settings(max_examples=max(20, settings.default.max_examples * 2))
    @given(name=st.sampled_from(fields), value=anything)
    def accepted_or_refused(name: str, value: Any) -> None:
        try:
            validate(model, "config", **{**BASES[model], name: value})
        except InvalidArgumentError as error:
            assert error.argument == name or name in str(error), str(error)

    accepted_or_refused()


@pytest.mark.parametrize(
    ("model", "name", "value"),
    [
        (GroupArgs, "drift_threshold", True),
        (GroupArgs, "drift_threshold", "0.5"),
        (GroupArgs, "notification_emails", ["ops@example.com\n"]),
        (GroupArgs, "notification_emails", [b"ops@example.com"]),
        (TableArgs, "runbook_url", "https://example.com\n"),
        (MonitoringPolicy, "naming_patterns", ["["]),
        (MonitoringPolicy, "require_owner", "yes"),
        (MonitoringPolicy, "max_tables", 5.0),
    ],
)
def test_lax_conversions_are_refused(model: type, name: str, value: Any) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        validate(model, "config", **{**BASES[model], name: value})
    assert caught.value.argument == name


@pytest.mark.parametrize(
    "document",
    ["[" * 100_000, "a: [", "x\x00y", "\ud800", "- 1\n- 2", "/no/such/file.yml", "x" * 5000, 5],
    ids=["deep", "broken", "nul", "surrogate", "a-list", "no-file", "long-name", "not-text"],
)
def test_a_hostile_document_is_refused_with_the_librarys_error(document: Any, tmp_path) -> None:
    from etl_monitor.tracking import catalogue

    with pytest.raises(InvalidArgumentError):
        catalogue.load(document)


def test_a_file_that_is_not_utf8_is_refused(tmp_path) -> None:
    from etl_monitor.core.documents import read_text

    path = tmp_path / "latin1.yml"
    path.write_bytes("naïve: 1\n".encode("latin-1"))
    with pytest.raises(InvalidArgumentError, match="not UTF-8"):
        read_text(path, "import_yaml")
    with pytest.raises(InvalidArgumentError, match="cannot read"):
        read_text(tmp_path / "missing.yml", "import_yaml")
    with pytest.raises(InvalidArgumentError, match="a file path"):
        read_text(5, "import_yaml")  # type: ignore[arg-type]
