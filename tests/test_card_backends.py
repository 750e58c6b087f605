import json
import shutil

import numpy as np
import onnx
import pytest

from engine_fixtures import CLASSES, make_checkpoint
from partkd_stream.backends import BACKENDS, LoadedModel, ModelLoadError, load_model, tensorrt_unavailable_reason
from partkd_stream.bench import synthetic_windows
from partkd_stream.card import (CardMismatch, ModelCard, card_path_for, default_model_path, export_deployable,
                                sha256_file)
from partkd_stream.checkpoint import load_checkpoint
from partkd_stream.preprocess import PreprocessConfig


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("engines")
    ckpt = make_checkpoint(d / "ckpt.pt")
    export_deployable(load_checkpoint(ckpt), d, "student")
    return d


@pytest.fixture
def model_dir(built, tmp_path):
    """A private copy to tamper with."""
    for f in built.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def one_line(err: Exception) -> str:
    msg = str(err)
    assert "\n" not in msg and msg
    return msg


def test_card_round_trip_and_contents(built):
    card = ModelCard.load(built / "student.card.json")
    assert ModelCard.from_json(card.to_json()) == card
    assert card.classes == CLASSES and card.name == "student"
    assert card.input_shape == ["batch", 5, 64, 13] and card.output_shape == ["batch", 15]
    assert card.preprocess == PreprocessConfig()
    assert card.onnx_sha256 == sha256_file(built / "student.onnx")
    assert card.metrics["top1"] == 0.5 and card.training["dataset"] == "synthetic"
    assert card.training["model_config"]["channels"] == [32, 48, 64, 96]
    assert card.created.startswith("20")


def test_check_source_accepts_convertible_and_refuses_the_rest(built):
    card = ModelCard.load(built / "student.card.json")
    for layout in ("penn13", "mediapipe33", "coco17", "ntu25"):
        card.check_source(layout, 2)
    with pytest.raises(CardMismatch, match="expects 2D skeletons but the source gives 3D"):
        card.check_source("mediapipe33", 3)
    three_d = ModelCard.from_dict({**card.to_dict(), "preprocess": {**card.preprocess.to_dict(), "dims": 3,
                                                                   "layout": "ntu25"}})
    with pytest.raises(CardMismatch, match="3D") as e:
        three_d.check_source("ntu25", 2)
    one_line(e.value)
    with pytest.raises(CardMismatch, match="penn13 cannot be converted") as e:
        three_d.check_source("penn13", 3)
    one_line(e.value)
    with pytest.raises(CardMismatch, match="unknown skeleton layout"):
        card.check_source("openpose25", 2)


def test_auto_selection_here_is_onnxruntime_cpu(built):
    import onnxruntime as ort

    if not tensorrt_unavailable_reason() or "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a GPU backend is available here")
    m = load_model(built / "student.onnx")
    assert isinstance(m, LoadedModel) and m.backend.name == "onnxruntime-cpu"
    assert any(n.startswith("tensorrt:") for n in m.notes)


def test_onnxruntime_and_pytorch_agree(built):
    x = synthetic_windows(PreprocessConfig(), 6, seed=3)
    ort_m = load_model(built / "student.onnx", backend="onnxruntime")
    pt_m = load_model(built / "student.onnx", backend="pytorch")
    assert pt_m.backend.name == "pytorch"
    a, b = ort_m.predict(x), pt_m.predict(x)
    assert a.shape == (6, 15) and np.abs(a).max() > 0.1
    assert np.abs(a - b).max() <= 1e-4
    p = ort_m.predict_proba(x)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    assert (p.argmax(1) == a.argmax(1)).all()
    np.testing.assert_allclose(ort_m.predict(x[0]), a[:1], atol=1e-6)  # one window without the batch axis
    # the .pt checkpoint itself loads on the PyTorch backend with a card built from it
    ck = load_model(built / "student.pt")
    assert ck.backend.name == "pytorch" and ck.card.classes == CLASSES
    assert np.abs(ck.predict(x) - a).max() <= 1e-4


def test_wrong_input_shape_is_one_line(built):
    m = load_model(built / "student.onnx", backend="onnxruntime")
    with pytest.raises(ValueError, match=r"takes windows \[N, 5, 64, 13\]") as e:
        m.predict(np.zeros((1, 5, 32, 13), np.float32))
    one_line(e.value)


def test_modified_onnx_is_refused(model_dir):
    path = model_dir / "student.onnx"
    g = onnx.load(str(path))
    g.doc_string = "tampered"
    onnx.save(g, str(path))
    with pytest.raises(ModelLoadError, match="sha256 .* does not match its card") as e:
        load_model(path)
    assert str(path) in one_line(e.value)


def test_card_with_wrong_classes_is_refused(model_dir):
    card_file = model_dir / "student.card.json"
    d = json.loads(card_file.read_text())
    d["classes"] = d["classes"][:-1]
    card_file.write_text(json.dumps(d))
    with pytest.raises(ModelLoadError, match="14 classes") as e:
        load_model(model_dir / "student.onnx")
    one_line(e.value)


def test_card_with_wrong_window_is_refused(model_dir):
    card_file = model_dir / "student.card.json"
    d = json.loads(card_file.read_text())
    d["preprocess"]["window"] = 32
    card_file.write_text(json.dumps(d))
    with pytest.raises(ModelLoadError, match="window 32") as e:
        load_model(model_dir / "student.onnx")
    one_line(e.value)


def test_card_that_disagrees_with_the_graph_is_refused(model_dir):
    """A self-consistent card for another window than the ONNX graph's (the sha is not what catches it)."""
    card = ModelCard.load(model_dir / "student.card.json")
    other = ModelCard.from_dict({**card.to_dict(), "input_shape": ["batch", 5, 32, 13],
                                 "preprocess": {**card.preprocess.to_dict(), "window": 32}})
    other.save(model_dir / "student.card.json")
    with pytest.raises(ModelLoadError, match="does not match the card") as e:
        load_model(model_dir / "student.onnx")
    one_line(e.value)


def test_missing_card_and_unknown_files(model_dir):
    card_path_for(model_dir / "student.onnx").unlink()
    with pytest.raises(ModelLoadError, match="model card not found"):
        load_model(model_dir / "student.onnx")
    with pytest.raises(ModelLoadError, match="model file not found"):
        load_model(model_dir / "nope.onnx")
    (model_dir / "x.tflite").write_bytes(b"0")
    with pytest.raises(ModelLoadError, match="unknown model file type"):
        load_model(model_dir / "x.tflite")
    with pytest.raises(ModelLoadError, match="unknown backend"):
        load_model(model_dir / "student.pt", backend="openvino")


def test_forced_backends_that_cannot_run_say_why(model_dir):
    reason = tensorrt_unavailable_reason()
    if reason is None:
        pytest.skip("TensorRT is available here")
    with pytest.raises(ModelLoadError, match="backend tensorrt is not available") as e:
        load_model(model_dir / "student.onnx", backend="tensorrt")
    one_line(e.value)
    with pytest.raises(ModelLoadError, match="pytorch backend only"):
        load_model(model_dir / "student.pt", backend="onnxruntime")
    (model_dir / "student.pt").unlink()
    with pytest.raises(ModelLoadError, match="needs the weights student.pt") as e:
        load_model(model_dir / "student.onnx", backend="pytorch")
    one_line(e.value)
    assert set(BACKENDS) == {"tensorrt", "onnxruntime", "pytorch"}


def test_default_model_path_and_missing_default(monkeypatch, tmp_path):
    monkeypatch.delenv("PARTKD_MODEL", raising=False)
    assert default_model_path().name == "penn_student.onnx" and default_model_path().parent.name == "engines"
    monkeypatch.setenv("PARTKD_MODEL", str(tmp_path / "none.onnx"))
    assert default_model_path() == tmp_path / "none.onnx"
    with pytest.raises(ModelLoadError, match="no default model") as e:
        load_model()
    one_line(e.value)
