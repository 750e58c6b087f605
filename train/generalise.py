"""The generalisation benchmark: a model's clips streamed through the real Recognizer under one input shift per row.

    python -m train.generalise --model everyday|penn|FILE [--dataset NAME | --lodo NAME] [--rows a,b,…]
        [--data NAME=PATH …] [--every K] [--filter KEY=V1,V2] [--presence PRESET|JSON]
        [--degradation calibrated|FILE] [--severity S] [--test-seed N] [--out DIR] [--list-rows]

``--model``: a shipped model's name, a ``.onnx`` with its card, or a checkpoint ``.pt``. The data: the model's
training dataset (``--dataset`` another one), its test split; ``--lodo NAME``: every clip of a dataset the model
never saw, its actions through the everyday vocabulary. ``--data NAME=PATH``: where a dataset is (its raw folder or
a ``train.prepare`` cache; default its folder in the shared data). Rows, what is counted and the leave-one-dataset-out
interface: ``train.lib.generalisation``. Writes ``generalisation.md`` and ``generalisation.json`` into ``--out``
(default ``runs/generalise/<model>``) after every row, so an interrupted run keeps its rows.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.generalise`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from train.datasets import DATASETS, DatasetError, load_dataset, load_samples
from train.datasets.vocabulary import load_vocabulary
from train.lib.degrade import DegradeConfig
from train.lib.generalisation import Condition, combine, default_rows, eval_set, run_row, standard_rows, table
from train.lib.paths import REPO, dataset_dir, resolve_root
from train.lib.reporting import write_json, write_text
from train.lib.shifts import measure_proportions


class UsageError(ValueError):
    """A bad option or input: one line, exit code 1."""


def parse_pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"{what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def load(name: str, paths: dict[str, str], protocol: Optional[str] = None):
    """A dataset from ``--data NAME=PATH`` (raw folder or cache) or its folder in the shared data."""
    if name not in DATASETS:
        raise UsageError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    path = resolve_root(paths[name]) if name in paths else dataset_dir(name)
    if path.is_file():
        return load_samples(path)
    return load_dataset(name, path, protocol=protocol)


def profile_of(data: dict[str, Any], args: argparse.Namespace) -> tuple[DegradeConfig, str, int]:
    """The in-distribution profile: the card's ``training.data`` unless the options say otherwise."""
    deg = args.degradation or data.get("degradation")
    sev = args.severity if args.severity is not None else data.get("severity")
    if deg is None or sev is None:
        raise UsageError("the model's card names no training degradation; give --degradation and --severity")
    cfg = DegradeConfig.from_calibration() if deg == "calibrated" else DegradeConfig.from_calibration(resolve_root(deg))
    seed = args.test_seed if args.test_seed is not None else int(data.get("test_seed", 20240429))
    return cfg.scaled(float(sev)), f"`{Path(str(deg)).name}` × severity {float(sev):g}", seed


def main(argv: Optional[Sequence[str]] = None) -> int:
    from partkd_stream.recognizer import DEFAULT_SMOOTH, DEFAULT_STRIDE, DEFAULT_THRESHOLD

    p = argparse.ArgumentParser(prog="python -m train.generalise", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="everyday, penn, a .onnx with its card or a .pt checkpoint")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--dataset", help="judge on this dataset's test split (default: the model's training dataset)")
    where.add_argument("--lodo", metavar="DATASET", help="leave one dataset out: every clip of this dataset whose "
                       "vocabulary class the model has")
    p.add_argument("--rows", help="comma-separated row names, a+b for both at once (default: all; --lodo: "
                   "in_distribution,clean)")
    p.add_argument("--list-rows", action="store_true", help="print the rows for this model and data, and exit")
    p.add_argument("--data", action="append", default=[], metavar="NAME=PATH",
                   help="where dataset NAME is (raw folder or train.prepare cache); repeatable")
    p.add_argument("--every", type=int, default=1, metavar="K", help="every K-th clip (in id order)")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=V1,V2",
                   help="only clips whose meta KEY is one of the values (e.g. trial=1,2 or pose=front)")
    p.add_argument("--presence", metavar="PRESET|JSON", help="judge with this presence rule instead of the card's")
    p.add_argument("--degradation", help="in-distribution profile: calibrated or a calibration JSON (default: card)")
    p.add_argument("--severity", type=float, help="its severity (default: the card's)")
    p.add_argument("--test-seed", type=int, help="seed of the clips' noise (default: the card's test_seed)")
    p.add_argument("--backend", default="auto", choices=("auto", "tensorrt", "onnxruntime", "pytorch"))
    p.add_argument("--out", metavar="DIR", help="where to write generalisation.md/.json (default runs/generalise/…)")
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    from partkd_stream.backends import ModelLoadError, load_model
    from partkd_stream.card import CardMismatch
    from partkd_stream.window import presence_rule

    t_start = time.perf_counter()
    try:
        if args.every < 1:
            raise UsageError("--every must be ≥ 1")
        paths = parse_pairs(args.data, "--data")
        filters = {k: v.split(",") for k, v in parse_pairs(args.filter, "--filter").items()}
        try:
            presence = presence_rule(args.presence) if args.presence else None
        except (TypeError, ValueError) as e:
            raise UsageError(f"--presence: {e}") from None
        model = load_model(args.model, backend=args.backend, threads=1)
        card = model.card
        training = card.training or {}
        data = training.get("data") or {}
        trained_on = training.get("dataset") or data.get("dataset")
        name = args.lodo or args.dataset or trained_on
        if not name:
            raise UsageError(f"model {card.name!r}: its card names no training dataset; pass --dataset or --lodo")
        info, samples = load(name, paths, data.get("protocol") if name == trained_on and not args.lodo else None)
        vocab = load_vocabulary()
        es = eval_set(card.open_set.actions, info, samples, vocab, lodo=bool(args.lodo), training_dataset=trained_on,
                      every=args.every, where=filters)
        three_d = es.clips[0].data.shape[-1] == 4
        views = sorted({str(s.meta["pose"]) for s in es.clips if s.meta.get("pose")})
        src_fps = float(np.median([s.fps for s in es.clips]))
        rows = standard_rows(three_d, src_fps, views)
        if args.list_rows:
            for r in rows:
                print(f"{r.name:<18} {r.what}")
            return 0
        names = args.rows.split(",") if args.rows else default_rows(rows, src_fps, bool(args.lodo))
        try:
            chosen = [combine(n, rows) for n in names]
        except ValueError as e:
            raise UsageError(f"--rows: {e}") from None
        profile, profile_text, seed = profile_of(data, args)
        cond = Condition(profile, profile_text, seed, card.preprocess.layout, presence)
        bodies: dict[str, Any] = {}

        def body(other: str):
            if other not in bodies:
                oinfo, oclips = load(other, paths)
                bodies[other] = (measure_proportions([s.data for s in oclips], oinfo.layout, other),
                                 measure_proportions([s.data for s in es.reference], info.layout, info.name))
            return bodies[other]
        for r in chosen:
            if r.body:
                body(r.body)                                      # a missing dataset fails now, not mid-run
    except (UsageError, DatasetError, ModelLoadError, CardMismatch, OSError, ValueError) as e:
        print(f"generalise: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1

    opts = ["--model", args.model] + (["--lodo", args.lodo] if args.lodo else []) + \
        (["--dataset", args.dataset] if args.dataset else [])
    opts += [x for k, v in paths.items() for x in ("--data", f"{k}={v}")]
    opts += (["--every", str(args.every)] if args.every > 1 else []) + \
        [x for f in args.filter for x in ("--filter", f)] + \
        (["--presence", args.presence] if args.presence else []) + \
        [x for k in ("degradation", "severity", "test_seed") if getattr(args, k) is not None
         for x in (f"--{k.replace('_', '-')}", str(getattr(args, k)))]
    command = shlex.join(["python", "-m", "train.generalise", *opts])
    out = Path(args.out) if args.out else REPO / "runs" / "generalise" / (
        card.name + (f"_lodo_{args.lodo}" if args.lodo else ""))
    result: dict[str, Any] = {
        "settings": {"model": args.model, "model_name": card.name, "dataset": info.name, "mode":
                     "lodo" if args.lodo else "test", "selection": es.selection, "profile": profile_text,
                     "test_seed": seed, "stride": DEFAULT_STRIDE, "smooth": DEFAULT_SMOOTH,
                     "threshold": DEFAULT_THRESHOLD,
                     "presence": presence.describe() if presence else (card.presence_rule.describe() +
                                                                        " (the card's)"),
                     "command": command, "machine": f"{os.cpu_count()} CPU cores, {model.backend.name}"},
        "rows": [], "seconds": 0.0}
    print(f"{card.name} on {info.name}: {len(es.clips)} clips ({es.selection}); {len(chosen)} rows → {out}",
          flush=True)
    for row in chosen:
        res = run_row(model, es, row, cond, body)
        res["command"] = f"{command} --rows {row.name}"
        result["rows"].append(res)
        result["seconds"] = round(time.perf_counter() - t_start, 1)
        write_json(out / "generalisation.json", result)
        write_text(out / "generalisation.md", table(result))
        print(f"  {row.name:<18} {res['clips']:>5} clips  top-1 {100 * res['top1']:5.1f} %  labels-only "
              f"{100 * res['top1_labels']:5.1f} %  unknown {100 * res['unknown']:5.1f} %  person "
              f"{100 * res['person_share']:5.1f} %  {res['seconds']:.0f} s", flush=True)
    print(table(result), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
