"""imalgebra: images as physical objects, image processing as algebra.

>>> import imalgebra as ia
>>> img = ia.Image.zeros((4, 4), ia.PixelType.Float32, spacing=(0.5, 0.5))
>>> img.geometry.size, img.pixel_type.description
((4, 4), '32-bit float')
"""

from imalgebra import dicom, io
from imalgebra.algebra.arrays import array_view, from_array, to_array
from imalgebra.algebra.geometry import Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.metadata import Metadata
from imalgebra.algebra.ops.cast import cast, clamp
from imalgebra.algebra.ops.components import compose, select_component
from imalgebra.algebra.ops.intensity import rescale_intensity
from imalgebra.algebra.ops.maths import (
    abs,
    acos,
    asin,
    atan,
    atan2,
    ceil,
    cos,
    exp,
    floor,
    imag,
    log,
    log10,
    maximum,
    minimum,
    pow,
    real,
    round,
    sign,
    sin,
    sqrt,
    square,
    tan,
    trunc,
)
from imalgebra.algebra.ops.reductions import Statistics, statistics
from imalgebra.algebra.ops.regions import crop, extract, paste
from imalgebra.algebra.ops.sources import gabor, gaussian
from imalgebra.algebra.ops.where import where
from imalgebra.algebra.pixel import PixelType
from imalgebra.algebra.serialize import from_json
from imalgebra.algebra.text import parse
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
from imalgebra.evaluate import evaluate
from imalgebra.evaluate.dask import DaskEvaluator, to_dask
from imalgebra.evaluate.streamed import Streamed
from imalgebra.io import read, read_info, write
from imalgebra.io.lazy import open  # ia.open: a lazy file leaf (shadows the builtin only as ia.open)

__version__ = "0.1.0"

__all__ = [
    "DaskEvaluator",
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
    "Statistics",
    "Streamed",
    "Tolerance",
    "__version__",
    "abs",
    "acos",
    "array_view",
    "asin",
    "atan",
    "atan2",
    "cast",
    "ceil",
    "clamp",
    "compose",
    "cos",
    "crop",
    "current_tolerance",
    "dicom",
    "evaluate",
    "exp",
    "extract",
    "floor",
    "from_array",
    "from_json",
    "gabor",
    "gaussian",
    "imag",
    "io",
    "log",
    "log10",
    "maximum",
    "minimum",
    "open",
    "parse",
    "paste",
    "pow",
    "read",
    "read_info",
    "real",
    "rescale_intensity",
    "round",
    "select_component",
    "sign",
    "sin",
    "sqrt",
    "square",
    "statistics",
    "tan",
    "to_array",
    "to_dask",
    "tolerance",
    "trunc",
    "where",
    "write",
]
