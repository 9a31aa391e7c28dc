"""`workbench models` and `workbench doctor`: what a server offers, and what is wrong."""

from __future__ import annotations

from pathlib import Path

import typer

from workbench.cli.app import option, user_errors
from workbench.cli.options import (
    ApiKeyOption,
    BaseUrlOption,
    DbOption,
    ServerModelOption,
)
from workbench.errors import ExitCode
from workbench.llm.defaults import DEFAULT_BASE_URL
from workbench.store.defaults import DEFAULT_DB


@user_errors
def models(
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List the models the server offers, one per line (the first is run's default)."""
    from workbench.llm.client import Server

    for name in Server(base_url, api_key=api_key).list_models():
        typer.echo(name)


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
        check_server(base_url, api_key=api_key, model=model)
        + check_database(db, option)
        + check_meaning(db)
    )
    marks = {"ok": "✓", "warn": "!", "fail": "✗"}
    for check in checks:
        typer.echo(f"{marks[check.status]} {check.name:<10} {check.message}")
    if any(check.status == "fail" for check in checks):
        raise typer.Exit(ExitCode.ERROR)
