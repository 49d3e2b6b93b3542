"""``read(path, pixel_type=...)``: convert pixels on read the way SimpleITK does.

The rules (measured with SimpleITK 2.5.7, see simpleitk-facts.md §9):

* scalar -> scalar: a C cast. Integers wrap (Int16 ``[-5, 300, 1000]`` read
  as UInt8 gives ``[251, 44, 232]``); floats are truncated toward zero, then
  wrap (``300.7 -> 44``, ``-1.5 -> 255`` as UInt8). C leaves NaN and values
  beyond the range of a 32-bit int undefined: here NaN gives 0 and such values
  wrap modulo 2**64 (SimpleITK's results there depend on the CPU).
* scalar -> vector: one component. scalar -> complex: ``v + vj`` (the value
  goes to the real *and* the imaginary part, as SimpleITK does).
* vector -> vector: the components are kept, each cast as above.
* vector -> scalar: read as a colour image (ITK's ConvertPixelBuffer): 1
  component: the value; 2: gray * alpha; 3: luminance
  ``0.2125 R + 0.7154 G + 0.0721 B`` (each component first cast to the output
  type); 4 or more: luminance * alpha of the first four, in double, then cast
  (so float (10, 20, 30, 40) read as UInt8 gives 743.84 -> 231). For an
  integer input read as a 1- or 2-byte type, alpha is divided by the input
  type's maximum (UInt16 (10, 20, 30, 40) read as UInt8 gives 0).
* vector -> complex: the first component is the real part and the second the
  imaginary part (one component: ``v + vj``).
* complex -> complex: cast; complex -> vector: two components (real, imag).

Where imalgebra differs from SimpleITK (and why):

* complex -> scalar raises :class:`~imalgebra.PixelTypeError`: SimpleITK
  treats the pair as gray * alpha and returns ``real * imag``, which is never
  what anyone wants; take the real part, imaginary part or modulus after
  reading instead.
* -> Label types: SimpleITK refuses ("Refusing to load!"); imalgebra reads
  integer pixels (and floats holding whole numbers) into a label type when
  every value fits exactly, and raises otherwise (a label must never wrap).

Example
-------
>>> import numpy as np
>>> from imalgebra.algebra.pixel import PixelType
>>> convert(np.array([[-5, 300, 1000]], np.int16), PixelType.Int16, PixelType.UInt8)[0].tolist()
[[251, 44, 232]]
>>> convert(np.array([[[10, 20, 30]]], np.uint8), PixelType.VectorUInt8, PixelType.Float32)[0].tolist()
[[18.59600067138672]]
"""

from __future__ import annotations

import numpy as np

from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import PixelTypeError

__all__ = ["c_cast", "convert"]

_LUMINANCE_E4 = (2125.0, 7154.0, 721.0)  # ITK: (2125 R + 7154 G + 721 B) / 10000, in double


def c_cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast like C's ``static_cast``: integers wrap, floats truncate toward zero then wrap.

    >>> c_cast(np.array([300.7, -1.5, 70000.2]), np.dtype(np.uint8)).tolist()
    [44, 255, 112]
    """
    dtype = np.dtype(dtype)
    arr = np.asarray(values)
    if arr.dtype == dtype:
        return arr
    with np.errstate(all="ignore"):
        if dtype.kind in "iu" and arr.dtype.kind == "f":
            trunc = np.nan_to_num(np.trunc(arr), nan=0.0, posinf=0.0, neginf=0.0)
            if dtype == np.uint64:
                big = trunc >= 2.0**63
                low = np.where(big, trunc - 2.0**63, trunc)
                as_int = np.clip(low, -(2.0**63), 2.0**63 - 1024).astype(np.int64).astype(np.uint64)
                return np.where(big, as_int + np.uint64(2**63), as_int)
            wrapped = np.fmod(trunc, 2.0**64)  # keep the low 64 bits' worth of the integer
            wrapped = np.where(wrapped >= 2.0**63, wrapped - 2.0**64, wrapped)
            wrapped = np.where(wrapped < -(2.0**63), wrapped + 2.0**64, wrapped)
            return wrapped.astype(np.int64).astype(dtype)
        if dtype.kind in "iu" and arr.dtype.kind == "c":
            return c_cast(arr.real, dtype)
        if dtype.kind == "f" and arr.dtype.kind == "c":
            return arr.real.astype(dtype)
        return arr.astype(dtype)


def _to_gray(values: np.ndarray, components: int, out: np.dtype) -> np.ndarray:
    """ITK's ConvertPixelBuffer vector -> scalar rules (itkConvertPixelBuffer.hxx), as SimpleITK applies them.

    RGB: each component is first cast to the output type, then weighted in
    double. Alpha (2 components: gray * alpha; 4 or more: luminance * alpha
    of the first four) is divided by the input type's maximum when the input
    is an integer type and the output has 1 or 2 bytes, else used as is.
    """
    if components == 1:
        return c_cast(values[..., 0], out)
    max_alpha = float(np.iinfo(values.dtype).max) if values.dtype.kind in "iu" and out.itemsize <= 2 else 1.0
    if components == 2:
        gray = c_cast(values[..., 0], out)
        alpha = c_cast(values[..., 1].astype(np.float64) / max_alpha, out)
        if out.kind == "f":
            return gray * alpha  # in the output type, as C++ multiplies two floats
        with np.errstate(all="ignore"):
            return c_cast(gray.astype(np.int64) * alpha.astype(np.int64), out)  # integer product, wrapped
    r, g, b = _LUMINANCE_E4
    if components == 3:
        c = [c_cast(values[..., k], out).astype(np.float64) for k in range(3)]
        return c_cast((r * c[0] + g * c[1] + b * c[2]) / 10000.0, out)
    v = values[..., :4].astype(np.float64)
    luminance = (r * v[..., 0] + g * v[..., 1] + b * v[..., 2]) / 10000.0
    return c_cast(luminance * v[..., 3] / max_alpha, out)


def convert(
    values: np.ndarray, source: PixelType, target: PixelType, *, name: str = "pixels"
) -> tuple[np.ndarray, int]:
    """Convert ``values`` (``[z, y, x(, c)]`` of ``source``) to ``target``.

    Returns the new array and its number of components. ``name`` (a file)
    goes into error messages.
    """
    source, target = PixelType(source), PixelType(target)
    if target is PixelType.Unknown:
        msg = f"{name}: pixel_type Unknown cannot hold pixels; choose a concrete pixel type"
        raise PixelTypeError(msg)
    components = values.shape[-1] if source.is_vector else 1
    if source == target:
        return values, components
    dtype = target.dtype
    if target.is_label:
        return _to_label(values, source, target, name), 1
    if source.is_vector:
        if target.is_vector:
            return c_cast(values, dtype), components
        if target.is_complex:
            real = values[..., 0].astype(np.float64)
            imag = values[..., 1].astype(np.float64) if components > 1 else real
            return (real + 1j * imag).astype(dtype), 1
        return _to_gray(values, components, dtype), 1
    if source.is_complex:
        if target.is_complex:
            return values.astype(dtype), 1
        if target.is_vector:
            pair = np.stack([values.real, values.imag], axis=-1)
            return c_cast(pair, dtype), 2
        msg = (
            f"{name}: reading {source.name} pixels as {target.name} is refused: SimpleITK would return "
            "real * imaginary (its gray * alpha rule); read as the complex type and take the real part, "
            f"imaginary part or modulus, or read as {target.vector_type.name} for (real, imag) components"
        )
        raise PixelTypeError(msg)
    # scalar (or label) source
    if target.is_vector:
        return c_cast(values, dtype)[..., np.newaxis], 1
    if target.is_complex:
        real = values.astype(np.float64) if values.dtype.kind != "f" else values
        return (real + 1j * real).astype(dtype), 1
    return c_cast(values, dtype), 1


def _to_label(values: np.ndarray, source: PixelType, target: PixelType, name: str) -> np.ndarray:
    if source.is_vector or source.is_complex:
        msg = (
            f"{name}: cannot read {source.name} pixels as {target.name}: a label holds one integer per pixel; "
            "select a component first"
        )
        raise PixelTypeError(msg)
    dtype = target.dtype
    if values.size == 0:
        return values.astype(dtype)
    if values.dtype.kind == "f" and (not np.all(np.isfinite(values)) or not np.all(values == np.trunc(values))):
        msg = (
            f"{name}: cannot read {source.name} pixels as {target.name}: some values are not whole numbers; "
            "labels hold integers (SimpleITK refuses any label read; round the image first)"
        )
        raise PixelTypeError(msg)
    lo, hi = values.min(), values.max()
    info = np.iinfo(dtype)
    if lo < info.min or hi > info.max:
        msg = (
            f"{name}: cannot read {source.name} pixels as {target.name}: values {lo}..{hi} do not fit "
            f"{info.min}..{info.max} and a label must not wrap; choose a wider label type"
        )
        raise PixelTypeError(msg)
    return values.astype(dtype)
