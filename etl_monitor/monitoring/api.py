"""The two Databricks monitor APIs behind one small interface.

`DataQualityApi` uses ``w.data_quality`` (monitors keyed by table id); `LegacyApi` uses
``w.quality_monitors`` (keyed by full name) for SDKs that lack the new one. Both turn the
API's answer into the same comparable form, so a re-run with an unchanged config makes
no mutating call. Fields the API does not return (warehouse id, skip_builtin_dashboard)
are never compared.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger("etl_monitor.monitoring.api")

T = TypeVar("T")

_GRANULARITY_ENUM = {
    "5 minutes": "AGGREGATION_GRANULARITY_5_MINUTES",
    "30 minutes": "AGGREGATION_GRANULARITY_30_MINUTES",
    "1 hour": "AGGREGATION_GRANULARITY_1_HOUR",
    "1 day": "AGGREGATION_GRANULARITY_1_DAY",
    "1 week": "AGGREGATION_GRANULARITY_1_WEEK",
    "2 weeks": "AGGREGATION_GRANULARITY_2_WEEKS",
    "3 weeks": "AGGREGATION_GRANULARITY_3_WEEKS",
    "4 weeks": "AGGREGATION_GRANULARITY_4_WEEKS",
    "1 month": "AGGREGATION_GRANULARITY_1_MONTH",
    "1 year": "AGGREGATION_GRANULARITY_1_YEAR",
}
_GRANULARITY_TEXT = {v: k for k, v in _GRANULARITY_ENUM.items()}


@dataclass(frozen=True)
class Desired:
    """The monitor a config row asks for, in comparable form."""

    table_name: str
    profile_type: str
    output_schema_name: str
    timestamp_column: str | None = None
    granularities: tuple[str, ...] = ()
    prediction_column: str | None = None
    label_column: str | None = None
    model_id_column: str | None = None
    problem_type: str | None = None
    baseline_table_name: str | None = None
    slicing_exprs: tuple[str, ...] = ()
    schedule_cron: str | None = None
    schedule_timezone: str | None = None
    notification_emails: tuple[str, ...] = ()

    def comparable(self) -> dict[str, Any]:
        fields = {k: v for k, v in self.__dict__.items() if k != "table_name"}
        if not self.schedule_cron:
            fields["schedule_timezone"] = None
        return fields


@dataclass
class Actual:
    """What the API says a monitor is."""

    object_id: str | None
    fields: dict[str, Any]
    status: str | None = None
    profile_metrics_table: str | None = None
    drift_metrics_table: str | None = None
    dashboard_id: str | None = None
    monitor_version: int | None = None


def differences(desired: Desired, actual: Actual) -> list[str]:
    """Names of the fields where the monitor differs from the config."""
    want = desired.comparable()
    return sorted(k for k, v in want.items() if actual.fields.get(k) != v)


@dataclass
class TableInfo:
    full_name: str
    table_id: str | None
    columns: list[str] = field(default_factory=list)


def is_transient(error: BaseException) -> bool:
    """Errors worth another try: throttling, 5xx, timeouts, dropped connections."""
    name = type(error).__name__
    return name in {
        "TooManyRequests",
        "RequestLimitExceeded",
        "InternalError",
        "TemporarilyUnavailable",
        "DeadlineExceeded",
        "ServiceUnavailable",
        "Aborted",
        "ConnectionError",
        "Timeout",
        "ReadTimeout",
        "ConnectTimeout",
    } or isinstance(error, (ConnectionError, TimeoutError))


def is_already_exists(error: BaseException) -> bool:
    return type(error).__name__ == "ResourceAlreadyExists" or "already exist" in str(error).lower()


def is_not_found(error: BaseException) -> bool:
    return type(error).__name__ in {
        "NotFound",
        "ResourceDoesNotExist",
        "TableDoesNotExist",
        "SchemaDoesNotExist",
    }


def with_retries(action: Callable[[], T], what: str, attempts: int = 5, base: float = 0.2) -> T:
    """Retry transient errors with jittered exponential backoff (the SDK already retries 429/503)."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            delay = random.uniform(0, min(5.0, base * 2 ** (attempt - 1)))
            log.info(
                "%s: transient %s, retry %d in %.2fs", what, type(error).__name__, attempt, delay
            )
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _value(enum_or_str: Any) -> str | None:
    if enum_or_str is None:
        return None
    return getattr(enum_or_str, "value", enum_or_str)


class _Base:
    name = "base"

    def __init__(self, workspace_client: Any):
        self.w = workspace_client
        self._tables: dict[str, TableInfo] = {}
        self._schemas: dict[str, str] = {}
        self._lock = threading.Lock()

    def table(self, full_name: str, *, cached: bool = True) -> TableInfo:
        """Table id and columns (cached unless cached=False); raises the SDK's NotFound for a missing table."""
        with self._lock:
            if cached and full_name in self._tables:
                return self._tables[full_name]
        info = with_retries(lambda: self.w.tables.get(full_name), f"tables.get {full_name}")
        table = TableInfo(full_name, info.table_id, [c.name for c in (info.columns or [])])
        with self._lock:
            self._tables[full_name] = table
        return table

    def schema_id(self, full_name: str) -> str:
        with self._lock:
            if full_name in self._schemas:
                return self._schemas[full_name]
        info = with_retries(lambda: self.w.schemas.get(full_name), f"schemas.get {full_name}")
        with self._lock:
            self._schemas[full_name] = info.schema_id
        return info.schema_id


class DataQualityApi(_Base):
    """``w.data_quality``: the current API."""

    name = "data_quality"

    def _config(self, d: Desired) -> Any:
        from databricks.sdk.service import dataquality as dq

        grans = [dq.AggregationGranularity(_GRANULARITY_ENUM[g]) for g in d.granularities]
        config = dq.DataProfilingConfig(
            output_schema_id=self.schema_id(d.output_schema_name),
            baseline_table_name=d.baseline_table_name,
            slicing_exprs=list(d.slicing_exprs) or None,
            schedule=dq.CronSchedule(
                quartz_cron_expression=d.schedule_cron, timezone_id=d.schedule_timezone or "UTC"
            )
            if d.schedule_cron
            else None,
            notification_settings=dq.NotificationSettings(
                on_failure=dq.NotificationDestination(email_addresses=list(d.notification_emails))
            )
            if d.notification_emails
            else None,
        )
        if d.profile_type == "SNAPSHOT":
            config.snapshot = dq.SnapshotConfig()
        elif d.profile_type == "TIMESERIES":
            config.time_series = dq.TimeSeriesConfig(
                timestamp_column=d.timestamp_column, granularities=grans
            )
        else:
            config.inference_log = dq.InferenceLogConfig(
                problem_type=dq.InferenceProblemType(f"INFERENCE_PROBLEM_TYPE_{d.problem_type}"),
                timestamp_column=d.timestamp_column,
                granularities=grans,
                prediction_column=d.prediction_column,
                model_id_column=d.model_id_column,
                label_column=d.label_column,
            )
        return config

    def _actual(self, monitor: Any, output_schema_name: str | None) -> Actual:
        c = monitor.data_profiling_config
        fields: dict[str, Any] = {
            "profile_type": "INFERENCE"
            if c.inference_log
            else "TIMESERIES"
            if c.time_series
            else "SNAPSHOT",
            "baseline_table_name": c.baseline_table_name,
            "slicing_exprs": tuple(c.slicing_exprs or ()),
            "schedule_cron": c.schedule.quartz_cron_expression if c.schedule else None,
            "schedule_timezone": c.schedule.timezone_id if c.schedule else None,
            "notification_emails": tuple(c.notification_settings.on_failure.email_addresses or ())
            if c.notification_settings and c.notification_settings.on_failure
            else (),
            "timestamp_column": None,
            "granularities": (),
            "prediction_column": None,
            "label_column": None,
            "model_id_column": None,
            "problem_type": None,
        }
        # the answer names the output schema by id: map it back when it is the one we asked for
        wanted_id = self._schemas.get(output_schema_name or "")
        fields["output_schema_name"] = (
            output_schema_name if c.output_schema_id == wanted_id else c.output_schema_id
        )
        series = c.inference_log or c.time_series
        if series:
            fields["timestamp_column"] = series.timestamp_column
            fields["granularities"] = tuple(
                _GRANULARITY_TEXT.get(_value(g), _value(g)) for g in series.granularities or ()
            )
        if c.inference_log:
            i = c.inference_log
            fields.update(
                prediction_column=i.prediction_column,
                label_column=i.label_column,
                model_id_column=i.model_id_column,
                problem_type=(_value(i.problem_type) or "").removeprefix("INFERENCE_PROBLEM_TYPE_")
                or None,
            )
        return Actual(
            monitor.object_id,
            fields,
            _value(c.status),
            c.profile_metrics_table_name,
            c.drift_metrics_table_name,
            c.dashboard_id,
            c.monitor_version,
        )

    def get(self, d: Desired) -> Actual | None:
        table = self.table(d.table_name)
        try:
            monitor = with_retries(
                lambda: self.w.data_quality.get_monitor("table", table.table_id),
                f"get_monitor {d.table_name}",
            )
        except Exception as error:
            if is_not_found(error):
                return None
            raise
        if monitor.data_profiling_config is None:
            return None
        self.schema_id(d.output_schema_name)
        return self._actual(monitor, d.output_schema_name)

    def create(self, d: Desired) -> Actual:
        from databricks.sdk.service import dataquality as dq

        table = self.table(d.table_name)
        monitor = dq.Monitor(
            object_type="table", object_id=table.table_id, data_profiling_config=self._config(d)
        )
        created = with_retries(
            lambda: self.w.data_quality.create_monitor(monitor=monitor), f"create {d.table_name}"
        )
        return self._actual(created, d.output_schema_name)

    def update(self, d: Desired) -> Actual:
        from databricks.sdk.service import dataquality as dq

        table = self.table(d.table_name)
        monitor = dq.Monitor(
            object_type="table", object_id=table.table_id, data_profiling_config=self._config(d)
        )
        updated = with_retries(
            lambda: self.w.data_quality.update_monitor(
                "table", table.table_id, monitor, update_mask="data_profiling_config"
            ),
            f"update {d.table_name}",
        )
        return self._actual(updated, d.output_schema_name)

    def delete(self, table_name: str) -> None:
        table = self.table(table_name)
        with_retries(
            lambda: self.w.data_quality.delete_monitor("table", table.table_id),
            f"delete {table_name}",
        )

    def refresh(self, table_name: str) -> str:
        from databricks.sdk.service import dataquality as dq

        table = self.table(table_name)
        refresh = with_retries(
            lambda: self.w.data_quality.create_refresh(
                "table", table.table_id, dq.Refresh(object_type="table", object_id=table.table_id)
            ),
            f"refresh {table_name}",
        )
        return str(refresh.refresh_id)

    def refresh_state(self, table_name: str, refresh_id: str) -> str:
        table = self.table(table_name)
        refresh = with_retries(
            lambda: self.w.data_quality.get_refresh("table", table.table_id, int(refresh_id)),
            f"get_refresh {table_name}",
        )
        return (_value(refresh.state) or "UNKNOWN").removeprefix("MONITOR_REFRESH_STATE_")


class LegacyApi(_Base):
    """``w.quality_monitors``: the older API, keyed by full table name, for SDKs without data_quality."""

    name = "quality_monitors"

    def _kwargs(self, d: Desired) -> dict[str, Any]:
        from databricks.sdk.service import catalog as c

        kwargs: dict[str, Any] = {
            "output_schema_name": d.output_schema_name,
            "baseline_table_name": d.baseline_table_name,
            "slicing_exprs": list(d.slicing_exprs) or None,
            "schedule": c.MonitorCronSchedule(
                quartz_cron_expression=d.schedule_cron, timezone_id=d.schedule_timezone or "UTC"
            )
            if d.schedule_cron
            else None,
            "notifications": c.MonitorNotifications(
                on_failure=c.MonitorDestination(email_addresses=list(d.notification_emails))
            )
            if d.notification_emails
            else None,
        }
        if d.profile_type == "SNAPSHOT":
            kwargs["snapshot"] = c.MonitorSnapshot()
        elif d.profile_type == "TIMESERIES":
            kwargs["time_series"] = c.MonitorTimeSeries(
                timestamp_col=d.timestamp_column, granularities=list(d.granularities)
            )
        else:
            kwargs["inference_log"] = c.MonitorInferenceLog(
                problem_type=c.MonitorInferenceLogProblemType(f"PROBLEM_TYPE_{d.problem_type}"),
                timestamp_col=d.timestamp_column,
                granularities=list(d.granularities),
                prediction_col=d.prediction_column,
                model_id_col=d.model_id_column,
                label_col=d.label_column,
            )
        return kwargs

    @staticmethod
    def _actual(info: Any) -> Actual:
        series = info.inference_log or info.time_series
        fields: dict[str, Any] = {
            "profile_type": "INFERENCE"
            if info.inference_log
            else "TIMESERIES"
            if info.time_series
            else "SNAPSHOT",
            "output_schema_name": info.output_schema_name,
            "baseline_table_name": info.baseline_table_name,
            "slicing_exprs": tuple(info.slicing_exprs or ()),
            "schedule_cron": info.schedule.quartz_cron_expression if info.schedule else None,
            "schedule_timezone": info.schedule.timezone_id if info.schedule else None,
            "notification_emails": tuple(info.notifications.on_failure.email_addresses or ())
            if info.notifications and info.notifications.on_failure
            else (),
            "timestamp_column": series.timestamp_col if series else None,
            "granularities": tuple(series.granularities or ()) if series else (),
            "prediction_column": None,
            "label_column": None,
            "model_id_column": None,
            "problem_type": None,
        }
        if info.inference_log:
            i = info.inference_log
            fields.update(
                prediction_column=i.prediction_col,
                label_column=i.label_col,
                model_id_column=i.model_id_col,
                problem_type=(_value(i.problem_type) or "").removeprefix("PROBLEM_TYPE_") or None,
            )
        return Actual(
            None,
            fields,
            _value(info.status),
            info.profile_metrics_table_name,
            info.drift_metrics_table_name,
            info.dashboard_id,
            info.monitor_version,
        )

    def get(self, d: Desired) -> Actual | None:
        self.table(d.table_name)
        try:
            info = with_retries(
                lambda: self.w.quality_monitors.get(table_name=d.table_name), f"get {d.table_name}"
            )
        except Exception as error:
            if is_not_found(error):
                return None
            raise
        return self._actual(info)

    def create(self, d: Desired) -> Actual:
        assets = f"/Workspace/Shared/etl_monitor/monitors/{d.table_name}"
        info = with_retries(
            lambda: self.w.quality_monitors.create(
                table_name=d.table_name, assets_dir=assets, **self._kwargs(d)
            ),
            f"create {d.table_name}",
        )
        return self._actual(info)

    def update(self, d: Desired) -> Actual:
        info = with_retries(
            lambda: self.w.quality_monitors.update(table_name=d.table_name, **self._kwargs(d)),
            f"update {d.table_name}",
        )
        return self._actual(info)

    def delete(self, table_name: str) -> None:
        with_retries(
            lambda: self.w.quality_monitors.delete(table_name=table_name), f"delete {table_name}"
        )

    def refresh(self, table_name: str) -> str:
        info = with_retries(
            lambda: self.w.quality_monitors.run_refresh(table_name=table_name),
            f"refresh {table_name}",
        )
        return str(info.refresh_id)

    def refresh_state(self, table_name: str, refresh_id: str) -> str:
        info = with_retries(
            lambda: self.w.quality_monitors.get_refresh(
                table_name=table_name, refresh_id=int(refresh_id)
            ),
            f"get_refresh {table_name}",
        )
        return _value(info.state) or "UNKNOWN"


def make_api(workspace_client: Any, prefer: str | None = None) -> _Base:
    """The data_quality API when the SDK has it (or `prefer="quality_monitors"`), else the legacy one."""
    if prefer == "quality_monitors" or not hasattr(workspace_client, "data_quality"):
        return LegacyApi(workspace_client)
    return DataQualityApi(workspace_client)
