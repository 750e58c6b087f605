"""The everyday model on actions it never saw: everyday distractors held out of its training, against its known ones.

    python -m train.studies.everyday_openset --model engines/everyday_student.pt [--root runs/data/utd_mhad.npz]
        [--shared DATA] [--out runs/everyday_openset]
    python -m train.evaluate_stream --annotations runs/everyday_openset/streams.yaml \
        --model engines/everyday_student.onnx

Known: UTD-MHAD's test clips (even subjects), degraded like the everyday models' training data (the desk profile:
half of them framed from the waist up), every sliding window; a model named by UTD-MHAD's actions (the UTD-MHAD-only
model) is scored by name, any other through the everyday vocabulary. Unknown — never trained on, calibrated on or
chosen with, the same clips for every everyday model: the NTU samples whose action is in no class of the everyday
vocabulary (``train/datasets/labels/everyday_vocabulary.yaml``: eating, brushing teeth and hair, reading, rubbing
hands, taking off a shoe, dropping, a handshake), and the NW-UCLA clips of the classes the multi-dataset recipe holds
out of training (``multiset.exclude_classes`` of ``train/configs/everyday_multiset.yaml``: dropping trash, putting a
coat on and off). They are Kinect 3D, projected and degraded the same way. A model that has one of these classes is
refused. Per set: the AUROC of ``not_background`` (1 − background probability) against the known windows, the FPR
at 95 % recall of the known windows, and the share of windows accepted as an action (the runtime's rule: background
not on top). Each set is also written as one stream of its clips back to back, with an annotation file for
``train.evaluate_stream`` (false events per minute through the real recognizer).
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

import numpy as np
import torch

from partkd_stream.checkpoint import load_checkpoint
from partkd_stream.skeleton_io import SkeletonSequence, save_sequence
from train.datasets import DatasetError
from train.datasets.vocabulary import Vocabulary, load_vocabulary
from train.lib.annotations import write_annotations
from train.lib.config import ConfigError, load_config
from train.lib.data import load_benchmark
from train.lib.everyday import CONFIG
from train.lib.everyday_multiset import CONFIG as MULTISET_CONFIG
from train.lib.evaluation import logits, sliding_windows, stream_top1
from train.lib.negatives import NegativeClip, NegativeWindows, dataset_clips, source_root
from train.lib.openset import BACKGROUND, fpr_at_recall, roc_auc, score_logits
from train.lib.paths import shared_data

SEED = 1000   # the held-out sets' degradation draws (as reject_study's)


def unseen_classes() -> list[str]:
    """The vocabulary classes the multi-dataset everyday recipe never trains on (its config's
    ``multiset.exclude_classes``)."""
    return list(load_config(MULTISET_CONFIG).multiset.exclude_classes)


def unknown_clips(source: str, shared: Path, vocab: Vocabulary | None = None) -> list[NegativeClip]:
    """The clips of ``source`` (``ntu`` or ``nw_ucla``) that no everyday model knows: actions in no vocabulary class,
    or in a class held out of training (``unseen_classes``)."""
    vocab = vocab or load_vocabulary()
    held_out = set(unseen_classes())
    out = []
    for c in dataset_clips(source, source_root(shared, source)):
        cls = vocab.class_of(source, c.action)
        if cls is None or cls in held_out:
            out.append(c)
    return out


def known_labels(classes: list[str], utd_classes: list[str], vocab: Vocabulary) -> list[int]:
    """Per UTD-MHAD action, its index among the model's ``classes``: by name (a UTD-MHAD model), else through the
    vocabulary; a ``ConfigError`` when the model lacks one."""
    out = []
    for a in utd_classes:
        name = a if a in classes else vocab.class_of("utd_mhad", a)
        if name not in classes:
            raise ConfigError(f"the model has no class for UTD-MHAD's {a!r} (nor its vocabulary class {name!r}); the "
                              f"known set is UTD-MHAD's test split")
        out.append(classes.index(name))
    return out


def measure(model_path: str, root: str | None, shared: Path, out: Path) -> dict:
    ck = load_checkpoint(model_path)
    model, classes = ck.build_model(), list(ck.classes)
    if classes[-1] != BACKGROUND:
        raise ConfigError(f"{model_path}: no {BACKGROUND!r} class; this measures the everyday model's background")
    vocab = load_vocabulary()
    knows = sorted(set(classes) & set(unseen_classes()))
    if knows:
        raise ConfigError(f"{model_path}: the model has the held-out class {knows[0]!r}; nothing here is unseen to it")
    cfg = load_config(CONFIG, [f"data.root={root}"] if root else [])
    bench = load_benchmark(cfg.data, 0)
    labels = np.array(known_labels(classes, bench.classes, vocab))[bench.test_labels]
    pre, deg = ck.preprocess, bench.degradation       # windows as the model is fed at run time
    k = len(classes) - 1
    xt, owner = sliding_windows(bench.test_lq, bench.test_fps, pre)
    zt = logits(model, xt)
    s_known = score_logits(zt, "not_background", classes)
    res: dict = {"model": str(model_path), "known": {
        "clips": len(bench.test_ids), "windows": len(xt), "stream_top1": stream_top1(zt, owner, labels),
        "windows_called_background": float((zt.argmax(1) == k).mean())}, "sets": {}}
    streams = []
    for src in ("ntu", "nw_ucla"):
        clips = unknown_clips(src, shared, vocab)
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
            print(f"{src}: no clip of an unseen action under {args.shared}")
            continue
        print(f"{src}: {r['clips']} clips ({', '.join(r['actions'])}), {r['windows']} windows: AUROC {r['auroc']:.3f}, "
              f"FPR at 95 % recall {r['fpr_at_95']:.2f}, accepted {100 * r['accepted']:.1f} %")
    print(f"→ {out / 'measure.json'}; streams: python -m train.evaluate_stream --annotations {out / 'streams.yaml'} "
          f"--model <the .onnx>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
