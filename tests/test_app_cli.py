"""``partkd-stream --skeletons / --video / --camera`` end to end on generated inputs with a tiny model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from stream_fixtures import CLASSES, make_model, person_frames

from partkd_stream import app
from partkd_stream.skeleton_io import SkeletonSequence, save_sequence, stream_record, write_stream_header
from partkd_stream.sources import SkeletonFileSource

PRED_KEYS = {"t", "frame", "label", "score", "topk", "person_present", "reason", "held"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A 2D penn13 model as ONNX + card (what the runtime ships) and a 3D ntu25 checkpoint (mismatch tests)."""
    from partkd_stream.card import export_deployable
    from partkd_stream.checkpoint import load_checkpoint

    d = tmp_path_factory.mktemp("models")
    export_deployable(load_checkpoint(make_model(d / "src.pt")), d, "tiny", save_weights=False)
    return {"onnx": str(d / "tiny.onnx"), "3d": str(make_model(d / "ntu3d.pt", layout="ntu25", dims=3))}


def write_jsonl_stream(path: Path, n: int = 120, gap: tuple[int, int] | None = None) -> Path:
    with open(path, "w") as f:
        write_stream_header(f, "mediapipe33", 30.0)
        for i, (t, kp) in enumerate(person_frames(n)):
            f.write(stream_record(t, i, None if gap and gap[0] <= i < gap[1] else kp) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The installed entry point in a fresh process, so stderr holds everything a user would see."""
    env = dict(os.environ, DISPLAY="", WAYLAND_DISPLAY="")
    return subprocess.run([sys.executable, "-m", "partkd_stream.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_skeletons_end_to_end_writes_valid_jsonl(tmp_path, models, capsys):
    src = write_jsonl_stream(tmp_path / "poses.jsonl", n=120, gap=(60, 75))
    out = tmp_path / "out" / "preds.jsonl"
    rc = app.main(["--skeletons", str(src), "--model", models["onnx"], "--out", str(out), "--stride", "4",
                   "--threshold", "0"])
    assert rc == 0
    recs = read_jsonl(out)
    preds = [r for r in recs if "event" not in r]
    events = [r for r in recs if "event" in r]
    assert len(preds) == 120 // 4 and all(set(p) == PRED_KEYS for p in preds)
    assert [p["frame"] for p in preds] == list(range(3, 120, 4))
    assert all(p["label"] in CLASSES + [None] for p in preds)
    assert events and events[0]["event"] == "start" and events[-1]["event"] == "end"
    assert "120 frames" in capsys.readouterr().out


def test_skeletons_npz_and_several_videos_need_a_folder(tmp_path, models):
    seq = np.stack([kp for _, kp in person_frames(50)])
    save_sequence(tmp_path / "seq.npz", SkeletonSequence(seq, "mediapipe33", 30.0, np.arange(50) / 30.0))
    out = tmp_path / "seq.jsonl"
    assert app.main(["--skeletons", str(tmp_path / "seq.npz"), "--model", models["onnx"], "--out", str(out),
                     "--quiet"]) == 0
    assert len([r for r in read_jsonl(out) if "frame" in r]) == 50 // 6


def tiny_video(path: Path, n: int = 24, size=(160, 120)) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24.0, size)
    for i in range(n):
        img = np.full((size[1], size[0], 3), 40, np.uint8)
        cv2.circle(img, (20 + 5 * i, 60), 10, (0, 200, 255), -1)
        w.write(img)
    w.release()
    return path


def test_video_files_one_output_each(tmp_path, models):
    a, b = tiny_video(tmp_path / "a.mp4"), tiny_video(tmp_path / "b.mp4", n=12)
    outdir, rdir = tmp_path / "preds", tmp_path / "renders"
    rc = app.main(["--video", str(a), str(b), "--model", models["onnx"], "--out", str(outdir),
                   "--render", str(rdir), "--no-display", "--quiet", "--stride", "4"])
    assert rc == 0
    pa, pb = read_jsonl(outdir / "a.jsonl"), read_jsonl(outdir / "b.jsonl")
    assert len(pa) == 24 // 4 and len(pb) == 12 // 4
    assert all(set(p) == PRED_KEYS and p["person_present"] is False and p["label"] is None for p in pa + pb)
    cap = cv2.VideoCapture(str(rdir / "a.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 24
    assert app.main(["--video", str(a), str(b), "--model", models["onnx"], "--out", str(tmp_path / "x.jsonl"),
                     "--quiet"]) == 1


def test_keyboard_interrupt_leaves_a_valid_jsonl(tmp_path, models, monkeypatch, capsys):
    src = write_jsonl_stream(tmp_path / "poses.jsonl", n=120)
    real_iter = SkeletonFileSource.__iter__

    def interrupted(self):
        for i, frame in enumerate(real_iter(self)):
            if i == 50:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(SkeletonFileSource, "__iter__", interrupted)
    out = tmp_path / "run.jsonl"
    rc = app.main(["--skeletons", str(src), "--model", models["onnx"], "--out", str(out), "--threshold", "0",
                   "--stride", "5"])
    assert rc == 130
    recs = read_jsonl(out)                                   # every line parses
    preds = [r for r in recs if "event" not in r]
    assert [p["frame"] for p in preds] == list(range(4, 50, 5))
    events = [r["event"] for r in recs if "event" in r]
    assert events.count("start") == events.count("end")      # the open action was closed on the way out
    assert "interrupted" in capsys.readouterr().err


def test_card_that_does_not_fit_the_source_is_one_line(tmp_path, models):
    src = write_jsonl_stream(tmp_path / "poses.jsonl", n=10)
    r = run_cli("--skeletons", str(src), "--model", models["3d"], "--quiet")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "3D" in r.stderr and "2D" in r.stderr


@pytest.mark.parametrize("make_args", [
    lambda d: ["--video", str(d / "missing.mp4")],
    lambda d: ["--video", str(_write(d / "corrupt.mp4", b"\x00\x01not a video" * 100))],
    lambda d: ["--video", str(_write(d / "empty.mp4", b""))],
    lambda d: ["--skeletons", str(_write(d / "bad.jsonl", b"{not json\n"))],
    lambda d: ["--camera", "99"],
], ids=["missing", "corrupt", "empty", "bad-skeletons", "camera-99"])
def test_bad_inputs_give_one_line_and_nonzero_exit(tmp_path, make_args):
    r = run_cli(*make_args(tmp_path))
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("partkd-stream: error: "), r.stderr
    assert r.stdout == ""


def test_unknown_flag_is_a_usage_error():
    r = run_cli("--video", "x.mp4", "--no-such-flag")
    assert r.returncode == 2 and "unrecognized arguments: --no-such-flag" in r.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_timeline_plot_from_a_run(tmp_path, models):
    import importlib.util

    src = write_jsonl_stream(tmp_path / "poses.jsonl", n=90, gap=(30, 60))
    out = tmp_path / "run.jsonl"
    assert app.main(["--skeletons", str(src), "--model", models["onnx"], "--out", str(out), "--quiet",
                     "--threshold", "0"]) == 0
    spec = importlib.util.spec_from_file_location("plot_timeline", Path(__file__).parents[1] / "demo" /
                                                  "plot_timeline.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    png = tmp_path / "timeline.png"
    assert mod.main([str(out), "--out", str(png), "--threshold", "0"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert mod.main([str(src), "--out", str(tmp_path / "x.png")]) == 1     # a skeleton stream is not a run
