"""OpenNI skeleton text files (KARD, Florence 3D Actions) → ``openni15`` arrays, and their subject protocols.

Both datasets store one joint per line, ``x y z`` in millimetres, 15 lines per frame, each in its own joint order
and with its own sign of x (``kard.py`` and ``florence3d.py`` say which, as measured on the data). The files carry
no confidence: every joint gets score 1, except one stored as exactly ``(0, 0, 0)`` (not tracked; none of the
real files has one), which gets score 0.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from partkd_stream.layouts import get_layout

from .sample import DatasetError

JOINTS_PER_FRAME = 15
OPENNI15 = get_layout("openni15")


def read_joint_text(path: str | Path) -> np.ndarray:
    """A file of ``x y z`` lines, 15 per frame → float64 ``[T, 15, 3]`` in the file's order and units.

    A malformed file is a :class:`DatasetError` naming the file (and the line where one is at fault)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read the skeleton text file ({type(e).__name__}: {e})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():  # a trailing newline or blank line at the very end is harmless
        lines.pop()
    if not lines:
        raise DatasetError(f"{path}: empty file; expected {JOINTS_PER_FRAME} lines of 'x y z' per frame")
    values = text.split()
    if len(values) != 3 * len(lines) or any(len(ln.split()) != 3 for ln in lines):
        k = next(i for i, ln in enumerate(lines) if len(ln.split()) != 3)
        raise DatasetError(f"{path}:{k + 1}: expected 3 numbers 'x y z', got {len(lines[k].split())} values")
    try:
        xyz = np.array(values, dtype=np.float64).reshape(-1, 3)
    except ValueError:
        k = next(i for i, ln in enumerate(lines) if not _numbers(ln))
        raise DatasetError(f"{path}:{k + 1}: not a number in {lines[k].strip()[:60]!r}") from None
    if not np.isfinite(xyz).all():
        k = int(np.flatnonzero(~np.isfinite(xyz).all(1))[0])
        raise DatasetError(f"{path}:{k + 1}: NaN or infinite coordinate")
    if len(xyz) % JOINTS_PER_FRAME:
        full, rest = divmod(len(xyz), JOINTS_PER_FRAME)
        raise DatasetError(f"{path}: {len(xyz)} joint lines is not a multiple of {JOINTS_PER_FRAME}: the file ends "
                           f"in frame {full + 1} after {rest} of its {JOINTS_PER_FRAME} joints (truncated?)")
    return xyz.reshape(-1, JOINTS_PER_FRAME, 3)


def _numbers(line: str) -> bool:
    try:
        [float(v) for v in line.split()]
    except ValueError:
        return False
    return True


def to_openni15(raw_mm: np.ndarray, file_joints: Sequence[str], flip_x: bool) -> np.ndarray:
    """``[T, 15, 3]`` millimetres in the file's joint order → float32 ``[T, 15, 4]`` (metres, ``openni15`` order,
    score last); ``flip_x`` negates x so that it points to the camera's right."""
    order = [list(file_joints).index(j) for j in OPENNI15.joints]
    xyz = raw_mm[:, order] / 1000.0
    if flip_x:
        xyz[..., 0] *= -1
    score = (np.abs(raw_mm[:, order]).sum(-1) > 0)
    return np.concatenate([xyz, score[..., None]], axis=-1).astype(np.float32)


LOSO_RE = re.compile(r"^loso_(\d+)$")


def subject_splits(dataset: str, protocol: str, subjects: Sequence[int],
                   fixed: dict[str, dict[str, tuple[int, ...]]]) -> dict[int, str]:
    """``{subject: "train" | "test"}`` for a fixed protocol in ``fixed`` or ``loso_<k>`` (subject k tests, the rest
    train); subjects a protocol leaves out are absent. A one-line error for an unknown protocol."""
    m = LOSO_RE.match(protocol)
    if m:
        k = int(m.group(1))
        if k not in subjects:
            raise DatasetError(f"{dataset} protocol {protocol!r}: subject {k} does not exist "
                               f"(loso_{min(subjects)} … loso_{max(subjects)})")
        return {s: "test" if s == k else "train" for s in subjects}
    if protocol not in fixed:
        raise DatasetError(f"unknown {dataset} protocol {protocol!r}; use one of {', '.join(fixed)} or "
                           f"loso_<subject> (loso_{min(subjects)} … loso_{max(subjects)})")
    return {s: split for split, members in fixed[protocol].items() for s in members}
