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
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

from sqlite_utils import Database

from workbench.errors import WorkbenchError
from workbench.dataset.formats import (
    BACKWARD,
    DEFAULT_AUTHOR,
    DIRECTIONS,
    FORMATS,
    FORWARD,
    Answer,
    Format,
    Record,
    Wording,
    examples,
)
from workbench.engine.recipes import Recipe, named_recipe, stored_recipes

DEFAULT_FORMAT = "notebook"
DEFAULT_OUTPUT = "output"  # + the format's extension: output.jsonl, output.csv
DEFAULT_SEED = 0
ALL_RECIPES = "all"
STDOUT = "-"
# The token estimate of the statistics: OpenAI's rule of thumb for English, a token is about
# four characters. No tokenizer ships with workbench, and the tokens of the model to be tuned
# are not known here; it is printed as an estimate.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class ExportOptions:
    """What `workbench export` was asked for. None means "not given": the default applies."""

    output: str | None = None  # a file, "-" for stdout; None: output + the format's extension
    format: str = DEFAULT_FORMAT
    recipe: str | None = None  # None: the current recipe; "all": every recipe
    direction: str = FORWARD
    author: str = DEFAULT_AUTHOR
    instruction: str | None = None
    system: str | None = None
    source_label: str | None = None  # metadata.source of every record
    sources: tuple[str, ...] = ()  # keep these sources (names or paths)
    sections: tuple[str, ...] = ()  # keep these sections (titles)
    min_words: int | None = None  # of the original
    max_words: int | None = None
    limit: int | None = None  # records
    dedupe: bool = False
    split: float | None = None  # the share of paragraphs in the train file
    seed: int | None = None

    def checked_format(self) -> Format:
        """The format, once every option that needs no database has been checked; raises
        WorkbenchError with one line otherwise, before anything is read or written."""
        fmt = FORMATS.get(self.format)
        if fmt is None:
            raise WorkbenchError(
                f"--format {self.format} is not a format; choose one of: {', '.join(FORMATS)}"
            )
        if self.direction not in DIRECTIONS:
            raise WorkbenchError(
                f"--direction {self.direction} is not a direction; choose {FORWARD} or {BACKWARD}"
            )
        for given, option, reason in (
            (self.direction == BACKWARD, f"--direction {BACKWARD}", fmt.no_reverse),
            (self.instruction is not None, "--instruction", fmt.no_instruction),
            (self.system is not None, "--system", fmt.no_system),
        ):
            if given and reason:
                raise WorkbenchError(f"{option} does not apply to --format {fmt.name}: {reason}")
        for name, value in (("--min-words", self.min_words), ("--max-words", self.max_words)):
            if value is not None and value < 0:
                raise WorkbenchError(f"{name} must be 0 or more")
        if (
            self.min_words is not None
            and self.max_words is not None
            and self.min_words > self.max_words
        ):
            raise WorkbenchError(
                f"--min-words {self.min_words} is more than --max-words {self.max_words}: "
                "no paragraph could pass"
            )
        if self.limit is not None and self.limit < 1:
            raise WorkbenchError("--limit must be 1 or more")
        if self.split is not None:
            if not 0 < self.split < 1:
                raise WorkbenchError(
                    f"--split {self.split:g} must be between 0 and 1: the share of paragraphs "
                    "in the train file, e.g. 0.9"
                )
            if self.output == STDOUT:
                raise WorkbenchError(
                    f"--split writes two files, NAME.train{fmt.extension} and "
                    f"NAME.val{fmt.extension}: give -o NAME{fmt.extension}, not -o -"
                )
        elif self.seed is not None:
            raise WorkbenchError("--seed chooses the --split: give --split too")
        return fmt

    def targets(self, fmt: Format) -> list[Path]:
        """The files to write: one, or train and val beside -o; none for stdout."""
        output = self.output or DEFAULT_OUTPUT + fmt.extension
        if output == STDOUT:
            return []
        path = Path(output)
        if self.split is None:
            return [path]
        suffix = path.suffix or fmt.extension
        stem = path.stem if path.suffix else path.name
        return [path.with_name(f"{stem}.train{suffix}"), path.with_name(f"{stem}.val{suffix}")]


# --- results -------------------------------------------------------------------------------


class Histogram:
    """Counts per value: exact min, median and max in memory bounded by the distinct values
    (word and token counts of paragraphs: a few thousand), however many records."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.total = 0

    def add(self, value: int) -> None:
        self.counts[value] += 1
        self.total += 1

    def min(self) -> int:
        return min(self.counts)

    def max(self) -> int:
        return max(self.counts)

    def median(self) -> float:
        """The middle value, or the mean of the two middle ones."""
        low_rank, high_rank = (self.total - 1) // 2, self.total // 2
        low = high = None
        seen = 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if low is None and seen > low_rank:
                low = value
            if seen > high_rank:
                high = value
                break
        assert low is not None and high is not None
        return (low + high) / 2


@dataclass
class OutputFile:
    name: str  # as given, or "stdout"
    records: int = 0
    paragraphs: int = 0


LEFT_OUT = {  # why answers were left out, in the order the statistics say it
    "source": "not in --source",
    "section": "not in --section",
    "words": "outside --min-words/--max-words",
    "dedupe": "repeated originals (--dedupe)",
    "too_few": "alone in their paragraph (dpo needs two)",
    "limit": "past --limit",
}


@dataclass
class ExportResult:
    """What an export wrote and left out, for the lines the command prints."""

    format: Format
    files: list[OutputFile]
    split: float | None = None
    seed: int | None = None
    answers: int = 0  # accepted answers read (the pairs of the recipes exported)
    left_out: Counter[str] = field(default_factory=Counter)
    too_few: int = 0  # paragraphs with a single answer (dpo)
    hint: str = ""  # how to get more answers, when dpo had too few
    prompt_words: Histogram = field(default_factory=Histogram)
    prompt_tokens: Histogram = field(default_factory=Histogram)
    target_words: Histogram = field(default_factory=Histogram)
    target_tokens: Histogram = field(default_factory=Histogram)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    def measure(self, record: Record) -> None:
        if self.format.has_prompt:
            self.prompt_words.add(len(record.prompt.split()))
            self.prompt_tokens.add(estimate_tokens(record.prompt))
        self.target_words.add(len(record.target.split()))
        self.target_tokens.add(estimate_tokens(record.target))

    def wrote(self) -> str:
        """The one line of the result: "Wrote 3 pairs to out.jsonl"."""
        fmt, files = self.format, self.files
        if files[0].name == "stdout":
            return f"Wrote {fmt.records(files[0].records)}"
        if len(files) == 1:
            return f"Wrote {fmt.records(files[0].records)} to {files[0].name}"
        train, val = files
        return (
            f"Wrote {fmt.records(train.records)} to {train.name} and {val.records:,} to {val.name}"
        )

    def statistics(self) -> list[str]:
        """Records per file, the lengths of prompts and targets, and what was left out."""
        measures = [
            ("prompt words", self.prompt_words),
            ("prompt ≈tokens", self.prompt_tokens),
            ("target words", self.target_words),
            ("target ≈tokens", self.target_tokens),
        ][0 if self.format.has_prompt else 2 :]
        width = max(len(label) for label, _ in measures + [(f.name, None) for f in self.files])
        lines = [f"  {'':<{width}} {'records':>8} {'paragraphs':>11}"]
        lines.extend(f"  {f.name:<{width}} {f.records:>8,} {f.paragraphs:>11,}" for f in self.files)
        if self.split is not None:
            lines.append(f"  (--split {self.split:g} --seed {self.seed}: by paragraph)")
        if self.records:
            lines.append(f"  {'':<{width}} {'min':>8} {'median':>11} {'max':>8}")
            lines.extend(
                f"  {label:<{width}} {h.min():>8,} {h.median():>11,g} {h.max():>8,}"
                for label, h in measures
            )
            lines.append(f"  (≈tokens: characters / {CHARS_PER_TOKEN}, an estimate; no tokenizer)")
        left = sum(self.left_out.values())
        if left:
            lines.append(
                f"Left out {left:,} of {self.answers:,} accepted answers: "
                + ", ".join(
                    f"{self.left_out[key]:,} {label}"
                    for key, label in LEFT_OUT.items()
                    if self.left_out[key]
                )
            )
        if self.too_few:
            lines.append(
                f"{self.too_few:,} paragraph{'s' * (self.too_few != 1)} had one accepted answer, "
                f"too few for a preference pair: {self.hint}"
            )
        if len(self.files) == 2 and self.records:
            for empty, full in (self.files, self.files[::-1]):
                if not empty.records:
                    lines.append(
                        f"Warning: {empty.name} is empty: --split {self.split:g} put all "
                        f"{full.paragraphs:,} paragraphs in {full.name}"
                    )
        return lines


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)  # rounded up: a short word is still a token


# --- the query -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The rows to read, resolved against the database: recipes, sources, sections, words."""

    recipes: list[Recipe]  # empty with "all" or before any run
    all_recipes: bool
    source_ids: list[int] | None  # None: every source
    section_ids: list[int] | None
    min_words: int | None
    max_words: int | None

    def filters(self, prefix: str = "") -> list[tuple[str, list[Any]]]:
        """The filters as SQL conditions with their parameters, on columns named as in the
        pairs view (and paragraphs) after `prefix`, in the order the statistics tell apart
        the answers they leave out: source, section, words."""
        filters: list[tuple[str, list[Any]]] = []
        for ids, column in ((self.source_ids, "source_id"), (self.section_ids, "section_id")):
            if ids is None:
                filters.append(("1", []))
            else:  # coalesce: a paragraph in no section is not in any section asked for
                filters.append((f"coalesce({prefix}{column} IN ({_marks(ids)}), 0)", list(ids)))
        words, params = ["1"], []
        if self.min_words is not None:
            words.append(f"{prefix}word_count >= ?")
            params.append(self.min_words)
        if self.max_words is not None:
            words.append(f"{prefix}word_count <= ?")
            params.append(self.max_words)
        filters.append((" AND ".join(words), params))
        return filters

    @property
    def recipe_ids(self) -> list[int] | None:
        """The recipes' ids, or None for every recipe."""
        return None if self.all_recipes else [r.id for r in self.recipes if r.id is not None]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _select(db: Database, options: ExportOptions) -> Selection:
    all_recipes = options.recipe == ALL_RECIPES
    if all_recipes:
        recipes: list[Recipe] = []
    elif options.recipe is None and not stored_recipes(db):
        recipes = []  # no run yet: no pairs, and no recipe to name
    else:
        recipes = [named_recipe(db, options.recipe)]
    source_ids = _source_ids(db, options.sources) if options.sources else None
    section_ids = _section_ids(db, options.sections) if options.sections else None
    return Selection(
        recipes, all_recipes, source_ids, section_ids, options.min_words, options.max_words
    )


def _some(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names):,} in all)" if len(names) > limit else "")


def _source_ids(db: Database, wanted: Sequence[str]) -> list[int]:
    """The sources named: by file name, or by path."""
    sources = db.execute("SELECT id, name, path FROM sources ORDER BY id").fetchall()
    ids: list[int] = []
    for name in wanted:
        path = str(Path(name).expanduser().resolve())
        matched = [sid for sid, sname, spath in sources if name in (sname, spath) or path == spath]
        if not matched:
            raise WorkbenchError(
                f"no source {name!r} in this job; it has: "
                + (_some([sname for _, sname, _ in sources]) or "none")
            )
        ids.extend(sid for sid in matched if sid not in ids)
    return ids


def _title_key(title: str) -> str:
    return " ".join(title.split()).casefold().rstrip(".")


def _title_keys(title: str) -> set[str]:
    """What a --section matches a heading by, ignoring case and a final full stop: its whole
    title, or its label before the first full stop ("CHAPTER I" for "CHAPTER I. THE PERIOD")."""
    return {_title_key(title), _title_key(title.split(". ")[0])}


def _section_ids(db: Database, wanted: Sequence[str]) -> list[int]:
    sections = db.execute("SELECT id, title FROM sections ORDER BY source_id, position").fetchall()
    ids: list[int] = []
    for title in wanted:
        matched = [sid for sid, stitle in sections if _title_key(title) in _title_keys(stitle)]
        if not matched:
            if not sections:
                raise WorkbenchError(
                    f"no section {title!r} in this job: its sources have no headings"
                )
            raise WorkbenchError(
                f"no section {title!r} in this job; it has: "
                + _some(list(dict.fromkeys(stitle for _, stitle in sections)), 5)
            )
        ids.extend(sid for sid in matched if sid not in ids)
    return ids


def _query(selection: Selection, *, dedupe: bool, split: bool) -> tuple[str, list[Any]]:
    """One pass over the pairs of the recipes exported, in source order: for each, the texts
    when every filter keeps it, and which filters leave it out; whether its original repeats
    an earlier paragraph's (--dedupe); its paragraph's identity hash (--split)."""
    filters = selection.filters()
    kept = " AND ".join(f"({condition})" for condition, _ in filters)
    kept_params = [p for _, params in filters for p in params]
    recipe_ids = selection.recipe_ids
    where = f"WHERE recipe_id IN ({_marks(recipe_ids)})" if recipe_ids is not None else ""
    recipe_params = recipe_ids or []
    with_clause, with_params, repeated = "", [], "0"
    if dedupe:
        # The first paragraph of each text (by its words: the identity hash), in export order,
        # among the paragraphs kept with a pair in this export: narrow rows, sorted by SQLite.
        has_pair = "SELECT 1 FROM progress g WHERE g.paragraph_id = p.id AND g.accepted > 0"
        if recipe_ids is not None:
            has_pair += f" AND g.recipe_id IN ({_marks(recipe_ids)})"
        paragraph_filters = selection.filters("p.")
        with_clause = f"""
            WITH firsts AS MATERIALIZED (
                SELECT p.id AS paragraph_id, first_value(p.id) OVER (
                    PARTITION BY p.sha256 ORDER BY p.source_id, p.position, p.id
                ) AS first_id
                FROM paragraphs p
                WHERE {" AND ".join(f"({c})" for c, _ in paragraph_filters)}
                    AND EXISTS ({has_pair})
            )"""
        with_params = [p for _, params in paragraph_filters for p in params] + recipe_params
        repeated = (
            "coalesce((SELECT f.first_id != pairs.paragraph_id FROM firsts f "
            "WHERE f.paragraph_id = pairs.paragraph_id), 0)"
        )
    identity = (
        "(SELECT p.sha256 FROM paragraphs p WHERE p.id = pairs.paragraph_id)" if split else "NULL"
    )
    sql = f"""{with_clause}
        SELECT paragraph_id, recipe, source, section,
            CASE WHEN {kept} THEN paraphrase END, CASE WHEN {kept} THEN original END,
            {", ".join(f"NOT ({condition})" for condition, _ in filters)}, {repeated}, {identity}
        FROM pairs {where}
        ORDER BY source_id, position, paragraph_id, recipe_id, attempt_number
    """
    return sql, [*with_params, *kept_params, *kept_params, *kept_params, *recipe_params]


# --- writing -------------------------------------------------------------------------------


@contextmanager
def _written(targets: list[Path]) -> Iterator[list[TextIO]]:
    """Handles to write the targets through, renamed into place together when the block ends
    without error; on error the temporary files go and the targets stay as they were. A target
    that is a device or a pipe is written directly, never replaced. No targets: stdout."""
    if not targets:
        yield [sys.stdout]
        sys.stdout.flush()
        return
    for target in targets:
        if target.is_dir():
            raise WorkbenchError(f"--output {target} is a folder; give a file name")
    temporaries: list[Path | None] = []  # None: a device or pipe, written as it is
    handles: list[TextIO] = []
    try:
        for target in targets:
            # newline="": the JSONL writers end lines with \n, the CSV writer with \r\n.
            try:
                if target.exists() and not target.is_file():  # /dev/stdout, a FIFO: no rename
                    handles.append(target.open("w", encoding="utf-8", newline=""))
                    temporaries.append(None)
                    continue
                fd, name = tempfile.mkstemp(
                    prefix=f".{target.name}.",
                    suffix=".tmp",
                    dir=target.parent if str(target.parent) else ".",
                )
            except OSError as e:
                raise WorkbenchError(f"cannot write {target}: {e.strerror}") from None
            temporaries.append(Path(name))
            handles.append(os.fdopen(fd, "w", encoding="utf-8", newline=""))
        yield handles
        for handle in handles:
            handle.close()
        mode = 0o666 & ~_umask()  # mkstemp makes 0600; give a file's usual mode
        for temporary, target in zip(temporaries, targets, strict=True):
            if temporary is not None:
                temporary.chmod(mode)
                temporary.replace(target)
    except BaseException:
        for handle in handles:
            handle.close()
        for temporary in temporaries:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    if counts.get("pending"):
        hints.append(f"`{command}` works the {counts['pending']:,} pending")
    if counts.get("skipped"):
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
    selection = _select(db, options)
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
        sql, params = _query(selection, dedupe=options.dedupe, split=options.split is not None)
        rows = db.conn.execute(sql, params)
    with _written(targets) as handles:
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
        side = 0 if result.split is None else split_side(result.seed, identity, result.split)
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
