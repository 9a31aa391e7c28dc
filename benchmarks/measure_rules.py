"""How well each rule tells good paraphrases from bad, on the answers labelled by hand.

    python benchmarks/measure_rules.py
        [--embeddings-url http://127.0.0.1:1234/v1 --embeddings-model NAME]
        [--judge-url URL --judge-model NAME]

The labelled answers of four books (benchmarks/labelled.py); a book not on this machine is left
out, and the output says so. It prints, in Markdown:
1. the labelled answers, by set and label;
2. rule sets (the notebook's, the defaults of earlier releases, today's, with facts_changed):
   good among accepted and good kept, against the goal of 0.95 and 0.90;
3. each rule alone: what it rejects, precision and recall on the defect it is named for, and
   false alarms on the authors' own prose (each paragraph offered as the answer to the one
   before it: fluent and on topic, but another paragraph);
4. meaning similarity per label, by the default model (MiniLM) and the old one (WordLlama);
5. the facts check per label; 6. too_similar's threshold against light rewrites and copies;
7. with --embeddings-url and --embeddings-model, meaning from that server's /embeddings;
8. with --judge-url and --judge-model, what that model answers to the judge's question.
How the meaning threshold is chosen, across books, is measure_meaning.py's part. A rule is
measured on the cleaned answer, as `run` validates it.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from labelled import LABELS, SHORT, Item, book_path, load, missing_books  # noqa: E402

from workbench.ingest.sources import read_source  # noqa: E402
from workbench.judge import meaning  # noqa: E402
from workbench.judge.answer import Answer  # noqa: E402
from workbench.judge.embeddings import embeddings_similarity  # noqa: E402
from workbench.judge.facts import FactsCheck, check_facts  # noqa: E402
from workbench.judge.measures import similarity  # noqa: E402
from workbench.judge.rules import DEFAULT_ENABLED, RULES  # noqa: E402
from workbench.judge.settings import DEFAULT_MEANING_MODEL, MIN_MEANING, Rules  # noqa: E402
from workbench.llm.client import Server  # noqa: E402

WORD = re.compile(r"[\w']+")

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
GOAL_PRECISION, GOAL_KEPT = 0.95, 0.90


@dataclass
class Context:
    """What the rules need beyond the answer: meaning scores, computed once in batches."""

    meaning: dict[tuple[str, str], float] = field(default_factory=dict)  # the default model's
    wordllama: dict[tuple[str, str], float] = field(default_factory=dict)  # the old model's
    min_meaning: float = MIN_MEANING[DEFAULT_MEANING_MODEL]


# --- loading ------------------------------------------------------------------------------


def prose_pairs(books: Iterable[str]) -> list[tuple[str, str, str]]:
    """(book, paragraph, the next paragraph as its 'answer') for the authors' own prose: the
    eligible paragraphs of each book here, as `ingest` reads them (licence text left out)."""
    pairs = []
    for book in books:
        path = book_path(book)
        if path.is_file():
            texts = [p.text for p in read_source(path, encoding="utf-8").paragraphs]
            texts = [t for t in texts if len(t.split()) >= 10]
            pairs += [(book, texts[i - 1], texts[i]) for i in range(1, len(texts))]
    return pairs


def context(items: Iterable[Item], prose: list[tuple[str, str, str]]) -> Context:
    """Meaning scores for every pair, by both models, in batches."""
    pairs = list(dict.fromkeys([(i.original, i.answer) for i in items] + [p[1:] for p in prose]))
    return Context(
        dict(zip(pairs, meaning.similarities(DEFAULT_MEANING_MODEL, pairs), strict=True)),
        dict(zip(pairs, meaning.similarities("wordllama", pairs), strict=True)),
    )


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
# The one rule measured from the batch of scores computed once (MiniLM, as the rule uses it).
CHECKS["meaning_drift"] = meaning_drift
NOTEBOOK = ("truncated", "empty", "banned_phrase", "multiple_paragraphs", "too_short", "too_long")
# The rules on in a new job (duplicate needs several answers of one paragraph; judge, a model).
DEFAULT = tuple(code for code in RULES if code in TARGETS and code in DEFAULT_ENABLED)
BEFORE = tuple(c for c in DEFAULT if c not in ("repetition", "meaning_drift"))


def rule_sets(min_meaning: float) -> dict[str, tuple[str, ...]]:
    meaning_rule = f"meaning_drift < {min_meaning:g} (MiniLM)"
    return {
        "the notebook's four (+ truncated, empty)": NOTEBOOK,
        "the defaults of 0.1 (+ refusal, preamble, commentary, too_similar)": BEFORE,
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
    """Labels in order, good split into light and free rewrites, drifts into real answers and
    the ones we wrote that keep the words."""
    found: dict[str, list[Item]] = {}
    for label in LABELS:
        if label == "good":
            for style in ("light", "free"):
                found[f"good ({style}, by hand)"] = [
                    i for i in items if i.good and i.style == style
                ]
            found["good (real answers)"] = [i for i in items if i.good and i.style is None]
        elif label == "meaning_drift":
            found["meaning_drift (real answers)"] = [
                i for i in items if i.label == label and i.kind is None
            ]
            found["meaning_drift (by hand, keeping the words)"] = [
                i for i in items if i.label == label and i.kind and not i.kind.startswith("free")
            ]
            found["meaning_drift (by hand, reworded)"] = [
                i for i in items if i.label == label and i.kind and i.kind.startswith("free")
            ]
        else:
            found[label] = [i for i in items if i.label == label]
    return {k: v for k, v in found.items() if v}


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


def report(books: Iterable[str] | None = None) -> str:
    """The whole report, on the labelled answers of these books (every book here when None)."""
    missing = missing_books()
    items = [i for i in load() if books is None or i.book in books]
    present = list(dict.fromkeys(i.book for i in items))
    prose = prose_pairs(present)
    ctx = context(items, prose)
    out: list[str] = []
    say = out.append
    say("Measured on " + ", ".join(SHORT[b] for b in present) + ".")
    if missing:
        say(f"Not on this machine, left out: {', '.join(missing)}.")
    say("")
    say("**Labelled answers**")
    say("")
    say("| set | " + " | ".join(LABELS) + " | total |")
    say("|---|" + "---|" * (len(LABELS) + 1))
    for dataset in sorted({i.dataset for i in items}):
        rows = [i for i in items if i.dataset == dataset]
        counts = " | ".join(str(sum(i.label == label for i in rows)) for label in LABELS)
        say(f"| {dataset} | {counts} | {len(rows)} |")
    say("")

    say(
        f"**Rule sets** (goal: at least {GOAL_PRECISION} of accepted answers good, "
        f"at least {GOAL_KEPT} of good answers kept; the written drifts left out, as "
        "measure_meaning.py measures them apart)"
    )
    say("")
    say(
        "| rules | accepted | good among accepted | good kept | bad rejected | goal "
        "| bad that get through |"
    )
    say("|---|---|---|---|---|---|---|")
    answers = [i for i in items if i.kind is None]
    for name, codes in rule_sets(ctx.min_meaning).items():
        say(set_row(name, measure_set(answers, codes, ctx)))
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

    by_group = groups(items)
    titles = (
        ("MiniLM, the check's measure: paragraphs and the original's sentences", ctx.meaning),
        ("WordLlama, cosine of original and answer", ctx.wordllama),
    )
    for title, scores in titles:
        say(f"**Meaning similarity** ({title})")
        say("")
        say("| answers | n | min | p10 | median | p90 | max |")
        say("|---|---|---|---|---|---|---|")
        for name, members in by_group.items():
            say(f"| {name} " + quantiles([scores[(i.original, i.answer)] for i in members]))
        say("| the next paragraph of the book " + quantiles([scores[p[1:]] for p in prose]))
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
    out = [f"**Meaning similarity from {model}'s /embeddings** ({base_url}), next to MiniLM", ""]
    out.append("| answers | backend | n | min | p10 | median | p90 | max |")
    out.append("|---|---|---|---|---|---|---|---|")
    for name, members in groups(items).items():
        pairs = [(i.original, i.answer) for i in members if (i.original, i.answer) in scores]
        out.append(f"| {name} | {model} " + quantiles([scores[p] for p in pairs]))
        out.append(f"| {name} | MiniLM " + quantiles([ctx.meaning[p] for p in pairs]))
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
    parser.add_argument("--embeddings-url", help="also score with this server's /embeddings")
    parser.add_argument("--embeddings-model", help="the model to ask for embeddings")
    parser.add_argument("--judge-url", help="also ask this server's model the judge's question")
    parser.add_argument("--judge-model", help="the model that judges")
    args = parser.parse_args()
    print(report())
    if args.embeddings_url and args.embeddings_model:
        items = load()
        print()
        print(server_report(items, context(items, []), args.embeddings_url, args.embeddings_model))
    if args.judge_url and args.judge_model:
        print()
        print(judge_report(load(), args.judge_url, args.judge_model))


if __name__ == "__main__":
    main()
