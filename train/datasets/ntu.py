"""NTU RGB+D 60/120 raw ``.skeleton`` files → samples (Kinect v2, ``ntu25``, 3D, 30 fps).

Two steps, usable alone: :func:`read_skeleton_file` parses a file exactly as written (every frame, every body,
25 joints × 12 values; zero-body frames allowed) and :func:`ntu_sample` turns that into one :class:`Sample`.

Choices in :func:`ntu_sample` (standard practice of public NTU preprocessing, e.g. CTR-GCN's
``get_raw_denoised_data``; the thresholds are theirs):

- **noise bodies**: a body (one Kinect ``bodyID``) seen in at most ``NOISE_MIN_FRAMES`` (11) frames, or whose
  x-spread exceeds 0.8 × its y-spread in more than 69.754 % of its frames (furniture, not a standing person),
  is dropped — unless that would drop every body, in which case the longest-lived body is kept;
- **actors**: the remaining bodies are ranked by motion (sum over joints of the variance of ``x, y, z`` over its
  frames); the first is the main actor; each further body joins the main actor if their frames do not overlap
  (Kinect re-assigned the ID) or else the second actor if *its* frames do not overlap; other bodies are dropped;
- **score**: ``trackingState`` 0 (not tracked) → 0, 1 (inferred) → 0.5, 2 (tracked) → 1. Coordinates are kept as
  Kinect reports them; a frame where the actor is absent is all zeros (score 0);
- **frames**: every frame of the file is kept (T = the file's frame count), so frame ``t`` of ``data`` and
  ``aux["color2d"]`` is frame ``t`` of the RGB video;
- ``data`` = camera-space ``x, y, z`` (metres) + score; ``aux["color2d"]`` = ``colorX, colorY`` (pixels in the
  1920×1080 video) + score; ``others`` (``[1, T, 25, 4]``) and ``aux["others_color2d"]`` hold the second actor
  for two-person actions (A050–A060, A106–A120), else ``others`` is None.

Splits come from the file name ``SsssCcccPpppRrrrAaaa``; the lists live in ``labels/ntu_splits.json``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .sample import DatasetError, DatasetInfo, Sample, find_files, read_class_names, read_label_json

FPS = 30.0
NUM_JOINTS = 25
VALUES_PER_JOINT = 12
NOISE_MIN_FRAMES = 11
NOISE_SPREAD_RATIO = 0.8
NOISE_SPREAD_FRAMES = 0.69754
TRACKING_SCORE = np.array([0.0, 0.5, 1.0], dtype=np.float32)
NAME_RE = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})$")
PROTOCOLS = {"ntu60": ("xsub", "xview"), "ntu120": ("xsub", "xset")}


class NtuFormatError(DatasetError):
    """A malformed or truncated ``.skeleton`` file; the message names the file and the line."""


class NtuEmptyError(DatasetError):
    """A ``.skeleton`` file without any usable body (NTU lists 302 / 535 such samples); loaders skip these."""


@dataclass
class NtuBody:
    """One body in one frame: its Kinect ``bodyID``, the 9 other body values, and ``[25, 12]`` joint values."""

    body_id: int
    info: np.ndarray
    joints: np.ndarray


@dataclass
class NtuSkeletonFile:
    path: str
    frames: list[list[NtuBody]]

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def body_ids(self) -> list[int]:
        seen: dict[int, None] = {}
        for bodies in self.frames:
            for b in bodies:
                seen.setdefault(b.body_id, None)
        return list(seen)


def read_skeleton_file(path: str | Path) -> NtuSkeletonFile:
    """Parse an NTU ``.skeleton`` text file; raises :class:`NtuFormatError` naming the file and line."""
    path = str(path)
    try:
        with open(path, "r", encoding="ascii") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise NtuFormatError(f"{path}: cannot read NTU skeleton file ({e})") from None
    pos = 0

    def fail(lineno: int, what: str) -> NtuFormatError:
        return NtuFormatError(f"{path}:{lineno}: {what}; the file is malformed or truncated (re-extract it)")

    def take(what: str) -> str:
        nonlocal pos
        if pos >= len(lines):
            raise fail(len(lines) + 1, f"unexpected end of file, expected {what}")
        pos += 1
        return lines[pos - 1]

    def count(what: str, maximum: int) -> int:
        text = take(what)
        try:
            n = int(text.strip())
        except ValueError:
            raise fail(pos, f"expected {what} (an integer), got {text.strip()[:40]!r}") from None
        if not 0 <= n <= maximum:
            raise fail(pos, f"implausible {what} {n}")
        return n

    frames: list[list[NtuBody]] = []
    n_frames = count("frame count", 100_000)
    for fi in range(n_frames):
        bodies = []
        for _ in range(count(f"body count of frame {fi + 1}", 16)):
            text = take(f"body info line in frame {fi + 1}")
            tok = text.split()
            try:
                if len(tok) != 10:
                    raise ValueError
                body_id = int(tok[0])
                info = np.array(tok[1:], dtype=np.float32)
            except ValueError:
                raise fail(pos, f"expected 10 body values (bodyID …), got {text.strip()[:60]!r}") from None
            if count(f"joint count in frame {fi + 1}", 100) != NUM_JOINTS:
                raise fail(pos, f"expected {NUM_JOINTS} joints")
            start = pos
            block = [take(f"joint {j + 1} of frame {fi + 1}") for j in range(NUM_JOINTS)]
            try:
                joints = np.array(" ".join(block).split(), dtype=np.float32)
            except ValueError:
                joints = np.empty(0, np.float32)
            if joints.size != NUM_JOINTS * VALUES_PER_JOINT:
                for j, row in enumerate(block):  # find the offending line for the message
                    try:
                        ok = len(np.array(row.split(), dtype=np.float32)) == VALUES_PER_JOINT
                    except ValueError:
                        ok = False
                    if not ok:
                        raise fail(start + j + 1, f"expected {VALUES_PER_JOINT} numbers per joint line, "
                                                  f"got {row.strip()[:60]!r}")
            bodies.append(NtuBody(body_id, info, joints.reshape(NUM_JOINTS, VALUES_PER_JOINT)))
        frames.append(bodies)
    for extra in range(pos, len(lines)):
        if lines[extra].strip():
            raise fail(extra + 1, f"unexpected content after the {n_frames} declared frames")
    return NtuSkeletonFile(path=path, frames=frames)


@dataclass
class NtuName:
    setup: int
    camera: int
    performer: int
    replication: int
    action: int


def parse_ntu_name(name: str) -> NtuName:
    """``S001C002P003R002A013`` → its five numbers (1-based, as the dataset numbers them)."""
    m = NAME_RE.match(Path(name).name.split(".")[0].removesuffix("_rgb"))
    if not m:
        raise DatasetError(f"{name}: not an NTU sample name (expected SsssCcccPpppRrrrAaaa)")
    return NtuName(*(int(g) for g in m.groups()))


def ntu_split(name: NtuName, protocol: str = "xsub") -> str:
    """``train`` / ``test`` of a sample under X-Sub, X-View or X-Set (lists in ``labels/ntu_splits.json``)."""
    spec = read_label_json("ntu_splits.json")
    if protocol == "xsub":
        train = name.performer in spec["xsub_train_performers"]
    elif protocol == "xview":
        train = name.camera in spec["xview_train_cameras"]
    elif protocol == "xset":
        train = name.setup % 2 == 0
    else:
        raise DatasetError(f"unknown NTU protocol {protocol!r}; use xsub, xview (NTU-60) or xset (NTU-120)")
    return "train" if train else "test"


def _tracks(parsed: NtuSkeletonFile) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """bodyID → (frame indices, joints ``[n, 25, 12]``)."""
    frames: dict[int, list[int]] = {}
    joints: dict[int, list[np.ndarray]] = {}
    for fi, bodies in enumerate(parsed.frames):
        for b in bodies:
            if fi in frames.setdefault(b.body_id, [])[-1:]:
                continue  # the same ID twice in one frame: keep the first
            frames[b.body_id].append(fi)
            joints.setdefault(b.body_id, []).append(b.joints)
    return {k: (np.array(frames[k]), np.stack(joints[k])) for k in frames}


def _is_noise(frames: np.ndarray, joints: np.ndarray) -> bool:
    if len(frames) <= NOISE_MIN_FRAMES:
        return True
    xyz = joints[:, :, :3]
    spread = xyz.max(1) - xyz.min(1)
    noisy = spread[:, 0] > NOISE_SPREAD_RATIO * spread[:, 1]
    return bool(noisy.mean() > NOISE_SPREAD_FRAMES)


def _motion(joints: np.ndarray) -> float:
    return float(np.var(joints[:, :, :3], axis=0).sum())


def select_actors(parsed: NtuSkeletonFile) -> tuple[list[int], list[int], list[int]]:
    """(body IDs of the main actor, of the second actor, of bodies dropped as noise) — see the module docstring."""
    tracks = _tracks(parsed)
    if not tracks:
        raise NtuEmptyError(f"{parsed.path}: no body in any of its {parsed.num_frames} frames (a missing-skeleton "
                            f"sample); leave it out")
    noise = [k for k, (f, j) in tracks.items() if _is_noise(f, j)]
    if len(noise) == len(tracks):
        keep = max(tracks, key=lambda k: len(tracks[k][0]))
        noise.remove(keep)
    ranked = sorted((k for k in tracks if k not in noise), key=lambda k: -_motion(tracks[k][1]))
    actors: list[list[int]] = [[ranked[0]], []]
    used: list[set[int]] = [set(tracks[ranked[0]][0].tolist()), set()]
    for k in ranked[1:]:
        fr = set(tracks[k][0].tolist())
        for a in (0, 1):
            if not fr & used[a]:
                actors[a].append(k)
                used[a] |= fr
                break
    return actors[0], actors[1], noise


def _assemble(parsed: NtuSkeletonFile, ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """``[T, 25, 4]`` xyz+score and ``[T, 25, 3]`` colorX, colorY, score for the bodies ``ids`` (frames disjoint)."""
    ids = set(ids)
    xyz = np.zeros((parsed.num_frames, NUM_JOINTS, 4), np.float32)
    col = np.zeros((parsed.num_frames, NUM_JOINTS, 3), np.float32)
    for fi, bodies in enumerate(parsed.frames):
        for b in bodies:
            if b.body_id in ids:
                state = np.clip(np.rint(b.joints[:, 11]), 0, 2).astype(int)
                score = TRACKING_SCORE[state]
                xyz[fi, :, :3], xyz[fi, :, 3] = b.joints[:, :3], score
                col[fi, :, :2], col[fi, :, 2] = b.joints[:, 5:7], score
                break
    return xyz, col


def ntu_sample(parsed: NtuSkeletonFile, id: str | None = None, protocol: str = "xsub") -> Sample:
    """One NTU sample: main actor in ``data``, the second actor of two-person actions in ``others``."""
    id = id or Path(parsed.path).name.split(".")[0]
    name = parse_ntu_name(id)
    spec = read_label_json("ntu_splits.json")
    main_ids, second_ids, noise = select_actors(parsed)
    data, color = _assemble(parsed, main_ids)
    others = None
    aux = {"color2d": color}
    two_person = name.action in spec["two_person_actions"]
    if two_person and second_ids:
        o, oc = _assemble(parsed, second_ids)
        others, aux["others_color2d"] = o[None], oc[None]
    present = data[..., 3].max(-1) > 0
    return Sample(
        data=data, layout="ntu25", label=name.action - 1, id=id, fps=FPS, split=ntu_split(name, protocol),
        subject=name.performer, view=name.camera, others=others, aux=aux,
        meta={"setup": name.setup, "camera": name.camera, "performer": name.performer,
              "replication": name.replication, "action": name.action, "two_person": two_person,
              "main_body_ids": [str(k) for k in main_ids], "second_body_ids": [str(k) for k in second_ids],
              "noise_bodies": len(noise), "frames_with_actor": int(present.sum())})


def load_ntu(root: str | Path, *, dataset: str = "ntu120", protocol: str | None = None,
             progress: bool = False) -> tuple[DatasetInfo, list[Sample]]:
    """Every ``*.skeleton`` under ``root``; ``ntu60`` keeps A001–A060 of S001–S017. Empty files are skipped."""
    if dataset not in PROTOCOLS:
        raise DatasetError(f"unknown NTU dataset {dataset!r}; use ntu60 or ntu120")
    protocol = protocol or "xsub"
    if protocol not in PROTOCOLS[dataset]:
        raise DatasetError(f"protocol {protocol!r} is not defined for {dataset}; use one of "
                           f"{', '.join(PROTOCOLS[dataset])}")
    spec = read_label_json("ntu_splits.json")
    files = find_files(root, "*.skeleton", "folder of NTU RGB+D .skeleton files")
    if dataset == "ntu60":
        files = [p for p in files if NAME_RE.match(p.stem)
                 and parse_ntu_name(p.stem).action <= spec["ntu60_max_action"]
                 and parse_ntu_name(p.stem).setup <= spec["ntu60_max_setup"]]
        if not files:
            raise DatasetError(f"{root}: no NTU-60 .skeleton files (A001-A060, S001-S017) found")
    classes = read_class_names("ntu120_classes.txt")[: 60 if dataset == "ntu60" else 120]
    samples, skipped = [], []
    from tqdm import tqdm

    for p in tqdm(files, desc=dataset, unit="file", disable=not progress):
        try:
            samples.append(ntu_sample(read_skeleton_file(p), p.stem, protocol))
        except NtuEmptyError:
            skipped.append(p.stem)
    info = DatasetInfo(name=dataset, layout="ntu25", classes=classes, fps=FPS, protocol=protocol, root=str(root),
                       meta={"skipped_empty": skipped})
    return info, samples
