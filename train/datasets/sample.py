"""The common in-memory sample every dataset loader returns, and the dataset description beside it.

A loader turns one raw dataset into ``(DatasetInfo, [Sample, …])``; everything downstream (degradation,
training, the cached file) sees only these two types, never a dataset's own format.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from partkd_stream.errors import PartkdError


class DatasetError(PartkdError, ValueError):
    """A dataset that cannot be read; the message is one line naming the path and what to do."""


@dataclass
class Sample:
    """One clip of one actor: ``data`` float32 ``[T, V, C]``, score last (C=3: x, y, score; C=4: x, y, z, score)."""

    data: np.ndarray
    layout: str
    label: int
    id: str
    fps: float
    split: str
    subject: int | None = None
    view: int | None = None
    others: np.ndarray | None = None
    aux: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[0])


@dataclass
class DatasetInfo:
    """What a cached training file says about its dataset: classes (index = label), layout, frame rate, protocol."""

    name: str
    layout: str
    classes: list[str]
    fps: float
    protocol: str
    root: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def split_samples(samples: list[Sample], split: str) -> list[Sample]:
    """The samples of one split (``train`` / ``test``), in their original order."""
    return [s for s in samples if s.split == split]


LABELS_DIR = Path(__file__).resolve().parent / "labels"


def read_class_names(filename: str) -> list[str]:
    """Class names from a data file in ``train/datasets/labels/`` (one per line; line order = label)."""
    lines = (LABELS_DIR / filename).read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip()]


@lru_cache(maxsize=None)
def read_label_json(filename: str) -> dict[str, Any]:
    """A JSON data file from ``train/datasets/labels/`` (read once per process; treat it as read-only)."""
    return json.loads((LABELS_DIR / filename).read_text(encoding="utf-8"))


def find_files(root: str | Path, pattern: str, what: str) -> list[Path]:
    """Sorted files matching ``pattern`` under ``root`` (recursively); a one-line error when there are none."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: dataset root does not exist; pass --root pointing at the {what}")
    files = sorted(p for p in root.rglob(pattern) if p.is_file())
    if not files:
        raise DatasetError(f"{root}: no {pattern} files found; pass --root pointing at the {what}")
    return files
