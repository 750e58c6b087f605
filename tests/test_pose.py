"""The one colour conversion in front of MediaPipe: BGR frames (and regions of them) → contiguous RGB."""
from __future__ import annotations

import numpy as np

from partkd_stream.pose import bgr_to_rgb

BLUE, GREEN, RED = (255, 0, 0), (0, 255, 0), (0, 0, 255)     # BGR, as OpenCV decodes


def _flag() -> np.ndarray:
    """Three vertical bands, blue | green | red, and a dark grey corner (10, 20, 30) in BGR."""
    frame = np.zeros((60, 90, 3), np.uint8)
    for k, colour in enumerate((BLUE, GREEN, RED)):
        frame[:, 30 * k:30 * (k + 1)] = colour
    frame[:5, :5] = (10, 20, 30)
    return frame


def test_channels_come_out_in_rgb_order():
    rgb = bgr_to_rgb(_flag())
    assert tuple(rgb[30, 10]) == (0, 0, 255)       # blue
    assert tuple(rgb[30, 40]) == (0, 255, 0)       # green
    assert tuple(rgb[30, 70]) == (255, 0, 0)       # red
    assert tuple(rgb[0, 0]) == (30, 20, 10)
    assert rgb.flags.c_contiguous and rgb.dtype == np.uint8 and rgb.shape == (60, 90, 3)


def test_a_region_of_a_frame_is_converted_alone_and_the_frame_is_untouched():
    frame = _flag()
    before = frame.copy()
    region = frame[2:40, 25:75]                     # a tile: a view with the frame's row stride
    rgb = bgr_to_rgb(region)
    assert rgb.flags.c_contiguous and rgb.shape == (38, 50, 3)
    np.testing.assert_array_equal(rgb, region[:, :, ::-1])
    np.testing.assert_array_equal(frame, before)


def test_the_previous_frames_buffer_is_written_over_when_its_shape_fits():
    first, second = _flag(), _flag()[::-1].copy()
    buf = bgr_to_rgb(first)
    again = bgr_to_rgb(second, out=buf)
    assert again is buf
    np.testing.assert_array_equal(again, second[:, :, ::-1])
    other = bgr_to_rgb(second[:30], out=buf)           # another size: a new array, the old one untouched
    assert other is not buf and other.shape == (30, 90, 3)
    np.testing.assert_array_equal(buf, second[:, :, ::-1])
