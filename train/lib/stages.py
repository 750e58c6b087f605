"""The stages of a run: the HQ teacher, the LQ baseline, the distilled student, its ablations and variants, and
the teacher-free control — each a name, a title for the tables, and what it trains with."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .config import ExperimentConfig


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    teacher: bool = False
    part_loss: str | None = None      # None, "multi" (multi-sample) or "single" (paired-only)
    uniform_parts: bool = False
    logit_kd: str | None = None       # None, "beta" (config beta) or "ablation" (config beta_ablation)
    teacher_free: bool = False        # the control: the part loss with targets that do not come from the teacher
    train: tuple[tuple[str, Any], ...] = ()  # this stage's own train.* settings (a variant of the distillation)
    student: tuple[tuple[str, Any], ...] = ()  # and its own model.student settings (training-only parts of it)

    @property
    def distils(self) -> bool:
        """Trains with a part loss or logit KD (a teacher's, or the control's targets)."""
        return bool(self.part_loss or self.logit_kd)

    @property
    def needs_teacher(self) -> bool:
        """Needs this seed's trained teacher."""
        return self.distils and not self.teacher_free


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("teacher", "HQ teacher", teacher=True),
    Stage("baseline", "LQ student, CE only"),
    Stage("kd", "LQ student + part-level multi-sample KD (ours)", part_loss="multi", logit_kd="beta"),
    Stage("control", "control: the same part loss, targets not from the teacher", part_loss="multi",
          uniform_parts=True, teacher_free=True),
    Stage("kd_uniform", "ablation: part KD, uniform part weights", part_loss="multi", uniform_parts=True),
    Stage("kd_paired", "ablation: paired-only single-sample part KD", part_loss="single"),
    Stage("logit_kd", "ablation: logit KD only (paired)", logit_kd="ablation"),
    Stage("kd_evidence", "variant: part KD weighted by per-part classification evidence", part_loss="multi",
          train=(("part_weights", "evidence"),)),
    Stage("kd_clip", "variant: part KD, clip-level targets in the teacher's feature space", part_loss="multi",
          train=(("kd_space", "features"), ("kd_positives", "clip"))),
    Stage("control_clip", "control of kd_clip: the same loss, a random frozen teacher-size network",
          part_loss="multi", uniform_parts=True, teacher_free=True,
          train=(("control", "random_teacher"), ("kd_space", "features"), ("kd_positives", "clip"))),
    Stage("kd_parts", "variant: part KD on student parts pooled after block 2 of 4 (parts still distinct)",
          part_loss="multi", student=(("part_block", 1),)),
)}


def stage_config(stage: Stage, cfg: ExperimentConfig) -> ExperimentConfig:
    """The config a stage trains with: ``cfg`` with the stage's own ``train.*`` and ``model.student`` settings."""
    if stage.train:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **dict(stage.train)))
    if stage.student:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, student={**cfg.model.student,
                                                                                     **dict(stage.student)}))
    return cfg


def needs_hq_windows(stage: Stage, cfg: ExperimentConfig) -> bool:
    """The HQ window of each paired clip is fed to a teacher (or the control's random network) in this stage."""
    return stage.distils and not (stage.teacher_free and cfg.train.control == "prototypes")
