"""Judging answers: cleaners, rules and settings, meaning, facts, verdicts, versions, re-judging."""
