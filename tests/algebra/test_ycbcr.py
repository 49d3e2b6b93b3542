"""The tour's YCbCr -> RGB conversion written with imalgebra gives SimpleITK's pixels exactly."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import imalgebra as ia
from imalgebra import data

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ycbcr.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("ycbcr_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9), st.just(3))))
def test_ycbcr_to_rgb_matches_the_simpleitk_pipeline(sitk, example, pixels):
    image = ia.from_array(pixels, is_vector=True)
    rgb = ia.evaluate(example.ycbcr_to_rgb(image))
    expected = example.simpleitk_ycbcr_to_rgb(sitk, image)
    assert rgb.pixel_type is ia.PixelType.VectorUInt8 and rgb.components == 3
    assert rgb.pixel_type.id == expected.GetPixelID()
    np.testing.assert_array_equal(ia.to_array(rgb), sitk.GetArrayFromImage(expected))


def test_the_logo_survives_rgb_to_ycbcr_and_back_within_one_level(example):
    logo = data.logo()
    back = ia.evaluate(example.ycbcr_to_rgb(ia.evaluate(example.rgb_to_ycbcr(logo))))
    error = np.abs(ia.to_array(back).astype(int) - ia.to_array(logo).astype(int))
    assert error.max() <= 1
    assert back.geometry == logo.geometry


def test_grey_pixels_stay_grey(example):
    grey = ia.from_array(np.array([[[0, 128, 128], [77, 128, 128], [255, 128, 128]]], np.uint8), is_vector=True)
    assert ia.to_array(ia.evaluate(example.ycbcr_to_rgb(grey))).tolist() == [[[0, 0, 0], [77, 77, 77], [255, 255, 255]]]


def test_the_conversion_is_one_expression_with_a_text_and_json_form(example):
    image = ia.from_array(np.zeros((2, 2, 3), np.uint8), is_vector=True)
    rgb = example.ycbcr_to_rgb(image)
    assert ia.parse(str(rgb), **ia.algebra.text.leaf_names(rgb)).equals(rgb)
    source = ia.compose(*(ia.cast(ia.gaussian(size=(4, 4), scale=200.0 + k), ia.PixelType.UInt8) for k in range(3)))
    assert ia.from_json(example.ycbcr_to_rgb(source).to_json()).equals(example.ycbcr_to_rgb(source))


def test_the_example_runs():
    result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("Done.")
