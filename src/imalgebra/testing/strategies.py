"""Hypothesis strategies for imalgebra values: pixel types, geometries, images,
regions, images in one physical space, pairs near the tolerance boundary, and
random expression trees.

Designed like :mod:`hypothesis.extra.numpy`: plural names, keyword-only
arguments, ``min_*``/``max_*`` pairs, ``None`` where a default depends on
another argument, small defaults, and :class:`hypothesis.errors.InvalidArgument`
(naming ``argument=value``) for bad arguments, raised when the strategy is first
used, as hypothesis' own strategies do. Examples shrink towards small sizes,
unit spacing, zero origin, the identity direction and zero pixels, and images
print in one short line (``Image(Float32, size=(2, 1), spacing=(0.5, 1.0))``).

Import it explicitly (it needs hypothesis, the ``testing`` extra)::

    from imalgebra.testing import strategies as ist

Example
-------
>>> from hypothesis import given
>>> from imalgebra.testing import strategies as ist
>>> @given(ist.images(pixel_types=ist.pixel_types(scalar=True), dimensions=3, max_side=8))
... def test_slicing_keeps_the_pixel_type(img):
...     assert img[::2, ::2, ::2].pixel_type is img.pixel_type
>>> test_slicing_keeps_the_pixel_type()
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from imalgebra.algebra.geometry import MAX_DIMENSION, MIN_DIMENSION, Geometry, Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.algebra.tolerance import Tolerance, current_tolerance
from imalgebra.errors import GeometryError

__all__ = [
    "OPERATIONS",
    "NearPair",
    "expressions",
    "geometries",
    "images",
    "nearly_same_space",
    "pixel_types",
    "regions",
    "same_space_images",
]

F = TypeVar("F", bound=Callable[..., Any])

try:  # hypothesis' own decorator: lazy validation and a readable repr, `images(dimensions=3)`
    from hypothesis.strategies._internal.utils import defines_strategy as _defines_strategy
except ImportError:  # pragma: no cover - an internal name; without it the strategies still work

    def _defines_strategy(**_kwargs: Any) -> Callable[[F], F]:
        return lambda f: f


def _strategy(f: F) -> F:
    return _defines_strategy()(f)


# -- how hypothesis prints examples -------------------------------------------------
_PRINTED_VALUES = 32  # an image with at most this many pixel values prints them too


def _pretty_image(image: Image, printer: Any, _cycle: bool) -> None:
    """``Image(UInt8, size=(2, 1), array=[[0, 3]])``: the one-line repr, plus the pixels
    of a small image in ``ia.to_array`` order ([z, y, x(, c)]), so a falsifying
    example can be rebuilt."""
    text = repr(image)
    if image.number_of_pixels * image.components <= _PRINTED_VALUES:
        text = f"{text[:-1]}, array={np.asarray(image).tolist()!r})"
    printer.text(text)


def _pretty_repr(value: object, printer: Any, _cycle: bool) -> None:
    printer.text(repr(value))


def _register_printers() -> None:
    """Make hypothesis print images and geometries with their short reprs (it would
    otherwise list every attrs field, storage included)."""
    try:
        from hypothesis.vendor.pretty import for_type_by_name
    except ImportError:  # pragma: no cover - a vendored module; without it, reprs are only longer
        return
    for_type_by_name("imalgebra.algebra.image", "Image", _pretty_image)
    for_type_by_name("imalgebra.algebra.geometry", "Geometry", _pretty_repr)


_register_printers()


# -- argument checks ------------------------------------------------------------
def _check(condition: object, message: str) -> None:
    if not condition:
        raise InvalidArgument(message)


def _check_tristate(value: object, name: str) -> None:
    _check(value is None or isinstance(value, bool), f"{name}={value!r} must be True, False or None")


def _check_int(value: object, name: str, minimum: int) -> int:
    _check(
        isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum,
        f"{name}={value!r} must be an integer >= {minimum}",
    )
    return int(value)  # type: ignore[arg-type]


def _check_number(value: object, name: str, *, positive: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > 0 if positive else True)  # type: ignore[arg-type]
    _check(ok, f"{name}={value!r} must be a finite{' positive' if positive else ''} number")
    return builtins.float(value)  # type: ignore[arg-type]


def _int_range(value: object, name: str, floor: int, ceiling: int, default: tuple[int, int]) -> tuple[int, int]:
    """An int or a (min, max) pair, within [floor, ceiling]."""
    if value is None:
        return default
    if isinstance(value, tuple) and len(value) == 2:
        lo, hi = (_check_int(v, name, floor) for v in value)
    else:
        lo = hi = _check_int(value, name, floor)
    _check(lo <= hi, f"{name}={value!r}: the minimum {lo} is larger than the maximum {hi}")
    _check(hi <= ceiling, f"{name}={value!r} must be at most {ceiling}")
    return lo, hi


def _order(name: str, lo: float, hi: float) -> None:
    _check(lo <= hi, f"min_{name}={lo!r} is larger than max_{name}={hi!r}")


def _as_strategy(value: object, name: str, kind: type) -> st.SearchStrategy[Any]:
    """A strategy as it is, or a single value of ``kind`` as ``st.just``."""
    if isinstance(value, st.SearchStrategy):
        return value
    _check(
        isinstance(value, kind),
        f"{name}={value!r} must be a {kind.__name__} or a strategy for them (e.g. ist.{name}(...))",
    )
    return st.just(value)


# -- pixel types ----------------------------------------------------------------
_T = PixelType
# simplest first: examples shrink towards UInt8, then the other real scalars
_ALL_TYPES = (
    _T.UInt8, _T.Int8, _T.UInt16, _T.Int16, _T.UInt32, _T.Int32, _T.UInt64, _T.Int64, _T.Float32, _T.Float64,
    _T.ComplexFloat32, _T.ComplexFloat64,
    _T.VectorUInt8, _T.VectorInt8, _T.VectorUInt16, _T.VectorInt16, _T.VectorUInt32, _T.VectorInt32,
    _T.VectorUInt64, _T.VectorInt64, _T.VectorFloat32, _T.VectorFloat64,
    _T.LabelUInt8, _T.LabelUInt16, _T.LabelUInt32, _T.LabelUInt64,
)  # fmt: skip


@_strategy
def pixel_types(
    *,
    scalar: bool | None = None,
    integer: bool | None = None,
    float: bool | None = None,  # shadows the builtin: the filter's natural name
    complex: bool | None = None,
    vector: bool | None = None,
    label: bool | None = None,
) -> st.SearchStrategy[PixelType]:
    """Return a strategy for concrete pixel types (never ``Unknown``).

    Each filter is ``None`` (either way), ``True`` (only types with the
    property) or ``False`` (only types without it); filters combine with *and*.
    The properties are the :class:`~imalgebra.PixelType` predicates:

    * ``scalar``: one real component, not a label (``UInt8`` ... ``Float64``);
    * ``integer``: integer components (scalar, vector and label integer types);
    * ``float``: real floating-point components (scalar or vector);
    * ``complex``: ``ComplexFloat32``, ``ComplexFloat64``;
    * ``vector``: ``VectorUInt8`` ... ``VectorFloat64``;
    * ``label``: ``LabelUInt8`` ... ``LabelUInt64``.

    So ``pixel_types(scalar=True)`` gives the ten real scalar types,
    ``pixel_types(scalar=True, integer=True)`` the eight integer ones,
    ``pixel_types(float=True)`` Float32, Float64 and their vector types, and
    ``pixel_types(label=False, complex=False)`` everything but labels and complex.
    Examples shrink towards ``UInt8`` (then the other real scalar types).

    >>> pixel_types(scalar=True, float=True)
    pixel_types(scalar=True, float=True)
    >>> from hypothesis import given
    >>> @given(pixel_types(vector=True, integer=False))
    ... def test_float_vectors(t):
    ...     assert t in (PixelType.VectorFloat32, PixelType.VectorFloat64)
    >>> test_float_vectors()
    """
    filters = {"scalar": scalar, "integer": integer, "float": float, "complex": complex, "vector": vector}
    filters["label"] = label
    for name, value in filters.items():
        _check_tristate(value, name)
    wanted = {name: value for name, value in filters.items() if value is not None}
    chosen = [t for t in _ALL_TYPES if all(getattr(t, f"is_{n}") is v for n, v in wanted.items())]
    _check(chosen, f"no pixel type has {', '.join(f'{n}={v}' for n, v in wanted.items())}; relax a filter")
    return st.sampled_from(chosen)


# -- geometries -------------------------------------------------------------------
_NICE_SPACINGS = (1.0, 0.5, 2.0, 0.25, 3.0, 1.5, 0.1, 0.7, 5.0)
_NICE_ORIGINS = (0.0, 1.0, -1.0, 10.0, -20.5, 100.0, -128.0)
_NICE_ANGLES = (90.0, 180.0, 45.0, 30.0, -60.0)
_MAX_SHEAR = 0.5
_MIN_SHEAR = 0.1
_DIRECTION_KINDS = ("identity", "axes", "rotated", "oblique")


def _nice_floats(lo: float, hi: float, nice: Sequence[float]) -> st.SearchStrategy[float]:
    """Readable values first (they shrink to the first that fits), then any float in [lo, hi]."""
    any_float = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    fits = [v for v in nice if lo <= v <= hi]
    return st.one_of(st.sampled_from(fits), any_float) if fits else any_float


def _snap(matrix: np.ndarray) -> np.ndarray:
    """Round entries within 1e-15 of 0 or +-1 (cos 90 degrees is 6e-17): readable, still orthonormal."""
    out = matrix.copy()
    out[np.abs(out) < 1e-15] = 0.0
    ones = np.abs(np.abs(out) - 1.0) < 1e-15
    out[ones] = np.sign(out[ones])
    return out + 0.0  # no -0.0


def _rotate(matrix: np.ndarray, angles: Sequence[float]) -> np.ndarray:
    """``matrix`` rotated by ``angles`` (degrees) in each plane (0, 1), (0, 2), ..., (d-2, d-1)."""
    d = matrix.shape[0]
    planes = [(i, j) for i in range(d) for j in range(i + 1, d)]
    for (i, j), degrees in zip(planes, angles, strict=True):
        if degrees:
            c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
            rot = np.eye(d)
            rot[i, i], rot[i, j], rot[j, i], rot[j, j] = c, -s, s, c
            matrix = rot @ matrix
    return matrix


def _shear(matrix: np.ndarray, shear: Sequence[float], max_condition: float) -> np.ndarray:
    """``matrix @ N``, N = I + strictly upper ``shear`` with unit columns, halved until cond(N) <= max_condition."""
    d = matrix.shape[0]
    upper = np.zeros((d, d))
    upper[np.triu_indices(d, 1)] = shear
    for _ in range(64):
        oblique = np.eye(d) + upper
        oblique /= np.linalg.norm(oblique, axis=0)
        if np.linalg.cond(oblique) <= max_condition:
            break
        upper /= 2
    return matrix @ oblique


class _GeometrySpec:
    """The strategies one ``geometries(...)`` call draws from, built once (not per example)."""

    def __init__(
        self,
        dims: tuple[int, int],
        sides: tuple[int, int],
        orthogonal: bool | None,
        anisotropic: bool | None,
        spacings: tuple[float, float],
        max_origin: float,
        max_condition: float,
    ) -> None:
        self.dimension = st.integers(*dims)
        self.side = st.integers(*sides)
        self.spacings = spacings
        self.spacing = _nice_floats(*spacings, _NICE_SPACINGS)
        unit = spacings[0] <= 1.0 <= spacings[1]
        modes = {None: ("unit", "isotropic", "anisotropic"), False: ("unit", "isotropic"), True: ("anisotropic",)}
        self.spacing_mode = st.sampled_from([m for m in modes[anisotropic] if unit or m != "unit"])
        self.origin = _nice_floats(-max_origin, max_origin, _NICE_ORIGINS) if max_origin > 0 else None
        kinds = {None: _DIRECTION_KINDS, True: _DIRECTION_KINDS[:3], False: _DIRECTION_KINDS[3:]}
        self.direction_kind = st.sampled_from(kinds[orthogonal])
        self.permutations = {d: st.permutations(range(d)) for d in range(dims[0], dims[1] + 1)}
        self.angle = st.one_of(st.sampled_from(_NICE_ANGLES), st.floats(-180.0, 180.0))
        self.first_shear = st.floats(_MIN_SHEAR, _MAX_SHEAR)
        self.other_shear = st.one_of(st.just(0.0), st.floats(-_MAX_SHEAR, _MAX_SHEAR))
        self.max_condition = max_condition

    def draw_spacing(self, draw: Any, d: int) -> tuple[float, ...]:
        mode = draw(self.spacing_mode)
        if mode == "unit":
            return (1.0,) * d
        if mode == "isotropic":
            return (draw(self.spacing),) * d
        spacing = [draw(self.spacing) for _ in range(d)]
        if len(set(spacing)) == 1:  # make it anisotropic: move axis 0 to a bound
            spacing[0] = self.spacings[0] if spacing[0] != self.spacings[0] else self.spacings[1]
        return tuple(spacing)

    def draw_direction(self, draw: Any, d: int) -> tuple[float, ...]:
        kind = draw(self.direction_kind)
        if kind == "identity":
            return tuple(np.eye(d).ravel())
        order = draw(self.permutations[d])
        flips = [draw(st.booleans()) for _ in range(d)]
        matrix = np.eye(d)[:, list(order)] @ np.diag([-1.0 if f else 1.0 for f in flips])
        if kind in ("rotated", "oblique"):
            matrix = _rotate(matrix, [draw(self.angle) for _ in range(d * (d - 1) // 2)])
        if kind == "oblique":
            first = draw(self.first_shear) * (-1.0 if draw(st.booleans()) else 1.0)
            rest = [draw(self.other_shear) for _ in range(d * (d - 1) // 2 - 1)]
            matrix = _shear(matrix, [first, *rest], self.max_condition)
        return tuple(builtins.float(v) for v in _snap(matrix).ravel())


@st.composite
def _draw_geometry(draw: Any, spec: _GeometrySpec) -> Geometry:
    d = draw(spec.dimension)
    size = tuple(draw(spec.side) for _ in range(d))
    placed = spec.origin is not None and draw(st.booleans())
    origin = tuple(draw(spec.origin) for _ in range(d)) if placed else (0.0,) * d
    spacing = spec.draw_spacing(draw, d)
    return Geometry(size=size, origin=origin, spacing=spacing, direction=spec.draw_direction(draw, d))


@_strategy
def geometries(
    *,
    dimensions: int | tuple[int, int] | None = None,
    min_side: int = 1,
    max_side: int | None = None,
    orthogonal: bool | None = None,
    anisotropic: bool | None = None,
    min_spacing: float = 0.1,
    max_spacing: float = 10.0,
    max_origin: float = 1000.0,
    max_condition: float = 4.0,
) -> st.SearchStrategy[Geometry]:
    """Return a strategy for :class:`~imalgebra.Geometry` values.

    * ``dimensions``: an int, or a ``(min, max)`` pair; default ``(2, 3)``.
    * ``min_side``, ``max_side``: pixels per axis; ``max_side`` defaults to
      ``min_side + 5``.
    * ``orthogonal``: ``True`` gives orthonormal directions only (the
      identity, axis permutations with flipped axes, and rotations of those,
      as in most files); ``False`` only non-orthogonal ones (unit columns,
      the first pair sheared by 0.1 to 0.5, then rotated); ``None`` (the
      default) both.
    * ``anisotropic``: ``True`` gives spacings that differ between axes,
      ``False`` one spacing for all axes, ``None`` (default) either.
    * ``min_spacing``, ``max_spacing``: spacing per axis, in mm.
    * ``max_origin``: origin coordinates lie in ``[-max_origin, max_origin]``.
    * ``max_condition``: the largest condition number of a non-orthogonal
      direction (orthonormal ones have 1), so directions stay well conditioned.

    Examples shrink towards ``min_side`` pixels per axis, the smallest
    dimension, unit spacing, zero origin and the identity direction.

    >>> from hypothesis import given
    >>> @given(geometries(dimensions=3, orthogonal=False))
    ... def test_oblique(g):
    ...     assert not g.is_orthogonal
    >>> test_oblique()
    """
    dims = _int_range(dimensions, "dimensions", MIN_DIMENSION, MAX_DIMENSION, (2, 3))
    min_side = _check_int(min_side, "min_side", 1)
    max_side = min_side + 5 if max_side is None else _check_int(max_side, "max_side", 1)
    _order("side", min_side, max_side)
    _check_tristate(orthogonal, "orthogonal")
    _check_tristate(anisotropic, "anisotropic")
    min_spacing = _check_number(min_spacing, "min_spacing", positive=True)
    max_spacing = _check_number(max_spacing, "max_spacing", positive=True)
    _order("spacing", min_spacing, max_spacing)
    _check(
        not (anisotropic and min_spacing == max_spacing),
        f"anisotropic=True needs min_spacing < max_spacing, got both {min_spacing}",
    )
    max_origin = _check_number(max_origin, "max_origin")
    _check(max_origin >= 0, f"max_origin={max_origin!r} must be >= 0")
    max_condition = _check_number(max_condition, "max_condition")
    _check(
        max_condition >= 1.1 or orthogonal,
        f"max_condition={max_condition!r} must be >= 1.1 (1 is an orthonormal direction; use orthogonal=True)",
    )
    spec = _GeometrySpec(
        dims, (min_side, max_side), orthogonal, anisotropic, (min_spacing, max_spacing), max_origin, max_condition
    )
    return _draw_geometry(spec)


# -- pixels -----------------------------------------------------------------------
_ELEMENT_KEYS = frozenset({"min_value", "max_value", "allow_nan", "allow_infinity", "allow_subnormal"})
_DEFAULT_ELEMENTS: dict[str, Any] = {"allow_nan": False, "allow_infinity": False}
_MAX_BOXES = 3
_MAX_LABEL_BOXES = 6
_MAX_PALETTE = 4


def _float_bound(value: float, dtype: np.dtype, up: bool) -> float:
    """``value`` rounded inwards to the nearest number of ``dtype`` (floats(width=32) needs exact bounds)."""
    rounded = dtype.type(value)
    if up and rounded < value:
        rounded = np.nextafter(rounded, dtype.type(np.inf))
    if not up and rounded > value:
        rounded = np.nextafter(rounded, dtype.type(-np.inf))
    return builtins.float(rounded)


def _element_strategy(pixel_type: PixelType, options: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values of one component of ``pixel_type``, from hypothesis-style ``options``."""
    dtype = pixel_type.dtype
    lo, hi = options.get("min_value"), options.get("max_value")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo_i = int(info.min) if lo is None else max(int(info.min), math.ceil(lo))
        hi_i = int(info.max) if hi is None else min(int(info.max), math.floor(hi))
        if lo_i > hi_i:
            msg = f"elements={dict(options)!r} leaves no value of {pixel_type.name} ({info.min}..{info.max})"
            raise InvalidArgument(msg)
        return st.integers(lo_i, hi_i)
    width = 8 * dtype.itemsize
    flags = {k: options[k] for k in ("allow_nan", "allow_infinity", "allow_subnormal") if k in options}
    if dtype.kind == "c":
        return st.complex_numbers(width=width, **flags)  # type: ignore[arg-type]
    bounds = {}
    if lo is not None:
        bounds["min_value"] = _float_bound(lo, dtype, up=True)
    if hi is not None:
        bounds["max_value"] = _float_bound(hi, dtype, up=False)
    return st.floats(width=width, **bounds, **flags)  # type: ignore[arg-type]


class _Elements:
    """Per pixel type element strategies, from a strategy or a mapping of options (built once per type)."""

    def __init__(self, elements: object) -> None:
        if elements is None:
            elements = _DEFAULT_ELEMENTS
        elif isinstance(elements, Mapping):
            unknown = set(elements) - _ELEMENT_KEYS
            _check(not unknown, f"elements={elements!r}: unknown keys {sorted(unknown)}; use {sorted(_ELEMENT_KEYS)}")
            elements = {**_DEFAULT_ELEMENTS, **elements}
        else:
            _check(
                isinstance(elements, st.SearchStrategy), f"elements={elements!r} must be a strategy, a mapping or None"
            )
        self.elements = elements
        self._cache: dict[PixelType, st.SearchStrategy[Any]] = {}

    def __call__(self, pixel_type: PixelType) -> st.SearchStrategy[Any]:
        if isinstance(self.elements, st.SearchStrategy):
            return self.elements
        found = self._cache.get(pixel_type)
        if found is None:
            found = self._cache[pixel_type] = _element_strategy(pixel_type, self.elements)
        return found


def _exact(values: list[Any], pixel_type: PixelType) -> np.ndarray:
    """``values`` as an array of ``pixel_type``'s dtype; InvalidArgument unless each is held exactly."""
    dtype = pixel_type.dtype
    try:
        out = np.asarray(values, dtype=dtype)
        back = out.tolist()
    except (TypeError, ValueError, OverflowError):
        back = None
    if back is None or any(not (b == v or (b != b and v != v)) for b, v in zip(back, values, strict=True)):
        msg = f"elements gave one of {values!r}, which {pixel_type.name} pixels cannot hold exactly"
        raise InvalidArgument(msg)
    return out


def _draw_box(draw: Any, shape: tuple[int, ...]) -> tuple[slice, ...]:
    box = []
    for n in shape:
        start = draw(st.integers(0, n - 1))
        box.append(slice(start, start + draw(st.integers(1, n - start))))
    return tuple(box)


def _draw_pixels(
    draw: Any, pixel_type: PixelType, shape: tuple[int, ...], values: st.SearchStrategy[Any]
) -> np.ndarray:
    """A background, maybe dense noise from a small palette, then a few boxes of single values.

    Few draws per image whatever its size (hypothesis.extra.numpy.arrays draws
    about sqrt(n) elements: 3 ms for 8^3 pixels, more than the whole budget),
    with structure that finds bugs: edges of boxes, runs, every pixel different
    when there is noise. Shrinks to a constant image of zeros.
    """
    dtype = pixel_type.dtype
    background = draw(values)  # labels too: the same choices for every type keep shrinking free to change type
    array = np.full(shape, _exact([background], pixel_type)[0], dtype=dtype)
    if draw(st.booleans()):  # dense noise: a palette of hypothesis values, placed by a drawn seed
        palette = draw(st.lists(values, min_size=1, max_size=_MAX_PALETTE))
        colours = _exact([background, *palette], pixel_type)
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        array = colours[rng.integers(0, colours.size, size=shape)]
    for _ in range(draw(st.integers(0, _MAX_LABEL_BOXES if pixel_type.is_label else _MAX_BOXES))):
        box = _draw_box(draw, shape)
        array[box] = _exact([draw(values)], pixel_type)[0]
    return array


def _metadata(metadata: object) -> st.SearchStrategy[Mapping[str, str]]:
    if metadata is None:
        return st.just({})
    return _as_strategy(metadata, "metadata", Mapping)


def _geometry_strategy(
    geometries_: object, dimensions: object, min_side: object, max_side: object
) -> st.SearchStrategy[Geometry]:
    if geometries_ is None:
        return geometries(dimensions=dimensions, min_side=1 if min_side is None else min_side, max_side=max_side)
    pairs = (("dimensions", dimensions), ("min_side", min_side), ("max_side", max_side))
    given = {k: v for k, v in pairs if v is not None}
    _check(
        not given,
        f"pass either geometries= or {', '.join(f'{k}={v!r}' for k, v in given.items())}, not both "
        "(geometries=ist.geometries(...) takes those arguments)",
    )
    return _as_strategy(geometries_, "geometries", Geometry)


def _type_strategy(pixel_types_: object, default: st.SearchStrategy[PixelType]) -> st.SearchStrategy[PixelType]:
    if pixel_types_ is None:
        return default
    strategy = _as_strategy(pixel_types_, "pixel_types", PixelType)
    _check(pixel_types_ is not PixelType.Unknown, "pixel_types=PixelType.Unknown cannot hold pixels")
    return strategy


def _image(
    draw: Any,
    pixel_type: PixelType,
    geometry: Geometry,
    components: int,
    elements: _Elements,
    metadata: Mapping[str, str],
) -> Image:
    if pixel_type is PixelType.Unknown:
        msg = "a pixel_types strategy gave PixelType.Unknown, which cannot hold pixels"
        raise InvalidArgument(msg)
    shape = geometry.shape + ((components,) if pixel_type.is_vector else ())
    array = _draw_pixels(draw, pixel_type, shape, elements(pixel_type))
    return Image.from_pixels(array, geometry, pixel_type, metadata=metadata, copy=False)


# -- images -----------------------------------------------------------------------
@_strategy
def images(
    *,
    pixel_types: st.SearchStrategy[PixelType] | PixelType | None = None,
    geometries: st.SearchStrategy[Geometry] | Geometry | None = None,
    dimensions: int | tuple[int, int] | None = None,
    min_side: int | None = None,
    max_side: int | None = None,
    components: int | tuple[int, int] | None = None,
    elements: st.SearchStrategy[Any] | Mapping[str, Any] | None = None,
    metadata: st.SearchStrategy[Mapping[str, str]] | Mapping[str, str] | None = None,
) -> st.SearchStrategy[Image]:
    """Return a strategy for :class:`~imalgebra.Image` values.

    * ``pixel_types``: a :class:`~imalgebra.PixelType` or a strategy for them;
      default every concrete type (:func:`pixel_types`), or the vector types
      when ``components`` excludes 1.
    * ``geometries``: a :class:`~imalgebra.Geometry` or a strategy for them;
      default :func:`geometries` with ``dimensions``, ``min_side`` (1) and
      ``max_side`` (``min_side + 5``), which cannot be combined with ``geometries``.
    * ``components``: components of vector images, an int or ``(min, max)``,
      default ``(1, 4)``; other images have one.
    * ``elements``: a strategy for the values of one component (it must give
      values the pixel type holds exactly), or a mapping of
      ``min_value``/``max_value``/``allow_nan``/``allow_infinity``/
      ``allow_subnormal`` as for :func:`hypothesis.extra.numpy.from_dtype`,
      applied to each pixel type (integer bounds clip to the type's range).
      Default: any finite value of the type, no NaN or infinity (ask with
      ``elements={"allow_nan": True, "allow_infinity": True}``).
    * ``metadata``: a mapping or a strategy for them; default empty.

    Pixels are a background value, sometimes dense noise from a small palette
    of values, and a few boxes of single values painted over them: a handful
    of choices per image whatever its size (generation stays fast), and the
    structure that finds bugs (edges, runs along x that touch and overlap,
    every pixel different from its neighbours, extreme values). Label images
    get up to 6 boxes, so their run-length storage meets its edge cases.
    Examples shrink towards a 1 x 1 UInt8 image of 0 with unit spacing, zero
    origin and the identity direction.

    >>> from hypothesis import given
    >>> @given(images(pixel_types=PixelType.Int16, dimensions=3, max_side=4))
    ... def test_int16_volumes(img):
    ...     assert img.pixel_type is PixelType.Int16 and img.dimension == 3
    >>> test_int16_volumes()
    """
    comps = _int_range(components, "components", 1, 2**16, (1, 4))
    vector_only = comps[0] > 1
    default_types = st.sampled_from([t for t in _ALL_TYPES if t.is_vector or not vector_only])
    type_strategy = _type_strategy(pixel_types, default_types)
    geometry_strategy = _geometry_strategy(geometries, dimensions, min_side, max_side)
    values = _Elements(elements)
    metadata_strategy = _metadata(metadata)
    component_strategy = st.integers(*comps)

    @st.composite
    def build(draw: Any) -> Image:
        pixel_type = draw(type_strategy)
        geometry = draw(geometry_strategy)
        count = draw(component_strategy) if pixel_type.is_vector else 1
        return _image(draw, pixel_type, geometry, count, values, draw(metadata_strategy))

    return build()


@_strategy
def same_space_images(
    *,
    n: int = 2,
    pixel_types: st.SearchStrategy[PixelType] | PixelType | None = None,
    same_pixel_type: bool = False,
    geometries: st.SearchStrategy[Geometry] | Geometry | None = None,
    dimensions: int | tuple[int, int] | None = None,
    min_side: int | None = None,
    max_side: int | None = None,
    components: int | tuple[int, int] | None = None,
    elements: st.SearchStrategy[Any] | Mapping[str, Any] | None = None,
) -> st.SearchStrategy[tuple[Image, ...]]:
    """Return a strategy for tuples of ``n`` images in one physical space.

    All ``n`` images share one geometry (exactly), so every binary or n-ary
    operation accepts them as far as physical space goes; vector images share
    one component count. Pixel types are drawn independently from
    ``pixel_types`` (default: the real scalar types, ``pixel_types(scalar=True)``,
    which every arithmetic operator combines) or, with ``same_pixel_type=True``,
    one type for all. The other arguments are as for :func:`images`.

    >>> from hypothesis import given
    >>> @given(same_space_images(n=3))
    ... def test_sum_is_in_the_same_space(images):
    ...     a, b, c = images
    ...     assert (a + b + c).geometry == a.geometry
    >>> test_sum_is_in_the_same_space()
    """
    n = _check_int(n, "n", 1)
    _check(isinstance(same_pixel_type, bool), f"same_pixel_type={same_pixel_type!r} must be True or False")
    comps = _int_range(components, "components", 1, 2**16, (1, 4))
    type_strategy = _type_strategy(pixel_types, st.sampled_from([t for t in _ALL_TYPES if t.is_scalar]))
    geometry_strategy = _geometry_strategy(geometries, dimensions, min_side, max_side)
    values = _Elements(elements)

    @st.composite
    def build(draw: Any) -> tuple[Image, ...]:
        geometry = draw(geometry_strategy)
        count = draw(st.integers(*comps))
        shared = draw(type_strategy) if same_pixel_type else None
        out = []
        for _ in range(n):
            pixel_type = shared if shared is not None else draw(type_strategy)
            out.append(_image(draw, pixel_type, geometry, count if pixel_type.is_vector else 1, values, {}))
        return tuple(out)

    return build()


# -- regions ----------------------------------------------------------------------
def _outer_region(within: object) -> Region:
    if isinstance(within, Region):
        return within
    if isinstance(within, Geometry):
        return within.region
    geometry = getattr(within, "geometry", None)
    if isinstance(geometry, Geometry):
        return geometry.region
    if isinstance(within, Sequence) and not isinstance(within, str):
        size = tuple(_check_int(v, "size", 1) for v in within)
        _check(len(size) >= 1, f"regions({within!r}): a size needs at least one axis")
        return Region(index=(0,) * len(size), size=size)
    msg = f"regions(within={within!r}): give a Geometry, a Region, an Image or a size such as (8, 8)"
    raise InvalidArgument(msg)


@_strategy
def regions(
    within: Geometry | Region | Image | Sequence[int] | st.SearchStrategy[Any],
    *,
    min_side: int = 1,
    max_side: int | None = None,
) -> st.SearchStrategy[Region]:
    """Return a strategy for :class:`~imalgebra.Region` values inside ``within``.

    ``within`` is a Geometry, an Image (its geometry), a Region (regions inside
    it, in the same index space), a size such as ``(8, 8)``, or a strategy for
    any of these. Each axis of a region has ``min_side`` to ``max_side`` pixels
    (capped by the axis; ``min_side=0`` allows empty regions). Examples shrink
    towards ``min_side`` pixels at the first index.

    >>> from hypothesis import given
    >>> from imalgebra import Geometry
    >>> @given(regions(Geometry(size=(8, 4))))
    ... def test_inside(region):
    ...     assert Geometry(size=(8, 4)).region.contains(region)
    >>> test_inside()
    """
    min_side = _check_int(min_side, "min_side", 0)
    if max_side is not None:
        _order("side", min_side, _check_int(max_side, "max_side", 0))
    if isinstance(within, st.SearchStrategy):
        return within.flatmap(lambda w: regions(w, min_side=min_side, max_side=max_side))
    outer = _outer_region(within)
    _check(
        min_side <= min(outer.size),
        f"min_side={min_side} is larger than the smallest axis of {outer} (size {outer.size})",
    )

    def axis(start: int, n: int) -> st.SearchStrategy[tuple[int, int]]:
        top = n if max_side is None else min(n, max_side)
        return st.integers(min_side, top).flatmap(lambda s: st.tuples(st.integers(start, start + n - s), st.just(s)))

    return st.tuples(*(axis(i, n) for i, n in zip(outer.index, outer.size, strict=True))).map(
        lambda axes: Region(index=tuple(a[0] for a in axes), size=tuple(a[1] for a in axes))
    )


# -- near the tolerance boundary ------------------------------------------------------
class NearPair(tuple):
    """Two images ``(a, b)`` whose geometries differ near the tolerance boundary.

    Unpacks like a pair (``a, b = pair``); ``pair.inside`` says whether ``a``
    and ``b`` occupy the same physical space under the tolerance used to make
    them; ``pair.tolerance`` is that tolerance.
    """

    inside: bool
    tolerance: Tolerance

    def __new__(cls, a: Image, b: Image, *, inside: bool, tolerance: Tolerance) -> NearPair:
        pair = super().__new__(cls, (a, b))
        pair.inside = inside
        pair.tolerance = tolerance
        return pair

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self[0], self[1]), {"inside": self.inside, "tolerance": self.tolerance}

    def __repr__(self) -> str:
        return f"NearPair(a={self[0]!r}, b={self[1]!r}, inside={self.inside})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("NearPair(a=")
        _pretty_image(self[0], printer, cycle)
        printer.text(", b=")
        _pretty_image(self[1], printer, cycle)
        printer.text(f", inside={self.inside})")


_PROPERTIES = ("origin", "spacing", "direction")
_INSIDE_FACTORS = (0.5, 0.25)
_OUTSIDE_FACTORS = (2.0, 4.0)
_MIN_OUTSIDE = 1e-9  # a zero tolerance still needs a visible difference to be outside


def _nudge(geometry: Geometry, prop: str, factor: float, tol: Tolerance, axis: int, sign: float) -> Geometry:
    """``geometry`` with one element of ``prop`` moved by ``factor`` times the tolerance."""
    if prop == "direction":
        step = factor * max(tol.direction, _MIN_OUTSIDE if factor > 1 else 0.0)
        direction = list(geometry.direction)
        direction[axis % len(direction)] += sign * step
        return geometry.with_direction(direction)
    k = axis % geometry.dimension
    relative = factor * max(tol.coordinate, _MIN_OUTSIDE if factor > 1 else 0.0)
    if prop == "spacing":
        spacing = list(geometry.spacing)
        spacing[k] = spacing[k] * (1 + relative) if sign > 0 else spacing[k] / (1 + relative)
        return geometry.with_spacing(spacing)
    origin = list(geometry.origin)
    origin[k] += sign * relative * geometry.spacing[k]
    return geometry.with_origin(origin)


@_strategy
def nearly_same_space(
    *,
    inside: bool | None = None,
    pixel_types: st.SearchStrategy[PixelType] | PixelType | None = None,
    geometries: st.SearchStrategy[Geometry] | Geometry | None = None,
    vary: Sequence[str] = _PROPERTIES,
    tolerance: Tolerance | None = None,
    elements: st.SearchStrategy[Any] | Mapping[str, Any] | None = None,
) -> st.SearchStrategy[NearPair]:
    """Return a strategy for pairs of images ``(a, b)`` whose geometries differ
    by just under, or just over, the physical-space tolerance.

    Each example is a :class:`NearPair`: unpack it as ``a, b = pair``, and
    ``pair.inside`` says which side of the boundary it is on: ``True`` when
    ``a`` and ``b`` occupy the same physical space (operators must accept them),
    ``False`` when they do not (operators must raise
    :class:`~imalgebra.PhysicalSpaceError`).

    * ``inside``: ``True`` or ``False`` gives only that side; ``None`` (default) both.
    * ``vary``: which of ``"origin"``, ``"spacing"``, ``"direction"`` may differ.
      An inside pair moves one element of one of them (and maybe of the others)
      by 0.25 or 0.5 times the tolerance; an outside pair moves one element
      by 2 or 4 times the tolerance (and maybe others by less), far enough from
      the boundary that rounding never changes the answer.
    * ``tolerance``: the :class:`~imalgebra.Tolerance` to straddle; default
      the one in force when the example is drawn (``ia.current_tolerance()``).
      If your test runs under ``with ia.tolerance(...)``, pass the same values
      here. The rule is :meth:`Geometry.space_differences`: origin and spacing
      within ``coordinate`` times the smaller spacing of each axis, direction
      elements within ``direction``. Tolerances up to 0.1 (coordinate) and
      0.01 (direction) are supported.
    * ``pixel_types``: one type shared by ``a`` and ``b`` (default the real
      scalar types); ``geometries``: the geometry of ``a`` (default
      :func:`geometries`); ``elements`` as for :func:`images`. Sizes are equal.

    >>> import pytest
    >>> from hypothesis import given
    >>> import imalgebra as ia
    >>> @given(nearly_same_space())
    ... def test_add_checks_the_space(pair):
    ...     a, b = pair
    ...     if pair.inside:
    ...         a + b
    ...     else:
    ...         with pytest.raises(ia.PhysicalSpaceError):
    ...             a + b
    >>> test_add_checks_the_space()
    """
    _check_tristate(inside, "inside")
    vary = tuple(vary) if not isinstance(vary, str) else (vary,)
    _check(vary, "vary=() leaves nothing to differ; give some of 'origin', 'spacing', 'direction'")
    unknown = [v for v in vary if v not in _PROPERTIES]
    _check(not unknown, f"vary={vary!r}: unknown {unknown}; choose from {_PROPERTIES}")
    if tolerance is not None:
        _check(isinstance(tolerance, Tolerance), f"tolerance={tolerance!r} must be an ia.Tolerance or None")
    type_strategy = _type_strategy(pixel_types, st.sampled_from([t for t in _ALL_TYPES if t.is_scalar]))
    geometry_strategy = _geometry_strategy(geometries, None, None, None)
    values = _Elements(elements)
    side = st.booleans() if inside is None else st.just(inside)

    @st.composite
    def build(draw: Any) -> NearPair | None:
        tol = tolerance if tolerance is not None else current_tolerance()
        if tol.coordinate > 0.1 or tol.direction > 0.01:
            msg = f"nearly_same_space supports tolerances up to coordinate=0.1, direction=0.01; got {tol}"
            raise InvalidArgument(msg)
        pixel_type = draw(type_strategy)
        a_geometry = draw(geometry_strategy)
        is_inside = draw(side)
        main = draw(st.sampled_from(vary))
        b_geometry = a_geometry
        for prop in (p for p in _PROPERTIES if p in vary):
            if prop == main:
                factor = draw(st.sampled_from(_INSIDE_FACTORS if is_inside else _OUTSIDE_FACTORS))
            else:
                factor = draw(st.sampled_from((0.0, *_INSIDE_FACTORS)))
            if factor:
                axis = draw(st.integers(0, a_geometry.dimension ** (2 if prop == "direction" else 1) - 1))
                sign = draw(st.sampled_from((1.0, -1.0)))
                try:
                    b_geometry = _nudge(b_geometry, prop, factor, tol, axis, sign)
                except GeometryError:
                    return None  # a user's ill-conditioned direction: rejected below
        same = a_geometry.same_space(b_geometry, coordinate=tol.coordinate, direction=tol.direction)
        if same != is_inside:
            return None  # rounding at an extreme tolerance; never seen with the defaults
        if draw(st.booleans()):
            a_geometry, b_geometry = b_geometry, a_geometry
        comps = draw(st.integers(1, 3)) if pixel_type.is_vector else 1
        a = _image(draw, pixel_type, a_geometry, comps, values, {})
        b = _image(draw, pixel_type, b_geometry, comps, values, {})
        return NearPair(a, b, inside=is_inside, tolerance=tol)

    return build().filter(lambda pair: pair is not None)


# -- expressions ------------------------------------------------------------------------
_MATHS_ANY = ("exp", "log", "log10", "sqrt", "square", "sin", "cos", "tan", "asin", "acos")  # complex too
_MATHS_REAL = ("atan", "round", "floor", "ceil", "trunc", "sign")
_UNARY = ("neg", "abs", "invert", *_MATHS_ANY, *_MATHS_REAL, "real", "imag")
_UNARY += ("cast", "clamp", "rescale_intensity", "select_component", "compose")
_ORDERED = frozenset({"floordiv", "mod", "lt", "le", "gt", "ge", "atan2"})  # refuse complex operands
_BITWISE = frozenset({"and", "or", "xor"})
_COMPARE = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})
_BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor")
_BINARY += ("lt", "le", "gt", "ge", "eq", "ne", "minimum", "maximum", "atan2", "where")
_REGIONS = ("extract", "slice")
OPERATIONS = _UNARY + _BINARY + _REGIONS
"""Every name :func:`expressions` takes in ``ops=`` (operators by their Python
special-method names: ``add`` is ``+``, ``truediv`` is ``/``, ``and`` is ``&``)."""

_REAL_SCALARS = tuple(t for t in _ALL_TYPES if t.is_scalar)
_COMPLEX = (PixelType.ComplexFloat32, PixelType.ComplexFloat64)
_VECTORS = tuple(t for t in _ALL_TYPES if t.is_vector)


def _apply_binary(op: str, left: Any, right: Any) -> Any:
    import operator as py

    import imalgebra as ia

    functions = {"minimum": ia.minimum, "maximum": ia.maximum, "atan2": ia.atan2}
    if op in functions:
        return functions[op](left, right)
    symbol = {"and": "and_", "or": "or_", "div": "truediv"}.get(op, op)
    return getattr(py, symbol)(left, right)


def _accepts(op: str, node_: Any) -> bool:
    """Whether ``op`` takes ``node_`` (its first operand) by the type rules of imalgebra's operators."""
    t: PixelType = node_.pixel_type
    if op in ("invert", *_BITWISE):
        return t.is_integer
    if op in _MATHS_REAL or op in _ORDERED or op in ("clamp", "rescale_intensity"):
        return not t.is_complex
    if op == "select_component":
        return t.is_vector
    if op == "compose":
        return t.is_scalar
    if op == "where":
        return not t.is_complex and not t.is_vector
    return True


def _combinable(op: str, a: Any, b: Any) -> bool:
    """Whether two image operands combine under ``op`` (imalgebra's rules: NEP 50 promotion,
    vectors per component with equal counts, no vector-complex mix, integer-only bitwise)."""
    ta, tb = a.pixel_type, b.pixel_type
    if (ta.is_vector or tb.is_vector) and (ta.is_complex or tb.is_complex):
        return False
    if ta.is_vector and tb.is_vector and a.components != b.components:
        return False
    if op in _ORDERED and (ta.is_complex or tb.is_complex):
        return False
    if op in _BITWISE:
        if not (ta.is_integer and tb.is_integer):
            return False
        return np.result_type(ta.component_type.dtype, tb.component_type.dtype).kind in "iu"
    return True


def _constants(op: str, pixel_type: PixelType) -> tuple[Any, ...]:
    """Python numbers that ``op`` accepts with an image of ``pixel_type`` (a weak Python
    int must fit the result type: no negative ones with unsigned images)."""
    if op in _BITWISE:
        return (1, 3, 0, 7, 100)
    kind = pixel_type.component_type.dtype.kind
    if op == "pow":
        return (2, 0, 1, 3) if kind in "iu" else (2, 0.5, 3, -1.0)
    if op in _COMPARE:
        return (0, 1, 2.5, -1)
    numbers: tuple[Any, ...] = (1, 2, 0, 3, 7, 100, 0.5, 2.5, -1.5)
    return numbers if kind == "u" else (*numbers, -1, -3)


class _ExpressionBuilder:
    """Draws a well-typed tree over ``leaves``: children first, then an operation that
    accepts their types, so every tree constructs (no rejection, no try/except)."""

    def __init__(self, ops: tuple[str, ...], max_depth: int) -> None:
        self.unary = tuple(o for o in _UNARY if o in ops)
        self.binary = tuple(o for o in _BINARY if o in ops)
        self.regions = tuple(o for o in _REGIONS if o in ops)
        self.max_depth = max_depth
        # a leaf is the simplest subtree (shrinking ends there); the root is rarely one
        self.stop = st.sampled_from((True, False, False))
        self.stop_root = st.sampled_from((True, *(False,) * 7))
        self.region_kind = st.sampled_from(("none", "none", "none", "none", *self.regions))
        self._choices: dict[tuple[PixelType, int], st.SearchStrategy[str]] = {}

    def operation(self, draw: Any, first: Any) -> str | None:
        key = (first.pixel_type, first.components)
        found = self._choices.get(key)
        if found is None:
            names = [o for o in (*self.unary, *self.binary) if _accepts(o, first)]
            names += [o for o in names if o not in _MATHS_ANY and o not in _MATHS_REAL]  # maths are many: weigh less
            found = self._choices[key] = st.sampled_from(names) if names else st.just(None)
        return draw(found)

    def tree(self, draw: Any, leaves: tuple[Any, ...], depth: int, *, root: bool = False) -> Any:
        if depth <= 0 or draw(self.stop_root if root else self.stop):
            return draw(st.sampled_from(leaves))
        first = self.tree(draw, leaves, depth - 1)
        op = self.operation(draw, first)
        if op is None:
            return first
        if op in self.unary:
            return self.unary_node(draw, op, first, leaves, depth)
        return self.binary_node(draw, op, first, leaves, depth)

    def operand(self, draw: Any, op: str, first: Any, leaves: tuple[Any, ...], depth: int) -> Any:
        """A second operand for ``op`` with ``first``: a subtree that combines with it, or a number."""
        if draw(st.booleans()):
            other = self.tree(draw, leaves, depth - 1)
            if _combinable("add" if op == "where" else op, first, other):
                return other
        return draw(st.sampled_from(_constants(op, first.pixel_type)))

    def binary_node(self, draw: Any, op: str, first: Any, leaves: tuple[Any, ...], depth: int) -> Any:
        import imalgebra as ia

        if op == "where":
            mask = first if first.pixel_type.is_integer else first > draw(st.sampled_from((0, 1, 2.5)))
            a = self.operand(draw, op, mask, leaves, depth)
            b = self.operand(draw, op, a if not isinstance(a, (int, float)) else mask, leaves, depth)
            if not isinstance(a, (int, float)) and not isinstance(b, (int, float)) and not _combinable("add", a, b):
                b = 0
            return ia.where(mask, a, b)
        other = self.operand(draw, op, first, leaves, depth)
        if isinstance(other, (int, float)) and draw(st.booleans()):  # the number on the left: 2 - x
            return _apply_binary(op, other, first)
        return _apply_binary(op, first, other)

    def unary_node(self, draw: Any, op: str, x: Any, leaves: tuple[Any, ...], depth: int) -> Any:
        import imalgebra as ia

        t: PixelType = x.pixel_type
        if op == "neg":
            return -x
        if op == "abs":
            return abs(x)
        if op == "invert":
            return ~x
        if op in _MATHS_ANY or op in _MATHS_REAL or op in ("real", "imag"):
            return getattr(ia, op)(x)
        if op == "cast":
            targets = _COMPLEX if t.is_complex else (_VECTORS if t.is_vector else (*_REAL_SCALARS, *_COMPLEX))
            if t.is_vector and t.is_float:
                targets = (PixelType.VectorFloat32, PixelType.VectorFloat64)  # no NaN-free way to go to ints
            return self.convert(x, draw(st.sampled_from(targets)))
        if op == "clamp":
            lower, upper = draw(st.sampled_from(((0, 100), (-10, 10), (0, 1), (3, 3))))
            return ia.clamp(x, lower, upper)
        if op == "rescale_intensity":
            return ia.rescale_intensity(x, out_min=0, out_max=100)
        if op == "select_component":
            return ia.select_component(x, draw(st.integers(-x.components, x.components - 1)))
        # compose: x with a second (and maybe a third) scalar of x's type
        other = self.tree(draw, leaves, depth - 1)
        if not (other.pixel_type.is_scalar or other.pixel_type.is_label):
            other = x
        parts = [x, self.convert(other, t)]
        if draw(st.booleans()):
            parts.append(x)
        return ia.compose(*parts)

    @staticmethod
    def convert(x: Any, target: PixelType) -> Any:
        """``x`` as ``target``; from floats to integers without NaN or infinity (whose C
        conversion is undefined): NaN -> 0, then saturate to [-1000, 1000] and the type."""
        import imalgebra as ia

        source = x.pixel_type
        if source is target:
            return x
        if source.is_float and target.is_integer and not source.is_vector:
            return ia.clamp(ia.where(x == x, x, 0), -1000, 1000, pixel_type=target)
        return ia.cast(x, target)

    def region(self, draw: Any, expr: Any) -> Any:
        kind = draw(self.region_kind)
        if kind == "extract":
            box = draw(regions(expr.geometry))
            import imalgebra as ia

            return ia.extract(expr, box.index, box.size)
        if kind == "slice":
            return expr[tuple(draw(_axis_slices(n)) for n in expr.geometry.size)]
        return expr


@st.composite
def _axis_slices(draw: Any, n: int) -> slice:
    """A slice keeping at least one of ``n`` indices (any step sign; open ended or not)."""
    step = draw(st.sampled_from((1, 2, -1, 3, -2)))
    start = draw(st.integers(0, n - 1))
    most = start // -step + 1 if step < 0 else (n - 1 - start) // step + 1
    count = draw(st.integers(1, most))
    stop = start + count * step
    return slice(start, stop if stop >= 0 else None, step)


def _pretty_expression(expr: Any, printer: Any, cycle: bool) -> None:
    """``<Add Float32 size=(2, 1): a + b> where a=Image(...), b=Image(...)``."""
    from imalgebra.algebra.text import leaf_names

    printer.text(repr(expr))
    for k, (name, leaf) in enumerate(leaf_names(expr).items()):
        printer.text(" where " if k == 0 else ", ")
        printer.text(f"{name}=")
        if isinstance(leaf, Image):
            _pretty_image(leaf, printer, cycle)
        else:
            printer.text(repr(leaf))


def _printable(expr: Any) -> Any:
    """Register the printer for ``expr``'s class (attrs node classes would print every field)."""
    if not isinstance(expr, Image):
        try:
            from hypothesis.vendor.pretty import for_type_by_name
        except ImportError:  # pragma: no cover
            return expr
        cls = type(expr)
        for_type_by_name(cls.__module__, cls.__name__, _pretty_expression)
    return expr


def _default_leaves() -> st.SearchStrategy[tuple[Image, ...]]:
    return st.one_of(
        *(same_space_images(n=n, pixel_types=pixel_types(), dimensions=(2, 3), max_side=4) for n in (1, 2, 3))
    )


def _leaf_strategy(leaves: object) -> st.SearchStrategy[tuple[Any, ...]]:
    from imalgebra.algebra.expr import is_node

    if leaves is None:
        return _default_leaves()
    if isinstance(leaves, st.SearchStrategy):
        return leaves.map(lambda found: _checked_leaves(tuple(found)) if not is_node(found) else (found,))
    _check(
        isinstance(leaves, Sequence) and not isinstance(leaves, str) and len(leaves) > 0,
        f"leaves={leaves!r} must be a strategy, or a non-empty sequence of images or expressions",
    )
    return st.just(_checked_leaves(tuple(leaves)))


def _checked_leaves(leaves: tuple[Any, ...]) -> tuple[Any, ...]:
    from imalgebra.algebra.expr import is_node

    _check(leaves, "leaves gave no image; give at least one")
    for leaf in leaves:
        _check(is_node(leaf), f"leaves: {leaf!r} is not an image or an image expression")
    first = leaves[0].geometry
    tol = current_tolerance()
    for leaf in leaves[1:]:
        _check(
            first.same_space(leaf.geometry, coordinate=tol.coordinate, direction=tol.direction),
            f"leaves must share one physical space (ist.same_space_images gives such images); "
            f"{leaf.geometry} differs from {first}",
        )
    return leaves


@_strategy
def expressions(
    *,
    leaves: st.SearchStrategy[Sequence[Any]] | Sequence[Any] | None = None,
    max_depth: int = 4,
    ops: Sequence[str] | None = None,
) -> st.SearchStrategy[Any]:
    """Return a strategy for well-typed expression trees over ``leaves``.

    For differential tests of evaluators: every tree constructs (each operation
    is chosen among those its operands' pixel types allow, and second operands
    are subtrees that combine with the first, or numbers the type accepts),
    and nothing in it has undefined behaviour: float-to-integer conversions
    first replace NaN with 0 and saturate (``clamp(where(x == x, x, 0), -1000,
    1000, pixel_type=...)``), casts never target label types.

    * ``leaves``: the images (or expressions) at the leaves, all in one physical
      space; a sequence, or a strategy for sequences (e.g.
      ``ist.same_space_images(n=2, pixel_types=ia.PixelType.Float32)``).
      Default: one to three images of any pixel type, 2D or 3D, up to 4 pixels
      a side, from :func:`same_space_images`.
    * ``max_depth``: the largest number of chosen operations from the root to
      a leaf (0 gives a leaf). The nodes added to keep a tree well typed and
      defined come on top: a comparison making a ``where`` mask of a float
      operand (``x > 0``), and ``clamp(where(x == x, x, 0), ...)`` before a
      float-to-integer conversion.
    * ``ops``: the operation names to use, default all of :data:`OPERATIONS`:
      the operators (``add sub mul truediv floordiv mod pow and or xor lt le gt
      ge eq ne neg abs invert``), the maths functions, ``cast clamp
      rescale_intensity select_component compose where minimum maximum atan2
      real imag``, and at the root only ``extract`` and ``slice`` (sub-regions
      and strided or flipped slices of the whole tree).

    Examples shrink towards a single leaf, then towards the leaves' own shrink
    targets. A tree may be an :class:`~imalgebra.Image` (a leaf); hypothesis
    prints a tree as its text form with its leaves
    (``<Add UInt8 size=(1, 1): a + b> where a=Image(...), b=Image(...)``).

    >>> from hypothesis import given, settings
    >>> import imalgebra as ia
    >>> @settings(max_examples=20)
    ... @given(expressions(max_depth=3))
    ... def test_a_region_of_the_result_is_the_result_of_the_region(expr):
    ...     whole = ia.to_array(ia.evaluate(expr))
    ...     corner = ia.evaluate(ia.extract(expr, (0,) * expr.geometry.dimension, (1,) * expr.geometry.dimension))
    ...     assert ia.to_array(corner).tobytes() == whole[(slice(0, 1),) * expr.geometry.dimension].tobytes()
    >>> test_a_region_of_the_result_is_the_result_of_the_region()
    """
    max_depth = _check_int(max_depth, "max_depth", 0)
    if ops is None:
        chosen = OPERATIONS
    else:
        _check(
            isinstance(ops, (Sequence, set, frozenset)) and not isinstance(ops, str),
            f"ops={ops!r} must be a collection of names such as ('add', 'exp')",
        )
        unknown = [o for o in ops if o not in OPERATIONS]
        _check(not unknown, f"ops={ops!r}: unknown {unknown}; choose from {OPERATIONS}")
        chosen = tuple(ops)
    leaf_strategy = _leaf_strategy(leaves)
    builder = _ExpressionBuilder(chosen, max_depth)

    @st.composite
    def build(draw: Any) -> Any:
        found = draw(leaf_strategy)
        if builder.regions and max_depth >= 1:
            return _printable(builder.region(draw, builder.tree(draw, found, max_depth - 1, root=True)))
        return _printable(builder.tree(draw, found, max_depth, root=True))

    return build()
