"""What an export wrote and left out: records per file, lengths of prompts and targets, why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from workbench.dataset.formats import Format, Record
from workbench.dataset.split import UNIT_WORDS, Cut
from workbench.dataset.tokens import TokenCounter
from workbench.dataset.wording import Wordings

# The token estimate of the statistics: OpenAI's rule of thumb for English, a token is about
# four characters. No tokenizer ships with workbench, and the tokens of the model to be tuned
# are not known here; it is printed as an estimate, beside the counts of the tokenizer given
# with --tokenizer.
CHARS_PER_TOKEN = 4
TOKENIZER_BATCH = 1_000  # records whose texts are counted by the tokenizer at a time


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

    def sum(self) -> int:
        return sum(value * count for value, count in self.counts.items())

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
    unit: str = "paragraph"  # what the split keeps whole: paragraph or section
    cut: Cut | None = None  # where the split cut the seeded order
    card: str | None = None  # the dataset card written, -o DIR/
    wordings: Wordings | None = None
    instructions_used: Counter[int] = field(default_factory=Counter)  # records per instruction
    systems_used: Counter[int] = field(default_factory=Counter)
    tokenizer: TokenCounter | None = None
    stale: list[str] = field(default_factory=list)  # earlier exports' files the card does not name
    answers: int = 0  # accepted answers read (the pairs of the recipes exported)
    left_out: Counter[str] = field(default_factory=Counter)
    too_few: int = 0  # paragraphs with a single answer (dpo)
    hint: str = ""  # how to get more answers, when dpo had too few
    prompt_words: Histogram = field(default_factory=Histogram)
    prompt_tokens: Histogram = field(default_factory=Histogram)
    target_words: Histogram = field(default_factory=Histogram)
    target_tokens: Histogram = field(default_factory=Histogram)
    prompt_counted: Histogram = field(default_factory=Histogram)  # by the tokenizer
    target_counted: Histogram = field(default_factory=Histogram)
    _uncounted: list[Record] = field(default_factory=list)  # waiting for the tokenizer

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    def measure(self, record: Record) -> None:
        if self.format.has_prompt:
            self.prompt_words.add(len(record.prompt.split()))
            self.prompt_tokens.add(estimate_tokens(record.prompt))
        self.target_words.add(len(record.target.split()))
        self.target_tokens.add(estimate_tokens(record.target))
        if self.tokenizer is not None:
            self._uncounted.append(record)
            if len(self._uncounted) >= TOKENIZER_BATCH:
                self.count_tokens()

    def count_tokens(self) -> None:
        """Count the texts of the records measured since the last time with the tokenizer."""
        if self.tokenizer is None or not self._uncounted:
            return
        records, self._uncounted = self._uncounted, []
        if self.format.has_prompt:
            for count in self.tokenizer.count([r.prompt for r in records]):
                self.prompt_counted.add(count)
        for count in self.tokenizer.count([r.target for r in records]):
            self.target_counted.add(count)

    def measures(self) -> list[tuple[str, Histogram]]:
        """The lengths measured, labelled: words, estimated tokens, and the tokenizer's."""
        counted = self.tokenizer is not None
        measures = []
        for side, words, estimated, tokens in (
            ("prompt", self.prompt_words, self.prompt_tokens, self.prompt_counted),
            ("target", self.target_words, self.target_tokens, self.target_counted),
        ):
            if side == "prompt" and not self.format.has_prompt:
                continue
            measures += [(f"{side} words", words), (f"{side} ≈tokens", estimated)]
            measures += [(f"{side} tokens", tokens)] if counted else []
        return measures

    @property
    def split_line(self) -> str:
        """How the split went: "9 of 12 paragraphs in out.train.jsonl"."""
        assert self.cut is not None
        one, many = UNIT_WORDS[self.unit]
        units = f"{one if self.cut.units == 1 else many}"
        if self.unit == "paragraph" and self.cut.units != sum(f.paragraphs for f in self.files):
            units = f"distinct {units} (a paragraph's copies go together)"
        return f"{self.cut.train:,} of {self.cut.units:,} {units} in {self.files[0].name}"

    def wrote(self) -> str:
        """The one line of the result: "Wrote 3 pairs to out.jsonl"."""
        fmt, files = self.format, self.files
        if files[0].name == "stdout":
            return f"Wrote {fmt.records(files[0].records)}"
        card = f", and the card {self.card}" if self.card else ""
        if len(files) == 1:
            return f"Wrote {fmt.records(files[0].records)} to {files[0].name}{card}"
        train, val = files
        return (
            f"Wrote {fmt.records(train.records)} to {train.name} and {val.records:,} to "
            f"{val.name}{card}"
        )

    def statistics(self) -> list[str]:
        """Records per file, the lengths of prompts and targets, and what was left out."""
        measures = self.measures()
        width = max(len(label) for label, _ in measures + [(f.name, None) for f in self.files])
        lines = [f"  {'':<{width}} {'records':>8} {'paragraphs':>11}"]
        lines.extend(f"  {f.name:<{width}} {f.records:>8,} {f.paragraphs:>11,}" for f in self.files)
        if self.split is not None and self.cut is not None:
            by = f" --split-by {self.unit}" if self.unit != "paragraph" else ""
            lines.append(f"  (--split {self.split:g}{by} --seed {self.seed}: {self.split_line})")
        if self.records:
            lines.append(f"  {'':<{width}} {'min':>8} {'median':>11} {'max':>8}")
            lines.extend(
                f"  {label:<{width}} {h.min():>8,} {h.median():>11,g} {h.max():>8,}"
                for label, h in measures
            )
            lines.append(f"  (≈tokens: characters / {CHARS_PER_TOKEN}, an estimate; " + (
                f"tokens: by {self.tokenizer.name})" if self.tokenizer else "no tokenizer)"
            ))  # fmt: skip
        lines.extend(self._wording_lines())
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
        lines.extend(
            f"Warning: {name} is left from an earlier export; the card does not name it, so "
            "`datasets` does not read it, but remove it before you publish the folder"
            for name in self.stale
        )
        return lines

    def _wording_lines(self) -> list[str]:
        """Records per instruction and per system message, when there are several."""
        wordings, lines = self.wordings, list[str]()
        if wordings is None or not self.records:
            return lines
        for name, values, used in (
            ("instructions", wordings.instructions, self.instructions_used),
            ("system messages", wordings.systems, self.systems_used),
        ):
            if len(values) > 1:
                lines.append(
                    f"  {len(values)} {name}, one a paragraph by --seed {wordings.seed}: "
                    + " · ".join(f"{used[i]:,}" for i in range(len(values)))
                    + " records"
                )
        return lines


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)  # rounded up: a short word is still a token
