import numpy as np
import pytest

from partkd_stream.preprocess import PreprocessConfig
from train.data import centre_ends, fill_before_clip, random_ends, windows


def test_fill_modes_before_a_short_clip():
    idx = np.array([-1, -1, -1, -1, -1, 0, 2, 4])
    assert fill_before_clip(idx, "pad").tolist() == idx.tolist()
    assert fill_before_clip(idx, "hold").tolist() == [0, 0, 0, 0, 0, 0, 2, 4]
    assert fill_before_clip(idx, "loop").tolist() == [2, 4, 0, 2, 4, 0, 2, 4]  # periodic continuation backwards
    full = np.arange(8)
    assert fill_before_clip(full, "loop").tolist() == full.tolist()
    with pytest.raises(ValueError, match="unknown fill mode"):
        fill_before_clip(idx, "mirror")


def test_windows_are_aligned_across_views_and_fill_the_window():
    pre = PreprocessConfig(layout="penn13", window=16, fps=15.0)
    rng = np.random.default_rng(0)
    clip = np.concatenate([rng.normal(100, 30, (10, 13, 2)), np.ones((10, 13, 1))], -1).astype(np.float32)
    ends = np.array([9])
    padded = windows([clip], np.array([30.0]), ends, pre)
    held = windows([clip], np.array([30.0]), ends, pre, ["hold"])
    assert (padded[0, 2, :10] == 0).all() and (padded[0, 2, -1] > 0).all(), "score channel is 0 for padding"
    assert (held[0, 2] > 0).all(), "hold fills every frame"
    lengths, fps = np.array([10, 200]), np.array([30.0, 30.0])
    r = random_ends(lengths, fps, pre, np.random.default_rng(1))
    assert r[0] == 9 and 31 <= r[1] <= 199
    assert centre_ends(lengths, fps, pre).tolist() == [9, 115]
