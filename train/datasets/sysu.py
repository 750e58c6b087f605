"""SYSU 3D Human-Object Interaction → samples (``kinect20``, 3D world coordinates, 30 fps).

Folder layout (our reading of ``shared/CONVENTIONS.md`` and of the public preprocessing, which globs
``3DvideoNorm/*/*/sklWorld.mat``): ``3DvideoNorm/<subject>/video<k>/sklWorld.mat`` — the first folder is one of the
40 subjects, the second names the action ``k`` (1..12 → label 0..11; names in ``labels/sysu_classes.txt``, in the
order of the dataset paper). Subject ids are 1..40 by the sorted order of the subject folder names (the folder
name is kept in ``meta["subject_dir"]``). Any folder above ``3DvideoNorm`` may be passed as the root.

``sklWorld.mat`` holds ``SW``, ``20 × 3 × T`` (joints × xyz × frames), as MATLAB v5 (``scipy.io.loadmat``) or
v7.3 (HDF5; ``h5py`` sees MATLAB arrays transposed, ``T × 3 × 20``). Every joint gets score 1 except one stored
as exactly ``(0, 0, 0)`` (not tracked), which gets 0.

Protocols, both drawn with a seed (``seed=0`` by default, the same seed gives the same split):
``cross_subject`` (default): a random half of the subjects train, the other half test;
``same_subject``: for every subject, a random half of its clips train (the larger half when odd), the rest test.
Papers average over 30 such random splits; pass ``seed`` to draw another.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .sample import DatasetError, DatasetInfo, Sample, find_files, read_class_names

FPS = 30.0
ACTION_DIR_RE = re.compile(r"^video(\d+)$", re.IGNORECASE)
PROTOCOLS = ("cross_subject", "same_subject")


def read_sklworld(path: str | Path) -> np.ndarray:
    """``SW`` of a ``sklWorld.mat`` (v5 or v7.3) as float32 ``[T, 20, 3]``."""
    import h5py
    import scipy.io

    path = Path(path)
    try:
        if h5py.is_hdf5(str(path)):
            with h5py.File(str(path), "r") as f:
                sw = np.asarray(f["SW"], np.float32).transpose(2, 1, 0)  # h5py: T × 3 × 20 → MATLAB's 20 × 3 × T
        else:
            sw = np.asarray(scipy.io.loadmat(str(path))["SW"], np.float32)
    except (OSError, ValueError, KeyError, TypeError, NotImplementedError,
            scipy.io.matlab.MatReadError) as e:
        raise DatasetError(f"{path}: cannot read variable SW ({type(e).__name__}: {e})") from None
    if sw.ndim == 2 and sw.shape == (20, 3):
        sw = sw[..., None]
    if sw.ndim != 3 or sw.shape[:2] != (20, 3) or sw.shape[2] == 0:
        raise DatasetError(f"{path}: SW must be 20 x 3 x frames, got {' x '.join(map(str, sw.shape))}")
    return np.ascontiguousarray(sw.transpose(2, 0, 1))


def _assign_splits(subjects: list[int], protocol: str, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    uniq = sorted(set(subjects))
    if protocol == "cross_subject":
        train = set(rng.permutation(uniq)[: (len(uniq) + 1) // 2].tolist())
        return ["train" if s in train else "test" for s in subjects]
    splits = ["test"] * len(subjects)
    for s in uniq:
        idx = [i for i, x in enumerate(subjects) if x == s]
        for i in rng.permutation(idx)[: (len(idx) + 1) // 2]:
            splits[int(i)] = "train"
    return splits


def load_sysu(root: str | Path, *, protocol: str | None = None, progress: bool = False,
              seed: int = 0) -> tuple[DatasetInfo, list[Sample]]:
    protocol = protocol or "cross_subject"
    if protocol not in PROTOCOLS:
        raise DatasetError(f"unknown SYSU protocol {protocol!r}; use cross_subject or same_subject")
    from tqdm import tqdm

    classes = read_class_names("sysu_classes.txt")
    files = find_files(root, "sklWorld.mat", "SYSU 3D HOI folder (3DvideoNorm/<subject>/video<k>/sklWorld.mat)")
    subject_dirs = sorted({p.parent.parent.name for p in files})
    items = []
    for p in tqdm(files, desc="sysu", unit="file", disable=not progress):
        m = ACTION_DIR_RE.match(p.parent.name)
        if not m or not 1 <= int(m.group(1)) <= len(classes):
            raise DatasetError(f"{p}: the folder above sklWorld.mat must be video1 … video{len(classes)}")
        xyz = read_sklworld(p)
        score = (np.abs(xyz).sum(-1) > 0).astype(np.float32)
        items.append((p, int(m.group(1)), subject_dirs.index(p.parent.parent.name) + 1,
                      np.concatenate([xyz, score[..., None]], axis=-1)))
    splits = _assign_splits([it[2] for it in items], protocol, seed)
    samples = [Sample(data=data, layout="kinect20", label=action - 1, id=f"{p.parent.parent.name}/{p.parent.name}",
                      fps=FPS, split=split, subject=subject,
                      meta={"subject_dir": p.parent.parent.name, "action": action})
               for (p, action, subject, data), split in zip(items, splits)]
    return DatasetInfo(name="sysu", layout="kinect20", classes=classes, fps=FPS, protocol=protocol, root=str(root),
                       meta={"seed": seed}), samples
