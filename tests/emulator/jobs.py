"""Databricks Workflows jobs (``/api/2.2/jobs/...``, JobsAPI): create, get, list, reset, update, delete.

The rules follow the real service; each names its reference:

* SDK: databricks-sdk ``databricks/sdk/service/jobs.py`` (``JobsAPI`` paths and query
  parameters, ``JobSettings``, ``Task``, ``RunIf``, ``ConditionTaskOp``, ``Source``);
* REST: https://docs.databricks.com/api/workspace/jobs (Jobs API 2.2: create, get with
  arrays paged by 100 and ``next_page_token``, list with ``limit`` 1..100 default 20,
  ``name`` an exact case-insensitive filter, ``expand_tasks``; reset replaces every setting);
* https://docs.databricks.com/jobs/run-if.html (the ``run_if`` values; ``outcome`` on a
  dependency of an If/else condition task);
* https://docs.databricks.com/jobs/dynamic-value-references.html (``{{job.run_id}}``,
  ``{{task.run_id}}``, ``{{job.parameters.<name>}}``, ``{{tasks.<task>.values.<name>}}``...;
  "an invalid reference that belongs to a known namespace is not allowed", a reference
  outside the known namespaces stays literal);
* terraform-provider-databricks ``jobs/resource_job.go`` (task_key ``^[\\w\\-\\_]+$`` up to
  100 characters, ``job_cluster_key`` references, one task type per task);
* https://docs.databricks.com/jobs/limits (1000 tasks per job, 25 tags);
* databricks/cli pull requests 4363 and 4990, terraform-provider-databricks pull request
  3000 (``jobs/get`` and ``jobs/list`` show each task's ``depends_on`` sorted by
  ``task_key``, whatever order the client sent).

Assumptions (marked ``assumption`` below) where no reference says: a ``tasks.<key>``
reference must name an upstream task; condition and run-job tasks take no compute;
``run_job_task.job_id`` is not checked against existing jobs; the text of refusals is
this emulator's. What the service fills in on create is stored the way ``jobs/get``
shows it (``format`` MULTI_TASK, ``timeout_seconds`` 0, empty notification blocks,
``run_as``, a task's ``run_if`` ALL_SUCCESS when it has dependencies, ``source``
WORKSPACE on a notebook task, ``depends_on`` sorted by ``task_key``), so clients must
normalise before they compare. ``jobs/list`` with ``name`` matches the whole name without
regard to case, so ``Daily`` also finds ``DAILY``: a client must pick its own job by the
exact name.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from tests.emulator.common import JSON, ApiError, Route

TASK_KEY = re.compile(r"^[\w\-]+$")  # terraform jobs/resource_job.go
TASK_KEY_MAX = 100  # REST jobs/create: task_key "maximum length 100"
MAX_TASKS = 1000  # docs jobs/limits
MAX_TAGS = 25  # SDK JobSettings.tags: "A maximum of 25 tags can be added to the job"
PAGE = 100  # REST jobs/get: arrays paged by 100
LIST_DEFAULT, LIST_MAX = 20, 100  # SDK JobsAPI.list: limit "greater than 0 and <= 100", default 20
RUN_IF = frozenset(
    {
        "ALL_SUCCESS",
        "ALL_DONE",
        "NONE_FAILED",
        "AT_LEAST_ONE_SUCCESS",
        "AT_LEAST_ONE_FAILED",
        "ALL_FAILED",
    }
)  # SDK RunIf
CONDITION_OPS = frozenset(
    {
        "EQUAL_TO",
        "GREATER_THAN",
        "GREATER_THAN_OR_EQUAL",
        "LESS_THAN",
        "LESS_THAN_OR_EQUAL",
        "NOT_EQUAL",
    }
)  # SDK ConditionTaskOp
TASK_TYPES = (  # SDK Task: the *_task fields, exactly one per task
    "ai_function_task",
    "ai_runtime_task",
    "alert_task",
    "clean_rooms_notebook_task",
    "condition_task",
    "dashboard_task",
    "dbt_cloud_task",
    "dbt_platform_task",
    "dbt_task",
    "for_each_task",
    "gen_ai_compute_task",
    "notebook_task",
    "pipeline_task",
    "power_bi_task",
    "python_operator_task",
    "python_wheel_task",
    "run_job_task",
    "spark_jar_task",
    "spark_python_task",
    "spark_submit_task",
    "sql_task",
)
NO_COMPUTE = ("condition_task", "run_job_task")  # assumption: they run on no cluster
#: Dynamic value references (docs dynamic-value-references): fixed names, then patterns.
REFERENCES = frozenset(
    {
        "job.id",
        "job.name",
        "job.run_id",
        "job.repair_count",
        "job.trigger.type",
        "job.trigger.file_arrival.location",
        "task.name",
        "task.run_id",
        "task.execution_count",
        "task.notebook_path",
        "workspace.id",
        "workspace.url",
    }
)
START_TIME = re.compile(
    r"^job\.start_time\.(iso_date|iso_datetime|is_weekday|is_business_day|timestamp_ms|"
    r"year|month|day|hour|minute|second|timezone)$"
)
_NAME = r"(`[^`]+`|\w+)"
JOB_PARAMETER = re.compile(rf"^job\.parameters\.{_NAME}$")
TASK_REFERENCE = re.compile(
    rf"^tasks\.{_NAME}\.(run_id|result_state|error_code|execution_count|notebook_path|values\.{_NAME})$"
)
KNOWN_NAMESPACES = ("job.", "task.", "tasks.", "workspace.")
REFERENCE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def _unquote(name: str) -> str:
    return name[1:-1] if name.startswith("`") else name


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _sort_depends_on(task: JSON) -> None:
    """Order a task's ``depends_on`` (and its for-each task's) by ``task_key``, as the
    service stores and shows it."""
    for holder in (task, (task.get("for_each_task") or {}).get("task") or {}):
        if holder.get("depends_on"):
            holder["depends_on"] = sorted(holder["depends_on"], key=lambda d: d["task_key"])


class JobsService:
    """Jobs endpoints; state lives on the emulator."""

    def _init_jobs(self) -> None:
        """Called once from the emulator's constructor: create this service's state."""
        self.jobs: dict[int, JSON] = {}
        """Every job as ``jobs/get`` shows it (settings with the service's defaults), by id."""
        self._next_job_id = 1001

    def _jobs_routes(self) -> list[Route]:
        j = "/api/2\\.2/jobs"
        return [
            ("POST", j + "/create", self._job_create),
            ("GET", j + "/get", self._job_get),
            ("GET", j + "/list", self._job_list),
            ("POST", j + "/reset", self._job_reset),
            ("POST", j + "/update", self._job_update),
            ("POST", j + "/delete", self._job_delete),
        ]

    # -- validation ------------------------------------------------------------------------

    def _check_settings(self, settings: Any) -> None:
        if not isinstance(settings, dict):
            raise _bad("job settings must be an object")
        tasks = settings.get("tasks") or []
        if len(tasks) > MAX_TASKS:
            raise _bad(f"A job can have at most {MAX_TASKS} tasks, got {len(tasks)}.")
        tags = settings.get("tags") or {}
        if len(tags) > MAX_TAGS:
            raise _bad(f"A job can have at most {MAX_TAGS} tags, got {len(tags)}.")
        mcr = settings.get("max_concurrent_runs")
        if mcr is not None and (not isinstance(mcr, int) or not 0 <= mcr <= 1000):
            # REST jobs/create: max_concurrent_runs "cannot exceed 1000"
            raise _bad(f"max_concurrent_runs must be an integer 0..1000, got {mcr!r}")
        queue = settings.get("queue")
        if queue is not None and not isinstance(queue.get("enabled"), bool):
            raise _bad("queue.enabled is required and must be a boolean")  # SDK QueueSettings
        clusters = settings.get("job_clusters") or []
        cluster_keys = [c.get("job_cluster_key") for c in clusters]
        if len(set(cluster_keys)) != len(cluster_keys) or not all(cluster_keys):
            raise _bad(f"job_cluster_key values must be given and unique: {cluster_keys}")
        for c in clusters:
            if not isinstance(c.get("new_cluster"), dict):
                raise _bad(f"job cluster {c.get('job_cluster_key')!r} needs a new_cluster")
        names = [p.get("name") for p in settings.get("parameters") or []]
        if len(set(names)) != len(names) or not all(names):
            # REST jobs/create: JobParameterDefinition name "unique"; default is required
            raise _bad(f"job parameter names must be given and unique: {names}")
        for p in settings.get("parameters") or []:
            if "default" not in p:
                raise _bad(f"job parameter {p['name']!r} needs a default")
        keys = [t.get("task_key") for t in tasks]
        for key in keys:
            if not isinstance(key, str) or not TASK_KEY.match(key) or len(key) > TASK_KEY_MAX:
                raise _bad(
                    f"task_key {key!r} must match {TASK_KEY.pattern} and be at most "
                    f"{TASK_KEY_MAX} characters"
                )
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        if duplicated:
            raise _bad(f"Task keys must be unique: {', '.join(duplicated)}")
        by_key = {t["task_key"]: t for t in tasks}
        for task in tasks:
            self._check_task(task, by_key, set(cluster_keys))
        self._check_acyclic(by_key)
        declared = {str(n) for n in names}
        for task in tasks:
            for text in _strings({k: v for k, v in task.items() if k != "depends_on"}):
                self._check_references(text, task["task_key"], declared, by_key)

    def _check_task(self, task: JSON, by_key: dict[str, JSON], cluster_keys: set[str]) -> None:
        key = task["task_key"]
        kinds = [k for k in TASK_TYPES if k in task]
        if len(kinds) != 1:
            raise _bad(f"task {key!r} must have exactly one task type, has {kinds or 'none'}")
        kind = kinds[0]
        for dep in task.get("depends_on") or []:
            upstream = dep.get("task_key")
            if upstream not in by_key or upstream == key:
                raise _bad(f"task {key!r} depends on unknown task {upstream!r}")
            # docs run-if: an outcome only after an If/else condition task, "true" or "false"
            if "outcome" in dep and (
                "condition_task" not in by_key[upstream] or dep["outcome"] not in ("true", "false")
            ):
                raise _bad(
                    f"task {key!r}: outcome {dep['outcome']!r} needs a condition task "
                    "upstream and 'true' or 'false'"
                )
        run_if = task.get("run_if")
        if run_if is not None and run_if not in RUN_IF:
            raise _bad(f"task {key!r}: run_if {run_if!r} is not one of {sorted(RUN_IF)}")
        compute = [
            k for k in ("existing_cluster_id", "job_cluster_key", "new_cluster") if task.get(k)
        ]
        if len(compute) > 1:
            raise _bad(
                f"task {key!r}: give one of existing_cluster_id, job_cluster_key, new_cluster"
            )
        if compute and kind in NO_COMPUTE:
            raise _bad(f"task {key!r}: a {kind} takes no cluster")  # assumption
        if task.get("job_cluster_key") and task["job_cluster_key"] not in cluster_keys:
            raise _bad(f"task {key!r}: job_cluster_key {task['job_cluster_key']!r} is not defined")
        body = task[kind]
        if kind == "notebook_task":
            path, source = body.get("notebook_path"), body.get("source", "WORKSPACE")
            if source not in ("WORKSPACE", "GIT"):
                raise _bad(f"task {key!r}: source {source!r} is not WORKSPACE or GIT")
            if not isinstance(path, str) or not path:
                raise _bad(f"task {key!r}: notebook_path is required")
            if source == "WORKSPACE" and not path.startswith("/"):
                # REST jobs/create NotebookTask: "must be absolute and begin with a slash"
                raise _bad(f"task {key!r}: notebook_path {path!r} must be absolute")
            params = body.get("base_parameters") or {}
            if not all(isinstance(v, str) for v in params.values()):
                raise _bad(f"task {key!r}: base_parameters values must be strings")
        elif kind == "run_job_task":
            if not isinstance(body.get("job_id"), int):
                raise _bad(f"task {key!r}: run_job_task.job_id must be an integer")
        elif kind == "condition_task":
            if body.get("op") not in CONDITION_OPS:
                raise _bad(
                    f"task {key!r}: condition op {body.get('op')!r} not in {sorted(CONDITION_OPS)}"
                )
            if not isinstance(body.get("left"), str) or not isinstance(body.get("right"), str):
                raise _bad(f"task {key!r}: condition left and right are required strings")

    @staticmethod
    def _check_acyclic(by_key: dict[str, JSON]) -> None:
        state: dict[str, int] = {}

        def visit(key: str, path: list[str]) -> None:
            if state.get(key) == 2:
                return
            if state.get(key) == 1:
                raise _bad("The task dependencies form a cycle: " + " -> ".join([*path, key]))
            state[key] = 1
            for dep in by_key[key].get("depends_on") or []:
                visit(dep["task_key"], [*path, key])
            state[key] = 2

        for key in by_key:
            visit(key, [])

    @staticmethod
    def _upstream(key: str, by_key: dict[str, JSON]) -> set[str]:
        seen: set[str] = set()
        todo = [d["task_key"] for d in by_key[key].get("depends_on") or []]
        while todo:
            k = todo.pop()
            if k not in seen:
                seen.add(k)
                todo += [d["task_key"] for d in by_key[k].get("depends_on") or []]
        return seen

    def _check_references(
        self, text: str, key: str, declared: set[str], by_key: dict[str, JSON]
    ) -> None:
        for match in REFERENCE.finditer(text):
            ref = match.group(1)
            if not ref.startswith(KNOWN_NAMESPACES):
                continue  # docs: outside the known namespaces a reference stays literal
            if ref in REFERENCES or START_TIME.match(ref):
                continue
            if m := JOB_PARAMETER.match(ref):
                if _unquote(m.group(1)) not in declared:
                    raise _bad(f"task {key!r}: {{{{{ref}}}}} names an undeclared job parameter")
                continue
            if m := TASK_REFERENCE.match(ref):
                other = _unquote(m.group(1))
                if other not in by_key or other not in self._upstream(key, by_key):
                    # assumption: only an upstream task's values and state are known
                    raise _bad(f"task {key!r}: {{{{{ref}}}}} names a task that is not upstream")
                continue
            raise _bad(f"task {key!r}: invalid dynamic value reference {{{{{ref}}}}}")

    # -- storage ---------------------------------------------------------------------------

    def _with_defaults(self, settings: JSON) -> JSON:
        out = copy.deepcopy(settings)
        out.setdefault("name", "Untitled")
        out.setdefault("format", "MULTI_TASK")
        out.setdefault("timeout_seconds", 0)
        out.setdefault("max_concurrent_runs", 1)
        out.setdefault("email_notifications", {})
        out.setdefault("webhook_notifications", {})
        out.setdefault("run_as", {"user_name": self.user_name})
        for task in out.get("tasks") or []:
            _sort_depends_on(task)
            task.setdefault("timeout_seconds", 0)
            task.setdefault("email_notifications", {})
            if task.get("depends_on"):
                task.setdefault("run_if", "ALL_SUCCESS")
            if "notebook_task" in task:
                task["notebook_task"].setdefault("source", "WORKSPACE")
        return out

    def _job(self, job_id: Any) -> JSON:
        try:
            number = int(job_id)
        except (TypeError, ValueError):
            raise _bad(f"job_id must be an integer, got {job_id!r}") from None
        if number not in self.jobs:
            # The service answers 400 INVALID_PARAMETER_VALUE "Job <id> does not exist."
            raise _bad(f"Job {number} does not exist.")
        return self.jobs[number]

    # -- handlers --------------------------------------------------------------------------

    def _job_create(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        settings = {k: v for k, v in (body or {}).items() if k != "access_control_list"}
        self._check_settings(settings)
        job_id = self._next_job_id
        self._next_job_id += 1
        self.jobs[job_id] = {
            "job_id": job_id,
            "creator_user_name": self.user_name,
            "run_as_user_name": self.user_name,
            "created_time": int(time.time() * 1000),
            "settings": self._with_defaults(settings),
        }
        return {"job_id": job_id}

    def _job_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        job = copy.deepcopy(self._job(query.get("job_id")))
        page = int(query.get("page_token") or 0)
        more = False
        for name in ("tasks", "job_clusters", "environments", "parameters"):
            items = job["settings"].get(name)
            if items is None:
                continue
            job["settings"][name] = items[page * PAGE : (page + 1) * PAGE]
            more = more or len(items) > (page + 1) * PAGE
        if more:
            job["next_page_token"] = str(page + 1)
        return job

    def _job_list(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        limit = int(query.get("limit") or LIST_DEFAULT)
        if not 0 < limit <= LIST_MAX:
            raise _bad(f"limit must be between 1 and {LIST_MAX}, got {limit}")
        expand = query.get("expand_tasks", "false").lower() == "true"
        name = query.get("name")
        jobs = sorted(self.jobs.values(), key=lambda j: -j["job_id"])  # newest first
        if name is not None:  # REST jobs/list: "the exact (case insensitive) job name"
            jobs = [j for j in jobs if j["settings"].get("name", "").lower() == name.lower()]
        start = int(query.get("page_token") or 0)
        page = jobs[start : start + limit]
        out = []
        for job in page:
            item = copy.deepcopy(job)
            for name in ("tasks", "job_clusters"):
                items = item["settings"].pop(name, None)
                if expand and items is not None:  # SDK BaseJob.has_more: arrays cut at 100
                    item["settings"][name] = items[:PAGE]
                    item["has_more"] = item.get("has_more", False) or len(items) > PAGE
            out.append(item)
        answer: JSON = {"jobs": out, "has_more": start + limit < len(jobs)}
        if answer["has_more"]:
            answer["next_page_token"] = str(start + limit)
        return answer

    def _job_reset(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        body = body or {}
        job = self._job(body.get("job_id"))
        if not isinstance(body.get("new_settings"), dict):
            raise _bad("new_settings is required: reset replaces every setting of the job")
        self._check_settings(body["new_settings"])
        job["settings"] = self._with_defaults(body["new_settings"])
        return {}

    def _job_update(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        body = body or {}
        job = self._job(body.get("job_id"))
        merged = copy.deepcopy(job["settings"])
        for field in body.get("fields_to_remove") or []:
            if "/" in field:  # tasks/<key> or job_clusters/<key>
                array, key = field.split("/", 1)
                id_field = "task_key" if array == "tasks" else "job_cluster_key"
                merged[array] = [x for x in merged.get(array, []) if x.get(id_field) != key]
            else:
                merged.pop(field, None)
        for field, value in (body.get("new_settings") or {}).items():
            if field in ("tasks", "job_clusters"):  # REST jobs/update: arrays merged by key
                id_field = "task_key" if field == "tasks" else "job_cluster_key"
                current = {x[id_field]: x for x in merged.get(field, [])}
                for item in value:
                    current[item[id_field]] = item
                merged[field] = list(current.values())
            else:
                merged[field] = value
        self._check_settings(merged)
        job["settings"] = self._with_defaults(merged)
        return {}

    def _job_delete(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        job = self._job((body or {}).get("job_id"))
        del self.jobs[job["job_id"]]
        return {}
