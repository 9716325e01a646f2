"""How a failed task's exception is written down: its message, type name and traceback.

A task's body may raise anything: an exception whose ``__str__`` raises or returns a
non-string, whose ``__repr__`` raises too, whose message holds lone surrogates (which
UTF-8 cannot encode, so the engine would refuse the row) or runs to megabytes, an
exception group, a long ``raise ... from ...`` chain, a ``BaseException`` that is not an
``Exception``, a class whose metaclass gives it an odd ``__name__``. Recording the
failure must work for all of them, or the step is left RUNNING: so `describe_exception`
never raises, and what it returns is valid UTF-8 and fits the columns.
"""

from __future__ import annotations

import traceback
from typing import NamedTuple

from etl_monitor.tracking.states import CANCELLED, FAIL

#: The longest LogMessage (and StackTrace) written: the log_message argument's limit.
MAX_TEXT = 1_000_000
#: The longest ExceptionType written: a class name longer than this is cut.
MAX_TYPE_NAME = 512

#: The C-level getter of a class's name, which a metaclass cannot override.
_TYPE_NAME = type.__dict__["__name__"]
#: The C-level getter of an exception's args, which a subclass cannot override.
_ARGS = BaseException.__dict__["args"]


class FailureText(NamedTuple):
    """What a FAIL / CANCELLED step records of an exception.

    Attributes:
        message: the exception's own text (``KeyError("it's")`` gives ``it's``), or a
            description saying why it has none.
        exception_type: the exception class's name.
        trace: the formatted traceback, chained and grouped exceptions included.
    """

    message: str
    exception_type: str
    trace: str


def describe_exception(error: BaseException) -> FailureText:
    """The message, type name and traceback of any exception, safe to write; never raises.

    Each text is valid UTF-8 (lone surrogates escaped as ``\\udXXX``) and at most
    `MAX_TEXT` characters (`MAX_TYPE_NAME` for the type), ending (the traceback: with
    its middle replaced) by a note saying how long it was when it is cut.

    Args:
        error: the exception the task's body raised, or the one given to fail().

    Returns:
        The `FailureText` to record.
    """
    kind = type_name(type(error))
    message = safe_text(_message(error, kind))
    return FailureText(message, kind, safe_text(_trace(error, kind, message), keep_tail=True))


def failure_status(error: BaseException) -> str:
    """CANCELLED for an interrupt or a successful exit, FAIL for anything else; never raises.

    ``KeyboardInterrupt`` and ``SystemExit`` with code 0, ``False`` or ``None`` (what
    ``sys.exit()`` treats as success) cancel; ``SystemExit(1)``, ``SystemExit("why")``,
    ``GeneratorExit`` and other ``BaseException`` subclasses fail.

    Args:
        error: the exception the task's body raised.

    Returns:
        ``CANCELLED`` or ``FAIL``.
    """
    try:
        if isinstance(error, KeyboardInterrupt):
            return CANCELLED
        if isinstance(error, SystemExit):
            code = error.code
            # int.__eq__, not ==: a hostile code's __eq__ decides nothing here.
            if code is None or (isinstance(code, int) and int.__eq__(code, 0) is True):
                return CANCELLED
    except BaseException:  # a hostile .code property: recorded as a failure
        pass
    return FAIL


def type_name(cls: type) -> str:
    """A class's ``__name__``, safe to write; never raises.

    A metaclass may make ``__name__`` raise or return a non-string: then the name the
    class was created with is used.

    Args:
        cls: the exception's class.

    Returns:
        The name, escaped and cut to `MAX_TYPE_NAME` characters.
    """
    try:
        name = cls.__name__
        if not isinstance(name, str):
            name = _TYPE_NAME.__get__(cls, type)
    except BaseException:
        try:
            name = _TYPE_NAME.__get__(cls, type)
        except BaseException:  # not a class at all
            name = "<unknown exception type>"
    return safe_text(_plain(name), MAX_TYPE_NAME)


def safe_text(text: str, limit: int = MAX_TEXT, *, keep_tail: bool = False) -> str:
    """`text` as valid UTF-8 of at most `limit` characters; never raises.

    Lone surrogates (which UTF-8 cannot encode) are written as backslash escapes
    (``"\\ud800"`` becomes the six characters ``\\ud800``); everything else is kept,
    NUL included. A longer text is cut and ends with a note of its full length.

    Args:
        text: any ``str``, a subclass included.
        limit: the most characters returned, the note included (at least 200).
        keep_tail: keep the text's start and end and drop its middle (for a traceback,
            whose last lines name the exception), instead of keeping only its start.

    Returns:
        An exact ``str`` that encodes as UTF-8.
    """
    text = _plain(text)
    size = len(text)
    limit = max(limit, 200)
    if size <= limit:
        escaped = _escape(text)
        if len(escaped) <= limit:
            return escaped
    # Escaping only lengthens a text, so escaping the ends that can be kept is enough.
    room = limit - len(_note(size, limit))
    note = _note(size, room)  # no longer: room < limit
    if not keep_tail:
        return _escape(text[:room])[:room] + note
    head, tail = room - room // 2, room // 2
    return _escape(text[:head])[:head] + note + _escape(text[size - tail :])[-tail:]


def _note(size: int, kept: int) -> str:
    """What a cut text says of itself."""
    return f"\n[... truncated: {size:,} characters in all, {kept:,} kept ...]\n"


def _escape(text: str) -> str:
    """`text` with lone surrogates backslash-escaped, so that it encodes as UTF-8."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _plain(text: str) -> str:
    """An exact ``str`` of a ``str`` subclass's characters (no overridden method is called)."""
    if type(text) is str:
        return text
    if isinstance(text, str):
        return str.__getitem__(text, slice(None))
    return f"<{type_name(type(text))} object, not text>"


def _message(error: BaseException, kind: str) -> str:
    """The exception's own text, or why it has none (never raises)."""
    try:
        args = error.args
        if type(args) is tuple and len(args) == 1 and isinstance(args[0], str):
            return _plain(args[0])  # verbatim, whatever __str__ would make of it
    except BaseException:
        pass
    try:
        return _plain(str(error))
    except BaseException as failure:
        broken = failure
    why = f"<unprintable {kind}: str() raised {_shallow(broken)}>"
    try:
        return f"{why} {_plain(repr(error))}"
    except BaseException as failure:
        return f"{why} <repr() raised {_shallow(failure)} too>"


def _shallow(error: BaseException) -> str:
    """``Type: text`` of an exception raised while describing another, calling none of its methods."""
    kind = type_name(type(error))
    try:
        args = _ARGS.__get__(error, type(error))
        if len(args) == 1 and isinstance(args[0], str):
            return f"{kind}: {_plain(args[0])}"
    except BaseException:
        pass
    return kind


def _trace(error: BaseException, kind: str, message: str) -> str:
    """The formatted traceback, or as much of it as can be formatted (never raises)."""
    try:
        tb = error.__traceback__
    except BaseException:
        tb = None
    try:
        return "".join(traceback.format_exception(type(error), error, tb))
    except BaseException as failure:
        broken = failure
    try:
        frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
    except BaseException:
        frames = ""
    return (
        f"Traceback (most recent call last):\n{frames}{kind}: {message}\n"
        f"<the traceback could not be formatted: {_shallow(broken)}>\n"
    )
