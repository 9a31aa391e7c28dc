"""The `workbench` command: a thin layer that parses options and calls the library.

Every command takes --db. Expected failures print one `Error: …` line on stderr and exit
non-zero (see errors.ExitCode); only bugs show a traceback.
"""

from __future__ import annotations

import errno
import functools
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from workbench import __version__
from workbench.llm.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from workbench.store.database import DEFAULT_DB, database_trouble, open_db
from workbench.errors import ExitCode, WorkbenchError
from workbench.dataset.export import DEFAULT_FORMAT, DEFAULT_SEED, ExportOptions
from workbench.dataset.export import export as export_pairs
from workbench.dataset.formats import (
    BACKWARD,
    DEFAULT_AUTHOR,
    DEFAULT_INSTRUCTION,
    DEFAULT_SYSTEM,
    FORMATS,
    FORWARD,
)
from workbench.ingest.sources import DEFAULT_ENCODING, DEFAULT_MIN_WORDS, read_sources
from workbench.ingest.sources import ingest as ingest_files
from workbench.cli.options import (
    ApiKeyOption,
    BannedPhraseOption,
    BannedPhrasesFileOption,
    BaseUrlOption,
    DbOption,
    DisableRuleOption,
    EmbeddingsModelOption,
    EnableRuleOption,
    FeedbackOption,
    JsonOption,
    JudgeModelOption,
    JudgeOption,
    MaxAttemptsOption,
    MaxRatioOption,
    MaxRepetitionOption,
    MaxTokensOption,
    MinMeaningOption,
    MinRatioOption,
    ModelOption,
    NotebookRulesOption,
    OutputsOption,
    RecipeOption,
    RetryTemperatureOption,
    ServerModelOption,
    SimilarityOption,
    SystemPromptFileOption,
    SystemPromptOption,
    TemperatureOption,
    UserTemplateOption,
    recipe_settings,
    rule_changes,
)
from workbench.llm.retry import DEFAULT_BACKOFF, DEFAULT_RETRIES, MAX_BACKOFF
from workbench.engine.run import DEFAULT_CONCURRENCY

app = typer.Typer(
    help="Turn a book into fine-tuning pairs with a local LLM.\n\n"
    "ingest text → run the paraphrases → report progress → export JSONL, all in one SQLite file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals hold prompts and API keys
)

# What writing stdout or an output file can meet that is the machine's state, not a bug: a full
# disk or quota, a failing device, a read-only file system.
OUTPUT_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}

P = ParamSpec("P")
R = TypeVar("R")


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Show a WorkbenchError as one line on stderr and exit with its code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except WorkbenchError as e:
            typer.echo(f"Error: {e}", err=True)
            raise typer.Exit(e.exit_code) from None
        except sqlite3.DatabaseError as e:
            message = database_trouble(e)
            if message is None:
                raise  # a bug: keep the traceback
            typer.echo(f"Error: {message}", err=True)
            raise typer.Exit(ExitCode.ERROR) from None
        except OverflowError as e:  # an option's number beyond what SQLite stores
            typer.echo(f"Error: a number given is too large ({e})", err=True)
            raise typer.Exit(ExitCode.ERROR) from None
        except OSError as e:
            if e.errno not in OUTPUT_ERRORS:
                raise  # a bug: keep the traceback
            typer.echo(f"Error: cannot write the output: {e.strerror}", err=True)
            raise typer.Exit(ExitCode.ERROR) from None

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
    recipe: RecipeOption = None,
    model: ModelOption = None,
    system_prompt: SystemPromptOption = None,
    system_prompt_file: SystemPromptFileOption = None,
    user_template: UserTemplateOption = None,
    temperature: TemperatureOption = None,
    max_tokens: MaxTokensOption = None,
    retry_temperature: RetryTemperatureOption = None,
    feedback: FeedbackOption = None,
    outputs: OutputsOption = None,
    max_attempts: MaxAttemptsOption = None,
    banned_phrase: BannedPhraseOption = None,
    banned_phrases_file: BannedPhrasesFileOption = None,
    min_ratio: MinRatioOption = None,
    max_ratio: MaxRatioOption = None,
    similarity: SimilarityOption = None,
    max_repetition: MaxRepetitionOption = None,
    min_meaning: MinMeaningOption = None,
    embeddings_model: EmbeddingsModelOption = None,
    judge: JudgeOption = None,
    judge_model: JudgeModelOption = None,
    disable_rule: DisableRuleOption = None,
    enable_rule: EnableRuleOption = None,
    notebook_rules: NotebookRulesOption = False,
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
    judge_base_url: Annotated[
        str | None,
        typer.Option(
            help="Where --judge asks its model: another OpenAI-compatible server. "
            "[default: --base-url]",
            show_default=False,
        ),
    ] = None,
    api_key: ApiKeyOption = None,
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
    """Paraphrase the pending paragraphs of a recipe with the LLM server, keeping only valid answers.

    Without recipe or rule options it goes on with the job as stored: the current recipe, the job's rules. Every attempt is committed as it finishes: stop it at any time (Ctrl-C) and run it again to go on where it stopped.
    """
    from workbench.judge.judging import job_rules
    from workbench.cli.progress import Progress
    from workbench.engine.recipes import plan_recipe
    from workbench.engine.run import RunOptions
    from workbench.engine.run import run as run_job

    given = recipe_settings(
        model=model, system_prompt=system_prompt, system_prompt_file=system_prompt_file,
        user_template=user_template, temperature=temperature, max_tokens=max_tokens,
        retry_temperature=retry_temperature, feedback=feedback, outputs=outputs,
        max_attempts=max_attempts,
    )  # fmt: skip
    changes = rule_changes(
        banned_phrase=banned_phrase, banned_phrases_file=banned_phrases_file,
        min_ratio=min_ratio, max_ratio=max_ratio, similarity=similarity,
        disable_rule=disable_rule, enable_rule=enable_rule, notebook_rules=notebook_rules,
        max_repetition=max_repetition, min_meaning=min_meaning,
        embeddings_model=embeddings_model, judge=judge, judge_model=judge_model,
    )  # fmt: skip
    options = RunOptions(
        base_url=base_url, concurrency=concurrency, limit=limit, timeout=timeout,
        retries=retries, backoff=backoff, judge_base_url=judge_base_url,
    )  # fmt: skip
    progress = Progress(quiet)
    with open_db(db) as database:
        plan = plan_recipe(database, recipe, given)
        rules = changes.apply(job_rules(database).rules)
        serve = _embedded(gguf, quiet) if embedded or gguf is not None else None
        try:
            summary = run_job(
                database, plan, rules, options, api_key=api_key, serve=serve,
                on_start=progress.start, on_event=progress.event,
            )  # fmt: skip
        except KeyboardInterrupt:
            typer.echo("Interrupted before the run started: nothing changed.", err=True)
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        finally:
            progress.stop()
    if summary.status == "interrupted":
        typer.echo("Interrupted: finished attempts are saved; run again to resume.", err=True)
        raise typer.Exit(ExitCode.INTERRUPTED)
    if summary.status == "nothing_to_do":
        progress.notes(summary.notes)
        typer.echo(
            f"Nothing to do: no pending paragraphs under recipe {summary.recipe.name!r} "
            "(see `workbench report`)."
        )
        return
    typer.echo(
        f"Run #{summary.run_id} {summary.status} (recipe {summary.recipe.name!r}, "
        f"{summary.recipe.model}): {summary.succeeded:,} succeeded, {summary.skipped:,} "
        f"skipped of {summary.paragraphs:,} paragraphs; attempts: {summary.accepted:,} "
        f"accepted, {summary.rejected:,} rejected, {summary.failed:,} failed; "
        f"{summary.remaining:,} paragraphs still pending."
    )


def _embedded(gguf: Path | None, quiet: bool) -> Callable[[int], AbstractContextManager[str]]:
    """Start the built-in llama.cpp server for the run, with a slot per request in flight.

    It is reached over HTTP like any other server, so the run takes the same path.
    """

    @contextmanager
    def serve(slots: int) -> Iterator[str]:
        from workbench.llm.embedded import embedded_server

        with embedded_server(gguf, parallel=slots) as server:
            if not quiet:
                typer.echo(f"Started the embedded model at {server.base_url}", err=True)
            yield server.base_url

    return serve


@app.command()
@user_errors
def rules(
    banned_phrase: BannedPhraseOption = None,
    banned_phrases_file: BannedPhrasesFileOption = None,
    min_ratio: MinRatioOption = None,
    max_ratio: MaxRatioOption = None,
    similarity: SimilarityOption = None,
    max_repetition: MaxRepetitionOption = None,
    min_meaning: MinMeaningOption = None,
    embeddings_model: EmbeddingsModelOption = None,
    judge: JudgeOption = None,
    judge_model: JudgeModelOption = None,
    disable_rule: DisableRuleOption = None,
    enable_rule: EnableRuleOption = None,
    notebook_rules: NotebookRulesOption = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Back to the default rules (before other options).")
    ] = False,
    as_json: JsonOption = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Show the job's rules, or change them and judge every stored answer again; nothing is sent.

    The rules are shared by every recipe. Each change is a new version; the verdicts it replaces are kept.
    """
    from workbench.store.database import close_dead_runs
    from workbench.judge.judging import format_rules, job_rules, settle_rules

    changes = rule_changes(
        banned_phrase=banned_phrase, banned_phrases_file=banned_phrases_file,
        min_ratio=min_ratio, max_ratio=max_ratio, similarity=similarity,
        disable_rule=disable_rule, enable_rule=enable_rule, notebook_rules=notebook_rules,
        reset=reset, max_repetition=max_repetition, min_meaning=min_meaning,
        embeddings_model=embeddings_model, judge=judge, judge_model=judge_model,
    )  # fmt: skip
    with open_db(db) as database:
        if changes.asks_nothing:
            version = job_rules(database)
        else:
            with database.atomic():
                close_dead_runs(database)  # a live run judges with the rules it started with
                settled = settle_rules(database, changes.apply(job_rules(database).rules))
            for line in settled.describe() or [f"rules unchanged (v{settled.version})"]:
                typer.echo(line, err=True)
            version = job_rules(database)
    if as_json:
        typer.echo(json.dumps(version.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_rules(version))


@app.command()
@user_errors
def recipes(
    name: Annotated[
        str | None, typer.Argument(help="Show this recipe whole.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """List the job's recipes (the current one marked *), or show one whole.

    A recipe is one way of asking: model, prompts, sampling, budgets. `workbench run --recipe NAME` makes or works one.
    """
    from workbench.review.compare import format_recipes, recipe_summaries
    from workbench.engine.recipes import named_recipe

    with open_db(db) as database:
        if name is not None:
            recipe = named_recipe(database, name)
            typer.echo(
                json.dumps(recipe.to_json(), ensure_ascii=False, indent=2)
                if as_json
                else "\n  ".join([f"recipe {recipe.name!r}", *recipe.describe()])
            )
            return
        summaries = recipe_summaries(database)
    if as_json:
        typer.echo(json.dumps(summaries, ensure_ascii=False, indent=2))
    else:
        typer.echo(format_recipes(summaries))


@app.command()
@user_errors
def report(
    recipe: Annotated[
        str | None,
        typer.Option(help="Report this recipe. [default: the current one]", show_default=False),
    ] = None,
    run: Annotated[
        int | None,
        typer.Option(
            "--run",
            help="Only this run: its attempts, and the paragraphs it worked.",
            show_default=False,
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            help="Show examples of answers rejected (or requests failed) for this reason code, "
            "each with its original, answer and detail.",
            show_default=False,
        ),
    ] = None,
    show: Annotated[int, typer.Option(help="How many examples --reason shows.")] = 3,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Compare recipes side by side on the paragraphs they have all finished: the "
            "recipes named as arguments, or all.",
        ),
    ] = False,
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Recipes to compare (with --compare).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Summarise the job: paragraphs by status, rejection reasons, attempts, tokens and runs.

    It shows one recipe (the current one unless --recipe) or one run (--run), examples of one rejection reason (--reason), or compares recipes (--compare).
    """
    from workbench.review.compare import compare as compare_recipes
    from workbench.review.compare import format_compare
    from workbench.review.report import examples, format_examples, report_json, report_text

    if names and not compare:
        raise WorkbenchError(
            f"recipe names as arguments go with --compare: --compare {' '.join(names)}"
        )
    with open_db(db) as database:
        if compare:
            data = compare_recipes(database, names or None)
            text = format_compare(data)
        elif reason is not None:
            data = examples(database, reason, show, recipe, run)
            text = format_examples(data)
        else:
            typer.echo(
                report_json(database, recipe, run)
                if as_json
                else report_text(database, recipe, run)
            )
            return
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else text)


@app.command()
@user_errors
def export(
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="The file to write; - for stdout. With --split, NAME.train.jsonl and NAME.val.jsonl beside it. [default: output.jsonl; output.csv for --format csv]",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help=f"One of: {', '.join(FORMATS)}. notebook is the notebook's JSONL; text the originals alone; dpo preference pairs (run --outputs 2 first).",
        ),
    ] = DEFAULT_FORMAT,
    recipe: Annotated[
        str | None,
        typer.Option(
            help="Export this recipe's pairs, or 'all' for every recipe's. [default: the current recipe]",
            show_default=False,
        ),
    ] = None,
    direction: Annotated[
        str,
        typer.Option(
            help=f"{FORWARD}: the original is the model's answer; {BACKWARD}: the paraphrase is, to train a model that writes plainly.",
        ),
    ] = FORWARD,
    author: Annotated[
        str,
        typer.Option(help="Author named in the prompt ({author} in --instruction and --system)."),
    ] = DEFAULT_AUTHOR,
    instruction: Annotated[
        str | None,
        typer.Option(
            help=f"Put before the text in the prompt; '' for none. [default: {DEFAULT_INSTRUCTION[FORWARD]!r}, or {DEFAULT_INSTRUCTION[BACKWARD]!r}]",
            show_default=False,
        ),
    ] = None,
    system: Annotated[
        str | None,
        typer.Option(
            help=f"System message of messages, sharegpt and alpaca; '' for none. [default: {DEFAULT_SYSTEM[FORWARD]!r}, or {DEFAULT_SYSTEM[BACKWARD]!r}]",
            show_default=False,
        ),
    ] = None,
    source_label: Annotated[
        str | None,
        typer.Option(help="metadata.source of every record. [default: the source file's name]"),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            help="Only this source (file name or path); repeat for several.", show_default=False
        ),
    ] = None,
    section: Annotated[
        list[str] | None,
        typer.Option(
            help="Only this section: a heading's title, or its label before the first full stop (CHAPTER IV); any case; repeat for several.",
            show_default=False,
        ),
    ] = None,
    min_words: Annotated[
        int | None,
        typer.Option(help="Only originals of this many words or more.", show_default=False),
    ] = None,
    max_words: Annotated[
        int | None,
        typer.Option(help="Only originals of this many words or fewer.", show_default=False),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Write at most this many records, the first in source order.", show_default=False
        ),
    ] = None,
    dedupe: Annotated[
        bool,
        typer.Option(
            "--dedupe",
            help="Drop paragraphs whose original (its words) came earlier in the export.",
        ),
    ] = False,
    split: Annotated[
        float | None,
        typer.Option(
            help="Share of paragraphs for NAME.train.jsonl, the rest to NAME.val.jsonl, e.g. 0.9; a paragraph's lines stay together.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help=f"Seed of --split's hash. [default: {DEFAULT_SEED}]", show_default=False),
    ] = None,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Write the accepted pairs as training data: the paraphrase is the prompt, the original the target.

    A recipe that wants several answers a paragraph (--outputs) gives a record for each. Records per file, lengths and what was left out are printed on stderr.
    """
    options = ExportOptions(
        output=output, format=format, recipe=recipe, direction=direction, author=author,
        instruction=instruction, system=system, source_label=source_label,
        sources=tuple(source or ()), sections=tuple(section or ()), min_words=min_words,
        max_words=max_words, limit=limit, dedupe=dedupe, split=split, seed=seed,
    )  # fmt: skip
    options.checked_format()  # a bad option is refused before the database is opened
    with open_db(db) as database:
        result = export_pairs(database, options)
    typer.echo(result.wrote(), err=output == "-")
    for line in result.statistics():
        typer.echo(line, err=True)


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

    from workbench.llm.embedded import embedded_server

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
    host: Annotated[
        str,
        typer.Option(help="Address to serve on; anything but loopback exposes every prompt."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to serve on; 0 picks a free one.")
    ] = 8001,
    open_browser: Annotated[bool, typer.Option("--open", help="Open a browser window.")] = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Review the job in Datasette: answers beside their paragraphs, histories, every request.

    Serves until Ctrl-C and prints the URL of the database's page. Works on a read-only file and while a run is writing.
    """
    from workbench.review.browse import Served, is_loopback
    from workbench.review.browse import browse as serve

    if not is_loopback(host):
        typer.echo(
            f"Warning: --host {host} is not loopback: whoever reaches it can read every prompt "
            f"and answer in {db}.",
            err=True,
        )

    def ready(served: Served) -> None:
        snapshot = " as it stands (read-only, nothing writing it)" if served.immutable else ""
        typer.echo(f"Serving {db}{snapshot}; Ctrl-C to stop.", err=True)
        typer.echo(served.url)  # the one line a script needs, on stdout

    try:
        serve(db, host=host, port=port, open_browser=open_browser, on_ready=ready)
    except KeyboardInterrupt:  # Ctrl-C before the server was up
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    typer.echo("Stopped.", err=True)


@app.command()
@user_errors
def models(
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List the models the server offers, one per line (the first is run's default)."""
    from workbench.llm.client import Server

    for name in Server(base_url, api_key=api_key).list_models():
        typer.echo(name)


@app.command()
@user_errors
def doctor(
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
    model: ServerModelOption = None,
    api_key: ApiKeyOption = None,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Check the server (reachable, a model loaded, one tiny answer), the database and the meaning model."""
    from workbench.doctor import check_database, check_meaning, check_server

    checks = (
        check_server(base_url, api_key=api_key, model=model) + check_database(db) + check_meaning()
    )
    marks = {"ok": "✓", "warn": "!", "fail": "✗"}
    for check in checks:
        typer.echo(f"{marks[check.status]} {check.name:<10} {check.message}")
    if any(check.status == "fail" for check in checks):
        raise typer.Exit(ExitCode.ERROR)


def main() -> None:
    app(prog_name="workbench")
