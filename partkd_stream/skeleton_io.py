"""The project's own skeleton file formats: one sequence per ``.npz``, or a stream of frames as JSON Lines.

**Sequence file** (``.npz``, written atomically; loaded with ``allow_pickle=False``):

- ``data``: float32 ``[T, V, C]`` (one person), or ``[M, T, V, C]`` (up to M people per frame: ``data[m, k]`` is
  one person in frame k, and a person not in that frame has every score 0), score last (``C = 3`` for 2D, ``4``
  for 3D). The M axis need not keep identities: the run mode tracks people itself (``--max-people``);
- ``layout``: layout name (e.g. ``mediapipe33``); ``fps``: frame rate; ``timestamps``: float64 ``[T]`` seconds;
- optional ``id`` (str), ``label`` (int, -1 = none), ``meta`` (a JSON string with anything else).

**Stream file** (``.jsonl``): a first header line ``{"layout": "mediapipe33", "fps": 30.0}`` then one line per
frame, either one person ``{"t": 0.033, "frame": 1, "keypoints": [[x, y, score], ...]}`` (``"keypoints": null``:
nobody in that frame) or everyone in view ``{"t": 0.033, "frame": 1, "people": [[[x, y, score], ...], ...]}``
(``[]``: nobody; any order, most prominent first where known). This is what ``partkd-stream --skeletons`` reads,
so any pose estimator can feed the recognizer; read by one person (``read_stream``: the first of ``people``) or
by everyone (``read_stream(path, people=True)``).
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Optional, Sequence

import numpy as np

from . import json_input
from .atomic import atomic_write_bytes
from .errors import PartkdError
from .layouts import LAYOUTS, get_layout
from .preprocess import is_number


MAX_SEQUENCE_BYTES = 1 << 30
"""The most a ``.npz`` sequence may take once loaded: 1 GiB is 25 h of one 33-joint 2D skeleton at 30 fps."""


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

    def people(self) -> np.ndarray:
        """``[M, T, V, C]``: every person's track (a one-person file's ``[T, V, C]`` as M = 1)."""
        return self.data if self.data.ndim == 4 else self.data[None]

    def first_person(self) -> np.ndarray:
        """``[T, V, C]``: the first person's track (the whole data of a one-person file)."""
        return self.people()[0]


def save_sequence(path: str | os.PathLike, seq: SkeletonSequence) -> None:
    arrays = dict(data=np.asarray(seq.data, np.float32), layout=np.array(seq.layout), fps=np.array(float(seq.fps)),
                  timestamps=np.asarray(seq.timestamps, np.float64), id=np.array(seq.id),
                  label=np.array(int(seq.label)), meta=np.array(json.dumps(seq.meta)))
    atomic_write_bytes(path, lambda f: np.savez_compressed(f, **arrays))


def _bad(path: str | os.PathLike, what: str) -> SkeletonFileError:
    return SkeletonFileError(f"{path}: {what}; see partkd_stream/skeleton_io.py for the format")


def load_sequence(path: str | os.PathLike) -> SkeletonSequence:
    """Read and validate a sequence file; anything malformed is a one-line ``SkeletonFileError``.

    Timestamps must be finite and strictly increasing (a sequence is a whole recorded array: a file whose
    clock runs backwards is refused, not guessed at).
    """
    try:
        if os.path.getsize(path) == 0:
            raise EOFError
        _check_inflated_size(path)
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except SkeletonFileError:
        raise
    except FileNotFoundError:
        raise SkeletonFileError(f"{path}: no such skeleton file; check the path") from None
    except EOFError:
        raise _bad(path, "the file is empty") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise _bad(path, f"not a readable .npz ({type(e).__name__}: truncated, corrupt or holding objects)") \
            from None
    if "data" not in arrays:
        raise _bad(path, f"no 'data' array (it has {sorted(arrays) or 'nothing'})")
    data = arrays["data"]
    if data.dtype.kind not in "fiu":
        raise _bad(path, f"data must be numbers, got dtype {data.dtype}")
    if data.ndim not in (3, 4):
        raise _bad(path, f"data must be [T, V, C] or [M, T, V, C], got {data.ndim}-D shape {list(data.shape)}")
    if data.shape[-3] == 0 or (data.ndim == 4 and data.shape[0] == 0):
        raise _bad(path, f"data holds no frames (shape {list(data.shape)})")
    layout = _scalar(arrays, "layout", str, path)
    check_frame_shape(data.shape[-2:], layout, f"{path}")
    fps = _scalar(arrays, "fps", float, path)
    if not (math.isfinite(fps) and fps > 0):
        raise _bad(path, f"fps must be a finite number > 0, got {fps}")
    n = data.shape[-3]
    if "timestamps" in arrays:
        t = arrays["timestamps"]
        if t.dtype.kind not in "fiu" or t.shape != (n,):
            raise _bad(path, f"timestamps must be {n} numbers (one per frame of data), got shape {list(t.shape)} "
                             f"dtype {t.dtype}")
        t = t.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(t))
        if bad.size:
            raise _bad(path, f"timestamp {bad[0]} is {t[bad[0]]}; every timestamp must be a finite number")
        back = np.flatnonzero(np.diff(t) <= 0)
        if back.size:
            i = back[0] + 1
            raise _bad(path, f"timestamps must increase; frame {i} is at {t[i]:g} s after {t[i - 1]:g} s")
    else:
        t = np.arange(n) / fps
    meta: Any = {}
    if "meta" in arrays:
        try:
            meta = json_input.loads(_scalar(arrays, "meta", str, path))
        except ValueError as e:
            raise _bad(path, f"meta is not a JSON string ({e})") from None
        if not isinstance(meta, dict):
            raise _bad(path, "meta must be a JSON object")
    with np.errstate(over="ignore", invalid="ignore"):  # absurd values become missing joints in preprocessing
        data = data.astype(np.float32)
    return SkeletonSequence(data=data, layout=layout, fps=fps, timestamps=t,
                            id=_scalar(arrays, "id", str, path) if "id" in arrays else Path(path).stem,
                            label=_scalar(arrays, "label", int, path) if "label" in arrays else -1, meta=meta)


def _check_inflated_size(path: str | os.PathLike) -> None:
    """Refuse, before anything is inflated, a file whose arrays would take more than ``MAX_SEQUENCE_BYTES``: a
    2 MB zip of zeros can hold gigabytes. Both what the zip directory declares and what each ``.npy`` header's
    shape says count (``np.load`` allocates the shape first). ``zipfile.BadZipFile`` / ``ValueError`` for a file
    that is not an ``.npz``."""
    total, biggest = 0, ("", (), np.dtype(np.uint8))
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(member)
            size = max(info.file_size, int(np.prod(shape, dtype=object)) * dtype.itemsize)
            total += size
            if size >= int(np.prod(biggest[1], dtype=object)) * biggest[2].itemsize:
                biggest = (info.filename.removesuffix(".npy"), shape, dtype)
    if total > MAX_SEQUENCE_BYTES:
        name, shape, dtype = biggest
        raise SkeletonFileError(f"{path}: refused: it would take {_mib_gib(total)} once loaded ({name} "
                                f"{list(shape)} {dtype}), more than the {_mib_gib(MAX_SEQUENCE_BYTES)} a skeleton "
                                f"sequence may hold; split the recording into shorter files")


def _mib_gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _scalar(arrays: dict[str, np.ndarray], key: str, kind: type, path: str | os.PathLike) -> Any:
    """A 0-d (or one-element) array of the expected kind → a Python value."""
    if key not in arrays:
        raise _bad(path, f"no '{key}' entry")
    a = arrays[key]
    want = {str: "U", float: "fiu", int: "iu"}[kind]
    if a.size != 1 or a.dtype.kind not in want:
        what = {str: "a string", float: "a number", int: "an integer"}[kind]
        raise _bad(path, f"{key} must be {what}, got an array of shape {list(a.shape)} and dtype {a.dtype}")
    return kind(a.reshape(()).item())


def check_frame_shape(shape: tuple[int, ...], layout: str, where: str) -> None:
    """``[V, C]`` of a frame must fit ``layout`` (its joint count) with C = 3 (2D) or 4 (3D), score last."""
    try:
        lay = get_layout(layout)
    except ValueError:
        raise SkeletonFileError(f"{where}: unknown skeleton layout {layout!r}; known: {', '.join(LAYOUTS)}") \
            from None
    v, c = shape
    if v != lay.num_joints:
        raise SkeletonFileError(f"{where}: {v} joints per frame, but layout {layout} has {lay.num_joints}; "
                                f"fix the layout name or the data")
    if c not in (3, 4):
        raise SkeletonFileError(f"{where}: {c} values per joint; expected 3 (x, y, score) or 4 (x, y, z, score)")


def write_stream_header(f, layout: str, fps: Optional[float]) -> None:
    f.write(json.dumps({"layout": layout, "fps": fps}) + "\n")


def stream_record(t: float, frame: int, keypoints: Optional[np.ndarray]) -> str:
    """One person's frame line (``None``: nobody in view)."""
    kp = None if keypoints is None else np.round(np.asarray(keypoints, float), 4).tolist()
    return json.dumps({"t": round(float(t), 6), "frame": int(frame), "keypoints": kp})


def people_record(t: float, frame: int, people: Sequence[np.ndarray]) -> str:
    """Everyone's frame line (``[]``: nobody in view)."""
    return json.dumps({"t": round(float(t), 6), "frame": int(frame),
                       "people": [np.round(np.asarray(kp, float), 4).tolist() for kp in people]})


def write_stream(path: str | os.PathLike, layout: str, fps: Optional[float],
                 frames: Iterable[tuple[float, int, Any]]) -> int:
    """Write a ``.jsonl`` stream atomically: the header, then a line per ``(t, frame, keypoints)`` — one person
    (``[V, C]``, or ``None``: nobody in view) or everyone in view (a list of ``[V, C]``: a ``people`` line).
    Returns the number of frames written."""
    count = 0

    def write(f: BinaryIO) -> None:
        nonlocal count
        header = io.StringIO()
        write_stream_header(header, layout, fps)
        f.write(header.getvalue().encode("utf-8"))
        for t, frame, kp in frames:
            line = people_record(t, frame, kp) if isinstance(kp, (list, tuple)) else stream_record(t, frame, kp)
            f.write((line + "\n").encode("utf-8"))
            count += 1

    atomic_write_bytes(path, write)
    return count


def read_stream(path: str | os.PathLike, people: bool = False) -> tuple[dict[str, Any], Iterator[tuple]]:
    """Return the header and an iterator of ``(t, frame, keypoints [V, C] or None)`` — with ``people=True``,
    ``(t, frame, [keypoints [V, C], …])``; errors name file and line.

    A ``"people"`` line read by one person gives its first entry. The header is checked at once (a known
    ``layout``; ``fps`` a number > 0 or absent/null), every frame as it is read (a JSON object; ``t`` a number;
    ``keypoints`` or ``people``, not both; every skeleton ``[V, C]`` fitting the header's layout, the same C in
    every frame). A ``t`` that is not finite or does not increase is passed on: the recognizer drops such frames
    and counts them.
    """
    f = open(path, "rb")   # decoded line by line: a bad byte is reported with its line
    try:
        header = json_input.loads(_text_line(f.readline(), path, 1))
        if not isinstance(header, dict) or not isinstance(header.get("layout"), str):
            raise ValueError('first line must be a header object like {"layout": "mediapipe33", "fps": 30}')
        fps = header.get("fps")
        if fps is not None and not (is_number(fps) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a number > 0 (or null), got {_short(fps)}")
        get_layout(header["layout"])
    except SkeletonFileError:
        f.close()
        raise
    except ValueError as e:
        f.close()
        raise SkeletonFileError(f"{path}:1: bad stream header ({e})") from None
    layout = header["layout"]

    def frames() -> Iterator[tuple]:
        channels: list[int] = []

        def skeleton(kp: Any, where: str, what: str) -> np.ndarray:
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    arr = np.asarray(kp, dtype=np.float32)
            except (ValueError, TypeError):
                raise SkeletonFileError(f"{where}: {what} must be rows of numbers [[x, y, (z,) score], …]") from None
            if arr.ndim != 2:
                raise SkeletonFileError(f"{where}: {what} must be rows of numbers [[x, y, (z,) score], …]")
            check_frame_shape(arr.shape, layout, where)
            if channels and arr.shape[1] != channels[0]:
                raise SkeletonFileError(f"{where}: {arr.shape[1]} values per joint after {channels[0]} in "
                                        f"earlier frames; one stream has one dimensionality")
            channels[:] = [arr.shape[1]]
            return arr

        def everyone(people: list, where: str) -> list[np.ndarray]:
            """One conversion for a frame of skeletons of one shape (a crowd: hundreds a line); any other
            shape skeleton by skeleton, so an error names the one that is wrong."""
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    arr = np.asarray(people, dtype=np.float32)
            except (ValueError, TypeError):
                arr = None
            if arr is not None and arr.ndim == 3 and len(arr):
                skeleton(arr[0], where, "people[0]")
                return list(arr)
            return [skeleton(kp, where, f"people[{i}]") for i, kp in enumerate(people)]

        with f:
            for lineno, raw in enumerate(f, start=2):
                line = _text_line(raw, path, lineno)
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    rec = json_input.loads(line)
                except ValueError as e:
                    raise SkeletonFileError(f"{where}: not JSON ({e})") from None
                if not isinstance(rec, dict):
                    raise SkeletonFileError(f"{where}: a frame must be a JSON object "
                                            f'{{"t": …, "keypoints": …}}, got a {type(rec).__name__}')
                t = rec.get("t")
                if not is_number(t):
                    raise SkeletonFileError(f"{where}: t must be a number of seconds, got {_short(t)}")
                frame = rec.get("frame", lineno - 2)
                if not (is_number(frame) and float(frame).is_integer()):
                    raise SkeletonFileError(f"{where}: frame must be an integer, got {_short(frame)}")
                if "people" in rec:
                    if "keypoints" in rec:
                        raise SkeletonFileError(f'{where}: a frame has "keypoints" (one person) or "people" '
                                                f"(everyone), not both")
                    if not isinstance(rec["people"], list):
                        raise SkeletonFileError(f'{where}: "people" must be a list of skeletons (each rows of '
                                                f"numbers), got {type(rec['people']).__name__}")
                    found = everyone(rec["people"], where)
                else:
                    kp = rec.get("keypoints")
                    found = [] if kp is None else [skeleton(kp, where, "keypoints")]
                if people:
                    yield float(t), int(frame), found
                else:
                    yield float(t), int(frame), found[0] if found else None

    return header, frames()


def _text_line(raw: bytes, path: str | os.PathLike, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SkeletonFileError(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
                                f"; a .jsonl skeleton stream is UTF-8 JSON Lines, see "
                                f"partkd_stream/skeleton_io.py") from None


def _short(value: Any) -> str:
    """``repr`` cut to one readable piece (a value from a file can be a megabyte long)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
