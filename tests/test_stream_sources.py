"""Sources: timestamps from the file, and a live reader that keeps only the newest frame and counts drops."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from partkd_stream.sources import LiveSource, SourceError, VideoFileSource, expand_video_args


def _video(path, n=60, fps=30.0):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), (i * 4) % 255, np.uint8))
    w.release()
    return path


def test_video_file_timestamps_follow_the_file(tmp_path):
    src = VideoFileSource(str(_video(tmp_path / "v.mp4", n=30, fps=15.0)))
    ts = [f.t for f in src]
    src.close()
    assert len(ts) == 30 == src.total
    np.testing.assert_allclose(np.diff(ts), 1 / 15.0, atol=2e-3)


def test_live_reader_drops_old_frames_instead_of_queueing(tmp_path):
    src = LiveSource(str(_video(tmp_path / "v.mp4", n=120)), "test stream")
    got = []
    for frame in src:
        got.append(frame.index)
        time.sleep(0.02)          # a consumer much slower than the reader
    src.close()
    assert got == list(range(len(got)))
    assert src.drops > 0 and len(got) + src.drops == 120


def test_folders_and_globs_expand_and_missing_paths_fail(tmp_path):
    _video(tmp_path / "b.mp4", n=2)
    _video(tmp_path / "a.avi", n=2)
    (tmp_path / "notes.txt").write_text("x")
    assert [p.split("/")[-1] for p in expand_video_args([str(tmp_path)])] == ["a.avi", "b.mp4"]
    assert expand_video_args([str(tmp_path / "*.mp4")]) == [str(tmp_path / "b.mp4")]
    with pytest.raises(SourceError, match="no such file"):
        expand_video_args([str(tmp_path / "nope.mp4")])
    with pytest.raises(SourceError, match="matches no file"):
        expand_video_args([str(tmp_path / "*.mkv")])
