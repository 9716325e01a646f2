"""Table monitors: the data-quality API and the legacy quality-monitors API."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from tests.emulator.common import (
    DQ_COLUMN_FIELDS,
    DQ_GRANULARITIES,
    DQ_READ_ONLY_FIELDS,
    JSON,
    LEGACY_COLUMN_FIELDS,
    LEGACY_GRANULARITIES,
    LEGACY_READ_ONLY_FIELDS,
    PROFILE_TYPES,
    TABLE,
    WRITE_ONLY_FIELDS,
    ApiError,
    ColumnFields,
    Route,
    _bad_request,
    _copy_path,
    _Refresh,
    _Table,
)


class MonitorService:
    def _monitor_routes(self) -> list[Route]:
        dq = "/api/data-quality/v1/monitors"
        dq_one = dq + "/(?P<type>[^/]+)/(?P<id>[^/]+)"
        rid = "/(?P<rid>\\d+)"
        return [
            ("POST", TABLE + "/monitor", self._legacy_create),
            ("GET", TABLE + "/monitor", self._legacy_get),
            ("PUT", TABLE + "/monitor", self._legacy_update),
            ("DELETE", TABLE + "/monitor", self._legacy_delete),
            ("POST", TABLE + "/monitor/refreshes", self._legacy_run_refresh),
            ("GET", TABLE + "/monitor/refreshes", self._legacy_list_refreshes),
            ("GET", TABLE + "/monitor/refreshes" + rid, self._legacy_get_refresh),
            ("POST", TABLE + "/monitor/refreshes" + rid + "/cancel", self._legacy_cancel),
            ("POST", dq, self._dq_create),
            ("GET", dq_one, self._dq_get),
            ("PATCH", dq_one, self._dq_update),
            ("DELETE", dq_one, self._dq_delete),
            ("POST", dq_one + "/refreshes", self._dq_create_refresh),
            ("GET", dq_one + "/refreshes", self._dq_list_refreshes),
            ("GET", dq_one + "/refreshes" + rid, self._dq_get_refresh),
            ("POST", dq_one + "/refreshes" + rid + "/cancel", self._dq_cancel),
        ]

    # -- shared monitor validation -----------------------------------------------------------

    def _check_profile(
        self,
        table: _Table,
        config: JSON,
        column_fields: ColumnFields,
        grains: frozenset[str],
    ) -> None:
        """Exactly one profile type, known granularities, existing columns."""
        present = [p for p in PROFILE_TYPES if config.get(p) is not None]
        if len(present) != 1:
            raise _bad_request(f"Exactly one of {', '.join(PROFILE_TYPES)} must be set.")
        profile = present[0]
        spec = config[profile]
        if not isinstance(spec, dict):
            raise _bad_request(f"{profile} must be an object.")
        if profile == "snapshot":
            return
        granularities = spec.get("granularities") or []
        if not granularities:
            raise _bad_request(f"{profile}.granularities must not be empty.")
        for g in granularities:
            if g not in grains:
                raise _bad_request(f"Unsupported granularity '{g}'.")
        known = {name.lower() for name, _ in table.columns}
        required, optional = column_fields[profile]
        for key in (*required, *optional):
            column = spec.get(key)
            if column is None:
                if key in required:
                    raise _bad_request(f"{profile}.{key} is required.")
                continue
            if self.validate_columns and column.lower() not in known:
                raise _bad_request(f"Column '{column}' not found in table {table.full_name}.")

    # -- data-quality API --------------------------------------------------------------------

    def _dq_profiling_config(
        self, table: _Table, config: Any, *, version: int, dashboard_id: str | None = None
    ) -> JSON:
        """The stored (and returned) form of a data_profiling_config."""
        if not isinstance(config, dict):
            raise _bad_request("data_profiling_config is required for table monitors.")
        output_schema_id = config.get("output_schema_id")
        if not output_schema_id:
            raise _bad_request("data_profiling_config.output_schema_id is required.")
        schema = next(
            (s for s in self._schemas.values() if s["schema_id"] == output_schema_id), None
        )
        if schema is None:
            raise ApiError(
                404, "SCHEMA_DOES_NOT_EXIST", f"Schema with id '{output_schema_id}' does not exist."
            )
        self._check_profile(table, config, DQ_COLUMN_FIELDS, DQ_GRANULARITIES)
        leaf = table.parts[2]
        out = {
            k: copy.deepcopy(v)
            for k, v in config.items()
            if k not in WRITE_ONLY_FIELDS and k not in DQ_READ_ONLY_FIELDS
        }
        out.update(
            status="DATA_PROFILING_STATUS_ACTIVE",
            monitored_table_name=table.full_name,
            profile_metrics_table_name=f"{schema['full_name']}.{leaf}_profile_metrics",
            drift_metrics_table_name=f"{schema['full_name']}.{leaf}_drift_metrics",
            monitor_version=version,
        )
        if not config.get("skip_builtin_dashboard"):
            out["dashboard_id"] = dashboard_id or uuid.uuid4().hex
        return out

    def _dq_object(self, object_type: str, object_id: str) -> tuple[str, _Table | None]:
        """(display name, table or None for a schema) of a monitored object, or 404."""
        if object_type == "table":
            table = self._tables_by_id.get(object_id)
            if table is None:
                raise ApiError(
                    404, "RESOURCE_DOES_NOT_EXIST", f"Table with id '{object_id}' does not exist."
                )
            return f"table {table.full_name}", table
        if object_type == "schema":
            for schema in self._schemas.values():
                if schema["schema_id"] == object_id:
                    return f"schema {schema['full_name']}", None
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"Schema with id '{object_id}' does not exist."
            )
        raise _bad_request(f"Unsupported object_type '{object_type}'.")

    def _dq_monitor(self, params: dict[str, str]) -> JSON:
        label, _ = self._dq_object(params["type"], params["id"])
        monitor = self.monitors.get(params["id"])
        if monitor is None or monitor.get("object_type") != params["type"]:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Monitor does not exist for {label}.")
        return monitor

    def _dq_create(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        if not isinstance(body, dict) or not body.get("object_type") or not body.get("object_id"):
            raise _bad_request("object_type and object_id are required.")
        object_type, object_id = body["object_type"], body["object_id"]
        label, table = self._dq_object(object_type, object_id)
        if object_id in self.monitors:
            raise ApiError(409, "RESOURCE_ALREADY_EXISTS", f"Monitor already exists for {label}.")
        monitor: JSON = {"object_type": object_type, "object_id": object_id}
        if table is not None:
            monitor["data_profiling_config"] = self._dq_profiling_config(
                table, body.get("data_profiling_config"), version=1
            )
        else:
            if not isinstance(body.get("anomaly_detection_config"), dict):
                raise _bad_request("anomaly_detection_config is required for schema monitors.")
            monitor["anomaly_detection_config"] = copy.deepcopy(body["anomaly_detection_config"])
        self.monitors[object_id] = monitor
        return copy.deepcopy(monitor)

    def _dq_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return copy.deepcopy(self._dq_monitor(params))

    def _dq_update(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        current = self._dq_monitor(params)
        mask = [p.strip() for p in query.get("update_mask", "").split(",") if p.strip()]
        if not mask:
            raise _bad_request("update_mask is required.")
        if not isinstance(body, dict):
            raise _bad_request("A monitor body is required.")
        updated = copy.deepcopy(current)
        config_keys = ("data_profiling_config", "anomaly_detection_config")
        for path in mask:
            keys = list(config_keys) if path == "*" else [path]
            for key in keys:
                if key.split(".")[0] not in config_keys:
                    raise _bad_request(f"Unsupported update_mask path '{path}'.")
                _copy_path(body, updated, key.split("."))
        _, table = self._dq_object(params["type"], params["id"])
        if table is not None:
            old = current.get("data_profiling_config", {})
            updated["data_profiling_config"] = self._dq_profiling_config(
                table,
                updated.get("data_profiling_config"),
                version=int(old.get("monitor_version", 0)) + 1,
                dashboard_id=old.get("dashboard_id"),
            )
        self.monitors[params["id"]] = updated
        return copy.deepcopy(updated)

    def _dq_delete(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        del self.monitors[params["id"]]
        self._refreshes.pop(("dq", params["id"]), None)
        return {}

    def _new_refresh(self, key: tuple[str, str]) -> _Refresh:
        refresh = _Refresh(self._next_refresh_id, self.refresh_states)
        self._next_refresh_id += 1
        self._refreshes.setdefault(key, []).append(refresh)
        return refresh

    def _find_refresh(self, key: tuple[str, str], refresh_id: str) -> _Refresh:
        for refresh in self._refreshes.get(key, []):
            if refresh.refresh_id == int(refresh_id):
                return refresh
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Refresh {refresh_id} does not exist.")

    def _dq_create_refresh(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        refresh = self._new_refresh(("dq", params["id"]))
        return refresh.as_dq_json(params["type"], params["id"])

    def _dq_get_refresh(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        refresh = self._find_refresh(("dq", params["id"]), params["rid"])
        refresh.advance()
        return refresh.as_dq_json(params["type"], params["id"])

    def _dq_list_refreshes(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        refreshes = reversed(self._refreshes.get(("dq", params["id"]), []))
        return {"refreshes": [r.as_dq_json(params["type"], params["id"]) for r in refreshes]}

    def _dq_cancel(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        refresh = self._find_refresh(("dq", params["id"]), params["rid"])
        refresh.cancel()
        return {"refresh": refresh.as_dq_json(params["type"], params["id"])}

    # -- legacy quality-monitors API ---------------------------------------------------------

    def _legacy_info(self, table: _Table, body: Any, *, version: int, assets_dir: Any) -> JSON:
        """The stored (and returned) form of a legacy MonitorInfo."""
        if not isinstance(body, dict):
            raise _bad_request("A request body is required.")
        output_schema = body.get("output_schema_name")
        if not output_schema:
            raise _bad_request("output_schema_name is required.")
        if not assets_dir:
            raise _bad_request("assets_dir is required.")
        schema = self._schema(output_schema)
        self._check_profile(table, body, LEGACY_COLUMN_FIELDS, LEGACY_GRANULARITIES)
        leaf = table.parts[2]
        out = {
            k: copy.deepcopy(v)
            for k, v in body.items()
            if k not in WRITE_ONLY_FIELDS and k not in LEGACY_READ_ONLY_FIELDS
        }
        out.update(
            table_name=table.full_name,
            output_schema_name=schema["full_name"],
            assets_dir=assets_dir,
            status="MONITOR_STATUS_ACTIVE",
            profile_metrics_table_name=f"{schema['full_name']}.{leaf}_profile_metrics",
            drift_metrics_table_name=f"{schema['full_name']}.{leaf}_drift_metrics",
            monitor_version=version,
        )
        if not out.get("dashboard_id") and not body.get("skip_builtin_dashboard"):
            out["dashboard_id"] = uuid.uuid4().hex
        return out

    def _legacy_monitor(self, name: str) -> JSON:
        table = self._table(name)
        monitor = self.legacy_monitors.get(table.full_name)
        if monitor is None:
            raise ApiError(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"Monitor does not exist for table {table.full_name}.",
            )
        return monitor

    def _legacy_create(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        table = self._table(params["name"])
        if table.full_name in self.legacy_monitors:
            raise ApiError(
                409,
                "RESOURCE_ALREADY_EXISTS",
                f"Monitor already exists for table {table.full_name}.",
            )
        assets_dir = body.get("assets_dir") if isinstance(body, dict) else None
        info = self._legacy_info(table, body, version=1, assets_dir=assets_dir)
        self.legacy_monitors[table.full_name] = info
        return copy.deepcopy(info)

    def _legacy_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return copy.deepcopy(self._legacy_monitor(params["name"]))

    def _legacy_update(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        current = self._legacy_monitor(params["name"])
        table = self._table(params["name"])
        if isinstance(body, dict) and "dashboard_id" not in body and "dashboard_id" in current:
            body = {**body, "dashboard_id": current["dashboard_id"]}
        info = self._legacy_info(
            table,
            body,
            version=int(current.get("monitor_version", 0)) + 1,
            assets_dir=current.get("assets_dir"),
        )
        self.legacy_monitors[table.full_name] = info
        return copy.deepcopy(info)

    def _legacy_delete(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        monitor = self._legacy_monitor(params["name"])
        del self.legacy_monitors[monitor["table_name"]]
        self._refreshes.pop(("legacy", monitor["table_name"]), None)
        return {}

    def _legacy_run_refresh(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        monitor = self._legacy_monitor(params["name"])
        return self._new_refresh(("legacy", monitor["table_name"])).as_legacy_json()

    def _legacy_get_refresh(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        monitor = self._legacy_monitor(params["name"])
        refresh = self._find_refresh(("legacy", monitor["table_name"]), params["rid"])
        refresh.advance()
        return refresh.as_legacy_json()

    def _legacy_list_refreshes(
        self, params: dict[str, str], query: dict[str, str], body: Any
    ) -> JSON:
        monitor = self._legacy_monitor(params["name"])
        refreshes = reversed(self._refreshes.get(("legacy", monitor["table_name"]), []))
        return {"refreshes": [r.as_legacy_json() for r in refreshes]}

    def _legacy_cancel(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        monitor = self._legacy_monitor(params["name"])
        self._find_refresh(("legacy", monitor["table_name"]), params["rid"]).cancel()
        return {}
