import re

import numpy as np
import pytest

from engine_fixtures import CLASSES, make_checkpoint
from partkd_stream.backends import load_model, tensorrt_unavailable_reason
from partkd_stream.card import ModelCard, sha256_file
from partkd_stream.skeleton_io import SkeletonSequence, save_sequence
from train.build_engine import main
from train.lib.engine import BuildError, batch_profiles, parse_batches


def parse_pbtxt(text: str):
    """Just enough protobuf text format for config.pbtxt: ``key: value``, ``key { … }``, ``key [ … ]``."""
    tokens = re.findall(r'"[^"]*"|[\[\]{}:,]|[^\s\[\]{}:,]+', text)
    pos = 0

    def value():
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "{":
            return block("}")
        if tok == "[":
            items = []
            while tokens[pos] != "]":
                if tokens[pos] == ",":
                    pos += 1
                    continue
                items.append(value())
            pos += 1
            return items
        if tok.startswith('"'):
            return tok[1:-1]
        return int(tok) if re.fullmatch(r"-?\d+", tok) else tok

    def block(end):
        nonlocal pos
        out = {}
        while pos < len(tokens) and tokens[pos] != end:
            key = tokens[pos]
            pos += 1
            if tokens[pos] == ":":
                pos += 1
            out[key] = value()
        pos += 1
        return out

    return block(None)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    d = tmp_path_factory.mktemp("build")
    ckpt = make_checkpoint(d / "student_kd.pt")
    return d, ckpt


def test_build_writes_onnx_card_weights_and_triton_repo(build, capsys):
    d, ckpt = build
    out, triton = d / "engines", d / "triton"
    rc = main(["--checkpoint", str(ckpt), "--name", "toy", "--out-dir", str(out), "--triton-repo", str(triton),
               "--batch", "1,8,64"])
    printed = capsys.readouterr().out
    assert rc == 0
    err = float(re.search(r"max abs error ([0-9.e+-]+)", printed).group(1))
    assert err <= 1e-4
    assert "synthetic skeletons" in printed
    assert "TensorRT operator check" in printed and "every operator and data type is documented" in printed
    if tensorrt_unavailable_reason():
        assert "skipped: TensorRT engine (" in printed
        assert not (out / "toy.plan").exists()
    card = ModelCard.load(out / "toy.card.json")
    assert card.onnx_sha256 == sha256_file(out / "toy.onnx")
    assert card.training["checkpoint_sha256"] == sha256_file(ckpt)
    assert card.metrics["parity"]["onnxruntime_max_abs_err"] == pytest.approx(err, rel=0.01)
    assert (out / "toy.pt").exists() and (out / "toy.onnx").stat().st_size < 5e6

    model_dir = triton / "toy_onnx"
    assert (model_dir / "1" / "model.onnx").read_bytes() == (out / "toy.onnx").read_bytes()
    assert (model_dir / "labels.txt").read_text().splitlines() == CLASSES
    cfg = parse_pbtxt((model_dir / "config.pbtxt").read_text())
    assert cfg["name"] == "toy_onnx" and cfg["platform"] == "onnxruntime_onnx"
    assert cfg["max_batch_size"] == 64
    assert cfg["dynamic_batching"]["preferred_batch_size"] == [8, 64]
    assert cfg["dynamic_batching"]["max_queue_delay_microseconds"] > 0
    (inp,), (outp,) = cfg["input"], cfg["output"]
    assert inp == {"name": "skeleton", "data_type": "TYPE_FP32", "dims": [5, 64, 13]}
    assert outp["name"] == "logits" and outp["dims"] == [15] and outp["label_filename"] == "labels.txt"
    assert (triton / "toy_trt").exists() == (out / "toy.plan").exists()

    # what was built loads and runs
    m = load_model(out / "toy.onnx")
    assert m.card.classes == CLASSES


def test_parity_on_a_skeleton_sequence_file(build, capsys, tmp_path):
    d, ckpt = build
    from partkd_stream.synthetic import synthetic_skeletons
    from partkd_stream.preprocess import PreprocessConfig

    raw = synthetic_skeletons(PreprocessConfig(layout="mediapipe33"), 1, seed=5, frames=150)[0]
    seq_path = tmp_path / "clip.npz"
    save_sequence(seq_path, SkeletonSequence(data=raw, layout="mediapipe33", fps=25.0,
                                             timestamps=np.arange(150) / 25.0))
    rc = main(["--checkpoint", str(ckpt), "--out-dir", str(tmp_path / "e"), "--parity-data", str(seq_path),
               "--no-weights"])
    printed = capsys.readouterr().out
    assert rc == 0 and "clip.npz (skeleton sequence, 150 frames)" in printed
    assert not (tmp_path / "e" / "penn_student.pt").exists()
    windows = np.zeros((3, 5, 32, 13), np.float32)
    np.savez(tmp_path / "bad.npz", windows=windows)
    rc = main(["--checkpoint", str(ckpt), "--out-dir", str(tmp_path / "e2"), "--parity-data",
               str(tmp_path / "bad.npz")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "expected [N, 5, 64, V]" in err


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    for argv in (["--checkpoint", str(bad)], ["--checkpoint", str(tmp_path / "missing.pt")],
                 ["--checkpoint", str(bad), "--batch", "a,b"], ["--checkpoint", str(bad), "--opset", "13"]):
        assert main(argv + ["--out-dir", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("build_engine: error:") and "\n" not in err
    assert not (tmp_path / "out" / "penn_student.onnx").exists()


def test_batch_profiles_cover_every_batch_once():
    assert parse_batches("64,1,8") == [1, 8, 64]
    profiles = batch_profiles([1, 8, 64])
    assert profiles == [(1, 1, 1), (2, 8, 8), (9, 64, 64)]
    covered = [b for lo, _, hi in profiles for b in range(lo, hi + 1)]
    assert covered == list(range(1, 65))
    with pytest.raises(BuildError):
        parse_batches("0,4")


@pytest.mark.gpu
def test_tensorrt_engine_parity(build, capsys, tmp_path):
    reason = tensorrt_unavailable_reason()
    if reason:
        pytest.skip(f"TensorRT engine not testable here: {reason}")
    d, ckpt = build
    out = tmp_path / "engines"
    assert main(["--checkpoint", str(ckpt), "--out-dir", str(out), "--batch", "1,8,64"]) == 0
    printed = capsys.readouterr().out
    assert (out / "penn_student.plan").exists() and (out / "penn_student.timing_cache").exists()
    m = load_model(out / "penn_student.onnx")
    assert m.backend.name == "tensorrt"
    ref = load_model(out / "penn_student.onnx", backend="pytorch")
    from partkd_stream.synthetic import synthetic_windows

    x = synthetic_windows(m.card.preprocess, 100)  # 100 > 64: split over profiles
    assert np.abs(m.predict(x) - ref.predict(x)).max() <= 1e-3, printed


def test_a_failed_rebuild_leaves_the_model_that_was_there(build, tmp_path, monkeypatch, capsys):
    """Parity fails on the second build: the first build's files stay byte for byte, nothing half-built stays."""
    import train.lib.engine as be

    d, ckpt = build
    out = tmp_path / "engines"
    assert main(["--checkpoint", str(ckpt), "--out-dir", str(out), "--name", "m"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"m.onnx", "m.card.json", "m.pt"} <= set(before)
    other = make_checkpoint(tmp_path / "other.pt", seed=7)
    monkeypatch.setattr(be, "parity_error", lambda *a: 1.0)
    capsys.readouterr()
    assert main(["--checkpoint", str(other), "--out-dir", str(out), "--name", "m"]) == 2
    err = capsys.readouterr().err
    assert "the export is wrong" in err and "left as it was" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert load_model(out / "m.onnx").card.training["checkpoint_sha256"] == sha256_file(ckpt)


def test_reject_and_presence_reach_the_card_from_options_or_the_checkpoint(build, tmp_path, capsys):
    import json

    from partkd_stream.checkpoint import load_checkpoint, save_checkpoint
    from partkd_stream.reject import Reject
    from partkd_stream.window import PRESENCE_RULES

    d, ckpt = build
    spec = {"method": "score", "score": "energy", "threshold": 2.5, "target_recall": 0.95, "calibrated_on": "val",
            "temperature": 1.0}
    (tmp_path / "reject_energy.json").write_text(json.dumps({"reject": spec}))
    assert main(["--checkpoint", str(ckpt), "--out-dir", str(tmp_path / "a"), "--name", "m", "--no-weights",
                 "--reject", str(tmp_path / "reject_energy.json"), "--presence", "upper_body"]) == 0
    assert "reject: energy ≥ 2.5 (95 % recall); presence: one side: shoulder, 1 of elbow/wrist ≥ 0.7" in capsys.readouterr().out
    card = ModelCard.load(tmp_path / "a" / "m.card.json")
    assert card.reject == Reject(**spec) and card.presence == PRESENCE_RULES["upper_body"]
    ck = load_checkpoint(ckpt)                                  # a checkpoint that carries both in its meta
    save_checkpoint(tmp_path / "r.pt", ck.build_model(), ck.classes,
                    meta={**ck.meta, "reject": {**spec, "threshold": 1.0}, "presence": {"min_fraction": 0.5}})
    assert main(["--checkpoint", str(tmp_path / "r.pt"), "--out-dir", str(tmp_path / "b"), "--name", "m"]) == 0
    card = ModelCard.load(tmp_path / "b" / "m.card.json")
    assert card.reject.threshold == 1.0 and card.presence.min_fraction == 0.5
    assert "reject" not in card.training and "presence" not in card.training
    assert load_model(tmp_path / "b" / "m.onnx", backend="pytorch").card.reject == card.reject   # .pt agrees
    capsys.readouterr()
    (tmp_path / "bg.json").write_text(json.dumps({**spec, "method": "background", "score": "not_background"}))
    for extra, needle in ((["--reject", str(tmp_path / "bg.json")], "needs 'background' as the last class"),
                          (["--reject", str(tmp_path / "none.json")], "reject file not found"),
                          (["--presence", "desk"], "give a preset (full_body, upper_body)"),
                          (["--presence", '{"torso": ["nose", "tail"]}'], "joint 'tail' is no joint of any layout")):
        assert main(["--checkpoint", str(ckpt), "--out-dir", str(tmp_path / "c"), "--name", "m"] + extra) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and needle in err, err
    assert not (tmp_path / "c" / "m.onnx").exists()
