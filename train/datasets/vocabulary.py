"""One action vocabulary across datasets (``labels/everyday_vocabulary.yaml``), and mirroring with its label map.

The file maps each dataset's actions (by the names in its ``labels/*_classes.txt``) to vocabulary classes and says
why each merge holds; ``load_vocabulary`` reads and validates it (an unknown dataset action, an action mapped twice,
a dataset action left unmapped, a mirror map that is not its own inverse → one-line :class:`DatasetError`).

- ``vocab.map_samples(info, samples)``: a loaded dataset relabelled into the vocabulary;
- ``vocab.shared_classes(dataset, others)``: the classes a dataset shares with others (leave one dataset out:
  train on ``others``, test ``dataset``'s clips of these classes);
- ``mirror_sequence(seq, layout)`` / ``vocab.mirror(seq, layout, label)``: a left-handed person or a mirrored
  webcam — x flipped about the body, left and right joints exchanged, direction-named classes swapped.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from partkd_stream.layouts import Layout, get_layout

from .sample import LABELS_DIR, DatasetError, DatasetInfo, Sample, read_class_names

VOCABULARY_FILE = LABELS_DIR / "everyday_vocabulary.yaml"
DATASET_ALIASES = {"ntu60": "ntu", "ntu120": "ntu"}  # both NTU loaders name their classes from ntu120_classes.txt


def dataset_key(name: str) -> str:
    """The vocabulary's key for a loader's dataset name (``ntu60`` / ``ntu120`` → ``ntu``)."""
    return DATASET_ALIASES.get(name, name)


@dataclass(frozen=True)
class Vocabulary:
    """Classes (index = label), each dataset's action → class, the mirror map and the one-sided actions."""

    classes: tuple[str, ...]
    sources: Mapping[str, Mapping[str, str]]         # dataset → {its action name: vocabulary class}
    mirror_of: Mapping[str, str]                      # class → its mirror image (every class, most map to themselves)
    one_sided: Mapping[str, frozenset[str]]           # dataset → its actions done with one hand / foot / side
    why: Mapping[str, str] = field(default_factory=dict)
    path: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def index(self, name: str) -> int:
        try:
            return self.classes.index(name)
        except ValueError:
            raise DatasetError(f"{self.path}: no vocabulary class {name!r}") from None

    def class_of(self, dataset: str, action: str) -> str | None:
        """The vocabulary class of one dataset action (``None``: the action is outside the vocabulary)."""
        table = self._table(dataset)
        return table.get(action)

    def classes_of(self, dataset: str) -> tuple[str, ...]:
        """The vocabulary classes ``dataset`` has clips of, in vocabulary order."""
        have = set(self._table(dataset).values())
        return tuple(c for c in self.classes if c in have)

    def shared_classes(self, dataset: str, others: Iterable[str] | None = None) -> tuple[str, ...]:
        """Classes of ``dataset`` that at least one of ``others`` (default: every other dataset) also has."""
        key = dataset_key(dataset)
        others = [dataset_key(o) for o in (others if others is not None else self.sources) if dataset_key(o) != key]
        theirs = set().union(*(self.classes_of(o) for o in others)) if others else set()
        return tuple(c for c in self.classes_of(key) if c in theirs)

    def mirror_label(self, label: int) -> int:
        """The label of the mirror image of an action of class ``label``."""
        return self.classes.index(self.mirror_of[self.classes[label]])

    def mirror_names(self, names: Iterable[str], dataset: str | None = None) -> dict[str, str | None]:
        """The label map of mirroring for a model's class names: ``dataset``'s action names (a model trained on one
        dataset, e.g. UTD-MHAD's ``swipe_left``) or, with ``dataset=None``, vocabulary classes → the name among
        ``names`` of each one's mirror image (``None`` when the mirror image is not among them; an action outside
        the vocabulary is its own)."""
        names = list(names)
        vclass = (lambda n: self.class_of(dataset, n)) if dataset is not None else \
            (lambda n: n if n in self.mirror_of else None)
        back = {vclass(n): n for n in names if vclass(n) is not None}
        out: dict[str, str | None] = {}
        for n in names:
            v = vclass(n)
            out[n] = n if v is None else back.get(self.mirror_of[v])
        return out

    def mirror(self, seq: np.ndarray, layout: str | Layout, label: int) -> tuple[np.ndarray, int]:
        """``(mirror_sequence(seq, layout), mirror_label(label))``."""
        return mirror_sequence(seq, layout), self.mirror_label(label)

    def map_samples(self, info: DatasetInfo, samples: list[Sample]) -> tuple[DatasetInfo, list[Sample]]:
        """``samples`` of dataset ``info`` relabelled into the vocabulary; clips of actions outside it are left out.

        Each kept sample's ``meta`` gains ``dataset`` and ``action`` (the dataset's own class name); the returned
        info has the vocabulary's classes and keeps the source in ``meta["dataset"]``."""
        if "vocabulary" in info.meta:
            raise DatasetError(f"{info.name}: samples are already in vocabulary {info.meta['vocabulary']}")
        table = self._table(info.name)
        out = []
        for s in samples:
            action = info.classes[s.label]
            cls = table.get(action)
            if cls is not None:
                out.append(replace(s, label=self.classes.index(cls),
                                   meta={**s.meta, "dataset": info.name, "action": action}))
        new_info = replace(info, classes=list(self.classes),
                           meta={**info.meta, "dataset": info.name, "vocabulary": Path(self.path).name})
        return new_info, out

    def mirror_sample(self, sample: Sample) -> Sample:
        """A vocabulary-labelled sample mirrored (``data`` and ``others``; ``aux`` holds per-joint data in the
        source's own image and is dropped)."""
        cx = body_center_x(sample.data, sample.layout)
        others = None if sample.others is None else mirror_sequence(sample.others, sample.layout, cx)
        return replace(sample, data=mirror_sequence(sample.data, sample.layout, cx), others=others, aux={},
                       label=self.mirror_label(sample.label), id=f"{sample.id}_mirrored",
                       meta={**sample.meta, "mirrored": True})

    def _table(self, dataset: str) -> Mapping[str, str]:
        key = dataset_key(dataset)
        if key not in self.sources:
            raise DatasetError(f"{self.path}: dataset {dataset!r} is not in the vocabulary; it knows "
                               f"{', '.join(self.sources)}")
        return self.sources[key]


def body_center_x(seq: np.ndarray, layout: str | Layout) -> float:
    """The x of the body's centre over a clip: the mean x of the layout's centre joint where it is present (score
    > 0 and finite), else of every present joint; 0 when nothing is present."""
    lay = layout if isinstance(layout, Layout) else get_layout(layout)
    seq = np.asarray(seq)
    for joints in (seq[..., lay.center, :], seq):
        x, ok = joints[..., 0], (joints[..., -1] > 0) & np.isfinite(joints[..., 0])
        if ok.any():
            return float(x[ok].mean())
    return 0.0


def mirror_sequence(seq: np.ndarray, layout: str | Layout, center_x: float | None = None) -> np.ndarray:
    """The mirror image of ``[..., V, C]`` (score last; 2D or 3D): x reflected about ``center_x`` (default: the
    body's centre, :func:`body_center_x`, so the person stays where they were) and every ``left_*`` joint
    exchanged with its ``right_*`` twin. Mirroring twice gives the input back."""
    lay = layout if isinstance(layout, Layout) else get_layout(layout)
    seq = np.asarray(seq)
    if seq.shape[-2] != lay.num_joints:
        raise ValueError(f"sequence has {seq.shape[-2]} joints but layout {lay.name} has {lay.num_joints}")
    cx = body_center_x(seq, lay) if center_x is None else center_x
    out = seq[..., lay.flip_permutation(), :].copy()
    out[..., 0] = 2 * cx - out[..., 0]
    return out


def load_vocabulary(path: str | Path = VOCABULARY_FILE) -> Vocabulary:
    """Read and validate a vocabulary file; every fault is one line naming the file and what to change."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise DatasetError(f"{path}: cannot read the vocabulary ({type(e).__name__}: "
                           f"{' '.join(str(e).split())})") from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), dict) for k in ("datasets", "classes")):
        raise DatasetError(f"{path}: expected mappings 'datasets' and 'classes' (and optionally 'mirror', "
                           f"'one_sided')")
    known = _dataset_actions(path, doc["datasets"])
    sources: dict[str, dict[str, str]] = {d: {} for d in known}
    why: dict[str, str] = {}
    for cls, spec in doc["classes"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("from"), dict) or not spec["from"]:
            raise DatasetError(f"{path}: class {cls!r} needs 'from: {{dataset: [its actions]}}'")
        n_actions = 0
        for dataset, actions in spec["from"].items():
            if dataset not in known:
                raise DatasetError(f"{path}: class {cls!r} takes actions from unknown dataset {dataset!r}; "
                                   f"list it under 'datasets' ({', '.join(known)})")
            for action in _names(path, f"class {cls!r}, {dataset}", actions):
                if action not in known[dataset]:
                    raise DatasetError(f"{path}: class {cls!r}: {dataset} has no action {action!r} (its actions are "
                                       f"the lines of {doc['datasets'][dataset]['classes']})")
                if action in sources[dataset]:
                    raise DatasetError(f"{path}: {dataset} action {action!r} is mapped twice (to "
                                       f"{sources[dataset][action]!r} and {cls!r})")
                sources[dataset][action] = str(cls)
                n_actions += 1
        if spec.get("why"):
            why[str(cls)] = " ".join(str(spec["why"]).split())
        elif n_actions > 1:
            raise DatasetError(f"{path}: class {cls!r} merges {n_actions} actions: say why in 'why:'")
    for dataset, actions in known.items():
        missing = [a for a in actions if a not in sources[dataset]]
        if doc["datasets"][dataset].get("complete") and missing:
            raise DatasetError(f"{path}: {dataset} action {missing[0]!r} is in no class (the dataset is marked "
                               f"complete: map it, or set complete: false)")
    classes = tuple(str(c) for c in doc["classes"])
    mirror_of = {c: c for c in classes}
    for a, b in (doc.get("mirror") or {}).items():
        for c in (a, b):
            if c not in mirror_of:
                raise DatasetError(f"{path}: mirror names unknown class {c!r}")
        mirror_of[str(a)] = str(b)
    bad = next((c for c in classes if mirror_of[mirror_of[c]] != c), None)
    if bad is not None:
        raise DatasetError(f"{path}: mirror map is not its own inverse at {bad!r} → {mirror_of[bad]!r} → "
                           f"{mirror_of[mirror_of[bad]]!r}: list both directions")
    one_sided: dict[str, frozenset[str]] = {}
    for dataset, actions in (doc.get("one_sided") or {}).items():
        if dataset not in known:
            raise DatasetError(f"{path}: one_sided names unknown dataset {dataset!r}")
        names = _names(path, f"one_sided {dataset}", actions)
        unknown = [a for a in names if a not in sources[dataset]]
        if unknown:
            raise DatasetError(f"{path}: one_sided {dataset}: {unknown[0]!r} is no mapped action of {dataset}")
        one_sided[dataset] = frozenset(names)
    return Vocabulary(classes=classes, sources=sources, mirror_of=mirror_of,
                      one_sided={d: one_sided.get(d, frozenset()) for d in known}, why=why, path=str(path))


def _dataset_actions(path: Path, datasets: Mapping[str, Any]) -> dict[str, list[str]]:
    known = {}
    for name, spec in datasets.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("classes"), str):
            raise DatasetError(f"{path}: dataset {name!r} needs 'classes: <file in {LABELS_DIR.name}/>'")
        try:
            known[str(name)] = read_class_names(spec["classes"])
        except OSError:
            raise DatasetError(f"{path}: dataset {name!r}: no class file {spec['classes']!r} in {LABELS_DIR}") \
                from None
    return known


def _names(path: Path, where: str, actions: Any) -> list[str]:
    if not isinstance(actions, list) or not actions:
        raise DatasetError(f"{path}: {where}: expected a list of action names, got {actions!r}")
    return [str(a) for a in actions]
