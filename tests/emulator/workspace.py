"""The workspace: the current user, workspace files and Lakeview dashboards."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

from tests.emulator.common import (
    JSON,
    ApiError,
    Route,
)


class WorkspaceService:
    def _workspace_routes(self) -> list[Route]:
        lv = "/api/2\\.0/lakeview/dashboards"
        lv_one = lv + "/(?P<did>[0-9a-f]+)"
        return [
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
