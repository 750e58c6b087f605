"""JSON from files people write or edit — skeleton streams, ``.npz`` meta, model cards, reject files — parsed so
that nothing in the text can raise anything but ``ValueError``.

Two things the standard parser lets through as other exceptions are turned into what the readers already handle:

- an integer of more than ``MAX_INT_DIGITS`` digits (a 400-digit ``t`` or keypoint) becomes a float, ``±inf`` when
  beyond the float range — exactly what ``1e400`` gives — so a reader's finite-number checks name the field
  instead of ``float(x)`` raising ``OverflowError`` (and Python's 4300-digit limit on ``int`` never applies);
- nesting deeper than Python's recursion limit (100,000 ``[`` in a frame line) is a ``ValueError`` saying so,
  not a ``RecursionError``.
"""
from __future__ import annotations

import json
from typing import Any

MAX_INT_DIGITS = 300   # 10**300 still converts to a float; 10**309 would overflow


def _parse_int(text: str) -> int | float:
    return int(text) if len(text) <= MAX_INT_DIGITS else float(text)


def loads(text: str | bytes) -> Any:
    """``json.loads`` with huge integers as floats and deep nesting as ``ValueError`` (``json.JSONDecodeError`` for
    malformed text, as before)."""
    try:
        return json.loads(text, parse_int=_parse_int)
    except RecursionError:
        raise ValueError("nested too deeply (lists or objects inside each other beyond what a frame, header, "
                         "meta or card holds)") from None
