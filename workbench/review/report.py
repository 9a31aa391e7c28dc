"""Report: the notebook's summary and more, for one recipe (or one run), read from the database.

Every number comes from the counts that triggers keep (`tallies` per recipe, run, outcome and
reason; `progress` per paragraph and recipe), never from a scan of the attempts, whose rows
carry every request and response: a job of a million paragraphs reports in well under a second.
The report is a typed record (`Report`); `--json` prints its `to_json()`, the text form is
`format_report`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from workbench.engine.recipes import Recipe, named_recipe, paragraph_counts, verdict_counts
from workbench.errors import WorkbenchError
from workbench.review.agreement import ReviewCounts, format_review_counts, review_counts
from workbench.review.compare import RecipeSummary, recipe_summaries
from workbench.review.tallies import AttemptCounts, Tokens, by_count, tally
from workbench.store.states import Status

SKIPPED_SHOWN = 20  # the text form lists this many skipped paragraphs, and says how many more


@dataclass(frozen=True)
class ParagraphCounts:
    total: int  # eligible + filtered
    eligible: int  # long enough to send
    filtered: int  # under --min-words at ingest, never sent
    pending: int
    succeeded: int
    skipped: int


@dataclass(frozen=True)
class CheckCounts:
    """The requests rules sent of one kind (the judge, an embeddings model)."""

    requests: int
    failed: int
    prompt_tokens: int
    completion_tokens: int
    mean_latency_s: float


@dataclass(frozen=True)
class SourceLine:
    id: int
    name: str
    path: str
    paragraphs: int
    succeeded: int  # under the recipe reported


@dataclass
class SectionLine:
    """Paragraphs of one section (the heading above them; None before a source's first)."""

    source: str
    position: int | None
    section: str | None
    level: int | None
    paragraphs: int = 0
    filtered: int = 0
    pending: int = 0
    succeeded: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class RunLine:
    id: int
    started_at: str
    ended_at: str | None
    status: str
    model: str
    base_url: str
    message: str | None
    rules_id: int
    attempts: int
    accepted: int
    rejected: int
    failed: int


@dataclass(frozen=True)
class ServerLine:
    """The attempts one server answered (a run may have several servers; `batch #N` for the
    results read from a batch file)."""

    server: str
    attempts: int
    failed: int
    completion_tokens: int
    mean_latency_s: float  # of its answers, failures aside


@dataclass(frozen=True)
class SkippedParagraph:
    paragraph_id: int
    source: str
    position: int
    reason: str | None  # of its last rejection
    detail: str | None
    text: str
    section: str | None


@dataclass(frozen=True)
class Report:
    """Everything `workbench report` shows, for one recipe or for the paragraphs of one run."""

    recipe: str | None  # None before the job's first run
    run: int | None
    paragraphs: ParagraphCounts
    skipped_reasons: dict[str, int]
    attempts: AttemptCounts
    # The notebook's "total retries": answers asked for again after a rejection (every
    # rejection but the last of each skipped paragraph).
    retries: int
    rejection_reasons: dict[str, int]
    failure_reasons: dict[str, int]
    # How many answers finished paragraphs needed: {"1": 700, "2": 150, …}
    attempts_per_paragraph: dict[str, int]
    tokens: Tokens
    mean_latency_s: float | None
    checks: dict[str, CheckCounts]
    sources: list[SourceLine]
    sections: list[SectionLine]
    runs: list[RunLine]
    skipped: list[SkippedParagraph]
    recipes: list[RecipeSummary]  # every recipe of the job
    # Answers a person reviewed, agreeing with the rules or overruling them, by rule.
    reviews: ReviewCounts
    servers: list[ServerLine]  # the servers that answered, most attempts first

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def target(db: Database, recipe_name: str | None, run_id: int | None) -> Recipe | None:
    """The recipe a report is about: named, the run's, or the current one (None before any)."""
    if run_id is not None:
        row = db.execute("SELECT recipe_id FROM runs WHERE id = ?", [run_id]).fetchone()
        if row is None:
            last = db.execute("SELECT max(id) FROM runs").fetchone()[0]
            raise WorkbenchError(
                f"no run #{run_id} in this job"
                + (f" (runs are #1 to #{last})" if last else ": `workbench run` makes one")
            )
        recipe = named_recipe(db, _recipe_name(db, row[0]))
        if recipe_name is not None and recipe_name != recipe.name:
            named_recipe(db, recipe_name)  # an unknown name is said as such first
            raise WorkbenchError(
                f"run #{run_id} worked recipe {recipe.name!r}, not {recipe_name!r}"
            )
        return recipe
    if recipe_name is None and not db.execute("SELECT 1 FROM recipes LIMIT 1").fetchone():
        return None
    return named_recipe(db, recipe_name)


def _recipe_name(db: Database, recipe_id: int) -> str:
    return str(db.execute("SELECT name FROM recipes WHERE id = ?", [recipe_id]).fetchone()[0])


def report(
    db: Database,
    recipe_name: str | None = None,
    *,
    run_id: int | None = None,
    skipped: int | None = None,
) -> Report:
    """The report for one recipe (the current one by default), or for the paragraphs and
    attempts of one run; `skipped` lists that many skipped paragraphs (all when None)."""
    recipe = target(db, recipe_name, run_id)
    rid = recipe.id if recipe else None
    # The paragraphs reported on: all of them, or those the run worked (with their status now).
    counted = verdict_counts(db, rid, run_id)
    statuses = paragraph_counts(db, recipe, counted=counted)
    if run_id is not None:  # only the paragraphs the run worked
        statuses[Status.PENDING] = (
            sum(n for *_, n in counted) - statuses[Status.SUCCEEDED] - statuses[Status.SKIPPED]
        )
    filtered = 0
    if run_id is None:
        filtered = db.execute("SELECT count(*) FROM paragraphs WHERE filtered = 1").fetchone()[0]
    skipped_reasons: dict[str, int] = {}
    per_paragraph: dict[str, int] = {}
    for accepted, rejected, reason, n in counted:
        if recipe is None:
            break
        status = recipe.status(accepted, rejected)
        if status == Status.SKIPPED:
            skipped_reasons[str(reason)] = skipped_reasons.get(str(reason), 0) + n
        if status != Status.PENDING:
            key = str(accepted + rejected)
            per_paragraph[key] = per_paragraph.get(key, 0) + n
    numbers = tally(db, rid, run_id)
    eligible = sum(statuses.values())
    return Report(
        recipe=recipe.name if recipe else None,
        run=run_id,
        paragraphs=ParagraphCounts(
            filtered + eligible,
            eligible,
            filtered,
            statuses[Status.PENDING],
            statuses[Status.SUCCEEDED],
            statuses[Status.SKIPPED],
        ),
        skipped_reasons=by_count(skipped_reasons),
        attempts=numbers.attempts,
        retries=max(0, numbers.attempts.rejected - statuses[Status.SKIPPED]),
        rejection_reasons=numbers.rejection_reasons,
        failure_reasons=numbers.failure_reasons,
        attempts_per_paragraph=dict(sorted(per_paragraph.items(), key=lambda i: int(i[0]))),
        tokens=numbers.tokens,
        mean_latency_s=numbers.mean_latency_s,
        checks=checks(db, rid, run_id),
        sources=_sources(db, rid, statuses[Status.SUCCEEDED]),
        sections=sections(db, recipe),
        runs=_runs(db, rid, run_id),
        skipped=skipped_paragraphs(db, rid, run_id, limit=skipped),
        recipes=recipe_summaries(db),
        reviews=review_counts(db, rid, run_id),
        servers=servers(db, rid, run_id),
    )


def servers(db: Database, recipe_id: int | None, run_id: int | None = None) -> list[ServerLine]:
    """The attempts of a recipe (or a run) per server that answered, from the counts triggers
    keep (server_tallies): how many, how many failed, tokens, mean latency."""
    return [
        ServerLine(server, attempts, failed, tokens, round(latency / max(attempts - failed, 1), 3))
        for server, attempts, failed, tokens, latency in db.execute(
            """
            SELECT server, sum(attempts), sum(failed), sum(completion_tokens), sum(latency_s)
            FROM server_tallies WHERE recipe_id IS ? AND (? IS NULL OR run_id = ?)
            GROUP BY server ORDER BY 2 DESC, 1
            """,
            [recipe_id, run_id, run_id],
        )
    ]


def checks(
    db: Database, recipe_id: int | None, run_id: int | None = None
) -> dict[str, CheckCounts]:
    """The requests rules sent (the judge, an embeddings model) by kind: how many, how many
    failed, their tokens and mean latency. They cost what the answers cost: count them."""
    return {
        kind: CheckCounts(requests, failed, prompt, completion, round(latency, 3))
        for kind, requests, failed, prompt, completion, latency in db.execute(
            """
            SELECT c.kind, count(*), sum(c.error IS NOT NULL), coalesce(sum(c.prompt_tokens), 0),
                coalesce(sum(c.completion_tokens), 0), avg(c.latency_s)
            FROM checks c JOIN runs r ON r.id = c.run_id
            WHERE r.recipe_id IS ? AND (? IS NULL OR r.id = ?)
            GROUP BY c.kind ORDER BY c.kind
            """,
            [recipe_id, run_id, run_id],
        )
    }


def _sources(db: Database, recipe_id: int | None, succeeded: int) -> list[SourceLine]:
    rows = list(
        db.execute("SELECT id, name, path, paragraph_count FROM sources ORDER BY id").fetchall()
    )
    if len(rows) == 1:  # one book: its successes are the recipe's, no join needed
        [(id_, name, path, count)] = rows
        return [SourceLine(id_, name, path, count, succeeded)]
    found = dict(
        db.execute(
            "SELECT p.source_id, count(*) FROM progress_status g "
            "JOIN paragraphs p ON p.id = g.paragraph_id "
            "WHERE g.recipe_id IS ? AND g.status = 'succeeded' GROUP BY p.source_id",
            [recipe_id],
        ).fetchall()
    )
    return [
        SourceLine(id_, name, path, count, found.get(id_, 0)) for id_, name, path, count in rows
    ]


def sections(db: Database, recipe: Recipe | None) -> list[SectionLine]:
    """Paragraphs by section (the heading above them; None before a source's first) and by
    status under a recipe, in book order: where a book's skipped paragraphs cluster."""
    if db.execute("SELECT NOT EXISTS (SELECT 1 FROM sections)").fetchone()[0]:
        return []
    found: dict[tuple[int, int | None], SectionLine] = {}
    for (
        source, source_id, section_id, position, title, level, filtered, accepted, rejected, n,
    ) in db.execute(
        """
        SELECT s.name, p.source_id, p.section_id, c.position, c.title, c.level, p.filtered,
            g.accepted, g.rejected, count(*)
        FROM paragraphs p
        JOIN sources s ON s.id = p.source_id
        LEFT JOIN sections c ON c.id = p.section_id
        LEFT JOIN progress g ON g.paragraph_id = p.id AND g.recipe_id IS :recipe
        GROUP BY p.source_id, p.section_id, p.filtered, g.accepted, g.rejected
        """,
        {"recipe": recipe.id if recipe else None},
    ):  # fmt: skip
        line = found.setdefault(
            (source_id, section_id), SectionLine(source, position, title, level)
        )
        line.paragraphs += n
        if filtered:
            line.filtered += n
        elif recipe is None or accepted is None:
            line.pending += n
        else:
            status = recipe.status(accepted, rejected)
            setattr(line, status.value, getattr(line, status.value) + n)
    order = sorted(found, key=lambda key: (key[0], found[key].position or 0))
    return [found[key] for key in order]


def _runs(db: Database, recipe_id: int | None, run_id: int | None) -> list[RunLine]:
    return [
        RunLine(*row)
        for row in db.execute(
            """
            SELECT r.id, r.started_at, r.ended_at, r.status, c.model, r.base_url, r.message,
                r.rules_id, coalesce(t.attempts, 0), coalesce(t.accepted, 0),
                coalesce(t.rejected, 0), coalesce(t.failed, 0)
            FROM runs r JOIN recipes c ON c.id = r.recipe_id
            LEFT JOIN (
                SELECT run_id, sum(attempts) AS attempts,
                    sum(attempts * (outcome = 'accepted')) AS accepted,
                    sum(attempts * (outcome = 'rejected')) AS rejected,
                    sum(attempts * (outcome = 'failed')) AS failed
                FROM tallies GROUP BY run_id
            ) t ON t.run_id = r.id
            WHERE r.recipe_id IS :recipe AND (:run IS NULL OR r.id = :run)
            ORDER BY r.id
            """,
            {"recipe": recipe_id, "run": run_id},
        )
    ]


def skipped_paragraphs(
    db: Database, recipe_id: int | None, run_id: int | None = None, limit: int | None = None
) -> list[SkippedParagraph]:
    """The skipped paragraphs of a recipe (of those a run worked), in order, with why."""
    worked = (
        "AND g.paragraph_id IN (SELECT paragraph_id FROM attempts WHERE run_id = :run)"
        if run_id is not None
        else ""
    )
    return [
        SkippedParagraph(*row)
        for row in db.execute(
            f"""
            SELECT g.paragraph_id, s.name, p.position, g.last_reason,
                (SELECT v.detail FROM verdicts v WHERE v.paragraph_id = g.paragraph_id
                 AND v.recipe_id = g.recipe_id AND v.outcome = 'rejected'
                 ORDER BY v.attempt_number DESC LIMIT 1),
                p.text,
                (SELECT c.title FROM sections c WHERE c.id = p.section_id)
            FROM progress_status g
            JOIN paragraphs p ON p.id = g.paragraph_id
            JOIN sources s ON s.id = p.source_id
            WHERE g.recipe_id IS :recipe AND g.status = 'skipped' {worked}
            ORDER BY g.paragraph_id
            {"LIMIT :limit" if limit is not None else ""}
            """,
            {"recipe": recipe_id, "run": run_id, "limit": limit},
        )
    ]


def format_report(data: Report) -> str:
    """The report as text for people."""
    p, a = data.paragraphs, data.attempts
    others = [r.name for r in data.recipes if r.name != data.recipe]
    lines = [
        f"Recipe      {data.recipe or '(none yet: `workbench run` makes one)'}"
        + (f"  (others: {', '.join(others)}; --recipe NAME, --compare)" if others else "")
        + (f"  run #{data.run}: the paragraphs it worked" if data.run else ""),
        f"Paragraphs  {p.total:>7,}",
        f"  filtered  {p.filtered:>7,}  (too short to send)",
        f"  eligible  {p.eligible:>7,}",
        f"    succeeded {p.succeeded:>5,}",
        f"    skipped   {p.skipped:>5,}",
        f"    pending   {p.pending:>5,}",
        f"Attempts    {a.total:>7,}  accepted {a.accepted:,} · rejected {a.rejected:,}"
        f" · failed {a.failed:,}",
        f"Retries     {data.retries:>7,}  (answers asked for again after a rejection)",
        f"Tokens      prompt {data.tokens.prompt:,} · completion {data.tokens.completion:,}"
        + (f" · mean latency {data.mean_latency_s:.2f} s" if data.mean_latency_s else ""),
    ]
    for kind, c in data.checks.items():
        lines.append(
            f"Checks      {kind}: {c.requests:,} requests ({c.failed:,} failed) · prompt "
            f"{c.prompt_tokens:,} · completion {c.completion_tokens:,} · mean latency "
            f"{c.mean_latency_s:.2f} s"
        )
    lines += format_review_counts(data.reviews)
    for title, found in (
        ("Rejection reasons", data.rejection_reasons),
        ("Failure reasons", data.failure_reasons),
        ("Skipped paragraphs by reason", data.skipped_reasons),
    ):
        if found:
            lines.append(title)
            lines.extend(f"  {code:<22} {count:>6,}" for code, count in found.items())
    if data.attempts_per_paragraph:
        lines.append(
            "Answers per finished paragraph  "
            + " · ".join(f"{n}: {count:,}" for n, count in data.attempts_per_paragraph.items())
        )
    if data.runs:
        lines.append("Runs")
        for run in data.runs:
            lines.append(
                f"  #{run.id} {run.started_at[:19].replace('T', ' ')} {run.status:<11} "
                f"{run.model}  {run.attempts:,} attempts ({run.accepted:,} accepted)"
                + (f"  {run.message}" if run.message else "")
            )
    if data.servers:
        lines.append("Servers")
        for line in data.servers:
            lines.append(
                f"  {line.server}  {line.attempts:,} attempts ({line.failed:,} failed) · "
                f"mean latency {line.mean_latency_s:.2f} s"
            )
    lines += _skipped_lines(data.skipped, p.skipped)
    return "\n".join(lines)


def _skipped_lines(skipped: list[SkippedParagraph], total: int) -> list[str]:
    if not skipped:
        return []
    more = total - min(len(skipped), SKIPPED_SHOWN)
    lines = [
        "Skipped"
        + (
            f" (the first {SKIPPED_SHOWN} of {total:,}: all of them in "
            "`workbench report --json` or `workbench browse`, Skipped paragraphs)"
            if more > 0
            else ""
        )
    ]
    for row in skipped[:SKIPPED_SHOWN]:
        preview = row.text[:60] + ("…" if len(row.text) > 60 else "")
        section = row.section or ""
        section = section if len(section) <= 30 else section[:29] + "…"
        lines.append(
            f"  {row.source} ¶{row.position}"
            + (f" [{section}]" if section else "")
            + f" {row.reason}: {row.detail}  {preview!r}"
        )
    if more > 0:
        lines.append(f"  … and {more:,} more")
    return lines
