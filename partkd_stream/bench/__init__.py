"""``partkd-stream bench [NAME]``: the benchmarks. Each measures and prints; none asserts a speed (see docs/speed.md).

    partkd-stream bench [options]                  model latency per backend, pose against the raw library, the
                                                   recognition overhead, several people (``recognition``)
    partkd-stream bench pipeline VIDEO             the run mode on a video against the raw pose library
    partkd-stream bench people VIDEO… [--mosaic V] several people on videos: who is found and kept
    partkd-stream bench soak [--video VIDEO]       memory over long runs of the run mode
    partkd-stream bench crowd [--people N]         a crowd of skeletons through the run mode, against one person

Each is also ``python -m partkd_stream.bench.NAME``. ``pose`` holds what the pose timings share: the raw library
calls they are measured against, and passes interleaved so that every arm sees the machine's load alike.
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

BENCHMARKS = {
    "pipeline": "the run mode on a video against the raw pose library (per frame, --profile: per stage)",
    "people": "several people on videos: people found per frame, ids, id switches",
    "soak": "memory over long runs: the run mode's resident memory sampled throughout",
    "crowd": "a crowd of skeletons through the run mode: wall time and memory against one person",
    "cluster": "extract over many videos: the local worker pool against a local Ray instance (needs [ray])",
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in BENCHMARKS:
        return int(importlib.import_module(f"{__name__}.{argv[0]}").main(argv[1:]) or 0)
    from .recognition import main as recognition

    more = "\n".join(f"  {name:<9} {what}" for name, what in BENCHMARKS.items())
    return recognition(argv, epilog=f"more benchmarks ('partkd-stream bench NAME --help'):\n{more}")


def child_env() -> dict[str, str]:
    """The environment of a child ``python -m partkd_stream…`` (the soak and crowd runs): this package first on its
    path, so the child runs the code the parent runs (an editable install, a checkout, a wheel alike)."""
    here = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
