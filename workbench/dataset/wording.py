"""Varied instructions: several instructions and system messages, one of each chosen per paragraph.

Style-tuning guides vary the wording around the texts so that the tuned model learns the style,
not one phrasing. `--instruction` and `--system` may be given several times, or as `@FILE` (one a
line, blank lines skipped; `@@` starts a value with a literal `@`). Each paragraph's records get
the instruction and the system message that a seeded hash of the paragraph's identity (the hash of
its words) picks, each by its own hash: the same in every export with the same seed, whatever
else the job holds, and the same for the copies of a repeated paragraph.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from workbench.dataset.formats import DEFAULT_INSTRUCTION, DEFAULT_SYSTEM, Wording
from workbench.errors import SettingError


def read_values(setting: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """The values given, with each `@FILE` replaced by the file's non-blank lines; SettingError
    naming the setting for a file that cannot be read or holds none."""
    found: list[str] = []
    for value in values:
        if value.startswith("@@"):
            found.append(value[1:])
        elif value.startswith("@"):
            found.extend(_lines(setting, Path(value[1:])))
        else:
            found.append(value)
    return tuple(found)


def _lines(setting: str, path: Path) -> list[str]:
    named = "{" + setting + "} @{path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingError(named + ": no such file", path=path) from None
    except UnicodeDecodeError:
        raise SettingError(named + " is not UTF-8 text", path=path) from None
    except OSError as e:
        raise SettingError(named + " cannot be read: {e}", path=path, e=e.strerror) from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise SettingError(named + " has no line of text", path=path)
    return lines


def _pick(seed: int, what: str, identity: str, count: int) -> int:
    if count == 1:
        return 0
    digest = hashlib.blake2b(f"{seed}:{what}:{identity}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


@dataclass(frozen=True)
class Wordings:
    """The instructions and system messages of an export ({author} replaced), and the seed that
    picks one of each per paragraph."""

    instructions: tuple[str, ...]
    systems: tuple[str, ...]
    author: str
    seed: int = 0

    @classmethod
    def resolve(
        cls,
        direction: str,
        *,
        author: str,
        instructions: tuple[str, ...] = (),
        systems: tuple[str, ...] = (),
        seed: int = 0,
    ) -> Wordings:
        """The values given, each @FILE read; the direction's default for what was not given.
        A value repeated counts once, so each is as likely as the others."""

        def resolved(values: tuple[str, ...], default: str) -> tuple[str, ...]:
            words = [v.replace("{author}", author).strip() for v in values or (default,)]
            return tuple(dict.fromkeys(words))

        return cls(
            resolved(instructions, DEFAULT_INSTRUCTION[direction]),
            resolved(systems, DEFAULT_SYSTEM[direction]),
            author,
            seed,
        )

    @property
    def varied(self) -> bool:
        return len(self.instructions) > 1 or len(self.systems) > 1

    def choose(self, identity: str) -> tuple[int, int]:
        """The instruction's and the system message's indexes for a paragraph."""
        return (
            _pick(self.seed, "instruction", identity, len(self.instructions)),
            _pick(self.seed, "system", identity, len(self.systems)),
        )

    def wording(self, choice: tuple[int, int]) -> Wording:
        instruction, system = choice
        return Wording(self.instructions[instruction], self.systems[system], self.author)
