"""Helpers for the multi-person tests: the two-person demo stream and skeletons moved to chosen places."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def two_people_module():
    """``demo/make_two_people.py`` as a module (registered, so its dataclass resolves)."""
    name = "make_two_people"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "demo" / "make_two_people.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def figure(x: float, y: float = 300.0, scale: float = 1.0, kind: str = "stand", t: float = 0.0,
           score: float = 0.95) -> np.ndarray:
    """``[33, 3]`` demo figure (MediaPipe layout, pixels) with its hips near ``(x, y)``."""
    pose_frame = two_people_module()._figure()
    xy = (pose_frame(kind, t) - [320.0, 300.0]) * scale + [x, y]
    return np.concatenate([xy, np.full((33, 1), score)], 1).astype(np.float32)
