"""``partkd-stream bench``: how fast is recognition, per backend, and what does it add to the pose estimator?

Per backend: batch-1 latency (median, p99) and batched throughput on preprocessed *skeleton-like* windows (a
standing person whose limbs move, with a few missing joints, through the real preprocessing — not random noise).
Then pose, against its anchor (``bench.pose``): the raw library call, ``MediaPipePose`` and the run mode's whole
pipeline on the same frames, passes interleaved, as ratios; and the recognition overhead = batch-1 median / pose
time per frame.

    partkd-stream bench [--json] [--model PATH | --onnx PATH | --checkpoint PATH | --config JSON|FILE]
                        [--backends onnxruntime-cpu,pytorch] [--repeats N] [--batch N] [--threads N]
                        [--video PATH] [--pose-frames N] [--pose-passes N] [--people 1,2,4 [--pose-tiles]]

``--people`` adds the cost of several people: the pose estimator per frame (``MediaPipePose`` for one person,
``MediaPipeMultiPose`` beyond, on frames holding that many; ``--pose-tiles``: the tiled one too), each beside the
raw landmarker calls it makes and the run mode on those frames; and the recognizer's whole path per frame, split
into the model, the tracker and everything around them (``bench_recognition``).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..backends import PROVIDERS
from ..preprocess import PreprocessConfig
from ..synthetic import synthetic_frame, synthetic_people, synthetic_windows

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


def bench_pose(frames: int, video: Optional[str], passes: int, model: Any = None) -> dict[str, Any]:
    """``MediaPipePose`` against the raw library call on the first ``frames`` frames of ``video`` (else a synthetic
    frame), and, given a model with its card, the run mode's whole pipeline on the same frames (``bench.pose``)."""
    from ..pose import MediaPipePose
    from .pose import RawSolutionPose, compare, pipeline_pass, write_video

    imgs, source = _frames(frames, video)
    with tempfile.TemporaryDirectory() as tmp:
        path = video
        if model is not None and not video:   # the pipeline reads a video file: the synthetic frames become one
            path = str(Path(tmp) / "synthetic.mp4")
            imgs = write_video(imgs, path)
        pipeline = (lambda: pipeline_pass(path, model, frames=len(imgs))) if model is not None else None
        r = compare(imgs, RawSolutionPose, MediaPipePose, passes, pipeline)
    return {"pose_ms_per_frame": r["estimator_ms"], "pose_source": source, "pose_frames": len(imgs),
            "pose_person_found": r["found_per_frame"], "pose": r}


def _frames(frames: int, video: Optional[str]) -> tuple[list[np.ndarray], str]:
    """The first ``frames`` frames of ``video``, else the synthetic frame ``frames`` times; and what they are."""
    if not video:
        return [synthetic_frame()] * frames, "synthetic 640x360 frame"
    from ..sources import VideoFileSource

    src = VideoFileSource(video)   # SourceError (one line) when it cannot be decoded
    try:
        imgs = [f.image for f, _ in zip(src, range(frames))]
    finally:
        src.close()
    return imgs, f"{video} ({imgs[0].shape[1]}x{imgs[0].shape[0]})"


# --- several people ----------------------------------------------------------------------------------------------
def bench_people_pose(frames: int, video: Optional[str], counts: Sequence[int], passes: int, model: Any = None,
                      tiled: bool = False) -> dict[str, Any]:
    """Per people count N: the estimator ``--max-people N`` uses (``MediaPipePose`` for 1, ``MediaPipeMultiPose``
    beyond; with ``tiled`` also the ``--pose-tiles`` one) against the raw calls it makes, and the run mode's
    pipeline, on frames with N people (``people_frames``, as a video); beyond 1 (or tiled) also the estimator on
    frames with one person."""
    from ..app import default_estimator
    from .pose import EstimatorArm, arm_pass, compare, people_frames, person_box, pipeline_pass, raw_anchor
    from .pose import write_video

    imgs, source = _frames(frames, video)
    box = person_box(imgs)
    one = people_frames(imgs, box, 1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            path = str(Path(tmp) / f"people_{n}.mp4")
            imgs_n = write_video(people_frames(imgs, box, n), path)
            for tiles in (False, True) if tiled else (False,):
                make = default_estimator(n, tiles)
                name = "MediaPipePose" if n == 1 and not tiles else \
                    f"MediaPipeMultiPose({n}{', tiled' if tiles else ''})"
                pipeline = (lambda n=n, tiles=tiles: pipeline_pass(path, model, max_people=n, tiled=tiles)) \
                    if model is not None else None
                r = compare(imgs_n, raw_anchor(n, tiles), make, passes, pipeline)
                row: dict[str, Any] = {"people": n, "tiled": tiles, "estimator": name, "frame": r["frame_size"],
                                       "ms_per_frame": r["estimator_ms"], "found_per_frame": r["found_per_frame"],
                                       **r}
                if n > 1 or tiles:
                    row["ms_per_frame_one_in_view"] = arm_pass(lambda make=make: EstimatorArm(make()), one)["ms"]
                rows.append(row)
    return {"source": source, "frames": len(imgs), "person_box": box is not None, "rows": rows}


class _CpuTimed:
    """Adds up the CPU time of the calling thread spent in ``fn`` (a model call, a tracker update)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.ms = fn, 0.0

    def __call__(self, *a: Any) -> Any:
        t0 = time.thread_time()
        try:
            return self.fn(*a)
        finally:
            self.ms += (time.thread_time() - t0) * 1e3


def bench_recognition(model: Any, people: int, stride: int, repeats: int, frames: int = 300) -> dict[str, Any]:
    """CPU time of the recognition path per frame for ``people`` synthetic people at 30 fps: ``Recognizer.update``
    for one (what ``--max-people 1`` runs), ``update_people`` beyond (tracker, one model call per stride for
    everyone). Per stride: ``model`` (its calls, timed in place), ``tracking`` (the tracker's updates), ``around``
    (everything else: windows, layout conversion, presence, preprocessing, smoothing, records). Medians over the
    strides after the windows are half full, then over ``repeats``."""
    from ..recognizer import Recognizer

    data = synthetic_people(people, frames)
    ts = np.arange(frames) / 30.0
    pre = model.card.preprocess
    warm = int(np.ceil(0.5 * pre.window / pre.fps * 30)) + 2 * stride
    runs = []
    for _ in range(repeats):
        rec = Recognizer(model, every=stride / 30.0)   # every `stride` frames at 30 fps
        timed_model = _CpuTimed(model.predict)
        rec.model = _ModelView(model.card, timed_model)
        timed_tracker = _CpuTimed(rec.tracker.update)
        rec.tracker.update = timed_tracker
        strides, acc, last = [], 0.0, (0.0, 0.0)
        for k in range(frames):
            t0 = time.thread_time()
            if people == 1:
                rec.update(data[0, k], ts[k])
            else:
                rec.update_people(list(data[:, k]), ts[k])
            acc += (time.thread_time() - t0) * 1e3
            if (k + 1) % stride == 0:
                now = (timed_model.ms, timed_tracker.ms)
                if k >= warm:
                    strides.append((acc, now[0] - last[0], now[1] - last[1]))
                acc, last = 0.0, now
        total, mdl, trk = np.median(np.array(strides), axis=0)
        runs.append((total, mdl, trk, total - mdl - trk))
    total, mdl, trk, around = (float(np.median(v)) for v in zip(*runs))
    return {"people": people, "stride": stride, "ms_per_frame": total / stride, "model_ms_per_stride": mdl,
            "tracking_ms_per_frame": trk / stride, "around_ms_per_stride": around,
            "around_ms_per_person": around / people}


@dataclass
class _ModelView:
    """A loaded model's card with another ``predict`` (the timed one)."""

    card: Any
    predict: Callable[[np.ndarray], np.ndarray]


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
        for key, name in (("window", "window"), ("fps", "fps"), ("lq_layout", "layout")):
            if key in data:
                cfg.setdefault(name, data[key])
        if "parts" in (raw.get("model") or {}):
            cfg.setdefault("parts", raw["model"]["parts"])
        return cfg
    return raw


def _prepare_model(args: argparse.Namespace, tmp: Path) -> tuple[Optional[str], Optional[str]]:
    """The model file to load (exporting a checkpoint or a config first); second: a no-card ONNX path."""
    from ..card import card_path_for, export_deployable

    if args.model:
        return args.model, None
    if args.onnx:
        return (args.onnx, None) if card_path_for(args.onnx).exists() else (None, args.onnx)
    if args.checkpoint or args.config:
        from ..checkpoint import Checkpoint, load_checkpoint
        from ..model import ModelConfig, PartGCN

        if args.checkpoint:
            ckpt = load_checkpoint(args.checkpoint)
        else:
            fields = _model_config_from(args.config)
            fields.pop("in_channels", None)  # follows from the preprocessing
            try:   # what the config leaves out is PreprocessConfig's default (what every model uses)
                pre = PreprocessConfig(**{k: fields.pop(k) for k in ("layout", "dims", "window", "fps")
                                          if k in fields})
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
        from ..backends import OnnxRuntimeBackend

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
    from ..backends import BackendUnavailable

    inner = e.__cause__ or e.__context__
    return str(inner if isinstance(inner, (BackendUnavailable, ImportError)) else e)


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from ..backends import BackendUnavailable, ModelLoadError, load_model

    wanted = [b.strip() for b in args.backends.split(",")] if args.backends else list(PROVIDERS)
    unknown = [b for b in wanted if b not in PROVIDERS]
    if unknown:
        raise ValueError(f"unknown backend(s) {unknown} in --backends; choose from {', '.join(PROVIDERS)}")
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
        if args.people:
            if raw_onnx:
                raise ValueError(f"--people times the whole recognizer, which needs the model's card; "
                                 f"{raw_onnx} has none")
            result["people"] = {"backend": model.backend.name, "threads": args.threads, "stride": args.stride,
                                "recognition": [bench_recognition(model, n, args.stride, args.people_repeats)
                                                for n in args.people]}
            if args.pose_frames > 0:
                result["people"]["pose"] = bench_people_pose(args.pose_frames, args.video, args.people,
                                                             args.pose_passes, model, args.pose_tiles)
        if args.pose_frames > 0:
            result.update(bench_pose(args.pose_frames, args.video, args.pose_passes,
                                     model if raw_onnx is None else None))
    if args.pose_frames > 0:
        best = next((b for b in PROVIDERS if b in result["backends"]), None)
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
        lines += _pose_lines(r)
        if r.get("overhead_ratio") is not None:
            lines.append(f"recognition overhead ({r['overhead_backend']} batch 1 / pose): "
                         f"{r['overhead_ratio']:.2%} of the pose estimator's time per frame")
    if r.get("people"):
        lines += _people_table(r["people"])
    return "\n".join(lines)


def _pose_lines(r: dict[str, Any]) -> list[str]:
    p = r["pose"]
    lines = [f"pose on {r['pose_source']}, {r['pose_frames']} frames, {p['passes']} passes interleaved; medians",
             f"  {'raw mp.solutions.pose.Pose':<44}{p['raw_ms']:8.2f} ms/frame {p['raw_fps']:7.1f} frames/s",
             f"  {'MediaPipePose':<44}{p['estimator_ms']:8.2f} ms/frame {p['estimator_fps']:7.1f} frames/s  "
             f"{p['estimator_over_raw']:.3f} × raw time (target ≤ 1.1); person found in "
             f"{r['pose_person_found']:.0%} of frames"]
    if "pipeline_fps" in p:
        lines.append(f"  {'pipeline: decode → pose → recognition → JSONL':<44}{'':>17}{p['pipeline_fps']:7.1f} "
                     f"frames/s  {p['pipeline_over_raw']:.3f} × raw frames/s (target ≥ 0.9)")
    return lines


def _people_table(p: dict[str, Any]) -> list[str]:
    lines = []
    if p.get("pose"):
        q = p["pose"]
        lines += [f"several people, pose: {q['source']}, {q['frames']} frames; the person's box, N copies side by "
                  f"side, as a video" + ("" if q["person_box"] else " (no person found: whole frames)")
                  + f"; {q['rows'][0]['passes']} passes interleaved; medians",
                  f"  {'people':>6}  {'estimator':<30}{'frame':>10}{'raw ms':>8}{'est. ms':>9}{'est/raw':>8}"
                  f"{'found':>6}{'pipeline fps':>13}{'pipe/raw':>9}{'[1 in view] ms':>15}"]
        for row in q["rows"]:
            pipe = (f"{row['pipeline_fps']:>13.1f}{row['pipeline_over_raw']:>9.3f}" if "pipeline_fps" in row
                    else f"{'-':>13}{'-':>9}")
            one = f"{row['ms_per_frame_one_in_view']:.1f}" if "ms_per_frame_one_in_view" in row else "-"
            lines.append(f"  {row['people']:>6}  {row['estimator']:<30}{row['frame']:>10}{row['raw_ms']:>8.1f}"
                         f"{row['estimator_ms']:>9.1f}{row['estimator_over_raw']:>8.3f}{row['found_per_frame']:>6.2f}"
                         f"{pipe}{one:>15}")
    lines += [f"several people, recognition on {p['backend']}, {p['threads']} thread(s), stride {p['stride']}; CPU ms "
              f"of the recognizer's thread, medians",
              f"  {'people':>6} {'recognition ms/frame':>21} {'model/stride':>13} {'around/stride':>14} "
              f"{'around/person':>14} {'tracking ms/frame':>18}"]
    for rec in p["recognition"]:
        tracking = f"{rec['tracking_ms_per_frame']:.3f}" if rec["people"] > 1 else "-"
        lines.append(f"  {rec['people']:>6} {rec['ms_per_frame']:>21.3f} {rec['model_ms_per_stride']:>13.3f} "
                     f"{rec['around_ms_per_stride']:>14.3f} {rec['around_ms_per_person']:>14.3f} {tracking:>18}")
    return lines


def build_parser(epilog: Optional[str] = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="partkd-stream bench", epilog=epilog,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 description="Latency per backend, throughput, and recognition overhead vs. pose.")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--model", help="model to time (.onnx with its card, .plan, or .pt); default: the shipped one")
    src.add_argument("--onnx", help="any ONNX file (with a card beside it: like --model; without: ONNX Runtime only)")
    src.add_argument("--checkpoint", help="a training checkpoint (.pt): exported to ONNX in a temporary folder")
    src.add_argument("--config", help="ModelConfig fields as JSON, or a JSON/YAML file (an experiment config's "
                                      "model.student), timed with random weights")
    ap.add_argument("--backends", help=f"comma-separated subset of {','.join(PROVIDERS)} (default: all here)")
    ap.add_argument("--repeats", type=int, default=500, help="timed batch-1 calls per backend (default 500)")
    ap.add_argument("--batch", type=int, default=256, help="batch size for throughput (default 256)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for ONNX Runtime / PyTorch (default 1)")
    ap.add_argument("--video", help="time the pose estimator on this video's first frames (default: synthetic)")
    ap.add_argument("--pose-frames", type=int, default=50, help="frames for the pose timing; 0 skips it")
    ap.add_argument("--pose-passes", type=int, default=3,
                    help="interleaved passes of the raw library call, the estimator and the pipeline (default 3)")
    ap.add_argument("--pose-tiles", action="store_true",
                    help="with --people: also time the --pose-tiles estimator for each people count")
    ap.add_argument("--people", type=_counts, metavar="N,N,…",
                    help="also time several people, e.g. 1,2,4: pose per frame with the estimator --max-people N "
                         "uses, on N copies of the person side by side, and the recognizer's path per frame for N "
                         "synthetic people")
    ap.add_argument("--people-repeats", type=int, default=3, help="runs of 300 frames per people count (default 3)")
    ap.add_argument("--stride", type=int, default=6, help="the recognizer's stride for --people (default 6)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return ap


def _counts(text: str) -> list[int]:
    """``--people 1,2,4`` → [1, 2, 4]."""
    try:
        counts = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected people counts like 1,2,4, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"people counts must be ≥ 1, got {text!r}")
    return counts


def main(argv: Optional[Sequence[str]] = None, epilog: Optional[str] = None) -> int:
    args = build_parser(epilog).parse_args(argv)
    if min(args.repeats, args.batch, args.threads, args.people_repeats, args.stride, args.pose_passes) < 1 \
            or args.pose_frames < 0:
        print("partkd-stream bench: error: --repeats, --batch, --threads, --people-repeats, --stride and "
              "--pose-passes must be ≥ 1, --pose-frames ≥ 0", file=sys.stderr)
        return 2
    from ..backends import ModelLoadError
    from ..card import CardMismatch
    from ..checkpoint import CheckpointError

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
