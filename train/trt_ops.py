"""Check an ONNX model against TensorRT's documented ONNX operator support, without TensorRT or a GPU.

    python -m train.trt_ops engines/penn_student.onnx

Prints every problem (an unsupported operator, data type or non-constant input) and a count; exit code 0 when the
graph is fine, 1 when it has problems, 2 when the file cannot be read. ``build_engine`` runs the same check.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.trt_ops`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import sys
from typing import Optional, Sequence

from train.lib.trt_ops import check_onnx_ops, load_table


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.trt_ops", description=__doc__.split("\n\n")[0])
    ap.add_argument("model", metavar="MODEL.onnx", help="the ONNX model to check")
    args = ap.parse_args(argv)
    try:
        problems = check_onnx_ops(args.model)
    except Exception as e:  # any unreadable file: one line, not a traceback
        print(f"trt_ops: error: {args.model}: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
              file=sys.stderr)
        return 2
    table = load_table()
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s) against TensorRT {table['tensorrt']} ONNX operator support ({table['pin']})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
