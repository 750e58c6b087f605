"""``--ray``: ``extract`` and the video run mode as one Ray task per video, on a local Ray instance.

The tests share one instance started here (2 CPUs, loopback, no dashboard; the CLI joins the running instance) and
use ``FakePose`` so no task spends time in MediaPipe; the real path is the ``slow`` tests' (and
``partkd-stream bench cluster``'s). Skipped without the ``[ray]`` extra.
"""
from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # read when Ray is imported: loopback only
ray = pytest.importorskip("ray")
cv2 = pytest.importorskip("cv2")

from fake_pose import DyingPose, FakePose  # noqa: E402
from stream_fixtures import REPO, signal_once_written  # noqa: E402

from partkd_stream import app, cluster  # noqa: E402
from partkd_stream.extract import main as extract  # noqa: E402
from partkd_stream.skeleton_io import load_sequence  # noqa: E402

TESTS = Path(__file__).resolve().parent


def write_video(path: Path, frames: int, size=(96, 72), fps: float = 24.0) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    rng = np.random.default_rng(frames)
    for _ in range(frames):
        w.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    w.release()
    return path


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A 2-CPU Ray instance on loopback (every server on 127.0.0.1) for this module; its workers import ``fake_pose`` (PYTHONPATH), and this
    process keeps its own SIGTERM handler (``ray.init`` installs one that exits)."""
    before = {k: os.environ.get(k) for k in ("PYTHONPATH", "RAY_USAGE_STATS_ENABLED")}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(REPO)] + [p for p in [before["PYTHONPATH"]] if p])
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    handler = signal.getsignal(signal.SIGTERM)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=cluster.LOCAL_OBJECT_STORE)
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    signal.signal(signal.SIGTERM, handler)
    try:
        with cluster.ray_notices_off():   # a worker killed on purpose: Ray's notices would land in other tests' stdout
            try:
                yield
            finally:
                ray.shutdown()
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    for k, n in enumerate((20, 26, 32)):
        write_video(d / f"clip{k}_rgb.mp4", n)
    (d / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    return d


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_extract_on_ray_gives_the_local_pools_files_and_resumes(local_ray, videos, tmp_path, capsys):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert extract([str(videos), "--out", str(local), "--workers", "2", "--no-progress"],
                   estimator_factory=FakePose) == 1
    capsys.readouterr()
    assert extract([str(videos), "--out", str(on_ray), "--ray", "--no-progress"], estimator_factory=FakePose) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("partkd-stream extract: failed: ") and "broken.mp4" in err, err
    assert "3 done, 0 skipped (already there), 1 failed" in out
    assert sorted(files(on_ray)) == ["clip0.npz", "clip1.npz", "clip2.npz"]
    assert files(on_ray) == files(local)                                     # byte for byte
    assert [len(load_sequence(on_ray / f"clip{k}.npz").data) for k in range(3)] == [20, 26, 32]

    mtimes = {p.name: p.stat().st_mtime_ns for p in on_ray.iterdir()}
    assert extract([str(videos), "--out", str(on_ray), "--ray", "--no-progress"], estimator_factory=FakePose) == 1
    assert "0 done, 3 skipped (already there), 1 failed" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in on_ray.iterdir()} == mtimes


def test_a_worker_killed_mid_video_is_retried_and_the_output_is_complete(local_ray, videos, tmp_path, capsys):
    marker = tmp_path / "died-once"
    out = tmp_path / "out"
    dying = functools.partial(DyingPose, at=10, once=str(marker))            # every video's worker, until one died
    assert extract([str(videos / "clip2_rgb.mp4"), "--out", str(out), "--ray", "--no-progress"],
                   estimator_factory=dying) == 0
    assert marker.exists()                                                   # a worker did die mid-video
    assert "1 done" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ["clip2.npz"]                          # no temporary left
    reference = tmp_path / "ref"
    assert extract([str(videos / "clip2_rgb.mp4"), "--out", str(reference), "--workers", "1", "--no-progress"],
                   estimator_factory=FakePose) == 0
    assert (out / "clip2.npz").read_bytes() == (reference / "clip2.npz").read_bytes()


def test_a_video_that_kills_every_try_is_one_line_and_the_others_finish(local_ray, videos, tmp_path, capsys,
                                                                        monkeypatch):
    monkeypatch.setattr(cluster, "MAX_RETRIES", 1)
    out = tmp_path / "out"
    killer = functools.partial(DyingPose, at=30)                             # only clip2 (32 frames) gets there
    assert extract([str(videos / f"clip{k}_rgb.mp4") for k in range(3)] + ["--out", str(out), "--ray",
                                                                           "--no-progress"],
                   estimator_factory=killer) == 1
    out_text, err = capsys.readouterr()
    assert err.count("\n") == 1 and "clip2_rgb.mp4: the worker process died on each of 2 tries" in err, err
    assert "2 done, 0 skipped (already there), 1 failed" in out_text
    assert sorted(os.listdir(out)) == ["clip0.npz", "clip1.npz"]


def test_run_mode_on_ray_writes_the_same_jsonl(local_ray, videos, tmp_path, capsys):
    common = ["--video", str(videos), "--threshold", "0", "--every", "0.125", "--no-display"]
    assert app.main(common + ["--out", str(tmp_path / "local") + "/"], estimator_factory=FakePose) == 1
    local_out, local_err = capsys.readouterr()
    assert app.main(common + ["--out", str(tmp_path / "ray") + "/", "--ray"], estimator_factory=FakePose) == 1
    ray_out, ray_err = capsys.readouterr()
    assert files(tmp_path / "ray") == files(tmp_path / "local")              # byte for byte
    assert sorted(files(tmp_path / "ray")) == ["clip0_rgb.jsonl", "clip1_rgb.jsonl", "clip2_rgb.jsonl"]
    assert b'"event": "end"' in (tmp_path / "ray" / "clip2_rgb.jsonl").read_bytes()
    assert ray_err == local_err and ray_err.count("broken.mp4") == 1         # the batch rule, the same lines
    assert ray_err.splitlines()[-1].endswith("1 of 4 inputs failed (each reported above); the others were processed")

    def strip_times(text: str, folder: str) -> str:
        return "\n".join(line.split(" frames in ")[0].replace(folder, "OUT") for line in text.splitlines())

    assert strip_times(ray_out, "/ray/") == strip_times(local_out, "/local/")   # summaries in input order


def test_ray_option_errors_are_one_line(tmp_path, videos, capsys):
    assert extract([str(videos), "--ray", str(videos), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a cluster address" in err[0] and "--ray auto" in err[0]
    assert app.main(["--skeletons", str(REPO / "demo" / "demo_skeletons.jsonl"), "--ray"]) == 2
    assert "use it with --video" in capsys.readouterr().err
    assert extract([str(videos), "--out", str(tmp_path / "o"), "--ray", "127.0.0.1:1", "--workers", "2"]) == 2
    assert "--workers sets the size of a local run" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_without_ray_the_option_says_what_to_install(monkeypatch, videos, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)                            # import ray → ImportError
    assert extract([str(videos), "--out", str(tmp_path / "o"), "--ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "partkd-stream[ray]"' in err[0], err
    assert app.main(["--video", str(videos), "--ray"]) == 2
    assert 'pip install "partkd-stream[ray]"' in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --- a Ray instance of the command's own, real signals and MediaPipe (slow: each starts Ray, ~10 s) ------------------
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["extract", "run"])
def test_sigterm_cancels_the_batch_keeps_finished_files_and_leaves_no_half_ones(tmp_path, mode):
    short = write_video(tmp_path / "short.mp4", 10)
    longs = [write_video(tmp_path / f"long{k}.mp4", 3000) for k in range(2)]
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO)]), DISPLAY="", WAYLAND_DISPLAY="")
    if mode == "extract":
        cmd = [sys.executable, "-m", "partkd_stream.cli", "extract", str(short), *map(str, longs), "--out", str(out),
               "--ray", "--no-progress"]
        first = out / "short.npz"
    else:   # FakePose with a delay: the run is still going when the signal comes
        cmd = [sys.executable, str(TESTS / "fake_pose.py"), "--delay", "0.005", "--", "--video", str(short),
               *map(str, longs), "--out", f"{out}/", "--render", f"{out}/", "--ray", "--threshold", "0"]
        first = out / "short.mp4"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    stdout, stderr = signal_once_written(proc, first, signal.SIGTERM, settle=1.0)   # inside the long videos then
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].endswith(
        "finished files are kept, run the same command again to resume" if mode == "extract"
        else "interrupted; outputs written so far are complete"), stderr
    names = sorted(os.listdir(out))
    assert not [n for n in names if n.startswith(".")], names               # no temporary left
    if mode == "extract":
        assert names == ["short.npz"] and len(load_sequence(out / "short.npz").data) == 10
    else:   # every video's JSON Lines and mp4 complete: the long ones closed as interrupted
        assert names == sorted(f"{v.stem}{ext}" for v in [short, *longs] for ext in (".jsonl", ".mp4"))
        assert stdout.count(", interrupted") == 2
        for v in longs:
            cap = cv2.VideoCapture(str(out / f"{v.stem}.mp4"))
            assert 0 < int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) < 3000
            assert (out / f"{v.stem}.jsonl").read_text().endswith("}\n")


@pytest.mark.slow
@pytest.mark.realdata
def test_real_mediapipe_on_ray_matches_a_local_run(tmp_path):
    """The real path: MediaPipe Pose in Ray's worker processes on an NTU RGB video, against ``--workers 1``."""
    from conftest import shared_path

    video = shared_path("ntu", "videos", "S001C001P001R001A001_rgb.avi")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for args in (["--workers", "1"], ["--ray"]):
        out = tmp_path / args[0]
        proc = subprocess.run([sys.executable, "-m", "partkd_stream.cli", "extract", str(video), "--out", str(out),
                               "--no-progress", "--swap-sides", *args], capture_output=True, text=True, env=env,
                              cwd=REPO, timeout=300)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    a, b = tmp_path / "--workers" / "S001C001P001R001A001.npz", tmp_path / "--ray" / "S001C001P001R001A001.npz"
    assert a.read_bytes() == b.read_bytes()
    assert load_sequence(b).meta["frames_with_person"] > 0
