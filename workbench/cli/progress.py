"""What a run shows on stderr while it works: its job changes, then a progress bar."""

from __future__ import annotations

from typing import Any

import typer

from workbench.engine.run import RunStart
from workbench.engine.worker import AttemptEvent, CheckedEvent


class Progress:
    """A rich progress bar on stderr, loaded only when a run starts."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.counts = {"accepted": 0, "rejected": 0, "failed": 0}

    def notes(self, notes: list[str]) -> None:
        if not self.quiet:
            for note in notes:
                typer.echo(note, err=True)

    def start(self, start: RunStart) -> None:
        self.notes(start.notes)
        if self.quiet:
            return
        typer.echo(
            f"Run #{start.run_id}: {start.paragraphs:,} paragraphs with recipe "
            f"{start.recipe.name!r} ({start.recipe.model})",
            err=True,
        )
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.task = self.bar.add_task(self._describe(), total=start.paragraphs)
        self.bar.start()

    def notice(self, line: str) -> None:
        """A server left the rotation or came back: said above the bar."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            typer.echo(line, err=True)

    def event(self, event: AttemptEvent | CheckedEvent) -> None:
        if isinstance(event, AttemptEvent):
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
