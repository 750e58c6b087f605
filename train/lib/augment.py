"""Training augmentation for every shift real input brings: one random ``shifts.Shift`` per clip and epoch.

Each training clip (clean 3D, ``openni15``) gets, every epoch, a shift drawn by ``shifts.random_shift`` from the
config's ``augment`` ranges — another body (a training dataset's median proportions), a camera yaw and pitch before
projection, the far side's limbs unreported in profile, another camera rate and a faster or slower action
(``shifts.retime``: interpolated, never repeated frames), another distance, the mirror image (its label through the
vocabulary's mirror map), and the score profile: the config's degradation (calibrated MediaPipe error, half the
clips framed from the waist up in the desk profile), clean input (scores 1) or 0/1 scores. ``shifts.apply_shift``
makes the student's LQ view; the teacher's HQ view is the same clip under the same body, view, timing and mirror
image, clean and in 3D, so a distilled student's paired HQ window shows what its LQ window shows.

A clip's draw depends only on (seed, clip id, epoch), not on the other clips (``degrade.sample_rng``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from partkd_stream.preprocess import PreprocessConfig

from .config import AugmentConfig
from .data import EpochViews
from .degrade import DegradeConfig, sample_rng
from .multiset import HQ_LAYOUT, Multiset
from .negatives import NegativeClip, NegativeWindows
from .shifts import Proportions, Shift, ShiftRanges, apply_shift, measure_proportions, random_shift, shift_clip


def shift_ranges(aug: AugmentConfig, bodies: list[Proportions]) -> ShiftRanges:
    return ShiftRanges(yaw=aug.yaw, pitch=aug.pitch, far_side_hidden=aug.far_side_hidden, fps=tuple(aug.fps),
                       speed=tuple(aug.speed), distance=tuple(aug.distance) if aug.distance else None,
                       mirror=aug.mirror, clean=aug.clean, binary=aug.binary,
                       proportions=tuple(bodies) if aug.bodies else ())


def hq_view(seq: np.ndarray, layout: str, fps: float, shift: Shift) -> tuple[np.ndarray, float]:
    """The teacher's view of a clean 3D clip under ``shift`` (``(clip, its frame rate)``): the world part of the
    shift (``shifts.shift_clip``: body, view, timing, mirror image) as ``apply_shift`` films it for the student, with
    every joint shown (no far side hidden) and no camera or noise."""
    return shift_clip(seq, layout, fps, replace(shift, far_side_hidden=None, distance=None))


class AugmentedViews:
    """``views(epoch, with_lq)`` for ``loops.train_stage``: every training clip of ``mset`` under its own random
    shift for that epoch (``EpochViews``)."""

    def __init__(self, mset: Multiset, aug: AugmentConfig, seed: int) -> None:
        bench = mset.bench
        self.bench, self.seed = bench, seed
        self.mirror = mset.mirror_labels()
        sets = sorted(set(mset.train_sets))
        self.bodies = {d: measure_proportions([s for s, n in zip(bench.train_hq, mset.train_sets) if n == d],
                                              HQ_LAYOUT, source=d) for d in sets}
        self.ranges = shift_ranges(aug, [self.bodies[d] for d in sets])
        self.sets = mset.train_sets

    def shift(self, i: int, epoch: int) -> tuple[Shift, np.random.Generator]:
        """Clip ``i``'s shift in ``epoch`` and the generator its degradation then draws from."""
        r = sample_rng(self.seed, self.bench.train_ids[i], epoch=epoch + 1)
        return random_shift(r, self.ranges, three_d=True, reference=self.bodies[self.sets[i]]), r

    def __call__(self, epoch: int, with_lq: bool) -> EpochViews:
        b = self.bench
        fps, labels, hq, lq = [], [], [], []
        for i, (seq, layout) in enumerate(b.train_src):
            shift, r = self.shift(i, epoch)
            h, f = hq_view(seq, layout, float(b.train_fps[i]), shift)
            if with_lq:
                lq.append(apply_shift(seq, layout, float(b.train_fps[i]), shift, b.lq_pre.layout, b.degradation,
                                      r)[0])
            hq.append(h)
            fps.append(f)
            labels.append(self.mirror[b.train_labels[i]] if shift.mirror else b.train_labels[i])
        return EpochViews(fps=np.array(fps, float), labels=np.array(labels, int), hq=hq, lq=lq if with_lq else None)


class ShiftedNegatives(NegativeWindows):
    """Negative windows (background) under the known clips' shifts, so the look of the input — view, camera rate,
    distance, clean or 0/1 scores — cannot tell an action from no action. Each of a clip's ``draws`` versions has its
    own random shift; no body retargeting (the generated idle people have their own random bodies), no mirroring
    (nothing to relabel) and no change of speed (a transition keeps the action's share of its window)."""

    def __init__(self, clips: Sequence[NegativeClip], pre: PreprocessConfig, degradation: DegradeConfig, seed: int,
                 ranges: ShiftRanges, **kw) -> None:
        super().__init__(clips, pre, degradation, seed, **kw)
        self.ranges = replace(ranges, proportions=(), mirror=0.0, speed=(1.0, 1.0))
        self._fps: dict[tuple[int, int], float] = {}

    def view(self, i: int, draw: int) -> np.ndarray:
        key = (i, draw)
        if key not in self._views:
            c = self.clips[i]
            if c.lq:                                  # already an estimator's output: as it is
                return super().view(i, draw)
            r = sample_rng(self.seed, f"{c.source}/{c.id}", epoch=1000 + draw)
            shift = random_shift(r, self.ranges, three_d=c.data.shape[-1] == 4)
            self._views[key], self._fps[key] = apply_shift(c.data, c.layout, c.fps, shift, self.pre.layout, self.deg,
                                                           r)
        return self._views[key]

    def view_fps(self, i: int, draw: int) -> float:
        return self._fps.get((i, draw), self.clips[i].fps)
