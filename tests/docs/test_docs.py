"""The documentation stays true: the site builds, and the examples in it run.

- `test_docs_build_strict`: ``mkdocs build --strict`` (mkdocs.yml: every page in the nav,
  links and anchors checked) succeeds.
- `test_readme_links_resolve`, `test_readme_copies_are_in_the_docs`: the README's relative
  links name files that exist, and its code blocks and tables are also, unchanged, on a
  page of the site (the site is complete, and the two copies cannot drift apart).
- `test_page_examples[page]`: every ```python block of the README and of each page under
  docs/ runs on the embedded engine, one test per page. A page's blocks run in order in one
  namespace, with ``spark`` bound to the test session, ``display`` and
  ``DataFrame.display()`` standing in for Databricks' own (as tests/notebook_runner.py
  does), ``%pip`` lines left out, a temporary working directory, and the schema name
  ``"etl"`` (a string literal) replaced by a schema of the test's own. Tracebacks name the
  Markdown file and its line.
- `test_illustrative_example[page:line]`: a block that cannot run off Databricks carries
  ``<!-- docs-test: skip (the reason) -->`` on the line before its fence; it is compiled
  (so it stays Python) and reported as skipped with that reason.

A page whose examples build on another page's says so with
``<!-- docs-test: continues other-page.md -->``: that page's blocks run first, in the same
namespace. `test_docs_directives` refuses any other ``docs-test`` comment, and a skip that
is not right before a ```python fence.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import ENGINE_NAMES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

DIRECTIVE = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<text>.*?)\s*-->\s*$")
SKIP = re.compile(r"^skip \((?P<reason>.+)\)$")
CONTINUES = re.compile(r"^continues (?P<page>[\w./-]+\.md)$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,})\s*(?P<language>[\w+-]*)[^`]*$")
#: The schema name the examples use, as a Python string literal: each page gets its own.
SCHEMA_LITERAL = re.compile(r"""(?P<quote>["'])etl(?P=quote)""")
#: A notebook's install line: not Python, and the package under test is already installed.
PIP_MAGIC = re.compile(r"^\s*%pip\b")
LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")


@dataclass(frozen=True)
class Block:
    """One fenced code block: its page, the line of its opening fence, and its code."""

    page: str
    line: int
    language: str
    code: str
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass
class Page:
    """A Markdown page: its fenced blocks, the page it continues, and misused directives."""

    name: str
    blocks: list[Block] = field(default_factory=list)
    continues: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def python(self) -> list[Block]:
        return [b for b in self.blocks if b.language == "python"]


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def read_page(path: Path) -> Page:
    """Split a page into its fenced blocks and read its ``docs-test`` directives."""
    page = Page(_name(path))
    lines = path.read_text(encoding="utf-8").splitlines()
    number, pending_skip = 0, None
    while number < len(lines):
        line = lines[number]
        number += 1
        directive = DIRECTIVE.match(line)
        if directive:
            text = directive["text"]
            if SKIP.match(text):
                pending_skip = (number, SKIP.match(text)["reason"])
                continue
            if CONTINUES.match(text) and page.continues is None:
                page.continues = CONTINUES.match(text)["page"]
            else:
                page.problems.append(f"{page.name}:{number}: unknown docs-test directive {text!r}")
        fence = FENCE.match(line)
        skip = None
        if pending_skip:
            skip_line, reason = pending_skip
            pending_skip = None
            if fence and fence["language"] == "python" and skip_line == number - 1:
                skip = reason
            else:
                page.problems.append(
                    f"{page.name}:{skip_line}: a docs-test skip must be the line right before "
                    "a ```python fence"
                )
        if not fence:
            continue
        start, body = number, []
        while number < len(lines) and not re.match(rf"^\s*{fence['ticks']}\s*$", lines[number]):
            body.append(lines[number])
            number += 1
        number += 1  # the closing fence
        code = textwrap.dedent("\n".join(body))
        page.blocks.append(Block(page.name, start, fence["language"], code, skip))
    if pending_skip:
        page.problems.append(f"{page.name}:{pending_skip[0]}: a docs-test skip with no block")
    return page


PAGES = {
    _name(p): read_page(p) for p in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))] if p.exists()
}
RUNNABLE = [name for name, page in PAGES.items() if any(not b.skip for b in page.python)]
ILLUSTRATIVE = [b for page in PAGES.values() for b in page.python if b.skip]


def _require_mkdocs() -> None:
    if importlib.util.find_spec("mkdocs") is None:
        reason = "MkDocs is not installed (it comes with the dev extra)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def test_docs_build_strict(tmp_path):
    _require_mkdocs()
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}{result.stdout}"
    built = {p.relative_to(site).as_posix() for p in site.rglob("index.html")}
    expected = {
        "index.html" if p.stem == "index" else f"{p.stem}/index.html" for p in DOCS.glob("*.md")
    }
    assert expected <= built


def test_docs_directives():
    problems = [problem for page in PAGES.values() for problem in page.problems]
    for page in PAGES.values():
        if page.continues and f"docs/{page.continues}" not in PAGES:
            problems.append(f"{page.name}: continues {page.continues}, which is not a docs page")
    assert not problems, "\n".join(problems)


def test_readme_links_resolve():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    broken = []
    for match in LINK.finditer(text):
        target = match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL, or a heading of the README itself
        if not (ROOT / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"README.md links to files that do not exist: {broken}"


def _tables(text: str) -> list[str]:
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current))
            current = []
    return tables


def test_readme_copies_are_in_the_docs():
    """Every code block and table of the README, but its map of the docs, is on a docs page."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Documentation\n")[0]
    pages = [p.read_text(encoding="utf-8") for p in DOCS.glob("*.md")]
    blocks = [b.code for b in read_page(ROOT / "README.md").blocks]
    missing = [
        chunk
        for chunk in [*blocks, *_tables(readme)]
        if chunk in readme and not any(chunk in page for page in pages)
    ]
    assert not missing, "in README.md but on no page under docs/:\n\n" + "\n\n".join(missing)


def _program(block: Block, schema: str) -> Any:
    """The block compiled under the Markdown file's name, its lines where they are there."""
    lines = ["" if PIP_MAGIC.match(line) else line for line in block.code.splitlines()]
    code = SCHEMA_LITERAL.sub(lambda m: f"{m['quote']}{schema}{m['quote']}", "\n".join(lines))
    return compile("\n" * block.line + code, str(ROOT / block.page), "exec")


def _blocks_to_run(name: str, seen: tuple[str, ...] = ()) -> list[Block]:
    page = PAGES[name]
    if name in seen:
        raise AssertionError(f"docs-test continues in a circle: {' -> '.join((*seen, name))}")
    first = []
    if page.continues:
        first = _blocks_to_run(f"docs/{page.continues}", (*seen, name))
    return first + [b for b in page.python if not b.skip]


@contextlib.contextmanager
def _notebook_display(spark: Any) -> Iterator[Callable[..., None]]:
    """``display(df)`` and ``df.display()``, as on Databricks: both collect the DataFrame,
    so a query that cannot run fails the block that shows it."""

    def display(value: Any, *args: Any, **kwargs: Any) -> None:
        if callable(getattr(value, "collect", None)):
            value.collect()

    frame_class = type(spark.range(1))
    previous = vars(frame_class).get("display")
    frame_class.display = lambda self, *args, **kwargs: display(self)
    try:
        yield display
    finally:
        if previous is not None:
            frame_class.display = previous
        else:
            del frame_class.display


def _stop_local_engines(folder: Path) -> None:
    """Stop the local engines an example started with a warehouse in `folder`."""
    from etl_monitor import local

    for path in folder.iterdir():
        if path.is_dir():
            local.stop(path)


@pytest.mark.skipif("sail" not in ENGINE_NAMES, reason="the examples run on the embedded engine")
@pytest.mark.parametrize("engine_name", ["sail"], indirect=True)
@pytest.mark.parametrize("page", RUNNABLE)
def test_page_examples(page, engine_name, spark, schema_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths of the examples (a warehouse) land here
    try:
        with _notebook_display(spark) as display:
            namespace: dict[str, Any] = {"__name__": "__main__", "spark": spark, "display": display}
            for block in _blocks_to_run(page):
                program = _program(block, schema_name)
                try:
                    exec(program, namespace)
                except Exception as error:
                    raise AssertionError(
                        f"{block.page}: the python block at line {block.line} failed: "
                        f"{type(error).__name__}: {error}"
                    ) from error
    finally:
        _stop_local_engines(tmp_path)


@pytest.mark.parametrize("block", ILLUSTRATIVE, ids=lambda b: b.id)
def test_illustrative_example(block):
    _program(block, "etl")  # still Python, even where it cannot run here
    pytest.skip(f"{block.id}: {block.skip}")
