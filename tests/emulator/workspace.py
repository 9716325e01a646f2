"""The workspace: the current user, workspace objects (folders, files) and Lakeview dashboards.

The rules follow the real service; each names its reference:

* SDK: databricks-sdk ``databricks/sdk/service/dashboards.py`` (``LakeviewAPI``, ``Dashboard``,
  ``ListDashboardsResponse``, ``PublishedDashboard``) and ``databricks/sdk/service/workspace.py``
  (``WorkspaceAPI``, ``ObjectInfo``, ``ObjectType``);
* REST: https://docs.databricks.com/api/workspace/lakeview and
  https://docs.databricks.com/api/workspace/workspace;
* the tutorial https://docs.databricks.com/dashboards/tutorials/workspace-dashboard-api.html
  (a dashboard is a workspace object of type ``DASHBOARD`` at ``<folder>/<name>.lvdash.json``
  whose ``resource_id`` is the dashboard id);
* terraform-provider-databricks ``dashboards/resource_dashboard.go`` (the message of a create
  into a missing folder: "Path (<folder>) doesn't exist.").

Paths are compared literally (``/Workspace/Shared/x`` and ``/Shared/x`` are different
folders here). The root, ``/Shared``, ``/Users`` and the current user's home exist from the
start, with and without the ``/Workspace`` prefix.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from tests.emulator.common import (
    JSON,
    ApiError,
    Route,
)

#: Dashboards per page when a list request names no ``page_size``: small, so that clients
#: must follow ``next_page_token`` (the real default is larger; paging works the same).
LAKEVIEW_DEFAULT_PAGE_SIZE = 2
#: The largest ``page_size`` accepted (REST: lakeview/list, ``page_size`` <= 1000).
LAKEVIEW_MAX_PAGE_SIZE = 1000
#: Fields a Lakeview List response leaves out of each dashboard (SDK ``Dashboard``: "This
#: field is excluded in List Dashboards responses" on etag, parent_path, path,
#: serialized_dashboard and update_time).
LIST_EXCLUDED_FIELDS = frozenset(
    {"etag", "parent_path", "path", "serialized_dashboard", "update_time"}
)
#: Fields the server fills in; a create or update body cannot set them (SDK ``Dashboard``).
LAKEVIEW_READ_ONLY_FIELDS = frozenset(
    {"dashboard_id", "path", "create_time", "update_time", "lifecycle_state", "etag"}
)


def _not_found(path: str) -> ApiError:
    # SDK WorkspaceAPI.get_status/list: "If path does not exist, this call returns an error
    # RESOURCE_DOES_NOT_EXIST"; the message is the service's "Path (...) doesn't exist.".
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Path ({path}) doesn't exist.")


def _parent(path: str) -> str:
    head = path.rstrip("/").rsplit("/", 1)[0]
    return head or "/"


def _check_absolute(path: Any, field: str = "path") -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ApiError(
            400, "INVALID_PARAMETER_VALUE", f"{field} must be an absolute path: {path!r}"
        )
    return path.rstrip("/") or "/"


class WorkspaceService:
    def _workspace_routes(self) -> list[Route]:
        lv = "/api/2\\.0/lakeview/dashboards"
        lv_one = lv + "/(?P<did>[0-9a-f]+)"
        return [
            ("GET", "/api/2\\.0/preview/scim/v2/Me", self._me),
            ("POST", "/api/2\\.0/workspace/mkdirs", self._ws_mkdirs),
            ("POST", "/api/2\\.0/workspace/import", self._ws_import),
            ("GET", "/api/2\\.0/workspace/get-status", self._ws_get_status),
            ("GET", "/api/2\\.0/workspace/list", self._ws_list),
            ("GET", lv, self._lv_list),
            ("POST", lv, self._lv_create),
            ("GET", lv_one, self._lv_get),
            ("PATCH", lv_one, self._lv_update),
            ("DELETE", lv_one, self._lv_trash),
            ("POST", lv_one + "/published", self._lv_publish),
            ("GET", lv_one + "/published", self._lv_get_published),
        ]

    # -- the workspace tree --------------------------------------------------------------------

    def _me(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return {"userName": self.user_name, "id": "1"}

    def _builtin_dirs(self) -> set[str]:
        home = f"/Users/{self.user_name}"
        plain = {"/", "/Shared", "/Users", home}
        return plain | {"/Workspace"} | {"/Workspace" + p for p in plain if p != "/"}

    def _is_dir(self, path: str) -> bool:
        return path in self.workspace_dirs or path in self._builtin_dirs()

    def _live_dashboards(self) -> dict[str, JSON]:
        """Dashboards not in the trash, by workspace path."""
        return {d["path"]: d for d in self.dashboards.values() if d["lifecycle_state"] == "ACTIVE"}

    def _object_at(self, path: str) -> JSON | None:
        """The ``ObjectInfo`` of whatever is at ``path`` (SDK workspace.py ``ObjectInfo``)."""
        object_id = uuid.uuid5(uuid.NAMESPACE_URL, path).int % 10**16
        if self._is_dir(path):
            return {
                "object_type": "DIRECTORY",
                "path": path,
                "object_id": object_id,
                "resource_id": str(object_id),
            }
        if path in self.workspace_files:
            stored = self.workspace_files[path]
            info: JSON = {"path": path, "object_id": object_id, "resource_id": str(object_id)}
            if stored.get("language") and stored.get("format") in (None, "SOURCE", "JUPYTER"):
                info.update(object_type="NOTEBOOK", language=stored["language"])
            else:
                info.update(object_type="FILE", size=len(stored["content"].encode()))
            return info
        dashboard = self._live_dashboards().get(path)
        if dashboard is not None:
            # The dashboard tutorial's workspace/list example: object_type DASHBOARD,
            # resource_id = the dashboard id.
            return {
                "object_type": "DASHBOARD",
                "path": path,
                "object_id": object_id,
                "resource_id": dashboard["dashboard_id"],
            }
        return None

    def _ws_get_status(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK WorkspaceAPI.get_status: GET /api/2.0/workspace/get-status?path=...
        path = _check_absolute(query.get("path"))
        info = self._object_at(path)
        if info is None:
            raise _not_found(path)
        return info

    def _ws_list(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK WorkspaceAPI.list: the contents of a directory, or the object itself when it is
        # not one; RESOURCE_DOES_NOT_EXIST when nothing is there. An empty folder answers {}.
        path = _check_absolute(query.get("path"))
        info = self._object_at(path)
        if info is None:
            raise _not_found(path)
        if info["object_type"] != "DIRECTORY":
            return {"objects": [info]}
        prefix = path.rstrip("/") + "/"
        known = (self.workspace_dirs | self._builtin_dirs() | set(self.workspace_files)) | set(
            self._live_dashboards()
        )
        children = sorted(
            p for p in known if p.startswith(prefix) and p != path and "/" not in p[len(prefix) :]
        )
        objects = [self._object_at(p) for p in children]
        return {"objects": objects} if objects else {}

    def _ws_mkdirs(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK WorkspaceAPI.mkdirs: creates the parents too; an existing folder is no error;
        # a non-folder object at any prefix is RESOURCE_ALREADY_EXISTS.
        path = _check_absolute((body or {}).get("path"))
        prefixes = []
        current = path
        while current != "/":
            prefixes.append(current)
            current = _parent(current)
        for prefix in reversed(prefixes):
            info = self._object_at(prefix)
            if info is not None and info["object_type"] != "DIRECTORY":
                raise ApiError(
                    400,
                    "RESOURCE_ALREADY_EXISTS",
                    f"Cannot create directory {path}: {prefix} already exists "
                    f"and is a {info['object_type'].lower()}.",
                )
        for prefix in prefixes:
            if not self._is_dir(prefix):
                self.workspace_dirs.add(prefix)
        return {}

    def _ws_import(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        path = _check_absolute((body or {}).get("path"))
        parent = _parent(path)
        if not self._is_dir(parent):
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"The parent folder ({parent}) does not exist."
            )
        existing = self._object_at(path)
        if existing is not None and (
            existing["object_type"] in ("DIRECTORY", "DASHBOARD") or not body.get("overwrite")
        ):
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"{path} already exists.")
        self.workspace_files[path] = {
            "content": base64.b64decode(body.get("content", "")).decode(),
            "format": body.get("format"),
            "language": body.get("language"),
        }
        return {}

    # -- Lakeview dashboards -------------------------------------------------------------------

    def _lv_now(self) -> str:
        """An RFC 3339 UTC instant, strictly later than the previous one handed out."""
        ms = max(int(time.time() * 1000), getattr(self, "_lv_last_ms", 0) + 1)
        self._lv_last_ms = ms
        instant = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
        return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"

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

    def _lv_check_free(self, parent: str, name: str, dashboard_id: str | None = None) -> str:
        """The path ``<parent>/<name>.lvdash.json`` when nothing else occupies it."""
        if not self._is_dir(parent):
            # terraform-provider-databricks dashboards/resource_dashboard.go
            # (isParentDoesntExistError): the create fails with "Path (<parent>) doesn't exist."
            raise _not_found(parent)
        path = f"{parent}/{name}.lvdash.json"
        taken = self._object_at(path)
        if taken is not None and taken.get("resource_id") != dashboard_id:
            raise ApiError(409, "RESOURCE_ALREADY_EXISTS", f"Node named '{name}' already exists")
        return path

    def _lv_list(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK LakeviewAPI.list / ListDashboardsResponse: page_size, page_token in;
        # dashboards (a reduced view, LIST_EXCLUDED_FIELDS left out) and next_page_token out;
        # trashed dashboards only with show_trashed=true.
        try:
            size = int(query.get("page_size") or LAKEVIEW_DEFAULT_PAGE_SIZE)
            start = int(query["page_token"]) if query.get("page_token") else 0
        except ValueError:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", "page_size and page_token must be integers"
            ) from None
        if not 0 < size <= LAKEVIEW_MAX_PAGE_SIZE or start < 0:
            raise ApiError(
                400,
                "INVALID_PARAMETER_VALUE",
                f"page_size must be in 1..{LAKEVIEW_MAX_PAGE_SIZE}: {size}",
            )
        trashed = query.get("show_trashed", "").lower() == "true"
        rows = [
            {k: copy.deepcopy(v) for k, v in d.items() if k not in LIST_EXCLUDED_FIELDS}
            for d in self.dashboards.values()
            if trashed or d["lifecycle_state"] == "ACTIVE"
        ]
        out: JSON = {}
        if rows[start : start + size]:
            out["dashboards"] = rows[start : start + size]
        if start + size < len(rows):
            out["next_page_token"] = str(start + size)
        return out

    def _lv_create(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK LakeviewAPI.create: POST /api/2.0/lakeview/dashboards with a Dashboard body.
        self._lv_check(body)
        body = {k: v for k, v in (body or {}).items() if k not in LAKEVIEW_READ_ONLY_FIELDS}
        name = body.get("display_name")
        if not name:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "display_name is required")
        parent = _check_absolute(
            body.get("parent_path") or f"/Users/{self.user_name}", "parent_path"
        )
        path = self._lv_check_free(parent, name)
        did = uuid.uuid4().hex
        now = self._lv_now()
        self.dashboards[did] = {
            "serialized_dashboard": '{"pages": [], "datasets": []}',
            **body,
            "dashboard_id": did,
            "parent_path": parent,
            "path": path,
            "etag": "1",
            "lifecycle_state": "ACTIVE",
            "create_time": now,
            "update_time": now,
        }
        return copy.deepcopy(self.dashboards[did])

    def _lv_dashboard(self, did: str) -> JSON:
        if did not in self.dashboards:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Dashboard {did} does not exist.")
        return self.dashboards[did]

    def _lv_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        return copy.deepcopy(self._lv_dashboard(params["did"]))

    def _lv_update(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK LakeviewAPI.update: PATCH with a Dashboard body; etag, when given, must be the
        # current one (SDK Dashboard.etag: "to ensure that the dashboard has not been
        # modified since the last read"); renaming moves the workspace file.
        self._lv_check(body)
        dashboard = self._lv_dashboard(params["did"])
        body = body or {}
        if body.get("etag") is not None and body["etag"] != dashboard["etag"]:
            raise ApiError(
                409, "ABORTED", f"The dashboard was modified since etag {body['etag']} was read."
            )
        changes = {
            k: v
            for k, v in body.items()
            if k not in LAKEVIEW_READ_ONLY_FIELDS and k != "parent_path"
        }
        name = changes.get("display_name")
        if name is not None and name != dashboard["display_name"]:
            dashboard["path"] = self._lv_check_free(
                dashboard["parent_path"], name, dashboard["dashboard_id"]
            )
        dashboard.update(changes)
        dashboard["etag"] = str(int(dashboard["etag"]) + 1)
        dashboard["update_time"] = self._lv_now()
        return copy.deepcopy(dashboard)

    def _lv_trash(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK LakeviewAPI.trash: DELETE moves the dashboard to the trash (lifecycle_state
        # TRASHED, SDK LifecycleState); it leaves its folder, lists only with show_trashed.
        dashboard = self._lv_dashboard(params["did"])
        if dashboard["lifecycle_state"] == "TRASHED":
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"Dashboard {params['did']} is already trashed."
            )
        dashboard["lifecycle_state"] = "TRASHED"
        dashboard["update_time"] = self._lv_now()
        return {}

    def _lv_publish(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        # SDK LakeviewAPI.publish / PublishedDashboard: display_name, embed_credentials,
        # revision_create_time, warehouse_id (the body's, else the draft's).
        dashboard = self._lv_dashboard(params["did"])
        body = body or {}
        self.published[params["did"]] = {
            "display_name": dashboard["display_name"],
            "warehouse_id": body.get("warehouse_id") or dashboard.get("warehouse_id"),
            "embed_credentials": body.get("embed_credentials", False),
            "revision_create_time": self._lv_now(),
        }
        self.published_documents[params["did"]] = dashboard.get("serialized_dashboard")
        return copy.deepcopy(self.published[params["did"]])

    @property
    def published_documents(self) -> dict[str, Any]:
        """The serialized dashboard each published version was made from, by dashboard id."""
        if not hasattr(self, "_published_documents"):
            self._published_documents: dict[str, Any] = {}
        return self._published_documents

    def _lv_get_published(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        self._lv_dashboard(params["did"])
        if params["did"] not in self.published:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", "Dashboard is not published.")
        return copy.deepcopy(self.published[params["did"]])
