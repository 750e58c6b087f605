"""``partkd-stream bench``: how fast is recognition, per backend, and what does it add to the pose estimator?

Per backend: batch-1 latency (median, p99) and batched throughput on preprocessed *skeleton-like* windows (a
standing person whose limbs move, with a few missing joints, through the real preprocessing — not random noise);
then MediaPipe's time per frame, and the recognition overhead = batch-1 median / pose time per frame.

    partkd-stream bench [--json] [--model PATH | --onnx PATH | --checkpoint PATH | --config JSON|FILE]
                        [--backends onnxruntime-cpu,pytorch] [--repeats N] [--batch N] [--threads N]
                        [--video PATH] [--pose-frames N]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .preprocess import PreprocessConfig, preprocess_window

PREFERENCE = ("tensorrt", "onnxruntime-cuda", "onnxruntime-cpu", "pytorch")

# A person standing, facing the camera (mediapipe33 order; metres, x right, y down, z towards the camera).
_STANDING_MP33 = np.array([
    (0, -.65, -.05), (.02, -.68, -.04), (.035, -.68, -.04), (.05, -.68, -.04), (-.02, -.68, -.04),
    (-.035, -.68, -.04), (-.05, -.68, -.04), (.08, -.66, 0), (-.08, -.66, 0), (.025, -.61, -.04),
    (-.025, -.61, -.04), (.2, -.45, 0), (-.2, -.45, 0), (.25, -.2, .02), (-.25, -.2, .02), (.27, .05, .03),
    (-.27, .05, .03), (.28, .12, .03), (-.28, .12, .03), (.27, .13, .02), (-.27, .13, .02), (.25, .1, .01),
    (-.25, .1, .01), (.12, .05, 0), (-.12, .05, 0), (.13, .5, -.02), (-.13, .5, -.02), (.13, .92, 0),
    (-.13, .92, 0), (.13, .97, .04), (-.13, .97, .04), (.15, 1.0, -.08), (-.15, 1.0, -.08)], dtype=np.float32)


def synthetic_skeletons(pre: PreprocessConfig, n: int, seed: int = 0, frames: Optional[int] = None) -> np.ndarray:
    """``[n, T, V, dims+1]`` raw skeletons in ``pre.layout``: a standing person moving (limbs swing, body sways),
    each sequence with its own motion, scale, position and a few missing joints — shaped like real data."""
    from .convert import convert

    rng = np.random.default_rng(seed)
    t = np.arange(frames or pre.window, dtype=np.float32)[:, None, None] / pre.fps
    base = _STANDING_MP33[None] - _STANDING_MP33[23:25].mean(0)               # hip-centred
    reach = np.linalg.norm(base[0, :, :2] - base[0, [11, 12], :2].mean(0), axis=-1)[None, :, None]
    out = []
    for _ in range(n):
        freq, phase = rng.uniform(0.3, 2.0, (1, 33, 1)), rng.uniform(0, 2 * np.pi, (1, 33, 3))
        amp = rng.uniform(0.05, 0.25) * reach
        seq = base + amp * np.sin(2 * np.pi * freq * t + phase) + rng.normal(0, 0.01, (t.shape[0], 33, 3))
        seq = seq + np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 6)) * np.array([0.1, 0.02, 0.05], np.float32)
        score = rng.uniform(0.5, 1.0, (t.shape[0], 33, 1))
        score[:, rng.choice(33, size=3, replace=False)] = 0.0                    # occluded joints
        if pre.dims == 2:
            seq = seq[..., :2] * rng.uniform(150, 300) + rng.uniform(100, 400, 2)  # pixels
        out.append(convert(np.concatenate([seq, score], -1).astype(np.float32), "mediapipe33", pre.layout))
    return np.stack(out)


def synthetic_windows(pre: PreprocessConfig, n: int, seed: int = 0) -> np.ndarray:
    """``[n, C_in, T, V]`` model inputs from ``synthetic_skeletons``; the first window is front-padded like the
    start of a live stream."""
    raw = synthetic_skeletons(pre, n, seed)
    raw[0, : pre.window // 2] = 0.0
    return preprocess_window(raw, pre)


def time_calls(fn: Callable[[], Any], repeats: int, warmup: int = 10) -> np.ndarray:
    """Wall time of ``repeats`` calls in milliseconds (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    out = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    return out * 1e3


def bench_model(loaded: Any, windows: np.ndarray, repeats: int, batch: int) -> dict[str, float]:
    """Batch-1 latency and batched throughput of one loaded model."""
    x1 = windows[:1]
    lat = time_calls(lambda: loaded.predict(x1), repeats, warmup=min(20, repeats))
    xb = np.ascontiguousarray(np.resize(windows, (batch,) + windows.shape[1:]))
    tb = time_calls(lambda: loaded.predict(xb), max(3, min(20, repeats // 10)), warmup=2)
    return {"batch1_median_ms": float(np.median(lat)), "batch1_p99_ms": float(np.percentile(lat, 99)),
            "windows_per_s": float(batch / (np.median(tb) / 1e3)), "batch": batch}


def synthetic_frame(width: int = 640, height: int = 360) -> np.ndarray:
    """A BGR frame with a textured background and a filled human figure (MediaPipe may or may not see a person)."""
    from .native_logs import cv2

    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal(120, 25, (height, width, 3)), 0, 255).astype(np.uint8)
    frame = cv2.GaussianBlur(frame, (7, 7), 0)
    pts = _STANDING_MP33[:, :2] * height * 0.55 + np.array([width / 2, height * 0.42])
    p = {i: tuple(int(v) for v in pts[i]) for i in range(33)}
    skin, shirt, trousers = (140, 170, 220), (60, 60, 170), (90, 50, 40)
    cv2.fillPoly(frame, [np.array([p[11], p[12], p[24], p[23]])], shirt)
    for a, b, c, w in ((11, 13, shirt, 16), (13, 15, skin, 12), (12, 14, shirt, 16), (14, 16, skin, 12),
                       (23, 25, trousers, 22), (25, 27, trousers, 18), (24, 26, trousers, 22),
                       (26, 28, trousers, 18)):
        cv2.line(frame, p[a], p[b], c, w, cv2.LINE_AA)
    cv2.ellipse(frame, p[0], (int(height * 0.05), int(height * 0.065)), 0, 0, 360, skin, -1, cv2.LINE_AA)
    return frame


def bench_pose(frames: int, video: Optional[str]) -> dict[str, Any]:
    """MediaPipe Pose time per frame: on the first ``frames`` frames of ``video``, else on a synthetic frame."""
    from .pose import MediaPipePose

    if video:
        from .sources import VideoFileSource

        src = VideoFileSource(video)   # SourceError (one line) when it cannot be decoded
        try:
            imgs = [f.image for f, _ in zip(src, range(frames))]
        finally:
            src.close()
        source = f"{video} ({imgs[0].shape[1]}x{imgs[0].shape[0]})"
    else:
        imgs, source = [synthetic_frame()] * frames, "synthetic 640x360 frame"
    with MediaPipePose() as pose:
        pose.process(imgs[0])  # graph start-up is not per-frame cost
        times, found = [], 0
        for img in imgs:
            t0 = time.perf_counter()
            found += len(pose.process(img)) > 0
            times.append(time.perf_counter() - t0)
    return {"pose_ms_per_frame": float(np.median(times) * 1e3), "pose_source": source, "pose_frames": len(imgs),
            "pose_person_found": found / len(imgs)}


def _model_config_from(spec: str) -> dict[str, Any]:
    """``--config``: inline JSON, or a JSON/YAML file of ModelConfig fields, or an experiment config
    (``model.student`` overrides, ``data.window`` / ``data.lq_layout``)."""
    import yaml

    path = Path(spec)
    try:
        raw = yaml.safe_load(path.read_text()) if path.exists() else json.loads(spec)
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise ValueError(f"--config {spec[:60]!r}: neither a readable JSON/YAML file nor inline JSON "
                         f"({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ValueError("expected a mapping of ModelConfig fields")
    if "model" in raw or "data" in raw:
        data = raw.get("data") or {}
        cfg = dict((raw.get("model") or {}).get("student") or {})
        cfg.setdefault("window", data.get("window", 64))
        cfg.setdefault("layout", data.get("lq_layout", "penn13"))
        if "parts" in (raw.get("model") or {}):
            cfg.setdefault("parts", raw["model"]["parts"])
        return cfg
    return raw


def _prepare_model(args: argparse.Namespace, tmp: Path) -> tuple[Optional[str], Optional[str]]:
    """The model file to load (exporting a checkpoint or a config first); second: a no-card ONNX path."""
    from .card import card_path_for, export_deployable

    if args.model:
        return args.model, None
    if args.onnx:
        return (args.onnx, None) if card_path_for(args.onnx).exists() else (None, args.onnx)
    if args.checkpoint or args.config:
        from .checkpoint import Checkpoint, load_checkpoint
        from .model import ModelConfig, PartGCN

        if args.checkpoint:
            ckpt = load_checkpoint(args.checkpoint)
        else:
            fields = _model_config_from(args.config)
            fields.pop("in_channels", None)  # follows from the preprocessing
            try:
                pre = PreprocessConfig(layout=fields.pop("layout", "penn13"), window=int(fields.pop("window", 64)))
                cfg = ModelConfig.student(preprocess=pre, **fields)
            except TypeError as e:
                raise ValueError(f"--config: {e}") from None
            model = PartGCN(cfg).eval()
            ckpt = Checkpoint(cfg, [f"class_{i}" for i in range(cfg.num_classes)], model.state_dict())
        export_deployable(ckpt, tmp, "bench_model")
        return str(tmp / "bench_model.onnx"), None
    return None, None


class _RawOnnx:
    """An ONNX file without a card (``--onnx``): timed on ONNX Runtime with random inputs of its input shape."""

    def __init__(self, path: str, device: str, threads: int) -> None:
        from .backends import OnnxRuntimeBackend

        self.backend = OnnxRuntimeBackend(path, device=device, threads=threads,
                                          output_name=_onnx_output_name(path))
        shape = self.backend.session.get_inputs()[0].shape[1:]
        if not all(isinstance(d, int) for d in shape):
            raise ValueError(f"{path}: input shape {shape} has symbolic dims besides the batch")
        self.shape = shape

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.backend.predict(x)


def _onnx_output_name(path: str) -> str:
    import onnx

    return onnx.load(path, load_external_data=False).graph.output[0].name


def _unavailable_reason(e: Exception) -> str:
    """Why a backend cannot run here: the ``BackendUnavailable``/``ImportError`` that ``load_model`` wrapped (its
    ``__cause__`` or ``__context__``), else the error itself."""
    from .backends import BackendUnavailable

    inner = e.__cause__ or e.__context__
    return str(inner if isinstance(inner, (BackendUnavailable, ImportError)) else e)


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from .backends import BackendUnavailable, ModelLoadError, load_model

    wanted = [b.strip() for b in args.backends.split(",")] if args.backends else list(PREFERENCE)
    unknown = [b for b in wanted if b not in PREFERENCE]
    if unknown:
        raise ValueError(f"unknown backend(s) {unknown} in --backends; choose from {', '.join(PREFERENCE)}")
    result: dict[str, Any] = {"backends": {}, "unavailable": {}, "threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        model_path, raw_onnx = _prepare_model(args, Path(tmp))
        if raw_onnx is None:
            # The model itself (the default one when none was given) must load: its errors are the user's to fix
            # and stop the bench. After this, a backend that fails to load it is only unavailable here.
            model = load_model(model_path, backend="auto", threads=args.threads)
            card = model.card
            shown = (args.checkpoint or ("random weights from --config" if args.config else None)
                     or str(model.path.resolve()))
            result["model"] = {"path": shown, "name": card.name, "version": card.version,
                               "layout": card.preprocess.layout, "dims": card.preprocess.dims,
                               "window": card.preprocess.window, "classes": len(card.classes)}
            windows = synthetic_windows(card.preprocess, 8)
            model_path = str(model.path)
        for name in wanted:
            try:
                if raw_onnx:
                    if not name.startswith("onnxruntime"):
                        raise BackendUnavailable(f"{raw_onnx} has no model card; only ONNX Runtime can time it")
                    loaded: Any = _RawOnnx(raw_onnx, name.split("-")[1], args.threads)
                    x = np.random.default_rng(0).normal(size=(8, *loaded.shape)).astype(np.float32)
                    result["model"] = {"path": raw_onnx, "input_shape": ["batch", *loaded.shape]}
                else:
                    loaded, x = load_model(model_path, backend=name, threads=args.threads), windows
            except (ModelLoadError, BackendUnavailable) as e:
                result["unavailable"][name] = _unavailable_reason(e)
                continue
            result["backends"][name] = bench_model(loaded, x, args.repeats, args.batch)
    if args.pose_frames > 0:
        result.update(bench_pose(args.pose_frames, args.video))
        best = next((b for b in PREFERENCE if b in result["backends"]), None)
        if best:
            result["overhead_backend"] = best
            result["overhead_ratio"] = result["backends"][best]["batch1_median_ms"] / result["pose_ms_per_frame"]
        else:
            result["overhead_ratio"] = None
    else:
        result["pose_ms_per_frame"] = result["overhead_ratio"] = None
    return result


def format_table(r: dict[str, Any]) -> str:
    m = r.get("model", {})
    lines = []
    if "name" in m:
        lines.append(f"model: {m['path']} ({m['name']} v{m['version']}, {m['layout']} {m['dims']}D, window "
                     f"{m['window']}, {m['classes']} classes); threads: {r['threads']}")
    elif m:
        lines.append(f"model: {m['path']} (no card, input {m['input_shape']}); threads: {r['threads']}")
    batch = next((v["batch"] for v in r["backends"].values()), None)
    lines.append(f"{'backend':<18}{'batch-1 median ms':>19}{'batch-1 p99 ms':>16}{f'windows/s @ {batch}':>20}")
    for name, v in r["backends"].items():
        lines.append(f"{name:<18}{v['batch1_median_ms']:>19.3f}{v['batch1_p99_ms']:>16.3f}"
                     f"{v['windows_per_s']:>20,.0f}")
    for name, why in r["unavailable"].items():
        lines.append(f"{name:<18}unavailable: {why}")
    if r.get("pose_ms_per_frame") is not None:
        lines.append(f"pose (MediaPipe, {r['pose_source']}, person found in {r['pose_person_found']:.0%} of "
                     f"{r['pose_frames']} frames): {r['pose_ms_per_frame']:.2f} ms/frame")
        if r.get("overhead_ratio") is not None:
            lines.append(f"recognition overhead ({r['overhead_backend']} batch 1 / pose): "
                         f"{r['overhead_ratio']:.2%} of the pose estimator's time per frame")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="partkd-stream bench",
                                 description="Latency per backend, throughput, and recognition overhead vs. pose.")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--model", help="model to time (.onnx with its card, .plan, or .pt); default: the shipped one")
    src.add_argument("--onnx", help="any ONNX file (with a card beside it: like --model; without: ONNX Runtime only)")
    src.add_argument("--checkpoint", help="a training checkpoint (.pt): exported to ONNX in a temporary folder")
    src.add_argument("--config", help="ModelConfig fields as JSON, or a JSON/YAML file (an experiment config's "
                                      "model.student), timed with random weights")
    ap.add_argument("--backends", help=f"comma-separated subset of {','.join(PREFERENCE)} (default: all here)")
    ap.add_argument("--repeats", type=int, default=500, help="timed batch-1 calls per backend (default 500)")
    ap.add_argument("--batch", type=int, default=256, help="batch size for throughput (default 256)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for ONNX Runtime / PyTorch (default 1)")
    ap.add_argument("--video", help="time the pose estimator on this video's first frames (default: synthetic)")
    ap.add_argument("--pose-frames", type=int, default=50, help="frames for the pose timing; 0 skips it")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return ap


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeats < 1 or args.batch < 1 or args.threads < 1 or args.pose_frames < 0:
        print("partkd-stream bench: error: --repeats, --batch and --threads must be ≥ 1, --pose-frames ≥ 0",
              file=sys.stderr)
        return 2
    from .backends import ModelLoadError
    from .card import CardMismatch
    from .checkpoint import CheckpointError

    try:
        result = run_bench(args)
    except (ModelLoadError, CheckpointError, CardMismatch, ValueError, OSError, ImportError) as e:
        print(f"partkd-stream bench: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    if not result["backends"]:
        why = "; ".join(f"{k}: {v}" for k, v in result["unavailable"].items())
        print(f"partkd-stream bench: error: no backend could run the model ({why})", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
