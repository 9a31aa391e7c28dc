"""What `export` is asked for, checked before the database is opened or a file touched."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, fields
from pathlib import Path

from workbench.dataset.files import CARD_NAME, check_card_is_ours
from workbench.dataset.formats import BACKWARD, DEFAULT_AUTHOR, DIRECTIONS, FORMATS, FORWARD, Format
from workbench.dataset.hub import DEFAULT_LANGUAGE, NO_LICENSE, checked_language, checked_license
from workbench.dataset.split import PARAGRAPH, SPLIT_BY
from workbench.dataset.tokens import TokenCounter
from workbench.dataset.wording import Wordings, read_values
from workbench.errors import SettingError

DEFAULT_FORMAT = "notebook"


DEFAULT_OUTPUT = "output"  # + the format's extension: output.jsonl, output.csv


DEFAULT_SEED = 0


ALL_RECIPES = "all"


STDOUT = "-"


# The splits of a dataset folder, named as the Hugging Face Hub and `datasets` name them.
TRAIN, VALIDATION = "train", "validation"


@dataclass(frozen=True)
class Targets:
    """Where an export writes: its data files (none for stdout), and in a dataset folder
    (`-o DIR/`) the card beside them."""

    files: list[Path]
    splits: tuple[str, ...]  # each file's split: train, validation
    folder: Path | None = None

    @property
    def card(self) -> Path | None:
        return self.folder / CARD_NAME if self.folder is not None else None


@dataclass(frozen=True)
class Checked:
    """The options resolved: what needs no database, read and checked once."""

    format: Format
    wordings: Wordings
    targets: Targets
    tokenizer: TokenCounter | None
    license: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class ExportOptions:
    """What `workbench export` was asked for. None means "not given": the default applies."""

    output: str | None = None  # a file or DIR/, "-" for stdout; None: output + the extension
    format: str = DEFAULT_FORMAT
    recipe: str | None = None  # None: the current recipe; "all": every recipe
    direction: str = FORWARD
    author: str = DEFAULT_AUTHOR
    instructions: tuple[str, ...] = ()  # several: one a paragraph; "@FILE": one a line
    systems: tuple[str, ...] = ()
    source_label: str | None = None  # metadata.source of every record
    sources: tuple[str, ...] = ()  # keep these sources (names or paths)
    sections: tuple[str, ...] = ()  # keep these sections (titles)
    min_words: int | None = None  # of the original
    max_words: int | None = None
    limit: int | None = None  # records
    dedupe: bool = False
    split: float | None = None  # the share of paragraphs (or sections) in the train file
    split_by: str | None = None  # what a side keeps whole: paragraph (default) or section
    seed: int | None = None
    reviewed_only: bool = False  # only the pairs a person accepted by hand
    tokenizer: str | None = None  # a tokenizer.json, or a folder holding one
    license: str | None = None  # the card's licence identifier
    languages: tuple[str, ...] = ()  # the card's language codes

    @property
    def to_folder(self) -> bool:
        """-o DIR/ (or an existing folder): a dataset folder with its card."""
        output = self.output
        if output is None or output == STDOUT:
            return False
        return output.endswith(("/", os.sep)) or Path(output).is_dir()

    def checked(self) -> Checked:
        """Every option that needs no database, checked and read (instruction files, the
        tokenizer); raises SettingError with one line otherwise, before anything is read from
        the database or written."""
        fmt = self._checked_format()
        targets = self.targets(fmt)
        if not self.to_folder:
            for given, setting in ((self.license, "{license}"), (self.languages, "{language}")):
                if given:
                    raise SettingError(
                        setting + " is for the dataset card, written with {output} DIR/: "
                        "give a folder"
                    )
        languages = tuple(dict.fromkeys(checked_language(code) for code in self.languages))
        wordings = self.wordings()
        if self.seed is not None and self.split is None and not wordings.varied:
            raise SettingError(
                "{seed} chooses the {split}, and which of several {instruction} or {system} "
                "a paragraph gets: give one of those too"
            )
        return Checked(
            fmt,
            wordings,
            targets,
            TokenCounter.load(self.tokenizer) if self.tokenizer is not None else None,
            checked_license(self.license) if self.license is not None else NO_LICENSE,
            languages or (DEFAULT_LANGUAGE,),
        )

    def wordings(self) -> Wordings:
        seed = DEFAULT_SEED if self.seed is None else self.seed
        return Wordings.resolve(
            self.direction,
            author=self.author,
            instructions=read_values("instruction", self.instructions),
            systems=read_values("system", self.systems),
            seed=seed,
        )

    def _checked_format(self) -> Format:
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
            (bool(self.instructions), "{instruction}", fmt.no_instruction),
            (bool(self.systems), "{system}", fmt.no_system),
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
        self._check_split(fmt)
        return fmt

    def _check_split(self, fmt: Format) -> None:
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
                    "-o NAME{ext} or -o DIR/, not -o -",
                    ext=fmt.extension,
                )
            if self.split_by is not None and self.split_by not in SPLIT_BY:
                raise SettingError(
                    "{split_by} {value} is not a unit of the split; choose {units}",
                    value=self.split_by,
                    units=" or ".join(SPLIT_BY),
                )
        elif self.split_by is not None:
            raise SettingError("{split_by} says what {split} keeps whole: give {split} too")

    def targets(self, fmt: Format) -> Targets:
        """The files to write: one, or train and val beside -o; in a dataset folder train and
        validation (or train alone) and the card; none for stdout."""
        output = self.output or DEFAULT_OUTPUT + fmt.extension
        if output == STDOUT:
            return Targets([], ())
        path = Path(output)
        if self.to_folder:
            if path.exists() and not path.is_dir():
                raise SettingError(
                    "{output} {given} names a folder, but {path} is a file", given=output, path=path
                )
            check_card_is_ours(path / CARD_NAME)
            splits = (TRAIN,) if self.split is None else (TRAIN, VALIDATION)
            return Targets([path / f"{s}{fmt.extension}" for s in splits], splits, path)
        if self.split is None:
            return Targets([path], (TRAIN,))
        suffix = path.suffix or fmt.extension
        stem = path.stem if path.suffix else path.name
        return Targets(
            [path.with_name(f"{stem}.train{suffix}"), path.with_name(f"{stem}.val{suffix}")],
            (TRAIN, VALIDATION),
        )

    @property
    def unit(self) -> str:
        return self.split_by or PARAGRAPH

    def command(self, db_name: str) -> str:
        """The command line that asks for these options again (on the database `db_name`)."""
        words = ["workbench", "export", "--db", db_name]
        flags = {
            "output": "-o",
            "instructions": "--instruction",
            "systems": "--system",
            "sources": "--source",
            "sections": "--section",
            "languages": "--language",
        }
        defaults = ExportOptions()
        for field in fields(self):
            value, default = getattr(self, field.name), getattr(defaults, field.name)
            if value == default:
                continue
            if field.name == "output" and self.to_folder and not value.endswith("/"):
                value += "/"  # a folder, even where it does not exist yet
            flag = flags.get(field.name, "--" + field.name.replace("_", "-"))
            if isinstance(value, bool):
                words.append(flag)
            elif isinstance(value, tuple):
                for item in value:
                    words += [flag, item]
            else:
                words += [flag, repr(value) if isinstance(value, float) else str(value)]
        return shlex.join(words)
