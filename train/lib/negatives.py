"""Negative windows: what the recognizer must answer with "no action", in the model's layout, degraded like MediaPipe.

A closed-set model names one of its classes for anything it sees. To teach or test a reject, we need windows that
are *not* any of its actions, looking the way a live stream looks. Sources (each gives ``NegativeClip``s):

- **other datasets' actions** (``dataset_clips``): NW-UCLA, NTU RGB+D samples, UTD-MHAD — Kinect 3D, projected,
  converted and degraded exactly as the student's training data (``degrade``). Actions that *are* Penn
  actions (UTD's bowling, baseball swing, tennis forehand, tennis serve, squat) are left out
  (``labels/penn_overlap.json``);
- **idle** (``idle_clips``): a generated 3D person standing or sitting still — slow sway, breathing-size drifts of
  the arms, small head turns, any facing within ±70° — in MediaPipe's 33 landmarks, then degraded (the calibrated
  MediaPipe error: bias, drift, jitter, dropout, missed frames);
- **transitions** (``transition_clips``): a known action's clip held still on its first (or last) frame and
  entering (or leaving) the window for at most ``share`` of it — the moment a stream is "not yet / no longer" the
  action;
- **hallucinated poses** (``extracted_clips``): MediaPipe's own output on footage with no person
  (``no_person_pool.mp4``, extracted once with ``partkd-stream extract``), used as they are (already real LQ).

``NegativeWindows`` turns clips into model windows: random windows per training epoch (the "extra labelled windows
per epoch" a background class trains on) or every sliding window of a fixed degradation (evaluation), as recorded
or with the dataset look taken away (``dataset_look``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from partkd_stream.convert import convert
from partkd_stream.layouts import get_layout
from partkd_stream.preprocess import PreprocessConfig, clip_windows, preprocess_window, resample_indices, take_frames

from ..datasets import DatasetError, load_dataset, load_samples
from ..datasets.sample import LABELS_DIR
from .data import FILL_MODES, random_ends, windows
from .dataset_look import Look, clean_2d, median_proportions
from .degrade import DegradeConfig, degrade, sample_rng
from .paths import DATASET_DIRS

SOURCES = ("nw_ucla", "ntu", "utd_mhad", "idle", "transition", "pool")
OVERLAP_FILE = LABELS_DIR / "penn_overlap.json"


@dataclass
class NegativeClip:
    """One clip that is no known action. ``data`` is clean HQ (3D or 2D) unless ``lq`` (real estimator output)."""

    data: np.ndarray          # [T, V, C], score last
    layout: str
    fps: float
    source: str               # one of SOURCES
    id: str
    action: str = ""          # the dataset's own action name, for reports
    last_window: bool = False  # the window is the clip's last frames (transitions), not a random span
    lq: bool = False          # already low quality: never degraded again


# --- other datasets ----------------------------------------------------------------------------------------------
def penn_overlap(source: str) -> dict[int, str]:
    """The source's action numbers (1-based, as the dataset numbers them) that are Penn actions."""
    spec = json.loads(OVERLAP_FILE.read_text(encoding="utf-8"))
    return {int(k): v for k, v in spec.get(source, {}).items()}


def source_root(shared: str | Path, source: str) -> Path:
    """``<shared>/<source>.npz`` (a ``train.prepare`` cache) if present, else the raw folder (``paths.DATASET_DIRS``)."""
    cache = Path(shared) / f"{source}.npz"
    return cache if cache.is_file() else Path(shared) / DATASET_DIRS[source]


def action_number(source: str, clip_id: str) -> int:
    """A dataset clip's own 1-based action number: ``S001C001P001R001A017`` (NTU) → 17; ``a08_s01_e00_v01``
    (NW-UCLA), ``a12_s3_t2`` (UTD-MHAD) → 8, 12."""
    if source == "ntu":
        return int(clip_id[clip_id.index("A") + 1:][:3])
    return int(clip_id.split("_")[0][1:])


def dataset_clips(source: str, root: str | Path, penn_actions: bool = False) -> list[NegativeClip]:
    """Every clip of ``source`` (``nw_ucla``, ``ntu`` or ``utd_mhad``) under ``root`` (NW-UCLA and NTU: or their
    ``train.prepare`` cache file) minus the Penn actions.

    ``penn_actions=True`` gives the opposite: only the clips of Penn actions, ``action`` = the Penn class name —
    known actions recorded like the negatives (Kinect, projected), the test of whether a reject learned actions
    or merely the look of a dataset.
    """
    if source == "utd_mhad":
        return _utd_clips(root, penn_actions)
    if penn_actions:
        return []  # NW-UCLA and the NTU samples here hold no Penn action (labels/penn_overlap.json)
    if source not in ("nw_ucla", "ntu"):
        raise DatasetError(f"unknown negative source {source!r}; datasets: nw_ucla, ntu, utd_mhad")
    if Path(root).is_file():   # its train.prepare cache
        info, samples = load_samples(root)
    else:
        info, samples = load_dataset("nw_ucla" if source == "nw_ucla" else "ntu120", root)
    overlap = penn_overlap(source)
    out = []
    for s in samples:
        number = int(s.meta["action"]) if source == "nw_ucla" else s.label + 1
        if number in overlap:
            continue
        out.append(NegativeClip(s.data, s.layout, s.fps, source, s.id, action=info.classes[s.label]))
    return out


def _utd_clips(root: str | Path, penn_actions: bool = False) -> list[NegativeClip]:
    """UTD-MHAD through its loader (``train.datasets.utd_mhad``: ``kinect20``, x towards the camera's right, as
    checked on the data), every subject; ``id`` ``a<action>_s<subject>_t<trial>``."""
    info, samples = load_dataset("utd_mhad", root)     # cross_subject: all eight subjects
    overlap = penn_overlap("utd_mhad")
    out = []
    for s in samples:
        number = s.label + 1
        if (number in overlap) != penn_actions:
            continue
        action = overlap[number] if penn_actions else info.classes[s.label]
        out.append(NegativeClip(s.data, s.layout, s.fps, "utd_mhad", s.id, action=action))
    return out


# --- idle people -------------------------------------------------------------------------------------------------
def idle_clips(n: int, seed: int, seconds: float = 6.0, fps: float = 30.0) -> list[NegativeClip]:
    """``n`` generated idle people (3D ``mediapipe33``, camera space in metres), half standing, half sitting."""
    rng = np.random.default_rng([seed, 4242])
    t = int(round(seconds * fps))
    return [NegativeClip(idle_person(t, fps, rng, sitting=bool(i % 2)), "mediapipe33", fps, "idle", f"idle{seed}_{i}",
                         action="sitting still" if i % 2 else "standing still") for i in range(n)]


def idle_person(frames: int, fps: float, rng: np.random.Generator, sitting: bool = False) -> np.ndarray:
    """One idle person ``[T, 33, 4]`` (x, y, z metres in Kinect camera space — y up, z away — and score 1).

    Forward kinematics of a body of random height and build, facing the camera within ±70°, 2.3–4 m away; arms
    in a random rest pose (hanging, hands in front, on the hips, crossed-ish); slow sway (≤ 3 cm, 0.1–0.4 Hz), and
    slow drifts of arms, lean and head (AR(1), seconds-long). Nothing a model should call an action.
    """
    h = rng.uniform(1.5, 1.95)
    yaw = np.deg2rad(rng.uniform(-70, 70))
    base = np.array([rng.uniform(-0.6, 0.6), -rng.uniform(0.7, 1.3), rng.uniform(2.3, 4.0)])
    tt = np.arange(frames) / fps

    def slow(scale: float, timescale_s: float = 2.0) -> np.ndarray:   # smooth AR(1) drift, unit variance × scale
        a = math.exp(-1.0 / (timescale_s * fps))
        x = np.empty(frames)
        x[0] = rng.standard_normal()
        eps = rng.standard_normal(frames) * math.sqrt(1 - a * a)
        for i in range(1, frames):
            x[i] = a * x[i - 1] + eps[i]
        return scale * x

    sway_amp = rng.uniform(0.0, 0.03) * (0.4 if sitting else 1.0)
    nu, ph = rng.uniform(0.1, 0.4), rng.uniform(0, 2 * np.pi)
    sway_l = sway_amp * np.sin(2 * np.pi * nu * tt + ph) + slow(0.005)
    sway_f = 0.5 * sway_amp * np.sin(2 * np.pi * nu * 0.7 * tt + ph) + slow(0.005)
    lean_f = np.deg2rad(rng.uniform(-5, 15) if sitting else rng.uniform(-3, 5)) + np.deg2rad(slow(1.0))
    lean_s = np.deg2rad(rng.uniform(-4, 4)) + np.deg2rad(slow(0.7))
    head_yaw = np.deg2rad(rng.uniform(-20, 20)) + np.deg2rad(slow(4.0, 3.0))
    head_pitch = np.deg2rad(rng.uniform(-10, 15)) + np.deg2rad(slow(2.0, 3.0))
    rest = rng.choice(["hanging", "front", "hips", "crossed", "mixed"])
    arm = {}
    for side in ("left", "right"):
        kind = rest if rest != "mixed" else rng.choice(["hanging", "front", "hips"])
        u = rng.uniform
        abd, flex, elbow, inward = {"hanging": (u(3, 15), u(-5, 15), u(0, 25), 0),        # degrees
                                    "front": (u(5, 20), u(10, 40), u(50, 100), u(20, 60)),
                                    "hips": (u(25, 45), u(-15, 0), u(80, 110), u(70, 100)),
                                    "crossed": (u(5, 20), u(20, 40), u(100, 130), u(70, 90))}[kind]
        if sitting and kind == "hanging":
            flex, elbow = rng.uniform(20, 45), rng.uniform(40, 80)       # hands on the lap
        arm[side] = [np.deg2rad(v + slow(s)) for v, s in ((abd, 2.0), (flex, 3.0), (elbow, 4.0), (inward, 3.0))]
    stance = np.deg2rad(rng.uniform(2, 10))
    knee = np.deg2rad(rng.uniform(0, 8))

    up = np.array([0.0, 1.0, 0.0])
    fwd0 = np.array([-math.sin(yaw), 0.0, -math.cos(yaw)])   # facing the camera (−z) when yaw = 0
    left0 = np.array([-math.cos(yaw), 0.0, math.sin(yaw)])   # a facing person's left is at smaller x

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    col = lambda a: np.asarray(a)[:, None]  # noqa: E731  per-frame scalar → column
    fwd, left = np.tile(fwd0, (frames, 1)), np.tile(left0, (frames, 1))
    root = base + col(sway_l) * left0 + col(sway_f) * fwd0
    hip_mid = root + up * ((0.29 if sitting else 0.53) * h)
    trunk = unit(col(np.cos(lean_f) * np.cos(lean_s)) * up + col(np.sin(lean_f)) * fwd + col(np.sin(lean_s)) * left)
    sh_mid = hip_mid + trunk * 0.29 * h
    p: dict[str, np.ndarray] = {}
    hfwd = unit(col(np.cos(head_yaw)) * fwd + col(np.sin(head_yaw)) * left)
    hleft = unit(np.cross(hfwd, up) * -1.0)                  # left of the head's facing direction
    hup = unit(col(np.cos(head_pitch)) * trunk - col(np.sin(head_pitch)) * hfwd)
    head = sh_mid + trunk * 0.1 * h + hup * 0.04 * h
    for name, (f, u, lat) in {"nose": (0.055, -0.005, 0), "left_eye_inner": (0.048, 0.015, 0.012),
                            "left_eye": (0.046, 0.016, 0.02), "left_eye_outer": (0.042, 0.015, 0.03),
                            "right_eye_inner": (0.048, 0.015, -0.012), "right_eye": (0.046, 0.016, -0.02),
                            "right_eye_outer": (0.042, 0.015, -0.03), "left_ear": (0.0, 0.005, 0.046),
                            "right_ear": (0.0, 0.005, -0.046), "mouth_left": (0.045, -0.03, 0.014),
                            "mouth_right": (0.045, -0.03, -0.014)}.items():
        p[name] = head + (hfwd * f + hup * u + hleft * lat) * h
    for side, s in (("left", 1.0), ("right", -1.0)):
        out = s * left
        sh = sh_mid + out * 0.115 * h
        abd, flex, elb, inward = arm[side]
        d_up = unit(-col(np.cos(abd) * np.cos(flex)) * up + col(np.sin(abd)) * out + col(np.sin(flex)) * fwd)
        elbow = sh + d_up * 0.17 * h
        bend = unit(fwd - np.sum(fwd * d_up, -1, keepdims=True) * d_up)
        bend = unit(col(np.cos(inward)) * bend - col(np.sin(inward)) * out)
        d_fore = unit(col(np.cos(elb)) * d_up + col(np.sin(elb)) * bend)
        wrist = elbow + d_fore * 0.15 * h
        hip = hip_mid + out * 0.055 * h
        if sitting:
            d_thigh = unit(fwd * math.cos(np.deg2rad(10)) - up * math.sin(np.deg2rad(10)) + out * math.sin(stance))
            knee_p = hip + d_thigh * 0.245 * h
            ankle = knee_p + unit(-up + 0.1 * fwd + 0.05 * out) * 0.245 * h
        else:
            knee_p = hip + unit(-up * math.cos(stance) + out * math.sin(stance) + fwd * math.sin(knee)) * 0.245 * h
            ankle = knee_p + unit(-up * math.cos(stance) + out * math.sin(stance) - fwd * math.sin(knee)) * 0.245 * h
        p.update({f"{side}_shoulder": sh, f"{side}_elbow": elbow, f"{side}_wrist": wrist,
                  f"{side}_pinky": wrist + (d_fore * 0.045 - out * 0.01) * h,
                  f"{side}_index": wrist + d_fore * 0.055 * h,
                  f"{side}_thumb": wrist + (d_fore * 0.03 + fwd * 0.015) * h, f"{side}_hip": hip,
                  f"{side}_knee": knee_p, f"{side}_ankle": ankle,
                  f"{side}_heel": ankle - (fwd * 0.025 + up * 0.02) * h,
                  f"{side}_foot_index": ankle + (fwd * 0.08 - up * 0.035) * h})
    xyz = np.stack([p[j] for j in get_layout("mediapipe33").joints], axis=1)   # [T, 33, 3]
    return np.concatenate([xyz, np.ones(xyz.shape[:2] + (1,))], -1).astype(np.float32)


def idle_stream(seconds: float, seed: int, severity: float = 1.0, fps: float = 30.0, sitting: bool = False,
                layout: str = "mediapipe33") -> np.ndarray:
    """A still person as MediaPipe would report them: ``[T, V, 3]`` in ``layout`` (pixels of a 1920×1080 view)."""
    rng = np.random.default_rng([seed, 77])
    seq = idle_person(int(round(seconds * fps)), fps, rng, sitting=sitting)
    return degrade(seq, "mediapipe33", layout, DegradeConfig.from_calibration().scaled(severity), rng)


# --- transitions -------------------------------------------------------------------------------------------------
def transition_clips(clips: Sequence[tuple[np.ndarray, str, float, str]], pre: PreprocessConfig, seed: int,
                     share: float = 0.2) -> list[NegativeClip]:
    """Per known clip ``(data, layout, fps, id)``: a window where the person holds still and the action fills only
    the window's last (clip start) or first (clip end) ``≤ share`` of its time. Clean; degraded like the clip."""
    rng = np.random.default_rng([seed, 31])
    out = []
    for data, layout, fps, cid in clips:
        span = int(math.ceil(pre.window / pre.fps * fps))
        k = int(max(1, min(len(data), math.floor(rng.uniform(0.02, share) * span))))
        hold = span - k + 1
        if rng.random() < 0.5:
            seq = np.concatenate([np.repeat(data[:1], hold, 0), data[:k]])
            where = "start"
        else:
            seq = np.concatenate([data[len(data) - k:], np.repeat(data[-1:], hold, 0)])
            where = "end"
        out.append(NegativeClip(seq, layout, fps, "transition", f"{cid}:{where}", action=f"{where} of {cid}",
                                last_window=True))
    return out


# --- real estimator output on footage without a person ------------------------------------------------------------
def extracted_clips(path: str | Path, source: str = "pool") -> list[NegativeClip]:
    """A ``partkd-stream extract`` output (``.npz``) as one already-LQ clip (MediaPipe's hallucinated poses)."""
    from partkd_stream.skeleton_io import load_sequence

    seq = load_sequence(path)
    return [NegativeClip(seq.first_person(), seq.layout, seq.fps, source, Path(path).stem, action="no person", lq=True)]


# --- windows -----------------------------------------------------------------------------------------------------
class NegativeWindows:
    """Model windows from negative clips, degraded into the model's layout like MediaPipe.

    ``epoch_windows(epoch, n)``: ``n`` random windows for one training epoch — a source drawn by ``weights``
    (default: equally often), then a clip, a degradation draw (``draws`` fixed versions per clip, cycled over
    epochs, so the cost is paid ``draws`` times) and a random span (the clip's end for transitions), filled before
    short clips like the known clips (``data.FILL_MODES``). ``eval_windows()``: every sliding window of one fixed
    degradation per clip. With a ``look`` (``dataset_look``) each view is retargeted and masked so that
    missing joints and body proportions cannot tell the source from the known clips.
    """

    def __init__(self, clips: Sequence[NegativeClip], pre: PreprocessConfig, degradation: DegradeConfig,
                 seed: int, draws: int = 3, fill_modes: Sequence[str] = FILL_MODES,
                 weights: dict[str, float] | None = None, look: Look | None = None) -> None:
        if not clips:
            raise ValueError("no negative clips")
        self.clips, self.pre, self.deg, self.seed, self.draws = list(clips), pre, degradation, seed, max(1, draws)
        self.look = look
        self._factors: dict[str, dict[str, float]] = {}
        self.fill_modes = list(fill_modes)
        self.sources = sorted({c.source for c in self.clips})
        self._by_source = {s: [i for i, c in enumerate(self.clips) if c.source == s] for s in self.sources}
        w = np.array([1.0 if weights is None else float(weights.get(s, 0.0)) for s in self.sources])
        if not (w >= 0).all() or w.sum() <= 0:
            raise ValueError(f"source weights {weights} give no source of {self.sources} a positive weight")
        self.p = w / w.sum()
        self._views: dict[tuple[int, int], np.ndarray] = {}

    def view(self, i: int, draw: int) -> np.ndarray:
        """Clip ``i`` as the model sees it (``[T, V, 3]`` in the model's layout), degradation ``draw``."""
        key = (i, draw)
        if key not in self._views:
            c = self.clips[i]
            rng = sample_rng(self.seed, f"{c.source}/{c.id}", epoch=1000 + draw)
            if c.lq:
                self._views[key] = convert(c.data, c.layout, self.pre.layout)
            elif self.look is None:
                self._views[key] = degrade(c.data, c.layout, self.pre.layout, self.deg, rng)
            else:
                known_look = c.source in self.look.known_look
                self._views[key] = self.look.view(self._clean(c), self.pre.layout, known_look,
                                                  None if known_look else self.source_factors(c.source),
                                                  self.deg, rng)
        return self._views[key]

    def view_fps(self, i: int, draw: int) -> float:
        """The frame rate of ``view(i, draw)`` (the clip's own; a subclass that retimes its views says its own)."""
        return self.clips[i].fps

    def _clean(self, c: NegativeClip) -> np.ndarray:
        return clean_2d(c.data, c.layout, self.pre.layout, self.deg)

    def source_factors(self, source: str) -> dict[str, float]:
        """The retarget of ``source``'s clips to the look's proportions (from the source's median proportions)."""
        if source not in self._factors:
            assert self.look is not None
            clean = [self._clean(c) for c in self.clips if c.source == source]
            self._factors[source] = self.look.factors(median_proportions(clean, self.pre.layout))
        return self._factors[source]

    def epoch_windows(self, epoch: int, n: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch, 1234])
        src = rng.choice(len(self.sources), n, p=self.p)
        idx = np.array([self._by_source[self.sources[s]][rng.integers(len(self._by_source[self.sources[s]]))]
                        for s in src], dtype=int)
        draw = epoch % self.draws
        seqs = [self.view(i, draw) for i in idx]
        fps = np.array([self.view_fps(i, draw) for i in idx], float)
        lengths = np.array([len(s) for s in seqs])
        ends = random_ends(lengths, fps, self.pre, rng)
        ends = np.where([self.clips[i].last_window for i in idx], lengths - 1, ends)
        fill = list(rng.choice(self.fill_modes, n))
        return windows(seqs, fps, ends, self.pre, fill)

    def epoch_windows_all(self, epoch: int) -> np.ndarray:
        """One random window of every clip, in clip order (for clips that carry a label of their own)."""
        rng = np.random.default_rng([self.seed, epoch, 4321])
        draw = epoch % self.draws
        seqs = [self.view(i, draw) for i in range(len(self.clips))]
        fps = np.array([self.view_fps(i, draw) for i in range(len(self.clips))], float)
        ends = random_ends(np.array([len(s) for s in seqs]), fps, self.pre, rng)
        fill = list(rng.choice(self.fill_modes, len(seqs)))
        return windows(seqs, fps, ends, self.pre, fill)

    def eval_windows(self, stride_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every sliding window (as the stream predicts) of draw 0 of every clip → ``(x, clip index per window)``."""
        xs, owner = [], []
        for i, c in enumerate(self.clips):
            v = self.view(i, 0)
            if c.last_window:
                w = preprocess_window(take_frames(v, resample_indices(np.arange(len(v)) / c.fps, self.pre.fps,
                                                                      self.pre.window, self.pre.version),
                                                     self.pre.min_score)[None], self.pre)
            else:
                stride = None if stride_s is None else max(1, int(round(stride_s * c.fps)))
                w = clip_windows(v, c.fps, self.pre, stride)
            xs.append(w)
            owner += [i] * len(w)
        return np.concatenate(xs), np.array(owner, dtype=int)

    def stream(self, order_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """All clips (draw 0, random order) back to back as one stream: ``([T, V, 3], timestamps)``.

        A person going from one out-of-vocabulary action to the next, as a camera would see them; each clip keeps
        its own framing, so a cut between clips is a small jump, like a person stepping aside.
        """
        order = np.random.default_rng([order_seed, 9]).permutation(len(self.clips))
        parts, ts, t0 = [], [], 0.0
        for i in order:
            v, fps = self.view(int(i), 0), self.clips[int(i)].fps
            parts.append(v)
            ts.append(t0 + np.arange(len(v)) / fps)
            t0 = ts[-1][-1] + 1.0 / fps
        return np.concatenate(parts), np.concatenate(ts)
