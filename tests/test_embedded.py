"""The embedded llama.cpp server (workbench.llm.embedded) on the real SmolLM2-135M model.

Structure only, never the model's wording. One server serves the module (about 0.5 s to
start); the tests that must see a server stop start their own.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from workbench.llm.embedded import EmbeddedUnavailable, default_model_path, embedded_server

# Before xllamacpp loads libgomp: the setting embedded_server() makes on its own import (see
# _import_xllamacpp), which importorskip would otherwise pre-empt for the whole session.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
pytest.importorskip("xllamacpp")

pytestmark = pytest.mark.embedded

try:
    MODEL = default_model_path()
except EmbeddedUnavailable as e:
    pytest.skip(str(e), allow_module_level=True)

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def server():
    with embedded_server(parallel=2) as srv:
        yield srv


@pytest.fixture
def http():
    session = requests.Session()
    session.trust_env = False  # straight to 127.0.0.1, whatever HTTP_PROXY says
    with session:
        yield session


def test_default_model_is_the_smollm2_file():
    assert MODEL.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert MODEL.stat().st_size > 50_000_000


def test_server_describes_itself(server):
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert server.model == "SmolLM2-135M-Instruct.Q4_1"  # the file's stem
    assert server.parallel == 2
    assert server.n_ctx == 2 * 2048
    assert server.model_path == MODEL


def test_health(server, http):
    response = http.get(f"http://127.0.0.1:{server.port}/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_models_lists_the_alias(server, http):
    response = http.get(f"{server.base_url}/models", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == [server.model]
    assert body["data"][0]["meta"]["n_ctx"] == 2048  # per slot: n_ctx shared by 2 slots


def test_chat_completion_structure(server, http):
    body = {
        "model": server.model,
        "messages": [
            {"role": "system", "content": "Rewrite the user's text in other words."},
            {"role": "user", "content": "The lamp in the tower burned all night long."},
        ],
        "max_tokens": 3,  # small: fast, and almost surely cut short
    }
    response = http.post(f"{server.base_url}/chat/completions", json=body, timeout=60)
    assert response.status_code == 200
    answer = response.json()
    assert answer["object"] == "chat.completion"
    assert answer["model"] == server.model
    [choice] = answer["choices"]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("length", "stop")
    usage = answer["usage"]
    assert usage["prompt_tokens"] > 0
    assert 0 < usage["completion_tokens"] <= 3
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    if usage["completion_tokens"] == 3:
        assert choice["finish_reason"] == "length"


def test_port_is_closed_after_exit(http):
    with embedded_server(parallel=1, alias="tiny") as srv:
        assert listening(srv.port)
        assert http.get(f"{srv.base_url}/models", timeout=10).json()["data"][0]["id"] == "tiny"
    assert not listening(srv.port)
    with pytest.raises(requests.ConnectionError):
        http.get(f"{srv.base_url}/models", timeout=2)


def test_exception_in_the_block_stops_the_server():
    with pytest.raises(RuntimeError, match="boom"), embedded_server(parallel=1) as srv:
        raise RuntimeError("boom")
    assert not listening(srv.port)


def test_missing_model_file_is_one_line(tmp_path):
    with pytest.raises(EmbeddedUnavailable) as info, embedded_server(tmp_path / "nope.gguf"):
        pass
    assert str(info.value) == f"model file not found: {tmp_path / 'nope.gguf'}"


# Run in a child process: a regression here freezes the whole interpreter (the destructor holds
# the GIL), which only a timeout from outside can end.
IN_FLIGHT = textwrap.dedent(
    """
    import threading, time
    import requests
    from workbench.llm.embedded import embedded_server

    errors = []

    def ask(url, model):
        body = {"model": model, "messages": [{"role": "user", "content": "Tell a long story."}],
                "max_tokens": 2000, "ignore_eos": True}
        session = requests.Session()
        session.trust_env = False
        try:
            session.post(url, json=body, timeout=60)
        except requests.ConnectionError:
            errors.append("cut")

    with embedded_server(parallel=2) as srv:
        clients = [threading.Thread(target=ask, args=(srv.base_url + "/chat/completions",
                                                       srv.model)) for _ in range(2)]
        for c in clients:
            c.start()
        time.sleep(1.0)  # both requests are decoding now
        started = time.monotonic()
    print(f"stopped in {time.monotonic() - started:.2f} s")
    for c in clients:
        c.join(10)
    print("clients:", errors)
    """
)


def test_stopping_with_requests_in_flight_does_not_hang():
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", IN_FLIGHT], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "clients: ['cut', 'cut']" in result.stdout
    assert time.monotonic() - started < 30


def test_importing_the_module_loads_no_native_code():
    code = "import sys, workbench.llm.embedded; print('xllamacpp' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.stdout.strip() == "False", result.stderr


def predicted_tokens(http, server) -> float:
    """llama.cpp's own count of the tokens it has generated (GET /metrics)."""
    root = server.base_url.rsplit("/v1", 1)[0]
    text = http.get(f"{root}/metrics", timeout=10).text
    (value,) = re.findall(r"^llamacpp:tokens_predicted_total (\S+)$", text, re.MULTILINE)
    return float(value)


def test_closing_a_stream_stops_llama_cpp_generating(server, http):
    """What `run --stream` relies on to save tokens: this llama.cpp stops decoding within a
    few tokens of the client closing the connection, rather than finishing max_tokens."""
    from workbench.llm.client import Server
    from workbench.llm.stream import stream_complete

    before = predicted_tokens(http, server)
    seen: list[int] = []

    def watch(text: str) -> str | None:
        seen.append(1)
        return "enough" if len(seen) >= 10 else None

    body = {
        "model": server.model,
        "messages": [{"role": "user", "content": "Tell a very long story about a lighthouse."}],
        "max_tokens": 300,
        "temperature": 0.9,
        "seed": 1,
    }
    completion = stream_complete(Server(server.base_url), http, body, watch)
    assert completion.finish_reason == "aborted" and completion.completion_tokens == 10
    time.sleep(1.0)  # time for 30 more tokens, had it gone on
    generated = predicted_tokens(http, server) - before
    assert 10 <= generated <= 14
    # The same request read to its end generates what it was allowed.
    before = predicted_tokens(http, server)
    whole = stream_complete(Server(server.base_url), http, {**body, "max_tokens": 40})
    assert whole.finish_reason == "length" and whole.completion_tokens == 40
    assert predicted_tokens(http, server) - before == 40
