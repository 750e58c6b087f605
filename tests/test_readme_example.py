"""The README's Python example runs as written (from the repository root) and finds the demo's jumping jacks."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from stream_fixtures import REPO


def test_readme_python_example_runs_as_written():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("In Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.endswith("start jumping_jacks") for line in lines), r.stdout
    assert sum("start" in x for x in lines) == sum("end" in x for x in lines) > 0
