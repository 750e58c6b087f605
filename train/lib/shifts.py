"""The input shifts real use brings (the world is not the test set) as small, pure, seeded functions.

One implementation serves two callers: the generalisation benchmark (``train.lib.generalisation``) applies each
shift at a fixed setting, training draws them at random as augmentation (``random_shift``). Every function takes
and returns skeleton arrays ``[..., T, V, C]`` with the score last (3D: x, y, z, score in camera space — x to the
camera's right, y up, z away from the camera, metres, as every loader gives them; 2D: image x, y, score) and never
changes its input.

- **view** (3D): ``rotate`` — yaw about the vertical axis through the body's centre (the person turns), then pitch
  about the horizontal image axis (the camera looks down or up); ``hide_far_side`` — the far side's limbs of a body
  turned towards profile get score 0, as annotators (Penn Action's visibility) and other estimators report them;
- **frame rate and speed**: ``retime`` — the clip as a camera at another rate samples the motion (interpolated in
  time, never repeated frames), optionally played faster or slower;
- **camera** (3D → 2D): ``place`` — the body nearer or farther along its viewing ray; ``project`` — a pinhole
  camera (``Camera``: focal length, principal point, image size), joints outside the image optionally not reported;
- **bodies**: ``measure_proportions`` / ``retarget`` — bone lengths changed along the layout's tree to another
  dataset's proportions, the motion (every bone's direction in every frame) kept;
- **scores**: ``all_scores_one`` (clean input: every joint with a position at score 1, Penn's hidden joints
  included), ``binary_scores`` (0/1 visibility, as annotations or another estimator's confidences); the calibrated
  MediaPipe profile and desk framing (upper body only) are ``train.lib.degrade``'s profiles;
- **mirroring** (a left-handed person, a mirrored webcam): ``train.datasets.vocabulary.mirror_sequence`` and its
  label map (``Vocabulary.mirror_names``) — not repeated here.

``Shift`` names one setting of all of them. ``shift_clip`` applies what happens in the world (body, view, timing,
mirror image, distance: what a 3D teacher sees), ``apply_shift`` then films it — camera, scores and the degradation
profile given (``train.lib.degrade``) — into what the model would see. With ``Shift()`` the result is exactly
``degrade(seq, layout, dst_layout, profile, rng)``: the benchmark's LQ test clip.
"""
from __future__ import annotations

import functools
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np

from partkd_stream.convert import project_to_2d
from partkd_stream.layouts import Layout, get_layout

from .degrade import DegradeConfig, degrade

Scores = Literal["as_is", "one", "binary"]


# ----- view ------------------------------------------------------------------------------------------------------
def body_centre(seq: np.ndarray) -> np.ndarray:
    """Mean position of the present joints (score > 0) over the whole clip ``[T, V, C]`` → ``[C - 1]`` (zeros when
    nothing is present)."""
    present = seq[..., -1] > 0
    if not present.any():
        return np.zeros(seq.shape[-1] - 1, seq.dtype)
    return seq[..., :-1][present].mean(0)


def rotate(seq: np.ndarray, yaw: float = 0.0, pitch: float = 0.0, centre: np.ndarray | None = None) -> np.ndarray:
    """A 3D clip ``[T, V, 4]`` seen from another direction, angles in degrees, about ``centre`` (default: the
    body's centre over the clip, ``body_centre``), so the person stays where they stood.

    ``yaw`` turns the body about the vertical axis: positive turns the person towards the image's left, their left
    side towards the camera (+90: their left profile). ``pitch`` then tilts it about the horizontal image axis as a
    camera above the person looking down sees it (positive: the head comes nearer to the camera than the feet).
    Missing joints (score 0) stay where they are; ``yaw = pitch = 0`` returns the clip unchanged."""
    seq = np.asarray(seq)
    if seq.shape[-1] != 4:
        raise ValueError(f"rotate needs a 3D clip [..., V, 4] (x, y, z, score), got shape {seq.shape}")
    present = seq[..., 3] > 0
    if not present.any() or (yaw == 0 and pitch == 0):
        return seq.copy()
    c = body_centre(seq) if centre is None else np.asarray(centre)
    r = seq.copy()
    if yaw:
        a = np.deg2rad(yaw)
        x, z = seq[..., 0] - c[0], seq[..., 2] - c[2]
        r[..., 0] = np.where(present, c[0] + np.cos(a) * x + np.sin(a) * z, seq[..., 0])
        r[..., 2] = np.where(present, c[2] - np.sin(a) * x + np.cos(a) * z, seq[..., 2])
    if pitch:
        b = np.deg2rad(pitch)
        y, z = r[..., 1] - c[1], r[..., 2] - c[2]
        r[..., 1] = np.where(present, c[1] + np.cos(b) * y + np.sin(b) * z, r[..., 1])
        r[..., 2] = np.where(present, c[2] - np.sin(b) * y + np.cos(b) * z, r[..., 2])
    return r


def hide_far_side(seq: np.ndarray, layout: str | Layout, min_turn: float = 45.0) -> np.ndarray:
    """Score 0 for the far side's arm and leg (shoulder and hip included) in every frame of a 3D clip where the body
    is turned ``min_turn`` degrees or more from facing the camera (or from facing away): what an annotator marks
    invisible in a profile view (Penn Action's ``visibility``) and what other estimators report at confidence 0.

    The turn is read from the shoulders: ``asin(depth difference / shoulder distance)``; the farther shoulder's side
    is the far side. Frames without both shoulders are left as they are."""
    lay = layout if isinstance(layout, Layout) else get_layout(layout)
    seq = np.asarray(seq)
    if seq.shape[-1] != 4:
        raise ValueError(f"hide_far_side needs a 3D clip [..., V, 4], got shape {seq.shape}")
    ls, rs = lay.shoulders
    both = (seq[..., ls, 3] > 0) & (seq[..., rs, 3] > 0)
    d = seq[..., ls, :3] - seq[..., rs, :3]
    width = np.linalg.norm(d, axis=-1)
    turn = np.degrees(np.arcsin(np.clip(d[..., 2] / np.maximum(width, 1e-9), -1.0, 1.0)))  # > 0: left side farther
    out = seq.copy()
    for side, far in (("left", turn >= min_turn), ("right", turn <= -min_turn)):
        joints = list(lay.parts[f"{side}_arm"]) + list(lay.parts[f"{side}_leg"])
        hide = far & both
        out[..., joints, 3] = np.where(hide[..., None], 0.0, out[..., joints, 3])
    return out


# ----- frame rate and speed ----------------------------------------------------------------------------------------
def retime(seq: np.ndarray, src_fps: float, fps: float | None = None, speed: float = 1.0) -> np.ndarray:
    """The clip ``[..., T, V, C]`` recorded at ``src_fps`` as a camera at ``fps`` (default: the same) samples it,
    the action played ``speed`` times as fast (2: twice as fast, half the frames at the same rate).

    Output frame k shows the motion at source time ``k · speed / fps``, for as long as the source lasts. Coordinates
    and scores are interpolated linearly between the two nearest source frames where the joint is present in both;
    otherwise the nearer frame's joint is taken as it is. So the same rate at speed 1 is the clip itself, half the
    rate is every other frame, and a higher rate adds frames in between — a camera's frames, never repeated ones."""
    seq = np.asarray(seq)
    fps = float(src_fps if fps is None else fps)
    if not (src_fps > 0 and fps > 0 and speed > 0):
        raise ValueError(f"retime needs positive rates and speed, got src_fps={src_fps}, fps={fps}, speed={speed}")
    t = seq.shape[-3]
    if t <= 1:
        return seq.copy()
    step = speed * src_fps / fps                       # source frames per output frame
    n = int(np.floor((t - 1) / step + 1e-9)) + 1
    pos = np.arange(n) * step
    i0 = np.minimum(np.floor(pos).astype(int), t - 1)
    i1 = np.minimum(i0 + 1, t - 1)
    w = (pos - i0)[:, None, None].astype(np.float32)
    a, b = np.take(seq, i0, axis=-3), np.take(seq, i1, axis=-3)
    both = (a[..., -1:] > 0) & (b[..., -1:] > 0)
    nearer = np.where(w < 0.5, a, b)
    return np.where(both, a * (1 - w) + b * w, nearer).astype(seq.dtype, copy=False)


# ----- camera ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Camera:
    """A pinhole camera: focal length and principal point in pixels, image size."""

    focal: float
    principal: tuple[float, float]
    width: int
    height: int

    @classmethod
    def of_profile(cls, profile: DegradeConfig, width: int = 1920, height: int = 1080) -> "Camera":
        """The camera a degradation profile projects 3D clips with (the Kinect v2 colour camera, 1920 × 1080)."""
        return cls(float(profile.camera_focal), tuple(map(float, profile.camera_principal)), width, height)


KINECT_V2_COLOUR = Camera(1056.0, (976.0, 567.0), 1920, 1080)   # DegradeConfig's default camera
WEBCAM_VGA = Camera(500.0, (320.0, 240.0), 640, 480)            # a typical 640 × 480 webcam, 65° across


def place(seq: np.ndarray, distance: float) -> np.ndarray:
    """A 3D clip moved along the camera ray through its body centre until that centre is ``distance`` metres deep:
    the person nearer or farther, on the same spot of the image, in the same pose."""
    seq = np.asarray(seq)
    c = body_centre(seq)
    if c[2] <= 0:
        raise ValueError(f"place: the body's centre is not in front of the camera (z = {c[2]:.3f} m)")
    out = seq.copy()
    present = seq[..., 3:] > 0
    out[..., :3] = np.where(present, seq[..., :3] + c * (distance / c[2] - 1.0), seq[..., :3])
    return out


def project(seq: np.ndarray, camera: Camera, crop: bool = False) -> np.ndarray:
    """3D camera space ``[..., V, 4]`` → image ``[..., V, 3]`` through ``camera`` (``convert.project_to_2d``);
    ``crop``: joints outside the image are not reported (score 0, position kept)."""
    out = project_to_2d(seq, focal=camera.focal, principal=camera.principal)
    if crop:
        u, v = out[..., 0], out[..., 1]
        outside = (u < 0) | (u >= camera.width) | (v < 0) | (v >= camera.height)
        out[..., 2] = np.where(outside, 0.0, out[..., 2])
    return out


# ----- bodies ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Proportions:
    """A body's proportions: the median distance between every two named joints of ``layout`` (over frames where
    both are present, then over clips). Named, so proportions measured in one layout retarget clips of another.
    Equal only to itself (hashed by identity), so ``bone_factors`` of a (source, target) pair is computed once."""

    layout: str
    distances: Mapping[tuple[str, str], float] = field(repr=False)   # (joint a, joint b), a < b by name
    source: str = ""

    def distance(self, a: str, b: str) -> float | None:
        return self.distances.get((a, b) if a < b else (b, a))


def _pair_distances(seq: np.ndarray) -> np.ndarray:
    """``[V, V]`` median distance between joints over the frames where both are present (NaN: never together)."""
    xyz, ok = seq[..., :-1].astype(np.float64), seq[..., -1] > 0
    d = np.linalg.norm(xyz[:, :, None] - xyz[:, None], axis=-1)                        # [T, V, V]
    both = ok[:, :, None] & ok[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # "All-NaN slice": a pair never seen together
        return np.nanmedian(np.where(both, d, np.nan), axis=0)


def measure_proportions(clips: Iterable[np.ndarray], layout: str, source: str = "") -> Proportions:
    """Proportions of the people in ``clips`` (``[T, V, C]`` each, one layout): per clip the median distance of each
    pair of joints, then the median over clips."""
    lay = get_layout(layout)
    per = [_pair_distances(np.asarray(c)) for c in clips]
    if not per:
        raise ValueError("measure_proportions needs at least one clip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(np.stack(per), axis=0)
    names = lay.joints
    dist = {(min(names[i], names[j]), max(names[i], names[j])): float(med[i, j])
            for i in range(len(names)) for j in range(i + 1, len(names)) if np.isfinite(med[i, j]) and med[i, j] > 0}
    return Proportions(lay.name, dist, source)


def _tree(lay: Layout) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The layout's edges oriented away from its centre, in breadth-first order, and each joint's parent."""
    adj: dict[int, list[int]] = {i: [] for i in range(lay.num_joints)}
    for a, b in lay.edges:
        adj[a].append(b)
        adj[b].append(a)
    parent = np.full(lay.num_joints, -1)
    order, seen, todo = [], {lay.center}, deque([lay.center])
    while todo:
        p = todo.popleft()
        for c in adj[p]:
            if c not in seen:
                seen.add(c)
                parent[c] = p
                order.append((p, c))
                todo.append(c)
    return order, parent


@functools.lru_cache(maxsize=256)
def bone_factors(layout: str, source: Proportions, target: Proportions) -> dict[tuple[int, int], float]:
    """For every bone (parent, child) of ``layout``'s tree: the factor that takes ``source`` proportions to
    ``target`` ones — target / source distance of the two joints, named alike in both, that are nearest along the
    tree with the bone between them (a bone's own two joints when both layouts have them; e.g. Kinect's elbow–wrist
    and wrist–hand take OpenNI's elbow–hand; ties average). A bone no shared pair spans keeps its length. Cached per
    (layout, source, target): treat the result as read-only."""
    lay = get_layout(layout)
    order, parent = _tree(lay)
    names = lay.joints
    shared = [i for i, n in enumerate(names)
              if any(n in k for k in source.distances) and any(n in k for k in target.distances)]

    def path_to_root(i: int) -> list[int]:
        out = [i]
        while parent[out[-1]] >= 0:
            out.append(int(parent[out[-1]]))
        return out

    best: dict[tuple[int, int], tuple[int, list[float]]] = {}
    for x, i in enumerate(shared):
        for j in shared[x + 1:]:
            s, t = source.distance(names[i], names[j]), target.distance(names[i], names[j])
            if not s or not t:
                continue
            pi, pj = path_to_root(i), path_to_root(j)
            common = next(k for k in pi if k in set(pj))
            bones = [(int(parent[k]), k) for k in pi[:pi.index(common)]] + \
                    [(int(parent[k]), k) for k in pj[:pj.index(common)]]
            for bone in bones:
                length, ratios = best.get(bone, (10 ** 9, []))
                if len(bones) < length:
                    best[bone] = (len(bones), [t / s])
                elif len(bones) == length:
                    ratios.append(t / s)
    return {bone: (float(np.mean(best[bone][1])) if bone in best else 1.0) for bone in order}


def retarget(seq: np.ndarray, layout: str | Layout, target: Proportions, source: Proportions | None = None
             ) -> np.ndarray:
    """The clip ``[..., T, V, C]`` with every bone scaled by ``bone_factors(layout, source, target)`` along the tree
    from the layout's centre: each bone keeps its direction in every frame, so the motion is kept and only the body
    changes. ``source``: the proportions the clip's people are measured against — their dataset's
    (``measure_proportions`` of its clips), so each person keeps how they differ from their dataset's median;
    default the clip's own, so its median bone lengths become exactly ``target``'s (same layout). Missing joints
    move with their parent."""
    lay = layout if isinstance(layout, Layout) else get_layout(layout)
    seq = np.asarray(seq)
    source = source if source is not None else measure_proportions([seq.reshape((-1,) + seq.shape[-2:])], lay.name)
    factors = bone_factors(lay.name, source, target)
    out = seq.copy()
    present = seq[..., -1] > 0
    for (p, c), f in factors.items():
        both = (present[..., p] & present[..., c])[..., None]
        moved = out[..., p, :-1] - seq[..., p, :-1]            # how far the parent went
        bone = seq[..., c, :-1] - seq[..., p, :-1]
        out[..., c, :-1] = np.where(both, out[..., p, :-1] + f * bone, seq[..., c, :-1] + moved)
    return out


# ----- scores ----------------------------------------------------------------------------------------------------
def all_scores_one(seq: np.ndarray) -> np.ndarray:
    """Clean input: every joint with a position (finite, not all 0) at score 1 — Penn Action's joints annotated as
    hidden included, as an estimator that always reports every joint with full confidence would give them."""
    seq = np.asarray(seq)
    xyz = seq[..., :-1]
    has = np.isfinite(xyz).all(-1) & (np.abs(np.nan_to_num(xyz)).sum(-1) > 0)
    out = seq.copy()
    out[..., -1] = np.where(has, 1.0, 0.0)
    return out


def binary_scores(seq: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Scores as 0/1 visibility: 1 where ``score ≥ threshold``, else 0 (positions kept)."""
    out = np.array(seq, copy=True)
    out[..., -1] = (out[..., -1] >= threshold).astype(out.dtype)
    return out


# ----- one setting of everything, and the pipeline -----------------------------------------------------------------
@dataclass(frozen=True)
class Shift:
    """One setting of every shift; ``Shift()`` changes nothing (the profile's own condition at the source rate).

    3D-only fields (``yaw``, ``pitch``, ``far_side_hidden``, ``distance``, ``camera``, ``crop``) need a 3D clip;
    ``proportions`` works in 2D too. ``degrade=False`` leaves out the profile's noise (clean projection: scores 1 where
    present); ``scores``: ``as_is`` (what the profile gives), ``one`` (every joint with a position at 1 *before* the
    noise: Penn's hidden joints shown), ``binary`` (0/1 after the noise)."""

    yaw: float = 0.0
    pitch: float = 0.0
    far_side_hidden: float | None = None      # min_turn of hide_far_side; None = off
    fps: float | None = None                  # camera rate; None = the source's
    speed: float = 1.0
    distance: float | None = None             # metres to the body centre; None = as recorded
    camera: Camera | None = None              # None = the profile's camera
    crop: bool = False                        # joints outside the image are not reported
    proportions: Proportions | None = None    # target body proportions
    reference: Proportions | None = None      # what the clip's people are measured against (None: the clip)
    mirror: bool = False
    degrade: bool = True
    scores: Scores = "as_is"

    def needs_3d(self) -> bool:
        return bool(self.yaw or self.pitch or self.far_side_hidden is not None or self.distance is not None
                    or self.camera is not None or self.crop)

    def describe(self) -> dict[str, Any]:
        """The fields that differ from ``Shift()``, JSON-able (proportions by their source's name)."""
        out: dict[str, Any] = {}
        for k, v in vars(self).items():
            if v == getattr(Shift(), k):
                continue
            if isinstance(v, Proportions):
                v = v.source or v.layout
            elif isinstance(v, Camera):
                v = {"focal": v.focal, "principal": list(v.principal), "width": v.width, "height": v.height}
            out[k] = v
        return out


def shift_clip(seq: np.ndarray, layout: str, fps: float, shift: Shift) -> tuple[np.ndarray, float]:
    """The part of a shift that happens in the world, before any camera: ``(the clip in its own layout and
    dimensions, its frame rate)`` — another body, view, timing, the mirror image (a left-handed person), the distance.
    What a 3D teacher sees of a shifted clip; ``apply_shift`` films it.

    Order: proportions → yaw/pitch → far side hidden → frame rate and speed → mirror → distance."""
    from train.datasets.vocabulary import mirror_sequence

    seq = np.asarray(seq, np.float32)
    if shift.needs_3d() and seq.shape[-1] != 4:
        raise ValueError(f"shift {shift.describe()} turns or projects a 3D clip; this clip is 2D ({layout})")
    if shift.proportions is not None:
        seq = retarget(seq, layout, shift.proportions, shift.reference)
    if shift.yaw or shift.pitch:
        seq = rotate(seq, shift.yaw, shift.pitch)
    if shift.far_side_hidden is not None:
        seq = hide_far_side(seq, layout, shift.far_side_hidden)
    out_fps = float(shift.fps or fps)
    if out_fps != fps or shift.speed != 1.0:
        seq = retime(seq, fps, out_fps, shift.speed)
    if shift.mirror:
        seq = mirror_sequence(seq, layout)
    if shift.distance is not None:
        seq = place(seq, shift.distance)
    return seq, out_fps


def apply_shift(seq: np.ndarray, layout: str, fps: float, shift: Shift, dst_layout: str, profile: DegradeConfig,
                rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A clean dataset clip (``[T, V, 4]`` 3D or ``[T, V, 3]`` 2D, in ``layout``) as the model would see it under
    ``shift``: ``(clip [T', V_dst, 3] in dst_layout, its frame rate)``.

    ``shift_clip`` (the world), then the camera (3D: ``project``), scores ``one``, the layout conversion and the
    profile's noise (``degrade.degrade``, drawing from ``rng``; ``degrade=False``: none), scores ``binary``. The
    profile's noise and rates are per frame, as calibrated at 30 fps, whatever the new rate."""
    seq, out_fps = shift_clip(seq, layout, fps, shift)
    if seq.shape[-1] == 4:
        seq = project(seq, shift.camera or Camera.of_profile(profile), crop=shift.crop)
    if shift.scores == "one":
        seq = all_scores_one(seq)
    out = degrade(seq, layout, dst_layout, profile if shift.degrade else DegradeConfig.zero(), rng)
    if shift.scores == "binary":
        out = binary_scores(out)
    return out, out_fps


# ----- random shifts for training ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShiftRanges:
    """What ``random_shift`` draws from (training augmentation); every field 0 / empty turns that shift off."""

    yaw: float = 90.0                          # ± degrees, uniform
    pitch: float = 20.0                        # ± degrees, uniform
    far_side_hidden: float = 0.3               # P(far side hidden when turned ≥ 45°)
    fps: Sequence[float] = (10.0, 15.0, 20.0, 25.0, 30.0, 60.0)   # camera rates, uniform; empty: the source's
    speed: tuple[float, float] = (0.6, 1.6)    # log-uniform
    distance: tuple[float, float] | None = (1.5, 5.0)   # metres, uniform; None: as recorded
    mirror: float = 0.5                        # P(mirrored)
    clean: float = 0.1                         # P(no noise: clean input)
    binary: float = 0.1                        # P(0/1 scores)
    proportions: Sequence[Proportions] = ()    # other bodies, uniform over these and the clip's own


def random_shift(rng: np.random.Generator, ranges: ShiftRanges = ShiftRanges(), three_d: bool = True,
                 reference: Proportions | None = None) -> Shift:
    """One random ``Shift`` (``three_d=False``: only what a 2D clip allows). A fixed number of draws per call, so a
    change of one range does not reshuffle the others."""
    u = rng.random(12)
    fps = float(ranges.fps[int(u[3] * len(ranges.fps))]) if ranges.fps else None
    lo, hi = ranges.speed
    speed = float(np.exp(np.log(lo) + u[4] * (np.log(hi) - np.log(lo)))) if hi > lo else float(lo)
    bodies = list(ranges.proportions)
    k = int(u[8] * (len(bodies) + 1))                 # the last choice: the clip's own body
    body = bodies[k] if k < len(bodies) else None
    clean = u[9] < ranges.clean
    kw: dict[str, Any] = dict(
        fps=fps, speed=speed, mirror=bool(u[7] < ranges.mirror), degrade=not clean,
        scores="binary" if (not clean and u[10] < ranges.binary) else "as_is",
        proportions=body, reference=reference if body is not None else None)
    if three_d:
        kw.update(yaw=float((2 * u[0] - 1) * ranges.yaw), pitch=float((2 * u[1] - 1) * ranges.pitch),
                  far_side_hidden=45.0 if u[2] < ranges.far_side_hidden else None,
                  distance=(float(ranges.distance[0] + u[5] * (ranges.distance[1] - ranges.distance[0]))
                            if ranges.distance else None))
    return Shift(**kw)


__all__ = ["Camera", "KINECT_V2_COLOUR", "WEBCAM_VGA", "Proportions", "Shift", "ShiftRanges", "all_scores_one",
           "apply_shift", "binary_scores", "body_centre", "bone_factors", "hide_far_side", "measure_proportions",
           "place", "project", "random_shift", "retarget", "retime", "rotate", "shift_clip"]
