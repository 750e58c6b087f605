"""Sources: timestamps from the file, a live reader that keeps only the newest frame and counts drops, a file's
reader thread (order, bounded, errors in place, stopped by close), and the one home of video input (discovery,
frame-rate rule, truncation warning)."""
from __future__ import annotations

import time

import numpy as np
import pytest
from fixtures_formats import write_truncated_video, write_video

from partkd_stream.sources import (DEFAULT_FPS, LiveSource, ReadAhead, SourceError, VideoFileSource, find_videos,
                                   video_fps)


def _video(path, n=60, fps=30.0):
    return write_video(path, (np.full((48, 64, 3), (i * 4) % 255, np.uint8) for i in range(n)), fps)


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
    (tmp_path / "sub").mkdir()
    _video(tmp_path / "sub" / "c.MKV", n=2)
    (tmp_path / "notes.txt").write_text("x")
    assert [p.split("/")[-1] for p in find_videos([str(tmp_path)])] == ["a.avi", "b.mp4", "c.MKV"]   # recursive
    assert find_videos([str(tmp_path / "*.mp4")]) == [str(tmp_path / "b.mp4")]
    both = find_videos([str(tmp_path), str(tmp_path / "*.mp4"), str(tmp_path / "b.mp4"), "rtsp://cam/1"])
    assert [p.split("/")[-1] for p in both] == ["a.avi", "b.mp4", "c.MKV", "1"]                  # each once
    with pytest.raises(SourceError, match="no such file"):
        find_videos([str(tmp_path / "nope.mp4")])
    with pytest.raises(SourceError, match="matches no file"):
        find_videos([str(tmp_path / "*.mov")])
    with pytest.raises(SourceError, match="no video files"):
        find_videos([str(_empty(tmp_path))])


def _empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_one_frame_rate_rule():
    assert video_fps(25.0) == 25.0 and video_fps(1.0) == 1.0
    for bad in (0.0, -1.0, float("nan"), float("inf"), 90000.0, 0.5):
        assert video_fps(bad) == DEFAULT_FPS == 30.0


def test_truncated_file_warns_after_reading(tmp_path):
    full, cut_path = write_truncated_video(tmp_path)
    whole, cut = VideoFileSource(str(full)), VideoFileSource(str(cut_path))
    assert len(list(whole)) == 30 and whole.warning() is None
    n = len(list(cut))
    assert 0 < n < 27 and f"decoded {n} of the 30 frames" in cut.warning()
    whole.close()
    cut.close()


def _counting(n=None, fail_at=None, closed=None):
    """0, 1, 2, … (``n`` of them, else forever), counting what was produced; raises at ``fail_at``."""
    made = [0]

    def gen():
        try:
            k = 0
            while n is None or k < n:
                if k == fail_at:
                    raise SourceError(f"v.mp4: frame {k} cannot be decoded")
                made[0] += 1
                yield k
                k += 1
        finally:
            if closed is not None:
                closed.append(True)
    return gen(), made


def test_read_ahead_keeps_order_and_stays_bounded():
    items, made = _counting(200)
    reader = ReadAhead(items, depth=3)
    got = []
    for k in reader:
        got.append(k)
        if k in (0, 50, 150):
            time.sleep(0.05)          # a slow consumer: the producer waits instead of running ahead
            assert made[0] <= len(got) + 3 + 1      # the queue, plus the one item in the producer's hand
    reader.close()
    assert got == list(range(200))


def test_read_ahead_raises_the_producers_error_in_its_place():
    items, _ = _counting(10, fail_at=4)
    reader = ReadAhead(items, depth=2)
    got = []
    with pytest.raises(SourceError, match="^v.mp4: frame 4 cannot be decoded$"):
        for k in reader:
            got.append(k)
    reader.close()
    assert got == [0, 1, 2, 3]


def test_read_ahead_close_stops_an_endless_producer_at_once():
    closed = []
    items, made = _counting(closed=closed)
    reader = ReadAhead(items, depth=2)
    assert next(iter(reader)) == 0
    t0 = time.perf_counter()
    reader.close()
    assert time.perf_counter() - t0 < 1.0 and not reader._thread.is_alive()
    assert closed == [True] and made[0] <= 4           # the producer's generator was closed, not left running


def test_video_frames_come_in_order_through_the_reader(tmp_path):
    path = write_video(tmp_path / "v.avi", (np.full((48, 64, 3), i * 6, np.uint8) for i in range(40)), 25.0, "MJPG")
    src = VideoFileSource(str(path), prepare=lambda image: image[::2, ::2])
    frames = list(src)
    src.close()
    assert [f.index for f in frames] == list(range(40)) == [round(f.image.mean() / 6) for f in frames]
    assert frames[0].image.shape == (24, 32, 3) and src.size == (64, 48)     # prepared on the reader; size decoded
    with pytest.raises(SourceError, match="can be read once"):
        next(iter(src))


def test_closing_a_video_mid_way_stops_its_reader(tmp_path):
    src = VideoFileSource(str(_video(tmp_path / "v.mp4", n=60)))
    it = iter(src)
    assert next(it).index == 0
    src.close()
    assert not src._reader._thread.is_alive()


def test_an_error_on_the_reader_reaches_the_consumer_after_the_frames_before_it(tmp_path):
    seen = []

    def prepare(image):
        seen.append(1)
        if len(seen) == 5:
            raise SourceError("v.mp4: frame 4 is broken")
        return image

    src = VideoFileSource(str(_video(tmp_path / "v.mp4", n=20)), prepare=prepare)
    got = []
    with pytest.raises(SourceError, match="frame 4 is broken"):
        for frame in src:
            got.append(frame.index)
    src.close()
    assert got == [0, 1, 2, 3] and src.decoded == 4
