"""Paste every command's --help into README.md between its markers, or --check it is current.

    python scripts/readme_help.py [--check]

The README's reference section then never drifts from the code (tests/test_docs.py checks).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
COMMANDS = [
    "ingest", "run", "rules", "recipes", "report", "export", "browse", "serve", "models", "doctor"
]  # fmt: skip
BLOCK = re.compile(r"(<!-- help:(\w+) -->\n```text\n)(.*?)(```\n<!-- /help -->)", re.DOTALL)


def help_text(command: str) -> str:
    env = {**os.environ, "TYPER_USE_RICH": "0", "COLUMNS": "100", "NO_COLOR": "1"}
    for name in ("WORKBENCH_DB", "WORKBENCH_BASE_URL", "WORKBENCH_MODEL"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "workbench", command, "--help"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return result.stdout


def updated(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + help_text(m.group(2)) + m.group(4), text)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    missing = [c for c in COMMANDS if f"<!-- help:{c} -->" not in text]
    if missing:
        print(f"README.md has no help block for: {', '.join(missing)}", file=sys.stderr)
        return 1
    new = updated(text)
    if "--check" in sys.argv:
        if new != text:
            print("README.md --help blocks are stale: run make docs", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
