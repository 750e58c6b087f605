"""The generalisation benchmark: a model's clips streamed through the real ``Recognizer`` under one input shift at a
time, on people it never trained on — one table per model, one row per shift (docs/results/generalisation.md).

**What a row is.** Each clip of the evaluation set goes through ``shifts.apply_shift`` (its clean dataset version →
what the model would see: another view, frame rate, camera, body, score profile, mirror image), then frame by frame
through a fresh ``partkd_stream.recognizer.Recognizer`` (prediction cadence, smoothing, threshold, reject and presence rule as
the runtime uses them; timestamps ``k / fps``; a frame with no joint reported is "no person", ``None``). The
*in-distribution* row is the model's own training condition: its degradation profile (``training.data.degradation``
and ``severity`` of its card), at the data's own frame rate, seeded per clip by ``training.data.test_seed`` as its
benchmark's LQ test set is; every other row changes ONE thing from it.

**What is counted, per clip.** The clip's label is the most frequent *state* of its streamed predictions after the
warm-up (``reason == "warming_up"`` is not a judgment): an action, or the reason there is none — ``unknown`` (the
reject), ``no_person``, ``below_threshold``, ``confirming``; ties go to the state reached first. A clip is correct
when that state is its action, so a clip whose majority is no action is wrong; a clip with no prediction after the
warm-up (shorter than half a model window plus one prediction interval; ``loop_to`` plays short clips repeated) is ``too_short``,
and wrong. Per row: clip top-1; the
share of clips whose state is ``unknown`` and ``no_person``; the share of all predictions made with a person present
(``Prediction.person_present``); and, beside it, *top-1 among action labels* — the majority of the action labels
alone, predictions without a label ignored (a clip with none is wrong): how right the model is when it speaks.

**Labels.** A model named by the dataset's own actions (the shipped models) is scored by name; any other model is
scored in the everyday vocabulary (``train.datasets.vocabulary``): its classes are vocabulary classes, or actions of
its training dataset mapped there, and each clip's action is mapped likewise; clips of classes the model lacks are
left out. A mirrored clip's truth is its mirror image (``Vocabulary.mirror_names``: swipe left ↔ right, circles
clockwise ↔ counter-clockwise; a dataset outside the vocabulary has no direction-named class).

**Leave one dataset out**: ``lodo=NAME`` evaluates a model on *every* clip (all subjects, both splits: the model
never saw the dataset) of the left-out dataset whose vocabulary class the model has (its other clips are not
evaluated). From Python, one row::

    from train.lib.generalisation import lodo_row
    r = lodo_row("runs/X/student.pt", "kard", data={"kard": "runs/data/kard.npz"})   # or a loaded model
    r["top1"], r["top1_labels"], r["clips"], r["per_clip"]                          # fractions; [id, truth, state]

and from the command line, ``python -m train.generalise --model runs/X/student.pt --lodo kard [--rows …]``. The
model's card / checkpoint ``meta["data"]`` (``degradation``, ``severity``, ``test_seed``: what ``train_stage``
writes) gives the in-distribution profile; ``degradation`` / ``severity`` / ``test_seed`` override or supply it.
``prepare`` + ``run`` give the whole table (``train/generalise.py`` is that, plus files).
"""
from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..datasets import DATASETS, load_dataset, load_samples
from ..datasets.sample import DatasetError, DatasetInfo, Sample
from ..datasets.vocabulary import Vocabulary, dataset_key, load_vocabulary
from .degrade import DegradeConfig, sample_rng
from .paths import dataset_dir, resolve_root
from .reporting import markdown_table
from .shifts import WEBCAM_VGA, Proportions, Shift, apply_shift, measure_proportions
from .stream_eval import StreamRun, run_stream

NO_LABEL_STATES = ("unknown", "no_person", "below_threshold", "confirming", "too_short")
BODY_DATASETS = ("kard", "nw_ucla")      # other bodies for the 3D rows: OpenNI (another lab, another sensor SDK) and
                                         # Kinect v1 of another lab
FPS_ROWS = (10.0, 15.0, 20.0, 30.0, 60.0)


# ----- rows ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One condition: a ``Shift`` under a profile (``model``: the in-distribution one; ``mediapipe``: the calibrated
    MediaPipe profile at severity 1; ``upper_body``: the model's with every clip framed from the waist up), on the
    clips whose ``meta[where[0]] == where[1]`` (all by default), with another dataset's ``body`` proportions."""

    name: str
    what: str
    shift: Shift = Shift()
    profile: str = "model"
    where: tuple[str, str] | None = None
    body: str | None = None


def standard_rows(three_d: bool, src_fps: float, views: Sequence[str] = ()) -> list[Row]:
    """Every row for a dataset of 3D clips (projected: views, cameras, bodies) or of 2D ones (annotated: views as
    annotated in ``meta["pose"]``). The camera-rate row at ``src_fps`` repeats the in-distribution one
    (``default_rows`` leaves it out)."""
    rows = [Row("in_distribution", "the model's training condition: its profile at the source rate")]
    if three_d:
        rows.append(Row("clean", "clean projection: no noise, every joint at score 1", Shift(degrade=False)))
    else:
        rows += [Row("annotated", "the annotated keypoints, their 0/1 visibility as the score", Shift(degrade=False)),
                 Row("clean", "the annotated keypoints, every joint at score 1 (hidden ones shown)",
                     Shift(degrade=False, scores="one"))]
    rows.append(Row("mediapipe", "the calibrated MediaPipe profile at severity 1", profile="mediapipe"))
    rows += [Row(f"fps{f:g}", f"a {f:g} fps camera" + (" (the source's rate: as in-distribution)" if f == src_fps
                                                     else ""), Shift(fps=f)) for f in FPS_ROWS]
    rows += [Row("slower", "the action 0.6× as fast (a slower person)", Shift(speed=0.6)),
             Row("faster", "the action 1.5× as fast", Shift(speed=1.5)),
             Row("mirrored", "mirror image: a left-handed person or a mirrored webcam (label map)", Shift(mirror=True))]
    if three_d:
        rows += [Row(f"yaw{a:d}", f"camera yaw {a:+d}° (the person turned to their {'right' if a > 0 else 'left'})",
                     Shift(yaw=float(a))) for a in (30, -30, 60, -60, 90, -90)]
        rows.append(Row("yaw180", "seen from behind (yaw 180°)", Shift(yaw=180.0)))
        rows += [Row(f"pitch{a:d}", f"camera pitch {a:+d}° ({'above, looking down' if a > 0 else 'below, up'})",
                     Shift(pitch=float(a))) for a in (20, -20)]
        rows += [Row("side_far_hidden", "yaw +90° with the far side's arm and leg not reported (score 0)",
                     Shift(yaw=90.0, far_side_hidden=45.0)),
                 Row("near", "the person at 1.5 m; joints outside the 1920×1080 image not reported",
                     Shift(distance=1.5, crop=True)),
                 Row("far", "the person at 5 m", Shift(distance=5.0, crop=True)),
                 Row("webcam", f"a 640×480 webcam, focal {WEBCAM_VGA.focal:g} px, at the recorded distance",
                     Shift(camera=WEBCAM_VGA, crop=True))]
        rows += [Row(f"body_{d}", f"{d}'s body proportions (median bone lengths)", body=d) for d in BODY_DATASETS]
        rows.append(Row("upper_body", "upper body only: every clip framed from the waist up (desk framing)",
                        profile="upper_body"))
    else:
        rows += [Row(f"view_{v}", f"in-distribution, clips annotated as seen from the {v}", where=("pose", v))
                 for v in views]
        rows += [Row(f"annotated_{v}", f"annotated keypoints (0/1 visibility), {v} view", Shift(degrade=False),
                     where=("pose", v)) for v in views]
    return rows


def default_rows(rows: Sequence[Row], src_fps: float, lodo: bool = False) -> list[str]:
    """The rows a run makes unless told: all but the camera rate equal to the source's (``lodo``: in-distribution
    and clean)."""
    if lodo:
        return ["in_distribution", "clean"]
    return [r.name for r in rows if r.shift != Shift(fps=src_fps) or r.name == "in_distribution"]


def combine(name: str, rows: Sequence[Row]) -> Row:
    """A row by name, or several joined by ``+`` (``clean+fps15``: clean input from a 15 fps camera): their shifts'
    changed fields, profile, clip filter and body together (a later row's setting wins)."""
    known = {r.name: r for r in rows}
    parts = name.split("+")
    bad = [n for n in parts if n not in known]
    if bad:
        raise ValueError(f"no row {bad[0]!r} for this model and data; rows: {', '.join(known)}")
    if len(parts) == 1:
        return known[name]
    out = Row(name, "; ".join(known[n].what for n in parts))
    for n in parts:
        r = known[n]
        changed = {k: v for k, v in vars(r.shift).items() if v != getattr(Shift(), k)}
        out = replace(out, shift=replace(out.shift, **changed), profile=r.profile if r.profile != "model" else
                      out.profile, where=r.where or out.where, body=r.body or out.body)
    return out


# ----- the clips and their labels --------------------------------------------------------------------------------
@dataclass
class EvalSet:
    """The clips a model is judged on and their labels, in the model's label space."""

    dataset: str
    clips: list[Sample]
    truth: list[str]                       # per clip: the label it must get
    keys: dict[str, str]                   # model action → label
    mirror: dict[str, Optional[str]]       # label → the label of its mirror image (None: the model lacks it)
    selection: str                         # how the clips were chosen, in words
    reference: list[Sample] = field(default_factory=list)   # the dataset's clips the body rows measure against


def eval_set(actions: Sequence[str], info: DatasetInfo, samples: list[Sample], vocab: Vocabulary, *,
             lodo: bool = False, training_dataset: str | None = None, every: int = 1,
             where: dict[str, list[str]] | None = None) -> EvalSet:
    """The test clips (``lodo``: every clip) of a loaded dataset that the model has a class for, ``where`` meta
    values only, then every ``every``-th one (in id order)."""
    own = set(actions) <= set(info.classes)
    if own:
        keys = {a: a for a in actions}
        mirror = vocab.mirror_names(actions, info.name) if dataset_key(info.name) in vocab.sources \
            else {a: a for a in actions}       # e.g. Penn Action: no direction-named action

        def truth_of(s: Sample) -> Optional[str]:
            return info.classes[s.label] if info.classes[s.label] in keys else None
    else:
        def to_vocab(a: str) -> Optional[str]:
            if a in vocab.classes:
                return a
            return vocab.class_of(training_dataset, a) if training_dataset in vocab.sources else None

        keys = {a: v for a in actions if (v := to_vocab(a)) is not None}
        if not keys:
            raise ValueError(f"the model's classes are neither {info.name}'s actions nor everyday-vocabulary classes "
                             f"(e.g. {', '.join(list(actions)[:3])})")
        have = set(keys.values())
        mirror = {k: (m if (m := vocab.mirror_of[k]) in have else None) for k in have}

        def truth_of(s: Sample) -> Optional[str]:
            v = vocab.class_of(info.name, info.classes[s.label])
            return v if v in have else None
    pool = samples if lodo else [s for s in samples if s.split == "test"]
    picked = [s for s in sorted(pool, key=lambda s: s.id)
              if truth_of(s) is not None and all(str(s.meta.get(k)) in vs for k, vs in (where or {}).items())]
    picked = picked[::every]
    if not picked:
        raise ValueError(f"{info.name}: no {'' if lodo else 'test '}clip of a class the model has"
                         f"{' with ' + str(where) if where else ''}")
    what = ("every clip (all subjects; the model never saw the dataset)" if lodo
            else "the test split (subjects or clips never trained on)")
    if where:
        what += ", " + ", ".join(f"{k} in {{{', '.join(v)}}}" for k, v in where.items())
    if every > 1:
        what += f", one clip in {every} (in id order)"
    if not own:
        what += ", classes the model has (everyday vocabulary)"
    return EvalSet(info.name, picked, [truth_of(s) for s in picked], keys, mirror, what, reference=samples)


# ----- one clip --------------------------------------------------------------------------------------------------
def stream_clip(model: Any, seq: np.ndarray, fps: float, layout: str, presence: Any = None,
                loop_to: float = 0.0) -> StreamRun:
    """Frames ``k / fps`` of a clip ``[T, V, 3]`` through a fresh ``Recognizer``. A frame without any reported joint
    is "no person" (``None``), as a pose estimator that found nobody reports it. ``loop_to``: a clip shorter than
    that many seconds is played again from its start, back to back, until it lasts that long (the action repeated,
    as training's ``loop`` fill shows a short clip)."""
    from partkd_stream.recognizer import Recognizer

    want = int(np.ceil(loop_to * fps))
    if len(seq) and want > len(seq):
        seq = seq[np.arange(want) % len(seq)]
    rec = Recognizer(model, presence=presence)
    return run_stream(rec, ((k / fps, kp if kp[:, -1].max() > 0 else None, layout) for k, kp in enumerate(seq)))


def clip_state(run: StreamRun) -> str:
    """The clip's label: the most frequent state (action or reason) of its predictions after the warm-up (ties: the
    state reached first); ``too_short`` when there is none."""
    states = [lab if lab is not None else (why or "no_action")
              for lab, why in zip(run.pred_label, run.pred_reason) if why != "warming_up"]
    return Counter(states).most_common(1)[0][0] if states else "too_short"


def action_majority(run: StreamRun) -> Optional[str]:
    """The most frequent action label of a clip's predictions (None when it got none)."""
    labels = [lab for lab in run.pred_label if lab is not None]
    return Counter(labels).most_common(1)[0][0] if labels else None


# ----- a row -----------------------------------------------------------------------------------------------------
@dataclass
class Condition:
    """What every row shares: the in-distribution profile, the seed of the clips' noise, the presence rule."""

    profile: DegradeConfig
    profile_text: str
    test_seed: int
    lq_layout: str
    presence: Any = None
    loop_to: float = 0.0                    # seconds a short clip is looped to (0: played once)

    def profile_of(self, row: Row) -> DegradeConfig:
        if row.profile == "model":
            return self.profile
        if row.profile == "mediapipe":
            return DegradeConfig.from_calibration()
        if row.profile == "upper_body":
            return replace(self.profile, lower_body_out=1.0)
        raise ValueError(f"row {row.name}: unknown profile {row.profile!r}")


def run_row(model: Any, es: EvalSet, row: Row, cond: Condition,
            bodies: Callable[[str], tuple[Proportions, Proportions]] | None = None) -> dict[str, Any]:
    """Stream every clip of ``es`` (those ``row.where`` keeps) under ``row``; the row's counts and rates."""
    t0 = time.perf_counter()
    shift = row.shift
    if row.body is not None:
        if bodies is None:
            raise ValueError(f"row {row.name} needs {row.body}'s body proportions")
        target, reference = bodies(row.body)
        shift = replace(shift, proportions=target, reference=reference)
    profile = cond.profile_of(row)
    keys = es.keys
    per_clip, states, skipped = [], Counter(), 0
    correct = correct_labels = preds = with_person = 0
    for s, truth in zip(es.clips, es.truth):
        if row.where is not None and str(s.meta.get(row.where[0])) != row.where[1]:
            continue
        if shift.mirror:
            truth = es.mirror.get(truth)
            if truth is None:                  # its mirror image is no class of the model
                skipped += 1
                continue
        seq, fps = apply_shift(s.data, s.layout, s.fps, shift, cond.lq_layout, profile,
                               sample_rng(cond.test_seed, s.id, epoch=0))
        run = stream_clip(model, seq, fps, cond.lq_layout, cond.presence, cond.loop_to)
        state = clip_state(run)
        key = keys.get(state, state)
        states[key if key in NO_LABEL_STATES or key == "no_action" else "action"] += 1
        correct += key == truth
        majority = action_majority(run)
        correct_labels += majority is not None and keys.get(majority) == truth
        preds += len(run.pred_present)
        with_person += sum(run.pred_present)
        per_clip.append([s.id, truth, key])
    n = len(per_clip)
    if n == 0:
        raise ValueError(f"row {row.name}: no clip to judge")
    return {"name": row.name, "what": row.what, "shift": shift.describe(), "profile": row.profile,
            "where": list(row.where) if row.where else None, "clips": n, "skipped": skipped,
            "top1": correct / n, "top1_labels": correct_labels / n,
            "states": {k: v / n for k, v in sorted(states.items())},
            "unknown": states["unknown"] / n, "no_person": states["no_person"] / n,
            "too_short": states["too_short"] / n, "predictions": preds,
            "person_share": with_person / preds if preds else 0.0,
            "seconds": round(time.perf_counter() - t0, 1), "per_clip": per_clip}


# ----- a whole run --------------------------------------------------------------------------------------------------
def load_data(name: str, paths: dict[str, str] | None = None, protocol: Optional[str] = None
              ) -> tuple[DatasetInfo, list[Sample]]:
    """A dataset from ``paths[name]`` (its raw folder or a ``train.prepare`` cache) or its folder in the shared data."""
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    path = resolve_root(paths[name]) if paths and name in paths else dataset_dir(name)
    return load_samples(path) if path.is_file() else load_dataset(name, path, protocol=protocol)


def in_distribution_profile(data: dict[str, Any], degradation: Optional[str] = None,
                            severity: Optional[float] = None, test_seed: Optional[int] = None
                            ) -> tuple[DegradeConfig, str, int]:
    """The model's training profile (its card's ``training.data``, unless overridden): config, text, noise seed."""
    deg = degradation or data.get("degradation")
    sev = severity if severity is not None else data.get("severity")
    if deg is None or sev is None:
        raise ValueError("the model's card names no training degradation; give degradation and severity")
    cfg = DegradeConfig.from_calibration() if deg == "calibrated" else DegradeConfig.from_calibration(resolve_root(deg))
    seed = test_seed if test_seed is not None else int(data.get("test_seed", 20240429))
    return cfg.scaled(float(sev)), f"`{str(deg).rsplit('/', 1)[-1]}` × severity {float(sev):g}", seed


@dataclass
class Setup:
    """A model and its evaluation set, ready to run rows (``prepare``)."""

    model: Any
    info: DatasetInfo
    es: EvalSet
    rows: list[Row]                          # every row this model and data allow
    defaults: list[str]                      # the rows a run makes unless told
    cond: Condition
    settings: dict[str, Any]
    paths: dict[str, str] = field(default_factory=dict)
    bodies: dict[str, tuple[Proportions, Proportions]] = field(default_factory=dict)

    def row(self, name: str) -> Row:
        return combine(name, self.rows)

    def body(self, other: str) -> tuple[Proportions, Proportions]:
        """(``other``'s proportions, this dataset's): what a ``body_<other>`` row retargets to and from."""
        if other not in self.bodies:
            oinfo, oclips = load_data(other, self.paths)
            self.bodies[other] = (measure_proportions([s.data for s in oclips], oinfo.layout, other),
                                  measure_proportions([s.data for s in self.es.reference], self.info.layout,
                                                      self.info.name))
        return self.bodies[other]


def prepare(model: Any, *, dataset: Optional[str] = None, lodo: Optional[str] = None,
            data: Optional[dict[str, str]] = None, every: int = 1, where: Optional[dict[str, list[str]]] = None,
            presence: Any = None, degradation: Optional[str] = None, severity: Optional[float] = None,
            test_seed: Optional[int] = None, loop_to: float = 0.0, backend: str = "auto") -> Setup:
    """Load ``model`` (a name, ``.onnx`` or ``.pt``, or a loaded model) and its evaluation set: ``dataset``'s test
    split (default the model's training dataset) or, ``lodo``, every clip of that dataset."""
    from partkd_stream.backends import load_model

    if every < 1 or loop_to < 0:
        raise ValueError("every must be ≥ 1 and loop_to ≥ 0")
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        model = load_model(str(model), backend=backend, threads=1)
    card = model.card
    training = card.training or {}
    train_data = training.get("data") or {}
    trained_on = training.get("dataset") or train_data.get("dataset")
    if trained_on == "multiset" and not (lodo or dataset):   # several datasets: its one set, or ask for one
        sets = (training.get("multiset") or {}).get("datasets") or []
        if len(sets) != 1:
            raise ValueError(f"model {card.name!r} was trained on several datasets ({', '.join(sets)}); give one "
                             f"(--dataset NAME)")
        dataset = sets[0]
    name = lodo or dataset or trained_on
    if not name:
        raise ValueError(f"model {card.name!r}: its card names no training dataset; give a dataset or lodo")
    info, samples = load_data(name, data, train_data.get("protocol") if name == trained_on and not lodo else None)
    es = eval_set(card.open_set.actions, info, samples, load_vocabulary(), lodo=bool(lodo),
                  training_dataset=trained_on, every=every, where=where)
    src_fps = float(np.median([s.fps for s in es.clips]))
    views = sorted({str(s.meta["pose"]) for s in es.clips if s.meta.get("pose")})
    rows = standard_rows(es.clips[0].data.shape[-1] == 4, src_fps, views)
    profile, profile_text, seed = in_distribution_profile(train_data, degradation, severity, test_seed)
    from partkd_stream.recognizer import DEFAULT_EVERY_S, DEFAULT_SMOOTH, DEFAULT_THRESHOLD

    settings = {"model_name": card.name, "dataset": info.name, "mode": "lodo" if lodo else "test",
                "selection": es.selection, "profile": profile_text, "test_seed": seed, "every_s": DEFAULT_EVERY_S,
                "smooth": DEFAULT_SMOOTH, "threshold": DEFAULT_THRESHOLD, "loop_to": loop_to,
                "presence": presence.describe() if presence else card.presence_rule.describe() + " (the card's)",
                "machine": f"{os.cpu_count()} CPU cores, {getattr(model.backend, 'name', 'a model')}"}
    return Setup(model, info, es, rows, default_rows(rows, src_fps, bool(lodo)),
                 Condition(profile, profile_text, seed, card.preprocess.layout, presence, loop_to), settings,
                 dict(data or {}))


def run(setup: Setup, names: Optional[Sequence[str]] = None,
        on_row: Optional[Callable[[dict[str, Any]], None]] = None) -> dict[str, Any]:
    """The rows ``names`` (default ``setup.defaults``; ``a+b`` combines rows) → ``{"settings", "rows", "seconds"}``;
    ``on_row(result so far)`` after each row. A bad name or missing body data fails before the first row."""
    t0 = time.perf_counter()
    chosen = [setup.row(n) for n in (names or setup.defaults)]
    for r in chosen:
        if r.body:
            setup.body(r.body)
    result: dict[str, Any] = {"settings": dict(setup.settings), "rows": [], "seconds": 0.0}
    for r in chosen:
        result["rows"].append(run_row(setup.model, setup.es, r, setup.cond, setup.body))
        result["seconds"] = round(time.perf_counter() - t0, 1)
        if on_row is not None:
            on_row(result)
    return result


def lodo_row(model: Any, dataset: str, row: str = "in_distribution", **kw: Any) -> dict[str, Any]:
    """Leave one dataset out, one row: ``model`` (path, name or loaded) on every clip of ``dataset`` whose class it
    has (``prepare``'s keywords: ``data``, ``degradation``, ``severity``, …) → the row's result (``run_row``)."""
    return run(prepare(model, lodo=dataset, **kw), [row])["rows"][0]


# ----- the table -------------------------------------------------------------------------------------------------
def pct(x: Optional[float]) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def table(result: dict[str, Any]) -> str:
    """The result as markdown: what was run, then one line per row (``reporting.markdown_table``)."""
    rows = result["rows"]
    base = next((r for r in rows if r["name"] == "in_distribution"), None)
    lines = []
    for r in rows:
        delta = "" if base is None or r is base else f"{100 * (r['top1'] - base['top1']):+.1f}"
        lines.append([f"`{r['name']}`", r["what"], r["clips"], pct(r["top1"]), delta, pct(r["top1_labels"]),
                      pct(r["unknown"]), pct(r["no_person"]), pct(r["too_short"]), pct(r["person_share"]),
                      f"{r['seconds']:.0f}"])
    head = ["row (`--rows`)", "what changes", "clips", "clip top-1 %", "Δ points", "top-1 among action labels %",
            "clips unknown %", "clips no person %", "clips too short %", "predictions with a person %", "s"]
    s = result["settings"]
    looped = f"; clips shorter than {s['loop_to']:g} s looped to that length" if s.get("loop_to") else ""
    text = (f"Model `{s.get('model', s['model_name'])}` ({s['model_name']}), {s['dataset']}: {s['selection']}. "
            f"In-distribution profile: {s['profile']}, clip noise seeded by {s['test_seed']}; recognizer defaults "
            f"(a prediction every {s['every_s']:g} s, smooth {s['smooth']}, threshold {s['threshold']}), presence rule: "
            f"{s['presence']}{looped}. {result['seconds']:.0f} s on {s['machine']}.\n\n")
    if s.get("command"):
        text += f"Each row: `{s['command']} --rows NAME`\n\n"
    return text + markdown_table(head, lines, ["---", "---"] + ["---:"] * 9)
