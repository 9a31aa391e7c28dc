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
import random
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlite_utils import Database

from workbench.client import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    Completion,
    Server,
    check_base_url,
)
from workbench.db import close_dead_runs, utc_now
from workbench.errors import ServerFailing, ServerRefused, ServerUnreachable, WorkbenchError
from workbench.judging import Verdict, judge, settle_rules
from workbench.recipes import (
    Recipe,
    RecipePlan,
    paragraph_counts,
    save_recipe,
    verdict_counts,
)
from workbench.retry import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    RequestRefused,
    TransientFailure,
    raise_for_failure,
    transport_policy,
    validation_policy,
)
from workbench.validate import Rejection, Rules

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

    def __post_init__(self) -> None:
        for name, least in (("concurrency", 1), ("retries", 0)):
            if getattr(self, name) < least:
                raise WorkbenchError(f"--{name} must be at least {least}")
        if self.limit is not None and self.limit < 1:
            raise WorkbenchError("--limit must be at least 1")
        if self.timeout <= 0 or self.backoff < 0:
            raise WorkbenchError("--timeout must be above 0 and --backoff at least 0")
        check_base_url(self.base_url)


# Starts a server for the run (the embedded model) given the slots wanted; yields its base URL.
Serve = Callable[[int], AbstractContextManager[str]]


@dataclass(frozen=True)
class WorkItem:
    paragraph_id: int
    text: str
    word_count: int
    accepted: tuple[str, ...]  # the answers already accepted under the recipe, in order
    rejected: int  # rejected answers under the recipe, in earlier runs
    last_attempt_number: int


@dataclass(frozen=True)
class AttemptEvent:
    """A finished attempt, and the paragraph status it settles, if any."""

    paragraph_id: int
    attempt_number: int
    completion: Completion
    verdict: Verdict | None  # None: failed, no answer to judge
    paragraph_status: str | None = None  # succeeded or skipped when this attempt settles it

    @property
    def outcome(self) -> str:
        return self.verdict.outcome if self.verdict else "failed"

    @property
    def reason(self) -> str | None:
        return self.verdict.reason if self.verdict else self.completion.error

    @property
    def detail(self) -> str | None:
        return self.verdict.detail if self.verdict else self.completion.error_detail


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
    message: str | None = None
    remaining: int = 0  # pending paragraphs left for a later run


@dataclass(frozen=True)
class _RunRow:
    """What every attempt of a run records of it."""

    id: int
    recipe_id: int
    rules_id: int


@dataclass
class _Stop:
    """A worker's reason to stop the whole run."""

    error: BaseException


INSERT_ATTEMPT_SQL = """
INSERT INTO attempts (
    paragraph_id, recipe_id, run_id, attempt_number, started_at, finished_at, latency_s, request,
    http_status, response, answer, cleaned, finish_reason, prompt_tokens, completion_tokens,
    outcome, reason, detail, rules_id, length_ratio, similarity
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def pending_work(db: Database, recipe: Recipe, limit: int | None = None) -> list[WorkItem]:
    """The paragraphs still pending under `recipe`, in source order."""
    if recipe.id is None:  # a new recipe: every paragraph that is not filtered
        sql = (
            "SELECT id, text, word_count, 0, 0, 0 FROM paragraphs WHERE filtered = 0 "
            "ORDER BY source_id, position, id"
        )
        params: list[Any] = []
    else:
        sql = """
            SELECT s.paragraph_id, s.text, s.word_count, s.accepted, s.rejected,
                coalesce(g.last_attempt_number, 0)
            FROM paragraph_status s
            LEFT JOIN progress g ON g.paragraph_id = s.paragraph_id AND g.recipe_id = s.recipe_id
            WHERE s.recipe_id = ? AND s.status = 'pending'
            ORDER BY s.source_id, s.position, s.paragraph_id
        """
        params = [recipe.id]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = db.execute(sql, params).fetchall()
    accepted = _accepted_answers(db, recipe, [row[0] for row in rows if row[3]])
    return [
        WorkItem(pid, text, words, tuple(accepted.get(pid, ())), rejected, last)
        for pid, text, words, _, rejected, last in rows
    ]


def _accepted_answers(db: Database, recipe: Recipe, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for paragraph_id, cleaned in db.execute(
            f"SELECT paragraph_id, cleaned FROM attempts WHERE recipe_id = ? AND outcome = "
            f"'accepted' AND paragraph_id IN ({', '.join('?' * len(chunk))}) "
            "ORDER BY paragraph_id, attempt_number",
            [recipe.id, *chunk],
        ):
            found.setdefault(paragraph_id, []).append(cleaned)
    return found


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
    on_event: Callable[[AttemptEvent], None] | None = None,
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
            work = pending_work(db, recipe, options.limit)
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
            run = _start_run(db, recipe, settled.version, replace(options, base_url=base_url))
        return _work(db, server, run, recipe, settled.rules, options, work, notes,
                     on_start=on_start, on_event=on_event)  # fmt: skip
    raise AssertionError("unreachable")  # pragma: no cover  (ExitStack does not swallow)


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
    server: Server,
    run: _RunRow,
    recipe: Recipe,
    rules: Rules,
    options: RunOptions,
    work: list[WorkItem],
    notes: list[str],
    *,
    on_start: Callable[[RunStart], None] | None,
    on_event: Callable[[AttemptEvent], None] | None,
) -> RunSummary:
    # Ctrl-C only sets flags from here on (see _ctrl_c_sets): the run row is always closed,
    # as interrupted, with every finished attempt committed.
    stop, interrupted = threading.Event(), threading.Event()
    summary = RunSummary(run.id, "running", recipe, notes, paragraphs=len(work))
    with _ctrl_c_sets(interrupted, stop):
        if on_start:
            on_start(RunStart(run.id, recipe, len(work), notes))
        events: queue.Queue[AttemptEvent | _Stop | None] = queue.Queue()
        todo: queue.SimpleQueue[WorkItem] = queue.SimpleQueue()
        for item in work:
            todo.put(item)
        workers = [
            threading.Thread(
                target=_worker,
                args=(server, recipe, rules, options, todo, events, stop),
                name=f"workbench-slot-{n}",
                daemon=True,  # Ctrl-C must not wait for a request in flight
            )
            for n in range(min(options.concurrency, len(work)))
        ]
        for worker in workers:
            worker.start()
        finished_workers, failure = 0, None
        try:
            while finished_workers < len(workers) and not interrupted.is_set():
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if event is None:
                    finished_workers += 1
                elif isinstance(event, _Stop):
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


def _worker(
    server: Server,
    recipe: Recipe,
    rules: Rules,
    options: RunOptions,
    todo: queue.SimpleQueue[WorkItem],
    events: queue.Queue[AttemptEvent | _Stop | None],
    stop: threading.Event,
) -> None:
    session = server.session()
    try:
        while not stop.is_set():
            try:
                item = todo.get_nowait()
            except queue.Empty:
                break
            _work_paragraph(server, session, recipe, rules, options, item, events.put, stop)
    except BaseException as e:
        events.put(_Stop(e))
    finally:
        session.close()
        events.put(None)


def _work_paragraph(
    server: Server,
    session: Any,
    recipe: Recipe,
    rules: Rules,
    options: RunOptions,
    item: WorkItem,
    emit: Callable[[AttemptEvent], None],
    stop: threading.Event,
) -> None:
    """Ask for one paragraph until it has the answers the recipe wants, or no attempts left."""
    number = item.last_attempt_number
    accepted, rejected = list(item.accepted), item.rejected
    previous: tuple[str, Rejection] | None = None  # the last rejected answer, for the retry
    rng = random.Random()

    def send(body: dict[str, Any]) -> Completion:
        nonlocal number
        if stop.is_set():
            raise _Interrupted
        number += 1
        completion = server.complete(session, body)
        if completion.failed:
            emit(AttemptEvent(item.paragraph_id, number, completion, None))
        return raise_for_failure(completion)

    def ask() -> bool:
        nonlocal rejected, previous
        body = recipe.request_body(
            item.text, item.word_count, max_ratio=rules.max_ratio, previous=previous, rng=rng
        )
        completion = transport_policy(options.retries, options.backoff, stop=stop)(send, body)
        verdict = judge(
            item.text, completion.answer, completion.finish_reason, rules, accepted=accepted
        )
        if verdict.rejection is None:
            accepted.append(verdict.cleaned)
        else:
            rejected += 1
            previous = (completion.answer or "", verdict.rejection)
        status = recipe.status(len(accepted), rejected)
        emit(AttemptEvent(item.paragraph_id, number, completion, verdict,
                          paragraph_status=None if status == "pending" else status))  # fmt: skip
        return status != "pending"

    budget = recipe.budget - len(accepted) - rejected
    with contextlib.suppress(_Interrupted):  # the paragraph stays pending for the next run
        validation_policy(budget, stop=stop)(ask)


class _Interrupted(Exception):
    """The run is stopping: send nothing more."""


def _record(db: Database, run: _RunRow, event: AttemptEvent, summary: RunSummary) -> None:
    """Commit one attempt (its paragraph's status follows from it)."""
    c, v = event.completion, event.verdict
    with db.atomic():
        db.execute(
            INSERT_ATTEMPT_SQL,
            [
                event.paragraph_id, run.recipe_id, run.id, event.attempt_number, c.started_at,
                c.finished_at, c.latency_s, json.dumps(c.request, ensure_ascii=False),
                c.http_status, c.response, c.answer, v.cleaned if v else None, c.finish_reason,
                c.prompt_tokens, c.completion_tokens, event.outcome, event.reason, event.detail,
                run.rules_id if v else None,
                v.measures.length_ratio if v else None, v.measures.similarity if v else None,
            ],
        )  # fmt: skip
    setattr(summary, event.outcome, getattr(summary, event.outcome) + 1)
    if event.paragraph_status:
        setattr(summary, event.paragraph_status, getattr(summary, event.paragraph_status) + 1)


def _drain(db: Database, run: _RunRow, events: queue.Queue[Any], summary: RunSummary) -> None:
    """Commit the attempts that finished but were not written yet."""
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        if isinstance(event, AttemptEvent):
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
