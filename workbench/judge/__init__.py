"""Judging answers: cleaners, the rules and their settings, meaning and facts, verdicts, rules versions and re-judging."""
