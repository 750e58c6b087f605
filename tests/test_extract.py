"""``partkd-stream extract`` on generated videos: outputs, resume, corrupt files, missing paths, workers.

The synthetic videos show a drawn stick figure; MediaPipe may or may not detect it, and nothing here depends on it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

from fixtures_formats import write_truncated_video  # noqa: E402
from stream_fixtures import REPO, signal_once_written  # noqa: E402

from partkd_stream.cli import main as cli  # noqa: E402
from partkd_stream.extract import output_name  # noqa: E402
from partkd_stream.skeleton_io import load_sequence  # noqa: E402


def write_video(path: Path, frames: int = 12, fps: float = 25.0, size=(320, 240)) -> Path:
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert out.isOpened()
    for i in range(frames):
        f = np.full((h, w, 3), 235, np.uint8)
        cx, arm = w // 2, int(30 * np.sin(i / 3))
        cv2.circle(f, (cx, 50), 14, (40, 40, 40), -1)
        for a, b in (((cx, 64), (cx, 140)), ((cx, 80), (cx - 40, 110 + arm)), ((cx, 80), (cx + 40, 110 - arm)),
                     ((cx, 140), (cx - 25, 210)), ((cx, 140), (cx + 25, 210))):
            cv2.line(f, a, b, (40, 40, 40), 7)
        out.write(f)
    out.release()
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    good = write_video(d / "clip_a_rgb.mp4", frames=12, fps=25.0)
    (d / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    return d, good


def test_output_names_keep_dataset_ids():
    assert output_name("x/S001C001P001R001A001_rgb.avi") == "S001C001P001R001A001.npz"
    assert output_name("walk.mp4") == "walk.npz"
    assert output_name("_rgb.mp4") == "_rgb.npz"


def test_extract_writes_one_sequence_per_video_and_resumes(videos, tmp_path, capsys):
    _, good = videos
    out = tmp_path / "out"
    assert cli(["extract", str(good), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    f = out / "clip_a.npz"
    seq = load_sequence(f)
    assert seq.layout == "mediapipe33" and seq.data.shape == (12, 33, 3)
    assert seq.fps == pytest.approx(25.0)
    np.testing.assert_allclose(seq.timestamps, np.arange(12) / 25.0)
    assert np.isfinite(seq.data).all()
    nobody = seq.data[..., 2].max(1) == 0
    assert (seq.data[nobody] == 0).all()  # frames without a person are all zeros
    assert seq.meta["frames_with_person"] == int((~nobody).sum()) and seq.meta["width"] == 320
    assert "1 done" in capsys.readouterr().out

    mtime = f.stat().st_mtime_ns
    assert cli(["extract", str(good), "--out", str(out), "--no-progress"]) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert f.stat().st_mtime_ns == mtime
    assert cli(["extract", str(good), "--out", str(out), "--no-progress", "--overwrite"]) == 0
    assert "1 done" in capsys.readouterr().out
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_corrupt_video_is_reported_and_the_others_still_finish(videos, tmp_path, capsys):
    folder, _ = videos
    out = tmp_path / "out"
    assert cli(["extract", str(folder), "--out", str(out), "--workers", "1", "--no-progress"]) == 1
    err = capsys.readouterr()
    failed = [line for line in err.err.splitlines() if "failed" in line]
    assert len(failed) == 1 and "broken.mp4" in failed[0]
    assert "1 done" in err.out and "1 failed" in err.out
    assert (out / "clip_a.npz").is_file() and not (out / "broken.npz").exists()


def test_missing_path_is_a_one_line_error(tmp_path, capsys):
    rc = cli(["extract", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "nope.mp4" in err[0]
    assert cli(["extract", str(tmp_path / "*.avi"), "--out", str(tmp_path / "o"), "--no-progress"]) == 2


def test_worker_processes_give_the_same_files(videos, tmp_path, capsys):
    folder, _ = videos
    second = write_video(tmp_path / "clip_b.avi", frames=8, fps=30.0)
    out = tmp_path / "out"
    rc = cli(["extract", str(folder / "clip_a_rgb.mp4"), str(second), "--out", str(out), "--workers", "2",
              "--no-progress", "--swap-sides"])
    assert rc == 0, capsys.readouterr().err
    a, b = load_sequence(out / "clip_a.npz"), load_sequence(out / "clip_b.npz")
    assert a.data.shape == (12, 33, 3) and b.data.shape == (8, 33, 3) and b.fps == pytest.approx(30.0)
    assert a.meta["sides_swapped"] is True
    assert os.path.basename(a.meta["source"]) == "clip_a_rgb.mp4"


def test_truncated_video_keeps_the_decoded_frames_with_a_warning(tmp_path, capsys):
    _, cut = write_truncated_video(tmp_path)
    assert cli(["extract", str(cut), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"]) == 0
    warn = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warn) == 1 and "cut.avi" in warn[0] and "of the 30 frames" in warn[0]
    seq = load_sequence(tmp_path / "o" / "cut.npz")
    assert 0 < len(seq.data) < 27 and seq.meta["frames_reported_by_container"] == 30


@pytest.fixture
def no_mediapipe(monkeypatch):
    """Fail the test if MediaPipe is started: the checks must come before any video is decoded."""
    from partkd_stream import pose

    def refuse(*a, **k):
        raise AssertionError("MediaPipe was started before the output folder was checked")

    monkeypatch.setattr(pose.MediaPipePose, "__init__", refuse)


def test_unwritable_output_folder_fails_before_any_work(videos, tmp_path, capsys, no_mediapipe):
    _, good = videos
    targets = ["/proc/self/partkd_out"] if os.path.isdir("/proc/self") else []   # read-only even for root
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        targets.append(str(ro))
    if not targets:
        pytest.skip("no read-only folder available here")
    for target in targets:
        assert cli(["extract", str(good), "--out", target, "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "cannot write" in err[0], err


def test_an_empty_or_unreadable_output_is_not_finished(videos, tmp_path, capsys):
    _, good = videos
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip_a.npz").write_bytes(b"")
    assert cli(["extract", str(good), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "1 done, 0 skipped" in captured.out and "empty or unreadable" in captured.err
    assert load_sequence(out / "clip_a.npz").data.shape == (12, 33, 3)


def test_sigterm_keeps_finished_files_and_leaves_no_partial_ones(videos, tmp_path):
    _, good = videos
    long = write_video(tmp_path / "long.mp4", frames=3000, size=(96, 72))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "partkd_stream.cli", "extract", str(good), str(long), "--out",
                             str(out), "--workers", "1", "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    _, stderr = signal_once_written(proc, out / "clip_a.npz", signal.SIGTERM)   # inside the long video then
    assert proc.returncode == 143, stderr
    assert stderr.count("\n") == 1 and "interrupted after 1 new videos" in stderr and "Traceback" not in stderr
    assert sorted(p.name for p in out.iterdir()) == ["clip_a.npz"]          # no long.npz, no temporary file
    assert load_sequence(out / "clip_a.npz").data.shape == (12, 33, 3)


def test_a_stream_url_is_refused(tmp_path, capsys, no_mediapipe):
    assert cli(["extract", "rtsp://camera.local/live", "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not streams" in err[0] and not (tmp_path / "o").exists()


def test_an_output_that_would_overwrite_an_input_is_refused(tmp_path, capsys, no_mediapipe):
    """A video named ``clip.npz`` extracted into its own folder would become ``clip.npz``: refused before any
    work, the video untouched."""
    video = write_video(tmp_path / "clip.mp4")
    named = video.rename(tmp_path / "clip.npz")
    before = named.read_bytes()
    assert cli(["extract", str(named), "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == (f"partkd-stream extract: error: --out {tmp_path}/clip.npz: that is the input {named}; writing "
                   f"there would destroy it — choose another name\n")
    assert named.read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_pool_of_workers_ends_in_one_line(videos, tmp_path, sig, code):
    """``--workers 2`` stopped mid-way: one line, no "resource_tracker: … leaked semaphore objects" warning (the
    interrupted pool is collected before the CLI's fast exit)."""
    long = [write_video(tmp_path / f"long{k}.mp4", frames=1500, size=(96, 72)) for k in range(3)]
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "partkd_stream.cli", "extract", *map(str, long), "--out",
                             str(out), "--workers", "2", "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # as in a terminal
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    try:
        t_end = time.monotonic() + 120
        while len(children.read_text().split()) < 3 and proc.poll() is None:   # the workers (and the tracker)
            assert time.monotonic() < t_end
            time.sleep(0.05)
        time.sleep(4)                                     # the workers are extracting by now
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code and stderr.count("\n") == 1 and "interrupted after" in stderr, stderr
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
