"""One request slot of a run: work whole paragraphs, asking until each has its answers.

A worker thread takes paragraphs from the run's queue. For each, it first settles the answers
accepted for now that a rule still has to ask a server about (the judge, an embeddings model),
then asks the recipe's request until the paragraph has the accepted answers the recipe wants or
no attempts left, judging each answer as it comes. It never writes to the database: every
finished attempt or check goes to the run's writer as an event.
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.engine.pending import WorkItem
from workbench.engine.recipes import Recipe
from workbench.judge.checks import CheckCall, ServerChecker
from workbench.judge.early import EarlyStop
from workbench.judge.settings import Rules
from workbench.judge.verdict import Verdict, judge
from workbench.llm.client import Completion, Server
from workbench.llm.pool import Member, Pool, Sessions
from workbench.llm.retry import (
    RequestRefused,
    Stopped,
    TransientFailure,
    raise_for_failure,
    transport_policy,
)
from workbench.llm.stream import Watch, stream_complete
from workbench.store.states import Outcome, Status


@dataclass(frozen=True)
class AttemptEvent:
    """A finished attempt, the checks sent about it, and the paragraph status it settles. Its
    number is the database's to give (the next free one), when it is committed."""

    paragraph_id: int
    completion: Completion
    verdict: Verdict | None  # None: failed, no answer (or no check) to judge it
    paragraph_status: Status | None = None  # succeeded or skipped when this attempt settles it
    checks: list[CheckCall] = field(default_factory=list)
    check_failure: BaseException | None = None  # a check that kept failing: why it failed

    @property
    def outcome(self) -> Outcome:
        return self.verdict.outcome if self.verdict else Outcome.FAILED

    @property
    def reason(self) -> str | None:
        if self.verdict:
            return self.verdict.reason
        if self.check_failure is not None and self.checks:
            return f"{self.checks[-1].kind}_{self.checks[-1].error}"
        return self.completion.error

    @property
    def detail(self) -> str | None:
        if self.verdict:
            return self.verdict.detail
        if self.check_failure is not None:
            return f"the answer could not be checked: {self.check_failure}"
        return self.completion.error_detail


@dataclass(frozen=True)
class CheckedEvent:
    """A stored answer, accepted for now, judged now that the server was asked."""

    paragraph_id: int
    attempt_id: int
    cleaned: str  # the answer as stored, cleaned when it was judged before
    verdict: Verdict | None  # None: the server kept failing; only its requests are kept
    checks: list[CheckCall]
    paragraph_status: Status | None = None


@dataclass(frozen=True)
class Notice:
    """A line to show: a server left the rotation, or came back."""

    line: str


@dataclass(frozen=True)
class Finished:
    """A worker is done with a paragraph (settled, or left pending by a stop): its claim can go."""

    paragraph_id: int


@dataclass
class StopRun:
    """A worker's reason to stop the whole run."""

    error: BaseException


Event = AttemptEvent | CheckedEvent | Finished | Notice | StopRun | None  # None: a worker ended


@dataclass(frozen=True)
class Slot:
    """What every worker of a run shares."""

    pool: Pool  # the servers answers are asked of
    judge_server: Server  # where the judge rule asks
    recipe: Recipe
    rules: Rules
    retries: int
    backoff: float
    stop: threading.Event
    stream: bool = True  # read answers as events, and stop one when a rule fires for good


def worker(slot: Slot, todo: queue.Queue[WorkItem | None], events: queue.Queue[Event]) -> None:
    """Work paragraphs from `todo` until it hands out None or the run stops; report on
    `events`."""
    assert slot.recipe.model is not None
    checker = ServerChecker(
        slot.pool.primary, slot.judge_server, slot.recipe.model,
        retries=slot.retries, backoff=slot.backoff, stop=slot.stop,
    )  # fmt: skip
    sessions = Sessions()
    try:
        while not slot.stop.is_set():
            try:
                item = todo.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is None:
                break
            try:
                with contextlib.suppress(Stopped):  # the paragraph stays pending for later
                    work_paragraph(slot, checker, sessions, item, events.put)
            finally:
                events.put(Finished(item.paragraph_id))
    except BaseException as e:
        events.put(StopRun(e))
    finally:
        checker.close()
        sessions.close()
        events.put(None)


def work_paragraph(
    slot: Slot,
    checker: ServerChecker,
    sessions: Sessions,
    item: WorkItem,
    emit: Callable[[Any], None],
) -> None:
    """Settle the paragraph's awaiting answers, then ask until it has the answers the recipe
    wants or no attempts left: a plain loop over validated answers, each request sent through
    the transport retries (`send`)."""
    recipe, rules = slot.recipe, slot.rules
    accepted = [answer for _, answer in item.accepted]
    rejected = item.rejected
    for waiting in item.awaiting:
        before = [a for n, a in item.accepted if n < waiting.attempt_number and a in accepted]
        try:
            verdict = judge(
                item.text, waiting.answer, waiting.finish_reason, rules, accepted=before,
                known=waiting.known, known_cleaned=waiting.cleaned, checker=checker,
            )  # fmt: skip
        except (TransientFailure, RequestRefused):  # keep what was sent; the verdict stands
            emit(CheckedEvent(item.paragraph_id, waiting.attempt_id, waiting.cleaned, None,
                              checker.take_calls()))  # fmt: skip
            raise
        if verdict.rejection is not None:
            accepted.remove(waiting.cleaned)
            rejected += 1
        status = recipe.status(len(accepted), rejected)
        settled = None if status == Status.PENDING else status
        emit(CheckedEvent(item.paragraph_id, waiting.attempt_id, waiting.cleaned, verdict,
                          checker.take_calls(), settled))  # fmt: skip
    previous = item.previous  # the last rejected answer, for the retry's temperature and feedback
    rng = random.Random()
    if recipe.status(len(accepted), rejected) == Status.PENDING:
        checker.prefetch(item.text, rules)  # measured while the request is out, not after
    while recipe.status(len(accepted), rejected) == Status.PENDING:
        body = recipe.request_body(
            item.text, item.word_count, max_ratio=rules.max_ratio, previous=previous, rng=rng
        )
        watch = EarlyStop(item.text, rules, body.get("max_tokens")) if slot.stream else None
        completion = send(slot, sessions, body, item.paragraph_id, emit, watch)
        try:
            verdict = judge(
                item.text, completion.answer, completion.finish_reason, rules,
                accepted=accepted, checker=checker,
            )  # fmt: skip
        except (TransientFailure, RequestRefused) as e:  # a check kept failing: keep the answer
            emit(AttemptEvent(item.paragraph_id, completion, None,
                              checks=checker.take_calls(), check_failure=e))  # fmt: skip
            raise
        if verdict.rejection is None:
            accepted.append(verdict.cleaned)
        else:
            rejected += 1
            previous = (completion.answer or "", verdict.rejection)
        status = recipe.status(len(accepted), rejected)
        settled = None if status == Status.PENDING else status
        emit(AttemptEvent(item.paragraph_id, completion, verdict, settled, checker.take_calls()))


def send(
    slot: Slot,
    sessions: Sessions,
    body: dict[str, Any],
    paragraph_id: int,
    emit: Callable[[Any], None],
    watch: Watch | None = None,
) -> Completion:
    """One answer to `body` from one of the run's servers: sent again on a transport failure,
    to another server when one has room (at once), else after a backoff, up to the run's
    retries; each failed try is an attempt of its own, emitted as it fails. With `watch`, the
    answer is streamed from servers that stream, and stopped when `watch` names a reason.
    Raises TransientFailure past the retries, RequestRefused at once, Stopped when the run
    stops."""
    failed_on: list[Member] = []  # the server of the last failed try

    def once() -> Completion:
        if slot.stop.is_set():
            raise Stopped
        avoid = failed_on[-1] if failed_on else None
        with slot.pool.lease(slot.stop, avoid) as lease:
            member = lease.member
            if watch is not None and member.streams is not False:
                completion = stream_complete(member.server, sessions.get(member), body, watch)
                if completion.streamed is not None:
                    member.streams = completion.streamed  # it does, or does not, stream
            else:
                completion = member.server.complete(sessions.get(member), body)
            slot.pool.record(lease, completion)
        if completion.failed:
            failed_on.append(member)
            emit(AttemptEvent(paragraph_id, completion, None))
        return raise_for_failure(completion)

    def ready() -> bool:
        return slot.pool.has_room(failed_on[-1] if failed_on else None)

    policy = transport_policy(slot.retries, slot.backoff, stop=slot.stop, ready=ready)
    result: Completion = policy(once)
    return result
