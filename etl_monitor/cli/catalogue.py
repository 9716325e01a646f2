"""`etl-monitor catalogue ...`: plan, apply and export the process catalogue YAML from the shell.

Mirrors `etl-monitor monitors`: `plan` only reads, `apply` needs --confirm, and the
file is validated before the engine starts, so a bad file fails fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from etl_monitor.cli.common import (
    _framework,
    console,
    emit,
    engine_options,
)
from etl_monitor.cli.values import (
    OutputPath,
    TextFile,
)
from etl_monitor.tracking.catalogue import CataloguePlan
from etl_monitor.tracking.catalogue import apply as apply_catalogue
from etl_monitor.tracking.catalogue import export as export_catalogue
from etl_monitor.tracking.catalogue import load as load_catalogue
from etl_monitor.tracking.catalogue import plan as plan_catalogue

PLAN_COLUMNS = ["kind", "key", "action", "changes", "path"]
#: A catalogue file, parsed and validated while the command line is read.
CATALOGUE_FILE = TextFile(lambda path: load_catalogue(Path(path)))


def _show(report: CataloguePlan, fmt: str, title: str) -> None:
    if fmt == "json":
        emit(report.as_dict(), fmt)
        return
    emit([c.as_dict() for c in report.changes], fmt, title, PLAN_COLUMNS)
    console.print(", ".join(f"{n} {action}" for action, n in report.counts.items()))


@click.group()
def catalogue() -> None:
    """The process catalogue as code: config tables <-> one YAML file."""


@catalogue.command()
@click.argument("yaml_file", type=CATALOGUE_FILE)
@engine_options
def plan(yaml_file: str, warehouse, catalog, schema, engine, remote, profile, fmt) -> None:
    """What apply would change (add / update / unchanged / not_in_file); writes nothing."""
    document = load_catalogue(Path(yaml_file))
    monitor = _framework(
        warehouse, catalog, schema, engine, remote=remote, profile=profile, existing=True
    )
    _show(plan_catalogue(monitor.context, document), fmt, "catalogue plan")


@catalogue.command()
@click.argument("yaml_file", type=CATALOGUE_FILE)
@click.option("--confirm", is_flag=True, help="Required: write the changes.")
@engine_options
def apply(
    yaml_file: str, confirm: bool, warehouse, catalog, schema, engine, remote, profile, fmt
) -> None:
    """Write the file's adds and updates to the config tables (never deletes)."""
    if not confirm:
        raise click.UsageError(
            "apply changes the config tables: run 'catalogue plan' first, then add --confirm"
        )
    document = load_catalogue(Path(yaml_file))
    monitor = _framework(
        warehouse, catalog, schema, engine, remote=remote, profile=profile, existing=True
    )
    _show(apply_catalogue(monitor.context, document), fmt, "catalogue apply")


@catalogue.command()
@click.option(
    "--out",
    type=OutputPath(dir_okay=False, writable=True),
    default=None,
    help="Write the YAML to this file [default: standard output].",
)
@engine_options
def export(out: str | None, warehouse, catalog, schema, engine, remote, profile, fmt) -> None:
    """The config tables as catalogue YAML."""
    text = export_catalogue(
        _framework(
            warehouse, catalog, schema, engine, remote=remote, profile=profile, existing=True
        ).context
    )
    if out is None:
        if fmt == "json":
            emit({"yaml": text}, fmt)
        else:
            click.echo(text, nl=False)
        return
    Path(out).write_text(text, encoding="utf-8")
    emit({"file": out, "bytes": len(text.encode("utf-8"))}, fmt, "catalogue export")
