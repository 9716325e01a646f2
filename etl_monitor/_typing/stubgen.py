"""Write the type stub of `etl_monitor.framework` from the runtime objects.

The public methods of `ETLMonitorFramework` take their parameters from an argument model
(``@takes(Model)``): at run time ``inspect.signature`` shows the model's fields, but a
type checker reading the source sees ``(self, *args, **kwargs)``. The stub written here,
``framework.pyi`` beside ``framework.py``, is what pyright, mypy and the editors read
instead: every public class, function and attribute of the module, with the signatures
``inspect.signature`` gives at run time (the models' fields, their plain annotations and
defaults, keyword-only ones after ``*``), the public instance attributes set in
``__init__``, properties, return annotations and docstrings.

Nothing here names a module of the library: the module comes from the package's public
``ETLMonitorFramework`` and every import in the stub from the ``__module__`` of the object
it names, so a package reorganisation only needs a re-run.

Usage::

    python -m etl_monitor._typing.stubgen           # rewrite framework.pyi
    python -m etl_monitor._typing.stubgen --check   # exit 1 with a diff when it is stale
"""

from __future__ import annotations

import argparse
import ast
import builtins
import collections.abc
import difflib
import enum
import functools
import importlib
import importlib.util
import inspect
import math
import shutil
import subprocess
import sys
import textwrap
import types
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

LINE_LENGTH = 100
INDENT = "    "
#: What the stub's first line says; the command comes from this module's own name.
GENERATOR = __spec__.name if __spec__ is not None else __name__
_NONE_TYPE = type(None)
_UNION_ORIGINS = (typing.Union, types.UnionType)
#: Special forms of `typing` rendered by name (``typing.Any`` -> ``Any``).
_TYPING_FORMS = {
    name: getattr(typing, name)
    for name in ("Any", "NoReturn", "Never", "LiteralString", "Self", "ClassVar", "Final")
    if hasattr(typing, name)
}


class StubError(Exception):
    """The runtime object cannot be written as a stub; the message says what to annotate."""


def target_module() -> types.ModuleType:
    """The module whose stub is written: the one that defines the public ``ETLMonitorFramework``."""
    package = importlib.import_module(GENERATOR.split(".")[0])
    return importlib.import_module(package.ETLMonitorFramework.__module__)


def stub_path(module: types.ModuleType) -> Path:
    """Where the module's stub lives: beside its source, with the ``.pyi`` suffix."""
    if module.__file__ is None:
        raise StubError(f"{module.__name__} has no source file")
    return Path(module.__file__).with_suffix(".pyi")


# -- imports ------------------------------------------------------------------------------


class Imports:
    """The names a stub imports, bound so that none shadows another or a name the stub defines."""

    def __init__(self, module: str, taken: set[str]):
        self.module = module
        self._taken = set(taken)
        self._bound: dict[tuple[str, str], str] = {}  # (module, name) -> local name
        self._plain: set[str] = set()  # whole modules imported (``import builtins``)

    def name(self, module: str, qualname: str) -> str:
        """The text that names ``module.qualname`` in the stub, importing it when needed."""
        top, _, rest = qualname.partition(".")
        if module == self.module:
            local = top
        elif module == "builtins":
            if top in self._taken:
                self._plain.add("builtins")
                return f"builtins.{qualname}"
            local = top
        else:
            local = self._bind(module, top)
        return f"{local}.{rest}" if rest else local

    def _bind(self, module: str, name: str) -> str:
        if (module, name) in self._bound:
            return self._bound[(module, name)]
        local = name
        if local in self._taken:
            local = f"_{module.split('.')[-1]}_{name}"
        while local in self._taken:
            local = f"_{local}"
        self._taken.add(local)
        self._bound[(module, name)] = local
        return local

    def lines(self, package: str) -> list[str]:
        """The import block, sorted and grouped as ruff's isort rules want it."""
        groups: dict[int, list[str]] = {0: [], 1: [], 2: []}
        for module in sorted(self._plain):
            groups[self._section(module, package)].append(f"import {module}")
        by_module: dict[str, list[str]] = {}
        for (module, name), local in self._bound.items():
            by_module.setdefault(module, []).append(name if local == name else f"{name} as {local}")
        for module in sorted(by_module):
            names = sorted(by_module[module], key=_isort_key)
            groups[self._section(module, package)].append(_from_import(module, names))
        blocks = ["\n".join(groups[g]) for g in sorted(groups) if groups[g]]
        return "\n\n".join(blocks).splitlines()

    @staticmethod
    def _section(module: str, package: str) -> int:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names:
            return 0
        return 2 if top == package else 1


def _isort_key(entry: str) -> tuple[int, str]:
    """ruff's ``order-by-type``: CONSTANTS, then Classes, then the rest, each case-sensitively."""
    name = entry.split(" as ")[0]
    if name.isupper() and len(name) > 1:
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return kind, entry


def _from_import(module: str, names: list[str]) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= LINE_LENGTH:
        return line
    body = "".join(f"{INDENT}{n},\n" for n in names)
    return f"from {module} import (\n{body})"


# -- annotations --------------------------------------------------------------------------


def render_type(tp: Any, imports: Imports) -> str:
    """Source text of a (resolved) annotation, registering the imports it needs."""
    if tp is None or tp is _NONE_TYPE:
        return "None"
    if tp is Ellipsis:
        return "..."
    if isinstance(tp, str):
        raise StubError(f"unresolved forward reference {tp!r}")
    if isinstance(tp, typing.ForwardRef):
        raise StubError(f"unresolved forward reference {tp.__forward_arg__!r}")
    for name, form in _TYPING_FORMS.items():
        if tp is form:
            return imports.name("typing", name)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in _UNION_ORIGINS:
        return " | ".join(_unique(render_type(a, imports) for a in args))
    if origin is typing.Annotated:
        return render_type(args[0], imports)
    if origin is typing.Literal:
        values = ", ".join(_literal(v, imports) for v in args)
        return f"{imports.name('typing', 'Literal')}[{values}]"
    if origin is not None:
        return _render_generic(tp, origin, args, imports)
    if isinstance(tp, typing.TypeVar):
        raise StubError(
            f"type variable {tp!r}: a generic public signature needs a hand-written stub"
        )
    if isinstance(tp, typing.NewType):
        return imports.name(tp.__module__, tp.__name__)
    if isinstance(tp, type):
        return imports.name(tp.__module__, tp.__qualname__)
    raise StubError(f"cannot write the annotation {tp!r} as source text")


def _render_generic(tp: Any, origin: Any, args: tuple[Any, ...], imports: Imports) -> str:
    if origin is typing.ClassVar or origin is typing.Final:
        head = imports.name("typing", "ClassVar" if origin is typing.ClassVar else "Final")
    elif isinstance(origin, type):
        head = render_type(origin, imports)
    else:
        raise StubError(f"cannot write the annotation {tp!r} as source text")
    if origin is collections.abc.Callable:
        params, result = args[:-1], args[-1]
        if len(params) == 1 and isinstance(params[0], list):  # Callable[[A, B], R]
            params = tuple(params[0])
        if len(params) == 1 and params[0] is Ellipsis:
            inner = "..."
        else:
            inner = "[" + ", ".join(render_type(a, imports) for a in params) + "]"
        return f"{head}[{inner}, {render_type(result, imports)}]"
    if not args:
        return f"{head}[()]" if origin is tuple else head
    return f"{head}[{', '.join(render_type(a, imports) for a in args)}]"


def _literal(value: Any, imports: Imports) -> str:
    if isinstance(value, enum.Enum):
        return f"{render_type(type(value), imports)}.{value.name}"
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, (str, bytes)):
        return _quote(value)
    raise StubError(f"cannot write the literal {value!r}")


def _quote(value: str | bytes) -> str:
    """A literal in ruff's preferred quotes: double, unless that needs more escapes."""
    text = repr(value)
    prefix = "b" if isinstance(value, bytes) else ""
    has_double = '"' in (value.decode("latin-1") if isinstance(value, bytes) else value)
    if text[len(prefix)] == "'" and not has_double:
        return f'{prefix}"{text[len(prefix) + 1 : -1]}"'
    return text


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def render_default(value: Any) -> str:
    """A default as written in the stub: simple literals as themselves, anything else ``...``."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if type(value) is int:
        return repr(value)
    if type(value) is float and math.isfinite(value):
        return repr(value)
    if type(value) is str:
        return _quote(value)
    return "..."


def _namespace(
    owner: type | None, module: types.ModuleType
) -> tuple[dict[str, Any], dict[str, Any]]:
    localns: dict[str, Any] = {}
    if owner is not None:
        localns[owner.__name__] = owner
    return {**_type_checking_names(module.__name__), **vars(module)}, localns


@functools.cache
def _type_checking_names(module_name: str) -> dict[str, Any]:
    """What the module imports under ``if TYPE_CHECKING:`` (names only annotations use)."""
    module = sys.modules[module_name]
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return {}
    names: dict[str, Any] = {}
    for node in tree.body:
        if not (isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")):
            continue
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom):
                package = module.__package__ if statement.level else None
                source = "." * statement.level + (statement.module or "")
                imported = importlib.import_module(source, package)
                for alias in statement.names:
                    value = getattr(imported, alias.name, None)
                    if value is None:  # a submodule: from package import module
                        value = importlib.import_module(f"{imported.__name__}.{alias.name}")
                    names[alias.asname or alias.name] = value
            elif isinstance(statement, ast.Import):
                for alias in statement.names:
                    top = importlib.import_module(alias.name)
                    if alias.asname:
                        names[alias.asname] = top
                    else:
                        head = alias.name.split(".")[0]
                        names[head] = sys.modules[head]
    return names


def resolve(
    annotations: dict[str, Any], module: types.ModuleType, owner: type | None
) -> dict[str, Any]:
    """The annotations with their forward-reference strings (``from __future__ import
    annotations``) resolved in the defining module, as `typing.get_type_hints` does.

    The strings are resolved as the annotations of a bare class: no Python version then
    turns ``x: T = None`` into ``T | None``, and ``ClassVar`` is allowed. Objects are kept.
    """
    strings = {k: v for k, v in annotations.items() if isinstance(v, str)}
    resolved = dict(annotations)
    if not strings:
        return resolved
    globalns, localns = _namespace(owner, module)
    holder = type("_Annotations", (), {"__annotations__": strings})
    try:
        resolved.update(typing.get_type_hints(holder, globalns, localns))
    except Exception as error:
        where = f"{owner.__qualname__}" if owner else module.__name__
        raise StubError(f"{where}: cannot resolve {strings}: {error}") from error
    return resolved


# -- signatures ---------------------------------------------------------------------------


def _defining_module(function: Any, fallback: types.ModuleType) -> types.ModuleType:
    return sys.modules.get(getattr(function, "__module__", "") or "", fallback)


def render_signature(
    name: str,
    function: Any,
    imports: Imports,
    module: types.ModuleType,
    owner: type | None,
    *,
    bound: bool,
    indent: str = INDENT,
    ellipsis: bool | None = None,
) -> str:
    """``def name(...) -> R:`` as ruff formats it; `bound` leaves the first parameter bare.

    `ellipsis`: the line ends with `` ...`` (default: when the function has no docstring).
    A parameter whose default is None admits None (``x: T = None`` means ``T | None``).
    """
    signature = inspect.signature(function)
    annotations = {p.name: p.annotation for p in signature.parameters.values()}
    annotations = {k: v for k, v in annotations.items() if v is not inspect.Parameter.empty}
    if signature.return_annotation is not inspect.Signature.empty:
        annotations["return"] = signature.return_annotation
    hints = resolve(annotations, _defining_module(function, module), owner)

    parts: list[tuple[str, str]] = []  # each parameter: on one line, and split at its "|"s
    star_written = False
    parameters = list(signature.parameters.values())
    for index, p in enumerate(parameters):
        if p.kind is p.KEYWORD_ONLY and not star_written:
            parts.append(("*", "*"))
            star_written = True
        if p.kind is p.VAR_POSITIONAL:
            star_written = True
        text = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if p.name in hints and not (bound and index == 0):
            members = [render_type(m, imports) for m in _union_members(hints[p.name])]
            if p.default is None and "None" not in members and "Any" not in members:
                members.append("None")
            members = _unique(members)
            default = f" = {render_default(p.default)}" if p.default is not p.empty else ""
            flat = f"{text}: {' | '.join(members)}{default}"
            split = f"{text}: {members[0]}" + "".join(f"\n\0| {m}" for m in members[1:]) + default
            parts.append((flat, split))
        else:
            if p.default is not p.empty:
                text += f"={render_default(p.default)}"
            parts.append((text, text))
        last_positional_only = p.kind is p.POSITIONAL_ONLY and (
            index + 1 == len(parameters) or parameters[index + 1].kind is not p.POSITIONAL_ONLY
        )
        if last_positional_only:
            parts.append(("/", "/"))
    if "return" in hints:
        returns = f" -> {render_type(hints['return'], imports)}"
    elif name == "__init__":
        returns = " -> None"
    else:
        returns = ""
    if ellipsis is None:
        ellipsis = not render_docstring(getattr(function, "__doc__", None), "")
    keyword = "async def" if inspect.iscoroutinefunction(function) else "def"
    reserve = len(" ...") if ellipsis else 0
    return _wrap_def(f"{keyword} {name}", parts, returns, indent, reserve)


def _wrap_def(
    head: str, parts: list[tuple[str, str]], returns: str, indent: str, reserve: int
) -> str:
    """The ``def`` line as ruff formats it: on one line when it fits, else one parameter a
    line with a trailing comma, a parameter too long for its line split before each ``|``."""
    one_line = f"{indent}{head}({', '.join(flat for flat, _ in parts)}){returns}:"
    if len(one_line) + reserve <= LINE_LENGTH:
        return one_line
    inner = indent + INDENT
    lines = []
    for flat, split in parts:
        text = flat if len(f"{inner}{flat},") <= LINE_LENGTH else split.replace("\0", inner)
        lines.append(f"{inner}{text},\n")
    return f"{indent}{head}(\n{''.join(lines)}{indent}){returns}:"


# -- docstrings ---------------------------------------------------------------------------


def render_docstring(doc: str | None, indent: str) -> list[str]:
    """The docstring as the body of a stub definition (ruff-formatted), or nothing."""
    if not doc or not doc.strip():
        return []
    text = inspect.cleandoc(doc).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = [line.rstrip() for line in text.splitlines()]
    if len(lines) == 1:
        line = lines[0]
        if line.endswith('"'):
            line += " "
        return [f'{indent}"""{line}"""']
    out = [f'{indent}"""{lines[0]}']
    out.extend(f"{indent}{line}" if line else "" for line in lines[1:])
    out.append(f'{indent}"""')
    return out


def _body(doc: str | None, indent: str) -> list[str]:
    return render_docstring(doc, indent + INDENT)


def _with_body(head: str, doc: str | None, indent: str) -> list[str]:
    body = _body(doc, indent)
    return [head, *body] if body else [f"{head} ..."]


# -- instance attributes ------------------------------------------------------------------


class _AttributeInference:
    """The types of the public ``self.x`` attributes ``__init__`` sets, from its source.

    An annotated assignment (``self.x: T = ...``) gives T. Otherwise the value: a
    parameter (its annotation), a constant, an f-string, a call of a class (an instance of
    it) or of an annotated function (its return type), ``a or b`` (``a`` without None, or
    ``b``), ``a if c else b``, or an attribute set earlier. Anything else is a `StubError`
    asking for an annotation.
    """

    def __init__(self, cls: type, module: types.ModuleType):
        self.cls, self.module = cls, _defining_module(cls, module)
        self.globals = vars(self.module)
        self.found: dict[str, list[Any]] = {}
        self.annotated: dict[str, Any] = {}
        init = inspect.unwrap(cls.__dict__["__init__"])
        signature = inspect.signature(init)
        params = list(signature.parameters.values())
        self.self_name = params[0].name
        annotations = {p.name: p.annotation for p in params[1:] if p.annotation is not p.empty}
        self.locals: dict[str, list[Any]] = {
            k: _union_members(v) for k, v in resolve(annotations, self.module, cls).items()
        }
        for p in params[1:]:
            if p.kind is p.VAR_POSITIONAL:
                self.locals[p.name] = [tuple]
            elif p.kind is p.VAR_KEYWORD:
                self.locals[p.name] = [dict]
        source = textwrap.dedent(inspect.getsource(init))
        tree = ast.parse(source).body[0]
        if not isinstance(tree, (ast.FunctionDef, ast.AsyncFunctionDef)):
            raise StubError(f"{cls.__qualname__}.__init__ is not a plain function")
        self.tree = tree
        self.first_line = inspect.getsourcelines(init)[1]

    def attributes(self) -> dict[str, list[Any]]:
        for node in self._statements(self.tree.body):
            if isinstance(node, ast.AnnAssign):
                name = self._own(node.target)
                if name is not None:
                    hint = resolve({name: ast.unparse(node.annotation)}, self.module, self.cls)
                    self.annotated[name] = hint[name]
                    self.found.setdefault(name, [])
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self._assign(target, node.value)
        result = {}
        for name, types_ in self.found.items():
            if name.startswith("_"):
                continue
            result[name] = [self.annotated[name]] if name in self.annotated else _dedup(types_)
        return result

    def _statements(self, body: list[ast.stmt]) -> Iterator[ast.stmt]:
        for node in body:
            yield node
            for field_name in ("body", "orelse", "finalbody"):
                yield from self._statements(getattr(node, field_name, []))
            for handler in getattr(node, "handlers", []):
                yield from self._statements(handler.body)

    def _own(self, target: ast.expr) -> str | None:
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == self.self_name
        ):
            return target.attr
        return None

    def _assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
            for t, v in zip(target.elts, value.elts, strict=True):
                self._assign(t, v)
            return
        name = self._own(target)
        if name is not None:
            if name.startswith("_") or name in self.annotated:
                self.found.setdefault(name, [])
                return
            self.found.setdefault(name, []).extend(self._infer(value, name))
        elif isinstance(target, ast.Name):
            try:
                self.locals[target.id] = self._infer(value, target.id)
            except StubError:
                self.locals.pop(target.id, None)

    def _infer(self, node: ast.expr, name: str) -> list[Any]:
        if isinstance(node, ast.Constant):
            return [type(node.value)]
        if isinstance(node, ast.JoinedStr):
            return [str]
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            *left, last = node.values
            out = [t for v in left for t in self._infer(v, name) if t not in (None, _NONE_TYPE)]
            return _dedup(out + self._infer(last, name))
        if isinstance(node, ast.IfExp):
            return _dedup(self._infer(node.body, name) + self._infer(node.orelse, name))
        if isinstance(node, ast.Name) and node.id in self.locals:
            return list(self.locals[node.id])
        own = self._own(node)
        if own is not None and own in self.found:
            return [self.annotated[own]] if own in self.annotated else list(self.found[own])
        if isinstance(node, ast.Call):
            called = self._evaluate(node.func)
            if isinstance(called, type):
                return [called]
            try:
                annotation = inspect.signature(called).return_annotation
            except (TypeError, ValueError):  # not callable, or a builtin without a signature
                annotation = inspect.Signature.empty
            if annotation is not inspect.Signature.empty:
                hint = resolve({"return": annotation}, _defining_module(called, self.module), None)
                return _union_members(hint["return"])
        raise StubError(
            f"{self.cls.__qualname__}.{name} (line {self.first_line + node.lineno - 1}): cannot "
            f"tell the type of {ast.unparse(node)!r}; annotate it: self.{name}: T = ..."
        )

    def _evaluate(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            if node.id in self.globals:
                return self.globals[node.id]
            return getattr(builtins, node.id, None)
        if isinstance(node, ast.Attribute):
            base = self._evaluate(node.value)
            return getattr(base, node.attr, None) if base is not None else None
        return None


def _union_members(tp: Any) -> list[Any]:
    if typing.get_origin(tp) in _UNION_ORIGINS:
        return list(typing.get_args(tp))
    return [tp]


def _dedup(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not any(item is o or item == o for o in out):
            out.append(item)
    return out


# -- classes, functions, module -----------------------------------------------------------


def _is_public(name: str) -> bool:
    return not name.startswith("_")


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


#: Class attributes Python sets itself; never part of a stub.
_IMPLICIT = {
    "__module__",
    "__qualname__",
    "__doc__",
    "__dict__",
    "__weakref__",
    "__annotations__",
    "__firstlineno__",
    "__static_attributes__",
    "__slots__",
    "__orig_bases__",
    "__parameters__",
    "__abstractmethods__",
    "_abc_impl",
}


def _class_members(cls: type) -> list[tuple[str, Any]]:
    return [
        (name, value)
        for name, value in vars(cls).items()
        if name not in _IMPLICIT and (_is_public(name) or _is_dunder(name))
    ]


def render_class(
    cls: type, imports: Imports, module: types.ModuleType, indent: str = ""
) -> list[str]:
    bases = [b for b in cls.__bases__ if b is not object]
    head = f"{indent}class {cls.__name__}"
    if bases:
        head += "(" + ", ".join(render_type(b, imports) for b in bases) + ")"
    head += ":"
    inner = indent + INDENT
    blocks: list[list[str]] = []
    doc = render_docstring(cls.__doc__ if "__doc__" in vars(cls) else None, inner)
    if doc:
        blocks.append(doc)

    attributes: list[str] = []
    own = vars(cls).get("__annotations__", {})
    declared = resolve(dict(own), _defining_module(cls, module), cls)
    for name, hint in declared.items():
        if _is_public(name):
            attributes.append(f"{inner}{name}: {render_type(hint, imports)}")
    if inspect.isfunction(vars(cls).get("__init__")):
        inferred = _AttributeInference(cls, module).attributes()
        for name, hints in inferred.items():
            if name not in declared and name not in vars(cls):
                text = " | ".join(_unique(render_type(h, imports) for h in hints))
                attributes.append(f"{inner}{name}: {text}")
    if attributes:
        blocks.append(attributes)

    for name, value in _class_members(cls):
        if name in declared and not callable(value):
            continue  # written above from its annotation
        block = _render_member(cls, name, value, imports, module, inner)
        if block:
            blocks.append(block)
    if not blocks:
        return [f"{head} ..."]
    return [head, *_join_blocks(blocks)]


def _kind(block: list[str]) -> str:
    first = next(line.strip() for line in block if not line.strip().startswith("@"))
    if first.startswith(("def ", "async def ")):
        return "stub" if block[-1].endswith(": ...") else "def"
    if first.startswith("class "):
        return "class"
    return "line" if len(block) == 1 else "lines"


def _join_blocks(blocks: list[list[str]]) -> list[str]:
    """The blocks with the blank lines of ruff's stub style: none after a ``...`` function
    before another function, none between one-line statements, else one."""
    lines: list[str] = []
    previous = ""
    for block in blocks:
        kind = _kind(block)
        together = (previous == "stub" and kind in ("stub", "def")) or previous == kind == "line"
        if previous and not together:
            lines.append("")
        lines.extend(block)
        previous = kind
    return lines


def _render_member(
    cls: type, name: str, value: Any, imports: Imports, module: types.ModuleType, indent: str
) -> list[str]:
    if isinstance(value, staticmethod):
        function = value.__func__
        head = render_signature(name, function, imports, module, cls, bound=False, indent=indent)
        return [f"{indent}@staticmethod", *_with_body(head, function.__doc__, indent)]
    if isinstance(value, classmethod):
        function = value.__func__
        head = render_signature(name, function, imports, module, cls, bound=True, indent=indent)
        return [f"{indent}@classmethod", *_with_body(head, function.__doc__, indent)]
    if isinstance(value, (property, functools.cached_property)):
        getter = value.fget if isinstance(value, property) else value.func
        if getter is None:
            raise StubError(f"{cls.__qualname__}.{name}: a property without a getter")
        head = render_signature(name, getter, imports, module, cls, bound=True, indent=indent)
        out = [f"{indent}@property", *_with_body(head, getter.__doc__, indent)]
        if isinstance(value, property) and value.fset is not None:
            setter = render_signature(
                name, value.fset, imports, module, cls, bound=True, indent=indent, ellipsis=True
            )
            out += [f"{indent}@{name}.setter", f"{setter} ..."]
        if isinstance(value, property) and value.fdel is not None:
            deleter = render_signature(
                name, value.fdel, imports, module, cls, bound=True, indent=indent, ellipsis=True
            )
            out += [f"{indent}@{name}.deleter", f"{deleter} ..."]
        return out
    if inspect.isfunction(value) or (callable(value) and hasattr(value, "__signature__")):
        overloads = getattr(typing, "get_overloads", lambda _: [])(value)
        out: list[str] = []
        for variant in overloads or [value]:
            head = render_signature(
                name,
                variant,
                imports,
                module,
                cls,
                bound=True,
                indent=indent,
                ellipsis=bool(overloads) or None,
            )
            if overloads:
                out += [f"{indent}@{imports.name('typing', 'overload')}", f"{head} ..."]
            else:
                out += _with_body(head, value.__doc__, indent)
        return out
    if inspect.isclass(value):
        if value.__qualname__ == f"{cls.__qualname__}.{name}":
            return render_class(value, imports, module, indent)
        return [f"{indent}{name} = {render_type(value, imports)}"]
    if _is_dunder(name) or callable(value):
        return []
    return [f"{indent}{name}: {render_type(_value_type(value), imports)}"]


def _value_type(value: Any) -> Any:
    generic = {
        list: list[Any],
        set: set[Any],
        frozenset: frozenset[Any],
        tuple: tuple[Any, ...],
        dict: dict[Any, Any],
    }
    return generic.get(type(value), type(value))


def render_function(
    name: str, function: Any, imports: Imports, module: types.ModuleType
) -> list[str]:
    head = render_signature(name, function, imports, module, None, bound=False, indent="")
    return _with_body(head, function.__doc__, "")


def _top_level_assignments(module: types.ModuleType) -> list[str]:
    """The names the module's own source binds with ``=`` at its top level, in order."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return []
    names: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name) and leaf.id not in names:
                    names.append(leaf.id)
    return names


def public_names(module: types.ModuleType) -> list[tuple[str, Any]]:
    """The module's public surface: ``__all__`` if it has one, else what it defines itself."""
    namespace = vars(module)
    if "__all__" in namespace:
        return [(name, namespace[name]) for name in namespace["__all__"]]
    assigned = set(_top_level_assignments(module))
    out = []
    for name, value in namespace.items():
        if not _is_public(name) or isinstance(value, types.ModuleType):
            continue
        defined_here = getattr(value, "__module__", None) == module.__name__
        if (inspect.isclass(value) or inspect.isfunction(value)) and not defined_here:
            if name not in assigned:
                continue  # imported: not part of this module's surface
        elif not (inspect.isclass(value) or inspect.isfunction(value)) and name not in assigned:
            continue  # imported constants and `from __future__` features
        out.append((name, value))
    return out


def _member_names(value: Any, module: types.ModuleType) -> set[str]:
    """Names a class scope binds (members and instance attributes): an import must not reuse them."""
    if not inspect.isclass(value):
        return set()
    names = set(vars(value))
    if inspect.isfunction(vars(value).get("__init__")):
        names |= set(_AttributeInference(value, module).attributes())
    for nested in vars(value).values():
        if inspect.isclass(nested) and nested.__qualname__.startswith(value.__qualname__ + "."):
            names |= _member_names(nested, module)
    return names


def render_module(module: types.ModuleType) -> str:
    """The stub of `module` as text (before formatting)."""
    surface = public_names(module)
    taken = {name for name, _ in surface}
    for _, value in surface:
        if getattr(value, "__module__", None) == module.__name__:
            taken |= _member_names(value, module)
    imports = Imports(module.__name__, taken)
    annotations = resolve(dict(vars(module).get("__annotations__", {})), module, None)

    blocks: list[list[str]] = []
    for name, value in surface:
        if (
            inspect.isclass(value)
            and value.__module__ == module.__name__
            and value.__name__ == name
        ):
            blocks.append(render_class(value, imports, module))
        elif inspect.isfunction(value) and value.__module__ == module.__name__:
            blocks.append(render_function(name, value, imports, module))
        elif inspect.isclass(value) or inspect.isfunction(value):
            source = getattr(value, "__module__", module.__name__)
            local = imports.name(source, value.__qualname__)
            blocks.append([f"{name} = {local}"] if local != name else [])
        else:
            hint = annotations.get(name, _value_type(value))
            blocks.append([f"{name}: {render_type(hint, imports)}"])
    blocks = [b for b in blocks if b]

    header = [
        f"# Generated by `python -m {GENERATOR}` from the runtime signatures: do not edit.",
        "# Type checkers read this file instead of the module's source.",
    ]
    lines = [*header, *render_docstring(module.__doc__, "")]
    import_lines = imports.lines(module.__name__.split(".")[0])
    if import_lines:
        lines += ["", *import_lines]
    if blocks:
        lines += ["", *_join_blocks(blocks)]
    return "\n".join(lines) + "\n"


# -- formatting and the command -----------------------------------------------------------


def _project_root(path: Path) -> Path:
    for folder in path.parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    return path.parent


def _ruff() -> list[str] | None:
    found = shutil.which("ruff")
    if found:
        return [found]
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    return None


def format_stub(text: str, path: Path) -> str:
    """`text` as ``ruff format`` writes it (with the project's settings) when ruff is installed."""
    ruff = _ruff()
    if ruff is None:
        return text
    root = _project_root(path)
    name = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
    done = subprocess.run(
        [*ruff, "format", "--stdin-filename", name, "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    if done.returncode != 0:
        raise StubError(f"ruff format failed on the stub:\n{done.stderr}")
    return done.stdout


def generate(module: types.ModuleType | None = None) -> tuple[Path, str]:
    """The stub's path and its text, formatted."""
    module = module or target_module()
    path = stub_path(module)
    return path, format_stub(render_module(module), path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {GENERATOR}",
        description="Write the type stub of the framework module from its runtime signatures.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 with a diff when the stub on disk is stale",
    )
    args = parser.parse_args(argv)
    try:
        path, text = generate()
    except StubError as error:
        print(f"stubgen: {error}", file=sys.stderr)
        return 2
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if args.check:
        if current == text:
            print(f"{path.name} is up to date")
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            f"{path.name} (on disk)",
            f"{path.name} (generated)",
        )
        sys.stdout.writelines(diff)
        print(f"\n{path.name} is stale: run python -m {GENERATOR}", file=sys.stderr)
        return 1
    if current != text:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    else:
        print(f"{path.name} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
