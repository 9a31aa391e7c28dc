"""Export: the accepted pairs of a job as training data, shaped, streamed and written atomically.

The rows come from the `pairs` view in source order, through one SQL query that applies the
filters, and are never all held: a paragraph's few answers at a time go to the format's record
builder (workbench/formats.py) and out to the file. So memory stays flat on a million pairs.

- Filters (--source, --section, --min-words, --max-words) are SQL conditions; what they leave
  out is counted in the same pass, so the statistics can say why answers were left out.
- --dedupe keeps the first paragraph (in export order) of each text, by its words: the
  paragraphs' identity hash.
- --split puts each paragraph on the train or the val side by a seeded hash of its identity
  hash: no shuffle held in memory, a paragraph's lines always together, the same paragraph on
  the same side in every export of the same seed, however the job grows, and two copies of
  one text on the same side. Each file keeps source order.
- Files are written under temporary names beside their targets and renamed into place at the
  end, so a reader never sees half a file and a failed export leaves the previous ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from itertools import groupby
from typing import Any

from sqlite_utils import Database

from workbench.dataset.files import written
from workbench.dataset.formats import Answer, Format, Record, Wording, examples
from workbench.dataset.options import DEFAULT_SEED, ExportOptions
from workbench.dataset.selection import Selection, pairs_query, select
from workbench.dataset.statistics import ExportResult, OutputFile
from workbench.store.states import Status


def split_side(seed: int, identity: str, share: float) -> int:
    """0 (train) or 1 (val) for a paragraph: a seeded hash of its identity, read as a number
    in [0, 1), against the train share. Deterministic, and independent of every other row."""
    digest = hashlib.blake2b(f"{seed}:{identity}".encode(), digest_size=8).digest()
    return 0 if int.from_bytes(digest, "big") < share * 2**64 else 1


def _more_answers_hint(db: Database, selection: Selection, recipe_named: bool) -> str:
    """The command that gets a second answer for the paragraphs that have one."""
    if selection.all_recipes or not selection.recipes:
        return "`workbench run --recipe NAME --outputs 2` asks a recipe for a second answer"
    recipe = selection.recipes[0]
    command = "workbench run" + (f" --recipe {recipe.name}" if recipe_named else "")
    if recipe.outputs < 2:
        return f"`{command} --outputs 2` asks for a second answer"
    counts = dict(
        db.execute(
            "SELECT status, count(*) FROM paragraph_status WHERE recipe_id = ? AND accepted = 1 "
            "GROUP BY status",
            [recipe.id],
        ).fetchall()
    )
    hints = []
    if counts.get(Status.PENDING):
        hints.append(f"`{command}` works the {counts['pending']:,} pending")
    if counts.get(Status.SKIPPED):
        hints.append(
            f"`{command} --max-attempts {recipe.max_attempts + 1}` gives the "
            f"{counts['skipped']:,} skipped more tries"
        )
    return "; ".join(hints) or f"`{command}` asks for more"


def export(db: Database, options: ExportOptions) -> ExportResult:
    """Write the pairs the options select, in the format asked, and say what was written.

    Every mistake in the options is found, and raised as WorkbenchError, before any file is
    touched; the database is only read.
    """
    fmt = options.checked_format()
    selection = select(db, options)
    wording = Wording.resolve(
        options.direction,
        author=options.author,
        instruction=options.instruction,
        system=options.system,
    )
    targets = options.targets(fmt)
    seed = DEFAULT_SEED if options.seed is None else options.seed
    result = ExportResult(
        fmt,
        [OutputFile(str(t)) for t in targets] or [OutputFile("stdout")],
        split=options.split,
        seed=seed if options.split is not None else None,
    )
    if selection.recipe_ids == []:
        rows: Iterator[tuple[Any, ...]] = iter(())
    else:
        sql, params = pairs_query(selection, dedupe=options.dedupe, split=options.split is not None)
        rows = db.conn.execute(sql, params)
    with written(targets) as handles:
        writers = [fmt.writer(handle) for handle in handles]
        _write(rows, fmt, wording, options, result, writers)
    if result.too_few:
        result.hint = _more_answers_hint(db, selection, options.recipe is not None)
    return result


def _write(
    rows: Iterator[tuple[Any, ...]],
    fmt: Format,
    wording: Wording,
    options: ExportOptions,
    result: ExportResult,
    writers: list[Callable[[Record], None]],
) -> None:
    """Stream the rows, a paragraph's answers at a time, into records and out to the files."""
    written = 0
    for paragraph_id, group in groupby(rows, key=lambda row: row[0]):
        answers = list(group)
        result.answers += len(answers)
        # A paragraph's rows share its source, section and words: the same flags.
        _, _, source, section, _, _, out_source, out_section, out_words, repeated, identity = (
            answers[0]
        )
        flags = {"source": out_source, "section": out_section, "words": out_words}
        reason = next((name for name, out in flags.items() if out), None)
        reason = reason or ("dedupe" if repeated else None)
        if reason:
            result.left_out[reason] += len(answers)
            continue
        made = examples(
            fmt,
            [Answer(row[4], row[5], row[1]) for row in answers],
            direction=options.direction,
            source=options.source_label or source,
            section=section,
            paragraph_id=paragraph_id,
        )
        if not made:
            result.left_out["too_few"] += len(answers)
            result.too_few += 1
            continue
        side = 0
        if result.split is not None:
            assert result.seed is not None
            side = split_side(result.seed, identity, result.split)
        file, write = result.files[side], writers[side]
        counted = False
        for example, used in made:
            if options.limit is not None and written >= options.limit:
                result.left_out["limit"] += used
                continue
            record = fmt.build(example, wording)
            write(record)
            written += 1
            file.records += 1
            if not counted:
                file.paragraphs += 1
                counted = True
            result.measure(record)
