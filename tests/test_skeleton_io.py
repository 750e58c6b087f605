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
    "400-digit-frame": (MP, [frame(0, KP), '{"t": 0.1, "frame": %s, "keypoints": null}' % ("9" * 400)],
                        ":3: frame must be an integer, got inf"),
    "400-digit-fps": ('{"layout": "mediapipe33", "fps": %s}' % ("9" * 400), [frame(0, KP)],
                      ":1: bad stream header (fps must be a number > 0 (or null), got inf)"),
    "nested-100000-deep": (MP, [frame(0, KP), '{"t": 0.1, "keypoints": %s}' % ("[" * 100_000 + "]" * 100_000)],
                           ":3: not JSON (nested too deeply"),
    "nested-header": ("[" * 100_000 + "]" * 100_000, [frame(0, KP)], ":1: bad stream header (nested too deeply"),
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


def test_huge_integers_become_infinities_the_readers_already_handle(tmp_path):
    """A 400-digit ``t`` is a time beyond any stream (the recognizer drops the frame), a 400-digit coordinate a
    joint not seen: no OverflowError."""
    big = "9" * 400
    kp = KP.tolist()
    kp[0][0] = "BIG"
    path = jsonl(tmp_path / "s.jsonl", MP, [frame(0, KP), '{"t": %s, "keypoints": null}' % big,
                                            json.dumps({"t": 0.1, "keypoints": kp}).replace('"BIG"', big)])
    _, frames = read_stream(path)
    (t0, _, _), (t1, _, _), (t2, _, kp2) = list(frames)
    assert (t0, t1, t2) == (0.0, float("inf"), 0.1) and np.isinf(kp2[0, 0]) and np.isfinite(kp2[1:]).all()


def test_bad_utf8_is_reported_on_its_own_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes("\n".join([json.dumps(MP), frame(0, KP), '{"t": 0.1, "keypoints": null, "x": "\xff"}'
                                 ]).encode("utf-8").replace(b"\xc3\xbf", b"\xff") + b"\n")
    _, frames = read_stream(path)
    with pytest.raises(SkeletonFileError) as e:
        list(frames)
    assert str(e.value) == (f"{path}:3: not UTF-8 text (byte 0xff at column 37); a .jsonl skeleton stream is "
                            f"UTF-8 JSON Lines, see partkd_stream/skeleton_io.py")


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
    "npy-named-npz": (lambda p: (np.save(p.with_suffix(".npy"), np.zeros(3)), p.with_suffix(".npy").rename(p))[1],
                      "not a readable .npz (BadZipFile"),
    "meta-nested-100000-deep": (lambda p: npz(p, meta=np.array("[" * 100_000 + "]" * 100_000)),
                                "meta is not a JSON string (nested too deeply"),
    "declares-6M-frames": (lambda p: declared_bomb(p, 6_000_000),
                           "refused: it would take 2.2 GiB once loaded (data [6000000, 33, 3] float32), more than "
                           "the 1.0 GiB a skeleton sequence may hold; split the recording into shorter files"),
}


def declared_bomb(path: Path, frames: int, data: bytes = b"", repeat: int = 1) -> Path:
    """A sequence whose ``data`` header declares ``frames`` frames of 33 × 3 float32; ``data`` follows it, ``repeat``
    times (a real zip bomb holds them all, as zeros that deflate 1000 : 1)."""
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (frames, 33, 3)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("data.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            for _ in range(repeat):
                member.write(data)
        for name, value in (("layout", np.array("mediapipe33")), ("fps", np.array(30.0))):
            buf = io.BytesIO()
            np.save(buf, value)
            zf.writestr(f"{name}.npy", buf.getvalue())
    return path


def test_a_zip_bomb_is_refused_by_its_inflated_size_before_loading(tmp_path, monkeypatch):
    """What the zip directory declares counts as much as the header: with the limit at 1 MiB, 1.1 MiB of zeros
    (deflated to 2 kB) is refused; a sequence meta holding 400-digit integers still loads."""
    from partkd_stream import skeleton_io

    monkeypatch.setattr(skeleton_io, "MAX_SEQUENCE_BYTES", 1 << 20)
    path = declared_bomb(tmp_path / "bomb.npz", 3000, bytes(3000 * 33 * 3 * 4))
    assert path.stat().st_size < 20_000
    with pytest.raises(SkeletonFileError, match=r"refused: it would take 1\.1 MiB once loaded \(data \[3000, 33, 3\] "
                                                r"float32\), more than the 1\.0 MiB"):
        load_sequence(path)
    big = npz(tmp_path / "meta.npz", meta=np.array('{"n": %s}' % ("9" * 400)))
    assert load_sequence(big).meta == {"n": float("inf")}


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
    """One frame covers no stream time, so no prediction is due; two frames 1/30 s apart are due one."""
    path = npz(tmp_path / "one.npz", data=KP[None], timestamps=np.zeros(1))
    assert app.main(["--skeletons", str(path), "--out", str(tmp_path / "o.jsonl"), "--every", str(1 / 30)]) == 0
    assert (tmp_path / "o.jsonl").read_text() == ""
    path = npz(tmp_path / "two.npz", data=np.stack([KP, KP]), timestamps=np.array([0.0, 1 / 30]))
    assert app.main(["--skeletons", str(path), "--out", str(tmp_path / "o2.jsonl"), "--every", str(1 / 30)]) == 0
    (rec,) = [json.loads(x) for x in (tmp_path / "o2.jsonl").read_text().splitlines()]
    assert rec["reason"] in ("warming_up", "no_person") and rec["label"] is None and rec["frame"] == 1


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


@pytest.mark.slow
def test_a_real_zip_bomb_is_refused_in_flat_memory(tmp_path):
    """2.3 MB on disk, 6 M frames (2.2 GiB) once inflated: before, loading it reached 4.6 GB RSS; now the run mode
    refuses it from the zip directory and the ``.npy`` header, in a fresh process whose peak RSS stays that of its
    imports."""
    import subprocess
    import sys

    from stream_fixtures import REPO

    path = declared_bomb(tmp_path / "bomb.npz", 6_000_000, bytes(100_000 * 33 * 3 * 4), repeat=60)
    assert path.stat().st_size < 3_000_000
    run = ("import resource, sys; from partkd_stream import cli; code = cli.main(sys.argv[1:]); "
           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024); sys.exit(code)")
    r = subprocess.run([sys.executable, "-c", run, "--skeletons", str(path), "--out", str(tmp_path / "o.jsonl")],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "refused: it would take 2.2 GiB" in r.stderr
    assert int(r.stdout) < 1000, f"peak RSS {r.stdout.strip()} MB"
