"""Unity Catalog tables and schemas, and the tags assigned to them.

Tag assignments follow ``EntityTagAssignmentsAPI`` of ``databricks/sdk/service/catalog.py``
and the REST reference https://docs.databricks.com/api/workspace/entitytagassignments:
``GET|POST /api/2.1/unity-catalog/entity-tag-assignments``, one assignment at
``.../{entity_type}/{entity_name}/tags/{tag_key}``. Only ``tables`` and ``schemas`` are
emulated; tags are stored by the object's id, so dropping a table drops its tags.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from tests.emulator.common import (
    JSON,
    TABLE,
    UC,
    ApiError,
    Route,
    _bad_request,
    _Table,
)

TAGS = UC + "/entity-tag-assignments"
ENTITY_TAGS = TAGS + "/(?P<entity_type>[^/]+)/(?P<entity_name>[^/]+)/tags"
#: The entity types the REST reference allows (the CLI reference of
#: ``databricks entity-tag-assignments create``: catalogs, schemas, tables, columns, volumes).
ENTITY_TYPES = frozenset({"catalogs", "schemas", "tables", "columns", "volumes"})
EMULATED_ENTITY_TYPES = ("schemas", "tables")
# Tag constraints of https://docs.databricks.com/en/database-objects/tags.html:
# at most 50 tags per object, keys up to 255 characters without . , - = / :,
# values up to 1000 characters.
MAX_TAGS = 50
MAX_TAG_KEY = 255
MAX_TAG_VALUE = 1000
FORBIDDEN_KEY_CHARS = re.compile(r"[.,\-=/:]")
#: Page size when the client sends no ``max_results`` (the service's is not documented;
#: small, so that tests walk several pages).
DEFAULT_TAG_PAGE_SIZE = 2


class CatalogService:
    def _catalog_routes(self) -> list[Route]:
        return [
            ("GET", "/\\.well-known/databricks-config", self._well_known),
            ("GET", UC + "/tables", self._list_tables),
            ("GET", TABLE, self._get_table),
            ("GET", TABLE + "/exists", self._table_exists),
            ("GET", UC + "/schemas", self._list_schemas),
            ("GET", UC + "/schemas/(?P<name>[^/]+)", self._get_schema),
            ("POST", TAGS, self._create_tag),
            ("GET", ENTITY_TAGS, self._list_tags),
            ("GET", ENTITY_TAGS + "/(?P<tag_key>[^/]+)", self._get_tag),
            ("DELETE", ENTITY_TAGS + "/(?P<tag_key>[^/]+)", self._delete_tag),
        ]

    # -- Unity Catalog -----------------------------------------------------------------------

    def _table(self, name: str) -> _Table:
        table = self._tables.get(name.lower())
        if table is None:
            raise ApiError(404, "TABLE_DOES_NOT_EXIST", f"Table '{name}' does not exist.")
        return table

    def _schema(self, name: str) -> JSON:
        schema = self._schemas.get(name.lower())
        if schema is None:
            raise ApiError(404, "SCHEMA_DOES_NOT_EXIST", f"Schema '{name}' does not exist.")
        return schema

    def _well_known(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        raise ApiError(404, "NOT_FOUND", "Host metadata is not available.")

    def _get_table(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return self._table(params["name"]).as_json()

    def _table_exists(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return {"table_exists": params["name"].lower() in self._tables}

    def _list_tables(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        catalog = query.get("catalog_name", "").lower()
        schema = query.get("schema_name", "").lower()
        if not catalog or not schema:
            raise _bad_request("catalog_name and schema_name are required.")
        self._schema(f"{catalog}.{schema}")
        prefix = f"{catalog}.{schema}."
        tables = [
            t.as_json() for name, t in sorted(self._tables.items()) if name.startswith(prefix)
        ]
        return {"tables": tables}

    def _get_schema(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return dict(self._schema(params["name"]))

    def _list_schemas(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        catalog = query.get("catalog_name", "").lower()
        if not catalog:
            raise _bad_request("catalog_name is required.")
        schemas = [dict(s) for s in self._schemas.values() if s["catalog_name"] == catalog]
        return {"schemas": sorted(schemas, key=lambda s: s["full_name"])}

    # -- tags --------------------------------------------------------------------------------

    def _tag_store(self) -> dict[tuple[str, str], dict[str, JSON]]:
        """Tag assignments by (entity_type, object id), then tag key."""
        return self.__dict__.setdefault("_tag_assignments", {})

    def _entity_id(self, entity_type: str, entity_name: str) -> str:
        """The id tags are stored under; 404 when the object does not exist."""
        # EntityTagAssignmentsAPI.list: "entity_type: The type of the entity to which the
        # tag is assigned", one of ENTITY_TYPES.
        if entity_type not in ENTITY_TYPES:
            raise _bad_request(
                f"Invalid entity_type '{entity_type}'; allowed: {', '.join(sorted(ENTITY_TYPES))}."
            )
        if entity_type not in EMULATED_ENTITY_TYPES:
            raise _bad_request(f"entity_type '{entity_type}' is not emulated.")
        if entity_type == "tables":
            return self._table(entity_name).table_id
        return self._schema(entity_name)["schema_id"]

    def set_tags(
        self, entity_name: str, tags: Mapping[str, str | None], entity_type: str = "tables"
    ) -> None:
        """Assign tags (key -> value, None for a key-only tag) as ``ALTER ... SET TAGS`` does.

        Existing keys are overwritten; the documented tag constraints apply (ValueError).
        """
        with self._lock:
            try:
                for key, value in tags.items():
                    self._assign(entity_type, entity_name, key, value)
            except ApiError as error:
                raise ValueError(error.message) from None

    def add_tagged_table(
        self,
        full_name: str,
        columns: Any,
        tags: Mapping[str, str | None],
    ) -> str:
        """``add_table`` then ``set_tags``; returns the ``table_id``."""
        with self._lock:
            table_id = self.add_table(full_name, columns)
            self.set_tags(full_name, tags)
            return table_id

    def tags_of(self, entity_name: str, entity_type: str = "tables") -> dict[str, str | None]:
        """The tags of an object, key -> value."""
        with self._lock:
            store = self._tag_store().get((entity_type, self._entity_id(entity_type, entity_name)))
            return {k: a.get("tag_value") for k, a in (store or {}).items()}

    def _assign(self, entity_type: str, entity_name: str, key: Any, value: Any) -> JSON:
        if not isinstance(key, str) or not key:
            raise _bad_request("tag_key is required.")
        if len(key) > MAX_TAG_KEY or FORBIDDEN_KEY_CHARS.search(key):
            raise _bad_request(
                f"Invalid tag key '{key}': at most {MAX_TAG_KEY} characters, none of . , - = / :"
            )
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TAG_VALUE):
            raise _bad_request(
                f"Invalid tag value for '{key}': a string of at most 1000 characters."
            )
        entity_id = self._entity_id(entity_type, entity_name)
        store = self._tag_store().setdefault((entity_type, entity_id), {})
        if key not in store and len(store) >= MAX_TAGS:
            raise _bad_request(f"An object can have at most {MAX_TAGS} tags.")
        # EntityTagAssignment: entity_name, entity_type, tag_key, tag_value; update_time and
        # updated_by are output only (RFC 3339, as the REST reference's example).
        assignment: JSON = {
            "entity_name": entity_name.lower(),
            "entity_type": entity_type,
            "tag_key": key,
            "update_time": datetime.now(timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "updated_by": self.user_name,
        }
        if value is not None:
            assignment["tag_value"] = value
        store[key] = assignment
        return dict(assignment)

    def _create_tag(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # EntityTagAssignmentsAPI.create posts the EntityTagAssignment itself as the body.
        body = body if isinstance(body, dict) else {}
        for required in ("entity_type", "entity_name", "tag_key"):
            if not body.get(required):
                raise _bad_request(f"{required} is required.")
        store = self._tag_store().get(
            (body["entity_type"], self._entity_id(body["entity_type"], body["entity_name"])), {}
        )
        if body["tag_key"] in store:
            raise ApiError(
                409,
                "RESOURCE_ALREADY_EXISTS",
                f"Tag '{body['tag_key']}' is already assigned to '{body['entity_name']}'.",
            )
        return self._assign(
            body["entity_type"], body["entity_name"], body["tag_key"], body.get("tag_value")
        )

    def _entity_tags(self, params: dict[str, str]) -> dict[str, JSON]:
        entity_type, entity_name = params["entity_type"], params["entity_name"]
        entity_id = self._entity_id(entity_type, entity_name)
        return self._tag_store().get((entity_type, entity_id), {})

    def _list_tags(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        store = self._entity_tags(params)
        # EntityTagAssignmentsAPI.list: optional max_results and page_token; the client
        # reads pages "until next_page_token is absent", and "a page may contain zero
        # results while still providing a next_page_token" (the REST reference).
        try:
            size = int(query.get("max_results") or DEFAULT_TAG_PAGE_SIZE)
        except ValueError:
            raise _bad_request(f"Invalid max_results '{query['max_results']}'.") from None
        if size < 0:
            raise _bad_request(f"Invalid max_results '{size}': must not be negative.")
        size = size or DEFAULT_TAG_PAGE_SIZE
        start = 0
        if query.get("page_token"):
            try:
                start = int(base64.urlsafe_b64decode(query["page_token"].encode()).decode())
            except (ValueError, UnicodeDecodeError):
                raise _bad_request(f"Invalid page_token '{query['page_token']}'.") from None
        keys = sorted(store)
        out: JSON = {}
        page = [dict(store[k]) for k in keys[start : start + size]]
        if page:  # empty repeated fields are left out of the JSON, as proto3 does
            out["tag_assignments"] = page
        if len(page) == size:  # a full page: there may be more (possibly an empty page)
            out["next_page_token"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return out

    def _get_tag(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        assignment = self._entity_tags(params).get(params["tag_key"])
        if assignment is None:
            raise ApiError(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"Tag '{params['tag_key']}' is not assigned to '{params['entity_name']}'.",
            )
        return dict(assignment)

    def _delete_tag(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        store = self._entity_tags(params)
        if params["tag_key"] not in store:
            raise ApiError(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"Tag '{params['tag_key']}' is not assigned to '{params['entity_name']}'.",
            )
        del store[params["tag_key"]]
        return {}
