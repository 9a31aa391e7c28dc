"""How well the validation rules tell good paraphrases from bad, on answers labelled by hand.

    python benchmarks/measure_rules.py [--novel PATH] [--min-meaning 0.65]
        [--embeddings-url http://127.0.0.1:1234/v1 --embeddings-model NAME]

The labelled sets (tests/data/):
- goblin-answers.jsonl: 216 real answers of SmolLM2-135M to the notebook's request on 72
  paragraphs of The Princess and the Goblin, one label each (good, meaning_drift, commentary,
  copy, preamble, loop, garbage, refusal) plus the other defects it shows ("also");
- smollm2-answers.jsonl: 68 real answers on our sample story, labelled with lists of defects
  (mapped here to the same labels: invented is meaning_drift; an answer cut off at the token cap
  is a loop first);
- good-paraphrases.jsonl: 86 faithful paraphrases we wrote by hand, light and free, of both.
Answers on the novel store the paragraph's index and sha256, not its text: the novel is read
from --novel (default $WORKBENCH_NOVEL, else /work/shared/corpus/princess-and-the-goblin.txt).
When it is missing, everything is measured on the sample story's data alone, and the output
says so.

It prints, in Markdown:
1. the rule sets (the notebook's, today's defaults, and the defaults with the candidate rules
   meaning_drift and facts_changed): precision of what they accept (good among accepted) and
   the share of good answers they keep, against the goal of 0.95 and 0.90;
2. each rule alone: what it rejects, precision and recall on the defect it is named for, and
   false alarms on the author's own prose (each paragraph offered as the answer to the one
   before it: fluent and on topic, but another paragraph);
3. meaning similarity (WordLlama) per label, and what each threshold rejects;
4. the facts check per label; 5. too_similar's threshold against light rewrites and copies;
6. with --embeddings-url and --embeddings-model, meaning similarity from that server's
   /embeddings (the second backend) per label, next to WordLlama's;
7. with --judge-url and --judge-model, what that model answers to the judge's question about
   each labelled answer.
A rule is measured on the cleaned answer, as `run` validates it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import statistics
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.ingest.sources import Paragraph  # noqa: E402
from workbench.judge import wordllama as meaning  # noqa: E402
from workbench.judge.answer import Answer  # noqa: E402
from workbench.judge.cleaners import clean  # noqa: E402
from workbench.judge.embeddings import embeddings_similarity  # noqa: E402
from workbench.judge.facts import FactsCheck, check_facts  # noqa: E402
from workbench.judge.measures import similarity  # noqa: E402
from workbench.judge.rules import DEFAULT_ENABLED, RULES  # noqa: E402
from workbench.judge.settings import DEFAULT_MIN_MEANING, Rules  # noqa: E402
from workbench.llm.client import Server  # noqa: E402

WORD = re.compile(r"[\w']+")

DATA = ROOT / "tests" / "data"
SAMPLE = ROOT / "samples" / "the-clockmakers-daughter.txt"
NOVEL_NAME = "princess-and-the-goblin.txt"
DEFAULT_NOVEL = Path("/work/shared/corpus") / NOVEL_NAME
LABELS = ("good", "meaning_drift", "commentary", "copy", "preamble", "loop", "garbage", "refusal")
DEFECTS = LABELS[1:]
ANY = "any defect"
# The defect each rule is named for. A rule with ANY answers for no single defect: its
# precision is the share of what it rejects that is bad, its recall the share of bad it rejects.
TARGETS: dict[str, tuple[str, ...]] = {
    "truncated": ("loop",),
    "empty": ("garbage",),
    "banned_phrase": ("preamble", "commentary"),
    "multiple_paragraphs": (ANY,),
    "too_short": (ANY,),
    "too_long": (ANY,),
    "refusal": ("refusal",),
    "preamble": ("preamble",),
    "commentary": ("commentary",),
    "too_similar": ("copy",),
    "meaning_drift": ("meaning_drift",),
    "facts_changed": ("meaning_drift",),
    "repetition": ("loop",),
}
# Rules about form, which must never fire on the author's prose (the meaning rules must fire on
# another paragraph: that is measured in their own tables).
PROSE_RULES = ("refusal", "preamble", "commentary", "too_similar", "repetition")
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
GOAL_PRECISION, GOAL_KEPT = 0.95, 0.90


@dataclass(frozen=True)
class Item:
    """One labelled answer and the paragraph it answers."""

    dataset: str  # the file it comes from
    source: str  # the paragraph's file name
    original: str
    answer: str  # cleaned, as run validates it
    finish_reason: str | None
    label: str
    also: tuple[str, ...] = ()
    style: str | None = None  # light or free, for hand-written paraphrases

    @property
    def good(self) -> bool:
        return self.label == "good"

    def has(self, defect: str) -> bool:
        if defect == ANY:
            return not self.good
        return self.label == defect or defect in self.also


@dataclass
class Context:
    """What the rules need beyond the answer: meaning scores, computed once in a batch."""

    meaning: dict[tuple[str, str], float] = field(default_factory=dict)
    min_meaning: float = DEFAULT_MIN_MEANING


# --- loading ------------------------------------------------------------------------------


def novel_path(given: str | None = None) -> Path:
    return Path(given or os.environ.get("WORKBENCH_NOVEL") or DEFAULT_NOVEL)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# The labels point at paragraphs by their index and hash in the split workbench 0.1 made of a
# file (the notebook's: blank lines, hard-wrapped lines joined), frozen here so that the labels
# stay valid whatever the readers learn later (headings, licence text, spacing).
_BLANK_LINES = re.compile(r"\n[^\S\n]*\n\s*")


def notebook_paragraphs(path: Path) -> list[Paragraph]:
    text = path.read_text(encoding="utf-8").lstrip("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    found = []
    for chunk in _BLANK_LINES.split(text):
        chunk = " ".join(line.strip() for line in chunk.strip().split("\n") if line.strip())
        if chunk:
            digest = hashlib.sha256(chunk.encode("utf-8")).hexdigest()
            found.append(Paragraph(len(found) + 1, chunk, digest, 1))
    return found


def sources(novel: Path | None) -> dict[str, list[Paragraph]]:
    """File name → paragraphs as the labels count them; the novel only when it exists."""
    found = {SAMPLE.name: notebook_paragraphs(SAMPLE)}
    if novel is not None and novel.is_file():
        found[NOVEL_NAME] = notebook_paragraphs(novel)
    return found


def paragraph_text(paragraphs: dict[str, list[Paragraph]], row: dict) -> str:
    """The text of the paragraph a row points at, after checking its hash."""
    paragraph = paragraphs[row["source"]][row["index"]]
    if paragraph.sha256 != row["sha256"]:
        raise ValueError(f"{row['source']} ¶{row['index']} does not match its sha256")
    return paragraph.text


def story_label(row: dict) -> tuple[str, tuple[str, ...]]:
    """smollm2-answers.jsonl lists defects; the label is the first of loop (cut off or
    repeating), commentary, preamble, refusal, copy, meaning_drift (invented)."""
    defects = ["meaning_drift" if d == "invented" else d for d in row["defects"]]
    if row["finish_reason"] == "length" and "loop" not in defects:
        defects.append("loop")
    for label in ("loop", "commentary", "preamble", "refusal", "copy", "meaning_drift"):
        if label in defects:
            return label, tuple(d for d in defects if d != label)
    return "good", ()


def load(novel: Path | None) -> list[Item]:
    """Every labelled answer whose original can be read."""
    paragraphs = sources(novel)
    items = []
    for row in read_jsonl(DATA / "goblin-answers.jsonl"):
        if row["source"] in paragraphs:
            original = paragraph_text(paragraphs, row)
            items.append(
                Item(
                    "goblin-answers",
                    row["source"],
                    original,
                    clean(original, row["answer"]),
                    row["finish_reason"],
                    row["label"],
                    tuple(row["also"]),
                )
            )
    for row in read_jsonl(DATA / "smollm2-answers.jsonl"):
        label, also = story_label(row)
        original = row["original"]
        items.append(
            Item(
                "smollm2-answers",
                SAMPLE.name,
                original,
                clean(original, row["answer"]),
                row["finish_reason"],
                label,
                also,
            )
        )
    for row in read_jsonl(DATA / "good-paraphrases.jsonl"):
        if row["source"] in paragraphs:
            original = paragraph_text(paragraphs, row)
            items.append(
                Item(
                    "good-paraphrases",
                    row["source"],
                    original,
                    row["answer"],
                    "stop",
                    "good",
                    style=row["style"],
                )
            )
    return items


def prose_pairs(novel: Path | None) -> list[tuple[str, str, str]]:
    """(source, paragraph, the next paragraph as its 'answer') for the author's own prose:
    eligible paragraphs, the novel without its Project Gutenberg header and footer."""
    pairs = []
    for name, paragraphs in sources(novel).items():
        texts = [p.text for p in paragraphs if p.word_count >= 10]
        if name == NOVEL_NAME:
            start = next(i for i, t in enumerate(texts) if t.startswith("There was once"))
            end = next(i for i, t in enumerate(texts) if t.startswith("End of Project"))
            texts = texts[start:end]
        pairs += [(name, texts[i - 1], texts[i]) for i in range(1, len(texts))]
    return pairs


def context(
    items: Iterable[Item], prose: list[tuple[str, str, str]], novel: Path | None
) -> Context:
    """Meaning scores for every pair, in one batch."""
    pairs = list(dict.fromkeys([(i.original, i.answer) for i in items] + [p[1:] for p in prose]))
    return Context(dict(zip(pairs, meaning.similarities(pairs), strict=True)))


# --- rules --------------------------------------------------------------------------------

Check = Callable[[Item, Context], bool]


def existing(code: str) -> Check:
    def check(item: Item, ctx: Context) -> bool:
        answer = Answer(item.original, item.answer, item.finish_reason)
        return RULES[code](answer, Rules()) is not None

    return check


def meaning_drift(item: Item, ctx: Context) -> bool:
    return ctx.meaning[(item.original, item.answer)] < ctx.min_meaning


def facts(item: Item, ctx: Context) -> FactsCheck:
    """What facts_changed looks at, as the rule calls it."""
    return check_facts(item.original, item.answer)


CHECKS: dict[str, Check] = {code: existing(code) for code in RULES if code in TARGETS}
# The one rule measured from the batch of scores computed once (WordLlama, as the rule uses it).
CHECKS["meaning_drift"] = meaning_drift
NOTEBOOK = ("truncated", "empty", "banned_phrase", "multiple_paragraphs", "too_short", "too_long")
# The rules on in a new job (duplicate needs several answers of one paragraph; judge, a model).
DEFAULT = tuple(code for code in RULES if code in TARGETS and code in DEFAULT_ENABLED)
BEFORE = tuple(c for c in DEFAULT if c not in ("repetition", "meaning_drift"))


def rule_sets(min_meaning: float) -> dict[str, tuple[str, ...]]:
    meaning_rule = f"meaning_drift < {min_meaning:g}"
    return {
        "the notebook's four (+ truncated, empty)": NOTEBOOK,
        "the defaults before this release (+ refusal, preamble, commentary, too_similar)": BEFORE,
        "+ repetition": (*BEFORE, "repetition"),
        f"+ {meaning_rule}": (*BEFORE, "meaning_drift"),
        f"**the defaults now**: + repetition + {meaning_rule}": DEFAULT,
        "the defaults + facts_changed": (*DEFAULT, "facts_changed"),
    }


def rejected_by(item: Item, codes: Iterable[str], ctx: Context) -> str | None:
    """The first rule of `codes` that rejects the item, as validate() runs them."""
    return next((code for code in codes if CHECKS[code](item, ctx)), None)


# --- measures -----------------------------------------------------------------------------


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class SetResult:
    accepted: int
    good_accepted: int
    good: int
    bad: int
    through: dict[str, int]  # bad answers accepted, by label

    @property
    def bad_rejected(self) -> float | None:
        return ratio(self.bad - (self.accepted - self.good_accepted), self.bad)

    @property
    def precision(self) -> float | None:
        return ratio(self.good_accepted, self.accepted)

    @property
    def kept(self) -> float | None:
        return ratio(self.good_accepted, self.good)


def measure_set(items: list[Item], codes: Iterable[str], ctx: Context) -> SetResult:
    codes = tuple(codes)
    accepted = [i for i in items if rejected_by(i, codes, ctx) is None]
    through: dict[str, int] = {}
    for item in accepted:
        if not item.good:
            through[item.label] = through.get(item.label, 0) + 1
    good = sum(i.good for i in items)
    return SetResult(len(accepted), sum(i.good for i in accepted), good, len(items) - good, through)


@dataclass(frozen=True)
class RuleResult:
    code: str
    target: str
    labelled: int  # answers with the target defect
    rejected: int
    hits: int  # rejected answers that have the defect
    good_rejected: int
    alone: SetResult  # the rule as the only one on
    prose_alarms: int | None  # on the author's prose, for rules that must never fire there
    prose: int

    @property
    def precision(self) -> float | None:
        return ratio(self.hits, self.rejected)

    @property
    def recall(self) -> float | None:
        return ratio(self.hits, self.labelled)


def measure_rule(
    code: str, items: list[Item], prose: list[tuple[str, str, str]], ctx: Context
) -> RuleResult:
    targets = TARGETS[code]
    fired = [CHECKS[code](i, ctx) for i in items]
    has = [any(i.has(t) for t in targets) for i in items]
    alarms = None
    if code in PROSE_RULES:
        alarms = sum(
            CHECKS[code](Item("prose", source, original, answer, "stop", "good"), ctx)
            for source, original, answer in prose
        )
    return RuleResult(
        code=code,
        target=" or ".join(targets),
        labelled=sum(has),
        rejected=sum(fired),
        hits=sum(f and h for f, h in zip(fired, has, strict=True)),
        good_rejected=sum(f and i.good for f, i in zip(fired, items, strict=True)),
        alone=measure_set(items, (code,), ctx),
        prose_alarms=alarms,
        prose=len(prose),
    )


def quantiles(values: list[float]) -> str:
    if not values:
        return "| 0 | | | | | |"
    values = sorted(values)
    deciles = statistics.quantiles(values, n=10, method="inclusive") if len(values) > 1 else []
    p10, p90 = (deciles[0], deciles[-1]) if deciles else (values[0], values[0])
    return (
        f"| {len(values)} | {values[0]:.2f} | {p10:.2f} | {statistics.median(values):.2f} "
        f"| {p90:.2f} | {values[-1]:.2f} |"
    )


def groups(items: list[Item]) -> dict[str, list[Item]]:
    """Labels in order, good split into light and free rewrites."""
    found: dict[str, list[Item]] = {}
    for label in LABELS:
        if label == "good":
            for style in ("light", "free"):
                found[f"good ({style}, by hand)"] = [
                    i for i in items if i.good and i.style == style
                ]
            found["good (real answers)"] = [i for i in items if i.good and i.style is None]
        else:
            found[label] = [i for i in items if i.label == label]
    return {k: v for k, v in found.items() if v}


def suggest_min_meaning(items: list[Item], ctx: Context) -> float:
    """The highest multiple of 0.05 below the lowest meaning similarity of a good answer."""
    lowest = min(ctx.meaning[(i.original, i.answer)] for i in items if i.good)
    return (math.ceil(round(lowest * 20, 6)) - 1) / 20


def lowest_threshold(items: list[Item], measure: Callable[[str, str], float]) -> float:
    """The lowest threshold (in steps of 0.01) at which `measure` reaches no good answer."""
    highest = max(measure(i.original, i.answer) for i in items if i.good)
    return (math.floor(round(highest * 100, 6)) + 1) / 100


def copied_share(original: str, answer: str, n: int = 3) -> float:
    """A candidate copy measure, not a rule: the share of the original's word n-grams
    (lower-cased, punctuation ignored) that the answer repeats. Unlike too_similar's ratio, a
    copy padded with invention or repeated twice still scores high."""
    a, b = WORD.findall(original.lower()), WORD.findall(answer.lower())
    grams = [tuple(a[k : k + n]) for k in range(len(a) - n + 1)]
    found = {tuple(b[k : k + n]) for k in range(len(b) - n + 1)}
    return sum(g in found for g in grams) / len(grams) if grams else 0.0


# --- the report ---------------------------------------------------------------------------


def set_row(name: str, r: SetResult) -> str:
    goal = (r.precision or 0) >= GOAL_PRECISION and (r.kept or 0) >= GOAL_KEPT
    through = ", ".join(f"{n} {label}" for label, n in sorted(r.through.items())) or "none"
    return (
        f"| {name} | {r.accepted} | {fmt(r.precision)} | {fmt(r.kept)} "
        f"({r.good_accepted} of {r.good}) | {fmt(r.bad_rejected)} | {'yes' if goal else 'no'} "
        f"| {through} |"
    )


def held_out(items: list[Item], ctx: Context) -> str:
    """The threshold chosen on half the paragraphs, measured on the other half (and the other
    way round): what a threshold picked on these answers does on answers it has not seen.
    The choice: the highest threshold keeping at least 0.95 of the good answers of its half."""
    folds: tuple[list[Item], list[Item]] = ([], [])
    for item in items:  # by paragraph, so a paragraph's answers are all on one side
        folds[hashlib.sha256(item.original.encode()).digest()[0] % 2].append(item)
    chosen = ctx.min_meaning
    lines = [
        "Held out: the threshold chosen on one half of the paragraphs (the highest keeping at "
        "least 0.95 of its good answers), measured on the other half:",
        "",
        "| chosen on | threshold | measured on | good among accepted | good kept | bad rejected |",
        "|---|---|---|---|---|---|",
    ]
    for name, calibrate, test in (("half A", *folds), ("half B", *reversed(folds))):
        best = THRESHOLDS[0]
        for threshold in THRESHOLDS:
            ctx.min_meaning = threshold
            kept = measure_set(calibrate, DEFAULT, ctx).kept
            if kept is not None and kept >= 0.95:
                best = threshold
        ctx.min_meaning = best
        result = measure_set(test, DEFAULT, ctx)
        other = "half B" if name == "half A" else "half A"
        lines.append(
            f"| {name} | {best:g} | {other} ({len(test)} answers) | {fmt(result.precision)} "
            f"| {fmt(result.kept)} | {fmt(result.bad_rejected)} |"
        )
    ctx.min_meaning = chosen
    for name, test in (("half A", folds[0]), ("half B", folds[1])):
        result = measure_set(test, DEFAULT, ctx)
        lines.append(
            f"| (the default) | {chosen:g} | {name} ({len(test)} answers) "
            f"| {fmt(result.precision)} | {fmt(result.kept)} | {fmt(result.bad_rejected)} |"
        )
    return "\n".join(lines)


def report(novel: Path | None, min_meaning: float | None = None) -> str:
    items = load(novel)
    prose = prose_pairs(novel)
    ctx = context(items, prose, novel)
    suggested = suggest_min_meaning(items, ctx)
    # The default threshold, chosen on the full set; what this data suggests is printed below.
    ctx.min_meaning = min_meaning if min_meaning is not None else DEFAULT_MIN_MEANING
    out: list[str] = []
    say = out.append
    have_novel = NOVEL_NAME in sources(novel)
    if have_novel:
        say(f"Measured on the sample story and the novel ({novel}).")
    else:
        say(
            f"The novel is not at {novel}: measured on the sample story's data alone "
            "(smollm2-answers.jsonl and the story's hand-written paraphrases). "
            "Pass --novel or set WORKBENCH_NOVEL for the full set."
        )
    say("")
    say("**Labelled answers**")
    say("")
    say("| set | " + " | ".join(LABELS) + " | total |")
    say("|---|" + "---|" * (len(LABELS) + 1))
    for dataset in ("goblin-answers", "smollm2-answers", "good-paraphrases"):
        rows = [i for i in items if i.dataset == dataset]
        if rows:
            counts = " | ".join(str(sum(i.label == label for i in rows)) for label in LABELS)
            say(f"| {dataset} | {counts} | {len(rows)} |")
    say("")

    say(
        f"**Rule sets** (goal: at least {GOAL_PRECISION} of accepted answers good, "
        f"at least {GOAL_KEPT} of good answers kept)"
    )
    say("")
    say(
        "| rules | accepted | good among accepted | good kept | bad rejected | goal "
        "| bad that get through |"
    )
    say("|---|---|---|---|---|---|---|")
    for name, codes in rule_sets(ctx.min_meaning).items():
        say(set_row(name, measure_set(items, codes, ctx)))
    say("")
    say("With meaning_drift at other thresholds:")
    say("")
    say(
        "| rules | accepted | good among accepted | good kept | bad rejected | goal "
        "| bad that get through |"
    )
    say("|---|---|---|---|---|---|---|")
    chosen = ctx.min_meaning
    for threshold in THRESHOLDS:
        ctx.min_meaning = threshold
        for extra in ((), ("facts_changed",)):
            name = " + ".join((f"the defaults, meaning_drift < {threshold:g}", *extra))
            say(set_row(name, measure_set(items, (*DEFAULT, *extra), ctx)))
    ctx.min_meaning = chosen
    say("")
    say(held_out(items, ctx))
    say("")

    say("**Each rule alone** (precision and recall on the defect it is named for)")
    say("")
    say(
        "| rule | defect | answers with it | rejected | precision | recall | good rejected "
        "| alone: good among accepted | alone: good kept | false alarms on prose |"
    )
    say("|---|---|---|---|---|---|---|---|---|---|")
    for code in CHECKS:
        r = measure_rule(code, items, prose, ctx)
        alarms = "" if r.prose_alarms is None else f"{r.prose_alarms} of {r.prose}"
        name = f"`{code}` (< {ctx.min_meaning:g})" if code == "meaning_drift" else f"`{code}`"
        say(
            f"| {name} | {r.target} | {r.labelled} | {r.rejected} | {fmt(r.precision)} "
            f"| {fmt(r.recall)} | {r.good_rejected} | {fmt(r.alone.precision)} "
            f"| {fmt(r.alone.kept)} | {alarms} |"
        )
    say("")

    say("**Meaning similarity** (WordLlama, cosine of original and answer)")
    say("")
    by_group = groups(items)
    neighbours = [ctx.meaning[(o, a)] for _, o, a in prose]
    say("| answers | n | min | p10 | median | p90 | max |")
    say("|---|---|---|---|---|---|---|")
    for name, members in by_group.items():
        say(f"| {name} " + quantiles([ctx.meaning[(i.original, i.answer)] for i in members]))
    say("| the next paragraph of the book " + quantiles(neighbours))
    say("")
    say("Share rejected at each threshold (meaning similarity below it):")
    say("")
    say("| answers | " + " | ".join(f"< {t:g}" for t in THRESHOLDS) + " |")
    say("|---|" + "---|" * len(THRESHOLDS))
    rows = {
        name: [ctx.meaning[(i.original, i.answer)] for i in members]
        for name, members in by_group.items()
    }
    rows["the next paragraph of the book"] = neighbours
    for name, scores in rows.items():
        shares = " | ".join(f"{sum(s < t for s in scores) / len(scores):.2f}" for t in THRESHOLDS)
        say(f"| {name} | {shares} |")
    say("")
    lowest = min((ctx.meaning[(i.original, i.answer)], i) for i in items if i.good)
    say(
        f"The highest multiple of 0.05 that keeps every good answer: {suggested:g} (the lowest "
        f"scores {lowest[0]:.2f}, a paraphrase of a {len(lowest[1].original.split())}-word "
        f"paragraph: short paragraphs score lowest). The default, {DEFAULT_MIN_MEANING:g}, "
        "gives up a few of them for the goal: see the rule sets above."
    )
    if not have_novel:
        say(
            "(From the sample story alone, whose paragraphs are long: the full set, with the "
            "novel's short lines of dialogue, suggests a lower threshold.)"
        )
    say("")

    say(
        "**Facts check** (answers with at least one: numbers dropped or added, names dropped "
        "or added; `facts_changed` rejects all but a dropped name)"
    )
    say("")
    say("| answers | n | drops a number | adds a number | drops a name | adds a name | rejected |")
    say("|---|---|---|---|---|---|---|")
    for name, members in by_group.items():
        checks = [facts(i, ctx) for i in members]
        say(
            f"| {name} | {len(members)} | {sum(bool(c.missing_numbers) for c in checks)} "
            f"| {sum(bool(c.added_numbers) for c in checks)} "
            f"| {sum(bool(c.missing_names) for c in checks)} "
            f"| {sum(bool(c.added_names) for c in checks)} | {sum(c.invented for c in checks)} |"
        )
    checks = [check_facts(original, answer) for _, original, answer in prose]
    say(
        f"| the next paragraph of the book | {len(checks)} "
        f"| {sum(bool(c.missing_numbers) for c in checks)} "
        f"| {sum(bool(c.added_numbers) for c in checks)} "
        f"| {sum(bool(c.missing_names) for c in checks)} "
        f"| {sum(bool(c.added_names) for c in checks)} | {sum(c.invented for c in checks)} |"
    )
    say("")
    flagged = [(i, facts(i, ctx)) for i in items if i.good and facts(i, ctx).changed]
    for item, check in flagged:
        verdict = "rejected" if check.invented else "let through"
        say(f"- good, {verdict}: {check.detail()}: “{item.answer[:70]}…”")
    say("")

    say("**too_similar** (word-sequence similarity of a copy and of a real rewrite)")
    say("")
    light = [i for i in items if i.style == "light"]
    free = [i for i in items if i.style == "free"]
    copies = [i for i in items if i.label == "copy"]
    partial = [i for i in items if i.label != "copy" and i.has("copy")]
    for title, measure, thresholds in (
        ("too_similar's ratio", similarity, (0.8, 0.85, 0.88, 0.89, 0.9, 0.92, 0.95)),
        ("copied_share (candidate)", copied_share, (0.6, 0.7, 0.75, 0.77, 0.8, 0.85, 0.9)),
    ):
        say(
            f"| {title} ≥ | light rewrites rejected | free rewrites rejected | copies caught "
            "| partial copies caught |"
        )
        say("|---|---|---|---|---|")
        for threshold in thresholds:

            def hits(group: list[Item], t: float = threshold, m: Callable = measure) -> str:
                return f"{sum(m(i.original, i.answer) >= t for i in group)} of {len(group)}"

            say(
                f"| {threshold:g} | {hits(light)} | {hits(free)} | {hits(copies)} "
                f"| {hits(partial)} |"
            )
        say("")
        say(
            f"The lowest {title} threshold that rejects no good answer: "
            f"{lowest_threshold(items, measure):g}."
        )
        say("")
    return "\n".join(out)


def server_scores(items: list[Item], base_url: str, model: str) -> dict[tuple[str, str], float]:
    """Meaning similarity of every item from a server's /embeddings, asked again up to 3 times
    when a request fails; a pair that keeps failing is left out."""
    server = Server(base_url)
    session = server.session()
    scores = {}
    for item in items:
        for _ in range(3):
            call = embeddings_similarity(server, session, model, item.original, item.answer)
            if call.score is not None:
                scores[(item.original, item.answer)] = call.score
                break
        else:
            print(f"no score: {call.error}: {call.error_detail}", file=sys.stderr)
    return scores


def server_report(items: list[Item], ctx: Context, base_url: str, model: str) -> str:
    scores = server_scores(items, base_url, model)
    out = [f"**Meaning similarity from {model}'s /embeddings** ({base_url}), next to WordLlama", ""]
    out.append("| answers | backend | n | min | p10 | median | p90 | max |")
    out.append("|---|---|---|---|---|---|---|---|")
    for name, members in groups(items).items():
        pairs = [(i.original, i.answer) for i in members if (i.original, i.answer) in scores]
        out.append(f"| {name} | {model} " + quantiles([scores[p] for p in pairs]))
        out.append(f"| {name} | WordLlama " + quantiles([ctx.meaning[p] for p in pairs]))
    scored = [
        (i, scores[(i.original, i.answer)]) for i in items if (i.original, i.answer) in scores
    ]
    if len(scored) < len(items):
        out += ["", f"{len(items) - len(scored)} answers got no score (see stderr)."]
    good = [s for i, s in scored if i.good]
    if good:
        threshold = min(good)
        bad = [(i, s) for i, s in scored if not i.good]
        caught = sum(s < threshold for _, s in bad)
        drift = [s for i, s in bad if i.label == "meaning_drift"]
        out += [
            "",
            f"At the highest threshold that keeps every good answer ({threshold:.3f}), "
            f"{model} rejects {caught} of {len(bad)} bad answers "
            f"({sum(s < threshold for s in drift)} of {len(drift)} meaning_drift).",
        ]
    return "\n".join(out)


def judge_report(items: list[Item], url: str, model: str) -> str:
    """What a model says to the judge's question (the `judge` rule's request, at temperature 0)
    about every labelled answer: how often it says yes to good answers and to each defect."""
    from concurrent.futures import ThreadPoolExecutor

    from workbench.judge.checks import judge_body, judgment

    server = Server(url, timeout=120)

    def ask(item: Item) -> str:
        with server.session() as session:
            call = judgment(server.complete(session, judge_body(model, item.original, item.answer)))
        return call.result or "other"

    with ThreadPoolExecutor(4) as pool:
        said = list(pool.map(ask, items))
    lines = [
        f"**The judge** ({model}): its answer to the judge's question, by label",
        "",
        "| answers | n | yes | no | neither (a failed judgment) |",
        "|---|---|---|---|---|",
    ]
    for label in LABELS:
        answers = [s for s, i in zip(said, items, strict=True) if i.label == label]
        if answers:
            counts = [sum(a == v for a in answers) for v in ("yes", "no", "other")]
            lines.append(f"| {label} | {len(answers)} | " + " | ".join(map(str, counts)) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--novel", help=f"the novel's text [default: {DEFAULT_NOVEL}]")
    parser.add_argument(
        "--min-meaning",
        type=float,
        help=f"threshold of meaning_drift [default: {DEFAULT_MIN_MEANING}]",
    )
    parser.add_argument("--embeddings-url", help="also score with this server's /embeddings")
    parser.add_argument("--embeddings-model", help="the model to ask for embeddings")
    parser.add_argument("--judge-url", help="also ask this server's model the judge's question")
    parser.add_argument("--judge-model", help="the model that judges")
    args = parser.parse_args()
    novel = novel_path(args.novel)
    print(report(novel, args.min_meaning))
    if args.embeddings_url and args.embeddings_model:
        items = load(novel)
        ctx = context(items, [], novel)
        print()
        print(server_report(items, ctx, args.embeddings_url, args.embeddings_model))
    if args.judge_url and args.judge_model:
        print()
        print(judge_report(load(novel), args.judge_url, args.judge_model))


if __name__ == "__main__":
    main()
