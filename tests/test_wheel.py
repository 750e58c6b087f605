"""Packaging: the wheel holds the runtime and its default model, nothing else, and works outside the checkout."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_installs_the_runtime_with_its_model_and_runs_the_demo_elsewhere(tmp_path):
    src = tmp_path / "src"                   # a clean copy: an in-tree build would leave build/ in the checkout
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / f, src / f)
    ignore = shutil.ignore_patterns("__pycache__", "*.plan", "*.plan.json", "*.timing_cache", "triton", ".*")
    for d in ("partkd_stream", "engines"):
        shutil.copytree(REPO / d, src / d, ignore=ignore)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir"]
    r = subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("partkd_stream-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"partkd_stream", wheel.name.split("-py3")[0] + ".dist-info"}
    assert {"partkd_stream/engines/penn_student.onnx", "partkd_stream/engines/penn_student.card.json",
            "partkd_stream/engines/penn_student.pt"} <= set(names)

    site = tmp_path / "site"                 # no deps: they come from the test environment
    r = subprocess.run(pip + ["install", "--no-deps", "--target", str(site), str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PARTKD_MODEL"}
    env.update(PYTHONPATH=str(site), DISPLAY="", WAYLAND_DISPLAY="")
    code = "from partkd_stream.models import default_model_path as d; print(d())"
    where = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                           timeout=120)
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr
    out = elsewhere / "demo.jsonl"
    r = subprocess.run([str(site / "bin" / "partkd-stream"), "--skeletons", str(REPO / "demo" / "demo_skeletons.jsonl"),
                        "--out", str(out)], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    events = [json.loads(line) for line in out.read_text().splitlines() if '"event"' in line]
    assert {"event": "start", "label": "jumping_jacks"} in [{k: e[k] for k in ("event", "label")} for e in events]
    assert "jumping_jacks" in r.stdout                       # the console summary lists it
