"""The commands of train/: each prints its usage run as a file or as a module, none imports another, and
``python -m train`` lists them."""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

TRAIN = REPO / "train"
COMMANDS = sorted(f"train.{p.stem}" for p in TRAIN.glob("*.py") if not p.name.startswith("_"))
STUDIES = sorted(f"train.studies.{p.stem}" for p in (TRAIN / "studies").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("module", COMMANDS + STUDIES)
def test_every_command_prints_its_usage(module, capsys):
    with pytest.raises(SystemExit) as e:
        importlib.import_module(module).main(["--help"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")


@pytest.mark.parametrize("script, where", [("train/distill.py", "root"), ("train/prepare.py", "elsewhere"),
                                           ("train/studies/measure_out_of_frame.py", "elsewhere")])
def test_a_command_runs_as_a_file_from_the_root_and_from_elsewhere(script, where, tmp_path):
    """``python train/X.py`` is ``python -m train.X`` (train/_bootstrap.py), from the repository root or elsewhere."""
    path = script if where == "root" else str(REPO / script)
    r = subprocess.run([sys.executable, path, "--help"], cwd=REPO if where == "root" else tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage:") and not r.stderr


@pytest.mark.parametrize("module", COMMANDS + STUDIES)
def test_every_command_file_starts_through_the_bootstrap(module):
    """Each command carries the guard that makes ``python train/X.py`` run ``python -m train.X``, ahead of its first
    ``train`` import (the runs as a file above try three commands; this reads them all)."""
    text = (REPO / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
    guard = text.find('if __package__ in (None, ""):')
    assert guard >= 0 and "import _bootstrap" in text[guard:guard + 300], module
    first_train_import = min((text.find(s) for s in ("\nfrom train", "\nimport train") if s in text), default=len(text))
    assert guard < first_train_import, module


def test_python_m_train_lists_every_command_with_its_first_docstring_line():
    r = subprocess.run([sys.executable, "-m", "train"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    listed = {line.split()[0] for line in r.stdout.splitlines() if line.startswith("  ")}
    assert listed == {m.removeprefix("train.") for m in COMMANDS + STUDIES}
    assert "Part-level knowledge distillation, end to end" in r.stdout


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the train.* modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out |= {base} | {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {m for m in out if m == "train" or m.startswith("train.")}


def test_no_module_imports_a_command():
    """Commands and studies are leaves: the library, the loaders and other commands never import one."""
    commands = set(COMMANDS + STUDIES)
    offenders = {str(p.relative_to(REPO)): sorted(_imported_modules(p) & commands)
                 for p in TRAIN.rglob("*.py") if _imported_modules(p) & commands}
    assert offenders == {}
    lib_imports = {m for p in (TRAIN / "lib").rglob("*.py") for m in _imported_modules(p)}
    assert not any(m.startswith("train.studies") for m in lib_imports)


@pytest.mark.parametrize("model, steps", [("penn", 8), ("everyday", 6)])
def test_a_recipe_prints_its_steps_and_each_names_a_real_command(model, steps, tmp_path, capsys):
    from train.recipe import main

    assert main([model, "--dry-run", "--shared", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    printed = [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    assert len(printed) == steps and not (tmp_path / "out" / "engines").exists(), "a dry run runs nothing"
    for line in printed:
        words = line.split()
        if words[0] == "partkd-stream":
            continue
        assert words[:2] == ["python", "-m"] and words[2] in COMMANDS + STUDIES, line
        files = [w for w in words if w.endswith(".yaml") and w.startswith("train/")]
        assert all((REPO / f).is_file() for f in files), line
    assert any("train.build_engine" in line and str(tmp_path / "out" / "engines") in line for line in printed)
