"""`batch write`: the pending requests of a recipe as OpenAI Batch API JSONL files.

Each line is `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`, the body
exactly what `run` sends for the paragraph (without streaming): its retry temperature and
feedback follow the last rejection, its max_tokens the rules. A paragraph that wants more
accepted answers than it has gets one line per answer still wanted (within its budget).

Files are cut under the Batch API's limits (50,000 lines, 200 MB) and each file is a batch of
its own (the API takes one file a batch). Each is written in one transaction: the batch's row,
its lines, and its paragraphs reserved, so that `run` and later batches leave them alone until
its results are read or it is cancelled. The file is written beside its final name and renamed
into place once that transaction commits; a batch stopped before leaves no trace.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from workbench.engine.batch import batches
from workbench.engine.batch.batches import Request, counted
from workbench.engine.batch.ids import RequestId, new_token
from workbench.engine.claims import START, Place, release_batch, reserve
from workbench.engine.pending import WorkItem, work_items
from workbench.engine.recipes import Recipe, plan_recipe, save_recipe
from workbench.engine.rules_change import settle_current
from workbench.engine.runs import close_dead_runs
from workbench.errors import SettingError, WorkbenchError
from workbench.judge.settings import Rules
from workbench.store.transactions import transaction

MAX_LINES = 50_000  # OpenAI's Batch API: lines a file
MAX_BYTES = 200 * 1024 * 1024  # and bytes
URL = "/v1/chat/completions"


@dataclass(frozen=True)
class Written:
    batch: int
    file: Path
    lines: int
    paragraphs: int


@dataclass
class BatchesWritten:
    recipe: Recipe
    written: list[Written] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if not self.written:
            return (
                f"Nothing to write: no pending paragraph under recipe {self.recipe.name!r} is "
                "free (see `workbench report` and `workbench batch list`)."
            )
        return "\n".join(
            f"Batch #{w.batch}: {counted(w.lines, 'request')} for "
            f"{counted(w.paragraphs, 'paragraph')} in {w.file} (recipe {self.recipe.name!r}, "
            f"{self.recipe.model})"
            for w in self.written
        )


def write_batches(
    db: Database,
    out: Path | None,
    *,
    recipe_name: str | None = None,
    model: str | None = None,
    limit: int | None = None,
    max_lines: int = MAX_LINES,
    release: bool = False,
) -> BatchesWritten:
    """Write the pending requests of a recipe (the current one unless named) to batch files:
    `out`, then `out` with -2, -3, … before its suffix; by default batch-ID.jsonl."""
    if not 1 <= max_lines <= MAX_LINES:
        raise SettingError("{max_lines} must be between 1 and {most:,}", most=MAX_LINES)
    if limit is not None and limit < 1:
        raise SettingError("{limit} must be at least 1")
    plan = plan_recipe(db, recipe_name, {"model": model} if model else {})
    if plan.stored is None and plan.recipe.model is None:
        raise WorkbenchError(
            f"recipe {plan.recipe.name!r} is new: name the model its requests ask, --model NAME"
        )
    if out is not None and out.exists():  # before anything is stored
        raise WorkbenchError(f"{out} exists: remove it, or name another file with -o")
    rules_id, rules = settle_current(db)  # the rules in force, stored if the job has none yet
    summary = BatchesWritten(plan.recipe, notes=batches.finish_files(db))
    with transaction(db):
        close_dead_runs(db)
        recipe = plan.stored or save_recipe(db, plan.recipe)
        summary.recipe = recipe
        if release:
            held = batches.outstanding(db, recipe.id)
            freed = batches.cancel(db, held)
            if held:
                summary.notes.append(
                    f"cancelled batch{'es' * (len(held) > 1)} "
                    f"{', '.join(f'#{b}' for b in held)}: {counted(freed, 'paragraph')} free again"
                )
    after, left = START, limit
    while left is None or left > 0:
        shard = len(summary.written) + 1
        written = _write_one(db, recipe, rules, rules_id, out, shard, after, left, max_lines)
        if written is None:
            break
        summary.written.append(written[0])
        after = written[1]
        if left is not None:
            left -= written[0].paragraphs
    return summary


def _target(out: Path | None, shard: int, batch_id: int) -> Path:
    if out is None:
        return Path(f"batch-{batch_id}.jsonl")
    return out if shard == 1 else out.with_name(f"{out.stem}-{shard}{out.suffix}")


def _write_one(
    db: Database,
    recipe: Recipe,
    rules: Rules,
    rules_id: int,
    out: Path | None,
    shard: int,
    after: Place,
    left: int | None,
    max_lines: int,
) -> tuple[Written, Place] | None:
    """One batch file and its batch, or None when no pending paragraph is free."""
    assert recipe.id is not None
    token = new_token()
    with transaction(db):
        batch_id = batches.new_batch(db, recipe.id, rules_id, token)
        target = _target(out, shard, batch_id)
        if target.exists():
            raise WorkbenchError(f"{target} exists: remove it, or name another file with -o")
        places = reserve(
            db, batch_id, recipe.id, after, max_lines if left is None else min(max_lines, left)
        )
        items = work_items(db, recipe, rules, [p.paragraph_id for p in places])
        lines, requests, used = _lines(db, recipe, rules, token, items, max_lines)
        unused = [p.paragraph_id for p in places if p.paragraph_id not in used]
        release_batch(db, batch_id, unused)  # past the file's limits: for the next one
        if not requests:
            batches.drop_batch(db, batch_id)
            return None
        batches.name_file(db, batch_id, target)
        batches.add_requests(db, batch_id, requests)
        part = target.with_name(target.name + ".part")
        try:
            part.write_text("".join(lines), encoding="utf-8")
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    part.replace(target)  # committed: the file takes its name
    last = max(p for p in places if p.paragraph_id in used)
    return Written(batch_id, target, len(requests), len(used)), last


def _lines(
    db: Database,
    recipe: Recipe,
    rules: Rules,
    token: str,
    items: Sequence[WorkItem],
    max_lines: int,
) -> tuple[list[str], list[Request], set[int]]:
    """The file's lines for these paragraphs, in order, until a limit would be passed; with
    the rows that record them and the paragraphs they ask for."""
    assert recipe.id is not None
    numbers = _last_numbers(db, recipe, [item.paragraph_id for item in items])
    lines: list[str] = []
    requests: list[Request] = []
    used: set[int] = set()
    size, rng = 0, random.Random()
    for item in items:
        wanted = min(recipe.outputs - len(item.accepted),
                     recipe.budget - len(item.accepted) - item.rejected)  # fmt: skip
        bodies = [
            recipe.request_body(
                item.text, item.word_count, max_ratio=rules.max_ratio, previous=item.previous,
                rng=rng,
            )
            for _ in range(max(wanted, 0))
        ]  # fmt: skip
        texts = []
        for n, body in enumerate(bodies, start=1):
            number = numbers.get(item.paragraph_id, 0) + n
            custom_id = str(RequestId(token, item.paragraph_id, recipe.id, number))
            texts.append((custom_id, number, body, _line(custom_id, body)))
        grown = size + sum(len(t[3].encode("utf-8")) for t in texts)
        if not texts or len(lines) + len(texts) > max_lines or grown > MAX_BYTES:
            if not texts:
                continue
            break
        size = grown
        used.add(item.paragraph_id)
        for custom_id, number, body, line in texts:
            lines.append(line)
            requests.append(Request(custom_id, 0, item.paragraph_id, recipe.id, number,
                                    json.dumps(body, ensure_ascii=False), None))  # fmt: skip
    return lines, requests, used


def _line(custom_id: str, body: dict[str, Any]) -> str:
    line = {"custom_id": custom_id, "method": "POST", "url": URL, "body": body}
    return json.dumps(line, ensure_ascii=False) + "\n"


def _last_numbers(db: Database, recipe: Recipe, ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            db.execute(
                "SELECT paragraph_id, last_attempt_number FROM progress WHERE recipe_id = ? "
                f"AND paragraph_id IN ({', '.join('?' * len(chunk))})",
                [recipe.id, *chunk],
            ).fetchall()
        )
    return found
