"""`workbench run` and `workbench serve`: paraphrasing with a server, or the built-in one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from workbench.cli.app import user_errors
from workbench.cli.options import (
    ApiKeyOption,
    BannedPhraseOption,
    BannedPhrasesFileOption,
    DbOption,
    DisableRuleOption,
    EmbeddingsModelOption,
    EnableRuleOption,
    FeedbackOption,
    JudgeModelOption,
    JudgeOption,
    MaxAttemptsOption,
    MaxRatioOption,
    MaxRepetitionOption,
    MaxTokensOption,
    MeaningModelOption,
    MinMeaningOption,
    MinRatioOption,
    ModelOption,
    NotebookRulesOption,
    OutputsOption,
    RecipeOption,
    RetryTemperatureOption,
    SimilarityOption,
    SystemPromptFileOption,
    SystemPromptOption,
    TemperatureOption,
    UserTemplateOption,
    recipe_settings,
    rule_changes,
)
from workbench.engine.defaults import DEFAULT_CONCURRENCY
from workbench.errors import ExitCode, WorkbenchError
from workbench.llm.defaults import (
    DEFAULT_BACKOFF,
    DEFAULT_BASE_URL,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    MAX_BACKOFF,
)
from workbench.store.defaults import DEFAULT_DB


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
    meaning_model: MeaningModelOption = None,
    embeddings_model: EmbeddingsModelOption = None,
    judge: JudgeOption = None,
    judge_model: JudgeModelOption = None,
    disable_rule: DisableRuleOption = None,
    enable_rule: EnableRuleOption = None,
    notebook_rules: NotebookRulesOption = False,
    base_url: Annotated[
        list[str] | None,
        typer.Option(
            envvar="WORKBENCH_BASE_URL",
            help="OpenAI-compatible API: LM Studio, llama.cpp server, Ollama (…/v1), vLLM. "
            "Give it once per server to spread the work over several; URL#N takes N requests "
            f"at once there (else --concurrency). [default: {DEFAULT_BASE_URL}]",
            show_default=False,
        ),
    ] = None,
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
        int, typer.Option(help="Requests in flight at once, per server (unless URL#N).")
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
    stream: Annotated[
        bool,
        typer.Option(
            help="Read each answer as the server writes it (server-sent events) and stop it as "
            "soon as a rule fires that more text cannot undo: a banned phrase, a second "
            "paragraph, too many words, a loop. Servers that do not stream are asked as usual."
        ),
    ] = True,
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
    from workbench.cli.progress import Progress
    from workbench.engine.run import RunOptions
    from workbench.engine.run import run as run_job
    from workbench.store.database import open_db
    from workbench.store.states import RunStatus

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
        max_repetition=max_repetition, min_meaning=min_meaning, meaning_model=meaning_model,
        embeddings_model=embeddings_model, judge=judge, judge_model=judge_model,
    )  # fmt: skip
    options = RunOptions(
        base_url=tuple(base_url or [DEFAULT_BASE_URL]), concurrency=concurrency, limit=limit,
        timeout=timeout, retries=retries, backoff=backoff, judge_base_url=judge_base_url,
        stream=stream,
    )  # fmt: skip
    progress, serve = Progress(quiet), _embedded(gguf, quiet) if embedded or gguf else None
    with open_db(db) as database:
        try:
            summary = run_job(
                database, options, recipe_name=recipe, given=given, changes=changes, api_key=api_key,
                serve=serve, on_start=progress.start, on_event=progress.event, on_notice=progress.notice,
            )  # fmt: skip
        except KeyboardInterrupt:
            fail_interrupted("Interrupted before the run started: nothing changed.")
        finally:
            progress.stop()
    if summary.status == RunStatus.INTERRUPTED:
        fail_interrupted("Interrupted: finished attempts are saved; run again to resume.")
    if summary.run_id is None:
        progress.notes(summary.notes)
    typer.echo(summary.describe())


def fail_interrupted(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(ExitCode.INTERRUPTED) from None


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
