"""The PNG encoder: the file decodes to the pixels given, with the resolution given."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from capacity.png import png_bytes, rgb_rows


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_two_by_one_image_by_hand():
    rgba = np.array([[[255, 0, 0, 255], [0, 128, 255, 255]]], dtype=np.uint8)
    assert rgb_rows(rgba).tolist() == [[0, 255, 0, 0, 0, 128, 255]]  # filter byte 0, then RGB
    image = _decoded(png_bytes(rgba, dpi=150))
    assert image.mode == "RGB" and image.size == (2, 1)
    assert image.getpixel((0, 0)) == (255, 0, 0) and image.getpixel((1, 0)) == (0, 128, 255)
    # 150 dpi is 5906 pixels per metre (rounded), which reads back as 150.01
    assert image.info["dpi"] == pytest.approx((150, 150), abs=0.02)


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9), st.just(4))),
       st.integers(0, 9))
def test_pixels_survive_the_round_trip(rgba, level):
    data = png_bytes(rgba, dpi=72, level=level)
    assert np.array_equal(np.asarray(_decoded(data)), rgba[:, :, :3])
    assert png_bytes(rgba, dpi=72, level=level) == data  # same pixels, same bytes


def test_not_an_rgba_image_is_named():
    with pytest.raises(ValueError, match=r"rgba must be a \(height, width, 4\) uint8 array, got uint8 \(2, 2, 3\)"):
        png_bytes(np.zeros((2, 2, 3), np.uint8), dpi=150)
