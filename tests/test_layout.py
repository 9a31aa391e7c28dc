"""The house: packages by pipeline stage, imports that only go down, modules of one concern.

Read from the source with `ast`, so a test fails the moment a change breaks the layout: an
import cycle, a stage importing one above it (or anything importing upward from store/), a
module over 500 lines, a package without its one-line docstring, a command that grew logic.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"
MAX_LINES = 500
MAX_COMMAND_LINES = 40  # a command's body: parse options, call the library, print the result

# Each stage may import the stages below it, never one above or beside it. The top (the CLI,
# doctor) may import any stage. `workbench.errors` is a leaf every stage shares.
STAGES = {
    "store": set(),
    "ingest": {"store"},
    "llm": {"store"},
    "judge": {"llm", "store"},
    "engine": {"judge", "llm", "store"},
    "review": {"engine", "judge", "store"},
    "dataset": {"review", "engine", "judge", "store"},
}
SHARED = {"workbench", "workbench.errors"}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, known: set[str]) -> set[str]:
    """The workbench modules `path` imports at run time, at any depth (imports inside
    functions included; those under `if TYPE_CHECKING:` left out: they never run)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from workbench.judge import wordllama` is a module
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
        for inner in ast.iter_child_nodes(node):
            visit(inner)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {name for name in found if name in known}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    # A submodule's import of its package's __init__ happens anyway: not an edge worth a cycle.
    return {name: imports(path, known) - {name} for name, path in found.items()}


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def test_the_stages_are_packages_named_for_the_pipeline():
    assert set(STAGES) <= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            walk(start, [start])


def test_stages_import_only_the_stages_below_them():
    wrong = []
    for module, targets in graph().items():
        here = stage(module)
        if here is None:
            continue  # the top: cli, doctor, the package itself
        for target in targets:
            there = stage(target)
            if target in SHARED or there == here:
                continue
            if there not in STAGES[here]:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_nothing_in_store_imports_upward():
    for module, targets in graph().items():
        if stage(module) == "store":
            assert {t for t in targets if t not in SHARED and stage(t) != "store"} == set(), module


def test_every_package_says_in_one_line_what_it_owns():
    for path in PACKAGE.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert docstring, path
        first = docstring.splitlines()[0]
        assert first.endswith(".") and len(first) <= 100, path


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_over_500_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_every_command_is_a_small_function():
    """Each command only parses, calls and prints: its body (after the docstring) stays short
    and holds no SQL."""
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.FunctionDef) or not any(
                isinstance(d, ast.Name) and d.id == "user_errors" for d in node.decorator_list
            ):
                continue
            body = node.body[1:] if ast.get_docstring(node) else node.body
            lines = body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]
            assert lines <= MAX_COMMAND_LINES, f"{path.name}: {node.name} has {lines} lines"
            text = ast.unparse(ast.Module(body=body, type_ignores=[]))
            assert "SELECT " not in text and "UPDATE " not in text, node.name


def test_python_dash_m_and_the_console_script_reach_the_same_app():
    from workbench.cli import app, main

    pyproject = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '\nworkbench = "workbench.cli:main"\n' in pyproject
    assert callable(main) and app.registered_commands
    assert "from workbench.cli import main" in (PACKAGE / "__main__.py").read_text()
