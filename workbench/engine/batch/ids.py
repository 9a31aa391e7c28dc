"""The custom_id of a batch request: which batch, paragraph, recipe and attempt it asks for.

"wb-TOKEN-pPARAGRAPH-rRECIPE-aATTEMPT": at most 64 characters of [A-Za-z0-9_-], what OpenAI's
Batch API, vLLM and Anthropic's Message Batches all accept. TOKEN is the batch's own random
token, so a result line from another job's batch is told from this job's.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

_ID = re.compile(r"wb-([0-9a-f]{10})-p(\d+)-r(\d+)-a(\d+)")
MAX_LENGTH = 64


@dataclass(frozen=True)
class RequestId:
    token: str
    paragraph_id: int
    recipe_id: int
    attempt_number: int

    def __str__(self) -> str:
        text = f"wb-{self.token}-p{self.paragraph_id}-r{self.recipe_id}-a{self.attempt_number}"
        assert len(text) <= MAX_LENGTH
        return text


def new_token() -> str:
    return secrets.token_hex(5)


def parse_id(text: object) -> RequestId | None:
    """The request a custom_id names, or None when it is not one workbench writes."""
    found = _ID.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        return None
    token, paragraph, recipe, attempt = found.groups()
    return RequestId(token, int(paragraph), int(recipe), int(attempt))
