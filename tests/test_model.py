import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from partkd_stream.model import ModelConfig, PartGCN, count_parameters, export_onnx
from partkd_stream.preprocess import PreprocessConfig

NTU3D = PreprocessConfig(layout="ntu25", dims=3)


def test_sizes_of_student_and_teacher():
    student = PartGCN(ModelConfig.student())
    teacher = PartGCN(ModelConfig.teacher(preprocess=NTU3D, num_classes=60))
    assert count_parameters(student) <= 500_000
    assert 2_000_000 <= count_parameters(teacher) <= 3_000_000


def test_part_outputs_and_part_matrix():
    cfg = ModelConfig.teacher(preprocess=PreprocessConfig(layout="kinect20", dims=3, window=32), num_classes=10,
                              parts="fine")
    model = PartGCN(cfg).eval()
    out = model.forward_parts(torch.randn(3, 7, 32, 20))
    assert out["logits"].shape == (3, 10)
    assert out["part_features"].shape == (3, 10, 256)
    assert out["part_embeddings"].shape == (3, 10, 128)
    torch.testing.assert_close(out["part_embeddings"].norm(dim=-1), torch.ones(3, 10))
    w = model.part_weights()
    torch.testing.assert_close(w.sum(1), torch.ones(10))
    # the part score is the part-matrix-weighted sum of the part logits
    manual = (out["part_logits"] * w.t()[None]).sum(1)
    torch.testing.assert_close(out["part_score"], manual)
    with pytest.raises(RuntimeError, match="no action-specific part matrix"):
        PartGCN(ModelConfig.student()).part_weights()


def test_part_logits_come_from_the_tapped_block():
    """A part's logits see block ``part_matrix_block``'s features of that part's joints, not the last block's."""
    cfg = ModelConfig.teacher(preprocess=PreprocessConfig(window=16), num_classes=4, channels=(8, 12, 16),
                              strides=(1, 1, 2), part_matrix_block=1)
    model = PartGCN(cfg).eval()
    x = torch.randn(2, 5, 16, 13)
    last, tapped = model.backbone(x, tap=1)
    torch.testing.assert_close(last, model.backbone(x))
    assert tapped.shape[1] == 12 and model.part_cls_w.shape == (model.num_parts, 12, 4)
    local = torch.matmul(tapped.mean(2), model.part_pool).transpose(1, 2)
    manual = (torch.matmul(local.unsqueeze(2), model.part_cls_w) + model.part_cls_b).squeeze(2)
    torch.testing.assert_close(model.forward_parts(x)["part_logits"], manual)
    # checkpoints written before the option existed load with the last block (the default)
    old = ModelConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "part_matrix_block"})
    assert old.part_matrix_block == -1 and PartGCN(old).part_cls_w.shape[1] == 16


def test_part_features_pool_the_right_joints():
    model = PartGCN(ModelConfig.student(preprocess=PreprocessConfig(window=16))).eval()
    f = torch.randn(2, 96, 4, 13)
    model.backbone = lambda x: f  # isolate pooling
    parts = model.forward_parts(torch.zeros(2, 5, 16, 13))["part_features"]
    head = f.mean(2)[:, :, 0]
    torch.testing.assert_close(parts[:, 0], head)
    left_arm = f.mean(2)[:, :, [2, 4, 6]].mean(-1)
    torch.testing.assert_close(parts[:, 2], left_arm)


def test_onnx_export_matches_pytorch_and_has_no_einsum(tmp_path):
    torch.manual_seed(0)
    model = PartGCN(ModelConfig.student()).eval()
    with torch.no_grad():  # make batch norm statistics non-trivial so parity is meaningful
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "student.onnx"
    export_onnx(model, str(path))
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    ops = {n.op_type for n in graph.graph.node}
    assert "Einsum" not in ops
    assert graph.opset_import[0].version >= 17
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        x = np.random.default_rng(batch).normal(size=(batch, 5, model.cfg.window, 13)).astype(np.float32)
        got = sess.run(None, {"skeleton": x})[0]
        want = model(torch.from_numpy(x)).detach().numpy()
        assert got.shape == (batch, 15)
        assert np.abs(got - want).max() <= 1e-4
