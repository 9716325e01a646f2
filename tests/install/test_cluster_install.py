"""What ``%pip install lakehouse-etl-monitor`` changes on Databricks Runtime 15.4, 16.4 and 17.3 LTS.

`tests.cluster_install` measures it with pip against each runtime's own versions of our
dependency closure (tests/fixtures/databricks_runtimes). The packages it may upgrade or add are
the ones the README lists, kept here as data: a change in our dependencies (or theirs) that
upgrades or adds another package on a cluster fails here, and so does any downgrade.

The measurement needs the package index: without it the tests skip, except under CI (``CI=true``),
where they fail.
"""

from __future__ import annotations

import os

import pytest

from tests import cluster_install
from tests.cluster_install import RUNTIMES, canonical

#: Per runtime, what the README lists: the packages pip upgrades and the ones it adds (PEP 503
#: names). Everything else the runtime ships stays as it is.
EXPECTED: dict[str, dict[str, set[str]]] = {
    "15.4": {
        "upgrades": {
            "certifi",
            "click",
            "databricks-sdk",
            "protobuf",
            "pydantic",
            "typing-extensions",
        },
        "additions": {
            "annotated-types",
            "markdown-it-py",
            "mdurl",
            "pydantic-core",
            "rich",
            "typing-inspection",
        },
    },
    "16.4": {
        "upgrades": {"certifi", "databricks-sdk", "protobuf"},
        "additions": {"markdown-it-py", "mdurl", "rich"},
    },
    "17.3": {"upgrades": set(), "additions": set()},
}


@pytest.fixture(scope="module")
def package_index() -> None:
    """Skip (fail under CI) when pip cannot reach the package index."""
    if cluster_install.pypi_reachable():
        return
    message = "PyPI is unreachable: pip cannot measure what %pip install changes on a cluster"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: the measurement is required)", pytrace=False)
    pytest.skip(message)


def test_every_runtime_file_names_its_python_and_source() -> None:
    """Each constraint file parses, names its Python version and the release notes it is from."""
    for runtime in RUNTIMES:
        spec = cluster_install.runtime_file(runtime)
        header = spec.path.read_text().split("\n", 1)[0]
        assert header.startswith(f"# Databricks Runtime {runtime} LTS"), header
        assert spec.python in {"3.11", "3.12"}
        assert f"release-notes/runtime/{runtime}lts" in spec.path.read_text()
        assert {"databricks-sdk", "pyyaml", "requests", "click"} <= spec.pins.keys()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_no_downgrades(runtime: str, package_index: None) -> None:
    changes = cluster_install.changes(runtime)
    assert changes.downgrades == (), changes.summary()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_upgrades_and_additions_are_the_listed_ones(runtime: str, package_index: None) -> None:
    changes = cluster_install.changes(runtime)
    measured = {
        "upgrades": {canonical(u.name) for u in changes.upgrades},
        "additions": {canonical(a.name) for a in changes.additions},
    }
    assert measured == EXPECTED[runtime], changes.summary()
    # Every runtime pin in the closure installed here, so each change above was measured.
    assert changes.not_installable == (), changes.summary()
