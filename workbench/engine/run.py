"""Run: work the pending paragraphs of one recipe, keeping --concurrency requests in flight.

Before anything is sent, in one transaction: the job's rules are settled (a change adds a
version and judges every stored answer again), the recipe's budgets are stored, and the server
is asked whether it has the recipe's model; a new recipe is stored with the model the server
named. If the server cannot be used, that transaction is rolled back and the database is as it
was.

Then one thread per request slot, each with its own requests.Session, works whole paragraphs
through the retry policies; the calling thread is the only one that writes to the database, and
it commits every attempt the moment it arrives. A crash at any instant leaves every finished
attempt stored and every unfinished paragraph pending, so running again resumes.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlite_utils import Database

from workbench.judge.checks import INSERT_CHECK_SQL, check_row
from workbench.llm.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, Server, check_base_url
from workbench.store.database import close_dead_runs, utc_now
from workbench.errors import ServerFailing, ServerRefused, ServerUnreachable, WorkbenchError
from workbench.judge.judging import settle_rules
from workbench.engine.recipes import (
    Recipe,
    RecipePlan,
    paragraph_counts,
    save_recipe,
    verdict_counts,
)
from workbench.llm.retry import DEFAULT_BACKOFF, DEFAULT_RETRIES, RequestRefused, TransientFailure
from workbench.judge.validate import Known, Rules
from workbench.engine.worker import (
    AttemptEvent,
    Awaiting,
    CheckedEvent,
    Event,
    Slot,
    StopRun,
    WorkItem,
    worker,
)

DEFAULT_CONCURRENCY = 4  # LM Studio serves 4 predictions in parallel by default


@dataclass(frozen=True)
class RunOptions:
    """A run's own options: where the server is and how hard to work it. Never part of a
    recipe; stored as JSON on the run's row (the API key is not one of them)."""

    base_url: str = DEFAULT_BASE_URL
    concurrency: int = DEFAULT_CONCURRENCY
    limit: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    judge_base_url: str | None = None  # where the judge rule asks; None: the run's server

    def __post_init__(self) -> None:
        for name, least in (("concurrency", 1), ("retries", 0)):
            if getattr(self, name) < least:
                raise WorkbenchError(f"--{name} must be at least {least}")
        if self.limit is not None and self.limit < 1:
            raise WorkbenchError("--limit must be at least 1")
        if self.timeout <= 0 or self.backoff < 0:
            raise WorkbenchError("--timeout must be above 0 and --backoff at least 0")
        check_base_url(self.base_url)
        if self.judge_base_url is not None:
            check_base_url(self.judge_base_url, "--judge-base-url")


# Starts a server for the run (the embedded model) given the slots wanted; yields its base URL.
Serve = Callable[[int], AbstractContextManager[str]]


@dataclass(frozen=True)
class RunStart:
    """What a run is about to do, its job changes committed: for the caller to show."""

    run_id: int
    recipe: Recipe
    paragraphs: int
    notes: list[str]  # rules changed, answers re-judged, budgets moved, a recipe made


@dataclass
class RunSummary:
    run_id: int | None
    status: str  # completed, interrupted, failed, nothing_to_do
    recipe: Recipe
    notes: list[str] = field(default_factory=list)
    paragraphs: int = 0  # worked this run
    succeeded: int = 0
    skipped: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    checked: int = 0  # stored answers, accepted for now, settled by a check
    message: str | None = None
    remaining: int = 0  # pending paragraphs left for a later run


@dataclass(frozen=True)
class _RunRow:
    """What every attempt of a run records of it."""

    id: int
    recipe_id: int
    rules_id: int


INSERT_ATTEMPT_SQL = """
INSERT INTO attempts (
    paragraph_id, recipe_id, run_id, attempt_number, started_at, finished_at, latency_s, request,
    http_status, response, answer, cleaned, finish_reason, prompt_tokens, completion_tokens,
    outcome, reason, detail, rules_id, length_ratio, similarity, repetition, meaning, judge
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
UPDATE_VERDICT_SQL = """
UPDATE attempts SET outcome = ?, reason = ?, detail = ?, cleaned = ?, length_ratio = ?,
    similarity = ?, repetition = ?, meaning = ?, judge = ?, rules_id = ?
WHERE id = ?
"""


def pending_work(
    db: Database, recipe: Recipe, rules: Rules, limit: int | None = None
) -> list[WorkItem]:
    """The paragraphs to work under `recipe`, in source order: those pending, and those with
    an answer accepted for now that a rule still has to ask a server about."""
    if recipe.id is None:  # a new recipe: every paragraph that is not filtered
        sql = (
            "SELECT id, text, word_count, 0, 0, 0 FROM paragraphs WHERE filtered = 0 "
            "ORDER BY source_id, position, id"
        )
        params: dict[str, Any] = {}
    else:
        awaiting = _awaiting_condition(rules)
        or_awaiting = (
            " OR s.paragraph_id IN (SELECT paragraph_id FROM attempts "
            f"WHERE recipe_id = :recipe AND outcome = 'accepted' AND ({awaiting}))"
            if awaiting
            else ""
        )
        sql = f"""
            SELECT s.paragraph_id, s.text, s.word_count, s.accepted, s.rejected,
                coalesce(g.last_attempt_number, 0)
            FROM paragraph_status s
            LEFT JOIN progress g ON g.paragraph_id = s.paragraph_id AND g.recipe_id = s.recipe_id
            WHERE s.recipe_id = :recipe AND (s.status = 'pending'{or_awaiting})
            ORDER BY s.source_id, s.position, s.paragraph_id
        """
        params = {"recipe": recipe.id}
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    rows = db.execute(sql, params).fetchall()
    answers = _accepted_answers(db, recipe, rules, [row[0] for row in rows if row[3]])
    items = []
    for pid, text, words, _, rejected, last in rows:
        found = answers.get(pid, [])
        accepted = tuple((a.attempt_number, a.cleaned) for a, _ in found)
        awaiting = tuple(a for a, waits in found if waits)
        items.append(WorkItem(pid, text, words, accepted, rejected, last, awaiting))
    return items


def _accepted_answers(
    db: Database, recipe: Recipe, rules: Rules, ids: list[int]
) -> dict[int, list[tuple[Awaiting, bool]]]:
    """The accepted answers of these paragraphs under the recipe, in order, each with whether
    it awaits a rule's check."""
    found: dict[int, list[tuple[Awaiting, bool]]] = {}
    waits = _awaiting_condition(rules) or "0"
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for (paragraph_id, attempt_id, number, answer, cleaned, finish_reason, similarity,
             repetition, meaning, judge, awaits) in db.execute(
            "SELECT paragraph_id, id, attempt_number, answer, cleaned, finish_reason, "
            f"similarity, repetition, meaning, judge, {waits} FROM attempts "
            f"WHERE recipe_id = ? AND outcome = 'accepted' "
            f"AND paragraph_id IN ({', '.join('?' * len(chunk))}) "
            "ORDER BY paragraph_id, attempt_number",
            [recipe.id, *chunk],
        ):  # fmt: skip
            known = Known(similarity, repetition, meaning, judge)
            answer_ = Awaiting(attempt_id, number, answer, cleaned, finish_reason, known)
            found.setdefault(paragraph_id, []).append((answer_, bool(awaits)))
    return found


def _awaiting_condition(rules: Rules) -> str:
    """SQL true of an accepted answer that a rule still has to ask a server about."""
    conditions = []
    if rules.on("judge"):
        conditions.append("judge IS NULL")
    if rules.on("meaning_drift") and rules.embeddings_model:
        conditions.append("meaning IS NULL")
    return " OR ".join(conditions)


def resolve_model(server: Server, recipe: Recipe, *, given: bool = False) -> str:
    """The model to ask for: the recipe's, which the server must list, or the first it lists
    for a job's first recipe. `given`: the model came from --model, not from a stored recipe.

    This is also the pre-flight check that the server is up, before any paragraph is touched.
    """
    models = server.list_models()
    if recipe.model is None:
        if not models:
            raise ServerUnreachable(
                f"{server.base_url} lists no models: load one (LM Studio: Developer tab) "
                "or pass --model"
            )
        return models[0]
    if models and recipe.model not in models:
        if given:
            raise ServerUnreachable(
                f"model {recipe.model!r} is not loaded at {server.base_url}; "
                f"it has: {', '.join(models)}"
            )
        raise ServerUnreachable(
            f"recipe {recipe.name!r} asks model {recipe.model!r}, which {server.base_url} does "
            f"not list (it has: {', '.join(models)}): load {recipe.model!r} there, or ask "
            f"another model under a new recipe: --recipe NAME --model {models[0]}"
        )
    return recipe.model


def run(
    db: Database,
    plan: RecipePlan,
    rules: Rules,
    options: RunOptions,
    *,
    api_key: str | None = None,
    serve: Serve | None = None,
    on_start: Callable[[RunStart], None] | None = None,
    on_event: Callable[[AttemptEvent | CheckedEvent], None] | None = None,
) -> RunSummary:
    """Work the pending paragraphs of `plan`'s recipe, judged by `rules`, and say what happened.

    `rules` become the job's rules first (judging stored answers again if they changed).
    `serve`, when given, starts the server to use instead of `options.base_url`.
    Raises ServerUnreachable with the database unchanged, and ServerRefused or ServerFailing
    when the server stops the run (the run row says so first). Ctrl-C ends the run with status
    "interrupted" once the attempts already finished are committed.
    """
    with ExitStack() as stack:
        with db.atomic():  # the job's changes and the run's start commit together, or not at all
            close_dead_runs(db)
            settled = settle_rules(db, rules)
            notes = settled.describe()
            recipe = plan.recipe
            if plan.budget_changes:
                notes.append(_store_budgets(db, plan))
            work = pending_work(db, recipe, settled.rules, options.limit)
            if not work:
                return RunSummary(run_id=None, status="nothing_to_do", recipe=recipe, notes=notes)
            base_url = (
                stack.enter_context(serve(options.concurrency)) if serve else options.base_url
            )
            server = Server(base_url, api_key=api_key, timeout=options.timeout)
            model = resolve_model(
                server, recipe, given=plan.stored is None and "model" in plan.given
            )
            if plan.stored is None:
                recipe = save_recipe(db, replace(recipe, model=model))
                notes.append(_new_recipe_note(plan, recipe))
            slot = Slot(
                server, _check_servers(server, recipe, settled.rules, options, api_key), recipe,
                settled.rules, options.retries, options.backoff, threading.Event(),
            )  # fmt: skip
            run = _start_run(db, recipe, settled.version, replace(options, base_url=base_url))
        return _work(db, slot, run, options.concurrency, work, notes,
                     on_start=on_start, on_event=on_event)  # fmt: skip
    raise AssertionError("unreachable")  # pragma: no cover  (ExitStack does not swallow)


def _check_servers(
    server: Server, recipe: Recipe, rules: Rules, options: RunOptions, api_key: str | None
) -> Server:
    """The server the judge is asked on, once it and the embeddings model are known to be there:
    a run that would fail at its first check fails before anything is sent."""
    judge_server = server
    if options.judge_base_url:
        judge_server = Server(options.judge_base_url, api_key=api_key, timeout=options.timeout)
    wanted = []
    if rules.on("judge"):
        wanted.append((judge_server, rules.judge_model or recipe.model, "--judge-model"))
    if rules.on("meaning_drift") and rules.embeddings_model:
        wanted.append((server, rules.embeddings_model, "--embeddings-model"))
    for where, model, option in wanted:
        models = where.list_models() if (where is not server or model != recipe.model) else []
        if models and model not in models:
            raise ServerUnreachable(
                f"the job's rules ask {option} {model!r}, which {where.base_url} does not list "
                f"(it has: {', '.join(models)}); load it there, or change the rules: "
                f"workbench rules {option} NAME"
            )
    return judge_server


def _store_budgets(db: Database, plan: RecipePlan) -> str:
    """Store the changed budgets and say which paragraphs moved."""
    assert plan.stored is not None
    counted = verdict_counts(db, plan.stored.id)
    before = paragraph_counts(db, plan.stored, counted=counted)
    after = paragraph_counts(db, plan.recipe, counted=counted)
    save_recipe(db, plan.recipe)
    changes = ", ".join(f"{name} {old} → {new}" for name, (old, new) in plan.budget_changes.items())
    moved = [
        f"{status} {before[status]:,} → {after[status]:,}"
        for status in ("succeeded", "skipped", "pending")
        if before[status] != after[status]
    ]
    return f"recipe {plan.recipe.name!r}: {changes}" + (
        f"; paragraphs {', '.join(moved)}" if moved else ""
    )


def _new_recipe_note(plan: RecipePlan, recipe: Recipe) -> str:
    given = ", ".join(plan.given) or "no options"
    origin = (
        f"from {plan.based_on!r} with {given}; the rest as {plan.based_on!r}"
        if plan.based_on
        else "the job's first"
    )
    return "\n  ".join([f"new recipe {recipe.name!r} ({origin}):", *recipe.describe()])


def _work(
    db: Database,
    slot: Slot,
    run: _RunRow,
    concurrency: int,
    work: list[WorkItem],
    notes: list[str],
    *,
    on_start: Callable[[RunStart], None] | None,
    on_event: Callable[[AttemptEvent | CheckedEvent], None] | None,
) -> RunSummary:
    # Ctrl-C only sets flags from here on (see _ctrl_c_sets): the run row is always closed,
    # as interrupted, with every finished attempt committed.
    stop, interrupted = slot.stop, threading.Event()
    summary = RunSummary(run.id, "running", slot.recipe, notes, paragraphs=len(work))
    with _ctrl_c_sets(interrupted, stop):
        if on_start:
            on_start(RunStart(run.id, slot.recipe, len(work), notes))
        if slot.rules.on("meaning_drift") and not slot.rules.embeddings_model:
            # Load the meaning model (0.2 s) while the first requests are in flight.
            threading.Thread(target=_load_meaning, name="workbench-meaning", daemon=True).start()
        events: queue.Queue[Event] = queue.Queue()
        todo: queue.SimpleQueue[WorkItem] = queue.SimpleQueue()
        for item in work:
            todo.put(item)
        workers = [
            threading.Thread(
                target=worker,
                args=(slot, todo, events),
                name=f"workbench-slot-{n}",
                daemon=True,  # Ctrl-C must not wait for a request in flight
            )
            for n in range(min(concurrency, len(work)))
        ]
        for thread in workers:
            thread.start()
        finished_workers, failure = 0, None
        try:
            while finished_workers < len(workers) and not interrupted.is_set():
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if event is None:
                    finished_workers += 1
                elif isinstance(event, StopRun):
                    failure = failure or event.error
                    stop.set()
                else:
                    _record(db, run, event, summary)
                    if on_event:
                        on_event(event)
        except BaseException as e:  # a second Ctrl-C, or a bug: close the run, keep the error
            stop.set()
            _drain(db, run, events, summary)
            interrupt = isinstance(e, KeyboardInterrupt)
            _end_run(
                db,
                run,
                "interrupted" if interrupt else "failed",
                "interrupted by the user" if interrupt else f"workbench crashed: {e!r}",
                summary,
            )
            raise
    if interrupted.is_set():
        _drain(db, run, events, summary)
        _end_run(db, run, "interrupted", "interrupted by the user", summary)
        return summary
    if failure is None:
        _end_run(db, run, "completed", None, summary)
        return summary
    message = _failure_message(failure)
    _end_run(db, run, "failed", message, summary)
    if isinstance(failure, RequestRefused):
        raise ServerRefused(message)
    if isinstance(failure, TransientFailure):
        raise ServerFailing(message)
    raise failure  # a bug in a worker: keep its traceback


def _load_meaning() -> None:
    from workbench.judge.meaning import load_wordllama

    with contextlib.suppress(WorkbenchError):  # a worker meets the same error, and says it
        load_wordllama()


@contextmanager
def _ctrl_c_sets(*flags: threading.Event) -> Iterator[None]:
    """Turn the first Ctrl-C into flags the writer loop checks between commits.

    The default handler raises KeyboardInterrupt wherever the main thread is, possibly inside
    the commit of a finished attempt; a flag lets that commit complete. A second Ctrl-C raises
    as usual. Only the main thread can own signals; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        for flag in flags:
            flag.set()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _record(
    db: Database, run: _RunRow, event: AttemptEvent | CheckedEvent, summary: RunSummary
) -> None:
    """Commit one attempt, or the verdict a check settled, with the checks sent about it (the
    paragraph's status follows)."""
    with db.atomic():
        if isinstance(event, AttemptEvent):
            c, v = event.completion, event.verdict
            m = v.measures if v else None
            attempt_id = db.execute(
                INSERT_ATTEMPT_SQL,
                [
                    event.paragraph_id, run.recipe_id, run.id, event.attempt_number,
                    c.started_at, c.finished_at, c.latency_s,
                    json.dumps(c.request, ensure_ascii=False), c.http_status, c.response,
                    c.answer, v.cleaned if v else None, c.finish_reason, c.prompt_tokens,
                    c.completion_tokens, event.outcome, event.reason, event.detail,
                    run.rules_id if v else None,
                    *((m.length_ratio, m.similarity, m.repetition, m.meaning, m.judge)
                      if m else (None,) * 5),
                ],
            ).lastrowid  # fmt: skip
            setattr(summary, event.outcome, getattr(summary, event.outcome) + 1)
        else:
            attempt_id = event.attempt_id
            if event.verdict is not None:
                v, m = event.verdict, event.verdict.measures
                db.execute(
                    UPDATE_VERDICT_SQL,
                    [v.outcome, v.reason, v.detail, v.cleaned, m.length_ratio, m.similarity,
                     m.repetition, m.meaning, m.judge, run.rules_id, attempt_id],
                )  # fmt: skip
                summary.checked += 1
        db.conn.executemany(
            INSERT_CHECK_SQL, [check_row(call, attempt_id, run.id) for call in event.checks]
        )
    if event.paragraph_status:
        setattr(summary, event.paragraph_status, getattr(summary, event.paragraph_status) + 1)


def _drain(db: Database, run: _RunRow, events: queue.Queue[Event], summary: RunSummary) -> None:
    """Commit the attempts that finished but were not written yet."""
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        if isinstance(event, AttemptEvent | CheckedEvent):
            _record(db, run, event, summary)


def _start_run(db: Database, recipe: Recipe, rules_id: int, options: RunOptions) -> _RunRow:
    assert recipe.id is not None
    run_id = (
        db["runs"]
        .insert(
            {
                "recipe_id": recipe.id,
                "rules_id": rules_id,
                "started_at": utc_now(),
                "status": "running",
                "base_url": options.base_url,
                "settings": json.dumps(asdict(options), ensure_ascii=False),
                "pid": os.getpid(),
                "hostname": socket.gethostname(),
            }
        )
        .last_pk
    )
    return _RunRow(int(run_id), recipe.id, rules_id)


def _end_run(
    db: Database, run: _RunRow, status: str, message: str | None, summary: RunSummary
) -> None:
    summary.status, summary.message = status, message
    with db.atomic():
        db.execute(
            "UPDATE runs SET status = ?, ended_at = ?, message = ? WHERE id = ?",
            [status, utc_now(), message, run.id],
        )
    summary.remaining = paragraph_counts(db, summary.recipe)["pending"]


def _failure_message(error: BaseException) -> str:
    if isinstance(error, RequestRefused):
        return f"the server refused the request: {error}"
    if isinstance(error, TransientFailure):
        return f"the server kept failing, last: {error}"
    return repr(error)
