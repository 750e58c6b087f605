"""The results table: mean ± std per stage and the same-seed comparison with the LQ baseline."""
from __future__ import annotations

import pytest

from train.lib.reporting import results_table


def _m(top1: float) -> dict:
    return {"test": {"top1": top1, "top5": 1.0, "stream_top1": top1}}


def test_same_seed_differences_to_the_baseline():
    results = {"teacher": {0: _m(0.95), 1: _m(0.96)},
               "baseline": {0: _m(0.80), 1: _m(0.90), 2: _m(0.85)},
               "kd": {0: _m(0.82), 1: _m(0.89), 2: _m(0.88)},
               "kd_uniform": {3: _m(0.99)}}  # no baseline for seed 3: nothing to compare
    table, summary = results_table(results, {"kd": "distilled"})
    d = summary["vs_baseline"]["kd"]
    assert d["seeds"] == [0, 1, 2]
    assert d["diff"] == pytest.approx([2.0, -1.0, 3.0])
    assert d["mean"] == pytest.approx(4 / 3) and d["better"] == 2
    assert "kd_uniform" not in summary["vs_baseline"]
    assert "| distilled | 3 | +1.3 ± 1.7 | +2.0 / -1.0 / +3.0 | 2 of 3 |" in table
    assert summary["kd"]["top1"]["mean"] == pytest.approx(86.333, abs=1e-3)


def test_no_comparison_without_a_baseline():
    table, summary = results_table({"teacher": {0: _m(0.9)}, "kd": {0: _m(0.8)}}, {})
    assert "vs_baseline" not in summary and "same seed" not in table
