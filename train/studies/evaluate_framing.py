"""A student's test accuracy with the full body in view and with the lower body out of frame (a desk webcam).

    python -m train.studies.evaluate_framing --config train/configs/everyday.yaml \
        --checkpoint runs/everyday/seed0/kd.pt \
        [--root runs/data/utd_mhad.npz] [--seed 0] [--set data.severity=2 …] [--json]

Every condition degrades the *same* LQ test clips with the same seeds (``data.test_seed``) and the config's
degradation; they differ only in its desk framing (``train.lib.degrade`` step 7): *full body* (off), *lower body out
of frame* (on for every clip: hips, legs and feet below the image, reported as MediaPipe does, at hallucinated
positions with a low visibility) and *lower body not reported* (the same joints with score 0 — what an estimator
that drops unseen joints gives; preprocessing then has no hips to centre and scale by). Prints clip top-1 / top-5
and streaming top-1 for each. A model with a last ``background`` class is scored on its actions: a window it calls
background counts as wrong.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # run as a file: the same as `python -m train.studies.evaluate_framing`
    sys.path[0] = str(Path(__file__).resolve().parents[1])   # train/, which holds _bootstrap
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import numpy as np

from partkd_stream.checkpoint import CheckpointError, load_checkpoint
from partkd_stream.reject import BACKGROUND
from train.lib.config import ConfigError, DataConfig, load_config
from train.lib.data import load_benchmark
from train.lib.degrade import DEFAULT_CALIBRATION
from train.lib.evaluation import evaluate
from train.lib.paths import resolve_root

# condition → changes to the config's degradation (train.lib.degrade.DegradeConfig fields)
CONDITIONS: dict[str, dict[str, Any]] = {
    "full body": {"lower_body_out": 0.0},
    "lower body out of frame": {"lower_body_out": 1.0},
    "lower body not reported": {"lower_body_out": 1.0, "out_hip_score": [0.0, 0.0], "out_leg_score": [0.0, 0.0]},
}


def framed(data: DataConfig, changes: dict[str, Any], folder: Path, name: str) -> DataConfig:
    """``data`` with its degradation changed by ``changes`` (a profile file extending the original)."""
    base = DEFAULT_CALIBRATION if data.degradation == "calibrated" else resolve_root(data.degradation)
    profile = folder / f"{name.replace(' ', '_')}.json"
    profile.write_text(json.dumps({"extends": str(base), "degrade_config": changes}))
    return replace(data, degradation=str(profile))


def evaluate_framing(cfg_path: str, checkpoint: str, overrides: Sequence[str] = (), seed: int = 0
                     ) -> dict[str, Any]:
    cfg = load_config(cfg_path, list(overrides))
    ck = load_checkpoint(checkpoint)
    if ck.preprocess.layout != cfg.data.lq_layout:
        raise ConfigError(f"{checkpoint}: a {ck.preprocess.layout} model, but the config's LQ layout is "
                          f"{cfg.data.lq_layout}")
    model = ck.build_model()
    out: dict[str, Any] = {"checkpoint": str(checkpoint), "config": str(cfg_path), "seed": seed,
                           "severity": cfg.data.severity, "conditions": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, changes in CONDITIONS.items():
            bench = load_benchmark(framed(cfg.data, changes, Path(tmp), name), seed)
            if ck.classes not in (bench.classes, [*bench.classes, BACKGROUND]):  # background: counted wrong
                raise ConfigError(f"{checkpoint}: its classes differ from the dataset's ({len(ck.classes)} vs "
                                  f"{len(bench.classes)}); evaluate it with the config it was trained with")
            res = evaluate(model, bench.test_lq, bench.test_fps, bench.test_labels, ck.preprocess)
            out["conditions"][name] = {k: round(100 * float(res[k]), 2) for k in ("top1", "top5", "stream_top1")}
            out["test_clips"] = len(bench.test_ids)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.studies.evaluate_framing",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="the experiment config the student was trained with")
    ap.add_argument("--checkpoint", required=True, help="a student checkpoint (.pt)")
    ap.add_argument("--root", help="dataset root or cached file (overrides data.root)")
    ap.add_argument("--seed", type=int, default=0, help="the run's seed (fixes the paired split; the LQ test set "
                                                        "depends only on data.test_seed)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    overrides = list(args.set) + ([f"data.root={args.root}"] if args.root else [])
    try:
        res = evaluate_framing(args.config, args.checkpoint, overrides, args.seed)
    except (ConfigError, CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"evaluate_framing: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"{args.checkpoint} on {res['test_clips']} LQ test clips (severity {res['severity']:g}):")
    for name, r in res["conditions"].items():
        print(f"  {name:<26} clip top-1 {r['top1']:5.1f} %   top-5 {r['top5']:5.1f} %   "
              f"streaming top-1 {r['stream_top1']:5.1f} %")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
