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
* Monitors follow the rules written in ``tests/emulator/monitors.py`` (one store for both
  APIs, PENDING then ACTIVE after ``pending_reads`` reads, leaf-level update masks,
  immutable fields, paged lists). What it leaves out: the legacy ``prediction_proba_col``
  and ``data_classification_config`` have no data-quality counterpart and are dropped;
  a monitor never turns ERROR or FAILED by itself (``set_monitor_status`` does it);
  PENDING lasts a number of reads, not a time.
* Refusals carry the status and ``error_code`` the SDK maps to the right class
  (``InvalidParameterValue``, ``InvalidState``, ``ResourceAlreadyExists``...); their
  messages and ``ErrorInfo`` reasons are this emulator's wording, not the service's text.
* Write-only fields (``warehouse_id``, ``skip_builtin_dashboard``) are accepted but never
  stored or returned, by either API; with ``skip_builtin_dashboard`` no ``dashboard_id``
  is assigned.
* ``update_mask`` paths are relative to the ``Monitor`` resource and checked against its
  updatable fields (``data_profiling_config.schedule.quartz_cron_expression``, a whole
  sub-object such as ``data_profiling_config.schedule``, or ``*``); anything else is a 400.
* Every client request is logged, including the ``GET /.well-known/databricks-config``
  probe the SDK sends while building a ``Config`` (answered with 404).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import threading
import traceback
import uuid
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

from tests.emulator.alerts import AlertService
from tests.emulator.catalog import CatalogService
from tests.emulator.clusters import ClustersService
from tests.emulator.common import (
    JSON,
    MUTATING_METHODS,
    REFRESH_STATES,
    ApiError,
    Fault,
    Handler,
    RecordedRequest,
    _Refresh,
    _Table,
    column_type_name,
)
from tests.emulator.jobs import JobsService
from tests.emulator.monitors import MonitorService
from tests.emulator.workspace import WorkspaceService


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


class DatabricksEmulator(
    WorkspaceService, CatalogService, MonitorService, AlertService, JobsService, ClustersService
):
    """A threaded local HTTP server emulating Unity Catalog and table-monitoring endpoints.

    Use it as a context manager (or call ``start``/``stop``). All state is guarded by one
    lock; ``monitors`` is a plain dict that tests may read between client calls (seed it with
    ``add_monitor`` or ``add_legacy_monitor``); ``legacy_monitors`` is a translated copy.
    """

    def __init__(
        self,
        *,
        token: str = "test-token",
        refresh_states: Sequence[str] = ("PENDING", "RUNNING", "SUCCESS"),
        validate_columns: bool = True,
        pending_reads: int = 1,
    ) -> None:
        """``refresh_states``: the states a refresh walks through, one step per GET of it.

        ``validate_columns``: reject monitor configs naming columns the table lacks.
        ``pending_reads``: how many reads of a created or updated monitor still answer
        PENDING before it is ACTIVE (0: ACTIVE at once).
        """
        self.token = token
        self.refresh_states = refresh_states
        self.validate_columns = validate_columns
        self.pending_reads = pending_reads
        self.monitors: dict[str, JSON] = {}
        """Every monitor, in the data-quality form GET returns, keyed by ``object_id``; the
        legacy API reads and writes the same store (see ``legacy_monitors``)."""
        self._pending: dict[str, int] = {}
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
        self.errors: list[str] = []
        """Unexpected exceptions raised while handling requests (emulator bugs), as text."""
        self._lock = threading.RLock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._schemas: dict[str, JSON] = {}
        self._tables: dict[str, _Table] = {}
        self._tables_by_id: dict[str, _Table] = {}
        self._refreshes: dict[str, list[_Refresh]] = {}
        self._next_refresh_id = 1
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._init_alerts()
        self._init_jobs()
        self._init_clusters()
        self._routes = self._build_routes()

    @property
    def legacy_monitors(self) -> dict[str, JSON]:
        """The table monitors as the legacy API shows them, keyed by table full name (a copy)."""
        with self._lock:
            return {
                m["data_profiling_config"]["monitored_table_name"]: self._dq_to_legacy(m)
                for m in self.monitors.values()
                if "data_profiling_config" in m
            }

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
            if table is not None:
                self._tables_by_id.pop(table.table_id, None)
                self._forget(table.table_id)

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
            return copy.deepcopy(self._new_table_monitor(t, config))

    def add_legacy_monitor(self, table: str, info: JSON | None = None) -> JSON:
        """Seed a legacy monitor on ``table`` as if created through the API."""
        with self._lock:
            t = self._table(table)
            body = info or {
                "output_schema_name": ".".join(t.parts[:2]),
                "assets_dir": f"/Workspace/Shared/monitors/{t.parts[2]}",
                "snapshot": {},
            }
            config = self._legacy_to_dq(t, body, assets_dir=body.get("assets_dir"))
            return self._dq_to_legacy(self._new_table_monitor(t, config))

    def set_monitor_status(self, table: str, status: str) -> None:
        """Put the monitor of ``table`` in ``status`` (ACTIVE, PENDING, ERROR, FAILED...),
        as the service does when a monitor breaks; it stays there until updated."""
        with self._lock:
            t = self._table(table)
            config = self.monitors[t.table_id]["data_profiling_config"]
            config["status"] = "DATA_PROFILING_STATUS_" + status.upper()
            self._pending.pop(t.table_id, None)

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
                return e.status, e.body(), e.headers
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
        routes = [
            *self._catalog_routes(),
            *self._monitor_routes(),
            *self._workspace_routes(),
            *self._alert_routes(),
            *self._jobs_routes(),
            *self._clusters_routes(),
        ]
        return [(verb, re.compile(pattern), handler) for verb, pattern, handler in routes]


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
