"""YAML documents a user hands the library (catalogues, monitoring config): read and parsed.

Whatever the file or text holds, the outcome is a parsed document or the library's
`InvalidArgumentError` naming what is wrong: a missing or unreadable file, bytes that are
not UTF-8, text that is not YAML, or nesting too deep to parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from etl_monitor.errors import InvalidArgumentError


def read_text(path: str | Path, function: str) -> str:
    """A text file's content, decoded as UTF-8.

    Args:
        path: the file.
        function: the public call reading it, for the message.

    Returns:
        The text.

    Raises:
        InvalidArgumentError: not a path, the file cannot be read, or is not UTF-8 text.
    """
    if not isinstance(path, (str, Path)):
        raise InvalidArgumentError(
            f"{function}(): a file path, not a {type(path).__name__}", argument="path"
        )
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InvalidArgumentError(
            f"{function}(): {str(path)[:200]!r} is not UTF-8 text "
            f"({error.reason} at byte {error.start})",
            argument="path",
        ) from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        reason = getattr(error, "strerror", None) or str(error)
        raise InvalidArgumentError(
            f"{function}(): cannot read {str(path)[:200]!r}: {reason}", argument="path"
        ) from None


def is_file(path_or_text: str | Path) -> bool:
    """True when the value names an existing file (False for YAML text, however long)."""
    if isinstance(path_or_text, Path):
        return True
    if "\n" in path_or_text or not path_or_text.strip():
        return False
    try:
        return Path(path_or_text).is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL
        return False


def parse_yaml(text: str, function: str, loader: type[Any] = yaml.SafeLoader) -> Any:
    """Parse YAML text with a safe loader.

    Args:
        text: the document.
        function: the public call parsing it, for the message.
        loader: a `yaml.SafeLoader` subclass.

    Returns:
        The parsed document (None for an empty one).

    Raises:
        InvalidArgumentError: not YAML, or nested too deeply to parse.
    """
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        raise InvalidArgumentError(f"{function}(): not valid YAML: {error}") from None
    except RecursionError:
        raise InvalidArgumentError(f"{function}(): the YAML is nested too deeply to read") from None
