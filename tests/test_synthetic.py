"""``partkd_stream.synthetic``: the demo files are its output byte for byte, and its benchmark inputs look like
skeletons (upright, moving, some joints missing) in any layout."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO, run_demo

from partkd_stream.layouts import get_layout
from partkd_stream.preprocess import PreprocessConfig
from partkd_stream.skeleton_io import read_stream
from partkd_stream.synthetic import (DEMO_SEGMENTS, demo_stream, figure, placed, synthetic_frame, synthetic_people,
                                     synthetic_skeletons, synthetic_windows, upper_body_stream)

MP = get_layout("mediapipe33")


@pytest.mark.parametrize("script, name, frames", [
    ("make_demo_input.py", "demo_skeletons.jsonl", lambda: demo_stream()),
    ("make_upper_body_demo.py", "upper_body_skeletons.jsonl", lambda: upper_body_stream()[0])])
def test_committed_demo_streams_are_the_generators_output(tmp_path, script, name, frames):
    out = tmp_path / name
    assert run_demo(script, "--out", str(out)).returncode == 0
    assert out.read_bytes() == (REPO / "demo" / name).read_bytes()
    header, written = read_stream(out)
    assert header == {"layout": "mediapipe33", "fps": 30.0} and sum(1 for _ in written) == len(frames())


def test_the_demo_stream_follows_its_timeline():
    frames = demo_stream()
    assert len(frames) == round(sum(d for _, d in DEMO_SEGMENTS) * 30)
    nobody = [t for t, _, kp in frames if kp is None]
    assert nobody and min(nobody) >= 6.0 and max(nobody) < 7.5          # "nobody" from 6 s to 7.5 s


def test_the_figure_stands_upright_and_jumping_jacks_raise_the_arms():
    stand, jack = figure("stand", 0.0), figure("jumping_jacks", 1 / 2.4)   # half a jack: arms up
    nose, wrist, hip, ankle = (MP.index(j) for j in ("nose", "left_wrist", "left_hip", "left_ankle"))
    assert stand[nose, 1] < stand[hip, 1] < stand[ankle, 1]                # image y down
    assert stand[wrist, 1] > stand[MP.index("left_shoulder"), 1] > jack[wrist, 1]
    p = placed(900.0, 200.0, scale=0.5, score=0.7)
    assert p.shape == (33, 3) and p.dtype == np.float32 and (p[:, 2] == np.float32(0.7)).all()
    np.testing.assert_allclose(p[[23, 24], :2].mean(0), (900.0, 200.0), atol=1e-3)


def test_synthetic_inputs_look_like_skeletons():
    pre = PreprocessConfig()
    raw = synthetic_skeletons(pre, 3, seed=0)
    assert raw.shape == (3, pre.window, 13, 3) and np.isfinite(raw).all()
    assert ((raw[..., 2] == 0).mean(axis=(1, 2)) > 0).all()          # some joints missing
    head_y, ankle_y = raw[:, :, 0, 1].mean(), raw[:, :, 11:13, 1].mean()
    assert head_y < ankle_y                                           # upright, image y down
    assert np.abs(np.diff(raw[..., :2], axis=1)).mean() > 0.1         # it moves
    w = synthetic_windows(pre, 4)
    half = pre.window // 2
    assert w.shape == (4, 5, pre.window, 13) and np.isfinite(w).all()
    assert (w[0, :, :half] == 0).all() and (w[1, :, :half] != 0).any()   # first window front-padded
    raw3d = synthetic_skeletons(PreprocessConfig(layout="ntu25", dims=3), 1)
    assert raw3d.shape == (1, pre.window, 25, 4)
    crowd = synthetic_people(3, 20)
    assert crowd.shape == (3, 20, 33, 3) and (np.diff(crowd[:, 0, 0, 0]) > 500).all()   # side by side
    frame = synthetic_frame()
    assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8
