"""Judging answers: cleaners, rules and their settings, meaning and facts, verdicts, rules versions and re-judging."""  # noqa: E501
