"""``partkd-stream``: a thin command line over the package.

``partkd-stream [--camera N | --video PATH… | --skeletons FILE] [options]`` recognises actions;
``partkd-stream extract …`` turns videos into skeleton files; ``partkd-stream bench [NAME]`` measures speed;
``partkd-stream models`` lists the shipped models.
Each mode lives in its own module with a ``main(argv) -> int``; this file only dispatches. Ctrl-C or SIGTERM
while a mode is still loading (importing torch, OpenCV, MediaPipe takes a second or two) ends with one line and
exit 130 / 143, not a traceback.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Optional, Sequence

from .signals import (deferred_interrupts, exit_at_once_on_signal, exit_code, raise_if_interrupted,
                      terminate_as_interrupt)

SUBCOMMANDS = {
    "extract": ("partkd_stream.extract", "extract MediaPipe skeletons from videos (resumable, parallel)"),
    "bench": ("partkd_stream.bench", "benchmarks: model latency per backend, pose and the pipeline, memory"),
    "models": ("partkd_stream.models", "list the shipped models (use one with --model NAME)"),
}
RUN_MODULE = "partkd_stream.app"

USAGE = """usage: partkd-stream [--camera INDEX | --video PATH|DIR|GLOB|URL ... | --skeletons FILE] [options]
       partkd-stream extract VIDEO_OR_DIR ... --out DIR
       partkd-stream bench [pipeline|people|soak|crowd] [--json]
       partkd-stream models [--json]

Recognise human actions from skeletons in real time.

modes:
  --camera INDEX          live webcam: video, skeleton overlay, action label, FPS ('q' quits)
  --video PATH ...        video files, a folder, a glob or a URL: JSON Lines predictions, annotated video
  --skeletons FILE        a recorded keypoint stream (.jsonl or .npz, see partkd_stream/skeleton_io.py)
  extract                 MediaPipe skeletons from videos into .npz files (resumable, parallel workers)
  bench                   latency per backend, throughput, and recognition overhead against the pose estimator;
                          'bench pipeline|people|soak|crowd': the run mode on a video, several people, memory
  models                  the shipped models: actions, input, accuracy, who counts as a person, reject;
                          choose one with --model NAME (default: penn)

run 'partkd-stream MODE --help' (e.g. 'partkd-stream --video x --help', 'partkd-stream bench --help') for options.
"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    if argv[0] in ("-V", "--version"):
        from . import __version__
        print(f"partkd-stream {__version__}")
        return 0
    module, rest = (SUBCOMMANDS[argv[0]][0], argv[1:]) if argv[0] in SUBCOMMANDS else (RUN_MODULE, argv)
    with terminate_as_interrupt("partkd-stream"):
        try:
            try:
                with deferred_interrupts():   # torch, cv2, onnxruntime: their import code prints an exception
                    mod = importlib.import_module(module)
                return int(mod.main(rest) or 0)
            except Exception as e:
                raise_if_interrupted()   # an interrupted import can surface as ImportError
                if isinstance(e, ModuleNotFoundError) and e.name and e.name.startswith("partkd_stream"):
                    print(f"partkd-stream: error: this mode is not available in this build ({e.name})",
                          file=sys.stderr)
                    return 2
                raise
        except KeyboardInterrupt as e:   # the modes handle their own; this is the start-up window
            print("partkd-stream: interrupted", file=sys.stderr)
            return exit_code(e)


def entry() -> None:
    """The console script ``partkd-stream``: ``main``, then exit with its code at once.

    Every file is complete when ``main`` returns; the interpreter's own shutdown (tearing down torch, ONNX Runtime,
    OpenCV) takes a while and resets signal handlers to the default early, so a SIGTERM landing there killed the
    process with a raw −15. A signal between ``main`` and the exit exits with 130 / 143; the exit itself skips the
    slow teardown (``os._exit`` after flushing the console)."""
    code = main()
    exit_at_once_on_signal()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
