"""The writer of a run: claims the work, feeds the workers, commits what they find.

The calling thread is the only one of the run that touches the database. It claims paragraphs a
few at a time as the workers' queue runs low (claims.py), hands them out, commits every attempt
the moment its event arrives (only while the run holds the paragraph's claim), lets a
paragraph's claim go when its worker is done with it, and beats every HEARTBEAT_S so its claims
keep their lease. A crash at any instant leaves every finished attempt stored and every
unfinished paragraph pending, claimed until its lease lapses (at once for the next run on this
host, which sees the process is gone).

Ctrl-C only sets flags (see `ctrl_c_sets`): the loop stops handing out work, commits what has
arrived, and closes the run as interrupted; requests in flight are abandoned (the next run asks
again). A server that refuses a request, or keeps failing past the retries, stops the run the
same way, without waiting for the other requests in flight.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlite_utils import Database

from workbench.engine.claims import HEARTBEAT_S, START, Place, claim, holds, release
from workbench.engine.pending import WorkItem, awaiting_condition, work_items
from workbench.engine.recipes import Recipe, paragraph_counts
from workbench.engine.runs import RunRow, close_dead_runs, end_run, heartbeat
from workbench.engine.worker import (
    AttemptEvent,
    CheckedEvent,
    Event,
    Finished,
    Notice,
    Slot,
    StopRun,
    worker,
)
from workbench.errors import ServerFailing, ServerRefused, WorkbenchError
from workbench.judge.checks import check_row
from workbench.judge.settings import Rules
from workbench.llm.retry import RequestRefused, TransientFailure
from workbench.store.attempts import (
    AttemptRow,
    VerdictRow,
    insert_attempt,
    insert_checks,
    update_cleaned,
    update_verdicts,
)
from workbench.store.states import Outcome, RunStatus, Status
from workbench.store.transactions import transaction

OnEvent = Callable[[AttemptEvent | CheckedEvent], None]


def workers_for(requests: int) -> int:
    """Two workers for each request the servers take at once (the pool's leases hold that
    limit): while one judges the answer it got (MiniLM's meaning takes tens of milliseconds),
    the other already has its request out, so our own checks do not leave a server idle. One
    request at a time stays one paragraph at a time, in source order, as a user asking for it
    expects."""
    return requests if requests == 1 else 2 * requests


@dataclass
class RunSummary:
    """What a run did, for the caller to show; `run_id` None: nothing to do, no run started."""

    run_id: int | None
    recipe: Recipe
    notes: list[str] = field(default_factory=list)
    status: RunStatus | None = None
    paragraphs: int = 0  # worked this run
    outcomes: Counter[Outcome] = field(default_factory=Counter)  # of its attempts
    settled: Counter[Status] = field(default_factory=Counter)  # paragraphs it finished
    checked: int = 0  # stored answers, accepted for now, settled by a check
    lost: int = 0  # answers not committed: their paragraph's claim had passed to another run
    message: str | None = None
    remaining: int = 0  # pending paragraphs left for a later run
    held_by: str | None = None  # nothing to do now: the pending paragraphs are another's

    @property
    def succeeded(self) -> int:
        return self.settled[Status.SUCCEEDED]

    @property
    def skipped(self) -> int:
        return self.settled[Status.SKIPPED]

    @property
    def accepted(self) -> int:
        return self.outcomes[Outcome.ACCEPTED]

    @property
    def rejected(self) -> int:
        return self.outcomes[Outcome.REJECTED]

    @property
    def failed(self) -> int:
        return self.outcomes[Outcome.FAILED]

    def describe(self) -> str:
        """The line a finished run ends with."""
        if self.run_id is None:
            if self.held_by:
                return (
                    f"Nothing to do now: every pending paragraph under recipe "
                    f"{self.recipe.name!r} is being worked by {self.held_by}."
                )
            return (
                f"Nothing to do: no pending paragraphs under recipe {self.recipe.name!r} "
                "(see `workbench report`)."
            )
        return (
            f"Run #{self.run_id} {self.status} (recipe {self.recipe.name!r}, "
            f"{self.recipe.model}): {self.succeeded:,} succeeded, {self.skipped:,} "
            f"skipped of {self.paragraphs:,} paragraphs; attempts: {self.accepted:,} "
            f"accepted, {self.rejected:,} rejected, {self.failed:,} failed; "
            f"{self.remaining:,} paragraphs still pending."
            + (
                f" {self.lost:,} answers were not kept: another run had taken their paragraphs "
                "over (this one stopped beating for over a minute)."
                if self.lost
                else ""
            )
        )


class Feeder:
    """Claims the run's paragraphs as its workers need them, in source order.

    A first pass claims from the start of the book to its end; a second one, from the start
    again, picks up what others let go meanwhile (a run that stopped, a batch cancelled). A
    paragraph is worked once per run: one the second pass finds still pending after this run
    worked it is let go again.
    """

    def __init__(
        self, db: Database, run: RunRow, recipe: Recipe, rules: Rules, limit: int | None
    ) -> None:
        self.db, self.run, self.recipe, self.rules, self.limit = db, run, recipe, rules, limit
        self.awaiting = awaiting_condition(rules)
        self.after, self.second_pass, self.exhausted = START, False, False
        self.worked: set[int] = set()

    def take(self, places: list[Place]) -> list[WorkItem]:
        """Work items for places this run has claimed (letting go those it already worked)."""
        if places:
            self.after = places[-1]
        again = [p.paragraph_id for p in places if p.paragraph_id in self.worked]
        if again:
            with transaction(self.db):
                release(self.db, self.run.id, self.run.recipe_id, again)
        fresh = [p.paragraph_id for p in places if p.paragraph_id not in self.worked]
        self.worked.update(fresh)
        return work_items(self.db, self.recipe, self.rules, fresh)

    def more(self, count: int) -> list[WorkItem]:
        """Up to `count` more paragraphs to work; none once there are no more."""
        while not self.exhausted:
            if self.limit is not None:
                count = min(count, self.limit - len(self.worked))
            if count <= 0:
                self.exhausted = True
                break
            places = claim(
                self.db, self.run.id, self.run.recipe_id, self.awaiting, self.after, count
            )
            if not places:
                if self.second_pass:
                    self.exhausted = True
                    break
                # From the start again, with the claims of runs that died meanwhile let go.
                with transaction(self.db):
                    close_dead_runs(self.db)
                self.second_pass, self.after = True, START
                continue
            items = self.take(places)
            if items:
                return items
        return []


@dataclass(frozen=True)
class Flags:
    """What stops a run: `stop` (workers send nothing more), `interrupted` (Ctrl-C)."""

    stop: threading.Event = field(default_factory=threading.Event)
    interrupted: threading.Event = field(default_factory=threading.Event)


def work(
    db: Database,
    slot: Slot,
    run: RunRow,
    feeder: Feeder,
    first: list[WorkItem],
    summary: RunSummary,
    flags: Flags,
    *,
    on_started: Callable[[], None] | None = None,
    on_event: OnEvent | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> RunSummary:
    """Work the run to its end with the workers its servers' requests at once need; close it
    and say what it did.

    `on_started` is called once the workers have started. Raises ServerRefused or
    ServerFailing when the server stops the run (the run row says so first); a bug in a worker
    keeps its traceback."""
    todo: queue.Queue[WorkItem | None] = queue.Queue()
    events: queue.Queue[Event] = queue.Queue()
    slot.pool.notify = lambda line: events.put(Notice(line))  # said by the writer, in order
    concurrency = workers_for(slot.pool.concurrency)
    for item in first:
        todo.put(item)
    workers = [
        threading.Thread(
            target=worker,
            args=(slot, todo, events),
            name=f"workbench-slot-{n}",
            daemon=True,  # a stop must not wait for a request in flight
        )
        for n in range(concurrency)
    ]
    for thread in workers:
        thread.start()
    if on_started:
        on_started()  # after the threads start: the first requests go out first
    finished_workers, failure, ended = 0, None, False
    next_beat = time.monotonic() + HEARTBEAT_S
    try:
        while finished_workers < len(workers) and not flags.stop.is_set():
            if not ended and todo.qsize() < concurrency:
                for item in feeder.more(2 * concurrency):
                    todo.put(item)
                if feeder.exhausted and not ended:
                    for _ in workers:
                        todo.put(None)  # each worker ends when it takes one
                    ended = True
            if time.monotonic() >= next_beat:
                heartbeat(db, run)
                next_beat = time.monotonic() + HEARTBEAT_S
            try:
                event = events.get(timeout=0.05)
            except queue.Empty:
                continue
            if event is None:
                finished_workers += 1
            elif isinstance(event, StopRun):
                failure = failure or event.error
                flags.stop.set()
            else:
                _handle(db, run, event, summary, on_event, on_notice)
    except Exception as e:  # a bug, or the database locked for too long: close the run first
        flags.stop.set()
        _close(db, run, RunStatus.FAILED, f"workbench crashed: {e!r}", summary, events)
        raise
    summary.paragraphs = len(feeder.worked)
    if flags.interrupted.is_set():
        _close(db, run, RunStatus.INTERRUPTED, "interrupted by the user", summary, events)
        return summary
    if failure is None:
        _close(db, run, RunStatus.COMPLETED, None, summary, events)
        return summary
    message = _failure_message(failure)
    _close(db, run, RunStatus.FAILED, message, summary, events)
    if isinstance(failure, RequestRefused):
        raise ServerRefused(message)
    if isinstance(failure, TransientFailure):
        raise ServerFailing(message)
    raise failure  # a WorkbenchError is one line (the meaning model missing); a bug, a traceback


def _handle(
    db: Database,
    run: RunRow,
    event: Event,
    summary: RunSummary,
    on_event: OnEvent | None,
    on_notice: Callable[[str], None] | None,
) -> None:
    if isinstance(event, Finished):
        with transaction(db):
            release(db, run.id, run.recipe_id, [event.paragraph_id])
    elif isinstance(event, Notice):
        if on_notice:
            on_notice(event.line)
    elif (
        isinstance(event, AttemptEvent | CheckedEvent)
        and _record(db, run, event, summary)
        and on_event
    ):
        on_event(event)


def _record(
    db: Database, run: RunRow, event: AttemptEvent | CheckedEvent, summary: RunSummary
) -> bool:
    """Commit one attempt, or the verdict a check settled, with the checks sent about it (the
    paragraph's status follows), if the run still holds the paragraph's claim."""
    with transaction(db):
        if not holds(db, run.id, run.recipe_id, event.paragraph_id):
            summary.lost += 1
            return False
        if isinstance(event, AttemptEvent):
            c, v = event.completion, event.verdict
            verdict = (
                v.row(run.rules_id)
                if v
                else VerdictRow(Outcome.FAILED, event.reason, event.detail, *(None,) * 6)
            )
            attempt_id = insert_attempt(
                db,
                AttemptRow(
                    event.paragraph_id, run.recipe_id, run.id, None, c.row(), c.answer,
                    v.cleaned if v else None, c.finish_reason, c.prompt_tokens,
                    c.completion_tokens, verdict, c.server,
                ),
            )  # fmt: skip
            summary.outcomes[event.outcome] += 1
        else:
            attempt_id = event.attempt_id
            if event.verdict is not None:
                update_verdicts(db, [(attempt_id, event.verdict.row(run.rules_id))])
                if event.verdict.cleaned != event.cleaned:
                    update_cleaned(db, [(attempt_id, event.verdict.cleaned)])
                summary.checked += 1
        insert_checks(db, (check_row(call, attempt_id, run.id) for call in event.checks))
    if event.paragraph_status:
        summary.settled[event.paragraph_status] += 1
    return True


def _close(
    db: Database,
    run: RunRow,
    status: RunStatus,
    message: str | None,
    summary: RunSummary,
    events: queue.Queue[Event],
) -> None:
    """Commit the attempts that arrived but were not written yet, then close the run (its
    claims go with it)."""
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            break
        if isinstance(event, AttemptEvent | CheckedEvent):
            _record(db, run, event, summary)
    summary.status, summary.message = status, message
    end_run(db, run, status, message)
    summary.remaining = paragraph_counts(db, summary.recipe)[Status.PENDING]


def _failure_message(error: BaseException) -> str:
    if isinstance(error, RequestRefused):
        return f"the server refused the request: {error}"
    if isinstance(error, TransientFailure):
        return f"the server kept failing, last: {error}"
    if isinstance(error, WorkbenchError):
        return str(error)
    return repr(error)


@contextmanager
def ctrl_c_sets(flags: Flags) -> Iterator[None]:
    """Turn Ctrl-C into flags the writer loop checks between commits.

    The default handler raises KeyboardInterrupt wherever the main thread is, possibly inside
    the commit of a finished attempt; a flag lets that commit complete. Later presses change
    nothing: closing the run takes a moment, and then the command exits (130). Only the main
    thread can own signals; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        flags.interrupted.set()
        flags.stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        # Pressed already, the command is on its way out: a later press, with the default
        # handler back, would cut its goodbye short (or the run's close, in a caller's code).
        signal.signal(signal.SIGINT, signal.SIG_IGN if flags.interrupted.is_set() else previous)
