"""Skeleton files: every malformed ``.jsonl`` / ``.npz`` is a one-line error naming the file (and line)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from stream_fixtures import person_frames

from partkd_stream import app
from partkd_stream.skeleton_io import (SkeletonFileError, SkeletonSequence, load_sequence, read_stream,
                                       save_sequence, stream_record, write_stream_header)

KP = person_frames(1)[0][1]                     # one MediaPipe frame [33, 3]


def jsonl(path: Path, header: dict | str, lines: list[str]) -> Path:
    head = header if isinstance(header, str) else json.dumps(header)
    path.write_text("\n".join([head, *lines]) + "\n")
    return path


def frame(t: float, kp) -> str:
    return json.dumps({"t": t, "keypoints": None if kp is None else np.asarray(kp).tolist()})


MP = {"layout": "mediapipe33", "fps": 30}
JSONL_CASES = {
    "17-joints": (MP, [frame(0, KP[:17])], ":2: 17 joints per frame, but layout mediapipe33 has 33"),
    "40-joints": (MP, [frame(0, np.concatenate([KP, KP[:7]]))], ":2: 40 joints per frame"),
    "header-contradicts-data": ({"layout": "coco17", "fps": 30}, [frame(0, KP)],
                                ":2: 33 joints per frame, but layout coco17 has 17"),
    "line-is-a-list": (MP, [json.dumps([0.0, KP.tolist()])], ":2: a frame must be a JSON object"),
    "string-fps": ({"layout": "mediapipe33", "fps": "30"}, [frame(0, KP)], ":1: bad stream header (fps must be"),
    "zero-fps": ({"layout": "mediapipe33", "fps": 0}, [frame(0, KP)], ":1: bad stream header (fps must be"),
    "unknown-layout": ({"layout": "openpose25"}, [frame(0, KP)], "unknown skeleton layout 'openpose25'"),
    "header-is-a-list": ("[1, 2]", [frame(0, KP)], ":1: bad stream header"),
    "string-t": (MP, [json.dumps({"t": "0.1", "keypoints": KP.tolist()})], ":2: t must be a number"),
    "ragged-keypoints": (MP, [json.dumps({"t": 0, "keypoints": [[1, 2, 3], [1, 2]]})], ":2: keypoints must be rows"),
    "2d-then-3d": (MP, [frame(0, KP), frame(0.1, np.concatenate([KP, KP[:, :1]], 1))],
                   ":3: 4 values per joint after 3"),
    "not-json": (MP, ["{t: 0"], ":2: not JSON"),
    "people-not-a-list": (MP, [json.dumps({"t": 0, "people": 5})], ':2: "people" must be a list of skeletons'),
    "people-and-keypoints": (MP, [json.dumps({"t": 0, "people": [], "keypoints": None})],
                             ':2: a frame has "keypoints" (one person) or "people" (everyone), not both'),
    "people-17-joints": (MP, [json.dumps({"t": 0, "people": [KP.tolist(), KP[:17].tolist()]})],
                         ":2: 17 joints per frame, but layout mediapipe33 has 33"),
    "people-ragged": (MP, [json.dumps({"t": 0, "people": [KP.tolist(), [[1, 2, 3], [1, 2]]]})],
                      ":2: people[1] must be rows of numbers"),
}


@pytest.mark.parametrize("case", sorted(JSONL_CASES))
def test_malformed_jsonl_is_one_line_naming_file_and_line(tmp_path, case):
    header, lines, match = JSONL_CASES[case]
    path = jsonl(tmp_path / "s.jsonl", header, lines)
    with pytest.raises(SkeletonFileError) as e:
        _, frames = read_stream(path)
        list(frames)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path)) and match in msg, msg


def test_jsonl_passes_bad_times_on_for_the_recognizer_to_drop(tmp_path):
    path = jsonl(tmp_path / "s.jsonl", MP, [frame(0, KP), '{"t": Infinity, "keypoints": null}', frame(-1, None)])
    _, frames = read_stream(path)
    assert [t for t, _, _ in frames] == [0.0, float("inf"), -1.0]


def npz(path: Path, **arrays) -> Path:
    base = dict(data=np.stack([KP] * 375), layout=np.array("mediapipe33"), fps=np.array(30.0),
                timestamps=np.arange(375) / 30.0)
    base.update(arrays)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _good_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, data=np.stack([KP] * 375), layout=np.array("mediapipe33"), fps=np.array(30.0))
    return buf.getvalue()


NPZ_CASES = {
    "empty": (lambda p: write(p, b""), "the file is empty"),
    "truncated": (lambda p: write(p, _good_bytes()[:-100]), "not a readable .npz"),
    "array-fps": (lambda p: npz(p, fps=np.array([30.0, 25.0])), "fps must be a number, got an array of shape [2]"),
    "string-fps": (lambda p: npz(p, fps=np.array("30")), "fps must be a number"),
    "zero-fps": (lambda p: npz(p, fps=np.array(0.0)), "fps must be a finite number > 0, got 0.0"),
    "negative-fps": (lambda p: npz(p, fps=np.array(-30.0)), "fps must be a finite number > 0"),
    "nan-fps": (lambda p: npz(p, fps=np.array(np.nan)), "fps must be a finite number > 0"),
    "2d-timestamps": (lambda p: npz(p, timestamps=np.zeros((375, 2))), "timestamps must be 375 numbers"),
    "10-timestamps": (lambda p: npz(p, timestamps=np.arange(10) / 30.0), "timestamps must be 375 numbers"),
    "nan-timestamp": (lambda p: npz(p, timestamps=np.where(np.arange(375) == 7, np.nan, np.arange(375) / 30)),
                      "timestamp 7 is nan"),
    "backwards": (lambda p: npz(p, timestamps=np.r_[np.arange(200), np.arange(175)] / 30.0),
                  "timestamps must increase; frame 200 is at 0 s after 6.63333 s"),
    "one-frame-2d": (lambda p: npz(p, data=KP, timestamps=None), "data must be [T, V, C] or [M, T, V, C], got 2-D"),
    "5d": (lambda p: npz(p, data=np.zeros((1, 1, 375, 33, 3))), "got 5-D"),
    "17-joints": (lambda p: npz(p, data=np.zeros((375, 17, 3))), "17 joints per frame, but layout mediapipe33 has 33"),
    "no-frames": (lambda p: npz(p, data=np.zeros((0, 33, 3)), timestamps=np.zeros(0)), "data holds no frames"),
    "no-data": (lambda p: npz(p, data=None), "no 'data' array"),
    "objects": (lambda p: npz(p, layout=np.array([{"a": 1}], dtype=object)), "not a readable .npz"),
    "unknown-layout": (lambda p: npz(p, layout=np.array("openpose25")), "unknown skeleton layout 'openpose25'"),
    "text-data": (lambda p: npz(p, data=np.full((375, 33, 3), "x")), "data must be numbers"),
}


@pytest.mark.parametrize("case", sorted(NPZ_CASES))
def test_malformed_npz_is_one_line_naming_the_file(tmp_path, case):
    make, match = NPZ_CASES[case]
    path = make(tmp_path / "s.npz")
    with pytest.raises(SkeletonFileError) as e:
        load_sequence(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path)) and match in msg, msg


def test_sequences_round_trip_and_a_one_frame_clip_is_fine(tmp_path):
    seq = SkeletonSequence(np.stack([KP] * 5), "mediapipe33", 25.0, np.arange(5) / 25.0, id="x", label=3,
                           meta={"split": "train"})
    save_sequence(tmp_path / "a.npz", seq)
    back = load_sequence(tmp_path / "a.npz")
    assert (back.data == seq.data).all() and back.timestamps.tolist() == seq.timestamps.tolist()
    assert (back.layout, back.fps, back.id, back.label, back.meta) == ("mediapipe33", 25.0, "x", 3, {"split": "train"})
    npz(tmp_path / "one.npz", data=KP[None], timestamps=np.zeros(1))
    assert load_sequence(tmp_path / "one.npz").data.shape == (1, 33, 3)


@pytest.mark.parametrize("name,make", [
    ("17.jsonl", lambda p: jsonl(p, MP, [frame(0, KP[:17])])),
    ("list.jsonl", lambda p: jsonl(p, MP, [frame(0, KP), "[1, 2]"])),
    ("fps.jsonl", lambda p: jsonl(p, {"layout": "mediapipe33", "fps": "fast"}, [])),
    ("trunc.npz", lambda p: write(p, _good_bytes()[:-100])),
    ("ts.npz", lambda p: npz(p, timestamps=np.arange(10) / 30.0)),
], ids=lambda x: x if isinstance(x, str) else "")
def test_the_cli_says_one_line_and_exits_1(tmp_path, capsys, name, make):
    path = make(tmp_path / name)
    assert app.main(["--skeletons", str(path), "--out", str(tmp_path / "o.jsonl"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"partkd-stream: error: {path}"), err


def test_the_cli_runs_a_one_frame_file(tmp_path, capsys):
    path = npz(tmp_path / "one.npz", data=KP[None], timestamps=np.zeros(1))
    assert app.main(["--skeletons", str(path), "--out", str(tmp_path / "o.jsonl"), "--stride", "1"]) == 0
    (rec,) = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert rec["reason"] in ("warming_up", "no_person") and rec["label"] is None


def test_stream_records_are_what_read_stream_reads(tmp_path):
    path = tmp_path / "s.jsonl"
    with open(path, "w") as f:
        write_stream_header(f, "mediapipe33", 30.0)
        f.write(stream_record(0.0, 0, KP) + "\n" + stream_record(0.1, 1, None) + "\n")
    header, frames = read_stream(path)
    got = list(frames)
    assert header == MP | {"fps": 30.0} and [(t, i) for t, i, _ in got] == [(0.0, 0), (0.1, 1)]
    np.testing.assert_allclose(got[0][2], KP, atol=1e-4) and got[1][2] is None


def test_people_lines_and_one_person_lines_read_both_ways(tmp_path):
    from partkd_stream.skeleton_io import people_record

    two = [KP, KP + [300, 0, 0]]
    path = jsonl(tmp_path / "s.jsonl", MP, [people_record(0.0, 0, two), frame(0.1, KP), frame(0.2, None),
                                            people_record(0.3, 3, [])])
    _, frames = read_stream(path, people=True)
    got = list(frames)
    assert [(t, len(p)) for t, _, p in got] == [(0.0, 2), (0.1, 1), (0.2, 0), (0.3, 0)]
    np.testing.assert_allclose(got[0][2][1], two[1], atol=1e-4)
    _, frames = read_stream(path)                                  # one person: the first of each frame
    got = list(frames)
    assert [kp is None for _, _, kp in got] == [False, False, True, True]
    np.testing.assert_allclose(got[0][2], KP, atol=1e-4)


def test_a_sequence_of_several_people_lists_who_is_in_each_frame(tmp_path):
    from partkd_stream.sources import SkeletonFileSource

    data = np.stack([np.stack([KP] * 5), np.stack([KP + [300, 0, 0]] * 5)])    # [2, 5, 33, 3]
    data[1, 2, :, 2] = 0.0                                                 # person 2 not in frame 2
    data[0, 4, :, 2] = np.nan                                              # nor person 1 in frame 4
    save_sequence(tmp_path / "two.npz", SkeletonSequence(data, "mediapipe33", 30.0, np.arange(5) / 30.0))
    src = SkeletonFileSource(str(tmp_path / "two.npz"))
    frames = list(src)
    assert src.most_people == 2 and src.total == 5
    assert [len(f.people) for f in frames] == [2, 2, 1, 2, 1]
    assert frames[2].people[0] is not None and frames[4].people[0][0, 0] == KP[0, 0] + 300
