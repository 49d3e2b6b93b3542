"""Compressed region reads continue a paused decoder: streaming a zlib file stays linear."""

from __future__ import annotations

import numpy as np

import imalgebra as ia
from imalgebra.io import rawfile


def test_regions_read_in_order_decode_the_stream_once(tmp_path, monkeypatch):
    arr = np.random.default_rng(1).integers(0, 1000, (16, 32, 32)).astype(np.int16)
    path = tmp_path / "z.mha"
    ia.write(ia.from_array(arr), path, compress=True)
    starts = []
    original = rawfile._Cursor.__init__

    def counting(self, src):
        starts.append(src.path)
        original(self, src)

    monkeypatch.setattr(rawfile._Cursor, "__init__", counting)
    monkeypatch.setattr(rawfile._CURSORS, "cursors", {}, raising=False)
    for z in range(0, 16, 4):
        part = ia.read(path, index=(0, 0, z), size=(32, 32, 4))
        np.testing.assert_array_equal(ia.to_array(part), arr[z : z + 4])
    assert len(starts) == 1  # one decoder for the four slabs
    back = ia.read(path, index=(0, 0, 2), size=(32, 32, 2))  # going backwards restarts the stream
    np.testing.assert_array_equal(ia.to_array(back), arr[2:4])
    assert len(starts) == 2


def test_a_rewritten_file_gets_a_fresh_decoder(tmp_path):
    path = tmp_path / "z.nrrd"
    first = np.arange(4 * 8 * 8, dtype=np.uint16).reshape(4, 8, 8)
    ia.write(ia.from_array(first), path, compress=True)
    ia.read(path, index=(0, 0, 0), size=(8, 8, 1))
    ia.write(ia.from_array(first[::-1].copy()), path, compress=True)
    again = ia.read(path, index=(0, 0, 1), size=(8, 8, 1))
    np.testing.assert_array_equal(ia.to_array(again)[0], first[2])
