"""The Lakeview dashboard: its widgets follow the specs the Lakeview editor exports, and publishing
against the emulated workspace finds, updates and publishes one dashboard.

What needs no engine: no session starts here; tests/engines/test_dashboards.py runs the rest on every
engine.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk.errors import NotFound, ResourceAlreadyExists, ResourceDoesNotExist
from databricks.sdk.service.dashboards import Dashboard
from databricks.sdk.service.workspace import ObjectType

from etl_monitor.errors import InvalidArgumentError
from etl_monitor.integrations import dashboards
from etl_monitor.integrations import sql_files as sqlfiles
from tests.emulator import DatabricksEmulator
from tests.emulator.workspace import LAKEVIEW_DEFAULT_PAGE_SIZE

ROOT = Path(__file__).resolve().parents[2]
LV = "/api/2.0/lakeview/dashboards"

# Version-1 table spec and column encoding, as databrickslabs/lsql models them
# (src/databricks/labs/lsql/lakeview/model.py: TableV1Spec.as_dict, TableV1ColumnEncoding).
TABLE_V1_SPEC_FIELDS = {
    "version",
    "widgetType",
    "invisibleColumns",
    "allowHTMLByDefault",
    "condensed",
    "encodings",
    "frame",
    "itemsPerPage",
    "paginationSize",
    "withRowNumber",
}
TABLE_V1_SPEC_REQUIRED = {
    "version",
    "widgetType",
    "invisibleColumns",
    "allowHTMLByDefault",
    "condensed",
    "encodings",
    "itemsPerPage",
}
TABLE_V1_COLUMN_FIELDS = {
    "alignContent",
    "allowHTML",
    "allowSearch",
    "booleanValues",
    "dateTimeFormat",
    "decimalFormat",
    "defaultColumnWidth",
    "description",
    "displayAs",
    "displayName",
    "fieldName",
    "highlightLinks",
    "imageHeight",
    "imageTitleTemplate",
    "imageUrlTemplate",
    "imageWidth",
    "linkOpenInNewTab",
    "linkTextTemplate",
    "linkTitleTemplate",
    "linkUrlTemplate",
    "numberFormat",
    "order",
    "preserveWhitespace",
    "title",
    "type",
    "useMonospaceFont",
    "visible",
}
# TableV1ColumnEncoding's fields without a default.
TABLE_V1_COLUMN_REQUIRED = {"booleanValues", "displayAs", "fieldName", "title", "type"}
COLUMN_TYPES = {"boolean", "complex", "date", "datetime", "decimal", "float", "integer", "string"}
DISPLAY_TYPES = {"boolean", "datetime", "image", "json", "link", "number", "string"}


def _widgets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [item["widget"] for page in doc["pages"] for item in page["layout"]]


def _stored(emulator: DatabricksEmulator, dashboard_id: str) -> dict[str, Any]:
    return json.loads(emulator.dashboards[dashboard_id]["serialized_dashboard"])


def _calls(emulator: DatabricksEmulator) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emulator.requests if not r.path.startswith("/.well-known/")]


def _seed_other_dashboards(w: Any, emulator: DatabricksEmulator, n: int = 5) -> None:
    """`n` dashboards elsewhere, one named like ours in another folder: more than one page."""
    w.workspace.mkdirs("/Shared/other")
    for i in range(n):
        name = dashboards.DISPLAY_NAME if i == 0 else f"Other {i}"
        w.lakeview.create(
            Dashboard(
                display_name=name,
                parent_path="/Shared/other",
                serialized_dashboard='{"datasets": [], "pages": []}',
            )
        )
    assert n > LAKEVIEW_DEFAULT_PAGE_SIZE


def test_every_widget_matches_the_spec_version_it_declares():
    doc = dashboards.definition("main", "etl", dashboards.OPTIONAL_VIEWS)
    widgets = _widgets(doc)
    assert widgets
    for widget in widgets:
        spec = widget["spec"]
        # One version per widget type: the one exported dashboards use (tables: 1).
        assert spec["version"] == dashboards.WIDGET_SPEC_VERSIONS[spec["widgetType"]]
        assert spec["widgetType"] == "table" and spec["version"] == 1
        assert TABLE_V1_SPEC_REQUIRED <= set(spec) <= TABLE_V1_SPEC_FIELDS, widget["name"]
        assert spec["invisibleColumns"] == []
        shown = [f["name"] for f in widget["queries"][0]["query"]["fields"]]
        columns = spec["encodings"]["columns"]
        assert [c["fieldName"] for c in columns] == shown
        for column in columns:
            keys = set(column)
            assert TABLE_V1_COLUMN_REQUIRED <= keys <= TABLE_V1_COLUMN_FIELDS, column
            assert column["type"] in COLUMN_TYPES and column["displayAs"] in DISPLAY_TYPES
            assert column["booleanValues"] == ["false", "true"]
            assert column["title"] == column["fieldName"]
        assert [c["order"] for c in columns] == sorted(c["order"] for c in columns)


def test_definition_takes_catalog_schema_and_optional_views():
    doc = dashboards.definition("sales-prod", "monitoring", {dashboards.DRIFT_ALERTS_VIEW})
    queries = [q for d in doc["datasets"] for q in d["queryLines"]]
    assert all("`sales-prod`.`monitoring`." in q for q in queries)
    assert not any("`main`" in q or "`etl`" in q for q in queries)
    assert any(dashboards.DRIFT_ALERTS_VIEW in q for q in queries)
    without = dashboards.definition("sales-prod", "monitoring")
    assert [p["name"] for p in without["pages"]] == ["runs", "problems", "watermarks"]
    with pytest.raises(InvalidArgumentError, match=r"v_taskDetail.*allowed: v_monitor_drift"):
        dashboards.definition("main", "etl", ["v_taskDetail"])
    assert dashboards.optional_views_in(["V_MONITOR_DRIFT_ALERTS", "v_taskdetail"]) == {
        dashboards.DRIFT_ALERTS_VIEW
    }
    assert dashboards.optional_views_in(["v_taskdetail"]) == frozenset()


def test_rendered_file_is_the_definition():
    text = sqlfiles.rendered()["dashboards/etl_monitor.lvdash.json"]
    assert json.loads(text) == dashboards.definition("main", "etl")
    assert (ROOT / "sql" / "dashboards" / "etl_monitor.lvdash.json").read_text() == text


# -- publishing ----------------------------------------------------------------------------------


def test_second_publish_updates_instead_of_creating_again():
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        w.workspace.mkdirs("/Shared/etl")  # the folder exists: only the look-up is at stake
        _seed_other_dashboards(w, emulator)  # one of them named like ours, in another folder
        seeded = {did: copy.deepcopy(d) for did, d in emulator.dashboards.items()}
        emulator.reset_log()
        first = dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/etl")
        assert first not in seeded
        assert emulator.count("POST", LV) == 2  # one create, one publish
        emulator.reset_log()
        again = dashboards.publish(w, "main", "etl", "wh2", parent_path="/Shared/etl")
        assert again == first
        assert _calls(emulator) == [
            ("GET", "/api/2.0/workspace/get-status"),
            ("GET", f"{LV}/{first}"),
            ("PATCH", f"{LV}/{first}"),
            ("POST", f"{LV}/{first}/published"),
        ]
        assert emulator.dashboards[first]["path"] == "/Shared/etl/ETL Monitor.lvdash.json"
        assert emulator.dashboards[first]["warehouse_id"] == "wh2"
        assert emulator.published[first]["warehouse_id"] == "wh2"
        assert {did: emulator.dashboards[did] for did in seeded} == seeded  # untouched


def test_first_publish_creates_the_missing_folder():
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        folder = "/Shared/teams/finance/etl_monitor"
        with pytest.raises(NotFound):
            w.workspace.get_status("/Shared/teams")
        dashboard_id = dashboards.publish(w, "main", "etl", "wh1", parent_path=folder)
        info = w.workspace.get_status(folder)
        assert info.object_type == ObjectType.DIRECTORY
        dashboard = w.workspace.get_status(f"{folder}/ETL Monitor.lvdash.json")
        assert dashboard.object_type == ObjectType.DASHBOARD
        assert dashboard.resource_id == dashboard_id
        assert emulator.count("POST", "/workspace/mkdirs") == 1
        assert emulator.published[dashboard_id]["warehouse_id"] == "wh1"
        assert _stored(emulator, dashboard_id) == dashboards.definition("main", "etl")


def test_republishing_unchanged_makes_no_mutating_call():
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        w.workspace.mkdirs("/Shared/etl")  # the folder exists: only the look-up is at stake
        dashboard_id = dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/etl")
        etag = emulator.dashboards[dashboard_id]["etag"]
        emulator.reset_log()
        again = dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/etl")
        assert again == dashboard_id
        assert emulator.mutating_count() == 0
        assert _calls(emulator) == [
            ("GET", "/api/2.0/workspace/get-status"),
            ("GET", f"{LV}/{dashboard_id}"),
            ("GET", f"{LV}/{dashboard_id}/published"),
        ]
        assert emulator.dashboards[dashboard_id]["etag"] == etag


def test_changes_make_exactly_the_calls_they_need():
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        w.workspace.mkdirs("/Shared/etl")  # the folder exists: only the look-up is at stake
        did = dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/etl")

        def republish(**kwargs: Any) -> tuple[int, int]:
            emulator.reset_log()
            args = {"catalog": "main", "schema": "etl", "warehouse_id": "wh1", **kwargs}
            assert dashboards.publish(w, parent_path="/Shared/etl", **args) == did
            assert emulator.count("POST", "/workspace/mkdirs") == 0
            assert emulator.mutating_count() == emulator.count("PATCH") + emulator.count(
                "POST", "/published"
            )
            return emulator.count("PATCH", LV), emulator.count("POST", "/published")

        assert republish(warehouse_id="wh2") == (1, 1)  # another warehouse
        assert republish(warehouse_id="wh2") == (0, 0)
        assert republish(warehouse_id="wh2", schema="etl2") == (1, 1)  # another definition
        opt = {dashboards.DRIFT_ALERTS_VIEW}
        assert republish(warehouse_id="wh2", schema="etl2", optional_views=opt) == (1, 1)
        assert republish(warehouse_id="wh2", schema="etl2", optional_views=opt) == (0, 0)
        # The draft edited by hand: restored and published again.
        w.lakeview.update(did, Dashboard(serialized_dashboard='{"datasets": [], "pages": []}'))
        assert republish(warehouse_id="wh2", schema="etl2", optional_views=opt) == (1, 1)
        # Published by hand on another warehouse, draft untouched: published only.
        w.lakeview.publish(did, warehouse_id="wh9", embed_credentials=False)
        assert republish(warehouse_id="wh2", schema="etl2", optional_views=opt) == (0, 1)
        # Credentials embedded now: published only.
        kwargs = {"schema": "etl2", "optional_views": opt, "embed_credentials": True}
        assert republish(warehouse_id="wh2", **kwargs) == (0, 1)
        assert emulator.published[did]["embed_credentials"] is True
        # A draft changed after the last publish (the same document saved again): published.
        w.lakeview.update(did, Dashboard(warehouse_id="wh2"))
        assert republish(warehouse_id="wh2", **kwargs) == (0, 1)
        assert republish(warehouse_id="wh2", **kwargs) == (0, 0)
        assert json.loads(emulator.published_documents[did]) == dashboards.definition(
            "main", "etl2", opt
        )


def test_published_dashboard_missing_is_published_again():
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        did = dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/etl")
        del emulator.published[did]
        emulator.reset_log()
        dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/etl")
        assert emulator.mutating_count() == 1 and emulator.count("POST", "/published") == 1


def test_a_refused_create_falls_back_to_listing_every_page(monkeypatch):
    monkeypatch.setattr(dashboards, "LIST_PAGE_SIZE", 2)
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        _seed_other_dashboards(w, emulator)  # 5 dashboards, then ours: the 6th
        did = dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/etl")
        # The path look-up misses once (e.g. another publisher created it meanwhile).
        emulator.fail("GET", "/workspace/get-status", 404, "RESOURCE_DOES_NOT_EXIST", times=1)
        emulator.reset_log()
        again = dashboards.publish(w, "main", "etl", "wh2", parent_path="/Shared/etl")
        assert again == did
        lists = [r for r in emulator.requests if r.method == "GET" and r.path == LV]
        assert [r.query.get("page_token") for r in lists] == [None, "2", "4"]
        assert {r.query.get("page_size") for r in lists} == {"2"}
        # Each dashboard named like ours is read once for its folder: the seeded one, ours.
        reads = [r.path for r in emulator.requests if r.method == "GET" and r.path != LV]
        assert reads.count(f"{LV}/{did}") == 2  # its folder, then its draft
        assert emulator.count("POST", LV) == 2  # the refused create and the publish
        assert emulator.count("PATCH", LV) == 1
        assert emulator.published[did]["warehouse_id"] == "wh2"
        assert sum(d["display_name"] == "ETL Monitor" for d in emulator.dashboards.values()) == 2


def test_a_trashed_dashboard_is_not_reused():
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        old = dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/etl")
        w.lakeview.trash(old)
        assert [d.dashboard_id for d in w.lakeview.list()] == []
        assert [d.dashboard_id for d in w.lakeview.list(show_trashed=True)] == [old]
        new = dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/etl")
        assert new != old and emulator.dashboards[new]["lifecycle_state"] == "ACTIVE"
        assert w.workspace.get_status("/Shared/etl/ETL Monitor.lvdash.json").resource_id == new


def test_publish_refuses_bad_locations_and_foreign_objects():
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        for bad in ("Shared/etl", "/Shared/etl/", "/Shared//etl"):
            with pytest.raises(InvalidArgumentError, match="parent_path"):
                dashboards.publish(w, "main", "etl", "wh1", parent_path=bad)
        with pytest.raises(InvalidArgumentError, match="display_name"):
            dashboards.publish(w, "main", "etl", "wh1", display_name="a/b")
        w.workspace.mkdirs("/Shared/etl/ETL Monitor.lvdash.json")  # a folder of that name
        with pytest.raises(InvalidArgumentError, match="type DIRECTORY, not a dashboard"):
            dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/etl")
        assert emulator.dashboards == {}


# -- the emulated workspace is as strict as the real one -----------------------------------------


def test_emulated_lakeview_refuses_what_the_service_refuses():
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        doc = '{"datasets": [], "pages": []}'
        with pytest.raises(ResourceDoesNotExist, match=r"Path \(/Shared/missing\) doesn't exist"):
            w.lakeview.create(
                Dashboard(display_name="D", parent_path="/Shared/missing", serialized_dashboard=doc)
            )
        w.workspace.mkdirs("/Shared/a/b")
        created = w.lakeview.create(
            Dashboard(display_name="D", parent_path="/Shared/a/b", serialized_dashboard=doc)
        )
        assert created.path == "/Shared/a/b/D.lvdash.json" and created.etag
        with pytest.raises(ResourceAlreadyExists, match="Node named 'D' already exists"):
            w.lakeview.create(
                Dashboard(display_name="D", parent_path="/Shared/a/b", serialized_dashboard=doc)
            )
        stale = Dashboard(serialized_dashboard=doc, etag="0")
        with pytest.raises(Exception, match="modified since etag 0"):
            w.lakeview.update(created.dashboard_id, stale)
        with pytest.raises(NotFound, match="not published"):
            w.lakeview.get_published(created.dashboard_id)


def test_emulated_lakeview_lists_a_reduced_view_page_by_page():
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        _seed_other_dashboards(w, emulator, n=5)
        emulator.reset_log()
        listed = list(w.lakeview.list())
        assert len(listed) == 5
        assert emulator.count("GET", LV) == 3  # pages of 2, 2 and 1
        for d in listed:
            assert d.dashboard_id and d.display_name
            assert (d.parent_path, d.path, d.serialized_dashboard, d.etag) == (None,) * 4
        full = w.lakeview.get(listed[0].dashboard_id)
        assert full.parent_path == "/Shared/other" and full.serialized_dashboard
        assert [d.dashboard_id for d in w.lakeview.list(page_size=5)] == [
            d.dashboard_id for d in listed
        ]


def test_emulated_workspace_tree_holds_folders_files_and_dashboards():
    with DatabricksEmulator() as emulator:
        w = emulator.client()
        w.workspace.mkdirs("/Shared/x/y")
        w.workspace.mkdirs("/Shared/x/y")  # an existing folder is no error
        did = dashboards.publish(w, "main", "etl", "wh1", parent_path="/Shared/x")
        objects = {o.path: o for o in w.workspace.list("/Shared/x")}
        assert set(objects) == {"/Shared/x/y", "/Shared/x/ETL Monitor.lvdash.json"}
        assert objects["/Shared/x/y"].object_type == ObjectType.DIRECTORY
        assert objects["/Shared/x/ETL Monitor.lvdash.json"].resource_id == did
        assert list(w.workspace.list("/Shared/x/y")) == []
        with pytest.raises(ResourceAlreadyExists):
            w.workspace.mkdirs("/Shared/x/ETL Monitor.lvdash.json/sub")
        with pytest.raises(NotFound, match=r"Path \(/nowhere\) doesn't exist"):
            list(w.workspace.list("/nowhere"))
