import re
from pathlib import Path

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from partkd_stream.model import ModelConfig, PartGCN, export_onnx
from partkd_stream.preprocess import PreprocessConfig
from train.lib.trt_ops import TABLE_PATH, check_onnx_ops, load_table, used_ops
from train.trt_ops import main

REPO = Path(__file__).resolve().parents[1]


def exported(tmp_path, cfg):
    torch.manual_seed(0)
    path = tmp_path / "m.onnx"
    export_onnx(PartGCN(cfg).eval(), str(path))
    return onnx.load(str(path))


@pytest.mark.parametrize("cfg", [ModelConfig.student(),
                                 ModelConfig.student(preprocess=PreprocessConfig(layout="coco17", window=32),
                                                     parts="fine"),
                                 ModelConfig.teacher(preprocess=PreprocessConfig(layout="ntu25", dims=3),
                                                     num_classes=60)],
                         ids=["student", "student-coco17", "teacher-ntu25"])
def test_every_op_of_the_exported_graphs_is_supported_by_tensorrt(tmp_path, cfg):
    model = exported(tmp_path, cfg)
    table = load_table()
    ops = used_ops(model, table)
    assert {op for op, _ in ops} >= {"Conv", "MatMul", "Gemm", "ReduceMean"}
    for op, types in ops:  # explicit: each (op, input types) pair is in the documented matrix
        row = table["ops"][op]
        assert row["supported"], op
    assert check_onnx_ops(model) == []


def tiny_model(op, in_type=TensorProto.FLOAT, opset=17, **attrs):
    x = helper.make_tensor_value_info("x", in_type, [2, 3])
    y = helper.make_tensor_value_info("y", in_type, None)
    nodes, inputs = [], ["x", "x"] if op in ("MatMul", "Add") else ["x"]
    node = helper.make_node(op, inputs, ["y"], **attrs)
    graph = helper.make_graph(nodes + [node], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_unsupported_op_fails():
    problems = check_onnx_ops(tiny_model("Unique"))
    assert len(problems) == 1 and "not supported by TensorRT" in problems[0]


def test_op_missing_from_table_fails():
    problems = check_onnx_ops(tiny_model("Celu"))
    assert len(problems) == 1 and "not in the TensorRT support table" in problems[0]


def test_unsupported_data_type_fails():
    assert check_onnx_ops(tiny_model("MatMul")) == []
    problems = check_onnx_ops(tiny_model("MatMul", TensorProto.INT64))
    assert problems and all("type INT64" in p for p in problems)
    assert check_onnx_ops(tiny_model("Add", TensorProto.INT64)) == []  # Add does take INT64
    assert check_onnx_ops(tiny_model("Relu", TensorProto.DOUBLE))


def test_non_constant_axes_fail():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    axes = helper.make_tensor_value_info("axes", TensorProto.INT64, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Unsqueeze", ["x", "axes"], ["y"])], "g", [x, axes], [y])
    problems = check_onnx_ops(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert len(problems) == 1 and "must be a constant" in problems[0]
    graph = helper.make_graph([helper.make_node("Unsqueeze", ["x", "axes"], ["y"])], "g", [x], [y],
                              initializer=[helper.make_tensor("axes", TensorProto.INT64, [1], [0])])
    assert check_onnx_ops(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])) == []


def test_opset_outside_documented_range_fails():
    problems = check_onnx_ops(tiny_model("Relu", opset=8))
    assert problems and "opset 8" in problems[0]


def test_table_names_the_pinned_tensorrt_version_and_its_source():
    table = load_table()
    pin = re.search(r'tensorrt = \["([^"]+)"\]', (REPO / "pyproject.toml").read_text()).group(1)
    assert pin in table["pin"]
    major = re.search(r"<(\d+)", pin).group(1)
    assert table["tensorrt"].startswith(str(int(major) - 1) + ".")
    assert "onnx-tensorrt" in table["source"] and "operators.md" in table["source"]
    assert table["ops"]["Unique"]["supported"] is False and table["ops"]["MatMul"]["types"] == ["FP32", "FP16", "BF16"]
    assert TABLE_PATH.exists()


def test_command_line(tmp_path, capsys):
    path = tmp_path / "bad.onnx"
    onnx.save(tiny_model("Unique"), str(path))
    assert main([str(path)]) == 1
    assert "1 problem(s)" in capsys.readouterr().out
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    assert main([str(tmp_path / "junk.onnx")]) == 2
    assert "\n" not in capsys.readouterr().err.strip()


@pytest.mark.parametrize("name", ["penn_student", "everyday_student"])
def test_the_shipped_models_are_supported_by_tensorrt(name):
    """The shipped models are tracked files: a missing one fails here, it is not skipped."""
    assert check_onnx_ops(onnx.load(str(REPO / "engines" / f"{name}.onnx"))) == []
