"""Export: the accepted pairs of a job as training data, shaped, streamed and written atomically.

The rows come from the `pairs` view in source order, through one SQL query that applies the
filters, and are never all held: a paragraph's few answers at a time go to the format's record
builder (dataset/formats.py) and out to the file. So memory stays flat on a million pairs.

- Filters (--source, --section, --min-words, --max-words) are SQL conditions; what they leave
  out is counted in the same pass, so the statistics can say why answers were left out.
- --dedupe keeps the first paragraph (in export order) of each text, by its words: the
  paragraphs' identity hash.
- --split is exact: round(F × N) of the N paragraphs written (or sections, --split-by section)
  go to train, chosen by a seeded hash (dataset/split.py). Counting them needs a first pass over
  the same rows without their texts, through the same plan of what is written, so both passes
  agree; both read one snapshot of the database. Each file keeps source order.
- Varied instructions: each paragraph gets the instruction and system message its seeded hash
  picks (dataset/wording.py).
- Files are written under temporary names beside their targets and renamed into place at the
  end, so a reader never sees half a file and a failed export leaves the previous ones. With
  -o DIR/ the dataset card (dataset/card.py) is written with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlite_utils import Database

from workbench.dataset.card import card_text
from workbench.dataset.files import written
from workbench.dataset.formats import Answer, Format, Record, example_uses, examples
from workbench.dataset.options import DEFAULT_SEED, TRAIN, VALIDATION, Checked, ExportOptions
from workbench.dataset.selection import Selection, pairs_query, select
from workbench.dataset.split import SECTION, Cut, Units, section_identity, split_key
from workbench.dataset.statistics import ExportResult, OutputFile
from workbench.store.states import Status


@dataclass(frozen=True)
class Planned:
    """One paragraph of the rows, and what the export does with it."""

    paragraph_id: int
    rows: list[tuple[Any, ...]]  # its accepted answers
    identity: str | None  # the hash of its words (when the query was asked for it)
    unit: str | None  # what the split keeps whole: its identity, or its section
    left_out: str | None  # why all its answers are left out (a key of LEFT_OUT)
    examples: int  # its examples written (before --limit ran out)
    past_limit: int  # answers of its examples past --limit


def _plan(
    rows: Iterator[tuple[Any, ...]], fmt: Format, options: ExportOptions
) -> Iterator[Planned]:
    """Each paragraph of the rows with what is written of it: the one decision both passes of
    a split read, so they agree on every paragraph."""
    written = 0
    for paragraph_id, group in groupby(rows, key=lambda row: row[0]):
        answers = list(group)
        # A paragraph's rows share its source, section and words: the same flags.
        _, _, source, _, _, _, out_source, out_section, out_words, repeated, identity, position = (
            answers[0]
        )
        flags = {"source": out_source, "section": out_section, "words": out_words}
        reason = next((name for name, out in flags.items() if out), None)
        reason = reason or ("dedupe" if repeated else None)
        uses = [] if reason else example_uses(fmt, len(answers))
        if not reason and not uses:
            reason = "too_few"
        room = len(uses)
        if options.limit is not None:
            room = max(0, min(room, options.limit - written))
        written += room
        unit = section_identity(source, position) if options.unit == SECTION else identity
        yield Planned(paragraph_id, answers, identity, unit, reason, room, sum(uses[room:]))


def _rows(
    db: Database, selection: Selection, options: ExportOptions, checked: Checked, *, texts: bool
) -> Iterator[tuple[Any, ...]]:
    if selection.recipe_ids == []:
        return iter(())
    sql, params = pairs_query(
        selection,
        dedupe=options.dedupe,
        identity=options.split is not None or checked.wordings.varied,
        section_position=options.unit == SECTION,
        texts=texts,
    )
    return db.conn.execute(sql, params)


@contextmanager
def _snapshot(db: Database) -> Iterator[None]:
    """One read transaction: the passes of an export, and its card, see the same database
    even while a run writes to it."""
    if db.conn.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        if bool(db.conn.in_transaction):  # an error inside may have ended it already
            db.execute("COMMIT")  # nothing was written: this ends the read


def _cut(db: Database, selection: Selection, options: ExportOptions, checked: Checked) -> Cut:
    """The first pass of a split: every unit written, counted, and the seeded order cut."""
    assert options.split is not None
    units = Units(DEFAULT_SEED if options.seed is None else options.seed)
    rows = _rows(db, selection, options, checked, texts=False)
    try:
        for planned in _plan(rows, checked.format, options):
            if planned.examples:
                assert planned.unit is not None
                units.add(planned.unit)
        return units.cut(options.split)
    finally:
        units.close()


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


def export(db: Database, options: ExportOptions, checked: Checked | None = None) -> ExportResult:
    """Write the pairs the options select, in the format asked, and say what was written.

    Every mistake in the options is found, and raised as WorkbenchError, before any file is
    touched; the database is only read. `checked` is the options already checked, when the
    caller checked them before opening the database.
    """
    checked = checked or options.checked()
    fmt, targets = checked.format, checked.targets
    selection = select(db, options)
    seed = DEFAULT_SEED if options.seed is None else options.seed
    result = ExportResult(
        fmt,
        [OutputFile(str(t)) for t in targets.files] or [OutputFile("stdout")],
        split=options.split,
        seed=seed if options.split is not None else None,
        unit=options.unit,
        wordings=checked.wordings,
        tokenizer=checked.tokenizer,
        card=str(targets.card) if targets.card else None,
    )
    with _snapshot(db):
        if options.split is not None:
            result.cut = _cut(db, selection, options, checked)
        rows = _rows(db, selection, options, checked, texts=True)
        card = [targets.card] if targets.card else []
        with written([*targets.files, *card], targets.folder) as handles:
            writers = [fmt.writer(handle) for handle in handles[: len(targets.files) or 1]]
            _write(_plan(rows, fmt, options), checked, options, result, writers)
            result.count_tokens()
            if result.too_few:
                result.hint = _more_answers_hint(db, selection, options.recipe is not None)
            if targets.card:
                handles[-1].write(card_text(db, options, checked, selection, result))
    if targets.folder is not None:
        result.stale = [
            str(path)
            for path in sorted(targets.folder.iterdir())
            if path.stem in (TRAIN, VALIDATION) and path not in targets.files
        ]
    return result


def _write(
    plan: Iterator[Planned],
    checked: Checked,
    options: ExportOptions,
    result: ExportResult,
    writers: list[Callable[[Record], None]],
) -> None:
    """Stream the paragraphs, their answers at a time, into records and out to the files."""
    fmt, wordings = checked.format, checked.wordings
    for planned in plan:
        result.answers += len(planned.rows)
        if planned.left_out:
            result.left_out[planned.left_out] += len(planned.rows)
            result.too_few += planned.left_out == "too_few"
            continue
        result.left_out["limit"] += planned.past_limit
        if not planned.examples:
            continue
        _, _, source, section, *_ = planned.rows[0]
        made = examples(
            fmt,
            [Answer(row[4], row[5], row[1]) for row in planned.rows],
            direction=options.direction,
            source=options.source_label or source,
            section=section,
            paragraph_id=planned.paragraph_id,
        )[: planned.examples]
        side = 0
        if result.cut is not None:
            assert planned.unit is not None and result.seed is not None
            side = result.cut.side(split_key(result.seed, planned.unit), planned.unit)
        choice = (0, 0)
        if wordings.varied:
            assert planned.identity is not None
            choice = wordings.choose(planned.identity)
        wording = wordings.wording(choice)
        file, write = result.files[side], writers[side]
        file.paragraphs += 1
        for example, _ in made:
            record = fmt.build(example, wording)
            write(record)
            file.records += 1
            result.instructions_used[choice[0]] += 1
            result.systems_used[choice[1]] += 1
            result.measure(record)
