"""What an export wrote and left out: records per file, lengths of prompts and targets, why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from workbench.dataset.formats import Format, Record

# The token estimate of the statistics: OpenAI's rule of thumb for English, a token is about
# four characters. No tokenizer ships with workbench, and the tokens of the model to be tuned
# are not known here; it is printed as an estimate.
CHARS_PER_TOKEN = 4


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
