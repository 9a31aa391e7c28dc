"""browse's pages that act: the review controls' POST, and the calibration page with its picture.

Registered by datasette_plugin.register_routes. A review is written through Datasette's own
write connection (`execute_write_fn`, one thread that owns it) by review/verdicts.py, the module
that owns every write of verdicts by hand, so the page and `workbench review` write alike.

A review is refused unless browse allows writes (it says so in the plugin's settings: a
loopback address, or --allow-writes; never with --read-only or on a file it cannot write) and
the form carries Datasette's CSRF token. Datasette checks the token against its cookie, but lets
a request with no cookie at all through; a browser sends no cookie with another site's form
post (SameSite=Lax), so this route also requires the cookie, and an Origin, when sent, of this
very server.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from datasette.utils.asgi import Response
from sqlite_utils import Database

from workbench.errors import WorkbenchError
from workbench.review.calibrate import calibrate
from workbench.review.picture import distributions, svg
from workbench.review.verdicts import Decision, Reviewed, review
from workbench.store.database import database_trouble
from workbench.store.states import Outcome

NAME = "workbench"  # the plugin's name in the metadata (datasette_plugin.NAME)
CSRF_COOKIE = "ds_csrftoken"
ACTIONS = {"accept": Outcome.ACCEPTED, "reject": Outcome.REJECTED, "repair": Outcome.ACCEPTED}


def _settings(datasette: Any) -> dict[str, Any]:
    return datasette.plugin_config(NAME) or {}


class Refused(Exception):
    """A review the page cannot take: why, and the HTTP status to say it with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def review_post(request: Any, datasette: Any) -> Response:
    """Accept, reject or repair the answer a button names, or all the answers a page shows."""
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        if request.method != "POST":
            raise Refused("reviews are sent by the review pages' form (POST)", 405)
        config = _settings(datasette)
        if not config.get("writes"):
            raise Refused(config.get("read_only_because") or "this browse is read-only", 403)
        _check_origin(request)
        form = parse_qsl((await request.post_body()).decode("utf-8"), keep_blank_values=True)
        ids, decision = _decision(form, config.get("reviewer") or "unknown")
        result = await _write(datasette, ids, decision)
    except Refused as e:
        if wants_json:
            return Response.json({"ok": False, "error": str(e)}, status=e.status)
        return Response.text(f"Error: {e}\n", status=e.status)
    if wants_json:
        return Response.json({"ok": True, "reviewed": result.to_json()})
    datasette.add_message(request, " ".join(result.describe()), datasette.INFO)
    return Response.redirect(_next(form, datasette), status=303)


def _check_origin(request: Any) -> None:
    if CSRF_COOKIE not in request.cookies:
        raise Refused("no CSRF token: review from the review pages, whose form carries one", 403)
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise Refused(f"a review must come from this server's pages, not {origin}", 403)


def _decision(form: list[tuple[str, str]], reviewer: str) -> tuple[list[int], Decision]:
    """The answers and the verdict a submitted form asks for: one row's button (accept,
    reject, repair with its text), or the bulk buttons over the ids a page showed."""
    fields = dict(form)
    try:
        if "bulk" in fields:
            verdict = Outcome(fields["bulk"])
            ids = [int(value) for key, value in form if key == "shown"]
            note = fields.get("bulk-note")
            return ids, Decision(verdict, reviewer, note=note)
        action = next((key for key in ACTIONS if key in fields), None)
        if action is None:
            raise Refused("the form names no action: accept, reject, repair or bulk")
        attempt = int(fields[action])
        text = fields.get(f"text-{attempt}") if action == "repair" else None
        note = fields.get(f"note-{attempt}")
        return [attempt], Decision(ACTIONS[action], reviewer, text, note)
    except ValueError as e:  # an id that is not a number, a verdict not a verdict
        raise Refused(f"the form is not one of the review pages': {e}") from None
    except WorkbenchError as e:
        raise Refused(str(e)) from None


async def _write(datasette: Any, ids: list[int], decision: Decision) -> Reviewed:
    def write(conn: sqlite3.Connection) -> Reviewed | str:
        # The user's mistakes come back as text: raised, Datasette's writer would print them.
        try:
            return review(Database(conn, recursive_triggers=False), ids, decision)
        except WorkbenchError as e:
            return str(e)
        except sqlite3.DatabaseError as e:
            trouble = database_trouble(e)
            if trouble is None:
                raise
            return trouble

    if not ids:
        raise Refused("the page showed no answer to review")
    done = await datasette.get_database().execute_write_fn(write)
    if isinstance(done, str):
        raise Refused(done, 409 if "locked" in done else 400)
    assert isinstance(done, Reviewed)
    return done


def _next(form: list[tuple[str, str]], datasette: Any) -> str:
    """Where the page that sent the form is: back there, never to another site."""
    target = dict(form).get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return str(target)
    return str(datasette.urls.database(datasette.get_database().name))


async def calibration_page(request: Any, datasette: Any) -> Response:
    """Each rule's threshold against the verdicts by hand, and where it cuts each measure."""
    database = datasette.get_database()

    def read(conn: sqlite3.Connection) -> tuple[Any, list[tuple[str, str]]]:
        db = Database(conn, recursive_triggers=False)
        found = calibrate(db)
        return found, [(shown.measure, svg(shown)) for shown in distributions(db, found)]

    calibration, pictures = await database.execute_fn(read)
    html = await datasette.render_template(
        "workbench_calibration.html",
        {
            "calibration": calibration,
            "pictures": pictures,
            "database": database.name,
            "database_url": datasette.urls.database(database.name),
        },
        request=request,
    )
    return Response.html(html)
