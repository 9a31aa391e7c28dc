"""Run: work the pending paragraphs of one recipe, keeping --concurrency requests in flight.

Before anything is sent, the server is started (the embedded one) and asked whether it has the
recipe's model, outside any transaction; then in one short transaction the job's rules are
settled (a change adds a version and judges every stored answer again), the recipe's budgets
are stored, a new recipe is stored with the model the server named, and the run is inserted. If
the server cannot be used, nothing was written.

Then one thread per request slot, each with its own requests.Session, works whole paragraphs
through the retry policies; the calling thread is the only one that writes to the database, and
it commits every attempt the moment it arrives. A crash at any instant leaves every finished
attempt stored and every unfinished paragraph pending, so running again resumes.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlite_utils import Database

from workbench.engine.pending import has_pending, pending_work
from workbench.engine.recipes import (
    Recipe,
    RecipePlan,
    paragraph_counts,
    plan_recipe,
    save_recipe,
    verdict_counts,
)
from workbench.engine.runs import RunRow, close_dead_runs, end_run, start_run
from workbench.engine.worker import (
    AttemptEvent,
    CheckedEvent,
    Event,
    Slot,
    StopRun,
    WorkItem,
    worker,
)
from workbench.errors import (
    ServerFailing,
    ServerRefused,
    ServerUnreachable,
    SettingError,
    WorkbenchError,
)
from workbench.judge.changes import RuleChanges
from workbench.judge.checks import check_row
from workbench.judge.rejudge import prepare_settling, settle_rules
from workbench.judge.settings import Rules
from workbench.judge.versions import job_rules
from workbench.llm.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, Server, check_base_url
from workbench.llm.retry import DEFAULT_BACKOFF, DEFAULT_RETRIES, RequestRefused, TransientFailure
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
                raise SettingError("{" + name + "} must be at least {least}", least=least)
        if self.limit is not None and self.limit < 1:
            raise SettingError("{limit} must be at least 1")
        if self.timeout <= 0 or self.backoff < 0:
            raise SettingError("{timeout} must be above 0 and {backoff} at least 0")
        check_base_url(self.base_url)
        if self.judge_base_url is not None:
            check_base_url(self.judge_base_url, "judge_base_url")


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
    """What a run did, for the caller to show; `run_id` None: nothing to do, no run started."""

    run_id: int | None
    recipe: Recipe
    notes: list[str] = field(default_factory=list)
    status: RunStatus | None = None
    paragraphs: int = 0  # worked this run
    outcomes: Counter[Outcome] = field(default_factory=Counter)  # of its attempts
    settled: Counter[Status] = field(default_factory=Counter)  # paragraphs it finished
    checked: int = 0  # stored answers, accepted for now, settled by a check
    message: str | None = None
    remaining: int = 0  # pending paragraphs left for a later run

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
        )


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
    options: RunOptions,
    *,
    recipe_name: str | None = None,
    given: dict[str, Any] | None = None,
    changes: RuleChanges | None = None,
    api_key: str | None = None,
    serve: Serve | None = None,
    on_start: Callable[[RunStart], None] | None = None,
    on_event: Callable[[AttemptEvent | CheckedEvent], None] | None = None,
) -> RunSummary:
    """Work the pending paragraphs of a recipe (the current one unless named), and say what
    happened.

    `given` are recipe settings (a new recipe's, or budgets of a stored one; a setting that
    contradicts a stored recipe is refused before anything is stored or sent); `changes` change
    the job's rules first (judging stored answers again). `serve`, when given, starts the
    server to use instead of `options.base_url`. Raises ServerUnreachable with the database
    unchanged, and ServerRefused or ServerFailing when the server stops the run (the run row
    says so first). Ctrl-C ends the run with status "interrupted" once the attempts already
    finished are committed.
    """
    plan = plan_recipe(db, recipe_name, given or {})
    stored_rules = job_rules(db)
    rules = (changes or RuleChanges()).apply(stored_rules.rules)
    # Without a change to the job, a finished job needs no server: say so before asking one.
    changing = plan.stored is None or bool(plan.budget_changes) or rules != stored_rules.rules
    if not (changing or stored_rules.id is None) and not has_pending(db, plan.recipe, rules):
        return RunSummary(None, plan.recipe)
    prepare_settling(db, rules)  # a model to load for judging again: before the transaction
    with ExitStack() as stack:
        # The slow part first, outside any transaction: start the server, ask it what it has.
        base_url = stack.enter_context(serve(options.concurrency)) if serve else options.base_url
        server = Server(base_url, api_key=api_key, timeout=options.timeout)
        model = resolve_model(
            server, plan.recipe, given=plan.stored is None and "model" in plan.given
        )
        judge_server = _check_servers(
            server, replace(plan.recipe, model=model), rules, options, api_key
        )
        with transaction(
            db
        ):  # the job's changes and the run's start commit together, or not at all
            close_dead_runs(db)
            settled = settle_rules(db, rules)
            notes = settled.describe()
            # Planned again inside: another process may have stored the recipe meanwhile.
            plan = plan_recipe(db, recipe_name, given or {})
            recipe = plan.recipe
            if plan.budget_changes:
                notes.append(_store_budgets(db, plan))
            if plan.stored is None:
                recipe = save_recipe(db, replace(recipe, model=model))
                notes.append(_new_recipe_note(plan, recipe))
            work = pending_work(db, recipe, settled.rules, options.limit)
            if not work:
                return RunSummary(None, recipe, notes)
            slot = Slot(
                server, judge_server, recipe, settled.rules, options.retries, options.backoff,
                threading.Event(),
            )  # fmt: skip
            assert recipe.id is not None
            settings = asdict(replace(options, base_url=base_url))
            run = start_run(db, recipe.id, settled.version, base_url, settings)
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
        for status in (Status.SUCCEEDED, Status.SKIPPED, Status.PENDING)
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
    run: RunRow,
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
    summary = RunSummary(run.id, slot.recipe, notes, RunStatus.RUNNING, paragraphs=len(work))
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
                RunStatus.INTERRUPTED if interrupt else RunStatus.FAILED,
                "interrupted by the user" if interrupt else f"workbench crashed: {e!r}",
                summary,
            )
            raise
    if interrupted.is_set():
        _drain(db, run, events, summary)
        _end_run(db, run, RunStatus.INTERRUPTED, "interrupted by the user", summary)
        return summary
    if failure is None:
        _end_run(db, run, RunStatus.COMPLETED, None, summary)
        return summary
    message = _failure_message(failure)
    _end_run(db, run, RunStatus.FAILED, message, summary)
    if isinstance(failure, RequestRefused):
        raise ServerRefused(message)
    if isinstance(failure, TransientFailure):
        raise ServerFailing(message)
    raise failure  # a bug in a worker: keep its traceback


def _load_meaning() -> None:
    from workbench.judge.wordllama import load_wordllama

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
    db: Database, run: RunRow, event: AttemptEvent | CheckedEvent, summary: RunSummary
) -> None:
    """Commit one attempt, or the verdict a check settled, with the checks sent about it (the
    paragraph's status follows)."""
    with transaction(db):
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
                    event.paragraph_id, run.recipe_id, run.id, event.attempt_number, c.row(),
                    c.answer, v.cleaned if v else None, c.finish_reason, c.prompt_tokens,
                    c.completion_tokens, verdict,
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


def _drain(db: Database, run: RunRow, events: queue.Queue[Event], summary: RunSummary) -> None:
    """Commit the attempts that finished but were not written yet."""
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        if isinstance(event, AttemptEvent | CheckedEvent):
            _record(db, run, event, summary)


def _end_run(
    db: Database, run: RunRow, status: RunStatus, message: str | None, summary: RunSummary
) -> None:
    summary.status, summary.message = status, message
    end_run(db, run, status, message)
    summary.remaining = paragraph_counts(db, summary.recipe)[Status.PENDING]


def _failure_message(error: BaseException) -> str:
    if isinstance(error, RequestRefused):
        return f"the server refused the request: {error}"
    if isinstance(error, TransientFailure):
        return f"the server kept failing, last: {error}"
    return repr(error)
