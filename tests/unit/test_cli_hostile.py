"""The CLI under hostile input: every bad value exits 1 with one line, before any engine starts.

Each case replaces one value of a valid command line with a hostile one (empty, blank, a
trailing newline, SQL, NUL, 10,000 characters, emoji, right-to-left text, negative or huge
numbers, impossible dates, missing or garbled files) and runs `etl_monitor.cli.main.run`
in this process. The engine is replaced by a tripwire: a case that starts one fails.
Usage errors (unknown option or command, missing argument) keep exit code 2, and a bug
still prints "internal error" with its traceback (exit code 3).
"""

from __future__ import annotations

import json

import pytest

from etl_monitor.cli import common
from etl_monitor.cli import main as cli_main
from etl_monitor.engine import local
from etl_monitor.errors import InternalError, NotFoundError
from tests.helpers import run_cli

P, L, E = "DEMO", "SALES_DAILY", "exec-1"
LONG = "x" * 10_000

#: Hostile text, by name; each list below picks the ones its value must refuse.
TEXT = {
    "empty": "",
    "blank": "   ",
    "newline": "DEMO\n",
    "sql": "'; DROP TABLE x; --",
    "nul": "DE\x00MO",
    "10k": LONG,
    "emoji": "\U0001f525",
    "rtl": "\u05e9\u05dc\u05d5\u05dd",  # Hebrew text
    "rtl-override": "\u202eDEMO",
    "tab": "DE\tMO",
    "not-utf8": "DEMO\udcff",  # a command-line byte that is not UTF-8
    "leading-dash": "-1",
    "space": "DE MO",
}
NUMBERS = {
    "empty": "",
    "blank": " ",
    "newline": "1\n",
    "abc": "abc",
    "-1": "-1",
    "2**31": str(2**31),
    "2**63": str(2**63),
    "float": "1.5",
    "exponent": "1e3",
    "hex": "0x10",
    "underscore": "1_000",
    "arabic-digit": "\u0663",
    "nul": "1\x00",
    "10k-digits": "9" * 10_000,
    "emoji": "\U0001f525",
}
DATES = {
    "empty": "",
    "blank": " ",
    "month-13": "2026-13-01",
    "feb-30": "2026-02-30",
    "year-1": "0001-01-01",
    "year-9999-end": "9999-12-31",
    "d/m/y": "31/12/2026",
    "compact": "20260409",
    "epoch": "1700000000",
    "newline": "2026-04-09\n",
    "hour-25": "2026-04-09T25:00",
    "abc": "abc",
    "sql": TEXT["sql"],
    "nul": "2026-04-09\x00",
    "10k": LONG,
    "emoji": TEXT["emoji"],
}
IDENTIFIERS = {
    k: TEXT[k]
    for k in ("empty", "blank", "newline", "sql", "nul", "10k", "emoji", "rtl", "rtl-override")
} | {"dot": "a.b", "space": "a b", "backtick": "x`y"}
PATHS = {
    "empty": "",
    "blank": " ",
    "newline": "out\n",
    "nul": "o\x00ut",
    "10k": LONG,
    "long-name": "o" * 300,
    "rtl-override": "\u202eout",
    "leading-space": " out",
}


def cases(command, name, values, positional=False, expect=None):
    """(argv parts, hostile value, the name the message must carry) for each value."""
    return [
        pytest.param(command, name, value, positional, expect or name, id=f"{command}:{name}:{k}")
        for k, value in values.items()
    ]


BASE = {
    "setup": (["setup"], []),
    "maintain": (["maintain"], []),
    "demo": (["demo"], []),
    "status": (["status"], [P, L]),
    "pending": (["pending"], [E, P, L]),
    "watermarks": (["watermarks"], [P, L]),
    "reset": (["reset"], [P, L]),
    "catalogue plan": (["catalogue", "plan"], ["<catalogue>"]),
    "catalogue apply": (["catalogue", "apply", "--confirm"], ["<catalogue>"]),
    "catalogue export": (["catalogue", "export"], []),
    "monitors import": (["monitors", "import"], ["<monitoring>"]),
    "monitors validate": (["monitors", "validate"], []),
    "monitors plan": (["monitors", "plan"], []),
    "monitors apply": (["monitors", "apply", "--confirm"], []),
    "monitors coverage": (["monitors", "coverage"], []),
    "monitors views": (["monitors", "views"], []),
    "alerts plan": (["alerts", "plan", "--warehouse-id", "a7066a8ef796be84"], []),
    "alerts publish": (["alerts", "publish", "--confirm", "--warehouse-id", "abc123"], []),
    "jobs render": (["jobs", "render", "--notebook-folder", "/Shared/etl"], []),
    "jobs publish": (["jobs", "publish", "--confirm"], []),
    "job-runs-view": (["job-runs-view"], []),
}
ENGINE_COMMANDS = list(BASE)

CODES = {k: v for k, v in TEXT.items()} | {"65-chars": "A" * 65, "quote": "DE'MO"}
EXECUTION_IDS = {k: v for k, v in CODES.items() if k != "65-chars"} | {"129-chars": "e" * 129}

HOSTILE = [
    # the process codes and execution ids of the run-time commands
    *(
        case
        for command in ("status", "watermarks", "reset", "pending")
        for argument in ("PROJECT_CODE", "PROCESS_LOAD")
        for case in cases(command, argument, CODES, positional=True)
    ),
    *cases("pending", "EXECUTION_ID", EXECUTION_IDS, positional=True),
    *cases("status", "--execution-id", EXECUTION_IDS),
    *cases("reset", "--execution-id", EXECUTION_IDS),
    # dates and numbers
    *cases("status", "--date", DATES),
    *cases("pending", "--date", DATES),
    *cases("reset", "--date", DATES),
    *cases("pending", "--sequence-id", NUMBERS),
    *cases("reset", "--task-id", NUMBERS),
    *cases("reset", "--workflow-id", NUMBERS),
    *cases("maintain", "--archive-after-days", NUMBERS | {"0": "0", "800000": "800000"}),
    *cases("monitors coverage", "--stale-days", NUMBERS | {"0": "0", "800000": "800000"}),
    # the engine options, every value on one command
    *cases("setup", "--catalog", IDENTIFIERS),
    *cases("setup", "--schema", IDENTIFIERS),
    *cases(
        "setup",
        "--remote",
        {
            "empty": "",
            "blank": " ",
            "http": "http://127.0.0.1:15002",
            "no-host": "sc://",
            "port-99999": "sc://h:99999",
            "port-0": "sc://h:0",
            "path": "sc://h:1/path",
            "newline": "sc://h:1\n",
            "nul": "sc://h\x00:1",
            "10k": "sc://" + LONG,
            "sql": TEXT["sql"],
            "emoji": "sc://\U0001f525:1",
        },
    ),
    *cases(
        "setup",
        "--profile",
        {k: TEXT[k] for k in ("empty", "blank", "newline", "sql", "nul", "10k", "emoji", "rtl")}
        | {"space": "a b", "brackets": "[x]"},
    ),
    *cases(
        "setup",
        "--warehouse",
        {
            k: TEXT[k]
            for k in ("empty", "blank", "newline", "sql", "nul", "10k", "rtl-override", "tab")
        }
        | {
            "quote": "a'b",
            "backslash": "a\\b",
            "backtick": "a`b",
            "long-name": "w" * 300,
            "leading-space": " wh",
        },
    ),
    *cases("setup", "--format", {"xml": "xml", "empty": "", "upper": "JSON", "nl": "json\n"}),
    *cases("setup", "--engine", {"spark": "spark", "empty": "", "nl": "sail\n"}),
    # the engine options are checked on every command
    *(
        pytest.param(c, o, v, False, o, id=f"{c}:{o}:{k}")
        for c in ENGINE_COMMANDS
        for o, k, v in (
            ("--schema", "sql", TEXT["sql"]),
            ("--catalog", "nul", TEXT["nul"]),
            ("--remote", "http", "http://x:1"),
            ("--warehouse", "newline", "wh\n"),
        )
    ),
    # files and folders
    *(
        case
        for command in ("catalogue plan", "catalogue apply", "monitors import")
        for case in cases(
            command,
            "YAML_FILE",
            {
                k: PATHS[k]
                for k in ("empty", "blank", "newline", "nul", "10k", "long-name", "rtl-override")
            }
            | {
                "missing": "<missing>",
                "folder": "<folder>",
                "not-utf8": "<not-utf8>",
                "bad-yaml": "<bad-yaml>",
                "nested-deep": "<deep>",
                "scalar": "<scalar>",
            },
            positional=True,
        )
    ),
    *cases("catalogue export", "--out", PATHS | {"folder": "<folder>", "under-a-file": "<under>"}),
    *cases("sql render", "--out", PATHS | {"a-file": "<scalar>", "under-a-file": "<under>"}),
    *cases("jobs render", "--out", PATHS | {"a-file": "<scalar>", "under-a-file": "<under>"}),
    *cases(
        "jobs render",
        "--job-cluster",
        {
            "empty": "",
            "nul": "c\x00.json",
            "missing": "<missing>",
            "folder": "<folder>",
            "not-utf8": "<not-utf8>",
            "bad-json": "<bad-yaml>",
            "a-list": "<json-list>",
            "nested-deep": "<deep-json>",
        },
    ),
    # the workspace settings of alerts and jobs
    *cases(
        "alerts plan",
        "--warehouse-id",
        {k: TEXT[k] for k in ("empty", "blank", "newline", "sql", "nul", "10k", "emoji", "rtl")}
        | {"dash": "a-b", "65-chars": "a" * 65},
    ),
    *cases(
        "alerts plan",
        "--parent-path",
        {k: TEXT[k] for k in ("empty", "blank", "nul", "10k")}
        | {
            "relative": "Shared/x",
            "trailing-slash": "/Shared/x/",
            "double-slash": "/Shared//x",
            "newline": "/Shared/x\n",
            "rtl-override": "/Shared/\u202ex",
        },
    ),
    *cases(
        "alerts publish",
        "--schedule",
        {k: TEXT[k] for k in ("empty", "blank", "sql", "nul", "10k", "emoji")}
        | {
            "3-fields": "* * *",
            "hour-25": "0 0 25 * * ?",
            "no-question-mark": "0 0/15 * * * *",
            "newline": "0 0/15 * * * ?\n",
        },
    ),
    *cases(
        "alerts plan",
        "--timezone",
        {k: TEXT[k] for k in ("empty", "blank", "sql", "nul", "10k", "emoji", "rtl")}
        | {"mars": "Mars/Base", "traversal": "../../etc/passwd", "newline": "UTC\n"},
    ),
    *cases(
        "jobs render",
        "--notebook-folder",
        {k: TEXT[k] for k in ("empty", "blank", "nul", "10k")}
        | {"relative": "Shared/x", "newline": "/Shared/x\n", "rtl-override": "/\u202ex"},
    ),
    *cases(
        "jobs publish",
        "--name-prefix",
        {k: TEXT[k] for k in ("empty", "blank", "newline", "nul", "10k", "rtl-override", "tab")}
        | {"leading-space": " etl"},
    ),
    *cases(
        "jobs render",
        "--existing-cluster-id",
        {k: TEXT[k] for k in ("empty", "blank", "newline", "sql", "nul", "10k", "emoji", "space")},
    ),
    *cases("jobs render", "--project", {k: TEXT[k] for k in ("empty", "sql", "nul", "emoji")}),
    *cases("jobs publish", "--process", {k: TEXT[k] for k in ("newline", "10k", "rtl", "space")}),
    *cases(
        "job-runs-view",
        "--source",
        {k: TEXT[k] for k in ("empty", "blank", "newline", "sql", "nul", "10k", "emoji")}
        | {"one-part": "x", "three-parts": "a.b.c", "space": "a b.c"},
    ),
    *cases(
        "monitors coverage",
        "--schema-to-check",
        {k: TEXT[k] for k in ("empty", "blank", "newline", "sql", "nul", "10k", "emoji")}
        | {"one-part": "x", "three-parts": "a.b.c"},
    ),
]


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    """A tripwire instead of every engine: a case that gets this far fails."""
    started = []

    def tripwire(*args, **kwargs):
        started.append(args)
        raise RuntimeError("an engine was started")

    monkeypatch.setattr(local, "spark_session", tripwire)
    monkeypatch.setattr(common, "remote_engine", tripwire)
    for name in ("ETL_MONITOR_WAREHOUSE", "ETL_MONITOR_REMOTE"):
        monkeypatch.delenv(name, raising=False)
    return started


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The files the cases name: valid documents, and garbled ones."""
    root = tmp_path_factory.mktemp("hostile")
    written = {
        "<catalogue>": "version: 1\nprojects: []\n",
        "<monitoring>": "catalog_name: main\nmonitored_tables: {}\n",
        "<bad-yaml>": "a: [\n",
        "<deep>": "a: " + "[" * 5_000 + "]" * 5_000 + "\n",
        "<scalar>": "42\n",
        "<json-list>": "[1, 2]\n",
        "<deep-json>": "[" * 100_000 + "]" * 100_000,
    }
    paths = {}
    for token, text in written.items():
        path = root / (token.strip("<>") + ".txt")
        path.write_text(text, encoding="utf-8")
        paths[token] = str(path)
    (root / "not-utf8.txt").write_bytes(b"\xff\xfe\x00garbage")
    paths["<not-utf8>"] = str(root / "not-utf8.txt")
    paths["<folder>"] = str(root)
    paths["<missing>"] = str(root / "missing" / "x.yaml")
    paths["<under>"] = str(root / "scalar.txt" / "out" / "x.yaml")  # a file is in the way
    return paths


def argv(files, command, name=None, value=None, positional=False):
    """The command line of `command` with `name` set to `value` (all options before '--')."""
    if command == "sql render":
        words, args = ["sql", "render"], []
    else:
        words, args = BASE[command]
        words, args = list(words), [files.get(a, a) for a in args]
    if name is not None:
        value = files.get(value, value)
        if positional:
            position = {"EXECUTION_ID": 0, "PROJECT_CODE": -2, "PROCESS_LOAD": -1, "YAML_FILE": 0}
            args[position[name]] = value
        else:
            words += [name, value]
    return [*words, "--", *args] if args else words


def run(capsys, words):
    with pytest.raises(SystemExit) as exit_:
        cli_main.run(words)
    out = capsys.readouterr()
    return exit_.value.code, out.out + out.err


@pytest.mark.parametrize(("command", "name", "value", "positional", "expect"), HOSTILE)
def test_a_hostile_value_is_invalid_input(
    capsys, files, no_engine, command, name, value, positional, expect
):
    code, output = run(capsys, argv(files, command, name, value, positional))
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 1, output[-3000:]
    assert len(lines) == 1, output[-3000:]
    assert lines[0].startswith("invalid input: "), lines[0][:500]
    assert expect in lines[0], lines[0][:500]
    assert "Traceback" not in output
    assert len(lines[0]) < 1000  # a 10,000-character value is shown cut short
    assert not no_engine


def test_there_are_enough_hostile_cases():
    assert len(HOSTILE) >= 100


@pytest.mark.parametrize("command", [*ENGINE_COMMANDS])
def test_the_valid_command_lines_reach_the_engine(capsys, files, no_engine, command):
    """The base of every case is valid: only its hostile value kept the engine from starting."""
    code, output = run(capsys, argv(files, command))
    assert code == 3 and no_engine, output[-3000:]
    assert "an engine was started" in output


class Recorder:
    """A framework that records the call a command makes, then stops it (exit code 3)."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            raise NotFoundError("recorded")

        return call


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (
            ["job-runs-view", "--source", "system.lakeflow"],
            ("create_job_runs_view", ("system.lakeflow",), {}),
        ),
        (
            ["status", P, L, "--date", "2026-04-09", "--execution-id", "abc:1"],
            (
                "get_status",
                (P, L),
                {
                    "processing_date": "2026-04-09",
                    "execution_id": "abc:1",
                    "summary_mode": False,
                },
            ),
        ),
        (
            ["pending", E, P, L, "--sequence-id", "0"],
            ("get_pending_tasks", (E, P, L, None), {"sequence_id": 0}),
        ),
        (
            ["reset", P, L, "--task-id", "2147483647", "--workflow-id", "0", "--force"],
            (
                "status_reset",
                (P, L),
                {
                    "processing_date": None,
                    "execution_id": None,
                    "workflow_id": 0,
                    "task_id": 2147483647,
                    "force": True,
                },
            ),
        ),
        (
            ["maintain", "--archive-after-days", "36500"],
            ("maintain", (), {"archive_after_days": 36500, "vacuum": True}),
        ),
        (
            ["alerts", "plan", "--warehouse-id", "abc123", "--timezone", "Europe/Amsterdam"],
            (
                "publish_alerts",
                (None,),
                {
                    "dry_run": True,
                    "warehouse_id": "abc123",
                    "parent_path": "/Shared/etl_monitor/alerts",
                    "schedule": "0 0/15 * * * ?",
                    "timezone": "Europe/Amsterdam",
                },
            ),
        ),
        (
            ["jobs", "render", "--notebook-folder", "/Shared/etl", "--job-cluster", "<cluster>"],
            (
                "job_definitions",
                ("/Shared/etl", None, None),
                {
                    "name_prefix": "etl_monitor",
                    "existing_cluster_id": None,
                    "job_cluster": {"num_workers": 1},
                    "leave_out_unsupported": False,
                },
            ),
        ),
    ],
    ids=["source", "status", "pending", "reset", "maintain", "alerts", "jobs"],
)
def test_valid_values_reach_the_command_as_given(capsys, monkeypatch, tmp_path, words, expected):
    from etl_monitor.cli import alerts, job_runs, jobs

    cluster = tmp_path / "cluster.json"
    cluster.write_text(json.dumps({"num_workers": 1}), encoding="utf-8")
    recorder = Recorder()
    for module in (cli_main, job_runs, alerts, jobs):
        monkeypatch.setattr(module, "_framework", lambda *args, **kwargs: recorder)
    monkeypatch.setattr(alerts, "workspace_for", lambda where: None)
    code, output = run(capsys, [str(cluster) if w == "<cluster>" else w for w in words])
    assert code == 3 and output.startswith("error: recorded"), output
    assert recorder.calls == [expected]


@pytest.mark.parametrize(
    "words",
    [
        ["setup", "--bogus"],
        ["no-such-command"],
        ["status", P],
        ["maintain", "--archive-after-days"],
        ["setup", "--remote", "sc://127.0.0.1:1", "--warehouse", "wh"],
        ["catalogue", "apply", "<catalogue>"],
        ["alerts", "plan"],
    ],
    ids=[
        "unknown-option",
        "no-such-command",
        "missing-argument",
        "missing-option-value",
        "options-that-exclude-each-other",
        "no-confirm",
        "missing-required-option",
    ],
)
def test_usage_errors_keep_exit_code_2(capsys, files, no_engine, words):
    code, output = run(capsys, [files.get(w, w) for w in words])
    assert code == 2, output
    assert "invalid input" not in output and "Traceback" not in output
    assert not no_engine


def test_values_from_the_environment_are_checked_too(capsys, monkeypatch, no_engine):
    monkeypatch.setenv("ETL_MONITOR_WAREHOUSE", "wh'; DROP TABLE x; --")
    code, output = run(capsys, ["setup"])
    assert code == 1 and output.count("\n") == 1 and "--warehouse" in output, output
    assert not no_engine


def test_options_that_exclude_each_other_are_refused_before_the_engine(capsys, tmp_path, no_engine):
    cluster = tmp_path / "cluster.json"
    cluster.write_text(json.dumps({"num_workers": 1}), encoding="utf-8")
    words = ["jobs", "render", "--notebook-folder", "/x", "--job-cluster", str(cluster)]
    code, output = run(capsys, [*words, "--existing-cluster-id", "0123-456789-abc"])
    assert code == 1 and output.count("\n") == 1, output
    assert "existing_cluster_id or job_cluster" in output
    assert not no_engine


@pytest.mark.parametrize(
    ("error", "label", "traceback"),
    [
        (KeyError("a bug"), "internal error: KeyError", True),
        (InternalError("a check broke"), "internal error: InternalError", True),
        (NotFoundError("no such schema"), "error: no such schema", False),
        (ConnectionRefusedError("refused"), "network error: ConnectionRefusedError", False),
    ],
    ids=["bug", "library-bug", "library-error", "network"],
)
def test_what_is_not_input_keeps_exit_code_3(capsys, monkeypatch, error, label, traceback):
    """A bug prints "internal error" and its traceback; the library's and external errors one line."""

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(cli_main, "_framework", broken)
    code, output = run(capsys, ["setup"])
    assert code == 3 and output.startswith(label), output
    assert ("Traceback" in output) is traceback


@pytest.mark.parametrize(
    ("words", "name"),
    [
        (["maintain", "--archive-after-days", "800000"], "--archive-after-days"),
        (["watermarks", "'; DROP TABLE x; --", L], "PROJECT_CODE"),
    ],
    ids=["maintain-800000", "watermarks-sql"],
)
def test_the_installed_command_exits_1_with_one_line(tmp_path, words, name):
    """As a user runs it: a fresh process, and no engine (no warehouse folder appears)."""
    done = run_cli(*words, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert len(output.strip().splitlines()) == 1 and "Traceback" not in output, output
    assert name in output
    assert not (tmp_path / "etl_monitor_warehouse").exists()
