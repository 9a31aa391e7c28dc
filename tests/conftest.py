"""Shared fixtures: every test gets its own database path and a clean environment."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database
from typer.testing import CliRunner

from tests.fakeserver import FakeServer
from workbench.cli import app

# What `workbench`'s main() sets for the process, for the commands the tests run in-process.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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

    def __call__(self, *args: object, input: str | None = None):
        return self.runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


def db_snapshot(path: Path) -> dict[str, bytes]:
    """The database file and any -wal/-shm beside it, once the in-process CLI's connections are
    closed: equal snapshots mean a command changed nothing."""
    gc.collect()
    return {p.name: p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file()}


def assert_one_line_error(result, message: str) -> None:
    """The command failed with exit 1 and said `message` in one line, and nothing else."""
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: {message}\n"


def ingest_paragraphs(cli: Cli, tmp_path: Path, paragraphs: list[str]) -> Path:
    """Write `paragraphs` to a text file in tmp_path and ingest it into the test database."""
    source = tmp_path / "book.txt"
    source.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    result = cli("ingest", source)
    assert result.exit_code == 0, result.stderr
    return source


def run_against(cli: Cli, fake: FakeServer, *args: str):
    """`workbench run` against the fake server, quietly, retrying without waiting."""
    return cli("run", "--base-url", fake.base_url, "-q", "--backoff", "0", *args)


# A paragraph and a faithful paraphrase of it, written by us: every rule accepts it.
LAMP = (
    "The lamplighter climbed his ladder at dusk, touched the wick with his long brass pole, "
    "and watched the little flame steady itself against the wind from the harbour."
)
LAMP_PARAPHRASE = (
    "As dusk fell the lamplighter went up his ladder, put his long brass pole to the wick, "
    "and watched the small flame hold steady against the wind off the harbour."
)


def words(n: int, stem: str = "word") -> str:
    """A paragraph of n distinct words."""
    return " ".join(f"{stem}{i}" for i in range(n))


def reworded(original: str, seed: int = 0, n: int | None = None) -> str:
    """A stand-in paraphrase: `n` of the original's words (all by default), rotated by a share
    that depends on the seed (a quarter, a half or three quarters of them). Each seed gives
    another answer (no near copy of the others, so `duplicate` accepts them), its word sequence
    is not the original's (too_similar accepts it) and, to a sentence encoder, its meaning is
    the original's (meaning_drift accepts it)."""
    chosen = original.split()[:n]
    shift = max(1, len(chosen) * (1 + seed % 3) // 4)
    return " ".join(chosen[shift:] + chosen[:shift])


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
    from workbench.engine.recipes import current_recipe_name

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


# The paragraphs of the review database, and what the scripted server answers for each: every
# canned query and page has something to show (rejections of three kinds, acceptances, a skip,
# verdicts replaced by a rules change).
REVIEW_PARAGRAPHS = [
    "The clock in the tower had not moved in eleven years, and the town liked it that way.",
    "Too short.",
    "She climbed the stairs at night with a lamp and a bag of her father's tools.",
    "And the third one closes the little book with a dozen words or so.",
]
REVIEW_ANSWERS = {
    REVIEW_PARAGRAPHS[0]: [
        "The clock stopped.",  # too_short
        "The tower clock had not moved for eleven years, and the town rather liked that.",
    ],
    REVIEW_PARAGRAPHS[2]: [
        "Here is the paraphrased text: she went up the stairs by night, lamp in hand.",  # preamble
        "By night she climbed the stairs, carrying a lamp and a bag of her father's tools.",
    ],
    REVIEW_PARAGRAPHS[3]: [REVIEW_PARAGRAPHS[3]] * 2,  # too_similar twice: skipped
}


def build_review_db(path: Path) -> Path:
    """A database built by a scripted `workbench run` (the real CLI against FakeServer)."""
    from tests.fakeserver import Reply

    source = path.with_name("book.txt")
    source.write_text("\n\n".join(REVIEW_PARAGRAPHS) + "\n", encoding="utf-8")

    def responder(body, call):
        return Reply(content=REVIEW_ANSWERS[body["messages"][-1]["content"]][call - 1])

    cli = Cli()
    assert cli("ingest", source, "--db", path).exit_code == 0
    with FakeServer(responder=responder) as server:
        result = cli(
            "run", "--base-url", server.base_url, "--model", "fake-model",
            "--concurrency", "1", "--max-attempts", "2", "-q", "--db", path,
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    # A rules change judges every answer again: the two near copies stay rejected, with a new
    # detail, so their first verdicts become earlier verdicts.
    assert cli("rules", "--similarity", "0.95", "--db", path).exit_code == 0
    return path


@pytest.fixture(scope="session")
def review_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The review database, built once: copy it before changing it."""
    return build_review_db(tmp_path_factory.mktemp("review") / "review.db")
