"""The `workbench` command: a thin layer that parses options and calls the library.

One module per command (or two close ones), each command a function that parses its options,
calls the library and prints what it returns; they are registered here, in the order of the
pipeline, which is the order `workbench --help` lists them. Every command takes --db.
"""

from __future__ import annotations

import os

from workbench.cli import batch, browse, export, ingest, report, review, rules, run, server
from workbench.cli.app import app

__all__ = ["app", "main"]

for _command in (
    ingest.ingest,
    run.run,
    rules.rules,
    rules.recipes,
    report.report,
    review.review,
    review.calibrate,
    export.export,
    browse.browse,
    run.serve,
    server.models,
    server.doctor,
):
    app.command()(_command)
app.add_typer(batch.app)  # after run: the other way to get answers


def main() -> None:
    # One BLAS thread unless the user chose. The meaning model's matrix products are small; on
    # two cores, OpenBLAS's second thread waiting for a core another process keeps busy (a local
    # LLM) made them 1.3 to 6.6 times slower (benchmarks/bench_minilm.py). Set before numpy
    # loads, which is never before a command judges.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    app(prog_name="workbench")
