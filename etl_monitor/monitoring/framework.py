"""`MonitoringFramework`: Databricks data profiling monitors driven by Delta config tables."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from etl_monitor.core.arguments import HINTS, SessionArgs, validate
from etl_monitor.core.context import Context
from etl_monitor.core.objects import MONITORING
from etl_monitor.core.setup import SetupReport, build_group, create_schema
from etl_monitor.engine.capabilities import Engine, detect_engine
from etl_monitor.engine.executor import RetryPolicy, SqlExecutor, check_identifier, qualified
from etl_monitor.engine.timestamps import utcnow
from etl_monitor.errors import InvalidArgumentError
from etl_monitor.monitoring import provision, unified, yaml_config
from etl_monitor.monitoring.api import make_api
from etl_monitor.monitoring.config import (
    GROUPS,
    LOG,
    MONITOR_HINTS,
    STATE,
    TABLES,
    GroupArgs,
    SchemaArgs,
    TableArgs,
    table_args,
    table_row,
)
from etl_monitor.monitoring.provision import (
    ApplyReport,
    ImpactReport,
    MonitoringPolicy,
    TableOutcome,
)
from etl_monitor.tracking import registry
from etl_monitor.tracking.events import new_event_id, spark_schema

log: logging.Logger = logging.getLogger("etl_monitor.monitoring")
HINTS.update(MONITOR_HINTS)
RESERVED_GROUPS = {"all", "alerts"}


@dataclass
class CoverageReport:
    """Monitoring gaps: tables without a monitor, stale monitors, and orphans."""

    unmonitored: list[str] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)
    orphans: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class MonitoringFramework:
    """Provision data profiling monitors for the tables listed in Delta config tables.

    >>> mon = MonitoringFramework(spark, "main", "etl", workspace_client=WorkspaceClient())
    >>> mon.setup(); mon.register_table("main.sales.orders", profile_type="SNAPSHOT")
    >>> mon.plan(); mon.apply(); mon.create_unified_views()
    """

    def __init__(
        self,
        spark: Any,
        catalog: str = "main",
        schema: str = "etl",
        workspace_client: Any = None,
        *,
        policy: MonitoringPolicy | None = None,
        api: str | None = None,
        parallelism: int = 8,
        engine: Engine | None = None,
        user: str | None = None,
        retry: RetryPolicy | None = None,
    ):
        check_identifier(catalog, "catalog", allow_dash=True)
        check_identifier(schema, "schema", allow_dash=True)
        validate(SessionArgs, "MonitoringFramework", user=user, parallelism=parallelism)
        if policy is not None and not isinstance(policy, MonitoringPolicy):
            raise InvalidArgumentError(
                f"MonitoringFramework(): policy must be a MonitoringPolicy, not "
                f"{type(policy).__name__}",
                argument="policy",
            )
        self.spark, self.catalog, self.schema = spark, catalog, schema
        self.engine = engine or detect_engine(spark)
        self.executor = SqlExecutor(spark, retry, self.engine)
        self._ctx = Context(spark, catalog, schema, self.engine, self.executor, user_override=user)
        self._workspace_client = workspace_client
        self._api_choice = api
        self._api: Any = None
        self.policy = policy or MonitoringPolicy()
        self.parallelism = parallelism

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def context(self) -> Context:
        """What the features below the facade take: the names, the executor, the engine, the user."""
        return self._ctx

    @property
    def workspace_client(self) -> Any:
        """The databricks-sdk WorkspaceClient (created from the environment on first use)."""
        if self._workspace_client is None:
            from databricks.sdk import WorkspaceClient

            self._workspace_client = WorkspaceClient()
        return self._workspace_client

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = make_api(self.workspace_client, self._api_choice)
        return self._api

    def table_name(self, name: str) -> str:
        return self._ctx.name(check_identifier(name, "table"))

    def _rows(self, table: str) -> list[dict[str, Any]]:
        return [r.asDict() for r in self.executor.query(f"SELECT * FROM {self._ctx.name(table)}")]

    # -- config ------------------------------------------------------------------------------
    def setup(self) -> SetupReport:
        """Create the config tables, the provisioning log and the state view (idempotent)."""
        started, before = time.perf_counter(), self.executor.stats["statements"]
        report = SetupReport(self.catalog, self.schema)
        create_schema(self._ctx)
        build_group(self._ctx, MONITORING, report)
        report.statements = self.executor.stats["statements"] - before
        report.seconds = time.perf_counter() - started
        return report

    def register_group(
        self,
        group: str,
        notification_emails: list[str] | None = None,
        drift_threshold: float = 0.2,
        owner: str | None = None,
        description: str | None = None,
        is_active: bool = True,
    ) -> None:
        """Add or update a monitor group (alert addresses, drift threshold, owner)."""
        a = validate(
            GroupArgs,
            "register_group",
            group=group,
            notification_emails=notification_emails or [],
            drift_threshold=drift_threshold,
            owner=owner,
            description=description,
            is_active=is_active,
        )
        if a.group.lower() in RESERVED_GROUPS:
            raise InvalidArgumentError(
                f"register_group(): {group!r} is reserved for the all-groups views",
                argument="group",
                value=group,
            )
        registry.upsert(
            self._ctx,
            GROUPS,
            {
                "GroupName": a.group,
                "NotificationEmails": ",".join(a.notification_emails) or None,
                "DriftThreshold": a.drift_threshold,
                "Owner": a.owner,
                "Description": a.description,
                "IsActive": a.is_active,
            },
        )

    def register_table(self, table_name: str, **settings: Any) -> None:
        """Add or update one monitored table.

        Settings: profile_type (SNAPSHOT, TIMESERIES, INFERENCE), output_schema_name,
        timestamp_column, granularities, prediction_column, label_column, model_id_column,
        problem_type, baseline_table_name, slicing_exprs, schedule_cron, schedule_timezone,
        assets_dir, monitor_group, owner, runbook_url, lineage_url, drift_threshold, is_active.
        """
        a = self._table_args("register_table", table_name, settings)
        registry.upsert(self._ctx, TABLES, table_row(a))

    def register_tables(self, tables: list[dict[str, Any]]) -> int:
        """Add or update many monitored tables in one statement; each dict has table_name and settings.

        Every entry is validated first: one bad entry raises and nothing is written.
        """
        parsed = [
            self._table_args(
                "register_tables",
                t.get("table_name"),
                {k: v for k, v in t.items() if k != "table_name"},
            )
            for t in tables
        ]
        registry.upsert_many(self._ctx, TABLES, [table_row(a) for a in parsed])
        return len(parsed)

    def _table_args(self, function: str, table_name: str, settings: dict[str, Any]) -> TableArgs:
        a = validate(TableArgs, function, table_name=table_name, **settings)
        if a.monitor_group.lower() in RESERVED_GROUPS:
            raise InvalidArgumentError(
                f"{function}(): monitor_group {a.monitor_group!r} is reserved",
                argument="monitor_group",
                value=a.monitor_group,
            )
        return a

    def import_yaml(self, path: str | Path) -> list[str]:
        """Load a data profiling orchestrator YAML file into the config tables.

        Bare names are resolved against ``catalog_name``; with ``include_tagged_tables``
        the tables carrying the ``discovery.include_tags`` tags are enrolled too (settings
        of a ``monitored_tables`` entry win over tag-derived ones); groups come from
        ``alerting`` and ``policy`` replaces this framework's policy. See
        `etl_monitor.monitoring.yaml_config` for the format.

        Args:
            path: the YAML file.

        Returns:
            The imported table names: ``monitored_tables`` first, then discovered ones.

        Raises:
            InvalidArgumentError: a malformed document, name or setting; nothing was written.
        """
        imported = yaml_config.read(
            path,
            self._table_args,
            lambda: self.workspace_client,
            RESERVED_GROUPS,
            self.parallelism,
        )
        if imported.policy is not None:
            self.policy = imported.policy
        for g in imported.groups:
            self.register_group(g.group, g.notification_emails, g.drift_threshold)
        registry.upsert_many(self._ctx, TABLES, [table_row(t) for t in imported.tables])
        return [t.table_name for t in imported.tables]

    # -- plan and apply ------------------------------------------------------------------------
    def plan(self, *, delete_inactive: bool = False) -> ImpactReport:
        """What apply() would do, per table, with reasons; makes no change anywhere."""
        groups = {g["GroupName"]: g for g in self._rows(GROUPS.name)}
        tables = sorted(self._rows(TABLES.name), key=lambda r: r["TableName"])
        return provision.make_plan(
            self.api,
            tables,
            groups,
            self.policy,
            table_args,
            delete_inactive=delete_inactive,
            parallelism=self.parallelism,
        )

    def apply(
        self,
        *,
        delete_inactive: bool = False,
        recreate: bool = False,
        refresh: bool = False,
        wait: bool = False,
        timeout: float = 3600,
        poll: float = 30,
        unified_views: bool = True,
        progress: Callable[[TableOutcome], None] | None = None,
    ) -> ApplyReport:
        """Create, update (and, when asked, delete or re-create) monitors to match the config.

        A re-run with no config change makes no mutating API call. Every table's outcome
        is appended to ETLmonitorLog, whatever happens to the refreshes.

        Args:
            delete_inactive: delete the monitors of inactive config rows.
            recreate: delete and create the monitors whose change the service cannot make
                in place (output schema, a switch to or from time series, a monitor in
                ERROR/FAILED state); their metric history is lost. Without it they are
                reported as ``blocked``.
            refresh: start a refresh of every created, updated or re-created monitor, once
                it is ACTIVE; a refresh that cannot be started is that table's outcome.
            wait: with refresh, poll the refreshes until they end.
            timeout: seconds to wait for monitors to be ACTIVE and refreshes to end, and
                for a re-created monitor's delete to finish before its create.
            poll: seconds between polls.
            unified_views: recreate the unified drift and profile views afterwards.
            progress: called with each table's outcome as it is done.

        Returns:
            The counts and every table's outcome.
        """
        started = time.perf_counter()
        run_id = provision.new_run_id()
        plan = self.plan(delete_inactive=delete_inactive)
        outcomes = plan.outcomes  # apply_plan updates them in place as each table is done
        refreshes: dict[str, tuple[str | None, str]] = {}
        try:
            provision.apply_plan(
                self.api,
                plan,
                self.parallelism,
                progress,
                recreate=recreate,
                waiting=provision.Waiting(timeout=timeout, poll=poll),
            )
            if refresh:
                touched = [
                    o
                    for o in outcomes
                    if o.action in (provision.CREATE, provision.UPDATE, provision.RECREATE)
                ]
                refreshes = provision.refresh_monitors(
                    self.api, touched, wait=wait, timeout=timeout, poll=poll
                )
        finally:
            self._log(run_id, outcomes)
        counts = Counter(o.action for o in outcomes)
        report = ApplyReport(
            run_id=run_id,
            tables_discovered=len(outcomes),
            monitors_created=counts[provision.CREATE],
            monitors_updated=counts[provision.UPDATE],
            monitors_skipped=counts[provision.SKIP],
            monitors_failed=counts[provision.ERROR],
            outcomes=outcomes,
            monitors_recreated=counts[provision.RECREATE],
            monitors_blocked=counts[provision.BLOCKED],
            refreshes_failed=sum(1 for _, state in refreshes.values() if state == "ERROR"),
        )
        if unified_views:
            views = self.create_unified_views()
            report.unified_drift_views, report.unified_profile_views = (
                views.drift_views,
                views.profile_views,
            )
        report.seconds = time.perf_counter() - started
        log.info(
            "apply %s: %d created, %d updated, %d re-created, %d blocked, %d skipped, "
            "%d failed, %d refreshes failed",
            run_id,
            report.monitors_created,
            report.monitors_updated,
            report.monitors_recreated,
            report.monitors_blocked,
            report.monitors_skipped,
            report.monitors_failed,
            report.refreshes_failed,
        )
        return report

    def _log(self, run_id: str, outcomes: list[TableOutcome]) -> None:
        """Append one ETLmonitorLog row per table: the action, why, the monitor after it,
        and the refresh started (taken from the outcomes, so a failure later keeps them)."""
        now, user = utcnow(), self._ctx.user
        rows = []
        for o in outcomes:
            a = o.actual
            refresh_id, refresh_state = o.refresh_id, o.refresh_state
            values = {
                "EventID": new_event_id(),
                "EventTime": now,
                "RunID": run_id,
                "TableName": o.table_name,
                "Action": o.action,
                "Message": o.reason,
                "Api": self.api.name,
                "ObjectID": (a.object_id if a else None),
                "MonitorStatus": a.status if a else None,
                "ProfileMetricsTable": a.profile_metrics_table if a else None,
                "DriftMetricsTable": a.drift_metrics_table if a else None,
                "DashboardID": a.dashboard_id if a else None,
                "MonitorVersion": a.monitor_version if a else None,
                "RefreshID": refresh_id,
                "RefreshState": refresh_state,
                "LastRefreshTime": now if refresh_id else None,
                "CreatedBy": user,
            }
            rows.append(tuple(values.get(c) for c in LOG.column_names))
        self.executor.append(self._ctx.name(LOG), rows, spark_schema(LOG))

    def state(self) -> dict[str, dict[str, Any]]:
        """Current monitor state per table (from the provisioning log)."""
        return {r["TableName"]: r for r in self._rows(STATE.name)}

    # -- unified views -----------------------------------------------------------------------
    def create_unified_views(self) -> unified.UnifiedViewsReport:
        """Per group and for all groups: a drift and a profile view over the metric tables; plus drift alerts.

        A table whose metric tables do not exist (yet) is left out and reported; a group
        with no ready table gets a typed empty view.
        """
        report = unified.UnifiedViewsReport()
        state = self.state()
        sources: dict[str, list[tuple[str, str, set, str, set]]] = {}
        groups = {g["GroupName"] for g in self._rows(GROUPS.name) if g["IsActive"] is not False}
        for row in self._rows(TABLES.name):
            if row["IsActive"] is False:
                continue
            args = table_args(row)
            groups.add(args.monitor_group)
            known = state.get(args.table_name, {})
            out = args.output_schema_name or ".".join(args.table_name.split(".")[:2])
            leaf = args.table_name.split(".")[-1]
            profile = known.get("ProfileMetricsTable") or f"{out}.{leaf}_profile_metrics"
            drift = known.get("DriftMetricsTable") or f"{out}.{leaf}_drift_metrics"
            missing = [t for t in (profile, drift) if not self.executor.table_exists(t)]
            if missing:
                report.left_out[args.table_name] = (
                    f"metric tables not found yet: {', '.join(missing)}"
                )
                continue
            entry = (
                profile,
                unified._paths(self.executor.table_schema(qualified(*profile.split(".")))),
                drift,
                unified._paths(self.executor.table_schema(qualified(*drift.split(".")))),
            )
            sources.setdefault(args.monitor_group, []).append((args.table_name, *entry))
        for group in sorted(groups | {"all"}):
            members = sorted(
                (m for g, ms in sources.items() if group in ("all", g) for m in ms),
                key=lambda m: m[0],
            )
            report.included[group] = [m[0] for m in members]
            for kind, columns, drift in (
                ("profile", unified.PROFILE_COLUMNS, False),
                ("drift", unified.DRIFT_COLUMNS, True),
            ):
                branches = [
                    (m[0], m[1], m[2]) if kind == "profile" else (m[0], m[3], m[4]) for m in members
                ]
                name = f"v_monitor_{kind}_{group}"
                body = unified.view_sql(
                    self.catalog, self.schema, unified.union_sql(columns, branches), drift
                )
                self._ctx.create_view(
                    name, f"CREATE OR REPLACE VIEW {self._ctx.name(name)} AS\n{body}"
                )
                (report.drift_views if drift else report.profile_views)[group] = (
                    f"{self.catalog}.{self.schema}.{name}"
                )
        alerts = unified.DRIFT_ALERTS_VIEW
        self._ctx.create_view(
            alerts,
            f"CREATE OR REPLACE VIEW {self._ctx.name(alerts)} AS\n"
            f"SELECT * FROM {self._ctx.name('v_monitor_drift_all')} WHERE is_drift_alert",
        )
        report.alerts_view = f"{self.catalog}.{self.schema}.{alerts}"
        return report

    # -- coverage ----------------------------------------------------------------------------
    def coverage(self, schemas: list[str] | None = None, stale_days: int = 30) -> CoverageReport:
        """Tables in `schemas` (catalog.schema) with no monitor, monitors not refreshed in
        `stale_days`, and config rows or monitors whose table is gone."""
        from etl_monitor.monitoring.api import is_not_found

        report = CoverageReport()
        state = self.state()
        config = {r["TableName"]: r for r in self._rows(TABLES.name)}
        monitored = {
            t
            for t, s in state.items()
            if s["LastAction"]
            in (
                provision.CREATE,
                provision.UPDATE,
                provision.RECREATE,
                provision.BLOCKED,
                provision.UNCHANGED,
                provision.DEACTIVATED,
            )
        }
        for full in schemas or []:
            catalog, schema = validate(SchemaArgs, "coverage", schema_name=full).schema_name.split(
                "."
            )
            for info in self.workspace_client.tables.list(catalog_name=catalog, schema_name=schema):
                name = info.full_name or f"{catalog}.{schema}.{info.name}"
                if name not in monitored and not name.endswith(
                    ("_profile_metrics", "_drift_metrics")
                ):
                    report.unmonitored.append(name)
        cutoff = datetime.now(timezone.utc) - timedelta(days=stale_days)
        for table in sorted(monitored):
            s = state[table]
            last = s["LastRefreshTime"] or s["UpdatedOn"]
            if last is not None and last.replace(tzinfo=timezone.utc) < cutoff:
                report.stale.append({"table_name": table, "last_refresh": last, "days": stale_days})
        for table in sorted(set(config) | monitored):
            try:
                self.api.table(table, cached=False)
            except Exception as error:
                if not is_not_found(error):
                    raise
                report.orphans.append(
                    {
                        "table_name": table,
                        "in_config": table in config,
                        "has_monitor": table in monitored,
                    }
                )
        report.unmonitored.sort()
        return report
