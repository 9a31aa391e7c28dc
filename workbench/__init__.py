"""workbench: turn a book into fine-tuning pairs with a local LLM.

The command line (`workbench.cli`) is a thin layer over these modules, which work without it:
ingest → run (client, validate, retry) → report, export; `db` opens and migrates the database.
"""

__version__ = "0.1.0"
