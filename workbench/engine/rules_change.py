"""Changing the job's rules from the command line: stored, and every stored answer judged again.

The meaning model judging again needs is loaded first; then one transaction closes runs whose
process died, refuses while a live run works (it judges with the rules it started with), stores
the version and judges again.
"""

from __future__ import annotations

from sqlite_utils import Database

from workbench.engine.runs import close_dead_runs, refuse_while_live
from workbench.judge.changes import RuleChanges
from workbench.judge.rejudge import RulesSettled, prepare_settling, settle_rules
from workbench.judge.settings import Rules
from workbench.judge.versions import job_rules
from workbench.store.transactions import transaction


def change_rules(db: Database, changes: RuleChanges) -> RulesSettled:
    """Apply `changes` to the job's rules and judge every stored answer again."""
    prepare_settling(db, changes.apply(job_rules(db).rules))
    with transaction(db):
        refuse_while_live(close_dead_runs(db), "a rules change would change how they judge")
        return settle_rules(db, changes.apply(job_rules(db).rules))


def settle_current(db: Database) -> tuple[int, Rules]:
    """The rules in force and their version, the defaults stored first when the job has none
    (for commands that need a version to stamp, without changing the rules)."""
    current = job_rules(db)
    if current.id is not None:
        return current.id, current.rules
    with transaction(db):
        settled = settle_rules(db, job_rules(db).rules)
    return settled.version, settled.rules
