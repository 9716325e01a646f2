"""The process catalogue as code: the config tables as one YAML file, planned and applied.

A catalogue file lists organisations, projects, custom stages (``sequences``) and
processes with their tasks and parameters. Every entry is validated with the same
argument models the registry uses, so a file is accepted exactly when the matching
``register_*`` calls would be. ``plan`` compares the file with the tables without writing;
``apply`` writes only what differs (one MERGE per table, CreatedOn kept on update) and
never deletes: rows the file does not mention are reported as ``not_in_file``.
``export`` writes the tables back out in the same format, so export -> load -> plan is
all ``unchanged``.

Example::

    version: 1
    organisations:
      - organisation_code: ACME
        organisation_name: Acme Ltd
    projects:
      - project_code: CORP
        organisation_code: ACME
    sequences:
      - sequence_id: 10
        sequence_code: LOAD_EXTRA
    processes:
      - project_code: CORP
        process_load: HR_DAILY
        name: HR Daily Load
        tasks:
          - {task_id: 0, workflow_id: 0, sequence_id: 0, task_name: Initiation}
          - {task_id: 1, workflow_id: 1, sequence_id: 2, task_name: Employees}
        parameters:
          - parameter_name: LoadEmployees
            parameter_type: DELTA_DATE
            value_datetime: '2026-01-01T00:00:00+00:00'

Keys are the arguments of the matching ``register_*`` call; earlier names (``org_code``,
``file_mask``, ...) are still read. A process entry with ``external: true`` and only its key manages the tasks and
parameters of a process registered elsewhere; the process itself is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from etl_monitor.core import documents
from etl_monitor.core.arguments import (
    OrganisationArgs,
    ParameterArgs,
    ProcessArgs,
    ProjectArgs,
    SequenceArgs,
    TaskArgs,
    _Args,
    renamed,
    utc,
    validate,
)
from etl_monitor.core.context import Context
from etl_monitor.core.reconcile import Reconciliation
from etl_monitor.errors import InvalidArgumentError, NotFoundError
from etl_monitor.tracking.registry import ROW_SPECS, RowSpec, upsert_many
from etl_monitor.tracking.tables import SEQUENCE

__all__ = [
    "Catalogue",
    "CatalogueChange",
    "CataloguePlan",
    "CatalogueProcess",
    "apply",
    "export",
    "load",
    "plan",
]

FORMAT_VERSION = 1
Kind = Literal["organisation", "project", "sequence", "process", "task", "parameter"]
Action = Literal["add", "update", "unchanged", "not_in_file"]


SPECS = ROW_SPECS


def _fields(spec: RowSpec, row: Mapping[str, Any]) -> dict[str, Any]:
    """A table row as argument values, datetimes as UTC."""
    return {f: _norm(row.get(c)) for f, c in spec.columns}


#: Write order: what a row refers to is written before it.
ORDER: tuple[Kind, ...] = ("organisation", "project", "sequence", "process", "task", "parameter")
_PROCESS_ONLY = {"external", "tasks", "parameters"}


def _norm(value: Any) -> Any:
    return utc(value) if isinstance(value, datetime) else value


# -- the document ---------------------------------------------------------------------------
class CatalogueProcess(BaseModel):
    """A process with its tasks and parameters; ``process`` is None for an external one."""

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True)

    project_code: str
    process_load: str
    process: ProcessArgs | None = None
    tasks: tuple[TaskArgs, ...] = ()
    parameters: tuple[ParameterArgs, ...] = ()

    @property
    def external(self) -> bool:
        return self.process is None


class Catalogue(BaseModel):
    """A validated catalogue document (build it with `load` or `Catalogue.from_document`)."""

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True)

    organisations: tuple[OrganisationArgs, ...] = ()
    projects: tuple[ProjectArgs, ...] = ()
    sequences: tuple[SequenceArgs, ...] = ()
    processes: tuple[CatalogueProcess, ...] = ()

    @classmethod
    def from_document(cls, doc: Any) -> Catalogue:
        """Validate a parsed YAML document; errors name the YAML path of the bad value."""
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise InvalidArgumentError(
                f"a catalogue is a mapping of {', '.join(_TOP)}, got {type(doc).__name__}"
            )
        unknown = [k for k in doc if k not in _TOP]
        if unknown:
            raise InvalidArgumentError(
                f"{unknown[0]}: unknown section (allowed: {', '.join(_TOP)})", argument=unknown[0]
            )
        if doc.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            raise InvalidArgumentError(
                f"version: {doc['version']!r} is not supported (use {FORMAT_VERSION})",
                argument="version",
                value=doc["version"],
            )
        catalogue = cls(
            organisations=tuple(
                _entry(OrganisationArgs, p, e) for p, e in _items(doc, "organisations")
            ),
            projects=tuple(_entry(ProjectArgs, p, e) for p, e in _items(doc, "projects")),
            sequences=tuple(_entry(SequenceArgs, p, e) for p, e in _items(doc, "sequences")),
            processes=tuple(_process(p, e) for p, e in _items(doc, "processes")),
        )
        catalogue.entries()  # raises on duplicate keys
        return catalogue

    def entries(self) -> Iterable[tuple[Kind, str, _Args]]:
        """Every managed entry with its YAML path, in write order; raises on duplicate keys."""
        out: list[tuple[Kind, str, _Args]] = []
        out += [
            ("organisation", f"organisations[{i}]", a) for i, a in enumerate(self.organisations)
        ]
        out += [("project", f"projects[{i}]", a) for i, a in enumerate(self.projects)]
        out += [("sequence", f"sequences[{i}]", a) for i, a in enumerate(self.sequences)]
        for i, p in enumerate(self.processes):
            if p.process is not None:
                out.append(("process", f"processes[{i}]", p.process))
        for i, p in enumerate(self.processes):
            out += [("task", f"processes[{i}].tasks[{j}]", a) for j, a in enumerate(p.tasks)]
        for i, p in enumerate(self.processes):
            out += [
                ("parameter", f"processes[{i}].parameters[{j}]", a)
                for j, a in enumerate(p.parameters)
            ]
        seen: dict[tuple[Any, ...], str] = {}
        for kind, path, args in out:
            key = (kind, *SPECS[kind].key(args.model_dump()))
            if key in seen:
                raise InvalidArgumentError(
                    f"{path}: duplicate {kind} {_key_text(key[1:])} (first at {seen[key]})",
                    argument=path,
                )
            seen[key] = path
        seen_process: dict[tuple[str, str], int] = {}
        for i, p in enumerate(self.processes):
            pk = (p.project_code, p.process_load)
            if pk in seen_process:
                raise InvalidArgumentError(
                    f"processes[{i}]: duplicate process {_key_text(pk)} "
                    f"(first at processes[{seen_process[pk]}])",
                    argument=f"processes[{i}]",
                )
            seen_process[pk] = i
        return out


_TOP = ("version", "organisations", "projects", "sequences", "processes")


def _items(doc: Mapping[str, Any], section: str, within: str = "") -> list[tuple[str, Any]]:
    where = f"{within}.{section}" if within else section
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise InvalidArgumentError(
            f"{where}: expected a list, got {type(entries).__name__}", argument=where
        )
    return [(f"{where}[{i}]", e) for i, e in enumerate(entries)]


def _mapping(path: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise InvalidArgumentError(
            f"{path}: expected a mapping, got {type(entry).__name__}", argument=path, value=entry
        )
    for k in entry:
        if not isinstance(k, str):
            raise InvalidArgumentError(f"{path}: key {k!r} is not text", argument=path, value=k)
    return entry


def _entry(model: type[_Args], path: str, entry: Any, **fixed: Any) -> Any:
    """Validate one entry with the registry's argument model, naming the YAML path on error."""
    entry = renamed(model, path, _mapping(path, entry))
    for k in fixed:
        if k in entry:
            raise InvalidArgumentError(
                f"{path}.{k}: not allowed here, it comes from the enclosing process",
                argument=f"{path}.{k}",
                value=entry[k],
            )
    unknown = [k for k in entry if k not in model.model_fields]
    if unknown:  # validate() reports these without their name
        allowed = ", ".join(f for f in model.model_fields if f not in fixed)
        raise InvalidArgumentError(
            f"{path}.{unknown[0]}: unknown field (allowed: {allowed})",
            argument=f"{path}.{unknown[0]}",
            value=entry[unknown[0]],
        )
    try:
        return validate(model, "", **fixed, **entry)
    except InvalidArgumentError as error:
        where = f"{path}.{error.argument}" if error.argument else path
        message = str(error).removeprefix("(): ")
        raise InvalidArgumentError(
            f"{where}: {message}", argument=where, value=error.value
        ) from None


def _process(path: str, entry: Any) -> CatalogueProcess:
    entry = _mapping(path, entry)
    external = entry.get("external", False)
    if not isinstance(external, bool):
        raise InvalidArgumentError(
            f"{path}.external: expected true or false, got {external!r}",
            argument=f"{path}.external",
            value=external,
        )
    own = {k: v for k, v in entry.items() if k not in _PROCESS_ONLY}
    if external:
        extra = sorted(set(own) - {"project_code", "process_load"})
        if extra:
            raise InvalidArgumentError(
                f"{path}.{extra[0]}: an external process entry has only project_code, "
                "process_load, tasks and parameters",
                argument=f"{path}.{extra[0]}",
            )
    args: ProcessArgs = _entry(ProcessArgs, path, own)
    key = {"project_code": args.project_code, "process_load": args.process_load}
    return CatalogueProcess(
        **key,
        process=None if external else args,
        tasks=tuple(_entry(TaskArgs, p, e, **key) for p, e in _items(entry, "tasks", path)),
        parameters=tuple(
            _entry(ParameterArgs, p, e, **key) for p, e in _items(entry, "parameters", path)
        ),
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated within one mapping (safe_load keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key fails in the base class with its own message
            if duplicate:
                raise InvalidArgumentError(
                    f"duplicate key {key!r} at line {key_node.start_mark.line + 1}, "
                    f"column {key_node.start_mark.column + 1}",
                    argument=str(key),
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(path_or_text: str | Path) -> Catalogue:
    """Parse and validate a catalogue from a file path or from YAML text."""
    if not isinstance(path_or_text, (str, Path)):
        raise InvalidArgumentError(
            f"catalogue: a file path or YAML text, not a {type(path_or_text).__name__}",
            argument="path_or_text",
        )
    text = (
        documents.read_text(path_or_text, "catalogue")
        if documents.is_file(path_or_text)
        else path_or_text
    )
    doc = documents.parse_yaml(str(text), "catalogue", _UniqueKeyLoader)
    try:
        return Catalogue.from_document(doc)
    except RecursionError:
        raise InvalidArgumentError("catalogue(): the YAML is nested too deeply to read") from None


# -- plan and apply -------------------------------------------------------------------------
@dataclass
class CatalogueChange:
    """One row's fate: add, update (with old -> new per field), unchanged or not_in_file."""

    kind: Kind
    key: str
    action: Action
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    path: str | None = None
    args: _Args | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "action": self.action,
            "path": self.path,
            "changes": "; ".join(
                f"{f}: {_show(old)} -> {_show(new)}" for f, (old, new) in self.changes.items()
            ),
        }


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)


@dataclass
class CataloguePlan(Reconciliation):
    """The changes a catalogue makes, in write order."""

    ACTIONS: ClassVar[tuple[str, ...]] = ("add", "update", "unchanged", "not_in_file")

    changes: list[CatalogueChange]

    def decided(self) -> list[CatalogueChange]:
        """Every row's change, in write order."""
        return self.changes

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "changes": [c.as_dict() for c in self.changes]}


def _read(ctx: Context) -> dict[Kind, dict[tuple[Any, ...], dict[str, Any]]]:
    """Current config rows per kind, keyed like the catalogue (framework stages left out)."""
    out: dict[Kind, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for kind in ORDER:
        spec = SPECS[kind]
        where = " WHERE NOT (IsFrameworkManaged <=> TRUE)" if kind == "sequence" else ""
        rows = ctx.executor.query(f"SELECT * FROM {ctx.name(spec.table)}{where}")
        values = [_fields(spec, r.asDict()) for r in rows]
        out[kind] = {spec.key(v): v for v in sorted(values, key=lambda v: _sort_key(spec.key(v)))}
    return out


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, v if v is not None else 0) for v in key)


def _key_text(key: Iterable[Any]) -> str:
    return "/".join(str(k) for k in key)


def _all_stages(ctx: Context) -> set[int]:
    return {
        r["SequenceID"] for r in ctx.executor.query(f"SELECT SequenceID FROM {ctx.name(SEQUENCE)}")
    }


def plan(ctx: Context, catalogue: Catalogue) -> CataloguePlan:
    """Compare a catalogue with the config tables; writes nothing.

    Raises NotFoundError when a task or parameter refers to a process, or a task to a
    stage, that is neither in the file nor in the tables.
    """
    entries = list(catalogue.entries())
    current = _read(ctx)
    processes = set(current["process"]) | {
        (a.project_code, a.process_load) for k, _, a in entries if k == "process"
    }
    stages = _all_stages(ctx) | {a.sequence_id for a in catalogue.sequences}
    for i, p in enumerate(catalogue.processes):
        if p.external and (p.project_code, p.process_load) not in current["process"]:
            raise NotFoundError(
                f"processes[{i}]: external process {p.project_code}/{p.process_load} is not "
                "registered; add its fields to the file or register it first"
            )
    changes: list[CatalogueChange] = []
    for kind, path, args in entries:
        spec = SPECS[kind]
        wanted = _fields(spec, spec.row(args))
        key = spec.key(wanted)
        if kind in ("task", "parameter") and key[:2] not in processes:
            raise NotFoundError(
                f"{path}: process {_key_text(key[:2])} is neither in the file nor registered"
            )
        if kind == "task" and wanted["sequence_id"] not in stages:
            raise NotFoundError(
                f"{path}.sequence_id: stage {wanted['sequence_id']} is neither in the file's "
                "sequences nor registered (framework stages are 0-6, custom stages 10 and above)"
            )
        old = current[kind].get(key)
        if old is None:
            changes.append(CatalogueChange(kind, _key_text(key), "add", path=path, args=args))
            continue
        diff = {f: (old[f], v) for f, v in wanted.items() if old[f] != v}
        action: Action = "update" if diff else "unchanged"
        changes.append(CatalogueChange(kind, _key_text(key), action, diff, path, args))
    listed = {(c.kind, c.key) for c in changes}
    for kind in ORDER:
        for key in current[kind]:
            external = kind == "process" and any(
                p.external and (p.project_code, p.process_load) == key for p in catalogue.processes
            )
            if (kind, _key_text(key)) not in listed and not external:
                changes.append(CatalogueChange(kind, _key_text(key), "not_in_file"))
    order = {k: i for i, k in enumerate(ORDER)}
    changes.sort(key=lambda c: order[c.kind])  # stable: file order within a kind
    return CataloguePlan(changes)


def apply(ctx: Context, catalogue: Catalogue) -> CataloguePlan:
    """Write the catalogue's adds and updates (one MERGE per table); deletes nothing.

    The rows are the registry's rows for the same arguments, merged by the registry's
    upsert, so CreatedOn / CreatedBy survive an update. Returns the plan it carried out.
    """
    result = plan(ctx, catalogue)
    for kind in ORDER:
        spec = SPECS[kind]
        rows = [
            spec.row(c.args)
            for c in result.changes
            if c.kind == kind and c.action in ("add", "update") and c.args is not None
        ]
        upsert_many(ctx, spec.table, rows)
    return result


# -- export ---------------------------------------------------------------------------------
def _yaml_entry(
    spec: RowSpec, values: Mapping[str, Any], skip: Iterable[str] = ()
) -> dict[str, Any]:
    """Argument values in model order; a None is left out when None is also the default."""
    out: dict[str, Any] = {}
    for name, info in spec.model.model_fields.items():
        if name in skip or name not in values:
            continue
        value = values[name]
        if value is None and info.default is None:
            continue
        if isinstance(value, datetime | date):
            value = _norm(value).isoformat() if isinstance(value, datetime) else value.isoformat()
        out[name] = value
    return out


def export(ctx: Context) -> str:
    """The config tables as catalogue YAML (framework stages left out), in key order."""
    current = _read(ctx)
    keyed = ("project_code", "process_load")
    doc: dict[str, Any] = {"version": FORMAT_VERSION}
    for section, kind in (
        ("organisations", "organisation"),
        ("projects", "project"),
        ("sequences", "sequence"),
    ):
        doc[section] = [_yaml_entry(SPECS[kind], v) for v in current[kind].values()]  # type: ignore[index]
    process_keys = sorted(
        set(current["process"])
        | {k[:2] for k in current["task"]}
        | {k[:2] for k in current["parameter"]},
        key=_sort_key,
    )
    processes = []
    for pk in process_keys:
        row = current["process"].get(pk)
        entry = (
            _yaml_entry(SPECS["process"], row)
            if row is not None
            else {"project_code": pk[0], "process_load": pk[1], "external": True}
        )
        entry["tasks"] = [
            _yaml_entry(SPECS["task"], v, keyed) for k, v in current["task"].items() if k[:2] == pk
        ]
        entry["parameters"] = [
            _yaml_entry(SPECS["parameter"], v, keyed)
            for k, v in current["parameter"].items()
            if k[:2] == pk
        ]
        processes.append(entry)
    doc["processes"] = processes
    return yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
