"""Databricks SQL alerts (``/api/2.0/alerts``, AlertsV2API) and notification destinations.

The rules follow the real service; each names its reference:

* SDK: databricks-sdk ``databricks/sdk/service/sql.py`` (``AlertsV2API``, ``AlertV2``,
  ``AlertV2Evaluation``, ``AlertV2Subscription``, ``AlertStatementParameter``,
  ``CronSchedule``, ``ComparisonOperator``, ``Aggregation``, ``AlertEvaluationState``,
  ``SchedulePauseStatus``, ``ListAlertsV2Response``) and
  ``databricks/sdk/service/settings.py`` (``NotificationDestinationsAPI``,
  ``NotificationDestination``, ``Config``, ``EmailConfig``, ``ListNotificationDestinationsResult``);
* REST: https://docs.databricks.com/api/workspace/alertsv2 and
  https://docs.databricks.com/api/workspace/notificationdestinations;
* quartz syntax: http://www.quartz-scheduler.org/documentation/quartz-2.1.7/tutorials/tutorial-lesson-06.html
  (the reference ``CronSchedule.quartz_cron_schedule`` names).

Rules marked "assumed" are this emulator's reading where the references say nothing.
Alerts live in ``self.alerts`` by id, destinations in ``self.destinations`` by id; SQL
warehouses the alert may name are ``self.sql_warehouses`` (one is there from the start,
``DEFAULT_WAREHOUSE_ID``).
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tests.emulator.common import JSON, ApiError, Route

DEFAULT_WAREHOUSE_ID = "abcdef0123456789"
#: Items per page when a list request names no ``page_size``: small, so that clients must
#: follow ``next_page_token`` (assumed; the real default is larger, paging works the same).
DEFAULT_PAGE_SIZE = 2
MAX_PAGE_SIZE = 1000
# SDK sql.py enums.
COMPARISON_OPERATORS = frozenset(
    {
        "EQUAL",
        "GREATER_THAN",
        "GREATER_THAN_OR_EQUAL",
        "IS_NOT_NULL",
        "IS_NULL",
        "LESS_THAN",
        "LESS_THAN_OR_EQUAL",
        "NOT_EQUAL",
    }
)
AGGREGATIONS = frozenset(
    {"AVG", "COUNT", "COUNT_DISTINCT", "MAX", "MEDIAN", "MIN", "STDDEV", "SUM"}
)
EVALUATION_STATES = frozenset({"ERROR", "OK", "TRIGGERED", "UNKNOWN"})
PAUSE_STATUSES = frozenset({"PAUSED", "UNPAUSED"})
TEMPLATE_FORMATS = frozenset({"HTML", "MARKDOWN"})
#: SDK AlertV2: output-only fields, ignored in a request body.
ALERT_READ_ONLY = frozenset(
    {"id", "create_time", "update_time", "lifecycle_state", "owner_user_name", "effective_run_as"}
)
#: SDK AlertV2Evaluation: output-only.
EVALUATION_READ_ONLY = frozenset({"state", "last_evaluated_at"})
#: update_mask paths the update accepts: fields of AlertV2 and their sub-fields (SDK
#: update_alert: "The field path is relative to the resource object, using a dot"; only
#: whole collections for repeated fields); parent_path "can only be set on create".
ALERT_UPDATABLE = {
    "display_name": (),
    "query_text": (),
    "warehouse_id": (),
    "parameters": (),
    "custom_summary": (),
    "custom_description": (),
    "custom_template_format": (),
    "run_as": ("user_name", "service_principal_name"),
    "run_as_user_name": (),
    "evaluation": (
        "source",
        "source.name",
        "source.aggregation",
        "source.display",
        "comparison_operator",
        "threshold",
        "empty_result_state",
        "notification",
        "notification.notify_on_ok",
        "notification.retrigger_seconds",
        "notification.subscriptions",
    ),
    "schedule": ("quartz_cron_schedule", "timezone_id", "pause_status"),
}
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_PARAM_REF = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


def _bad(message: str) -> ApiError:
    # The SDK maps 400 INVALID_PARAMETER_VALUE to InvalidParameterValue (a BadRequest).
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def _not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"{what} {ident} does not exist.")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def quartz_error(expression: Any) -> str | None:
    """Why a quartz cron expression is malformed, or None (quartz tutorial lesson 6)."""
    if not isinstance(expression, str) or not expression.strip():
        return "quartz_cron_schedule is required"
    fields = expression.split()
    # Quartz: 6 fields (seconds .. day-of-week) and an optional year.
    if len(fields) not in (6, 7):
        return f"Invalid quartz_cron_schedule {expression!r}: expected 6 or 7 fields"
    ranges = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2099)]
    names = r"JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT"
    for i, (text, (low, high)) in enumerate(zip(fields, ranges[: len(fields)], strict=True)):
        if text == "?" and i in (3, 5):
            continue
        for item in text.split(","):
            m = re.fullmatch(rf"(\*|(\d+|{names})(-(\d+|{names}))?|\d+[LW#]\d*|L|LW)(/\d+)?", item)
            if not m:
                return f"Invalid quartz_cron_schedule {expression!r}: bad field {text!r}"
            for number in re.findall(r"\d+", item.split("/")[0].split("#")[0]):
                if not low <= int(number) <= high:
                    return f"Invalid quartz_cron_schedule {expression!r}: {number} out of range"
    # Quartz: "?" is allowed in exactly one of day-of-month and day-of-week.
    if (fields[3] == "?") == (fields[5] == "?"):
        return (
            f"Invalid quartz_cron_schedule {expression!r}: support for specifying both a "
            "day-of-week AND a day-of-month parameter is not implemented"
        )
    return None


class AlertService:
    """Alert and notification-destination endpoints; state lives on the emulator."""

    def _init_alerts(self) -> None:
        """Called once from the emulator's constructor: create this service's state."""
        self.alerts: dict[str, JSON] = {}
        """Alerts (AlertV2 JSON) by id, trashed ones with lifecycle_state DELETED."""
        self.destinations: dict[str, JSON] = {}
        """Notification destinations (NotificationDestination JSON) by id."""
        self.sql_warehouses: set[str] = {DEFAULT_WAREHOUSE_ID}
        """Ids of the SQL warehouses in the workspace."""

    def _alert_routes(self) -> list[Route]:
        al = "/api/2\\.0/alerts"
        nd = "/api/2\\.0/notification-destinations"
        return [
            ("GET", "/api/2\\.0/sql/warehouses/(?P<wid>[^/]+)", self._wh_get),
            ("GET", al, self._al_list),
            ("POST", al, self._al_create),
            ("GET", al + "/(?P<aid>[^/]+)", self._al_get),
            ("PATCH", al + "/(?P<aid>[^/]+)", self._al_update),
            ("DELETE", al + "/(?P<aid>[^/]+)", self._al_trash),
            ("GET", nd, self._nd_list),
            ("POST", nd, self._nd_create),
            ("GET", nd + "/(?P<did>[^/]+)", self._nd_get),
            ("PATCH", nd + "/(?P<did>[^/]+)", self._nd_update),
            ("DELETE", nd + "/(?P<did>[^/]+)", self._nd_delete),
        ]

    # -- SQL warehouses ------------------------------------------------------------------------

    def _wh_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK WarehousesAPI.get: GET /api/2.0/sql/warehouses/{id}; unknown ids are 404.
        wid = params["wid"]
        if wid not in self.sql_warehouses:
            raise _not_found("SQL warehouse", wid)
        return {"id": wid, "name": f"warehouse {wid}", "state": "RUNNING"}

    # -- paging ------------------------------------------------------------------------------

    @staticmethod
    def _page(rows: list[JSON], query: dict[str, str], key: str) -> JSON:
        # SDK list_alerts / notification_destinations.list: page_size and page_token in,
        # items and next_page_token out; the SDK follows next_page_token until it is absent.
        try:
            size = int(query.get("page_size") or DEFAULT_PAGE_SIZE)
            start = int(query["page_token"]) if query.get("page_token") else 0
        except ValueError:
            raise _bad("page_size and page_token must be integers") from None
        if not 0 < size <= MAX_PAGE_SIZE or start < 0:
            raise _bad(f"page_size must be in 1..{MAX_PAGE_SIZE}: {size}")  # assumed bound
        out: JSON = {}
        if rows[start : start + size]:
            out[key] = rows[start : start + size]
        if start + size < len(rows):
            out["next_page_token"] = str(start + size)
        return out

    # -- alerts ------------------------------------------------------------------------------

    def _al_check(self, alert: JSON) -> None:
        """The rules every stored alert satisfies (after a create or an update)."""
        # SDK AlertV2: display_name, query_text, warehouse_id, evaluation, schedule required.
        for name in ("display_name", "query_text", "warehouse_id"):
            if not isinstance(alert.get(name), str) or not alert[name].strip():
                raise _bad(f"{name} is required")
        if alert["warehouse_id"] not in self.sql_warehouses:
            # assumed: the service refuses a warehouse that does not exist.
            raise _not_found("SQL warehouse", alert["warehouse_id"])
        evaluation = alert.get("evaluation")
        if not isinstance(evaluation, dict):
            raise _bad("evaluation is required")
        source = evaluation.get("source")
        # SDK AlertV2Evaluation: source (AlertV2OperandColumn with a required name) and
        # comparison_operator are required.
        if not isinstance(source, dict) or not source.get("name"):
            raise _bad("evaluation.source.name is required")
        if source.get("aggregation") is not None and source["aggregation"] not in AGGREGATIONS:
            raise _bad(
                f"evaluation.source.aggregation {source['aggregation']!r} is not one of {sorted(AGGREGATIONS)}"
            )
        operator = evaluation.get("comparison_operator")
        if operator not in COMPARISON_OPERATORS:
            raise _bad(
                f"evaluation.comparison_operator {operator!r} is not one of {sorted(COMPARISON_OPERATORS)}"
            )
        if operator not in ("IS_NULL", "IS_NOT_NULL") and not evaluation.get("threshold"):
            raise _bad(f"evaluation.threshold is required with {operator}")  # assumed
        state = evaluation.get("empty_result_state")
        if state is not None and state not in EVALUATION_STATES:
            raise _bad(
                f"evaluation.empty_result_state {state!r} is not one of {sorted(EVALUATION_STATES)}"
            )
        for sub in (evaluation.get("notification") or {}).get("subscriptions") or []:
            # SDK AlertV2Subscription: destination_id or user_email; one of them (assumed).
            given = [k for k in ("destination_id", "user_email") if sub.get(k)]
            if len(given) != 1:
                raise _bad("each subscription has exactly one of destination_id and user_email")
            if "user_email" in given and not _EMAIL.match(sub["user_email"]):
                raise _bad(f"user_email {sub['user_email']!r} is not an e-mail address")
            if "destination_id" in given and sub["destination_id"] not in self.destinations:
                # assumed: a subscription names an existing notification destination.
                raise _not_found("Notification destination", sub["destination_id"])
        schedule = alert.get("schedule")
        if not isinstance(schedule, dict):
            raise _bad("schedule is required")
        problem = quartz_error(schedule.get("quartz_cron_schedule"))
        if problem:
            raise _bad(problem)
        # SDK CronSchedule.timezone_id: a Java time zone id (required).
        try:
            ZoneInfo(str(schedule.get("timezone_id") or ""))
        except (ZoneInfoNotFoundError, ValueError):
            raise _bad(f"Invalid timezone_id {schedule.get('timezone_id')!r}") from None
        pause = schedule.get("pause_status")
        if pause is not None and pause not in PAUSE_STATUSES:
            raise _bad(f"schedule.pause_status {pause!r} is not one of {sorted(PAUSE_STATUSES)}")
        fmt = alert.get("custom_template_format")
        if fmt is not None and fmt not in TEMPLATE_FORMATS:
            raise _bad(f"custom_template_format {fmt!r} is not one of {sorted(TEMPLATE_FORMATS)}")
        self._al_check_parameters(alert)

    @staticmethod
    def _al_check_parameters(alert: JSON) -> None:
        # SDK AlertStatementParameter / AlertV2.parameters: unique non-empty names, referenced
        # as :name; scalar types only (no ARRAY, MAP, STRUCT).
        declared: list[str] = []
        for p in alert.get("parameters") or []:
            name = p.get("name")
            if not isinstance(name, str) or not name:
                raise _bad("parameters[].name is required")
            if name in declared:
                raise _bad(f"parameter {name!r} is declared twice")
            kind = str(p.get("type") or "STRING").upper()
            if kind.split("<")[0].split("(")[0].strip() in ("ARRAY", "MAP", "STRUCT"):
                raise _bad(f"parameter {name!r}: complex type {kind} is not supported")
            declared.append(name)
        text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", alert["query_text"])  # not inside literals
        referenced = set(_PARAM_REF.findall(text))
        # assumed: a marker without a parameter, or a parameter without a marker, is refused.
        if referenced - set(declared):
            raise _bad(
                f"query_text references undeclared parameters {sorted(referenced - set(declared))}"
            )
        if set(declared) - referenced:
            raise _bad(
                f"parameters {sorted(set(declared) - referenced)} are not used in query_text"
            )

    def _al_folder(self, parent: Any) -> str:
        # SDK AlertV2.parent_path: "The workspace path of the folder containing the alert";
        # the folder must exist (assumed, as for dashboards: "Path (...) doesn't exist.").
        if parent is None:
            parent = f"/Users/{self.user_name}"
        if not isinstance(parent, str) or not parent.startswith("/"):
            raise _bad(f"parent_path must be an absolute path: {parent!r}")
        parent = parent.rstrip("/") or "/"
        if not self._is_dir(parent):
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Path ({parent}) doesn't exist.")
        return parent

    def _al_name_free(self, parent: str, name: str, alert_id: str | None = None) -> None:
        # assumed: alerts are workspace objects, so two live alerts of one name cannot share
        # a folder (as for dashboards: "Node named '...' already exists").
        for other in self.alerts.values():
            if (
                other["lifecycle_state"] == "ACTIVE"
                and other["id"] != alert_id
                and other.get("parent_path") == parent
                and other["display_name"] == name
            ):
                raise ApiError(
                    409, "RESOURCE_ALREADY_EXISTS", f"Node named '{name}' already exists"
                )

    @staticmethod
    def _al_clean(body: JSON) -> JSON:
        out = {k: copy.deepcopy(v) for k, v in body.items() if k not in ALERT_READ_ONLY}
        if isinstance(out.get("evaluation"), dict):
            for k in EVALUATION_READ_ONLY:
                out["evaluation"].pop(k, None)
        return out

    def _al_create(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK AlertsV2API.create_alert: POST /api/2.0/alerts with the AlertV2 as the body.
        if not isinstance(body, dict):
            raise _bad("request body is required")
        alert = self._al_clean(body)
        alert["parent_path"] = self._al_folder(alert.get("parent_path"))
        self._al_check(alert)
        self._al_name_free(alert["parent_path"], alert["display_name"])
        aid = uuid.uuid4().hex[:16]
        now = _now()
        alert.update(
            id=aid,
            lifecycle_state="ACTIVE",
            owner_user_name=self.user_name,
            create_time=now,
            update_time=now,
        )
        alert["evaluation"]["state"] = "UNKNOWN"
        self.alerts[aid] = alert
        return copy.deepcopy(alert)

    def _al_alert(self, aid: str, *, live: bool = False) -> JSON:
        alert = self.alerts.get(aid)
        if alert is None or (live and alert["lifecycle_state"] != "ACTIVE"):
            raise _not_found("Alert", aid)
        return alert

    def _al_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return copy.deepcopy(self._al_alert(params["aid"]))

    def _al_list(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK list_alerts: "accessible to the user, ordered by creation time"; trash_alert:
        # "Trashed alerts immediately disappear from list views".
        rows = [
            copy.deepcopy(a)
            for a in sorted(self.alerts.values(), key=lambda a: a["create_time"])
            if a["lifecycle_state"] == "ACTIVE"
        ]
        return self._page(rows, query, "alerts")

    def _al_update(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK update_alert: PATCH with update_mask, comma-separated field paths (no spaces),
        # relative to the alert; "*" replaces everything.
        alert = self._al_alert(params["aid"], live=True)
        mask = query.get("update_mask")
        if not mask:
            raise _bad("update_mask is required")
        body = self._al_clean(body if isinstance(body, dict) else {})
        paths = ["*"] if mask == "*" else mask.split(",")
        for path in paths:
            head, _, rest = path.partition(".")
            if path == "*":
                continue
            if (
                path != path.strip()
                or head not in ALERT_UPDATABLE
                or (rest and rest not in ALERT_UPDATABLE[head])
            ):
                if head == "parent_path":
                    raise _bad("parent_path can only be set on create")
                raise _bad(f"Invalid update_mask path {path!r}")
        updated = copy.deepcopy(alert)
        if paths == ["*"]:
            body.pop("parent_path", None)
            keep = {k: updated[k] for k in (*ALERT_READ_ONLY, "parent_path") if k in updated}
            updated = {**body, **keep}
        else:
            for path in paths:
                keys = path.split(".")
                src: Any = body
                dst: Any = updated
                for key in keys[:-1]:
                    src = src.get(key) if isinstance(src, dict) else None
                    dst = dst.setdefault(key, {})
                if isinstance(src, dict) and keys[-1] in src:
                    dst[keys[-1]] = copy.deepcopy(src[keys[-1]])
                else:
                    dst.pop(keys[-1], None)
        self._al_check(updated)
        self._al_name_free(updated["parent_path"], updated["display_name"], alert["id"])
        updated["update_time"] = _now()
        updated.setdefault("evaluation", {})["state"] = alert["evaluation"].get("state", "UNKNOWN")
        self.alerts[alert["id"]] = updated
        return copy.deepcopy(updated)

    def _al_trash(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK trash_alert: moves the alert to the trash (purge=true deletes it for good).
        alert = self._al_alert(params["aid"], live=True)
        if str(query.get("purge", "")).lower() == "true":
            del self.alerts[alert["id"]]
        else:
            alert["lifecycle_state"] = "DELETED"
            alert["update_time"] = _now()
        return {}

    # -- notification destinations -------------------------------------------------------------

    @staticmethod
    def _nd_config(config: Any) -> tuple[str, JSON]:
        # SDK settings.Config: "exactly one of the nested configs"; this emulator knows e-mail
        # only (EmailConfig.addresses); others are refused (assumed).
        if not isinstance(config, dict) or len([k for k, v in config.items() if v]) != 1:
            raise _bad("config must hold exactly one destination configuration")
        if not config.get("email"):
            raise _bad(
                f"unsupported destination configuration {sorted(config)} (emulator: email only)"
            )
        addresses = config["email"].get("addresses") or []
        if not addresses:
            raise _bad("email.addresses must not be empty")  # assumed
        for address in addresses:
            if not isinstance(address, str) or not _EMAIL.match(address):
                raise _bad(f"{address!r} is not an e-mail address")
        return "EMAIL", {"email": {"addresses": list(addresses)}}

    def _nd_create(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK NotificationDestinationsAPI.create: POST {config, display_name}.
        body = body if isinstance(body, dict) else {}
        name = body.get("display_name")
        if not isinstance(name, str) or not name.strip():
            raise _bad("display_name is required")  # assumed
        kind, config = self._nd_config(body.get("config"))
        did = str(uuid.uuid4())
        self.destinations[did] = {
            "id": did,
            "display_name": name,
            "destination_type": kind,
            "config": config,
        }
        return copy.deepcopy(self.destinations[did])

    def _nd_one(self, did: str) -> JSON:
        if did not in self.destinations:
            raise _not_found("Notification destination", did)
        return self.destinations[did]

    def _nd_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return copy.deepcopy(self._nd_one(params["did"]))

    def _nd_list(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK ListNotificationDestinationsResult: id, display_name and destination_type only.
        rows = [
            {k: d[k] for k in ("id", "display_name", "destination_type")}
            for d in self.destinations.values()
        ]
        return self._page(rows, query, "results")

    def _nd_update(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK NotificationDestinationsAPI.update: PATCH {config, display_name}; the type
        # "can not be changed once set".
        destination = self._nd_one(params["did"])
        body = body if isinstance(body, dict) else {}
        if "config" in body:
            kind, config = self._nd_config(body["config"])
            if kind != destination["destination_type"]:
                raise _bad("the destination type cannot be changed")
            destination["config"] = config
        if body.get("display_name"):
            destination["display_name"] = body["display_name"]
        return copy.deepcopy(destination)

    def _nd_delete(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._nd_one(params["did"])
        del self.destinations[params["did"]]
        return {}
