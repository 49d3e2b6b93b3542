"""The JSON form of expressions: ``expr.to_json()`` and :func:`from_json`.

A stored pipeline is a table of nodes in topological order (children
first); each node appears once, so shared subexpressions stay shared::

    {"format": "imalgebra.expression", "version": 1, "root": 2,
     "nodes": [{"leaf": {"kind": "file", "path": "a.mha", "io": "MetaImageIO"}},
               {"leaf": {"kind": "source", "op": "gabor", "params": {...}}},
               {"op": "add", "inputs": {"left": 0, "right": 1}, "params": {"tolerance": null}}]}

``inputs`` maps each input field to a node number (a list for n-ary fields
such as compose's); ``params`` are the node's other fields, so rebuilding
gives the same structural key. Values JSON cannot say exactly are tagged:
``{"$float": "nan"}`` (also ``"inf"``, ``"-inf"``), ``{"$complex": [re, im]}``,
``{"$pixel_type": "UInt8"}``, ``{"$constant": 2.5, "dtype": "float32"}``,
``{"$region": ...}``, ``{"$geometry": ...}``; lists come back as tuples.

Leaves follow a small protocol: a leaf that can be stored has
``to_json_leaf() -> dict`` with a ``"kind"``; :func:`from_json` dispatches on
it: ``"file"`` reopens the file lazily (``imalgebra.io.lazy.open(path,
io=...)``, only the header is read), ``"source"`` rebuilds a generated source
(:mod:`.ops.sources`). An in-memory :class:`~imalgebra.Image` cannot be
stored: write it to a file and use ``ia.open(path)`` in the expression.

Example
-------
>>> import imalgebra as ia
>>> g = ia.gabor(size=(32, 32), frequency=0.05)
>>> e = ia.rescale_intensity(g * 2 + 1)
>>> ia.from_json(e.to_json()).equals(e)
True
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

from imalgebra.algebra.expr import Expr, Node, Reduction, is_node
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.graph import toposort
from imalgebra.algebra.operand import Constant
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageAlgebraError

__all__ = ["FORMAT", "VERSION", "SerializationError", "from_json", "to_json"]

FORMAT = "imalgebra.expression"
VERSION = 1


class SerializationError(ImageAlgebraError, ValueError):
    """An expression cannot be written as JSON, or a JSON text is not a stored expression."""


# -- values ---------------------------------------------------------------------
def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def encode_value(value: Any, where: str = "parameter") -> Any:
    """A node parameter as JSON-ready data (see the module notes for the tags)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, PixelType):  # before int: PixelType is an IntEnum
        return {"$pixel_type": value.name}
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, complex):
        return {"$complex": [_encode_float(value.real), _encode_float(value.imag)]}
    if isinstance(value, (tuple, list)):
        return [encode_value(v, where) for v in value]
    if isinstance(value, Constant):
        return {
            "$constant": encode_value(value.value, where),
            "dtype": None if value.dtype is None else value.dtype.name,
        }
    if isinstance(value, Region):
        return {"$region": {"index": list(value.index), "size": list(value.size)}}
    if isinstance(value, Geometry):
        return {
            "$geometry": {f: encode_value(getattr(value, f), where) for f in ("size", "origin", "spacing", "direction")}
        }
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "ndim", None) == 0:
        return encode_value(value.item(), where)
    msg = f"{where}: a value of type {type(value).__name__} ({value!r:.60}) has no JSON form"
    raise SerializationError(msg)


def _decode_float(value: Any) -> float:
    if isinstance(value, dict):
        return float(value["$float"])
    return float(value)


def decode_value(value: Any) -> Any:
    """The parameter that :func:`encode_value` encoded (lists become tuples)."""
    if isinstance(value, list):
        return tuple(decode_value(v) for v in value)
    if not isinstance(value, dict):
        return value
    if "$float" in value:
        return _decode_float(value)
    if "$complex" in value:
        re, im = value["$complex"]
        return complex(_decode_float(re), _decode_float(im))
    if "$pixel_type" in value:
        return PixelType[value["$pixel_type"]]
    if "$constant" in value:
        return Constant(decode_value(value["$constant"]), value.get("dtype"))
    if "$region" in value:
        return Region(**{k: tuple(v) for k, v in value["$region"].items()})
    if "$geometry" in value:
        return Geometry(**{k: decode_value(v) for k, v in value["$geometry"].items()})
    msg = f"unknown tagged value {sorted(value)} in a stored expression"
    raise SerializationError(msg)


# -- nodes ----------------------------------------------------------------------------
def _leaf_entry(leaf: Any) -> dict[str, Any]:
    to_leaf = getattr(leaf, "to_json_leaf", None)
    if to_leaf is None:
        msg = (
            f"an in-memory {type(leaf).__name__} ({leaf!r:.80}) cannot be stored in JSON: its pixels live only "
            "in this process. Write it to a file (ia.write(image, 'name.mha')) and use ia.open('name.mha') "
            "in the expression instead"
        )
        raise SerializationError(msg)
    entry = to_leaf()
    if not isinstance(entry, dict) or "kind" not in entry:
        msg = f"{type(leaf).__name__}.to_json_leaf() must return a dict with a 'kind', got {entry!r:.80}"
        raise SerializationError(msg)
    return {"leaf": entry}


def _node_entry(n: Any, numbers: dict[str, int]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for name in n.input_fields:
        value = getattr(n, name)
        inputs[name] = [numbers[v.key] for v in value] if isinstance(value, tuple) else numbers[value.key]
    params = {
        f.name: encode_value(getattr(n, f.name), f"{n.op_name}.{f.name}")
        for f in attrs.fields(type(n))
        if f.init and f.name not in inputs
    }
    return {"op": n.op_name, "inputs": inputs, "params": params}


def to_json(expr: Node, *, indent: int | None = None) -> str:
    """The JSON text of ``expr`` (also ``expr.to_json()``); :func:`from_json` reads it back.

    Every leaf must be storable: a file (``ia.open``) or a generated source.

    >>> import imalgebra as ia
    >>> import json
    >>> data = json.loads(to_json(ia.gaussian(size=(8, 8)) + 1))
    >>> [n.get("op") or n["leaf"]["kind"] for n in data["nodes"]]
    ['source', 'add']
    """
    if not (is_node(expr) or isinstance(expr, Reduction)):
        msg = f"to_json takes an expression, got {type(expr).__name__}"
        raise TypeError(msg)
    order = toposort(expr)
    numbers: dict[str, int] = {}
    nodes: list[dict[str, Any]] = []
    for n in order:
        if hasattr(n, "to_json_leaf") or not isinstance(n, (Expr, Reduction)):
            entry = _leaf_entry(n)
        else:
            entry = _node_entry(n, numbers)
        numbers[n.key] = len(nodes)
        nodes.append(entry)
    document = {"format": FORMAT, "version": VERSION, "root": numbers[expr.key], "nodes": nodes}
    return json.dumps(document, indent=indent, allow_nan=False)


def _classes() -> dict[str, type]:
    """Node classes by op_name: every imported Expr and Reduction subclass that names its op."""
    import imalgebra  # noqa: F401  # imports every op module, so every node class is registered

    found: dict[str, type] = {}
    stack: list[type] = [*Expr.__subclasses__(), *Reduction.__subclasses__()]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        name = cls.__dict__.get("op_name", "")
        if name and attrs.has(cls):
            found.setdefault(name, cls)
    return found


def _leaf(entry: dict[str, Any], classes: dict[str, type]) -> Any:
    kind = entry.get("kind")
    if kind == "file":
        from imalgebra.io.lazy import open as open_lazy  # algebra never imports io at module level

        return open_lazy(entry["path"], io=entry.get("io"))
    if kind == "source":
        cls = classes.get(entry.get("op", ""))
        if cls is None or not getattr(cls, "is_source", False):
            msg = f"unknown generated source {entry.get('op')!r} in a stored expression"
            raise SerializationError(msg)
        return cls(**{k: decode_value(v) for k, v in entry.get("params", {}).items()})
    msg = f"unknown leaf kind {kind!r} in a stored expression (known: 'file', 'source')"
    raise SerializationError(msg)


def from_json(text: str | bytes) -> Node:
    """The expression stored by ``expr.to_json()``: same nodes, same structural key.

    File leaves are reopened lazily (their headers are read now, their pixels
    when the expression is evaluated); every node is validated again as it is
    rebuilt, so a file whose geometry changed since is reported here.

    >>> import imalgebra as ia
    >>> e = ia.compose(ia.gaussian(size=(8, 8)), ia.gabor(size=(8, 8)))
    >>> ia.from_json(e.to_json()).equals(e)
    True
    """
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as err:
        msg = f"not a JSON text: {err}"
        raise SerializationError(msg) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        msg = f"not a stored imalgebra expression (expected 'format': {FORMAT!r})"
        raise SerializationError(msg)
    if document.get("version") != VERSION:
        msg = f"stored expression version {document.get('version')!r}; this imalgebra reads version {VERSION}"
        raise SerializationError(msg)
    classes = _classes()
    built: list[Any] = []
    for number, entry in enumerate(document.get("nodes", [])):
        try:
            if "leaf" in entry:
                built.append(_leaf(entry["leaf"], classes))
                continue
            cls = classes.get(entry.get("op", ""))
            if cls is None:
                msg = f"unknown operation {entry.get('op')!r}"
                raise SerializationError(msg)
            inputs = {
                name: tuple(built[i] for i in ref) if isinstance(ref, list) else built[ref]
                for name, ref in entry.get("inputs", {}).items()
            }
            params = {k: decode_value(v) for k, v in entry.get("params", {}).items()}
            built.append(cls(**inputs, **params))
        except SerializationError as err:
            msg = f"node {number}: {err}"
            raise SerializationError(msg) from None
        except (KeyError, IndexError, TypeError) as err:
            msg = f"node {number} of the stored expression is malformed: {err!r}"
            raise SerializationError(msg) from None
    root = document.get("root")
    if not isinstance(root, int) or not 0 <= root < len(built):
        msg = f"the stored expression's root {root!r} is not one of its {len(built)} nodes"
        raise SerializationError(msg)
    return built[root]
