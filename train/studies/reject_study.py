"""Measure open-set students on what they never saw: held-out negative families, Penn test clips, streams.

    python -m train.studies.reject_study measure --model runs/openset/bg_look_kin/student.pt
        [--model engines/penn_student.pt] [--root PENN] [--shared DATA] [--out runs/openset]
    python -m train.studies.reject_study idle-streams [--out runs/openset/idle]
    python -m train.studies.reject_study look --root PENN.npz [--shared DATA] [--skeletons EXTRACTED.npz ...]

Training and validation are ``train.openset_train`` (``train.lib.openset_training`` has the splits). ``measure``
evaluates a model on the negative family it did *not* train on (a model without negatives: on every family), built
the way its training negatives were built (with the dataset look taken away when it trained so,
``train.lib.dataset_look``), plus idle people and transitions of other seeds, and on the Penn LQ test clips as
annotated and with their hidden joints shown (the runtime's look); ``--sets recorded|matched`` evaluates any model
on the other version of the sets. Scores: every logit score with a threshold calibrated on the validation windows to
95 % recall (``reject_<score>.json``), and for a background model the class itself (``background_argmax``, its
validation offset already in the weights). The **shortcut check**: UTD-MHAD's own Penn actions (known actions in the
Kinect look; the even subjects, never trained on) against UTD-MHAD's other actions in the same look — a model that
rejects by dataset look rather than by action cannot separate them. It also writes the held-out sets as streams for
``train.evaluate_stream``.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: the same as `python -m train.studies.reject_study`
    sys.path[0] = str(Path(__file__).resolve().parents[1])   # train/, which holds _bootstrap
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import numpy as np
import torch

from partkd_stream.checkpoint import load_checkpoint
from partkd_stream.convert import convert
from partkd_stream.preprocess import sanitize
from partkd_stream.skeleton_io import SkeletonSequence, load_sequence, save_sequence
from train.datasets import load_samples
from train.lib.annotations import write_annotations
from train.lib.config import ConfigError, load_config
from train.lib.data import Benchmark, load_benchmark, lq_train_views, split_validation
from train.lib.dataset_look import BONES, Look, clean_2d, median_proportions
from train.lib.degrade import DegradeConfig
from train.lib.evaluation import centre_windows, logits_and_features, sliding_windows, stream_top1
from train.lib.negatives import NegativeWindows, dataset_clips, idle_clips, idle_stream, source_root, transition_clips
from train.lib.openset import (BACKGROUND, SCORES, FeatureDistance, calibrate, fpr_at_recall, roc_auc, score_logits,
                               threshold_for_recall)
from train.lib.openset_training import CONFIG, FAMILIES, OpensetConfig, family_clips, revealed, subject
from train.lib.paths import shared_data
from train.lib.reporting import markdown_table


# --- measuring -----------------------------------------------------------------------------------------------------
def eval_negative_sets(model_family: str | None, shared: Path, bench: Benchmark, look: Look | None,
                       seed: int = 1000) -> dict[str, NegativeWindows]:
    """Held-out negative sets for a model trained on ``model_family`` (None: no negatives → every set), built with
    the model's ``look``. Idle people and transitions are drawn with another seed, transitions from the Penn *test*
    clips."""
    pre, deg = bench.lq_pre, bench.degradation
    if model_family is not None:   # the family's held-out clips (family c: only the held-out actions)
        clips = family_clips(model_family, "eval", shared)
        sets = {src: NegativeWindows([c for c in clips if c.source == src], pre, deg, seed, look=look)
                for src in FAMILIES[model_family]["eval"]}
    else:
        held = sorted({s for spec in FAMILIES.values() for s in spec["eval"]})
        sets = {src: NegativeWindows(dataset_clips(src, source_root(shared, src)), pre, deg, seed, look=look)
                for src in held}
    sets["idle"] = NegativeWindows(idle_clips(60, seed=seed, seconds=10.0), pre, deg, seed, look=look)
    tests = [(h, bench.hq_pre.layout, f, i) for h, f, i in zip(bench.test_hq, bench.test_fps, bench.test_ids)]
    sets["transition"] = NegativeWindows(transition_clips(tests, pre, seed=seed), pre, deg, seed, look=look)
    return sets


def utd_known_vs_unknown(shared: Path, bench: Benchmark, look: Look | None, trained_on: set[str], seed: int = 1000
                         ) -> tuple[NegativeWindows, np.ndarray, np.ndarray]:
    """UTD-MHAD's Penn actions not trained on (even subjects) and its other actions, in one set (same look):
    ``(windows source, window is known, window's Penn label or -1)``."""
    root = source_root(shared, "utd_mhad")
    known = [c for c in dataset_clips("utd_mhad", root, penn_actions=True)
             if c.id not in trained_on and subject("utd_mhad", c.id) % 2 == 0]
    other = dataset_clips("utd_mhad", root)
    nw = NegativeWindows(known + other, bench.lq_pre, bench.degradation, seed, look=look)
    _, owner = nw.eval_windows()
    is_known = owner < len(known)
    labels = np.array([bench.classes.index(known[i].action) if i < len(known) else -1 for i in owner])
    return nw, is_known, labels


def measure(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    cfg = load_config(CONFIG, [f"data.root={args.root}"])
    bench, val = split_validation(load_benchmark(cfg.data, 0))
    pre, deg = bench.lq_pre, bench.degradation
    shared = Path(args.shared)
    xv, _ = sliding_windows(val["lq"], val["fps"], pre)
    xt, owner = sliding_windows(bench.test_lq, bench.test_fps, pre)
    test_revealed = revealed({"src": [(h, bench.hq_pre.layout) for h in bench.test_hq], "ids": bench.test_ids},
                             pre, deg, seed=cfg.data.test_seed)
    xr, owner_r = sliding_windows(test_revealed, bench.test_fps, pre)
    xc = centre_windows(bench.test_lq, bench.test_fps, pre)
    labels = bench.test_labels
    for path in args.model:
        ck = load_checkpoint(path)
        model, classes = ck.build_model(), list(ck.classes)
        has_bg = classes[-1] == BACKGROUND
        family = args.family or ck.meta.get("negatives")
        family = family if family in FAMILIES else None
        oc = OpensetConfig(**ck.meta["openset"]) if "openset" in ck.meta else OpensetConfig()
        matched = args.sets == "matched" or (args.sets == "trained" and "openset" in ck.meta and oc.look)
        look = Look.of_known(bench.train_src, pre.layout, deg, oc.look_share) if matched else None
        val_clean = set(ck.meta.get("validation_ids", [])) >= set(val["ids"])
        name = Path(path).parent.name if Path(path).name == "student.pt" else Path(path).stem
        out_dir = Path(args.out) / ((name if args.sets == "trained" else f"{name}.{args.sets}")
                                    + (f".family_{args.family}" if args.family else ""))
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"{name}: classes {len(classes)}{' (with background)' if has_bg else ''}, negatives "
              f"{ck.meta.get('negatives')}, judged on family {family}, look "
              f"{'taken away' if look else 'as recorded'}, validation {'held out' if val_clean else 'SEEN'}",
              flush=True)
        (zv, fv), (zt, ft), (zc, fc) = (logits_and_features(model, x) for x in (xv, xt, xc))
        zr = logits_and_features(model, xr)[0]
        xtr, otr = sliding_windows(lq_train_views(bench, 0, 0), bench.train_fps, pre)   # class means: training clips
        fd = FeatureDistance(logits_and_features(model, xtr)[1], bench.train_labels[otr])
        scores = [s for s in SCORES if s != "not_background" or has_bg] + ["feature_distance"]

        def score(z: np.ndarray, f: np.ndarray, s: str) -> np.ndarray:
            return fd(f) if s == "feature_distance" else score_logits(z, s, classes)

        neg_sets = eval_negative_sets(family, shared, bench, look)
        negf = {k: logits_and_features(model, v.eval_windows()[0]) for k, v in neg_sets.items()}
        neg = {k: z for k, (z, _) in negf.items()}
        k_bg = len(classes) - 1
        res: dict[str, Any] = {
            "model": str(path), "classes": len(classes), "background": has_bg,
            "negatives_trained_on": ck.meta.get("negatives"), "judged_on_family": family,
            "look": bool(look), "validation_held_out": val_clean,
            "windows": {"val": len(xv), "test_sliding": len(xt), "test_clips": len(xc), **{k: len(v) for k, v in
                                                                                             neg.items()}},
            "known": {"clip_top1": float((zc.argmax(1) == labels).mean()),
                      "stream_top1": stream_top1(zt, owner, labels),
                      "stream_top1_revealed": stream_top1(zr, owner_r, labels)},
            "scores": {}}
        if has_bg:
            res["known"]["clip_top1_actions"] = float((zc[:, :k_bg].argmax(1) == labels).mean())
            res["background_argmax"] = {
                "test_windows_called_background": float((zt.argmax(1) == k_bg).mean()),
                "test_windows_revealed_called_background": float((zr.argmax(1) == k_bg).mean()),
                "sets": {k: {"accepted": float((z.argmax(1) != k_bg).mean())} for k, z in neg.items()}}
        for s in scores:
            sv, st, sc = (score(z, f, s) for z, f in ((zv, fv), (zt, ft), (zc, fc)))
            thr = threshold_for_recall(sv, args.recall)
            row = {"threshold": thr, "val_recall": float((sv >= thr).mean()),
                   "test_window_recall": float((st >= thr).mean()),
                   "clip_top1_with_reject": float(((zc.argmax(1) == labels) & (sc >= thr)).mean()),
                   "stream_top1_with_reject": stream_top1(zt, owner, labels, st >= thr), "sets": {}}
            for k, (zn, fn) in negf.items():
                sn = score(zn, fn, s)
                row["sets"][k] = {"auroc": roc_auc(st, sn), "fpr_at_95": fpr_at_recall(st, sn, 0.95),
                                  "fpr_calibrated": float((sn >= thr).mean())}
            res["scores"][s] = row
            if s == "feature_distance":   # study only: the deployed ONNX outputs logits, not features
                continue
            rej = calibrate(zv, classes, s, args.recall, f"Penn Action validation clips ({len(val['ids'])}, "
                            f"{'held out' if val_clean else 'seen in training'}), {len(xv)} windows")
            (out_dir / f"reject_{s}.json").write_text(json.dumps({"reject": rej.to_dict()}, indent=2) + "\n")
        res["shortcut_check"] = shortcut_check(model, classes, shared, bench, look,
                                               set(ck.meta.get("known_extra_ids", [])))
        streams = {}
        for k, v in neg_sets.items():
            if k == "transition":
                continue
            data, ts = v.stream()
            f = out_dir / "streams" / f"{k}.npz"
            save_sequence(f, SkeletonSequence(data=data, layout=pre.layout, fps=30.0, timestamps=ts, id=k))
            streams[k] = str(f)
        res["streams"] = streams
        write_annotations(out_dir / "streams.yaml", [(Path(f).resolve(), []) for f in streams.values()],
                          "held-out negatives back to back: no known action anywhere")
        (out_dir / "measure.json").write_text(json.dumps(res, indent=2) + "\n")
        print(json.dumps({k: v for k, v in res.items() if k in ("known", "background_argmax")}), flush=True)
        print("  shortcut check: " + json.dumps({k: v for k, v in res["shortcut_check"].items()
                                                  if k != "per_action"}), flush=True)
        for s, row in res["scores"].items():
            print(f"  {s:15s} thr {row['threshold']:.3f} test recall {row['test_window_recall']:.3f} clip "
                  f"{row['clip_top1_with_reject']:.3f} stream {row['stream_top1_with_reject']:.3f} | " +
                  " ".join(f"{k}: auc {m['auroc']:.3f} fpr95 {m['fpr_at_95']:.3f} fpr {m['fpr_calibrated']:.3f}"
                           for k, m in row["sets"].items()), flush=True)
    return 0


def shortcut_check(model: Any, classes: list[str], shared: Path, bench: Benchmark, look: Look | None,
                   trained_on: set[str]) -> dict[str, Any]:
    """UTD-MHAD's Penn actions (known) against its other actions (unknown), same look: the share of each called
    background (or rejected by energy for a closed-set model), the known ones' top-1, the AUROC between them, and
    per UTD action what it is taken for."""
    nw, is_known, labels = utd_known_vs_unknown(shared, bench, look, trained_on)
    x, owner = nw.eval_windows()
    z = logits_and_features(model, x)[0]
    has_bg = classes[-1] == BACKGROUND
    n_act = len(classes) - (1 if has_bg else 0)
    s = score_logits(z, "not_background" if has_bg else "energy", classes)
    out: dict[str, Any] = {"score": "not_background" if has_bg else "energy", "known_windows": int(is_known.sum()),
                           "unknown_windows": int((~is_known).sum()),
                           "auroc_known_vs_unknown": roc_auc(s[is_known], s[~is_known]),
                           "known_top1_actions": float((z[is_known, :n_act].argmax(1) == labels[is_known]).mean())}
    if has_bg:
        bg = z.argmax(1) == len(classes) - 1
        out["known_called_background"] = float(bg[is_known].mean())
        out["unknown_called_background"] = float(bg[~is_known].mean())
        acts = np.array([nw.clips[i].action for i in owner])
        out["per_action"] = {
            a: {"accepted": float((~bg[acts == a]).mean()),
                "taken_for": Counter(classes[k] for k in z[(acts == a) & ~bg].argmax(1)).most_common(2)}
            for a in dict.fromkeys(acts[~is_known])}
    return out


def idle_streams(args: argparse.Namespace) -> int:
    """Idle MediaPipe streams (standing, sitting) and an annotation file that says "no action" throughout."""
    out = Path(args.out)
    names = []
    for k, sitting in enumerate((False, True)):
        for sev in args.severity:
            data = idle_stream(args.seconds, seed=args.seed + k, severity=sev, sitting=sitting)
            name = f"idle_{'sitting' if sitting else 'standing'}_sev{sev:g}"
            save_sequence(out / f"{name}.npz", SkeletonSequence(data=data, layout="mediapipe33", fps=30.0,
                                                                timestamps=np.arange(len(data)) / 30.0, id=name))
            names.append(f"{name}.npz")
    write_annotations(out / "idle.yaml", [(n, []) for n in names],
                      "Generated idle people (train.lib.negatives.idle_stream): no known action at any time.")
    print(f"{2 * len(args.severity)} idle streams of {args.seconds:g} s → {out}/idle.yaml")
    return 0


def look_table(args: argparse.Namespace) -> int:
    """``look``: per source, the share of missing joints and the median body proportions — the dataset look that
    ``train.lib.dataset_look`` takes away (the numbers its docstring quotes)."""
    deg, layout = DegradeConfig.from_calibration(), "penn13"
    _, penn = load_samples(args.root)
    shared = Path(args.shared)
    groups: dict[str, list[np.ndarray]] = {"penn_action": [convert(s.data, s.layout, layout) for s in penn]}
    for src in ("nw_ucla", "ntu", "utd_mhad"):
        clips = dataset_clips(src, source_root(shared, src)) + dataset_clips(src, source_root(shared, src), True)
        groups[src] = [clean_2d(c.data, c.layout, layout, deg) for c in clips]
    groups["idle (generated)"] = [clean_2d(c.data, c.layout, layout, deg) for c in idle_clips(60, seed=3)]
    for f in args.skeletons:   # as the runtime sees them: scores under its floor are missing
        seq = load_sequence(f)
        conv = sanitize(convert(seq.first_person(), seq.layout, layout))
        groups[Path(f).stem] = [conv[conv[..., -1].max(1) > 0]]
    rows = []
    for name, seqs in groups.items():
        hidden = float(np.mean(np.concatenate([(s[..., -1] <= 0).ravel() for s in seqs]))) * 100
        props = median_proportions(seqs, layout)
        rows.append([name, len(seqs), f"{hidden:.1f}", *(f"{props[k]:.2f}" for k in BONES)])
    print(markdown_table(["source", "clips", "missing joints %", *BONES], rows), end="", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.studies.reject_study", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="rejects of trained students on held-out negatives and known test clips")
    m.add_argument("--model", action="append", required=True, help="checkpoint(s) (.pt)")
    m.add_argument("--recall", type=float, default=0.95, help="target recall of known validation windows")
    m.add_argument("--sets", choices=("trained", "recorded", "matched"), default="trained",
                   help="held-out sets as recorded, with the dataset look taken away (matched), or as the model's "
                        "training negatives were (trained, the default); not 'trained' → <out>/<name>.<sets>/")
    m.add_argument("--family", choices=sorted(FAMILIES),
                   help="judge on this negative family's held-out sets instead of the model's own (a control: "
                        "another model on the sets a family-c model never saw); → <out>/<name>[.<sets>].family_<f>/")
    m.add_argument("--root", default=str(shared_data() / "penn_action" / "labels"))
    m.add_argument("--shared", default=str(shared_data()))
    m.add_argument("--out", default="runs/openset")
    i = sub.add_parser("idle-streams", help="idle MediaPipe streams (standing, sitting) + their annotation file")
    i.add_argument("--out", default="runs/openset/idle")
    i.add_argument("--seconds", type=float, default=90.0)
    i.add_argument("--severity", type=float, nargs="+", default=[1.0, 3.0],
                   help="degradation severities (1 = MediaPipe as calibrated)")
    i.add_argument("--seed", type=int, default=500)
    lk = sub.add_parser("look", help="missing joints and body proportions per source: the dataset look")
    lk.add_argument("--root", required=True, help="Penn Action's train.prepare cache (.npz)")
    lk.add_argument("--shared", default=str(shared_data()), help="folder holding nw_ucla/, ntu/, utd_mhad/")
    lk.add_argument("--skeletons", nargs="*", default=[], help="real estimator output (partkd-stream extract .npz)")
    args = p.parse_args(argv)
    try:
        if args.cmd == "look":
            return look_table(args)
        if args.cmd == "idle-streams":
            return idle_streams(args)
        if args.cmd == "measure":
            return measure(args)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"reject_study: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
