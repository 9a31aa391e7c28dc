"""A run's servers at its start: asked in parallel what they serve, the model settled, a pool.

Every server is asked GET /models at once (threads), so a run's start costs one round trip,
not one per server. The recipe's model must be listed by at least one (a job's first recipe
takes the first model the first reachable server lists); a server that does not list it is not
used, and one that cannot be reached starts out of the rotation, to be asked again. Each is said
in a note. When none can be used, the run stops before anything is written, with the first
server's own error.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from workbench.engine.recipes import Recipe
from workbench.errors import ServerUnreachable, WorkbenchError
from workbench.llm.client import Server
from workbench.llm.pool import FIRST_OUT_S, Member, Pool


def resolve_model(base_url: str, models: list[str], recipe: Recipe, *, given: bool) -> str:
    """The model to ask for: the recipe's, which the server must list, or the first it lists
    for a job's first recipe. `given`: the model came from --model, not from a stored recipe."""
    if recipe.model is None:
        if not models:
            raise ServerUnreachable(
                f"{base_url} lists no models: load one (LM Studio: Developer tab) or pass --model"
            )
        return models[0]
    if models and recipe.model not in models:
        if given:
            raise ServerUnreachable(
                f"model {recipe.model!r} is not loaded at {base_url}; it has: {', '.join(models)}"
            )
        raise ServerUnreachable(
            f"recipe {recipe.name!r} asks model {recipe.model!r}, which {base_url} does not "
            f"list (it has: {', '.join(models)}): load {recipe.model!r} there, or ask another "
            f"model under a new recipe: --recipe NAME --model {models[0]}"
        )
    return recipe.model


def open_pool(
    specs: list[tuple[str, int]],
    recipe: Recipe,
    *,
    given: bool,
    api_key: str | None,
    timeout: float,
) -> tuple[Pool, list[str]]:
    """The pool of the servers that serve the recipe's model, and notes on those left out.

    Raises ServerUnreachable (the first server's error) when none can be used."""
    servers = [Server(url, api_key=api_key, timeout=timeout) for url, _ in specs]
    with ThreadPoolExecutor(max_workers=len(servers)) as executor:
        answers = list(executor.map(_models, servers))
    reached = [answer for answer in answers if answer.error is None]
    if not reached:
        assert answers[0].error is not None
        raise answers[0].error
    model, errors = None, []
    for answer in reached:  # the first server that can serve the recipe decides
        try:
            model = resolve_model(answer.server.base_url, answer.models, recipe, given=given)
            break
        except ServerUnreachable as e:
            errors.append(e)
    if model is None:
        raise errors[0]
    members, notes = [], []
    for answer, (_, concurrency) in zip(answers, specs, strict=True):
        member = Member(answer.server, concurrency)
        if answer.error is not None:
            member.out_until, member.out_for = time.monotonic() + FIRST_OUT_S, FIRST_OUT_S
            notes.append(
                f"{answer.server.base_url}: {answer.error}; left out for now, asked again later"
            )
        elif answer.models and model not in answer.models:
            notes.append(f"{answer.server.base_url} does not list {model!r}: not used by this run")
            continue
        members.append(member)
    return Pool(members, model), notes


@dataclass(frozen=True)
class _Answer:
    """What a server said to GET /models: its models, or why it could not say."""

    server: Server
    models: list[str]
    error: WorkbenchError | None = None


def _models(server: Server) -> _Answer:
    try:
        return _Answer(server, server.list_models())
    except WorkbenchError as e:
        return _Answer(server, [], e)
