"""The upper-body demo stream (``synthetic.upper_body_stream``, written by demo/make_upper_body_demo.py) and the
out-of-frame measurement behind it."""
from __future__ import annotations

import json

import numpy as np
from conftest import REPO

from partkd_stream.layouts import get_layout
from partkd_stream.skeleton_io import SkeletonSequence, save_sequence
from partkd_stream.synthetic import DESK_SIZE, upper_body_stream
from train.studies.measure_out_of_frame import main as measure_main

MP = get_layout("mediapipe33")


def test_desk_framing_upper_body_in_view_lower_body_reported_low():
    frames, timeline = upper_body_stream()
    kp = np.stack([f[2] for f in frames])
    width, height = DESK_SIZE
    inside = (kp[..., 0] >= 0) & (kp[..., 0] < width) & (kp[..., 1] >= 0) & (kp[..., 1] < height)
    upper = [MP.index(j) for j in ("nose", "left_ear", "right_ear", "left_shoulder", "right_shoulder")]
    lower = [MP.index(f"{s}_{j}") for s in ("left", "right") for j in ("hip", "knee", "ankle", "foot_index")]
    assert inside[:, upper].all() and (kp[:, upper, 2] > 0.8).all()
    assert not inside[:, lower].any() and (kp[:, lower, 2] < 0.5).all()
    assert [k for k, _, _ in timeline] == ["idle", "wave", "idle", "clap", "idle"] and len(frames) == 14 * 30


def test_wave_is_the_right_hand_and_clap_brings_the_hands_together():
    frames, timeline = upper_body_stream()
    t = np.array([f[0] for f in frames])
    kp = np.stack([f[2] for f in frames])
    seg = {k: (t >= a) & (t < b) for k, a, b in timeline if k != "idle"}
    rw, lw, rs = MP.index("right_wrist"), MP.index("left_wrist"), MP.index("right_shoulder")
    wave = kp[seg["wave"]]
    assert (wave[:, rw, 1] < wave[:, rs, 1]).all(), "the waving hand is above the shoulder"
    assert (wave[:, rw, 0] < wave[:, rs, 0]).all(), "the person's right hand is on the image's left"
    assert np.ptp(wave[:, rw, 0]) > 80 and np.ptp(wave[:, lw, 0]) < 20, "only the right hand swings"
    clap = kp[seg["clap"]]
    gap = np.abs(clap[:, lw, 0] - clap[:, rw, 0])
    assert gap.min() < 50 and gap.max() > 120, "hands meet and part"
    crossings = np.sum(np.diff((gap < 90).astype(int)) == 1)
    assert 8 <= crossings <= 11, "about 2.5 claps a second for 4 s"


def test_measure_out_of_frame(tmp_path, capsys):
    data = np.zeros((10, 33, 3), np.float32)
    data[..., 0], data[..., 1], data[..., 2] = 100.0, 50.0, 0.9
    data[:, MP.index("left_knee")] = (100.0, 300.0, 0.1)   # below a 200-pixel-high image
    data[:5, [MP.index(f"{s}_{j}") for s in ("left", "right") for j in ("hip", "ankle")], 2] = 0.3  # legs hardly
    data[:5, MP.index("right_knee"), 2] = 0.3                                                 # visible in frames 0-4
    data[3] = 0.0                                           # a frame without a detection is skipped
    path = tmp_path / "s.npz"
    save_sequence(path, SkeletonSequence(data=data, layout="mediapipe33", fps=30.0, timestamps=np.arange(10) / 30,
                                         meta={"width": 320, "height": 200}))
    assert measure_main([str(path), "--json"]) == 0
    out = capsys.readouterr().out
    res = json.loads(out)
    assert res["frames_with_person"] == 9
    assert res["joints"]["left_knee"] == {"out_of_image": 1.0, "visibility_out": 0.1, "visibility_in": None}
    assert res["joints"]["nose"]["out_of_image"] == 0.0
    assert res["presence_rule_passes"] == {"full_body": round(5 / 9, 3), "upper_body": 1.0}
    save_sequence(path, SkeletonSequence(data=data[:, :13], layout="penn13", fps=30.0, timestamps=np.arange(10) / 30))
    assert measure_main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a mediapipe33 sequence with the frame size" in err


def test_shipped_everyday_model_waves_and_claps_at_a_desk(tmp_path, monkeypatch):
    """``partkd-stream --model everyday`` on the upper-body demo: wave and clap events in their segments, the first
    idle gap "no action" (its background class), and with the lower body out of frame (hips reported at visibility
    ~0.3) the person counts as present throughout — the card's upper-body presence rule; the Penn model's
    full-body rule sees nobody in the same stream."""
    from partkd_stream import app, models
    from partkd_stream.models import describe, resolve_model

    monkeypatch.setattr(models, "engines_dir", lambda: REPO / "engines")   # this tree's models, installed or not
    info = describe("everyday", resolve_model("everyday"))
    assert info.presence["seen"][0] == [1, ["left_shoulder", "right_shoulder"]] and {"wave", "clap"} <= set(info.classes)
    assert info.reject_text == "background class"
    out = tmp_path / "ub.jsonl"
    assert app.main(["--model", "everyday", "--skeletons", str(REPO / "demo" / "upper_body_skeletons.jsonl"),
                     "--out", str(out), "--quiet"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    preds = [r for r in recs if "event" not in r]
    starts = [(r["label"], r["t"]) for r in recs if r.get("event") == "start"]
    assert preds and all(p["person_present"] and p["reason"] != "no_person" for p in preds)
    assert any(lab == "wave" and 2.0 <= t < 6.0 for lab, t in starts), starts
    assert any(lab == "clap" and 8.0 <= t < 12.0 for lab, t in starts), starts
    assert all(2.0 <= t < 6.0 or 8.0 <= t < 12.0 for _, t in starts), "no action starts while the person sits idle"
    idle = [p for p in preds if 0.8 <= p["t"] < 2.0]
    assert idle and all(p["label"] is None and p["reason"] == "unknown" for p in idle), "idle is 'no action'"
    penn = tmp_path / "penn.jsonl"
    assert app.main(["--model", "penn", "--skeletons", str(REPO / "demo" / "upper_body_skeletons.jsonl"),
                     "--out", str(penn), "--quiet"]) == 0
    assert not any(json.loads(line)["person_present"] for line in penn.read_text().splitlines()
                   if "event" not in json.loads(line))
