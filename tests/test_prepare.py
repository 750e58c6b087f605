"""``python -m train.prepare``: an error met while the loader's progress bar is drawn gets a line of its own."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
from fixtures_formats import write_penn_mat
from stream_fixtures import REPO


def test_error_is_not_glued_onto_the_progress_bar(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "labels"
    root.mkdir()
    for i in range(3):
        write_penn_mat(root / f"{i + 1:04d}.mat", rng.uniform(0, 480, (8, 13)), rng.uniform(0, 360, (8, 13)),
                       np.ones((8, 13)), "bowl", 1)
    (root / "0004.mat").write_bytes(b"garbage")          # sorted last: the bar is mid-way when it fails
    r = subprocess.run([sys.executable, "-m", "train.prepare", "--dataset", "penn_action", "--root", str(root),
                        "--out", str(tmp_path / "x.npz")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = re.split(r"[\r\n]", r.stderr)
    errors = [x for x in lines if "error:" in x]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "0004.mat" in errors[0], r.stderr
    assert r.stderr.rstrip("\n").endswith(errors[0])      # the last thing on the console
