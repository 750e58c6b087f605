"""Averaging, threshold with a "no action" state, hysteresis, confirmation, start/end events."""
from __future__ import annotations

import numpy as np
import pytest

from partkd_stream.smoothing import ActionSmoother

CLASSES = ["a", "b", "c"]


def p(a, b, c):
    return np.array([a, b, c])


def test_average_of_last_n_and_no_action_below_threshold():
    s = ActionSmoother(CLASSES, smooth=2, threshold=0.5, confirm=1, hysteresis=0.0)
    st = s.update(p(0.4, 0.3, 0.3), 0.0)
    assert st.label is None and st.score == pytest.approx(0.4) and st.events == []
    assert st.topk[0] == ("a", 0.4)
    st = s.update(p(0.8, 0.1, 0.1), 1.0)          # mean of the last two = 0.6 ≥ 0.5
    assert st.label == "a" and st.score == pytest.approx(0.6)
    assert [(e.event, e.label, e.t) for e in st.events] == [("start", "a", 1.0)]
    st = s.update(p(0.1, 0.8, 0.1), 2.0)          # mean (0.45, 0.45, 0.1): nothing ≥ 0.5
    assert st.label is None and [(e.event, e.label) for e in st.events] == [("end", "a")]


def test_confirmation_ignores_a_one_prediction_blip():
    s = ActionSmoother(CLASSES, smooth=1, threshold=0.5, confirm=2)
    assert s.update(p(0.9, 0.05, 0.05), 0.0).events == []          # candidate once: not yet
    st = s.update(p(0.9, 0.05, 0.05), 1.0)
    assert st.label == "a" and [e.event for e in st.events] == ["start"]
    st = s.update(p(0.05, 0.9, 0.05), 2.0)                          # one blip of b
    assert st.label == "a" and st.events == []
    st = s.update(p(0.9, 0.05, 0.05), 3.0)
    assert st.label == "a" and st.events == []
    s.update(p(0.05, 0.9, 0.05), 4.0)
    st = s.update(p(0.05, 0.9, 0.05), 5.0)                          # b twice: a ends, b starts
    assert [(e.event, e.label, e.t) for e in st.events] == [("end", "a", 5.0), ("start", "b", 5.0)]


def test_hysteresis_keeps_an_action_near_the_threshold():
    s = ActionSmoother(CLASSES, smooth=1, threshold=0.5, hysteresis=0.1, confirm=1)
    assert s.update(p(0.6, 0.2, 0.2), 0.0).label == "a"
    assert s.update(p(0.45, 0.3, 0.25), 1.0).label == "a"           # 0.45 ≥ 0.5 - 0.1: stays
    st = s.update(p(0.35, 0.33, 0.32), 2.0)
    assert st.label is None and [e.event for e in st.events] == ["end"]


def test_no_person_ends_the_action_and_never_starts_one():
    s = ActionSmoother(CLASSES, smooth=3, threshold=0.5, confirm=1)
    s.update(p(0.9, 0.05, 0.05), 0.0)
    st = s.update(None, 1.0, person_present=False)
    assert st.label is None and [(e.event, e.label) for e in st.events] == [("end", "a")]
    for t in range(2, 6):
        st = s.update(p(0.9, 0.05, 0.05), float(t), person_present=False)
        assert st.label is None and st.events == []
    assert s.finish(9.0) == []


def test_finish_closes_the_open_action():
    s = ActionSmoother(CLASSES, smooth=1, threshold=0.2, confirm=1)
    s.update(p(0.1, 0.1, 0.8), 0.0)
    assert [(e.event, e.label, e.t) for e in s.finish(3.5)] == [("end", "c", 3.5)]
