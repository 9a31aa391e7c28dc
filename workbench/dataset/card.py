"""The dataset card: DIR/README.md, read by the Hugging Face Hub, `datasets`, and people.

Its YAML front matter is what the Hub and `load_dataset(DIR)` read: `configs` with the file of
each split, `license`, `language`, `size_categories`, `task_categories`. Its body says how the
data was made, from the database the export read (one snapshot): the sources, each recipe
(model, prompts, temperature), the rules version in force and its thresholds, what is known of
those rules' fidelity, the counts (paragraphs, answers rejected by reason, reviewed by hand,
records written and left out), the instructions used, the lengths, and the command that made
it. Nothing in it depends on the clock or the machine: exporting an unchanged job again writes
the same card. Local paths (of sources, of the database) are left out; files are named.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlite_utils import Database

from workbench import __version__
from workbench.dataset.files import CARD_MARK
from workbench.dataset.formats import DEFAULT_AUTHOR, FORWARD
from workbench.dataset.frontmatter import Value, front_matter
from workbench.dataset.hub import NO_LICENSE, TASK_CATEGORIES, size_category
from workbench.dataset.options import Checked, ExportOptions
from workbench.dataset.selection import Selection
from workbench.dataset.split import UNIT_WORDS
from workbench.dataset.statistics import CHARS_PER_TOKEN, LEFT_OUT, ExportResult
from workbench.engine.recipes import Recipe, describe_max_tokens, describe_retry, stored_recipes
from workbench.judge.fidelity import measured
from workbench.judge.versions import format_rules, job_rules
from workbench.review.report import Report, report

TAGS = ("workbench", "style-transfer", "paraphrase", "synthetic")


def card_text(
    db: Database,
    options: ExportOptions,
    checked: Checked,
    selection: Selection,
    result: ExportResult,
) -> str:
    """The whole card: front matter, then the body."""
    recipes = selection.recipes or ([] if not selection.all_recipes else stored_recipes(db))
    reports = [report(db, recipe.name, skipped=0) for recipe in recipes]
    sources = _sources(db, selection.source_ids)
    title = _title(options, [name for name, *_ in sources])
    metadata: dict[str, Value] = {
        "pretty_name": title,
        "license": checked.license,
        "language": list(checked.languages),
        "size_categories": [size_category(result.records)],
        "task_categories": list(TASK_CATEGORIES),
        "tags": list(TAGS),
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": split, "path": path.name}
                    for split, path in zip(
                        checked.targets.splits, checked.targets.files, strict=True
                    )
                ],
            }
        ],
    }
    sections = [
        f"# {_escape(title)}",
        _about(options, checked, result),
        _files(checked, result),
        _sources_section(sources),
        *[_recipe_section(recipe, found) for recipe, found in zip(recipes, reports, strict=True)],
        _rules_section(db),
        _counts_section(reports, result),
        _wording_section(checked, result),
        _lengths_section(result),
        "## The command that made it\n\n"
        + _fenced(options.command(_db_name(db)), "console", prompt="$ "),
    ]
    return front_matter(metadata, CARD_MARK[2:]) + "\n" + "\n\n".join(sections) + "\n"


# --- Markdown, safely ----------------------------------------------------------------------------


def _escape(text: str) -> str:
    """Text for a Markdown line or table cell: no HTML, no table break, one line."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.replace("|", "\\|").split())


def _code(text: str) -> str:
    """Text as an inline code span, on one line, whatever backticks it holds."""
    text = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fenced(text: str, info: str = "text", prompt: str = "") -> str:
    """A fenced code block holding `text` as it is: its fence is longer than any run of
    backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{prompt}{text}\n{fence}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --- what the database says ----------------------------------------------------------------------


def _db_name(db: Database) -> str:
    """The database's file name (its folder is the user's business, not the card's)."""
    for _, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and path:
            return str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return "workbench.db"


def _sources(db: Database, source_ids: list[int] | None) -> list[tuple[str, str, int, str]]:
    """(name, format, paragraphs, sha256) of the sources exported, in the order ingested."""
    return [
        (name, fmt, count, sha256)
        for source_id, name, fmt, count, sha256 in db.execute(
            "SELECT id, name, format, paragraph_count, sha256 FROM sources ORDER BY id"
        )
        if source_ids is None or source_id in source_ids
    ]


def _title(options: ExportOptions, names: list[str]) -> str:
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    title = f"Pairs from {shown or 'no source yet'}"
    if options.author != DEFAULT_AUTHOR:
        title = f"In the style of {options.author}: {title[0].lower()}{title[1:]}"
    return title


# --- the sections ----------------------------------------------------------------------------


def _about(options: ExportOptions, checked: Checked, result: ExportResult) -> str:
    fmt = checked.format
    if fmt.name == "text":
        shape = "Each record is a paragraph of the sources, for continued pretraining."
    elif fmt.name == "dpo":
        shape = (
            "Each record is a preference pair: the prompt holds a paraphrase that a language "
            "model wrote of a paragraph, `chosen` is the author's paragraph and `rejected` "
            "another paraphrase of it."
        )
    elif options.direction == FORWARD:
        shape = (
            "Each record pairs a paraphrase that a language model wrote of a paragraph (the "
            "prompt) with the author's own paragraph (the answer): tuned on them, a model learns "
            "to rewrite plain text in the author's style."
        )
    else:
        shape = (
            "Each record pairs an author's paragraph (the prompt) with a paraphrase that a "
            "language model wrote of it (the answer): tuned on them, a model learns to write "
            "plainly."
        )
    licence = (
        f"Licence: {_code(checked.license)}."
        if checked.license != NO_LICENSE
        else "Licence: not given (`--license`); the sources' own terms apply."
    )
    return (
        f"{shape} Made with workbench {__version__}, which keeps only the answers its rules "
        f"accept. {licence}"
    )


def _files(checked: Checked, result: ExportResult) -> str:
    fmt = checked.format
    rows = [
        [split, f"`{path.name}`", f"{file.records:,}", f"{file.paragraphs:,}"]
        for split, path, file in zip(
            checked.targets.splits, checked.targets.files, result.files, strict=True
        )
    ]
    text = [
        "## Files",
        _table(["split", "file", fmt.unit[1], "paragraphs"], rows),
        f"Format `{fmt.name}`: for {_escape(fmt.trainers)}.",
    ]
    if result.cut is not None and result.split is not None:
        one, many = UNIT_WORDS[result.unit]
        written = sum(f.paragraphs for f in result.files)
        copies = ""
        if result.unit == "paragraph" and result.cut.units != written:
            many = "distinct paragraphs"
            copies = f" (the {written:,} written less repeats: a paragraph's copies go together)"
        text.append(
            f"The split is exact and by {one}: {result.cut.train:,} of the {result.cut.units:,} "
            f"{many} written{copies} are in train, round({result.split:g} × "
            f"{result.cut.units:,}) rounded half up, chosen by a hash seeded with {result.seed}; "
            f"a {one}'s records are all on one side, each file in source order."
        )
    folder = checked.targets.folder.name if checked.targets.folder else "FOLDER"
    load = (
        "from datasets import load_dataset\n\n"
        f"data = load_dataset({json.dumps(folder)})  # this folder; or USER/NAME on the Hub"
    )
    text.append("Load it with `datasets`:\n\n" + _fenced(load, "python"))
    return "\n\n".join(text)


def _sources_section(sources: list[tuple[str, str, int, str]]) -> str:
    rows = [[_escape(name), fmt, f"{count:,}", f"`{sha}`"] for name, fmt, count, sha in sources]
    return "## Sources\n\n" + _table(["file", "format", "paragraphs", "sha256 of the file"], rows)


def _recipe_section(recipe: Recipe, found: Report) -> str:
    models = sorted({run.model for run in found.runs}) or [recipe.model or "(none yet)"]
    facts = [
        ["model", ", ".join(_code(m).replace("|", "\\|") for m in models)],
        ["temperature", f"{recipe.temperature:g}"],
        ["retry temperature", describe_retry(recipe.retry_temperature)],
        ["max tokens", describe_max_tokens(recipe.max_tokens)],
        ["feedback after a rejection", "on" if recipe.feedback else "off"],
        ["accepted answers wanted a paragraph", str(recipe.outputs)],
        ["answers allowed per wanted answer", str(recipe.max_attempts)],
        ["runs", _runs(found)],
    ]
    return "\n\n".join(
        [
            f"## Recipe `{_escape(recipe.name)}`: how the paraphrases were asked for",
            _table(["setting", "value"], facts),
            "System prompt:",
            _fenced(recipe.system_prompt),
            "User message (`{text}` is the paragraph):",
            _fenced(recipe.user_template),
        ]
    )


def _runs(found: Report, shown: int = 5) -> str:
    runs = [f"#{r.id} ({r.status}, {r.attempts:,} attempts)" for r in found.runs]
    more = len(runs) - shown
    return ", ".join(runs[:shown]) + (f" and {more:,} more" if more > 0 else "") or "none"


def _rules_section(db: Database) -> str:
    version = job_rules(db)
    figures = measured(version.rules)
    if figures:
        fidelity = "\n".join(
            f"- precision {m.precision:.2f} (good answers among those accepted), recall "
            f"{m.recall:.2f} (good answers kept): {_escape(m.data)}"
            + ("" if m.held_out else "; the threshold was chosen on this data, so it flatters")
            for m in figures
        )
    else:
        fidelity = (
            "Not measured: these rules differ from the defaults that were measured against "
            "answers labelled by hand, so how far their verdicts agree with a reader's is not "
            "known."
        )
    return "\n\n".join(
        [
            "## How the answers were judged",
            "Every answer was judged by these rules (the version in force when exported); only "
            "accepted answers are in the files.",
            _fenced(format_rules(version)),
            "Measured fidelity of these rules, against answers labelled by hand:",
            fidelity,
        ]
    )


def _reviewed(found: Report) -> str:
    """The answers a person reviewed, and how often the rules agreed with them."""
    r = found.reviews
    if not r.reviewed:
        return "none (every verdict is the rules')"
    return (
        f"{r.reviewed:,} answers ({r.accepted:,} accepted, of which {r.repaired:,} repaired, "
        f"{r.rejected:,} rejected); the rules agreed on {r.agreed:,} and were overruled on "
        f"{r.overruled:,}"
    )


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else _escape(str(value))


def _counts_section(reports: list[Report], result: ExportResult) -> str:
    parts = ["## Counts"]
    for found in reports:
        p, a = found.paragraphs, found.attempts
        rows = [
            ["paragraphs in the sources", f"{p.total:,}"],
            ["too short to send", f"{p.filtered:,}"],
            ["succeeded (have the accepted answers wanted)", f"{p.succeeded:,}"],
            ["skipped (out of attempts)", f"{p.skipped:,}"],
            ["pending", f"{p.pending:,}"],
            ["answers", f"{a.total:,}"],
            ["accepted", f"{a.accepted:,}"],
            ["rejected by the rules", f"{a.rejected:,}"],
            ["failed (no usable answer)", f"{a.failed:,}"],
            ["reviewed by hand", _reviewed(found)],
        ]
        parts.append(f"Recipe `{found.recipe}`:\n\n" + _table(["", "count"], rows))
        if found.rejection_reasons:
            parts.append(
                "Answers rejected, by rule:\n\n"
                + _table(
                    ["rule", "answers"],
                    [[f"`{code}`", f"{n:,}"] for code, n in found.rejection_reasons.items()],
                )
            )
    left = [
        [_escape(label), f"{result.left_out[key]:,}"]
        for key, label in LEFT_OUT.items()
        if result.left_out[key]
    ]
    written = (
        f"This export: {result.format.records(result.records)} from {result.answers:,} "
        "accepted answers"
    )
    parts.append(written + ("; left out:\n\n" + _table(["why", "answers"], left) if left else "."))
    return "\n\n".join(parts)


def _wording_section(checked: Checked, result: ExportResult) -> str:
    fmt, wordings = checked.format, checked.wordings
    if fmt.no_instruction and fmt.no_system:
        reason = _escape(fmt.no_instruction)
        return f"## Wording\n\n`{fmt.name}` records carry no instruction: {reason}."
    parts = ["## Wording"]
    if wordings.varied:
        parts.append(
            "Each paragraph's records carry the instruction and system message that a hash of "
            f"the paragraph seeded with {wordings.seed} picks; re-exports with the same seed agree."
        )
    for name, values, used, no in (
        ("Instruction", wordings.instructions, result.instructions_used, fmt.no_instruction),
        ("System message", wordings.systems, result.systems_used, fmt.no_system),
    ):
        if no:
            continue
        rows = [[_escape(v) if v else "(none)", f"{used[i]:,}"] for i, v in enumerate(values)]
        parts.append(_table([name, "records"], rows))
    return "\n\n".join(parts)


def _lengths_section(result: ExportResult) -> str:
    if not result.records:
        return "## Lengths\n\nNo records."
    rows = [
        [label, f"{h.min():,}", f"{h.median():,g}", f"{h.max():,}", f"{h.sum():,}"]
        for label, h in result.measures()
    ]
    note = f"≈tokens: characters / {CHARS_PER_TOKEN}, an estimate"
    if result.tokenizer is not None:
        note += f"; tokens: by `{_escape(result.tokenizer.name)}`, special tokens left out"
    note += ". The prompt is all the model reads before its turn, system message included."
    return "## Lengths\n\n" + _table(["", "min", "median", "max", "total"], rows) + "\n\n" + note
