"""Where things are: the repository, its config folder, and the shared real data (one resolver for data paths).

The real datasets live outside the repository, by default in ``../shared/data`` beside it; the environment variable
``PARTKD_SHARED_DATA`` points elsewhere. Configs and options name data paths relative to the repository root, and a
path that starts with ``../shared/data`` means "in the shared data folder", so one setting of the variable moves
every default at once.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "train" / "configs"
SHARED_ENV = "PARTKD_SHARED_DATA"
_SHARED_PREFIX = ("..", "shared", "data")
# each dataset's folder of raw files inside the shared data folder (loaders' --root)
DATASET_DIRS = {"penn_action": "penn_action/labels", "nw_ucla": "nw_ucla/all_sqe", "ntu": "ntu/skeletons",
                "utd_mhad": "utd_mhad/skeleton", "kard": "kard/realworld", "florence3d": "florence3d/clips"}


def shared_data() -> Path:
    """The folder of the real datasets: ``$PARTKD_SHARED_DATA``, else ``../shared/data`` beside the repository."""
    env = os.environ.get(SHARED_ENV)
    return Path(env).expanduser() if env else REPO.parent / "shared" / "data"


def resolve_root(path: str | Path) -> Path:
    """A data path as a config or an option gives it: absolute as it is; ``../shared/data/…`` under
    ``shared_data()``; anything else relative to the repository root."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if p.parts[:3] == _SHARED_PREFIX:
        return shared_data().joinpath(*p.parts[3:])
    return (REPO / p).resolve()


def dataset_dir(name: str) -> Path:
    """A dataset's raw folder in the shared data folder (``DATASET_DIRS``; ``ntu60`` / ``ntu120`` → ``ntu``)."""
    key = "ntu" if name in ("ntu60", "ntu120") else name
    if key not in DATASET_DIRS:
        raise ValueError(f"no folder of dataset {name!r} in the shared data; known: {', '.join(DATASET_DIRS)}")
    return shared_data() / DATASET_DIRS[key]
