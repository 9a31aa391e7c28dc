"""MiniLM's work across a run's threads, so that its tens of milliseconds an answer leave no
server idle: each original is embedded in the background while its answer is asked for, and the
answers of threads that ask at once are measured in one batch. meaning.py decides what is
measured; this decides when, and with whom.
"""

from __future__ import annotations

import atexit
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass

from workbench.judge.sentences import sentences

Measure = Callable[[Sequence[tuple[str, str]]], list[float]]


def prefetch(original: str) -> None:
    """Embed `original` and its sentences in the background (the CPU is idle while its answer
    is asked for); the answer's check, which waits for it, then embeds the answer alone (about
    half of MiniLM's cost an answer)."""
    global _jobs
    with _prefetch_lock:
        if original in _prefetching:
            return
        if _jobs is None:  # one thread: it overlaps the requests, not the other checks
            _jobs = queue.SimpleQueue()
            # A daemon: a run that stops (Ctrl-C) must not wait for what it no longer needs.
            threading.Thread(
                target=_prefetch_loop, args=(_jobs,), name="meaning-prefetch", daemon=True
            ).start()
        future: Future[None] = Future()
        _prefetching[original] = future
        _jobs.put((original, future))
    future.add_done_callback(lambda _: _forget(original, future))


_jobs: queue.SimpleQueue[tuple[str, Future[None]]] | None = None
_prefetching: dict[str, Future[None]] = {}
_prefetch_lock = threading.Lock()


def _prefetch_loop(jobs: queue.SimpleQueue[tuple[str, Future[None]]]) -> None:
    while True:
        original, future = jobs.get()
        if not future.set_running_or_notify_cancel():
            continue  # taken back: its answer came first
        try:
            with _working():
                _embed_original(original)
        except BaseException as e:  # the asker's own embedding raises it in its place
            future.set_exception(e)
        else:
            future.set_result(None)


def _embed_original(original: str) -> None:
    from workbench.judge import minilm

    texts = {original, *sentences(original)}
    minilm.load_minilm().vectors(texts, kept=texts)


def _forget(original: str, future: Future[None]) -> None:
    with _prefetch_lock:
        if _prefetching.get(original) is future:
            del _prefetching[original]


def await_prefetched(originals: set[str]) -> None:
    """Wait for the originals being embedded in the background, sooner than embedding them
    again; one still queued there (the answer came first) is taken back and embedded with the
    answer. A failure there is left to the caller's own embedding, which raises it in its place."""
    with _prefetch_lock:
        pending = [f for o in originals if (f := _prefetching.get(o)) is not None]
    for future in pending:
        if not future.cancel():  # already running: nearly done
            future.exception()


@dataclass(eq=False)
class _Asked:
    """One thread's pairs, waiting to be measured with the others'."""

    pairs: Sequence[tuple[str, str]]
    found: list[float] | None = None
    error: BaseException | None = None
    done: bool = False


_asked: list[_Asked] = []
_measuring = False
_turn = threading.Condition()


def together(pairs: Sequence[tuple[str, str]], measure: Measure) -> list[float]:
    """`measure(pairs)`, with the pairs of threads that ask at once measured in one call: a
    run's answers often arrive together, and one batch of four costs far less than four of one.
    The first to ask measures what is waiting; those who ask meanwhile wait, and the next batch
    is theirs (one of them measures it). Every caller passes the same `measure` (meaning.py's)."""
    global _measuring
    mine = _Asked(pairs)
    with _turn:
        _asked.append(mine)
        while not mine.done and _measuring:
            _turn.wait()
        if not mine.done:
            _measuring, batch = True, list(_asked)
            _asked.clear()
    if not mine.done:
        try:
            with _working():
                found = measure([pair for asked in batch for pair in asked.pairs])
            for asked in batch:
                asked.found, found = found[: len(asked.pairs)], found[len(asked.pairs) :]
        except BaseException as e:  # each asker raises it as its own
            for asked in batch:
                asked.error = e
        finally:
            with _turn:
                _measuring = False
                for asked in batch:
                    asked.done = True
                _turn.notify_all()
    if mine.error is not None:
        raise mine.error
    assert mine.found is not None
    return mine.found


# A process that exits while a daemon thread is inside the encoder (the Rust tokenizer, numpy)
# can abort ("FATAL: exception not rethrown"): Python ends such threads by unwinding them when
# they next take the GIL, through frames that do not allow it. So the exit waits for the
# measures under way (tens of milliseconds), and lets no new one start.
_busy = 0
_closing = False
_idle = threading.Condition()


@contextmanager
def _working() -> Iterator[None]:
    global _busy
    with _idle:
        while _closing:  # the process is exiting: this thread waits for its end
            _idle.wait()
        _busy += 1
    try:
        yield
    finally:
        with _idle:
            _busy -= 1
            _idle.notify_all()


def _finish_at_exit() -> None:
    global _closing
    with _idle:
        _closing = True
        _idle.wait_for(lambda: _busy == 0, timeout=EXIT_WAIT_S)


EXIT_WAIT_S = 5.0  # at most; a measure takes tens of milliseconds
atexit.register(_finish_at_exit)
