"""Judge a model as a stream: labelled videos or skeleton files → events, false alarms, delay, per-frame accuracy.

    python -m train.evaluate_stream --annotations labels.yaml [--root DIR] [--model penn|FILE]
        [--every 0.2 --smooth 4 --threshold 0.5] [--reject reject.json] [--presence PRESET|JSON] [--cache DIR]
        [--json result.json] [--markdown result.md]

The annotation file (``train.lib.annotations`` has its format) names videos or skeleton files and when each labelled
action happens; ``--root`` overrides where its relative paths start. Every input is streamed through the real
``Recognizer`` (window, model, smoothing, events) with the given settings; videos through MediaPipe as
``partkd-stream --video`` does (``--cache DIR`` keeps the skeletons). What is counted — events, event precision and
recall, false events per minute of footage without a known action, delay, per-frame accuracy — is in
``train.lib.stream_eval``.

The model's reject is the card's (``partkd_stream.reject``: a ``background`` class is never an action, a rejected
window's mass goes to the unknown share); ``--reject FILE`` judges the model with another one instead (a
``reject_<score>.json`` of ``train.studies.reject_study measure``), exactly as the runtime would apply it from the
card.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.evaluate_stream`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

from partkd_stream.backends import BACKEND_CHOICES
from partkd_stream.card import CardMismatch
from partkd_stream.reject import Reject, RejectError
from train.lib.annotations import AnnotationError, load_annotations
from train.lib.stream_eval import evaluate, markdown, with_reject


def main(argv: Optional[Sequence[str]] = None) -> int:
    from partkd_stream.recognizer import DEFAULT_EVERY_S, DEFAULT_SMOOTH, DEFAULT_THRESHOLD, MAX_EVERY_S

    p = argparse.ArgumentParser(prog="python -m train.evaluate_stream", description=__doc__.split("\n\n")[0])
    p.add_argument("--annotations", required=True, metavar="FILE", help="YAML/JSON: inputs and their segments")
    p.add_argument("--root", metavar="DIR", help="folder the inputs' relative paths start from (default: the "
                   "file's 'root', else its folder)")
    p.add_argument("--model", help="model (.onnx with card, or .pt); default: the shipped model")
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    p.add_argument("--threads", type=int, default=1, help="CPU threads for the model (default %(default)s)")
    p.add_argument("--every", type=float, default=DEFAULT_EVERY_S, metavar="SECONDS",
                   help="predict every SECONDS of stream time (default %(default)s)")
    p.add_argument("--smooth", type=int, default=DEFAULT_SMOOTH)
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    p.add_argument("--reject", metavar="JSON", help="judge the model with this reject (partkd_stream.reject.Reject) "
                   "instead of its card's")
    p.add_argument("--presence", metavar="PRESET|JSON", help="judge with this presence rule instead of the card's: "
                   "full_body, upper_body or a JSON object of partkd_stream.window.PresenceRule fields")
    p.add_argument("--cache", metavar="DIR", help="keep MediaPipe skeletons of videos here and reuse them")
    p.add_argument("--json", metavar="FILE", help="write the full result as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the table as markdown")
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    from partkd_stream.backends import ModelLoadError, load_model
    from partkd_stream.recognizer import Recognizer
    from partkd_stream.sources import SourceError
    from partkd_stream.window import presence_rule

    try:
        if not 0 < args.every <= MAX_EVERY_S or args.smooth < 1 or not 0.0 <= args.threshold <= 1.0:
            raise AnnotationError(f"--every must be in (0, {MAX_EVERY_S:g}] s, --smooth ≥ 1 and --threshold in [0, 1]")
        try:
            presence = presence_rule(args.presence) if args.presence else None
        except (TypeError, ValueError) as e:
            raise AnnotationError(f"--presence: {e}") from None
        inputs = load_annotations(args.annotations, args.root)
        model = load_model(args.model, backend=args.backend, threads=args.threads)
        if args.reject:
            model = with_reject(model, Reject.load(args.reject))
        actions = model.card.open_set.actions
        result = evaluate(inputs, lambda: Recognizer(model, every=args.every, smooth=args.smooth,
                                                     threshold=args.threshold, presence=presence), actions,
                          Path(args.cache) if args.cache else None)
    except (AnnotationError, ModelLoadError, CardMismatch, SourceError, RejectError, OSError) as e:
        print(f"evaluate_stream: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    reject = model.card.reject
    result["settings"] = {"model": str(args.model or "default"), "every_s": args.every, "smooth": args.smooth,
                          "threshold": args.threshold, "reject": reject.to_dict() if reject else None,
                          "reject_from": args.reject or ("card" if reject else None),
                          "presence": args.presence or "card",
                          "annotations": args.annotations}
    table = markdown(result)
    print(table, end="")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
