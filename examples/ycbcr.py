"""YCbCr -> RGB, the SimpleITK tour's colour-space exercise, written with imalgebra.

The tour converts a colour photograph stored in the YCbCr (DICOM "YBR_FULL")
colour space to RGB: take each component as Float32, centre the chroma
components on 0, combine them linearly (JPEG/JFIF full-range coefficients),
clamp each result to UInt8's range and compose the three into a vector image.
Here every step is an expression node, so nothing is computed until the end,
and the whole conversion prints as one line of text and stores as JSON.

Run:  python examples/ycbcr.py
"""

from __future__ import annotations

from typing import Any

import numpy as np

import imalgebra as ia
from imalgebra import data
from imalgebra.algebra.expr import Expr
from imalgebra.algebra.text import to_text

KR, KB = 0.299, 0.114  # ITU-R BT.601 luma weights (JPEG / DICOM YBR_FULL)
KG = 1.0 - KR - KB


def ycbcr_to_rgb(image: ia.Image) -> Expr:
    """RGB (VectorUInt8) from a full-range YCbCr image: an expression, evaluated when asked.

    Same arithmetic as the tour's SimpleITK version (Float32 components,
    coefficients 1.402 = 2 (1 - Kr), 1.772 = 2 (1 - Kb)), so the values are the
    same bit for bit.
    """
    y, cb, cr = (ia.select_component(image, k, pixel_type=ia.PixelType.Float32) for k in range(3))
    cb = cb - 128
    cr = cr - 128
    red = y + 1.402 * cr
    green = y - KB * 1.772 / KG * cb - KR * 1.402 / KG * cr
    blue = y + 1.772 * cb
    return ia.compose(*(ia.clamp(c, pixel_type=ia.PixelType.UInt8) for c in (red, green, blue)))


def rgb_to_ycbcr(image: ia.Image) -> Expr:
    """The forward transform (full-range YCbCr, VectorUInt8), to make a test image."""
    r, g, b = (ia.select_component(image, k, pixel_type=ia.PixelType.Float32) for k in range(3))
    y = KR * r + KG * g + KB * b
    cb = (b - y) / 1.772 + 128
    cr = (r - y) / 1.402 + 128
    return ia.compose(*(ia.clamp(ia.round(c), pixel_type=ia.PixelType.UInt8) for c in (y, cb, cr)))


def main() -> None:
    logo = data.logo()
    ycbcr = ia.evaluate(rgb_to_ycbcr(logo))
    rgb = ycbcr_to_rgb(ycbcr)
    print("the conversion as text:")
    for line in to_text(rgb, names={"ycbcr": ycbcr}).splitlines():
        print("   ", line)
    back = ia.evaluate(rgb)
    error = np.abs(ia.to_array(back).astype(int) - ia.to_array(logo).astype(int))
    print(f"logo {logo.size} -> YCbCr -> RGB: {back.pixel_type.name}, {back.components} components")
    print(f"largest difference from the original after the round trip: {error.max()} (of 255)")
    try:
        import SimpleITK as sitk
    except ImportError:
        print("SimpleITK is not installed: skipping the comparison")
    else:
        same = np.array_equal(ia.to_array(back), sitk.GetArrayFromImage(simpleitk_ycbcr_to_rgb(sitk, ycbcr)))
        print("same pixels as SimpleITK's version:", same)
    print("Done.")


def simpleitk_ycbcr_to_rgb(sitk: Any, image: ia.Image) -> Any:
    """The tour's SimpleITK pipeline, for comparison."""
    img = sitk.GetImageFromArray(ia.to_array(image), isVector=True)
    y, cb, cr = (sitk.VectorIndexSelectionCast(img, k, sitk.sitkFloat32) for k in range(3))
    cb = cb - 128
    cr = cr - 128
    red = y + 1.402 * cr
    green = y - KB * 1.772 / KG * cb - KR * 1.402 / KG * cr
    blue = y + 1.772 * cb
    return sitk.Compose([sitk.Clamp(c, sitk.sitkUInt8) for c in (red, green, blue)])


if __name__ == "__main__":
    main()
