"""The registry of image IOs and the public ``read``, ``read_info`` and ``write``.

The registry is an ordered tuple of module names, declared here
(:data:`MODULES`); each module ends with ``IO = FormatIO(...)`` (see
:mod:`imalgebra.io.base`). Modules are imported on first use, so ``import
imalgebra`` stays light. There is no global "use this plugin" switch: pass
``io=NAME`` to one call instead.

Choosing an IO for a read: the first 1 KiB of the file is read once and given
to every sniffer; the IO whose sniffer recognises the content wins (the one
that also claims the file's extension first), else the IO claiming the
extension is tried. When the two disagree, errors say so ("named .nii.gz but
its content looks like MetaImageIO"). ``io=NAME`` forces one IO; a file it
cannot read raises an :class:`~imalgebra.ImageIOError` naming both.

For writing, the extension decides (case-insensitively: ``.MHA`` is a
MetaImage file, not SimpleITK's silent ``.mhd`` + ``.raw``); an unknown
extension raises an error listing the supported ones.

Example
-------
>>> import tempfile, os, imalgebra as ia
>>> path = os.path.join(tempfile.mkdtemp(), "a.MHA")
>>> write(ia.Image.zeros((4, 3), ia.PixelType.UInt8, spacing=(2, 2)), path)
>>> read_info(path).io, read(path).spacing, os.listdir(os.path.dirname(path))
('MetaImageIO', (2.0, 2.0), ['a.MHA'])
"""

from __future__ import annotations

import importlib
import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from imalgebra.algebra.geometry import Region
from imalgebra.algebra.image import Image
from imalgebra.algebra.pixel import PixelType
from imalgebra.errors import ImageAlgebraError, ImageIndexError, ImageIOError, PixelTypeError
from imalgebra.io.base import FormatIO, ImageInfo

__all__ = ["MODULES", "get", "read", "read_info", "reader_for", "registered", "write", "writer_for"]

#: The image IO modules of ``imalgebra.io``, in priority order.
MODULES = ("metaimage", "nrrd", "nifti", "dicom", "png", "jpeg", "bmp", "tiff", "zarr")
HEAD_BYTES = 1024

_lock = threading.Lock()
_loaded: tuple[FormatIO, ...] | None = None


def _load() -> tuple[FormatIO, ...]:
    global _loaded
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is None:
            found = []
            for name in MODULES:
                qualified = f"imalgebra.io.{name}"
                try:
                    module = importlib.import_module(qualified)
                except ModuleNotFoundError as err:
                    if err.name == qualified:
                        continue  # this format is not part of this installation
                    raise
                io = getattr(module, "IO", None)
                if not isinstance(io, FormatIO):
                    msg = f"{qualified} has no IO = FormatIO(...) (found {type(io).__name__})"
                    raise ImageIOError(msg)
                found.append(io)
            _loaded = tuple(found)
    return _loaded


def registered() -> tuple[str, ...]:
    """The names of the registered image IOs, in priority order.

    >>> registered()[:2]
    ('MetaImageIO', 'NrrdImageIO')
    """
    return tuple(io.name for io in _load())


def get(name: str | FormatIO) -> FormatIO:
    """The image IO called ``name`` (aliases such as ``"DICOMImageIO"`` work; any case).

    >>> get("metaimageio").extensions
    ('.mha', '.mhd')
    """
    if isinstance(name, FormatIO):
        return name
    wanted = str(name).lower()
    for io in _load():
        if wanted == io.name.lower() or wanted in (a.lower() for a in io.aliases):
            return io
    msg = f"no image IO called {name!r}; registered: {', '.join(registered())}"
    raise ImageIOError(msg)


def _extension_ios(path: str) -> list[FormatIO]:
    """IOs claiming the file's extension, longest extension first (then priority)."""
    name = path.lower()
    hits = []
    for rank, io in enumerate(_load()):
        lengths = [len(ext) for ext in io.extensions if name.endswith(ext.lower())]
        if lengths:
            hits.append((-max(lengths), rank, io))
    return [io for _, _, io in sorted(hits, key=lambda h: (h[0], h[1]))]


def _supported_extensions(writers_only: bool) -> str:
    exts = []
    for io in _load():
        if writers_only and io.write is None and io.open_writer is None:
            continue
        exts.extend(e for e in io.extensions if e not in exts)
    return " ".join(exts)


def _head(path: str) -> bytes:
    """The first 1 KiB of ``path`` (empty for a folder), with clear errors for missing or unreadable files."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(path))
        where = "" if os.path.isdir(folder) else f" (its folder {folder} does not exist either)"
        msg = f"{path}: no such file{where}"
        raise ImageIOError(msg) from None
    except OSError as err:
        msg = f"{path}: cannot read the file: {err.strerror or err}"
        raise ImageIOError(msg) from err
    if stat.S_ISDIR(mode):
        return b""
    try:
        with open(path, "rb", buffering=0) as f:  # unbuffered: exactly HEAD_BYTES, not a whole buffer
            return f.read(HEAD_BYTES)
    except PermissionError as err:
        msg = f"{path}: cannot read the file: permission denied"
        raise ImageIOError(msg) from err
    except OSError as err:
        msg = f"{path}: cannot read the file: {err.strerror or err}"
        raise ImageIOError(msg) from err


def _sniffed(head: bytes) -> list[FormatIO]:
    out = []
    for io in _load():
        try:
            if head and io.sniff(head):
                out.append(io)
        except Exception:
            continue
    return out


def _describe(head: bytes) -> str:
    shown = head[:16]
    return f"first bytes {shown!r}" if shown else "no content"


def reader_for(path: str | os.PathLike[str], io: str | FormatIO | None = None) -> FormatIO:
    """The image IO that reads ``path``: ``io`` if given, else by content, then by extension.

    >>> import tempfile, os, imalgebra as ia
    >>> p = os.path.join(tempfile.mkdtemp(), "x.nrrd")
    >>> write(ia.Image.zeros((2, 2), ia.PixelType.UInt8), p)
    >>> reader_for(p).name
    'NrrdImageIO'
    """
    return _candidates(os.fspath(path), io)[0]


def _candidates(path: str, io: str | FormatIO | None) -> list[FormatIO]:
    """The IOs to try for ``path``, best first; raises when none fits."""
    if io is not None:
        return [get(io)]
    head = _head(path)
    by_content = _sniffed(head)
    by_name = _extension_ios(path)
    if os.path.isdir(path):
        if by_name:
            return by_name
        msg = (
            f"{path}: is a folder, not an image file; to read a DICOM series pass its files "
            "(ia.dicom.series_files(folder)), or name a folder format by its extension (e.g. .zarr)"
        )
        raise ImageIOError(msg)
    if not head:
        msg = f"{path}: the file is empty (0 bytes), not an image"
        raise ImageIOError(msg)
    if by_content:
        both = [c for c in by_content if c in by_name]
        return both + [c for c in by_content if c not in both]
    if by_name:
        return by_name[:1]
    ext = "".join(Path(path).suffixes[-2:]) or "(none)"
    msg = (
        f"{path}: cannot tell the image format: the content ({_describe(head)}) is not recognised by any "
        f"image IO and the extension {ext} is not registered; registered: {', '.join(registered())} "
        f"(extensions: {_supported_extensions(False)})"
    )
    raise ImageIOError(msg)


def writer_for(path: str | os.PathLike[str], io: str | FormatIO | None = None) -> FormatIO:
    """The image IO that writes ``path``: ``io`` if given, else by extension (any case).

    >>> writer_for("OUT.NII.GZ").name if "NiftiImageIO" in registered() else "NiftiImageIO"
    'NiftiImageIO'
    """
    path = os.fspath(path)
    if io is not None:
        fmt = get(io)
    else:
        found = [f for f in _extension_ios(path) if f.write is not None or f.open_writer is not None]
        if not found:
            ext = "".join(Path(path).suffixes[-2:]) or "no extension"
            msg = (
                f"cannot write {path}: no image IO writes {ext}; supported: {_supported_extensions(True)} "
                "(or force one with io=NAME)"
            )
            raise ImageIOError(msg)
        fmt = found[0]
    if fmt.write is None and fmt.open_writer is None:
        msg = f"cannot write {path}: {fmt.name} reads only"
        raise ImageIOError(msg)
    return fmt


# -- reading ---------------------------------------------------------------------------


def _call(io: FormatIO, path: str, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a format function; any failure becomes an ImageIOError naming the file and the IO."""
    try:
        return fn(*args, **kwargs)
    except ImageIOError as err:
        if path in str(err):
            raise
        msg = f"{path}: {err}"  # e.g. an error in a header's data file: name the header too
        raise ImageIOError(msg) from err
    except (MemoryError, KeyboardInterrupt):
        raise
    except ImageAlgebraError as err:
        msg = f"{path}: {io.name} cannot {what}: {err}"
        raise ImageIOError(msg) from err
    except Exception as err:
        msg = f"{path}: {io.name} cannot {what}: {type(err).__name__}: {err}"
        raise ImageIOError(msg) from err


_ACCEPTS: dict[Any, bool] = {}


def _accepts_allow_outside(fn: Any) -> bool:
    if fn not in _ACCEPTS:
        import inspect

        try:
            _ACCEPTS[fn] = "allow_outside" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            _ACCEPTS[fn] = False
    return _ACCEPTS[fn]


def _info_with(io: FormatIO, path: str, allow_outside: bool) -> ImageInfo:
    kwargs = {"allow_outside": True} if allow_outside and _accepts_allow_outside(io.read_info) else {}
    info = _call(io, path, "read the header", io.read_info, path, **kwargs)
    if not isinstance(info, ImageInfo):
        msg = f"{path}: {io.name}.read_info returned {type(info).__name__}, not an ImageInfo"
        raise ImageIOError(msg)
    return info


def _open_info(path: str, io: str | FormatIO | None, allow_outside: bool) -> ImageInfo:
    candidates = _candidates(path, io)
    if io is not None:
        fmt = candidates[0]
        try:
            return _info_with(fmt, path, allow_outside)
        except ImageIOError as err:
            looks = [c.name for c in _sniffed(_head(path)) if c is not fmt]
            hint = f" (its content looks like {looks[0]})" if looks else ""
            msg = f"{path}: cannot be read with io={fmt.name}{hint}: {err}"
            raise ImageIOError(msg) from err
    errors = []
    for fmt in candidates:
        try:
            return _info_with(fmt, path, allow_outside)
        except ImageIOError as err:
            errors.append((fmt, err))
    fmt, err = errors[0]
    by_name = _extension_ios(path)
    head = _head(path)
    if by_name and fmt not in by_name:
        note = f"named like {by_name[0].name} but its content looks like {fmt.name}, which failed"
    elif not _sniffed(head):
        note = f"named like {fmt.name} but its content is not recognised ({_describe(head)}); {fmt.name} failed"
    else:
        note = f"{fmt.name} failed"
    detail = str(err)
    detail = detail[len(path) + 2 :] if detail.startswith(f"{path}: ") else detail
    msg = f"{path}: {note}: {detail}"
    raise ImageIOError(msg) from err


def _region(info: ImageInfo, path: str, index: Sequence[int] | None, size: Sequence[int] | None) -> Region:
    full = info.geometry.region
    if index is None and size is None:
        return full
    d = info.dimension
    idx = tuple(int(v) for v in index) if index is not None else (0,) * d
    if len(idx) != d:
        msg = f"{path}: index={tuple(index or ())} needs {d} values (x, y, z order) for this image of size {info.size}"
        raise ImageIndexError(msg)
    sz = tuple(int(v) for v in size) if size is not None else tuple(s - i for s, i in zip(info.size, idx, strict=True))
    if len(sz) != d:
        msg = (
            f"{path}: size={tuple(size or ())} needs {d} values (x, y, z order) for this {d}D image of size {info.size}"
        )
        raise ImageIndexError(msg)
    if any(s == 0 for s in sz):
        axis = "xyzt"[sz.index(0)] if sz.index(0) < 4 else str(sz.index(0))
        shown = tuple(1 if s == 0 else s for s in sz)
        msg = (
            f"{path}: size={sz} has 0 on axis {axis}; collapsing an axis by a size of 0 (SimpleITK's "
            f"ExtractSize) is not supported: read size={shown} and slice the axis away, "
            f"e.g. ia.read(path, index=..., size=...)[:, :, 0]"
        )
        raise ImageIndexError(msg)
    if any(s < 0 for s in sz):
        msg = f"{path}: size={sz} has a negative axis"
        raise ImageIndexError(msg)
    region = Region(index=idx, size=sz)
    if not full.contains(region):
        msg = (
            f"{path}: the region index={region.index} size={region.size} is not inside the image "
            f"index={full.index} size={full.size}"
        )
        raise ImageIndexError(msg)
    return region


def _pixel_type(value: PixelType | int | str | None) -> PixelType | None:
    if value is None or isinstance(value, PixelType):
        return value
    if isinstance(value, str):
        try:
            return PixelType[value]
        except KeyError:
            msg = f"pixel_type {value!r} is not a PixelType name (e.g. 'Float32', 'VectorUInt8')"
            raise PixelTypeError(msg) from None
    return PixelType.from_id(value)


def read_info(
    path: str | os.PathLike[str], *, io: str | FormatIO | None = None, allow_outside: bool = False
) -> ImageInfo:
    """The header of an image file: geometry, pixel type, components, metadata (no pixel is read).

    Parameters
    ----------
    path
        The image file; or a list of files (a DICOM series, or 2D slices to stack: see :func:`read`).
    io
        An image IO name to force one (see :func:`registered`); by default it
        is chosen from the content and then the extension.
    allow_outside
        Let a header's data file name (MetaImage ``ElementDataFile``, NRRD
        ``data file``) be an absolute path or leave the header's folder.

    >>> import tempfile, os, imalgebra as ia
    >>> p = os.path.join(tempfile.mkdtemp(), "h.nrrd")
    >>> write(ia.Image.zeros((8, 4, 2), ia.PixelType.Int16), p)
    >>> info = read_info(p)
    >>> info.size, info.pixel_type.name, info.io
    ((8, 4, 2), 'Int16', 'NrrdImageIO')
    """
    if isinstance(path, (list, tuple)):
        names = [os.fspath(p) for p in path]
        if names and _dicom_list(names, io):
            from imalgebra.io import dicom_series  # type: ignore[attr-defined]

            return dicom_series.info(names)
        from imalgebra.io import stack

        return stack.read_stack_info(names, io=io, allow_outside=allow_outside)
    return _open_info(os.fspath(path), io, allow_outside)


def read(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    io: str | FormatIO | None = None,
    pixel_type: PixelType | int | str | None = None,
    index: Sequence[int] | None = None,
    size: Sequence[int] | None = None,
    allow_outside: bool = False,
) -> Image:
    """Read an image file (or a list of files) into an :class:`~imalgebra.Image`.

    Parameters
    ----------
    path
        A file; or a list of files: DICOM files read as one series
        (``imalgebra.io.dicom.read_series``), any other files are stacked as
        the z slices of a 3D image.
    io
        An image IO name to force one; a file it cannot read raises an
        ImageIOError naming the file and the IO.
    pixel_type
        Convert on read as SimpleITK does (see :mod:`imalgebra.io.convert`).
    index, size
        Read only this region (x, y, z order); the image's geometry is the
        crop of the file's. Uncompressed MetaImage and NRRD read just the
        bytes the region needs; compressed data is decoded up to the region's
        end; formats without region reads (``io.get(name).capabilities.
        region_read`` False) decode the whole file and slice it. A size of 0
        (SimpleITK's axis collapse) is not supported: read size 1 and slice.
    allow_outside
        Let a header's data file be an absolute path or leave its folder.

    >>> import tempfile, os, numpy as np, imalgebra as ia
    >>> p = os.path.join(tempfile.mkdtemp(), "r.mha")
    >>> write(ia.from_array(np.arange(24, dtype=np.int16).reshape(2, 3, 4)), p)
    >>> part = read(p, index=(1, 1, 1), size=(2, 2, 1))
    >>> part.size, part.origin, ia.to_array(part).tolist()
    ((2, 2, 1), (1.0, 1.0, 1.0), [[[17, 18], [21, 22]]])
    >>> read(p, pixel_type=ia.PixelType.UInt8)[3, 0, 0]
    3
    """
    target = _pixel_type(pixel_type)
    if isinstance(path, (list, tuple)):
        return _read_many(list(path), io, target, index, size, allow_outside)
    path = os.fspath(path)
    info = _open_info(path, io, allow_outside)
    return read_with(info, path, pixel_type=target, index=index, size=size)


def read_with(
    info: ImageInfo,
    path: str,
    *,
    pixel_type: PixelType | None = None,
    index: Sequence[int] | None = None,
    size: Sequence[int] | None = None,
) -> Image:
    """Read ``path``'s pixels given its header ``info`` (from :func:`read_info`)."""
    fmt = get(info.io) if info.io else reader_for(path)
    region = _region(info, path, index, size)
    array = _call(fmt, path, "read the pixels", fmt.read_region, path, info, region)
    expected = region.shape + ((info.components,) if info.pixel_type.is_vector else ())
    dtype = info.pixel_type.dtype
    if not isinstance(array, np.ndarray) or array.shape != expected:
        got = getattr(array, "shape", type(array).__name__)
        msg = f"{path}: {fmt.name}.read_region returned {got}, expected an array of shape {expected}"
        raise ImageIOError(msg)
    if array.dtype != dtype:
        array = array.astype(dtype)
    pt = info.pixel_type
    if pixel_type is not None and pixel_type != pt:
        from imalgebra.io.convert import convert

        array, _ = convert(array, pt, pixel_type, name=path)
        pt = pixel_type
    geometry = info.geometry if region == info.geometry.region else info.geometry.crop(region)
    return Image.from_pixels(array, geometry, pt, metadata=info.metadata, copy=False)


def _is_dicom(paths: list[str]) -> bool:
    try:
        dicom = get("GDCMImageIO")
    except ImageIOError:
        return False
    for p in paths:
        try:
            head = _head(p)
        except ImageIOError:
            return False
        try:
            recognised = bool(head) and dicom.sniff(head)
        except Exception:
            recognised = False
        if not recognised and not (not _sniffed(head) and dicom in _extension_ios(p)):
            return False
    return True


def _dicom_list(names: list[str], io: str | FormatIO | None) -> bool:
    """True when a list of files is a DICOM series (forced with io=, or every file is DICOM)."""
    if io is not None:
        return get(io).name == "GDCMImageIO"
    return _is_dicom(names)


def _read_many(
    paths: list[Any],
    io: str | FormatIO | None,
    pixel_type: PixelType | None,
    index: Sequence[int] | None,
    size: Sequence[int] | None,
    allow_outside: bool,
) -> Image:
    names = [os.fspath(p) for p in paths]
    if not names:
        msg = "read: the list of files is empty"
        raise ImageIOError(msg)
    forced = get(io) if io is not None else None
    if _dicom_list(names, io):
        from imalgebra.io import dicom  # type: ignore[attr-defined]

        kwargs: dict[str, Any] = {}
        if index is not None or size is not None:
            kwargs.update(index=index, size=size)
        image = dicom.read_series(names, **kwargs)
        if pixel_type is not None and pixel_type != image.pixel_type:
            from imalgebra.io.convert import convert

            array, _ = convert(np.asarray(image), image.pixel_type, pixel_type, name=names[0])
            image = Image.from_pixels(array, image.geometry, pixel_type, metadata=image.metadata, copy=False)
        return image
    from imalgebra.io import stack

    return stack.read_stack(
        names, io=forced, pixel_type=pixel_type, index=index, size=size, allow_outside=allow_outside
    )


# -- writing ---------------------------------------------------------------------------


def _compress_ok(compress: Any) -> bool | int:
    if isinstance(compress, bool):
        return compress
    if isinstance(compress, int) and 0 <= compress <= 9:
        return compress
    msg = f"compress must be True, False or a zlib level 0-9, got {compress!r}"
    raise ImageIOError(msg)


def write(
    image: Any,
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    io: str | FormatIO | None = None,
    compress: bool | int = False,
    evaluator: Any = None,
) -> None:
    """Write an image (or an expression) to a file, atomically; a list of paths gets one 2D file per z slice.

    Parameters
    ----------
    image
        An :class:`~imalgebra.Image`, or an expression (anything with
        ``geometry`` and ``pixel_type``), which is evaluated first (in memory,
        or by ``evaluator``, whose ``write`` streams it to the file).
    path
        The file; its extension (any case) chooses the format unless ``io``
        is given. A list of paths writes a 3D image one 2D slice per file.
    io
        An image IO name to force one.
    compress
        Compress where the format can (zlib/gzip: True or a level 1-9).
    evaluator
        An evaluator such as ``ia.Streamed(memory="64 MiB")``.

    Nothing appears under the target name until the write succeeded, and a
    failed write leaves an existing file untouched (see :mod:`.atomic`).

    >>> import tempfile, os, imalgebra as ia
    >>> folder = tempfile.mkdtemp()
    >>> write(ia.Image.zeros((4, 4), ia.PixelType.Float32), os.path.join(folder, "z.nrrd"), compress=True)
    >>> os.listdir(folder)
    ['z.nrrd']
    """
    compress = _compress_ok(compress)
    if not isinstance(image, Image):
        if not (hasattr(image, "geometry") and hasattr(image, "pixel_type")):
            msg = f"write takes an Image or an image expression, got {type(image).__name__}"
            raise TypeError(msg)
        if evaluator is not None:
            evaluator.write(image, path, io=io, compress=compress)
            return
        from imalgebra.evaluate import evaluate

        image = evaluate(image)
    elif evaluator is not None:
        evaluator.write(image, path, io=io, compress=compress)
        return
    if isinstance(path, (list, tuple)):
        from imalgebra.io import stack

        stack.write_stack(image, [os.fspath(p) for p in path], io=io, compress=compress)
        return
    path = os.fspath(path)
    fmt = writer_for(path, io)
    _check_capabilities(fmt, image, path)
    if fmt.write is not None:
        _write_with(fmt, path, image, compress)
        return
    writer = fmt.open_writer(path, _info_of(image, fmt, path), compress=compress)  # type: ignore[misc]
    try:
        writer.write(image.geometry.region, np.asarray(image))
    except BaseException:
        writer.abort()
        raise
    writer.commit()


def _info_of(image: Image, fmt: FormatIO, path: str) -> ImageInfo:
    return ImageInfo(
        geometry=image.geometry,
        pixel_type=image.pixel_type,
        components=image.components,
        metadata=image.metadata,
        io=fmt.name,
        path=path,
    )


def _check_capabilities(fmt: FormatIO, image: Image, path: str) -> None:
    caps = fmt.capabilities
    if caps.pixel_types is not None and image.pixel_type not in caps.pixel_types:
        names = ", ".join(sorted(p.name for p in caps.pixel_types))
        msg = (
            f"cannot write {path}: {fmt.name} cannot store {image.pixel_type.name} pixels; it stores {names} "
            "(cast first with ia.cast, or choose another format such as .mha or .nrrd)"
        )
        raise ImageIOError(msg)
    if image.dimension not in caps.dimensions:
        msg = (
            f"cannot write {path}: {fmt.name} stores {'/'.join(map(str, caps.dimensions))}D images, "
            f"not {image.dimension}D (write a 3D image to a list of paths for one 2D file per slice)"
        )
        raise ImageIOError(msg)


def _write_with(fmt: FormatIO, path: str, image: Image, compress: bool | int) -> None:
    try:
        fmt.write(path, image, compress=compress)  # type: ignore[misc]
    except (ImageIOError, PixelTypeError, MemoryError, KeyboardInterrupt):
        raise
    except OSError as err:
        msg = f"cannot write {path}: {err.strerror or err}"
        raise ImageIOError(msg) from err
