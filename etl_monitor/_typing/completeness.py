"""How complete the installed package's types are: ``pyright --verifytypes``.

``--verifytypes`` judges a package as its users get it: installed (not editable) in an
environment, with its ``py.typed`` and stubs. This builds that environment in a temporary
folder: a copy of the source tree (so the build writes nothing into the checkout), a
fresh venv, ``pip install pyright <copy>``, then runs
``pyright --verifytypes <package> --ignoreexternal --outputjson`` there and prints the
completeness score, the symbol counts and the public symbols whose type is unknown or
ambiguous, most referenced first. It needs the package index; the suite never runs it.

Usage::

    python -m etl_monitor._typing.completeness               # score, counts, top offenders
    python -m etl_monitor._typing.completeness --top 0 --json # the counts as JSON
    python -m etl_monitor._typing.completeness --min 90      # exit 1 below 90 %
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from collections import Counter
from pathlib import Path
from typing import Any

PACKAGE = (__spec__.name if __spec__ is not None else __name__).split(".")[0]
#: Used when the running environment has no pyright to take the version from.
DEFAULT_PYRIGHT = "1.1.414"
#: Left out of the copy that is built: environments, caches, build output, VCS data.
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv*",
    ".cache",
    ".*_cache",
    "__pycache__",
    "build",
    "dist",
    "*.egg-info",
    "node_modules",
    "spark-warehouse",
    "etl_monitor_warehouse",
    "metastore_db",
)


def project_root() -> Path:
    """The source checkout this module sits in (the folder with pyproject.toml)."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise SystemExit("completeness: run this from a source checkout (no pyproject.toml found)")


def pyright_version() -> str:
    try:
        return importlib.metadata.version("pyright")
    except importlib.metadata.PackageNotFoundError:
        return DEFAULT_PYRIGHT


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


def build_environment(root: Path, work: Path, pyright: str) -> Path:
    """A venv in `work` with pyright and the package installed from a copy of `root`."""
    source = work / "source"
    shutil.copytree(root, source, ignore=IGNORED)
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    done = _run(
        [str(python), "-m", "pip", "install", "--quiet", f"pyright=={pyright}", str(source)]
    )
    if done.returncode != 0:
        raise SystemExit(f"completeness: pip install failed:\n{done.stdout}\n{done.stderr}")
    return env_dir


def verify_types(env_dir: Path, work: Path, package: str) -> dict[str, Any]:
    """``pyright --verifytypes`` inside the venv, from a folder that holds no source."""
    bin_dir = env_dir / "bin"
    env = {
        **os.environ,
        "VIRTUAL_ENV": str(env_dir),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1",
    }
    env.pop("PYTHONPATH", None)
    outside = work / "run"
    outside.mkdir(exist_ok=True)
    done = _run(
        [str(bin_dir / "pyright"), "--verifytypes", package, "--ignoreexternal", "--outputjson"],
        cwd=outside,
        env=env,
    )
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"completeness: pyright exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        ) from None


def summarise(report: dict[str, Any], top: int) -> dict[str, Any]:
    """The score, the exported symbol counts and the `top` unknown / ambiguous symbols."""
    completeness = report.get("typeCompleteness", {})
    counts = completeness.get("exportedSymbolCounts", {})
    known = counts.get("withKnownType", 0)
    ambiguous = counts.get("withAmbiguousType", 0)
    unknown = counts.get("withUnknownType", 0)
    offenders = [
        s
        for s in completeness.get("symbols", [])
        if s.get("isExported") and not (s.get("isTypeKnown") and not s.get("isTypeAmbiguous"))
    ]
    offenders.sort(key=lambda s: (-s.get("referenceCount", 0), s["name"]))
    by_module = Counter(s["name"].rsplit(".", 1)[0] for s in offenders)
    return {
        "package": completeness.get("packageName"),
        "py_typed": completeness.get("pyTypedPath"),
        "score": round(100 * completeness.get("completenessScore", 0.0), 1),
        "symbols": known + ambiguous + unknown,
        "known": known,
        "ambiguous": ambiguous,
        "unknown": unknown,
        "pyright": report.get("version"),
        "errors": report.get("summary", {}).get("errorCount"),
        "by_module": dict(by_module.most_common()),
        "top": [
            {
                "name": s["name"],
                "category": s.get("category"),
                "status": "unknown" if not s.get("isTypeKnown") else "ambiguous",
                "references": s.get("referenceCount", 0),
                "why": [d["message"].splitlines()[0] for d in s.get("diagnostics", [])][:2],
            }
            for s in offenders[:top]
        ],
    }


def print_summary(summary: dict[str, Any]) -> None:
    if not summary["py_typed"]:
        print(
            f"{summary['package']}: the installed package has no py.typed: the wheel does not "
            "ship it (package data), so type checkers ignore the package's annotations."
        )
    print(
        f"{summary['package']}: type completeness {summary['score']}% "
        f"({summary['symbols']} exported symbols: {summary['known']} known, "
        f"{summary['ambiguous']} ambiguous, {summary['unknown']} unknown; "
        f"pyright {summary['pyright']})"
    )
    if summary["top"]:
        print("\nunknown or ambiguous, most referenced first:")
        for s in summary["top"]:
            why = "; ".join(s["why"])
            print(f"  {s['name']} [{s['category']}, {s['status']}, {s['references']} refs] {why}")
        print("\nby module:")
        for module, count in list(summary["by_module"].items())[:20]:
            print(f"  {count:4d}  {module}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name if __spec__ is not None else __name__}",
        description="pyright --verifytypes on the package as installed from this checkout.",
    )
    parser.add_argument("--pyright", default=pyright_version(), help="pyright version to use")
    parser.add_argument("--top", type=int, default=25, help="offenders to list (default 25)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--min", type=float, help="exit 1 when the score is below this (%%)")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args(argv)

    root = project_root()
    work = args.keep or Path(tempfile.mkdtemp(prefix=f"{PACKAGE}-verifytypes-"))
    try:
        if args.keep and work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        env_dir = build_environment(root, work, args.pyright)
        summary = summarise(verify_types(env_dir, work, PACKAGE), args.top)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary)
    if args.min is not None and summary["score"] < args.min:
        print(f"\nbelow the minimum of {args.min}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
