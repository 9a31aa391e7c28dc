"""`batch read`: results of batch inference back into the job, judged as `run` judges.

Every line of every file given (output and error files, in any order) is matched to the request
it answers by its custom_id. Each becomes an attempt, with the line kept as its response and
`batch #N` as its server, judged by the job's rules in the order of the paragraph's attempts, as
a run would have met them (a rule that needs a server, the judge or an embeddings model, leaves
the answer accepted for now: the next `run` asks). A paragraph's reservation ends once each of
its lines in the batch is read; one still pending goes back to the next `batch write` or `run`.

A line read before adds nothing (its request already has its attempt); a line of a cancelled
batch is not taken; a malformed line, or one whose custom_id is not this job's, is reported
(one line each) and the rest is read. Lines are committed a paragraph at a time, so a read that
is stopped, even by kill -9, is finished by reading the same files again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from sqlite_utils import Database

from workbench.engine.batch import batches
from workbench.engine.batch.batches import Request, counted
from workbench.engine.batch.ids import parse_id
from workbench.engine.batch.lines import Problem, Result, read_lines
from workbench.engine.claims import release_batch, reserved
from workbench.engine.pending import work_items
from workbench.engine.recipes import Recipe, stored_recipes
from workbench.engine.rules_change import settle_current
from workbench.engine.runs import RunRow, close_dead_runs, end_run, start_run
from workbench.errors import InputError
from workbench.judge.answer import OFFLINE
from workbench.judge.settings import Rules
from workbench.judge.verdict import judge
from workbench.llm.client import Completion, parse_completion
from workbench.store.attempts import AttemptRow, VerdictRow, insert_attempt
from workbench.store.states import Outcome, RunStatus, Status
from workbench.store.times import utc_now
from workbench.store.transactions import transaction


@dataclass
class BatchRead:
    """What reading results did."""

    lines: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)  # of the attempts stored
    already: int = 0  # lines read before (or twice in these files)
    cancelled: int = 0  # lines of a cancelled batch
    problems: Counter[str] = field(default_factory=Counter)  # malformed, unknown, foreign
    finished: list[int] = field(default_factory=list)  # batches now read whole
    pending: int = 0  # paragraphs whose lines are all read and that are still pending

    def describe(self) -> str:
        o = self.outcomes
        parts = [
            f"Read {self.lines:,} lines: {sum(o.values()):,} answers stored "
            f"({o[Outcome.ACCEPTED]:,} accepted, {o[Outcome.REJECTED]:,} rejected, "
            f"{o[Outcome.FAILED]:,} failed)"
        ]
        if self.already:
            parts.append(f"{self.already:,} read before")
        if self.cancelled:
            parts.append(f"{self.cancelled:,} of cancelled batches, not taken")
        for kind in ("malformed", "unknown", "foreign"):
            if self.problems[kind]:
                parts.append(f"{self.problems[kind]:,} {kind}")
        line = "; ".join(parts) + "."
        if self.finished:
            line += f" Batch {', '.join(f'#{b}' for b in self.finished)} read whole."
        if self.pending:
            line += (
                f" {counted(self.pending, 'paragraph')} pending again: `workbench batch write` "
                "or `workbench run` asks " + ("it" if self.pending == 1 else "them") + " next."
            )
        return line


def read_results(
    db: Database, paths: Iterable[Path], on_problem: Callable[[Problem], None] | None = None
) -> BatchRead:
    """Read results files into the job; `on_problem` hears each line that cannot be read."""
    summary = BatchRead()
    results: dict[str, Result] = {}
    for path in paths:
        if not path.is_file():
            raise InputError(f"no results file at {path}")
        for line in read_lines(path):
            summary.lines += 1
            if isinstance(line, Problem):
                _problem(summary, line, on_problem)
            elif line.custom_id in results:
                summary.already += 1  # the same line twice in these files
            else:
                results[line.custom_id] = line
    known = batches.requests_by_id(db, results)
    for custom_id, line in results.items():
        if custom_id not in known:
            kind = "foreign" if parse_id(custom_id) else "unknown"
            detail = (
                f"custom_id {custom_id!r} belongs to no batch of this database (another job's?)"
                if kind == "foreign"
                else f"custom_id {custom_id!r} is not one workbench writes"
            )
            _problem(summary, Problem(line.where, kind, detail), on_problem)
    requests = sorted(
        (known[c] for c in results if c in known and known[c].attempt_id is None),
        key=lambda r: (r.batch_id, r.paragraph_id, r.attempt_number),
    )
    summary.already += sum(1 for c in results if c in known and known[c].attempt_id is not None)
    if not requests:
        return summary
    rules_id, rules = settle_current(db)
    OFFLINE.prepare(rules)  # the meaning model, before any transaction
    recipes = {recipe.id: recipe for recipe in stored_recipes(db)}
    status = batches.statuses(db, {r.batch_id for r in requests})
    for batch_id, group in groupby(requests, key=lambda r: r.batch_id):
        lines = list(group)
        if status[batch_id] == "cancelled":
            summary.cancelled += len(lines)
            continue
        recipe = recipes[lines[0].recipe_id]
        _read_batch(db, batch_id, recipe, rules_id, rules, results, lines, summary)
    return summary


def _problem(
    summary: BatchRead, problem: Problem, on_problem: Callable[[Problem], None] | None
) -> None:
    summary.problems[problem.kind] += 1
    if on_problem:
        on_problem(problem)


def _read_batch(
    db: Database,
    batch_id: int,
    recipe: Recipe,
    rules_id: int,
    rules: Rules,
    results: dict[str, Result],
    lines: list[Request],
    summary: BatchRead,
) -> None:
    """Store one batch's lines, a paragraph a transaction, under a run of their own."""
    name = f"batch #{batch_id}"
    files = sorted({results[r.custom_id].where.rsplit(":", 1)[0] for r in lines})
    with transaction(db):
        close_dead_runs(db)
        assert recipe.id is not None
        run = start_run(db, recipe.id, rules_id, [(name, 1)], {"batch": batch_id, "files": files})
    try:
        for paragraph_id, group in groupby(lines, key=lambda r: r.paragraph_id):
            mine = list(group)
            (item,) = work_items(db, recipe, rules, [paragraph_id])
            accepted = [answer for _, answer in item.accepted]
            with transaction(db):
                if not reserved(db, batch_id, recipe.id, paragraph_id):
                    summary.cancelled += len(mine)
                    continue
                for request in mine:
                    outcome = _store(db, run, name, request, results[request.custom_id],
                                     item.text, rules, accepted)  # fmt: skip
                    summary.outcomes[outcome] += 1
                if batches.unread_of(db, batch_id, paragraph_id) == 0:
                    release_batch(db, batch_id, [paragraph_id])
                    (after,) = work_items(db, recipe, rules, [paragraph_id])
                    still = recipe.status(len(after.accepted), after.rejected)
                    summary.pending += still == Status.PENDING
        with transaction(db):
            if batches.close_if_read(db, batch_id):
                summary.finished.append(batch_id)
    except BaseException:
        end_run(db, run, RunStatus.INTERRUPTED, "stopped while reading batch results")
        raise
    end_run(db, run, RunStatus.COMPLETED, None)


def _store(
    db: Database,
    run: RunRow,
    name: str,
    request: Request,
    line: Result,
    original: str,
    rules: Rules,
    accepted: list[str],
) -> Outcome:
    """One result line as an attempt; its outcome."""
    now = utc_now()
    completion = Completion(request=json.loads(request.request), started_at=now, finished_at=now,
                            http_status=line.status, response=line.raw, server=name)  # fmt: skip
    if line.body is not None:
        parse_completion(completion, json.dumps(line.body))
    else:
        completion.error, completion.error_detail = line.error, line.detail
    if completion.failed:
        verdict = VerdictRow(Outcome.FAILED, completion.error, completion.error_detail,
                             *(None,) * 6)  # fmt: skip
        cleaned = None
    else:
        judged = judge(original, completion.answer, completion.finish_reason, rules,
                       accepted=accepted, checker=OFFLINE)  # fmt: skip
        verdict, cleaned = judged.row(run.rules_id), judged.cleaned
        if judged.rejection is None:
            accepted.append(judged.cleaned)
    attempt_id = insert_attempt(
        db,
        AttemptRow(
            request.paragraph_id, request.recipe_id, run.id, None, completion.row(),
            completion.answer, cleaned, completion.finish_reason, completion.prompt_tokens,
            completion.completion_tokens, verdict, name,
        ),
    )  # fmt: skip
    batches.mark_read(db, request.custom_id, attempt_id)
    return verdict.outcome
