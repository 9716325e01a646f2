"""One signature per public call: its argument model's fields, in order.

A public method of `ETLMonitorFramework` is written as ``def name(self, a: Model)`` and
decorated with ``@takes(Model)``: callers see (``help()``, ``inspect.signature``, notebook
completion) the model's fields as positional-or-keyword parameters in declaration order,
then its ``KEYWORD_ONLY`` fields; the call is bound, validated and handed over as one
model instance, which the module function takes as it is. The order, names and defaults
are therefore written once, in the model.

Example:
    >>> class Args(_Args):
    ...     project_code: str
    ...     name: str | None = None
    >>> str(signature_of(Args))
    '(project_code: str, name: str | None = None)'
"""

from __future__ import annotations

import functools
import inspect
import operator
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from etl_monitor.core.arguments import Accepts, renamed, validate
from etl_monitor.errors import InvalidArgumentError

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


def _plain(annotation: Any) -> Any:
    """The annotation without its validation metadata: ``Annotated[int, ...] | None`` -> ``int | None``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        accepts = [m.type for m in metadata if isinstance(m, Accepts)]
        return accepts[0] if accepts else _plain(base)
    if origin in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, (_plain(a) for a in typing.get_args(annotation)))
    return annotation


@functools.cache
def signature_of(model: type[BaseModel]) -> inspect.Signature:
    """The call signature a model defines: its fields in order, keyword-only ones last."""
    keyword_only = set(getattr(model, "KEYWORD_ONLY", ()))
    positional, named = [], []
    for name, field in model.model_fields.items():
        kind = (
            inspect.Parameter.KEYWORD_ONLY
            if name in keyword_only
            else inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        default = inspect.Parameter.empty if field.is_required() else field.default
        parameter = inspect.Parameter(
            name, kind, default=default, annotation=_plain(field.annotation)
        )
        (named if name in keyword_only else positional).append(parameter)
    return inspect.Signature([*positional, *named])


def bind(model: type[M], function: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> M:
    """Bind a call to the model's signature and validate it.

    Keyword names a model lists in ``RENAMED`` (earlier names of its fields) are accepted
    and mean the new name.

    Raises:
        InvalidArgumentError: too many, missing, doubled or unknown arguments, or a bad
            value; the message names the argument and what is allowed.
    """
    kwargs = renamed(model, function, kwargs)
    signature = signature_of(model)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as error:
        allowed = ", ".join(signature.parameters)
        raise InvalidArgumentError(
            f"{function}(): {error} (arguments, in order: {allowed})"
        ) from None
    return validate(model, function, **bound.arguments)


def takes(model: type[M]) -> Callable[[Callable[[Any, M], R]], Callable[..., R]]:
    """Decorate ``method(self, a: model)`` so that callers pass the model's fields instead."""

    def decorate(method: Callable[[Any, M], R]) -> Callable[..., R]:
        name = method.__name__

        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> R:
            return method(self, bind(model, name, args, kwargs))

        own = inspect.signature(method)
        this = next(iter(own.parameters.values()))
        parameters = [this, *signature_of(model).parameters.values()]
        wrapper.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.arguments_model = model  # type: ignore[attr-defined] - what the call validates
        del wrapper.__wrapped__  # help() and inspect show the model's signature, not (self, a)
        return wrapper

    return decorate
