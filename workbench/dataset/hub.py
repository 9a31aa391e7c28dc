"""What the Hugging Face Hub reads in a dataset card's metadata: licences, languages, sizes, tasks.

The licence identifiers are the Hub's own list (licenses.txt, shipped with workbench so that an
export needs no network); a language is an ISO 639 code, as the Hub's `language` field takes;
the size category is the Hub's bucket for the number of records.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from workbench.errors import SettingError

NO_LICENSE = "unknown"  # the Hub's word for a licence not given
DEFAULT_LANGUAGE = "en"
TASK_CATEGORIES = ("text-generation",)
# The Hub's size categories, by the number of records below which each ends.
SIZE_CATEGORIES = (
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
    (10**10, "1B<n<10B"),
    (10**11, "10B<n<100B"),
    (10**12, "100B<n<1T"),
)
_LANGUAGE = re.compile(r"[a-z]{2,3}")  # ISO 639-1 (en) or 639-2/3 (eng, grc)


@cache
def licenses() -> tuple[str, ...]:
    """The Hub's licence identifiers, in its order."""
    text = resources.files("workbench.dataset").joinpath("licenses.txt").read_text("utf-8")
    return tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def checked_license(value: str) -> str:
    """The identifier, as the Hub spells it (lower case); SettingError for one it does not
    know, naming the nearest it does."""
    identifier = value.strip().lower()
    if identifier in licenses():
        return identifier
    near = [name for name in licenses() if identifier and name.startswith(identifier[:4])]
    raise SettingError(
        "{license} {value!r} is not a licence identifier the Hugging Face Hub knows"
        + (f"; did you mean {', '.join(near[:6])}?" if near else "")
        + " (the list: https://huggingface.co/docs/hub/repositories-licenses; 'other' for "
        "any other)",
        value=value,
    )


def checked_language(value: str) -> str:
    """The code in lower case, as the Hub lists it; SettingError for anything else."""
    code = value.strip().lower()
    if not _LANGUAGE.fullmatch(code):
        raise SettingError(
            "{language} {value!r} is not a language code: give its ISO 639 code, e.g. en, fr, de",
            value=value,
        )
    return code


def size_category(records: int) -> str:
    for limit, name in SIZE_CATEGORIES:
        if records < limit:
            return name
    return "n>1T"
