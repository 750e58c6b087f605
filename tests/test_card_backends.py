import json
import shutil
from dataclasses import replace

import numpy as np
import onnx
import pytest

from engine_fixtures import CLASSES, make_checkpoint
from partkd_stream.backends import BACKENDS, LoadedModel, ModelLoadError, load_model
from partkd_stream.synthetic import synthetic_windows
from partkd_stream.card import CardMismatch, ModelCard, card_path_for, export_deployable, sha256_file
from partkd_stream.checkpoint import CheckpointError, load_checkpoint
from partkd_stream.model import ModelConfig
from partkd_stream.models import default_model_path
from partkd_stream.preprocess import PREPROCESS_VERSION, PreprocessConfig


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
    assert card.preprocess == PreprocessConfig(window=64, fps=30.0)
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


def test_auto_selection_picks_the_best_backend_this_machine_has(built):
    """No plan was built for this model, so TensorRT is passed over (and says why) on any machine; then ONNX
    Runtime takes its CUDA provider where it has one, else the CPU."""
    import onnxruntime as ort

    m = load_model(built / "student.onnx")
    assert isinstance(m, LoadedModel)
    assert any(n.startswith("tensorrt: no TensorRT plan student.plan") for n in m.notes), m.notes
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    assert m.backend.name == ("onnxruntime-cuda" if has_cuda else "onnxruntime-cpu")


def test_onnxruntime_and_pytorch_agree(built):
    x = synthetic_windows(ModelCard.load(built / "student.card.json").preprocess, 6, seed=3)
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


# --- one model-input contract ------------------------------------------------------------------------------------
def test_the_model_config_holds_its_preprocessing(built):
    ckpt = load_checkpoint(built / "ckpt.pt")
    cfg = ckpt.model_config
    assert ckpt.preprocess is cfg.preprocess
    assert (cfg.layout, cfg.window, cfg.in_channels) == ("penn13", 64, 5)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    card = ModelCard.load(built / "student.card.json")
    assert card.preprocess == cfg.preprocess and card.input_shape == ["batch", 5, 64, 13]


def _v1_payload(ckpt_path, **model_overrides) -> dict:
    """What a format-1 checkpoint held: the model's own layout/in_channels/window beside ``preprocess``."""
    ck = load_checkpoint(ckpt_path)
    mc = ck.model_config.to_dict()
    pre = mc.pop("preprocess")
    pre.pop("version")
    mc.update({"layout": pre["layout"], "in_channels": 5, "window": pre["window"], **model_overrides})
    return {"format": "partkd-stream/1", "model_config": mc, "preprocess": pre, "classes": ck.classes,
            "state_dict": {k: v.clone() for k, v in ck.state_dict.items()}, "meta": {}}


def test_format_1_checkpoints_convert_on_load(built, tmp_path):
    import torch

    torch.save(_v1_payload(built / "ckpt.pt"), tmp_path / "old.pt")
    old = load_checkpoint(tmp_path / "old.pt")
    assert old.preprocess.version == 1                                  # written before the version was recorded
    new = load_checkpoint(built / "ckpt.pt").model_config
    assert old.model_config == replace(new, preprocess=replace(new.preprocess, version=1))
    x = synthetic_windows(old.preprocess, 2, seed=1)
    assert np.abs(load_model(tmp_path / "old.pt").predict(x) - load_model(built / "ckpt.pt").predict(x)).max() == 0
    torch.save(_v1_payload(built / "ckpt.pt", window=32), tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="contradicts its preprocessing") as e:
        load_checkpoint(tmp_path / "bad.pt")
    one_line(e.value)


def test_the_shipped_card_and_weights_load_on_both_cpu_backends():
    path = default_model_path()
    assert path.exists(), f"the shipped default model {path} is missing: it is a tracked file"
    x = synthetic_windows(ModelCard.load(card_path_for(path)).preprocess, 3, seed=2)
    a = load_model(path, backend="onnxruntime")
    b = load_model(path, backend="pytorch")
    assert a.card.preprocess == b.backend.checkpoint.preprocess
    assert np.abs(a.predict(x) - b.predict(x)).max() <= 1e-4


def _edit_card(model_dir, edit) -> None:
    card_file = model_dir / "student.card.json"
    d = json.loads(card_file.read_text())
    edit(d)
    card_file.write_text(json.dumps(d))


def test_a_card_of_another_preprocessing_version_is_refused(model_dir):
    _edit_card(model_dir, lambda d: d["preprocess"].update(version=PREPROCESS_VERSION + 1))
    with pytest.raises(ModelLoadError, match=f"preprocessing version {PREPROCESS_VERSION + 1}") as e:
        load_model(model_dir / "student.onnx")
    assert "retrain" in one_line(e.value) and "rebuild the card" not in str(e.value)   # a new card cannot help
    _edit_card(model_dir, lambda d: d["preprocess"].pop("version"))      # cards from before the version: v1
    assert load_model(model_dir / "student.onnx").card.preprocess.version == 1


@pytest.mark.parametrize("edit,match", [
    (lambda d: d["preprocess"].update(fps=0), "fps must be a finite number > 0"),
    (lambda d: d["preprocess"].update(fps=-5), "fps must be a finite number > 0"),
    (lambda d: d["preprocess"].update(fps="30"), "fps must be a finite number > 0"),
    (lambda d: d["preprocess"].update(window=0), "window must be"),
    (lambda d: d["preprocess"].pop("layout"), "preprocess lacks layout"),
    (lambda d: d.pop("preprocess"), "card lacks preprocess"),
    (lambda d: d.update(classes="abc"), "classes must be a non-empty list"),
    (lambda d: d.update(onnx_sha256=""), "no onnx_sha256"),
], ids=["fps0", "fps-neg", "fps-str", "window0", "no-layout", "no-preprocess", "classes-str", "empty-sha"])
def test_malformed_cards_are_one_line_errors(model_dir, edit, match):
    _edit_card(model_dir, edit)
    with pytest.raises(ModelLoadError, match=match) as e:
        load_model(model_dir / "student.onnx")
    assert str(model_dir / "student.card.json") in one_line(e.value)


@pytest.mark.parametrize("where, raw, match", [
    (("preprocess", "window"), "9" * 400, "invalid card: window must be a whole number of frames ≥ 1, got inf"),
    (("preprocess", "fps"), "9" * 400, "invalid card: fps must be a finite number > 0, got inf"),
    (("reject", "threshold"), "9" * 400, "invalid card: reject threshold must be a finite number, got inf"),
    (("training", "notes"), "[" * 100_000 + "]" * 100_000, "card is not valid JSON (nested too deeply"),
], ids=["400-digit-window", "400-digit-fps", "400-digit-threshold", "nested-100000-deep"])
def test_huge_integers_and_deep_nesting_in_a_card_are_one_line_errors(model_dir, where, raw, match):
    """Written by hand into the card's text: an OverflowError and a RecursionError before."""
    reject = {"method": "score", "score": "energy", "threshold": 0.0}
    _edit_card(model_dir, lambda d: d.setdefault(where[0], reject if where[0] == "reject" else {}).update(
        {where[1]: "__X__"}))
    card_file = model_dir / "student.card.json"
    card_file.write_text(card_file.read_text().replace('"__X__"', raw))
    with pytest.raises(ModelLoadError, match=match.replace("(", r"\(").replace(")", r"\)")) as e:
        load_model(model_dir / "student.onnx")
    assert one_line(e.value).startswith(str(card_file))


def test_random_bytes_onnx_is_refused_even_with_a_matching_or_empty_sha(model_dir):
    path = model_dir / "student.onnx"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    _edit_card(model_dir, lambda d: d.update(onnx_sha256=""))
    with pytest.raises(ModelLoadError, match="no onnx_sha256") as e:
        load_model(path)
    one_line(e.value)
    _edit_card(model_dir, lambda d: d.update(onnx_sha256=sha256_file(path)))
    with pytest.raises(ModelLoadError, match="not a readable ONNX model") as e:
        load_model(path)
    one_line(e.value)


class _Code:
    """Pickles as a call of ``os.getcwd`` (harmless if it ever ran): what a hostile checkpoint looks like."""

    def __reduce__(self):
        import os

        return (os.getcwd, ())


def test_checkpoints_that_carry_code_or_nothing_are_refused_in_our_words(model_dir):
    import torch

    (model_dir / "empty.pt").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="the file is empty") as e:
        load_model(model_dir / "empty.pt")
    one_line(e.value)
    torch.save({"format": "partkd-stream/2", "payload": _Code()}, model_dir / "student.pt")
    for call in (lambda: load_model(model_dir / "student.pt"),
                 lambda: load_model(model_dir / "student.onnx", backend="pytorch")):   # hostile .pt beside a good ONNX
        with pytest.raises(ModelLoadError, match="refused: the file contains code") as e:
            call()
        msg = one_line(e.value)
        assert "getcwd" in msg and "weights_only" not in msg and "False" not in msg
    assert load_model(model_dir / "student.onnx").backend.name != "pytorch"    # auto never reaches the .pt here
