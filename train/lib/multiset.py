"""Several Kinect datasets as one benchmark through the everyday vocabulary, and leave-one-dataset-out splits.

UTD-MHAD, KARD, Florence 3D and NW-UCLA are relabelled into the everyday vocabulary
(``train/datasets/labels/everyday_vocabulary.yaml``) and converted to one 3D layout, ``openni15`` (the teacher's HQ
view; the student's LQ view is their degradation into 2D ``penn13``). Each dataset keeps its own protocol: its
training subjects (NW-UCLA: views 1 and 2) train, its test subjects (view 3) test; what a run chooses is chosen on
a validation share carved out of the training clips (``data.split_validation``) or on the left-out dataset, never
on a test split. ``multiset.max_per_class`` keeps at most so many training clips per dataset and class (NW-UCLA has
~100 per class in its two training views, the others 10-16), a fixed subset.

**Leave one dataset out** (``multiset.leave_out``): train on the others, test the left-out dataset's clips of the
classes the others share (``Vocabulary.shared_classes``) — all of its clips, since none of them was trained on.

The model's classes are the vocabulary's classes that a training dataset has clips of, minus
``multiset.exclude_classes`` (held out of training altogether: the everyday model's unseen-action set), in
vocabulary order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from partkd_stream.convert import convert
from partkd_stream.preprocess import PreprocessConfig

from ..datasets import load_dataset, load_samples
from ..datasets.sample import DatasetError, Sample
from ..datasets.vocabulary import Vocabulary, load_vocabulary
from . import rng
from .config import DataConfig, ExperimentConfig, MultisetConfig
from .data import Benchmark, degradation_of, labelled_subset
from .degrade import degrade, sample_rng
from .negatives import source_root
from .paths import resolve_root

HQ_LAYOUT = "openni15"   # the one 3D layout every Kinect set converts to (partkd_stream.convert)
CAP_SEED = 31            # multiset.max_per_class: which clips of a large dataset are kept


@dataclass
class Multiset:
    """A multi-dataset benchmark: the ``Benchmark`` training runs take, plus where each clip comes from."""

    bench: Benchmark
    vocab: Vocabulary
    train_sets: np.ndarray            # [N_train] dataset name of each training clip
    test_sets: np.ndarray             # [N_test] dataset name of each test clip
    train_actions: list[str] = field(default_factory=list)  # each training clip's own action name (its dataset's)
    left_out: str | None = None

    def mirror_labels(self) -> np.ndarray:
        """Per model class, the class of its mirror image (``swipe_left`` ↔ ``swipe_right``; most map to
        themselves). A class whose mirror image the model lacks maps to itself."""
        names = self.bench.classes
        image = self.vocab.mirror_names(names)
        return np.array([names.index(image[c]) if image[c] is not None else i for i, c in enumerate(names)])


def dataset_samples(name: str, root: str | Path, vocab: Vocabulary) -> list[Sample]:
    """One dataset (raw folder or ``train.prepare`` cache) relabelled into ``vocab``, in ``openni15``.

    Each sample's ``meta`` holds ``dataset`` and ``action`` (``Vocabulary.map_samples``); ``label`` is the
    vocabulary index."""
    root = Path(root)
    info, samples = load_samples(root) if root.is_file() else load_dataset(name, root)
    if info.name != name:
        raise DatasetError(f"{root}: holds dataset {info.name!r}, expected {name!r}")
    _, samples = vocab.map_samples(info, samples)
    out = []
    for s in samples:
        if s.data.shape[-1] != 4:
            raise DatasetError(f"{root}: clip {s.id} is not 3D ({s.data.shape[-1] - 1} coordinates); the multi-dataset "
                               f"benchmark projects 3D clips itself")
        out.append(Sample(data=convert(s.data, s.layout, HQ_LAYOUT), layout=HQ_LAYOUT, label=s.label, id=f"{name}/{s.id}",
                          fps=s.fps, split=s.split, subject=s.subject, view=s.view, meta=s.meta))
    return out


def dataset_root(ms: MultisetConfig, name: str) -> Path:
    """Where dataset ``name`` is read from: ``multiset.roots[name]``, else under ``multiset.root`` its
    ``train.prepare`` cache ``<name>.npz`` when present, else its raw folder (``paths.DATASET_DIRS``)."""
    if name in ms.roots:
        return resolve_root(ms.roots[name])
    return source_root(resolve_root(ms.root), name)


def model_classes(vocab: Vocabulary, have: set[str], exclude: list[str]) -> list[str]:
    """The vocabulary classes in ``have`` (those the training clips show), minus ``exclude``, in vocabulary order."""
    return [c for c in vocab.classes if c in have and c not in exclude]


def training_sets(ms: MultisetConfig) -> list[str]:
    if ms.leave_out is not None and ms.leave_out not in ms.datasets:
        raise DatasetError(f"multiset.leave_out={ms.leave_out!r} is not one of multiset.datasets "
                           f"({', '.join(ms.datasets)})")
    sets = [d for d in ms.datasets if d != ms.leave_out]
    if not sets:
        raise DatasetError("multiset.datasets: no dataset left to train on")
    return sets


def load_multiset(cfg: ExperimentConfig, seed: int) -> Multiset:
    """The training datasets of ``cfg.multiset`` as one ``Benchmark`` (classes: ``model_classes``): training clips
    of their training splits, test clips of their test splits (LQ by the config's degradation, fixed by
    ``data.test_seed``); HQ = clean ``openni15`` 3D. Clips of a class outside the model's classes are left out."""
    ms, dc = cfg.multiset, cfg.data
    vocab = load_vocabulary(resolve_root(ms.vocabulary)) if ms.vocabulary else load_vocabulary()
    sets = training_sets(ms)
    unknown = [c for c in ms.exclude_classes if c not in vocab.classes]
    if unknown:
        raise DatasetError(f"multiset.exclude_classes: {unknown[0]!r} is no class of {vocab.path}")
    loaded = [(name, s) for name in sets for s in dataset_samples(name, dataset_root(ms, name), vocab)]
    classes = model_classes(vocab, {vocab.classes[s.label] for _, s in loaded}, ms.exclude_classes)
    to_model = {vocab.index(c): k for k, c in enumerate(classes)}
    train = [(n, s) for n, s in loaded if s.label in to_model and s.split == "train"]
    test = [(n, s) for n, s in loaded if s.label in to_model and s.split != "train"]
    if ms.max_per_class:
        train = capped(train, ms.max_per_class)
    if dc.max_samples:
        train, test = train[: dc.max_samples], test[: dc.max_samples]
    if not train or not test:
        raise DatasetError(f"multiset {', '.join(sets)}: {len(train)} training and {len(test)} test clips; both "
                           f"splits are needed")
    bench = build_benchmark(classes, [s for _, s in train], [s for _, s in test],
                            [to_model[s.label] for _, s in train], [to_model[s.label] for _, s in test], dc, seed)
    return Multiset(bench=bench, vocab=vocab, train_sets=np.array([n for n, _ in train]),
                    test_sets=np.array([n for n, _ in test]), train_actions=[s.meta["action"] for _, s in train],
                    left_out=ms.leave_out)


def capped(clips: list[tuple[str, Sample]], k: int) -> list[tuple[str, Sample]]:
    """At most ``k`` clips per (dataset, class): a random subset fixed by the clip ids (the same in every run and
    seed), in the original order."""
    groups: dict[tuple[str, int], list[int]] = {}
    for i, (name, s) in enumerate(clips):
        groups.setdefault((name, s.label), []).append(i)
    keep: set[int] = set()
    for (name, label), idx in groups.items():
        r = np.random.default_rng([CAP_SEED, label, *name.encode()])
        keep.update(idx[j] for j in r.permutation(len(idx))[:k])
    return [c for i, c in enumerate(clips) if i in keep]


def build_benchmark(classes: list[str], train: list[Sample], test: list[Sample], train_labels: list[int],
                    test_labels: list[int], dc: DataConfig, seed: int) -> Benchmark:
    """A ``Benchmark`` over already relabelled ``openni15`` 3D samples (HQ = the clean clip)."""
    if dc.hq_layout != HQ_LAYOUT or dc.hq_dims != 3:
        raise DatasetError(f"the multi-dataset benchmark's teacher sees {HQ_LAYOUT} 3D; set data.hq_layout: "
                           f"{HQ_LAYOUT} and data.hq_dims: 3 (got {dc.hq_layout}, {dc.hq_dims}D)")
    deg = degradation_of(dc)
    hq_pre = PreprocessConfig(layout=HQ_LAYOUT, dims=3, window=dc.window, fps=dc.fps)
    lq_pre = PreprocessConfig(layout=dc.lq_layout, dims=2, window=dc.window, fps=dc.fps)
    labels = np.array(train_labels, int)
    paired = rng.stream(rng.PAIRED_MASK, seed).random(len(train)) < dc.paired_share
    return Benchmark(
        classes=list(classes), hq_pre=hq_pre, lq_pre=lq_pre,
        train_ids=[s.id for s in train], train_labels=labels, labelled=labelled_subset(labels, dc.lq_fraction, seed),
        train_fps=np.array([s.fps for s in train], float), train_hq=[s.data for s in train],
        train_src=[(s.data, s.layout) for s in train], paired=paired,
        test_ids=[s.id for s in test], test_labels=np.array(test_labels, int),
        test_fps=np.array([s.fps for s in test], float), test_hq=[s.data for s in test],
        test_lq=[degrade(s.data, s.layout, dc.lq_layout, deg, sample_rng(dc.test_seed, s.id, epoch=0)) for s in test],
        degradation=deg)


def left_out_samples(cfg: ExperimentConfig, classes: list[str]) -> tuple[list[Sample], np.ndarray]:
    """The left-out dataset's clips (every split) of the classes it shares with the training datasets that the
    model knows (``classes``) → ``(samples in openni15, labels as indices into classes)``."""
    ms = cfg.multiset
    if ms.leave_out is None:
        raise DatasetError("multiset.leave_out is not set: no dataset is left out")
    vocab = load_vocabulary(resolve_root(ms.vocabulary)) if ms.vocabulary else load_vocabulary()
    shared = set(vocab.shared_classes(ms.leave_out, training_sets(ms))) & set(classes)
    out, labels = [], []
    for s in dataset_samples(ms.leave_out, dataset_root(ms, ms.leave_out), vocab):
        name = vocab.classes[s.label]
        if name in shared:
            out.append(s)
            labels.append(classes.index(name))
    return out, np.array(labels, int)
