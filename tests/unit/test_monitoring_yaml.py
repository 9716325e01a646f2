"""The data profiling orchestrator's YAML imported into the monitoring config tables.

What needs no engine: no session starts here; tests/engines/test_monitoring_yaml.py runs the rest on every
engine.
"""

from __future__ import annotations

import pytest
from databricks.sdk.errors import InvalidParameterValue, NotFound
from databricks.sdk.service.catalog import EntityTagAssignment

from tests.emulator import DatabricksEmulator


@pytest.fixture
def emulator():
    with DatabricksEmulator() as emu:
        yield emu


# -- the emulated tag service --------------------------------------------------------------


def test_emulated_tag_assignments_page_and_refuse_like_the_service(emulator):
    emulator.add_tagged_table("prod.ml.t", ["id"], {"a": "1", "b": "2", "c": None})
    w = emulator.client()
    listed = list(w.entity_tag_assignments.list("tables", "prod.ml.t", max_results=1))
    assert [(t.tag_key, t.tag_value, t.entity_type) for t in listed] == [
        ("a", "1", "tables"),
        ("b", "2", "tables"),
        ("c", None, "tables"),
    ]
    pages = [r.query for r in emulator.requests if r.path.endswith("/prod.ml.t/tags")]
    assert len(pages) == 4 and pages[0] == {"max_results": "1"}  # the last page is empty
    w.entity_tag_assignments.create(
        EntityTagAssignment(entity_name="prod.ml.t", tag_key="d", entity_type="tables")
    )
    assert w.entity_tag_assignments.get("tables", "prod.ml.t", "d").tag_value is None
    w.entity_tag_assignments.delete("tables", "prod.ml.t", "a")
    assert emulator.tags_of("prod.ml.t") == {"b": "2", "c": None, "d": None}
    with pytest.raises(InvalidParameterValue, match="Invalid entity_type 'TABLE'"):
        list(w.entity_tag_assignments.list("TABLE", "prod.ml.t"))
    with pytest.raises(NotFound):
        list(w.entity_tag_assignments.list("tables", "prod.ml.gone"))
    with pytest.raises(NotFound):
        w.entity_tag_assignments.get("tables", "prod.ml.t", "a")
    with pytest.raises(ValueError, match="Invalid tag key"):
        emulator.set_tags("prod.ml.t", {"team-name": "x"})
    emulator.remove_table("prod.ml.t")
    emulator.add_table("prod.ml.t", ["id"])
    assert emulator.tags_of("prod.ml.t") == {}  # a dropped table's tags go with it
    assert emulator.errors == []
