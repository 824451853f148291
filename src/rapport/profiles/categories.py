"""Event names to categories, from a workspace's rules (exact names or ``*`` globs)."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from rapport.workspaces.schemas import EventCategoryRule


class Categorizer:
    """Exact rules win over globs; among globs, the first listed wins."""

    def __init__(self, rules: Sequence[EventCategoryRule]) -> None:
        self._exact: dict[str, EventCategoryRule] = {}
        self._globs: list[EventCategoryRule] = []
        for rule in rules:
            if any(ch in rule.pattern for ch in "*?["):
                self._globs.append(rule)
            else:
                self._exact.setdefault(rule.pattern, rule)
        self._cache: dict[str, EventCategoryRule | None] = {}

    def rule_for(self, name: str) -> EventCategoryRule | None:
        if name in self._cache:
            return self._cache[name]
        rule = self._exact.get(name)
        if rule is None:
            rule = next((g for g in self._globs if fnmatchcase(name, g.pattern)), None)
        if len(self._cache) < 10_000:
            self._cache[name] = rule
        return rule

    def category(self, name: str) -> str:
        rule = self.rule_for(name)
        return "other" if rule is None else rule.category

    def reward(self, name: str) -> float:
        rule = self.rule_for(name)
        return 0.0 if rule is None else rule.reward
