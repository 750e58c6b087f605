"""Penn Action label files (``labels/NNNN.mat``, MATLAB v5) → samples (``penn13``, 2D pixels, 30 fps).

- ``data`` = ``x, y`` in pixels + ``visibility`` (0/1) as the score. Penn annotates a position even for an
  invisible joint; it is kept (finite) but carries score 0.
- The frame count comes from the ``x``/``y`` arrays, not from ``nframes`` (its integer type differs between files).
- Split: the file's own ``train`` flag (1 → train, −1 → test): 1,258 / 1,068 clips.
- The videos are ~30 fps (YouTube clips); 30 is used for every clip.
- ``meta`` keeps ``action`` (the stored string), ``pose`` (coarse view: front, back, …) and ``dimensions``
  (H, W, frames); the per-frame ``bbox`` ``[T, 4]`` goes to ``aux["bbox"]`` (an array, not JSON).
- Joint order is right side first (see ``partkd_stream.layouts``), so ``data`` is used as stored.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .sample import DatasetError, DatasetInfo, Sample, find_files, read_class_names

FPS = 30.0
NUM_JOINTS = 13


def _text(value) -> str:
    return str(np.asarray(value).ravel()[0]) if np.asarray(value).size else ""


def penn_sample(path: str | Path, classes: list[str]) -> Sample:
    """One clip from its ``.mat`` label file; a one-line :class:`DatasetError` names a bad file."""
    import scipy.io

    path = Path(path)
    try:
        m = scipy.io.loadmat(str(path))
        x = np.asarray(m["x"], np.float32)
        y = np.asarray(m["y"], np.float32)
        vis = np.asarray(m["visibility"], np.float32)
        action = _text(m["action"])
        train = int(np.asarray(m["train"]).ravel()[0])
    except (OSError, ValueError, KeyError, IndexError, TypeError, scipy.io.matlab.MatReadError) as e:
        raise DatasetError(f"{path}: not a readable Penn Action label file ({type(e).__name__}: {e})") from None
    if x.ndim != 2 or x.shape[1] != NUM_JOINTS or x.shape != y.shape or vis.shape != x.shape:
        raise DatasetError(f"{path}: x, y, visibility must all be [frames, {NUM_JOINTS}]; got {x.shape}, "
                           f"{y.shape}, {vis.shape}")
    if action not in classes:
        raise DatasetError(f"{path}: unknown action {action!r}; known: {', '.join(classes)}")
    if train not in (1, -1):
        raise DatasetError(f"{path}: train flag must be 1 or -1, got {train}")
    data = np.stack([x, y, np.clip(vis, 0, 1)], axis=-1)
    aux = {"bbox": np.asarray(m["bbox"], np.float32)} if "bbox" in m else {}
    meta = {"action": action, "pose": _text(m.get("pose", "")),
            "dimensions": [int(v) for v in np.asarray(m.get("dimensions", [])).ravel()]}
    return Sample(data=data, layout="penn13", label=classes.index(action), id=path.stem, fps=FPS,
                  split="train" if train == 1 else "test", aux=aux, meta=meta)


def load_penn_action(root: str | Path, *, protocol: str | None = None,
                     progress: bool = False) -> tuple[DatasetInfo, list[Sample]]:
    """Every ``*.mat`` under ``root`` (the dataset's ``labels`` folder, or the folder above it)."""
    if protocol not in (None, "official"):
        raise DatasetError(f"Penn Action has one protocol, 'official' (the files' train flag); got {protocol!r}")
    from tqdm import tqdm

    classes = read_class_names("penn_action_classes.txt")
    files = find_files(root, "*.mat", "Penn Action labels folder (labels/0001.mat …)")
    samples = [penn_sample(p, classes) for p in tqdm(files, desc="penn_action", unit="file", disable=not progress)]
    return DatasetInfo(name="penn_action", layout="penn13", classes=classes, fps=FPS, protocol="official",
                       root=str(root)), samples
