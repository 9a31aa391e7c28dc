"""workbench's own Datasette plugin: what a canned query cannot render by itself.

`workbench browse` registers this module with Datasette's plugin manager when it starts; it
has no entry point, so it never loads into anyone else's Datasette. Query authors only write
SQL, following the conventions set in datasette.yaml under `plugins: workbench:`:

- `diff: [original, answer]`: a result row with both columns shows them side by side as a
  word diff: the words the answer dropped struck out in the original (`<del>`), the words it
  added marked in the answer (`<ins>`). Everything is escaped; line breaks are kept.
- `links`: a column with one of these names becomes a link, e.g. `history` (a paragraph id) to
  that paragraph's history page. `path` and `label` are templates, `{}` the cell's value.
- `row_links`: links on one row's page, e.g. from a paragraph's page to its history; `{}` is
  the row's primary key.
- `hide_in_lists`: columns a table's list page leaves out (the request and response JSON of
  attempts); each row's own page still shows them, pretty-printed by datasette-pretty-json.
- `label_words`: a foreign key's label (a paragraph's text) is cut to its first words.
- `controls`: a column of attempt ids shown as the buttons that accept, reject or repair each
  answer (and templates/query.html adds the form they submit, with Datasette's CSRF token, and
  the bulk buttons), when browse allows writes: `writes: true`, set by browse with `reviewer`.
  The form posts to /-/workbench/review (datasette_review.py).

Its CSS (datasette.css beside this file) makes long text wrap and the marks show.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from datasette import hookimpl
from datasette.utils import tilde_encode
from datasette.utils.asgi import Response
from markupsafe import Markup

from workbench.review.datasette_review import calibration_page, review_post
from workbench.review.worddiff import word_diff

NAME = "workbench"
CSS_PATH = "/-/workbench.css"
REVIEW_PATH = "/-/workbench/review"
CALIBRATION_PATH = "/-/workbench/calibration"
FORM_ID = "wb-review"  # the form of templates/query.html the controls submit

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def settings(datasette: Any) -> dict[str, Any]:
    """This plugin's part of the metadata (`plugins: workbench:` in datasette.yaml)."""
    return datasette.plugin_config(NAME) or {}


@functools.lru_cache(maxsize=512)
def cached_diff(original: str, answer: str) -> tuple[str, str]:
    # Each row renders two cells from one diff: compute it once.
    return word_diff(original, answer)


@hookimpl(tryfirst=True)  # before datasette-pretty-json and the default rendering
async def render_cell(
    row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any
) -> Markup | None:
    config = settings(datasette)
    diff = config.get("diff")
    if diff and column in diff:
        return _diff_cell(row, column, diff)
    if column == config.get("controls") and table is None:
        return _controls(row, value, bool(config.get("writes")))
    link = config.get("links", {}).get(column)
    if link and isinstance(value, (int, str)) and value != "":
        path = datasette.urls.database(database) + "/" + link["path"].format(quote(str(value)))
        return Markup('<a href="{}">{}</a>').format(path, link["label"].format(value))
    if isinstance(value, dict) and table and config.get("label_words"):
        return await _short_label(value, column, table, database, datasette, config["label_words"])
    return None


def _diff_cell(row: Any, column: str, diff: list[str]) -> Markup | None:
    original, answer = (_column(row, name) for name in diff)
    if not isinstance(original, str) or not isinstance(answer, str):
        return None  # no pair to compare (a failed attempt has no answer): render as usual
    left, right = cached_diff(original, answer)
    return Markup(left if column == diff[0] else right)


def _controls(row: Any, attempt: Any, writes: bool) -> Markup:
    """Accept, reject and repair buttons for one answer, submitting the page's review form."""
    if not isinstance(attempt, int):
        return Markup("")  # no answer on this row (a paragraph never sent)
    if not writes:
        return Markup('<span class="wb-read-only">read-only</span>')
    text = _column(row, "repaired") or _column(row, "answer") or ""
    return Markup(
        '<div class="wb-decide">'
        '<button type="submit" form="{form}" name="accept" value="{id}">Accept</button> '
        '<button type="submit" form="{form}" name="reject" value="{id}">Reject</button>'
        "<details><summary>Repair, note</summary>"
        '<textarea form="{form}" name="text-{id}" rows="5" aria-label="repaired answer">{text}'
        "</textarea>"
        '<input form="{form}" name="note-{id}" placeholder="note: why" aria-label="note">'
        '<button type="submit" form="{form}" name="repair" value="{id}">Accept repaired</button>'
        "</details></div>"
    ).format(form=FORM_ID, id=attempt, text=text)


def _column(row: Any, name: str) -> Any:
    """row[name], or None when the row has no such column (sqlite3.Row, dict or list)."""
    try:
        # `in row` would search a sqlite3.Row's values, not its column names
        return row[name] if name in row.keys() else None  # noqa: SIM118
    except (AttributeError, TypeError):
        return None


async def _short_label(
    value: dict[str, Any], column: str, table: str, database: str, datasette: Any, words: int
) -> Markup | None:
    """An expanded foreign key, its label cut to its first words (the full text as a tooltip)."""
    label, key = str(value.get("label") or ""), value.get("value")
    if len(label.split()) <= words:
        return None  # short labels render as Datasette renders them
    keys = await datasette.get_database(database).foreign_keys_for_table(table)
    other = next((fk["other_table"] for fk in keys if fk["column"] == column), None)
    if other is None:
        return None
    href = datasette.urls.row(database, other, tilde_encode(str(key)))
    short = " ".join(label.split()[:words]) + "…"
    return Markup('<a href="{}" title="{}">{}</a>&nbsp;<em>{}</em>').format(href, label, short, key)


@hookimpl
def extra_template_vars(
    database: str | None, table: str | None, view_name: str, request: Any, datasette: Any
) -> dict[str, Any]:
    """`row_links` for templates/row.html: (href, label) pairs for this row's page; and for
    templates/query.html, the review form's column, target and reviewer."""
    config = settings(datasette)
    found: dict[str, Any] = {
        "workbench_row_links": [],
        "workbench_controls": config.get("controls") if config.get("writes") else None,
        "workbench_review_page": config.get("controls"),  # a review page has this column
        "workbench_reviewer": config.get("reviewer"),
        "workbench_review_path": datasette.urls.path(REVIEW_PATH),
        "workbench_calibration_path": datasette.urls.path(CALIBRATION_PATH),
        "workbench_form": FORM_ID,
    }
    links = config.get("row_links", {})
    if view_name != "row" or not database or table not in links or request is None:
        return found
    link = links[table]
    href = datasette.urls.database(database) + "/" + link["path"].format(request.url_vars["pks"])
    return {**found, "workbench_row_links": [(href, link["label"])]}


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    return [datasette.urls.path(CSS_PATH)]


@hookimpl
def register_routes() -> list[tuple[str, Callable[..., Any]]]:
    return [
        (r"^/-/workbench\.css$", _css),
        (r"^/-/workbench/review$", review_post),
        (r"^/-/workbench/calibration$", calibration_page),
    ]


@hookimpl
def menu_links(datasette: Any) -> list[dict[str, str]]:
    return [
        {"href": datasette.urls.path(CALIBRATION_PATH), "label": "Calibration: where rules cut"}
    ]


def _css() -> Response:
    css = resources.files("workbench.review").joinpath("datasette.css").read_text("utf-8")
    return Response(css, content_type="text/css; charset=utf-8")


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable[[ASGIApp], ASGIApp]:
    """Leave `hide_in_lists` columns out of table list pages, unless the URL picks columns."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def hide_columns(scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
                scope = await _without_hidden_columns(scope, datasette)
            await app(scope, receive, send)

        return hide_columns

    return wrap


async def _without_hidden_columns(scope: Scope, datasette: Any) -> Scope:
    hidden: dict[str, list[str]] = settings(datasette).get("hide_in_lists", {})
    parts = scope.get("path", "").strip("/").split("/")
    # Only an HTML table page, /<database>/<table>: a `.json` or `.csv` URL keeps every column.
    if len(parts) != 2 or "." in parts[1] or parts[1] not in hidden:
        return scope
    args = parse_qsl(scope.get("query_string", b""), keep_blank_values=True)  # bytes pairs
    if any(key == b"_col" for key, _ in args):
        return scope  # the URL lists the columns it wants
    try:
        columns = await datasette.get_database(route=parts[0]).table_columns(parts[1])
    except KeyError:
        return scope  # not one of our databases: Datasette answers 404 itself
    already = {value for key, value in args if key == b"_nocol"}
    wanted = [c.encode() for c in hidden[parts[1]] if c in columns]
    args += [(b"_nocol", c) for c in wanted if c not in already]
    return {**scope, "query_string": urlencode(args).encode("ascii")}
