"""Many servers as one: health, rotation, requests in flight per server, leave and come back.

A run may name several servers (`--base-url URL#8` each, its own concurrency after the `#`).
Each request goes to the server in the rotation with the fewest requests in flight relative to
its concurrency (the first given on a tie); a request that failed is sent to another one when
another has room. A server leaves the rotation after LEAVE_AFTER failures in a row, or at once
when it answers 429 with a Retry-After (for that long); a prober thread asks it GET /models when
its time out is over, and it comes back when it lists the model (else it stays out twice as long,
up to MAX_OUT_S). Each change is said in one line (`notify`).

When no server is in the rotation, a request waits for the first one due back and is sent to it:
the run's retry budget, not the pool, decides when a run gives up.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from workbench.errors import SettingError, WorkbenchError
from workbench.llm.client import Call, Server, check_base_url

LEAVE_AFTER = 3  # failures in a row that take a server out of the rotation
FIRST_OUT_S = 5.0  # how long a server is out the first time (Retry-After when it says more)
MAX_OUT_S = 60.0


def parse_server(text: str, default_concurrency: int) -> tuple[str, int]:
    """`URL` or `URL#N`: the base URL and the requests in flight it takes (N, else the default)."""
    url, sep, slots = text.rpartition("#") if "#" in text else (text, "", "")
    concurrency = default_concurrency
    if sep:
        if not slots.isdigit() or int(slots) < 1:
            raise SettingError(
                "invalid {base_url} {url!r}: after '#' comes the requests in flight it takes, "
                "a whole number of at least 1 (e.g. http://gpu1:8000/v1#8)",
                url=text,
            )
        concurrency = int(slots)
    if urlsplit(url).fragment:
        raise SettingError("invalid {base_url} {url!r}", url=text)
    return check_base_url(url), concurrency


def brief(detail: str) -> str:
    """The gist of a transport error for a one-line notice: what the system said ("Connection
    refused"), not the HTTP library's wrapping of it."""
    found = re.search(r"\[Errno -?\d+\] ([^'\"()]+)", detail)
    if found:
        return found.group(1).strip()
    if "RemoteDisconnected" in detail:
        return "it closed the connection without answering"
    return detail if len(detail) <= 80 else detail[:79] + "…"


@dataclass(eq=False)
class Member:
    """One server of the pool, and its state."""

    server: Server
    concurrency: int
    in_flight: int = 0
    failures: int = 0  # in a row
    out_until: float | None = None  # time.monotonic() it is due back; None: in the rotation
    out_for: float = 0.0  # how long it was last out
    probing: bool = False
    requests: int = 0
    streams: bool | None = (
        None  # whether it answered a streamed request with events (None: unknown)
    )

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def load(self) -> float:
        return self.in_flight / self.concurrency


@dataclass(frozen=True)
class Lease:
    """One request's hold on a server; `trial`: sent while the server was out of the rotation
    (no other being in it), so its outcome says whether the server works again."""

    member: Member
    trial: bool


@dataclass
class Pool:
    """The run's servers: hands out a server for each request and keeps their health."""

    members: list[Member]
    model: str
    notify: Callable[[str], None] = lambda line: None
    _lock: threading.Condition = field(default_factory=threading.Condition, init=False)
    _closed: threading.Event = field(default_factory=threading.Event, init=False)
    _prober: threading.Thread | None = field(default=None, init=False)

    @property
    def concurrency(self) -> int:
        """Requests in flight at once over all its servers."""
        return sum(member.concurrency for member in self.members)

    @property
    def primary(self) -> Server:
        """The first server given: where the rules' checks are asked."""
        return self.members[0].server

    def start(self) -> Pool:
        self._prober = threading.Thread(
            target=self._probe_loop, name="workbench-probe", daemon=True
        )
        self._prober.start()
        return self

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._lock.notify_all()

    def __enter__(self) -> Pool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- handing out servers ---------------------------------------------------------------

    @contextmanager
    def lease(self, stop: threading.Event, avoid: Member | None = None) -> Iterator[Lease]:
        """A server for one request (another than `avoid` when another has room); the request
        is counted in flight there until the block ends."""
        lease = self.acquire(stop, avoid)
        try:
            yield lease
        finally:
            with self._lock:
                lease.member.in_flight -= 1
                self._lock.notify_all()

    def acquire(self, stop: threading.Event, avoid: Member | None = None) -> Lease:
        """Wait for room on a server in the rotation (or, none being in it, for the first due
        back) and count a request in flight there. Raises Stopped when `stop` is set."""
        from workbench.llm.retry import Stopped

        with self._lock:
            while True:
                if stop.is_set() or self._closed.is_set():
                    raise Stopped
                chosen = self._choose(avoid)
                if chosen is not None:
                    chosen.in_flight += 1
                    chosen.requests += 1
                    return Lease(chosen, trial=chosen.out_until is not None)
                self._lock.wait(timeout=0.05)

    def _choose(self, avoid: Member | None) -> Member | None:
        free = [m for m in self.members if m.out_until is None and m.in_flight < m.concurrency]
        if not free and not any(m.out_until is None for m in self.members):
            # Nobody in the rotation: the first due back takes the request, which probes it.
            now = time.monotonic()
            due = [m for m in self.members if m.out_until is not None and m.out_until <= now]
            free = [m for m in due if m.in_flight < m.concurrency and not m.probing]
        others = [m for m in free if m is not avoid]
        candidates = others or free
        if not candidates:
            return None
        return min(candidates, key=lambda m: (m.load, self.members.index(m)))

    def has_room(self, avoid: Member | None = None) -> bool:
        """Whether a server in the rotation other than `avoid` could take a request now: a
        failed request is then sent again at once, with no backoff."""
        with self._lock:
            return any(
                m is not avoid and m.out_until is None and m.in_flight < m.concurrency
                for m in self.members
            )

    # --- health ----------------------------------------------------------------------------

    def record(self, lease: Lease, call: Call) -> None:
        """Count what a request came to: a transport failure towards its server's leaving the
        rotation (a 429 with Retry-After at once); an answer to a request sent while it was
        out (no other server being in) puts it back in."""
        from workbench.llm.retry import is_transient

        member = lease.member
        with self._lock:
            if not call.failed:
                member.failures = 0
                if member.out_until is not None and lease.trial:  # it answered: it works
                    member.out_until, member.out_for = None, 0.0
                    self.notify(f"{member.base_url} is back in the rotation: it answered")
                self._lock.notify_all()
                return
            if not is_transient(call):
                return  # the request itself is wrong, not the server
            member.failures += 1
            hinted = call.http_status == 429 and call.retry_after is not None
            if member.out_until is not None:  # out already
                if not lease.trial:
                    return  # sent before it left: says nothing new
                # It was tried as the only way left, and failed again: out for longer.
                seconds = min(2 * max(member.out_for, FIRST_OUT_S), MAX_OUT_S)
                member.out_until, member.out_for = time.monotonic() + seconds, seconds
            elif hinted or member.failures >= LEAVE_AFTER:
                seconds = (
                    min(max(call.retry_after or 0.0, 1.0), MAX_OUT_S) if hinted else FIRST_OUT_S
                )
                why = (
                    f"it asked to wait {call.retry_after:g} s (HTTP 429)"
                    if hinted
                    else f"{member.failures} failures in a row, last {call.error}"
                    + (f": {brief(call.error_detail)}" if call.error_detail else "")
                )
                self._take_out(member, seconds, why)

    def _take_out(self, member: Member, seconds: float, why: str) -> None:
        member.out_until, member.out_for = time.monotonic() + seconds, seconds
        others = [m for m in self.members if m is not member and m.out_until is None]
        self.notify(
            f"{member.base_url} left the rotation ({why}); "
            + ("the others take its requests; " if others else "")
            + f"asking it again in {seconds:g} s"
        )

    def _probe_loop(self) -> None:
        while not self._closed.wait(0.05):
            now = time.monotonic()
            with self._lock:
                due = [
                    m for m in self.members
                    if m.out_until is not None and m.out_until <= now and not m.probing
                    and any(o.out_until is None for o in self.members if o is not m)
                ]  # fmt: skip
                for member in due:
                    member.probing = True
            for member in due:
                self._probe(member)

    def _probe(self, member: Member) -> None:
        """Ask an out server whether it serves the model again; in, or out for longer."""
        try:
            models = member.server.list_models()
            healthy, problem = not models or self.model in models, f"it lists no {self.model!r}"
        except WorkbenchError as e:
            healthy, problem = False, str(e)
        with self._lock:
            member.probing = False
            if member.out_until is None:
                return  # a request found it working meanwhile
            if healthy:
                member.out_until, member.out_for, member.failures = None, 0.0, 0
                self.notify(f"{member.base_url} is back in the rotation: it lists {self.model!r}")
                self._lock.notify_all()
            else:
                seconds = min(2 * max(member.out_for, FIRST_OUT_S), MAX_OUT_S)
                member.out_until, member.out_for = time.monotonic() + seconds, seconds
                self.notify(
                    f"{member.base_url} is still out ({problem}); asking again in {seconds:g} s"
                )


class Sessions:
    """One worker's keep-alive sessions, one per server it has sent to."""

    def __init__(self) -> None:
        self._by_url: dict[str, requests.Session] = {}

    def get(self, member: Member) -> requests.Session:
        session = self._by_url.get(member.base_url)
        if session is None:
            session = self._by_url[member.base_url] = member.server.session()
        return session

    def close(self) -> None:
        for session in self._by_url.values():
            session.close()
