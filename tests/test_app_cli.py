"""``partkd-stream --skeletons / --video / --camera`` end to end on generated inputs with a tiny model.

Video runs use ``FakePose`` (tests/fake_pose.py) unless a test is about MediaPipe itself; signal tests send real
signals to a real process.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fake_pose import FakePose
from fixtures_formats import write_truncated_video, write_video
from stream_fixtures import CLASSES, REPO, make_model, person_frames

from partkd_stream import app
from partkd_stream.recognizer import Prediction
from partkd_stream.skeleton_io import SkeletonSequence, save_sequence, write_stream
from partkd_stream.sinks import RunSummary
from partkd_stream.smoothing import Event
from partkd_stream.sources import SkeletonFileSource

PRED_KEYS = {"t", "frame", "person", "label", "score", "topk", "person_present", "reason", "held"}
ENV = dict(os.environ, DISPLAY="", WAYLAND_DISPLAY="", PYTHONPATH=str(REPO))   # this checkout's code, no window


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A 2D penn13 model as ONNX + card (what the runtime ships) and a 3D ntu25 checkpoint (mismatch tests)."""
    from partkd_stream.card import export_deployable
    from partkd_stream.checkpoint import load_checkpoint

    d = tmp_path_factory.mktemp("models")
    export_deployable(load_checkpoint(make_model(d / "src.pt")), d, "tiny", save_weights=False)
    return {"onnx": str(d / "tiny.onnx"), "3d": str(make_model(d / "ntu3d.pt", layout="ntu25", dims=3))}


def write_jsonl_stream(path: Path, n: int = 120, gap: tuple[int, int] | None = None) -> Path:
    write_stream(path, "mediapipe33", 30.0, ((t, i, None if gap and gap[0] <= i < gap[1] else kp)
                                             for i, (t, kp) in enumerate(person_frames(n))))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The installed entry point in a fresh process, so stderr holds everything a user would see."""
    return subprocess.run([sys.executable, "-m", "partkd_stream.cli", *args], capture_output=True, text=True,
                          env=ENV, cwd=REPO, timeout=120)


def test_skeletons_end_to_end_writes_valid_jsonl(tmp_path, models, capsys):
    src = write_jsonl_stream(tmp_path / "poses.jsonl", n=120, gap=(60, 75))
    out = tmp_path / "out" / "preds.jsonl"
    rc = app.main(["--skeletons", str(src), "--model", models["onnx"], "--out", str(out), "--every", str(4 / 30),
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
    def frame(i: int) -> np.ndarray:
        img = np.full((size[1], size[0], 3), 40, np.uint8)
        return cv2.circle(img, (20 + 5 * i, 60), 10, (0, 200, 255), -1)

    return write_video(path, (frame(i) for i in range(n)), 24.0)


def test_video_files_one_output_each(tmp_path, models):
    a, b = tiny_video(tmp_path / "a.mp4"), tiny_video(tmp_path / "b.mp4", n=12)
    outdir, rdir = tmp_path / "preds", tmp_path / "renders"
    rc = app.main(["--video", str(a), str(b), "--model", models["onnx"], "--out", str(outdir),
                   "--render", str(rdir), "--no-display", "--quiet", "--every", str(4 / 24)])
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
                   "--every", str(5 / 30)])
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
    lambda d: ["--skeletons", str(write_jsonl_stream(d / "s.jsonl", n=10)), "--render", str(d / "r.mp4")],
    lambda d: ["--skeletons", str(write_jsonl_stream(d / "s.jsonl", n=10)), "--pose-tiles"],
], ids=["missing", "corrupt", "empty", "bad-skeletons", "camera-99", "render-skeletons", "tiles-skeletons"])
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


def _plot_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("plot_timeline", REPO / "demo" / "plot_timeline.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_timeline_plot_from_a_run(tmp_path, models, monkeypatch):
    from matplotlib.figure import Figure

    src = write_jsonl_stream(tmp_path / "poses.jsonl", n=90, gap=(30, 60))
    out = tmp_path / "run.jsonl"
    assert app.main(["--skeletons", str(src), "--model", models["onnx"], "--out", str(out), "--quiet",
                     "--threshold", "0"]) == 0
    mod = _plot_module()
    figures = []
    real_save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: figures.append(fig) or real_save(fig, *a, **k))
    png = tmp_path / "timeline.png"
    assert mod.main([str(out), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = figures[-1].axes[0]
    assert ax.get_title() == f"run.jsonl: {mod.CAPTION}"                       # the caption survives the name
    assert "threshold 0.5" in [t.get_text() for t in ax.get_legend().get_texts()]   # drawn by default
    assert mod.main([str(src), "--out", str(tmp_path / "x.png")]) == 1     # a skeleton stream is not a run


def test_timeline_of_a_run_without_a_person_does_not_warn(tmp_path, models):
    src = write_jsonl_stream(tmp_path / "nobody.jsonl", n=60, gap=(0, 60))
    out = tmp_path / "run.jsonl"
    assert app.main(["--skeletons", str(src), "--model", models["onnx"], "--out", str(out), "--quiet"]) == 0
    mod = _plot_module()
    import warnings

    for extra in ([], ["--no-threshold"]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert mod.main([str(out), "--out", str(tmp_path / "t.png"), *extra]) == 0


# --- the injected pose estimator -------------------------------------------------------------------------------
def test_video_run_with_an_injected_estimator(tmp_path, models, capsys):
    """No MediaPipe: the estimator's layout reaches the recognizer, its people become predictions and a render."""
    video = tiny_video(tmp_path / "v.mp4", n=60)
    out, render = tmp_path / "v.jsonl", tmp_path / "v.mp4.d" / "v.mp4"
    FakePose.instances.clear()
    rc = app.main(["--video", str(video), "--model", models["onnx"], "--out", str(out), "--render", str(render),
                   "--no-display", "--threshold", "0", "--every", str(3 / 24)], estimator_factory=FakePose)
    assert rc == 0
    (est,) = FakePose.instances
    assert est.frames == 60 and est.closed                        # one per video, closed by the run
    recs = read_jsonl(out)
    preds = [r for r in recs if "event" not in r]
    assert [p["frame"] for p in preds] == list(range(2, 60, 3))
    assert preds[0]["reason"] == "warming_up" and preds[-1]["person_present"] and preds[-1]["reason"] is None
    assert recs[-1]["event"] == "end"
    cap = cv2.VideoCapture(str(render))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 60
    out_text = capsys.readouterr().out
    assert "60 frames" in out_text and f"predictions → {out}" in out_text and "annotated video →" in out_text


class _Refuse:
    """An estimator factory that fails the test if the run gets as far as starting it."""

    def __call__(self):
        raise AssertionError("the pose estimator was started before the outputs were checked")


@pytest.mark.parametrize("render", ["/proc/self/partkd/x.mp4", "{tmp}/annotated.avi", "{tmp}/afile/x.mp4"],
                         ids=["unwritable-folder", "not-mp4", "parent-is-a-file"])
def test_bad_render_path_fails_before_the_estimator_and_leaves_no_jsonl(tmp_path, models, render, capsys):
    if render.startswith("/proc") and not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux /proc")
    (tmp_path / "afile").write_text("x")
    video = tiny_video(tmp_path / "v.mp4", n=6)
    out = tmp_path / "preds.jsonl"
    rc = app.main(["--video", str(video), "--model", models["onnx"], "--out", str(out), "--no-display",
                   "--render", render.format(tmp=tmp_path)], estimator_factory=_Refuse())
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and err.startswith("partkd-stream: error: "), err
    assert not out.exists()


def test_out_with_another_suffix_is_an_error_not_a_folder(tmp_path, models):
    src = write_jsonl_stream(tmp_path / "poses.jsonl", n=10)
    r = run_cli("--skeletons", str(src), "--model", models["onnx"], "--out", str(tmp_path / "preds.txt"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and ".jsonl" in r.stderr, r.stderr
    assert not (tmp_path / "preds.txt").exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_disk_full_is_one_line(models):
    r = run_cli("--skeletons", str(REPO / "demo" / "demo_skeletons.jsonl"), "--model", models["onnx"],
                "--out", "/dev/full")
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and "/dev/full" in r.stderr and "No space left" in r.stderr, r.stderr


def test_summary_fps_leaves_out_estimator_start_up(tmp_path, models, capsys):
    video = tiny_video(tmp_path / "v.mp4", n=12)
    assert app.main(["--video", str(video), "--model", models["onnx"], "--no-display"],
                    estimator_factory=lambda: FakePose(startup=1.0)) == 0
    head = capsys.readouterr().out.splitlines()[0]
    m = re.search(r"12 frames in ([\d.]+) s \(([\d.]+) fps; start-up ([\d.]+) s not counted\)", head)
    assert m, head
    assert float(m.group(1)) < 1.0 <= float(m.group(3))


def test_zero_length_actions_are_not_listed():
    s = RunSummary("x", frames=10, seconds=1.0)
    s.add_events([Event("start", "squat", 1.0), Event("end", "squat", 2.5), Event("start", "pushup", 9.98),
                  Event("end", "pushup", 9.98)])
    text = s.text()
    assert "squat" in text and "1 action(s)" in text and "pushup" not in text


def test_truncated_video_warns_in_the_run_mode(tmp_path, models, capsys):
    _, cut = write_truncated_video(tmp_path)
    assert app.main(["--video", str(cut), "--model", models["onnx"], "--no-display", "--quiet"],
                    estimator_factory=FakePose) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("partkd-stream: warning: ") and "of the 30 frames" in err[0]


def test_render_is_h264_and_says_so(tmp_path, models, capsys):
    video = tiny_video(tmp_path / "v.mp4", n=8)
    render = tmp_path / "r.mp4"
    assert app.main(["--video", str(video), "--model", models["onnx"], "--no-display", "--render", str(render)],
                    estimator_factory=FakePose) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "annotated video" in x)
    cap = cv2.VideoCapture(str(render))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().lower()
    assert "H.264 (libx264)" in line and "8 frames" in line and fourcc in ("avc1", "h264")
    decoded = 0
    while cap.read()[0]:
        decoded += 1
    assert decoded == 8


def test_render_without_pyav_falls_back_to_mp4v_and_says_browsers_may_not_play_it(tmp_path, models, capsys,
                                                                                     monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)        # import av → ImportError
    video = tiny_video(tmp_path / "v.mp4", n=8)
    render = tmp_path / "r.mp4"
    assert app.main(["--video", str(video), "--model", models["onnx"], "--no-display", "--render", str(render)],
                    estimator_factory=FakePose) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "annotated video" in x)
    fourcc = int(cv2.VideoCapture(str(render)).get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().lower()
    assert "MPEG-4 Part 2 (mp4v)" in line and "pip install av" in line and fourcc in ("fmp4", "mp4v")


# --- signals: real signals to a real process -------------------------------------------------------------------
def _wait_for(predicate, timeout: float = 90.0) -> None:
    t_end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < t_end, "timed out waiting for the run"
        time.sleep(0.05)


def _has_start_event(path: Path) -> bool:
    return path.exists() and '"event": "start"' in path.read_text()


def test_sigterm_finishes_every_file_like_ctrl_c(tmp_path, models):
    video = tiny_video(tmp_path / "v.mp4", n=600)
    out, render = tmp_path / "run.jsonl", tmp_path / "run.mp4"
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_pose.py"), "--delay", "0.02", "--",
                             "--video", str(video), "--model", models["onnx"], "--out", str(out), "--render",
                             str(render), "--no-display", "--threshold", "0", "--every", str(2 / 24)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
    try:
        _wait_for(lambda: _has_start_event(out) or proc.poll() is not None)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    frames = int(re.search(r"(\d+) frames in", stdout).group(1))    # the summary was printed
    assert "interrupted" in stdout and 0 < frames < 600
    recs = read_jsonl(out)                                          # every line is complete JSON
    events = [r for r in recs if "event" in r]
    assert events[-1]["event"] == "end" and recs[-1] == events[-1]  # the action still on was ended
    assert [e["event"] for e in events].count("start") == [e["event"] for e in events].count("end")
    cap = cv2.VideoCapture(str(render))                              # playable: index written, all frames there
    decoded = 0
    while cap.read()[0]:
        decoded += 1
    assert decoded == frames == int(cap.get(cv2.CAP_PROP_FRAME_COUNT))


# The entry point, started with a marker file, on a skeleton stream that never ends (the file's frames again and
# again, later each lap): the run can only end by the signal, whenever it lands. Ctrl-C is Python's default, as in
# a terminal, also when these tests run in the background (a shell's background job starts with SIGINT ignored).
_STARTED = """
import itertools, pathlib, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from partkd_stream import cli, skeleton_io
read = skeleton_io.read_stream
def endless(path, people=False):
    header, _ = read(path, people)
    def frames():
        for lap in itertools.count():
            for t, index, who in read(path, people)[1]:
                yield t + 1000.0 * lap, index + 100000 * lap, who
    return header, frames()
skeleton_io.read_stream = endless
pathlib.Path(sys.argv[1]).touch()
sys.argv[1:] = sys.argv[2:]
cli.entry()
"""


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("delay", [0.05, 0.25, 0.6])
def test_signal_while_starting_up_is_one_line(tmp_path, models, sig, code, delay):
    """``delay`` s after the entry point started (marker file): the signal lands in the imports of the run mode
    (torch, OpenCV: over a second here), model loading or the frames — never after the end: the stream is endless."""
    marker = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", _STARTED, str(marker), "--skeletons",
                             str(REPO / "demo" / "demo_skeletons.jsonl"), "--model", models["onnx"], "--out",
                             str(tmp_path / "o.jsonl")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV, cwd=REPO)
    try:
        _wait_for(lambda: marker.exists() or proc.poll() is not None)
        time.sleep(delay)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and stderr.count("\n") == 1 and "interrupted" in stderr, stderr


def test_a_run_with_mediapipe_prints_nothing_on_stderr(tmp_path, models):
    """MediaPipe/TFLite/absl lines (INFO: Created TensorFlow Lite…, W0000 …) and FFmpeg's are kept off stderr."""
    pytest.importorskip("mediapipe")
    video = tiny_video(tmp_path / "v.mp4", n=6)
    r = run_cli("--video", str(video), "--model", models["onnx"], "--no-display", "--quiet", "--render",
                str(tmp_path / "r.mp4"))
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_overlay_says_warming_up_until_the_window_is_half_full(tmp_path, models, monkeypatch):
    from partkd_stream import overlay

    seen = []
    real = overlay.status_text
    monkeypatch.setattr(overlay, "status_text", lambda pred: seen.append(real(pred)[0]) or real(pred))
    video = tiny_video(tmp_path / "v.mp4", n=40)
    assert app.main(["--video", str(video), "--model", models["onnx"], "--no-display", "--quiet", "--render",
                     str(tmp_path / "r.mp4"), "--threshold", "0", "--every", str(2 / 24)], estimator_factory=FakePose) == 0
    # half the 32-frame window at the model's 30 fps = 0.53 s = frame 13 of this 24-fps video
    assert seen[:13] == ["warming up"] * 13 and "warming up" not in seen[13:]
    assert seen[-1] not in ("no person", "no action")


def test_prediction_reason_drives_the_banner():
    from partkd_stream.overlay import status_text

    def pred(label, reason):
        return Prediction(t=1.0, frame=30, label=label, score=0.87, topk=[], person_present=True, reason=reason)

    assert status_text(None)[0] == "warming up"
    assert status_text(pred(None, "warming_up"))[0] == "warming up"
    assert status_text(pred(None, "no_person"))[0] == "no person"
    assert status_text(pred(None, "below_threshold"))[0] == "no action"
    assert status_text(pred(None, "unknown"))[0] == "unknown action"
    assert status_text(pred("squat", None))[0] == "squat  87%"


def test_fps_meter_smooths_the_frame_rate():
    from partkd_stream.overlay import FpsMeter

    m = FpsMeter(alpha=0.5)
    assert m.tick(0.0) is None
    assert m.tick(0.1) == pytest.approx(10.0)
    assert m.tick(0.15) == pytest.approx(15.0)      # halfway between 10 and 20 frames/s


def test_jsonl_sink_refuses_what_is_not_strict_json(tmp_path):
    from partkd_stream.sinks import JsonlSink, SinkError

    sink = JsonlSink(tmp_path / "x.jsonl")
    sink.write({"t": 1.0, "frame": 3})
    with pytest.raises(SinkError, match="not strict JSON.*non-finite t at frame 4"):
        sink.write({"t": float("inf"), "frame": 4})
    sink.close()
    assert read_jsonl(tmp_path / "x.jsonl") == [{"t": 1.0, "frame": 3}]


# --- several people ----------------------------------------------------------------------------------------------
def test_video_run_with_several_people(tmp_path, models, capsys):
    """``--max-people 2`` with an estimator that sees two people: records and events per id, a render, a summary
    that counts the people; ``--max-people 1`` on the same video follows one person, untracked."""
    video = tiny_video(tmp_path / "v.mp4", n=45, size=(320, 120))
    out, render = tmp_path / "v.jsonl", tmp_path / "r.mp4"
    assert app.main(["--video", str(video), "--model", models["onnx"], "--out", str(out), "--render", str(render),
                     "--no-display", "--threshold", "0", "--every", str(3 / 24), "--max-people", "2"],
                    estimator_factory=lambda: FakePose(people=2)) == 0
    recs = read_jsonl(out)
    preds = [r for r in recs if "event" not in r]
    assert all(set(p) == PRED_KEYS for p in preds) and {p["person"] for p in preds} == {1, 2}
    assert [p["frame"] for p in preds if p["person"] == 2] == list(range(2, 45, 3))
    assert {r["person"] for r in recs if "event" in r} == {1, 2}
    assert int(cv2.VideoCapture(str(render)).get(cv2.CAP_PROP_FRAME_COUNT)) == 45
    assert "2 people tracked" in capsys.readouterr().out
    assert app.main(["--video", str(video), "--model", models["onnx"], "--out", str(out), "--no-display", "--quiet",
                     "--every", str(3 / 24)], estimator_factory=lambda: FakePose(people=2)) == 0
    assert {p["person"] for p in read_jsonl(out)} == {None}


@pytest.mark.parametrize("flag, value, message", [
    ("--max-people", "0", "--max-people must be 1 to 1000 (people recognised per frame), got 0"),
    ("--max-people", "2147483648", "--max-people must be 1 to 1000 (people recognised per frame), got 2147483648"),
    ("--threads", "100000", "--threads 100000: this process can use {n} CPU core{s}; give 1 to {n} (more threads "
                            "than cores only slow the model down)"),
    ("--threads", "0", "--threads 0: this process can use {n} CPU core{s}; give 1 to {n} (more threads than cores "
                       "only slow the model down)")])
def test_max_people_and_threads_out_of_bounds_are_usage_errors(capsys, flag, value, message):
    """Bounded before anything starts: 2147483648 people overflowed MediaPipe's 32-bit count (a ValueError), and
    100,000 model threads exhausted the machine and ignored SIGTERM."""
    from partkd_stream.backends import cpu_cores

    n = cpu_cores()
    assert app.main(["--video", "x.mp4", flag, value]) == 2
    assert capsys.readouterr().err.strip() == "partkd-stream: error: " + message.format(n=n, s="s" if n > 1 else "")


def test_people_overlay_draws_each_id_in_its_colour_and_untracked_in_grey():
    from partkd_stream.synthetic import figure

    from partkd_stream.overlay import annotate_people, person_colour

    def fig(dx):
        xy = figure("stand", 0.0) * 0.5 + [dx, 0]
        return np.concatenate([xy, np.full((33, 1), 0.95)], 1).astype(np.float32)

    image = np.zeros((240, 960, 3), np.uint8)
    pred = Prediction(t=1.0, frame=30, label="squat", score=0.87, topk=[], person_present=True, person=3)
    out = annotate_people(image, "mediapipe33", [(3, fig(0), pred), (4, fig(320), None)], [fig(640)], None)
    assert not image.any()                                              # drawn on a copy

    def has(colour, x0, x1):
        return (out[:, x0:x1] == colour).all(-1).sum() > 50

    assert has(person_colour(3), 0, 320) and not has(person_colour(3), 320, 960)
    assert has(person_colour(4), 320, 640) and has((90, 90, 90), 640, 960)
    assert person_colour(3) != person_colour(4) and person_colour(1) == person_colour(9)
    text = annotate_people(image, "mediapipe33", [], [], None)
    assert text[:40, :200].any() and not text[60:].any()                 # the banner ("no person") only


# --- outputs never overwrite inputs; one batch rule; drops for timestamps; a stuck open ends on SIGTERM ---------
@pytest.mark.parametrize("case", ["jsonl", "npz", "video-render", "render-into-the-video-folder", "model-card"])
def test_an_output_that_is_an_input_is_refused_and_the_input_stays_byte_identical(tmp_path, models, case, capsys):
    """Before: ``--out`` onto the ``.jsonl`` input cut it to 146 bytes, onto an ``.npz`` put JSON Lines in it (exit
    0), and ``--render v.mp4`` onto ``--video v.mp4`` left 6 of 280 frames."""
    import shutil

    if case in ("jsonl", "model-card"):
        src = write_jsonl_stream(tmp_path / "s.jsonl", n=30)
        args = ["--skeletons", str(src), "--out", str(src)]
    elif case == "npz":
        src = tmp_path / "s.npz"
        save_sequence(src, SkeletonSequence(np.stack([kp for _, kp in person_frames(30)]), "mediapipe33", 30.0,
                                            np.arange(30) / 30.0))
        args = ["--skeletons", str(src), "--out", str(src)]
    elif case == "video-render":
        src = tiny_video(tmp_path / "v.mp4")
        args = ["--video", str(src), "--render", str(src), "--no-display"]
    else:
        (tmp_path / "videos").mkdir()
        src = tiny_video(tmp_path / "videos" / "v.mp4")
        args = ["--video", str(tmp_path / "videos"), str(tiny_video(tmp_path / "w.mp4")), "--render",
                str(tmp_path / "videos") + "/", "--no-display"]
    if case == "model-card":
        for f in Path(models["onnx"]).parent.glob("tiny.*"):
            shutil.copy(f, tmp_path / f.name)
        src = tmp_path / "tiny.card.json"
        args = args[:3] + [str(src), "--model", str(tmp_path / "tiny.onnx")]
    else:
        args += ["--model", models["onnx"]]
    before = src.read_bytes()
    assert app.main(args, estimator_factory=_Refuse()) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{src}: that is the input {src}; writing there would destroy it" in err, err
    assert src.read_bytes() == before


def test_a_bad_first_video_is_skipped_like_any_other_and_the_batch_ends_with_1(tmp_path, models, capsys):
    """One batch rule (``extract`` has it too): before, an undecodable *first* video aborted the whole batch."""
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "a.mp4").write_bytes(b"not a video" * 100)
    tiny_video(folder / "b.mp4", n=12)
    (folder / "c.mp4").write_bytes(b"")
    out = tmp_path / "preds"
    assert app.main(["--video", str(folder), "--model", models["onnx"], "--out", str(out) + "/", "--no-display",
                     "--quiet"], estimator_factory=FakePose) == 1
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[2] for line in err[:2]] == [f"{folder}/a.mp4", f"{folder}/c.mp4"]
    assert err[2] == "partkd-stream: error: 2 of 3 inputs failed (each reported above); the others were processed"
    assert sorted(p.name for p in out.iterdir()) == ["b.jsonl"] and read_jsonl(out / "b.jsonl")


def test_frames_dropped_for_their_timestamps_are_counted_and_a_backwards_clock_warned_once(tmp_path, models,
                                                                                          capsys):
    """Before: timestamps running backwards dropped 374 of 375 frames and the summary said "0 dropped frames"."""
    src = tmp_path / "back.jsonl"
    write_stream(src, "mediapipe33", 30.0, (((40 - i) / 30.0, i, kp) for i, (_, kp) in enumerate(person_frames(40))))
    assert app.main(["--skeletons", str(src), "--model", models["onnx"]]) == 0
    cap = capsys.readouterr()
    assert "40 frames in" in cap.out and "39 dropped frames (39 for their timestamps)" in cap.out
    assert cap.err == (f"partkd-stream: warning: {src}: the clock runs backwards at frame 1 (1.3 s after 1.33333 s); "
                       f"39 frames dropped for their timestamps (each frame must come after the one before: re-time "
                       f"the stream)\n")
