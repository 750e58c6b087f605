"""The open-set study: train students with and without a background class, calibrate rejects, measure them.

    python -m train.reject_study train --name bg_a --negatives a [--epochs 60] [--root PENN] [--shared DATA]
    python -m train.reject_study measure --model runs/openset/bg_a/student.pt [--model engines/penn_student.pt] …

**Splits (honest by construction).** Penn Action's official training clips lose a stratified, seeded 15 %:
the *validation* clips, never trained on, on which every reject threshold is calibrated (known windows only).
Negative sources are split in two families, and a model is only ever evaluated on the family it did not train on:

- family ``a``: NW-UCLA + idle + transitions + MediaPipe's poses on ``no_person_pool.mp4`` (train) —
  evaluated on UTD-MHAD and NTU;
- family ``b``: UTD-MHAD + NTU + idle + transitions + pool (train) — evaluated on NW-UCLA.

Idle people and transitions used for evaluation are drawn with other seeds and from the Penn *test* clips.

**Training** (prototype until ``train.loops`` has the hook, see README *Open set*): the LQ student of the Penn
benchmark (same config, cross-entropy only — distillation adds nothing measurable there), one extra class
``background`` whose windows come from ``train.negatives.NegativeWindows.epoch_windows`` each epoch.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from partkd_stream.checkpoint import save_checkpoint

from .config import ConfigError, load_config
from .data import Benchmark, lq_train_views, random_ends, windows
from .degrade import degrade, sample_rng
from .loops import _lr_at, build_model, evaluate
from .negatives import NegativeClip, NegativeWindows, dataset_clips, extracted_clips, idle_clips, transition_clips
from .openset import BACKGROUND

CONFIG = Path(__file__).resolve().parent / "configs" / "penn_default.yaml"
VAL_SHARE = 0.15
SPLIT_SEED = 0
VAL_DEGRADE_SEED = 20240430   # fixes the validation clips' degradation (the Penn configs' test_seed + 1)
FAMILIES = {"a": {"train": ("nw_ucla",), "eval": ("utd_mhad", "ntu")},
            "b": {"train": ("utd_mhad", "ntu"), "eval": ("nw_ucla",)}}
SOURCE_WEIGHTS = {"dataset": 0.4, "idle": 0.25, "transition": 0.25, "pool": 0.1}
DATA_DIRS = {"nw_ucla": "nw_ucla/all_sqe", "ntu": "ntu/skeletons", "utd_mhad": "utd_mhad/skeleton"}


# --- data --------------------------------------------------------------------------------------------------------
def split_validation(bench: Benchmark, share: float = VAL_SHARE, seed: int = SPLIT_SEED) -> tuple[Benchmark, dict]:
    """Carve a stratified validation split out of the training clips → (training benchmark, validation set)."""
    rng = np.random.default_rng([seed, 15])
    val = np.zeros(len(bench.train_ids), bool)
    for k in np.unique(bench.train_labels):
        idx = np.flatnonzero(bench.train_labels == k)
        val[rng.permutation(idx)[: max(1, int(round(share * len(idx))))]] = True
    keep = np.flatnonzero(~val)
    train = dataclasses.replace(
        bench, train_ids=[bench.train_ids[i] for i in keep], train_labels=bench.train_labels[keep],
        train_fps=bench.train_fps[keep], train_hq=[bench.train_hq[i] for i in keep],
        train_src=[bench.train_src[i] for i in keep], paired=bench.paired[keep])
    vi = np.flatnonzero(val)
    lq = [degrade(*bench.train_src[i], bench.lq_pre.layout, bench.degradation,
                  sample_rng(VAL_DEGRADE_SEED, bench.train_ids[i])) for i in vi]
    return train, {"ids": [bench.train_ids[i] for i in vi], "labels": bench.train_labels[vi],
                   "fps": bench.train_fps[vi], "lq": lq, "src": [bench.train_src[i] for i in vi]}


def negative_clips(family: str, role: str, shared: Path, known: list[tuple[np.ndarray, str, float, str]],
                   pre, seed: int, pool: str | None = None) -> list[NegativeClip]:
    """The training negatives of ``family``: its datasets, idle people, transitions of ``known`` clips and, if
    given, the extracted ``pool`` video (``partkd-stream extract no_person_pool.mp4``)."""
    clips: list[NegativeClip] = []
    for src in FAMILIES[family][role]:
        clips += dataset_clips(src, shared / DATA_DIRS[src])
    if role == "train":
        clips += idle_clips(240, seed=seed)
        clips += transition_clips(known, pre, seed=seed)
        if pool:
            clips += extracted_clips(pool)
    return clips


def source_weights(sources: list[str]) -> dict[str, float]:
    """``SOURCE_WEIGHTS`` per source; the datasets present share the "dataset" weight equally."""
    datasets = [s for s in sources if s not in SOURCE_WEIGHTS]
    return {s: (SOURCE_WEIGHTS["dataset"] / len(datasets) if s in datasets else SOURCE_WEIGHTS[s]) for s in sources}


def utd_subject(clip_id: str) -> int:
    """``a12_s3_t2`` → 3."""
    return int(clip_id.split("_")[1][1:])


# --- training (prototype of the loops.py hook) ------------------------------------------------------------------
def train(args: argparse.Namespace) -> int:
    cfg = load_config(CONFIG, [f"data.root={args.root}", f"train.epochs_student={args.epochs}"])
    from .data import load_benchmark

    torch.set_num_threads(1)
    seed = args.seed
    full = load_benchmark(cfg.data, seed)
    bench, val = split_validation(full)
    out = Path(args.out) / args.name
    out.mkdir(parents=True, exist_ok=True)
    neg = None
    classes = list(bench.classes)
    if args.negatives != "none":
        known = [(s, lay, f, i) for (s, lay), f, i in zip(bench.train_src, bench.train_fps, bench.train_ids)]
        clips = negative_clips(args.negatives, "train", Path(args.shared), known, bench.lq_pre, seed, args.pool)
        neg = NegativeWindows(clips, bench.lq_pre, bench.degradation, seed,
                              weights=source_weights(sorted({c.source for c in clips})))
        classes.append(BACKGROUND)
        print(f"{args.name}: {len(clips)} negative clips from {neg.sources}", flush=True)
    extra = None
    if args.known_extra:
        # known actions recorded like the negatives (Kinect → projected → degraded): UTD-MHAD's Penn actions of
        # the training subjects (odd), so "looks like a Kinect dataset" cannot stand for "background"
        utd = dataset_clips("utd_mhad", Path(args.shared) / DATA_DIRS["utd_mhad"], penn_actions=True)
        utd = [c for c in utd if utd_subject(c.id) % 2 == 1]
        extra = (NegativeWindows(utd, bench.lq_pre, bench.degradation, seed),
                 np.array([bench.classes.index(c.action) for c in utd]))
        print(f"{args.name}: {len(utd)} extra known clips (UTD-MHAD Penn actions, odd subjects)", flush=True)
    model_bench = dataclasses.replace(bench, classes=classes)
    torch.manual_seed(seed)
    model = build_model(cfg, model_bench, teacher=False)
    tc, pre = cfg.train, bench.lq_pre
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    k_bg = len(classes) - 1
    t_start = time.time()
    for epoch in range(tc.epochs_student):
        t0 = time.time()
        rng = np.random.default_rng([seed, epoch, 99])
        seqs = lq_train_views(bench, seed, epoch)
        fps = bench.train_fps
        ends = random_ends(np.array([len(s) for s in seqs]), fps, pre, rng)
        fill = list(np.random.default_rng([seed, epoch, 5]).choice(cfg.data.fill_modes, len(seqs)))
        x, y = windows(seqs, fps, ends, pre, fill), bench.train_labels
        if extra is not None:  # every extra known clip once per epoch, a random window of a fresh-ish degradation
            xe = extra[0].epoch_windows_all(epoch)
            x, y = np.concatenate([x, xe]), np.concatenate([y, extra[1]])
        if neg is not None:
            xn = neg.epoch_windows(epoch, int(round(args.neg_ratio * len(x))))
            x, y = np.concatenate([x, xn]), np.concatenate([y, np.full(len(xn), k_bg)])
        order = rng.permutation(len(x))
        steps = math.ceil(len(order) / tc.batch_size)
        model.train()
        total = 0.0
        for step in range(steps):
            for g in opt.param_groups:
                g["lr"] = _lr_at(epoch, step, steps, tc.epochs_student, tc.lr)
            b = order[step * tc.batch_size:(step + 1) * tc.batch_size]
            loss = F.cross_entropy(model(torch.from_numpy(x[b])), torch.from_numpy(y[b]).long())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        print(f"{args.name} epoch {epoch + 1}/{tc.epochs_student} loss {total / steps:.4f} "
              f"({time.time() - t0:.1f}s)", flush=True)
    test = evaluate(model, bench.test_lq, bench.test_fps, bench.test_labels, pre)
    metrics = {"test": {k: v for k, v in test.items() if not isinstance(v, list)}}
    meta = {"stage": "openset", "title": f"LQ student, CE{' + background' if neg else ''}", "seed": seed,
            "dataset": "penn_action", "negatives": args.negatives, "neg_ratio": args.neg_ratio,
            "negative_sources": neg.sources if neg else [], "validation_ids": val["ids"],
            "known_extra_ids": [c.id for c in extra[0].clips] if extra else [],
            "data": dataclasses.asdict(cfg.data), "train": dataclasses.asdict(cfg.train), "metrics": metrics,
            "minutes": round((time.time() - t_start) / 60, 1)}
    save_checkpoint(out / "student.pt", model, classes, meta=meta)
    print(f"{args.name}: clip top-1 {100 * test['top1']:.1f}%, streaming {100 * test['stream_top1']:.1f}% "
          f"({meta['minutes']} min) → {out / 'student.pt'}", flush=True)
    return 0


# --- measuring -----------------------------------------------------------------------------------------------------
@torch.no_grad()
def logits_and_features(model, x: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Logits and pooled backbone features (the input of the classifier) of windows ``x``."""
    model.eval()
    zs, fs = [], []
    for i in range(0, len(x), batch):
        f = model.backbone(torch.from_numpy(x[i:i + batch])).mean(dim=(2, 3))
        zs.append(model.fc(f).numpy())
        fs.append(f.numpy())
    return (np.concatenate(zs), np.concatenate(fs)) if zs else (np.zeros((0, 0)), np.zeros((0, 0)))


def sliding(seqs: list[np.ndarray], fps: np.ndarray, pre) -> tuple[np.ndarray, np.ndarray]:
    from partkd_stream.preprocess import clip_windows

    per = [clip_windows(s, f, pre) for s, f in zip(seqs, fps)]
    return np.concatenate(per), np.repeat(np.arange(len(seqs)), [len(w) for w in per])


def eval_negative_sets(model_family: str | None, shared: Path, bench: Benchmark, seed: int = 1000
                       ) -> dict[str, NegativeWindows]:
    """Held-out negative sets for a model trained on ``model_family`` (None: no negatives → every set).

    Idle people and transitions are drawn with another seed, transitions from the Penn *test* clips."""
    held = (list(FAMILIES[model_family]["eval"]) if model_family is not None
            else sorted({s for spec in FAMILIES.values() for s in spec["eval"]}))
    sets = {src: NegativeWindows(dataset_clips(src, shared / DATA_DIRS[src]), bench.lq_pre, bench.degradation, seed)
            for src in held}
    sets["idle"] = NegativeWindows(idle_clips(60, seed=seed, seconds=10.0), bench.lq_pre, bench.degradation, seed)
    tests = [(s, lay, f, i) for (s, lay), f, i in zip([(h, bench.hq_pre.layout) for h in bench.test_hq],
                                                      bench.test_fps, bench.test_ids)]
    sets["transition"] = NegativeWindows(transition_clips(tests, bench.lq_pre, seed=seed), bench.lq_pre,
                                         bench.degradation, seed)
    return sets


def measure(args: argparse.Namespace) -> int:
    from partkd_stream.checkpoint import load_checkpoint
    from partkd_stream.skeleton_io import SkeletonSequence, save_sequence

    from .data import centre_ends, load_benchmark
    from .openset import SCORES, FeatureDistance, calibrate, fpr_at_recall, roc_auc, score_logits, threshold_for_recall

    torch.set_num_threads(1)
    cfg = load_config(CONFIG, [f"data.root={args.root}"])
    full = load_benchmark(cfg.data, 0)
    bench, val = split_validation(full)
    pre = bench.lq_pre
    shared = Path(args.shared)
    out_all = {}
    for path in args.model:
        ck = load_checkpoint(path)
        model, classes = ck.build_model(), list(ck.classes)
        has_bg = classes[-1] == BACKGROUND
        family = ck.meta.get("negatives")
        family = family if family in FAMILIES else None
        val_clean = set(ck.meta.get("validation_ids", [])) >= set(val["ids"])
        name = Path(path).parent.name if Path(path).name == "student.pt" else Path(path).stem
        out_dir = Path(args.out) / name
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"{name}: classes {len(classes)}{' (with background)' if has_bg else ''}, negatives {family}, "
              f"validation {'held out' if val_clean else 'SEEN in training'}", flush=True)
        # known windows
        xv, _ = sliding(val["lq"], val["fps"], pre)
        zv, _ = logits_and_features(model, xv)
        xt, owner = sliding(bench.test_lq, bench.test_fps, pre)
        zt, ft = logits_and_features(model, xt)
        lengths = np.array([len(s) for s in bench.test_lq])
        xc = windows(bench.test_lq, bench.test_fps, centre_ends(lengths, bench.test_fps, pre), pre)
        zc, fc = logits_and_features(model, xc)
        # class means for the feature distance: training clips (one degradation)
        tr = lq_train_views(bench, 0, 0)
        xtr, otr = sliding(tr, bench.train_fps, pre)
        _, ftr = logits_and_features(model, xtr)
        fd = FeatureDistance(ftr, bench.train_labels[otr])
        _, fvv = logits_and_features(model, xv)
        scores = [s for s in SCORES if s != "not_background" or has_bg] + ["feature_distance"]

        def score(z: np.ndarray, f: np.ndarray, s: str) -> np.ndarray:
            return fd(f) if s == "feature_distance" else score_logits(z, s, classes)

        neg_sets = eval_negative_sets(family, shared, bench)
        neg = {k: logits_and_features(model, v.eval_windows()[0]) for k, v in neg_sets.items()}
        labels = bench.test_labels
        res: dict[str, Any] = {"model": str(path), "classes": len(classes), "background": has_bg,
                               "negatives_trained_on": family, "validation_held_out": val_clean,
                               "windows": {"val": len(xv), "test_sliding": len(xt), "test_clips": len(xc),
                                           **{k: len(v[0]) for k, v in neg.items()}},
                               "closed_set": {"clip_top1": float((zc.argmax(1) == labels).mean()),
                                              "stream_top1": _stream_top1(zt, owner, labels, None)},
                               "scores": {}}
        for s in scores:
            sv = score(zv, fvv, s)
            thr = threshold_for_recall(sv, args.recall)
            st, sc = score(zt, ft, s), score(zc, fc, s)
            row = {"threshold": thr, "val_recall": float((sv >= thr).mean()),
                   "test_window_recall": float((st >= thr).mean()),
                   "clip_top1_with_reject": float(((zc.argmax(1) == labels) & (sc >= thr)).mean()),
                   "stream_top1_with_reject": _stream_top1(zt, owner, labels, st >= thr), "sets": {}}
            for k, (zn, fn) in neg.items():
                sn = score(zn, fn, s)
                row["sets"][k] = {"auroc": roc_auc(st, sn), "fpr_at_95": fpr_at_recall(st, sn, 0.95),
                                  "fpr_calibrated": float((sn >= thr).mean())}
            res["scores"][s] = row
            if s != "feature_distance":
                rej = calibrate(zv, classes, s, args.recall, f"Penn Action validation clips ({len(val['ids'])}, "
                                f"{'held out' if val_clean else 'seen in training'}), {len(xv)} windows")
                (out_dir / f"reject_{s}.json").write_text(json.dumps({"reject": rej.to_dict()}, indent=2) + "\n")
        # known actions recorded like the negatives (UTD-MHAD's Penn actions, Kinect → projected → degraded)
        trained_on = set(ck.meta.get("known_extra_ids", []))
        utd_known = [c for c in dataset_clips("utd_mhad", shared / DATA_DIRS["utd_mhad"], penn_actions=True)
                     if c.id not in trained_on]
        if utd_known:
            kw = NegativeWindows(utd_known, pre, bench.degradation, 1000)
            xk, ok_ = kw.eval_windows()
            zk, fk = logits_and_features(model, xk)
            yk = np.array([classes.index(utd_known[i].action) for i in ok_])
            n_act = len(classes) - (1 if has_bg else 0)
            res["utd_penn_actions"] = {
                "clips": len(utd_known), "windows": len(xk),
                "window_top1_actions_only": float((zk[:, :n_act].argmax(1) == yk).mean()),
                "background_argmax": float((zk.argmax(1) == len(classes) - 1).mean()) if has_bg else None,
                "accepted": {s: float((score(zk, fk, s) >= res["scores"][s]["threshold"]).mean())
                             for s in res["scores"]}}
        if has_bg:
            # background as a class: the window is no action when background is its top class
            is_bg_t = zt.argmax(1) == len(classes) - 1
            res["background_argmax"] = {
                "test_window_recall": float((~is_bg_t).mean()), "clip_top1": float((zc.argmax(1) == labels).mean()),
                "sets": {k: {"fpr": float((zn.argmax(1) != len(classes) - 1).mean())} for k, (zn, _) in neg.items()}}
        streams = {}
        for k, v in neg_sets.items():
            if k == "transition":
                continue
            data, ts = v.stream()
            f = out_dir / "streams" / f"{k}.npz"
            save_sequence(f, SkeletonSequence(data=data, layout=pre.layout, fps=30.0, timestamps=ts, id=k))
            streams[k] = str(f)
        res["streams"] = streams
        stream_annotations(list(streams.values()), out_dir / "streams.yaml")
        (out_dir / "measure.json").write_text(json.dumps(res, indent=2) + "\n")
        out_all[name] = res
        shown = ("closed_set", "background_argmax", "utd_penn_actions")
        print(json.dumps({k: v for k, v in res.items() if k in shown}), flush=True)
        for s, row in res["scores"].items():
            print(f"  {s:17s} thr {row['threshold']:.3f} test recall {row['test_window_recall']:.3f} clip "
                  f"{row['clip_top1_with_reject']:.3f} stream {row['stream_top1_with_reject']:.3f} | " +
                  " ".join(f"{k}: auc {m['auroc']:.3f} fpr95 {m['fpr_at_95']:.3f} fpr {m['fpr_calibrated']:.3f}"
                           for k, m in row["sets"].items()), flush=True)
    return 0


def idle_streams(args: argparse.Namespace) -> int:
    """Idle MediaPipe streams (standing, sitting) and an annotation file that says "no action" throughout."""
    from partkd_stream.skeleton_io import SkeletonSequence, save_sequence

    from .negatives import idle_stream

    out = Path(args.out)
    lines = ["# Generated idle people (train.negatives.idle_stream): no known action at any time.", "inputs:"]
    for k, sitting in enumerate((False, True)):
        for sev in args.severity:
            data = idle_stream(args.seconds, seed=args.seed + k, severity=sev, sitting=sitting)
            name = f"idle_{'sitting' if sitting else 'standing'}_sev{sev:g}"
            save_sequence(out / f"{name}.npz", SkeletonSequence(data=data, layout="mediapipe33", fps=30.0,
                                                                timestamps=np.arange(len(data)) / 30.0, id=name))
            lines += [f"  - path: {name}.npz", "    segments: none"]
    (out / "idle.yaml").write_text("\n".join(lines) + "\n")
    print(f"{2 * len(args.severity)} idle streams of {args.seconds:g} s → {out}/idle.yaml")
    return 0


def stream_annotations(paths: list[str], out: Path) -> Path:
    """An annotation file for streams of out-of-vocabulary clips: no known action anywhere."""
    out.write_text("inputs:\n" + "".join(f"  - path: {Path(p).resolve()}\n    segments: none\n" for p in paths))
    return out


def _stream_top1(z: np.ndarray, owner: np.ndarray, labels: np.ndarray, accept: np.ndarray | None) -> float:
    """Streaming top-1 as the recognizer averages: window probabilities (+ an unknown slot for rejected windows)
    averaged per clip; correct when the clip's label is the top of the average."""
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    if accept is not None:
        p = np.concatenate([p * accept[:, None], (~accept)[:, None].astype(float)], 1)
    mean = np.zeros((len(labels), p.shape[1]))
    np.add.at(mean, owner, p)
    return float((mean.argmax(1) == labels).mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.reject_study", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a Penn LQ student, with a background class unless --negatives none")
    t.add_argument("--name", required=True)
    t.add_argument("--negatives", choices=("none", *FAMILIES), default="a")
    t.add_argument("--neg-ratio", type=float, default=0.4, help="negative windows per known window per epoch")
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--root", default="../shared/data/penn_action/labels")
    t.add_argument("--shared", default="../shared/data")
    t.add_argument("--out", default="runs/openset")
    t.add_argument("--known-extra", action="store_true",
                   help="also train on UTD-MHAD's Penn actions of odd subjects (known actions in the Kinect look)")
    t.add_argument("--pool", metavar="NPZ", help="MediaPipe skeletons of no_person_pool.mp4 (partkd-stream extract)")
    m = sub.add_parser("measure", help="rejects of trained students on held-out negatives and known test clips")
    m.add_argument("--model", action="append", required=True, help="checkpoint(s) (.pt)")
    m.add_argument("--recall", type=float, default=0.95, help="target recall of known validation windows")
    m.add_argument("--root", default="../shared/data/penn_action/labels")
    m.add_argument("--shared", default="../shared/data")
    m.add_argument("--out", default="runs/openset")
    i = sub.add_parser("idle-streams", help="idle MediaPipe streams (standing, sitting) + their annotation file")
    i.add_argument("--out", default="runs/openset/idle")
    i.add_argument("--seconds", type=float, default=90.0)
    i.add_argument("--severity", type=float, nargs="+", default=[1.0, 3.0],
                   help="degradation severities (1 = MediaPipe as calibrated)")
    i.add_argument("--seed", type=int, default=500)
    args = p.parse_args(argv)
    try:
        if args.cmd == "idle-streams":
            return idle_streams(args)
        if args.cmd == "train":
            return train(args)
        if args.cmd == "measure":
            return measure(args)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"reject_study: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
