"""Named random streams of a training run: one numpy generator per purpose, derived from (seed, [epoch,] salt).

Each purpose draws from its own stream so that switching one feature on or off (rotation, fill modes, a labelled
subset) leaves every other draw of the run unchanged — a comparison between two configs then differs only in
what was changed. Streams are derived afresh from their key, never carried over, so a run resumed at an epoch
boundary draws exactly what an uninterrupted one draws. The salts are the values the published runs used; changing
one changes every result that depends on it. (The degradation has its own per-clip stream,
``train.lib.degrade.sample_rng(seed, clip id, epoch)``, so each clip's LQ version is independent of the others.)
"""
from __future__ import annotations

import numpy as np

PAIRED_MASK = 7      # which training clips keep their HQ partner: per seed, the same in every stage
EPOCH_ORDER = 99     # per epoch: where each clip's window ends, and the batch order
HQ_ROTATION = 11     # per epoch: the random yaw of each 3D teacher clip (data.hq_rotate)
FILL_MODES = 5       # per epoch: what fills a window before a short clip (data.fill_modes)
LQ_FRACTION = 13     # which LQ training clips the students may use (data.lq_fraction): per seed, independent
                     # of the paired mask, so the labelled subset and the HQ-paired subset are unrelated
CONTROL_TEACHER = 1009  # torch seed offset of the randomly initialised network of the teacher-free control


def stream(salt: int, seed: int, epoch: int | None = None) -> np.random.Generator:
    """The generator for one purpose (``salt``) of a seed, or of one epoch of it."""
    key = [int(seed), salt] if epoch is None else [int(seed), int(epoch), salt]
    return np.random.default_rng(key)
