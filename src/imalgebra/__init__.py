"""imalgebra: images as physical objects, image processing as algebra.

The values (``PixelType``, ``Geometry``, ``Region``, ``Image``, the numpy
bridge, errors, tolerance) load with the package; operations, evaluators and
file formats load on first use (``ia.cast``, ``ia.read``...), so that
``import imalgebra`` costs little more than numpy and attrs.

>>> import imalgebra as ia
>>> img = ia.Image.zeros((4, 4), ia.PixelType.Float32, spacing=(0.5, 0.5))
>>> img.geometry.size, img.pixel_type.description
((4, 4), '32-bit float')
"""

from __future__ import annotations

import importlib
from typing import Any

# `evaluate` is both a subpackage and the function users call: importing the (light) package here,
# before binding the function, keeps a later `import imalgebra.evaluate.x` from rebinding ia.evaluate.
import imalgebra.evaluate as _evaluate_package
from imalgebra.algebra.arrays import array_view, from_array, to_array
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.metadata import Metadata
from imalgebra.algebra.pixel import PixelType
from imalgebra.algebra.tolerance import Tolerance, current_tolerance, tolerance
from imalgebra.errors import (
    EvaluationError,
    GeometryError,
    ImageAlgebraError,
    ImageIndexError,
    ImageIOError,
    PhysicalSpaceError,
    PixelTypeError,
)

evaluate = _evaluate_package.evaluate

__version__ = "0.1.0"

_MATHS = [
    *("abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "exp", "floor", "imag", "log", "log10"),
    *("maximum", "minimum", "pow", "real", "round", "sign", "sin", "sqrt", "square", "tan", "trunc"),
]

# public name -> module that defines it, imported on first access
_LAZY: dict[str, str] = {
    **dict.fromkeys(_MATHS, "imalgebra.algebra.ops.maths"),
    "cast": "imalgebra.algebra.ops.cast",
    "clamp": "imalgebra.algebra.ops.cast",
    "compose": "imalgebra.algebra.ops.components",
    "select_component": "imalgebra.algebra.ops.components",
    "rescale_intensity": "imalgebra.algebra.ops.intensity",
    "Statistics": "imalgebra.algebra.ops.reductions",
    "statistics": "imalgebra.algebra.ops.reductions",
    "crop": "imalgebra.algebra.ops.regions",
    "extract": "imalgebra.algebra.ops.regions",
    "paste": "imalgebra.algebra.ops.regions",
    "gabor": "imalgebra.algebra.ops.sources",
    "gaussian": "imalgebra.algebra.ops.sources",
    "where": "imalgebra.algebra.ops.where",
    "from_json": "imalgebra.algebra.serialize",
    "SerializationError": "imalgebra.algebra.serialize",
    "parse": "imalgebra.algebra.text",
    "ParseError": "imalgebra.algebra.text",
    "Streamed": "imalgebra.evaluate.streamed",
    "DaskEvaluator": "imalgebra.evaluate.dask",
    "to_dask": "imalgebra.evaluate.dask",
    "read": "imalgebra.io",
    "read_info": "imalgebra.io",
    "write": "imalgebra.io",
    "open": "imalgebra.io.lazy",  # ia.open: a lazy file leaf (shadows the builtin only as ia.open)
}
_SUBMODULES = ("io", "dicom", "data", "testing", "cli")

__all__ = [
    "EvaluationError",
    "Geometry",
    "GeometryError",
    "Image",
    "ImageAlgebraError",
    "ImageIOError",
    "ImageIndexError",
    "Metadata",
    "PhysicalSpaceError",
    "PixelType",
    "PixelTypeError",
    "Region",
    "Tolerance",
    "__version__",
    "array_view",
    "current_tolerance",
    "evaluate",
    "from_array",
    "to_array",
    "tolerance",
    *sorted(_LAZY),
    "dicom",
    "io",
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value: Any = importlib.import_module(f"imalgebra.{name}")
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        msg = f"module 'imalgebra' has no attribute {name!r}"
        raise AttributeError(msg)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_SUBMODULES))
