"""The shipped default student (``engines/``) on the bundled demo input: what a new user sees first."""
from __future__ import annotations

import json
from pathlib import Path

from partkd_stream import app
from partkd_stream.models import default_model_path

REPO = Path(__file__).resolve().parents[1]


def demo_run(tmp_path: Path) -> tuple[list[dict], list[tuple[str, float, float]]]:
    out = tmp_path / "demo.jsonl"
    assert default_model_path().exists(), "the default model ships with the package"
    assert app.main(["--skeletons", str(REPO / "demo" / "demo_skeletons.jsonl"), "--out", str(out),
                     "--quiet"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    actions, started = [], {}
    for r in recs:
        if r.get("event") == "start":
            started[r["label"]] = r["t"]
        elif r.get("event") == "end":
            actions.append((r["label"], started.pop(r["label"]), r["t"]))
    return [r for r in recs if "event" not in r], actions


def test_the_demo_shows_jumping_jacks_then_jump_rope(tmp_path):
    """Demo timeline: standing 0-1 s, jumping jacks 1-6 s, nobody 6-7.5 s, jumping rope 7.5-12.5 s."""
    preds, actions = demo_run(tmp_path)
    jacks = [(s, e) for lab, s, e in actions if lab == "jumping_jacks"]
    assert len(jacks) == 1 and 1.0 <= jacks[0][0] <= 3.0 and 5.5 <= jacks[0][1] <= 7.5, actions
    rope = [(s, e) for lab, s, e in actions if lab == "jump_rope" and s >= 7.5]
    assert len(rope) == 1 and rope[0][0] <= 10.0 and rope[0][1] >= 12.0, actions
    assert not [a for a in actions if 6.0 < a[1] < 7.5], "no action starts while nobody is in view"
    nobody = [p for p in preds if 6.9 <= p["t"] < 7.5]
    assert nobody and all(p["reason"] == "no_person" and not p["person_present"] for p in nobody)
    first = [p for p in preds if p["t"] < 0.75]
    assert first and all(p["reason"] == "warming_up" and p["person_present"] for p in first)


def test_the_readme_python_example_runs_as_written(monkeypatch, capsys):
    text = (REPO / "README.md").read_text()
    block = text.split("In Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(REPO)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "start  jumping_jacks" in out and "end    jumping_jacks" in out and "0 frames dropped" in out
