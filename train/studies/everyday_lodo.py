"""Leave one dataset out for the everyday recipe: train on three of UTD-MHAD, KARD, Florence 3D and NW-UCLA, judge on
the fourth's shared actions — CE beside KD, with and without the augmentation, over seeds.

    python -m train.studies.everyday_lodo run [--folds utd_mhad,kard,florence3d,nw_ucla] [--seeds 0,1,2]
        [--stages baseline,kd] [--variants aug,noaug] [--jobs 2] [--set KEY=VALUE ...]
    python -m train.studies.everyday_lodo table [--runs runs] [--old everyday] [--every 1] [--out runs/everyday_lodo]

``run`` trains every (variant, fold, stage, seed) with ``train.everyday_multiset`` (``--validation 0.15``: the
background offset chosen on held-out training clips), each in its own process, ``--jobs`` at once: first one 3D
teacher per (variant, fold) — seed 0's, which the distilled students of every seed share (a CPU budget: one teacher
per fold, not per seed) — then the students. A unit whose checkpoint exists is skipped, so a rerun continues.
Variants: ``aug`` (the config: every shift as augmentation), ``noaug`` (``augment.enabled=false``: the datasets'
degradation alone, as the UTD-MHAD-only model trained).

``table`` streams each checkpoint through ``train.generalise``'s leave-one-dataset-out row
(``generalisation.lodo_row``: every clip of the left-out dataset whose vocabulary class the model has, the model's
in-distribution profile, the real ``Recognizer`` with the ``upper_body`` presence rule the model ships with) and the
shipped model (``--old``, trained on UTD-MHAD alone) on the other datasets likewise; it writes ``lodo.md`` and
``lodo.json`` (per checkpoint; reused while the checkpoint is unchanged).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # run as a file: the same as `python -m train.studies.everyday_lodo`
    sys.path[0] = str(Path(__file__).resolve().parents[1])   # train/, which holds _bootstrap
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import numpy as np

from train.lib.config import ConfigError, load_config
from train.lib.everyday_multiset import CONFIG, PRESENCE
from train.lib.paths import REPO
from train.lib.reporting import markdown_table, write_json, write_text

FOLDS = ("utd_mhad", "kard", "florence3d", "nw_ucla")
MILD = ["augment.yaw=45", "augment.pitch=10", "augment.far_side_hidden=0", "augment.speed=[0.5, 1.6]",
        "augment.distance=[2.0, 4.0]"]
VARIANTS = {"aug": [], "noaug": ["augment.enabled=false"], "mild": MILD}
VARIANT_TITLES = {"aug": "augmented (yaw ±90°, pitch ±20°, far side hidden 0.3, speed 0.6-1.6, 1.5-5 m)",
                  "noaug": "no augmentation", "mild": "mild augmentation (yaw ±45°, pitch ±10°, speed 0.5-1.6, 2-4 m)"}
STAGE_TITLES = {"baseline": "CE", "kd": "KD (CE + part KD from a 3D teacher)"}


def variant_name(cfg_name: str, variant: str) -> str:
    return cfg_name if variant == "aug" else f"{cfg_name}_{variant}"


def unit_command(variant: str, fold: str, stage: str, seed: int, sets: Sequence[str], name: str,
                 teacher: Path | None) -> list[str]:
    over = [*sets, *VARIANTS[variant], f"name={variant_name(name, variant)}"]
    cmd = [sys.executable, "-m", "train.everyday_multiset", "--stage", stage, "--leave-out", fold, "--seed", str(seed),
           "--validation", "0.15", "--set", *over]
    return cmd + (["--teacher", str(teacher)] if teacher else [])


def run_units(units: list[tuple[list[str], Path, Path]], jobs: int) -> list[str]:
    """Each ``(command, checkpoint, log)`` whose checkpoint is missing, ``jobs`` at once → the failures."""
    todo = [u for u in units if not u[1].exists()]
    failed: list[str] = []

    def one(unit: tuple[list[str], Path, Path]) -> None:
        cmd, ckpt, log = unit
        log.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        with open(log, "w") as f:
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO,
                                 env={**os.environ, "PARTKD_PROGRESS": "0"})
        print(f"{'done' if rc == 0 else f'FAILED ({rc})'} in {(time.time() - t0) / 60:.1f} min: {ckpt}  (log {log})",
              flush=True)
        if rc != 0:
            failed.append(str(ckpt))
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(one, todo))
    return failed


def cmd_run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.set)
    out = Path(cfg.out)
    folds, seeds, stages = args.folds.split(","), [int(s) for s in args.seeds.split(",")], args.stages.split(",")
    teachers, students = [], []
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            raise ConfigError(f"--variants: unknown {variant!r}; known: {', '.join(VARIANTS)}")
        for fold in folds:
            run = out / variant_name(cfg.name, variant) / f"lodo_{fold}"
            teacher = run / "seed0" / "teacher.pt"
            if "kd" in stages:
                teachers.append((unit_command(variant, fold, "teacher", 0, args.set, cfg.name, None), teacher,
                                 run / "seed0" / "teacher.log"))
            for seed in seeds:
                for stage in stages:
                    students.append((unit_command(variant, fold, stage, seed, args.set, cfg.name,
                                                  teacher if stage == "kd" else None),
                                     run / f"seed{seed}" / f"{stage}.pt", run / f"seed{seed}" / f"{stage}.log"))
    print(f"{len(teachers)} teachers, {len(students)} students ({sum(not u[1].exists() for u in teachers + students)} "
          f"to train), {args.jobs} at once", flush=True)
    failed = run_units(teachers, args.jobs)
    failed += run_units([u for u in students if "kd" not in u[1].name or Path(u[0][-1]).exists()], args.jobs)
    if failed:
        print(f"everyday_lodo: {len(failed)} units failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def judged(ckpt: Path, fold: str, data: dict[str, str], every: int, cache: Path, loop_to: float = 0.0
           ) -> dict[str, Any]:
    """The left-out row of one model (a checkpoint, or a shipped model's name), kept in ``cache`` while the file is
    unchanged."""
    from partkd_stream.window import presence_rule
    from train.lib.generalisation import lodo_row

    stamp = ckpt.stat().st_mtime if ckpt.exists() else 0.0
    if cache.exists():
        old = json.loads(cache.read_text())
        if old.get("stamp") == stamp and old.get("every") == every and old.get("loop_to", 0.0) == loop_to:
            return old
    row = lodo_row(str(ckpt), fold, data=data, every=every, presence=presence_rule(PRESENCE), loop_to=loop_to)
    res = {"stamp": stamp, "every": every, "loop_to": loop_to, "model": str(ckpt), "fold": fold,
           **{k: row[k] for k in ("clips", "top1", "top1_labels", "unknown", "no_person", "person_share")}}
    write_json(cache, res)
    return res


def cell(rows: list[dict]) -> str:
    """Clip top-1 / top-1 among action labels, % (mean ± population std over seeds, and their number)."""
    if not rows:
        return "–"
    out = []
    for key in ("top1", "top1_labels"):
        v = 100 * np.array([r[key] for r in rows])
        out.append(f"{v.mean():.1f}" if len(v) == 1 else f"{v.mean():.1f} ± {v.std():.1f}")
    return " / ".join(out) + (f" ({len(rows)})" if len(rows) > 1 else "")


def cmd_table(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.set)
    runs, out = Path(args.runs), Path(args.out)
    data = {d: str(p) for d in FOLDS if (p := Path(args.root) / f"{d}.npz").is_file()}
    results: dict[tuple[str, str], dict[str, list[dict]]] = {}
    for variant in VARIANTS:
        for fold in FOLDS:
            for ckpt in sorted((runs / variant_name(cfg.name, variant) / f"lodo_{fold}").glob("seed*/*.pt")):
                stage = ckpt.stem
                if stage not in STAGE_TITLES:
                    continue
                res = judged(ckpt, fold, data, args.every, out / "judged" / variant / fold / ckpt.parent.name /
                             f"{stage}.json", args.loop_to)
                results.setdefault((variant, stage), {}).setdefault(fold, []).append(res)
                print(f"{variant:<6} {stage:<8} {fold:<11} {ckpt.parent.name}: top-1 {100 * res['top1']:.1f} % "
                      f"({res['clips']} clips)", flush=True)
    if args.old:
        old_path = Path(args.old)
        for fold in FOLDS:
            if fold == "utd_mhad":
                continue                                    # it trained on UTD-MHAD
            res = judged(old_path, fold, data, args.every, out / "judged" / "old" / f"{fold}.json", args.loop_to)
            results.setdefault(("old", "old"), {}).setdefault(fold, []).append(res)
    titles = {("old", "old"): f"`{args.old}` (trained on UTD-MHAD alone: the other three datasets are left out)"}
    lines = []
    for (variant, stage), per_fold in sorted(results.items(), key=lambda kv: (kv[0][0] != "old", kv[0])):
        title = titles[(variant, stage)] if (variant, stage) in titles else \
            f"{STAGE_TITLES[stage]}, {VARIANT_TITLES[variant]}"
        lines.append([title, *[cell(per_fold.get(f, [])) for f in FOLDS]])
    head = ["left out → clip top-1 / top-1 among action labels, % (mean ± std, seeds)", *FOLDS]
    text = (f"Leave one dataset out: trained on the other three, judged on every clip of the left-out dataset whose "
            f"class the model has (`train.lib.generalisation.lodo_row`, in-distribution profile, `{PRESENCE}` presence)"
            f"{f', every {args.every}th clip' if args.every > 1 else ''}"
            f"{f', clips shorter than {args.loop_to:g} s played repeated to that length' if args.loop_to else ''}.\n\n")
    text += markdown_table(head, lines, ["---"] + ["---:"] * len(FOLDS))
    write_text(out / "lodo.md", text)
    write_json(out / "lodo.json", {f"{v}/{s}": pf for (v, s), pf in results.items()})
    print(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.studies.everyday_lodo", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train the leave-one-dataset-out units")
    r.add_argument("--folds", default=",".join(FOLDS))
    r.add_argument("--seeds", default="0,1,2")
    r.add_argument("--stages", default="baseline,kd")
    r.add_argument("--variants", default="aug,noaug")
    r.add_argument("--jobs", type=int, default=2)
    t = sub.add_parser("table", help="judge every trained unit on its left-out dataset and tabulate")
    t.add_argument("--runs", default="runs", help="the config's out folder the units were trained into")
    t.add_argument("--root", default="runs/cache", help="folder of train.prepare caches <dataset>.npz (else the "
                                                        "shared data's raw folders)")
    t.add_argument("--old", default="engines/everyday_student.onnx", help="a UTD-MHAD-only model to compare (default: the shipped one; '' for none)")
    t.add_argument("--every", type=int, default=1, help="every K-th clip of the left-out dataset")
    t.add_argument("--loop-to", type=float, default=0.0, metavar="S", help="play a clip shorter than S seconds "
                   "repeated to that length (generalise --loop-to)")
    t.add_argument("--out", default="runs/everyday_lodo")
    for p in (r, t):
        p.add_argument("--config", default=str(CONFIG))
        p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    try:
        return cmd_run(args) if args.cmd == "run" else cmd_table(args)
    except (ConfigError, ValueError, OSError) as e:
        print(f"everyday_lodo: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
