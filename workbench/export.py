"""Export: the notebook's JSONL, one line per accepted answer of a recipe, in source order.

Each line pairs the LLM's paraphrase (the prompt) with the author's original (the target):
{"text": "<human>: Rephrase the following text in the style of AUTHOR: PARAPHRASE\n<bot>: ORIGINAL",
 "metadata": {"source": "LABEL"}}
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from workbench.errors import WorkbenchError
from workbench.recipes import named_recipe, stored_recipes

DEFAULT_AUTHOR = "the original author"
DEFAULT_OUTPUT = "output.jsonl"


def pair_line(paraphrase: str, original: str, *, author: str, source: str) -> str:
    """One JSONL line, exactly as the notebook wrote it."""
    prompt = f"<human>: Rephrase the following text in the style of {author}: {paraphrase}"
    text = f"{prompt}\n<bot>: {original}"
    return json.dumps({"text": text, "metadata": {"source": source}}, ensure_ascii=False)


ALL_RECIPES = "all"


def pair_rows(db: Database, recipe: str | None = None) -> Iterator[dict[str, Any]]:
    """The pairs of a recipe (the current one when None, every one with "all"), in order.

    An unknown recipe raises at once, before anything is written."""
    if recipe == ALL_RECIPES:
        return db.query("SELECT * FROM pairs")
    if recipe is None and not stored_recipes(db):
        return iter(())  # no run yet: no pairs
    return db.query("SELECT * FROM pairs WHERE recipe = ?", [named_recipe(db, recipe).name])


def pair_lines(
    db: Database,
    *,
    author: str = DEFAULT_AUTHOR,
    source_label: str | None = None,
    recipe: str | None = None,
) -> Iterator[str]:
    return (
        pair_line(
            row["paraphrase"], row["original"], author=author, source=source_label or row["source"]
        )
        for row in pair_rows(db, recipe)
    )


def export(
    db: Database,
    output: str | os.PathLike[str] = DEFAULT_OUTPUT,
    *,
    author: str = DEFAULT_AUTHOR,
    source_label: str | None = None,
    recipe: str | None = None,
) -> int:
    """Write the pairs of a recipe to `output` ("-" for stdout) and return how many.

    A file is written to a temporary name beside it and renamed into place, so a reader never
    sees half a file and a failed export leaves the previous one intact.
    """
    lines = pair_lines(db, author=author, source_label=source_label, recipe=recipe)
    if str(output) == "-":
        count = 0
        for line in lines:
            sys.stdout.write(line + "\n")
            count += 1
        sys.stdout.flush()
        return count
    target = Path(output)
    if target.is_dir():
        raise WorkbenchError(f"--output {target} is a folder; give a file name")
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.",
            suffix=".tmp",
            dir=target.parent if str(target.parent) else ".",
        )
    except OSError as e:
        raise WorkbenchError(f"cannot write {target}: {e.strerror}") from None
    count = 0
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as f:
            for line in lines:
                f.write(line + "\n")
                count += 1
        Path(temporary).chmod(0o666 & ~_umask())  # mkstemp makes 0600; give a file's usual mode
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
