"""Small local hypothesis generators for expression tests, and a SimpleITK bridge.

(``imalgebra.testing.strategies`` is the public home of such strategies; this
module keeps the expression tests independent of it.) tests/ is not a package:
test files load this file by path, once, as ``_imalgebra_test_images``::

    images = load_images()   # the small loader at the top of each test file
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra import PixelType as P

INTEGERS = (P.Int8, P.UInt8, P.Int16, P.UInt16, P.Int32, P.UInt32, P.Int64, P.UInt64)
FLOATS = (P.Float32, P.Float64)
REALS = INTEGERS + FLOATS
COMPLEX = (P.ComplexFloat32, P.ComplexFloat64)
VECTORS = tuple(p.vector_type for p in REALS)
LABELS = (P.LabelUInt8, P.LabelUInt16, P.LabelUInt32, P.LabelUInt64)
SITK_TYPES = REALS + COMPLEX + VECTORS  # every type SimpleITK does arithmetic on (labels it refuses)


def shapes(*, min_dims: int = 2, max_dims: int = 3, max_side: int = 5) -> st.SearchStrategy[tuple[int, ...]]:
    """numpy shapes (z, y, x) of small images."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def geometries(shape: tuple[int, ...]) -> st.SearchStrategy[ia.Geometry]:
    """Geometries of an image of numpy ``shape``: any origin, spacing, and a rotation or identity direction."""
    size = shape[::-1]
    d = len(size)
    coords = st.floats(-100, 100, allow_nan=False, allow_subnormal=False)
    spacing = st.floats(0.1, 10, allow_nan=False)

    def direction(angle: float) -> tuple[float, ...]:
        m = np.eye(d)
        c, s = np.cos(angle), np.sin(angle)
        m[:2, :2] = [[c, -s], [s, c]]
        return tuple(m.ravel())

    return st.builds(
        lambda o, sp, a: ia.Geometry(size=size, origin=o, spacing=sp, direction=direction(a)),
        st.tuples(*[coords] * d),
        st.tuples(*[spacing] * d),
        st.sampled_from([0.0, 0.0, 0.5]),
    )


def elements(dtype: np.dtype, *, finite: bool = True, magnitude: float | None = None) -> st.SearchStrategy[Any]:
    """Values of one component: the full range for integers, finite (by default) floats."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = int(info.min), int(info.max)
        if magnitude is not None:
            lo, hi = max(lo, -int(magnitude)), min(hi, int(magnitude))
        return st.integers(lo, hi)
    width = 32 if dtype in (np.float32, np.complex64) else 64
    limit = magnitude if magnitude is not None else (1e30 if width == 32 else 1e200)
    if width == 32:
        limit = float(np.float32(limit))
    if finite:
        floats = st.floats(-limit, limit, width=width, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    else:
        floats = st.floats(width=width, allow_subnormal=False)
    if dtype.kind == "c":
        return st.builds(complex, floats, floats)
    return floats


def arrays(pixel_type: P, shape: tuple[int, ...], components: int = 1, **kwargs: Any) -> st.SearchStrategy[np.ndarray]:
    """Pixel arrays ``[z, y, x(, c)]`` of ``pixel_type``."""
    dtype = pixel_type.component_type.dtype if not pixel_type.is_complex else pixel_type.dtype
    full = shape + ((components,) if pixel_type.is_vector else ())
    return hnp.arrays(dtype, full, elements=elements(dtype, **kwargs))


@st.composite
def images(
    draw: st.DrawFn,
    pixel_types: Any = None,
    *,
    shape: tuple[int, ...] | None = None,
    geometry: ia.Geometry | None = None,
    components: int | None = None,
    **element_kwargs: Any,
) -> ia.Image:
    """An Image of one of ``pixel_types`` (default: every SimpleITK arithmetic type)."""
    if isinstance(pixel_types, P):  # (PixelType.Int8 is 0: never test a pixel type for truth)
        pixel_type = pixel_types
    else:
        pixel_type = draw(st.sampled_from(SITK_TYPES if pixel_types is None else pixel_types))
    if geometry is not None:
        shape = geometry.shape
    if shape is None:
        shape = draw(shapes())
    if geometry is None:
        geometry = draw(geometries(shape))
    if components is None:
        components = draw(st.integers(1, 3)) if pixel_type.is_vector else 1
    pixels = draw(arrays(pixel_type, shape, components, **element_kwargs))
    return ia.Image.from_pixels(pixels, geometry, pixel_type)


@st.composite
def same_space(
    draw: st.DrawFn, n: int = 2, pixel_types: Any = None, *, same_type: bool = True, **element_kwargs: Any
) -> list[ia.Image]:
    """``n`` images in one physical space (of one pixel type when ``same_type``)."""
    shape = draw(shapes())
    geometry = draw(geometries(shape))
    types = SITK_TYPES if pixel_types is None else pixel_types
    first = draw(st.sampled_from(types)) if not isinstance(types, P) else types
    components = draw(st.integers(1, 3)) if first.is_vector else 1
    out = []
    for _ in range(n):
        pixel_type = first if same_type else draw(st.sampled_from(types))
        out.append(
            draw(
                images(
                    pixel_type,
                    geometry=geometry,
                    components=components if pixel_type.is_vector else 1,
                    **element_kwargs,
                )
            )
        )
    return out


# -- SimpleITK bridge ------------------------------------------------------------
def to_sitk(sitk: Any, img: ia.Image) -> Any:
    """The SimpleITK image with the same pixels, pixel type and geometry."""
    arr = np.ascontiguousarray(np.asarray(img))
    if img.pixel_type.is_vector and img.components == 1:  # GetImageFromArray would make it scalar
        out = sitk.Compose(sitk.GetImageFromArray(arr[..., 0]))
    else:
        out = sitk.GetImageFromArray(arr, isVector=img.pixel_type.is_vector)
    assert out.GetPixelID() == img.pixel_type.id, (out.GetPixelIDTypeAsString(), img.pixel_type)
    out.SetOrigin(img.origin)
    out.SetSpacing(img.spacing)
    out.SetDirection(img.direction)
    return out


def sitk_array(sitk: Any, simg: Any) -> np.ndarray:
    """The pixels ``[z, y, x(, c)]`` (a 1-component vector keeps its component axis)."""
    arr = sitk.GetArrayFromImage(simg)
    if "vector" in simg.GetPixelIDTypeAsString() and simg.GetNumberOfComponentsPerPixel() == 1:
        arr = arr[..., np.newaxis]
    return arr


def assert_same_result(ours: ia.Image, theirs: Any, sitk: Any, *, same_type: bool = True, rtol: float = 1e-6) -> None:
    """Pixels equal (integers exactly, floats to ``rtol``) and geometry equal; the same pixel type unless
    ``same_type`` is False (then SimpleITK's values are rounded to our type first)."""
    expected = sitk_array(sitk, theirs)
    if not same_type:
        with np.errstate(all="ignore"):
            expected = expected.astype(np.asarray(ours).dtype)
    got = np.asarray(ours)
    if same_type:
        assert ours.pixel_type.id == theirs.GetPixelID(), (ours.pixel_type, theirs.GetPixelIDTypeAsString())
    assert ours.size == theirs.GetSize()
    np.testing.assert_allclose(ours.origin, theirs.GetOrigin(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.spacing, theirs.GetSpacing(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.direction, theirs.GetDirection(), rtol=0, atol=1e-9)
    assert got.shape == expected.shape
    if got.dtype.kind in "iu" and expected.dtype.kind in "iu":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(
            got.astype(np.complex128 if got.dtype.kind == "c" else np.float64),
            expected,
            rtol=rtol,
            atol=rtol * 1e-6,
            equal_nan=True,
        )
