"""The shipped models, chosen by name: ``--model penn``, ``--model everyday``, ``partkd-stream models``.

A shipped model is ``<stem>.onnx`` + ``<stem>.card.json`` (+ ``<stem>.pt``) in ``partkd_stream.engines`` (the
repository's ``engines/``). Its **name** is the file stem without a trailing ``_student`` (the suffix the research
side gives a distilled student): ``penn_student.onnx`` is ``penn``; the whole stem is accepted too. A ``--model``
value is a *path* when it has a path separator or a model suffix (``.onnx``, ``.plan``, ``.pt``), else a *name*.
The default is ``$PARTKD_MODEL`` (a name or a path) when set, else ``penn``.

    partkd-stream models [--json]        # name, classes, layout, window and fps, accuracy, presence rule, reject
"""
from __future__ import annotations

import argparse
import difflib
import importlib.resources
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from .errors import PartkdError

DEFAULT_MODEL = "penn"
MODEL_SUFFIXES = (".onnx", ".plan", ".pt")
STUDENT_SUFFIX = "_student"
PROG = "partkd-stream models"


class UnknownModel(PartkdError, ValueError):
    """A model name that no shipped model has; the message lists the names there are."""


def engines_dir() -> Path:
    """The shipped models: package data of ``partkd_stream.engines`` (the repository's ``engines/`` folder, mapped
    by ``pyproject.toml``). A source tree imported without installing it has no such package: then its own
    ``engines/`` beside the package."""
    try:
        return Path(str(importlib.resources.files("partkd_stream.engines")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / "engines"


def model_name(stem: str) -> str:
    """``penn_student`` → ``penn``; a stem without the suffix is its own name."""
    return stem[: -len(STUDENT_SUFFIX)] if stem.endswith(STUDENT_SUFFIX) and stem != STUDENT_SUFFIX else stem


def shipped_models(folder: Optional[Path] = None) -> dict[str, Path]:
    """``{name: path of its .onnx}`` for every model in ``folder`` (default: the shipped engines), by name."""
    folder = engines_dir() if folder is None else folder
    out: dict[str, Path] = {}
    for onnx in sorted(folder.glob("*.onnx")) if folder.is_dir() else []:
        out.setdefault(model_name(onnx.stem), onnx)
    return out


def is_path(spec: str) -> bool:
    """A ``--model`` value that names a file rather than a shipped model."""
    return os.sep in spec or "/" in spec or Path(spec).suffix.lower() in MODEL_SUFFIXES


def resolve_model(spec: Optional[str | os.PathLike] = None) -> Path:
    """The model file for ``spec``: a path as given; a name → the shipped model's ``.onnx``; ``None`` → the default
    (``$PARTKD_MODEL``, else ``penn``). ``UnknownModel`` (one line, with the names there are) for a name that no
    shipped model has. Read at call time, so ``$PARTKD_MODEL`` set later is seen."""
    env = os.environ.get("PARTKD_MODEL") if spec is None else None
    spec = os.fspath(spec if spec is not None else env or DEFAULT_MODEL)
    if is_path(spec):
        return Path(spec).expanduser()
    models = shipped_models()
    stems = {p.stem: p for p in models.values()}
    if spec in stems:
        return stems[spec]
    if spec in models:
        return models[spec]
    close = difflib.get_close_matches(spec, list(models), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    where = f"$PARTKD_MODEL={spec}: " if env else ""
    raise UnknownModel(f"{where}no shipped model named {spec!r} in {engines_dir()}; {hint}shipped: "
                       f"{', '.join(models) or 'none'} (partkd-stream models lists them); or give a model file (.onnx "
                       f"with its card, or .pt)")


def default_model_path() -> Path:
    """The model used when none is given (``$PARTKD_MODEL`` if set, else the shipped ``penn``)."""
    return resolve_model(None)


# --- listing -------------------------------------------------------------------------------------------------------
@dataclass
class ModelInfo:
    """What ``partkd-stream models`` says about one shipped model (read from its card alone)."""

    name: str
    path: str
    classes: list[str]
    layout: str
    dims: int
    window: int
    fps: float
    accuracy: dict[str, float]
    presence: dict[str, Any]
    presence_text: str
    reject: Optional[dict[str, Any]]
    reject_text: str
    default: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_text")}


def describe(name: str, onnx_path: Path, default: bool = False) -> ModelInfo:
    """``ModelInfo`` from the card beside ``onnx_path`` (``CardMismatch`` when it cannot be read)."""
    from .card import ModelCard, card_path_for

    card = ModelCard.load(card_path_for(onnx_path))
    open_set = card.open_set
    if card.reject is not None:
        reject, reject_text = card.reject.to_dict(), card.reject.describe()
    elif open_set.background:
        reject, reject_text = None, "background class"
    else:
        reject, reject_text = None, "none (closed set)"
    rule = card.presence_rule
    test = card.metrics.get("test", {}) if isinstance(card.metrics.get("test"), dict) else {}
    accuracy = {k: float(test[k]) for k in ("top1", "stream_top1") if isinstance(test.get(k), (int, float))}
    pre = card.preprocess
    return ModelInfo(name=name, path=str(onnx_path), classes=open_set.actions, layout=pre.layout, dims=pre.dims,
                     window=pre.window, fps=float(pre.fps), accuracy=accuracy, presence=rule.to_dict(),
                     presence_text=("full body" if card.presence is None else "card") + f": {rule.describe()}",
                     reject=reject, reject_text=reject_text, default=default)


def list_models() -> tuple[list[ModelInfo], list[str]]:
    """Every shipped model's ``ModelInfo``, and one line per model whose card cannot be read."""
    from .card import CardMismatch

    try:
        default = default_model_path().resolve()
    except UnknownModel:
        default = None
    infos, problems = [], []
    for name, path in shipped_models().items():
        try:
            infos.append(describe(name, path, default=path.resolve() == default))
        except CardMismatch as e:
            problems.append(str(e))
    return infos, problems


def _text(info: ModelInfo) -> str:
    few = ", ".join(info.classes[:4]) + (", …" if len(info.classes) > 4 else "")
    acc = info.accuracy
    acc_text = ", ".join(f"{label} {100 * acc[k]:.1f} %" for k, label in (("top1", "clip top-1"),
                                                                          ("stream_top1", "streaming top-1"))
                         if k in acc) or "not in the card"
    head = f"{info.name}{'  (default)' if info.default else ''}  {Path(info.path).name}"
    return "\n".join([head,
                      f"  actions   {len(info.classes)}: {few}",
                      f"  input     {info.layout} {info.dims}D, window {info.window} frames at {info.fps:g} fps "
                      f"({info.window / info.fps:.1f} s)",
                      f"  accuracy  {acc_text}",
                      f"  presence  {info.presence_text}",
                      f"  reject    {info.reject_text}"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description="List the shipped models (use one with --model NAME).")
    ap.add_argument("--json", action="store_true", help="one JSON object: {models: [...], default, folder}")
    args = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    infos, problems = list_models()
    for p in problems:
        print(f"{PROG}: warning: {p}", file=sys.stderr)
    if args.json:
        default = next((i.name for i in infos if i.default), None)
        print(json.dumps({"folder": str(engines_dir()), "default": default,
                          "models": [i.to_dict() for i in infos]}, indent=2))
    elif not infos:
        print(f"no shipped models in {engines_dir()}")
    else:
        print("\n\n".join(_text(i) for i in infos))
        print(f"\nuse one with: partkd-stream --model NAME …   (folder: {engines_dir()})")
    return 0 if infos or not problems else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
