"""Shared test helpers. Real-data tests use the shared data folder (``$PARTKD_SHARED_DATA``, else
``../shared/data`` beside the repository) and skip cleanly when it is absent."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from train.lib.paths import REPO, shared_data

SHARED_DATA = shared_data()
__all__ = ["REPO", "SHARED_DATA", "run_demo", "shared_path"]


def shared_path(*parts: str) -> Path:
    """Path under the shared data folder; skips the calling test when it does not exist."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not available: {p} (set PARTKD_SHARED_DATA, or put it in ../shared/data)")
    return p


def run_demo(script: str, *args: str) -> subprocess.CompletedProcess:
    """``python demo/SCRIPT ARGS…`` as a user runs it (the installed package, no path tricks); output captured."""
    return subprocess.run([sys.executable, str(REPO / "demo" / script), *args], capture_output=True, text=True)
