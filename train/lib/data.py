"""From dataset samples to model windows: HQ (teacher) and LQ (student) views, paired and unpaired clips.

- The **HQ view** is the sample in the teacher's layout (3D data projected to 2D when the teacher is 2D).
- The **LQ view** is the calibrated degradation (``train.lib.degrade``) of the HQ clip into the student's layout:
  fresh every epoch for training, fixed by ``test_seed`` for the test set (so every run sees the same LQ test).
- A seeded ``paired_share`` of training clips keep their HQ partner; the rest are LQ-only: their HQ versions
  never enter the teacher's embedding bank nor logit KD, yet they still train the student through the
  multi-sample loss (positives are *other* HQ clips of their class). Whether the teacher itself trained on
  them is ``teacher_clips`` (``all`` by default: the teacher is the best HQ model we can have; ``paired``
  withholds them from the teacher too).
- Windows are picked exactly as the stream picks them (``partkd_stream.preprocess.resample_indices``) and
  normalised by the one ``preprocess_window``.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field

import numpy as np

from partkd_stream.convert import convert, project_to_2d
from partkd_stream.layouts import get_layout
from partkd_stream.preprocess import PreprocessConfig, preprocess_window, resample_indices, take_frames


from ..datasets import load_dataset, load_samples
from . import rng
from .config import DataConfig, FillMode
from .degrade import DegradeConfig, degrade, sample_rng
from .paths import resolve_root
from .shifts import rotate

VAL_SHARE = 0.15              # split_validation: share of each class's training clips held out
SPLIT_SEED = 0
VAL_DEGRADE_SEED = 20240430   # fixes the validation clips' degradation (the Penn configs' test_seed + 1)


@dataclass
class Benchmark:
    """Everything a run needs, prepared once: samples, views, paired mask, fixed LQ test set."""

    classes: list[str]
    hq_pre: PreprocessConfig
    lq_pre: PreprocessConfig
    train_ids: list[str]
    train_labels: np.ndarray
    train_fps: np.ndarray
    train_hq: list[np.ndarray]        # teacher-layout sequences
    train_src: list[tuple[np.ndarray, str]]  # what the degradation starts from: (sequence, layout)
    paired: np.ndarray                # bool [N_train]: HQ version available
    test_ids: list[str]
    test_labels: np.ndarray
    test_fps: np.ndarray
    test_hq: list[np.ndarray]
    test_lq: list[np.ndarray]
    degradation: DegradeConfig
    labelled: np.ndarray | None = None  # bool [N_train]: LQ clips the students train on (data.lq_fraction)
    cache: dict = field(default_factory=dict, repr=False)  # per-process memo: epoch windows shared by stages

    def __post_init__(self) -> None:
        if self.labelled is None:
            self.labelled = np.ones(len(self.train_ids), bool)


def load_benchmark(cfg: DataConfig, seed: int) -> Benchmark:
    root = resolve_root(cfg.root)
    if root.is_file():  # a cached file from train/prepare.py
        info, samples = load_samples(root)
    else:
        info, samples = load_dataset(cfg.dataset, root, protocol=cfg.protocol)
    train = [s for s in samples if s.split == "train"]
    test = [s for s in samples if s.split == "test"]
    if cfg.max_samples:
        train, test = train[: cfg.max_samples], test[: cfg.max_samples]
    if not train or not test:
        raise ValueError(f"{root}: dataset {cfg.dataset!r} gave {len(train)} training and {len(test)} test clips; "
                         f"both splits are needed")
    deg = degradation_of(cfg)
    hq_pre = PreprocessConfig(layout=cfg.hq_layout, dims=cfg.hq_dims, window=cfg.window, fps=cfg.fps)
    lq_pre = PreprocessConfig(layout=cfg.lq_layout, dims=2, window=cfg.window, fps=cfg.fps)
    paired = rng.stream(rng.PAIRED_MASK, seed).random(len(train)) < cfg.paired_share
    labels = np.array([s.label for s in train])
    labelled = labelled_subset(labels, cfg.lq_fraction, seed)
    test_lq = [degrade(s.data, s.layout, cfg.lq_layout, deg, sample_rng(cfg.test_seed, s.id, epoch=0)) for s in test]
    return Benchmark(
        classes=list(info.classes), hq_pre=hq_pre, lq_pre=lq_pre,
        train_ids=[s.id for s in train], train_labels=labels, labelled=labelled,
        train_fps=np.array([s.fps for s in train], float),
        train_hq=[hq_view(s.data, s.layout, cfg) for s in train],
        train_src=[(s.data, s.layout) for s in train], paired=paired,
        test_ids=[s.id for s in test], test_labels=np.array([s.label for s in test]),
        test_fps=np.array([s.fps for s in test], float),
        test_hq=[hq_view(s.data, s.layout, cfg) for s in test], test_lq=test_lq, degradation=deg)


def degradation_of(cfg: DataConfig) -> DegradeConfig:
    """The config's degradation profile (``data.degradation``) at its ``data.severity``: the LQ look of the
    benchmark's test set and of its training clips before any augmentation."""
    base = (DegradeConfig.from_calibration() if cfg.degradation == "calibrated"
            else DegradeConfig.from_calibration(resolve_root(cfg.degradation)))
    return base.scaled(cfg.severity)


def split_validation(bench: Benchmark, share: float = VAL_SHARE, seed: int = SPLIT_SEED) -> tuple[Benchmark, dict]:
    """Carve a stratified validation split out of the training clips → (training benchmark, validation set).

    The validation clips are never trained on; what a run chooses (a variant, a background offset) is chosen on
    them, never on the test set. They are degraded once, with their own seed (``VAL_DEGRADE_SEED``)."""
    r = np.random.default_rng([seed, 15])
    val = np.zeros(len(bench.train_ids), bool)
    for k in np.unique(bench.train_labels):
        idx = np.flatnonzero(bench.train_labels == k)
        val[r.permutation(idx)[: max(1, int(round(share * len(idx))))]] = True
    keep = np.flatnonzero(~val)
    train = dataclasses.replace(
        bench, train_ids=[bench.train_ids[i] for i in keep], train_labels=bench.train_labels[keep],
        train_fps=bench.train_fps[keep], train_hq=[bench.train_hq[i] for i in keep],
        train_src=[bench.train_src[i] for i in keep], paired=bench.paired[keep], labelled=bench.labelled[keep],
        cache={})
    vi = np.flatnonzero(val)
    lq = [degrade(*bench.train_src[i], bench.lq_pre.layout, bench.degradation,
                  sample_rng(VAL_DEGRADE_SEED, bench.train_ids[i])) for i in vi]
    return train, {"ids": [bench.train_ids[i] for i in vi], "labels": bench.train_labels[vi],
                   "fps": bench.train_fps[vi], "lq": lq, "src": [bench.train_src[i] for i in vi]}


def source_clips(src: list[tuple[np.ndarray, str]], fps: np.ndarray, ids: list[str]
                 ) -> list[tuple[np.ndarray, str, float, str]]:
    """``(sequence, layout, fps, id)`` per clip, from a benchmark's (or a validation set's) parallel lists — the
    form ``negatives.transition_clips`` takes."""
    return [(s, lay, f, i) for (s, lay), f, i in zip(src, fps, ids)]


def hq_view(seq: np.ndarray, layout: str, cfg: DataConfig) -> np.ndarray:
    """The teacher's view of a clean sample: its layout, projected to 2D if the teacher is 2D."""
    if seq.shape[-1] == 4 and cfg.hq_dims == 2:
        seq = project_to_2d(seq)
    return convert(seq, layout, cfg.hq_layout)


def labelled_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Class-stratified share of the training clips: per class, ``round(fraction · n_k)`` clips (at least one).

    Drawn from its own stream (``rng.LQ_FRACTION``), independent of the paired mask; per seed and class one random
    order, of which each fraction takes a prefix — so the 10 % subset lies inside the 25 % one, and a curve over
    fractions adds data rather than redrawing it.
    """
    keep = np.zeros(len(labels), bool)
    if fraction >= 1.0:
        keep[:] = True
        return keep
    gen = rng.stream(rng.LQ_FRACTION, seed)
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        order = members[gen.permutation(len(members))]
        keep[order[:max(1, int(round(fraction * len(members))))]] = True
    return keep


def lq_train_views(bench: Benchmark, seed: int, epoch: int, fixed: bool = False,
                   idx: np.ndarray | None = None) -> list[np.ndarray]:
    """Degraded training clips (``idx``: these clips; default all) for this epoch.

    ``fixed=False``: fresh every epoch — the degradation is the student's data augmentation (what the shipped
    model trains with). ``fixed=True``: the same LQ version every epoch, as a recorded LQ dataset has exactly one
    (the benchmark protocol: the student cannot average the noise away by seeing each clip degraded anew).
    A clip's version depends only on (seed, clip id, draw), not on which other clips are degraded with it.
    """
    draw = 1 if fixed else epoch + 1
    idx = np.arange(len(bench.train_ids)) if idx is None else idx
    return [degrade(bench.train_src[i][0], bench.train_src[i][1], bench.lq_pre.layout, bench.degradation,
                    sample_rng(seed, bench.train_ids[i], epoch=draw)) for i in idx]


def random_yaw(seqs: list[np.ndarray], max_deg: float, rng: np.random.Generator) -> list[np.ndarray]:
    """3D clips ``[T, V, 4]`` each turned by a random angle in ±``max_deg`` about the vertical axis through its centre
    (``shifts.rotate``).

    A cross-view benchmark (NW-UCLA: train on two cameras, test on a third) asks a 3D teacher for what its training
    views do not show; seeing each clip from new directions is the usual cure. Missing joints (score 0) stay put.
    """
    return [rotate(seq, yaw=a) for seq, a in zip(seqs, rng.uniform(-max_deg, max_deg, len(seqs)))]


def span_frames(pre: PreprocessConfig, src_fps: float) -> int:
    return int(np.ceil(pre.window / pre.fps * src_fps))


def random_ends(lengths: np.ndarray, fps: np.ndarray, pre: PreprocessConfig, rng: np.random.Generator) -> np.ndarray:
    """A random window end per clip, such that the window lies inside the clip when the clip is long enough."""
    lo = np.minimum([span_frames(pre, f) for f in fps], lengths) - 1
    return (lo + np.floor(rng.random(len(lengths)) * (lengths - lo))).astype(int)


def centre_ends(lengths: np.ndarray, fps: np.ndarray, pre: PreprocessConfig) -> np.ndarray:
    """The end of the window centred on each clip (clip accuracy's single window)."""
    span = np.array([span_frames(pre, f) for f in fps])
    return np.minimum(lengths - 1, (lengths + span) // 2 - 1).astype(int)


FILL_MODES = typing.get_args(FillMode)


def fill_before_clip(indices: np.ndarray, mode: str) -> np.ndarray:
    """What a window shows before a clip that is shorter than the window (index -1 slots).

    ``pad``: nothing (missing frames), as the stream's first seconds look; ``hold``: the clip's first frame (the
    person stood still before acting); ``loop``: the clip repeated (a repetitive action going on). A live window
    is usually full, while most Penn Action clips are shorter than a window: ``hold`` and ``loop`` let a model
    see full windows in training (``DataConfig.fill_modes``).
    """
    missing = indices < 0
    if mode == "pad" or not missing.any() or missing.all():
        return indices
    valid = indices[~missing]
    out = indices.copy()
    if mode == "hold":
        out[missing] = valid[0]
    elif mode == "loop":
        k = int(missing.sum())
        out[missing] = np.resize(valid, k + len(valid))[len(valid) - k % len(valid):][:k] if k else []
    else:
        raise ValueError(f"unknown fill mode {mode!r}; use one of {FILL_MODES}")
    return out


def windows(seqs: list[np.ndarray], fps: np.ndarray, ends: np.ndarray, pre: PreprocessConfig,
            fill: list[str] | None = None) -> np.ndarray:
    """One model input per clip ``[N, C_in, T, V]``: the window ending at ``ends[i]`` (``fill``: per-clip mode)."""
    fill = fill or ["pad"] * len(seqs)
    picked = [take_frames(s, fill_before_clip(resample_indices(np.arange(e + 1) / f, pre.fps, pre.window, pre.version),
                                              m), pre.min_score)
              for s, f, e, m in zip(seqs, fps, ends, fill)]
    if not picked:
        return np.zeros((0, pre.in_channels, pre.window, get_layout(pre.layout).num_joints), np.float32)
    return preprocess_window(np.stack(picked), pre)


@dataclass
class EpochViews:
    """One epoch's augmented training clips, in the order of the benchmark's training clips: their frame rates
    and labels as augmented (a new input rate, a mirrored direction-named action), the clean 3D ``hq`` views (what
    the teacher trains on, and a distilling student's paired HQ windows: the same clip, turned and timed alike) and
    the degraded ``lq`` views (students; None when only the teacher needs this epoch).
    ``train_stage(views=…)`` trains on these instead of the benchmark's fixed clips."""

    fps: np.ndarray                   # [N] frame rate of each view
    labels: np.ndarray                # [N] class of each view
    hq: list[np.ndarray]              # teacher-layout sequences
    lq: list[np.ndarray] | None = None  # student-layout sequences


@dataclass
class EpochData:
    """One epoch's training windows, in ``order`` (the epoch's shuffled batch order over all windows).

    ``hq_index[i]`` is the row of window i's HQ partner in ``x_hq``, or -1. Extra labelled windows (another
    dataset's clips, a background class of negative windows) join through ``train_stage(extra_windows=…)`` →
    ``add``; they have no HQ partner, so they train through every loss that needs no teacher view of their clip.
    """

    x: np.ndarray                 # [N, C_in, T, V] model inputs
    labels: np.ndarray            # [N] class indices
    hq_index: np.ndarray          # [N] row in x_hq, -1 = no HQ partner
    x_hq: np.ndarray | None = None  # [M, C_hq, T, V] HQ windows of the paired clips (stages that distil only)
    order: np.ndarray | None = None  # [N] this epoch's shuffled order

    def add(self, x: np.ndarray, labels: np.ndarray) -> "EpochData":
        return EpochData(np.concatenate([self.x, x]), np.concatenate([self.labels, labels]),
                         np.concatenate([self.hq_index, np.full(len(x), -1)]), self.x_hq)
