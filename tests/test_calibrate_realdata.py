"""The calibration on the real NTU HQ/LQ pair (A001 skeleton + RGB video), and calibrate.py's command line."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO, shared_path

SAMPLE = "S001C001P001R001A001"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """``partkd-stream extract`` on the real A001 video (once for this module, ~5 s)."""
    pytest.importorskip("mediapipe")
    from partkd_stream.cli import main as cli
    from partkd_stream.skeleton_io import load_sequence

    video = shared_path("ntu", "videos", f"{SAMPLE}_rgb.avi")
    out = tmp_path_factory.mktemp("ntu_lq")
    assert cli(["extract", str(video), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    return load_sequence(out / f"{SAMPLE}.npz")  # the id pairs with the .skeleton file


@pytest.mark.realdata
def test_a001_video_extraction_gives_103_frames_of_skeletons(extracted):
    assert extracted.data.shape == (103, 33, 3) and extracted.layout == "mediapipe33"
    assert extracted.fps == pytest.approx(30.0)
    with_person = (extracted.data[..., 2].max(1) > 0).mean()
    assert with_person > 0.9
    xy = extracted.data[..., :2][extracted.data[..., 2] > 0]
    assert (xy[:, 0] > 0).all() and (xy[:, 0] < 1920).all() and (xy[:, 1] < 1080).all()  # original pixel grid


@pytest.mark.realdata
def test_calibration_error_is_sane_and_the_committed_mapping_is_the_better_one(extracted):
    from train.calibrate import load_kinect
    from train.lib.calibration import build_config, measure, validate

    kin, kin3d = load_kinect(shared_path("ntu", "skeletons", f"{SAMPLE}.skeleton"))
    meas = measure(kin, extracted.data, kin3d)
    s = meas["summary"]
    assert s["frames_compared"] == 103
    assert 3.0 < s["median_px"] < 40.0                    # MediaPipe vs Kinect on 1080p: tens of pixels at most
    assert 0.005 < s["median_height"] < 0.1
    by = s["median_px_by_mapping_and_lag"]
    best = {m: min(v.values()) for m, v in by.items()}
    better = min(best, key=best.get)
    assert s["lr_mapping"] == better and best[better] < 0.7 * best["direct" if better == "swapped" else "swapped"]
    committed = json.loads((REPO / "train" / "calibration" / "mediapipe_ntu.json").read_text())
    assert committed["lr_mapping"] == better
    assert 1000 < s["camera"]["focal"] < 1120 and s["camera"]["rms_px"] < 3  # Kinect v2 colour camera
    cfg, prov = build_config(meas)
    assert cfg.jitter_joints and all(v >= 0 for v in cfg.drift_joints.values())
    assert prov["occlusion_frac"].startswith("prior")
    check = validate(kin, extracted.data, cfg, meas, seeds=5)  # the fitted model reproduces the real error
    assert check["degraded_median_px"] == pytest.approx(check["real_median_px"], rel=0.3)


def test_calibrate_without_the_data_exits_2_with_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "train.calibrate", "--skeleton", str(tmp_path / "x"),
                        "--video", str(tmp_path / "y.avi"), "--out-json", str(tmp_path / "c.json"),
                        "--out-md", str(tmp_path / "c.md")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "not found" in lines[0]
    assert not (tmp_path / "c.json").exists()
