"""Training-data formats: how one example becomes one record of the file a trainer reads.

Each format is a small record builder in a registry by name, declaring its file extension, the
trainers that read it, and the options it has no place for. In every format the model's turn
(assistant, completion, output, gpt, chosen) is the author's original paragraph and the
paraphrase is in the prompt; `--direction original-to-paraphrase` swaps them where a format
allows it. The notebook format is the notebook's JSONL byte for byte and takes no wording.

What a format does not do: choose, filter, order or split the examples (dataset/export.py).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TextIO

FORWARD = "paraphrase-to-original"  # the paraphrase in the prompt, the original the answer
BACKWARD = "original-to-paraphrase"  # the original in the prompt: a "plain-izer"
DIRECTIONS = (FORWARD, BACKWARD)

DEFAULT_AUTHOR = "the original author"
# Wording by direction; {author} is replaced by --author.
DEFAULT_INSTRUCTION = {
    FORWARD: "Rephrase the following text in the style of {author}.",
    BACKWARD: "Paraphrase the following text in your own words.",
}
DEFAULT_SYSTEM = {
    FORWARD: "You rewrite text in the style of {author}.",
    BACKWARD: "You paraphrase text in your own words, keeping its meaning.",
}

# Characters Python's str.splitlines() and JavaScript treat as line ends, which JSON lets stand
# unescaped: escaped, a reader that splits on them still sees one record per line.
_LINE_SEPARATORS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


@dataclass(frozen=True)
class Wording:
    """The words around one paragraph's texts: an instruction and a system message of those
    given (dataset/wording.py picks them), {author} replaced."""

    instruction: str  # put before the text in the prompt; "" for none
    system: str  # the system message; "" for none
    author: str

    def user(self, text: str) -> str:
        """The user's turn: the instruction, a blank line, the text."""
        return f"{self.instruction}\n\n{text}" if self.instruction else text

    def with_system(self, prompt: str) -> str:
        """What the model reads before its turn, for the statistics."""
        return f"{self.system}\n\n{prompt}" if self.system else prompt


@dataclass(frozen=True)
class Example:
    """One training example, its direction applied: `text` goes in the prompt and `target` is
    the model's turn. `rejected` is for preference pairs only."""

    text: str
    target: str
    source: str  # --source-label, or the source file's name
    section: str | None  # the heading above the paragraph
    paragraph_id: int
    recipe: str
    rejected: str | None = None
    paraphrase: str = ""  # the two texts as stored, whatever the direction (csv shows them)
    original: str = ""

    @property
    def metadata(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "section": self.section,
            "paragraph_id": self.paragraph_id,
            "recipe": self.recipe,
        }


@dataclass(frozen=True)
class Record:
    """One record as written (a JSON object, or a CSV row), and what the statistics measure:
    everything the model reads before its turn, and its turn."""

    fields: dict[str, Any] | list[Any]
    prompt: str
    target: str


def _json_line(fields: dict[str, Any] | list[Any]) -> str:
    line = json.dumps(fields, ensure_ascii=False)
    if "\u2028" in line or "\u2029" in line or "\x85" in line:  # rare: not worth a translate
        line = line.translate(_LINE_SEPARATORS)
    return line + "\n"


# --- the builders ------------------------------------------------------------------------------


def pair_line(paraphrase: str, original: str, *, author: str, source: str) -> str:
    """One line of the notebook's JSONL, exactly as the notebook wrote it."""
    return _notebook_line(_notebook_fields(paraphrase, original, author, source)).rstrip("\n")


def _notebook_line(fields: dict[str, Any] | list[Any]) -> str:
    return json.dumps(fields, ensure_ascii=False) + "\n"  # the notebook's bytes, untouched


def _notebook_prompt(paraphrase: str, author: str) -> str:
    return f"<human>: Rephrase the following text in the style of {author}: {paraphrase}"


def _notebook_fields(paraphrase: str, original: str, author: str, source: str) -> dict[str, Any]:
    prompt = _notebook_prompt(paraphrase, author)
    return {"text": f"{prompt}\n<bot>: {original}", "metadata": {"source": source}}


def _notebook(example: Example, wording: Wording) -> Record:
    fields = _notebook_fields(example.text, example.target, wording.author, example.source)
    return Record(fields, _notebook_prompt(example.text, wording.author), example.target)


def _messages(example: Example, wording: Wording) -> Record:
    user = wording.user(example.text)
    system = [{"role": "system", "content": wording.system}] if wording.system else []
    turns = [*system, {"role": "user", "content": user}]
    turns.append({"role": "assistant", "content": example.target})
    return Record({"messages": turns}, wording.with_system(user), example.target)


def _completion_prompt(example: Example, wording: Wording) -> str:
    # Trainers join prompt and completion as they are: the blank line keeps them apart.
    return wording.user(example.text) + "\n\n"


def _prompt_completion(example: Example, wording: Wording) -> Record:
    prompt = _completion_prompt(example, wording)
    fields = {"prompt": prompt, "completion": example.target, "metadata": example.metadata}
    return Record(fields, prompt, example.target)


def _alpaca(example: Example, wording: Wording) -> Record:
    fields: dict[str, Any] = {
        "instruction": wording.instruction,
        "input": example.text,
        "output": example.target,
    }
    if wording.system:
        fields["system"] = wording.system  # LLaMA-Factory's `system` column
    fields["metadata"] = example.metadata
    return Record(fields, wording.with_system(wording.user(example.text)), example.target)


def _sharegpt(example: Example, wording: Wording) -> Record:
    user = wording.user(example.text)
    # A leading `system` turn: LLaMA-Factory takes it as the system prompt, Axolotl maps it.
    system = [{"from": "system", "value": wording.system}] if wording.system else []
    turns = [*system, {"from": "human", "value": user}, {"from": "gpt", "value": example.target}]
    fields = {"conversations": turns, "metadata": example.metadata}
    return Record(fields, wording.with_system(user), example.target)


def _text(example: Example, wording: Wording) -> Record:
    return Record({"text": example.target, "metadata": example.metadata}, "", example.target)


def _dpo(example: Example, wording: Wording) -> Record:
    prompt = _completion_prompt(example, wording)
    fields = {
        "prompt": prompt,
        "chosen": example.target,
        "rejected": example.rejected,
        "metadata": example.metadata,
    }
    return Record(fields, prompt, example.target)


CSV_COLUMNS = (
    "source", "section", "paragraph_id", "recipe", "paraphrase", "original",
    "paraphrase_words", "original_words",
)  # fmt: skip


def _csv(example: Example, wording: Wording) -> Record:
    row = [
        example.source,
        example.section or "",
        example.paragraph_id,
        example.recipe,
        example.paraphrase,
        example.original,
        len(example.paraphrase.split()),
        len(example.original.split()),
    ]
    return Record(row, example.paraphrase, example.original)


# --- the registry ------------------------------------------------------------------------------

# How a paragraph's accepted answers become examples: one each; the paragraph once (its
# answers all share its original); or preference pairs between its answers.
Grouping = Literal["each", "once", "preference"]

_NO_SYSTEM = "it has no system message (messages, sharegpt and alpaca have one)"


@dataclass(frozen=True)
class Format:
    """One way to write examples: its record builder and what it is for."""

    name: str
    trainers: str  # who reads it, for --help and the docs
    build: Callable[[Example, Wording], Record]
    extension: str = ".jsonl"
    unit: tuple[str, str] = ("pair", "pairs")  # what a record is, for "Wrote 3 pairs"
    grouping: Grouping = "each"
    header: tuple[str, ...] = ()  # a CSV's first row; a format with one is CSV
    line: Callable[[dict[str, Any] | list[Any]], str] = _json_line  # a JSONL record's line
    has_prompt: bool = True  # false: the statistics have no prompt to measure
    # Why an option has no place in it (None: it has one); refused with that reason.
    no_reverse: str | None = None
    no_instruction: str | None = None
    no_system: str | None = None

    def writer(self, handle: TextIO) -> Callable[[Record], None]:
        """A function that writes one record to `handle` (a CSV writes its header first)."""
        if self.header:
            rows = csv.writer(handle)  # RFC 4180: quotes where needed, CRLF line ends
            rows.writerow(self.header)

            def write_row(record: Record) -> None:
                rows.writerow(record.fields)

            return write_row
        line = self.line

        def write_line(record: Record) -> None:
            handle.write(line(record.fields))

        return write_line

    def records(self, count: int) -> str:
        return f"{count:,} {self.unit[count != 1]}"


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "notebook",
            "the notebook's own trainer (`<human>:` / `<bot>:` text)",
            _notebook,
            line=_notebook_line,
            no_reverse="its prompt asks for the author's style",
            no_instruction="its wording is the notebook's",
            no_system=_NO_SYSTEM,
        ),
        Format("messages", "OpenAI fine-tuning, TRL SFTTrainer (chat)", _messages),
        Format(
            "prompt-completion",
            "TRL SFTTrainer (prompt-completion)",
            _prompt_completion,
            no_system=_NO_SYSTEM,
        ),
        Format("alpaca", "LLaMA-Factory, Axolotl (alpaca)", _alpaca),
        Format("sharegpt", "LLaMA-Factory, Axolotl (sharegpt)", _sharegpt),
        Format(
            "text",
            "continued pretraining (TRL, LLaMA-Factory `pt`, Axolotl `completion`)",
            _text,
            unit=("paragraph", "paragraphs"),
            grouping="once",
            has_prompt=False,
            no_reverse="it holds the originals alone",
            no_instruction="it holds the originals alone",
            no_system=_NO_SYSTEM,
        ),
        Format(
            "dpo",
            "TRL DPOTrainer, LLaMA-Factory (preference)",
            _dpo,
            unit=("preference pair", "preference pairs"),
            grouping="preference",
            no_reverse="its chosen answer is the original",
            no_system=_NO_SYSTEM,
        ),
        Format(
            "csv",
            "spreadsheets (a header row, RFC 4180, UTF-8)",
            _csv,
            extension=".csv",
            header=CSV_COLUMNS,
            no_reverse="it has a column for each text",
            no_instruction="it holds the texts alone",
            no_system=_NO_SYSTEM,
        ),
    )
}


@dataclass(frozen=True)
class Answer:
    """One accepted answer of a paragraph, as the export reads it."""

    paraphrase: str
    original: str
    recipe: str


def example_uses(fmt: Format, answers: int) -> list[int]:
    """How many of a paragraph's `answers` each of its examples uses: one example per answer;
    one for the paragraph (its answers share its original); or, for preference pairs, one per
    answer when there are two or more, none when there is one."""
    if fmt.grouping == "once":
        return [answers]
    if fmt.grouping == "preference" and answers < 2:
        return []
    return [1] * answers


def examples(
    fmt: Format,
    answers: Sequence[Answer],
    *,
    direction: str,
    source: str,
    section: str | None,
    paragraph_id: int,
) -> list[tuple[Example, int]]:
    """The examples of one paragraph's accepted answers, each with how many answers it uses.

    Preference pairs: each answer is the prompt of one pair, whose rejected answer is the next
    answer of the same paragraph (the last's is the first), so every answer is a prompt once
    and a rejected answer once; a paragraph with one answer gives none.
    """

    def example(i: int) -> Example:
        answer, forward = answers[i], direction == FORWARD
        rejected = None
        if fmt.grouping == "preference":
            rejected = answers[(i + 1) % len(answers)].paraphrase
        return Example(
            text=answer.paraphrase if forward else answer.original,
            target=answer.original if forward else answer.paraphrase,
            source=source,
            section=section,
            paragraph_id=paragraph_id,
            recipe=answer.recipe,
            rejected=rejected,
            paraphrase=answer.paraphrase,
            original=answer.original,
        )

    return [(example(i), used) for i, used in enumerate(example_uses(fmt, len(answers)))]
