"""Shared fixtures: every test gets its own database path and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database
from typer.testing import CliRunner

from tests.fakeserver import FakeServer
from workbench.cli import app

ENV_VARS = (
    "WORKBENCH_DB",
    "WORKBENCH_BASE_URL",
    "WORKBENCH_MODEL",
    "WORKBENCH_API_KEY",
    "OPENAI_API_KEY",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep tests off real databases and servers: cwd and $WORKBENCH_DB point into tmp_path."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "test.db"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.db"


class Cli:
    """Runs the real CLI in-process and keeps stdout and stderr apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        return self.runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


def words(n: int, stem: str = "word") -> str:
    """A paragraph of n distinct words."""
    return " ".join(f"{stem}{i}" for i in range(n))


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A small source: three paragraphs to send and one too short."""
    path = tmp_path / "book.txt"
    path.write_text(
        "\n\n".join(
            [
                "The first paragraph has quite a few words in it, more than ten for sure.",
                "Too short.",
                "The second real paragraph also has enough words to be sent to the model.",
                "And the third one closes the little book with a dozen words or so.",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


def paragraph_rows(db_path: Path, recipe: str | None = None) -> list[dict]:
    """Every paragraph in source order, with its status under a recipe (the current one by
    default): filtered, pending, succeeded or skipped, as the old single status read."""
    from workbench.recipes import current_recipe_name

    db = Database(db_path)
    return list(
        db.query(
            """
            SELECT p.id, p.source_id, p.position, p.occurrence, p.text, p.word_count,
                CASE WHEN p.filtered THEN 'filtered' ELSE coalesce(s.status, 'pending') END
                    AS status,
                s.last_reason AS skip_reason
            FROM paragraphs p
            LEFT JOIN paragraph_status s ON s.paragraph_id = p.id AND s.recipe = :recipe
            ORDER BY p.source_id, p.position, p.id
            """,
            {"recipe": recipe or current_recipe_name(db)},
        )
    )


def statuses(db_path: Path, recipe: str | None = None) -> dict[str, str]:
    """Paragraph text → its status under a recipe (the current one by default)."""
    return {row["text"]: row["status"] for row in paragraph_rows(db_path, recipe)}
