"""The command line: info, formats, convert, eval; errors are one line and exit status 1."""

from __future__ import annotations

import numpy as np

import imalgebra as ia
from imalgebra.cli import main


def test_info_prints_the_header(tmp_path, capsys):
    path = tmp_path / "a.nrrd"
    ia.write(ia.Image.zeros((5, 4, 3), ia.PixelType.Float32, spacing=(1, 2, 3)).with_metadata({"k": "v"}), path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Float32" in out and "(5, 4, 3)" in out and "(1.0, 2.0, 3.0)" in out and "k" in out


def test_formats_lists_every_registered_io(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    for name in ia.io.registered():
        assert name in out


def test_convert_changes_format_and_pixel_type(tmp_path):
    src, dst = tmp_path / "a.mha", tmp_path / "b.nii.gz"
    ia.write(ia.from_array(np.arange(12, dtype=np.int16).reshape(3, 4)), src)
    assert main(["convert", str(src), str(dst), "--pixel-type", "Float32"]) == 0
    out = ia.read(dst)
    assert out.pixel_type is ia.PixelType.Float32
    np.testing.assert_array_equal(ia.to_array(out), np.arange(12, dtype=np.float32).reshape(3, 4))


def test_eval_streams_an_expression_over_files(tmp_path):
    a = ia.from_array(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    b = ia.from_array(np.ones((2, 3, 4), np.float32))
    ia.write(a, tmp_path / "a.mha")
    ia.write(b, tmp_path / "b.mha")
    status = main(
        [
            "eval",
            "clamp((a - b) * 0.5, 0, 5)",
            "-i",
            f"a={tmp_path / 'a.mha'}",
            "-i",
            f"b={tmp_path / 'b.mha'}",
            "-o",
            str(tmp_path / "out.mha"),
            "--memory",
            "1 MiB",
        ]
    )
    assert status == 0
    expected = np.clip((np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 1) * 0.5, 0, 5)
    np.testing.assert_array_equal(ia.to_array(ia.read(tmp_path / "out.mha")), expected)


def test_errors_are_one_line_with_status_1(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.mha")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("imalgebra info:") and "missing.mha" in err and "Traceback" not in err
    assert main(["eval", "a + 1", "-i", "nonsense", "-o", str(tmp_path / "x.mha")]) == 2
