"""The exceptions imalgebra raises.

Every error derives from :class:`ImageAlgebraError` *and* from the built-in it
resembles, so ``except ValueError`` keeps working for callers that do not know
imalgebra, while ``except ia.ImageAlgebraError`` catches everything of ours.

Messages say what is wrong, where (the argument, file or node) and how to fix it.

Example
-------
>>> import imalgebra as ia
>>> try:
...     ia.Image.zeros((4, 4), ia.PixelType.UInt8).with_spacing((1.0, 0.0))
... except ia.GeometryError as err:
...     print(type(err).__mro__[2].__name__)
ValueError
"""

from __future__ import annotations

__all__ = [
    "EvaluationError",
    "GeometryError",
    "ImageAlgebraError",
    "ImageIOError",
    "ImageIndexError",
    "PhysicalSpaceError",
    "PixelTypeError",
]


class ImageAlgebraError(Exception):
    """Base class of every error raised by imalgebra."""


class GeometryError(ImageAlgebraError, ValueError):
    """A size, origin, spacing or direction is invalid or does not match."""


class PhysicalSpaceError(ImageAlgebraError, ValueError):
    """Inputs of an operation do not occupy the same physical space."""


class PixelTypeError(ImageAlgebraError, TypeError):
    """A pixel type or numpy dtype is unsupported or cannot be combined."""


class ImageIndexError(ImageAlgebraError, IndexError):
    """A pixel index or slice is out of range or malformed."""


class ImageIOError(ImageAlgebraError, OSError):
    """A file cannot be read or written; the message names the file."""


class EvaluationError(ImageAlgebraError, RuntimeError):
    """A kernel failed while an expression was evaluated; names the node."""
