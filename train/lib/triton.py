"""Export a built model as an NVIDIA Triton Inference Server model repository, to serve many streams from one GPU.

Layout written (Triton's own conventions)::

    DIR/<name>_onnx/config.pbtxt, labels.txt, 1/model.onnx      platform "onnxruntime_onnx"
    DIR/<name>_trt/config.pbtxt,  labels.txt, 1/model.plan      platform "tensorrt_plan" (only when a plan exists)

Dynamic batching lets Triton merge windows of many streams into one batch; ``labels.txt`` makes Triton's
classification extension return class names.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional, Sequence

from partkd_stream.atomic import atomic_write_bytes
from partkd_stream.card import ModelCard


def config_pbtxt(card: ModelCard, model_name: str, platform: str, max_batch_size: int,
                 preferred_batch_sizes: Sequence[int], max_queue_delay_us: int, kind: str) -> str:
    """Text of a ``config.pbtxt``; dims leave out the batch axis, which ``max_batch_size`` > 0 implies."""
    in_dims = ", ".join(str(d) for d in card.input_shape[1:])
    preferred = ", ".join(str(b) for b in preferred_batch_sizes if b <= max_batch_size)
    return (
        f'name: "{model_name}"\n'
        f'platform: "{platform}"\n'
        f"max_batch_size: {max_batch_size}\n"
        f"input [\n  {{\n    name: \"{card.input_name}\"\n    data_type: TYPE_FP32\n    dims: [ {in_dims} ]\n  }}\n]\n"
        f"output [\n  {{\n    name: \"{card.output_name}\"\n    data_type: TYPE_FP32\n"
        f"    dims: [ {len(card.classes)} ]\n    label_filename: \"labels.txt\"\n  }}\n]\n"
        f"dynamic_batching {{\n  preferred_batch_size: [ {preferred} ]\n"
        f"  max_queue_delay_microseconds: {max_queue_delay_us}\n}}\n"
        f"instance_group [\n  {{\n    count: 1\n    kind: {kind}\n  }}\n]\n"
    )


def write_triton_repo(repo: str | Path, card: ModelCard, onnx_path: str | Path, plan_path: Optional[str | Path] = None,
                      max_batch_size: int = 256, preferred_batch_sizes: Sequence[int] = (8, 64),
                      max_queue_delay_us: int = 500) -> list[Path]:
    """Write the ONNX model (and the TensorRT plan, if given) into a Triton repository; returns the model dirs."""
    repo = Path(repo)
    written = []
    targets = [("onnx", "onnxruntime_onnx", Path(onnx_path), "model.onnx", "KIND_AUTO", max_batch_size)]
    if plan_path is not None:
        # a plan cannot serve batches above its largest optimisation profile: the caller passes that maximum
        targets.append(("trt", "tensorrt_plan", Path(plan_path), "model.plan", "KIND_GPU", max_batch_size))
    for suffix, platform, src, filename, kind, mbs in targets:
        model_name = f"{card.name}_{suffix}"
        model_dir = repo / model_name
        (model_dir / "1").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, model_dir / "1" / filename)
        text = config_pbtxt(card, model_name, platform, mbs, preferred_batch_sizes, max_queue_delay_us, kind)
        atomic_write_bytes(model_dir / "config.pbtxt", lambda f, t=text: f.write(t.encode()))
        labels = "".join(f"{c}\n" for c in card.classes)
        atomic_write_bytes(model_dir / "labels.txt", lambda f, t=labels: f.write(t.encode()))
        written.append(model_dir)
    return written
