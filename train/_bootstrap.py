"""Makes ``python train/X.py …`` behave as ``python -m train.X …``: a command run as a file imports this first.

Run as a file, a command's folder (``train/``) heads ``sys.path``, where its own package is not importable and its
subfolders would shadow top-level packages (``datasets``). Importing this module puts the repository root there
instead and runs the command again under its module name (``train.X``, ``train.studies.Y``), then exits with its
status — so both spellings run the same code the same way, from the repository root or from any other folder.
A command's guard::

    if __package__ in (None, ""):  # run as a file: the same as `python -m train.X` (train/_bootstrap.py)
        import _bootstrap  # noqa: F401

(a study, one folder down, first puts ``train/`` on ``sys.path``: ``sys.path[0] = str(Path(__file__).parents[1])``).
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run_main_as_module() -> None:
    script = Path(sys.modules["__main__"].__file__).resolve()
    module = ".".join(script.relative_to(REPO).with_suffix("").parts)
    sys.path[0] = str(REPO)
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    sys.exit(0)


_run_main_as_module()
