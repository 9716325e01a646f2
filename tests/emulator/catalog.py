"""Unity Catalog tables and schemas."""

from __future__ import annotations

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


class CatalogService:
    def _catalog_routes(self) -> list[Route]:
        return [
            ("GET", "/\\.well-known/databricks-config", self._well_known),
            ("GET", UC + "/tables", self._list_tables),
            ("GET", TABLE, self._get_table),
            ("GET", TABLE + "/exists", self._table_exists),
            ("GET", UC + "/schemas", self._list_schemas),
            ("GET", UC + "/schemas/(?P<name>[^/]+)", self._get_schema),
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
