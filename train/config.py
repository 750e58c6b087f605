"""Experiment configuration: plain dataclasses loaded from YAML, with command-line overrides.

No registries, no string-to-class imports: a config names a dataset (one of ``train.datasets.DATASETS``) and sizes.
Overrides use dotted keys: ``--set train.epochs_student=5 data.window=48``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from partkd_stream.errors import PartkdError


@dataclass
class DataConfig:
    dataset: str = "penn_action"           # a name from train.datasets.DATASETS
    root: str = "../shared/data/penn_action/labels"  # relative paths are taken from the repository root
    protocol: str | None = None            # dataset protocol (e.g. xsub/xview); None = the dataset's default
    hq_layout: str = "penn13"              # teacher input (high quality)
    hq_dims: int = 2
    lq_layout: str = "penn13"              # student input (low quality, always 2D)
    window: int = 32                       # frames per window, at `fps`
    fps: float = 20.0
    paired_share: float = 0.5              # share of training clips whose HQ version enters the teacher's bank
    teacher_clips: str = "all"             # teacher trains on "all" HQ training clips or only the "paired" ones
    degradation: str = "calibrated"        # "calibrated" (train/calibration/mediapipe_ntu.json) or a JSON path
    hq_rotate: float = 0.0                 # teacher training: random yaw of 3D HQ clips, ±degrees (view augmentation)
    severity: float = 1.0                  # scales the degradation's random errors and rates (DegradeConfig.scaled)
    lq_train: str = "fresh"                # "fresh": a new degradation every epoch (augmentation); "fixed": one
                                           # LQ version per training clip, as a recorded LQ dataset has
    test_seed: int = 20240429              # fixes the LQ test set
    fill_modes: list[str] = field(default_factory=lambda: ["pad"])  # training: before short clips (data.FILL_MODES)
    max_samples: int | None = None         # for smoke tests: keep the first N clips of each split


@dataclass
class ModelSizes:
    teacher: dict[str, Any] = field(default_factory=dict)   # overrides of ModelConfig.teacher(...)
    student: dict[str, Any] = field(default_factory=dict)   # overrides of ModelConfig.student(...)
    parts: str = "coarse"                                    # "coarse" (6 parts) or "fine" (10)


@dataclass
class TrainConfig:
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
                                        # lr per step: at 1, A stays near uniform; 25 makes it peaked — README)
    supcon_weight: float = 0.5      # teacher: weight of the supervised part-contrastive loss that trains its heads
    threads: int = 0            # torch threads; 0 = leave torch's default
    streaming_stride: int | None = None  # source frames between windows in streaming evaluation
    eval_every: int = 1         # epochs between test-accuracy points on the curves (the last epoch always)


@dataclass
class ExperimentConfig:
    name: str = "penn_action"
    out: str = "runs"
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    stages: list[str] = field(default_factory=lambda: ["teacher", "baseline", "kd", "kd_uniform", "kd_paired",
                                                         "logit_kd"])
    teacher: str | None = None  # a trained teacher checkpoint to distil from, instead of this run's teacher stage
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelSizes = field(default_factory=ModelSizes)
    train: TrainConfig = field(default_factory=TrainConfig)


class ConfigError(PartkdError, ValueError):
    """A config file or override that cannot be used; the message names the key."""


def _build(cls, values: dict[str, Any], where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"{where}.{key}: unknown key; known: {', '.join(names)}")
        sub = _DATACLASS_FIELDS.get((cls, key))
        kwargs[key] = _build(sub, value, f"{where}.{key}") if sub else value
    return cls(**kwargs)


_DATACLASS_FIELDS = {(ExperimentConfig, "data"): DataConfig, (ExperimentConfig, "model"): ModelSizes,
                     (ExperimentConfig, "train"): TrainConfig}


def load_config(path: str | Path | None, overrides: list[str] = ()) -> ExperimentConfig:
    """Read a YAML config (or the defaults when ``path`` is None) and apply ``key.sub=value`` overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. train.epochs_student=5")
        key, value = item.split("=", 1)
        node = raw
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return _build(ExperimentConfig, raw, "config")


def to_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)
