"""Check an ONNX graph against TensorRT's documented ONNX operator support, without TensorRT or a GPU.

The table (``trt_onnx_ops.json`` beside this file) transcribes onnx-tensorrt's ``docs/operators.md`` for the TensorRT
version the ``tensorrt`` extra pins: per operator, whether it is supported, the data types of its main inputs, and the
restrictions a program can check (inputs that must be constants). ``check_onnx_ops`` lists every violation, so
an engine build on a GPU machine cannot fail on an operator we could have caught here
(``python -m train.trt_ops MODEL.onnx`` prints the check).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import onnx

TABLE_PATH = Path(__file__).with_name("trt_onnx_ops.json")


def load_table(path: str | Path = TABLE_PATH) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def _tensor_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every named tensor (after shape inference) — inputs, initializers, node outputs."""
    g = onnx.shape_inference.infer_shapes(model).graph
    types = {vi.name: vi.type.tensor_type.elem_type for vi in list(g.value_info) + list(g.input) + list(g.output)}
    types.update({t.name: t.data_type for t in g.initializer})
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    types[node.output[0]] = a.t.data_type
    return types


def used_ops(model: onnx.ModelProto, table: Optional[dict[str, Any]] = None) -> set[tuple[str, tuple[str, ...]]]:
    """``{(op_type, (dtype of each input, …))}`` of the graph — what the check looks at."""
    names = (table or load_table())["onnx_types"]
    types = _tensor_types(model)
    return {(n.op_type, tuple(names.get(str(types.get(i, 0)), f"type{types.get(i, 0)}") for i in n.input if i))
            for n in model.graph.node}


def check_onnx_ops(model: onnx.ModelProto | str | Path, table: Optional[dict[str, Any]] = None) -> list[str]:
    """Every way the graph breaks the documented support (empty list: the graph is fine)."""
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    table = table or load_table()
    names, ops = table["onnx_types"], table["ops"]
    lo, hi = table["opset_range"]
    problems = []
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and not lo <= imp.version <= hi:
            problems.append(f"opset {imp.version} is outside TensorRT {table['tensorrt']}'s documented {lo}-{hi}")
        elif imp.domain not in ("", "ai.onnx"):
            problems.append(f"custom operator domain {imp.domain!r} needs a TensorRT plugin")
    types = _tensor_types(model)
    constants = {t.name for t in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    for node in model.graph.node:
        where = f"{node.op_type} node {node.name or node.output[0]!r}"
        row = ops.get(node.op_type)
        if row is None:
            problems.append(f"{where}: operator not in the TensorRT support table ({TABLE_PATH.name}); add its row "
                            f"from onnx-tensorrt docs/operators.md or avoid it")
            continue
        if not row["supported"]:
            problems.append(f"{where}: not supported by TensorRT {table['tensorrt']}")
            continue
        if node.op_type == "Constant":
            bad = [a.name for a in node.attribute if a.name in ("sparse_value", "value_string", "value_strings")]
            if bad:
                problems.append(f"{where}: attribute {bad[0]} is unsupported")
            checked = list(node.output)
        else:
            idx = row.get("typed_inputs", "all")
            checked = [i for k, i in enumerate(node.input) if i and (idx == "all" or k in idx)]
        for name in checked:
            t = names.get(str(types.get(name, 0)), f"type{types.get(name, 0)}")
            if t not in row["types"]:
                problems.append(f"{where}: input {name!r} has type {t}; TensorRT takes {', '.join(row['types'])}")
        for k in row.get("constant_inputs", []):
            if k < len(node.input) and node.input[k] and node.input[k] not in constants:
                problems.append(f"{where}: input {k} ({node.input[k]!r}) must be a constant "
                                f"({row.get('restrictions', '')})")
    return problems
