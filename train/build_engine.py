"""Turn a trained checkpoint into what the runtime ships: ONNX + model card (+ TensorRT plan, + Triton repository).

    python -m train.build_engine --checkpoint runs/penn_action/seed0/student_kd.pt [--name penn_student]
        [--out-dir engines] [--fp16] [--batch 1,16,256] [--triton-repo engines/triton] [--parity-data FILE.npz]
        [--reject reject.json] [--presence upper_body|full_body|JSON]

The card's optional ``reject`` (how the model says "none of these") and ``presence`` (which joints a frame must
show) come from ``--reject`` / ``--presence``, else from the checkpoint's ``meta['reject']`` / ``meta['presence']``;
without either the card has none (closed set; the full-body presence rule).

The steps and their checks (ONNX parity with PyTorch on ``--parity-data`` or synthetic skeletons, the TensorRT
operator check, a TensorRT plan where a GPU and ``tensorrt`` are present) are in ``train.lib.engine``; nothing in
``--out-dir`` changes unless every check passed. Errors are one line and exit code 2.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.build_engine`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import sys
from typing import Optional, Sequence

from train.lib.engine import BuildError, build
from train.lib.paths import REPO


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="Export a checkpoint to ONNX + model card (+ TensorRT plan, Triton).")
    ap.add_argument("--checkpoint", required=True, help="a partkd-stream checkpoint (.pt) of the student")
    ap.add_argument("--name", default="penn_student", help="model name: files <name>.onnx, <name>.card.json, ...")
    ap.add_argument("--version", default="1", help="model version recorded in the card")
    ap.add_argument("--out-dir", default=str(REPO / "engines"), help="output folder (default: engines/)")
    ap.add_argument("--opset", type=int, default=17, help="ONNX opset (≥ 17; default 17)")
    ap.add_argument("--fp16", action="store_true", help="TensorRT: allow FP16 kernels")
    ap.add_argument("--batch", default="1,16,256",
                    help="TensorRT profile tops, one profile per range (default 1,16,256)")
    ap.add_argument("--triton-repo", help="also write a Triton model repository here")
    ap.add_argument("--parity-data", help=".npz with 'windows' [N,C,T,V] or a skeleton sequence (skeleton_io)")
    ap.add_argument("--reject", metavar="JSON",
                    help="the card's reject (default: the checkpoint's meta['reject'], if any), e.g. a "
                         "reject_<score>.json of python -m train.studies.reject_study measure")
    ap.add_argument("--presence", metavar="PRESET|JSON",
                    help="who counts as a person for this model: full_body, upper_body or a JSON object of "
                         "partkd_stream.window.PresenceRule fields (default: the checkpoint's meta['presence'], "
                         "else the full-body rule)")
    ap.add_argument("--no-weights", action="store_true",
                    help="do not write <name>.pt (the PyTorch backend's weights) beside the ONNX")
    return ap


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.opset < 17:
        print(f"build_engine: error: --opset {args.opset}: use 17 or newer", file=sys.stderr)
        return 2
    try:
        return build(args)
    except (BuildError, OSError) as e:
        print(f"build_engine: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    except ValueError as e:  # CardMismatch and bad configs
        print(f"build_engine: error: {args.checkpoint}: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
