"""Doctor: check the server and the database, and say in plain words what to fix."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import SettingError, WorkbenchError
from workbench.llm.client import Server


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warn, fail
    message: str


PROBE_BODY = {
    "messages": [{"role": "user", "content": "Reply with the single word: ready"}],
    "max_tokens": 16,
    "temperature": 0,
}


def check_server(
    base_url: str, *, api_key: str | None = None, model: str | None = None
) -> list[Check]:
    """Reachable, OpenAI-compatible, a model loaded, and one tiny completion with its latency."""
    try:
        server = Server(base_url, api_key=api_key, timeout=60)
        models = server.list_models()
    except WorkbenchError as e:
        return [Check("server", "fail", str(e))]
    checks = [Check("server", "ok", f"{server.base_url} answers GET /models")]
    if not models:
        return [
            *checks,
            Check(
                "models",
                "fail",
                "no model loaded: load one (LM Studio: Developer tab → Select a "
                "model to load; Ollama: `ollama pull NAME`)",
            ),
        ]
    if model is not None and model not in models:
        return [
            *checks,
            Check("models", "fail", f"{model!r} is not loaded; loaded: {', '.join(models)}"),
        ]
    chosen = model or models[0]
    checks.append(
        Check("models", "ok", f"{len(models)} loaded: {', '.join(models)}; using {chosen}")
    )
    with server.session() as session:
        completion = server.complete(session, {"model": chosen, **PROBE_BODY})
    if completion.failed:
        return [
            *checks,
            Check(
                "completion",
                "fail",
                f"a tiny chat completion failed: {completion.error}: {completion.error_detail}",
            ),
        ]
    notes = []
    if completion.prompt_tokens is None:
        notes.append("no token usage reported (tokens will show as 0)")
    if _reasons(completion.response or ""):
        notes.append(
            "a reasoning model: <think> blocks are stripped before validation; "
            "give it room with --max-tokens 0 (no cap)"
        )
    checks.append(
        Check(
            "completion",
            "warn" if notes else "ok",
            f"answered {completion.answer!r} in {completion.latency_s:.2f} s "
            f"(finish_reason: {completion.finish_reason})"
            + ("; " + "; ".join(notes) if notes else ""),
        )
    )
    return checks


def _reasons(body: str) -> bool:
    try:
        message = json.loads(body)["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return False
    return bool(message.get("reasoning_content")) or "<think>" in str(message.get("content"))


def check_database(path: Path, option: Callable[[str], str] | None = None) -> list[Check]:
    """The database exists, is ours and is migrated; what it holds. `option` names the setting
    that gave the path, as the caller's user knows it (the command line: --db)."""
    from workbench.review.report import report
    from workbench.store.database import database_trouble, open_db
    from workbench.store.migrations import schema_version

    if not path.exists():
        return [
            Check(
                "database", "warn", f"no database at {path} yet: `workbench ingest FILE` makes it"
            )
        ]
    try:
        with open_db(path) as db:
            data = report(db)
            version = schema_version(db)
    except SettingError as e:
        return [Check("database", "fail", e.worded(option))]
    except WorkbenchError as e:
        return [Check("database", "fail", str(e))]
    except sqlite3.DatabaseError as e:
        trouble = database_trouble(e)
        if trouble is None:
            raise  # a bug: keep the traceback
        return [Check("database", "fail", trouble)]
    p = data.paragraphs
    checks = [
        Check(
            "database",
            "ok",
            f"{path}: schema {version}; {p.total:,} paragraphs: {p.pending:,} pending, "
            f"{p.succeeded:,} succeeded, {p.skipped:,} skipped, {p.filtered:,} filtered",
        )
    ]
    if p.eligible == 0:
        checks.append(Check("paragraphs", "warn", "nothing to paraphrase: ingest a text file"))
    return checks


def check_meaning(path: Path | None = None) -> list[Check]:
    """The meaning model the job's rules name (at `path`; a new job's otherwise) loads offline
    from its installed package, and scores a paraphrase as one."""
    import time

    from workbench.judge import meaning
    from workbench.judge.settings import Rules
    from workbench.judge.versions import job_rules
    from workbench.store.database import open_db_readonly

    rules, whose = Rules(), "a new job's"
    if path is not None and path.exists():
        try:
            with contextlib.closing(open_db_readonly(path)) as db:
                rules, whose = job_rules(db).rules, "the job's"
        except (WorkbenchError, sqlite3.DatabaseError):
            pass  # the database check says what is wrong with it
    if rules.embeddings_model:
        return [
            Check(
                "meaning",
                "ok",
                f"{whose} rules measure meaning with {rules.embeddings_model} on the run's "
                "server (POST /embeddings)",
            )
        ]
    model = rules.meaning_model
    start = time.perf_counter()
    try:
        meaning.load(model)
    except WorkbenchError as e:
        return [Check("meaning", "fail", str(e))]
    loaded = time.perf_counter() - start
    score = meaning.similarity(model, "The cat sat on the mat.", "A cat was sitting on the mat.")
    return [
        Check(
            "meaning",
            "ok",
            f"{meaning.DESCRIPTIONS[model]}, {whose} meaning model, loaded offline in "
            f"{loaded:.2f} s (a paraphrase scores {score:.2f}; meaning_drift rejects under "
            f"{rules.min_meaning:g})",
        )
    ]
