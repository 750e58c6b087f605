import json

import numpy as np
import pytest

from engine_fixtures import make_checkpoint
from partkd_stream.bench import main
from partkd_stream.card import export_deployable
from partkd_stream.checkpoint import load_checkpoint

TINY = ["--repeats", "5", "--batch", "4"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("bench") / "student.pt")


def test_json_shape_with_pose_and_overhead(ckpt, capsys):
    rc = main(["--checkpoint", str(ckpt), "--json", "--backends", "onnxruntime-cpu,pytorch", "--pose-frames", "2",
               "--pose-passes", "1", *TINY])
    assert rc == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r["backends"]) == {"onnxruntime-cpu", "pytorch"}
    for v in r["backends"].values():
        assert v["batch1_median_ms"] > 0 and v["batch1_p99_ms"] >= v["batch1_median_ms"]
        assert v["windows_per_s"] > 0 and v["batch"] == 4
    assert r["pose_ms_per_frame"] > 0 and r["pose_frames"] == 2
    assert r["overhead_backend"] == "onnxruntime-cpu"
    assert r["overhead_ratio"] == pytest.approx(r["backends"]["onnxruntime-cpu"]["batch1_median_ms"]
                                                / r["pose_ms_per_frame"])
    assert r["model"]["window"] == 64 and r["model"]["layout"] == "penn13"
    p = r["pose"]                                  # the estimator beside the raw library call and the run mode
    assert p["passes"] == 1 and p["frames"] == 2 and p["raw_ms"] > 0 and p["estimator_ms"] == r["pose_ms_per_frame"]
    assert p["estimator_over_raw"] == pytest.approx(p["estimator_ms"] / p["raw_ms"])
    assert p["pipeline_fps"] > 0 and p["pipeline_over_raw"] == pytest.approx(p["pipeline_fps"] / p["raw_fps"])


def test_table_for_a_built_model_lists_unavailable_backends(ckpt, tmp_path, capsys):
    export_deployable(load_checkpoint(ckpt), tmp_path, "m")
    assert main(["--model", str(tmp_path / "m.onnx"), "--pose-frames", "0", *TINY]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime-cpu" in out and "batch-1 median ms" in out and "windows/s @ 4" in out
    assert "m v1, penn13 2D, window 64, 15 classes" in out
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert "onnxruntime-cuda  unavailable:" in out


def test_onnx_without_card_and_config(tmp_path, capsys, ckpt):
    export_deployable(load_checkpoint(ckpt), tmp_path, "m", save_weights=False)
    (tmp_path / "m.card.json").unlink()
    assert main(["--onnx", str(tmp_path / "m.onnx"), "--json", "--pose-frames", "0", *TINY]) == 0
    r = json.loads(capsys.readouterr().out)
    assert "onnxruntime-cpu" in r["backends"] and "pytorch" in r["unavailable"]
    assert r["pose_ms_per_frame"] is None and r["overhead_ratio"] is None
    cfg = json.dumps({"window": 32, "channels": [16, 16], "strides": [1, 2], "num_classes": 4})
    assert main(["--config", cfg, "--json", "--pose-frames", "0", "--backends", "onnxruntime-cpu", *TINY]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["model"]["window"] == 32 and r["model"]["classes"] == 4


def test_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PARTKD_MODEL", str(tmp_path / "absent.onnx"))
    assert main(["--pose-frames", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no default model" in err and "\n" not in err
    for argv in (["--config", "{not json"], ["--config", '{"colour": 1}'], ["--backends", "cuda"],
                 ["--model", str(tmp_path / "x.onnx")], ["--repeats", "0"]):
        assert main(argv + ["--pose-frames", "0"]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("partkd-stream bench: error:") and "\n" not in err, err


def test_json_names_the_real_default_model_and_why_a_backend_is_missing(tmp_path, capsys, ckpt, monkeypatch):
    from partkd_stream.models import default_model_path

    export_deployable(load_checkpoint(ckpt), tmp_path, "m", save_weights=False)   # no .pt: no PyTorch backend
    monkeypatch.setenv("PARTKD_MODEL", str(tmp_path / "m.onnx"))
    assert main(["--json", "--pose-frames", "0", "--backends", "onnxruntime-cpu,pytorch", *TINY]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["model"]["path"] == str(default_model_path().resolve()) == str((tmp_path / "m.onnx").resolve())
    assert r["unavailable"]["pytorch"].startswith("the PyTorch backend needs the weights m.pt")
    cfg = json.dumps({"window": 32, "channels": [16, 16], "strides": [1, 2], "num_classes": 4})
    assert main(["--config", cfg, "--json", "--pose-frames", "0", "--backends", "onnxruntime-cpu", *TINY]) == 0
    assert json.loads(capsys.readouterr().out)["model"]["path"] == "random weights from --config"


def test_people_section_times_pose_and_recognition_per_people_count(ckpt, capsys):
    rc = main(["--checkpoint", str(ckpt), "--json", "--backends", "onnxruntime-cpu", "--people", "1,2",
               "--people-repeats", "1", "--pose-frames", "2", "--pose-passes", "1", *TINY])
    assert rc == 0
    p = json.loads(capsys.readouterr().out)["people"]
    assert p["stride"] == 6 and p["threads"] == 1 and p["backend"] == "onnxruntime-cpu"
    one, two = p["recognition"]
    assert (one["people"], two["people"]) == (1, 2)
    for r in (one, two):
        assert r["ms_per_frame"] > 0 and r["model_ms_per_stride"] > 0 and r["around_ms_per_stride"] > 0
        assert r["around_ms_per_person"] == pytest.approx(r["around_ms_per_stride"] / r["people"])
        assert r["ms_per_frame"] * 6 == pytest.approx(r["model_ms_per_stride"] + r["around_ms_per_stride"]
                                                      + 6 * r["tracking_ms_per_frame"], rel=1e-6)
    assert one["tracking_ms_per_frame"] == 0 and two["tracking_ms_per_frame"] > 0
    rows = {r["people"]: r for r in p["pose"]["rows"]}
    assert rows[1]["estimator"] == "MediaPipePose" and rows[2]["estimator"] == "MediaPipeMultiPose(2)"
    assert rows[2]["ms_per_frame"] > 0 and rows[2]["ms_per_frame_one_in_view"] > 0
    assert "ms_per_frame_one_in_view" not in rows[1] and rows[1]["frame"] != rows[2]["frame"]
    for row in rows.values():                      # each beside the raw calls it makes, and the run mode
        assert row["raw_ms"] > 0 and row["estimator_over_raw"] == pytest.approx(row["estimator_ms"] / row["raw_ms"])
        assert row["pipeline_fps"] > 0 and not row["tiled"]


def test_people_frames_put_copies_of_the_person_side_by_side():
    from partkd_stream.bench.pose import people_frames

    imgs = [np.full((40, 30, 3), k, np.uint8) for k in range(10)]
    out = people_frames(imgs, (slice(5, 35), slice(10, 20)), 3)
    assert len(out) == 10 and out[0].shape == (30, 30, 3)
    assert [int(out[2][0, x, 0]) for x in (0, 10, 20)] == [2, 9, 6]      # copies a few frames apart
    assert people_frames(imgs, None, 2)[0].shape == (40, 60, 3)


@pytest.mark.parametrize("argv", [["--people", "0"], ["--people", "1,x"], ["--people-repeats", "0"]])
def test_people_options_are_checked(argv, capsys):
    try:
        rc = main(argv + ["--pose-frames", "0"])
    except SystemExit as e:                        # argparse's usage error for a malformed --people
        rc = e.code
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2 and "error:" in err and "people" in err, err


def test_people_need_a_card(tmp_path, ckpt, capsys):
    export_deployable(load_checkpoint(ckpt), tmp_path, "m", save_weights=False)
    (tmp_path / "m.card.json").unlink()
    assert main(["--onnx", str(tmp_path / "m.onnx"), "--people", "1", "--pose-frames", "0", *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("partkd-stream bench: error: --people times the whole recognizer") and "\n" not in err

