"""Earlier import paths, kept working: each names the module that now holds its code.

The tree was reorganised into feature packages (``core``, ``tracking``, ``alerts``,
``jobs``); notebooks written against the earlier paths (``etl_monitor.runs.states``,
``etl_monitor.integrations.jobs.gate``...) import the same module objects as before.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

#: Earlier module path -> the module that holds its code now.
MOVED = {
    "etl_monitor.engine.context": "etl_monitor.core.context",
    "etl_monitor.config.arguments": "etl_monitor.core.arguments",
    "etl_monitor.config.signatures": "etl_monitor.core.signatures",
    "etl_monitor.config.registry": "etl_monitor.tracking.registry",
    "etl_monitor.config.catalogue": "etl_monitor.tracking.catalogue",
    "etl_monitor.schema.tables": "etl_monitor.tracking.tables",
    "etl_monitor.schema.setup": "etl_monitor.tracking.setup",
    "etl_monitor.schema.migration": "etl_monitor.tracking.migration",
    "etl_monitor.runs.alert_views": "etl_monitor.alerts.views",
    "etl_monitor.runs.job_runs": "etl_monitor.jobs.runs",
    "etl_monitor.integrations.alerts": "etl_monitor.alerts",
    "etl_monitor.integrations.alerts.publish": "etl_monitor.alerts.publish",
    "etl_monitor.integrations.alerts.render": "etl_monitor.alerts.render",
    "etl_monitor.integrations.jobs": "etl_monitor.jobs",
    "etl_monitor.integrations.jobs.gate": "etl_monitor.jobs.gate",
    "etl_monitor.integrations.jobs.publish": "etl_monitor.jobs.publish",
    "etl_monitor.integrations.jobs.render": "etl_monitor.jobs.render",
    **{
        f"etl_monitor.runs.{name}": f"etl_monitor.tracking.{name}"
        for name in (
            "events",
            "lifecycle",
            "maintenance",
            "periods",
            "queue",
            "reporting",
            "states",
            "views",
            "watermarks",
        )
    },
}
#: Earlier packages that are now only a prefix of moved modules.
PACKAGES = {"etl_monitor.config", "etl_monitor.schema", "etl_monitor.runs"}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an earlier path and loads it as the module that holds its code now."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        if fullname in MOVED or fullname in PACKAGES:
            is_package = fullname in PACKAGES or any(m.startswith(fullname + ".") for m in MOVED)
            return importlib.machinery.ModuleSpec(fullname, self, is_package=is_package)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if spec.name in MOVED:
            return importlib.import_module(MOVED[spec.name])
        module = types.ModuleType(
            spec.name, f"Earlier path of {spec.name}: see etl_monitor._compat."
        )
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module was imported under its own path."""


def install() -> None:
    """Make the earlier paths importable (idempotent)."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())  # before the path finder: one module object per file
