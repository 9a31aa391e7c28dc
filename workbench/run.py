"""Run: paraphrase every pending paragraph, keeping --concurrency requests in flight.

One thread per request slot, each with its own requests.Session, works whole paragraphs through
the retry policies; the calling thread is the only one that writes to the database, and it
commits every attempt the moment it arrives. A crash at any instant leaves every finished
attempt stored and every unfinished paragraph pending, so running again resumes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import random
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlite_utils import Database

from workbench.client import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    Completion,
    Server,
    check_base_url,
)
from workbench.db import process_alive, utc_now
from workbench.errors import ServerFailing, ServerRefused, ServerUnreachable, WorkbenchError
from workbench.retry import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    RequestRefused,
    TransientFailure,
    raise_for_failure,
    transport_policy,
    validation_policy,
)
from workbench.validate import Rejection, Rules, clean, validate

DEFAULT_SYSTEM_PROMPT = (
    "You are an expert novelist. Paraphrase the given text in your own words, refining the prose "
    "and making it a bit richer. Don't write additional story or meaning, keep the original "
    "meaning and form. The response should contain only one paragraph. Keep a similar length in "
    "your output to the original, not more than 50% difference, and shouldn't be shorter than "
    "the original text."
)
DEFAULT_TEMPERATURE = 0.9
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_CONCURRENCY = 4  # LM Studio serves 4 predictions in parallel by default
# The default max_tokens cap: room for the longest answer the rules accept (max_ratio × input
# words) at a generous 1.6 tokens a word, plus a margin. SmolLM2's accepted answers on our
# sample measured 1.21 tokens a word on average, 1.46 at most; English BPE averages about 1.3.
# A model that loops is cut off there instead of generating for minutes: in the demo, looping
# answers were 70% of all tokens generated.
TOKENS_PER_WORD = 1.6
TOKEN_MARGIN = 32


@dataclass(frozen=True)
class RunSettings:
    """Every option of a run; stored as JSON on its runs row (the API key is not one of them)."""

    base_url: str = DEFAULT_BASE_URL
    model: str | None = None  # None: the first model GET /models lists
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int | None = None  # None: derived per paragraph; 0: send no cap
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    concurrency: int = DEFAULT_CONCURRENCY
    limit: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    rules: Rules = field(default_factory=Rules)
    # On each retry after a rejection: a temperature drawn from this range and a fresh seed.
    retry_temperature: tuple[float, float] | None = None
    feedback: bool = False  # tell the model why its previous answer was rejected

    def __post_init__(self) -> None:
        for name, least in (("concurrency", 1), ("max_attempts", 1), ("retries", 0)):
            if getattr(self, name) < least:
                raise WorkbenchError(f"--{name.replace('_', '-')} must be at least {least}")
        if self.limit is not None and self.limit < 1:
            raise WorkbenchError("--limit must be at least 1")
        if self.max_tokens is not None and self.max_tokens < 0:
            raise WorkbenchError("--max-tokens must be 0 (no cap) or more")
        if self.timeout <= 0 or self.backoff < 0:
            raise WorkbenchError("--timeout must be above 0 and --backoff at least 0")
        if (
            self.retry_temperature
            and not 0 <= self.retry_temperature[0] <= self.retry_temperature[1]
        ):
            raise WorkbenchError("--retry-temperature must be LOW:HIGH with 0 <= LOW <= HIGH")
        if not 0 <= self.rules.min_ratio <= self.rules.max_ratio:
            raise WorkbenchError("--min-ratio must be between 0 and --max-ratio")
        check_base_url(self.base_url)

    def max_tokens_for(self, word_count: int) -> int | None:
        if self.max_tokens is not None:
            return self.max_tokens or None
        return math.ceil(self.rules.max_ratio * word_count * TOKENS_PER_WORD) + TOKEN_MARGIN

    def request_body(
        self,
        model: str,
        paragraph: str,
        word_count: int,
        *,
        previous: tuple[str, Rejection] | None = None,
        rng: random.Random | None = None,
    ) -> dict[str, Any]:
        """The notebook's request: the system prompt, then the paragraph alone.

        `previous` is the last rejected answer of this paragraph, when this is a retry: with
        --retry-temperature it changes temperature and seed, with --feedback it is shown to
        the model with the reason it was rejected.
        """
        messages = [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": paragraph},
        ]
        body: dict[str, Any] = {"model": model, "messages": messages}
        body["temperature"] = self.temperature
        if previous is not None and self.retry_temperature:
            rng = rng or random.Random()
            body["temperature"] = round(rng.uniform(*self.retry_temperature), 3)
            body["seed"] = rng.randrange(2**31)
        if previous is not None and self.feedback:
            answer, rejection = previous
            messages.append({"role": "assistant", "content": answer})
            messages.append(
                {"role": "user", "content": f"{rejection.feedback} Paraphrase the text again."}
            )
        max_tokens = self.max_tokens_for(word_count)
        if max_tokens:
            body["max_tokens"] = max_tokens
        return body


@dataclass(frozen=True)
class WorkItem:
    paragraph_id: int
    text: str
    word_count: int
    validated_attempts: int  # accepted or rejected attempts in earlier runs
    last_attempt_number: int
    last_reason: str | None  # of the latest rejection, for a paragraph skipped without a request


@dataclass(frozen=True)
class AttemptEvent:
    """A finished attempt, and the paragraph status it settles, if any."""

    paragraph_id: int
    attempt_number: int
    completion: Completion | None  # None: skipped without a request (budget already used up)
    outcome: str  # accepted, rejected, failed
    reason: str | None
    detail: str | None
    paragraph_status: str | None = None  # succeeded or skipped when this attempt settles it
    cleaned: str | None = None  # the answer after the cleaners: what was validated


@dataclass
class RunSummary:
    run_id: int | None
    status: str  # completed, interrupted, failed, nothing_to_do
    model: str | None = None
    paragraphs: int = 0  # worked this run
    succeeded: int = 0
    skipped: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    message: str | None = None
    remaining: int = 0  # pending paragraphs left for a later run


@dataclass
class _Stop:
    """A worker's reason to stop the whole run."""

    error: BaseException


PENDING_SQL = """
SELECT
    p.id, p.text, p.word_count,
    (SELECT count(*) FROM attempts a WHERE a.paragraph_id = p.id AND a.outcome != 'failed'),
    (SELECT coalesce(max(a.attempt_number), 0) FROM attempts a WHERE a.paragraph_id = p.id),
    (SELECT a.reason FROM attempts a WHERE a.paragraph_id = p.id AND a.outcome = 'rejected'
     ORDER BY a.attempt_number DESC LIMIT 1)
FROM paragraphs p
WHERE p.status = 'pending'
ORDER BY p.source_id, p.position, p.id
"""

INSERT_ATTEMPT_SQL = """
INSERT INTO attempts (
    paragraph_id, run_id, attempt_number, started_at, finished_at, latency_s, request,
    http_status, response, answer, finish_reason, prompt_tokens, completion_tokens,
    outcome, reason, detail, cleaned
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def pending_work(db: Database, limit: int | None = None) -> list[WorkItem]:
    sql = PENDING_SQL + (" LIMIT ?" if limit is not None else "")
    rows = db.execute(sql, [limit] if limit is not None else []).fetchall()
    return [WorkItem(*row) for row in rows]


def resolve_model(server: Server, model: str | None) -> str:
    """The model to ask for: the one given, which the server must list, or the first it lists.

    This is also the pre-flight check that the server is up, before any paragraph is touched.
    """
    models = server.list_models()
    if model is None:
        if not models:
            raise ServerUnreachable(
                f"{server.base_url} lists no models: load one (LM Studio: Developer tab) "
                "or pass --model"
            )
        return models[0]
    if models and model not in models:
        raise ServerUnreachable(
            f"model {model!r} is not loaded at {server.base_url}; it has: {', '.join(models)}"
        )
    return model


def run(
    db: Database,
    settings: RunSettings,
    *,
    api_key: str | None = None,
    on_event: Callable[[AttemptEvent], None] | None = None,
    on_start: Callable[[int, str, int], None] | None = None,
) -> RunSummary:
    """Work the pending paragraphs and return what happened.

    on_start(run_id, model, paragraphs) and on_event(event) let a caller show progress.
    Raises ServerUnreachable before touching the database, and ServerRefused or ServerFailing
    when the server stops the run (the run row says so first). Ctrl-C ends the run with status
    "interrupted" once the attempts already finished are committed.
    """
    server = Server(settings.base_url, api_key=api_key, timeout=settings.timeout)
    _close_dead_runs(db)
    work = pending_work(db, settings.limit)
    if not work:
        return RunSummary(run_id=None, status="nothing_to_do")
    model = resolve_model(server, settings.model)
    # From here on, Ctrl-C only sets flags (see _ctrl_c_sets): the run row it creates is
    # always closed, as interrupted, with every finished attempt committed.
    stop, interrupted = threading.Event(), threading.Event()
    with _ctrl_c_sets(interrupted, stop):
        run_id = _start_run(db, settings, model)
        summary = RunSummary(run_id=run_id, status="running", model=model, paragraphs=len(work))
        if on_start:
            on_start(run_id, model, len(work))

        events: queue.Queue[AttemptEvent | _Stop | None] = queue.Queue()
        todo: queue.SimpleQueue[WorkItem] = queue.SimpleQueue()
        for item in work:
            todo.put(item)
        workers = [
            threading.Thread(
                target=_worker,
                args=(server, model, settings, todo, events, stop),
                name=f"workbench-slot-{n}",
                daemon=True,  # Ctrl-C must not wait for a request in flight
            )
            for n in range(min(settings.concurrency, len(work)))
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
                    _record(db, run_id, event, summary)
                    if on_event:
                        on_event(event)
        except BaseException as e:  # a second Ctrl-C, or a bug: close the run, keep the error
            stop.set()
            _drain(db, run_id, events, summary)
            interrupt = isinstance(e, KeyboardInterrupt)
            _end_run(
                db,
                run_id,
                "interrupted" if interrupt else "failed",
                "interrupted by the user" if interrupt else f"workbench crashed: {e!r}",
                summary,
            )
            raise
    if interrupted.is_set():
        _drain(db, run_id, events, summary)
        _end_run(db, run_id, "interrupted", "interrupted by the user", summary)
        return summary
    if failure is None:
        _end_run(db, run_id, "completed", None, summary)
        return summary
    message = _failure_message(failure)
    _end_run(db, run_id, "failed", message, summary)
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
    model: str,
    settings: RunSettings,
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
            _work_paragraph(server, session, model, settings, item, events.put, stop)
    except BaseException as e:
        events.put(_Stop(e))
    finally:
        session.close()
        events.put(None)


def _work_paragraph(
    server: Server,
    session: Any,
    model: str,
    settings: RunSettings,
    item: WorkItem,
    emit: Callable[[AttemptEvent], None],
    stop: threading.Event,
) -> None:
    """Ask for one paragraph until an answer is accepted or its attempts are used up."""
    number, validated = item.last_attempt_number, item.validated_attempts
    budget = settings.max_attempts - validated
    if budget <= 0:  # --max-attempts was lowered below what it already had
        emit(AttemptEvent(item.paragraph_id, number, None, "rejected", item.last_reason, None,
                          paragraph_status="skipped"))  # fmt: skip
        return
    previous: tuple[str, Rejection] | None = None  # the last rejected answer, for the retry
    rng = random.Random()

    def send(body: dict[str, Any]) -> Completion:
        nonlocal number
        if stop.is_set():
            raise _Interrupted
        number += 1
        completion = server.complete(session, body)
        if completion.failed:
            emit(AttemptEvent(item.paragraph_id, number, completion, "failed", completion.error,
                              completion.error_detail))  # fmt: skip
        return raise_for_failure(completion)

    def ask() -> Rejection | None:
        nonlocal validated, previous
        body = settings.request_body(model, item.text, item.word_count, previous=previous, rng=rng)
        completion = transport_policy(settings.retries, settings.backoff, stop=stop)(send, body)
        cleaned = clean(item.text, completion.answer or "", settings.rules)
        rejection = validate(item.text, cleaned, completion.finish_reason, settings.rules)
        validated += 1
        if rejection is None:
            status, outcome = "succeeded", "accepted"
        else:
            status = "skipped" if validated >= settings.max_attempts else None
            outcome, previous = "rejected", (completion.answer or "", rejection)
        emit(AttemptEvent(
            item.paragraph_id, number, completion, outcome,
            rejection.reason if rejection else None, rejection.detail if rejection else None,
            paragraph_status=status, cleaned=cleaned,
        ))  # fmt: skip
        return rejection

    with contextlib.suppress(_Interrupted):  # the paragraph stays pending for the next run
        validation_policy(budget, stop=stop)(ask)


class _Interrupted(Exception):
    """The run is stopping: send nothing more."""


def _record(db: Database, run_id: int, event: AttemptEvent, summary: RunSummary) -> None:
    """Commit one attempt and the paragraph status it settles, together."""
    c = event.completion
    with db.atomic():
        if c is not None:
            db.execute(
                INSERT_ATTEMPT_SQL,
                [
                    event.paragraph_id,
                    run_id,
                    event.attempt_number,
                    c.started_at,
                    c.finished_at,
                    c.latency_s,
                    json.dumps(c.request, ensure_ascii=False),
                    c.http_status,
                    c.response,
                    c.answer,
                    c.finish_reason,
                    c.prompt_tokens,
                    c.completion_tokens,
                    event.outcome,
                    event.reason,
                    event.detail,
                    event.cleaned,
                ],
            )
        if event.paragraph_status:
            db.execute(
                "UPDATE paragraphs SET status = ?, skip_reason = ? WHERE id = ?",
                [
                    event.paragraph_status,
                    event.reason if event.paragraph_status == "skipped" else None,
                    event.paragraph_id,
                ],
            )
    if c is not None:
        setattr(summary, event.outcome, getattr(summary, event.outcome) + 1)
    if event.paragraph_status:
        setattr(summary, event.paragraph_status, getattr(summary, event.paragraph_status) + 1)


def _drain(db: Database, run_id: int, events: queue.Queue[Any], summary: RunSummary) -> None:
    """Commit the attempts that finished but were not written yet."""
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        if isinstance(event, AttemptEvent):
            _record(db, run_id, event, summary)


def _start_run(db: Database, settings: RunSettings, model: str) -> int:
    with db.atomic():
        return int(
            db["runs"]
            .insert(
                {
                    "started_at": utc_now(),
                    "status": "running",
                    "base_url": settings.base_url,
                    "model": model,
                    "settings": json.dumps(asdict(settings), ensure_ascii=False, default=sorted),
                    "pid": os.getpid(),
                    "hostname": socket.gethostname(),
                }
            )
            .last_pk
        )


def _end_run(
    db: Database, run_id: int, status: str, message: str | None, summary: RunSummary
) -> None:
    summary.status, summary.message = status, message
    with db.atomic():
        db.execute(
            "UPDATE runs SET status = ?, ended_at = ?, message = ? WHERE id = ?",
            [status, utc_now(), message, run_id],
        )
    summary.remaining = db.execute(
        "SELECT count(*) FROM paragraphs WHERE status = 'pending'"
    ).fetchone()[0]


def _close_dead_runs(db: Database) -> None:
    """Close runs whose process died (SIGKILL, power cut) as interrupted; never race a live one."""
    for run_id, pid, hostname in db.execute(
        "SELECT id, pid, hostname FROM runs WHERE status = 'running'"
    ).fetchall():
        if process_alive(pid, hostname) and pid != os.getpid():
            raise WorkbenchError(
                f"run #{run_id} (process {pid}) is still working on this database; "
                "wait for it to finish or stop it first"
            )
        with db.atomic():
            db.execute(
                """
                UPDATE runs SET status = 'interrupted',
                    message = 'the process ended without closing the run (killed?)',
                    ended_at = (SELECT max(finished_at) FROM attempts WHERE run_id = runs.id)
                WHERE id = ?
                """,
                [run_id],
            )


def _failure_message(error: BaseException) -> str:
    if isinstance(error, RequestRefused):
        return f"the server refused the request: {error}"
    if isinstance(error, TransientFailure):
        return f"the server kept failing, last: {error}"
    return repr(error)
