"""What every emulated service shares: the error, the request log, tables, refreshes."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    pass

JSON = dict[str, Any]

#: The ``@type`` of an ErrorInfo detail (``databricks/sdk/errors/details.py``).
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
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
        self,
        status: int,
        error_code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = dict(headers or {})
        self.reason = reason
        self.metadata = dict(metadata or {})

    def body(self) -> JSON:
        """The JSON error body as the SDK parses it (``databricks/sdk/errors/deserializer.py``):
        ``error_code`` and ``message``, plus one ``google.rpc.ErrorInfo`` in ``details`` when
        the error has a ``reason``."""
        out: JSON = {"error_code": self.error_code, "message": self.message}
        if self.reason:
            out["details"] = [
                {
                    "@type": ERROR_INFO_TYPE,
                    "reason": self.reason,
                    "domain": "databricks.com",
                    "metadata": self.metadata,
                }
            ]
        return out


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
Route = tuple[str, str, Handler]
#: Unity Catalog's REST prefix and one table under it.
UC = "/api/2\\.1/unity-catalog"
TABLE = UC + "/tables/(?P<name>[^/]+)"


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
