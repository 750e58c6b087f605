"""Annotation files: which labelled actions happen when in a video or skeleton file — the one reader and writer.

``python -m train.evaluate_stream`` judges a model on them; the studies write them for the streams they make.
The format (YAML or JSON; relative paths are taken from ``root``, itself relative to the file's folder)::

    root: clips                                  # optional
    inputs:
      - path: clips/jacks_then_idle.mp4          # a video, or a skeleton file (.npz / .jsonl, any layout)
        segments:                                # [label, t_start, t_end] in seconds of the input's clock
          - [jumping_jacks, 1.0, 6.0]
          - [waving, 8.0, 12.0]                  # a label the model does not know = footage without a known action
      - path: clips/nobody_does_anything.mp4
        segments: none                           # the whole input is footage without a known action
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from partkd_stream.atomic import atomic_write_bytes
from partkd_stream.errors import PartkdError


class AnnotationError(PartkdError, ValueError):
    """An annotation file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Segment:
    label: str
    start: float
    end: float


@dataclass
class LabelledInput:
    path: Path
    segments: list[Segment]
    name: str = ""


def load_annotations(path: str | Path, root: str | Path | None = None) -> list[LabelledInput]:
    """Read an annotation file (the format: the module docstring); one-line ``AnnotationError`` on any mistake."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(f"{path}: annotation file not found") from None
    except yaml.YAMLError as e:
        raise AnnotationError(f"{path}: not valid YAML/JSON ({str(e).splitlines()[0]})") from None
    items = doc.get("inputs") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise AnnotationError(f"{path}: expected a mapping with a non-empty 'inputs' list; see "
                              f"python -m train.evaluate_stream --help")
    base = Path(root) if root is not None else path.parent / str(doc.get("root", "."))
    out = []
    for n, item in enumerate(items, 1):
        where = f"{path}: inputs[{n}]"
        if not isinstance(item, dict) or "path" not in item:
            raise AnnotationError(f"{where}: each input needs a 'path'")
        p = Path(str(item["path"])).expanduser()
        p = p if p.is_absolute() else (base / p)
        if not p.exists():
            raise AnnotationError(f"{where}: {p} does not exist (paths are relative to {base}; see --root)")
        raw = item.get("segments", "none")
        if raw in ("none", None, []):
            segs = []
        elif isinstance(raw, list):
            segs = [_segment(s, f"{where}.segments[{k}]") for k, s in enumerate(raw, 1)]
        else:
            raise AnnotationError(f"{where}: 'segments' must be a list of [label, t_start, t_end] or 'none'")
        out.append(LabelledInput(p, sorted(segs, key=lambda s: s.start), str(item.get("name", p.stem))))
    return out


def _segment(s: Any, where: str) -> Segment:
    if not (isinstance(s, (list, tuple)) and len(s) == 3):
        raise AnnotationError(f"{where}: a segment is [label, t_start, t_end], got {s!r}")
    try:
        seg = Segment(str(s[0]), float(s[1]), float(s[2]))
    except (TypeError, ValueError):
        raise AnnotationError(f"{where}: t_start and t_end must be numbers (seconds), got {s!r}") from None
    if not seg.end > seg.start >= 0:
        raise AnnotationError(f"{where}: need 0 ≤ t_start < t_end, got {s!r}")
    return seg


def write_annotations(path: str | Path, inputs: Iterable[tuple[str | Path, Sequence[tuple[str, float, float]]]],
                      comment: str = "") -> Path:
    """Write an annotation file: per input its path and its segments ``(label, start, end)`` (none: footage
    without a known action throughout), a ``# comment`` line first if given. ``load_annotations`` reads it back."""
    doc = {"inputs": [{"path": str(p), "segments": [[str(lab), float(a), float(b)] for lab, a, b in segs] or "none"}
                      for p, segs in inputs]}
    text = "".join(f"# {line}\n" for line in comment.splitlines()) + yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=None, allow_unicode=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda f: f.write(text.encode()))
    return path
