"""The project's own skeleton file formats: one sequence per ``.npz``, or a stream of frames as JSON Lines.

**Sequence file** (``.npz``, written atomically; loaded with ``allow_pickle=False``):

- ``data``: float32 ``[T, V, C]`` (or ``[M, T, V, C]``), score last (``C = 3`` for 2D, ``4`` for 3D);
- ``layout``: layout name (e.g. ``mediapipe33``); ``fps``: frame rate; ``timestamps``: float64 ``[T]`` seconds;
- optional ``id`` (str), ``label`` (int, -1 = none), ``meta`` (a JSON string with anything else).

**Stream file** (``.jsonl``): a first header line ``{"layout": "mediapipe33", "fps": 30.0}`` then one line per
frame ``{"t": 0.033, "frame": 1, "keypoints": [[x, y, score], ...]}``; ``"keypoints": null`` means no person in
that frame. This is what ``partkd-stream --skeletons`` reads, so any pose estimator can feed the recognizer.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from .errors import PartkdError


class SkeletonFileError(PartkdError, ValueError):
    """A skeleton file that cannot be read; the message names the file and what is wrong."""


@dataclass
class SkeletonSequence:
    data: np.ndarray
    layout: str
    fps: float
    timestamps: np.ndarray
    id: str = ""
    label: int = -1
    meta: dict[str, Any] = field(default_factory=dict)


def atomic_write_bytes(path: str | os.PathLike, write) -> None:
    """Write via a temporary file in the same folder, then rename: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_sequence(path: str | os.PathLike, seq: SkeletonSequence) -> None:
    arrays = dict(data=np.asarray(seq.data, np.float32), layout=np.array(seq.layout), fps=np.array(float(seq.fps)),
                  timestamps=np.asarray(seq.timestamps, np.float64), id=np.array(seq.id),
                  label=np.array(int(seq.label)), meta=np.array(json.dumps(seq.meta)))
    atomic_write_bytes(path, lambda f: np.savez_compressed(f, **arrays))


def load_sequence(path: str | os.PathLike) -> SkeletonSequence:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = z["data"].astype(np.float32)
            t = z["timestamps"] if "timestamps" in z else np.arange(data.shape[-3]) / float(z["fps"])
            return SkeletonSequence(data=data, layout=str(z["layout"]), fps=float(z["fps"]), timestamps=t,
                                    id=str(z["id"]) if "id" in z else Path(path).stem,
                                    label=int(z["label"]) if "label" in z else -1,
                                    meta=json.loads(str(z["meta"])) if "meta" in z else {})
    except (OSError, KeyError, ValueError) as e:
        raise SkeletonFileError(f"{path}: not a readable skeleton .npz ({e}); see partkd_stream/skeleton_io.py "
                                f"for the format") from None


def write_stream_header(f, layout: str, fps: Optional[float]) -> None:
    f.write(json.dumps({"layout": layout, "fps": fps}) + "\n")


def stream_record(t: float, frame: int, keypoints: Optional[np.ndarray]) -> str:
    kp = None if keypoints is None else np.round(np.asarray(keypoints, float), 4).tolist()
    return json.dumps({"t": round(float(t), 6), "frame": int(frame), "keypoints": kp})


def read_stream(path: str | os.PathLike) -> tuple[dict[str, Any], Iterator[tuple[float, int, Optional[np.ndarray]]]]:
    """Return the header and an iterator of ``(t, frame, keypoints [V, C] or None)``; errors name file and line."""
    f = open(path, "r", encoding="utf-8")
    first = f.readline()
    try:
        header = json.loads(first)
        if not isinstance(header, dict) or "layout" not in header:
            raise ValueError("first line must be a header with a 'layout' field")
    except ValueError as e:
        f.close()
        raise SkeletonFileError(f"{path}:1: bad stream header ({e})") from None

    def frames() -> Iterator[tuple[float, int, Optional[np.ndarray]]]:
        with f:
            for lineno, line in enumerate(f, start=2):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    kp = rec.get("keypoints")
                    arr = None if kp is None else np.asarray(kp, dtype=np.float32)
                    if arr is not None and arr.ndim != 2:
                        raise ValueError("keypoints must be a list of [x, y, (z,) score] rows")
                    yield float(rec["t"]), int(rec.get("frame", lineno - 2)), arr
                except (ValueError, KeyError, TypeError) as e:
                    raise SkeletonFileError(f"{path}:{lineno}: bad frame record ({e})") from None

    return header, frames()
