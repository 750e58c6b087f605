"""Dataset loaders → the common :class:`Sample` format, and the cached training file.

``load_dataset(name, root)`` reads a raw dataset; ``save_samples`` / ``load_samples`` write and read the cached
file that ``train/prepare.py`` builds. Each loader's module docstring documents its format, protocols and fps.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .cache import load_samples, save_samples
from .sample import DatasetError, DatasetInfo, Sample, split_samples

DATASETS = ("penn_action", "nw_ucla", "ntu60", "ntu120", "sysu", "utd_mhad", "kard", "florence3d", "pyskl", "generic")


def load_dataset(name: str, root: str | Path, *, protocol: str | None = None, progress: bool = False,
                 **kw: Any) -> tuple[DatasetInfo, list[Sample]]:
    """Load raw dataset ``name`` from ``root``; extra keywords go to the loader (e.g. ``seed`` for SYSU)."""
    if name == "penn_action":
        from .penn_action import load_penn_action as load
    elif name == "nw_ucla":
        from .nw_ucla import load_nw_ucla as load
    elif name in ("ntu60", "ntu120"):
        from .ntu import load_ntu as load
        kw["dataset"] = name
    elif name == "sysu":
        from .sysu import load_sysu as load
    elif name == "utd_mhad":
        from .utd_mhad import load_utd_mhad as load
    elif name == "kard":
        from .kard import load_kard as load
    elif name == "florence3d":
        from .florence3d import load_florence3d as load
    elif name == "pyskl":
        from .pyskl import load_pyskl as load
    elif name == "generic":
        from .generic import load_generic as load
    else:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return load(root, protocol=protocol, progress=progress, **kw)


__all__ = ["DATASETS", "DatasetError", "DatasetInfo", "Sample", "load_dataset", "load_samples", "save_samples",
           "split_samples"]
