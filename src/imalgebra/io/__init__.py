"""Reading and writing image files: ``read``, ``read_info``, ``write`` and the registry of image IOs.

``registered()`` lists the image IOs in priority order; ``get(name)`` returns
one (:class:`FormatIO`). The format modules (``metaimage``, ``nrrd``,
``nifti``, ``dicom``, ``png``, ``jpeg``, ``bmp``, ``tiff``, ``zarr``) are
imported on first use, so ``import imalgebra`` stays light. Writes are atomic
(:mod:`imalgebra.io.atomic`).

Example
-------
>>> import tempfile, os, imalgebra as ia
>>> path = os.path.join(tempfile.mkdtemp(), "img.nrrd")
>>> ia.write(ia.Image.zeros((4, 3), ia.PixelType.Int16, origin=(1, 2)), path)
>>> ia.read_info(path).origin, ia.read(path).pixel_type.name, ia.io.registered()[0]
((1.0, 2.0), 'Int16', 'MetaImageIO')
"""

from imalgebra.io.atomic import durable_writes
from imalgebra.io.base import Capabilities, FormatIO, ImageInfo, RegionWriter
from imalgebra.io.registry import get, read, read_info, reader_for, registered, write, writer_for

__all__ = [
    "Capabilities",
    "FormatIO",
    "ImageInfo",
    "RegionWriter",
    "durable_writes",
    "get",
    "read",
    "read_info",
    "reader_for",
    "registered",
    "write",
    "writer_for",
]
