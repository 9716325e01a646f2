"""A local emulator of the Databricks workspace REST endpoints used for table monitoring.

It serves, on 127.0.0.1 and an ephemeral port, just enough of

* Unity Catalog tables and schemas (``/api/2.1/unity-catalog/tables|schemas``),
* the data-quality API (``/api/data-quality/v1/monitors``),
* the legacy quality-monitors API (``/api/2.1/unity-catalog/tables/{name}/monitor``),

for the real ``databricks-sdk`` ``WorkspaceClient`` to work against it, plus a Python API to
register tables, inject faults and observe the requests received::

    with DatabricksEmulator() as server:
        table_id = server.add_table("main.sales.orders", {"id": "bigint", "ts": "timestamp"})
        server.fail("GET", "/unity-catalog/tables/", 429, "REQUEST_LIMIT_EXCEEDED", times=2)
        w = server.client()
        w.tables.get("main.sales.orders")  # retried twice by the SDK, then answered
        assert server.mutating_count() == 0

Simplifications, deliberately kept:

* Names are case-insensitive and stored lower-case, as Unity Catalog does.
* The data-quality and the legacy stores are independent: a monitor created through one
  API is not visible through the other.
* Write-only fields (``warehouse_id``, ``skip_builtin_dashboard``) are accepted but never
  stored or returned, by either API; with ``skip_builtin_dashboard`` no ``dashboard_id``
  is assigned.
* ``update_mask`` paths are relative to the ``Monitor`` resource (``data_profiling_config``,
  ``data_profiling_config.schedule``, ``*``); anything else is a 400.
* Every client request is logged, including the ``GET /.well-known/databricks-config``
  probe the SDK sends while building a ``Config`` (answered with 404).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

JSON = dict[str, Any]

MUTATING_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
REFRESH_STATES = frozenset({"PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELED", "UNKNOWN"})
TERMINAL_REFRESH_STATES = frozenset({"SUCCESS", "FAILED", "CANCELED"})

# Accepted but never echoed back by the real APIs.
WRITE_ONLY_FIELDS = frozenset({"warehouse_id", "skip_builtin_dashboard"})
# Filled in by the server; ignored when a client sends them.
DQ_READ_ONLY_FIELDS = frozenset(
    {
        "status",
        "profile_metrics_table_name",
        "drift_metrics_table_name",
        "dashboard_id",
        "monitor_version",
        "monitored_table_name",
        "effective_warehouse_id",
        "latest_monitor_failure_message",
    }
)
LEGACY_READ_ONLY_FIELDS = frozenset(
    {
        "table_name",
        "status",
        "profile_metrics_table_name",
        "drift_metrics_table_name",
        "monitor_version",
        "assets_dir",
        "latest_monitor_failure_msg",
    }
)
PROFILE_TYPES = ("snapshot", "time_series", "inference_log")
# Per profile type: (required, optional) fields that name a column of the monitored table.
ColumnFields = Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]
DQ_COLUMN_FIELDS: ColumnFields = {
    "time_series": (("timestamp_column",), ()),
    "inference_log": (
        ("timestamp_column", "prediction_column", "model_id_column"),
        ("label_column",),
    ),
}
LEGACY_COLUMN_FIELDS: ColumnFields = {
    "time_series": (("timestamp_col",), ()),
    "inference_log": (
        ("timestamp_col", "prediction_col", "model_id_col"),
        ("label_col", "prediction_proba_col"),
    ),
}

DQ_GRANULARITIES = frozenset(
    "AGGREGATION_GRANULARITY_" + g
    for g in (
        "5_MINUTES",
        "30_MINUTES",
        "1_HOUR",
        "1_DAY",
        "1_WEEK",
        "2_WEEKS",
        "3_WEEKS",
        "4_WEEKS",
        "1_MONTH",
        "1_YEAR",
    )
)
LEGACY_GRANULARITIES = frozenset(
    {
        "5 minutes",
        "30 minutes",
        "1 hour",
        "1 day",
        "1 week",
        "2 weeks",
        "3 weeks",
        "4 weeks",
        "1 month",
        "1 year",
    }
)

# SQL type text (its leading word) -> Unity Catalog ColumnTypeName.
_TYPE_NAMES = {
    "string": "STRING",
    "varchar": "STRING",
    "char": "CHAR",
    "bigint": "LONG",
    "long": "LONG",
    "int": "INT",
    "integer": "INT",
    "smallint": "SHORT",
    "short": "SHORT",
    "tinyint": "BYTE",
    "byte": "BYTE",
    "double": "DOUBLE",
    "float": "FLOAT",
    "real": "FLOAT",
    "decimal": "DECIMAL",
    "numeric": "DECIMAL",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamp_ltz": "TIMESTAMP",
    "timestamp_ntz": "TIMESTAMP_NTZ",
    "binary": "BINARY",
    "array": "ARRAY",
    "map": "MAP",
    "struct": "STRUCT",
    "variant": "VARIANT",
    "interval": "INTERVAL",
}


def column_type_name(type_text: str) -> str:
    """The Unity Catalog ``type_name`` of a SQL type such as ``bigint`` or ``decimal(10,2)``."""
    head = re.split(r"[\s(<]", type_text.strip().lower(), maxsplit=1)[0]
    try:
        return _TYPE_NAMES[head]
    except KeyError:
        raise ValueError(f"unsupported column type: {type_text!r}") from None


class RecordedRequest(NamedTuple):
    """One request as received: the path is percent-decoded, the query keeps first values."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class Fault:
    """An injected error answered instead of the real response to matching requests."""

    method: str | None
    path_substring: str
    status: int
    error_code: str
    message: str
    remaining: int | None
    retry_after: int | None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault still applies to ``method path``."""
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method not in (None, "*") and self.method.upper() != method:
            return False
        return self.path_substring in path


class ApiError(Exception):
    """Raised by route handlers; rendered as a Databricks error body."""

    def __init__(
        self, status: int, error_code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = dict(headers or {})


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


@dataclass
class _Table:
    full_name: str
    table_id: str
    columns: list[tuple[str, str]]

    @property
    def parts(self) -> list[str]:
        return self.full_name.split(".")

    def as_json(self) -> JSON:
        catalog, schema, name = self.parts
        return {
            "full_name": self.full_name,
            "catalog_name": catalog,
            "schema_name": schema,
            "name": name,
            "table_id": self.table_id,
            "columns": [
                {
                    "name": col,
                    "type_name": column_type_name(type_text),
                    "type_text": type_text,
                    "position": i,
                    "nullable": True,
                }
                for i, (col, type_text) in enumerate(self.columns)
            ],
            "table_type": "MANAGED",
            "data_source_format": "DELTA",
        }


@dataclass
class _Refresh:
    refresh_id: int
    states: tuple[str, ...]
    start_time_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    step: int = 0
    end_time_ms: int | None = None
    cancelled: bool = False

    def __post_init__(self) -> None:
        if self.state in TERMINAL_REFRESH_STATES:
            self.end_time_ms = self.start_time_ms

    @property
    def state(self) -> str:
        return "CANCELED" if self.cancelled else self.states[self.step]

    def advance(self) -> None:
        """One step along ``states``; the last state sticks."""
        if not self.cancelled and self.step < len(self.states) - 1:
            self.step += 1
        if self.state in TERMINAL_REFRESH_STATES and self.end_time_ms is None:
            self.end_time_ms = int(time.time() * 1000)

    def cancel(self) -> None:
        if self.state not in TERMINAL_REFRESH_STATES:
            self.cancelled = True
            self.end_time_ms = int(time.time() * 1000)

    def _common(self) -> JSON:
        out: JSON = {"refresh_id": self.refresh_id, "start_time_ms": self.start_time_ms}
        if self.end_time_ms is not None:
            out["end_time_ms"] = self.end_time_ms
        if self.state == "FAILED":
            out["message"] = "Refresh failed (emulated)."
        return out

    def as_dq_json(self, object_type: str, object_id: str) -> JSON:
        return {
            **self._common(),
            "object_type": object_type,
            "object_id": object_id,
            "state": f"MONITOR_REFRESH_STATE_{self.state}",
            "trigger": "MONITOR_REFRESH_TRIGGER_MANUAL",
        }

    def as_legacy_json(self) -> JSON:
        return {**self._common(), "state": self.state, "trigger": "MANUAL"}


Handler = Callable[[dict[str, str], dict[str, str], Any], Any]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    emulator: DatabricksEmulator


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK reuses its connections
    timeout = 30  # idle keep-alive connections are dropped after this
    server: _HTTPServer

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, payload, headers = self.server.emulator.handle(
            self.command, self.path, raw, self.headers.get("Authorization")
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log."""


class DatabricksEmulator:
    """A threaded local HTTP server emulating Unity Catalog and table-monitoring endpoints.

    Use it as a context manager (or call ``start``/``stop``). All state is guarded by one
    lock; ``monitors`` and ``legacy_monitors`` are plain dicts that tests may read or seed
    between client calls.
    """

    def __init__(
        self,
        *,
        token: str = "test-token",
        refresh_states: Sequence[str] = ("PENDING", "RUNNING", "SUCCESS"),
        validate_columns: bool = True,
    ) -> None:
        """``refresh_states``: the states a refresh walks through, one step per GET of it.

        ``validate_columns``: reject monitor configs naming columns the table lacks.
        """
        self.token = token
        self.refresh_states = refresh_states
        self.validate_columns = validate_columns
        self.monitors: dict[str, JSON] = {}
        """Data-quality monitors as GET returns them, keyed by ``object_id``."""
        self.user_name = "someone@example.com"
        """What GET /Me answers."""
        self.workspace_dirs: set[str] = set()
        """Workspace folders made with mkdirs."""
        self.workspace_files: dict[str, JSON] = {}
        """Imported workspace objects by path: decoded content, format and language."""
        self.dashboards: dict[str, JSON] = {}
        """Lakeview draft dashboards keyed by ``dashboard_id``."""
        self.published: dict[str, JSON] = {}
        """Published versions of Lakeview dashboards keyed by ``dashboard_id``."""
        self.legacy_monitors: dict[str, JSON] = {}
        """Legacy ``MonitorInfo`` dicts as GET returns them, keyed by table full name."""
        self.errors: list[str] = []
        """Unexpected exceptions raised while handling requests (emulator bugs), as text."""
        self._lock = threading.RLock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._schemas: dict[str, JSON] = {}
        self._tables: dict[str, _Table] = {}
        self._tables_by_id: dict[str, _Table] = {}
        self._refreshes: dict[tuple[str, str], list[_Refresh]] = {}
        self._next_refresh_id = 1
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes = self._build_routes()

    @property
    def refresh_states(self) -> tuple[str, ...]:
        """The states a new refresh walks through, e.g. ``("PENDING", "RUNNING", "SUCCESS")``."""
        return self._refresh_states

    @refresh_states.setter
    def refresh_states(self, states: Sequence[str]) -> None:
        states = tuple(s.upper() for s in states)
        if not states or not set(states) <= REFRESH_STATES:
            raise ValueError(f"refresh states must be among {sorted(REFRESH_STATES)}: {states}")
        self._refresh_states = states

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> DatabricksEmulator:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", 0), _RequestHandler)
        httpd.emulator = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> DatabricksEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._httpd is None:
            raise RuntimeError("emulator is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def client(
        self, *, retry_timeout_seconds: int = 5, http_timeout_seconds: int = 10
    ) -> WorkspaceClient:
        """A real ``WorkspaceClient`` bound to this emulator with PAT auth.

        ``DATABRICKS_*`` variables are hidden while the config is built, and with host and
        token given explicitly no config file is read. Proxies are bypassed for the
        emulator, so nothing leaves 127.0.0.1. Call it from one thread at a time.
        """
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config

        with _local_only_environment():
            config = Config(
                host=self.url,
                token=self.token,
                auth_type="pat",
                retry_timeout_seconds=retry_timeout_seconds,
                http_timeout_seconds=http_timeout_seconds,
            )
        w = WorkspaceClient(config=config)
        # The SDK's requests session would otherwise honour *_PROXY variables per request.
        session = getattr(getattr(w.api_client, "_api_client", None), "_session", None)
        if session is not None:
            session.trust_env = False
        return w

    # -- catalog set-up ----------------------------------------------------------------------

    def add_schema(self, full_name: str) -> str:
        """Register ``catalog.schema`` (idempotent); returns its ``schema_id``."""
        full_name = full_name.lower()
        parts = full_name.split(".")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"schema name must be catalog.schema: {full_name!r}")
        with self._lock:
            if full_name not in self._schemas:
                self._schemas[full_name] = {
                    "full_name": full_name,
                    "catalog_name": parts[0],
                    "name": parts[1],
                    "schema_id": str(uuid.uuid4()),
                }
            return self._schemas[full_name]["schema_id"]

    def add_table(self, full_name: str, columns: Sequence[str] | Mapping[str, str]) -> str:
        """Register ``catalog.schema.table`` (and its schema); returns its ``table_id``.

        ``columns`` is a list of names (all ``string``) or a mapping name -> SQL type.
        Re-adding a table replaces its columns and keeps its id.
        """
        full_name = full_name.lower()
        parts = full_name.split(".")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"table name must be catalog.schema.table: {full_name!r}")
        if isinstance(columns, Mapping):
            cols = [(str(k), str(v)) for k, v in columns.items()]
        else:
            cols = [(str(c), "string") for c in columns]
        for _, type_text in cols:
            column_type_name(type_text)  # fail early on an unknown type
        with self._lock:
            self.add_schema(".".join(parts[:2]))
            existing = self._tables.get(full_name)
            if existing is not None:
                existing.columns = cols
                return existing.table_id
            table = _Table(full_name, str(uuid.uuid4()), cols)
            self._tables[full_name] = table
            self._tables_by_id[table.table_id] = table
            return table.table_id

    def remove_table(self, full_name: str) -> None:
        """Drop a table together with its monitors and refreshes (missing: no-op)."""
        full_name = full_name.lower()
        with self._lock:
            table = self._tables.pop(full_name, None)
            self.legacy_monitors.pop(full_name, None)
            self._refreshes.pop(("legacy", full_name), None)
            if table is not None:
                self._tables_by_id.pop(table.table_id, None)
                self.monitors.pop(table.table_id, None)
                self._refreshes.pop(("dq", table.table_id), None)

    def table_id(self, full_name: str) -> str:
        """The ``table_id`` of a registered table (KeyError when unknown)."""
        with self._lock:
            return self._tables[full_name.lower()].table_id

    def schema_id(self, full_name: str) -> str:
        """The ``schema_id`` of a registered schema (KeyError when unknown)."""
        with self._lock:
            return self._schemas[full_name.lower()]["schema_id"]

    def add_monitor(self, table: str, data_profiling_config: JSON | None = None) -> JSON:
        """Seed a data-quality monitor on ``table`` as if created through the API.

        The default config is a snapshot profile writing to the table's own schema; an
        invalid config raises ``ApiError``.
        """
        with self._lock:
            t = self._table(table)
            config = data_profiling_config or {
                "output_schema_id": self.add_schema(".".join(t.parts[:2])),
                "assets_dir": f"/Workspace/Shared/monitors/{t.parts[2]}",
                "snapshot": {},
            }
            monitor = {
                "object_type": "table",
                "object_id": t.table_id,
                "data_profiling_config": self._dq_profiling_config(t, config, version=1),
            }
            self.monitors[t.table_id] = monitor
            return copy.deepcopy(monitor)

    def add_legacy_monitor(self, table: str, info: JSON | None = None) -> JSON:
        """Seed a legacy monitor on ``table`` as if created through the API."""
        with self._lock:
            t = self._table(table)
            body = info or {
                "output_schema_name": ".".join(t.parts[:2]),
                "assets_dir": f"/Workspace/Shared/monitors/{t.parts[2]}",
                "snapshot": {},
            }
            monitor = self._legacy_info(t, body, version=1, assets_dir=body.get("assets_dir"))
            self.legacy_monitors[t.full_name] = monitor
            return copy.deepcopy(monitor)

    # -- fault injection and observation -----------------------------------------------------

    def fail(
        self,
        method: str | None,
        path_substring: str,
        status: int,
        error_code: str,
        message: str = "Injected fault.",
        *,
        times: int | None = 1,
        retry_after: int | None = 0,
    ) -> Fault:
        """Answer the next ``times`` requests matching ``method`` and ``path_substring`` with an error.

        ``method`` None or ``"*"`` matches any method; ``times`` None means until
        ``clear_faults``. For 429 and 503 a ``Retry-After`` header is sent unless
        ``retry_after`` is None. Faults are tried in the order they were added.
        """
        fault = Fault(method, path_substring, status, error_code, message, times, retry_after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget every injected fault."""
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def count(self, method: str | None = None, path_contains: str | None = None) -> int:
        """How many received requests match ``method`` and contain ``path_contains``."""
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (method is None or r.method == method.upper())
                and (path_contains is None or path_contains in r.path)
            )

    def mutating_count(self) -> int:
        """How many POST/PATCH/PUT/DELETE requests were received (faulted ones included)."""
        with self._lock:
            return sum(1 for r in self._requests if r.method in MUTATING_METHODS)

    def reset_log(self) -> None:
        """Forget the recorded requests (state and faults are kept)."""
        with self._lock:
            self._requests.clear()

    # -- request handling --------------------------------------------------------------------

    def handle(
        self, method: str, target: str, raw_body: bytes, authorization: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON payload, extra headers)."""
        split = urlsplit(target)
        path = unquote(split.path)
        query = dict(reversed(parse_qsl(split.query, keep_blank_values=True)))
        try:
            body = json.loads(raw_body) if raw_body.strip() else None
        except ValueError:
            body = raw_body.decode(errors="replace")
        with self._lock:
            self._requests.append(RecordedRequest(method, path, query, copy.deepcopy(body)))
            try:
                self._apply_faults(method, path)
                if isinstance(body, str):
                    raise ApiError(400, "MALFORMED_REQUEST", "Request body is not valid JSON.")
                if not path.startswith("/.well-known/") and authorization != f"Bearer {self.token}":
                    raise ApiError(401, "UNAUTHENTICATED", "Invalid access token.")
                handler, params = self._route(method, path)
                return 200, handler(params, query, body) or {}, {}
            except ApiError as e:
                return e.status, {"error_code": e.error_code, "message": e.message}, e.headers
            except Exception as e:  # an emulator bug: make it visible to the test
                self.errors.append(traceback.format_exc())
                return 500, {"error_code": "INTERNAL_ERROR", "message": f"emulator: {e!r}"}, {}

    def _apply_faults(self, method: str, path: str) -> None:
        for fault in self._faults:
            if not fault.matches(method, path):
                continue
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
            headers = {}
            if fault.status in (429, 503) and fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            raise ApiError(fault.status, fault.error_code, fault.message, headers)

    def _route(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for verb, pattern, handler in self._routes:
            if verb == method and (m := pattern.fullmatch(path)):
                return handler, m.groupdict()
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        uc = "/api/2\\.1/unity-catalog"
        table = uc + "/tables/(?P<name>[^/]+)"
        dq = "/api/data-quality/v1/monitors"
        dq_one = dq + "/(?P<type>[^/]+)/(?P<id>[^/]+)"
        rid = "/(?P<rid>\\d+)"
        lv = "/api/2\\.0/lakeview/dashboards"
        lv_one = lv + "/(?P<did>[0-9a-f]+)"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/\\.well-known/databricks-config", self._well_known),
            ("GET", uc + "/tables", self._list_tables),
            ("GET", table, self._get_table),
            ("GET", table + "/exists", self._table_exists),
            ("GET", uc + "/schemas", self._list_schemas),
            ("GET", uc + "/schemas/(?P<name>[^/]+)", self._get_schema),
            ("POST", table + "/monitor", self._legacy_create),
            ("GET", table + "/monitor", self._legacy_get),
            ("PUT", table + "/monitor", self._legacy_update),
            ("DELETE", table + "/monitor", self._legacy_delete),
            ("POST", table + "/monitor/refreshes", self._legacy_run_refresh),
            ("GET", table + "/monitor/refreshes", self._legacy_list_refreshes),
            ("GET", table + "/monitor/refreshes" + rid, self._legacy_get_refresh),
            ("POST", table + "/monitor/refreshes" + rid + "/cancel", self._legacy_cancel),
            ("POST", dq, self._dq_create),
            ("GET", dq_one, self._dq_get),
            ("PATCH", dq_one, self._dq_update),
            ("DELETE", dq_one, self._dq_delete),
            ("POST", dq_one + "/refreshes", self._dq_create_refresh),
            ("GET", dq_one + "/refreshes", self._dq_list_refreshes),
            ("GET", dq_one + "/refreshes" + rid, self._dq_get_refresh),
            ("POST", dq_one + "/refreshes" + rid + "/cancel", self._dq_cancel),
            ("GET", "/api/2\\.0/preview/scim/v2/Me", self._me),
            ("POST", "/api/2\\.0/workspace/mkdirs", self._ws_mkdirs),
            ("POST", "/api/2\\.0/workspace/import", self._ws_import),
            ("GET", lv, self._lv_list),
            ("POST", lv, self._lv_create),
            ("GET", lv_one, self._lv_get),
            ("PATCH", lv_one, self._lv_update),
            ("POST", lv_one + "/published", self._lv_publish),
            ("GET", lv_one + "/published", self._lv_get_published),
        ]
        return [(verb, re.compile(pattern), handler) for verb, pattern, handler in routes]

    # -- workspace files ---------------------------------------------------------------------

    def _me(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return {"userName": self.user_name, "id": "1"}

    def _ws_mkdirs(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self.workspace_dirs.add(body["path"])
        return {}

    def _ws_import(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        path = body["path"]
        parent = path.rsplit("/", 1)[0]
        if not any(d == parent or d.startswith(parent + "/") for d in self.workspace_dirs):
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"The parent folder ({parent}) does not exist."
            )
        if path in self.workspace_files and not body.get("overwrite"):
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"{path} already exists.")
        self.workspace_files[path] = {
            "content": base64.b64decode(body.get("content", "")).decode(),
            "format": body.get("format"),
            "language": body.get("language"),
        }
        return {}

    # -- Lakeview dashboards -------------------------------------------------------------------

    def _lv_check(self, body: Any) -> None:
        serialized = (body or {}).get("serialized_dashboard")
        if serialized is not None:
            try:
                doc = json.loads(serialized)
            except ValueError:
                raise ApiError(
                    400, "INVALID_PARAMETER_VALUE", "serialized_dashboard is not JSON"
                ) from None
            if not isinstance(doc, dict) or not {"pages", "datasets"} <= set(doc):
                raise ApiError(
                    400, "INVALID_PARAMETER_VALUE", "serialized_dashboard needs pages and datasets"
                )

    def _lv_list(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return {"dashboards": [copy.deepcopy(d) for d in self.dashboards.values()]}

    def _lv_create(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._lv_check(body)
        name, parent = body.get("display_name"), body.get("parent_path", "/Workspace/Users/me")
        if any(
            d["display_name"] == name and d["parent_path"] == parent
            for d in self.dashboards.values()
        ):
            raise ApiError(409, "RESOURCE_ALREADY_EXISTS", f"Node named '{name}' already exists")
        did = uuid.uuid4().hex
        self.dashboards[did] = {
            **body,
            "dashboard_id": did,
            "parent_path": parent,
            "path": f"{parent}/{name}.lvdash.json",
            "etag": "1",
            "lifecycle_state": "ACTIVE",
        }
        return copy.deepcopy(self.dashboards[did])

    def _lv_dashboard(self, did: str) -> JSON:
        if did not in self.dashboards:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Dashboard {did} does not exist.")
        return self.dashboards[did]

    def _lv_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return copy.deepcopy(self._lv_dashboard(params["did"]))

    def _lv_update(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._lv_check(body)
        dashboard = self._lv_dashboard(params["did"])
        dashboard.update(
            {k: v for k, v in (body or {}).items() if k not in ("dashboard_id", "path")}
        )
        dashboard["etag"] = str(int(dashboard["etag"]) + 1)
        return copy.deepcopy(dashboard)

    def _lv_publish(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        dashboard = self._lv_dashboard(params["did"])
        self.published[params["did"]] = {
            "display_name": dashboard["display_name"],
            "warehouse_id": (body or {}).get("warehouse_id"),
            "embed_credentials": (body or {}).get("embed_credentials", False),
            "etag": dashboard["etag"],
        }
        return copy.deepcopy(self.published[params["did"]])

    def _lv_get_published(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        if params["did"] not in self.published:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", "Dashboard is not published.")
        return copy.deepcopy(self.published[params["did"]])

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


def _copy_path(source: JSON, target: JSON, keys: list[str]) -> None:
    """Set ``target[keys]`` to ``source[keys]``, or delete it when the source lacks it."""
    for key in keys[:-1]:
        source = source.get(key) if isinstance(source, dict) else None
        target = target.setdefault(key, {})
    leaf = keys[-1]
    if isinstance(source, dict) and leaf in source:
        target[leaf] = copy.deepcopy(source[leaf])
    else:
        target.pop(leaf, None)


@contextlib.contextmanager
def _local_only_environment() -> Iterator[None]:
    """Hide ``DATABRICKS_*`` variables and bypass proxies for 127.0.0.1, then restore."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("DATABRICKS_")}
    saved_no_proxy = {k: os.environ.get(k) for k in ("NO_PROXY", "no_proxy")}
    try:
        for key in saved:
            del os.environ[key]
        for key, value in saved_no_proxy.items():
            os.environ[key] = ",".join(filter(None, [value, "127.0.0.1", "localhost"]))
        yield
    finally:
        os.environ.update(saved)
        for key, value in saved_no_proxy.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
