"""The text form of expressions: ``str(expr)`` prints it, :func:`parse` reads it back.

The text is Python syntax: operators infix with Python's precedence (only the
parentheses it needs), every other node a function call with its parameters
as keywords, slicing as a subscript, constants as literals (``float32(2.5)``
for a numpy-typed constant), pixel types as ``PixelType.UInt8``::

    clamp((a - b) * 0.5 + c, lower=0.0, upper=100.0)

Leaves (images, lazily opened files) print as names: the names they were
given to :func:`parse`, else ``a``, ``b``, ``c``... in order of first
appearance (depth first, left to right). :func:`leaf_names` gives that
mapping, so ``parse(str(e), **leaf_names(e))`` rebuilds ``e`` exactly (same
structural key). Generated sources print as calls (``gabor(size=(64, 64),
frequency=0.03)``) and need no name.

A subexpression used more than once, or nested deeper than Python's parser
allows, is printed once as an assignment line and used by name after, so the
text stays linear in the size of the graph::

    t1 = a - b
    t1 * t1

:func:`parse` reads this with Python's :mod:`ast` and evaluates an
allow-list of node types (numbers, names, operators, calls of known
functions, subscripts, ``PixelType.X``, assignments to new names); it never
calls :func:`eval`. Errors are :class:`ParseError`, a :class:`SyntaxError`
with the line and column, that name what is wrong and what is allowed.

Example
-------
>>> import imalgebra as ia
>>> a = ia.Image.zeros((4, 4), ia.PixelType.Float32)
>>> b = ia.Image.zeros((4, 4), ia.PixelType.Float32)
>>> e = -(a - b) * 0.5 + b ** 2
>>> str(e)
'-(a - b) * 0.5 + b ** 2'
>>> ia.parse(str(e), a=a, b=b).equals(e)
True
>>> str(ia.parse("x / (y + 1)", x=a, y=b))
'x / (y + 1)'
"""

from __future__ import annotations

import ast
import itertools
import keyword
import math
import operator
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import numpy as np

from imalgebra.algebra.expr import Expr, Node, is_node
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.graph import toposort
from imalgebra.algebra.operand import Constant, coerce
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageAlgebraError

__all__ = ["ParseError", "leaf_names", "parse", "to_text"]

# -- precedence (Python's) -------------------------------------------------------
ATOM = 100
POWER = 14
UNARY = 13
TERM = 12
ARITH = 11
SHIFT = 10
BITAND = 9
BITXOR = 8
BITOR = 7
COMPARE = 6

_BINARY_PRECEDENCE = {
    "**": POWER,
    "*": TERM,
    "/": TERM,
    "//": TERM,
    "%": TERM,
    "@": TERM,
    "+": ARITH,
    "-": ARITH,
    "<<": SHIFT,
    ">>": SHIFT,
    "&": BITAND,
    "^": BITXOR,
    "|": BITOR,
    "<": COMPARE,
    "<=": COMPARE,
    ">": COMPARE,
    ">=": COMPARE,
    "==": COMPARE,
    "!=": COMPARE,
}
_PREFIX = {"-", "~", "+"}
MAX_DEPTH = 60  # nesting printed inline before a subexpression gets its own line (Python's parser has limits)
MAX_TEXT = 10_000_000  # characters parse accepts


class ParseError(ImageAlgebraError, SyntaxError):
    """The text of an expression cannot be read; says where (line, column) and why."""


@attrs.frozen
class _Text:
    text: str
    precedence: int
    depth: int


# -- names for leaves ------------------------------------------------------------
_REGISTRY: dict[int, dict[str, str]] = {}  # id(parsed root) -> {leaf key: name}, while the root lives


def _registry() -> dict[int, dict[str, str]]:
    """The one registry, even if this module was imported twice (pytest's importlib mode does)."""
    return getattr(sys.modules.get(__name__), "_REGISTRY", _REGISTRY)


def _remember_names(root: Any, names: Mapping[str, Node]) -> None:
    """Remember the names ``parse`` gave the leaves of ``root`` (until ``root`` is garbage)."""
    by_key = {leaf.key: name for name, leaf in names.items() if not isinstance(leaf, Expr) or not leaf.inputs}
    if not by_key:
        return
    ident = id(root)
    try:
        weakref.finalize(root, _forget, ident)
    except TypeError:  # not weak-referenceable: names are then not remembered
        return
    _registry()[ident] = by_key  # one dict operation: atomic under the GIL


def _forget(ident: int) -> None:
    _registry().pop(ident, None)


_TEMP = re.compile(r"t[0-9]+\Z")


def _auto_names() -> Iterator[str]:
    letters = "abcdefghijklmnopqrsuvwxyz"  # no 't': t1, t2... are the temporaries
    yield from letters
    for n in itertools.count(1):
        for letter in letters:
            yield f"{letter}{n}"


def _is_leaf(n: Any) -> bool:
    return not isinstance(n, Expr)


def _children(n: Any) -> tuple[Any, ...]:
    return tuple(n.inputs)


def leaf_names(expr: Node) -> dict[str, Node]:
    """The names ``str(expr)`` gives its leaves, as ``{name: leaf}``.

    ``ia.parse(str(expr), **leaf_names(expr))`` rebuilds ``expr``.

    >>> import imalgebra as ia
    >>> a = ia.Image.zeros((2, 2), ia.PixelType.UInt8)
    >>> b = ia.Image.zeros((2, 2), ia.PixelType.UInt8)
    >>> sorted(leaf_names(b - a))
    ['a', 'b']
    >>> leaf_names(b - a)['a'] is b
    True
    """
    return dict(_name_leaves(expr).values())


def _registered(expr: Node, order: list[Any]) -> dict[str, str]:
    registry = _registry()
    if not registry:
        return {}
    found: dict[str, str] = {}
    for n in reversed(order):  # the root first: its names win
        for key, name in dict(registry.get(id(n), {})).items():
            found.setdefault(key, name)
    return found


def _name_leaves(expr: Node, names: Mapping[str, Node] | None = None) -> dict[str, tuple[str, Node]]:
    """``{leaf key: (name, leaf)}`` for every leaf under ``expr``, in order of first appearance.

    A leaf is called by the name in ``names``, else the one ``parse`` gave it,
    else the next free one of a, b, c...
    """
    order = toposort(expr)
    registered = {**_registered(expr, order), **{leaf.key: name for name, leaf in (names or {}).items()}}
    reserved = set(_functions()) | _CONSTANT_NAMES | {"PixelType"}
    used: set[str] = set()
    leaves: list[Any] = []
    seen: set[str] = set()
    stack = [expr]
    while stack:  # depth first, left to right
        n = stack.pop()
        if n.key in seen:
            continue
        seen.add(n.key)
        if _is_leaf(n):
            leaves.append(n)
        else:
            stack.extend(reversed(_children(n)))
    chosen: dict[str, str] = {}
    for leaf in leaves:
        name = registered.get(leaf.key)
        if name and name not in used and name not in reserved and not _TEMP.match(name):
            chosen[leaf.key] = name
            used.add(name)
    auto = _auto_names()
    out: dict[str, tuple[str, Node]] = {}
    for leaf in leaves:
        name = chosen.get(leaf.key)
        if name is None:
            name = next(auto)
            while name in used or name in reserved:
                name = next(auto)
            used.add(name)
        out[leaf.key] = (name, leaf)
    return out


# -- printing -----------------------------------------------------------------------
def _float_text(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, complex):
        return f"complex({_float_text(value.real)}, {_float_text(value.imag)})"
    msg = f"cannot print {type(value).__name__} {value!r} as a number"
    raise TypeError(msg)


def _constant(value: Any) -> _Text:
    """A :class:`~imalgebra.algebra.operand.Constant` operand as text."""
    inner = _scalar_text(value.value)
    if value.dtype is not None:
        return _Text(f"{value.dtype.name}({inner})", ATOM, 1)
    return _Text(inner, UNARY if inner.startswith("-") else ATOM, 1)


def _value_text(value: Any) -> str:
    """A node parameter as a Python literal that :func:`parse` reads back."""
    if isinstance(value, PixelType):
        return f"PixelType.{value.name}"
    if isinstance(value, (bool, int, float, complex)) or value is None:
        return _scalar_text(value)
    if isinstance(value, np.generic):
        return _value_text(value.item())
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (tuple, list)):
        items = [_value_text(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, Region):
        return f"Region(index={_value_text(value.index)}, size={_value_text(value.size)})"
    if isinstance(value, Geometry):
        fields = ", ".join(f"{f}={_value_text(getattr(value, f))}" for f in ("size", "origin", "spacing", "direction"))
        return f"Geometry({fields})"
    if isinstance(value, Constant):
        return _constant(value).text
    msg = f"cannot print a parameter of type {type(value).__name__} ({value!r:.60}) in the text form"
    raise TypeError(msg)


def _wrap(part: _Text, minimum: int) -> str:
    return part.text if part.precedence >= minimum else f"({part.text})"


def _default(field: attrs.Attribute) -> Any:
    default = field.default
    if default is attrs.NOTHING:
        return attrs.NOTHING
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        if default.takes_self:
            return attrs.NOTHING
        try:
            return default.factory()
        except Exception:  # a factory we cannot call here: always print the value
            return attrs.NOTHING
    return default


def _keywords(n: Expr, skip: tuple[str, ...] = ()) -> list[str]:
    """``name=value`` for each parameter, leaving out those at their attrs default."""
    out = []
    for field in attrs.fields(type(n)):
        if not field.init or field.name in skip or field.name in _input_fields(n):
            continue
        value = getattr(n, field.name)
        default = _default(field)
        if default is not attrs.NOTHING and _same(value, default):
            continue
        out.append(f"{field.name}={_value_text(value)}")
    return out


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # incomparable values are different
        return False


def _input_fields(n: Any) -> tuple[str, ...]:
    return _positional_fields(type(n))


def _operand_parts(n: Expr, child: Callable[[Any], _Text]) -> list[_Text]:
    """The printed operands of ``n`` in order: inputs, or left/right with constants."""
    if hasattr(n, "operands"):
        return [child(v) if is_node(v) else _constant(v) for v in n.operands]
    return [child(v) for v in n.inputs]


def _call(name: str, args: list[_Text], keywords: list[str]) -> _Text:
    depth = 1 + max((a.depth for a in args), default=0)
    return _Text(f"{name}(" + ", ".join([a.text for a in args] + keywords) + ")", ATOM, depth)


# Sources print only what differs from the public function's defaults.
def _source_keywords(n: Any) -> list[str]:
    d = len(n.size)
    defaults: dict[str, Any] = {
        "sigma": (16.0,) * d,
        "mean": (32.0,) * d,
        "frequency": 0.4,
        "scale": 255.0,
        "normalized": False,
        "origin": (0.0,) * d,
        "spacing": (1.0,) * d,
        "direction": tuple(float(v) for v in np.eye(d).ravel()),
        "pixel_type": PixelType.Float32,
    }
    out = [f"size={_value_text(n.size)}"]
    for field in attrs.fields(type(n)):
        if not field.init or field.name == "size":
            continue
        value = getattr(n, field.name)
        if field.name in defaults and _same(value, defaults[field.name]):
            continue
        out.append(f"{field.name}={_value_text(value)}")
    return out


def _axis_text(axis: int | tuple[int, int, int], n: int) -> str:
    """One axis of a subscript, as short as it can be while meaning the same pixels."""
    if isinstance(axis, int):
        return str(axis)
    start, step, count = axis
    last = start + step * (count - 1)
    if step > 0:
        first = "" if start == 0 else str(start)
        stop = "" if last + step >= n else str(last + 1)
    else:
        first = "" if start == n - 1 else str(start)
        stop = "" if last + step < 0 else str(last - 1)
    return f"{first}:{stop}" + ("" if step == 1 else f":{step}")


def _slice_text(n: Any, arg: _Text) -> _Text:
    parts = [_axis_text(a, size) for a, size in zip(n.axes, n.arg.geometry.size, strict=True)]
    return _Text(f"{_wrap(arg, ATOM)}[{', '.join(parts)}]", ATOM, arg.depth + 1)


def _format(n: Expr, child: Callable[[Any], _Text]) -> _Text:
    """One node as text, given how its children print."""
    symbol = getattr(type(n), "symbol", "")
    tolerance = getattr(n, "tolerance", None)
    if n.op_name == "slice" and hasattr(n, "axes"):
        return _slice_text(n, child(n.arg))
    if symbol in _BINARY_PRECEDENCE and hasattr(n, "operands") and tolerance is None:
        left, right = _operand_parts(n, child)
        p = _BINARY_PRECEDENCE[symbol]
        if p == POWER:  # right associative; the exponent may be a unary expression
            text = f"{_wrap(left, POWER + 1)} ** {_wrap(right, UNARY)}"
        elif p == COMPARE:  # never chain comparisons
            text = f"{_wrap(left, p + 1)} {symbol} {_wrap(right, p + 1)}"
        else:
            text = f"{_wrap(left, p)} {symbol} {_wrap(right, p + 1)}"
        return _Text(text, p, 1 + max(left.depth, right.depth))
    if symbol in _PREFIX and not hasattr(n, "operands") and len(n.inputs) == 1:
        (arg,) = _operand_parts(n, child)
        return _Text(f"{symbol}{_wrap(arg, UNARY)}", UNARY, arg.depth + 1)
    if getattr(type(n), "is_source", False):
        return _call(n.op_name, [], _source_keywords(n))
    return _call(n.op_name, _operand_parts(n, child), _keywords(n))


def _uses(order: list[Any]) -> dict[str, int]:
    """How many times each node is printed if nothing were shared (edges with multiplicity)."""
    counts: dict[str, int] = {n.key: 0 for n in order}
    for n in order:
        for c in _children(n):
            counts[c.key] += 1
    return counts


def to_text(expr: Node, names: Mapping[str, Node] | None = None) -> str:
    """The text form of ``expr`` (what ``str(expr)`` returns).

    ``names`` (``{name: leaf}``) overrides the names of some leaves.

    >>> import imalgebra as ia
    >>> img = ia.Image.zeros((4, 4), ia.PixelType.Int16)
    >>> to_text(img * 2 + 1, names={"ct": img})
    'ct * 2 + 1'
    """
    order = toposort(expr)
    named = _name_leaves(expr, names)
    uses = _uses(order)
    used_names = {v[0] for v in named.values()} | set(_functions())
    temps = (f"t{k}" for k in itertools.count(1))
    printed: dict[str, _Text] = {}
    lines: list[str] = []
    for n in order:
        if _is_leaf(n):
            printed[n.key] = _Text(named[n.key][0], ATOM, 0)
            continue
        text = _format(n, lambda c: printed[c.key])
        shared = uses[n.key] > 1 and n is not expr
        if (shared or text.depth > MAX_DEPTH) and n is not expr:
            name = next(temps)
            while name in used_names:
                name = next(temps)
            lines.append(f"{name} = {text.text}")
            text = _Text(name, ATOM, 0)
        printed[n.key] = text
    lines.append(printed[expr.key].text)
    return "\n".join(lines)


# -- parsing ---------------------------------------------------------------------
_CONSTANT_NAMES = {"nan", "inf"}
_DTYPE_NAMES = {
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "complex64",
    "complex128",
}
_NOT_FUNCTIONS = {"statistics", "parse", "from_json", "evaluate"}
_FUNCTIONS: dict[str, Callable[..., Any]] = {}
_FUNCTIONS_LOCK = threading.Lock()


def _node_classes() -> dict[str, type]:
    """Every imported Expr subclass with an op_name, by op_name (the generic constructors)."""
    found: dict[str, type] = {}
    stack = list(Expr.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        name = getattr(cls, "op_name", "")
        if name and attrs.has(cls) and "op_name" in cls.__dict__:
            found.setdefault(name, cls)
    return found


def _tuples(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    return value


def _positional_fields(cls: type) -> tuple[str, ...]:
    """The fields positional arguments fill: the operands (images or constants) of voxelwise
    nodes (``operand_fields``, left/right for binary ones), else the input fields."""
    fields = getattr(cls, "operand_fields", None)
    if fields:
        return tuple(fields)
    if hasattr(cls, "operands") or isinstance(getattr(cls, "input_fields", None), property):
        return ("left", "right")
    return tuple(cls.input_fields)  # type: ignore[attr-defined]


def _generic(cls: type) -> Callable[..., Any]:
    """A constructor ``op_name(inputs..., param=value)`` for a node class without a public function."""
    fields = _positional_fields(cls)
    operands = hasattr(cls, "operands")  # these fields take numbers too (as constants)
    op_name = cls.op_name  # type: ignore[attr-defined]

    def build(*args: Any, **kwargs: Any) -> Any:
        if len(fields) == 1 and len(args) > 1:
            args = (tuple(args),)
        if len(args) > len(fields):
            msg = f"{op_name}() takes {len(fields)} positional inputs ({', '.join(fields)}), got {len(args)}"
            raise TypeError(msg)
        values = {}
        for name, value in zip(fields, args, strict=False):
            if operands and not is_node(value):
                operand = coerce(value)
                if operand is None:
                    msg = f"{op_name}: {name} must be an image expression or a number, got {value!r}"
                    raise TypeError(msg)
                value = operand
            values[name] = value
        return cls(**values, **{k: _tuples(v) for k, v in kwargs.items()})

    build.__name__ = op_name
    return build


def _functions() -> dict[str, Callable[..., Any]]:
    """The functions the text form may call, by name (built on first use)."""
    if _FUNCTIONS:
        return _FUNCTIONS
    with _FUNCTIONS_LOCK:
        if _FUNCTIONS:
            return _FUNCTIONS
        import imalgebra

        table: dict[str, Callable[..., Any]] = {}
        for name, cls in _node_classes().items():
            if name != "slice":  # printed as a subscript, a[1:3, ::2]
                table[name] = _generic(cls)
        for name in getattr(imalgebra, "__all__", ()):
            value = getattr(imalgebra, name, None)
            module = getattr(value, "__module__", "") or ""
            public = callable(value) and not isinstance(value, type) and name not in _NOT_FUNCTIONS
            if public and module.startswith("imalgebra.algebra.ops."):
                table[name] = value
        table.setdefault("abs", operator.abs)
        table["complex"] = complex
        table["Region"] = Region
        table["Geometry"] = Geometry
        for dtype in _DTYPE_NAMES:
            table[dtype] = _strong(dtype)
        _FUNCTIONS.update(table)
    return _FUNCTIONS


def _strong(dtype: str) -> Callable[[Any], Any]:
    def build(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float, complex)):
            msg = f"{dtype}() takes one number, got {value!r}"
            raise TypeError(msg)
        return np.dtype(dtype).type(value)

    build.__name__ = dtype
    return build


_BINOPS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", operator.pow),
    ast.BitAnd: ("&", operator.and_),
    ast.BitOr: ("|", operator.or_),
    ast.BitXor: ("^", operator.xor),
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
_NUMBER = (int, float, complex)
_MAX_INT_BITS = 256


class _Reader:
    """Evaluates an allow-listed AST without recursion; one instance per parse."""

    def __init__(self, text: str, leaves: Mapping[str, Node]) -> None:
        self.text = text
        self.lines = text.splitlines() or [""]
        self.leaves = dict(leaves)
        self.assigned: dict[str, Any] = {}
        self.functions = _functions()

    # errors -------------------------------------------------------------------
    def error(self, at: ast.AST | None, message: str) -> ParseError:
        line = getattr(at, "lineno", 1) or 1
        column = (getattr(at, "col_offset", 0) or 0) + 1
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return ParseError(message, ("<expression>", line, column, source))

    def known(self) -> str:
        leaves = ", ".join(sorted(self.leaves)) or "none given"
        names = sorted(n for n in self.functions if n not in _DTYPE_NAMES)
        return f"images: {leaves}; functions: {', '.join(names)}; constants: nan, inf, PixelType.<name>"

    # evaluation ---------------------------------------------------------------
    def run(self, tree: ast.Module) -> Any:
        if not tree.body:
            raise self.error(None, "the expression is empty")
        *assignments, last = tree.body
        for statement in assignments:
            if not (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
            ):
                raise self.error(statement, "only 'name = expression' lines may come before the final expression")
            target = statement.targets[0].id
            self.check_new_name(statement.targets[0], target)
            self.assigned[target] = self.value(statement.value)
        if not isinstance(last, ast.Expr):
            raise self.error(last, "the last line must be an expression (not an assignment or statement)")
        return self.value(last.value)

    def check_new_name(self, at: ast.AST, name: str) -> None:
        if name in self.leaves or name in self.assigned or name in self.functions or name in _CONSTANT_NAMES:
            raise self.error(at, f"'{name}' is already a name here; assign each new name once")

    def value(self, root: ast.AST) -> Any:
        """Post-order, left to right (Python's own order), with an explicit stack."""
        results: list[Any] = []
        stack: list[tuple[ast.AST, bool]] = [(root, False)]
        while stack:
            item, ready = stack.pop()
            if ready:
                results.append(self.combine(item, results))
                continue
            children = self.children(item)
            stack.append((item, True))
            stack.extend((c, False) for c in reversed(children))
        (out,) = results
        return out

    def children(self, item: ast.AST) -> list[ast.AST]:
        if isinstance(item, ast.BinOp):
            if type(item.op) not in _BINOPS:
                raise self.error(item, f"the operator {type(item.op).__name__} is not part of the expression language")
            return [item.left, item.right]
        if isinstance(item, ast.UnaryOp):
            if isinstance(item.op, ast.Not):
                raise self.error(item, "'not' is not allowed: use ~mask (bitwise) or mask == 0")
            return [item.operand]
        if isinstance(item, ast.Compare):
            if len(item.ops) != 1:
                raise self.error(item, "chained comparisons (a < b < c) are not allowed: use (a < b) & (b < c)")
            if type(item.ops[0]) not in _COMPARE:
                raise self.error(item, f"the comparison {type(item.ops[0]).__name__} is not allowed")
            return [item.left, item.comparators[0]]
        if isinstance(item, ast.Call):
            if not isinstance(item.func, ast.Name):
                raise self.error(item, "only named functions can be called, e.g. clamp(a, lower=0.0, upper=1.0)")
            for k in item.keywords:
                if k.arg is None:
                    raise self.error(k, "**keywords are not allowed: write each keyword out")
            for a in item.args:
                if isinstance(a, ast.Starred):
                    raise self.error(a, "*arguments are not allowed: write each argument out")
            return [*item.args, *(k.value for k in item.keywords)]
        if isinstance(item, (ast.Tuple, ast.List)):
            return list(item.elts)
        if isinstance(item, ast.Subscript):
            return [item.value]
        if isinstance(item, ast.NamedExpr):
            return [item.value]
        if isinstance(item, (ast.Name, ast.Constant, ast.Attribute)):
            return []
        if isinstance(item, ast.BoolOp):
            raise self.error(item, "'and'/'or' are not allowed: use & and | on masks")
        raise self.error(item, f"{type(item).__name__} is not part of the expression language")

    def combine(self, item: ast.AST, results: list[Any]) -> Any:
        try:
            return self._combine(item, results)
        except ParseError:
            raise
        except (ImageAlgebraError, TypeError, ValueError, IndexError, ArithmeticError) as err:
            note = f"(in {ast.unparse(item)[:80]!r}, line {item.lineno}, column {item.col_offset + 1})"
            if hasattr(err, "add_note"):
                err.add_note(note)
            else:  # Python 3.10: no add_note; keep the note where 3.11's traceback and callers look
                err.__notes__ = [*getattr(err, "__notes__", []), note]
            raise

    def _combine(self, item: ast.AST, results: list[Any]) -> Any:
        if isinstance(item, ast.Constant):
            if item.value is Ellipsis or not isinstance(item.value, (*_NUMBER, str, bool, type(None))):
                raise self.error(item, f"the literal {item.value!r} is not allowed here")
            return item.value
        if isinstance(item, ast.Name):
            return self.name(item)
        if isinstance(item, ast.Attribute):
            if not (isinstance(item.value, ast.Name) and item.value.id == "PixelType"):
                raise self.error(item, "only PixelType.<name> attributes are allowed")
            if item.attr not in PixelType.__members__:
                raise self.error(
                    item, f"PixelType has no member {item.attr!r}; members: {', '.join(PixelType.__members__)}"
                )
            return PixelType[item.attr]
        if isinstance(item, ast.BinOp):
            right = results.pop()
            left = results.pop()
            symbol, fn = _BINOPS[type(item.op)]
            if self.is_number(left) and self.is_number(right):
                return self.fold(item, symbol, fn, left, right)
            return fn(left, right)
        if isinstance(item, ast.UnaryOp):
            operand = results.pop()
            if isinstance(item.op, ast.Invert) and isinstance(operand, (float, complex)):
                raise self.error(item, "~ takes an integer or an image")
            return _UNARY[type(item.op)](operand)
        if isinstance(item, ast.Compare):
            right = results.pop()
            left = results.pop()
            if not (is_node(left) or is_node(right)):
                raise self.error(item, "a comparison needs an image on one side")
            return _COMPARE[type(item.ops[0])](left, right)
        if isinstance(item, (ast.Tuple, ast.List)):
            n = len(item.elts)
            values = results[len(results) - n :] if n else []
            del results[len(results) - n :]
            return tuple(values)
        if isinstance(item, ast.Call):
            n_args, n_kw = len(item.args), len(item.keywords)
            values = results[len(results) - n_args - n_kw :] if n_args + n_kw else []
            del results[len(results) - n_args - n_kw :]
            fn = self.function(item.func)
            kwargs = {k.arg: _tuples(v) for k, v in zip(item.keywords, values[n_args:], strict=True)}
            return fn(*values[:n_args], **kwargs)
        if isinstance(item, ast.Subscript):
            target = results.pop()
            return self.subscript(item, target)
        if isinstance(item, ast.NamedExpr):
            value = results.pop()
            self.check_new_name(item.target, item.target.id)
            self.assigned[item.target.id] = value
            return value
        raise self.error(item, f"{type(item).__name__} is not part of the expression language")

    @staticmethod
    def is_number(value: Any) -> bool:
        return isinstance(value, _NUMBER) and not isinstance(value, bool)

    def fold(self, item: ast.AST, symbol: str, fn: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
        """Arithmetic between two plain numbers (``-1``, ``2 * 3.5``), with guards against huge results."""
        if symbol == "**" and isinstance(right, int) and isinstance(left, int) and abs(right) > 64:
            raise self.error(item, f"{left} ** {right} is too large a constant")
        if symbol in ("&", "|", "^") and not (isinstance(left, int) and isinstance(right, int)):
            raise self.error(item, f"{symbol} takes integers, got {left!r} and {right!r}")
        try:
            out = fn(left, right)
        except (ArithmeticError, ValueError) as err:
            raise self.error(item, f"cannot compute {left!r} {symbol} {right!r}: {err}") from None
        if isinstance(out, int) and out.bit_length() > _MAX_INT_BITS:
            raise self.error(item, "an integer constant this large is not allowed")
        return out

    def name(self, item: ast.Name) -> Any:
        name = item.id
        if name in self.leaves:
            return self.leaves[name]
        if name in self.assigned:
            return self.assigned[name]
        if name == "nan":
            return math.nan
        if name == "inf":
            return math.inf
        if name == "PixelType":
            raise self.error(item, "PixelType is used with a member name, e.g. PixelType.Float32")
        if name in self.functions:
            raise self.error(item, f"'{name}' is a function; call it, e.g. {name}(...)")
        close = [n for n in self.leaves if n.lower() == name.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise self.error(item, f"unknown name {name!r}{hint}; known {self.known()}")

    def function(self, func: ast.Name) -> Callable[..., Any]:
        name = func.id
        if name in self.leaves or name in self.assigned:
            raise self.error(func, f"'{name}' is an image, not a function")
        fn = self.functions.get(name)
        if fn is None:
            raise self.error(func, f"unknown function {name!r}; known {self.known()}")
        return fn

    def subscript(self, item: ast.Subscript, target: Any) -> Any:
        from imalgebra.algebra.ops.regions import slice_expression

        if not is_node(target):
            raise self.error(item, "only images and expressions can be sliced")
        parts = item.slice.elts if isinstance(item.slice, ast.Tuple) else [item.slice]
        key = []
        for part in parts:
            if isinstance(part, ast.Slice):
                bounds = [self.integer(p) for p in (part.lower, part.upper, part.step)]
                key.append(slice(*bounds))
            elif isinstance(part, ast.Constant) and part.value is Ellipsis:
                key.append(Ellipsis)
            else:
                key.append(self.integer(part))
        if all(isinstance(k, int) for k in key) and len(key) == target.geometry.dimension:
            raise self.error(item, "a pixel index gives a value, not an expression; slice instead (e.g. a[2:3, 4:5])")
        return slice_expression(target, tuple(key))

    def integer(self, part: ast.AST | None) -> int | None:
        if part is None:
            return None
        value = self.value(part)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(part, f"slice bounds must be integers, got {value!r}")
        return value


def parse(text: str, /, **leaves: Node) -> Node:
    """Build the expression that ``text`` describes, over the images named in ``leaves``.

    ``text`` is the text form that ``str(expr)`` prints (Python syntax,
    read with :mod:`ast` and an allow-list, never :func:`eval`). The names
    given here are remembered: ``str`` of the result prints them again.

    Parameters
    ----------
    text
        E.g. ``"clamp((a - b) * 0.5 + c, lower=0, upper=100)"``; lines
        ``name = expression`` may come first.
    **leaves
        The images, lazy leaves or expressions the names stand for.

    Raises
    ------
    ParseError
        A :class:`SyntaxError` with line and column: bad syntax, an unknown
        name (the message lists the known ones), a construct outside the
        language.

    Examples
    --------
    >>> import imalgebra as ia
    >>> a = ia.Image.zeros((4, 4), ia.PixelType.Float32)
    >>> e = ia.parse("rescale_intensity(a * 2, out_max=1)", a=a)
    >>> e.op_name, str(e)
    ('rescale_intensity', 'rescale_intensity(a * 2, out_min=0.0, out_max=1.0)')
    >>> try:
    ...     ia.parse("a + b", a=a)
    ... except SyntaxError as err:
    ...     print(err.msg.split(";")[0], "| line", err.lineno, "column", err.offset)
    unknown name 'b' | line 1 column 5
    """
    if not isinstance(text, str):
        msg = f"parse takes the text of an expression (a str), got {type(text).__name__}"
        raise TypeError(msg)
    if len(text) > MAX_TEXT:
        msg = f"the text has {len(text)} characters; parse accepts up to {MAX_TEXT}"
        raise ParseError(msg, ("<expression>", 1, 1, ""))
    for name, leaf in leaves.items():
        if keyword.iskeyword(name) or name in _CONSTANT_NAMES or name == "PixelType":
            msg = f"parse: {name!r} cannot name an image (it is reserved)"
            raise ValueError(msg)
        if not is_node(leaf):
            msg = f"parse: {name}= must be an image or an expression, got {type(leaf).__name__}"
            raise TypeError(msg)
    try:
        tree = ast.parse(text.strip(), filename="<expression>", mode="exec")
    except SyntaxError as err:
        raise ParseError(
            f"invalid syntax: {err.msg}", ("<expression>", err.lineno or 1, err.offset or 1, err.text or "")
        ) from None
    except (RecursionError, MemoryError):
        msg = "the expression is nested too deeply for Python's parser; name subexpressions on lines of their own"
        raise ParseError(msg, ("<expression>", 1, 1, "")) from None
    result = _Reader(text.strip(), leaves).run(tree)
    if not is_node(result):
        msg = f"the text describes a {type(result).__name__} ({result!r:.40}), not an image expression"
        raise ParseError(msg, ("<expression>", 1, 1, text.strip().splitlines()[-1] if text.strip() else ""))
    if isinstance(result, Expr):
        _remember_names(result, leaves)
    return result
