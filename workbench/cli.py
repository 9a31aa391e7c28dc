"""The `workbench` command: a thin layer that parses options and calls the library.

Every command takes --db. Expected failures print one `Error: …` line on stderr and exit
non-zero (see errors.ExitCode); only bugs show a traceback.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from workbench import __version__
from workbench.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from workbench.db import DEFAULT_DB, open_db
from workbench.errors import ExitCode, WorkbenchError
from workbench.export import DEFAULT_AUTHOR, DEFAULT_OUTPUT
from workbench.export import export as export_pairs
from workbench.ingest import DEFAULT_ENCODING, DEFAULT_MIN_WORDS, read_sources
from workbench.ingest import ingest as ingest_files
from workbench.report import format_report, report_json
from workbench.report import report as build_report
from workbench.retry import DEFAULT_BACKOFF, DEFAULT_RETRIES, MAX_BACKOFF
from workbench.run import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TEMPERATURE,
    RunSettings,
    pending_work,
)
from workbench.run import run as run_job
from workbench.validate import (
    CLEANERS,
    DEFAULT_BANNED_PHRASES,
    DEFAULT_MAX_RATIO,
    DEFAULT_MIN_RATIO,
    DEFAULT_SIMILARITY,
    NOTEBOOK_ONLY,
    RULES,
    Rules,
)

app = typer.Typer(
    help="Turn a book into fine-tuning pairs with a local LLM.\n\n"
    "ingest text → run the paraphrases → report progress → export JSONL, all in one SQLite file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals hold prompts and API keys
)

P = ParamSpec("P")
R = TypeVar("R")

DbOption = Annotated[
    Path,
    typer.Option(
        "--db",
        envvar="WORKBENCH_DB",
        help="The workbench database (SQLite), shared by every command.",
    ),
]

BaseUrlOption = Annotated[
    str,
    typer.Option(
        envvar="WORKBENCH_BASE_URL",
        help="OpenAI-compatible API: LM Studio, llama.cpp server, Ollama (…/v1), vLLM.",
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(envvar="WORKBENCH_MODEL", help="Model name. [default: the first one listed]"),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        envvar=["WORKBENCH_API_KEY", "OPENAI_API_KEY"],
        help="Sent as a Bearer token; never stored.",
        show_default=False,
    ),
]


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Show a WorkbenchError as one line on stderr and exit with its code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except WorkbenchError as e:
            typer.echo(f"Error: {e}", err=True)
            raise typer.Exit(e.exit_code) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"workbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    pass


@app.command()
@user_errors
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Books (.txt, .md, .epub; any other file is read as text), or folders whose .txt, .md and .epub files are read in name order."
        ),
    ],
    min_words: Annotated[
        int, typer.Option(help="Paragraphs with fewer words are stored as filtered, never sent.")
    ] = DEFAULT_MIN_WORDS,
    encoding: Annotated[
        str, typer.Option(help="Encoding of .txt and .md files.")
    ] = DEFAULT_ENCODING,
    keep_line_breaks: Annotated[
        bool,
        typer.Option(
            "--keep-line-breaks",
            help="Keep every line break inside paragraphs, not only verse's.",
        ),
    ] = False,
    keep_boilerplate: Annotated[
        bool,
        typer.Option(
            "--keep-boilerplate",
            help="Keep Project Gutenberg's licence header and footer as paragraphs.",
        ),
    ] = False,
    keep_spacing: Annotated[
        bool,
        typer.Option(
            "--keep-spacing",
            help="Keep runs of spaces inside paragraphs instead of making them one.",
        ),
    ] = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Split books into paragraphs and sections, and store the paragraphs not seen before.

    Paragraphs are separated by blank lines (in EPUB, by block elements); headings such as CHAPTER V. become the section of the paragraphs under them. Ingesting a file again adds only its new paragraphs, so a file can grow between runs.
    """
    if min_words < 0:
        raise WorkbenchError("--min-words must be 0 or more")
    sources = read_sources(
        paths,
        encoding=encoding,
        keep_line_breaks=keep_line_breaks,
        keep_boilerplate=keep_boilerplate,
        keep_spacing=keep_spacing,
    )
    with open_db(db, create=True) as database:
        results = ingest_files(database, sources, min_words=min_words)
    for r in results:
        typer.echo(
            f"{r.path.name}: {r.found:,} paragraphs ({r.short:,} under {min_words} words"
            + (f", {r.verse:,} verse" if r.verse else "")
            + ")"
            + (f" in {r.sections:,} sections" if r.sections else "")
            + (f"; {r.boilerplate:,} boilerplate paragraphs left out" if r.boilerplate else "")
            + f"; added {r.added:,} ({r.added_pending:,} to paraphrase, "
            f"{r.added - r.added_pending:,} filtered), {r.found - r.added:,} already known"
            + (f"; {r.respaced:,} re-spaced" if r.respaced else "")
            + (f"; {r.refiltered:,} re-sorted by --min-words" if r.refiltered else "")
            + (f"; {r.removed:,} no longer paragraphs of the file, removed" if r.removed else "")
        )


@app.command()
@user_errors
def run(
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
    model: ModelOption = None,
    api_key: ApiKeyOption = None,
    system_prompt: Annotated[
        str | None, typer.Option(help="System prompt. [default: the notebook's]")
    ] = None,
    system_prompt_file: Annotated[
        Path | None,
        typer.Option(help="Read the system prompt from a file.", exists=False, dir_okay=False),
    ] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = DEFAULT_TEMPERATURE,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            help="Cap on answer tokens; 0 sends no cap. "
            "[default: room for the longest acceptable answer]",
            show_default=False,
        ),
    ] = None,
    max_attempts: Annotated[
        int, typer.Option(help="Answers per paragraph before it is skipped (all runs together).")
    ] = DEFAULT_MAX_ATTEMPTS,
    concurrency: Annotated[
        int, typer.Option(help="Requests in flight at once.")
    ] = DEFAULT_CONCURRENCY,
    limit: Annotated[
        int | None, typer.Option(help="Work at most this many paragraphs in this run.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for one answer.")
    ] = DEFAULT_TIMEOUT,
    retries: Annotated[
        int,
        typer.Option(
            help="Retries of one request after a connection error, timeout, HTTP 429/5xx "
            "or unusable body, with exponential backoff."
        ),
    ] = DEFAULT_RETRIES,
    backoff: Annotated[
        float,
        typer.Option(
            help=f"Seconds before the first retry; doubles each time, up to {MAX_BACKOFF:g}."
        ),
    ] = DEFAULT_BACKOFF,
    banned_phrase: Annotated[
        list[str] | None,
        typer.Option(help="Reject answers containing this text; adds to the notebook's list."),
    ] = None,
    banned_phrases_file: Annotated[
        Path | None,
        typer.Option(help="Replace the banned phrase list by this file's lines.", dir_okay=False),
    ] = None,
    min_ratio: Annotated[
        float, typer.Option(help="Reject answers under int(ratio × input words) words.")
    ] = DEFAULT_MIN_RATIO,
    max_ratio: Annotated[
        float, typer.Option(help="Reject answers over int(ratio × input words) words.")
    ] = DEFAULT_MAX_RATIO,
    similarity: Annotated[
        float,
        typer.Option(help="too_similar rejects answers whose words match the original this much."),
    ] = DEFAULT_SIMILARITY,
    disable_rule: Annotated[
        list[str] | None,
        typer.Option(help=f"Switch off a rule or cleaner: {', '.join([*RULES, *CLEANERS])}."),
    ] = None,
    notebook_rules: Annotated[
        bool,
        typer.Option(
            "--notebook-rules",
            help="Only the notebook's four rules (with truncated and empty), no cleaners.",
        ),
    ] = False,
    retry_temperature: Annotated[
        str | None,
        typer.Option(
            metavar="LOW:HIGH",
            help="After a rejection, retry with a temperature drawn from this range and a new "
            "seed, e.g. 0.7:1.0.",
        ),
    ] = None,
    feedback: Annotated[
        bool,
        typer.Option("--feedback", help="After a rejection, tell the model why when asking again."),
    ] = False,
    embedded: Annotated[
        bool,
        typer.Option(
            "--embedded",
            help="Start the built-in llama.cpp server (SmolLM2-135M, or --gguf) on 127.0.0.1 "
            "for this run instead of using --base-url.",
        ),
    ] = False,
    gguf: Annotated[
        Path | None,
        typer.Option(help="GGUF model file for the built-in server; implies --embedded."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress on stderr, only errors.")
    ] = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Paraphrase the pending paragraphs with the LLM server, keeping only valid answers.

    Every attempt is committed as it finishes: stop it at any time (Ctrl-C) and run it again to go on where it stopped.
    """
    phrases = list(DEFAULT_BANNED_PHRASES)
    if banned_phrases_file is not None:
        phrases = [line for line in _read_text(banned_phrases_file).splitlines() if line.strip()]
    phrases += banned_phrase or []
    disabled = set(disable_rule or []) | (NOTEBOOK_ONLY if notebook_rules else set())
    unknown = disabled - {*RULES, *CLEANERS}
    if unknown:
        raise WorkbenchError(
            f"unknown rule {', '.join(sorted(unknown))}; the rules and cleaners are: "
            f"{', '.join([*RULES, *CLEANERS])}"
        )
    if system_prompt is not None and system_prompt_file is not None:
        raise WorkbenchError("give --system-prompt or --system-prompt-file, not both")
    if system_prompt_file is not None:
        system_prompt = _read_text(system_prompt_file).strip()
    settings = RunSettings(
        base_url=base_url,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        max_attempts=max_attempts,
        concurrency=concurrency,
        limit=limit,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        rules=Rules(
            banned_phrases=tuple(phrases),
            min_ratio=min_ratio,
            max_ratio=max_ratio,
            similarity=similarity,
            disabled=frozenset(disabled),
        ),
        retry_temperature=_temperature_range(retry_temperature),
        feedback=feedback,
        **({"system_prompt": system_prompt} if system_prompt else {}),
    )
    progress = _Progress(quiet)
    with open_db(db) as database:
        # Starting a model for nothing costs seconds: say "nothing to do" first.
        work = pending_work(database, limit=1)
        use_embedded = (embedded or gguf is not None) and bool(work)
        with _served(settings, use_embedded, gguf, quiet) as settings:
            try:
                summary = run_job(
                    database,
                    settings,
                    api_key=api_key,
                    on_start=progress.start,
                    on_event=progress.event,
                )
            finally:
                progress.stop()
    if summary.status == "interrupted":
        typer.echo("Interrupted: finished attempts are saved; run again to resume.", err=True)
        raise typer.Exit(ExitCode.INTERRUPTED)
    if summary.status == "nothing_to_do":
        typer.echo("Nothing to do: no pending paragraphs (see `workbench report`).")
        return
    typer.echo(
        f"Run #{summary.run_id} {summary.status} ({summary.model}): "
        f"{summary.succeeded:,} succeeded, {summary.skipped:,} skipped of "
        f"{summary.paragraphs:,} paragraphs; attempts: {summary.accepted:,} accepted, "
        f"{summary.rejected:,} rejected, {summary.failed:,} failed; "
        f"{summary.remaining:,} paragraphs still pending."
    )


@contextmanager
def _served(
    settings: RunSettings, embedded: bool, gguf: Path | None, quiet: bool
) -> Iterator[RunSettings]:
    """The settings to run with: as given, or pointed at a llama.cpp server started for the run.

    The embedded server is reached over HTTP like any other, so the run takes the same path.
    """
    if not embedded:
        yield settings
        return
    from workbench.embedded import embedded_server

    with embedded_server(gguf, parallel=settings.concurrency) as server:
        if not quiet:
            typer.echo(f"Started the embedded model at {server.base_url}", err=True)
        yield dataclasses.replace(settings, base_url=server.base_url, model=server.model)


class _Progress:
    """A rich progress bar on stderr, loaded only when a run starts."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.counts = {"accepted": 0, "rejected": 0, "failed": 0}

    def start(self, run_id: int, model: str, paragraphs: int) -> None:
        if self.quiet:
            return
        typer.echo(f"Run #{run_id}: {paragraphs:,} paragraphs with {model}", err=True)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.bar = Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.task = self.bar.add_task(self._describe(), total=paragraphs)
        self.bar.start()

    def event(self, event: Any) -> None:
        if event.completion is not None:
            self.counts[event.outcome] += 1
        if self.bar is not None:
            self.bar.update(
                self.task, advance=1 if event.paragraph_status else 0, description=self._describe()
            )

    def _describe(self) -> str:
        c = self.counts
        return f"✓ {c['accepted']} ✗ {c['rejected']} ! {c['failed']}"

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@app.command()
@user_errors
def report(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Summarise the job: paragraphs by status, rejection reasons, attempts, tokens and runs."""
    with open_db(db) as database:
        typer.echo(report_json(database) if as_json else format_report(build_report(database)))


@app.command()
@user_errors
def export(
    output: Annotated[
        str, typer.Option("--output", "-o", help="The JSONL file to write; - for stdout.")
    ] = DEFAULT_OUTPUT,
    author: Annotated[str, typer.Option(help="Author named in each prompt.")] = DEFAULT_AUTHOR,
    source_label: Annotated[
        str | None,
        typer.Option(help="metadata.source of every line. [default: the source file's name]"),
    ] = None,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Write the accepted pairs as JSONL: the paraphrase is the prompt, the original the target."""
    with open_db(db) as database:
        count = export_pairs(database, output, author=author, source_label=source_label)
    if output != "-":
        typer.echo(f"Wrote {count:,} pairs to {output}")
    else:
        typer.echo(f"Wrote {count:,} pairs", err=True)


@app.command()
@user_errors
def serve(
    gguf: Annotated[
        Path | None, typer.Option(help="GGUF model file. [default: SmolLM2-135M-Instruct]")
    ] = None,
    parallel: Annotated[
        int, typer.Option(help="Requests served at once (llama.cpp slots).")
    ] = DEFAULT_CONCURRENCY,
) -> None:
    """Keep the built-in llama.cpp server running for several commands, until Ctrl-C."""
    import time

    from workbench.embedded import embedded_server

    if parallel < 1:
        raise WorkbenchError("--parallel must be at least 1")
    with embedded_server(gguf, parallel=parallel) as server:
        typer.echo(f"Serving {server.model} at {server.base_url} with {parallel} slots.", err=True)
        typer.echo(f"Use it with: workbench run --base-url {server.base_url}", err=True)
        typer.echo(server.base_url)  # the one line a script needs, on stdout
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            typer.echo("Stopped.", err=True)


@app.command()
@user_errors
def browse(
    port: Annotated[int, typer.Option(help="Port for Datasette on 127.0.0.1.")] = 8001,
    open_browser: Annotated[bool, typer.Option("--open", help="Open a browser window.")] = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Browse the database in Datasette, with canned queries for pairs, rejections and runs."""
    from workbench.browse import browse as serve

    serve(db, port=port, open_browser=open_browser)


@app.command()
@user_errors
def models(
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List the models the server offers, one per line (the first is run's default)."""
    from workbench.client import Server

    for name in Server(base_url, api_key=api_key).list_models():
        typer.echo(name)


@app.command()
@user_errors
def doctor(
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
    model: ModelOption = None,
    api_key: ApiKeyOption = None,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Check the server (reachable, a model loaded, one tiny answer) and the database."""
    from workbench.doctor import check_database, check_server

    checks = check_server(base_url, api_key=api_key, model=model) + check_database(db)
    marks = {"ok": "✓", "warn": "!", "fail": "✗"}
    for check in checks:
        typer.echo(f"{marks[check.status]} {check.name:<10} {check.message}")
    if any(check.status == "fail" for check in checks):
        raise typer.Exit(ExitCode.ERROR)


def _temperature_range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError:
        raise WorkbenchError(
            f"--retry-temperature {text!r}: expected LOW:HIGH, e.g. 0.7:1.0"
        ) from None
    return low, high


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkbenchError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise WorkbenchError(f"cannot read {path}: {e}") from None


def main() -> None:
    app(prog_name="workbench")
