"""NW-UCLA ``all_sqe/*.json`` → samples (``kinect20``, 3D metres, 30 fps, cross-view protocol).

Each file is ``{"file_name": "aAA_sSS_eEE_vVV", "skeletons": [T][20][3], "label": 1..10}`` in Kinect v1 joint
order. The files carry no confidence: every joint gets score 1, except a joint stored as exactly ``(0, 0, 0)``
(Kinect's "not tracked"), which gets score 0. Labels 1..10 become 0..9; the names (a01 … a12, two action
numbers unused) are in ``labels/nw_ucla_classes.txt``. Subject = ``sSS``, view = ``vVV``, ``meta`` keeps the
action number ``aAA`` and the repetition ``eEE``. Kinect v1 runs at ~30 fps.

Protocol ``cross_view`` (the only standard one): views 1 and 2 train, view 3 tests.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .sample import DatasetError, DatasetInfo, Sample, find_files, read_class_names

FPS = 30.0
NAME_RE = re.compile(r"^a(\d+)_s(\d+)_e(\d+)_v(\d+)$")
TRAIN_VIEWS = (1, 2)


def ucla_sample(path: str | Path) -> Sample:
    path = Path(path)
    try:
        with open(path, "r", encoding="utf-8") as f:
            d = json.load(f)
        if not isinstance(d, dict):
            raise DatasetError(f"{path}: the top level must be an object {{file_name, skeletons, label}}, got a "
                               f"{type(d).__name__}")
        name = str(d.get("file_name", path.stem))
        xyz = np.asarray(d["skeletons"], dtype=np.float32)
        label = int(d["label"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"{path}: not a readable NW-UCLA skeleton json ({type(e).__name__}: {e})") from None
    m = NAME_RE.match(name)
    if not m:
        raise DatasetError(f"{path}: file_name {name!r} is not aAA_sSS_eEE_vVV")
    if xyz.ndim != 3 or xyz.shape[1:] != (20, 3) or len(xyz) == 0:
        raise DatasetError(f"{path}: skeletons must be [frames, 20, 3], got {list(xyz.shape)}")
    if not 1 <= label <= 10:
        raise DatasetError(f"{path}: label must be 1..10, got {label}")
    action, subject, rep, view = (int(g) for g in m.groups())
    score = (np.abs(xyz).sum(-1) > 0).astype(np.float32)
    data = np.concatenate([xyz, score[..., None]], axis=-1)
    return Sample(data=data, layout="kinect20", label=label - 1, id=name, fps=FPS,
                  split="train" if view in TRAIN_VIEWS else "test", subject=subject, view=view,
                  meta={"action": action, "repetition": rep})


def load_nw_ucla(root: str | Path, *, protocol: str | None = None,
                 progress: bool = False) -> tuple[DatasetInfo, list[Sample]]:
    """Every ``*.json`` under ``root`` (the ``all_sqe`` folder)."""
    if protocol not in (None, "cross_view"):
        raise DatasetError(f"NW-UCLA protocol must be 'cross_view' (train v01+v02, test v03); got {protocol!r}")
    from tqdm import tqdm

    files = find_files(root, "*.json", "NW-UCLA all_sqe folder (a01_s01_e00_v01.json …)")
    samples = [ucla_sample(p) for p in tqdm(files, desc="nw_ucla", unit="file", disable=not progress)]
    return DatasetInfo(name="nw_ucla", layout="kinect20", classes=read_class_names("nw_ucla_classes.txt"),
                       fps=FPS, protocol="cross_view", root=str(root)), samples
