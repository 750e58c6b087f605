"""Outputs: never an input, never a half-written file where a good one was (``sinks.py``, ``atomic.py``)."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from partkd_stream import atomic
from partkd_stream.sinks import JsonlSink, SinkError, VideoSink, check_not_inputs


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_an_output_that_is_an_input_by_any_path_is_refused(tmp_path, monkeypatch):
    src = tmp_path / "s.jsonl"
    src.write_text("x\n")
    (tmp_path / "link.jsonl").symlink_to(src)
    os.link(src, tmp_path / "hard.jsonl")
    monkeypatch.chdir(tmp_path)
    for out in ("s.jsonl", "./s.jsonl", str(src), "link.jsonl", "hard.jsonl"):
        with pytest.raises(SinkError) as e:
            check_not_inputs([("--out", out)], [str(src)])
        assert str(e.value) == (f"--out {out}: that is the input {src}; writing there would destroy it — choose "
                                f"another name")
    check_not_inputs([("--out", "new.jsonl"), ("--out", "/dev/stdout"), ("--render", None)],
                     [str(src), "rtsp://camera/1"])
    with pytest.raises(SinkError, match="the same file as --out o.jsonl; give each output its own name"):
        check_not_inputs([("--out", "o.jsonl"), ("--render", "./o.jsonl")], [])


def test_an_existing_jsonl_is_replaced_whole_and_only_at_the_end(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_text("earlier run\n")
    sink = JsonlSink(path)
    sink.write({"frame": 1})
    assert path.read_text() == "earlier run\n" and len(leftovers(tmp_path)) == 1   # written beside it
    sink.close()
    assert path.read_text() == '{"frame": 1}\n' and leftovers(tmp_path) == []


def test_a_new_jsonl_can_be_read_while_the_run_goes_on(tmp_path):
    path = tmp_path / "preds.jsonl"
    sink = JsonlSink(path)
    sink.write({"frame": 1})
    assert path.read_text() == '{"frame": 1}\n'
    sink.close()
    assert leftovers(tmp_path) == []


def _fail_next_write(sink: JsonlSink) -> None:
    real = sink._f

    class Full:
        def write(self, data: str) -> int:
            real.write(data[:5])           # a part of the line reached the disk, then the disk was full
            real.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self) -> None:
            real.flush()

        def close(self) -> None:
            real.close()

    sink._f = Full()


def test_a_failed_write_leaves_the_earlier_file_as_it_was_and_a_new_one_with_whole_lines(tmp_path):
    old = tmp_path / "old.jsonl"
    old.write_text("earlier run\n")
    new = tmp_path / "new.jsonl"
    for path in (old, new):
        sink = JsonlSink(path)
        sink.write({"frame": 1})
        _fail_next_write(sink)
        with pytest.raises(SinkError, match="cannot write \\(No space left on device\\)"):
            sink.write({"frame": 2})
        sink.close()                                          # reported once, not again
    assert old.read_text() == "earlier run\n" and new.read_text() == '{"frame": 1}\n'
    assert leftovers(tmp_path) == []


def test_a_video_appears_only_when_finished_and_a_failed_one_not_at_all(tmp_path):
    path = tmp_path / "r.mp4"
    path.write_bytes(b"earlier render")
    frame = np.zeros((64, 96, 3), np.uint8)
    sink = VideoSink(path, 24.0)
    for _ in range(5):
        sink.write(frame)
    assert path.read_bytes() == b"earlier render" and len(leftovers(tmp_path)) == 1
    sink.close()
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5 and leftovers(tmp_path) == []
    cap.release()

    bad = VideoSink(tmp_path / "bad.mp4", 24.0)
    bad.write(frame)

    def full(image: np.ndarray) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    bad._w.write = full
    with pytest.raises(SinkError, match="No space left on device"):
        bad.write(frame)
    bad.close()
    assert not (tmp_path / "bad.mp4").exists() and leftovers(tmp_path) == []


def test_a_forced_exit_removes_what_is_still_being_written(tmp_path):
    """What the signal watchdog calls before ``os._exit``: unfinished files go, finished ones stay."""
    done = tmp_path / "done.jsonl"
    finished = JsonlSink(done)
    finished.write({"frame": 1})
    finished.close()
    (tmp_path / "replaced.jsonl").write_text("earlier run\n")
    sinks = [JsonlSink(tmp_path / "new.jsonl"), JsonlSink(tmp_path / "replaced.jsonl")]
    for s in sinks:
        s.write({"frame": 1})
    atomic.discard_pending()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.jsonl", "replaced.jsonl"]
    assert (tmp_path / "replaced.jsonl").read_text() == "earlier run\n"
    for s in sinks:
        s._f.close()
