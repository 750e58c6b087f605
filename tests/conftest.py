"""Shared test helpers. Real-data tests use the shared data folder (``$PARTKD_SHARED_DATA``, else
``../shared/data`` beside the repository) and skip cleanly when it is absent."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from train.lib.paths import REPO, shared_data

SHARED_DATA = shared_data()
# config overrides (``--set``) for training runs that take seconds: tiny teacher and student, short windows
TINY = ["model.teacher={channels: [16, 16], strides: [1, 2], temporal_kernel: 3, embed_dim: 16}",
        "model.student={channels: [8, 16], strides: [2, 1], temporal_kernel: 3, embed_dim: 16}",
        "train.batch_size=8", "train.queue_size=4", "train.threads=1", "data.window=16", "data.fps=15",
        "train.student_steps=null"]  # students train train.epochs_student epochs
__all__ = ["REPO", "SHARED_DATA", "TINY", "run_demo", "shared_path"]


def shared_path(*parts: str) -> Path:
    """Path under the shared data folder; skips the calling test when it does not exist."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not available: {p} (set PARTKD_SHARED_DATA, or put it in ../shared/data)")
    return p


def run_demo(script: str, *args: str) -> subprocess.CompletedProcess:
    """``python demo/SCRIPT ARGS…`` as a user runs it (the installed package, no path tricks); output captured."""
    return subprocess.run([sys.executable, str(REPO / "demo" / script), *args], capture_output=True, text=True)
