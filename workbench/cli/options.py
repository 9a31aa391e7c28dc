"""The command line's shared options, declared once, and what they turn into.

Recipe options say how a job asks; given to `run`, they shape a new recipe or must agree with a
stored one. Rule options say how the job judges; given to `run` or `rules`, they change the
job's rules. Both default to None, "not given": a plain `workbench run` keeps what is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.errors import WorkbenchError
from workbench.judge.changes import RuleChanges
from workbench.judge.meaning import MEANING_MODELS
from workbench.judge.rules import CODES
from workbench.judge.settings import (
    DEFAULT_MAX_RATIO,
    DEFAULT_MAX_REPETITION,
    DEFAULT_MEANING_MODEL,
    DEFAULT_MIN_RATIO,
    DEFAULT_SIMILARITY,
    MIN_MEANING,
)

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
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        envvar=["WORKBENCH_API_KEY", "OPENAI_API_KEY"],
        help="Sent as a Bearer token; never stored.",
        show_default=False,
    ),
]
ServerModelOption = Annotated[
    str | None,
    typer.Option(envvar="WORKBENCH_MODEL", help="Model name. [default: the first one listed]"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]

# --- recipe options ----------------------------------------------------------------------------

RECIPE_PANEL = "Recipe: how the job asks (stored; a plain run keeps them)"
RULES_PANEL = "Rules: how the job judges (stored; a change judges every answer again)"

RecipeOption = Annotated[
    str | None,
    typer.Option(
        "--recipe",
        help="Work this recipe; a new name makes a new recipe from the options given and the "
        "current recipe. [default: the current recipe, the one used last]",
        show_default=False,
        rich_help_panel=RECIPE_PANEL,
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        envvar="WORKBENCH_MODEL",
        help="Model name, as the server lists it. [default: the recipe's; for a new job the "
        "first model the server lists]",
        show_default=False,
        rich_help_panel=RECIPE_PANEL,
    ),
]
SystemPromptOption = Annotated[
    str | None,
    typer.Option(
        help="System prompt. [default: the recipe's; the notebook's for a new job]",
        show_default=False,
        rich_help_panel=RECIPE_PANEL,
    ),
]
SystemPromptFileOption = Annotated[
    Path | None,
    typer.Option(
        help="Read the system prompt from a file.", dir_okay=False, rich_help_panel=RECIPE_PANEL
    ),
]
UserTemplateOption = Annotated[
    str | None,
    typer.Option(
        help="The user message; {text} is the paragraph. [default: the recipe's; {text} for a "
        "new job]",
        show_default=False,
        rich_help_panel=RECIPE_PANEL,
    ),
]
TemperatureOption = Annotated[
    float | None,
    typer.Option(
        help="Sampling temperature, 0 to 2. [default: the recipe's; 0.9 for a new job]",
        show_default=False,
        rich_help_panel=RECIPE_PANEL,
    ),
]
MaxTokensOption = Annotated[
    int | None,
    typer.Option(
        help="Cap on answer tokens; 0 sends no cap. [default: the recipe's; for a new job, "
        "room for the longest acceptable answer]",
        show_default=False,
        rich_help_panel=RECIPE_PANEL,
    ),
]
RetryTemperatureOption = Annotated[
    str | None,
    typer.Option(
        metavar="LOW:HIGH",
        help="After a rejection, retry with a temperature drawn from this range and a new seed, "
        "e.g. 0.7:1.0; 'off' for none. [default: the recipe's; off for a new job]",
        show_default=False,
        rich_help_panel=RECIPE_PANEL,
    ),
]
FeedbackOption = Annotated[
    bool | None,
    typer.Option(
        "--feedback/--no-feedback",
        help="After a rejection, tell the model why when asking again. [default: the "
        "recipe's; off for a new job]",
        show_default=False,
        rich_help_panel=RECIPE_PANEL,
    ),
]
OutputsOption = Annotated[
    int | None,
    typer.Option(
        help="Accepted answers wanted per paragraph; a budget, may change. [default: the "
        "recipe's; 1 for a new job]",
        show_default=False,
        rich_help_panel=RECIPE_PANEL,
    ),
]
MaxAttemptsOption = Annotated[
    int | None,
    typer.Option(
        help="Validated answers allowed per wanted output, all runs together, before a "
        "paragraph is skipped; a budget, may change. [default: the recipe's; 5 for a new job]",
        show_default=False,
        rich_help_panel=RECIPE_PANEL,
    ),
]

# --- rule options ------------------------------------------------------------------------------

BannedPhraseOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Reject answers containing this text; adds to the job's list.",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
BannedPhrasesFileOption = Annotated[
    Path | None,
    typer.Option(
        help="Replace the job's banned phrase list by this file's lines.",
        dir_okay=False,
        rich_help_panel=RULES_PANEL,
    ),
]
MinRatioOption = Annotated[
    float | None,
    typer.Option(
        help="Reject answers under int(ratio × input words) words. "
        f"[default: the job's; {DEFAULT_MIN_RATIO:g}]",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
MaxRatioOption = Annotated[
    float | None,
    typer.Option(
        help="Reject answers over int(ratio × input words) words. "
        f"[default: the job's; {DEFAULT_MAX_RATIO:g}]",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
SimilarityOption = Annotated[
    float | None,
    typer.Option(
        help="too_similar rejects answers whose words match the original this much (0 to 1). "
        f"[default: the job's; {DEFAULT_SIMILARITY:g}]",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
MaxRepetitionOption = Annotated[
    float | None,
    typer.Option(
        help="repetition rejects answers whose 4-word sequences recur this much (0 to 1). "
        f"[default: the job's; {DEFAULT_MAX_REPETITION:g}]",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
MinMeaningOption = Annotated[
    float | None,
    typer.Option(
        help="meaning_drift rejects answers whose meaning similarity to the original is under "
        "this. [default: the job's; for a new job, or on changing --meaning-model, the model's: "
        + ", ".join(f"{model} {value:g}" for model, value in MIN_MEANING.items())
        + "]",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
MeaningModelOption = Annotated[
    str | None,
    typer.Option(
        metavar="[" + "|".join(MEANING_MODELS) + "]",
        help="The offline model meaning_drift measures with: minilm, a sentence encoder that "
        "tells a free rewrite from a drift; wordllama, the word-level measure of jobs made "
        f"before it. [default: the job's; {DEFAULT_MEANING_MODEL} for a new job]",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
EmbeddingsModelOption = Annotated[
    str | None,
    typer.Option(
        help="Measure meaning with this embedding model of the run's server (POST /embeddings) "
        "instead of --meaning-model; minilm or wordllama: back to that one, offline. "
        "[default: the job's; none]",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
JudgeOption = Annotated[
    bool | None,
    typer.Option(
        "--judge/--no-judge",
        help="After the other rules pass, ask a model whether the rewrite says the same as the "
        "original (yes or no). [default: the job's; off]",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
JudgeModelOption = Annotated[
    str | None,
    typer.Option(
        help="The model --judge asks; 'recipe' for the recipe's own. [default: the job's; recipe]",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
DisableRuleOption = Annotated[
    list[str] | None,
    typer.Option(
        help=f"Switch off a rule or cleaner: {', '.join(CODES)}.",
        show_default=False,
        rich_help_panel=RULES_PANEL,
    ),
]
EnableRuleOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Switch a rule or cleaner back on.", show_default=False, rich_help_panel=RULES_PANEL
    ),
]
NotebookRulesOption = Annotated[
    bool,
    typer.Option(
        "--notebook-rules",
        help="Only the notebook's four rules (with truncated and empty), no cleaners.",
        rich_help_panel=RULES_PANEL,
    ),
]


def recipe_settings(
    *,
    model: str | None = None,
    system_prompt: str | None = None,
    system_prompt_file: Path | None = None,
    user_template: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    retry_temperature: str | None = None,
    feedback: bool | None = None,
    outputs: int | None = None,
    max_attempts: int | None = None,
) -> dict[str, Any]:
    """The recipe settings given on the command line, parsed; the others left out."""
    if system_prompt is not None and system_prompt_file is not None:
        raise WorkbenchError("give --system-prompt or --system-prompt-file, not both")
    if system_prompt_file is not None:
        system_prompt = read_text(system_prompt_file).strip()
    given: dict[str, Any] = {
        "model": model,
        "system_prompt": system_prompt,
        "user_template": user_template,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "feedback": feedback,
        "outputs": outputs,
        "max_attempts": max_attempts,
    }
    if retry_temperature is not None:
        given["retry_temperature"] = temperature_range(retry_temperature)
    return {
        name: value
        for name, value in given.items()
        if value is not None or name == "retry_temperature"
    }


def rule_changes(
    *,
    banned_phrase: list[str] | None = None,
    banned_phrases_file: Path | None = None,
    min_ratio: float | None = None,
    max_ratio: float | None = None,
    similarity: float | None = None,
    disable_rule: list[str] | None = None,
    enable_rule: list[str] | None = None,
    notebook_rules: bool = False,
    reset: bool = False,
    max_repetition: float | None = None,
    min_meaning: float | None = None,
    meaning_model: str | None = None,
    embeddings_model: str | None = None,
    judge: bool | None = None,
    judge_model: str | None = None,
) -> RuleChanges:
    """What the rule options given ask of the job's rules."""
    replaced = None
    if banned_phrases_file is not None:
        replaced = tuple(
            line for line in read_text(banned_phrases_file).splitlines() if line.strip()
        )
    return RuleChanges(
        reset=reset,
        notebook=notebook_rules,
        enable=frozenset(enable_rule or ()),
        disable=frozenset(disable_rule or ()),
        banned_phrases=replaced,
        add_banned_phrases=tuple(banned_phrase or ()),
        min_ratio=min_ratio,
        max_ratio=max_ratio,
        similarity=similarity,
        max_repetition=max_repetition,
        min_meaning=min_meaning,
        meaning_model=meaning_model,
        embeddings_model=embeddings_model,
        judge=judge,
        judge_model=judge_model,
    )


def temperature_range(text: str) -> tuple[float, float] | None:
    if text.strip().lower() == "off":
        return None
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError:
        raise WorkbenchError(
            f"--retry-temperature {text!r}: expected LOW:HIGH, e.g. 0.7:1.0, or off"
        ) from None
    return low, high


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkbenchError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise WorkbenchError(f"cannot read {path}: {e}") from None
