"""Run: work the pending paragraphs of one recipe, keeping --concurrency requests in flight.

Before anything is sent, the server is started (the embedded one) and asked whether it has the
recipe's model, outside any transaction; then one short transaction settles the job's rules (a
change adds a version and judges every stored answer again), stores the recipe's budgets, stores
a new recipe with the model the server named, inserts the run and claims its first paragraphs.
If the server cannot be used, nothing was written.

Then the writer loop (loop.py) claims more paragraphs as they are needed and commits every
attempt as it arrives, while one thread per request slot works whole paragraphs (worker.py).
Other runs may work the same database meanwhile, on other paragraphs: claims keep them apart.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlite_utils import Database

from workbench.engine.claims import START, Place, claim_now
from workbench.engine.defaults import DEFAULT_CONCURRENCY
from workbench.engine.loop import Feeder, Flags, OnEvent, RunSummary, ctrl_c_sets, work
from workbench.engine.pending import awaiting_condition, count_work, has_pending
from workbench.engine.recipes import (
    Recipe,
    RecipePlan,
    paragraph_counts,
    plan_recipe,
    save_recipe,
    verdict_counts,
)
from workbench.engine.runs import RunRow, close_dead_runs, end_run, refuse_while_live, start_run
from workbench.engine.servers import open_pool
from workbench.engine.worker import Slot
from workbench.errors import ServerUnreachable, SettingError, WorkbenchError
from workbench.judge.answer import OFFLINE
from workbench.judge.changes import RuleChanges
from workbench.judge.rejudge import RulesSettled, prepare_settling, settle_rules
from workbench.judge.settings import Rules
from workbench.judge.versions import job_rules
from workbench.llm.client import Server, check_api_key, check_base_url
from workbench.llm.defaults import (
    DEFAULT_BACKOFF,
    DEFAULT_BASE_URL,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
)
from workbench.llm.pool import Pool, parse_server
from workbench.store.states import RunStatus, Status
from workbench.store.transactions import transaction


@dataclass(frozen=True)
class RunOptions:
    """A run's own options: where the server is and how hard to work it. Never part of a
    recipe; stored as JSON on the run's row (the API key is not one of them)."""

    # The servers, each `URL` or `URL#N` (N requests in flight there; --concurrency else).
    base_url: tuple[str, ...] = (DEFAULT_BASE_URL,)
    concurrency: int = DEFAULT_CONCURRENCY  # per server
    limit: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    judge_base_url: str | None = None  # where the judge rule asks; None: the first server
    stream: bool = True  # stream answers where the server streams, and stop them early

    def __post_init__(self) -> None:
        for name, least in (("concurrency", 1), ("retries", 0)):
            if getattr(self, name) < least:
                raise SettingError("{" + name + "} must be at least {least}", least=least)
        if self.limit is not None and self.limit < 1:
            raise SettingError("{limit} must be at least 1")
        if self.timeout <= 0 or self.backoff < 0:
            raise SettingError("{timeout} must be above 0 and {backoff} at least 0")
        if not self.base_url:
            raise SettingError("{base_url} names no server")
        urls = [url for url, _ in self.servers]
        for url in urls:
            if urls.count(url) > 1:
                raise SettingError("{base_url} {url!r} is given twice", url=url)
        if self.judge_base_url is not None:
            check_base_url(self.judge_base_url, "judge_base_url")

    @property
    def servers(self) -> list[tuple[str, int]]:
        """Each server's base URL and the requests in flight it takes."""
        return [parse_server(text, self.concurrency) for text in self.base_url]


# Starts a server for the run (the embedded model) given the slots wanted; yields its base URL.
Serve = Callable[[int], AbstractContextManager[str]]


@dataclass(frozen=True)
class RunStart:
    """What a run is about to do, its job changes committed: for the caller to show."""

    run_id: int
    recipe: Recipe
    paragraphs: int
    notes: list[str]  # servers left out, rules changed, answers re-judged, budgets moved, …
    in_flight: int = 1  # requests in flight at once, over all its servers


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
    on_event: OnEvent | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> RunSummary:
    """Work the pending paragraphs of a recipe (the current one unless named), and say what
    happened.

    `given` are recipe settings (a new recipe's, or budgets of a stored one; a setting that
    contradicts a stored recipe is refused before anything is stored or sent); `changes` change
    the job's rules first (judging stored answers again). `serve`, when given, starts the
    server to use instead of `options.base_url`. `on_notice` hears a server leave or come back
    to the rotation. Raises ServerUnreachable with the database
    unchanged, and ServerRefused or ServerFailing when the server stops the run (the run row
    says so first). Ctrl-C ends the run with status "interrupted" once the attempts already
    finished are committed.
    """
    check_api_key(api_key)
    plan = plan_recipe(db, recipe_name, given or {})
    stored_rules = job_rules(db)
    rules = (changes or RuleChanges()).apply(stored_rules.rules)
    # Without a change to the job, a finished job needs no server: say so before asking one.
    changing = plan.stored is None or bool(plan.budget_changes) or rules != stored_rules.rules
    if not (changing or stored_rules.id is None) and not has_pending(db, plan.recipe, rules):
        return RunSummary(None, plan.recipe)
    prepare_settling(db, rules)  # a model to load for judging again: before the transaction
    if rules.on("meaning_drift") and not rules.embeddings_model:
        # Load the meaning model (0.2 s) while the servers are asked and the first requests
        # are in flight: the first answers do not wait for it.
        threading.Thread(
            target=_load_meaning, args=(rules,), name="workbench-meaning", daemon=True
        ).start()
    with ExitStack() as stack:
        # The slow part first, outside any transaction: start the server, ask them what they
        # have (all at once).
        specs = (
            [(stack.enter_context(serve(options.concurrency)), options.concurrency)]
            if serve
            else options.servers
        )
        pool, server_notes = open_pool(
            specs, plan.recipe, given=plan.stored is None and "model" in plan.given,
            api_key=api_key, timeout=options.timeout,
        )  # fmt: skip
        judge_server = _check_servers(
            pool.primary, replace(plan.recipe, model=pool.model), rules, options, api_key
        )
        flags = Flags()
        with ctrl_c_sets(flags):  # from here on Ctrl-C only sets flags: the run row is closed
            started = _start(db, options, recipe_name, given or {}, rules, pool)
            if isinstance(started, RunSummary):
                return started
            run, recipe, settled, first, notes = started
            notes = server_notes + notes
            slot = Slot(
                pool, judge_server, recipe, settled.rules, options.retries, options.backoff,
                flags.stop, options.stream,
            )  # fmt: skip
            feeder = Feeder(db, run, recipe, settled.rules, options.limit)
            items = feeder.take(first)
            summary = RunSummary(run.id, recipe, notes, RunStatus.RUNNING)
            if flags.interrupted.is_set():  # Ctrl-C while it started
                end_run(db, run, RunStatus.INTERRUPTED, "interrupted by the user")
                summary.status = RunStatus.INTERRUPTED
                return summary

            def show_start() -> None:
                """Once the first requests are out: what the run is about to do, to show."""
                if on_start:
                    total = count_work(db, recipe, settled.rules)  # those it claimed included
                    if options.limit is not None:
                        total = min(total, options.limit)
                    on_start(RunStart(run.id, recipe, total, notes, pool.concurrency))

            with pool:
                return work(db, slot, run, feeder, items, summary, flags, on_started=show_start,
                            on_event=on_event, on_notice=on_notice)  # fmt: skip
    raise AssertionError("unreachable")  # pragma: no cover  (ExitStack does not swallow)


def _start(
    db: Database,
    options: RunOptions,
    recipe_name: str | None,
    given: dict[str, Any],
    rules: Rules,
    pool: Pool,
) -> tuple[RunRow, Recipe, RulesSettled, list[Place], list[str]] | RunSummary:
    """In one transaction: the job's changes, the run's row and its first claims; or what there
    is to say when there is nothing to do (the job's changes committed)."""
    with transaction(db):
        live = close_dead_runs(db)
        if rules != job_rules(db).rules:
            refuse_while_live(live, "this run would change the rules they judge by")
        settled = settle_rules(db, rules)
        notes = settled.describe()
        # Planned again inside: another process may have stored the recipe meanwhile.
        plan = plan_recipe(db, recipe_name, given)
        recipe = plan.recipe
        if plan.budget_changes:
            refuse_while_live(
                [r for r in live if plan.stored and r.recipe_id == plan.stored.id],
                f"this run would change the budgets of recipe {recipe.name!r} they work",
            )
            notes.append(_store_budgets(db, plan))
        if plan.stored is None:
            recipe = save_recipe(db, replace(recipe, model=pool.model))
            notes.append(_new_recipe_note(plan, recipe))
        if not has_pending(db, recipe, settled.rules):
            return RunSummary(None, recipe, notes)
        assert recipe.id is not None
        servers = [(member.base_url, member.concurrency) for member in pool.members]
        settings = asdict(replace(options, base_url=tuple(f"{url}#{n}" for url, n in servers)))
        count = 2 * pool.concurrency
        try:
            with transaction(db):  # a savepoint: the run's row goes if it finds nothing to claim
                run = start_run(db, recipe.id, settled.version, servers, settings)
                first = claim_now(
                    db, run.id, recipe.id, awaiting_condition(settled.rules), START,
                    count if options.limit is None else min(count, options.limit),
                )  # fmt: skip
                if not first:
                    raise _NothingToClaim
        except _NothingToClaim:
            held_by = ", ".join(r.describe() for r in live) or "another process"
            return RunSummary(None, recipe, notes, held_by=held_by)
    return run, recipe, settled, first, notes


class _NothingToClaim(Exception):
    """Every pending paragraph is claimed by another run (or a batch): no run after all."""


def _load_meaning(rules: Rules) -> None:
    with contextlib.suppress(WorkbenchError):  # a worker meets the same error, and says it
        OFFLINE.prepare(rules)


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
