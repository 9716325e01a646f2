"""What a failed task records of its exception, whatever the exception: no engine needed.

`failures.describe_exception` must never raise and must return text the engine can store
(valid UTF-8, bounded), or the step would stay RUNNING. Every kind here also goes through
the ``with monitor.task(...)`` block's exit path with the engine's reads and writes faked;
tests/engines/test_hostile_failures.py records a compound few of them on each engine.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from etl_monitor.core.arguments import EventArgs, TaskCallArgs
from etl_monitor.tracking import failures, lifecycle
from etl_monitor.tracking.events import EVENTS
from etl_monitor.tracking.failures import (
    MAX_TEXT,
    MAX_TYPE_NAME,
    FailureText,
    describe_exception,
    failure_status,
    safe_text,
    type_name,
)

GROUPS = sys.version_info >= (3, 11)


def raised(error: BaseException) -> BaseException:
    """`error` after a raise, so that it carries a traceback."""
    try:
        raise error
    except BaseException as caught:
        return caught


def chained(outer: BaseException, inner: BaseException, *, cause: bool) -> BaseException:
    """`outer` raised while handling `inner` (``raise outer from inner`` when `cause`)."""
    try:
        try:
            raise inner
        except BaseException as first:
            if cause:
                raise outer from first
            raise outer  # noqa: B904 - an implicit context chain is the point
    except BaseException as caught:
        return caught


class StrRaises(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str is broken")


class StrRaisesBase(Exception):
    def __str__(self) -> str:
        raise SystemExit("str exits")


class StrReturns(Exception):
    def __init__(self, value: object) -> None:
        super().__init__(value, "second")
        self.value = value

    def __str__(self) -> str:
        return self.value  # type: ignore[return-value]


class ReprRaisesToo(Exception):
    def __str__(self) -> str:
        raise ValueError("no str")

    def __repr__(self) -> str:
        raise ValueError("no repr")


class StrRaisesHostile(Exception):
    """__str__ raises an exception whose own __str__ and __repr__ raise."""

    def __str__(self) -> str:
        raise ReprRaisesToo()


class Sneaky(str):
    """A str subclass that lies about itself."""

    def __str__(self) -> str:
        raise RuntimeError("sneaky")

    def encode(self, *args: object, **kwargs: object) -> bytes:
        raise RuntimeError("sneaky encode")


class StrSubclass(Exception):
    def __str__(self) -> str:
        return Sneaky("from a subclass \ud800")


class ArgsRaise(Exception):
    @property
    def args(self):  # type: ignore[override]
        raise RuntimeError("args are broken")

    def __str__(self) -> str:
        return "fine text"


class NotesRaise(Exception):
    """Python 3.11's traceback module reads __notes__ and does not survive this."""

    @property
    def __notes__(self):
        raise RuntimeError("notes are broken")


class TracebackRaises(Exception):
    @property
    def __traceback__(self):  # type: ignore[override]
        raise RuntimeError("traceback is broken")

    @__traceback__.setter
    def __traceback__(self, value: object) -> None:
        pass


class FalseyError(Exception):
    def __bool__(self) -> bool:
        raise RuntimeError("truthiness is broken")


class Stop(BaseException):
    pass


class NameRaisesMeta(type):
    @property
    def __name__(cls):  # type: ignore[override]
        raise RuntimeError("no name")


class NameNotTextMeta(type):
    @property
    def __name__(cls):  # type: ignore[override]
        return 42


class NamelessError(Exception, metaclass=NameRaisesMeta):
    pass


class NumberNamedError(Exception, metaclass=NameNotTextMeta):
    pass


class HostileCode:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq is broken")

    __hash__ = None  # type: ignore[assignment]


def renamed(name: str, qualname: str | None = None, module: object = None) -> type[Exception]:
    cls = type("Renamed", (Exception,), {})
    cls.__name__ = name
    cls.__qualname__ = qualname or name
    if module is not None:
        cls.__module__ = module  # type: ignore[assignment]
    return cls


def context_cycle() -> BaseException:
    first, second = ValueError("first"), KeyError("second")
    first.__context__, second.__context__ = second, first
    return raised(first)


def deep_chain(depth: int) -> BaseException:
    error: BaseException = ValueError("root")
    for n in range(depth):
        link = ValueError(f"link {n}")
        link.__context__ = error
        error = link
    return error


def groups() -> list[tuple[str, Callable[[], BaseException]]]:
    if not GROUPS:
        return []
    return [
        (
            "exception-group",
            lambda: raised(
                ExceptionGroup("many \ud800", [ValueError("one"), StrRaises(), KeyError("k")])  # noqa: F821
            ),
        ),
        (
            "base-exception-group",
            lambda: raised(BaseExceptionGroup("stopped", [Stop("s"), KeyboardInterrupt()])),  # noqa: F821
        ),
        (
            "nested-group",
            lambda: raised(
                ExceptionGroup(  # noqa: F821
                    "outer",
                    [ExceptionGroup("inner", [ReprRaisesToo(), ValueError("\udcff")])],  # noqa: F821
                )
            ),
        ),
    ]


#: Every hostile kind: id -> a factory of the exception.
KINDS: list[tuple[str, Callable[[], BaseException]]] = [
    ("plain", lambda: raised(KeyError("it's"))),
    ("no-args", lambda: raised(ValueError())),
    ("many-args", lambda: raised(ValueError("a", 1, None))),
    ("str-raises", lambda: raised(StrRaises())),
    ("str-raises-with-args", lambda: raised(StrRaises(1, 2))),
    ("str-raises-base-exception", lambda: raised(StrRaisesBase(3))),
    ("str-returns-int", lambda: raised(StrReturns(7))),
    ("str-returns-none", lambda: raised(StrReturns(None))),
    ("str-returns-bytes", lambda: raised(StrReturns(b"\xff"))),
    ("str-returns-str-subclass", lambda: raised(StrSubclass())),
    ("str-and-repr-raise", lambda: raised(ReprRaisesToo())),
    ("str-raises-hostile", lambda: raised(StrRaisesHostile(0))),
    ("bytes-arg", lambda: raised(ValueError(b"\xff\x00"))),
    ("lone-surrogate", lambda: raised(ValueError("\ud800"))),
    ("surrogate-escape", lambda: raised(OSError(b"bad \xff".decode("utf-8", "surrogateescape")))),
    ("surrogate-pair-halves", lambda: raised(ValueError("\ud83d\ude00 x"))),
    ("surrogate-in-qualname", lambda: raised(renamed("Odd", "Odd\ud800Name", module=5)("m"))),
    ("nul", lambda: raised(ValueError("a\x00b"))),
    ("huge", lambda: raised(ValueError("x" * (MAX_TEXT + 123)))),
    ("huge-surrogates", lambda: raised(ValueError("\udc80" * (MAX_TEXT // 2)))),
    ("cause-chain", lambda: chained(RuntimeError("outer"), ValueError("\ud800 inner"), cause=True)),
    ("context-chain", lambda: chained(RuntimeError("outer"), StrRaises(), cause=False)),
    ("context-cycle", context_cycle),
    ("deep-chain", lambda: deep_chain(3000)),
    ("args-raise", lambda: raised(ArgsRaise())),
    ("notes-raise", lambda: raised(NotesRaise("noted"))),
    ("traceback-raises", lambda: TracebackRaises("tb")),
    ("falsey", lambda: raised(FalseyError("falsey"))),
    ("base-exception", lambda: raised(Stop("stop"))),
    ("generator-exit", lambda: raised(GeneratorExit())),
    ("system-exit-1", lambda: raised(SystemExit(1))),
    ("system-exit-0", lambda: raised(SystemExit(0))),
    ("system-exit-hostile-code", lambda: raised(SystemExit(HostileCode()))),
    ("keyboard-interrupt", lambda: raised(KeyboardInterrupt())),
    ("name-raises", lambda: raised(NamelessError("nameless"))),
    ("name-not-text", lambda: raised(NumberNamedError("numbered"))),
    ("odd-name", lambda: raised(renamed("Load error\n<ü> 💥")("odd"))),
    ("huge-name", lambda: raised(renamed("N" * 5000)("long"))),
    ("never-raised", lambda: ValueError("no traceback")),
    *groups(),
]


def _check_text(text: str, limit: int) -> None:
    assert type(text) is str
    text.encode("utf-8")  # valid UTF-8: no lone surrogates left (else UnicodeEncodeError)
    assert len(text) <= limit


@pytest.mark.parametrize("make", [k[1] for k in KINDS], ids=[k[0] for k in KINDS])
def test_every_kind_is_described_safely(make: Callable[[], BaseException]) -> None:
    error = make()
    described = describe_exception(error)
    assert isinstance(described, FailureText)
    _check_text(described.message, MAX_TEXT)
    _check_text(described.exception_type, MAX_TYPE_NAME)
    _check_text(described.trace, MAX_TEXT)
    assert described.exception_type and described.trace
    assert failure_status(error) in ("FAIL", "CANCELLED")


def test_ordinary_messages_are_verbatim() -> None:
    assert describe_exception(KeyError("it's")).message == "it's"
    text = "bad row 'x' -- \"y\"; \\n\nline2 ü 💥"
    assert describe_exception(ValueError(text)).message == text
    assert describe_exception(ValueError("a", 1, None)).message == "('a', 1, None)"
    assert describe_exception(ValueError()).message == ""
    assert describe_exception(KeyError("k", "j")).message == "('k', 'j')"


def test_type_and_traceback_of_an_ordinary_exception() -> None:
    described = describe_exception(raised(KeyError("it's")))
    assert described.exception_type == "KeyError"
    assert described.trace.startswith("Traceback (most recent call last):\n")
    assert "raise error" in described.trace and described.trace.endswith('KeyError: "it\'s"\n')


def test_a_broken_str_is_described_with_its_repr() -> None:
    message = describe_exception(raised(StrRaises(1, 2))).message
    assert (
        message
        == "<unprintable StrRaises: str() raised RuntimeError: str is broken> StrRaises(1, 2)"
    )
    assert describe_exception(StrRaises("kept")).message == "kept"  # one text argument: verbatim


def test_a_str_raising_a_base_exception_is_contained() -> None:
    message = describe_exception(StrRaisesBase(3)).message
    assert (
        message
        == "<unprintable StrRaisesBase: str() raised SystemExit: str exits> StrRaisesBase(3)"
    )


@pytest.mark.parametrize(
    "value, kind",
    [(7, "int"), (None, "NoneType"), (b"\xff", "bytes")],
    ids=["int", "none", "bytes"],
)
def test_a_str_returning_no_text_is_described(value: object, kind: str) -> None:
    message = describe_exception(StrReturns(value)).message
    assert message.startswith(
        f"<unprintable StrReturns: str() raised TypeError: __str__ returned non-string (type {kind})>"
    )
    assert message.endswith(f"StrReturns({value!r}, 'second')")


def test_a_str_subclass_becomes_plain_text() -> None:
    message = describe_exception(StrSubclass()).message
    assert type(message) is str and message == "from a subclass \\ud800"
    assert type(safe_text(Sneaky("abc"))) is str and safe_text(Sneaky("abc")) == "abc"


def test_str_and_repr_both_raising() -> None:
    message = describe_exception(ReprRaisesToo()).message
    assert message == (
        "<unprintable ReprRaisesToo: str() raised ValueError: no str> "
        "<repr() raised ValueError: no repr too>"
    )
    # the exception raised by __str__ is hostile too: only its type is named
    hostile = describe_exception(StrRaisesHostile(0)).message
    assert (
        hostile == "<unprintable StrRaisesHostile: str() raised ReprRaisesToo> StrRaisesHostile(0)"
    )


def test_bytes_arguments_are_shown_as_python_shows_them() -> None:
    assert describe_exception(ValueError(b"\xff")).message == "b'\\xff'"
    assert describe_exception(ValueError(b"\xff", 2)).message == "(b'\\xff', 2)"


@pytest.mark.parametrize(
    "text, stored",
    [
        ("\ud800", "\\ud800"),
        ("a\udcffb", "a\\udcffb"),
        ("\ud83d\ude00", "\\ud83d\\ude00"),
        ("ok \U0001f4a5 \ud800!", "ok \U0001f4a5 \\ud800!"),
    ],
)
def test_lone_surrogates_are_escaped_in_message_and_traceback(text: str, stored: str) -> None:
    described = describe_exception(raised(ValueError(text)))
    assert described.message == stored
    assert described.trace.endswith(f"ValueError: {stored}\n")


def test_surrogates_in_a_class_name_reach_the_traceback_escaped() -> None:
    described = describe_exception(raised(renamed("Odd", "Odd\ud800Name", module=5)("m")))
    assert described.exception_type == "Odd"
    assert "Odd\\ud800Name: m" in described.trace


def test_nul_is_kept() -> None:
    described = describe_exception(ValueError("a\x00b"))
    assert described.message == "a\x00b" and "a\x00b" in described.trace


def test_a_huge_message_is_cut_and_says_so() -> None:
    text = "m" * 10 + "x" * (MAX_TEXT + 123) + "END"
    described = describe_exception(raised(ValueError(text)))
    assert len(described.message) <= MAX_TEXT
    assert described.message.startswith("m" * 10 + "x" * 1000)
    note = f"\n[... truncated: {len(text):,} characters in all, 999,934 kept ...]\n"
    assert described.message == text[:999_934] + note  # what it says it kept, verbatim
    # the traceback keeps its start and its end (the exception's last characters)
    assert len(described.trace) <= MAX_TEXT
    assert described.trace.startswith("Traceback (most recent call last):\n")
    assert described.trace.endswith("xxxEND\n") and "truncated:" in described.trace


def test_a_message_at_the_limit_is_not_cut() -> None:
    text = "y" * MAX_TEXT
    assert describe_exception(ValueError(text)).message == text


def test_escaping_that_overflows_the_limit_is_cut_too() -> None:
    described = describe_exception(ValueError("\udc80" * (MAX_TEXT // 2)))  # 6 characters each
    assert len(described.message) <= MAX_TEXT
    assert (
        described.message.startswith("\\udc80" * 100)
        and "truncated: 500,000 characters" in described.message
    )
    assert described.message.encode("utf-8")


def test_safe_text_cuts_at_characters() -> None:
    assert safe_text("abc", 200) == "abc"
    cut = safe_text("é" * 1000 + "\ud800", 300)
    assert len(cut) <= 300 and cut.startswith("é" * 100) and cut.encode("utf-8")
    kept = safe_text("S" * 600 + "E" * 600, 300, keep_tail=True)
    assert kept.startswith("S") and kept.endswith("E") and len(kept) <= 300
    assert safe_text(12, 300) == "<int object, not text>"  # type: ignore[arg-type]


@pytest.mark.skipif(not GROUPS, reason="exception groups are Python 3.11+")
def test_exception_groups_keep_every_member_in_the_traceback() -> None:
    group = raised(ExceptionGroup("many", [ValueError("one \ud800"), StrRaises(), KeyError("k")]))  # noqa: F821
    described = describe_exception(group)
    assert described.exception_type == "ExceptionGroup"
    assert described.message == "many (3 sub-exceptions)"
    for line in ("ValueError: one \\ud800", "StrRaises: <exception str() failed>", "KeyError: 'k'"):
        assert line in described.trace
    base = raised(BaseExceptionGroup("stopped", [Stop("s"), KeyboardInterrupt()]))  # noqa: F821
    described = describe_exception(base)
    assert described.exception_type == "BaseExceptionGroup" and "Stop: s" in described.trace
    assert failure_status(base) == "FAIL"  # a group of interrupts is not an interrupt


def test_chains_are_in_the_traceback() -> None:
    caused = describe_exception(
        chained(RuntimeError("outer"), ValueError("\ud800 inner"), cause=True)
    )
    assert caused.message == "outer" and caused.exception_type == "RuntimeError"
    assert "ValueError: \\ud800 inner" in caused.trace
    assert "direct cause of the following exception" in caused.trace
    context = describe_exception(chained(RuntimeError("outer"), StrRaises(), cause=False))
    assert "During handling of the above exception" in context.trace
    assert "StrRaises: <exception str() failed>" in context.trace
    cycle = describe_exception(context_cycle())
    assert "KeyError: 'second'" in cycle.trace and cycle.trace.endswith("ValueError: first\n")
    deep = describe_exception(deep_chain(3000))
    assert deep.message == "link 2999" and "link 2999" in deep.trace


def test_a_traceback_that_cannot_be_formatted_falls_back() -> None:
    described = describe_exception(raised(NotesRaise("noted")))
    assert described.message == "noted" and "NotesRaise: noted" in described.trace
    if sys.version_info < (3, 12):  # 3.12 formats a broken __notes__ itself
        assert "could not be formatted: RuntimeError: notes are broken" in described.trace
    assert "raise error" in described.trace  # the frames are still there
    broken_tb = describe_exception(TracebackRaises("tb"))
    assert broken_tb.message == "tb" and "TracebackRaises: tb" in broken_tb.trace
    assert describe_exception(raised(ArgsRaise())).message == "fine text"


def test_an_exception_that_is_not_truthy_still_gets_a_traceback() -> None:
    described = describe_exception(raised(FalseyError("falsey")))
    assert described.message == "falsey" and "FalseyError: falsey" in described.trace


@pytest.mark.parametrize(
    "error, status",
    [
        (KeyboardInterrupt(), "CANCELLED"),
        (SystemExit(), "CANCELLED"),
        (SystemExit(None), "CANCELLED"),
        (SystemExit(0), "CANCELLED"),
        (SystemExit(False), "CANCELLED"),
        (SystemExit(1), "FAIL"),
        (SystemExit(2), "FAIL"),
        (SystemExit("why"), "FAIL"),
        (SystemExit(HostileCode()), "FAIL"),
        (GeneratorExit(), "FAIL"),
        (Stop(), "FAIL"),
        (ValueError(), "FAIL"),
    ],
    ids=lambda value: (
        f"{type(value).__name__}({getattr(value, 'code', '')!r})"
        if isinstance(value, SystemExit) and not isinstance(value.code, HostileCode)
        else type(value).__name__
        if isinstance(value, BaseException)
        else str(value)
    ),
)
def test_failure_status(error: BaseException, status: str) -> None:
    assert failure_status(error) == status


def test_base_exceptions_are_described() -> None:
    assert describe_exception(Stop("stop")).exception_type == "Stop"
    assert describe_exception(GeneratorExit()).exception_type == "GeneratorExit"
    described = describe_exception(raised(SystemExit(1)))
    assert (described.message, described.exception_type) == ("1", "SystemExit")


def test_weird_class_names() -> None:
    assert type_name(NamelessError) == "NamelessError"  # the metaclass's __name__ raises
    assert type_name(NumberNamedError) == "NumberNamedError"  # ...or returns a number
    assert describe_exception(NamelessError("x")).exception_type == "NamelessError"
    assert type_name(renamed("Load error\n<ü> 💥")) == "Load error\n<ü> 💥"
    long = type_name(renamed("N" * 5000))
    assert len(long) <= MAX_TYPE_NAME and long.startswith("N" * 100) and "truncated" in long
    assert type_name(42) == "<unknown exception type>"  # type: ignore[arg-type]


def test_the_helpers_never_raise_even_when_everything_is_broken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise MemoryError("formatting is broken")

    monkeypatch.setattr(failures.traceback, "format_exception", broken)
    monkeypatch.setattr(failures.traceback, "format_tb", broken)
    described = describe_exception(raised(ValueError("v")))
    assert described.message == "v"
    assert described.trace == (
        "Traceback (most recent call last):\nValueError: v\n"
        "<the traceback could not be formatted: MemoryError: formatting is broken>\n"
    )


class FakeBookkeeping:
    """`lifecycle`'s engine calls replaced: a RUNNING step, and the rows it would append."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ctx: Any = SimpleNamespace(user="tester")
        self.written: list[dict[str, Any]] = []
        monkeypatch.setattr(lifecycle, "start", self.start)
        monkeypatch.setattr(lifecycle, "append_events", self.append)

    def start(self, ctx: Any, key: Any, event: Any, expected: Any = None) -> lifecycle.TaskRun:
        state = {"StatusCode": "RUNNING", "Seq": 1, "AttemptNo": 1, "ProcessingDate": None}
        return lifecycle.TaskRun(ctx, key, state, None)

    def append(self, ctx: Any, rows: list[tuple]) -> None:
        self.written.extend(dict(zip(EVENTS.column_names, row, strict=True)) for row in rows)

    def block(self) -> lifecycle.TaskContext:
        call = TaskCallArgs(
            execution_id="e1",
            project_code="CORP",
            process_load="HR_DAILY",
            task_id=1,
            workflow_id=1,
        )
        return lifecycle.TaskContext(self.ctx, call)


@pytest.mark.parametrize("make", [k[1] for k in KINDS], ids=[k[0] for k in KINDS])
def test_the_task_block_records_every_kind(
    make: Callable[[], BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block's exit path, engine-free: every kind ends FAIL or CANCELLED and propagates."""
    fake = FakeBookkeeping(monkeypatch)
    error = make()
    with pytest.raises(BaseException) as info, fake.block() as t:
        raise error
    assert info.value is error  # the original, unchanged
    assert t.bookkeeping_error is None
    status = failure_status(error)
    assert t.status == status
    (row,) = fake.written
    described = describe_exception(error)
    assert (row["StatusCode"], row["ExceptionType"], row["StackTrace"]) == (
        status,
        described.exception_type,
        described.trace,
    )
    if status == "CANCELLED":
        assert (row["LogMessage"], row["LogType"]) == (
            f"{described.exception_type}: cancelled",
            "WARN",
        )
    else:
        assert (row["LogMessage"], row["LogType"]) == (described.message, "ERROR")
    for column in ("LogMessage", "ExceptionType", "StackTrace"):
        row[column].encode("utf-8")


def test_fail_with_a_message_and_a_hostile_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """fail_task()'s path: the caller's message wins; the error still gives type and traceback."""
    fake = FakeBookkeeping(monkeypatch)
    run = fake.start(fake.ctx, None, None)
    key = TaskCallArgs(
        execution_id="e1", project_code="CORP", process_load="HR_DAILY", task_id=1, workflow_id=1
    ).key
    error = raised(ReprRaisesToo())
    event = EventArgs(log_message="given \x00 text", log_code="E1")
    assert lifecycle.fail(fake.ctx, key, event, run, error=error) == "FAIL"
    (row,) = fake.written
    assert (row["LogMessage"], row["LogCode"], row["ExceptionType"]) == (
        "given \x00 text",
        "E1",
        "ReprRaisesToo",
    )
    assert "ReprRaisesToo: <exception str() failed>" in row["StackTrace"]
    assert lifecycle.error_message(error).startswith("<unprintable ReprRaisesToo")
