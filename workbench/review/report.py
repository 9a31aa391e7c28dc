"""Report: the notebook's summary and more, for one recipe (or one run), read from the database.

Every number comes from the counts that triggers keep (`tallies` per recipe, run, outcome and
reason; `progress` per paragraph and recipe), never from a scan of the attempts, whose rows
carry every request and response: a job of a million paragraphs reports in well under a second.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from sqlite_utils import Database

from workbench.errors import WorkbenchError
from workbench.engine.recipes import (
    Recipe,
    named_recipe,
    paragraph_counts,
    stored_recipes,
    verdict_counts,
)

OUTCOMES = ("accepted", "rejected", "failed")
SKIPPED_SHOWN = 20  # the text form lists this many skipped paragraphs, and says how many more


def by_count(found: dict[str, int]) -> dict[str, int]:
    """Most first, then by name."""
    return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))


def counts(db: Database, sql: str, params: list[Any] | None = None) -> dict[str, int]:
    return {str(key): count for key, count in db.execute(sql, params or []).fetchall()}


def tally(db: Database, recipe_id: int | None, run_id: int | None = None) -> dict[str, Any]:
    """A recipe's (or a run's) attempts by outcome and reason, tokens and mean latency."""
    rows = db.execute(
        "SELECT outcome, reason, attempts, prompt_tokens, completion_tokens, latency_s "
        "FROM tallies WHERE recipe_id IS ? AND (? IS NULL OR run_id = ?)",
        [recipe_id, run_id, run_id],
    ).fetchall()
    attempts = dict.fromkeys(OUTCOMES, 0)
    reasons: dict[str, dict[str, int]] = {"rejected": {}, "failed": {}}
    prompt = completion = validated = 0
    latency = 0.0
    for outcome, reason, n, prompt_tokens, completion_tokens, latency_s in rows:
        attempts[outcome] += n
        if outcome in reasons:
            reasons[outcome][reason] = reasons[outcome].get(reason, 0) + n
        if outcome != "failed":  # what a failed request costs is not the model's
            prompt, completion = prompt + prompt_tokens, completion + completion_tokens
            validated, latency = validated + n, latency + latency_s
    return {
        "attempts": {"total": sum(attempts.values()), **attempts},
        "rejection_reasons": by_count(reasons["rejected"]),
        "failure_reasons": by_count(reasons["failed"]),
        "tokens": {"prompt": prompt, "completion": completion},
        "mean_latency_s": round(latency / validated, 3) if validated else None,
    }


def _target(db: Database, recipe_name: str | None, run_id: int | None) -> Recipe | None:
    """The recipe a report is about: named, the run's, or the current one (None before any)."""
    if run_id is not None:
        row = db.execute("SELECT recipe_id FROM runs WHERE id = ?", [run_id]).fetchone()
        if row is None:
            last = db.execute("SELECT max(id) FROM runs").fetchone()[0]
            raise WorkbenchError(
                f"no run #{run_id} in this job"
                + (f" (runs are #1 to #{last})" if last else ": `workbench run` makes one")
            )
        recipe = next(r for r in stored_recipes(db) if r.id == row[0])
        if recipe_name is not None and recipe_name != recipe.name:
            named_recipe(db, recipe_name)  # an unknown name is said as such first
            raise WorkbenchError(
                f"run #{run_id} worked recipe {recipe.name!r}, not {recipe_name!r}"
            )
        return recipe
    if recipe_name is None and not stored_recipes(db):
        return None
    return named_recipe(db, recipe_name)


def report(
    db: Database,
    recipe_name: str | None = None,
    *,
    run_id: int | None = None,
    skipped: int | None = None,
) -> dict[str, Any]:
    """Everything `workbench report` shows, as one JSON-ready dict: for one recipe (the current
    one by default), or for the paragraphs and attempts of one run. `recipes` lists every
    recipe of the job; `skipped` lists that many skipped paragraphs (all when None)."""
    from workbench.review.compare import recipe_summaries

    recipe = _target(db, recipe_name, run_id)
    rid = recipe.id if recipe else None
    # The paragraphs reported on: all of them, or those the run worked (with their status now).
    counted = verdict_counts(db, rid, run_id)
    statuses = paragraph_counts(db, recipe, counted=counted)
    if run_id is not None:  # only the paragraphs the run worked
        statuses["pending"] = (
            sum(n for *_, n in counted) - statuses["succeeded"] - statuses["skipped"]
        )
    filtered = db.execute("SELECT count(*) FROM paragraphs WHERE filtered = 1").fetchone()[0]
    skipped_reasons: dict[str, int] = {}
    per_paragraph: dict[str, int] = {}
    for accepted, rejected, reason, n in counted if recipe else ():
        status = recipe.status(accepted, rejected)
        if status == "skipped":
            skipped_reasons[str(reason)] = skipped_reasons.get(str(reason), 0) + n
        if status != "pending":
            key = str(accepted + rejected)
            per_paragraph[key] = per_paragraph.get(key, 0) + n
    numbers = tally(db, rid, run_id)
    return {
        "recipe": recipe.name if recipe else None,
        "run": run_id,
        "paragraphs": {
            "total": (filtered if run_id is None else 0) + sum(statuses.values()),
            "eligible": sum(statuses.values()),
            "filtered": filtered if run_id is None else 0,
            **statuses,
        },
        "skipped_reasons": by_count(skipped_reasons),
        "attempts": numbers["attempts"],
        # The notebook's "total retries": answers asked for again after a rejection (every
        # rejection but the last of each skipped paragraph).
        "retries": max(0, numbers["attempts"]["rejected"] - statuses["skipped"]),
        "rejection_reasons": numbers["rejection_reasons"],
        "failure_reasons": numbers["failure_reasons"],
        # How many answers finished paragraphs needed: {"1": 700, "2": 150, …}
        "attempts_per_paragraph": dict(sorted(per_paragraph.items(), key=lambda i: int(i[0]))),
        "tokens": numbers["tokens"],
        "mean_latency_s": numbers["mean_latency_s"],
        "checks": checks(db, rid, run_id),
        "sources": _sources(db, rid, statuses["succeeded"]),
        "sections": sections(db, recipe),
        "runs": _runs(db, rid, run_id),
        "skipped": skipped_paragraphs(db, rid, run_id, limit=skipped),
        "recipes": recipe_summaries(db),
    }


def checks(db: Database, recipe_id: int | None, run_id: int | None = None) -> dict[str, Any]:
    """The requests rules sent (the judge, an embeddings model) by kind: how many, how many
    failed, their tokens and mean latency. They cost what the answers cost: count them."""
    found = {}
    for kind, requests, failed, prompt, completion, latency in db.execute(
        """
        SELECT c.kind, count(*), sum(c.error IS NOT NULL), coalesce(sum(c.prompt_tokens), 0),
            coalesce(sum(c.completion_tokens), 0), avg(c.latency_s)
        FROM checks c JOIN runs r ON r.id = c.run_id
        WHERE r.recipe_id IS ? AND (? IS NULL OR r.id = ?)
        GROUP BY c.kind ORDER BY c.kind
        """,
        [recipe_id, run_id, run_id],
    ):
        found[kind] = {
            "requests": requests,
            "failed": failed,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "mean_latency_s": round(latency, 3),
        }
    return found


def _sources(db: Database, recipe_id: int | None, succeeded: int) -> list[dict[str, Any]]:
    rows = [
        dict(row)
        for row in db.query(
            "SELECT s.id, s.name, s.path, s.paragraph_count AS paragraphs, 0 AS succeeded "
            "FROM sources s ORDER BY s.id"
        )
    ]
    if len(rows) == 1:  # one book: its successes are the recipe's, no join needed
        rows[0]["succeeded"] = succeeded
    elif rows:
        succeeded = counts(
            db,
            "SELECT p.source_id, count(*) FROM progress_status g "
            "JOIN paragraphs p ON p.id = g.paragraph_id "
            "WHERE g.recipe_id IS ? AND g.status = 'succeeded' GROUP BY p.source_id",
            [recipe_id],
        )
        for row in rows:
            row["succeeded"] = succeeded.get(str(row["id"]), 0)
    return rows


def sections(db: Database, recipe: Recipe | None) -> list[dict[str, Any]]:
    """Paragraphs by section (the heading above them; None before a source's first) and by
    status under a recipe, in book order: where a book's skipped paragraphs cluster."""
    if db.execute("SELECT NOT EXISTS (SELECT 1 FROM sections)").fetchone()[0]:
        return []
    found: dict[tuple[int, int | None], dict[str, Any]] = {}
    for (
        source,
        source_id,
        section_id,
        position,
        title,
        level,
        filtered,
        accepted,
        rejected,
        n,
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
    ):
        row = found.setdefault(
            (source_id, section_id),
            {"source": source, "position": position, "section": title, "level": level,
             "paragraphs": 0, "filtered": 0, "pending": 0, "succeeded": 0, "skipped": 0},
        )  # fmt: skip
        row["paragraphs"] += n
        if filtered:
            row["filtered"] += n
        elif recipe is None or accepted is None:
            row["pending"] += n
        else:
            row[recipe.status(accepted, rejected)] += n
    order = sorted(found, key=lambda key: (key[0], found[key]["position"] or 0))
    return [found[key] for key in order]


def _runs(db: Database, recipe_id: int | None, run_id: int | None) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in db.query(
            """
            SELECT r.id, r.started_at, r.ended_at, r.status, c.model, r.base_url, r.message,
                r.rules_id, coalesce(t.attempts, 0) AS attempts,
                coalesce(t.accepted, 0) AS accepted, coalesce(t.rejected, 0) AS rejected,
                coalesce(t.failed, 0) AS failed
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
) -> list[dict[str, Any]]:
    """The skipped paragraphs of a recipe (of those a run worked), in order, with why."""
    worked = (
        "AND g.paragraph_id IN (SELECT paragraph_id FROM attempts WHERE run_id = :run)"
        if run_id is not None
        else ""
    )
    return [
        dict(row)
        for row in db.query(
            f"""
            SELECT g.paragraph_id, s.name AS source, p.position, g.last_reason AS reason,
                (SELECT a.detail FROM attempts a WHERE a.paragraph_id = g.paragraph_id
                 AND a.recipe_id = g.recipe_id AND a.outcome = 'rejected'
                 ORDER BY a.attempt_number DESC LIMIT 1) AS detail,
                p.text,
                (SELECT c.title FROM sections c WHERE c.id = p.section_id) AS section
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


def examples(
    db: Database, reason: str, show: int, recipe_name: str | None = None, run_id: int | None = None
) -> dict[str, Any]:
    """The latest `show` answers judged `reason` (a rule's code, or a failure's), each with
    its original, answer and detail: what a rule really rejects."""
    recipe = _target(db, recipe_name, run_id)
    if show < 1:
        raise WorkbenchError("--show must be at least 1")
    rid = recipe.id if recipe else None
    found = counts(
        db,
        "SELECT reason, sum(attempts) FROM tallies WHERE recipe_id IS ? "
        "AND outcome != 'accepted' AND (? IS NULL OR run_id = ?) GROUP BY reason",
        [rid, run_id, run_id],
    )
    if reason not in found:
        where = f"recipe {recipe.name!r}" if recipe else "this job"
        raise WorkbenchError(
            f"no answer under {where} was rejected or failed for {reason!r}"
            + (f"; the reasons are: {', '.join(sorted(found))}" if found else "")
        )
    rows = db.query(
        """
        SELECT a.id AS attempt_id, a.paragraph_id, s.name AS source, p.position, a.run_id,
            a.attempt_number, a.outcome, a.reason, a.detail, p.text AS original,
            coalesce(a.cleaned, a.answer) AS answer
        FROM attempts a
        JOIN paragraphs p ON p.id = a.paragraph_id
        JOIN sources s ON s.id = p.source_id
        WHERE a.recipe_id IS :recipe AND a.reason = :reason AND a.outcome != 'accepted'
          AND (:run IS NULL OR a.run_id = :run)
        ORDER BY a.id DESC LIMIT :show
        """,
        {"recipe": rid, "reason": reason, "run": run_id, "show": show},
    )
    return {
        "recipe": recipe.name if recipe else None,
        "reason": reason,
        "total": found[reason],
        "examples": [dict(row) for row in rows],
    }


def format_examples(data: dict[str, Any], width: int = 100) -> str:
    shown = len(data["examples"])
    lines = [
        f"{data['reason']}: {data['total']:,} answer{'s' * (data['total'] != 1)} under recipe "
        f"{data['recipe']!r}; the latest {shown}:"
    ]
    for row in data["examples"]:
        lines += [
            "",
            f"── attempt {row['attempt_id']} · {row['source']} ¶{row['position']} · answer "
            f"{row['attempt_number']} of run #{row['run_id']} · {row['outcome']}: {row['detail']}",
            *_block("original", row["original"], width),
            *_block("answer", row["answer"] or "(none)", width),
        ]
    return "\n".join(lines)


def _block(label: str, text: str, width: int) -> list[str]:
    lines = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, width - 11) or [""]
    return [f"{label + ':':<10} {lines[0]}", *(" " * 11 + line for line in lines[1:])]


def format_report(data: dict[str, Any]) -> str:
    """The report as text for people."""
    p, a = data["paragraphs"], data["attempts"]
    others = [r["name"] for r in data["recipes"] if r["name"] != data["recipe"]]
    lines = [
        f"Recipe      {data['recipe'] or '(none yet: `workbench run` makes one)'}"
        + (f"  (others: {', '.join(others)}; --recipe NAME, --compare)" if others else "")
        + (f"  run #{data['run']}: the paragraphs it worked" if data["run"] else ""),
        f"Paragraphs  {p['total']:>7,}",
        f"  filtered  {p['filtered']:>7,}  (too short to send)",
        f"  eligible  {p['eligible']:>7,}",
        f"    succeeded {p['succeeded']:>5,}",
        f"    skipped   {p['skipped']:>5,}",
        f"    pending   {p['pending']:>5,}",
        f"Attempts    {a['total']:>7,}  accepted {a['accepted']:,} · rejected {a['rejected']:,}"
        f" · failed {a['failed']:,}",
        f"Retries     {data['retries']:>7,}  (answers asked for again after a rejection)",
        f"Tokens      prompt {data['tokens']['prompt']:,} · completion "
        f"{data['tokens']['completion']:,}"
        + (f" · mean latency {data['mean_latency_s']:.2f} s" if data["mean_latency_s"] else ""),
    ]
    for kind, c in data["checks"].items():
        lines.append(
            f"Checks      {kind}: {c['requests']:,} requests ({c['failed']:,} failed) · prompt "
            f"{c['prompt_tokens']:,} · completion {c['completion_tokens']:,} · mean latency "
            f"{c['mean_latency_s']:.2f} s"
        )
    for title, found in (
        ("Rejection reasons", data["rejection_reasons"]),
        ("Failure reasons", data["failure_reasons"]),
        ("Skipped paragraphs by reason", data["skipped_reasons"]),
    ):
        if found:
            lines.append(title)
            lines.extend(f"  {code:<22} {count:>6,}" for code, count in found.items())
    if data["attempts_per_paragraph"]:
        lines.append(
            "Answers per finished paragraph  "
            + " · ".join(f"{n}: {count:,}" for n, count in data["attempts_per_paragraph"].items())
        )
    if data["runs"]:
        lines.append("Runs")
        for run in data["runs"]:
            lines.append(
                f"  #{run['id']} {run['started_at'][:19].replace('T', ' ')} {run['status']:<11} "
                f"{run['model']}  {run['attempts']:,} attempts ({run['accepted']:,} accepted)"
                + (f"  {run['message']}" if run["message"] else "")
            )
    skipped, total = data["skipped"], data["paragraphs"]["skipped"]
    if skipped:
        more = total - min(len(skipped), SKIPPED_SHOWN)
        lines.append(
            "Skipped"
            + (
                f" (the first {SKIPPED_SHOWN} of {total:,}: all of them in "
                "`workbench report --json` or `workbench browse`, Skipped paragraphs)"
                if more > 0
                else ""
            )
        )
        for row in skipped[:SKIPPED_SHOWN]:
            preview = row["text"][:60] + ("…" if len(row["text"]) > 60 else "")
            section = row["section"] or ""
            section = section if len(section) <= 30 else section[:29] + "…"
            lines.append(
                f"  {row['source']} ¶{row['position']}"
                + (f" [{section}]" if section else "")
                + f" {row['reason']}: {row['detail']}  {preview!r}"
            )
        if more > 0:
            lines.append(f"  … and {more:,} more")
    return "\n".join(lines)


def report_json(db: Database, recipe_name: str | None = None, run_id: int | None = None) -> str:
    return json.dumps(report(db, recipe_name, run_id=run_id), ensure_ascii=False, indent=2)


def report_text(db: Database, recipe_name: str | None = None, run_id: int | None = None) -> str:
    return format_report(report(db, recipe_name, run_id=run_id, skipped=SKIPPED_SHOWN))
