"""A trained checkpoint → what the runtime ships: ONNX + model card (+ TensorRT plan, + Triton repository), checked.

Steps: export ONNX (dynamic batch, opset 17, checked and shape-inferred); parity PyTorch vs ONNX Runtime on
skeleton windows (from a parity file, the checkpoint's ``meta['parity_windows']``, or synthetic skeletons through
the real preprocessing), failing above 1e-4; card (with the optional ``reject`` and ``presence`` given, else the
checkpoint's); the TensorRT operator check (``trt_ops``); then a TensorRT plan with one optimisation profile per
batch range and a timing cache — only where ``tensorrt`` imports and a GPU is visible, else ``skipped: …``.
Everything is built in a temporary folder beside the output folder and moved in (one ``os.replace`` per file)
only after every check passed: a failed rebuild leaves the model that was there untouched.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from partkd_stream.atomic import atomic_write_bytes
from partkd_stream.backends import (PLAN_INFO_SUFFIX, OnnxRuntimeBackend, TensorRTBackend, gpu_name,
                                    tensorrt_unavailable_reason)
from partkd_stream.card import CardMismatch, ModelCard, card_path_for, export_deployable, sha256_file
from partkd_stream.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from partkd_stream.convert import convert
from partkd_stream.errors import PartkdError
from partkd_stream.preprocess import clip_windows
from partkd_stream.reject import Reject, RejectError
from partkd_stream.skeleton_io import SkeletonFileError, load_sequence
from partkd_stream.synthetic import synthetic_windows
from partkd_stream.window import PresenceRule, presence_rule


PARITY_TOL = 1e-4


class BuildError(PartkdError):
    """A build that cannot go on; the message is one line."""


def parse_batches(text: str) -> list[int]:
    try:
        batches = sorted({int(b) for b in text.split(",") if b.strip()})
    except ValueError:
        raise BuildError(f"--batch {text!r}: expected comma-separated batch sizes, e.g. 1,16,256") from None
    if not batches or batches[0] < 1:
        raise BuildError(f"--batch {text!r}: batch sizes must be ≥ 1")
    return batches


def batch_profiles(batches: Sequence[int]) -> list[tuple[int, int, int]]:
    """``1,16,256`` → profiles (min, opt, max) = (1,1,1), (2,16,16), (17,256,256): each tuned at its top."""
    out, lo = [], 1
    for b in batches:
        out.append((lo, b, b))
        lo = b + 1
    return out


def parity_windows(ckpt: Checkpoint, parity_data: Optional[str], n: int = 16) -> tuple[np.ndarray, str]:
    """Windows for the parity check and where they came from."""
    pre = ckpt.preprocess
    if parity_data:
        try:
            with np.load(parity_data, allow_pickle=False) as z:
                if "windows" in z:
                    w, src = z["windows"].astype(np.float32), f"{parity_data} (windows)"
                else:
                    w = None
        except (OSError, ValueError) as e:
            raise BuildError(f"{parity_data}: not a readable .npz ({e})") from None
        if w is None:
            try:
                seq = load_sequence(parity_data)
            except SkeletonFileError as e:
                raise BuildError(str(e)) from None
            data = seq.first_person()
            if data.shape[-1] != pre.channels:
                raise BuildError(f"{parity_data}: {data.shape[-1] - 1}D skeletons, the model takes {pre.dims}D")
            try:
                data = convert(data, seq.layout, pre.layout)
            except ValueError as e:
                raise BuildError(f"{parity_data}: {e}") from None
            w, src = clip_windows(data, seq.fps, pre), f"{parity_data} (skeleton sequence, {len(data)} frames)"
    elif "parity_windows" in ckpt.meta:
        w, src = np.asarray(ckpt.meta["parity_windows"], dtype=np.float32), "checkpoint meta['parity_windows']"
    else:
        w, src = synthetic_windows(pre, n, seed=1), "synthetic skeletons through the real preprocessing"
    want = (pre.in_channels, pre.window)
    if w.ndim != 4 or w.shape[1:3] != want:
        raise BuildError(f"parity windows from {src} have shape {list(w.shape)}; expected [N, {want[0]}, {want[1]}, V]")
    return w[:64], src


def parity_error(ckpt: Checkpoint, predict, windows: np.ndarray) -> float:
    import torch

    with torch.inference_mode():
        want = ckpt.build_model()(torch.from_numpy(windows)).numpy()
    return float(np.abs(predict(windows) - want).max())


def build_tensorrt(onnx_path: Path, plan_path: Path, batches: Sequence[int], fp16: bool, cache_path: Path,
                   input_name: str) -> dict:
    """Build and serialise the plan; returns what ``<name>.plan.json`` records."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BuildError(f"TensorRT cannot parse {onnx_path}: {errs}")
    config = builder.create_builder_config()
    config.clear_flag(trt.BuilderFlag.TF32)  # keep FP32 numerically comparable with PyTorch
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path.exists() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    shape = tuple(network.get_input(0).shape)[1:]
    for lo, opt, hi in batch_profiles(batches):
        profile = builder.create_optimization_profile()
        profile.set_shape(input_name, (lo, *shape), (opt, *shape), (hi, *shape))
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BuildError(f"TensorRT failed to build an engine from {onnx_path} (see its log above)")
    atomic_write_bytes(plan_path, lambda f: f.write(bytes(serialized)))
    timing = config.get_timing_cache().serialize()
    atomic_write_bytes(cache_path, lambda f: f.write(bytes(timing)))
    return {"tensorrt": trt.__version__, "gpu": gpu_name(), "fp16": fp16, "profiles": batch_profiles(batches)}


def build(args: Any) -> int:
    """Build everything ``args`` (``python -m train.build_engine``'s options) asks for; see the module docstring."""
    batches = parse_batches(args.batch)
    try:
        ckpt = load_checkpoint(args.checkpoint)
    except CheckpointError as e:
        raise BuildError(str(e)) from None
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=f".build-{args.name}-") as tmp:
        built, card = build_checked(args, ckpt, batches, Path(tmp), out_dir)
        for path in built:   # every check passed: move the new files in, each with one atomic rename
            os.replace(path, out_dir / path.name)
    onnx_path = out_dir / f"{args.name}.onnx"
    plan_path = out_dir / f"{args.name}.plan" if any(p.suffix == ".plan" for p in built) else None
    print(f"moved into {out_dir}: {', '.join(sorted(p.name for p in built))}")

    if args.triton_repo:
        from .triton import write_triton_repo

        dirs = write_triton_repo(args.triton_repo, card, onnx_path, plan_path, max_batch_size=batches[-1],
                                 preferred_batch_sizes=[b for b in batches if b > 1] or [1])
        print(f"wrote Triton model repository {args.triton_repo}: {', '.join(d.name for d in dirs)}"
              + ("" if plan_path else " (no TensorRT model: no plan was built here)"))
    return 0


def build_checked(args: Any, ckpt: Checkpoint, batches: list[int], tmp: Path,
                  out_dir: Path) -> tuple[list[Path], ModelCard]:
    """Export and check everything into ``tmp``; return the files to move into ``out_dir`` and the card."""
    reject, presence = reject_option(args.reject), presence_option(args.presence)
    try:
        card = export_deployable(ckpt, tmp, args.name, version=args.version, opset=args.opset,
                                 save_weights=not args.no_weights,
                                 training={"checkpoint": str(args.checkpoint),
                                           "checkpoint_sha256": sha256_file(args.checkpoint)},
                                 reject=reject, presence=presence)
    except CardMismatch as e:
        raise BuildError(f"{args.reject or args.checkpoint}: {e}") from None
    print(f"reject: {card.reject.describe() if card.reject else 'none (closed set)'}; presence: "
          f"{card.presence.describe() if card.presence else 'full body (default)'}")
    onnx_path = tmp / f"{args.name}.onnx"
    built = [p for p in (onnx_path.with_suffix(".pt"), onnx_path) if p.exists()]
    windows, src = parity_windows(ckpt, args.parity_data)
    ort = OnnxRuntimeBackend(onnx_path, device="cpu", output_name=card.output_name)
    err = parity_error(ckpt, ort.predict, windows)
    print(f"exported {onnx_path.name} ({onnx_path.stat().st_size / 1e6:.2f} MB, opset {args.opset}) and "
          f"{onnx_path.with_suffix('').name}.card.json")
    print(f"parity PyTorch vs ONNX Runtime on {len(windows)} windows from {src}: max abs error {err:.2e} "
          f"(tolerance {PARITY_TOL:.0e})")
    if not err <= PARITY_TOL:
        raise BuildError(f"ONNX Runtime differs from PyTorch by {err:.2e} > {PARITY_TOL:.0e}; the export is wrong "
                         f"({out_dir} was left as it was)")
    card.metrics.setdefault("parity", {})["onnxruntime_max_abs_err"] = err
    card.save(card_path_for(onnx_path))
    built.append(card_path_for(onnx_path))

    from .trt_ops import check_onnx_ops, load_table

    problems = check_onnx_ops(onnx_path)
    table = load_table()
    print(f"TensorRT operator check ({table['pin']}): "
          + ("every operator and data type is documented as supported" if not problems
             else f"{len(problems)} problem(s): {problems[0]}"))
    reason = tensorrt_unavailable_reason()
    if reason:
        print(f"skipped: TensorRT engine ({reason})")
        return built, card
    plan_path, cache = tmp / f"{args.name}.plan", tmp / f"{args.name}.timing_cache"
    old_cache = out_dir / cache.name
    if old_cache.exists():  # start from the timing cache of earlier builds
        cache.write_bytes(old_cache.read_bytes())
    info = build_tensorrt(onnx_path, plan_path, batches, args.fp16, cache, card.input_name)
    info["onnx_sha256"] = card.onnx_sha256
    info_path = tmp / f"{args.name}{PLAN_INFO_SUFFIX}"
    atomic_write_bytes(info_path, lambda f: f.write(json.dumps(info, indent=2).encode()))
    trt_err = parity_error(ckpt, TensorRTBackend(plan_path, card.input_name, card.output_name).predict, windows)
    tol = 5e-2 if args.fp16 else 1e-3
    print(f"built {plan_path.name} (TensorRT {info['tensorrt']}, {info['gpu']}, {'FP16' if args.fp16 else 'FP32'}, "
          f"profiles {info['profiles']}); parity vs PyTorch: max abs error {trt_err:.2e} (tolerance {tol:.0e})")
    if not trt_err <= tol:
        raise BuildError(f"TensorRT differs from PyTorch by {trt_err:.2e} > {tol:.0e} ({out_dir} was left as it was)")
    return built + [plan_path, info_path, cache], card


def reject_option(path: Optional[str]) -> Optional[Reject]:
    """``--reject FILE``: a reject file (``{"reject": {…}}`` or the object itself)."""
    if path is None:
        return None
    try:
        return Reject.load(path)
    except RejectError as e:
        raise BuildError(str(e)) from None


def presence_option(spec: Optional[str]) -> Optional[PresenceRule]:
    """``--presence``: a preset name (``full_body``, ``upper_body``) or a JSON object of ``PresenceRule`` fields."""
    if spec is None:
        return None
    try:
        return presence_rule(spec)
    except (TypeError, ValueError) as e:
        raise BuildError(f"--presence: {e}") from None
