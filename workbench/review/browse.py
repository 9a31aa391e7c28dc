"""Browse: serve the database with Datasette, in this process, with workbench's metadata,
canned queries and plugin.

Datasette runs in-process (its Python API and uvicorn, as `datasette serve` does) rather than
as a child process: there is one process, so however it is stopped (Ctrl-C, SIGTERM, SIGHUP,
even SIGKILL) no server outlives it. It reads the file as it is being written (WAL), so it
works beside a running `workbench run`, and on a read-only file. The only writes are a pending
schema step (when the file can be written) and the verdicts a person gives on the review pages,
which are allowed only when browse listens on loopback (or --allow-writes says otherwise), not
with --read-only, and only on a file it can write; each waits its turn beside a run.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import signal
import socket
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any

from workbench.errors import SchemaBehind, WorkbenchError
from workbench.store.database import open_db, open_db_readonly, readonly_uri, writable

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_S = 3  # seconds a stop waits for requests in flight before closing them


def metadata(db: Path, writes: Writes | None = None) -> dict[str, Any]:
    """datasette.yaml (configuration as data), addressed to this database's name, with
    whether the review pages may write."""
    import yaml  # Datasette's own dependency, so only needed with the [browse] extra

    from workbench.review.compare import COMPARE_SQL

    text = resources.files("workbench.review").joinpath("datasette.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    data["databases"]["*"]["queries"]["compare_recipes"]["sql"] = COMPARE_SQL.strip()
    data["databases"] = {Path(db).stem: data["databases"]["*"]}
    writes = writes or Writes(False, None, "this browse is read-only")
    data["plugins"]["workbench"].update(
        writes=writes.allowed, reviewer=writes.reviewer, read_only_because=writes.why_not
    )
    return data


@dataclass(frozen=True)
class Writes:
    """Whether the review pages may write verdicts, as whom, and why not."""

    allowed: bool
    reviewer: str | None
    why_not: str | None = None  # for the user, when not allowed


def writes_for(
    db: Path, host: str, *, immutable: bool, read_only: bool, allow_writes: bool, reviewer: str
) -> Writes:
    """Writes are allowed on loopback unless --read-only, elsewhere only with
    --allow-writes, and never on a file this process cannot write."""
    if read_only:
        return Writes(False, None, "browse was started with --read-only")
    if immutable or not writable(db):
        return Writes(False, None, f"{db} cannot be written by this process")
    if not is_loopback(host) and not allow_writes:
        return Writes(
            False, None,
            f"--host {host} is not loopback: verdicts by hand are off unless --allow-writes",
        )  # fmt: skip
    return Writes(True, reviewer)


@dataclass(frozen=True)
class Served:
    """What browse serves and how, for the caller to tell the user."""

    url: str  # the database's page
    immutable: bool  # read as a snapshot: its folder is read-only and nothing is writing it
    writes: Writes  # whether the review pages may write verdicts


def prepare(db: Path) -> bool:
    """Check `db` is a current workbench database; True if it must be served immutable.

    Writes only to apply a pending schema step, and only when the file can be written.
    """
    try:
        open_db_readonly(db).close()
    except SchemaBehind:
        if not writable(db):
            raise
        open_db(db).close()  # migrates, as every other command does
    return "immutable=1" in readonly_uri(db)


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is this machine's loopback."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), so the URL works once printed."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as e:
        raise WorkbenchError(f"--host {host}: {e.strerror or e}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise WorkbenchError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def browse(
    db: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    read_only: bool = False,
    allow_writes: bool = False,
    reviewer: str = "unknown",
    on_ready: Callable[[Served], None] = lambda served: None,
) -> None:
    """Serve the database until Ctrl-C, SIGTERM or SIGHUP; return once nothing is listening."""
    if importlib.util.find_spec("datasette") is None:
        raise WorkbenchError("browse needs Datasette: pip install 'workbench[browse]'")
    if read_only and allow_writes:
        raise WorkbenchError("--read-only and --allow-writes contradict each other: give one")
    immutable = prepare(db)
    writes = writes_for(
        db, host, immutable=immutable, read_only=read_only, allow_writes=allow_writes,
        reviewer=reviewer,
    )  # fmt: skip
    import uvicorn
    from datasette.app import Datasette
    from datasette.plugins import pm

    from workbench.review import datasette_plugin

    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name=datasette_plugin.NAME)
    path = str(db)
    datasette = Datasette(
        [] if immutable else [path],
        immutables=[path] if immutable else [],
        metadata=metadata(db, writes),
        template_dir=str(resources.files("workbench.review").joinpath("templates")),
    )
    config = uvicorn.Config(
        datasette.app(),
        log_level="warning",  # no access log: the terminal shows our lines and errors only
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACE_S,
    )
    server = uvicorn.Server(config)
    # Signals reach the main thread; uvicorn runs in another, so it installs no handlers of its
    # own and every stop goes through this one, which lets uvicorn close the socket and finish.
    previous = {sig: signal.signal(sig, _stopper(server)) for sig in STOP_SIGNALS}
    try:
        sock = listen(host, port)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="datasette", daemon=True
        )
        thread.start()
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        url = f"http://{shown}:{bound_port}{datasette.urls.database(datasette.get_database().name)}"
        on_ready(Served(url=url, immutable=immutable, writes=writes))
        if open_browser:
            webbrowser.open(url)
        thread.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sock.close()
    if not server.started:
        raise WorkbenchError("Datasette stopped while starting (see the error above)")


def _stopper(server: Any) -> Callable[[int, FrameType | None], None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        if server.should_exit:  # a second Ctrl-C: stop now, without waiting for requests
            server.force_exit = True
        server.should_exit = True

    return stop
