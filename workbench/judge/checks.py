"""Checks: what a rule asks a server about an answer, each request kept.

Two rules may need a server: `meaning_drift` when the job measures meaning with an embeddings
model (POST /embeddings) rather than WordLlama, and `judge`, which asks a model whether the
rewrite says the same as the original. A run gives each request slot a ServerChecker that sends
these with the run's retry policy and keeps a CheckCall for every request, failed ones included,
to be stored in `checks` beside the attempt it is about.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.judge.answer import OFFLINE
from workbench.judge.embeddings import EmbeddingCall, embeddings_similarity
from workbench.judge.rules import JUDGE_QUESTION
from workbench.judge.settings import Rules
from workbench.llm.client import Call, Completion, Server
from workbench.llm.retry import Stopped, raise_for_failure, transport_policy
from workbench.store.attempts import CheckRow
from workbench.store.states import CheckKind

JUDGE_MAX_TOKENS = 8  # room for "Yes." and little else: the answer is read from its first word
_FIRST_WORD = re.compile(r"[^\W_]+")


@dataclass
class CheckCall(Call):
    """One request a rule sent about an answer: the makings of a `checks` row."""

    kind: CheckKind = CheckKind.JUDGE
    result: str | None = None  # the judge's "yes" or "no"; the embeddings' similarity, as text
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def _check(kind: CheckKind, call: Call, **fields: Any) -> CheckCall:
    """A CheckCall holding what `call` recorded."""
    shared = {name: getattr(call, name) for name in Call.__dataclass_fields__}
    return CheckCall(**shared, kind=kind, **fields)


def judge_body(model: str, original: str, answer: str) -> dict[str, Any]:
    """The judge's request: the question, the two texts, temperature 0, a few tokens."""
    question = f"Original:\n{original}\n\nRewrite:\n{answer}\n\n{JUDGE_QUESTION}"
    return {
        "model": model,
        "messages": [{"role": "user", "content": question}],
        "temperature": 0,
        "max_tokens": JUDGE_MAX_TOKENS,
    }


def judgment(completion: Completion) -> CheckCall:
    """The judge's answer read from its first word (yes or no, any case, punctuation aside);
    anything else is a failed judgment, retried like a failed request."""
    call = _check(
        CheckKind.JUDGE, completion, prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
    )  # fmt: skip
    if not call.failed:
        first = _FIRST_WORD.search(completion.answer or "")
        word = first.group(0).lower() if first else ""
        if word in ("yes", "no"):
            call.result = word
        else:
            call.error = "bad_judgment"
            call.error_detail = (
                f"the judge answered {(completion.answer or '')[:80]!r}, not yes or no"
            )
    return call


def embedding_check(call: EmbeddingCall) -> CheckCall:
    return _check(
        CheckKind.EMBEDDINGS, call, result=None if call.score is None else f"{call.score:.4f}"
    )


class ServerChecker:
    """The checks of one request slot: meaning from the run's server when the rules name an
    embeddings model (else WordLlama), the judge from its own server or the run's. Every
    request it sends is kept in `calls` until the caller takes them."""

    def __init__(
        self,
        server: Server,
        judge_server: Server,
        recipe_model: str,
        *,
        retries: int,
        backoff: float,
        stop: threading.Event,
    ) -> None:
        self.server, self.judge_server, self.recipe_model = server, judge_server, recipe_model
        self.session = server.session()
        self.judge_session = (
            self.session if judge_server.base_url == server.base_url else judge_server.session()
        )
        self.retries, self.backoff, self.stop = retries, backoff, stop
        self.calls: list[CheckCall] = []

    def take_calls(self) -> list[CheckCall]:
        calls, self.calls = self.calls, []
        return calls

    def close(self) -> None:
        self.session.close()
        self.judge_session.close()

    def prefetch(self, original: str, rules: Rules) -> None:
        OFFLINE.prefetch(original, rules)  # a server's embeddings are asked with the answer

    def meaning(self, original: str, answer: str, rules: Rules) -> float:
        if not rules.embeddings_model:
            return OFFLINE.meaning(original, answer, rules)
        model = rules.embeddings_model
        call = self._send(
            lambda: embedding_check(
                embeddings_similarity(self.server, self.session, model, original, answer)
            )
        )
        return round(float(call.result or 0), 4)

    def judge(self, original: str, answer: str, rules: Rules) -> str:
        body = judge_body(rules.judge_model or self.recipe_model, original, answer)
        call = self._send(lambda: judgment(self.judge_server.complete(self.judge_session, body)))
        return str(call.result)

    def _send(self, make: Callable[[], CheckCall]) -> CheckCall:
        def once() -> CheckCall:
            if self.stop.is_set():
                raise Stopped
            call = make()
            self.calls.append(call)
            return raise_for_failure(call)

        return transport_policy(self.retries, self.backoff, stop=self.stop)(once)


def check_row(call: CheckCall, attempt_id: int, run_id: int) -> CheckRow:
    """The `checks` row of a check sent about attempt `attempt_id` in run `run_id`."""
    return CheckRow(
        attempt_id, run_id, call.kind, call.row(), call.result, call.error,
        call.error_detail, call.prompt_tokens, call.completion_tokens,
    )  # fmt: skip
