"""The everyday model on actions outside its 27: everyday distractors it never saw, held out.

    python -m train.studies.everyday_openset --model engines/everyday_student.pt [--root runs/data/utd_mhad.npz]
        [--shared DATA] [--out runs/everyday_openset]
    python -m train.evaluate_stream --annotations runs/everyday_openset/streams.yaml \
        --model engines/everyday_student.onnx

Known: UTD-MHAD's test clips (even subjects), degraded like the model's training data (the everyday config's desk
profile: half of them framed from the waist up), every sliding window. Unknown — never trained on, calibrated on or
chosen with: the NTU samples and the NW-UCLA clips whose action is not one of UTD-MHAD's 27
(``datasets/labels/utd_overlap.json`` lists those that are): drinking, eating, brushing teeth and hair, reading,
rubbing hands, taking off a shoe, a handshake; dropping trash, putting a coat on and off. They are Kinect 3D,
projected and degraded the same way. Per set: the AUROC of ``not_background`` (1 − background probability) against
the known windows, the FPR at 95 % recall of the known windows, and the share of windows accepted as an action (the
runtime's rule: background not on top). Each set is also written as one stream of its clips back to back, with an
annotation file for ``train.evaluate_stream`` (false events per minute through the real recognizer).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as a file: the same as `python -m train.studies.everyday_openset`
    sys.path[0] = str(Path(__file__).resolve().parents[1])   # train/, which holds _bootstrap
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import torch

from partkd_stream.checkpoint import load_checkpoint
from partkd_stream.skeleton_io import SkeletonSequence, save_sequence
from train.datasets import DatasetError
from train.datasets.sample import LABELS_DIR
from train.lib.annotations import write_annotations
from train.lib.config import ConfigError, load_config
from train.lib.data import load_benchmark
from train.lib.everyday import CONFIG
from train.lib.evaluation import logits, sliding_windows, stream_top1
from train.lib.negatives import NegativeClip, NegativeWindows, action_number, dataset_clips, source_root
from train.lib.openset import BACKGROUND, fpr_at_recall, roc_auc, score_logits
from train.lib.paths import shared_data

OVERLAP_FILE = LABELS_DIR / "utd_overlap.json"
SEED = 1000   # the held-out sets' degradation draws (as reject_study's)


def unknown_clips(source: str, shared: Path) -> list[NegativeClip]:
    """The clips of ``source`` whose action is not one of UTD-MHAD's (``utd_overlap.json``)."""
    known = {int(k) for k in json.loads(OVERLAP_FILE.read_text(encoding="utf-8")).get(source, {})}
    return [c for c in dataset_clips(source, source_root(shared, source)) if action_number(source, c.id) not in known]


def measure(model_path: str, root: str | None, shared: Path, out: Path) -> dict:
    ck = load_checkpoint(model_path)
    model, classes = ck.build_model(), list(ck.classes)
    if classes[-1] != BACKGROUND:
        raise ConfigError(f"{model_path}: no {BACKGROUND!r} class; this measures the everyday model's background")
    cfg = load_config(CONFIG, [f"data.root={root}"] if root else [])
    bench = load_benchmark(cfg.data, 0)
    if list(bench.classes) != classes[:-1]:
        raise ConfigError(f"{model_path}: its classes are not UTD-MHAD's 27 actions + {BACKGROUND!r}")
    pre, deg = ck.preprocess, bench.degradation       # windows as the model was trained on them
    k = len(classes) - 1
    xt, owner = sliding_windows(bench.test_lq, bench.test_fps, pre)
    zt = logits(model, xt)
    s_known = score_logits(zt, "not_background", classes)
    res: dict = {"model": str(model_path), "known": {
        "clips": len(bench.test_ids), "windows": len(xt), "stream_top1": stream_top1(zt, owner, bench.test_labels),
        "windows_called_background": float((zt.argmax(1) == k).mean())}, "sets": {}}
    streams = []
    for src in ("ntu", "nw_ucla"):
        clips = unknown_clips(src, shared)
        if not clips:
            res["sets"][src] = {"clips": 0, "actions": []}
            continue
        nw = NegativeWindows(clips, pre, deg, SEED)
        zn = logits(model, nw.eval_windows()[0])
        sn = score_logits(zn, "not_background", classes)
        res["sets"][src] = {"clips": len(clips), "actions": sorted({c.action for c in clips}), "windows": len(zn),
                            "auroc": roc_auc(s_known, sn), "fpr_at_95": fpr_at_recall(s_known, sn, 0.95),
                            "accepted": float((zn.argmax(1) != k).mean())}
        data, ts = nw.stream()
        f = out / "streams" / f"{src}.npz"
        save_sequence(f, SkeletonSequence(data=data, layout=pre.layout, fps=30.0, timestamps=ts, id=src))
        streams.append(str(f))
    write_annotations(out / "streams.yaml", [(Path(f).resolve(), []) for f in streams],
                      "unknown actions back to back: no known action anywhere")
    (out / "measure.json").write_text(json.dumps(res, indent=2) + "\n")
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.studies.everyday_openset",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="engines/everyday_student.pt", help="the everyday checkpoint (.pt)")
    ap.add_argument("--root", help="UTD-MHAD (raw folder or train.prepare cache) instead of the config's")
    ap.add_argument("--shared", default=str(shared_data()), help="folder holding ntu/ and nw_ucla/")
    ap.add_argument("--out", default="runs/everyday_openset")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        res = measure(args.model, args.root, Path(args.shared), out)
    except (ConfigError, DatasetError, FileNotFoundError) as e:
        print(f"everyday_openset: error: {e}", file=sys.stderr)
        return 2
    kn = res["known"]
    print(f"known: UTD-MHAD test, {kn['clips']} clips, {kn['windows']} windows, streaming top-1 "
          f"{100 * kn['stream_top1']:.1f} %, windows called background {100 * kn['windows_called_background']:.1f} %")
    for src, r in res["sets"].items():
        if not r["clips"]:
            print(f"{src}: no clip of an action outside UTD-MHAD's under {args.shared}")
            continue
        print(f"{src}: {r['clips']} clips ({', '.join(r['actions'])}), {r['windows']} windows: AUROC {r['auroc']:.3f}, "
              f"FPR at 95 % recall {r['fpr_at_95']:.2f}, accepted {100 * r['accepted']:.1f} %")
    print(f"→ {out / 'measure.json'}; streams: python -m train.evaluate_stream --annotations {out / 'streams.yaml'} "
          f"--model <the .onnx>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
