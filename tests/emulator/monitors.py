"""Table monitors: the data-quality API and the legacy quality-monitors API over one store.

Each rule below names the reference it follows:

* One store. A table has one monitor whichever API made it: the legacy
  ``/api/2.1/unity-catalog/tables/{name}/monitor`` endpoints are the older face of the same
  resource as ``/api/data-quality/v1/monitors`` (the REST docs mark the quality-monitors
  commands deprecated in favour of data-quality). Monitors are stored in the data-quality
  form, keyed by ``table_id``, and translated on the way in and out of the legacy API
  (``output_schema_name`` <-> ``output_schema_id``, ``*_col`` <-> ``*_column``,
  ``"1 day"`` <-> ``AGGREGATION_GRANULARITY_1_DAY``, ``MONITOR_STATUS_*`` <->
  ``DATA_PROFILING_STATUS_*``: the enums of ``databricks/sdk/service/catalog.py`` and
  ``dataquality.py``).
* PENDING, then ACTIVE. A created or updated monitor answers ``*_STATUS_PENDING`` until it
  has been read ``pending_reads`` times, then ``*_STATUS_ACTIVE`` (``DataProfilingConfig.dashboard_id``:
  "can be empty if the monitor is in PENDING state"; terraform-provider-databricks waits for
  ``MONITOR_STATUS_ACTIVE`` after create and update and gives up on ERROR/FAILED,
  ``catalog/resource_quality_monitor.go`` ``WaitForMonitor``). A refresh of a monitor that is
  not ACTIVE is refused with 400 ``INVALID_STATE`` (an assumption: the docs do not say what
  the service answers; it follows terraform's treating only ACTIVE as ready).
* DELETE_PENDING, then gone. A deleted table monitor answers
  ``DATA_PROFILING_STATUS_DELETE_PENDING`` (legacy ``MONITOR_STATUS_DELETE_PENDING``) for
  ``delete_pending_reads`` reads, then 404; a create over it is refused with 409
  ``RESOURCE_ALREADY_EXISTS`` (the SDK's ``DataProfilingStatus`` and ``MonitorInfoStatus``
  enums name the state; how long it lasts and what a create answers meanwhile are an
  assumption: the docs do not say).
* Leaf-level update masks. ``update_mask`` names paths of the ``Monitor`` resource
  (``dataquality.py`` ``update_monitor``: "Example value:
  ``data_profiling_config.custom_metrics,data_profiling_config.schedule.quartz_cron_expression``");
  each path is applied on its own, copying that field from the body or clearing it when the
  body lacks it, so fields not named are kept. ``*`` replaces both configs. A path that is
  not an updatable field is refused with 400 ``INVALID_PARAMETER_VALUE``.
* Immutable fields. Changing ``output_schema_id`` (legacy: ``output_schema_name``), or
  switching to or from ``time_series``, is refused with 400 ``INVALID_PARAMETER_VALUE``; so
  is any update of a monitor in ERROR or FAILED state (400 ``INVALID_STATE``): such a
  monitor has to be deleted and created again. The legacy update ignores ``assets_dir``
  (terraform's ``quality_monitor`` schema: ``assets_dir`` "[Create:REQ Update:IGN]").
* Paged lists where the SDK pages: ``list_monitor`` and ``list_refresh`` answer
  ``page_size`` items (default 20) and a ``next_page_token``; the legacy ``list_refreshes``
  is not paged (the SDK returns one ``MonitorRefreshListResponse``) and holds the 25 most
  recent refreshes.
* Error bodies the SDK parses (``databricks/sdk/errors/deserializer.py``): ``error_code``,
  ``message`` and, for the refusals above, ``details`` with one
  ``type.googleapis.com/google.rpc.ErrorInfo``.
"""

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

#: The fields of a ``Monitor`` an ``update_mask`` may name; None marks a leaf.
UPDATABLE: JSON = {
    "data_profiling_config": {
        "output_schema_id": None,
        "assets_dir": None,
        "baseline_table_name": None,
        "custom_metrics": None,
        "slicing_exprs": None,
        "warehouse_id": None,
        "skip_builtin_dashboard": None,
        "schedule": {"quartz_cron_expression": None, "timezone_id": None, "pause_status": None},
        "notification_settings": {"on_failure": {"email_addresses": None}},
        "snapshot": {},
        "time_series": {"timestamp_column": None, "granularities": None},
        "inference_log": {
            "problem_type": None,
            "timestamp_column": None,
            "granularities": None,
            "prediction_column": None,
            "model_id_column": None,
            "label_column": None,
        },
    },
    "anomaly_detection_config": {"excluded_table_full_names": None},
}
DEFAULT_PAGE_SIZE = 20
LEGACY_REFRESH_HISTORY = 25
_LEGACY_TO_DQ_COLUMNS = {
    "timestamp_col": "timestamp_column",
    "prediction_col": "prediction_column",
    "label_col": "label_column",
    "model_id_col": "model_id_column",
}
_DQ_TO_LEGACY_COLUMNS = {v: k for k, v in _LEGACY_TO_DQ_COLUMNS.items()}
_PAUSE = "CRON_SCHEDULE_PAUSE_STATUS_"
_METRIC = ("CUSTOM_METRIC_TYPE_", "DATA_PROFILING_CUSTOM_METRIC_TYPE_")


def _profile_of(config: JSON) -> str | None:
    return next((p for p in PROFILE_TYPES if config.get(p) is not None), None)


def _page(items: list[JSON], query: dict[str, str], key: str) -> JSON:
    """One page of ``items``: ``page_size`` (default 20) from the offset in ``page_token``."""
    try:
        size = int(query.get("page_size") or DEFAULT_PAGE_SIZE)
        start = int(query.get("page_token") or 0)
    except ValueError:
        raise _bad_request("page_size and page_token must be integers.") from None
    if size <= 0 or start < 0:
        raise _bad_request("page_size must be positive and page_token not negative.")
    out: JSON = {key: items[start : start + size]}
    if start + size < len(items):
        out["next_page_token"] = str(start + size)
    return out


class MonitorService:
    #: Reads a deleted table monitor still answers DELETE_PENDING before it is gone.
    delete_pending_reads = 2

    def _deleting(self) -> dict[str, int]:
        """Object id -> reads left in DELETE_PENDING."""
        return self.__dict__.setdefault("_deleting_reads", {})

    def _settle(self, object_id: str) -> None:
        """Drop a deleted monitor whose DELETE_PENDING reads are used up."""
        left = self._deleting().get(object_id)
        if left is not None and left <= 0:
            del self._deleting()[object_id]
            self.monitors.pop(object_id, None)

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
            ("GET", dq, self._dq_list),
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

    def _check_mutable(self, label: str, old: JSON, new: JSON) -> None:
        """Refuse the changes the service cannot make in place (see the module docstring)."""
        status = str(old.get("status") or "")
        if status.endswith("_DELETE_PENDING"):
            raise ApiError(
                400,
                "INVALID_STATE",
                f"Monitor for {label} is being deleted and cannot be updated.",
                reason="MONITOR_NOT_UPDATABLE",
                metadata={"status": status},
            )
        if status.endswith(("_ERROR", "_FAILED")):
            raise ApiError(
                400,
                "INVALID_STATE",
                f"Monitor for {label} is in state {status} and cannot be updated; "
                "delete it and create it again.",
                reason="MONITOR_NOT_UPDATABLE",
                metadata={"status": status},
            )
        if old.get("output_schema_id") != new.get("output_schema_id"):
            raise ApiError(
                400,
                "INVALID_PARAMETER_VALUE",
                f"Cannot update the output schema of the monitor for {label}: "
                "output_schema_id is immutable.",
                reason="IMMUTABLE_FIELD",
                metadata={"field": "data_profiling_config.output_schema_id"},
            )
        before, after = _profile_of(old), _profile_of(new)
        if before != after and "time_series" in (before, after):
            raise ApiError(
                400,
                "INVALID_PARAMETER_VALUE",
                f"Cannot change the profile type of the monitor for {label} from {before} to "
                f"{after}.",
                reason="IMMUTABLE_FIELD",
                metadata={"field": "data_profiling_config.time_series"},
            )

    # -- the one store -----------------------------------------------------------------------

    def _schema_by_id(self, schema_id: str) -> JSON:
        schema = next((s for s in self._schemas.values() if s["schema_id"] == schema_id), None)
        if schema is None:
            raise ApiError(
                404, "SCHEMA_DOES_NOT_EXIST", f"Schema with id '{schema_id}' does not exist."
            )
        return schema

    def _dq_profiling_config(
        self,
        table: _Table,
        config: Any,
        *,
        version: int,
        dashboard_id: str | None = None,
    ) -> JSON:
        """The stored (and returned) form of a data_profiling_config, PENDING until read."""
        if not isinstance(config, dict):
            raise _bad_request("data_profiling_config is required for table monitors.")
        output_schema_id = config.get("output_schema_id")
        if not output_schema_id:
            raise _bad_request("data_profiling_config.output_schema_id is required.")
        schema = self._schema_by_id(output_schema_id)
        self._check_profile(table, config, DQ_COLUMN_FIELDS, DQ_GRANULARITIES)
        leaf = table.parts[2]
        out = {
            k: copy.deepcopy(v)
            for k, v in config.items()
            if k not in WRITE_ONLY_FIELDS and k not in DQ_READ_ONLY_FIELDS
        }
        out.update(
            status="DATA_PROFILING_STATUS_PENDING",
            monitored_table_name=table.full_name,
            profile_metrics_table_name=f"{schema['full_name']}.{leaf}_profile_metrics",
            drift_metrics_table_name=f"{schema['full_name']}.{leaf}_drift_metrics",
            monitor_version=version,
        )
        if not config.get("skip_builtin_dashboard"):
            out["dashboard_id"] = dashboard_id or uuid.uuid4().hex
        return out

    def _new_table_monitor(self, table: _Table, config: JSON) -> JSON:
        """Keep a new monitor of ``table`` with ``config`` (version 1); returns what was kept."""
        monitor = {
            "object_type": "table",
            "object_id": table.table_id,
            "data_profiling_config": self._dq_profiling_config(table, config, version=1),
        }
        self._store(table.table_id, monitor)
        return monitor

    def _store(self, object_id: str, monitor: JSON) -> None:
        """Keep ``monitor``; a table monitor stays PENDING for ``pending_reads`` reads."""
        self.monitors[object_id] = monitor
        self._deleting().pop(object_id, None)
        config = monitor.get("data_profiling_config")
        if config is None:
            return
        if self.pending_reads > 0:
            self._pending[object_id] = self.pending_reads
        else:
            config["status"] = "DATA_PROFILING_STATUS_ACTIVE"
            self._pending.pop(object_id, None)

    def _read(self, object_id: str) -> JSON:
        """The stored monitor as one read sees it; counts the read towards ACTIVE."""
        monitor = self.monitors[object_id]
        if object_id in self._deleting():
            self._deleting()[object_id] -= 1
            return copy.deepcopy(monitor)
        left = self._pending.get(object_id)
        if left is not None:
            if left <= 0:
                monitor["data_profiling_config"]["status"] = "DATA_PROFILING_STATUS_ACTIVE"
                del self._pending[object_id]
            else:
                self._pending[object_id] = left - 1
        return copy.deepcopy(monitor)

    def _forget(self, object_id: str) -> None:
        """Delete a monitor: a table monitor is DELETE_PENDING for ``delete_pending_reads`` reads."""
        self._pending.pop(object_id, None)
        self._refreshes.pop(object_id, None)
        config = (self.monitors.get(object_id) or {}).get("data_profiling_config")
        if config is not None and self.delete_pending_reads > 0:
            config["status"] = "DATA_PROFILING_STATUS_DELETE_PENDING"
            self._deleting()[object_id] = self.delete_pending_reads
        else:
            self.monitors.pop(object_id, None)
            self._deleting().pop(object_id, None)

    # -- data-quality API --------------------------------------------------------------------

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
        self._settle(params["id"])
        monitor = self.monitors.get(params["id"])
        if monitor is None or monitor.get("object_type") != params["type"]:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Monitor does not exist for {label}.")
        return monitor

    def _dq_create(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        if not isinstance(body, dict) or not body.get("object_type") or not body.get("object_id"):
            raise _bad_request("object_type and object_id are required.")
        object_type, object_id = body["object_type"], body["object_id"]
        label, table = self._dq_object(object_type, object_id)
        self._settle(object_id)
        if object_id in self.monitors:
            raise ApiError(
                409,
                "RESOURCE_ALREADY_EXISTS",
                f"Monitor already exists for {label}.",
                reason="RESOURCE_ALREADY_EXISTS",
            )
        monitor: JSON = {"object_type": object_type, "object_id": object_id}
        if table is not None:
            monitor["data_profiling_config"] = self._dq_profiling_config(
                table, body.get("data_profiling_config"), version=1
            )
        else:
            if not isinstance(body.get("anomaly_detection_config"), dict):
                raise _bad_request("anomaly_detection_config is required for schema monitors.")
            monitor["anomaly_detection_config"] = copy.deepcopy(body["anomaly_detection_config"])
        self._store(object_id, monitor)
        return copy.deepcopy(monitor)

    def _dq_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        return self._read(params["id"])

    def _dq_list(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        for object_id in list(self.monitors):
            self._settle(object_id)
        ids = sorted(self.monitors)
        return _page([self._read(i) for i in ids], query, "monitors")

    @staticmethod
    def _mask_paths(mask: list[str]) -> list[list[str]]:
        """The mask as key paths; 400 for a path that is not an updatable field."""
        paths = []
        for path in mask:
            if path == "*":
                paths += [[k] for k in UPDATABLE]
                continue
            node: Any = UPDATABLE
            keys = path.split(".")
            for key in keys:
                if not isinstance(node, dict) or key not in node:
                    raise ApiError(
                        400,
                        "INVALID_PARAMETER_VALUE",
                        f"Invalid update_mask path '{path}': not an updatable field of Monitor.",
                        reason="INVALID_FIELD_MASK",
                        metadata={"path": path},
                    )
                node = node[key]
            paths.append(keys)
        return paths

    def _dq_update(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        current = self._dq_monitor(params)
        label, table = self._dq_object(params["type"], params["id"])
        mask = [p.strip() for p in query.get("update_mask", "").split(",") if p.strip()]
        if not mask:
            raise _bad_request("update_mask is required.")
        if not isinstance(body, dict):
            raise _bad_request("A monitor body is required.")
        paths = self._mask_paths(mask)
        updated = copy.deepcopy(current)
        for keys in paths:
            _copy_path(body, updated, keys)
        if table is None:
            self.monitors[params["id"]] = updated
            return copy.deepcopy(updated)
        old = current.get("data_profiling_config", {})
        new = updated.get("data_profiling_config")
        if isinstance(new, dict):
            self._check_mutable(label, old, new)
        return self._replace_config(params["id"], table, updated, new)

    def _replace_config(self, object_id: str, table: _Table, monitor: JSON, config: Any) -> JSON:
        old = self.monitors[object_id].get("data_profiling_config", {})
        monitor["data_profiling_config"] = self._dq_profiling_config(
            table,
            config,
            version=int(old.get("monitor_version", 0)) + 1,
            dashboard_id=old.get("dashboard_id"),
        )
        self._store(object_id, monitor)
        return copy.deepcopy(monitor)

    def _dq_delete(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        self._forget(params["id"])
        return {}

    def _new_refresh(self, object_id: str, label: str) -> _Refresh:
        status = self.monitors[object_id].get("data_profiling_config", {}).get("status", "")
        if status != "DATA_PROFILING_STATUS_ACTIVE":
            raise ApiError(
                400,
                "INVALID_STATE",
                f"Monitor for {label} is in state {status}; a refresh can start only when it "
                "is DATA_PROFILING_STATUS_ACTIVE.",
                reason="MONITOR_NOT_ACTIVE",
                metadata={"status": status},
            )
        refresh = _Refresh(self._next_refresh_id, self.refresh_states)
        self._next_refresh_id += 1
        self._refreshes.setdefault(object_id, []).append(refresh)
        return refresh

    def _find_refresh(self, object_id: str, refresh_id: str) -> _Refresh:
        for refresh in self._refreshes.get(object_id, []):
            if refresh.refresh_id == int(refresh_id):
                return refresh
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Refresh {refresh_id} does not exist.")

    def _dq_create_refresh(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        label, _ = self._dq_object(params["type"], params["id"])
        refresh = self._new_refresh(params["id"], label)
        return refresh.as_dq_json(params["type"], params["id"])

    def _dq_get_refresh(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        refresh = self._find_refresh(params["id"], params["rid"])
        refresh.advance()
        return refresh.as_dq_json(params["type"], params["id"])

    def _dq_list_refreshes(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        refreshes = reversed(self._refreshes.get(params["id"], []))
        items = [r.as_dq_json(params["type"], params["id"]) for r in refreshes]
        return _page(items, query, "refreshes")

    def _dq_cancel(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._dq_monitor(params)
        refresh = self._find_refresh(params["id"], params["rid"])
        refresh.cancel()
        return {"refresh": refresh.as_dq_json(params["type"], params["id"])}

    # -- legacy quality-monitors API: a translation of the same store -------------------------

    def _legacy_to_dq(self, table: _Table, body: Any, *, assets_dir: Any) -> JSON:
        """A legacy create/update body as a data_profiling_config (validated in legacy terms)."""
        if not isinstance(body, dict):
            raise _bad_request("A request body is required.")
        output_schema = body.get("output_schema_name")
        if not output_schema:
            raise _bad_request("output_schema_name is required.")
        if not assets_dir:
            raise _bad_request("assets_dir is required.")
        schema = self._schema(output_schema)
        self._check_profile(table, body, LEGACY_COLUMN_FIELDS, LEGACY_GRANULARITIES)
        out: JSON = {"output_schema_id": schema["schema_id"], "assets_dir": assets_dir}
        for key in (
            "baseline_table_name",
            "slicing_exprs",
            "warehouse_id",
            "skip_builtin_dashboard",
            "dashboard_id",
        ):
            if body.get(key) is not None:
                out[key] = copy.deepcopy(body[key])
        if isinstance(body.get("schedule"), dict):
            schedule = {k: v for k, v in body["schedule"].items() if k != "pause_status"}
            if body["schedule"].get("pause_status"):
                schedule["pause_status"] = _PAUSE + body["schedule"]["pause_status"]
            out["schedule"] = schedule
        if isinstance(body.get("notifications"), dict) and "on_failure" in body["notifications"]:
            out["notification_settings"] = {
                "on_failure": copy.deepcopy(body["notifications"]["on_failure"])
            }
        if body.get("custom_metrics"):
            out["custom_metrics"] = [
                {**m, "type": str(m.get("type", "")).replace(*_METRIC)}
                for m in body["custom_metrics"]
            ]
        profile = _profile_of(body)
        spec = dict(body[profile] or {})
        if profile != "snapshot":
            spec = {_LEGACY_TO_DQ_COLUMNS.get(k, k): v for k, v in spec.items()}
            spec.pop("prediction_proba_col", None)
            spec["granularities"] = [
                "AGGREGATION_GRANULARITY_" + g.upper().replace(" ", "_")
                for g in spec.get("granularities") or []
            ]
            if "problem_type" in spec:
                spec["problem_type"] = "INFERENCE_" + str(spec["problem_type"])
        out[profile] = spec
        return out

    def _dq_to_legacy(self, monitor: JSON) -> JSON:
        """A stored table monitor as a legacy ``MonitorInfo``."""
        config = monitor["data_profiling_config"]
        schema = self._schema_by_id(config["output_schema_id"])
        out: JSON = {
            "table_name": config["monitored_table_name"],
            "output_schema_name": schema["full_name"],
            "status": str(config["status"]).replace("DATA_PROFILING_STATUS_", "MONITOR_STATUS_"),
        }
        for key in (
            "assets_dir",
            "baseline_table_name",
            "slicing_exprs",
            "dashboard_id",
            "profile_metrics_table_name",
            "drift_metrics_table_name",
            "monitor_version",
        ):
            if config.get(key) is not None:
                out[key] = copy.deepcopy(config[key])
        if config.get("latest_monitor_failure_message"):
            out["latest_monitor_failure_msg"] = config["latest_monitor_failure_message"]
        if isinstance(config.get("schedule"), dict):
            schedule = dict(config["schedule"])
            if schedule.get("pause_status"):
                schedule["pause_status"] = str(schedule["pause_status"]).removeprefix(_PAUSE)
            out["schedule"] = schedule
        if isinstance(config.get("notification_settings"), dict):
            out["notifications"] = copy.deepcopy(config["notification_settings"])
        if config.get("custom_metrics"):
            out["custom_metrics"] = [
                {**m, "type": str(m.get("type", "")).replace(_METRIC[1], _METRIC[0])}
                for m in config["custom_metrics"]
            ]
        profile = _profile_of(config)
        if profile is not None:
            spec = copy.deepcopy(config[profile])
            if profile != "snapshot":
                spec = {_DQ_TO_LEGACY_COLUMNS.get(k, k): v for k, v in spec.items()}
                spec["granularities"] = [
                    g.removeprefix("AGGREGATION_GRANULARITY_").lower().replace("_", " ")
                    for g in spec.get("granularities") or []
                ]
                if "problem_type" in spec:
                    spec["problem_type"] = str(spec["problem_type"]).removeprefix("INFERENCE_")
            out[profile] = spec
        return out

    def _legacy_monitor(self, name: str) -> tuple[_Table, JSON]:
        table = self._table(name)
        self._settle(table.table_id)
        monitor = self.monitors.get(table.table_id)
        if monitor is None:
            raise ApiError(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"Monitor does not exist for table {table.full_name}.",
            )
        return table, monitor

    def _legacy_create(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        table = self._table(params["name"])
        self._settle(table.table_id)
        if table.table_id in self.monitors:
            raise ApiError(
                409,
                "RESOURCE_ALREADY_EXISTS",
                f"Monitor already exists for table {table.full_name}.",
                reason="RESOURCE_ALREADY_EXISTS",
            )
        assets_dir = body.get("assets_dir") if isinstance(body, dict) else None
        config = self._legacy_to_dq(table, body, assets_dir=assets_dir)
        return self._dq_to_legacy(self._new_table_monitor(table, config))

    def _legacy_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        table, _ = self._legacy_monitor(params["name"])
        return self._dq_to_legacy(self._read(table.table_id))

    def _legacy_update(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        table, current = self._legacy_monitor(params["name"])
        old = current["data_profiling_config"]
        config = self._legacy_to_dq(table, body, assets_dir=old.get("assets_dir"))
        self._check_mutable(f"table {table.full_name}", old, config)
        monitor = {k: v for k, v in current.items() if k != "data_profiling_config"}
        return self._dq_to_legacy(self._replace_config(table.table_id, table, monitor, config))

    def _legacy_delete(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        table, _ = self._legacy_monitor(params["name"])
        self._forget(table.table_id)
        return {}

    def _legacy_run_refresh(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        table, _ = self._legacy_monitor(params["name"])
        return self._new_refresh(table.table_id, f"table {table.full_name}").as_legacy_json()

    def _legacy_get_refresh(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        table, _ = self._legacy_monitor(params["name"])
        refresh = self._find_refresh(table.table_id, params["rid"])
        refresh.advance()
        return refresh.as_legacy_json()

    def _legacy_list_refreshes(
        self, params: dict[str, str], query: dict[str, str], body: Any
    ) -> JSON:
        table, _ = self._legacy_monitor(params["name"])
        refreshes = list(reversed(self._refreshes.get(table.table_id, [])))
        return {"refreshes": [r.as_legacy_json() for r in refreshes[:LEGACY_REFRESH_HISTORY]]}

    def _legacy_cancel(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        table, _ = self._legacy_monitor(params["name"])
        self._find_refresh(table.table_id, params["rid"]).cancel()
        return {}
