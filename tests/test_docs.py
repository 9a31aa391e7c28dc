"""The documentation site builds strictly, its reference holds every command's current --help,
and the README stays short with every relative link pointing at a file."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from typer.main import get_command

from workbench.cli import app

ROOT = Path(__file__).resolve().parent.parent
README_LIMIT = 15_000  # bytes
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


def words(text: str) -> str:
    """Text with every run of whitespace made one space, as wrapping and HTML leave it."""
    return " ".join(text.split())


def page_text(path: Path) -> str:
    """A built page's words, tags dropped and entities decoded."""
    return words(html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built with `mkdocs build --strict`: any warning (a broken link or anchor, a
    missing marker) fails it."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_docs_build_strictly_with_every_command_in_the_reference(site):
    reference = site / "reference.html"
    built = reference.read_text(encoding="utf-8")
    text = page_text(reference)
    commands = getattr(get_command(app), "commands", {})
    assert commands
    for name, command in commands.items():
        assert command.help, f"{name} has no help"
        assert f'<h2 id="{name}">' in built, f"no section for {name}"
        assert f"Usage: workbench {name} [OPTIONS]" in text, name
        first_line = command.help.split("\n\n")[0]
        assert words(first_line) in text, f"{name}'s first help line is not in the reference"
        for param in command.params:
            if isinstance(param, click.Option):
                for option in [*param.opts, *param.secondary_opts]:
                    if option.startswith("--"):
                        assert option in text, f"{name} {option} is not in the reference"


def test_the_schema_page_shows_schema_sql(site):
    text = page_text(site / "how-it-works.html")
    schema = (ROOT / "schema.sql").read_text(encoding="utf-8")
    for table in re.findall(r"^CREATE (?:VIRTUAL )?TABLE \"?(\w+)", schema, re.MULTILINE):
        assert f"CREATE TABLE {table}" in text or f'TABLE "{table}"' in text, table


def test_readme_is_short_and_relative_links_point_at_files():
    readme = ROOT / "README.md"
    size = len(readme.read_bytes())
    assert size < README_LIMIT, f"README.md is {size:,} bytes, over {README_LIMIT:,}"
    pages = [readme, *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 10
    broken = []
    for page in pages:
        prose = FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in LINK.findall(prose):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL, or an anchor of the same page (checked by the strict build)
            path = target.split("#", 1)[0]
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_cli_starts_without_heavy_imports():
    """`run` start-up must not pay for Datasette or the llama.cpp extension."""
    code = (
        "import sys, workbench.cli; "
        "print(sorted(m for m in ('datasette', 'xllamacpp', 'rich.progress') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]"
