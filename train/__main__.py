"""``python -m train``: the commands of the research side, one line each (``--help`` on any for its options)."""
from __future__ import annotations

import ast
from pathlib import Path

TRAIN = Path(__file__).resolve().parent


def commands(folder: Path, prefix: str = "") -> list[tuple[str, str]]:
    """``(module name, first line of its docstring)`` of every command file in ``folder`` (read, not imported)."""
    out = []
    for f in sorted(folder.glob("*.py")):
        if f.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(f.read_text(encoding="utf-8"))) or ""
        out.append((prefix + f.stem, doc.strip().splitlines()[0] if doc.strip() else ""))
    return out


def main() -> int:
    groups = (("commands", commands(TRAIN)),
              ("studies (one-off measurements behind the documentation's tables)",
               commands(TRAIN / "studies", "studies.")))
    width = max(len(name) for _, cmds in groups for name, _ in cmds)
    print("Run from the repository root as python -m train.NAME … or python train/NAME.py … (--help: options).")
    for title, cmds in groups:
        print(f"\n{title}:")
        for name, line in cmds:
            print(f"  {name:<{width}}  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
