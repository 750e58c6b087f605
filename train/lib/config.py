"""Experiment configuration: plain dataclasses loaded from YAML, with command-line overrides.

No registries, no string-to-class imports: a config names a dataset (one of ``train.datasets.DATASETS``) and sizes.
Overrides use dotted keys: ``--set train.epochs_student=5 data.window=48``. Every value is checked against its
field's type hint when the dataclass is built (``int``, ``float``, ``str``, ``bool``, ``Literal``, ``X | None``,
``list[...]``, ``dict``), so a wrong value fails at once with the key's name, not epochs later; a misspelt key
names the nearest known one.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from partkd_stream.errors import PartkdError
from partkd_stream.preprocess import PreprocessConfig

FillMode = Literal["pad", "hold", "loop"]  # what a window shows before a short clip (train.lib.data.fill_before_clip)
Device = Literal["auto", "cpu", "cuda"]    # auto: CUDA when torch sees a GPU, else CPU
DEVICES = typing.get_args(Device)          # what every --device takes


class ConfigError(PartkdError, ValueError):
    """A config file or override that cannot be used; the message names the key."""


class _Checked:
    """Mixin: after ``__init__``, every field is checked (and ints widened to float) against its type hint."""

    _where: ClassVar[str] = "config"

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            key = f"{self._where}.{f.name}"
            setattr(self, f.name, check_value(getattr(self, f.name), hints[f.name], key))


@dataclass
class DataConfig(_Checked):
    _where: ClassVar[str] = "config.data"
    dataset: str = "penn_action"           # a name from train.datasets.DATASETS
    root: str = "../shared/data/penn_action/labels"  # relative paths are taken from the repository root
    protocol: str | None = None            # dataset protocol (e.g. xsub/xview); None = the dataset's default
    hq_layout: str = "penn13"              # teacher input (high quality)
    hq_dims: Literal[2, 3] = 2
    lq_layout: str = "penn13"              # student input (low quality, always 2D)
    window: int = PreprocessConfig.window  # frames per window, at `fps` (the model-input contract's defaults)
    fps: float = PreprocessConfig.fps
    paired_share: float = 0.5              # share of training clips whose HQ version enters the teacher's bank
    teacher_clips: Literal["all", "paired"] = "all"  # teacher trains on all HQ training clips or only the paired
    degradation: str = "calibrated"        # "calibrated" (train/calibration/mediapipe_ntu.json) or a JSON path
    hq_rotate: float = 0.0                 # teacher training: random yaw of 3D HQ clips, ±degrees (view augmentation)
    severity: float = 1.0                  # scales the degradation's random errors and rates (DegradeConfig.scaled)
    lq_train: Literal["fresh", "fixed"] = "fresh"  # "fresh": a new degradation every epoch (augmentation);
                                           # "fixed": one LQ version per training clip, as a recorded LQ dataset has
    test_seed: int = 20240429              # fixes the LQ test set
    fill_modes: list[FillMode] = field(default_factory=lambda: ["pad"])  # training: before short clips
    max_samples: int | None = None         # for smoke tests: keep the first N clips of each split
    lq_fraction: float = 1.0               # share of LQ training clips the students train on (class-stratified,
                                           # nested across fractions; the teacher's HQ clips are unaffected)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hq_rotate and self.hq_dims != 3:
            raise ConfigError(f"config.data.hq_rotate={self.hq_rotate} turns 3D clips, but data.hq_dims is "
                              f"{self.hq_dims}; set data.hq_rotate: 0 for a 2D teacher")
        for name in ("paired_share", "lq_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"config.data.{name}={getattr(self, name)}: must be in [0, 1]")
        if self.lq_fraction == 0.0:
            raise ConfigError("config.data.lq_fraction=0: the students need some labelled clips")
        if not self.fill_modes:
            raise ConfigError("config.data.fill_modes: name at least one of " + ", ".join(typing.get_args(FillMode)))


@dataclass
class ModelSizes(_Checked):
    _where: ClassVar[str] = "config.model"
    teacher: dict[str, Any] = field(default_factory=dict)   # overrides of ModelConfig.teacher(...)
    student: dict[str, Any] = field(default_factory=dict)   # overrides of ModelConfig.student(...)
    parts: Literal["coarse", "fine"] = "coarse"              # 6 parts or 10


@dataclass
class TrainConfig(_Checked):
    _where: ClassVar[str] = "config.train"
    epochs_teacher: int = 30
    epochs_student: int = 30
    batch_size: int = 64
    lr: float = 0.002
    weight_decay: float = 5e-4
    alpha: float = 1.0          # weight of the part-level contrastive loss
    beta: float = 0.0           # weight of logit KD on paired samples in the main KD stage
    beta_ablation: float = 1.0  # weight of logit KD in the logit-KD-only ablation
    kd_temperature: float = 4.0
    tau: float = 0.1            # contrastive temperature
    queue_size: int = 64        # teacher part embeddings remembered per class
    part_score_weight: float = 1.0  # teacher: weight of the part-matrix score's cross-entropy
    part_matrix_lr_scale: float = 1.0   # teacher: the part matrix's learning rate / lr (Adam moves a logit about
                                        # lr per step: at 1, A stays near uniform; 25 makes it peaked)
    supcon_weight: float = 0.5      # teacher: weight of the supervised part-contrastive loss that trains its heads
    threads: int = 0            # torch threads; 0 = leave torch's default
    streaming_stride: int | None = None  # source frames between windows in streaming evaluation
    eval_every: int = 1         # epochs between test-accuracy points on the curves (the last epoch always)
    device: Device = "auto"
    student_steps: int | None = None  # students: optimiser steps in all (epochs = steps / steps per epoch), so a
                                      # student on 10 % of the clips trains as long as one on all; None: epochs
    # --- the teacher-free control and the variants of the distillation (docs/results/distillation.md, "Label
    # efficiency") ---
    control: Literal["prototypes", "random_teacher"] = "prototypes"  # the control's class targets: learned
                                      # prototypes, or a frozen randomly initialised teacher-size network
    part_weights: Literal["learned", "evidence", "uniform"] = "learned"  # KD part weights: the teacher's
                                      # softmax(A), per-part classification evidence (part_evidence), or uniform
    evidence_temperature: float = 0.25  # part_weights=evidence: softmax temperature over the parts' mean log-probs
    kd_space: Literal["heads", "features"] = "heads"  # teacher targets: its projection heads' embeddings, or its
                                      # L2-normalised part features before the heads (classes not collapsed)
    kd_positives: Literal["class", "clip"] = "class"  # positives: every bank entry of the class, or the clip's
                                      # own HQ partner (paired) / its kd_knn nearest same-class entries (unpaired)
    kd_knn: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("epochs_teacher", "epochs_student", "queue_size", "threads"):
            if getattr(self, name) < 0:
                raise ConfigError(f"config.train.{name}={getattr(self, name)}: must not be negative")
        if self.student_steps is not None and self.student_steps < 1:
            raise ConfigError(f"config.train.student_steps={self.student_steps}: must be at least 1 (or null)")
        for name in ("batch_size", "eval_every", "kd_knn"):
            if getattr(self, name) < 1:
                raise ConfigError(f"config.train.{name}={getattr(self, name)}: must be at least 1")


@dataclass
class MultisetConfig(_Checked):
    """Several datasets through one vocabulary (``train.lib.multiset``); unused unless ``datasets`` is set."""

    _where: ClassVar[str] = "config.multiset"
    datasets: list[str] = field(default_factory=list)  # e.g. [utd_mhad, kard, florence3d, nw_ucla]
    leave_out: str | None = None           # train on the others, test this one's shared classes
    exclude_classes: list[str] = field(default_factory=list)  # vocabulary classes held out of training altogether
    max_per_class: int | None = None       # training clips per (dataset, class) at most (a fixed random subset):
                                           # keeps one large dataset (NW-UCLA) from outweighing the others
    root: str = "../shared/data"           # per dataset: <root>/<name>.npz (train.prepare cache) or its raw folder
    roots: dict[str, str] = field(default_factory=dict)  # a dataset's own root, instead
    vocabulary: str | None = None          # the label-map file; None = train/datasets/labels/everyday_vocabulary.yaml


@dataclass
class AugmentConfig(_Checked):
    """Training augmentation for the shifts of real input, drawn per clip and epoch (``train.lib.augment``, through
    ``shifts.random_shift``); off unless ``enabled``. Ranges as ``shifts.ShiftRanges``; 0 / null turns one off."""

    _where: ClassVar[str] = "config.augment"
    enabled: bool = False
    yaw: float = 90.0                      # ± degrees, uniform (3D clips, before projection)
    pitch: float = 20.0                    # ± degrees, uniform
    far_side_hidden: float = 0.3           # P(far side's limbs not reported when turned ≥ 45°)
    fps: list[float] = field(default_factory=lambda: [10.0, 15.0, 20.0, 25.0, 30.0, 60.0])  # camera rates
    speed: list[float] = field(default_factory=lambda: [0.6, 1.6])   # log-uniform range of the action's speed
    distance: list[float] | None = field(default_factory=lambda: [1.5, 5.0])   # metres to the body, uniform
    mirror: float = 0.5                    # P(mirror image, label map applied)
    clean: float = 0.1                     # P(no noise: clean input, scores 1)
    binary: float = 0.1                    # P(0/1 scores)
    bodies: bool = True                    # retarget to a training dataset's median body proportions (or keep own)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("far_side_hidden", "mirror", "clean", "binary"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"config.augment.{name}={getattr(self, name)}: must be in [0, 1]")
        for name in ("speed", "distance"):
            v = getattr(self, name)
            if v is not None and (len(v) != 2 or not 0 < v[0] <= v[1]):
                raise ConfigError(f"config.augment.{name}={v}: expected [low, high] with 0 < low <= high")
        if any(f <= 0 for f in self.fps):
            raise ConfigError(f"config.augment.fps={self.fps}: frame rates must be > 0")


@dataclass
class ExperimentConfig(_Checked):
    name: str = "penn_action"
    out: str = "runs"
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    stages: list[str] = field(default_factory=lambda: ["teacher", "baseline", "kd", "kd_uniform", "kd_paired",
                                                         "logit_kd"])
    teacher: str | None = None  # a trained teacher checkpoint to distil from, instead of this run's teacher stage;
                                # "{seed}" in it is replaced by the seed (runs/penn_action/seed{seed}/teacher.pt)
    data: DataConfig = field(default_factory=DataConfig)
    multiset: MultisetConfig = field(default_factory=MultisetConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelSizes = field(default_factory=ModelSizes)
    train: TrainConfig = field(default_factory=TrainConfig)


_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
          list: "a list", type(None): "null"}


def _describe(hint: Any) -> str:
    """What a value of type ``hint`` looks like, in a config's words."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    if dataclasses.is_dataclass(hint) or origin is dict:
        return "a mapping"
    return _NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def check_value(value: Any, hint: Any, key: str) -> Any:
    """``value`` if it fits ``hint`` (an int is widened to float; a numeric string such as ``1e-3``, which YAML 1.1
    leaves a string, is read as float); else a ``ConfigError`` naming ``key``, what was expected and what was given."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return check_value(value, option, key)
            except ConfigError:
                pass
    elif origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
    elif origin is list:
        if isinstance(value, (list, tuple)):
            return [check_value(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)] if args else list(value)
    elif origin is dict or dataclasses.is_dataclass(hint):
        if isinstance(value, origin or hint):
            return value
    elif hint is Any:
        return value
    elif hint is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, hint) and (hint is bool or not isinstance(value, bool)):
        return value
    raise ConfigError(f"{key}: expected {_describe(hint)}, got {value!r}")


def _build(cls, values: Any, where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {values!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"{where}.{key}: unknown key. {_suggest(f'{where}.{key}', sorted(names), where)}")
        sub = _DATACLASS_FIELDS.get((cls, key))
        kwargs[key] = _build(sub, value, f"{where}.{key}") if sub else value
    return cls(**kwargs)


_DATACLASS_FIELDS = {(ExperimentConfig, "data"): DataConfig, (ExperimentConfig, "model"): ModelSizes,
                     (ExperimentConfig, "multiset"): MultisetConfig, (ExperimentConfig, "augment"): AugmentConfig,
                     (ExperimentConfig, "train"): TrainConfig}


def _all_keys() -> list[str]:
    """Every dotted key a config can set: ``seeds``, ``data.window``, ``train.epochs_student``, …"""
    keys = []
    for f in dataclasses.fields(ExperimentConfig):
        sub = _DATACLASS_FIELDS.get((ExperimentConfig, f.name))
        keys += [f"{f.name}.{g.name}" for g in dataclasses.fields(sub)] if sub else [f.name]
    return keys


def _suggest(key: str, known: list[str], where: str) -> str:
    """``Did you mean train.epochs_student?`` — the nearest key anywhere in the config — else the section's keys."""
    dotted, keys = key.removeprefix("config."), _all_keys()
    close = difflib.get_close_matches(dotted, keys, n=1, cutoff=0.6)
    if not close:  # the right name in the wrong section: train.window -> data.window
        leaves = {k.rsplit(".", 1)[-1]: k for k in keys}
        near = difflib.get_close_matches(dotted.rsplit(".", 1)[-1], list(leaves), n=1, cutoff=0.8)
        close = [leaves[near[0]]] if near else []
    if close:
        return f"Did you mean {close[0]}?"
    return f"Known keys in {where}: {', '.join(known)}."


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read a YAML config (or the defaults when ``path`` is None) and apply ``key.sub=value`` overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of config sections, got {type(raw).__name__}")
    for item in overrides:
        key, value = parse_override(item)
        node = raw
        *parents, leaf = key.split(".")
        for i, p in enumerate(parents):
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {'.'.join(parents[:i + 1])} is not a section")
        node[leaf] = value
    return _build(ExperimentConfig, raw, "config")


def parse_override(item: str) -> tuple[str, Any]:
    """A command line's ``KEY=VALUE`` → ``(KEY, VALUE read as YAML)``: ``5`` an int, ``1e-3`` a float, ``null``
    None, ``[pad, hold]`` a list. The one parser of overrides (``--set``) on the research side."""
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. train.epochs_student=5")
    key, value = item.split("=", 1)
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as e:
        raise ConfigError(f"override {item!r}: not a valid value ({str(e).splitlines()[0]})") from None


def to_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)
