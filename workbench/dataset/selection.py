"""The pairs an export reads: recipes, sources, sections and lengths resolved, as one SQL query.

One pass over the `pairs` view in source order: for each answer, its texts when every filter
keeps it, and which filters leave it out (so the statistics can say why); whether its original
repeats an earlier paragraph's (--dedupe); its paragraph's identity hash (--split, varied
instructions) and its section's place in its source (--split-by section).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from workbench.dataset.options import ALL_RECIPES, ExportOptions
from workbench.engine.recipes import Recipe, named_recipe, stored_recipes
from workbench.errors import WorkbenchError


@dataclass(frozen=True)
class Selection:
    """The rows to read, resolved against the database: recipes, sources, sections, words."""

    recipes: list[Recipe]  # empty with "all" or before any run
    all_recipes: bool
    source_ids: list[int] | None  # None: every source
    section_ids: list[int] | None
    min_words: int | None
    max_words: int | None
    reviewed_only: bool = False  # only pairs a person accepted by hand

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


def select(db: Database, options: ExportOptions) -> Selection:
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
        recipes, all_recipes, source_ids, section_ids, options.min_words, options.max_words,
        options.reviewed_only,
    )  # fmt: skip


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


def pairs_query(
    selection: Selection,
    *,
    dedupe: bool,
    identity: bool,
    section_position: bool = False,
    texts: bool = True,
) -> tuple[str, list[Any]]:
    """One pass over the pairs of the recipes exported, in source order: for each, the texts
    when every filter keeps it (NULL without `texts`, for a pass that only counts), and which
    filters leave it out; whether its original repeats an earlier paragraph's (--dedupe); its
    paragraph's identity hash and its section's position, when asked for (NULL otherwise)."""
    filters = selection.filters()
    kept = " AND ".join(f"({condition})" for condition, _ in filters)
    kept_params = [p for _, params in filters for p in params]
    recipe_ids = selection.recipe_ids
    where = f"WHERE recipe_id IN ({_marks(recipe_ids)})" if recipe_ids is not None else ""
    if selection.reviewed_only:  # the pairs a person accepted: the others are not read at all
        where += (" AND " if where else "WHERE ") + "reviewer IS NOT NULL"
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
    hash_column = (
        "(SELECT p.sha256 FROM paragraphs p WHERE p.id = pairs.paragraph_id)"
        if identity
        else "NULL"
    )
    position = (
        "(SELECT c.position FROM sections c WHERE c.id = pairs.section_id)"
        if section_position
        else "NULL"
    )
    text_columns, text_params = "NULL, NULL", []
    if texts:
        text_columns = f"CASE WHEN {kept} THEN paraphrase END, CASE WHEN {kept} THEN original END"
        text_params = [*kept_params, *kept_params]
    sql = f"""{with_clause}
        SELECT paragraph_id, recipe, source, section, {text_columns},
            {", ".join(f"NOT ({condition})" for condition, _ in filters)}, {repeated},
            {hash_column}, {position}
        FROM pairs {where}
        ORDER BY source_id, position, paragraph_id, recipe_id, attempt_number
    """
    return sql, [*with_params, *text_params, *kept_params, *recipe_params]
