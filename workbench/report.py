"""Report: the notebook's summary and more, read from the database alone."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

STATUSES = ("filtered", "pending", "succeeded", "skipped")
OUTCOMES = ("accepted", "rejected", "failed")


def _counts(db: Database, sql: str) -> dict[str, int]:
    return {str(key): count for key, count in db.execute(sql).fetchall()}


def report(db: Database) -> dict[str, Any]:
    """Everything `workbench report` shows, as one JSON-ready dict."""
    by_status = _counts(db, "SELECT status, count(*) FROM paragraphs GROUP BY status")
    paragraphs = {status: by_status.get(status, 0) for status in STATUSES}
    eligible = paragraphs["pending"] + paragraphs["succeeded"] + paragraphs["skipped"]
    by_outcome = _counts(db, "SELECT outcome, count(*) FROM attempts GROUP BY outcome")
    attempts = {outcome: by_outcome.get(outcome, 0) for outcome in OUTCOMES}
    prompt_tokens, completion_tokens, mean_latency = db.execute(
        "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), "
        "avg(latency_s) FROM attempts WHERE outcome != 'failed'"
    ).fetchone()
    return {
        "paragraphs": {
            "total": paragraphs["filtered"] + eligible,
            "eligible": eligible,
            **paragraphs,
        },
        "skipped_reasons": _counts(
            db,
            "SELECT skip_reason, count(*) FROM paragraphs WHERE status = 'skipped' "
            "GROUP BY skip_reason ORDER BY count(*) DESC, skip_reason",
        ),
        "attempts": {"total": sum(attempts.values()), **attempts},
        # The notebook's "total retries": answers asked for again after a rejection.
        "retries": db.execute(
            "SELECT coalesce(sum(validated_attempts - 1), 0) FROM paragraph_progress "
            "WHERE validated_attempts > 0"
        ).fetchone()[0],
        "rejection_reasons": _counts(
            db,
            "SELECT reason, count(*) FROM attempts WHERE outcome = 'rejected' "
            "GROUP BY reason ORDER BY count(*) DESC, reason",
        ),
        "failure_reasons": _counts(
            db,
            "SELECT reason, count(*) FROM attempts WHERE outcome = 'failed' "
            "GROUP BY reason ORDER BY count(*) DESC, reason",
        ),
        # How many answers finished paragraphs needed: {"1": 700, "2": 150, …}
        "attempts_per_paragraph": _counts(
            db,
            "SELECT validated_attempts, count(*) FROM paragraph_progress "
            "WHERE status IN ('succeeded', 'skipped') GROUP BY validated_attempts "
            "ORDER BY validated_attempts",
        ),
        "tokens": {"prompt": prompt_tokens, "completion": completion_tokens},
        "mean_latency_s": round(mean_latency, 3) if mean_latency is not None else None,
        "sources": [
            dict(row)
            for row in db.query(
                "SELECT s.id, s.name, s.path, count(p.id) AS paragraphs, "
                "coalesce(sum(p.status = 'succeeded'), 0) AS succeeded "
                "FROM sources s LEFT JOIN paragraphs p ON p.source_id = s.id "
                "GROUP BY s.id ORDER BY s.id"
            )
        ],
        "runs": [
            dict(row)
            for row in db.query(
                "SELECT r.id, r.started_at, r.ended_at, r.status, r.model, r.base_url, r.message, "
                "count(a.id) AS attempts, coalesce(sum(a.outcome = 'accepted'), 0) AS accepted, "
                "coalesce(sum(a.outcome = 'rejected'), 0) AS rejected, "
                "coalesce(sum(a.outcome = 'failed'), 0) AS failed "
                "FROM runs r LEFT JOIN attempts a ON a.run_id = r.id GROUP BY r.id ORDER BY r.id"
            )
        ],
        "skipped": [
            dict(row)
            for row in db.query(
                """
                SELECT p.id AS paragraph_id, s.name AS source, p.position, p.skip_reason AS reason,
                    (SELECT a.detail FROM attempts a WHERE a.paragraph_id = p.id
                     AND a.outcome = 'rejected' ORDER BY a.attempt_number DESC LIMIT 1) AS detail,
                    p.text
                FROM paragraphs p JOIN sources s ON s.id = p.source_id
                WHERE p.status = 'skipped' ORDER BY s.id, p.position
                """
            )
        ],
    }


def format_report(data: dict[str, Any]) -> str:
    """The report as text for people."""
    p, a = data["paragraphs"], data["attempts"]
    lines = [
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
    for title, counts in (
        ("Rejection reasons", data["rejection_reasons"]),
        ("Failure reasons", data["failure_reasons"]),
        ("Skipped paragraphs by reason", data["skipped_reasons"]),
    ):
        if counts:
            lines.append(title)
            lines.extend(f"  {code:<22} {count:>6,}" for code, count in counts.items())
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
    if data["skipped"]:
        lines.append("Skipped")
        for row in data["skipped"]:
            preview = row["text"][:60] + ("…" if len(row["text"]) > 60 else "")
            lines.append(
                f"  {row['source']} ¶{row['position']} {row['reason']}: {row['detail']}"
                f"  {preview!r}"
            )
    return "\n".join(lines)


def report_json(db: Database) -> str:
    return json.dumps(report(db), ensure_ascii=False, indent=2)
