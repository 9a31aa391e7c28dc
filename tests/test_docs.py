"""The README documents every command, with its current --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.main import get_command

from workbench.cli import app

ROOT = Path(__file__).resolve().parent.parent


def test_every_command_has_help_and_a_readme_section():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, command in get_command(app).commands.items():
        assert command.help, name
        assert f"<!-- help:{name} -->" in readme, name


def test_readme_help_blocks_are_current():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_help.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_cli_starts_without_heavy_imports():
    """`run` start-up must not pay for Datasette or the llama.cpp extension."""
    code = (
        "import sys, workbench.cli; "
        "print(sorted(m for m in ('datasette', 'xllamacpp', 'rich.progress') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]"
