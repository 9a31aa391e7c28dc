"""The words the database's columns hold, as enums: what its CHECK constraints allow.

Each is a `str`, so it compares equal to the text stored, binds as TEXT and prints as its value.
"""

from __future__ import annotations

from enum import Enum


class Word(str, Enum):
    """A column's word: equal to the stored text and printed as it (Enum would print its name)."""

    def __str__(self) -> str:
        return str(self.value)


class Outcome(Word):
    """An attempt's verdict (attempts.outcome)."""

    ACCEPTED = "accepted"  # passed every rule
    REJECTED = "rejected"  # broke a rule: uses up one of the recipe's attempts
    FAILED = "failed"  # no usable answer (transport, HTTP, body): never judged


# The reason a hand rejection is counted under when the rules accepted the answer (the view
# verdicts in schema.sql); when the rules rejected it too, it keeps the rule's reason.
REJECTED_BY_HAND = "reviewer"


class Status(Word):
    """A paragraph's status under a recipe (the view paragraph_status), derived from its counts."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"  # has the accepted answers the recipe wants
    SKIPPED = "skipped"  # used up its attempts without them


class RunStatus(Word):
    """A run's state (runs.status)."""

    RUNNING = "running"
    COMPLETED = "completed"  # no work left, or --limit reached
    INTERRUPTED = "interrupted"  # Ctrl-C, or its process died
    FAILED = "failed"  # the server refused or kept failing


class CheckKind(Word):
    """What a rule asked a server about an answer (checks.kind)."""

    JUDGE = "judge"
    EMBEDDINGS = "embeddings"


class FinishReason(Word):
    """The finish reason (attempts.finish_reason) workbench itself writes; the others ("stop",
    "length", …) are the server's own words, kept as they came."""

    ABORTED = "aborted"  # the run stopped reading a streamed answer: a rule had fired
