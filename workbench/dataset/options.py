"""What `export` is asked for, checked before the database is opened or a file touched."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.dataset.formats import BACKWARD, DEFAULT_AUTHOR, DIRECTIONS, FORMATS, FORWARD, Format
from workbench.errors import SettingError

DEFAULT_FORMAT = "notebook"


DEFAULT_OUTPUT = "output"  # + the format's extension: output.jsonl, output.csv


DEFAULT_SEED = 0


ALL_RECIPES = "all"


STDOUT = "-"


@dataclass(frozen=True)
class ExportOptions:
    """What `workbench export` was asked for. None means "not given": the default applies."""

    output: str | None = None  # a file, "-" for stdout; None: output + the format's extension
    format: str = DEFAULT_FORMAT
    recipe: str | None = None  # None: the current recipe; "all": every recipe
    direction: str = FORWARD
    author: str = DEFAULT_AUTHOR
    instruction: str | None = None
    system: str | None = None
    source_label: str | None = None  # metadata.source of every record
    sources: tuple[str, ...] = ()  # keep these sources (names or paths)
    sections: tuple[str, ...] = ()  # keep these sections (titles)
    min_words: int | None = None  # of the original
    max_words: int | None = None
    limit: int | None = None  # records
    dedupe: bool = False
    split: float | None = None  # the share of paragraphs in the train file
    seed: int | None = None
    reviewed_only: bool = False  # only the pairs a person accepted by hand

    def checked_format(self) -> Format:
        """The format, once every option that needs no database has been checked; raises
        SettingError with one line otherwise, before anything is read or written."""
        fmt = FORMATS.get(self.format)
        if fmt is None:
            raise SettingError(
                "{format} {value} is not a format; choose one of: {formats}",
                value=self.format,
                formats=", ".join(FORMATS),
            )
        if self.direction not in DIRECTIONS:
            raise SettingError(
                "{direction} {value} is not a direction; choose {forward} or {backward}",
                value=self.direction,
                forward=FORWARD,
                backward=BACKWARD,
            )
        for given, setting, reason in (
            (self.direction == BACKWARD, "{direction} " + BACKWARD, fmt.no_reverse),
            (self.instruction is not None, "{instruction}", fmt.no_instruction),
            (self.system is not None, "{system}", fmt.no_system),
        ):
            if given and reason:
                raise SettingError(
                    setting + " does not apply to {format} {name}: {reason}",
                    name=fmt.name,
                    reason=reason,
                )
        for name, value in (("min_words", self.min_words), ("max_words", self.max_words)):
            if value is not None and value < 0:
                raise SettingError("{" + name + "} must be 0 or more")
        if (
            self.min_words is not None
            and self.max_words is not None
            and self.min_words > self.max_words
        ):
            raise SettingError(
                "{min_words} {least} is more than {max_words} {most}: no paragraph could pass",
                least=self.min_words,
                most=self.max_words,
            )
        if self.limit is not None and self.limit < 1:
            raise SettingError("{limit} must be 1 or more")
        if self.split is not None:
            if not 0 < self.split < 1:
                raise SettingError(
                    "{split} {value:g} must be between 0 and 1: the share of paragraphs in the "
                    "train file, e.g. 0.9",
                    value=self.split,
                )
            if self.output == STDOUT:
                raise SettingError(
                    "{split} writes two files, NAME.train{ext} and NAME.val{ext}: give "
                    "-o NAME{ext}, not -o -",
                    ext=fmt.extension,
                )
        elif self.seed is not None:
            raise SettingError("{seed} chooses the {split}: give {split} too")
        return fmt

    def targets(self, fmt: Format) -> list[Path]:
        """The files to write: one, or train and val beside -o; none for stdout."""
        output = self.output or DEFAULT_OUTPUT + fmt.extension
        if output == STDOUT:
            return []
        path = Path(output)
        if self.split is None:
            return [path]
        suffix = path.suffix or fmt.extension
        stem = path.stem if path.suffix else path.name
        return [path.with_name(f"{stem}.train{suffix}"), path.with_name(f"{stem}.val{suffix}")]
