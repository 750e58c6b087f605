"""Re-checks on the real Penn Action labels that joint 2 (1-based) is the person's RIGHT shoulder."""
import numpy as np
import pytest
import scipy.io

from conftest import shared_path
from partkd_stream.layouts import get_layout

pytestmark = pytest.mark.realdata


def test_penn_right_shoulder_comes_first():
    labels = shared_path("penn_action", "labels")
    lay = get_layout("penn13")
    rs, ls = lay.index("right_shoulder"), lay.index("left_shoulder")
    votes = {"front": [], "back": []}
    for f in sorted(labels.glob("*.mat")):
        m = scipy.io.loadmat(f, variable_names=["x", "pose"])
        view = str(np.atleast_1d(m["pose"])[0])
        if view in votes:
            x = m["x"]
            # a person facing the camera has their right shoulder on the image's left
            votes[view].append(float(np.median(x[:, rs] < x[:, ls])))
    front, back = np.mean(np.array(votes["front"]) > 0.5), np.mean(np.array(votes["back"]) > 0.5)
    assert len(votes["front"]) > 500 and len(votes["back"]) > 100
    assert front > 0.75, f"front-facing clips: right shoulder image-left in only {front:.0%}"
    assert back < 0.35, f"back-facing clips: right shoulder image-left in {back:.0%}"
