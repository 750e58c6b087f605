"""Reproduce a shipped model end to end: prepare the data, train, build the engine, run its checks — one command.

    python -m train.recipe penn     [--shared DATA] [--out runs/recipes/penn] [--engines DIR] [--device auto]
    python -m train.recipe everyday [--shared DATA] [--out runs/recipes/everyday] [--engines DIR] [--dry-run]

Each step is an ordinary command, printed before it runs (``$ python -m train.…``), so any one can be rerun or
changed by hand. **penn** (``engines/penn_student.*``, the open-set Penn Action student): MediaPipe's poses on
the empty pool video → the Penn Action cache → ``openset_train train --variant bg_look_kin`` → ``build_engine``
→ the stream checks (the out-of-vocabulary real videos, generated idle people, the demo). **everyday**
(``engines/everyday_student.*``, UTD-MHAD's 27 actions at a desk webcam, trained with the input shifts of real use):
``everyday_multiset --config train/configs/everyday_augmented.yaml`` → ``build_engine --presence upper_body`` → the
checks (the generalisation rows, unseen actions, the upper-body demo).

The engine goes to ``--engines`` (default ``<out>/engines``: the shipped files in ``engines/`` stay untouched;
``--engines engines`` replaces them). Penn's training step runs with ``--resume``: the same command after an
interruption continues (the everyday one, 15 minutes, starts over). At the end the new card's test accuracy is printed
beside the shipped card's. Exit code: the first failing step's.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.recipe`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from partkd_stream.signals import exit_code, terminate_as_interrupt
from train.lib.config import DEVICES
from train.lib.paths import REPO, shared_data
from train.lib.reporting import markdown_table

Step = tuple[str, list[str]]   # (what it does, the command line after the Python interpreter)


def penn_steps(shared: Path, out: Path, engines: Path, device: str) -> list[Step]:
    model = engines / "penn_student.onnx"
    checks = [["-m", "train.evaluate_stream", "--annotations", str(a), "--model", str(model), *extra]
              for a, extra in ((REPO / "train/eval/oov_videos.yaml", ["--root", str(shared), "--cache",
                                                                        str(out / "skeletons")]),
                               (out / "idle" / "idle.yaml", []), (REPO / "train/eval/demo.yaml", []))]
    return [
        ("MediaPipe's poses on the empty pool video (negatives: what MediaPipe reports without a person)",
         ["-m", "partkd_stream.cli", "extract", str(shared / "videos" / "no_person_pool.mp4"), "--out",
          str(out / "pool"), "--max-width", "0"]),
        ("Penn Action as the cached training file",
         ["-m", "train.prepare", "--dataset", "penn_action", "--root", str(shared / "penn_action" / "labels"),
          "--out", str(out / "penn_action.npz")]),
        ("the open-set student: Penn's actions + a background class, validated, its offset folded in",
         ["-m", "train.openset_train", "train", "--variant", "bg_look_kin", "--root", str(out / "penn_action.npz"),
          "--shared", str(shared), "--pool", str(out / "pool" / "no_person_pool.npz"), "--out", str(out),
          "--device", device, "--resume"]),
        ("ONNX + model card, checked against PyTorch",
         ["-m", "train.build_engine", "--checkpoint", str(out / "bg_look_kin" / "student.pt"), "--name",
          "penn_student", "--out-dir", str(engines)]),
        ("check: real videos without a Penn action (any event is false)", checks[0]),
        ("generated idle people as MediaPipe streams", ["-m", "train.studies.reject_study", "idle-streams", "--out",
                                                         str(out / "idle")]),
        ("check: idle people (any event is false)", checks[1]),
        ("check: the demo stream (jumping jacks, jump rope)", checks[2]),
    ]


def everyday_steps(shared: Path, out: Path, engines: Path, device: str) -> list[Step]:
    config = REPO / "train/configs/everyday_augmented.yaml"
    ckpt = out / "everyday_augmented" / "all" / "seed0" / "baseline.pt"
    return [
        ("the everyday student: UTD-MHAD's 27 actions + a background class, every input shift as augmentation "
         "(the background offset chosen on 15 % of the training clips held out)",
         ["-m", "train.everyday_multiset", "--config", str(config), "--stage", "baseline", "--seed", "0", "--out",
          str(out), "--set", f"multiset.root={shared}", f"train.device={device}"]),
        ("ONNX + model card (upper-body presence rule), checked against PyTorch",
         ["-m", "train.build_engine", "--checkpoint", str(ckpt), "--name", "everyday_student", "--presence",
          "upper_body", "--out-dir", str(engines)]),
        ("check: the generalisation rows (UTD-MHAD's test subjects under each input shift)",
         ["-m", "train.generalise", "--model", str(ckpt), "--dataset", "utd_mhad", "--data",
          f"utd_mhad={shared / 'utd_mhad' / 'skeleton'}", "--out", str(out / "generalise")]),
        ("check: actions it never saw (NTU, NW-UCLA), windows and streams",
         ["-m", "train.studies.everyday_openset", "--model", str(ckpt), "--root", str(shared / "utd_mhad" / "skeleton"),
          "--shared", str(shared), "--out", str(out / "openset")]),
        ("check: unseen actions as streams (any event is false)",
         ["-m", "train.evaluate_stream", "--annotations", str(out / "openset" / "streams.yaml"), "--model",
          str(engines / "everyday_student.onnx")]),
        ("check: the upper-body demo (wave, clap; hips below the image)",
         ["-m", "train.evaluate_stream", "--annotations", str(REPO / "train/eval/upper_body_demo.yaml"), "--model",
          str(engines / "everyday_student.onnx")]),
    ]


RECIPES = {"penn": ("penn_student", penn_steps), "everyday": ("everyday_student", everyday_steps)}


def shown(argv: list[str]) -> str:
    """A step as a person would type it at the repository root (where the steps run)."""
    argv = [a.removeprefix(f"{REPO}/") for a in argv]
    if argv[:2] == ["-m", "partkd_stream.cli"]:
        return shlex.join(["partkd-stream", *argv[2:]])
    return shlex.join(["python", *argv])


def compare_cards(new: Path, shipped: Path) -> str:
    """The new card's test accuracy beside the shipped card's."""
    def test(card: Path) -> dict:
        return json.loads(card.read_text()).get("metrics", {}).get("test", {}) if card.is_file() else {}

    a, b = test(new), test(shipped)
    rows = [[label, f"{100 * a[k]:.1f}" if k in a else "–", f"{100 * b[k]:.1f}" if k in b else "–"]
            for k, label in (("top1", "clip top-1 %"), ("top5", "clip top-5 %"), ("stream_top1", "streaming top-1 %"))]
    return markdown_table(["test set (the card's)", f"rebuilt ({new})", f"shipped ({shipped})"], rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.recipe", description=__doc__.split("\n\n")[0])
    ap.add_argument("model", choices=sorted(RECIPES), help="which shipped model to reproduce")
    ap.add_argument("--shared", default=str(shared_data()),
                    help="the shared data folder (default: $PARTKD_SHARED_DATA, else ../shared/data)")
    ap.add_argument("--out", help="working folder (default: runs/recipes/<model>)")
    ap.add_argument("--engines", help="where the built model goes (default: <out>/engines; 'engines' replaces the "
                                      "shipped one)")
    ap.add_argument("--device", default="auto", choices=DEVICES, help="training device")
    ap.add_argument("--dry-run", action="store_true", help="print the steps, run nothing")
    args = ap.parse_args(argv)
    shared = Path(args.shared).expanduser().resolve()
    out = Path(args.out or f"runs/recipes/{args.model}").resolve()
    engines = Path(args.engines).resolve() if args.engines else out / "engines"
    name, steps_of = RECIPES[args.model]
    steps = steps_of(shared, out, engines, args.device)
    if not args.dry_run and not shared.is_dir():
        print(f"recipe: error: {shared}: no shared data folder; pass --shared or set PARTKD_SHARED_DATA",
              file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.time()
    with terminate_as_interrupt():
        for k, (what, cmd) in enumerate(steps, 1):
            print(f"\n[{k}/{len(steps)}] {what}\n$ {shown(cmd)}", flush=True)
            if args.dry_run:
                continue
            t0 = time.time()
            try:
                rc = subprocess.run([sys.executable, *cmd], cwd=REPO).returncode
            except KeyboardInterrupt as e:   # the step got the signal too (same process group) and checkpointed
                print(f"recipe: interrupted in step {k}; the same command continues", file=sys.stderr)
                return exit_code(e)
            print(f"[{k}/{len(steps)}] {'done' if rc == 0 else f'FAILED (exit {rc})'} in {time.time() - t0:.0f} s",
                  flush=True)
            if rc != 0:
                print(f"recipe: error: step {k} failed: {shown(cmd)}", file=sys.stderr)
                return rc
    if not args.dry_run:
        print(f"\n{args.model}: {len(steps)} steps in {(time.time() - t_all) / 60:.1f} min\n")
        print(compare_cards(engines / f"{name}.card.json", REPO / "engines" / f"{name}.card.json"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
