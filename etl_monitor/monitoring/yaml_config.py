"""The data profiling orchestrator's YAML, read into monitoring config rows.

The document (top-level keys)::

    catalog_name: prod                 # bare names below are resolved against it
    include_tagged_tables: true        # also enrol the tables found by tag discovery
    discovery:
      include_tags: {monitor_enabled: "true"}   # every tag must match (null: any value)
      exclude_schemas: ["tmp_*"]                # glob patterns of schemas not scanned
    profile_defaults: {profile_type: TIMESERIES, output_schema_name: monitoring_results, ...}
    monitored_tables:
      prod.ml.churn_predictions: {baseline_table_name: churn_baseline, label_column: churned}
    alerting: {drift_threshold: 0.2, default_notifications: [...], group_notifications: {...}}
    policy: {naming_patterns: [...], forbidden_patterns: [...], require_baseline: true, ...}

Names: ``output_schema_name`` is ``schema`` (in ``catalog_name``) or ``catalog.schema``; a
``monitored_tables`` key is ``schema.table`` or ``catalog.schema.table``, in
``catalog_name``; ``baseline_table_name`` is also allowed bare (``table``: the monitored
table's schema). Settings merge, later winning: ``profile_defaults``, then what the tags
of a discovered table say (``monitor_group``, ``owner``), then the table's own entry.
Keys the orchestrator uses for its own run (``warehouse_id``, ``mode``, ``dry_run``,
alert schedules, dashboards) are accepted and not imported.

Everything is parsed, resolved and validated before the caller writes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from etl_monitor.core import documents
from etl_monitor.core.arguments import validate
from etl_monitor.errors import InvalidArgumentError
from etl_monitor.monitoring import discovery
from etl_monitor.monitoring.config import DEFAULT_GROUP, GroupArgs, TableArgs
from etl_monitor.monitoring.provision import MonitoringPolicy

FUNCTION = "import_yaml"
#: Tags of a discovered table that fill a setting (the orchestrator's monitor groups and
#: owner fallback).
TAG_SETTINGS = {"monitor_group": "monitor_group", "owner": "owner"}


#: Settings the orchestrator uses for its own provisioning, accepted and not imported.
_NOT_IMPORTED = {
    "custom_metrics",
    "objective_function_ids",
    "create_builtin_dashboard",
    "max_slicing_cardinality",
}


class _Strict(BaseModel):
    model_config: ClassVar[ConfigDict] = ConfigDict(extra="forbid")


class TableSettings(_Strict):
    """One ``monitored_tables`` entry (or ``profile_defaults``): settings, all optional.

    Values are checked by `TableArgs` once merged; this model rejects unknown keys.
    """

    profile_type: Any = None
    output_schema_name: Any = None
    timestamp_column: Any = None
    timeseries_timestamp_column: Any = None
    granularity: Any = None
    granularities: Any = None
    prediction_column: Any = None
    label_column: Any = None
    model_id_column: Any = None
    problem_type: Any = None
    baseline_table_name: Any = None
    slicing_exprs: Any = None
    schedule_cron: Any = None
    schedule_timezone: Any = None
    monitor_group: Any = None
    owner: Any = None
    runbook_url: Any = None
    lineage_url: Any = None
    drift_threshold: Any = None
    is_active: Any = None
    # the orchestrator's, accepted and not imported
    custom_metrics: Any = None
    objective_function_ids: Any = None

    def settings(self) -> dict[str, Any]:
        """The given settings under `TableArgs` names (granularity -> granularities, ...)."""
        given = self.model_dump(exclude_none=True, exclude=_NOT_IMPORTED)
        if "granularity" in given:
            single = given.pop("granularity")
            given.setdefault("granularities", [single])
        series = given.pop("timeseries_timestamp_column", None)
        kind = str(given.get("profile_type", "")).upper().replace("_", "")
        if series is not None and ("timestamp_column" not in given or kind == "TIMESERIES"):
            given["timestamp_column"] = series
        return given


class ProfileDefaults(TableSettings):
    """``profile_defaults``: the settings every table starts from."""

    create_builtin_dashboard: Any = None
    max_slicing_cardinality: Any = None


class Discovery(_Strict):
    """``discovery``: which tagged tables to enrol."""

    include_tags: dict[str, str | None] = Field(min_length=1)
    exclude_schemas: list[str] = Field(default_factory=list)

    @field_validator("include_tags", mode="before")
    @classmethod
    def _unquoted(cls, value: Any) -> Any:
        """``monitor_enabled: true`` unquoted means the tag value ``true``, as quoted."""
        if isinstance(value, dict):
            return {k: str(v).lower() if isinstance(v, bool) else v for k, v in value.items()}
        return value


class Alerting(_Strict):
    """``alerting``: groups' addresses and drift threshold (the alert schedule is not imported)."""

    enable_aggregated_alerts: Any = None
    drift_threshold: float = 0.2
    null_rate_threshold: Any = None
    row_count_min: Any = None
    distinct_count_min: Any = None
    alert_cron_schedule: Any = None
    alert_timezone: Any = None
    default_notifications: list[str] | None = None
    group_notifications: dict[str, list[str] | None] = Field(default_factory=dict)


class Policy(_Strict):
    """``policy``: the orchestrator's rules under its names, mapped onto `MonitoringPolicy`."""

    naming_patterns: list[str] = Field(default_factory=list)
    forbidden_patterns: list[str] = Field(default_factory=list)
    required_tags: list[str] = Field(default_factory=list)
    require_baseline: StrictBool = False
    require_slicing: StrictBool = False
    max_tables_per_config: int | None = None
    # this library's own names
    require_owner: StrictBool = False
    require_baseline_for_inference: StrictBool = False
    max_tables: int | None = None
    max_monitors: int | None = None

    def policy(self) -> MonitoringPolicy:
        """The equivalent `MonitoringPolicy` (an ``owner`` required tag requires an owner)."""
        settings: dict[str, Any] = {
            "naming_patterns": self.naming_patterns,
            "forbidden_patterns": self.forbidden_patterns,
            "require_owner": self.require_owner or "owner" in self.required_tags,
            "require_baseline_for_inference": self.require_baseline
            or self.require_baseline_for_inference,
            "require_slicing": self.require_slicing,
            "max_tables": self.max_tables
            if self.max_tables is not None
            else self.max_tables_per_config,
        }
        if self.max_monitors is not None:
            settings["max_monitors"] = self.max_monitors
        return validate(MonitoringPolicy, FUNCTION, **settings)


class Document(BaseModel):
    """The whole YAML document; top-level keys not listed here are the orchestrator's own."""

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="ignore")

    catalog_name: str | None = None
    warehouse_id: Any = None
    mode: Literal["full", "bulk_provision_only"] = "full"
    include_tagged_tables: StrictBool = False
    discovery: Discovery | None = None
    profile_defaults: ProfileDefaults = Field(default_factory=ProfileDefaults)
    monitored_tables: dict[str, TableSettings | None] = Field(default_factory=dict)
    alerting: Alerting = Field(default_factory=Alerting)
    policy: Policy | None = None


@dataclass
class Imported:
    """What a YAML document asks for, validated: nothing has been written yet."""

    tables: list[TableArgs] = field(default_factory=list)
    groups: list[GroupArgs] = field(default_factory=list)
    policy: MonitoringPolicy | None = None
    discovered: list[str] = field(default_factory=list)
    """Tables enrolled by tag discovery and not listed in ``monitored_tables``."""


# -- names -------------------------------------------------------------------------------


def _bad_name(setting: str, value: Any, allowed: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{FUNCTION}(): invalid {setting}={value!r} (allowed: {allowed})",
        argument=setting,
        value=value,
    )


def _parts(setting: str, value: Any, allowed: str) -> list[str]:
    if not isinstance(value, str):
        raise _bad_name(setting, value, allowed)
    parts = value.strip().split(".")
    if not all(p.strip() for p in parts):
        raise _bad_name(setting, value, allowed)
    return [p.strip() for p in parts]


def _need_catalog(setting: str, value: str, catalog: str | None) -> str:
    if not catalog:
        raise InvalidArgumentError(
            f"{FUNCTION}(): {setting}={value!r} is not fully qualified and the document "
            "has no catalog_name to resolve it against",
            argument=setting,
            value=value,
        )
    return catalog


def resolve_schema(value: Any, catalog: str | None, setting: str = "output_schema_name") -> str:
    """``schema`` -> ``catalog.schema``; ``catalog.schema`` is kept.

    Args:
        value: the name as written.
        catalog: the document's ``catalog_name``.
        setting: the setting's name, for the error.

    Returns:
        The two-part name.

    Raises:
        InvalidArgumentError: the name has another number of parts, or is bare with no catalog.
    """
    allowed = "schema (in catalog_name) or catalog.schema"
    parts = _parts(setting, value, allowed)
    if len(parts) == 1:
        return f"{_need_catalog(setting, value, catalog)}.{parts[0]}"
    if len(parts) == 2:
        return ".".join(parts)
    raise _bad_name(setting, value, allowed)


def resolve_table(
    value: Any,
    catalog: str | None,
    schema: str | None = None,
    setting: str = "monitored_tables",
) -> str:
    """``schema.table`` -> ``catalog.schema.table``; bare ``table`` only when ``schema`` is given.

    Args:
        value: the name as written.
        catalog: the document's ``catalog_name``.
        schema: the schema a bare name is in (None: bare names are refused).
        setting: the setting's name, for the error.

    Returns:
        The three-part name.

    Raises:
        InvalidArgumentError: the name has a number of parts not allowed, or needs a
            catalog_name the document lacks.
    """
    allowed = (
        "table, " if schema else ""
    ) + "schema.table (in catalog_name) or catalog.schema.table"
    parts = _parts(setting, value, allowed)
    if len(parts) == 1 and schema:
        return f"{schema}.{parts[0]}"
    if len(parts) == 2:
        return f"{_need_catalog(setting, value, catalog)}.{'.'.join(parts)}"
    if len(parts) == 3:
        return ".".join(parts)
    raise _bad_name(setting, value, allowed)


# -- the document ------------------------------------------------------------------------


def parse(text: str) -> Document:
    """Parse YAML text into a `Document`.

    Args:
        text: the YAML document.

    Returns:
        The parsed document.

    Raises:
        InvalidArgumentError: not YAML, not a mapping, or a key or value the format does not allow.
    """
    raw = documents.parse_yaml(text, FUNCTION)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidArgumentError(
            f"{FUNCTION}(): the document must be a mapping of settings, got {type(raw).__name__}",
            value=raw,
        )
    if raw.get("monitored_tables") is None:
        raw.pop("monitored_tables", None)  # `monitored_tables:` with nothing under it
    try:
        return Document.model_validate(raw)
    except ValidationError as error:
        raise _document_error(error) from None


def _document_error(error: ValidationError) -> InvalidArgumentError:
    problems, first = [], None
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        first = first or where
        if item["type"] == "extra_forbidden":
            parent = item["loc"][0]
            model = {"profile_defaults": ProfileDefaults, "monitored_tables": TableSettings}.get(
                str(parent),
                {"discovery": Discovery, "alerting": Alerting, "policy": Policy}.get(
                    str(parent), TableSettings
                ),
            )
            allowed = ", ".join(model.model_fields)
            problems.append(f"unexpected setting {where!r} (allowed: {allowed})")
        else:
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"invalid {where}={item.get('input')!r}: {message}")
    return InvalidArgumentError(f"{FUNCTION}(): " + "; ".join(problems), argument=first)


def read(
    path: str | Path,
    table_args: Callable[[str, str, dict[str, Any]], TableArgs],
    workspace: Callable[[], Any],
    reserved_groups: Collection[str] = (),
    parallelism: int = 8,
) -> Imported:
    """Read a YAML file into validated table and group arguments (tag discovery included).

    Args:
        path: the YAML file.
        table_args: validates one table: ``(function, table_name, settings) -> TableArgs``.
        workspace: returns the databricks-sdk ``WorkspaceClient`` (called only for discovery).
        reserved_groups: group names (lower case) no group may take.
        parallelism: how many tables' tags discovery reads at once.

    Returns:
        The tables (``monitored_tables`` in document order, then the discovered ones by
        name), the groups and the policy.

    Raises:
        InvalidArgumentError: a malformed document, name or setting; nothing was written.
    """
    return resolve(
        parse(documents.read_text(path, FUNCTION)),
        table_args,
        workspace,
        reserved_groups,
        parallelism,
    )


def resolve(
    doc: Document,
    table_args: Callable[[str, str, dict[str, Any]], TableArgs],
    workspace: Callable[[], Any],
    reserved_groups: Collection[str] = (),
    parallelism: int = 8,
) -> Imported:
    """Resolve names, discover tagged tables, merge settings and validate (see `read`)."""
    catalog = doc.catalog_name
    if catalog is not None:
        catalog = _parts("catalog_name", catalog, "one name, e.g. prod")
        if len(catalog) != 1:
            raise _bad_name("catalog_name", doc.catalog_name, "one name, e.g. prod")
        catalog = catalog[0]
    if doc.include_tagged_tables and doc.discovery is None:
        raise InvalidArgumentError(
            f"{FUNCTION}(): include_tagged_tables is true but there is no discovery section "
            "(allowed: discovery with include_tags and optional exclude_schemas)",
            argument="discovery",
        )
    if doc.include_tagged_tables and not catalog:
        raise InvalidArgumentError(
            f"{FUNCTION}(): tag discovery needs catalog_name, the catalog to scan",
            argument="catalog_name",
        )
    # keyed by the lower-case name (Unity Catalog names are case-insensitive)
    explicit: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, entry in doc.monitored_tables.items():
        name = resolve_table(key, catalog)
        if catalog and name.split(".")[0].lower() != catalog.lower():
            raise _bad_name("monitored_tables", key, f"a table in catalog_name {catalog!r}")
        if name.lower() in explicit:
            raise InvalidArgumentError(
                f"{FUNCTION}(): monitored_tables lists {name} twice (as {key!r})",
                argument="monitored_tables",
                value=key,
            )
        explicit[name.lower()] = (name, (entry or TableSettings()).settings())
    tagged: dict[str, discovery.TaggedTable] = {}
    if doc.include_tagged_tables and doc.discovery is not None and catalog:
        found = discovery.discover(
            workspace(),
            catalog,
            doc.discovery.include_tags,
            doc.discovery.exclude_schemas,
            parallelism,
        )
        tagged = {t.full_name.lower(): t for t in found}
    discovered = sorted(set(tagged) - set(explicit))
    defaults = doc.profile_defaults.settings()
    tables: list[TableArgs] = []
    for key in [*explicit, *discovered]:
        name, own = explicit[key] if key in explicit else (tagged[key].full_name, {})
        tags = tagged[key].tags if key in tagged else {}
        from_tags = {s: tags[t] for t, s in TAG_SETTINGS.items() if tags.get(t)}
        merged = {**defaults, **from_tags, **own}
        if "output_schema_name" in merged:
            merged["output_schema_name"] = resolve_schema(merged["output_schema_name"], catalog)
        if "baseline_table_name" in merged:
            merged["baseline_table_name"] = resolve_table(
                merged["baseline_table_name"],
                catalog,
                ".".join(name.split(".")[:2]),
                "baseline_table_name",
            )
        if key in discovered and doc.discovery is not None:
            merged["discovered_by"] = tagged[key].matched(doc.discovery.include_tags)
        try:
            tables.append(table_args(FUNCTION, name, merged))
        except InvalidArgumentError as error:
            detail = str(error).removeprefix(f"{FUNCTION}(): ")
            raise InvalidArgumentError(
                f"{FUNCTION}(): {name}: {detail}", argument=error.argument, value=error.value
            ) from None
    return Imported(
        tables=tables,
        groups=_groups(doc.alerting, tables, reserved_groups),
        policy=doc.policy.policy() if doc.policy is not None else None,
        discovered=[tagged[k].full_name for k in discovered],
    )


def _groups(
    alerting: Alerting, tables: list[TableArgs], reserved_groups: Collection[str]
) -> list[GroupArgs]:
    """Groups named in ``alerting``, and the default group when used or given addresses."""
    wanted: dict[str, list[str]] = {
        g: list(emails or []) for g, emails in alerting.group_notifications.items()
    }
    if alerting.default_notifications is not None or DEFAULT_GROUP in {
        t.monitor_group for t in tables
    }:
        wanted.setdefault(DEFAULT_GROUP, list(alerting.default_notifications or []))
    groups = []
    for group, emails in wanted.items():
        if isinstance(group, str) and group.lower() in reserved_groups:
            raise InvalidArgumentError(
                f"{FUNCTION}(): group {group!r} is reserved for the all-groups views",
                argument="group",
                value=group,
            )
        groups.append(
            validate(
                GroupArgs,
                FUNCTION,
                group=group,
                notification_emails=emails,
                drift_threshold=alerting.drift_threshold,
            )
        )
    return groups
