"""What starting the command costs: `workbench --version` loads none of the heavy libraries
(the HTTP client, the retry policies, the database layer, the terminal UI), so it answers
in a fraction of a second. Each command loads what it needs when it runs. Timings live in
benchmarks/bench_fixed_cost.py."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("requests", "tenacity", "sqlite_utils", "rich", "numpy", "rapidfuzz")

PROBE = f"""
import sys
from workbench.cli import main
sys.argv = ["workbench", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("loaded:", " ".join(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)
"""


def loaded(*args: str) -> tuple[str, set[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("loaded:")
    return result.stdout, set(line.removeprefix("loaded:").split())


def test_version_loads_no_heavy_library():
    out, heavy = loaded("--version")
    assert out.startswith("workbench ")
    assert heavy == set()


def test_help_loads_no_heavy_library_either():
    for command in (["--help"], ["run", "--help"], ["batch", "write", "--help"]):
        out, heavy = loaded(*command)
        assert "Usage" in out
        assert heavy <= {"rich"}, command  # typer draws help with rich when it is installed
