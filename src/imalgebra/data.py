"""Small images generated on the fly, for examples, docs and tests (no download).

* :func:`logo`: an RGB (VectorUInt8, 3 components) 2D image with coloured
  shapes on a white background, standing in for the SimpleITK tour's logo.
* :func:`head`: a 3D Shepp-Logan-style ellipsoid phantom (Int16, CT-like
  values), with anisotropic spacing and a non-zero origin.

Example
-------
>>> from imalgebra import data
>>> data.logo().size, data.logo().components
((230, 120), 3)
>>> h = data.head(size=(32, 32, 16))
>>> h.size, h.pixel_type.name, h.spacing
((32, 32, 16), 'Int16', (1.0, 1.0, 2.0))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imalgebra.algebra.geometry import Geometry
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType

__all__ = ["head", "logo"]

# (centre x, y, z; semi-axes a, b, c; rotation about z in degrees; value): a 3D Shepp-Logan variant (Kak & Slaney)
_ELLIPSOIDS = (
    ((0.0, 0.0, 0.0), (0.69, 0.92, 0.81), 0.0, 1000),
    ((0.0, -0.0184, 0.0), (0.6624, 0.874, 0.78), 0.0, -800),
    ((0.22, 0.0, 0.0), (0.11, 0.31, 0.22), -18.0, -200),
    ((-0.22, 0.0, 0.0), (0.16, 0.41, 0.28), 18.0, -200),
    ((0.0, 0.35, -0.15), (0.21, 0.25, 0.41), 0.0, 100),
    ((0.0, 0.1, 0.25), (0.046, 0.046, 0.05), 0.0, 100),
    ((0.0, -0.1, 0.25), (0.046, 0.046, 0.05), 0.0, 100),
    ((-0.08, -0.605, 0.0), (0.046, 0.023, 0.05), 0.0, 100),
    ((0.0, -0.605, 0.0), (0.023, 0.023, 0.02), 0.0, 100),
    ((0.06, -0.605, 0.0), (0.023, 0.046, 0.02), 0.0, 100),
)


def head(
    size: Sequence[int] = (128, 128, 64),
    *,
    spacing: Sequence[float] = (1.0, 1.0, 2.0),
    origin: Sequence[float] | None = None,
) -> Image:
    """A 3D ellipsoid head phantom with CT-like Int16 values (air -1000 .. bone ~ 0).

    The origin defaults to the one that centres the volume on (0, 0, 0) mm.
    """
    size = tuple(int(v) for v in size)
    spacing = tuple(float(v) for v in spacing)
    if origin is None:
        origin = tuple(-(n - 1) * s / 2 for n, s in zip(size, spacing, strict=True))
    axes = [np.linspace(-1, 1, n) for n in size]
    z, y, x = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    volume = np.full(z.shape, -1000.0)
    for (cx, cy, cz), (a, b, c), angle, value in _ELLIPSOIDS:
        t = np.radians(angle)
        dx, dy, dz = x - cx, y - cy, z - cz
        u = dx * np.cos(t) + dy * np.sin(t)
        v = -dx * np.sin(t) + dy * np.cos(t)
        inside = (u / a) ** 2 + (v / b) ** 2 + (dz / c) ** 2 <= 1
        volume[inside] += value
    geometry = Geometry(size=size, origin=origin, spacing=spacing)
    return Image.from_pixels(volume.astype(np.int16), geometry, PixelType.Int16, copy=False)


def logo(size: Sequence[int] = (230, 120)) -> Image:
    """A 2D RGB image: a blue disc, a green bar and a red triangle on white."""
    width, height = (int(v) for v in size)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.full((height, width, 3), 255, np.uint8)
    disc = (x - width * 0.22) ** 2 + (y - height * 0.5) ** 2 <= (min(width, height) * 0.32) ** 2
    rgb[disc] = (40, 90, 200)
    bar = (x > width * 0.45) & (x < width * 0.62) & (y > height * 0.15) & (y < height * 0.85)
    rgb[bar] = (30, 160, 70)
    tri = (x > width * 0.68) & (y > height * 0.8 - (x - width * 0.68) * 1.2) & (y < height * 0.8)
    rgb[tri] = (210, 40, 40)
    return Image.from_pixels(rgb, Geometry(size=(width, height)), PixelType.VectorUInt8, copy=False)
