"""The image-basics tour, imalgebra style.

Follows SimpleITK's "Image basics" notebook step by step on images the package
generates (no download, no network), printing what each step shows.

Run:  python examples/image_basics.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import imalgebra as ia
from imalgebra import data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ycbcr import rgb_to_ycbcr, ycbcr_to_rgb  # the tour's colour exercise, beside this file


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 60 - len(title)))


def pixel_types() -> None:
    section("Pixel types")
    for pixel_type in (ia.PixelType.UInt8, ia.PixelType.Int16, ia.PixelType.Float32, ia.PixelType.VectorUInt8):
        print(f"{pixel_type.name:14} id={pixel_type.id:2}  {pixel_type.description!r:38} dtype={pixel_type.dtype}")
    print("from_id(2) ->", ia.PixelType.from_id(2))
    print("LabelUInt16: label", ia.PixelType.LabelUInt16.is_label, "integer", ia.PixelType.LabelUInt16.is_integer)


def construction() -> ia.Image:
    section("Construction and attributes")
    img3 = ia.Image.zeros((256, 128, 64), ia.PixelType.Int16)
    img2 = ia.Image.zeros((64, 64), ia.PixelType.Float32)
    rgb = ia.Image.zeros((128, 64), ia.PixelType.VectorUInt8, components=3)
    print(img3, img2, rgb, sep="\n")
    img3 = img3.with_origin((78.0, 76.0, 77.0)).with_spacing((0.5, 0.5, 3.0))
    print("origin   ", img3.origin)
    print("size     ", img3.size)
    print("spacing  ", img3.spacing)
    print("direction", img3.direction)
    print("dimension", img3.dimension, " width/height/depth", img3.width, img3.height, img3.depth)
    print("2D depth ", img2.depth, " components", rgb.components)
    print("physical point of index (1, 2, 3):", img3.index_to_physical((1, 2, 3)))
    print("continuous index of that point:   ", img3.physical_to_index(img3.index_to_physical((1, 2, 3))))
    tour = ia.Image.zeros((16, 16), ia.PixelType.UInt8).with_direction((0, 1, 0.5, 0.5))
    print("non-orthogonal direction is fine: ", tour.direction)
    try:
        img3.with_spacing((0.5, 0.0, 3.0))
    except ia.GeometryError as err:
        print("zero spacing is refused:", err)
    return img3


def pixels_and_slicing(img3: ia.Image) -> None:
    section("Pixels and slicing")
    print("img3[0, 0, 0] =", img3[0, 0, 0])
    img3 = img3.with_pixel((0, 0, 0), 1)
    print("after with_pixel:", img3[0, 0, 0], " (a new image; the old one is unchanged)")
    many = img3.with_pixels([[1, 1, 1], [2, 2, 2], [3, 3, 3]], [10, 20, 30])
    print("with_pixels, one copy for many:", many[1, 1, 1], many[2, 2, 2], many[3, 3, 3])
    logo = data.logo()
    print("logo:", logo, " pixel (50, 60) =", logo[50, 60])
    sub = logo[0:115, :]
    half = logo[::2, ::2]
    flip = logo[115:0:-1, :]
    print("logo[0:115, :]     ", sub)
    print("logo[::2, ::2]     ", half)
    print("logo[115:0:-1, :]  ", flip)
    print(
        "  its first pixel sits where logo's pixel 115 does:",
        flip.index_to_physical((0, 0)) == logo.index_to_physical((115, 0)),
    )
    vol = data.head(size=(64, 64, 32))
    plane = vol[:, :, 16]
    print("head phantom:", vol)
    print("vol[:, :, 16]:", plane)
    try:
        logo[5:5, :]
    except ia.ImageIndexError as err:
        print("an empty slice is refused:", err)
    try:
        logo[300, 0]
    except IndexError as err:
        print("out of range:", err)


def numpy_bridge() -> None:
    section("numpy")
    img = data.head(size=(40, 30, 20))
    nda = ia.to_array(img)
    print("to_array:", nda.shape, nda.dtype, "(z, y, x); a writable copy")
    view = ia.array_view(img)
    print("array_view writeable:", view.flags.writeable, " shares memory:", np.shares_memory(view, np.asarray(img)))
    print("from_array((10, 20, 3))                 ->", ia.from_array(np.zeros((10, 20, 3), np.uint8)))
    print("from_array((10, 20, 3), is_vector=True) ->", ia.from_array(np.zeros((10, 20, 3), np.uint8), is_vector=True))
    res = ia.from_array(nda * 2).with_geometry(img.geometry)
    print("CopyInformation is with_geometry:       ->", res)
    labels = ia.from_array((nda > 0).astype(np.uint8), pixel_type=ia.PixelType.LabelUInt8)
    print(
        f"a label image keeps runs: {labels.nbytes} bytes for {nda.size} voxels "
        f"(dense: {nda.size} bytes), exact: {np.array_equal(ia.to_array(labels), nda > 0)}"
    )


def expressions() -> None:
    section("Expressions and evaluation")
    img = data.head(size=(64, 64, 32))
    res = ia.from_array(ia.to_array(img) + 100).with_geometry(img.geometry)
    e = res - img
    print("e = res - img          ->", repr(e))
    print("known before computing ->", e.geometry.size, e.pixel_type.name)
    out = ia.evaluate(e)
    print("evaluate(e)            ->", out, " all 100:", bool(np.all(ia.to_array(out) == 100)))
    print("evaluate(img) is img   ->", ia.evaluate(img) is img)
    other = img.with_spacing((1.0, 1.0, 2.5))
    try:
        img + other
    except ia.PhysicalSpaceError as err:
        print("img + other            -> PhysicalSpaceError, raised when built:")
        print("   ", str(err).replace("\n", "\n    "))
    with ia.tolerance(coordinate=1.0):
        print("with ia.tolerance(coordinate=1.0): img + other builds:", repr(img + other))
    f = ia.cast(img, ia.PixelType.Float32)
    pipeline = ia.clamp((f - 50) * 0.5 + ia.sqrt(ia.abs(f)), lower=0, upper=100)
    print("text form              ->", pipeline)
    print("parse(str(pipeline)) equals it:", ia.parse(str(pipeline), a=img).equals(pipeline))
    stats = ia.statistics(img)
    print(
        f"statistics(img)        -> min {stats.minimum} max {stats.maximum} mean {stats.mean:.2f} "
        f"sigma {stats.sigma:.2f} (sample, as SimpleITK)"
    )
    scaled = ia.rescale_intensity(img, out_min=0, out_max=255)
    print("rescale_intensity      ->", ia.statistics(scaled).minimum, ia.statistics(scaled).maximum)
    masked = ia.where(img > 0, img, 0)
    print("where(img > 0, img, 0) ->", repr(masked))
    print("gabor source           ->", ia.evaluate(ia.gabor(size=(64, 64), frequency=0.03)))
    logo = data.logo()
    ycbcr = ia.evaluate(rgb_to_ycbcr(logo))
    rgb = ia.evaluate(ycbcr_to_rgb(ycbcr))
    error = np.abs(ia.to_array(rgb).astype(int) - ia.to_array(logo).astype(int)).max()
    print(f"YCbCr -> RGB (select_component, arithmetic, clamp, compose): {rgb}, max error vs logo {error}")


def files() -> None:
    section("Files")
    with tempfile.TemporaryDirectory(prefix="imalgebra-tour-") as tmp:
        files_in(Path(tmp))


def files_in(folder: Path) -> None:
    head = data.head(size=(64, 64, 32)).with_metadata({"0008|0060": "CT", "Patient": "phantom"})
    for name in ("head.mha", "head.nrrd", "head.nii.gz", "head.tif", "head.zarr"):
        ia.write(head, folder / name)
        back = ia.read(folder / name)
        print(
            f"{name:12} -> {ia.read_info(folder / name).io:12} {back.size} {back.pixel_type.name} "
            f"same pixels: {np.array_equal(ia.to_array(back), ia.to_array(head))}"
        )
    ia.write(data.logo(), folder / "logo.png")
    logo = ia.read(folder / "logo.png", io="PNGImageIO")
    print("logo.png as Float64   ->", ia.read(folder / "logo.png", pixel_type=ia.PixelType.Float64))
    print("registered IOs        ->", ", ".join(ia.io.registered()))
    part = ia.read(folder / "head.mha", index=(10, 10, 10), size=(16, 16, 8))
    print("region read           ->", part)
    lazy = ia.open(folder / "head.mha")
    diff = lazy - ia.open(folder / "head.nrrd")
    ia.write(diff, folder / "diff.mha", evaluator=ia.Streamed(memory="8 MiB"))
    print("streamed diff         ->", ia.statistics(ia.read(folder / "diff.mha")).maximum, "(a - a is 0)")
    slices = ia.cast(head[:, :, 14:17] + 1000, ia.PixelType.UInt8)
    names = [folder / f"slice{i:03d}.png" for i in range(3)]
    ia.write(slices, names)
    print("3 slices written, read back as a stack ->", ia.read(names))
    print("logo read through a forced IO:", logo)


def main() -> None:
    print("imalgebra", ia.__version__, "- the image basics tour")
    pixel_types()
    img3 = construction()
    pixels_and_slicing(img3)
    numpy_bridge()
    expressions()
    files()
    print("\nDone.")


if __name__ == "__main__":
    main()
