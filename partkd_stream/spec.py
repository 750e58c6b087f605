"""A card's sub-objects (``reject``, ``presence``) are dataclasses read from JSON objects: one check of their shape.

Both are written by training code and edited by people, so a typo in a field name must be refused with a one-line
message naming the known fields, never dropped silently or met as a ``TypeError`` from the constructor.
"""
from __future__ import annotations

from typing import Any, Sequence


def check_object(cls: type, d: Any, what: str, error: type[Exception], required: Sequence[str] = ()) -> dict:
    """``d`` as a dict whose keys are fields of dataclass ``cls`` and include ``required``; else ``error`` with a
    one-line message about ``what``."""
    fields = list(cls.__dataclass_fields__)
    if not isinstance(d, dict):
        raise error(f"{what} must be an object {{{', '.join(fields)}}}, got {type(d).__name__}")
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise error(f"unknown {what} fields {unknown}; known: {fields}")
    missing = [k for k in required if k not in d]
    if missing:
        raise error(f"the {what} lacks {', '.join(missing)}")
    return d
