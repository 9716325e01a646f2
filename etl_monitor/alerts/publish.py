"""Plan and publish: read the workspace once, then create or update only what differs."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from etl_monitor.alerts.render import (
    DEFAULT_PARENT_PATH,
    DEFAULT_SCHEDULE,
    DEFAULT_TIMEZONE,
    DRIFT_ALERTS_VIEW,
    LIST_PAGE_SIZE,
    GroupTarget,
    ProcessTarget,
    Targets,
    addresses_of,
    changed_paths,
    check_parent_path,
    check_schedule,
    check_warehouse_id,
    destination_name,
    drift_alert,
    is_email,
    process_alert,
)
from etl_monitor.core.context import Context
from etl_monitor.core.reconcile import CallCounter, Reconciliation
from etl_monitor.core.setup import existing_objects
from etl_monitor.engine.executor import check_identifier
from etl_monitor.errors import InvalidArgumentError
from etl_monitor.monitoring.config import GROUPS
from etl_monitor.tracking import store

log: logging.Logger = logging.getLogger("etl_monitor.alerts")


@dataclass
class AlertAction:
    """One thing `publish` did (or, in a plan, would do)."""

    kind: str  # folder, destination, alert
    name: str
    action: str  # create, update, unchanged
    reason: str
    update_mask: str | None = None
    id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AlertsReport(Reconciliation, CallCounter):
    """What `publish` did, or with ``dry_run`` would do, and what it cost."""

    parent_path: str
    dry_run: bool = False
    actions: list[AlertAction] = field(default_factory=list)
    #: Processes or groups whose alert reaches nobody, with the reason.
    not_routable: list[str] = field(default_factory=list)
    #: Why the drift alerts were left out, when they were.
    skipped: list[str] = field(default_factory=list)
    #: SDK calls made (a paged list counts once) and, of those, the mutating ones.
    calls: int = 0
    mutating_calls: int = 0

    def decided(self) -> list[AlertAction]:
        """Every folder, destination and alert, in the order they were decided."""
        return self.actions

    def count(self, kind: str, action: str) -> int:
        """How many objects of `kind` have `action`."""
        return self.tally(action, kind)

    def as_dict(self) -> dict[str, Any]:
        return {
            "parent_path": self.parent_path,
            "dry_run": self.dry_run,
            "actions": [a.as_dict() for a in self.actions],
            "not_routable": list(self.not_routable),
            "skipped": list(self.skipped),
            "calls": self.calls,
            "mutating_calls": self.mutating_calls,
        }

    def __str__(self) -> str:
        parts = [
            f"{kind}s: {self.count(kind, 'create')} to create, "
            f"{self.count(kind, 'update')} to update, {self.count(kind, 'unchanged')} unchanged"
            for kind in ("destination", "alert")
        ]
        return (
            f"{'plan' if self.dry_run else 'published'} in {self.parent_path}: "
            + "; ".join(parts)
            + f"; {self.calls} calls ({self.mutating_calls} mutating)"
        )


def _same_folder(a: str | None, b: str) -> bool:
    """Workspace folders compared with and without the ``/Workspace`` mount prefix."""

    def plain(p: str) -> str:
        return p[len("/Workspace") :] if p.startswith("/Workspace/") else p

    return a is not None and plain(a.rstrip("/")) == plain(b.rstrip("/"))


class _Publisher:
    """One run: reads the workspace once, then creates or updates what differs."""

    def __init__(self, w: Any, report: AlertsReport) -> None:
        self.w = w
        self.report = report

    def call(self, function: Any, *args: Any, mutating: bool = False, **kwargs: Any) -> Any:
        (self.report.write if mutating else self.report.read)()
        return function(*args, **kwargs)

    def check_warehouse(self, warehouse_id: str) -> None:
        from databricks.sdk.errors import NotFound

        try:
            self.call(self.w.warehouses.get, warehouse_id)
        except NotFound:
            raise InvalidArgumentError(
                f"warehouse_id {warehouse_id!r}: no such SQL warehouse in this workspace",
                argument="warehouse_id",
                value=warehouse_id,
            ) from None

    def existing_alerts(self, parent_path: str) -> dict[str, Any]:
        """Live alerts in `parent_path` by display name (the oldest when names repeat)."""
        from databricks.sdk.service.sql import AlertLifecycleState

        found: dict[str, Any] = {}
        listed = self.call(lambda: list(self.w.alerts_v2.list_alerts(page_size=LIST_PAGE_SIZE)))
        for alert in listed:
            if alert.lifecycle_state == AlertLifecycleState.DELETED:
                continue  # trashed: never reused
            if _same_folder(alert.parent_path, parent_path) and alert.display_name not in found:
                found[alert.display_name] = alert
        return found

    def destinations(self, wanted: Mapping[str, tuple[str, ...]]) -> dict[str, str | None]:
        """Create or update one e-mail destination per group; group -> destination id."""
        from databricks.sdk.service.settings import Config, DestinationType, EmailConfig

        by_name = {destination_name(g): g for g in wanted}
        existing: dict[str, Any] = {}
        if wanted:
            for d in self.call(lambda: list(self.w.notification_destinations.list())):
                if (
                    d.display_name in by_name
                    and d.destination_type in (None, DestinationType.EMAIL)
                    and d.display_name not in existing
                ):
                    existing[d.display_name] = d
        ids: dict[str, str | None] = {}
        for name, group in by_name.items():
            addresses = list(wanted[group])
            config = Config(email=EmailConfig(addresses=addresses))
            found = existing.get(name)
            if found is None:
                ids[group] = self._create_destination(name, config)
                continue
            current = self.call(self.w.notification_destinations.get, found.id)
            have = (
                current.config and current.config.email and current.config.email.addresses
            ) or []
            if sorted(a.lower() for a in have) == sorted(a.lower() for a in addresses):
                self.report.actions.append(
                    AlertAction("destination", name, "unchanged", "same addresses", id=found.id)
                )
            else:
                if not self.report.dry_run:
                    self.call(
                        self.w.notification_destinations.update,
                        found.id,
                        config=config,
                        display_name=name,
                        mutating=True,
                    )
                self.report.actions.append(
                    AlertAction(
                        "destination",
                        name,
                        "update",
                        f"addresses {sorted(have)} -> {sorted(addresses)}",
                        id=found.id,
                    )
                )
            ids[group] = found.id
        return ids

    def _create_destination(self, name: str, config: Any) -> str | None:
        if self.report.dry_run:
            self.report.actions.append(AlertAction("destination", name, "create", "not found"))
            return "(to be created)"
        created = self.call(
            self.w.notification_destinations.create,
            config=config,
            display_name=name,
            mutating=True,
        )
        self.report.actions.append(
            AlertAction("destination", name, "create", "not found", id=created.id)
        )
        return created.id

    def ensure_folder(self, parent_path: str) -> None:
        from databricks.sdk.errors import NotFound

        try:
            self.call(self.w.workspace.get_status, parent_path)
            return
        except NotFound:
            pass
        if not self.report.dry_run:
            self.call(self.w.workspace.mkdirs, parent_path, mutating=True)
        self.report.actions.append(AlertAction("folder", parent_path, "create", "not found"))

    def alert(self, document: dict[str, Any], existing: Any, parent_path: str) -> None:
        from databricks.sdk.service.sql import AlertV2

        name = document["display_name"]
        if existing is None:
            alert_id = None
            if not self.report.dry_run:
                created = self.call(
                    self.w.alerts_v2.create_alert,
                    AlertV2.from_dict({**document, "parent_path": parent_path}),
                    mutating=True,
                )
                alert_id = created.id
            self.report.actions.append(
                AlertAction("alert", name, "create", "not found", id=alert_id)
            )
            return
        changed = changed_paths(document, existing.as_dict())
        if not changed:
            self.report.actions.append(
                AlertAction("alert", name, "unchanged", "read-back matches", id=existing.id)
            )
            return
        mask = ",".join(changed)
        if not self.report.dry_run:
            self.call(
                self.w.alerts_v2.update_alert,
                existing.id,
                AlertV2.from_dict(document),
                mask,
                mutating=True,
            )
        self.report.actions.append(
            AlertAction(
                "alert", name, "update", f"changed: {mask}", update_mask=mask, id=existing.id
            )
        )


def publish(
    workspace_client: Any,
    targets: Targets,
    warehouse_id: str,
    parent_path: str = DEFAULT_PARENT_PATH,
    schedule: str = DEFAULT_SCHEDULE,
    timezone: str = DEFAULT_TIMEZONE,
    *,
    dry_run: bool = False,
) -> AlertsReport:
    """Create or update the alerts (and group destinations) of `targets`; see the module docstring.

    Args:
        workspace_client: a ``databricks.sdk.WorkspaceClient``.
        targets: the processes, groups and drift view to alert on (`targets_from`).
        warehouse_id: the SQL warehouse that runs the alert queries (checked first).
        parent_path: the workspace folder of the alerts (created when missing).
        schedule: quartz cron expression of the evaluations.
        timezone: time zone id of the schedule.
        dry_run: read only, and report what would be created or updated.

    Returns:
        What was (or would be) created, updated or left, with the calls it took.

    Raises:
        InvalidArgumentError: a bad warehouse id (malformed or unknown), parent path,
            schedule or time zone; nothing was written.
        databricks.sdk.errors.DatabricksError: a request the service refused.
    """
    check_parent_path(parent_path)
    check_warehouse_id(warehouse_id)
    check_schedule(schedule, timezone)
    check_identifier(targets.catalog, "catalog", allow_dash=True)
    check_identifier(targets.schema, "schema", allow_dash=True)
    report = AlertsReport(parent_path, dry_run=dry_run)
    pub = _Publisher(workspace_client, report)
    pub.check_warehouse(warehouse_id)

    groups = {g.name: g for g in targets.groups}
    used = {p.monitor_group for p in targets.processes if p.monitor_group}
    if targets.drift_view:
        used |= set(groups)
    elif groups:
        report.skipped.append(
            f"drift alerts: {DRIFT_ALERTS_VIEW} does not exist yet "
            "(run monitoring().create_unified_views() first)"
        )
    wanted = {g: groups[g].addresses for g in sorted(used) if g in groups and groups[g].addresses}
    existing = pub.existing_alerts(parent_path)
    documents: list[dict[str, Any]] = []
    # Destinations first: the alerts subscribe them by id.
    destination_ids = pub.destinations(wanted)
    for p in targets.processes:
        key = f"{p.project_code}/{p.process_load}"
        gid = destination_ids.get(p.monitor_group or "")
        if p.owner and not is_email(p.owner):
            report.not_routable.append(f"{key}: owner {p.owner!r} is not an e-mail address")
        if p.monitor_group and gid is None:
            why = (
                "is not an active group in ETLmonitorGroups"
                if p.monitor_group not in groups
                else "has no addresses"
            )
            report.not_routable.append(f"{key}: monitoring group {p.monitor_group!r} {why}")
        if not is_email(p.owner) and gid is None:
            report.not_routable.append(f"{key}: the alert notifies nobody")
        documents.append(process_alert(targets, p, warehouse_id, schedule, timezone, gid))
    if targets.drift_view:
        for g in sorted(groups.values(), key=lambda g: g.name):
            gid = destination_ids.get(g.name)
            if gid is None and not is_email(g.owner):
                report.not_routable.append(f"drift {g.name}: the group has no addresses")
            documents.append(drift_alert(targets, g, warehouse_id, schedule, timezone, gid))
    if any(d["display_name"] not in existing for d in documents):
        pub.ensure_folder(parent_path)
    for document in documents:
        pub.alert(document, existing.get(document["display_name"]), parent_path)
    log.info("alerts: %s", report)
    return report


def targets_from(
    ctx: Context,
    processes: Iterable[Mapping[str, Any]],
    groups: Iterable[Mapping[str, Any]],
    drift_view: bool,
) -> Targets:
    """Targets from ETLconfigProcess rows (active ones) and ETLmonitorGroups rows (active ones)."""
    return Targets(
        ctx.catalog,
        ctx.schema,
        tuple(
            ProcessTarget(
                r["ProjectCode"],
                r["ProcessLoad"],
                r.get("ProcessOwner"),
                r.get("MonitorGroup"),
                r.get("RunbookUrl"),
                r.get("LineageUrl"),
            )
            for r in sorted(processes, key=lambda r: (r["ProjectCode"], r["ProcessLoad"]))
            if r.get("IsActive") is not False
        ),
        tuple(
            GroupTarget(r["GroupName"], addresses_of(r.get("NotificationEmails")), r.get("Owner"))
            for r in groups
            if r.get("IsActive") is not False
        ),
        drift_view,
    )


def read_targets(ctx: Context) -> Targets:
    """What the alerts cover, read from the schema: the processes, the monitoring groups
    (once their table exists) and whether the drift-alerts view exists.

    Args:
        ctx: the framework's context.

    Returns:
        The targets of `publish`.
    """
    existing = existing_objects(ctx)
    groups = (
        [r.asDict() for r in ctx.executor.query(f"SELECT * FROM {ctx.name(GROUPS.name)}")]
        if GROUPS.name.lower() in existing
        else []
    )
    return targets_from(ctx, store.processes(ctx), groups, DRIFT_ALERTS_VIEW.lower() in existing)
