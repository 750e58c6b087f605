"""The generalisation benchmark: a model's clips streamed through the real Recognizer under one input shift per row.

    python -m train.generalise --model everyday|penn|FILE [--dataset NAME | --lodo NAME] [--rows a,b,…]
        [--data NAME=PATH …] [--every K] [--filter KEY=V1,V2] [--presence PRESET|JSON] [--loop-to S]
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
import shlex
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from partkd_stream.backends import BACKEND_CHOICES
from train.datasets import DatasetError
from train.lib.generalisation import prepare, run, table
from train.lib.paths import REPO
from train.lib.reporting import write_json, write_text


def parse_pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
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
    p.add_argument("--loop-to", type=float, default=0.0, metavar="S", help="play a clip shorter than S seconds "
                   "again from its start until it lasts S seconds (default: once)")
    p.add_argument("--degradation", help="in-distribution profile: calibrated or a calibration JSON (default: card)")
    p.add_argument("--severity", type=float, help="its severity (default: the card's)")
    p.add_argument("--test-seed", type=int, help="seed of the clips' noise (default: the card's test_seed)")
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    p.add_argument("--out", metavar="DIR", help="where to write generalisation.md/.json (default runs/generalise/…)")
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    from partkd_stream.backends import ModelLoadError
    from partkd_stream.card import CardMismatch
    from partkd_stream.window import presence_rule

    try:
        paths = parse_pairs(args.data, "--data")
        filters = {k: v.split(",") for k, v in parse_pairs(args.filter, "--filter").items()}
        try:
            presence = presence_rule(args.presence) if args.presence else None
        except (TypeError, ValueError) as e:
            raise ValueError(f"--presence: {e}") from None
        setup = prepare(args.model, dataset=args.dataset, lodo=args.lodo, data=paths, every=args.every,
                        where=filters, presence=presence, degradation=args.degradation, severity=args.severity,
                        test_seed=args.test_seed, loop_to=args.loop_to, backend=args.backend)
        if args.list_rows:
            for r in setup.rows:
                print(f"{r.name:<18} {r.what}")
            return 0
        names = args.rows.split(",") if args.rows else setup.defaults
        try:
            chosen = [setup.row(n) for n in names]
        except ValueError as e:
            raise ValueError(f"--rows: {e}") from None
        for r in chosen:
            if r.body:
                setup.body(r.body)                    # a missing dataset fails now, not mid-run
    except (DatasetError, ModelLoadError, CardMismatch, OSError, ValueError) as e:
        print(f"generalise: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1

    opts = ["--model", args.model] + (["--lodo", args.lodo] if args.lodo else []) + \
        (["--dataset", args.dataset] if args.dataset else [])
    opts += [x for k, v in paths.items() for x in ("--data", f"{k}={v}")]
    opts += (["--every", str(args.every)] if args.every > 1 else []) + [x for f in args.filter for x in ("--filter", f)]
    opts += (["--presence", args.presence] if args.presence else []) + \
        (["--loop-to", f"{args.loop_to:g}"] if args.loop_to else []) + \
        [x for k in ("degradation", "severity", "test_seed") if getattr(args, k) is not None
         for x in (f"--{k.replace('_', '-')}", str(getattr(args, k)))]
    command = shlex.join(["python", "-m", "train.generalise", *opts])
    setup.settings.update(model=args.model, command=command)
    out = Path(args.out) if args.out else REPO / "runs" / "generalise" / (
        setup.settings["model_name"] + (f"_lodo_{args.lodo}" if args.lodo else ""))
    print(f"{setup.settings['model_name']} on {setup.info.name}: {len(setup.es.clips)} clips ({setup.es.selection}); "
          f"{len(names)} rows → {out}", flush=True)

    def written(result: dict[str, Any]) -> None:
        res = result["rows"][-1]
        res["command"] = f"{command} --rows {res['name']}"
        write_json(out / "generalisation.json", result)
        write_text(out / "generalisation.md", table(result))
        print(f"  {res['name']:<18} {res['clips']:>5} clips  top-1 {100 * res['top1']:5.1f} %  labels-only "
              f"{100 * res['top1_labels']:5.1f} %  unknown {100 * res['unknown']:5.1f} %  person "
              f"{100 * res['person_share']:5.1f} %  {res['seconds']:.0f} s", flush=True)

    print(table(run(setup, names, written)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
